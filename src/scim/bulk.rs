//! Bulk requests (RFC 7644 section 3.7) as pure code: reading a BulkRequest into
//! operations ([`parse_request`]), finding the `bulkId:` references in their paths and
//! data and choosing the order they run in ([`plan`]), putting the ids of created
//! resources in place of those references ([`Resolved`]), and writing the BulkResponse
//! ([`response`]). Performing each operation is the HTTP layer's job.
//!
//! Choices the RFC leaves open, made here once:
//! - Operations run in request order, except that a POST named by a `bulkId:` reference
//!   runs before the first operation that needs it (section 3.7: optimizing the order is
//!   allowed when the client's intent is kept). The response lists results in request
//!   order.
//! - A reference cycle (section 3.7.1) is refused with 409 for every operation in it;
//!   breaking it would split one operation into several store writes.
//! - A reference to a bulkId that no POST of the request declares is 400 `invalidValue`;
//!   to a POST that failed or was refused, 409 (section 3.7.2).

mod parse;
mod plan;

#[cfg(test)]
mod tests;

use serde_json::{Map, Value, json};

use super::{ResourceKind, ScimError};

pub use parse::parse_request;
pub use plan::{Plan, Resolved, plan};

/// The URN a BulkRequest lists in `schemas`.
pub const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
/// The URN of the BulkResponse.
pub const BULK_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";
/// What a string value starts with when it names another operation's resource.
pub const REFERENCE_PREFIX: &str = "bulkId:";

/// The HTTP method of one bulk operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Creates a resource.
    Post,
    /// Replaces a resource.
    Put,
    /// Modifies a resource (the data is a PatchOp message).
    Patch,
    /// Deletes a resource.
    Delete,
}

impl Method {
    /// The method as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

/// The resource an operation's path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A resource id, as sent.
    Id(String),
    /// `bulkId:NAME`: the resource created by the POST that declared `NAME`.
    Reference(String),
}

/// One valid operation, before its references are resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    /// POST, PUT, PATCH or DELETE.
    pub method: Method,
    /// Users or Groups, from the path.
    pub kind: ResourceKind,
    /// The resource, for every method but POST.
    pub target: Option<Target>,
    /// The ETag the resource must have (`If-Match`), for PUT, PATCH and DELETE.
    pub version: Option<String>,
    /// The resource (POST, PUT) or PatchOp message (PATCH); `None` for DELETE.
    pub data: Option<Value>,
    /// The bulkIds referenced in the path and the data, each once, in order of appearance.
    pub references: Vec<String>,
}

/// One entry of `Operations`: what the response echoes, and the operation or why it is
/// invalid (an invalid entry fails alone; the others still run).
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The method, when it is one of the four.
    pub method: Option<Method>,
    /// `method` as sent, echoed when it is not one of the four.
    pub method_text: String,
    /// The client's `bulkId`, echoed in the response.
    pub bulk_id: Option<String>,
    /// The operation, or the 400 error that makes it invalid.
    pub operation: Result<Operation, ScimError>,
}

impl Entry {
    /// The method for the response: normalized when valid, as sent when not.
    pub fn method_name(&self) -> &str {
        match self.method {
            Some(m) => m.as_str(),
            None => &self.method_text,
        }
    }
}

/// A parsed BulkRequest.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkRequest {
    /// Stop after this many failed operations; `None`: run them all (section 3.7.3).
    pub fail_on_errors: Option<usize>,
    /// The operations, in request order.
    pub entries: Vec<Entry>,
}

/// The result of one performed (or refused) operation, for the BulkResponse.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The method, as [`Entry::method_name`] gives it.
    pub method: String,
    /// The client's `bulkId`, echoed.
    pub bulk_id: Option<String>,
    /// The resource's URL, when known.
    pub location: Option<String>,
    /// The resource's ETag after the operation (not after a DELETE).
    pub version: Option<String>,
    /// The HTTP status the single-resource request would have had.
    pub status: u16,
    /// The SCIM error, for a failed operation.
    pub error: Option<ScimError>,
}

/// The BulkResponse body (section 3.7.3): `status` is a string, as in the RFC's
/// examples, and a failed operation carries its SCIM error body in `response`.
pub fn response<'a>(outcomes: impl IntoIterator<Item = &'a Outcome>) -> Value {
    let operations: Vec<Value> = outcomes
        .into_iter()
        .map(|o| {
            let mut op = Map::new();
            op.insert("method".into(), Value::String(o.method.clone()));
            if let Some(b) = &o.bulk_id {
                op.insert("bulkId".into(), Value::String(b.clone()));
            }
            if let Some(v) = &o.version {
                op.insert("version".into(), Value::String(v.clone()));
            }
            if let Some(l) = &o.location {
                op.insert("location".into(), Value::String(l.clone()));
            }
            op.insert("status".into(), Value::String(o.status.to_string()));
            if let Some(e) = &o.error {
                op.insert("response".into(), e.to_json());
            }
            Value::Object(op)
        })
        .collect();
    json!({
        "schemas": [BULK_RESPONSE],
        "Operations": operations,
    })
}

/// `/Operations/3`, or `/Operations/3 (bulkId "x")`: how errors name an operation.
fn describe(index: usize, bulk_id: Option<&str>) -> String {
    match bulk_id {
        Some(b) => format!("/Operations/{index} (bulkId {b:?})"),
        None => format!("/Operations/{index}"),
    }
}
