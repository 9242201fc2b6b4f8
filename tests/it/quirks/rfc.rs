//! The PATCH examples of RFC 7644 section 3.5.2 over HTTP, and the rules around them:
//! one `primary` per attribute, mutability, noTarget, URN-qualified paths, and
//! operations applied in order and all or nothing.

use serde_json::{Value, json};

use super::{
    ENTERPRISE, assert_scim_error, bare_user, etag, ids, member_ids, members_of, new_group,
    new_user, new_users,
};
use crate::support::{Client, Daemon, patch_op, user};

/// Babs Jensen as the RFC examples start her: a work and a home email, a work address.
fn babs(name: &str) -> Value {
    let mut body = bare_user(name);
    body["emails"] = json!([
        {"value": "bjensen@example.com", "type": "work", "primary": true},
        {"value": "babs@jensen.org", "type": "home"},
    ]);
    body["addresses"] = json!([
        {"type": "work", "streetAddress": "100 Universal City Plaza", "locality": "Hollywood",
         "region": "CA", "postalCode": "91608", "country": "USA", "primary": true},
        {"type": "home", "streetAddress": "456 Hollywood Blvd", "locality": "Hollywood"},
    ]);
    body
}

/// PATCHes `path` and asserts 200.
async fn patch_ok(c: &Client, path: &str, ops: Value) -> Value {
    let r = c.patch(path, &patch_op(ops)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body
}

#[tokio::test]
async fn rfc_add_members() {
    let d = Daemon::start().await;
    let c = d.client();
    let u = new_users(&c, "rfc-add-", 2).await;
    let gid = new_group(&c, "Tour Guides", &[&u[0]]).await;
    let path = format!("/Groups/{gid}");
    // RFC 7644 section 3.5.2.1, with display and $ref as the example sends them.
    let body = patch_ok(
        &c,
        &path,
        json!([{"op": "add", "path": "members", "value": [{
            "display": "Babs Jensen",
            "$ref": format!("{}/scim/v2/a/Users/{}", d.base, u[1]),
            "value": u[1],
        }]}]),
    )
    .await;
    assert_eq!(member_ids(&body), ids(&[&u[0], &u[1]]));
    let got = c.get(&path).await.body;
    let added = got["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["value"] == u[1].as_str())
        .unwrap()
        .clone();
    assert_eq!(added["type"], "User");
    assert!(
        added["$ref"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/Users/{}", u[1]))
    );
    assert_eq!(got["meta"]["version"], "W/\"2\"");
    d.stop().await;
}

#[tokio::test]
async fn rfc_add_with_no_path() {
    let d = Daemon::start().await;
    let c = d.client();
    let uid = new_user(&c, &babs("rfc-nopath")).await;
    let path = format!("/Users/{uid}");
    // The RFC writes "nickname": attribute names are case-insensitive.
    patch_ok(
        &c,
        &path,
        json!([{"op": "add", "value": {
            "emails": [{"value": "babs@jensen.net", "type": "home"}],
            "nickname": "Babs"
        }}]),
    )
    .await;
    let got = c.get(&path).await.body;
    assert_eq!(got["nickName"], "Babs");
    assert_eq!(
        got["emails"],
        json!([
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"},
            {"value": "babs@jensen.net", "type": "home"},
        ])
    );
    // Adding a value that is already there does not duplicate it.
    patch_ok(
        &c,
        &path,
        json!([{"op": "add", "value": {"emails": [{"value": "babs@jensen.org", "type": "home"}]}}]),
    )
    .await;
    assert_eq!(
        c.get(&path).await.body["emails"].as_array().unwrap().len(),
        3
    );
    d.stop().await;
}

#[tokio::test]
async fn rfc_remove_members() {
    let d = Daemon::start().await;
    let c = d.client();
    let u = new_users(&c, "rfc-rm-", 3).await;
    let gid = new_group(&c, "rfc-rm", &[&u[0], &u[1], &u[2]]).await;
    let path = format!("/Groups/{gid}");
    // A single member.
    let body = patch_ok(
        &c,
        &path,
        json!([{"op": "remove", "path": format!("members[value eq \"{}\"]", u[0])}]),
    )
    .await;
    assert_eq!(member_ids(&body), ids(&[&u[1], &u[2]]));
    assert_eq!(members_of(&c, &gid).await, ids(&[&u[1], &u[2]]));
    // A filter with `or` and one on `type`.
    let filter = format!("members[value eq \"{}\" or value eq \"missing\"]", u[1]);
    patch_ok(&c, &path, json!([{"op": "remove", "path": filter}])).await;
    assert_eq!(members_of(&c, &gid).await, ids(&[&u[2]]));
    patch_ok(
        &c,
        &path,
        json!([{"op": "remove", "path": "members[type eq \"User\"]"}]),
    )
    .await;
    assert!(members_of(&c, &gid).await.is_empty());
    // All members at once.
    patch_ok(
        &c,
        &path,
        json!([{"op": "add", "path": "members", "value": [{"value": u[0]}, {"value": u[1]}]}]),
    )
    .await;
    assert_eq!(members_of(&c, &gid).await.len(), 2);
    patch_ok(&c, &path, json!([{"op": "remove", "path": "members"}])).await;
    assert!(members_of(&c, &gid).await.is_empty());
    assert_eq!(c.get(&path).await.body["displayName"], "rfc-rm");
    d.stop().await;
}

#[tokio::test]
async fn rfc_remove_then_add_replaces_members() {
    let d = Daemon::start().await;
    let c = d.client();
    let u = new_users(&c, "rfc-swap-", 3).await;
    let gid = new_group(&c, "rfc-swap", &[&u[0], &u[1]]).await;
    let path = format!("/Groups/{gid}");
    // RFC 7644 section 3.5.2.2, last example: remove all members, then add new ones.
    patch_ok(
        &c,
        &path,
        json!([
            {"op": "remove", "path": "members"},
            {"op": "add", "path": "members", "value": [
                {"display": "James Smith", "value": u[2]},
            ]},
        ]),
    )
    .await;
    assert_eq!(members_of(&c, &gid).await, ids(&[&u[2]]));
    d.stop().await;
}

#[tokio::test]
async fn rfc_remove_multi_valued_value_by_filter() {
    let d = Daemon::start().await;
    let c = d.client();
    let uid = new_user(&c, &babs("rfc-rmf")).await;
    let path = format!("/Users/{uid}");
    patch_ok(
        &c,
        &path,
        json!([{"op": "remove", "path": "emails[type eq \"work\" and value ew \"example.com\"]"}]),
    )
    .await;
    let got = c.get(&path).await.body;
    assert_eq!(
        got["emails"],
        json!([{"value": "babs@jensen.org", "type": "home"}])
    );
    // A sub-attribute of the selected values only.
    patch_ok(
        &c,
        &path,
        json!([{"op": "remove", "path": "addresses[type eq \"work\"].locality"}]),
    )
    .await;
    let got = c.get(&path).await.body;
    assert!(got["addresses"][0].get("locality").is_none(), "{got}");
    assert_eq!(
        got["addresses"][0]["streetAddress"],
        "100 Universal City Plaza"
    );
    assert_eq!(got["addresses"][1]["locality"], "Hollywood");
    // The last value gone leaves no attribute at all.
    patch_ok(
        &c,
        &path,
        json!([{"op": "remove", "path": "emails[type eq \"home\"]"}]),
    )
    .await;
    assert!(c.get(&path).await.body.get("emails").is_none());
    d.stop().await;
}

#[tokio::test]
async fn rfc_replace_members() {
    let d = Daemon::start().await;
    let c = d.client();
    let u = new_users(&c, "rfc-repm-", 4).await;
    let gid = new_group(&c, "rfc-repm", &[&u[0], &u[1]]).await;
    let path = format!("/Groups/{gid}");
    let body = patch_ok(
        &c,
        &path,
        json!([{"op": "replace", "path": "members", "value": [
            {"display": "Babs Jensen", "value": u[1]},
            {"display": "James Smith", "value": u[2], "type": "User"},
            {"value": u[3]},
        ]}]),
    )
    .await;
    assert_eq!(member_ids(&body), ids(&[&u[1], &u[2], &u[3]]));
    assert_eq!(members_of(&c, &gid).await, ids(&[&u[1], &u[2], &u[3]]));
    // A member whose "type" contradicts what it is: refused, unchanged.
    let r = c
        .patch(
            &path,
            &patch_op(json!([{"op": "replace", "path": "members", "value": [
                {"value": u[0], "type": "Group"}
            ]}])),
        )
        .await;
    assert_scim_error(&r, 400, Some("invalidValue"));
    assert_eq!(members_of(&c, &gid).await, ids(&[&u[1], &u[2], &u[3]]));
    // Groups may be members of groups.
    let inner = new_group(&c, "rfc-repm-inner", &[]).await;
    patch_ok(
        &c,
        &path,
        json!([{"op": "replace", "path": "members", "value": [{"value": inner, "type": "Group"}]}]),
    )
    .await;
    let got = c.get(&path).await.body;
    assert_eq!(
        got["members"],
        json!([{
            "value": inner,
            "$ref": format!("{}/scim/v2/a/Groups/{inner}", d.base),
            "type": "Group",
        }])
    );
    d.stop().await;
}

#[tokio::test]
async fn rfc_replace_with_filter_and_sub_attribute() {
    let d = Daemon::start().await;
    let c = d.client();
    let uid = new_user(&c, &babs("rfc-repf")).await;
    let path = format!("/Users/{uid}");
    patch_ok(
        &c,
        &path,
        json!([{"op": "replace", "path": "addresses[type eq \"work\"].streetAddress",
                "value": "1010 Broadway Ave"}]),
    )
    .await;
    let got = c.get(&path).await.body;
    assert_eq!(got["addresses"][0]["streetAddress"], "1010 Broadway Ave");
    assert_eq!(got["addresses"][0]["locality"], "Hollywood");
    assert_eq!(got["addresses"][1]["streetAddress"], "456 Hollywood Blvd");

    // The whole work address.
    patch_ok(
        &c,
        &path,
        json!([{"op": "replace", "path": "addresses[type eq \"work\"]", "value": {
            "type": "work",
            "streetAddress": "911 Universal City Plaza",
            "locality": "Hollywood",
            "region": "CA",
            "postalCode": "91608",
            "country": "US",
            "formatted": "911 Universal City Plaza\nHollywood, CA 91608 US",
            "primary": true
        }}]),
    )
    .await;
    let got = c.get(&path).await.body;
    assert_eq!(
        got["addresses"][0]["streetAddress"],
        "911 Universal City Plaza"
    );
    assert_eq!(got["addresses"][0]["country"], "US");
    assert_eq!(got["addresses"].as_array().unwrap().len(), 2);
    d.stop().await;
}

#[tokio::test]
async fn rfc_replace_on_an_and_filter() {
    let d = Daemon::start().await;
    let c = d.client();
    let uid = new_user(&c, &babs("rfc-repand")).await;
    let path = format!("/Users/{uid}");
    let target = "emails[type eq \"work\" and value ew \"example.com\"]";
    patch_ok(
        &c,
        &path,
        json!([{"op": "replace", "path": target,
                "value": {"value": "barbara@example.com", "type": "work", "primary": true}}]),
    )
    .await;
    let got = c.get(&path).await.body;
    assert_eq!(
        got["emails"],
        json!([
            {"value": "barbara@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"},
        ])
    );
    patch_ok(
        &c,
        &path,
        json!([{"op": "replace", "path": format!("{target}.value"), "value": "b2@example.com"}]),
    )
    .await;
    assert_eq!(
        c.get(&path).await.body["emails"][0]["value"],
        "b2@example.com"
    );
    // Nothing matches and `ew` cannot say what to create: noTarget, unchanged.
    let before = etag(&c, &path).await;
    let r = c
        .patch(
            &path,
            &patch_op(json!([{"op": "replace",
                "path": "emails[type eq \"work\" and value ew \"example.org\"]",
                "value": {"value": "x@example.org", "type": "work"}}])),
        )
        .await;
    assert_scim_error(&r, 400, Some("noTarget"));
    assert_eq!(etag(&c, &path).await, before);
    d.stop().await;
}

#[tokio::test]
async fn primary_is_unique_per_attribute() {
    let d = Daemon::start().await;
    let c = d.client();
    let uid = new_user(&c, &babs("primary")).await;
    let path = format!("/Users/{uid}");
    let primaries = |v: &Value, attr: &str| -> Vec<String> {
        v[attr]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["primary"] == true)
            .map(|e| e["type"].as_str().unwrap().to_owned())
            .collect()
    };
    // Setting primary on the home email clears it on the work email.
    patch_ok(
        &c,
        &path,
        json!([{"op": "replace", "path": "emails[type eq \"home\"].primary", "value": true}]),
    )
    .await;
    let got = c.get(&path).await.body;
    assert_eq!(primaries(&got, "emails"), ["home"]);
    assert_eq!(got["emails"][0]["primary"], false);
    // Adding a new primary value clears the old one.
    patch_ok(
        &c,
        &path,
        json!([{"op": "add", "path": "emails",
                "value": [{"value": "new@example.com", "type": "other", "primary": "True"}]}]),
    )
    .await;
    assert_eq!(primaries(&c.get(&path).await.body, "emails"), ["other"]);
    // The no-path form and an upserted element do the same.
    patch_ok(
        &c,
        &path,
        json!([{"op": "add", "value": {"addresses": [{"type": "other", "locality": "Paris", "primary": true}]}}]),
    )
    .await;
    assert_eq!(primaries(&c.get(&path).await.body, "addresses"), ["other"]);
    // Two primaries in one replace: the last one wins.
    patch_ok(
        &c,
        &path,
        json!([{"op": "replace", "path": "phoneNumbers", "value": [
            {"value": "1", "type": "work", "primary": true},
            {"value": "2", "type": "mobile", "primary": true},
        ]}]),
    )
    .await;
    assert_eq!(
        primaries(&c.get(&path).await.body, "phoneNumbers"),
        ["mobile"]
    );
    d.stop().await;
}

#[tokio::test]
async fn mutability_violations_are_400_mutability() {
    let d = Daemon::start().await;
    let c = d.client();
    let uid = new_user(&c, &user("mut")).await;
    let gid = new_group(&c, "mut", &[&uid]).await;
    let path = format!("/Users/{uid}");
    let before = c.get(&path).await.body;
    for ops in [
        json!([{"op": "replace", "path": "id", "value": "another-id"}]),
        json!([{"op": "replace", "value": {"id": "another-id"}}]),
        json!([{"op": "remove", "path": "id"}]),
        json!([{"op": "replace", "path": "meta", "value": {"resourceType": "Group"}}]),
        json!([{"op": "replace", "path": "meta.created", "value": "2001-01-01T00:00:00Z"}]),
        json!([{"op": "add", "path": "groups", "value": [{"value": gid}]}]),
        json!([{"op": "replace", "path": "groups", "value": []}]),
        json!([{"op": "remove", "path": "groups"}]),
        json!([{"op": "remove", "path": "userName"}]),
    ] {
        let r = c.patch(&path, &patch_op(ops.clone())).await;
        assert_scim_error(&r, 400, Some("mutability"));
        assert_eq!(c.get(&path).await.body, before, "{ops}");
    }
    // The unchanged id is ignored; so are schemas and meta echoed in a no-path value.
    patch_ok(
        &c,
        &path,
        json!([{"op": "replace", "value": {
            "id": uid, "schemas": [super::USER_SCHEMA], "meta": {"resourceType": "User"},
            "title": "kept"
        }}]),
    )
    .await;
    let got = c.get(&path).await.body;
    assert_eq!(got["title"], "kept");
    assert_eq!(got["id"], uid.as_str());
    assert_eq!(got["meta"]["resourceType"], "User");
    assert_eq!(got["groups"][0]["value"], gid.as_str());
    // A group's id is readOnly too.
    let r = c
        .patch(
            &format!("/Groups/{gid}"),
            &patch_op(json!([{"op": "replace", "path": "id", "value": "x"}])),
        )
        .await;
    assert_scim_error(&r, 400, Some("mutability"));
    d.stop().await;
}

#[tokio::test]
async fn remove_with_a_filter_matching_nothing_is_no_target() {
    let d = Daemon::start().await;
    let c = d.client();
    let uid = new_user(&c, &babs("notarget")).await;
    let path = format!("/Users/{uid}");
    let before = c.get(&path).await.body;
    for target in [
        "emails[type eq \"other\"]",
        "emails[value ew \"example.org\"]",
        "addresses[type eq \"other\"].locality",
        "phoneNumbers[type eq \"work\"]",
    ] {
        let r = c
            .patch(&path, &patch_op(json!([{"op": "remove", "path": target}])))
            .await;
        assert_scim_error(&r, 400, Some("noTarget"));
        assert_eq!(c.get(&path).await.body, before, "{target}");
    }
    // A remove without any path has no target either.
    let r = c
        .patch(
            &path,
            &patch_op(json!([{"op": "remove", "value": {"title": "x"}}])),
        )
        .await;
    assert_scim_error(&r, 400, Some("noTarget"));
    d.stop().await;
}

#[tokio::test]
async fn urn_qualified_paths() {
    let d = Daemon::start().await;
    let c = d.client();
    let manager = new_user(&c, &user("urn-manager")).await;
    let uid = new_user(&c, &user("urn")).await;
    let path = format!("/Users/{uid}");
    let body = patch_ok(
        &c,
        &path,
        json!([
            {"op": "add", "path": format!("{ENTERPRISE}:employeeNumber"), "value": "701984"},
            {"op": "replace", "path": format!("{ENTERPRISE}:manager.value"), "value": manager},
            {"op": "replace", "path": "urn:ietf:params:scim:schemas:core:2.0:User:displayName",
             "value": "Core by URN"},
        ]),
    )
    .await;
    assert_eq!(body[ENTERPRISE]["employeeNumber"], "701984");
    let got = c.get(&path).await.body;
    assert_eq!(got[ENTERPRISE]["employeeNumber"], "701984");
    assert_eq!(got[ENTERPRISE]["manager"]["value"], manager.as_str());
    assert_eq!(got["displayName"], "Core by URN");
    assert_eq!(got["schemas"], json!([super::USER_SCHEMA, ENTERPRISE]));
    // Entra sends the manager as a bare id on the complex attribute's path.
    let other = new_user(&c, &user("urn-manager-2")).await;
    patch_ok(
        &c,
        &path,
        json!([{"op": "Add", "path": format!("{ENTERPRISE}:manager"), "value": other}]),
    )
    .await;
    let got = c.get(&path).await.body;
    assert_eq!(got[ENTERPRISE]["manager"], json!({"value": other}));
    // The extension as a whole, by its URN.
    patch_ok(
        &c,
        &path,
        json!([{"op": "add", "path": ENTERPRISE, "value": {"department": "Tour Operations"}}]),
    )
    .await;
    let got = c.get(&path).await.body;
    assert_eq!(got[ENTERPRISE]["department"], "Tour Operations");
    assert_eq!(got[ENTERPRISE]["employeeNumber"], "701984");
    // Filters find the extension values.
    let r = c
        .get(&super::filtered(
            "/Users",
            &format!("{ENTERPRISE}:employeeNumber eq \"701984\""),
        ))
        .await;
    assert_eq!(r.body["totalResults"], 1, "{:?}", r.body);
    // Removing every extension attribute drops the extension from schemas.
    patch_ok(
        &c,
        &path,
        json!([
            {"op": "remove", "path": format!("{ENTERPRISE}:employeeNumber")},
            {"op": "remove", "path": format!("{ENTERPRISE}:manager")},
            {"op": "remove", "path": format!("{ENTERPRISE}:department")},
        ]),
    )
    .await;
    let got = c.get(&path).await.body;
    assert!(got.get(ENTERPRISE).is_none(), "{got}");
    assert_eq!(got["schemas"], json!([super::USER_SCHEMA]));
    // An unknown attribute of the extension is invalidPath.
    let r = c
        .patch(
            &path,
            &patch_op(
                json!([{"op": "add", "path": format!("{ENTERPRISE}:shoeSize"), "value": "9"}]),
            ),
        )
        .await;
    assert_scim_error(&r, 400, Some("invalidPath"));
    d.stop().await;
}

#[tokio::test]
async fn operations_apply_in_order_and_all_or_nothing() {
    let d = Daemon::start().await;
    let c = d.client();
    let uid = new_user(&c, &babs("atomic")).await;
    let path = format!("/Users/{uid}");
    // In order: the later of two writes wins; add then remove leaves nothing.
    patch_ok(
        &c,
        &path,
        json!([
            {"op": "replace", "path": "displayName", "value": "First"},
            {"op": "replace", "path": "displayName", "value": "Second"},
            {"op": "add", "path": "phoneNumbers", "value": [{"value": "555", "type": "work"}]},
            {"op": "remove", "path": "phoneNumbers[type eq \"work\"]"},
            {"op": "add", "path": "title", "value": "Tour Guide"},
        ]),
    )
    .await;
    let got = c.get(&path).await.body;
    assert_eq!(got["displayName"], "Second");
    assert!(got.get("phoneNumbers").is_none(), "{got}");
    assert_eq!(got["title"], "Tour Guide");

    // A later failing op leaves nothing of the earlier ones applied.
    let before = c.get(&path).await;
    for (failing, scim_type) in [
        (
            json!({"op": "replace", "path": "active", "value": "maybe"}),
            "invalidValue",
        ),
        (
            json!({"op": "remove", "path": "phoneNumbers[type eq \"work\"]"}),
            "noTarget",
        ),
        (
            json!({"op": "replace", "path": "nope", "value": "x"}),
            "invalidPath",
        ),
        (
            json!({"op": "replace", "path": "id", "value": "x"}),
            "mutability",
        ),
        (json!({"op": "move", "path": "title"}), "invalidSyntax"),
    ] {
        let ops = json!([
            {"op": "replace", "path": "displayName", "value": "Changed"},
            {"op": "add", "path": "emails", "value": [{"value": "z@example.com", "type": "other"}]},
            {"op": "remove", "path": "title"},
            {"op": "replace", "path": "active", "value": false},
            failing,
        ]);
        let r = c.patch(&path, &patch_op(ops)).await;
        assert_scim_error(&r, 400, Some(scim_type));
        assert!(
            r.body["detail"].as_str().unwrap().contains("/Operations/4"),
            "the detail does not point at the failing operation: {:?}",
            r.body
        );
        let after = c.get(&path).await;
        assert_eq!(after.body, before.body, "{scim_type}");
        assert_eq!(after.header("etag"), before.header("etag"));
    }
    d.stop().await;
}
