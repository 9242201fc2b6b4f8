//! Concurrent PATCHes of one resource lose nothing, and `patch_returns_body = false`
//! answers PATCH with 204.

use std::collections::BTreeSet;

use serde_json::json;

use super::{assert_scim_error, bare_user, members_of, new_group, new_user, new_users};
use crate::support::{Daemon, patch_op, user};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_member_adds_to_one_group_all_land() {
    let d = Daemon::start().await;
    let c = d.client();
    let u = new_users(&c, "conc-", 20).await;
    let gid = new_group(&c, "conc", &[]).await;
    let tasks: Vec<_> = u
        .iter()
        .map(|id| {
            let (c, path) = (c.clone(), format!("/Groups/{gid}"));
            let op = patch_op(json!([{"op": "Add", "path": "members", "value": [{"value": id}]}]));
            tokio::spawn(async move { c.patch(&path, &op).await })
        })
        .collect();
    for t in tasks {
        let r = t.await.unwrap();
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
    let want: BTreeSet<String> = u.iter().cloned().collect();
    assert_eq!(members_of(&c, &gid).await, want);
    // Every add bumped the version once.
    let got = c.get(&format!("/Groups/{gid}")).await;
    assert_eq!(got.header("etag"), Some("W/\"21\""));
    for id in &u {
        let groups = c.get(&format!("/Users/{id}")).await.body["groups"].clone();
        assert_eq!(groups[0]["value"], gid.as_str(), "{id}");
    }
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_attribute_patches_of_one_user_all_land() {
    let d = Daemon::start().await;
    let c = d.client();
    let uid = new_user(&c, &bare_user("conc-attrs")).await;
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let (c, path) = (c.clone(), format!("/Users/{uid}"));
            let op = patch_op(json!([{"op": "add", "path": "phoneNumbers",
                                      "value": [{"value": format!("+1 555 {i:04}"), "type": "work"}]}]));
            tokio::spawn(async move { c.patch(&path, &op).await })
        })
        .collect();
    for t in tasks {
        let r = t.await.unwrap();
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
    let got = c.get(&format!("/Users/{uid}")).await;
    let numbers: BTreeSet<String> = got.body["phoneNumbers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["value"].as_str().unwrap().to_owned())
        .collect();
    let want: BTreeSet<String> = (0..20).map(|i| format!("+1 555 {i:04}")).collect();
    assert_eq!(numbers, want);
    assert_eq!(got.header("etag"), Some("W/\"21\""));
    d.stop().await;
}

#[tokio::test]
async fn patch_returns_body_false_answers_204() {
    let d = Daemon::start_with("patch_returns_body = false").await;
    let c = d.client();
    let uid = new_user(&c, &user("nobody")).await;
    let path = format!("/Users/{uid}");
    let op = patch_op(json!([{"op": "replace", "path": "displayName", "value": "Quiet"}]));
    let r = c.patch(&path, &op).await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert_eq!(r.body, serde_json::Value::Null, "a 204 has no body");
    assert_eq!(r.header("etag"), Some("W/\"2\""));
    assert_eq!(c.get(&path).await.body["displayName"], "Quiet");
    // Groups too.
    let gid = new_group(&c, "quiet", &[]).await;
    let add = patch_op(json!([{"op": "add", "path": "members", "value": [{"value": uid}]}]));
    let r = c.patch(&format!("/Groups/{gid}"), &add).await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert_eq!(members_of(&c, &gid).await.len(), 1);
    // Errors still have their SCIM body; POST and PUT still return the resource.
    let bad = patch_op(json!([{"op": "replace", "path": "active", "value": "maybe"}]));
    assert_scim_error(&c.patch(&path, &bad).await, 400, Some("invalidValue"));
    let put = c.put(&path, &user("nobody")).await;
    assert_eq!(put.status, 200);
    assert_eq!(put.body["id"], uid.as_str());
    // The other provider keeps the default.
    let b = d.client_for("b", Some(crate::support::TOKEN_B));
    let other = b.post("/Users", &user("loud")).await;
    let r = b
        .patch(
            &format!("/Users/{}", other.body["id"].as_str().unwrap()),
            &op,
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["displayName"], "Quiet");
    d.stop().await;
}
