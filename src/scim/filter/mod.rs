//! SCIM filters: the syntax tree, the parser (with error positions and size/depth
//! bounds) and the in-memory evaluator against a resource's JSON.

mod ast;
mod eval;
mod parse;
#[cfg(test)]
mod tests;

pub use ast::{AttrPath, CompValue, CompareOp, Filter, PatchPath};
pub use eval::{matches, matches_element, parse_instant, validate, validate_query};
pub use parse::{
    FilterError, MAX_FILTER_DEPTH, MAX_FILTER_LEN, parse_attr_path, parse_filter, parse_patch_path,
};
