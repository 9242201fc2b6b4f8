//! Resource bodies of POST and PUT: validated against the schema registry and turned
//! into the canonical stored form (see [`Incoming`]). Group members are split off,
//! because membership lives in its own store rows.
//!
//! The stored form is a JSON object with `schemas` (the core URN plus the URN of each
//! extension present), core attributes and `externalId` at the top level under their
//! canonical names, and extension attributes under the extension URN key. It never
//! holds `id`, `meta`, `password`, User `groups` or Group `members`, nor null or empty
//! values.

use std::collections::HashSet;

use serde_json::{Map, Value};

use crate::scim::ScimError;
use crate::scim::schema::{AttributeDef, Mutability, Registry, Resolved, ResourceKind, SchemaDef};
use crate::scim::value::{child_pointer, coerce};

/// A Group member as named by the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRef {
    /// The member's resource id.
    pub value: String,
    /// The member's kind, from its `type` sub-attribute when the client sent one.
    pub kind: Option<ResourceKind>,
}

/// A validated POST or PUT body.
#[derive(Debug, Clone, PartialEq)]
pub struct Incoming {
    /// The resource in stored form.
    pub data: Map<String, Value>,
    /// Group members: `None` when the body had no `members` key (always `None` for Users),
    /// otherwise the listed members without duplicates.
    pub members: Option<Vec<MemberRef>>,
}

/// Validates a POST body (RFC 7644 section 3.3).
///
/// `schemas` must list the core schema; an extension whose object is present is added to
/// `schemas` even when the client forgot to list it. Keys are matched case-insensitively
/// and may be URN-qualified (`urn:...:core:2.0:User:userName`) or dotted
/// (`name.givenName`). `id`, `meta` and other readOnly attributes (User `groups`) are
/// ignored, as clients echo them; `password` is checked to be a string and dropped.
pub fn parse_create(
    reg: &Registry,
    kind: ResourceKind,
    body: Value,
) -> Result<Incoming, ScimError> {
    let mut incoming = parse_body(reg, kind, body)?;
    finalize(reg, kind, &mut incoming.data)?;
    Ok(incoming)
}

/// Validates a PUT body against the `current` stored form (RFC 7644 section 3.5.1).
///
/// Same rules as [`parse_create`]; attributes missing from the body are removed, since
/// PUT replaces the resource. An `immutable` attribute that is set must keep its value
/// (400 `mutability` otherwise) and is kept when the body omits it.
///
/// Group `members`: an absent `members` key leaves the membership unchanged
/// (`members: None`), while a present one (even `[]` or `null`) replaces it. RFC 7644
/// would empty the group, but Okta renames groups with a PUT that carries no members,
/// and emptying a group by accident is far worse than keeping it.
pub fn parse_replace(
    reg: &Registry,
    kind: ResourceKind,
    body: Value,
    current: &Map<String, Value>,
) -> Result<Incoming, ScimError> {
    let mut incoming = parse_body(reg, kind, body)?;
    keep_immutables(stored_attributes(reg, kind), &mut incoming.data, current)?;
    finalize(reg, kind, &mut incoming.data)?;
    Ok(incoming)
}

/// What a top-level key of a resource body or of a no-path PATCH value names.
pub(crate) enum KeyTarget<'r> {
    /// An attribute, possibly a sub-attribute (`name.givenName`), possibly in an extension.
    Attr(Resolved<'r>),
    /// A whole extension object (`urn:...:enterprise:2.0:User`).
    Extension(&'r SchemaDef),
}

/// Resolves a key that may be plain (`userName`), dotted (`name.givenName`),
/// URN-qualified (`urn:...:enterprise:2.0:User:employeeNumber`) or an extension URN.
pub(crate) fn resolve_key<'r>(
    reg: &'r Registry,
    kind: ResourceKind,
    key: &str,
) -> Option<KeyTarget<'r>> {
    if let Some(ext) = extension(reg, kind, key) {
        return Some(KeyTarget::Extension(ext));
    }
    let (urn, rest) = split_urn(key);
    let (name, sub) = split_sub(rest);
    reg.resolve(kind, urn, name, sub).map(KeyTarget::Attr)
}

/// Resolves a key inside an extension object: `employeeNumber` or `manager.value`.
pub(crate) fn resolve_in_extension<'r>(
    reg: &'r Registry,
    kind: ResourceKind,
    ext: &SchemaDef,
    key: &str,
) -> Option<Resolved<'r>> {
    let (name, sub) = split_sub(key);
    reg.resolve(kind, Some(ext.id), name, sub)
}

/// The extension schema of `kind` whose URN is `urn` (case-insensitive).
pub(crate) fn extension<'r>(
    reg: &'r Registry,
    kind: ResourceKind,
    urn: &str,
) -> Option<&'r SchemaDef> {
    reg.extensions(kind)
        .iter()
        .find(|e| e.id.eq_ignore_ascii_case(urn))
}

/// The extension URN key under which a resolved attribute is stored, if any.
pub(crate) fn extension_key(r: &Resolved<'_>) -> Option<&'static str> {
    if r.extension { r.schema } else { None }
}

/// Whether `r` is the Group `members` attribute, which is kept out of the stored form.
pub(crate) fn is_members(kind: ResourceKind, r: &Resolved<'_>) -> bool {
    kind == ResourceKind::Group && !r.extension && r.attr.name == "members"
}

/// The object holding attributes of extension `ext` (the resource itself for `None`),
/// created when missing.
pub(crate) fn holder_mut<'d>(
    data: &'d mut Map<String, Value>,
    ext: Option<&str>,
) -> &'d mut Map<String, Value> {
    let Some(urn) = ext else { return data };
    let slot = data.entry(urn).or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    match slot {
        Value::Object(map) => map,
        _ => unreachable!("the slot was just made an object"),
    }
}

/// Sets `key` to `value`, or removes it when `value` is null.
pub(crate) fn set_or_remove(map: &mut Map<String, Value>, key: &str, value: Value) {
    if value.is_null() {
        map.remove(key);
    } else {
        map.insert(key.to_owned(), value);
    }
}

/// Drops empty extension objects, recomputes `schemas` and checks required attributes.
pub(crate) fn finalize(
    reg: &Registry,
    kind: ResourceKind,
    data: &mut Map<String, Value>,
) -> Result<(), ScimError> {
    for ext in reg.extensions(kind) {
        let empty = data
            .get(ext.id)
            .is_some_and(|v| v.as_object().is_none_or(Map::is_empty));
        if empty {
            data.remove(ext.id);
        }
    }
    let mut schemas = vec![Value::from(kind.core_schema())];
    let present = reg
        .extensions(kind)
        .iter()
        .filter(|e| data.contains_key(e.id));
    schemas.extend(present.map(|e| Value::from(e.id)));
    data.insert("schemas".to_owned(), Value::Array(schemas));
    check_required(reg, kind, data)
}

/// Parses Group members: an array (or one item) of `{"value": ID, "type": ...}` objects
/// or plain id strings; `$ref` and `display` are ignored, duplicates dropped.
pub(crate) fn parse_members(value: Value, pointer: &str) -> Result<Vec<MemberRef>, ScimError> {
    let items = match value {
        Value::Null => Vec::new(),
        Value::Array(items) => items,
        one => vec![one],
    };
    let mut seen = HashSet::new();
    let mut members = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let member = parse_member(item, &format!("{pointer}/{i}"))?;
        if seen.insert(member.value.clone()) {
            members.push(member);
        }
    }
    Ok(members)
}

fn parse_member(item: Value, pointer: &str) -> Result<MemberRef, ScimError> {
    let fields = match item {
        Value::String(id) => Map::from_iter([("value".to_owned(), Value::String(id))]),
        Value::Object(fields) => fields,
        _ => {
            return Err(ScimError::invalid_value(format!(
                "{pointer}: a member must be an object like {{\"value\": \"<id>\"}}"
            )));
        }
    };
    let mut member = MemberRef {
        value: String::new(),
        kind: None,
    };
    for (key, v) in fields {
        match key.to_ascii_lowercase().as_str() {
            "value" => member.value = v.as_str().unwrap_or_default().to_owned(),
            "type" => member.kind = member_kind(&v, &child_pointer(pointer, &key))?,
            "$ref" | "display" => {}
            _ => {
                return Err(ScimError::invalid_syntax(format!(
                    "{}: unknown member sub-attribute \"{key}\"; expected value, type, $ref or display",
                    child_pointer(pointer, &key)
                )));
            }
        }
    }
    if member.value.is_empty() {
        return Err(ScimError::invalid_value(format!(
            "{pointer}/value: a member needs a non-empty string \"value\" holding the member's id"
        )));
    }
    Ok(member)
}

fn member_kind(v: &Value, pointer: &str) -> Result<Option<ResourceKind>, ScimError> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) if s.eq_ignore_ascii_case("user") => Ok(Some(ResourceKind::User)),
        Value::String(s) if s.eq_ignore_ascii_case("group") => Ok(Some(ResourceKind::Group)),
        _ => Err(ScimError::invalid_value(format!(
            "{pointer}: a member's type must be \"User\" or \"Group\""
        ))),
    }
}

fn parse_body(reg: &Registry, kind: ResourceKind, body: Value) -> Result<Incoming, ScimError> {
    let Value::Object(mut fields) = body else {
        return Err(ScimError::invalid_syntax(format!(
            "the request body must be a JSON object representing a {}",
            kind.as_str()
        )));
    };
    check_schemas(reg, kind, &mut fields)?;
    let mut data = Map::new();
    let mut members = None;
    for (key, value) in fields {
        let here = child_pointer("", &key);
        match resolve_key(reg, kind, &key) {
            None => return Err(unknown_attribute(kind, &key, &here)),
            Some(KeyTarget::Extension(ext)) => {
                put_extension(reg, kind, ext, value, &mut data, &here)?
            }
            Some(KeyTarget::Attr(r)) if is_members(kind, &r) && r.sub.is_none() => {
                members = Some(parse_members(value, &here)?);
            }
            Some(KeyTarget::Attr(r)) => put_attr(&mut data, &r, value, &here)?,
        }
    }
    Ok(Incoming { data, members })
}

fn check_schemas(
    reg: &Registry,
    kind: ResourceKind,
    fields: &mut Map<String, Value>,
) -> Result<(), ScimError> {
    let core = kind.core_schema();
    let key = fields
        .keys()
        .find(|k| k.eq_ignore_ascii_case("schemas"))
        .cloned();
    let missing = || {
        ScimError::invalid_syntax(format!(
            "\"schemas\" must be an array that lists \"{core}\""
        ))
    };
    let Some(Value::Array(urns)) = key.and_then(|k| fields.remove(&k)) else {
        return Err(missing());
    };
    let mut has_core = false;
    for urn in &urns {
        let urn = urn.as_str().ok_or_else(missing)?;
        if urn.eq_ignore_ascii_case(core) {
            has_core = true;
        } else if extension(reg, kind, urn).is_none() {
            let allowed: Vec<_> = std::iter::once(core)
                .chain(reg.extensions(kind).iter().map(|e| e.id))
                .collect();
            return Err(ScimError::invalid_syntax(format!(
                "\"schemas\" lists \"{urn}\", which is not a schema of a {}; allowed: {}",
                kind.as_str(),
                allowed.join(", ")
            )));
        }
    }
    if has_core { Ok(()) } else { Err(missing()) }
}

fn put_extension(
    reg: &Registry,
    kind: ResourceKind,
    ext: &SchemaDef,
    value: Value,
    data: &mut Map<String, Value>,
    pointer: &str,
) -> Result<(), ScimError> {
    let fields = match value {
        Value::Null => return Ok(()),
        Value::Object(fields) => fields,
        _ => {
            return Err(ScimError::invalid_value(format!(
                "{pointer}: the extension \"{}\" must be an object of its attributes",
                ext.id
            )));
        }
    };
    for (key, v) in fields {
        let here = child_pointer(pointer, &key);
        let r = resolve_in_extension(reg, kind, ext, &key)
            .ok_or_else(|| unknown_attribute(kind, &format!("{}:{key}", ext.id), &here))?;
        put_attr(data, &r, v, &here)?;
    }
    Ok(())
}

/// Stores one attribute (or sub-attribute) of a POST/PUT body.
fn put_attr(
    data: &mut Map<String, Value>,
    r: &Resolved<'_>,
    value: Value,
    pointer: &str,
) -> Result<(), ScimError> {
    let read_only = |a: &AttributeDef| a.mutability == Mutability::ReadOnly;
    if read_only(r.attr) || r.sub.is_some_and(read_only) {
        return Ok(());
    }
    if r.sub.is_some() && r.attr.multi_valued {
        return Err(ScimError::invalid_syntax(format!(
            "{pointer}: a dotted key cannot address \"{}\", which holds a list; send \"{}\": [{{...}}]",
            r.attr.name, r.attr.name
        )));
    }
    let value = coerce(r.leaf(), value, pointer)?;
    if r.leaf().mutability == Mutability::WriteOnly {
        // Write-only attributes (password) are checked but never stored: scimd has no use
        // for them and must not keep secrets it cannot protect.
        return Ok(());
    }
    let holder = holder_mut(data, extension_key(r));
    match r.sub {
        None => set_or_remove(holder, r.attr.name, value),
        Some(sub) => {
            let mut parent = match holder.remove(r.attr.name) {
                Some(Value::Object(parent)) => parent,
                _ => Map::new(),
            };
            set_or_remove(&mut parent, sub.name, value);
            if !parent.is_empty() {
                holder.insert(r.attr.name.to_owned(), Value::Object(parent));
            }
        }
    }
    Ok(())
}

/// Keeps each immutable attribute of `attrs` (with its extension key) that `current`
/// has: carried over when `data` omits it, a mutability error when `data` changes it.
fn keep_immutables<'a>(
    attrs: impl Iterator<Item = (Option<&'static str>, &'a AttributeDef)>,
    data: &mut Map<String, Value>,
    current: &Map<String, Value>,
) -> Result<(), ScimError> {
    for (ext, attr) in attrs.filter(|(_, a)| a.mutability == Mutability::Immutable) {
        let old = match ext {
            None => current.get(attr.name),
            Some(urn) => current.get(urn).and_then(|e| e.get(attr.name)),
        };
        let Some(old) = old else { continue };
        let holder = holder_mut(data, ext);
        match holder.get(attr.name) {
            None => {
                holder.insert(attr.name.to_owned(), old.clone());
            }
            Some(new) if new != old => {
                return Err(ScimError::mutability(format!(
                    "/{}: \"{}\" is immutable and already set; send its current value or leave it out",
                    attr.name, attr.name
                )));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Every attribute of the stored form of `kind`, with the extension key it nests under.
fn stored_attributes(
    reg: &Registry,
    kind: ResourceKind,
) -> impl Iterator<Item = (Option<&'static str>, &AttributeDef)> {
    let core = reg.core(kind).attributes.iter().map(|a| (None, a));
    let exts = reg
        .extensions(kind)
        .iter()
        .flat_map(|e| e.attributes.iter().map(|a| (Some(e.id), a)));
    core.chain(exts)
        .chain(reg.common().iter().map(|a| (None, a)))
}

fn check_required(
    reg: &Registry,
    kind: ResourceKind,
    data: &Map<String, Value>,
) -> Result<(), ScimError> {
    let core = reg.core(kind).attributes.iter().map(|a| (data, a));
    let exts = reg.extensions(kind).iter().filter_map(|e| {
        let obj = data.get(e.id)?.as_object()?;
        Some(e.attributes.iter().map(move |a| (obj, a)))
    });
    for (holder, attr) in core.chain(exts.flatten()) {
        if attr.required
            && attr.mutability != Mutability::ReadOnly
            && !holder.contains_key(attr.name)
        {
            return Err(ScimError::invalid_value(format!(
                "\"{}\" is required for a {} and must not be empty",
                attr.name,
                kind.as_str()
            )));
        }
    }
    Ok(())
}

fn unknown_attribute(kind: ResourceKind, name: &str, pointer: &str) -> ScimError {
    ScimError::invalid_syntax(format!(
        "{pointer}: \"{name}\" is not an attribute of a {}; GET /Schemas lists the supported attributes",
        kind.as_str()
    ))
}

/// Splits `urn:...:Schema:attr` into the URN and the rest; other keys have no URN.
fn split_urn(key: &str) -> (Option<&str>, &str) {
    let is_urn = key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"));
    match key.rsplit_once(':') {
        Some((urn, rest)) if is_urn => (Some(urn), rest),
        _ => (None, key),
    }
}

fn split_sub(name: &str) -> (&str, Option<&str>) {
    match name.split_once('.') {
        Some((name, sub)) => (name, Some(sub)),
        None => (name, None),
    }
}

#[cfg(test)]
mod tests;
