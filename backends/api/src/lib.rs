//! The contract between scimd and its targets.
//!
//! scimd maps SCIM resources to target attributes itself; a backend receives
//! [`Object`]s whose attributes are already named and valued for the target
//! (LDAP attributes, SQL columns) and reports what it finds in the same form,
//! so drift detection compares like with like. Backends never see SCIM JSON,
//! HTTP or the state store.
//!
//! `conformance` (feature `conformance`) is the one test suite every backend
//! crate runs against a real server.

mod backend;
mod error;
mod types;

#[cfg(feature = "conformance")]
pub mod conformance;

pub use backend::{Backend, ObservedSink};
pub use error::{BackendError, ErrorKind};
pub use types::{Change, MemberRef, Object, ObjectKind, Observed, Value};
