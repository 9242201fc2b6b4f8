//! scimd's integration tests: ONE binary, modules per area. Daemons run in-process on
//! random ports (or as the real binary where a test needs signals or SIGKILL), each
//! with its own temporary directory and database.

mod api;
mod bulk;
mod cli;
mod durability;
mod ha;
mod quirks;
mod ratelimit;
mod spc;
mod store_filters;
mod store_suite;
mod support;
