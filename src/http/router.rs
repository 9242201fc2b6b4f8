//! Routing: the unauthenticated operational endpoints, then `/scim/v2/{provider}/...`
//! behind that provider's bearer token, then 404/405 as SCIM errors.

use std::time::Instant;

use http::{Method, Request, Response, header};
use hyper::body::Incoming;

use super::resources::{self, Ctx};
use super::response::{self, Body};
use super::{SharedApp, auth, body, bulk, discovery, list, ratelimit, search};
use crate::scim::{ResourceKind, ScimError};

/// Serves one request; never fails (errors become SCIM error responses).
pub async fn handle(app: SharedApp, req: Request<Incoming>) -> Response<Body> {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let resp = match tokio::time::timeout(app.request_timeout, route(&app, req)).await {
        Ok(result) => result.unwrap_or_else(|e| response::error(&e)),
        Err(_) => response::error(&ScimError::new(
            503,
            "the request took longer than [server] request_timeout_secs; a write may or may not \
             have been applied: read the resource back before retrying",
        )),
    };
    let status = resp.status().as_u16();
    let provider = resp
        .extensions()
        .get::<AuthenticatedProvider>()
        .map(|p| p.0.as_str())
        .unwrap_or("-");
    crate::metrics::http_request(provider, method.as_str(), status, started.elapsed());
    let micros = started.elapsed().as_micros() as u64;
    if status >= 500 {
        tracing::warn!(%method, %path, status, micros, "request failed");
    } else {
        tracing::debug!(%method, %path, status, micros, "request");
    }
    resp
}

async fn route(app: &SharedApp, req: Request<Incoming>) -> Result<Response<Body>, ScimError> {
    let path = req.uri().path().to_owned();
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segments.as_slice() {
        ["metrics"] => Ok(response::text(
            200,
            "text/plain; version=0.0.4",
            crate::metrics::render(),
        )),
        ["healthz"] => Ok(response::text(200, "text/plain", "ok\n".into())),
        ["readyz"] => Ok(match app.store.ping().await {
            Ok(()) => response::text(200, "text/plain", "ready\n".into()),
            Err(e) => {
                tracing::warn!(error = %e, "not ready: state store unreachable");
                response::text(503, "text/plain", "state store unreachable\n".into())
            }
        }),
        ["scim", "v2", provider, rest @ ..] => {
            let provider = (*provider).to_owned();
            let rest: Vec<String> = rest.iter().map(|s| percent_decode(s)).collect();
            let mut authenticated = false;
            let result = scim(app, req, &provider, &rest, &mut authenticated).await;
            // Label metrics only with providers that exist (and were authenticated).
            let label = |mut r: Response<Body>| {
                if authenticated {
                    r.extensions_mut()
                        .insert(AuthenticatedProvider(provider.clone()));
                }
                r
            };
            match result {
                Ok(r) => Ok(label(r)),
                Err(e) => Ok(label(response::error(&e))),
            }
        }
        _ => Err(ScimError::not_found(format!(
            "no such endpoint {path:?}; SCIM lives under /scim/v2/<provider>/"
        ))),
    }
}

/// Marks a response as belonging to an authenticated provider (for metric labels).
#[derive(Clone)]
struct AuthenticatedProvider(String);

fn percent_decode(s: &str) -> String {
    form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn method_not_allowed(allow: &'static str) -> ScimError {
    ScimError::new(405, format!("method not allowed here; allowed: {allow}"))
}

fn base_url(app: &SharedApp, req: &Request<Incoming>, provider: &str) -> String {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| req.uri().authority().map(|a| a.to_string()))
        .unwrap_or_else(|| "localhost".to_owned());
    let scheme = if app.tls { "https" } else { "http" };
    format!("{scheme}://{host}/scim/v2/{provider}")
}

async fn scim(
    app: &SharedApp,
    req: Request<Incoming>,
    provider_name: &str,
    rest: &[String],
    authenticated: &mut bool,
) -> Result<Response<Body>, ScimError> {
    let token = auth::bearer(req.headers().get(header::AUTHORIZATION));
    let provider = app.provider(provider_name);
    if !auth::verify(token, provider.as_ref().map(|p| p.token_hashes.as_slice())) {
        return Err(ScimError::new(
            401,
            "missing or invalid bearer token for this endpoint",
        ));
    }
    *authenticated = true;
    let Some(provider) = provider else {
        return Err(ScimError::internal());
    };
    // After authentication: only the tenant's own clients spend its tokens.
    if let Some(limit) = provider.rate_limit
        && let Err(wait) = app.rate_limits.check(provider_name, limit, Instant::now())
    {
        return Ok(ratelimit::too_many_requests(provider_name, limit, wait));
    }
    let base_url = base_url(app, &req, provider_name);
    let method = req.method().clone();
    let (parts, incoming) = req.into_parts();
    let ctx = Ctx {
        provider,
        base_url,
        query: list::query_map(parts.uri.query()),
        headers: parts.headers,
    };
    let rest: Vec<&str> = rest.iter().map(String::as_str).collect();

    let kind = match rest.first() {
        Some(&"Users") => Some(ResourceKind::User),
        Some(&"Groups") => Some(ResourceKind::Group),
        _ => None,
    };
    if let Some(kind) = kind {
        let has_body = matches!(method, Method::POST | Method::PUT | Method::PATCH);
        let body = if has_body {
            body::check_content_type(&ctx.headers)?;
            let bytes = body::read(incoming, &ctx.headers, app.max_body_bytes).await?;
            Some(body::parse_json(&bytes)?)
        } else {
            None
        };
        return match (&method, &rest[1..], body) {
            (&Method::GET, [], _) => resources::list(app, &ctx, kind).await,
            (&Method::POST, [".search"], Some(b)) => search::resource(app, &ctx, kind, &b).await,
            (&Method::POST, [], Some(b)) => resources::create(app, &ctx, kind, b).await,
            (&Method::GET, [id], _) => resources::get(app, &ctx, kind, id).await,
            (&Method::PUT, [id], Some(b)) => resources::replace(app, &ctx, kind, id, b).await,
            (&Method::PATCH, [id], Some(b)) => resources::patch(app, &ctx, kind, id, b).await,
            (&Method::DELETE, [id], _) => resources::delete(app, &ctx, kind, id).await,
            (_, [], _) => Err(method_not_allowed("GET, POST")),
            (_, [_], _) => Err(method_not_allowed("GET, PUT, PATCH, DELETE")),
            _ => Err(ScimError::not_found(format!(
                "no such endpoint {}",
                parts.uri.path()
            ))),
        };
    }

    let base = &ctx.base_url;
    let read_only = |m: &Method| {
        if *m == Method::GET {
            Ok(())
        } else {
            Err(method_not_allowed("GET"))
        }
    };
    match rest.as_slice() {
        [".search"] if method == Method::POST => {
            body::check_content_type(&ctx.headers)?;
            let bytes = body::read(incoming, &ctx.headers, app.max_body_bytes).await?;
            search::root(app, &ctx, &body::parse_json(&bytes)?).await
        }
        [".search"] => Err(method_not_allowed("POST")),
        ["Bulk"] if method == Method::POST => bulk::serve(app, &ctx, incoming).await,
        ["Bulk"] => Err(method_not_allowed("POST")),
        ["ServiceProviderConfig"] => {
            read_only(&method)?;
            Ok(response::json(
                200,
                &discovery::service_provider_config(base, &ctx.provider, app.max_body_bytes),
            ))
        }
        ["ResourceTypes"] => {
            read_only(&method)?;
            Ok(response::json(200, &discovery::resource_types(base)))
        }
        ["ResourceTypes", name] => {
            read_only(&method)?;
            Ok(response::json(
                200,
                &discovery::resource_type_by_id(base, name)?,
            ))
        }
        ["Schemas"] => {
            read_only(&method)?;
            Ok(response::json(200, &discovery::schemas(base)))
        }
        ["Schemas", urn] => {
            read_only(&method)?;
            Ok(response::json(200, &discovery::schema_by_id(base, urn)?))
        }
        _ => Err(ScimError::not_found(format!(
            "no such endpoint {}",
            parts.uri.path()
        ))),
    }
}
