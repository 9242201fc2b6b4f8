//! `POST /scim/v2/{provider}/Bulk` (RFC 7644 section 3.7): reads the request within the
//! bulk limits, plans it (`scim::bulk`), and performs each operation through the same
//! handler as its single-resource request, so validation, `If-Match` (the operation's
//! `version`) and the store write are exactly those of that request: one atomic store
//! mutation per operation. Answers 200 with a BulkResponse listing what ran.

use std::collections::HashMap;

use http::{HeaderMap, HeaderValue, Response, header};
use hyper::body::Incoming;

use super::resources::{self, Ctx};
use super::response::{self, Body};
use super::{App, body, render};
use crate::config::ProviderConfig;
use crate::scim::bulk::{self, Entry, Method, Operation, Outcome, Plan, Resolved, Target};
use crate::scim::{ResourceKind, ScimError};

/// The largest `/Bulk` body accepted (and advertised as `maxPayloadSize`): the provider's
/// `bulk.max_payload_bytes`, but never more than `[server] max_body_bytes`.
pub fn max_payload_bytes(provider: &ProviderConfig, max_body_bytes: usize) -> usize {
    provider.bulk.max_payload_bytes.min(max_body_bytes)
}

/// Serves one bulk request.
pub async fn serve(app: &App, ctx: &Ctx, incoming: Incoming) -> Result<Response<Body>, ScimError> {
    body::check_content_type(&ctx.headers)?;
    let limit = max_payload_bytes(&ctx.provider, app.max_body_bytes);
    let bytes = body::read(incoming, &ctx.headers, limit)
        .await
        .map_err(|e| payload_error(e, &ctx.provider, app.max_body_bytes))?;
    let request = bulk::parse_request(body::parse_json(&bytes)?, ctx.provider.bulk.max_operations)?;
    let plan = bulk::plan(&request.entries);
    let mut outcomes: Vec<Option<Outcome>> = vec![None; request.entries.len()];
    let mut resolved = Resolved::default();
    let mut errors = 0usize;
    for &index in &plan.order {
        let entry = &request.entries[index];
        let outcome = run(app, ctx, &plan, &resolved, index, entry).await;
        if let Some(bulk_id) = plan.declares(index, entry) {
            let id = match (&outcome.result, &entry.operation) {
                (Ok(done), Ok(op)) => done.created_id(&ctx.base_url, op.kind),
                _ => None,
            };
            resolved.record(bulk_id, id);
        }
        let failed = outcome.result.is_err();
        outcomes[index] = Some(outcome.into_outcome(entry));
        if failed {
            errors += 1;
            if request.fail_on_errors.is_some_and(|limit| errors >= limit) {
                break;
            }
        }
    }
    let answered = outcomes.iter().flatten().count();
    tracing::info!(
        provider = %ctx.provider.name,
        operations = request.entries.len(),
        answered,
        errors,
        "bulk request"
    );
    Ok(response::json(
        200,
        &bulk::response(outcomes.iter().flatten()),
    ))
}

/// Says which limit a too-large body broke, in the words of the bulk configuration.
fn payload_error(e: ScimError, provider: &ProviderConfig, max_body_bytes: usize) -> ScimError {
    if e.status != 413 || provider.bulk.max_payload_bytes > max_body_bytes {
        return e;
    }
    ScimError::new(
        413,
        format!(
            "the bulk request body exceeds maxPayloadSize ({} bytes, [providers.{}] bulk.\
             max_payload_bytes); split it into several requests",
            provider.bulk.max_payload_bytes, provider.name
        ),
    )
}

/// What one operation did: its response's status and headers, or its error.
struct Done {
    status: u16,
    location: Option<String>,
    version: Option<String>,
}

impl Done {
    /// The id a POST created, read back from its `Location`.
    fn created_id(&self, base_url: &str, kind: ResourceKind) -> Option<String> {
        let prefix = format!("{base_url}{}/", kind.endpoint());
        self.location
            .as_deref()?
            .strip_prefix(&prefix)
            .map(str::to_owned)
    }
}

struct Ran {
    location: Option<String>,
    result: Result<Done, ScimError>,
}

impl Ran {
    fn into_outcome(self, entry: &Entry) -> Outcome {
        let (status, version, location, error) = match self.result {
            Ok(done) => (
                done.status,
                done.version,
                done.location.or(self.location),
                None,
            ),
            Err(e) => (e.status, None, self.location, Some(e)),
        };
        Outcome {
            method: entry.method_name().to_owned(),
            bulk_id: entry.bulk_id.clone(),
            location,
            version,
            status,
            error,
        }
    }
}

async fn run(
    app: &App,
    ctx: &Ctx,
    plan: &Plan,
    resolved: &Resolved,
    index: usize,
    entry: &Entry,
) -> Ran {
    let failed = |e: ScimError| Ran {
        location: None,
        result: Err(e),
    };
    if let Some(e) = plan.refusal(index) {
        return failed(e.clone());
    }
    let op = match &entry.operation {
        Ok(op) => op,
        Err(e) => return failed(e.clone()),
    };
    let op = match resolved.apply(plan, index, op) {
        Ok(op) => op,
        Err(e) => return failed(e),
    };
    let id = match &op.target {
        Some(Target::Id(id)) => Some(id.clone()),
        _ => None,
    };
    let location = id
        .as_deref()
        .map(|id| render::location(&ctx.base_url, op.kind, id));
    Ran {
        location,
        result: perform(app, ctx, op, id.as_deref()).await,
    }
}

/// Performs a resolved operation as its single-resource request.
async fn perform(app: &App, ctx: &Ctx, op: Operation, id: Option<&str>) -> Result<Done, ScimError> {
    let sub = sub_request(ctx, op.version.as_deref())?;
    let data = op.data.unwrap_or_default();
    let resp = match (op.method, id) {
        (Method::Post, _) => resources::create(app, &sub, op.kind, data).await?,
        (Method::Put, Some(id)) => resources::replace(app, &sub, op.kind, id, data).await?,
        (Method::Patch, Some(id)) => resources::patch(app, &sub, op.kind, id, data).await?,
        (Method::Delete, Some(id)) => resources::delete(app, &sub, op.kind, id).await?,
        (_, None) => {
            tracing::error!("bulk operation without a resolved id reached perform");
            return Err(ScimError::internal());
        }
    };
    let header = |name: header::HeaderName| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    Ok(Done {
        status: resp.status().as_u16(),
        location: header(header::LOCATION),
        version: (op.method != Method::Delete)
            .then(|| header(header::ETAG))
            .flatten(),
    })
}

/// The context of one operation: the bulk request's provider and base URL, `If-Match`
/// from the operation's `version`, and `attributes=id`, because the BulkResponse does
/// not carry resource bodies (so the handler skips reading members and groups).
fn sub_request(ctx: &Ctx, version: Option<&str>) -> Result<Ctx, ScimError> {
    let mut headers = HeaderMap::new();
    if let Some(version) = version {
        let value = HeaderValue::from_str(version).map_err(|_| {
            ScimError::invalid_value(format!(
                "version {version:?} is not a valid ETag; send the resource's meta.version, \
                 like \"W/\\\"3\\\"\""
            ))
        })?;
        headers.insert(header::IF_MATCH, value);
    }
    Ok(Ctx {
        provider: ctx.provider.clone(),
        base_url: ctx.base_url.clone(),
        query: HashMap::from([("attributes".to_owned(), "id".to_owned())]),
        headers,
    })
}
