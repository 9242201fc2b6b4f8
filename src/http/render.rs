//! Turns stored resources into their SCIM representation: `id`, `meta` (with
//! `location` and `version`), and the computed `members` / `groups` attributes.

use serde_json::{Map, Value, json};

use crate::scim::ResourceKind;
use crate::store::{GroupRef, Member, StoredResource, format_time};

/// Where the provider's SCIM endpoint lives, e.g. `https://scim.example/scim/v2/contoso`.
pub fn location(base_url: &str, kind: ResourceKind, id: &str) -> String {
    format!("{base_url}{}/{id}", kind.endpoint())
}

/// The full representation of a resource, before projection.
pub fn resource(
    base_url: &str,
    r: &StoredResource,
    members: Option<&[Member]>,
    groups: Option<&[GroupRef]>,
) -> Map<String, Value> {
    let mut out = Map::with_capacity(r.data.len() + 4);
    out.insert("id".into(), Value::String(r.id.clone()));
    for (k, v) in &r.data {
        out.insert(k.clone(), v.clone());
    }
    if let Some(members) = members {
        let list = members
            .iter()
            .map(|m| {
                json!({
                    "value": m.id,
                    "$ref": location(base_url, m.kind, &m.id),
                    "type": m.kind.as_str(),
                    "display": m.display,
                })
            })
            .collect();
        out.insert("members".into(), Value::Array(list));
    }
    if let Some(groups) = groups
        && !groups.is_empty()
    {
        let list = groups
            .iter()
            .map(|g| {
                json!({
                    "value": g.id,
                    "$ref": location(base_url, ResourceKind::Group, &g.id),
                    "display": g.display,
                    "type": "direct",
                })
            })
            .collect();
        out.insert("groups".into(), Value::Array(list));
    }
    out.insert(
        "meta".into(),
        json!({
            "resourceType": r.kind.as_str(),
            "created": format_time(&r.created),
            "lastModified": format_time(&r.last_modified),
            "location": location(base_url, r.kind, &r.id),
            "version": r.etag(),
        }),
    );
    out
}
