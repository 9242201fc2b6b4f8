use serde_json::{Value, json};

use super::*;

fn request(ops: Value) -> BulkRequest {
    parse_request(json!({"schemas": [BULK_REQUEST], "Operations": ops}), 100)
        .expect("valid request")
}

fn user_post(bulk_id: &str) -> Value {
    json!({"method": "POST", "path": "/Users", "bulkId": bulk_id,
           "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": bulk_id}})
}

fn group_post(bulk_id: &str, members: &[&str]) -> Value {
    let members: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
    json!({"method": "POST", "path": "/Groups", "bulkId": bulk_id,
           "data": {"displayName": bulk_id, "members": members}})
}

fn error_of(entry: &Entry) -> &ScimError {
    entry.operation.as_ref().expect_err("operation is invalid")
}

#[test]
fn request_level_errors_reject_the_whole_request() {
    let e = parse_request(json!([1]), 10).unwrap_err();
    assert_eq!(e.status, 400);
    let e = parse_request(json!({"schemas": ["urn:x"], "Operations": []}), 10).unwrap_err();
    assert!(e.detail.contains(BULK_REQUEST), "{e}");
    let e = parse_request(json!({"Operations": {}}), 10).unwrap_err();
    assert!(e.detail.contains("\"Operations\""), "{e}");
    for bad in [json!(0), json!(-1), json!("2"), json!(1.5)] {
        let e = parse_request(json!({"Operations": [], "failOnErrors": bad}), 10).unwrap_err();
        assert_eq!(e.status, 400, "{bad}");
        assert!(e.detail.contains("failOnErrors"), "{e}");
    }
}

#[test]
fn too_many_operations_is_413_naming_the_limit() {
    let ops: Vec<Value> = (0..3).map(|i| user_post(&format!("u{i}"))).collect();
    let e = parse_request(json!({"Operations": ops}), 2).unwrap_err();
    assert_eq!(e.status, 413);
    assert!(e.detail.contains("maxOperations (2)"), "{e}");
    assert!(parse_request(json!({"Operations": ops}), 3).is_ok());
}

#[test]
fn keys_are_case_insensitive_and_schemas_optional() {
    let r = parse_request(
        json!({"operations": [{"Method": "delete", "Path": "Users/42"}], "FAILONERRORS": 2}),
        10,
    )
    .unwrap();
    assert_eq!(r.fail_on_errors, Some(2));
    let op = r.entries[0].operation.as_ref().unwrap();
    assert_eq!(op.method, Method::Delete);
    assert_eq!(op.kind, ResourceKind::User);
    assert_eq!(op.target, Some(Target::Id("42".into())));
    assert_eq!(r.entries[0].method_name(), "DELETE");
}

#[test]
fn a_malformed_operation_fails_alone() {
    let r = request(json!([
        {"method": "GET", "path": "/Users/1"},
        {"method": "POST", "path": "/Users/1", "data": {}},
        {"method": "PATCH", "path": "/Groups", "data": {}},
        {"method": "PUT", "path": "/Users/1"},
        {"method": "DELETE", "path": "/Bulk/1"},
        {"method": "DELETE", "path": "/Users/1/x"},
        {"method": "PUT", "path": "/Users/bulkId:", "data": {}},
        {"method": "POST", "path": "/Users", "data": {"x": "bulkId:"}},
        "not an object",
        user_post("ok"),
    ]));
    let details: Vec<String> = r.entries[..9]
        .iter()
        .map(|e| error_of(e).to_string())
        .collect();
    assert!(
        details[0].contains("/Operations/0/method"),
        "{}",
        details[0]
    );
    assert_eq!(r.entries[0].method_name(), "GET");
    assert!(details[1].contains("without an id"), "{}", details[1]);
    assert!(
        details[2].contains("PATCH needs the resource"),
        "{}",
        details[2]
    );
    assert!(
        details[3].contains("/Operations/3/data is required"),
        "{}",
        details[3]
    );
    assert!(details[4].contains("invalidPath"), "{}", details[4]);
    assert!(
        details[5].contains("more than an endpoint"),
        "{}",
        details[5]
    );
    assert!(details[6].contains("\"bulkId:\""), "{}", details[6]);
    assert!(details[7].contains("without a name"), "{}", details[7]);
    assert!(
        details[8].contains("/Operations/8 must be an object"),
        "{}",
        details[8]
    );
    assert!(r.entries[9].operation.is_ok());
}

#[test]
fn references_are_found_in_path_and_data_once_each() {
    let r = request(json!([{
        "method": "PATCH", "path": "/Groups/bulkId:g",
        "data": {"Operations": [{"op": "add", "path": "members",
                 "value": [{"value": "bulkId:u"}, {"value": "bulkId:g"}, {"value": "bulkId:u"}]}]}
    }]));
    let op = r.entries[0].operation.as_ref().unwrap();
    assert_eq!(op.target, Some(Target::Reference("g".into())));
    assert_eq!(op.references, vec!["g".to_owned(), "u".to_owned()]);
}

#[test]
fn order_is_request_order_without_forward_references() {
    let r = request(json!([
        user_post("a"),
        user_post("b"),
        group_post("g", &["bulkId:a"])
    ]));
    let p = plan(&r.entries);
    assert_eq!(p.order, vec![0, 1, 2]);
    assert!((0..3).all(|i| p.refusal(i).is_none()));
}

#[test]
fn a_forward_reference_runs_the_referenced_post_first() {
    let r = request(json!([
        group_post("g", &["bulkId:u2", "bulkId:u1"]),
        user_post("u1"),
        user_post("x"),
        user_post("u2"),
    ]));
    let p = plan(&r.entries);
    assert_eq!(p.order, vec![3, 1, 0, 2]);
    assert!((0..4).all(|i| p.refusal(i).is_none()));
}

#[test]
fn cycles_are_refused_with_409_and_dependents_still_planned() {
    let r = request(json!([
        group_post("a", &["bulkId:b"]),
        group_post("b", &["bulkId:a"]),
        group_post("c", &["bulkId:a"]),
        group_post("self", &["bulkId:self"]),
    ]));
    let p = plan(&r.entries);
    let mut sorted = p.order.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, vec![0, 1, 2, 3]);
    for i in [0, 1] {
        let e = p.refusal(i).expect("in the cycle");
        assert_eq!(e.status, 409);
        assert!(
            e.detail.contains("cycle") && e.detail.contains("3.7.1"),
            "{e}"
        );
    }
    // c only depends on the cycle: it is planned, and fails when `a` is not created.
    assert!(p.refusal(2).is_none());
    let e = p.refusal(3).unwrap();
    assert!(e.detail.contains("its own bulkId"), "{e}");
}

#[test]
fn unknown_duplicate_and_non_post_references_are_400() {
    let r = request(json!([
        user_post("u"),
        user_post("u"),
        {"method": "DELETE", "path": "/Users/1", "bulkId": "d"},
        group_post("g1", &["bulkId:nope"]),
        group_post("g2", &["bulkId:d"]),
        group_post("g3", &["bulkId:u"]),
    ]));
    let p = plan(&r.entries);
    let dup = p.refusal(1).unwrap();
    assert!(
        dup.detail.contains("already declared by /Operations/0"),
        "{dup}"
    );
    let unknown = p.refusal(3).unwrap();
    assert_eq!(unknown.status, 400);
    assert!(unknown.detail.contains("names no operation"), "{unknown}");
    let non_post = p.refusal(4).unwrap();
    assert!(non_post.detail.contains("a DELETE"), "{non_post}");
    assert!(p.refusal(5).is_none());
    assert_eq!(p.declares(0, &r.entries[0]), Some("u"));
    assert_eq!(p.declares(1, &r.entries[1]), None);
    assert_eq!(p.declares(2, &r.entries[2]), None);
}

#[test]
fn resolution_substitutes_created_ids_and_refuses_failed_ones() {
    let r = request(json!([
        user_post("u1"),
        user_post("u2"),
        group_post("g", &["bulkId:u1", "bulkId:u2"]),
        {"method": "PUT", "path": "/Groups/bulkId:g", "data": {"displayName": "G"}},
    ]));
    let p = plan(&r.entries);
    let mut resolved = Resolved::default();
    resolved.record("u1", Some("id-1".into()));
    resolved.record("u2", None);
    let group = r.entries[2].operation.as_ref().unwrap();
    let e = resolved.apply(&p, 2, group).unwrap_err();
    assert_eq!(e.status, 409);
    assert!(
        e.detail
            .contains("\"bulkId:u2\" names /Operations/1 (bulkId \"u2\")"),
        "{e}"
    );
    resolved.record("u2", Some("id-2".into()));
    let ok = resolved.apply(&p, 2, group).unwrap();
    assert_eq!(
        ok.data.unwrap()["members"],
        json!([{"value": "id-1"}, {"value": "id-2"}])
    );
    resolved.record("g", Some("gid".into()));
    let put = r.entries[3].operation.as_ref().unwrap();
    let ok = resolved.apply(&p, 3, put).unwrap();
    assert_eq!(ok.target, Some(Target::Id("gid".into())));
}

#[test]
fn response_has_string_statuses_and_errors_in_response() {
    let ok = Outcome {
        method: "POST".into(),
        bulk_id: Some("u".into()),
        location: Some("http://h/scim/v2/a/Users/1".into()),
        version: Some("W/\"1\"".into()),
        status: 201,
        error: None,
    };
    let failed = Outcome {
        method: "DELETE".into(),
        bulk_id: None,
        location: None,
        version: None,
        status: 404,
        error: Some(ScimError::not_found("User 9 not found")),
    };
    let body = response([&ok, &failed]);
    assert_eq!(body["schemas"], json!([BULK_RESPONSE]));
    let ops = body["Operations"].as_array().unwrap();
    assert_eq!(ops[0]["status"], "201");
    assert_eq!(ops[0]["bulkId"], "u");
    assert!(ops[0].get("response").is_none());
    assert_eq!(ops[1]["status"], "404");
    assert_eq!(ops[1]["response"]["status"], "404");
    assert!(ops[1].get("bulkId").is_none());
}
