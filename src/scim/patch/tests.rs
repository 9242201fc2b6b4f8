//! PATCH engine tests: RFC 7644 section 3.5.2 examples, every CLIENT-QUIRKS item of the
//! engine, errors, a property test over random operation sequences, and a fuzzing bound
//! over arbitrary JSON bodies.

mod errors;
mod fuzz;
mod props;
mod quirks;
mod rfc;

use serde_json::{Map, Value, json};

use super::*;
use crate::scim::ScimType;
use crate::scim::schema::{ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA};

/// The id of the resource every test patches.
const ID: &str = "2819c223-7f76-453a-919d-413861904646";

fn body(ops: Value) -> Value {
    json!({"schemas": [PATCH_OP_SCHEMA], "Operations": ops})
}

/// Applies `ops` to `data` and returns the new data and the member changes.
fn run(
    kind: ResourceKind,
    data: &Value,
    ops: Value,
) -> Result<(Value, Vec<MemberChange>), ScimError> {
    let mut data: Map<String, Value> = data.as_object().cloned().unwrap_or_default();
    let changes = apply_patch(&Registry::new(), kind, ID, &mut data, &body(ops))?;
    Ok((Value::Object(data), changes))
}

fn patch_user(data: &Value, ops: Value) -> Value {
    run(ResourceKind::User, data, ops)
        .unwrap_or_else(|e| panic!("patch failed: {e}"))
        .0
}

fn patch_user_err(data: &Value, ops: Value) -> ScimError {
    match run(ResourceKind::User, data, ops) {
        Ok((data, _)) => panic!("patch succeeded: {data}"),
        Err(e) => e,
    }
}

fn patch_group(ops: Value) -> Vec<MemberChange> {
    let (data, changes) =
        run(ResourceKind::Group, &group(), ops).unwrap_or_else(|e| panic!("patch failed: {e}"));
    assert_eq!(
        data,
        group(),
        "member operations must not touch the stored data"
    );
    changes
}

fn user() -> Value {
    json!({"schemas": [USER_SCHEMA], "userName": "bjensen"})
}

/// `user()` with more attributes.
fn user_with(extra: Value) -> Value {
    let mut u = user();
    for (k, v) in extra.as_object().cloned().unwrap_or_default() {
        u[k] = v;
    }
    u
}

fn group() -> Value {
    json!({"schemas": [GROUP_SCHEMA], "displayName": "Tour Guides"})
}

fn member(id: &str) -> MemberRef {
    MemberRef {
        value: id.to_owned(),
        kind: None,
    }
}
