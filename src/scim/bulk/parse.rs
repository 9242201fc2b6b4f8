//! Reading a BulkRequest body: the request-level checks that reject it whole (shape,
//! `schemas`, `failOnErrors`, `maxOperations`) and the per-operation checks that fail
//! only that operation (method, path, data, references).

use serde_json::{Map, Value};

use super::{BULK_REQUEST, BulkRequest, Entry, Method, Operation, REFERENCE_PREFIX, Target};
use crate::scim::{ResourceKind, ScimError};

/// Reads a BulkRequest. Errors here reject the whole request: 400 for a malformed one,
/// 413 when it has more than `max_operations` operations (section 3.7.4). A malformed
/// operation is not an error here: its [`Entry`] carries the error.
pub fn parse_request(body: Value, max_operations: usize) -> Result<BulkRequest, ScimError> {
    let Value::Object(fields) = body else {
        return Err(ScimError::invalid_syntax(
            "a BulkRequest must be a JSON object with \"schemas\" and \"Operations\"",
        ));
    };
    let mut schemas = None;
    let mut operations = None;
    let mut fail_on_errors = None;
    // Keys are case-insensitive (RFC 7643 section 2.1); other keys are ignored.
    for (key, value) in fields {
        match key.to_ascii_lowercase().as_str() {
            "schemas" => schemas = Some(value),
            "operations" => operations = Some(value),
            "failonerrors" => fail_on_errors = Some(value),
            _ => {}
        }
    }
    check_schemas(schemas.as_ref())?;
    let fail_on_errors = parse_fail_on_errors(fail_on_errors.unwrap_or(Value::Null))?;
    let Some(Value::Array(operations)) = operations else {
        return Err(ScimError::invalid_syntax(
            "\"Operations\" must be an array of bulk operations",
        ));
    };
    if operations.len() > max_operations {
        return Err(ScimError::new(
            413,
            format!(
                "the bulk request has {} operations, more than maxOperations ({max_operations}) \
                 allows; split it into several requests",
                operations.len()
            ),
        ));
    }
    let entries = operations
        .into_iter()
        .enumerate()
        .map(|(index, op)| parse_entry(index, op))
        .collect();
    Ok(BulkRequest {
        fail_on_errors,
        entries,
    })
}

/// `schemas` is optional here (some clients omit it), but when present it must name a
/// BulkRequest, so that another message sent here by mistake is refused.
fn check_schemas(schemas: Option<&Value>) -> Result<(), ScimError> {
    let Some(schemas) = schemas else {
        return Ok(());
    };
    let ok = schemas
        .as_array()
        .is_some_and(|s| s.iter().any(|u| u.as_str() == Some(BULK_REQUEST)));
    if ok {
        Ok(())
    } else {
        Err(ScimError::invalid_syntax(format!(
            "\"schemas\" must contain {BULK_REQUEST:?}"
        )))
    }
}

fn parse_fail_on_errors(value: Value) -> Result<Option<usize>, ScimError> {
    match &value {
        Value::Null => Ok(None),
        Value::Number(n) => match n.as_u64() {
            Some(n) if n >= 1 => Ok(Some(usize::try_from(n).unwrap_or(usize::MAX))),
            _ => Err(fail_on_errors_error(&value)),
        },
        _ => Err(fail_on_errors_error(&value)),
    }
}

fn fail_on_errors_error(value: &Value) -> ScimError {
    ScimError::invalid_value(format!(
        "\"failOnErrors\" must be a positive integer (the number of errors after which the \
         remaining operations are skipped), got {value}; omit it to run every operation"
    ))
}

/// The fields of one operation, before checking.
#[derive(Default)]
struct RawOperation {
    method: Option<Value>,
    path: Option<Value>,
    bulk_id: Option<Value>,
    version: Option<Value>,
    data: Option<Value>,
}

impl RawOperation {
    fn from_fields(fields: Map<String, Value>) -> RawOperation {
        let mut raw = RawOperation::default();
        for (key, value) in fields {
            match key.to_ascii_lowercase().as_str() {
                "method" => raw.method = Some(value),
                "path" => raw.path = Some(value),
                "bulkid" => raw.bulk_id = Some(value),
                "version" => raw.version = Some(value),
                "data" => raw.data = Some(value),
                _ => {}
            }
        }
        raw
    }
}

fn parse_entry(index: usize, op: Value) -> Entry {
    let pointer = format!("/Operations/{index}");
    let Value::Object(fields) = op else {
        return Entry {
            method: None,
            method_text: String::new(),
            bulk_id: None,
            operation: Err(ScimError::invalid_syntax(format!(
                "{pointer} must be an object with \"method\", \"path\" and (except for DELETE) \
                 \"data\""
            ))),
        };
    };
    let raw = RawOperation::from_fields(fields);
    let method_text = raw
        .method
        .as_ref()
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let method = parse_method(&method_text);
    let bulk_id = raw
        .bulk_id
        .as_ref()
        .and_then(Value::as_str)
        .map(str::to_owned);
    let operation = parse_operation(&pointer, method, raw);
    Entry {
        method,
        method_text,
        bulk_id,
        operation,
    }
}

fn parse_method(text: &str) -> Option<Method> {
    match text.to_ascii_uppercase().as_str() {
        "POST" => Some(Method::Post),
        "PUT" => Some(Method::Put),
        "PATCH" => Some(Method::Patch),
        "DELETE" => Some(Method::Delete),
        _ => None,
    }
}

fn parse_operation(
    pointer: &str,
    method: Option<Method>,
    raw: RawOperation,
) -> Result<Operation, ScimError> {
    let method = method.ok_or_else(|| {
        ScimError::invalid_value(format!(
            "{pointer}/method must be \"POST\", \"PUT\", \"PATCH\" or \"DELETE\", got {}",
            raw.method
                .as_ref()
                .map_or("nothing".into(), Value::to_string)
        ))
    })?;
    match &raw.bulk_id {
        None | Some(Value::Null) => {}
        Some(Value::String(b)) if !b.is_empty() && !b.starts_with(REFERENCE_PREFIX) => {}
        Some(other) => {
            return Err(ScimError::invalid_value(format!(
                "{pointer}/bulkId must be a non-empty string without the \"bulkId:\" prefix, \
                 got {other}"
            )));
        }
    }
    let version = match raw.version {
        None | Some(Value::Null) => None,
        Some(Value::String(v)) => Some(v),
        Some(other) => {
            return Err(ScimError::invalid_value(format!(
                "{pointer}/version must be an ETag string like \"W/\\\"3\\\"\", got {other}"
            )));
        }
    };
    let path = match &raw.path {
        Some(Value::String(p)) => p.as_str(),
        _ => {
            return Err(ScimError::invalid_path(format!(
                "{pointer}/path is required: a string like \"/Users\" or \"/Groups/{{id}}\""
            )));
        }
    };
    let (kind, target) = parse_path(&format!("{pointer}/path"), method, path)?;
    let data = match (method, raw.data) {
        (Method::Delete, _) => None,
        (_, Some(data @ Value::Object(_))) => Some(data),
        (_, _) => {
            return Err(ScimError::invalid_syntax(format!(
                "{pointer}/data is required for {}: the {} as a JSON object",
                method.as_str(),
                if method == Method::Patch {
                    "PatchOp message"
                } else {
                    "resource"
                }
            )));
        }
    };
    let mut references = Vec::new();
    if let Some(Target::Reference(name)) = &target {
        references.push(name.clone());
    }
    if let Some(data) = &data
        && !collect_references(data, &mut references)
    {
        return Err(ScimError::invalid_value(format!(
            "{pointer}/data holds \"bulkId:\" without a name; write \"bulkId:\" followed by \
             the bulkId of a POST operation"
        )));
    }
    Ok(Operation {
        method,
        kind,
        target,
        version,
        data,
        references,
    })
}

/// `/Users`, `/Groups/{id}`, `/Groups/bulkId:NAME` (the leading `/` is optional).
fn parse_path(
    pointer: &str,
    method: Method,
    path: &str,
) -> Result<(ResourceKind, Option<Target>), ScimError> {
    let usage = "use /Users or /Groups for POST, /Users/{id} or /Groups/{id} otherwise";
    let trimmed = path.strip_prefix('/').unwrap_or(path);
    let mut segments = trimmed.split('/');
    let kind = match segments.next().unwrap_or_default() {
        s if s.eq_ignore_ascii_case("Users") => ResourceKind::User,
        s if s.eq_ignore_ascii_case("Groups") => ResourceKind::Group,
        _ => {
            return Err(ScimError::invalid_path(format!(
                "{pointer}: {path:?} is not a path bulk operations reach; {usage}"
            )));
        }
    };
    let id = segments.next().filter(|s| !s.is_empty());
    if segments.next().is_some() || path.contains(['?', '#']) {
        return Err(ScimError::invalid_path(format!(
            "{pointer}: {path:?} has more than an endpoint and an id; {usage}"
        )));
    }
    let target = match (method, id) {
        (Method::Post, None) => None,
        (Method::Post, Some(_)) => {
            return Err(ScimError::invalid_path(format!(
                "{pointer}: POST creates a resource, so its path is {} without an id, got {path:?}",
                kind.endpoint()
            )));
        }
        (_, None) => {
            return Err(ScimError::invalid_path(format!(
                "{pointer}: {} needs the resource in its path, like {}/{{id}}, got {path:?}",
                method.as_str(),
                kind.endpoint()
            )));
        }
        (_, Some(id)) => Some(match id.strip_prefix(REFERENCE_PREFIX) {
            Some("") => {
                return Err(ScimError::invalid_path(format!(
                    "{pointer}: \"bulkId:\" in {path:?} needs the bulkId of a POST operation \
                     after it"
                )));
            }
            Some(name) => Target::Reference(name.to_owned()),
            None => Target::Id(id.to_owned()),
        }),
    };
    Ok((kind, target))
}

/// Adds every bulkId that a string value of `value` references to `out` (each once);
/// false when a reference has no name.
fn collect_references(value: &Value, out: &mut Vec<String>) -> bool {
    match value {
        Value::String(s) => match s.strip_prefix(REFERENCE_PREFIX) {
            Some("") => false,
            Some(name) => {
                if !out.iter().any(|r| r == name) {
                    out.push(name.to_owned());
                }
                true
            }
            None => true,
        },
        Value::Array(items) => items.iter().all(|v| collect_references(v, out)),
        Value::Object(fields) => fields.values().all(|v| collect_references(v, out)),
        _ => true,
    }
}
