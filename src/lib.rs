//! scimd: a SCIM 2.0 service provider that stores what provisioning clients push and
//! reconciles it into LDAP directories and SQL databases.

pub mod admin;
pub mod config;
pub mod daemon;
pub mod drift;
pub mod http;
pub mod logging;
pub mod metrics;
pub mod reconcile;
pub mod scim;
pub mod signals;
pub mod store;
pub mod systemd;
pub mod targets;
