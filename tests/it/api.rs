//! The SCIM API over HTTP: CRUD, discovery, isolation between providers, and the
//! errors bad input gets (each leaving the state unchanged).

use serde_json::{Value, json};

use crate::support::{Daemon, TOKEN, TOKEN_B, group, patch_op, user};

#[tokio::test]
async fn user_lifecycle_create_get_replace_patch_delete() {
    let d = Daemon::start().await;
    let c = d.client();
    let created = c.post("/Users", &user("bjensen")).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert_eq!(
        created.header("content-type"),
        Some("application/scim+json")
    );
    let id = created.body["id"].as_str().unwrap().to_owned();
    let location = created.header("location").unwrap().to_owned();
    assert_eq!(location, created.body["meta"]["location"].as_str().unwrap());
    assert!(location.ends_with(&format!("/scim/v2/a/Users/{id}")));
    assert_eq!(created.header("etag"), Some("W/\"1\""));
    assert_eq!(created.body["meta"]["version"], "W/\"1\"");
    assert_eq!(created.body["meta"]["resourceType"], "User");

    let got = c.get(&format!("/Users/{id}")).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body["userName"], "bjensen");
    assert_eq!(got.body["emails"][0]["value"], "bjensen@example.com");

    let mut replacement = user("bjensen");
    replacement["displayName"] = json!("Barbara Jensen");
    replacement["id"] = json!(id);
    replacement["meta"] = json!({"resourceType": "User"});
    let put = c.put(&format!("/Users/{id}"), &replacement).await;
    assert_eq!(put.status, 200, "{:?}", put.body);
    assert_eq!(put.body["displayName"], "Barbara Jensen");
    assert_eq!(put.header("etag"), Some("W/\"2\""));

    let patched = c
        .patch(
            &format!("/Users/{id}"),
            &patch_op(json!([{"op": "replace", "path": "active", "value": false}])),
        )
        .await;
    assert_eq!(patched.status, 200, "{:?}", patched.body);
    assert_eq!(patched.body["active"], false);
    assert_eq!(c.get(&format!("/Users/{id}")).await.body["active"], false);

    assert_eq!(c.delete(&format!("/Users/{id}")).await.status, 204);
    let gone = c.get(&format!("/Users/{id}")).await;
    assert_eq!(gone.status, 404);
    assert_eq!(
        gone.body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );
    assert_eq!(gone.body["status"], "404");
    assert_eq!(c.delete(&format!("/Users/{id}")).await.status, 404);
    d.stop().await;
}

#[tokio::test]
async fn password_is_accepted_but_never_returned_or_stored() {
    let d = Daemon::start().await;
    let c = d.client();
    let mut body = user("pw");
    body["password"] = json!("s3cret-Passw0rd");
    let created = c.post("/Users", &body).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert!(created.body.get("password").is_none());
    let id = created.body["id"].as_str().unwrap();
    assert!(
        c.get(&format!("/Users/{id}?attributes=password"))
            .await
            .body
            .get("password")
            .is_none()
    );
    let dir = d.stop().await;
    let db = std::fs::read(dir.path().join("state.db")).unwrap();
    let wal = std::fs::read(dir.path().join("state.db-wal")).unwrap_or_default();
    let needle = b"s3cret-Passw0rd";
    assert!(
        !db.windows(needle.len()).any(|w| w == needle),
        "password found in the state file"
    );
    assert!(
        !wal.windows(needle.len()).any(|w| w == needle),
        "password found in the WAL"
    );
}

#[tokio::test]
async fn uniqueness_of_user_name_is_case_insensitive_and_409() {
    let d = Daemon::start().await;
    let c = d.client();
    assert_eq!(c.post("/Users", &user("Alice")).await.status, 201);
    let dup = c.post("/Users", &user("alice")).await;
    assert_eq!(dup.status, 409);
    assert_eq!(dup.body["scimType"], "uniqueness");
    // Renaming another user onto a taken name is 409 too, never 500.
    let bob = c.post("/Users", &user("bob")).await;
    let id = bob.body["id"].as_str().unwrap();
    let clash = c
        .patch(
            &format!("/Users/{id}"),
            &patch_op(json!([{"op": "replace", "path": "userName", "value": "ALICE"}])),
        )
        .await;
    assert_eq!(clash.status, 409, "{:?}", clash.body);
    assert_eq!(c.get(&format!("/Users/{id}")).await.body["userName"], "bob");
    // Group displayName is unique per provider.
    assert_eq!(c.post("/Groups", &group("Admins", &[])).await.status, 201);
    assert_eq!(c.post("/Groups", &group("admins", &[])).await.status, 409);
    // ... but the same names are free in another provider.
    let other = d.client_for("b", Some(TOKEN_B));
    assert_eq!(other.post("/Users", &user("alice")).await.status, 201);
    d.stop().await;
}

#[tokio::test]
async fn providers_are_isolated() {
    let d = Daemon::start().await;
    let a = d.client();
    let b = d.client_for("b", Some(TOKEN_B));
    let id = a.post("/Users", &user("only-in-a")).await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Token of A on B, token of B on A, no token, unknown provider: all the same 401.
    let cross = d.client_for("b", Some(TOKEN));
    let unknown = d.client_for("nope", Some(TOKEN));
    let anonymous = d.client_for("a", None);
    for c in [&cross, &unknown, &anonymous] {
        let r = c.get("/Users").await;
        assert_eq!(r.status, 401);
        assert!(r.header("www-authenticate").unwrap().starts_with("Bearer"));
        assert_eq!(
            r.body["detail"],
            "missing or invalid bearer token for this endpoint"
        );
    }
    // The id of A under B: 404 on every verb; nothing changes in A.
    assert_eq!(b.get(&format!("/Users/{id}")).await.status, 404);
    assert_eq!(b.put(&format!("/Users/{id}"), &user("x")).await.status, 404);
    let p = patch_op(json!([{"op": "replace", "path": "active", "value": false}]));
    assert_eq!(b.patch(&format!("/Users/{id}"), &p).await.status, 404);
    assert_eq!(b.delete(&format!("/Users/{id}")).await.status, 404);
    assert_eq!(b.get("/Users").await.body["totalResults"], 0);
    // B cannot put A's user into its group either.
    assert_eq!(b.post("/Groups", &group("g", &[&id])).await.status, 400);
    let still = a.get(&format!("/Users/{id}")).await;
    assert_eq!(still.status, 200);
    assert_eq!(still.body["active"], true);
    d.stop().await;
}

#[tokio::test]
async fn bad_input_gets_scim_errors_and_changes_nothing() {
    let d = Daemon::start_with("").await;
    let c = d.client();
    // (body, content type, expected status, expected scimType)
    type Case = (Vec<u8>, Option<&'static str>, u16, Option<&'static str>);
    let cases: Vec<Case> = vec![
        (b"{not json".to_vec(), Some("application/scim+json"), 400, Some("invalidSyntax")),
        (b"".to_vec(), Some("application/scim+json"), 400, Some("invalidSyntax")),
        (br#"{"userName":"x"}"#.to_vec(), Some("application/scim+json"), 400, Some("invalidSyntax")),
        (
            br#"{"schemas":["urn:example:unknown"],"userName":"x"}"#.to_vec(),
            Some("application/json"),
            400,
            Some("invalidSyntax"),
        ),
        (
            br#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"x","active":"maybe"}"#.to_vec(),
            Some("application/scim+json; charset=utf-8"),
            400,
            None,
        ),
        (
            br#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":{"a":1}}"#.to_vec(),
            Some("application/scim+json"),
            400,
            None,
        ),
        (
            br#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"x"}"#.to_vec(),
            Some("text/plain"),
            415,
            None,
        ),
        (
            br#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"displayName":"no userName"}"#.to_vec(),
            Some("application/scim+json"),
            400,
            None,
        ),
    ];
    for (body, ct, status, scim_type) in cases {
        let shown = String::from_utf8_lossy(&body).into_owned();
        let r = c.send_raw("POST", "/Users", body, ct, &[]).await;
        assert_eq!(r.status, status, "{shown}: {:?}", r.body);
        assert_eq!(
            r.body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error",
            "{shown}"
        );
        assert_eq!(r.body["status"], status.to_string());
        assert!(r.body["detail"].as_str().is_some_and(|d| !d.is_empty()));
        if let Some(t) = scim_type {
            assert_eq!(r.body["scimType"], t, "{shown}");
        }
    }
    // Oversized: 413, by Content-Length and by streamed size.
    let mut big = user("big");
    big["displayName"] = Value::String("x".repeat(2 * 1024 * 1024));
    let r = c.post("/Users", &big).await;
    assert_eq!(r.status, 413);
    assert_eq!(r.body["status"], "413");
    assert_eq!(
        c.get("/Users").await.body["totalResults"],
        0,
        "a rejected request created something"
    );
    d.stop().await;
}

#[tokio::test]
async fn discovery_is_served_from_the_registry_and_read_only() {
    let d = Daemon::start().await;
    let c = d.client();
    let spc = c.get("/ServiceProviderConfig").await;
    assert_eq!(spc.status, 200);
    assert_eq!(spc.body["patch"]["supported"], true);
    assert_eq!(spc.body["etag"]["supported"], true);
    let types = c.get("/ResourceTypes").await;
    assert_eq!(types.body["totalResults"], 2);
    let user_type = c.get("/ResourceTypes/User").await;
    assert_eq!(
        user_type.body["schemaExtensions"][0]["schema"],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    );
    let schemas = c.get("/Schemas").await;
    assert_eq!(schemas.body["totalResults"], 3);
    let core = c
        .get("/Schemas/urn:ietf:params:scim:schemas:core:2.0:User")
        .await;
    assert_eq!(core.status, 200);
    let user_name = core.body["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "userName")
        .unwrap();
    assert_eq!(user_name["uniqueness"], "server");
    assert_eq!(user_name["caseExact"], false);
    assert_eq!(c.get("/Schemas/urn:nope").await.status, 404);
    for path in ["/ServiceProviderConfig", "/ResourceTypes", "/Schemas"] {
        let r = c.post(path, &json!({})).await;
        assert_eq!(r.status, 405, "{path}");
        assert_eq!(r.body["status"], "405");
    }
    let unknown = c.get("/Nope").await;
    assert_eq!(unknown.status, 404);
    assert_eq!(
        unknown.body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );
    d.stop().await;
}

#[tokio::test]
async fn health_endpoints_need_no_token_and_reveal_nothing() {
    let d = Daemon::start().await;
    let c = crate::support::Client::new(&d.base, None);
    let h = c.get("/healthz").await;
    assert_eq!(h.status, 200);
    let r = c.get("/readyz").await;
    assert_eq!(r.status, 200);
    assert_eq!(c.get("/scim/v2/a/Users").await.status, 401);
    assert_eq!(c.get("/elsewhere").await.status, 404);
    // Metrics count requests, labelled only with providers that authenticated.
    assert_eq!(d.client().get("/Users").await.status, 200);
    assert_eq!(
        c.get("/scim/v2/attacker-chosen-name/Users").await.status,
        401
    );
    let m = c.get("/metrics").await;
    assert_eq!(m.status, 200);
    assert!(m.header("content-type").unwrap().starts_with("text/plain"));
    assert!(
        m.text
            .lines()
            .any(|l| l.starts_with("scimd_http_requests_total{")
                && l.contains("provider=\"a\"")
                && l.contains("status=\"200\"")),
        "no request counter for provider a:\n{}",
        m.text
    );
    assert!(
        m.text
            .contains("scimd_http_request_duration_seconds_bucket")
    );
    assert!(
        !m.text.contains("attacker-chosen-name"),
        "a client-chosen name became a label"
    );
    d.stop().await;
}

#[tokio::test]
async fn lookups_by_filter_and_paging() {
    let d = Daemon::start().await;
    let c = d.client();
    for i in 0..25 {
        let mut u = user(&format!("user{i:02}@example.com"));
        u["externalId"] = json!(format!("ext-{i}"));
        assert_eq!(c.post("/Users", &u).await.status, 201);
    }
    let q = |f: &str| {
        format!(
            "/Users?filter={}",
            form_urlencoded::byte_serialize(f.as_bytes()).collect::<String>()
        )
    };
    let hit = c.get(&q(r#"userName eq "USER07@example.com""#)).await;
    assert_eq!(hit.status, 200);
    assert_eq!(hit.body["totalResults"], 1);
    assert_eq!(hit.body["Resources"][0]["userName"], "user07@example.com");
    let both = c
        .get(&q(
            r#"userName eq "user07@example.com" and externalId eq "ext-7""#,
        ))
        .await;
    assert_eq!(both.body["totalResults"], 1);
    let none = c
        .get(&q(
            r#"userName eq "user07@example.com" and externalId eq "ext-8""#,
        ))
        .await;
    assert_eq!(none.status, 200);
    assert_eq!(none.body["totalResults"], 0);
    assert_eq!(none.body["Resources"], json!([]));
    let bad = c.get(&q(r#"userName eq"#)).await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.body["scimType"], "invalidFilter");
    let unknown = c.get(&q(r#"noSuchAttribute eq "x""#)).await;
    assert_eq!(unknown.status, 400);
    assert_eq!(unknown.body["scimType"], "invalidFilter");

    // Pages are stable and cover everything exactly once.
    let mut seen = std::collections::BTreeSet::new();
    for start in [1, 11, 21] {
        let page = c.get(&format!("/Users?startIndex={start}&count=10")).await;
        assert_eq!(page.body["totalResults"], 25);
        assert_eq!(page.body["startIndex"], start);
        for r in page.body["Resources"].as_array().unwrap() {
            assert!(seen.insert(r["id"].as_str().unwrap().to_owned()));
        }
    }
    assert_eq!(seen.len(), 25);
    let count0 = c.get("/Users?count=0").await;
    assert_eq!(count0.body["totalResults"], 25);
    assert_eq!(count0.body["itemsPerPage"], 0);
    let projected = c
        .get(&format!(
            "{}&attributes=userName",
            q(r#"externalId eq "ext-3""#)
        ))
        .await;
    let r = &projected.body["Resources"][0];
    assert_eq!(r["userName"], "user03@example.com");
    assert!(r.get("emails").is_none());
    assert!(r.get("id").is_some(), "id is always returned");
    d.stop().await;
}

#[tokio::test]
async fn groups_with_members_and_user_groups() {
    let d = Daemon::start().await;
    let c = d.client();
    let u1 = c.post("/Users", &user("m1")).await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let u2 = c.post("/Users", &user("m2")).await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let g = c.post("/Groups", &group("Engineering", &[&u1])).await;
    assert_eq!(g.status, 201, "{:?}", g.body);
    let gid = g.body["id"].as_str().unwrap().to_owned();
    assert_eq!(g.body["members"][0]["value"], u1.as_str());
    assert_eq!(g.body["members"][0]["type"], "User");

    let add = patch_op(json!([{"op": "add", "path": "members", "value": [{"value": u2}]}]));
    let r = c.patch(&format!("/Groups/{gid}"), &add).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["members"].as_array().unwrap().len(), 2);
    let groups = c.get(&format!("/Users/{u2}")).await.body["groups"].clone();
    assert_eq!(groups[0]["value"], gid.as_str());
    assert_eq!(groups[0]["display"], "Engineering");

    let without = c
        .get(&format!("/Groups/{gid}?excludedAttributes=members"))
        .await;
    assert!(without.body.get("members").is_none());
    assert_eq!(without.body["displayName"], "Engineering");

    // A member that does not exist: 400, the group is unchanged.
    let bad =
        patch_op(json!([{"op": "add", "path": "members", "value": [{"value": "no-such-id"}]}]));
    let r = c.patch(&format!("/Groups/{gid}"), &bad).await;
    assert_eq!(r.status, 400);
    assert!(r.body["detail"].as_str().unwrap().contains("no-such-id"));
    assert_eq!(
        c.get(&format!("/Groups/{gid}")).await.body["members"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // Deleting a user removes it from its groups.
    assert_eq!(c.delete(&format!("/Users/{u1}")).await.status, 204);
    let members = c.get(&format!("/Groups/{gid}")).await.body["members"].clone();
    assert_eq!(members.as_array().unwrap().len(), 1);
    assert_eq!(members[0]["value"], u2.as_str());
    d.stop().await;
}

#[tokio::test]
async fn etags_and_preconditions() {
    let d = Daemon::start().await;
    let c = d.client();
    let id = c.post("/Users", &user("etag")).await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/Users/{id}");
    let not_modified = c
        .send("GET", &path, None, &[("if-none-match", "W/\"1\"")])
        .await;
    assert_eq!(not_modified.status, 304);
    let p = patch_op(json!([{"op": "replace", "path": "displayName", "value": "X"}]));
    let stale = c
        .send("PATCH", &path, Some(&p), &[("if-match", "W/\"7\"")])
        .await;
    assert_eq!(stale.status, 412);
    let fresh = c
        .send("PATCH", &path, Some(&p), &[("if-match", "W/\"1\"")])
        .await;
    assert_eq!(fresh.status, 200);
    let del = c
        .send("DELETE", &path, None, &[("if-match", "W/\"1\"")])
        .await;
    assert_eq!(del.status, 412);
    assert_eq!(c.get(&path).await.status, 200);
    d.stop().await;
}

#[tokio::test]
async fn journal_entry_is_written_with_every_change() {
    let d = Daemon::start().await;
    let c = d.client();
    let id = c.post("/Users", &user("j")).await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    c.patch(
        &format!("/Users/{id}"),
        &patch_op(json!([{"op": "replace", "path": "active", "value": false}])),
    )
    .await;
    c.delete(&format!("/Users/{id}")).await;
    let dir = d.stop().await;
    let store = scimd::store::Store::open(
        &scimd::store::StoreUrl::Sqlite(dir.path().join("state.db")),
        None,
        2,
    )
    .await
    .unwrap();
    let entries = store.journal("a", 0, 100).await.unwrap();
    let ops: Vec<&str> = entries.iter().map(|e| e.op.as_str()).collect();
    assert_eq!(ops, ["upsert", "upsert", "delete"]);
    assert!(entries.iter().all(|e| e.resource_id == id));
    assert_eq!(entries[1].body["data"]["active"], false);
    assert!(store.journal("b", 0, 100).await.unwrap().is_empty());
    store.close().await;
}
