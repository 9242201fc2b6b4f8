//! Reconciliation: carrying the desired state in the store into each provider's
//! targets. `mapping` turns SCIM resources into target attributes (pure code).

pub mod mapping;
