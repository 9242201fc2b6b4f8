//! `POST /Bulk` over HTTP (RFC 7644 section 3.7): bulkId references, every method,
//! `failOnErrors`, per-operation errors (each leaving the state as the single request
//! would), the limits, and what ServiceProviderConfig advertises.

use serde_json::{Value, json};

use crate::support::{Client, Daemon, TOKEN_B, group, patch_op, user};

const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";

fn bulk(ops: Value) -> Value {
    json!({"schemas": [BULK_REQUEST], "Operations": ops})
}

fn post_user(bulk_id: &str, user_name: &str) -> Value {
    json!({"method": "POST", "path": "/Users", "bulkId": bulk_id, "data": user(user_name)})
}

/// The resource id at the end of an operation's `location`.
fn id_of(op: &Value) -> String {
    let location = op["location"].as_str().unwrap_or_else(|| panic!("{op}"));
    location.rsplit('/').next().unwrap().to_owned()
}

async fn member_ids(c: &Client, group_id: &str) -> Vec<String> {
    let g = c.get(&format!("/Groups/{group_id}")).await;
    assert_eq!(g.status, 200, "{:?}", g.body);
    let mut ids: Vec<String> = g.body["members"]
        .as_array()
        .map(|m| {
            m.iter()
                .map(|m| m["value"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

async fn count_users(c: &Client, user_name: &str) -> u64 {
    let r = c
        .get(&format!("/Users?filter=userName%20eq%20%22{user_name}%22"))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["totalResults"].as_u64().unwrap()
}

#[tokio::test]
async fn creates_users_and_a_group_whose_members_reference_them_by_bulk_id() {
    let d = Daemon::start().await;
    let c = d.client();
    let r = c
        .post(
            "/Bulk",
            &bulk(json!([
                post_user("u1", "alice"),
                post_user("u2", "bob"),
                {"method": "POST", "path": "/Groups", "bulkId": "g",
                 "data": group("Tour Guides", &["bulkId:u1", "bulkId:u2"])},
            ])),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.header("content-type"), Some("application/scim+json"));
    assert_eq!(
        r.body["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:BulkResponse"])
    );
    let ops = r.body["Operations"].as_array().unwrap();
    assert_eq!(ops.len(), 3);
    for (op, bulk_id) in ops.iter().zip(["u1", "u2", "g"]) {
        assert_eq!(op["method"], "POST");
        assert_eq!(op["bulkId"], bulk_id);
        assert_eq!(op["status"], "201", "{op}");
        assert_eq!(op["version"], "W/\"1\"");
        assert!(op.get("response").is_none());
    }
    assert!(
        ops[0]["location"]
            .as_str()
            .unwrap()
            .contains("/scim/v2/a/Users/")
    );
    let (alice, bob, g) = (id_of(&ops[0]), id_of(&ops[1]), id_of(&ops[2]));
    assert_eq!(
        c.get(&format!("/Users/{alice}")).await.body["userName"],
        "alice"
    );
    let mut expected = vec![alice.clone(), bob];
    expected.sort();
    assert_eq!(member_ids(&c, &g).await, expected);
    let groups = c.get(&format!("/Users/{alice}")).await.body["groups"].clone();
    assert_eq!(groups[0]["value"], g.as_str());
    d.stop().await;
}

#[tokio::test]
async fn forward_references_in_data_and_path_are_resolved() {
    let d = Daemon::start().await;
    let c = d.client();
    let r = c
        .post(
            "/Bulk",
            &bulk(json!([
                {"method": "POST", "path": "/Groups", "bulkId": "g",
                 "data": group("Early", &["bulkId:late"])},
                {"method": "PATCH", "path": "/Groups/bulkId:g",
                 "data": patch_op(json!([{"op": "replace", "path": "displayName", "value": "Renamed"}]))},
                post_user("late", "carol"),
            ])),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let ops = r.body["Operations"].as_array().unwrap();
    // Results come in request order, whatever order the operations ran in.
    assert_eq!(ops[0]["bulkId"], "g");
    assert_eq!(ops[0]["status"], "201", "{:?}", ops[0]);
    assert_eq!(ops[1]["method"], "PATCH");
    assert_eq!(ops[1]["status"], "200", "{:?}", ops[1]);
    assert_eq!(ops[1]["version"], "W/\"2\"");
    assert_eq!(ops[1]["location"], ops[0]["location"]);
    assert_eq!(ops[2]["status"], "201");
    let g = id_of(&ops[0]);
    assert_eq!(member_ids(&c, &g).await, vec![id_of(&ops[2])]);
    assert_eq!(
        c.get(&format!("/Groups/{g}")).await.body["displayName"],
        "Renamed"
    );
    d.stop().await;
}

#[tokio::test]
async fn put_patch_and_delete_in_bulk() {
    let d = Daemon::start().await;
    let c = d.client();
    let dan = c.post("/Users", &user("dan")).await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let eve = c.post("/Users", &user("eve")).await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let g = c.post("/Groups", &group("Ops", &[])).await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut replacement = user("dan");
    replacement["displayName"] = json!("Dan D");
    let r = c
        .post(
            "/Bulk",
            &bulk(json!([
                {"method": "PUT", "path": format!("/Users/{dan}"), "data": replacement},
                {"method": "patch", "path": format!("/Groups/{g}"),
                 "data": patch_op(json!([{"op": "add", "path": "members", "value": [{"value": dan}]}]))},
                {"method": "DELETE", "path": format!("/Users/{eve}")},
            ])),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let ops = r.body["Operations"].as_array().unwrap();
    assert_eq!(ops[0]["method"], "PUT");
    assert_eq!(ops[0]["status"], "200", "{:?}", ops[0]);
    assert_eq!(ops[0]["version"], "W/\"2\"");
    assert!(ops[0]["location"].as_str().unwrap().ends_with(&dan));
    assert_eq!(ops[1]["method"], "PATCH");
    assert_eq!(ops[1]["status"], "200", "{:?}", ops[1]);
    assert_eq!(ops[2]["method"], "DELETE");
    assert_eq!(ops[2]["status"], "204", "{:?}", ops[2]);
    assert!(ops[2].get("version").is_none());
    assert!(ops[2]["location"].as_str().unwrap().ends_with(&eve));

    assert_eq!(
        c.get(&format!("/Users/{dan}")).await.body["displayName"],
        "Dan D"
    );
    assert_eq!(member_ids(&c, &g).await, vec![dan]);
    assert_eq!(c.get(&format!("/Users/{eve}")).await.status, 404);
    d.stop().await;
}

#[tokio::test]
async fn fail_on_errors_stops_and_later_operations_are_not_performed() {
    let d = Daemon::start().await;
    let c = d.client();
    assert_eq!(c.post("/Users", &user("taken")).await.status, 201);
    let ops = json!([
        post_user("a", "first"),
        post_user("b", "taken"),
        post_user("c", "never"),
    ]);
    let r = c
        .post(
            "/Bulk",
            &json!({"schemas": [BULK_REQUEST], "failOnErrors": 1, "Operations": ops}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let results = r.body["Operations"].as_array().unwrap();
    assert_eq!(results.len(), 2, "{results:?}");
    assert_eq!(results[0]["status"], "201");
    assert_eq!(results[1]["bulkId"], "b");
    assert_eq!(results[1]["status"], "409");
    assert_eq!(results[1]["response"]["scimType"], "uniqueness");
    assert_eq!(results[1]["response"]["status"], "409");
    assert_eq!(count_users(&c, "first").await, 1);
    assert_eq!(count_users(&c, "never").await, 0);

    // Without failOnErrors every operation runs, errors or not (section 3.7).
    let ops = json!([post_user("b", "taken"), post_user("c", "later")]);
    let r = c.post("/Bulk", &bulk(ops)).await;
    let results = r.body["Operations"].as_array().unwrap();
    assert_eq!(results[0]["status"], "409");
    assert_eq!(results[1]["status"], "201");
    assert_eq!(count_users(&c, "later").await, 1);
    d.stop().await;
}

#[tokio::test]
async fn bad_bulk_id_references_fail_only_their_operation() {
    let d = Daemon::start().await;
    let c = d.client();
    let r = c
        .post(
            "/Bulk",
            &bulk(json!([
                {"method": "POST", "path": "/Groups", "bulkId": "g1",
                 "data": group("Unknown ref", &["bulkId:nope"])},
                post_user("dup", "taken"),
                post_user("dup2", "taken"),
                {"method": "POST", "path": "/Groups", "bulkId": "g2",
                 "data": group("Failed ref", &["bulkId:dup2"])},
                {"method": "POST", "path": "/Groups", "bulkId": "x",
                 "data": group("Cycle X", &["bulkId:y"])},
                {"method": "POST", "path": "/Groups", "bulkId": "y",
                 "data": group("Cycle Y", &["bulkId:x"])},
                {"method": "DELETE", "path": "/Users/bulkId:missing"},
                post_user("fine", "fine"),
            ])),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let ops = r.body["Operations"].as_array().unwrap();
    assert_eq!(ops.len(), 8);
    let status: Vec<&str> = ops.iter().map(|o| o["status"].as_str().unwrap()).collect();
    assert_eq!(
        status,
        ["400", "201", "409", "409", "409", "409", "400", "201"]
    );
    let detail = |i: usize| ops[i]["response"]["detail"].as_str().unwrap().to_owned();
    assert_eq!(ops[0]["response"]["scimType"], "invalidValue");
    assert!(
        detail(0).contains("\"bulkId:nope\" names no operation"),
        "{}",
        detail(0)
    );
    assert!(detail(3).contains("\"bulkId:dup2\""), "{}", detail(3));
    assert!(detail(3).contains("was not performed"), "{}", detail(3));
    assert!(detail(4).contains("cycle"), "{}", detail(4));
    assert!(detail(6).contains("\"bulkId:missing\""), "{}", detail(6));
    let groups = c.get("/Groups").await;
    assert_eq!(groups.body["totalResults"], 0, "{:?}", groups.body);
    assert_eq!(count_users(&c, "fine").await, 1);
    d.stop().await;
}

#[tokio::test]
async fn version_mismatch_is_412_for_that_operation_only() {
    let d = Daemon::start().await;
    let c = d.client();
    let id = c.post("/Users", &user("ver")).await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let deactivate = patch_op(json!([{"op": "replace", "path": "active", "value": false}]));
    let r = c
        .post(
            "/Bulk",
            &bulk(json!([
                {"method": "PATCH", "path": format!("/Users/{id}"), "version": "W/\"7\"",
                 "data": deactivate},
                {"method": "DELETE", "path": format!("/Users/{id}"), "version": "W/\"9\""},
                {"method": "PATCH", "path": format!("/Users/{id}"), "version": "W/\"1\"",
                 "data": deactivate},
            ])),
        )
        .await;
    let ops = r.body["Operations"].as_array().unwrap();
    assert_eq!(ops[0]["status"], "412", "{:?}", ops[0]);
    assert_eq!(ops[0]["response"]["status"], "412");
    assert_eq!(ops[1]["status"], "412", "{:?}", ops[1]);
    assert_eq!(ops[2]["status"], "200", "{:?}", ops[2]);
    assert_eq!(ops[2]["version"], "W/\"2\"");
    let got = c.get(&format!("/Users/{id}")).await;
    assert_eq!(got.body["active"], false);
    assert_eq!(got.header("etag"), Some("W/\"2\""));
    d.stop().await;
}

#[tokio::test]
async fn ids_of_another_provider_are_404_and_untouched() {
    let d = Daemon::start().await;
    let b = d.client_for("b", Some(TOKEN_B));
    let theirs = b.post("/Users", &user("theirs")).await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let c = d.client();
    let r = c
        .post(
            "/Bulk",
            &bulk(json!([
                {"method": "PATCH", "path": format!("/Users/{theirs}"),
                 "data": patch_op(json!([{"op": "replace", "path": "active", "value": false}]))},
                {"method": "PUT", "path": format!("/Users/{theirs}"), "data": user("stolen")},
                {"method": "DELETE", "path": format!("/Users/{theirs}")},
                {"method": "POST", "path": "/Groups", "bulkId": "g",
                 "data": group("Grab", &[&theirs])},
            ])),
        )
        .await;
    let ops = r.body["Operations"].as_array().unwrap();
    let status: Vec<&str> = ops.iter().map(|o| o["status"].as_str().unwrap()).collect();
    assert_eq!(status, ["404", "404", "404", "400"], "{ops:?}");
    let still = b.get(&format!("/Users/{theirs}")).await;
    assert_eq!(still.status, 200);
    assert_eq!(still.body["userName"], "theirs");
    assert_eq!(still.body["active"], true);
    assert_eq!(c.get("/Groups").await.body["totalResults"], 0);
    d.stop().await;
}

#[tokio::test]
async fn too_many_operations_is_413_and_changes_nothing() {
    let d = Daemon::start_with("bulk = { max_operations = 2, max_payload_bytes = 4096 }").await;
    let c = d.client();
    let spc = c.get("/ServiceProviderConfig").await;
    assert_eq!(
        spc.body["bulk"],
        json!({"supported": true, "maxOperations": 2, "maxPayloadSize": 4096})
    );
    let ops = json!([
        post_user("a", "a1"),
        post_user("b", "b1"),
        post_user("c", "c1")
    ]);
    let r = c.post("/Bulk", &bulk(ops)).await;
    assert_eq!(r.status, 413, "{:?}", r.body);
    assert_eq!(r.body["status"], "413");
    let detail = r.body["detail"].as_str().unwrap();
    assert!(detail.contains("maxOperations (2)"), "{detail}");
    assert_eq!(count_users(&c, "a1").await, 0);
    let ok = c
        .post(
            "/Bulk",
            &bulk(json!([post_user("a", "a1"), post_user("b", "b1")])),
        )
        .await;
    assert_eq!(ok.status, 200);
    d.stop().await;
}

#[tokio::test]
async fn a_payload_over_max_payload_size_is_413_and_changes_nothing() {
    let d = Daemon::start_with("bulk = { max_operations = 100, max_payload_bytes = 1024 }").await;
    let c = d.client();
    let mut big = user("big");
    big["displayName"] = json!("x".repeat(1200));
    let r = c
        .post("/Bulk", &bulk(json!([post_user("a", "small"), {"method": "POST", "path": "/Users", "bulkId": "b", "data": big}])))
        .await;
    assert_eq!(r.status, 413, "{:?}", r.body);
    let detail = r.body["detail"].as_str().unwrap();
    assert!(detail.contains("maxPayloadSize (1024 bytes"), "{detail}");
    assert!(
        detail.contains("[providers.a] bulk.max_payload_bytes"),
        "{detail}"
    );
    assert_eq!(count_users(&c, "small").await, 0);
    d.stop().await;
}

#[tokio::test]
async fn advertised_payload_size_is_capped_by_the_server_body_limit() {
    // [server] max_body_bytes defaults to 1 MiB; a larger bulk limit cannot be honoured.
    let d = Daemon::start_with("bulk = { max_payload_bytes = 8388608 }").await;
    let spc = d.client().get("/ServiceProviderConfig").await;
    assert_eq!(spc.body["bulk"]["maxPayloadSize"], 1024 * 1024);
    assert_eq!(spc.body["bulk"]["maxOperations"], 1000);
    d.stop().await;
}

#[tokio::test]
async fn malformed_bulk_requests_are_400_and_other_methods_405() {
    let d = Daemon::start().await;
    let c = d.client();
    let not_json = c
        .send_raw(
            "POST",
            "/Bulk",
            b"{".to_vec(),
            Some("application/scim+json"),
            &[],
        )
        .await;
    assert_eq!(not_json.status, 400);
    assert_eq!(not_json.body["scimType"], "invalidSyntax");
    let wrong_schema = c
        .post(
            "/Bulk",
            &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": []}),
        )
        .await;
    assert_eq!(wrong_schema.status, 400);
    let no_ops = c.post("/Bulk", &json!({"schemas": [BULK_REQUEST]})).await;
    assert_eq!(no_ops.status, 400);
    assert!(
        no_ops.body["detail"]
            .as_str()
            .unwrap()
            .contains("Operations")
    );
    let bad_fail = c
        .post(
            "/Bulk",
            &json!({"schemas": [BULK_REQUEST], "failOnErrors": 0, "Operations": []}),
        )
        .await;
    assert_eq!(bad_fail.status, 400);
    assert_eq!(bad_fail.body["scimType"], "invalidValue");
    let empty = c.post("/Bulk", &bulk(json!([]))).await;
    assert_eq!(empty.status, 200);
    assert_eq!(empty.body["Operations"], json!([]));
    assert_eq!(c.get("/Bulk").await.status, 405);
    let anonymous = d
        .client_for("a", None)
        .post("/Bulk", &bulk(json!([])))
        .await;
    assert_eq!(anonymous.status, 401);
    d.stop().await;
}
