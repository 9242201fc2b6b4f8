//! Attribute values: checks a client's JSON against an attribute definition and turns it
//! into the canonical stored form (canonical sub-attribute names, JSON booleans and
//! numbers, no nulls or empty values). Errors name the JSON pointer of the bad value in
//! the request body, so a client can find it.

use serde_json::{Map, Number, Value};

use crate::scim::ScimError;
use crate::scim::schema::{AttrType, AttributeDef, Mutability};

/// The most values one multi-valued attribute may hold (Group members, which live in
/// their own rows, are not attribute values). Keeps the list work of a PATCH bounded.
pub const MAX_VALUES: usize = 1000;

/// Validates and canonicalises `value` for `attr`; `pointer` is where the value sits in the
/// request body (e.g. `/emails`), used in error details.
///
/// The result is `Value::Null` when nothing is assigned (null, `""`, `[]`, `{}` or only
/// such values inside). Lenient where real clients need it: booleans may be the strings
/// `"true"`/`"false"` in any case, a multi-valued attribute given one value gets it
/// wrapped in an array, and a complex attribute with a `value` sub-attribute given a
/// plain value (Entra's `manager: "ID"`) gets `{"value": ...}`. ReadOnly sub-attributes
/// (`manager.displayName`) are computed by the server, so a client's copy is dropped, and
/// of several `primary: true` values only the last stays primary.
pub fn coerce(attr: &AttributeDef, value: Value, pointer: &str) -> Result<Value, ScimError> {
    if !attr.multi_valued {
        return coerce_element(attr, value, pointer);
    }
    let items = match value {
        Value::Null => return Ok(Value::Null),
        Value::Array(items) => items,
        single => return coerce(attr, Value::Array(vec![single]), pointer),
    };
    check_count(attr, items.len(), pointer)?;
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        if let Value::Array(_) = item {
            return Err(ScimError::invalid_value(format!(
                "{pointer}/{i}: expected one value of \"{}\", got a nested array; flatten the list",
                attr.name
            )));
        }
        let v = coerce_element(attr, item, &format!("{pointer}/{i}"))?;
        if !v.is_null() {
            out.push(v);
        }
    }
    single_primary(&mut out);
    Ok(if out.is_empty() {
        Value::Null
    } else {
        Value::Array(out)
    })
}

/// Whether a value of a multi-valued attribute is marked `primary: true`.
pub(crate) fn is_primary(v: &Value) -> bool {
    v.get("primary") == Some(&Value::Bool(true))
}

/// RFC 7643 section 2.4 allows `primary: true` once per attribute: the last one wins,
/// earlier ones become false.
fn single_primary(values: &mut [Value]) {
    let Some(last) = values.iter().rposition(is_primary) else {
        return;
    };
    for v in &mut values[..last] {
        if is_primary(v)
            && let Some(fields) = v.as_object_mut()
        {
            fields.insert("primary".to_owned(), Value::Bool(false));
        }
    }
}

/// Validates one value of `attr` regardless of `multi_valued`: one element of a
/// multi-valued attribute, or the value of a single-valued one. Same rules as [`coerce`].
pub fn coerce_element(
    attr: &AttributeDef,
    value: Value,
    pointer: &str,
) -> Result<Value, ScimError> {
    match attr.ty {
        AttrType::Complex => coerce_complex(attr, value, pointer),
        _ => coerce_simple(attr, value, pointer),
    }
}

/// Fails when a multi-valued attribute would hold more than [`MAX_VALUES`] values.
pub fn check_count(attr: &AttributeDef, count: usize, pointer: &str) -> Result<(), ScimError> {
    if count <= MAX_VALUES {
        return Ok(());
    }
    Err(ScimError::invalid_value(format!(
        "{pointer}: \"{}\" would hold {count} values; at most {MAX_VALUES} are allowed",
        attr.name
    )))
}

/// `pointer` extended by one key, escaped as RFC 6901 requires.
pub fn child_pointer(pointer: &str, key: &str) -> String {
    format!("{pointer}/{}", key.replace('~', "~0").replace('/', "~1"))
}

fn coerce_complex(attr: &AttributeDef, value: Value, pointer: &str) -> Result<Value, ScimError> {
    let fields = match value {
        Value::Null => return Ok(Value::Null),
        Value::Object(fields) => fields,
        scalar @ (Value::String(_) | Value::Number(_) | Value::Bool(_))
            if attr.sub("value").is_some() =>
        {
            Map::from_iter([("value".to_owned(), scalar)])
        }
        other => return Err(type_error(attr, "an object", &other, pointer)),
    };
    let mut out = Map::new();
    for (key, v) in fields {
        let here = child_pointer(pointer, &key);
        let Some(sub) = attr.sub(&key) else {
            return Err(ScimError::invalid_syntax(format!(
                "{here}: \"{key}\" is not a sub-attribute of \"{}\"; expected one of: {}",
                attr.name,
                sub_names(attr)
            )));
        };
        if sub.mutability == Mutability::ReadOnly {
            continue; // computed by the server (manager.displayName); clients echo it
        }
        let v = coerce(sub, v, &here)?;
        if !v.is_null() {
            out.insert(sub.name.to_owned(), v);
        }
    }
    Ok(if out.is_empty() {
        Value::Null
    } else {
        Value::Object(out)
    })
}

fn coerce_simple(attr: &AttributeDef, value: Value, pointer: &str) -> Result<Value, ScimError> {
    let parsed = match (attr.ty, value) {
        (_, Value::Null) => return Ok(Value::Null),
        (_, Value::String(s)) if s.is_empty() => return Ok(Value::Null),
        (AttrType::String | AttrType::Reference | AttrType::Binary, s @ Value::String(_)) => {
            return Ok(s);
        }
        (AttrType::Boolean, b @ Value::Bool(_)) => return Ok(b),
        (AttrType::Decimal, n @ Value::Number(_)) => return Ok(n),
        (AttrType::Integer, Value::Number(n)) if n.is_i64() || n.is_u64() => {
            return Ok(Value::Number(n));
        }
        (AttrType::Boolean, Value::String(s)) => {
            parse_bool(&s).map(Value::Bool).ok_or(Value::String(s))
        }
        (AttrType::Integer, Value::String(s)) => s
            .trim()
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| Value::String(s)),
        (AttrType::Decimal, Value::String(s)) => {
            parse_decimal(&s).map(Value::Number).ok_or(Value::String(s))
        }
        (AttrType::DateTime, Value::String(s)) => match chrono::DateTime::parse_from_rfc3339(&s) {
            Ok(_) => Ok(Value::String(s)),
            Err(_) => Err(Value::String(s)),
        },
        (_, other) => Err(other),
    };
    parsed.map_err(|bad| type_error(attr, expected(attr.ty), &bad, pointer))
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.trim() {
        t if t.eq_ignore_ascii_case("true") => Some(true),
        t if t.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

fn parse_decimal(s: &str) -> Option<Number> {
    s.trim().parse::<f64>().ok().and_then(Number::from_f64)
}

fn expected(ty: AttrType) -> &'static str {
    match ty {
        AttrType::String => "a string",
        AttrType::Boolean => "a boolean (true or false)",
        AttrType::Decimal => "a decimal number",
        AttrType::Integer => "an integer",
        AttrType::DateTime => "an RFC 3339 date-time string such as \"2024-05-01T12:00:00Z\"",
        AttrType::Binary => "a base64 string",
        AttrType::Reference => "a URI string",
        AttrType::Complex => "an object",
    }
}

fn type_error(attr: &AttributeDef, expected: &str, got: &Value, pointer: &str) -> ScimError {
    let at = if pointer.is_empty() { "/" } else { pointer };
    ScimError::invalid_value(format!(
        "{at}: \"{}\" must be {expected}, got {}",
        attr.name,
        describe(got)
    ))
}

/// A short description of a JSON value for error details (long strings are cut).
fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) if s.chars().count() > 40 => {
            format!(
                "the string \"{}...\"",
                s.chars().take(40).collect::<String>()
            )
        }
        Value::String(s) => format!("the string \"{s}\""),
        Value::Array(_) => "an array".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}

fn sub_names(attr: &AttributeDef) -> String {
    attr.sub_attributes
        .iter()
        .map(|s| s.name)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests;
