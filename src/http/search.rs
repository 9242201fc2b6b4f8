//! `POST /.search` (RFC 7644 section 3.4.3): the list parameters in a JSON body
//! (`filter`, `sortBy`, `sortOrder`, `startIndex`, `count`, `cursor`, `attributes`,
//! `excludedAttributes`), at a resource endpoint or at the provider's root, where Users
//! and Groups are searched together (Users first, then Groups, each in id order or
//! sorted by `sortBy`).

use std::collections::HashMap;

use http::Response;
use serde_json::Value;

use super::App;
use super::list;
use super::resources::{self, Ctx};
use super::response::{self, Body};
use crate::scim::{ResourceKind, ScimError};

/// URN of a SearchRequest body.
pub const SEARCH_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

/// Turns a SearchRequest body into the same parameter map a query string gives.
pub fn params(body: &Value) -> Result<HashMap<String, String>, ScimError> {
    let obj = body
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("a SearchRequest must be a JSON object"))?;
    let schemas_ok = obj
        .get("schemas")
        .and_then(Value::as_array)
        .is_some_and(|s| s.iter().any(|u| u.as_str() == Some(SEARCH_REQUEST)));
    if !schemas_ok {
        return Err(ScimError::invalid_syntax(format!(
            "\"schemas\" must contain {SEARCH_REQUEST:?}"
        )));
    }
    let mut out = HashMap::new();
    for (key, value) in obj {
        let lower = key.to_ascii_lowercase();
        let text = match (lower.as_str(), value) {
            ("schemas", _) | (_, Value::Null) => continue,
            ("attributes" | "excludedattributes", Value::Array(items)) => items
                .iter()
                .map(|i| i.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| {
                    ScimError::invalid_value(format!("/{key} must be an array of attribute names"))
                })?
                .join(","),
            (_, Value::String(s)) => s.clone(),
            (_, Value::Number(n)) => n.to_string(),
            _ => {
                return Err(ScimError::invalid_value(format!(
                    "/{key} has an unexpected type"
                )));
            }
        };
        out.insert(lower, text);
    }
    Ok(out)
}

/// `POST /Users/.search`, `POST /Groups/.search`.
pub async fn resource(
    app: &App,
    ctx: &Ctx,
    kind: ResourceKind,
    body: &Value,
) -> Result<Response<Body>, ScimError> {
    let q = params(body)?;
    let p = list::params(&q, kind, ctx.provider.max_results)?;
    let (page, resources) = resources::query(app, ctx, kind, &p).await?;
    Ok(response::json(200, &p.response(&page, resources)))
}

/// `POST /.search` at the root: both resource types; a filter (or sortBy) valid for
/// only one of them searches that one. Pages by index only (a cursor names a position
/// in one resource type's order); with sortBy, each type's block is sorted.
pub async fn root(app: &App, ctx: &Ctx, body: &Value) -> Result<Response<Body>, ScimError> {
    let q = params(body)?;
    if q.contains_key("cursor") {
        return Err(ScimError::invalid_value(
            "cursor paging is per resource type: POST /Users/.search or /Groups/.search",
        ));
    }
    let max = ctx.provider.max_results;
    let mut parsed = Vec::new();
    let mut first_error = None;
    for kind in [ResourceKind::User, ResourceKind::Group] {
        match list::params(&q, kind, max) {
            Ok(p) => parsed.push((kind, p)),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    let Some((start_index, mut wanted)) = parsed.first().and_then(|(_, p)| match p.paging {
        list::PageRequest::Index { start_index, count } => Some((start_index, count)),
        list::PageRequest::Cursor { .. } => None,
    }) else {
        return Err(first_error.unwrap_or_else(ScimError::internal));
    };
    let mut skip = start_index - 1;
    let mut total = 0;
    let mut resources = Vec::new();
    for (kind, mut p) in parsed {
        p.paging = list::PageRequest::Index {
            start_index: skip + 1,
            count: wanted,
        };
        let (page, rendered) = resources::query(app, ctx, kind, &p).await?;
        total += page.total;
        skip = skip.saturating_sub(page.total);
        wanted -= rendered.len();
        resources.extend(rendered);
    }
    Ok(response::json(
        200,
        &list::list_response(total, start_index, resources),
    ))
}
