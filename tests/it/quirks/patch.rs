//! CLIENT-QUIRKS items 1-10 and 19: how Entra ID and Okta PATCH users and groups.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::*;
use crate::support::{Daemon, group, patch_op, user};

#[tokio::test]
async fn quirk_01_op_names_in_any_case() {
    let d = Daemon::start().await;
    let c = d.client();
    let mut body = user("q1");
    body["title"] = json!("Engineer");
    let uid = new_user(&c, &body).await;
    let path = format!("/Users/{uid}");
    let r = c
        .patch(
            &path,
            &patch_op(json!([
                {"op": "Add", "path": "displayName", "value": "Babs"},
                {"op": "Replace", "path": "nickName", "value": "B"},
                {"op": "Remove", "path": "title"},
                {"op": "REPLACE", "path": "userType", "value": "Employee"},
            ])),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["displayName"], "Babs");
    let got = c.get(&path).await.body;
    assert_eq!(got["displayName"], "Babs");
    assert_eq!(got["nickName"], "B");
    assert_eq!(got["userType"], "Employee");
    assert!(got.get("title").is_none(), "{got}");

    // The same for membership operations on a group.
    let other = new_user(&c, &user("q1-member")).await;
    let gid = new_group(&c, "q1-group", &[]).await;
    let add = patch_op(
        json!([{"op": "Add", "path": "members", "value": [{"value": uid}, {"value": other}]}]),
    );
    assert_eq!(c.patch(&format!("/Groups/{gid}"), &add).await.status, 200);
    let remove = patch_op(json!([{"op": "Remove", "path": "members", "value": [{"value": uid}]}]));
    assert_eq!(
        c.patch(&format!("/Groups/{gid}"), &remove).await.status,
        200
    );
    assert_eq!(members_of(&c, &gid).await, ids(&[&other]));

    // An op that is not one of the three is still refused.
    let bad = patch_op(json!([{"op": "Merge", "path": "displayName", "value": "Z"}]));
    assert_scim_error(&c.patch(&path, &bad).await, 400, Some("invalidSyntax"));
    assert_eq!(c.get(&path).await.body["displayName"], "Babs");
    d.stop().await;
}

#[tokio::test]
async fn quirk_02_booleans_as_strings() {
    let d = Daemon::start().await;
    let c = d.client();
    let uid = new_user(&c, &user("q2")).await;
    let path = format!("/Users/{uid}");
    for (sent, stored) in [
        ("False", false),
        ("True", true),
        ("false", false),
        ("true", true),
    ] {
        let op = patch_op(json!([{"op": "Replace", "path": "active", "value": sent}]));
        let r = c.patch(&path, &op).await;
        assert_eq!(r.status, 200, "{sent}: {:?}", r.body);
        assert_eq!(r.body["active"], json!(stored), "{sent}");
        assert_eq!(c.get(&path).await.body["active"], json!(stored), "{sent}");
    }
    // Strings in a POST body and in a no-path value are coerced the same way.
    let mut body = user("q2-post");
    body["active"] = json!("False");
    let created = c.post("/Users", &body).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert_eq!(created.body["active"], false);
    let op = patch_op(json!([{"op": "replace", "value": {"active": "True"}}]));
    let id2 = created.body["id"].as_str().unwrap();
    assert_eq!(
        c.patch(&format!("/Users/{id2}"), &op).await.body["active"],
        true
    );
    // Not a boolean at all: 400 invalidValue, unchanged.
    let op = patch_op(json!([{"op": "Replace", "path": "active", "value": "maybe"}]));
    assert_scim_error(&c.patch(&path, &op).await, 400, Some("invalidValue"));
    assert_eq!(c.get(&path).await.body["active"], true);
    d.stop().await;
}

#[tokio::test]
async fn quirk_03_no_path_value_with_dotted_and_urn_keys() {
    let d = Daemon::start().await;
    let c = d.client();
    let uid = new_user(&c, &user("q3")).await;
    let path = format!("/Users/{uid}");
    let op = patch_op(json!([{"op": "replace", "value": {
        "displayName": "X",
        "name.givenName": "Y",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "42"
    }}]));
    let r = c.patch(&path, &op).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let got = c.get(&path).await.body;
    assert_eq!(got["displayName"], "X");
    assert_eq!(
        got["name"],
        json!({"givenName": "Y", "familyName": "Family"})
    );
    assert_eq!(got[ENTERPRISE], json!({"employeeNumber": "42"}));
    assert_eq!(got["schemas"], json!([USER_SCHEMA, ENTERPRISE]));
    assert_eq!(got["userName"], "q3");
    // A key that names nothing is refused, and nothing of the value is applied.
    let op = patch_op(json!([{"op": "replace", "value": {"displayName": "Z", "name.nope": "Y"}}]));
    assert_scim_error(&c.patch(&path, &op).await, 400, Some("invalidPath"));
    assert_eq!(c.get(&path).await.body["displayName"], "X");
    d.stop().await;
}

#[tokio::test]
async fn quirk_04_deactivation_both_ways() {
    let d = Daemon::start().await;
    let c = d.client();
    let okta = new_user(&c, &user("q4-okta")).await;
    let entra = new_user(&c, &user("q4-entra")).await;
    let r = c
        .patch(
            &format!("/Users/{okta}"),
            &patch_op(json!([{"op": "replace", "value": {"active": false}}])),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = c
        .patch(
            &format!("/Users/{entra}"),
            &patch_op(json!([{"op": "Replace", "path": "active", "value": "False"}])),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    for (id, name) in [(&okta, "q4-okta"), (&entra, "q4-entra")] {
        let got = c.get(&format!("/Users/{id}")).await.body;
        assert_eq!(got["active"], false, "{got}");
        // Nothing else changed.
        let mut want = user(name);
        want["active"] = json!(false);
        for key in ["userName", "name", "emails"] {
            assert_eq!(got[key], want[key], "{key}");
        }
    }
    // And back: reactivation with a JSON boolean on the path form.
    let r = c
        .patch(
            &format!("/Users/{entra}"),
            &patch_op(json!([{"op": "replace", "path": "active", "value": true}])),
        )
        .await;
    assert_eq!(r.body["active"], true);
    assert_eq!(c.get(&format!("/Users/{entra}")).await.body["active"], true);
    d.stop().await;
}

#[tokio::test]
async fn quirk_05_filtered_path_upserts() {
    let d = Daemon::start().await;
    let c = d.client();
    for op in ["Replace", "add"] {
        let mut body = bare_user(&format!("q5-{op}"));
        body["emails"] = json!([{"type": "home", "value": "home@example.org"}]);
        let uid = new_user(&c, &body).await;
        let path = format!("/Users/{uid}");
        let set = |v: &str| {
            patch_op(json!([{"op": op, "path": "emails[type eq \"work\"].value", "value": v}]))
        };
        let r = c.patch(&path, &set("a@b")).await;
        assert_eq!(r.status, 200, "{op}: {:?}", r.body);
        assert_eq!(
            c.get(&path).await.body["emails"],
            json!([
                {"type": "home", "value": "home@example.org"},
                {"type": "work", "value": "a@b"}
            ]),
            "{op}"
        );
        // Once it exists, the same operation updates it in place: no second work email.
        assert_eq!(c.patch(&path, &set("c@d")).await.status, 200);
        assert_eq!(
            c.get(&path).await.body["emails"],
            json!([
                {"type": "home", "value": "home@example.org"},
                {"type": "work", "value": "c@d"}
            ]),
            "{op}"
        );
    }
    // A user with no emails at all, and another multi-valued attribute.
    let uid = new_user(&c, &bare_user("q5-none")).await;
    let op = patch_op(json!([
        {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "w@x"},
        {"op": "Add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 555"},
    ]));
    assert_eq!(c.patch(&format!("/Users/{uid}"), &op).await.status, 200);
    let got = c.get(&format!("/Users/{uid}")).await.body;
    assert_eq!(got["emails"], json!([{"type": "work", "value": "w@x"}]));
    assert_eq!(
        got["phoneNumbers"],
        json!([{"type": "mobile", "value": "+1 555"}])
    );
    d.stop().await;
}

#[tokio::test]
async fn quirk_06_member_removal_both_forms() {
    let d = Daemon::start().await;
    let c = d.client();
    let u = new_users(&c, "q6-", 3).await;
    let gid = new_group(&c, "q6", &[&u[0], &u[1], &u[2]]).await;
    let path = format!("/Groups/{gid}");
    let r = c
        .patch(
            &path,
            &patch_op(json!([{"op": "Remove", "path": "members", "value": [{"value": u[0]}]}])),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(member_ids(&r.body), ids(&[&u[1], &u[2]]));
    assert_eq!(members_of(&c, &gid).await, ids(&[&u[1], &u[2]]));
    let filter_path = format!("members[value eq \"{}\"]", u[1]);
    let r = c
        .patch(
            &path,
            &patch_op(json!([{"op": "remove", "path": filter_path}])),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(members_of(&c, &gid).await, ids(&[&u[2]]));
    // The removed users no longer list the group; the remaining one does.
    assert!(
        c.get(&format!("/Users/{}", u[0]))
            .await
            .body
            .get("groups")
            .is_none()
    );
    assert!(
        c.get(&format!("/Users/{}", u[1]))
            .await
            .body
            .get("groups")
            .is_none()
    );
    assert_eq!(
        c.get(&format!("/Users/{}", u[2])).await.body["groups"][0]["value"],
        gid.as_str()
    );
    // An empty list removes nobody (only a remove without a value empties the group).
    let r = c
        .patch(
            &path,
            &patch_op(json!([{"op": "Remove", "path": "members", "value": []}])),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(members_of(&c, &gid).await, ids(&[&u[2]]));
    // Removing someone who is not a member is a no-op, not an error.
    let r = c
        .patch(
            &path,
            &patch_op(json!([{"op": "Remove", "path": "members", "value": [{"value": u[0]}]}])),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(members_of(&c, &gid).await, ids(&[&u[2]]));
    d.stop().await;
}

#[tokio::test]
async fn quirk_07_member_add_is_idempotent() {
    let d = Daemon::start().await;
    let c = d.client();
    let u = new_users(&c, "q7-", 2).await;
    let gid = new_group(&c, "q7", &[&u[0]]).await;
    let path = format!("/Groups/{gid}");
    let add = patch_op(
        json!([{"op": "Add", "path": "members", "value": [{"value": u[0]}, {"value": u[1]}]}]),
    );
    let r = c.patch(&path, &add).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        r.body["members"].as_array().unwrap().len(),
        2,
        "{:?}",
        r.body
    );
    assert_eq!(members_of(&c, &gid).await, ids(&[&u[0], &u[1]]));
    // Sent again (a retry): 200, still two members, and the version does not move.
    let before = etag(&c, &path).await;
    let r = c.patch(&path, &add).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        r.body["members"].as_array().unwrap().len(),
        2,
        "{:?}",
        r.body
    );
    assert_eq!(etag(&c, &path).await, before);
    // The same member twice in one request is one member.
    let twice = patch_op(json!([
        {"op": "Add", "path": "members", "value": [{"value": u[1]}, {"value": u[1]}]},
        {"op": "Add", "path": "members", "value": [{"value": u[1]}]},
    ]));
    assert_eq!(c.patch(&path, &twice).await.status, 200);
    let got = c.get(&path).await.body;
    assert_eq!(got["members"].as_array().unwrap().len(), 2, "{got}");
    d.stop().await;
}

#[tokio::test]
async fn quirk_08_remove_by_filter_and_add_in_one_patch() {
    let d = Daemon::start().await;
    let c = d.client();
    let u = new_users(&c, "q8-", 4).await;
    let gid = new_group(&c, "q8", &[&u[0], &u[1]]).await;
    let path = format!("/Groups/{gid}");
    let mixed = patch_op(json!([
        {"op": "Remove", "path": format!("members[value eq \"{}\"]", u[0])},
        {"op": "Add", "path": "members", "value": [{"value": u[2]}]},
    ]));
    let r = c.patch(&path, &mixed).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(members_of(&c, &gid).await, ids(&[&u[1], &u[2]]));

    // In order: add then remove the same member leaves it out; remove then add keeps it.
    let add_then_remove = patch_op(json!([
        {"op": "Add", "path": "members", "value": [{"value": u[3]}]},
        {"op": "Remove", "path": format!("members[value eq \"{}\"]", u[3])},
    ]));
    assert_eq!(c.patch(&path, &add_then_remove).await.status, 200);
    assert_eq!(members_of(&c, &gid).await, ids(&[&u[1], &u[2]]));
    let remove_then_add = patch_op(json!([
        {"op": "Remove", "path": format!("members[value eq \"{}\"]", u[1])},
        {"op": "Add", "path": "members", "value": [{"value": u[1]}]},
    ]));
    assert_eq!(c.patch(&path, &remove_then_add).await.status, 200);
    assert_eq!(members_of(&c, &gid).await, ids(&[&u[1], &u[2]]));

    // All or nothing: a failing later operation undoes the earlier removal and rename.
    let before = etag(&c, &path).await;
    let failing = patch_op(json!([
        {"op": "Remove", "path": format!("members[value eq \"{}\"]", u[1])},
        {"op": "Replace", "path": "displayName", "value": "q8-renamed"},
        {"op": "Add", "path": "members", "value": [{"value": "no-such-user"}]},
    ]));
    let r = c.patch(&path, &failing).await;
    assert_scim_error(&r, 400, Some("invalidValue"));
    let got = c.get(&path).await;
    assert_eq!(member_ids(&got.body), ids(&[&u[1], &u[2]]));
    assert_eq!(got.body["displayName"], "q8");
    assert_eq!(got.header("etag").unwrap(), before);
    d.stop().await;
}

#[tokio::test]
async fn quirk_09_full_membership_replace() {
    let d = Daemon::start().await;
    let c = d.client();
    let u = new_users(&c, "q9-", 3).await;
    let gid = new_group(&c, "q9", &[&u[0], &u[1]]).await;
    let path = format!("/Groups/{gid}");
    let replace = |members: &[&String]| {
        let list: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
        patch_op(json!([{"op": "replace", "path": "members", "value": list}]))
    };
    let r = c.patch(&path, &replace(&[&u[1], &u[2]])).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(member_ids(&r.body), ids(&[&u[1], &u[2]]));
    assert_eq!(members_of(&c, &gid).await, ids(&[&u[1], &u[2]]));
    assert!(
        c.get(&format!("/Users/{}", u[0]))
            .await
            .body
            .get("groups")
            .is_none()
    );

    let r = c.patch(&path, &replace(&[])).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(members_of(&c, &gid).await, BTreeSet::new());
    for id in &u {
        assert!(
            c.get(&format!("/Users/{id}"))
                .await
                .body
                .get("groups")
                .is_none()
        );
    }
    // The group itself is still there, under its name.
    let got = c.get(&path).await.body;
    assert_eq!(got["displayName"], "q9");
    d.stop().await;
}

#[tokio::test]
async fn quirk_10_group_rename_with_unchanged_id() {
    let d = Daemon::start().await;
    let c = d.client();
    let u = new_users(&c, "q10-", 1).await;
    let gid = new_group(&c, "q10", &[&u[0]]).await;
    let path = format!("/Groups/{gid}");
    let op = patch_op(json!([{"op": "replace", "value": {"id": gid, "displayName": "New"}}]));
    let r = c.patch(&path, &op).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["id"], gid.as_str());
    let got = c.get(&path).await.body;
    assert_eq!(got["displayName"], "New");
    assert_eq!(member_ids(&got), ids(&[&u[0]]));
    assert_eq!(
        c.get(&format!("/Users/{}", u[0])).await.body["groups"][0]["display"],
        "New"
    );
    // A different id is a mutability error, and the rename with it does not happen.
    let op =
        patch_op(json!([{"op": "replace", "value": {"id": "other-id", "displayName": "Newer"}}]));
    assert_scim_error(&c.patch(&path, &op).await, 400, Some("mutability"));
    assert_eq!(c.get(&path).await.body["displayName"], "New");
    d.stop().await;
}

/// CLIENT-QUIRKS 19: scimd rejects the whole PATCH (400 invalidValue naming every unknown
/// id) rather than applying part of it; the valid members are not added either.
#[tokio::test]
async fn quirk_19_unknown_member_rejects_the_whole_patch() {
    let d = Daemon::start().await;
    let c = d.client();
    let u = new_users(&c, "q19-", 4).await;
    let gid = new_group(&c, "q19", &[&u[0]]).await;
    let path = format!("/Groups/{gid}");
    let before = etag(&c, &path).await;
    let add = patch_op(json!([{"op": "Add", "path": "members", "value": [
        {"value": u[1]},
        {"value": "unknown-id-1"},
        {"value": u[2]},
        {"value": "unknown-id-2"},
    ]}]));
    let r = c.patch(&path, &add).await;
    assert_scim_error(&r, 400, Some("invalidValue"));
    let detail = r.body["detail"].as_str().unwrap();
    assert!(detail.contains("unknown-id-1"), "{detail}");
    assert!(detail.contains("unknown-id-2"), "{detail}");
    assert!(
        !detail.contains(&u[1]),
        "a valid id is named as unknown: {detail}"
    );
    assert_eq!(members_of(&c, &gid).await, ids(&[&u[0]]));
    assert_eq!(etag(&c, &path).await, before);
    for id in &u[1..3] {
        assert!(
            c.get(&format!("/Users/{id}"))
                .await
                .body
                .get("groups")
                .is_none()
        );
    }
    // The same for a full replace, and for an unknown id after valid operations.
    let replace = patch_op(json!([{"op": "replace", "path": "members", "value": [
        {"value": u[3]}, {"value": "unknown-id-3"}
    ]}]));
    let r = c.patch(&path, &replace).await;
    assert_scim_error(&r, 400, Some("invalidValue"));
    assert!(r.body["detail"].as_str().unwrap().contains("unknown-id-3"));
    let later = patch_op(json!([
        {"op": "add", "path": "members", "value": [{"value": u[3]}]},
        {"op": "add", "path": "members", "value": [{"value": "unknown-id-4"}]},
    ]));
    let r = c.patch(&path, &later).await;
    assert_scim_error(&r, 400, Some("invalidValue"));
    assert_eq!(members_of(&c, &gid).await, ids(&[&u[0]]));
    // A POST with an unknown member creates nothing.
    let r = c
        .post("/Groups", &group("q19-new", &[&u[1], "unknown-id-5"]))
        .await;
    assert_scim_error(&r, 400, Some("invalidValue"));
    assert_eq!(c.get("/Groups").await.body["totalResults"], 1);
    // The client can then send the valid ones alone.
    let valid = patch_op(
        json!([{"op": "Add", "path": "members", "value": [{"value": u[1]}, {"value": u[2]}]}]),
    );
    assert_eq!(c.patch(&path, &valid).await.status, 200);
    assert_eq!(members_of(&c, &gid).await, ids(&[&u[0], &u[1], &u[2]]));
    d.stop().await;
}
