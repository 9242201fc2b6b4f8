//! Reading request bodies: the size limit (413 before and while reading), the
//! accepted media types, and JSON parsing with errors that point at the problem.

use bytes::Bytes;
use http::{HeaderMap, header};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde_json::Value;

use crate::scim::ScimError;

fn too_large(limit: usize) -> ScimError {
    ScimError::new(
        413,
        format!("request body exceeds the limit of {limit} bytes ([server] max_body_bytes)"),
    )
}

/// Checks the `Content-Type`: `application/scim+json` or `application/json`, with or
/// without parameters such as `charset=utf-8`.
pub fn check_content_type(headers: &HeaderMap) -> Result<(), ScimError> {
    let Some(ct) = headers.get(header::CONTENT_TYPE) else {
        // Clients that omit it still send JSON; accept rather than break them.
        return Ok(());
    };
    let media = ct
        .to_str()
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if media == "application/scim+json" || media == "application/json" {
        Ok(())
    } else {
        Err(ScimError::new(
            415,
            format!(
                "unsupported Content-Type {media:?}: send application/scim+json or application/json"
            ),
        ))
    }
}

/// Reads the whole body, refusing more than `limit` bytes.
pub async fn read(body: Incoming, headers: &HeaderMap, limit: usize) -> Result<Bytes, ScimError> {
    if let Some(len) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        && len > limit as u64
    {
        return Err(too_large(limit));
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(too_large(limit)),
        Err(e) => Err(ScimError::invalid_syntax(format!(
            "could not read the request body: {e}"
        ))),
    }
}

/// Parses a JSON body; the error says where the syntax broke.
pub fn parse_json(bytes: &[u8]) -> Result<Value, ScimError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ScimError::invalid_syntax(
            "the request body is empty; a JSON object is required",
        ));
    }
    serde_json::from_slice(bytes)
        .map_err(|e| ScimError::invalid_syntax(format!("the request body is not valid JSON: {e}")))
}
