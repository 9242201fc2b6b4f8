//! SCIM filters: the syntax tree, the parser (with error positions and size/depth
//! bounds) and the in-memory evaluator against a resource's JSON.

mod ast;
mod eval;
mod parse;

pub use ast::{AttrPath, CompValue, CompareOp, Filter, PatchPath};
