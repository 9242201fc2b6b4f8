use serde_json::{Value, json};

use super::*;
use crate::scim::ScimType;
use crate::scim::schema::{ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA};

fn full_user() -> Value {
    json!({
        "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
        "id": "u1",
        "externalId": "e1",
        "meta": {"resourceType": "User", "created": "2024-01-01T00:00:00Z", "location": "https://x/Users/u1"},
        "userName": "bjensen",
        "password": "must never leak",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "emails": [{"value": "a@example.com", "type": "work"}, {"value": "b@example.com", "type": "home"}],
        "groups": [{"value": "g1", "display": "Guides"}],
        ENTERPRISE_USER_SCHEMA: {"employeeNumber": "42", "department": "Tours"}
    })
}

fn project(attributes: Option<&str>, excluded: Option<&str>) -> Value {
    let reg = Registry::new();
    let p = Projection::parse(&reg, ResourceKind::User, attributes, excluded).unwrap();
    let mut user = full_user().as_object().cloned().unwrap();
    p.apply(&reg, ResourceKind::User, &mut user);
    Value::Object(user)
}

fn keys(v: &Value) -> Vec<&str> {
    v.as_object().unwrap().keys().map(String::as_str).collect()
}

#[test]
fn default_returns_everything_but_never_returned_attributes() {
    let mut expected = full_user();
    expected.as_object_mut().unwrap().remove("password");
    assert_eq!(project(None, None), expected);
    assert_eq!(
        project(Some(" "), None),
        expected,
        "an empty attributes list counts as absent"
    );
}

#[test]
fn attributes_keep_only_what_is_named_plus_always_returned() {
    let got = project(Some("userName"), None);
    assert_eq!(
        got,
        json!({"schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA], "id": "u1", "userName": "bjensen"})
    );
}

#[test]
fn names_are_case_insensitive_and_may_be_urn_qualified() {
    let urn_upper = ENTERPRISE_USER_SCHEMA.to_uppercase();
    let got = project(
        Some(&format!(
            " USERNAME , {USER_SCHEMA}:externalId,{urn_upper}:employeenumber"
        )),
        None,
    );
    assert_eq!(
        got,
        json!({
            "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
            "id": "u1",
            "externalId": "e1",
            "userName": "bjensen",
            ENTERPRISE_USER_SCHEMA: {"employeeNumber": "42"}
        })
    );
}

#[test]
fn a_named_sub_attribute_keeps_only_that_part() {
    let got = project(Some("name.givenName,emails.value,meta.created"), None);
    assert_eq!(got["name"], json!({"givenName": "Barbara"}));
    assert_eq!(
        got["emails"],
        json!([{"value": "a@example.com"}, {"value": "b@example.com"}])
    );
    assert_eq!(got["meta"], json!({"created": "2024-01-01T00:00:00Z"}));
}

#[test]
fn a_whole_extension_can_be_named_or_excluded() {
    let got = project(Some(ENTERPRISE_USER_SCHEMA), None);
    assert_eq!(keys(&got), vec!["id", "schemas", ENTERPRISE_USER_SCHEMA]);
    let got = project(None, Some(ENTERPRISE_USER_SCHEMA));
    assert!(got.get(ENTERPRISE_USER_SCHEMA).is_none());
}

#[test]
fn excluded_attributes_and_sub_attributes_go() {
    let got = project(None, Some("emails.type,groups,name"));
    assert_eq!(
        got["emails"],
        json!([{"value": "a@example.com"}, {"value": "b@example.com"}])
    );
    assert!(got.get("groups").is_none() && got.get("name").is_none());
    assert_eq!(got["userName"], json!("bjensen"));
}

#[test]
fn always_returned_attributes_cannot_be_excluded() {
    let got = project(None, Some("id,schemas"));
    assert_eq!(got["id"], json!("u1"));
    assert!(got.get("schemas").is_some());
    let got = project(Some("password"), None);
    assert!(got.get("password").is_none(), "password is never returned");
}

#[test]
fn emptied_extension_objects_are_dropped() {
    let urn = ENTERPRISE_USER_SCHEMA;
    let got = project(
        None,
        Some(&format!("{urn}:employeeNumber,{urn}:department")),
    );
    assert!(got.get(urn).is_none(), "{got}");
}

#[test]
fn unknown_names_are_ignored_and_malformed_paths_rejected() {
    let got = project(Some("userName,shoeSize"), Some("hatSize"));
    assert_eq!(keys(&got), vec!["id", "schemas", "userName"]);
    let e = Projection::parse(
        &Registry::new(),
        ResourceKind::User,
        Some("emails[type"),
        None,
    )
    .unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
    assert!(e.detail.contains("emails[type"), "{e}");
}

#[test]
fn wants_tells_whether_members_must_be_loaded() {
    let reg = Registry::new();
    let group = ResourceKind::Group;
    let wants = |a: Option<&str>, x: Option<&str>| {
        Projection::parse(&reg, group, a, x)
            .unwrap()
            .wants(&reg, group, "members")
    };
    assert!(wants(None, None));
    assert!(
        !wants(None, Some("members")),
        "Entra: excludedAttributes=members"
    );
    assert!(wants(None, Some("members.display")));
    assert!(!wants(Some("displayName"), None));
    assert!(wants(Some("members.value"), None));
    assert!(wants(Some(&format!("{GROUP_SCHEMA}:members")), None));
    assert!(Projection::default().wants(&reg, ResourceKind::User, "groups"));
    assert!(!Projection::default().wants(&reg, ResourceKind::User, "password"));
}

#[test]
fn group_members_are_projected_like_any_attribute() {
    let reg = Registry::new();
    let p = Projection::parse(&reg, ResourceKind::Group, None, Some("members")).unwrap();
    let mut group = json!({
        "schemas": [GROUP_SCHEMA], "id": "g1", "displayName": "Guides",
        "members": [{"value": "u1", "display": "Babs"}], "meta": {"resourceType": "Group"}
    })
    .as_object()
    .cloned()
    .unwrap();
    p.apply(&reg, ResourceKind::Group, &mut group);
    assert_eq!(
        Value::Object(group),
        json!({"schemas": [GROUP_SCHEMA], "id": "g1", "displayName": "Guides", "meta": {"resourceType": "Group"}})
    );
}
