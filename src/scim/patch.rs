//! PATCH (RFC 7644 section 3.5.2) applied to a resource's stored form, with the
//! tolerance real clients need (CLIENT-QUIRKS.md items 1-10 and 19): op names in any
//! case, booleans as strings, dotted and URN-qualified keys in no-path values, upserting
//! filtered paths, idempotent member changes and an echoed unchanged `id`.
//!
//! Operations apply in order to the caller's copy of the data; on any error the whole
//! request fails and the caller discards that copy, so a PATCH is all or nothing.
//! Group membership never touches the data: member operations become [`MemberChange`]s
//! that the store applies in O(k) per change.

mod edit;
mod target;

use serde_json::{Map, Value};

use crate::scim::ScimError;
use crate::scim::filter::{CompValue, CompareOp, Filter};
use crate::scim::resource::{
    KeyTarget, MemberRef, finalize, is_members, parse_members, resolve_in_extension, resolve_key,
};
use crate::scim::schema::{Registry, ResourceKind, SchemaDef};
use crate::scim::value::child_pointer;

use target::{PathTarget, Target};

/// The URN a PATCH body must list in `schemas`.
pub const PATCH_OP_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// The most operations one PATCH request may carry.
pub const MAX_OPERATIONS: usize = 1000;

/// A change to a Group's membership, in request order.
///
/// The engine does not know which ids exist. The store decides what an unknown member id
/// in `Add`/`Set` means (CLIENT-QUIRKS 19: skip it and report, or reject the whole
/// request); removing an absent member is always a no-op.
#[derive(Debug, Clone, PartialEq)]
pub enum MemberChange {
    /// Add these members; adding a current member is a no-op.
    Add(Vec<MemberRef>),
    /// Remove the members with these ids; ids that are not members are a no-op.
    Remove(Vec<String>),
    /// Remove the members matching this filter, whose paths are relative to one member
    /// (`value`, `type`, `display`).
    RemoveWhere(Filter),
    /// Replace the whole membership with these members (`[]` empties the group).
    Set(Vec<MemberRef>),
}

/// Applies a PatchOp message `body` to `data`, the stored form of resource `id`, and
/// returns the membership changes in order. On `Err` the caller must discard `data`.
pub fn apply_patch(
    reg: &Registry,
    kind: ResourceKind,
    id: &str,
    data: &mut Map<String, Value>,
    body: &Value,
) -> Result<Vec<MemberChange>, ScimError> {
    let mut patch = Patch {
        scope: Scope { reg, kind, id },
        changes: Vec::new(),
    };
    for (i, raw) in operations(body)?.iter().enumerate() {
        let op = Operation::parse(raw, i)?;
        patch.apply(data, &op)?;
    }
    finalize(reg, kind, data)?;
    Ok(patch.changes)
}

/// An operation kind (`op`, case-insensitive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Add,
    Replace,
    Remove,
}

/// What the edit functions need to know about the resource being patched.
struct Scope<'r> {
    reg: &'r Registry,
    kind: ResourceKind,
    id: &'r str,
}

/// One parsed operation; `pointer` is its JSON pointer (`/Operations/3`).
struct Operation<'b> {
    op: Op,
    path: Option<&'b str>,
    value: Option<&'b Value>,
    pointer: String,
}

impl<'b> Operation<'b> {
    fn parse(raw: &'b Value, index: usize) -> Result<Self, ScimError> {
        let pointer = format!("/Operations/{index}");
        let Some(fields) = raw.as_object() else {
            return Err(ScimError::invalid_syntax(format!(
                "{pointer}: an operation must be an object with \"op\", \"path\" and \"value\""
            )));
        };
        let op = match get_ci(fields, "op")
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("add") => Op::Add,
            Some("replace") => Op::Replace,
            Some("remove") => Op::Remove,
            _ => {
                return Err(ScimError::invalid_syntax(format!(
                    "{pointer}/op: expected \"add\", \"replace\" or \"remove\""
                )));
            }
        };
        let path = match get_ci(fields, "path") {
            None | Some(Value::Null) => None,
            Some(Value::String(p)) if p.trim().is_empty() => None,
            Some(Value::String(p)) => Some(p.trim()),
            Some(_) => {
                return Err(ScimError::invalid_path(format!(
                    "{pointer}/path: a path must be a string"
                )));
            }
        };
        Ok(Operation {
            op,
            path,
            value: get_ci(fields, "value"),
            pointer,
        })
    }

    fn value_pointer(&self) -> String {
        format!("{}/value", self.pointer)
    }

    /// The value of an add or replace, which RFC 7644 requires.
    fn required_value(&self) -> Result<&'b Value, ScimError> {
        self.value.ok_or_else(|| {
            ScimError::invalid_value(format!(
                "{}: this operation needs a \"value\"",
                self.pointer
            ))
        })
    }

    /// The value of a no-path or extension-path operation, which must be an object.
    fn object_value(&self) -> Result<&'b Map<String, Value>, ScimError> {
        self.required_value()?.as_object().ok_or_else(|| {
            ScimError::invalid_value(format!(
                "{}: without a path naming an attribute, \"value\" must be an object of attributes",
                self.value_pointer()
            ))
        })
    }
}

/// The operations of a PatchOp message, after checking its envelope.
fn operations(body: &Value) -> Result<&[Value], ScimError> {
    let Some(message) = body.as_object() else {
        return Err(ScimError::invalid_syntax(
            "a PATCH body must be a JSON object with \"schemas\" and \"Operations\"",
        ));
    };
    let schemas = get_ci(message, "schemas").and_then(Value::as_array);
    let listed = schemas.is_some_and(|s| s.iter().any(|u| u.as_str().is_some_and(is_patch_op_urn)));
    if !listed {
        return Err(ScimError::invalid_syntax(format!(
            "\"schemas\" must list \"{PATCH_OP_SCHEMA}\""
        )));
    }
    let ops = get_ci(message, "Operations").and_then(Value::as_array);
    let ops = ops.ok_or_else(|| {
        ScimError::invalid_syntax("\"Operations\" must be an array of operations")
    })?;
    if ops.is_empty() {
        return Err(ScimError::invalid_value(
            "\"Operations\" is empty; send at least one operation",
        ));
    }
    if ops.len() > MAX_OPERATIONS {
        return Err(ScimError::invalid_value(format!(
            "\"Operations\" has {} operations; at most {MAX_OPERATIONS} are allowed, split the request",
            ops.len()
        )));
    }
    Ok(ops)
}

fn is_patch_op_urn(urn: &str) -> bool {
    urn.eq_ignore_ascii_case(PATCH_OP_SCHEMA)
}

/// The state of one PATCH request: the resource and the member changes so far.
struct Patch<'r> {
    scope: Scope<'r>,
    changes: Vec<MemberChange>,
}

impl Patch<'_> {
    fn apply(
        &mut self,
        data: &mut Map<String, Value>,
        op: &Operation<'_>,
    ) -> Result<(), ScimError> {
        let Some(path) = op.path else {
            if op.op == Op::Remove {
                return Err(ScimError::no_target(format!(
                    "{}: remove needs a \"path\" naming what to remove",
                    op.pointer
                )));
            }
            return self.write_object(data, op.op, None, op.object_value()?, &op.value_pointer());
        };
        let s = &self.scope;
        match target::resolve_path(s.reg, s.kind, path, &op.pointer)? {
            PathTarget::Members(filter) => self.members(op, filter),
            PathTarget::Extension(ext) if op.op == Op::Remove => {
                data.remove(ext.id);
                Ok(())
            }
            PathTarget::Extension(ext) => self.write_object(
                data,
                op.op,
                Some(ext),
                op.object_value()?,
                &op.value_pointer(),
            ),
            PathTarget::Attr(t) if op.op == Op::Remove => {
                edit::remove(s, data, &t, op.value, &op.pointer)
            }
            PathTarget::Attr(t) => {
                let value = op.required_value()?.clone();
                edit::write(s, data, op.op, &t, value, &op.value_pointer())
            }
        }
    }

    /// Applies an add or replace whose value is an object of attributes: the no-path
    /// form (keys plain, dotted or URN-qualified) or an extension URN path.
    fn write_object(
        &mut self,
        data: &mut Map<String, Value>,
        op: Op,
        ext: Option<&SchemaDef>,
        fields: &Map<String, Value>,
        pointer: &str,
    ) -> Result<(), ScimError> {
        let (reg, kind) = (self.scope.reg, self.scope.kind);
        for (key, value) in fields {
            let here = child_pointer(pointer, key);
            if key.eq_ignore_ascii_case("schemas") || key.eq_ignore_ascii_case("meta") {
                continue; // clients echo what GET returned, extension objects included
            }
            let resolved = match ext {
                None => resolve_key(reg, kind, key),
                Some(e) => resolve_in_extension(reg, kind, e, key).map(KeyTarget::Attr),
            };
            match resolved {
                Some(KeyTarget::Extension(inner)) if ext.is_none() => {
                    let Some(fields) = value.as_object() else {
                        return Err(ScimError::invalid_value(format!(
                            "{here}: the extension \"{}\" must be an object of its attributes",
                            inner.id
                        )));
                    };
                    self.write_object(data, op, Some(inner), fields, &here)?;
                }
                Some(KeyTarget::Attr(r)) if is_members(kind, &r) => {
                    if r.sub.is_some() {
                        return Err(ScimError::invalid_path(format!(
                            "{here}: members are written as a whole list under \"members\""
                        )));
                    }
                    self.write_members(op, value.clone(), &here)?;
                }
                Some(KeyTarget::Attr(r)) => {
                    let t = Target::from_resolved(&r, key);
                    edit::write(&self.scope, data, op, &t, value.clone(), &here)?;
                }
                _ => {
                    return Err(ScimError::invalid_path(format!(
                        "{here}: \"{key}\" is not an attribute of a {}; GET /Schemas lists them",
                        kind.as_str()
                    )));
                }
            }
        }
        Ok(())
    }

    /// An operation whose path is Group `members`, with an optional value filter.
    fn members(&mut self, op: &Operation<'_>, filter: Option<Filter>) -> Result<(), ScimError> {
        match (op.op, filter) {
            (Op::Remove, Some(filter)) => {
                let change = match member_ids(&filter) {
                    Some(ids) => MemberChange::Remove(ids),
                    None => MemberChange::RemoveWhere(filter),
                };
                self.changes.push(change);
            }
            (Op::Remove, None) => match op.value {
                Some(v) if !v.is_null() => {
                    let members = parse_members(v.clone(), &op.value_pointer())?;
                    if !members.is_empty() {
                        let ids = members.into_iter().map(|m| m.value).collect();
                        self.changes.push(MemberChange::Remove(ids));
                    }
                }
                _ => self.changes.push(MemberChange::Set(Vec::new())),
            },
            (_, Some(_)) => {
                return Err(ScimError::invalid_path(format!(
                    "{}/path: members are added or replaced as a list with path \"members\"; \
                     a [filter] is only allowed with remove",
                    op.pointer
                )));
            }
            (write, None) => {
                self.write_members(write, op.required_value()?.clone(), &op.value_pointer())?
            }
        }
        Ok(())
    }

    fn write_members(&mut self, op: Op, value: Value, pointer: &str) -> Result<(), ScimError> {
        let members = parse_members(value, pointer)?;
        match op {
            Op::Add if members.is_empty() => {}
            Op::Add => self.changes.push(MemberChange::Add(members)),
            _ => self.changes.push(MemberChange::Set(members)),
        }
        Ok(())
    }
}

/// The ids of a member filter that only selects ids: `value eq "a" or value eq "b"`.
fn member_ids(filter: &Filter) -> Option<Vec<String>> {
    match filter {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: CompValue::Str(id),
        } if path.urn.is_none()
            && path.sub.is_none()
            && path.name.eq_ignore_ascii_case("value") =>
        {
            Some(vec![id.clone()])
        }
        Filter::Or(a, b) => {
            let mut ids = member_ids(a)?;
            ids.extend(member_ids(b)?);
            Some(ids)
        }
        _ => None,
    }
}

/// A member of a JSON object by case-insensitive key (exact spelling first).
fn get_ci<'v>(map: &'v Map<String, Value>, key: &str) -> Option<&'v Value> {
    map.get(key).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

#[cfg(test)]
mod tests;
