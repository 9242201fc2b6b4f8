//! scimd's integration tests: ONE binary, modules per area. Daemons run in-process on
//! random ports (or as the real binary where a test needs signals or SIGKILL), each
//! with its own temporary directory and database.

mod api;
mod bulk;
mod cli;
mod drift;
mod durability;
mod ha;
mod ldap;
/// The SQL target tests' TCP proxy, needed by `target_db`.
#[path = "../../backends/sql/tests/it/proxy.rs"]
mod proxy;
mod quirks;
mod ratelimit;
mod reconcile;
mod spc;
mod store_filters;
mod store_suite;
mod support;
#[path = "../../backends/sql/tests/it/db.rs"]
mod target_db;
mod watch;
