//! The discovery endpoints (RFC 7644 section 4), generated from the schema registry
//! and the provider's configuration, so they advertise exactly what works.

use serde_json::{Value, json};

use super::{bulk, reg};
use crate::config::ProviderConfig;
use crate::scim::{ResourceKind, ScimError};

/// Seconds a cursor is advertised to stay valid (RFC 9865 `cursorTimeout`, a minimum);
/// scimd's keyset cursors do not expire at all.
const CURSOR_TIMEOUT_SECS: u64 = 86_400;

/// `/ServiceProviderConfig`; `max_body_bytes` (`[server]`) caps the bulk payload size.
pub fn service_provider_config(
    base_url: &str,
    provider: &ProviderConfig,
    max_body_bytes: usize,
) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "documentationUri": "https://github.com/scimd/scimd#readme",
        "patch": {"supported": true},
        "bulk": {
            "supported": true,
            "maxOperations": provider.bulk.max_operations,
            "maxPayloadSize": bulk::max_payload_bytes(provider, max_body_bytes),
        },
        "filter": {"supported": true, "maxResults": provider.max_results},
        "changePassword": {"supported": false},
        "sort": {"supported": true},
        "etag": {"supported": true},
        // RFC 9865: cursors are keyset positions that never expire; index paging stays
        // the default for the clients that only know RFC 7644.
        "pagination": {
            "cursor": true,
            "index": true,
            "defaultPaginationMethod": "index",
            "defaultPageSize": provider.max_results,
            "maxPageSize": provider.max_results,
            "cursorTimeout": CURSOR_TIMEOUT_SECS,
        },
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "Bearer token",
            "description": "A per-provider bearer token (Authorization: Bearer ...)",
            "primary": true,
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{base_url}/ServiceProviderConfig"),
        }
    })
}

fn resource_type(base_url: &str, kind: ResourceKind) -> Value {
    let extensions: Vec<Value> = reg()
        .extensions(kind)
        .iter()
        .map(|s| json!({"schema": s.id, "required": false}))
        .collect();
    let mut v = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": kind.as_str(),
        "name": kind.as_str(),
        "endpoint": kind.endpoint(),
        "description": match kind {
            ResourceKind::User => "User Account",
            ResourceKind::Group => "Group",
        },
        "schema": kind.core_schema(),
        "meta": {
            "resourceType": "ResourceType",
            "location": format!("{base_url}/ResourceTypes/{}", kind.as_str()),
        }
    });
    if !extensions.is_empty() {
        v["schemaExtensions"] = Value::Array(extensions);
    }
    v
}

fn list_response(resources: Vec<Value>) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": resources.len(),
        "startIndex": 1,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

/// `/ResourceTypes`.
pub fn resource_types(base_url: &str) -> Value {
    list_response(vec![
        resource_type(base_url, ResourceKind::User),
        resource_type(base_url, ResourceKind::Group),
    ])
}

/// `/ResourceTypes/{name}`.
pub fn resource_type_by_id(base_url: &str, name: &str) -> Result<Value, ScimError> {
    [ResourceKind::User, ResourceKind::Group]
        .into_iter()
        .find(|k| k.as_str() == name)
        .map(|k| resource_type(base_url, k))
        .ok_or_else(|| {
            ScimError::not_found(format!(
                "resource type {name:?} not found; there are User and Group"
            ))
        })
}

/// `/Schemas`.
pub fn schemas(base_url: &str) -> Value {
    list_response(
        reg()
            .schemas()
            .iter()
            .map(|s| s.to_json(base_url))
            .collect(),
    )
}

/// `/Schemas/{urn}`.
pub fn schema_by_id(base_url: &str, urn: &str) -> Result<Value, ScimError> {
    reg()
        .schemas()
        .iter()
        .find(|s| s.id == urn)
        .map(|s| s.to_json(base_url))
        .ok_or_else(|| ScimError::not_found(format!("schema {urn:?} not found")))
}
