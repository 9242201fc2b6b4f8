//! CLIENT-QUIRKS items 11-18: PUT, soft delete, lookups, paging, uniqueness and media
//! types.

use serde_json::json;

use super::*;
use crate::support::{Daemon, Reply, group, patch_op, user};

#[tokio::test]
async fn quirk_11_okta_put_with_read_only_attributes() {
    let d = Daemon::start().await;
    let c = d.client();
    let created = c.post("/Users", &user("q11")).await;
    assert_eq!(created.status, 201);
    let uid = created.body["id"].as_str().unwrap().to_owned();
    let gid = new_group(&c, "q11-group", &[&uid]).await;
    let path = format!("/Users/{uid}");
    // What Okta sends: the GET representation edited, with id, meta, an empty groups list
    // and a password.
    let mut body = user("q11");
    body["id"] = json!(uid);
    body["meta"] = created.body["meta"].clone();
    body["groups"] = json!([]);
    body["password"] = json!("Okta-Passw0rd!");
    body["displayName"] = json!("Okta Person");
    body["active"] = json!(false);
    let r = c.put(&path, &body).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["active"], false);
    assert!(r.body.get("password").is_none(), "{:?}", r.body);
    let got = c.get(&path).await.body;
    assert_eq!(got["active"], false);
    assert_eq!(got["displayName"], "Okta Person");
    assert_eq!(got["id"], uid.as_str());
    assert_eq!(got["meta"]["created"], created.body["meta"]["created"]);
    assert_eq!(got["meta"]["version"], "W/\"2\"");
    assert!(got.get("password").is_none());
    // `groups: []` is read-only and ignored: the membership is untouched.
    assert_eq!(got["groups"][0]["value"], gid.as_str(), "{got}");
    assert_eq!(members_of(&c, &gid).await, ids(&[&uid]));

    // Reactivation by PUT, this time with a stale meta copy: still fine.
    body["active"] = json!(true);
    body["meta"]["version"] = json!("W/\"1\"");
    let r = c.put(&path, &body).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(c.get(&path).await.body["active"], true);

    // Okta's group PUT carries id and meta too; the listed members replace the old ones.
    let other = new_user(&c, &user("q11-other")).await;
    let gpath = format!("/Groups/{gid}");
    let mut gbody = group("q11-renamed", &[&other]);
    gbody["id"] = json!(gid);
    gbody["meta"] = json!({"resourceType": "Group"});
    let r = c.put(&gpath, &gbody).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let got = c.get(&gpath).await.body;
    assert_eq!(got["displayName"], "q11-renamed");
    assert_eq!(member_ids(&got), ids(&[&other]));
    d.stop().await;
}

#[tokio::test]
async fn quirk_12_inactive_users_stay_visible() {
    let d = Daemon::start().await;
    let c = d.client();
    let mut body = user("q12@example.com");
    body["externalId"] = json!("q12-ext");
    let uid = new_user(&c, &body).await;
    let gid = new_group(&c, "q12-group", &[&uid]).await;
    let path = format!("/Users/{uid}");
    let off = patch_op(json!([{"op": "Replace", "path": "active", "value": "False"}]));
    assert_eq!(c.patch(&path, &off).await.status, 200);

    let got = c.get(&path).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body["active"], false);
    // Soft delete keeps the memberships.
    assert_eq!(got.body["groups"][0]["value"], gid.as_str());
    assert_eq!(members_of(&c, &gid).await, ids(&[&uid]));
    for f in [
        r#"userName eq "Q12@example.com""#,
        r#"externalId eq "q12-ext""#,
        r#"active eq false"#,
        r#"userName eq "q12@example.com" and active eq false"#,
    ] {
        let r = c.get(&filtered("/Users", f)).await;
        assert_eq!(r.status, 200, "{f}: {:?}", r.body);
        assert_eq!(r.body["totalResults"], 1, "{f}: {:?}", r.body);
        assert_eq!(r.body["Resources"][0]["id"], uid.as_str(), "{f}");
        assert_eq!(r.body["Resources"][0]["active"], false, "{f}");
    }
    assert_eq!(c.get("/Users").await.body["totalResults"], 1);
    assert_eq!(
        c.get(&filtered("/Users", "active eq true")).await.body["totalResults"],
        0
    );
    // The hard delete comes later as a DELETE.
    assert_eq!(c.delete(&path).await.status, 204);
    assert_eq!(c.get(&path).await.status, 404);
    d.stop().await;
}

#[tokio::test]
async fn quirk_13_matching_lookups() {
    let d = Daemon::start().await;
    let c = d.client();
    let mut ada = user("Ada@Example.com");
    ada["externalId"] = json!("ext-Ada");
    ada["emails"] = json!([
        {"type": "work", "value": "ada.work@example.com", "primary": true},
        {"type": "home", "value": "ada@home.example"},
    ]);
    let ada = new_user(&c, &ada).await;
    let mut bob = user("bob@example.com");
    bob["externalId"] = json!("ext-bob");
    bob["emails"] = json!([{"type": "home", "value": "ada.work@example.com"}]);
    let bob = new_user(&c, &bob).await;
    let gid = new_group(&c, "Sales Team", &[]).await;
    new_group(&c, "Sales", &[]).await;

    let hits = |r: &Reply| -> Vec<String> {
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(
            r.body["schemas"],
            json!(["urn:ietf:params:scim:api:messages:2.0:ListResponse"])
        );
        let list: Vec<String> = r.body["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(r.body["totalResults"], list.len(), "{:?}", r.body);
        list
    };
    let cases: Vec<(&str, &str, Vec<&String>)> = vec![
        ("/Users", r#"userName eq "ada@example.com""#, vec![&ada]),
        ("/Users", r#"userName eq "ADA@EXAMPLE.COM""#, vec![&ada]),
        ("/Users", r#"UserName Eq "ada@example.com""#, vec![&ada]),
        ("/Users", r#"externalId eq "ext-Ada""#, vec![&ada]),
        // externalId is caseExact (RFC 7643 section 3.1).
        ("/Users", r#"externalId eq "EXT-ADA""#, vec![]),
        (
            "/Users",
            r#"emails[type eq "work"].value eq "ada.work@example.com""#,
            vec![&ada],
        ),
        (
            "/Users",
            r#"emails[type eq "work"].value eq "ADA.WORK@example.com""#,
            vec![&ada],
        ),
        (
            "/Users",
            r#"emails[type eq "work" and value eq "ada.work@example.com"]"#,
            vec![&ada],
        ),
        (
            "/Users",
            r#"emails.value eq "ada.work@example.com""#,
            vec![&ada, &bob],
        ),
        (
            "/Users",
            r#"emails[type eq "home"].value eq "ada@home.example""#,
            vec![&ada],
        ),
        (
            "/Users",
            r#"emails[type eq "work"].value eq "ada@home.example""#,
            vec![],
        ),
        (
            "/Users",
            r#"userName eq "ada@example.com" and externalId eq "ext-Ada""#,
            vec![&ada],
        ),
        (
            "/Users",
            r#"externalId eq "ext-Ada" and emails[type eq "work"].value eq "ada.work@example.com""#,
            vec![&ada],
        ),
        (
            "/Users",
            r#"userName eq "ada@example.com" and externalId eq "ext-bob""#,
            vec![],
        ),
        ("/Users", r#"userName eq "nobody@example.com""#, vec![]),
        ("/Groups", r#"displayName eq "Sales Team""#, vec![&gid]),
        ("/Groups", r#"displayName eq "sales team""#, vec![&gid]),
        ("/Groups", r#"displayName eq "Sales Tea""#, vec![]),
    ];
    for (endpoint, f, want) in cases {
        let r = c.get(&filtered(endpoint, f)).await;
        let mut got = hits(&r);
        got.sort();
        let mut want: Vec<String> = want.into_iter().cloned().collect();
        want.sort();
        assert_eq!(got, want, "{endpoint}?filter={f}");
        if want.is_empty() {
            assert_eq!(r.body["totalResults"], 0);
            assert_eq!(r.body["Resources"], json!([]), "{f}");
        }
    }
    // The same lookup through POST /.search.
    let r = c
        .post(
            "/Users/.search",
            &json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                "filter": "userName eq \"ADA@example.com\""
            }),
        )
        .await;
    assert_eq!(hits(&r), vec![ada.clone()]);

    // Malformed or unsupported: 400 invalidFilter, never an empty 200.
    for (endpoint, f) in [
        ("/Users", r#"userName eq"#),
        ("/Users", r#"userName eq "unterminated"#),
        ("/Users", r#"userName eq ada"#),
        ("/Users", r#"userName xx "a""#),
        ("/Users", r#"(userName eq "a""#),
        ("/Users", r#"userName eq "a" and"#),
        ("/Users", r#"emails[type eq "work""#),
        ("/Users", r#"emails[type eq "work"].nope eq "x""#),
        ("/Users", r#"noSuchAttribute eq "x""#),
        ("/Users", r#"employeeNumber eq "1""#),
        ("/Users", r#"name eq "x""#),
        ("/Users", r#"active gt true"#),
        ("/Users", r#"password eq "x""#),
        ("/Groups", r#"userName eq "x""#),
        ("/Groups", r#"members eq "x""#),
    ] {
        let r = c.get(&filtered(endpoint, f)).await;
        assert_eq!(r.status, 400, "{endpoint}?filter={f}: {:?}", r.body);
        assert_scim_error(&r, 400, Some("invalidFilter"));
    }
    d.stop().await;
}

#[tokio::test]
async fn quirk_13_membership_lookups_are_answered_or_refused() {
    // Clients check membership with a filter on members / groups. Either the answer is
    // right or it is 400 invalidFilter; an empty 200 would be a lie.
    let d = Daemon::start().await;
    let c = d.client();
    let uid = new_user(&c, &user("q13m")).await;
    let gid = new_group(&c, "q13m", &[&uid]).await;
    for (endpoint, f, want) in [
        ("/Groups", format!(r#"members[value eq "{uid}"]"#), &gid),
        ("/Groups", format!(r#"members.value eq "{uid}""#), &gid),
        (
            "/Groups",
            format!(r#"id eq "{gid}" and members.value eq "{uid}""#),
            &gid,
        ),
        ("/Users", format!(r#"groups.value eq "{gid}""#), &uid),
    ] {
        let r = c.get(&filtered(endpoint, &f)).await;
        if r.status == 400 {
            assert_scim_error(&r, 400, Some("invalidFilter"));
        } else {
            assert_eq!(r.status, 200, "{f}: {:?}", r.body);
            assert_eq!(
                r.body["totalResults"], 1,
                "{endpoint}?filter={f}: {:?}",
                r.body
            );
            assert_eq!(r.body["Resources"][0]["id"], want.as_str(), "{f}");
        }
    }
    d.stop().await;
}

#[tokio::test]
async fn quirk_14_groups_read_without_members_and_unique_names() {
    let d = Daemon::start().await;
    let c = d.client();
    let u = new_users(&c, "q14-", 2).await;
    let gid = new_group(&c, "Q14 Admins", &[&u[0], &u[1]]).await;
    let by_id = c
        .get(&format!("/Groups/{gid}?excludedAttributes=members"))
        .await;
    assert_eq!(by_id.status, 200);
    assert!(by_id.body.get("members").is_none(), "{:?}", by_id.body);
    assert_eq!(by_id.body["id"], gid.as_str());
    assert_eq!(by_id.body["displayName"], "Q14 Admins");
    assert_eq!(by_id.body["meta"]["resourceType"], "Group");
    let listed = c
        .get(&format!(
            "{}&excludedAttributes=members",
            filtered("/Groups", r#"displayName eq "Q14 Admins""#)
        ))
        .await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.body["totalResults"], 1);
    let item = &listed.body["Resources"][0];
    assert_eq!(item["id"], gid.as_str());
    assert!(item.get("members").is_none(), "{item}");
    let all = c.get("/Groups?excludedAttributes=members").await;
    assert_eq!(all.body["totalResults"], 1);
    assert!(all.body["Resources"][0].get("members").is_none());
    // Without the parameter the members are there.
    assert_eq!(members_of(&c, &gid).await, ids(&[&u[0], &u[1]]));

    // displayName is unique per provider (case-insensitively), on create and on rename.
    let dup = c.post("/Groups", &group("q14 admins", &[])).await;
    assert_scim_error(&dup, 409, Some("uniqueness"));
    let other = new_group(&c, "Q14 Users", &[]).await;
    let rename = patch_op(json!([{"op": "replace", "path": "displayName", "value": "Q14 ADMINS"}]));
    assert_scim_error(
        &c.patch(&format!("/Groups/{other}"), &rename).await,
        409,
        Some("uniqueness"),
    );
    let put = c
        .put(&format!("/Groups/{other}"), &group("Q14 Admins", &[]))
        .await;
    assert_scim_error(&put, 409, Some("uniqueness"));
    assert_eq!(
        c.get(&format!("/Groups/{other}")).await.body["displayName"],
        "Q14 Users"
    );
    assert_eq!(c.get("/Groups").await.body["totalResults"], 2);
    d.stop().await;
}

#[tokio::test]
async fn quirk_15_paging_probes() {
    let d = Daemon::start().await;
    let c = d.client();
    let created = new_users(&c, "q15-", 7).await;

    let probe = c.get("/Users?startIndex=1&count=1").await;
    assert_eq!(probe.status, 200);
    assert_eq!(probe.body["totalResults"], json!(7));
    assert_eq!(probe.body["startIndex"], json!(1));
    assert_eq!(probe.body["itemsPerPage"], json!(1));
    assert_eq!(probe.body["Resources"].as_array().unwrap().len(), 1);
    for key in ["totalResults", "startIndex", "itemsPerPage"] {
        assert!(
            probe.body[key].is_u64(),
            "{key} is not an integer: {:?}",
            probe.body
        );
    }

    let zero = c.get("/Users?count=0").await;
    assert_eq!(zero.status, 200);
    assert_eq!(zero.body["totalResults"], json!(7));
    assert_eq!(zero.body["itemsPerPage"], json!(0));
    assert!(
        zero.body
            .get("Resources")
            .is_none_or(|r| r.as_array().is_some_and(Vec::is_empty)),
        "{:?}",
        zero.body
    );
    // count=0 with a filter still counts.
    let zero_filtered = c
        .get(&format!(
            "{}&count=0",
            filtered("/Users", r#"userName sw "q15-""#)
        ))
        .await;
    assert_eq!(zero_filtered.body["totalResults"], json!(7));

    // An import with count=100 sees everything; smaller pages see the same order.
    let whole = c.get("/Users?startIndex=1&count=100").await;
    assert_eq!(whole.body["itemsPerPage"], json!(7));
    let order: Vec<String> = whole.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    let mut sorted_created = created.clone();
    sorted_created.sort();
    let mut sorted_order = order.clone();
    sorted_order.sort();
    assert_eq!(sorted_order, sorted_created);
    let mut paged = Vec::new();
    for start in (1..=7).step_by(3) {
        let page = c.get(&format!("/Users?startIndex={start}&count=3")).await;
        assert_eq!(page.body["startIndex"], json!(start));
        assert_eq!(page.body["totalResults"], json!(7));
        for r in page.body["Resources"].as_array().unwrap() {
            paged.push(r["id"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(
        paged, order,
        "pages are not a stable split of the full list"
    );
    // The same pages asked again answer the same.
    let again = c.get("/Users?startIndex=4&count=3").await;
    let again: Vec<&str> = again.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        again,
        order[3..6].iter().map(String::as_str).collect::<Vec<_>>()
    );
    // Past the end: an empty page with the right total.
    let past = c.get("/Users?startIndex=50&count=10").await;
    assert_eq!(past.status, 200);
    assert_eq!(past.body["totalResults"], json!(7));
    assert_eq!(past.body["itemsPerPage"], json!(0));
    d.stop().await;
}

#[tokio::test]
async fn quirk_16_user_name_change_to_an_existing_one_is_409() {
    let d = Daemon::start().await;
    let c = d.client();
    new_user(&c, &user("q16-taken")).await;
    let mut body = user("q16-mine");
    body["externalId"] = json!("q16-ext-mine");
    let mine = new_user(&c, &body).await;
    let mut other = user("q16-other");
    other["externalId"] = json!("q16-ext-other");
    new_user(&c, &other).await;
    let path = format!("/Users/{mine}");
    let before = etag(&c, &path).await;
    for op in [
        json!([{"op": "replace", "path": "userName", "value": "Q16-TAKEN"}]),
        json!([{"op": "Replace", "value": {"userName": "q16-taken"}}]),
        json!([{"op": "replace", "path": "externalId", "value": "q16-ext-other"}]),
    ] {
        let r = c.patch(&path, &patch_op(op)).await;
        assert_scim_error(&r, 409, Some("uniqueness"));
    }
    let r = c.put(&path, &user("q16-taken")).await;
    assert_scim_error(&r, 409, Some("uniqueness"));
    let got = c.get(&path).await;
    assert_eq!(got.body["userName"], "q16-mine");
    assert_eq!(got.body["externalId"], "q16-ext-mine");
    assert_eq!(got.header("etag").unwrap(), before);
    // A change of case of one's own name is not a conflict.
    let op = patch_op(json!([{"op": "replace", "path": "userName", "value": "Q16-Mine"}]));
    assert_eq!(c.patch(&path, &op).await.status, 200);
    assert_eq!(c.get(&path).await.body["userName"], "Q16-Mine");
    d.stop().await;
}

#[tokio::test]
async fn quirk_17_retried_create_is_409_uniqueness() {
    let d = Daemon::start().await;
    let c = d.client();
    let mut body = user("q17@example.com");
    body["externalId"] = json!("q17-ext");
    let id = new_user(&c, &body).await;
    // The same POST again (the first answer was lost to a timeout).
    assert_scim_error(&c.post("/Users", &body).await, 409, Some("uniqueness"));
    // The same externalId under another userName.
    let mut same_ext = user("q17-renamed@example.com");
    same_ext["externalId"] = json!("q17-ext");
    assert_scim_error(&c.post("/Users", &same_ext).await, 409, Some("uniqueness"));
    // The same userName in another case, with no externalId.
    assert_scim_error(
        &c.post("/Users", &user("Q17@EXAMPLE.COM")).await,
        409,
        Some("uniqueness"),
    );
    // The client then looks it up and finds exactly the first one.
    for f in [
        r#"userName eq "q17@example.com""#,
        r#"externalId eq "q17-ext""#,
    ] {
        let r = c.get(&filtered("/Users", f)).await;
        assert_eq!(r.body["totalResults"], 1, "{f}");
        assert_eq!(r.body["Resources"][0]["id"], id.as_str());
    }
    assert_eq!(c.get("/Users").await.body["totalResults"], 1);
    // Groups: displayName and externalId alike.
    let mut g = group("q17-group", &[]);
    g["externalId"] = json!("q17-gext");
    assert_eq!(c.post("/Groups", &g).await.status, 201);
    assert_scim_error(&c.post("/Groups", &g).await, 409, Some("uniqueness"));
    let mut g2 = group("q17-group-2", &[]);
    g2["externalId"] = json!("q17-gext");
    assert_scim_error(&c.post("/Groups", &g2).await, 409, Some("uniqueness"));
    assert_eq!(c.get("/Groups").await.body["totalResults"], 1);
    d.stop().await;
}

#[tokio::test]
async fn quirk_18_json_and_scim_json_bodies() {
    let d = Daemon::start().await;
    let c = d.client();
    let types = [
        "application/json",
        "application/json; charset=utf-8",
        "application/json;charset=UTF-8",
        "application/scim+json",
        "application/scim+json; charset=utf-8",
        "Application/SCIM+JSON",
    ];
    for (i, ct) in types.iter().enumerate() {
        let body = user(&format!("q18-{i}")).to_string().into_bytes();
        let r = c.send_raw("POST", "/Users", body, Some(ct), &[]).await;
        assert_eq!(r.status, 201, "{ct}: {:?}", r.body);
        assert_eq!(
            r.header("content-type"),
            Some("application/scim+json"),
            "{ct}"
        );
        let id = r.body["id"].as_str().unwrap().to_owned();
        let path = format!("/Users/{id}");
        let op = patch_op(json!([{"op": "replace", "path": "displayName", "value": ct}]));
        let r = c
            .send_raw("PATCH", &path, op.to_string().into_bytes(), Some(ct), &[])
            .await;
        assert_eq!(r.status, 200, "{ct}: {:?}", r.body);
        assert_eq!(
            r.header("content-type"),
            Some("application/scim+json"),
            "{ct}"
        );
        let mut put = user(&format!("q18-{i}"));
        put["nickName"] = json!(ct);
        let r = c
            .send_raw("PUT", &path, put.to_string().into_bytes(), Some(ct), &[])
            .await;
        assert_eq!(r.status, 200, "{ct}: {:?}", r.body);
        assert_eq!(
            r.header("content-type"),
            Some("application/scim+json"),
            "{ct}"
        );
        let got = c
            .send("GET", &path, None, &[("accept", "application/json")])
            .await;
        assert_eq!(got.header("content-type"), Some("application/scim+json"));
        assert_eq!(got.body["nickName"], *ct);
    }
    // Lists and errors answer with the SCIM media type too.
    let list = c.get("/Users").await;
    assert_eq!(list.header("content-type"), Some("application/scim+json"));
    assert_eq!(list.body["totalResults"], types.len());
    let err = c
        .send_raw(
            "POST",
            "/Users",
            b"{".to_vec(),
            Some("application/json"),
            &[],
        )
        .await;
    assert_eq!(err.status, 400);
    assert_eq!(err.header("content-type"), Some("application/scim+json"));
    let wrong = c
        .send_raw(
            "POST",
            "/Users",
            user("q18-xml").to_string().into_bytes(),
            Some("application/xml"),
            &[],
        )
        .await;
    assert_eq!(wrong.status, 415);
    assert_eq!(wrong.header("content-type"), Some("application/scim+json"));
    assert_eq!(c.get("/Users").await.body["totalResults"], types.len());
    d.stop().await;
}
