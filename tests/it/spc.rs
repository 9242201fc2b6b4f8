//! ServiceProviderConfig tells the truth: every feature it advertises as supported is
//! exercised over HTTP here (filter with its maxResults, sort, ETags, PATCH, Bulk with
//! its limits, both paginations), with the limits taken from the provider's config.

use serde_json::{Value, json};

use crate::support::{Daemon, patch_op, user};

const CONFIG: &str = "max_results = 3\nbulk = { max_operations = 2, max_payload_bytes = 4096 }";

fn names(list: &Value) -> Vec<String> {
    list["Resources"]
        .as_array()
        .expect("a list response")
        .iter()
        .map(|r| r["userName"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn every_advertised_feature_and_limit_holds() {
    let d = Daemon::start_with(CONFIG).await;
    let c = d.client();
    let spc = c.get("/ServiceProviderConfig").await;
    assert_eq!(spc.status, 200);
    let spc = spc.body;
    assert_eq!(spc["filter"], json!({"supported": true, "maxResults": 3}));
    assert_eq!(spc["sort"]["supported"], true);
    assert_eq!(spc["etag"]["supported"], true);
    assert_eq!(spc["patch"]["supported"], true);
    assert_eq!(spc["changePassword"]["supported"], false);
    assert_eq!(
        spc["bulk"],
        json!({"supported": true, "maxOperations": 2, "maxPayloadSize": 4096})
    );
    assert_eq!(spc["pagination"]["cursor"], true);
    assert_eq!(spc["pagination"]["index"], true);
    assert_eq!(spc["pagination"]["maxPageSize"], 3);

    for n in ["u1", "u2", "u3", "u4", "u5", "other"] {
        assert_eq!(c.post("/Users", &user(n)).await.status, 201);
    }

    // filter: supported, and maxResults caps a page whatever count asks for.
    let f = c
        .get("/Users?filter=userName%20sw%20%22u%22&count=10")
        .await;
    assert_eq!(f.status, 200, "{:?}", f.body);
    assert_eq!(f.body["totalResults"], 5);
    assert_eq!(f.body["itemsPerPage"], 3);
    assert_eq!(names(&f.body).len(), 3);

    // sort: descending by userName.
    let s = c
        .get("/Users?filter=userName%20sw%20%22u%22&sortBy=userName&sortOrder=descending")
        .await;
    assert_eq!(s.status, 200, "{:?}", s.body);
    assert_eq!(names(&s.body), ["u5", "u4", "u3"]);

    // pagination: index pages continue, cursor pages hand out the next cursor.
    let p = c
        .get("/Users?filter=userName%20sw%20%22u%22&sortBy=userName&startIndex=4&count=3")
        .await;
    assert_eq!(names(&p.body), ["u4", "u5"]);
    let first = c
        .get("/Users?filter=userName%20sw%20%22u%22&sortBy=userName&cursor&count=2")
        .await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    assert_eq!(names(&first.body), ["u1", "u2"]);
    let next = first.body["nextCursor"].as_str().expect("a nextCursor");
    let second = c
        .get(&format!(
            "/Users?filter=userName%20sw%20%22u%22&sortBy=userName&cursor={next}&count=2"
        ))
        .await;
    assert_eq!(names(&second.body), ["u3", "u4"]);

    // etag: a weak ETag, 304 for If-None-Match, 412 for a stale If-Match.
    let id = names_to_id(&c, "u1").await;
    let got = c.get(&format!("/Users/{id}")).await;
    let etag = got.header("etag").expect("an ETag").to_owned();
    assert!(etag.starts_with("W/\""), "{etag}");
    let not_modified = c
        .send(
            "GET",
            &format!("/Users/{id}"),
            None,
            &[("if-none-match", &etag)],
        )
        .await;
    assert_eq!(not_modified.status, 304);

    // patch: supported, and it moves the version on.
    let body = patch_op(json!([{"op": "replace", "path": "title", "value": "Eng"}]));
    let patched = c
        .send(
            "PATCH",
            &format!("/Users/{id}"),
            Some(&body),
            &[("if-match", &etag)],
        )
        .await;
    assert_eq!(patched.status, 200, "{:?}", patched.body);
    assert_eq!(patched.body["title"], "Eng");
    let stale = c
        .send(
            "PATCH",
            &format!("/Users/{id}"),
            Some(&body),
            &[("if-match", &etag)],
        )
        .await;
    assert_eq!(stale.status, 412);

    // bulk: maxOperations operations pass, one more is 413; so is a payload over the size.
    let op = |n: &str| json!({"method": "POST", "path": "/Users", "bulkId": n, "data": user(n)});
    let bulk = |ops: Value| json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": ops});
    let ok = c.post("/Bulk", &bulk(json!([op("b1"), op("b2")]))).await;
    assert_eq!(ok.status, 200, "{:?}", ok.body);
    let many = c
        .post("/Bulk", &bulk(json!([op("b3"), op("b4"), op("b5")])))
        .await;
    assert_eq!(many.status, 413);
    let mut big = user("b6");
    big["title"] = json!("x".repeat(5000));
    let large = c
        .post(
            "/Bulk",
            &bulk(json!([{"method": "POST", "path": "/Users", "bulkId": "b6", "data": big}])),
        )
        .await;
    assert_eq!(large.status, 413);
}

async fn names_to_id(c: &crate::support::Client, name: &str) -> String {
    let r = c
        .get(&format!("/Users?filter=userName%20eq%20%22{name}%22"))
        .await;
    r.body["Resources"][0]["id"]
        .as_str()
        .expect("the user exists")
        .to_owned()
}
