//! SCIM 2.0 semantics as pure code: the schema registry, resource validation,
//! filters, PATCH, projection and list parameters. Nothing here does I/O.

pub mod bulk;
pub mod error;
pub mod filter;
pub mod patch;
pub mod projection;
pub mod resource;
pub mod schema;
pub mod value;

pub use error::{ScimError, ScimType};
pub use schema::{Registry, ResourceKind, registry};
