//! The Users and Groups endpoints: create, read, replace, patch, delete and list.
//! Each handler turns the request into pure `scim` calls and one store call.

use std::collections::HashMap;
use std::sync::Arc;

use http::{HeaderMap, Response, header};
use serde_json::{Map, Value};

use super::list::{self, ListParams};
use super::response::{self, Body};
use super::{App, reg, render};
use crate::config::ProviderConfig;
use crate::scim::patch::{self, MemberChange};
use crate::scim::projection::Projection;
use crate::scim::{ResourceKind, ScimError, filter, resource};
use crate::store::{Change, ListPage, ListQuery, Mutation, StoredResource};

/// What every handler knows about the request it serves.
pub struct Ctx {
    /// The authenticated provider.
    pub provider: Arc<ProviderConfig>,
    /// `scheme://host/scim/v2/provider`.
    pub base_url: String,
    /// Query parameters, keys lower-cased.
    pub query: HashMap<String, String>,
    /// Request headers.
    pub headers: HeaderMap,
}

impl Ctx {
    fn projection(&self, kind: ResourceKind) -> Result<Projection, ScimError> {
        Projection::parse(
            reg(),
            kind,
            self.query.get("attributes").map(String::as_str),
            self.query.get("excludedattributes").map(String::as_str),
        )
    }

    /// The version an `If-Match` header demands: `Ok(None)` for none or `*`.
    fn if_match(&self) -> Result<Option<i64>, ScimError> {
        let Some(v) = self.headers.get(header::IF_MATCH) else {
            return Ok(None);
        };
        let v = v.to_str().unwrap_or("").trim();
        if v == "*" {
            return Ok(None);
        }
        parse_etag(v).map(Some).ok_or_else(|| {
            ScimError::precondition_failed(format!(
                "If-Match {v:?} does not match any version of this resource"
            ))
        })
    }
}

/// `W/"7"` or `"7"` -> 7.
fn parse_etag(v: &str) -> Option<i64> {
    v.trim()
        .trim_start_matches("W/")
        .trim_matches('"')
        .parse()
        .ok()
}

async fn full(
    app: &App,
    ctx: &Ctx,
    r: &StoredResource,
    projection: &Projection,
) -> Result<Map<String, Value>, ScimError> {
    let provider = &ctx.provider.name;
    let members = if r.kind == ResourceKind::Group && projection.wants(reg(), r.kind, "members") {
        Some(
            app.store
                .members(provider, &r.id)
                .await
                .map_err(response::store_error)?,
        )
    } else {
        None
    };
    let groups = if r.kind == ResourceKind::User && projection.wants(reg(), r.kind, "groups") {
        Some(
            app.store
                .groups_of(provider, &r.id)
                .await
                .map_err(response::store_error)?,
        )
    } else {
        None
    };
    let mut out = render::resource(&ctx.base_url, r, members.as_deref(), groups.as_deref());
    projection.apply(reg(), r.kind, &mut out);
    Ok(out)
}

fn with_meta_headers(
    mut resp: Response<Body>,
    ctx: &Ctx,
    r: &StoredResource,
    location: bool,
) -> Response<Body> {
    response::set_header(&mut resp, header::ETAG, &r.etag());
    if location {
        response::set_header(
            &mut resp,
            header::LOCATION,
            &render::location(&ctx.base_url, r.kind, &r.id),
        );
    }
    resp
}

fn written(r: Option<StoredResource>) -> Result<StoredResource, ScimError> {
    r.ok_or_else(|| {
        tracing::error!("store returned no resource for a create or update");
        ScimError::internal()
    })
}

/// `POST /Users`, `POST /Groups`.
pub async fn create(
    app: &App,
    ctx: &Ctx,
    kind: ResourceKind,
    body: Value,
) -> Result<Response<Body>, ScimError> {
    let projection = ctx.projection(kind)?;
    let incoming = resource::parse_create(reg(), kind, body)?;
    let mutation = Mutation::Create {
        kind,
        data: incoming.data,
        members: incoming.members.unwrap_or_default(),
    };
    let r = written(
        app.store
            .write(&ctx.provider.name, mutation)
            .await
            .map_err(response::store_error)?,
    )?;
    tracing::info!(provider = %ctx.provider.name, kind = kind.as_str(), id = %r.id, "created");
    let out = full(app, ctx, &r, &projection).await?;
    Ok(with_meta_headers(
        response::json(201, &Value::Object(out)),
        ctx,
        &r,
        true,
    ))
}

/// `GET /Users/{id}`, `GET /Groups/{id}`.
pub async fn get(
    app: &App,
    ctx: &Ctx,
    kind: ResourceKind,
    id: &str,
) -> Result<Response<Body>, ScimError> {
    let projection = ctx.projection(kind)?;
    let not_found = || ScimError::not_found(format!("{} {id} not found", kind.as_str()));
    // A User's groups come in the same round trip as the user.
    let (r, groups) = if kind == ResourceKind::User && projection.wants(reg(), kind, "groups") {
        let (r, groups) = app
            .store
            .user_with_groups(&ctx.provider.name, id)
            .await
            .map_err(response::store_error)?
            .ok_or_else(not_found)?;
        (r, Some(groups))
    } else {
        let r = app
            .store
            .get(&ctx.provider.name, kind, id)
            .await
            .map_err(response::store_error)?
            .ok_or_else(not_found)?;
        (r, None)
    };
    if let Some(inm) = ctx
        .headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        && (inm.trim() == "*" || inm.split(',').any(|t| parse_etag(t) == Some(r.version)))
    {
        return Ok(with_meta_headers(response::empty(304), ctx, &r, false));
    }
    let out = match groups {
        Some(groups) => {
            let mut out = render::resource(&ctx.base_url, &r, None, Some(&groups));
            projection.apply(reg(), kind, &mut out);
            out
        }
        None => full(app, ctx, &r, &projection).await?,
    };
    Ok(with_meta_headers(
        response::json(200, &Value::Object(out)),
        ctx,
        &r,
        true,
    ))
}

/// `PUT /Users/{id}`, `PUT /Groups/{id}`.
pub async fn replace(
    app: &App,
    ctx: &Ctx,
    kind: ResourceKind,
    id: &str,
    body: Value,
) -> Result<Response<Body>, ScimError> {
    let projection = ctx.projection(kind)?;
    let update = Box::new(move |current: &StoredResource| {
        let incoming = resource::parse_replace(reg(), kind, body, &current.data)?;
        Ok(Change {
            data: incoming.data,
            members: incoming
                .members
                .map(MemberChange::Set)
                .into_iter()
                .collect(),
        })
    });
    let mutation = Mutation::Update {
        kind,
        id: id.to_owned(),
        if_match: ctx.if_match()?,
        update,
    };
    let r = written(
        app.store
            .write(&ctx.provider.name, mutation)
            .await
            .map_err(response::store_error)?,
    )?;
    tracing::info!(provider = %ctx.provider.name, kind = kind.as_str(), id = %r.id, "replaced");
    let out = full(app, ctx, &r, &projection).await?;
    Ok(with_meta_headers(
        response::json(200, &Value::Object(out)),
        ctx,
        &r,
        true,
    ))
}

/// `PATCH /Users/{id}`, `PATCH /Groups/{id}`.
pub async fn patch(
    app: &App,
    ctx: &Ctx,
    kind: ResourceKind,
    id: &str,
    body: Value,
) -> Result<Response<Body>, ScimError> {
    let projection = ctx.projection(kind)?;
    let update = Box::new(move |current: &StoredResource| {
        let mut data = current.data.clone();
        let members = patch::apply_patch(reg(), kind, &current.id, &mut data, &body)?;
        Ok(Change { data, members })
    });
    let mutation = Mutation::Update {
        kind,
        id: id.to_owned(),
        if_match: ctx.if_match()?,
        update,
    };
    let r = written(
        app.store
            .write(&ctx.provider.name, mutation)
            .await
            .map_err(response::store_error)?,
    )?;
    tracing::info!(provider = %ctx.provider.name, kind = kind.as_str(), id = %r.id, "patched");
    if !ctx.provider.patch_returns_body {
        return Ok(with_meta_headers(response::empty(204), ctx, &r, false));
    }
    let out = full(app, ctx, &r, &projection).await?;
    Ok(with_meta_headers(
        response::json(200, &Value::Object(out)),
        ctx,
        &r,
        true,
    ))
}

/// `DELETE /Users/{id}`, `DELETE /Groups/{id}`.
pub async fn delete(
    app: &App,
    ctx: &Ctx,
    kind: ResourceKind,
    id: &str,
) -> Result<Response<Body>, ScimError> {
    let mutation = Mutation::Delete {
        kind,
        id: id.to_owned(),
        if_match: ctx.if_match()?,
    };
    app.store
        .write(&ctx.provider.name, mutation)
        .await
        .map_err(response::store_error)?;
    tracing::info!(provider = %ctx.provider.name, kind = kind.as_str(), id, "deleted");
    Ok(response::empty(204))
}

/// `GET /Users`, `GET /Groups`.
pub async fn list(app: &App, ctx: &Ctx, kind: ResourceKind) -> Result<Response<Body>, ScimError> {
    let params = list::params(&ctx.query, kind, ctx.provider.max_results)?;
    let (page, resources) = query(app, ctx, kind, &params).await?;
    Ok(response::json(200, &params.response(&page, resources)))
}

/// Runs a list query and renders its page.
pub async fn query(
    app: &App,
    ctx: &Ctx,
    kind: ResourceKind,
    params: &ListParams,
) -> Result<(ListPage, Vec<Value>), ScimError> {
    let base_url = ctx.base_url.clone();
    let filter = params.filter.as_ref();
    let matches = move |r: &StoredResource| match filter {
        Some(f) => filter::matches(
            reg(),
            kind,
            f,
            &Value::Object(render::resource(&base_url, r, None, None)),
        ),
        None => true,
    };
    let query = ListQuery {
        kind,
        filter,
        matches: &matches,
        sort: params.sort.clone(),
        paging: params.store_paging(),
    };
    let page = app
        .store
        .list(&ctx.provider.name, &query)
        .await
        .map_err(response::store_error)?;
    let mut resources = Vec::with_capacity(page.resources.len());
    for r in &page.resources {
        resources.push(Value::Object(full(app, ctx, r, &params.projection).await?));
    }
    Ok((page, resources))
}
