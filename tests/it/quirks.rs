//! CLIENT-QUIRKS.md over HTTP: for each numbered item, the request Microsoft Entra ID or
//! Okta really sends, the answer it needs, and the state a GET shows afterwards
//! (`patch`: items 1-10 and 19; `requests`: items 11-18; item 20, rate limiting, lives
//! with the rate limiter). `rfc` has the RFC 7644 PATCH examples, `concurrency` the
//! concurrent PATCHes. This file holds the helpers they share.

mod concurrency;
mod patch;
mod requests;
mod rfc;

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::support::{Client, Reply, group, user};

pub(crate) const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub(crate) const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

/// Creates a user and returns its id.
pub(crate) async fn new_user(c: &Client, body: &Value) -> String {
    let r = c.post("/Users", body).await;
    assert_eq!(r.status, 201, "create user: {:?}", r.body);
    r.body["id"].as_str().unwrap().to_owned()
}

/// Creates a group with these members and returns its id.
pub(crate) async fn new_group(c: &Client, name: &str, members: &[&str]) -> String {
    let r = c.post("/Groups", &group(name, members)).await;
    assert_eq!(r.status, 201, "create group: {:?}", r.body);
    r.body["id"].as_str().unwrap().to_owned()
}

/// Creates `n` users named `{prefix}{i}` and returns their ids.
pub(crate) async fn new_users(c: &Client, prefix: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        ids.push(new_user(c, &user(&format!("{prefix}{i}"))).await);
    }
    ids
}

/// A user body without emails (and so without a work email).
pub(crate) fn bare_user(name: &str) -> Value {
    json!({"schemas": [USER_SCHEMA], "userName": name})
}

/// The member ids of a group or ListResponse resource (`members` absent means none).
pub(crate) fn member_ids(resource: &Value) -> BTreeSet<String> {
    resource["members"]
        .as_array()
        .map(|m| {
            m.iter()
                .map(|m| m["value"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The members of a group, as a GET shows them.
pub(crate) async fn members_of(c: &Client, gid: &str) -> BTreeSet<String> {
    let r = c.get(&format!("/Groups/{gid}")).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    member_ids(&r.body)
}

/// A set of ids from string slices.
pub(crate) fn ids(list: &[&String]) -> BTreeSet<String> {
    list.iter().map(|s| (*s).clone()).collect()
}

/// `/Users?filter=...` (or another endpoint) with the filter URL-encoded.
pub(crate) fn filtered(endpoint: &str, filter: &str) -> String {
    format!(
        "{endpoint}?filter={}",
        form_urlencoded::byte_serialize(filter.as_bytes()).collect::<String>()
    )
}

/// Asserts a SCIM error response with this status and `scimType`.
#[track_caller]
pub(crate) fn assert_scim_error(r: &Reply, status: u16, scim_type: Option<&str>) {
    assert_eq!(r.status, status, "{:?}", r.body);
    assert_eq!(
        r.body["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:Error"]),
        "{:?}",
        r.body
    );
    assert_eq!(r.body["status"], status.to_string(), "{:?}", r.body);
    assert_eq!(
        r.body.get("scimType").and_then(Value::as_str),
        scim_type,
        "{:?}",
        r.body
    );
    assert!(
        r.body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{:?}",
        r.body
    );
}

/// The current ETag of a resource.
pub(crate) async fn etag(c: &Client, path: &str) -> String {
    c.get(path).await.header("etag").unwrap().to_owned()
}
