//! The add, replace and remove semantics of RFC 7644 section 3.5.2 on one attribute
//! location of the stored form, plus the upsert of filtered paths (CLIENT-QUIRKS 5) and
//! the single-`primary` rule of RFC 7643 section 2.4.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::target::Target;
use super::{Op, Scope};
use crate::scim::ScimError;
use crate::scim::filter::{CompValue, CompareOp, Filter, matches_element};
use crate::scim::resource::{holder_mut, set_or_remove};
use crate::scim::schema::{AttributeDef, Mutability};
use crate::scim::value::{check_count, coerce, coerce_element, is_primary};

/// Applies an add or replace of `value` (at `pointer` in the request) to `t`.
///
/// A null or empty value adds nothing and, for replace, unassigns the target.
pub(super) fn write(
    s: &Scope<'_>,
    data: &mut Map<String, Value>,
    op: Op,
    t: &Target<'_>,
    value: Value,
    pointer: &str,
) -> Result<(), ScimError> {
    if !writable(s, t, &value, pointer)? {
        return Ok(());
    }
    let holder = holder_mut(data, t.ext);
    guard_immutable(holder, t, pointer, |holder| {
        match (t.attr.multi_valued, t.filter.is_some() || t.sub.is_some()) {
            (false, _) => write_single(holder, op, t, value, pointer),
            (true, false) => write_list(holder, op, t.attr, value, pointer),
            (true, true) => write_matching(s, holder, op, t, value, pointer),
        }
    })
}

/// Applies a remove to `t`; `value` optionally lists the elements of a multi-valued
/// attribute to remove (`{"op":"remove","path":"emails","value":[{...}]}`).
pub(super) fn remove(
    s: &Scope<'_>,
    data: &mut Map<String, Value>,
    t: &Target<'_>,
    value: Option<&Value>,
    pointer: &str,
) -> Result<(), ScimError> {
    let leaf = t.leaf();
    if t.attr.mutability == Mutability::ReadOnly || leaf.mutability == Mutability::ReadOnly {
        return Err(read_only(t, pointer));
    }
    if t.attr.required && t.sub.is_none() && t.filter.is_none() {
        return Err(ScimError::mutability(format!(
            "{pointer}/path: \"{}\" is required and cannot be removed; replace it instead",
            t.path
        )));
    }
    let holder = holder_mut(data, t.ext);
    guard_immutable(holder, t, pointer, |holder| {
        match (t.attr.multi_valued, t.filter.is_some() || t.sub.is_some()) {
            (false, _) => {
                remove_single(holder, t);
                Ok(())
            }
            (true, false) => remove_listed(holder, t.attr, value, pointer),
            (true, true) => remove_matching(s, holder, t, pointer),
        }
    })
}

/// Whether the write should happen: readOnly targets are an error, except the
/// resource's own unchanged `id` (CLIENT-QUIRKS 10), which is ignored like a write-only
/// value (`password`) once it is validated.
fn writable(
    s: &Scope<'_>,
    t: &Target<'_>,
    value: &Value,
    pointer: &str,
) -> Result<bool, ScimError> {
    let leaf = t.leaf();
    if t.attr.mutability == Mutability::ReadOnly || leaf.mutability == Mutability::ReadOnly {
        let own_id = t.attr.name == "id" && t.sub.is_none() && value.as_str() == Some(s.id);
        return if own_id {
            Ok(false)
        } else {
            Err(read_only(t, pointer))
        };
    }
    if leaf.mutability == Mutability::WriteOnly {
        coerce(leaf, value.clone(), pointer)?;
        return Ok(false);
    }
    Ok(true)
}

fn read_only(t: &Target<'_>, pointer: &str) -> ScimError {
    ScimError::mutability(format!(
        "{pointer}: \"{}\" is readOnly and cannot be changed; leave it out of the request",
        t.path
    ))
}

/// Runs `edit` and fails when it changed an immutable attribute that had a value.
fn guard_immutable(
    holder: &mut Map<String, Value>,
    t: &Target<'_>,
    pointer: &str,
    edit: impl FnOnce(&mut Map<String, Value>) -> Result<(), ScimError>,
) -> Result<(), ScimError> {
    let before = match t.attr.mutability {
        Mutability::Immutable => holder.get(t.attr.name).cloned(),
        _ => None,
    };
    edit(holder)?;
    match before {
        Some(before) if holder.get(t.attr.name) != Some(&before) => {
            Err(ScimError::mutability(format!(
                "{pointer}: \"{}\" is immutable and already set; it can be added once but not changed",
                t.path
            )))
        }
        _ => Ok(()),
    }
}

/// A single-valued attribute, or a sub-attribute of a single-valued complex one. A
/// complex value is merged into the current one (RFC 7644 sections 3.5.2.1 and 3.5.2.3).
fn write_single(
    holder: &mut Map<String, Value>,
    op: Op,
    t: &Target<'_>,
    value: Value,
    pointer: &str,
) -> Result<(), ScimError> {
    let name = t.attr.name;
    let value = coerce(t.leaf(), value, pointer)?;
    if value.is_null() && op == Op::Add {
        return Ok(());
    }
    match (t.sub, value) {
        (Some(sub), value) => {
            let mut parent = take_object(holder, name);
            set_or_remove(&mut parent, sub.name, value);
            put_object(holder, name, parent);
        }
        (None, Value::Object(fields)) => {
            let mut parent = take_object(holder, name);
            parent.extend(fields);
            put_object(holder, name, parent);
        }
        (None, value) => set_or_remove(holder, name, value),
    }
    Ok(())
}

/// A whole multi-valued attribute: add appends the values not already present, replace
/// replaces the list.
fn write_list(
    holder: &mut Map<String, Value>,
    op: Op,
    attr: &AttributeDef,
    value: Value,
    pointer: &str,
) -> Result<(), ScimError> {
    let Value::Array(items) = coerce(attr, value, pointer)? else {
        if op == Op::Replace {
            holder.remove(attr.name);
        }
        return Ok(());
    };
    let mut list = match op {
        Op::Add => take_list(holder, attr.name),
        _ => Vec::new(),
    };
    // Exact duplicates are skipped; the JSON text is the key, so this stays linear.
    let mut seen: HashSet<String> = list.iter().map(Value::to_string).collect();
    let mut touched = Vec::new();
    for item in items {
        if seen.insert(item.to_string()) {
            touched.push(list.len());
            list.push(item);
        }
    }
    check_count(attr, list.len(), pointer)?;
    settle_primary(&mut list, &touched);
    put_list(holder, attr.name, list);
    Ok(())
}

/// Elements of a multi-valued attribute selected by a filter (all of them without one),
/// or a sub-attribute of each. When nothing matches, an element is created from the
/// filter's equalities plus the value (CLIENT-QUIRKS 5).
fn write_matching(
    s: &Scope<'_>,
    holder: &mut Map<String, Value>,
    op: Op,
    t: &Target<'_>,
    value: Value,
    pointer: &str,
) -> Result<(), ScimError> {
    let value = match t.sub {
        Some(sub) => coerce(sub, value, pointer)?,
        None => coerce_element(t.attr, value, pointer)?,
    };
    let mut list = take_list(holder, t.attr.name);
    let mut touched = matching(s, t, &list);
    if touched.is_empty() {
        if !value.is_null() {
            list.push(upsert_element(t, value, pointer)?);
            touched.push(list.len() - 1);
            check_count(t.attr, list.len(), pointer)?;
        }
    } else {
        for &i in &touched {
            update_element(&mut list[i], op, t.sub, value.clone());
        }
    }
    settle_primary(&mut list, &touched);
    list.retain(|v| !is_empty(v));
    put_list(holder, t.attr.name, list);
    Ok(())
}

fn update_element(element: &mut Value, op: Op, sub: Option<&AttributeDef>, value: Value) {
    if value.is_null() && op == Op::Add {
        return;
    }
    match (sub, element, value) {
        (Some(sub), Value::Object(fields), value) => set_or_remove(fields, sub.name, value),
        (Some(_), _, _) => {}
        (None, Value::Object(fields), Value::Object(new)) if op == Op::Add => fields.extend(new),
        (None, element, value) => *element = value,
    }
}

/// A new element for a filtered path that matched nothing: the filter's `eq`
/// comparisons become sub-attributes, then the value is merged in.
fn upsert_element(t: &Target<'_>, value: Value, pointer: &str) -> Result<Value, ScimError> {
    let mut element = Map::new();
    if let Some(filter) = &t.filter
        && !equalities(t.attr, filter, &mut element)
    {
        return Err(ScimError::no_target(format!(
            "{pointer}: no value of \"{}\" matches \"{}\", and only a filter of `eq` comparisons \
             joined by `and` (like type eq \"work\") says what value to create",
            t.attr.name, t.path
        )));
    }
    match (t.sub, value) {
        (Some(sub), value) => {
            element.insert(sub.name.to_owned(), value);
        }
        (None, Value::Object(fields)) => element.extend(fields),
        (None, scalar) => return Ok(scalar),
    }
    coerce_element(t.attr, Value::Object(element), pointer)
}

/// Collects `sub eq literal` comparisons joined by `and`; false for any other filter.
fn equalities(attr: &AttributeDef, filter: &Filter, out: &mut Map<String, Value>) -> bool {
    match filter {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value,
        } if path.sub.is_none() => {
            let Some(sub) = attr.sub(&path.name) else {
                return false;
            };
            let value = match value {
                CompValue::Str(s) => Value::String(s.clone()),
                CompValue::Num(n) => Value::Number(n.clone()),
                CompValue::Bool(b) => Value::Bool(*b),
                CompValue::Null => return false,
            };
            out.insert(sub.name.to_owned(), value);
            true
        }
        Filter::And(a, b) => equalities(attr, a, out) && equalities(attr, b, out),
        _ => false,
    }
}

fn remove_single(holder: &mut Map<String, Value>, t: &Target<'_>) {
    match t.sub {
        None => {
            holder.remove(t.attr.name);
        }
        Some(sub) => {
            let mut parent = take_object(holder, t.attr.name);
            parent.remove(sub.name);
            put_object(holder, t.attr.name, parent);
        }
    }
}

/// Removes a whole multi-valued attribute, or only the listed elements: an element goes
/// when every sub-attribute of a listed value equals its own.
fn remove_listed(
    holder: &mut Map<String, Value>,
    attr: &AttributeDef,
    value: Option<&Value>,
    pointer: &str,
) -> Result<(), ScimError> {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        holder.remove(attr.name);
        return Ok(());
    };
    let Value::Array(listed) = coerce(attr, value.clone(), &format!("{pointer}/value"))? else {
        return Ok(());
    };
    let mut list = take_list(holder, attr.name);
    list.retain(|element| !listed.iter().any(|l| covers(element, l)));
    put_list(holder, attr.name, list);
    Ok(())
}

/// Removes the selected elements (or their sub-attribute); a filter that selects
/// nothing is 400 noTarget (RFC 7644 section 3.5.2.2).
fn remove_matching(
    s: &Scope<'_>,
    holder: &mut Map<String, Value>,
    t: &Target<'_>,
    pointer: &str,
) -> Result<(), ScimError> {
    let mut list = take_list(holder, t.attr.name);
    let matched = matching(s, t, &list);
    if matched.is_empty() && t.filter.is_some() {
        return Err(ScimError::no_target(format!(
            "{pointer}/path: no value of \"{}\" matches \"{}\"; nothing to remove",
            t.attr.name, t.path
        )));
    }
    for &i in &matched {
        match (t.sub, &mut list[i]) {
            (Some(sub), Value::Object(fields)) => {
                fields.remove(sub.name);
            }
            (Some(_), _) => {}
            (None, element) => *element = Value::Null,
        }
    }
    list.retain(|v| !is_empty(v));
    put_list(holder, t.attr.name, list);
    Ok(())
}

/// Indices of the elements the target's filter selects (all without a filter).
fn matching(s: &Scope<'_>, t: &Target<'_>, list: &[Value]) -> Vec<usize> {
    let selected = |v: &Value| match &t.filter {
        Some(filter) => matches_element(s.reg, s.kind, t.attr, filter, v),
        None => true,
    };
    list.iter()
        .enumerate()
        .filter(|(_, v)| selected(v))
        .map(|(i, _)| i)
        .collect()
}

/// Keeps at most one `primary: true`: the last touched element that has it wins and
/// the others are set to false (RFC 7643 section 2.4).
fn settle_primary(list: &mut [Value], touched: &[usize]) {
    let Some(winner) = touched
        .iter()
        .rev()
        .copied()
        .find(|&i| list.get(i).is_some_and(is_primary))
    else {
        return;
    };
    for (i, element) in list.iter_mut().enumerate() {
        if i != winner
            && is_primary(element)
            && let Some(fields) = element.as_object_mut()
        {
            fields.insert("primary".to_owned(), Value::Bool(false));
        }
    }
}

/// Whether every field of `listed` equals the same field of `element`.
fn covers(element: &Value, listed: &Value) -> bool {
    match (element, listed) {
        (Value::Object(e), Value::Object(l)) => l.iter().all(|(k, v)| e.get(k) == Some(v)),
        _ => element == listed,
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(fields) => fields.is_empty(),
        _ => false,
    }
}

fn take_list(holder: &mut Map<String, Value>, name: &str) -> Vec<Value> {
    match holder.remove(name) {
        Some(Value::Array(list)) => list,
        None | Some(Value::Null) => Vec::new(),
        Some(one) => vec![one],
    }
}

fn put_list(holder: &mut Map<String, Value>, name: &str, list: Vec<Value>) {
    if !list.is_empty() {
        holder.insert(name.to_owned(), Value::Array(list));
    }
}

fn take_object(holder: &mut Map<String, Value>, name: &str) -> Map<String, Value> {
    match holder.remove(name) {
        Some(Value::Object(fields)) => fields,
        _ => Map::new(),
    }
}

fn put_object(holder: &mut Map<String, Value>, name: &str, fields: Map<String, Value>) {
    if !fields.is_empty() {
        holder.insert(name.to_owned(), Value::Object(fields));
    }
}
