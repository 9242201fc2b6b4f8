use serde_json::{Value, json};

use super::*;
use crate::scim::ScimType;
use crate::scim::schema::{ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA};

fn create_user(body: Value) -> Result<Incoming, ScimError> {
    parse_create(&Registry::new(), ResourceKind::User, body)
}

fn create_group(body: Value) -> Result<Incoming, ScimError> {
    parse_create(&Registry::new(), ResourceKind::Group, body)
}

fn data(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

#[test]
fn create_user_in_canonical_form() {
    let got = create_user(json!({
        "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
        "UserName": "bjensen@example.com",
        "name": {"givenname": "Barbara", "familyName": "Jensen"},
        "active": "True",
        "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}],
        "externalId": "ext-1",
        ENTERPRISE_USER_SCHEMA: {"employeeNumber": "701984", "manager": {"value": "m-1", "displayName": "Boss"}},
        "nickName": "",
    }))
    .unwrap();
    assert_eq!(got.members, None);
    assert_eq!(
        Value::Object(got.data),
        json!({
            "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
            "userName": "bjensen@example.com",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "active": true,
            "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}],
            "externalId": "ext-1",
            ENTERPRISE_USER_SCHEMA: {"employeeNumber": "701984", "manager": {"value": "m-1"}},
        })
    );
}

#[test]
fn echoed_read_only_attributes_and_password_are_dropped() {
    let got = create_user(json!({
        "schemas": [USER_SCHEMA],
        "id": "ignored",
        "meta": {"resourceType": "User"},
        "groups": [{"value": "g1"}],
        "userName": "a",
        "password": "t1meMa$heen",
    }))
    .unwrap();
    assert_eq!(
        Value::Object(got.data),
        json!({"schemas": [USER_SCHEMA], "userName": "a"})
    );
    let e =
        create_user(json!({"schemas": [USER_SCHEMA], "userName": "a", "password": 5})).unwrap_err();
    assert!(e.detail.starts_with("/password:"), "{e}");
}

#[test]
fn urn_qualified_and_dotted_keys_are_accepted() {
    let got = create_user(json!({
        "schemas": [USER_SCHEMA],
        format!("{USER_SCHEMA}:userName"): "a",
        "name.givenName": "Barbara",
        format!("{ENTERPRISE_USER_SCHEMA}:department"): "Tour Operations",
    }))
    .unwrap();
    assert_eq!(
        Value::Object(got.data),
        json!({
            "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
            "userName": "a",
            "name": {"givenName": "Barbara"},
            ENTERPRISE_USER_SCHEMA: {"department": "Tour Operations"},
        })
    );
}

#[test]
fn schemas_must_list_the_core_schema_and_known_ones() {
    for body in [
        json!({"userName": "a"}),
        json!({"schemas": "urn", "userName": "a"}),
        json!({"schemas": [ENTERPRISE_USER_SCHEMA], "userName": "a"}),
        json!({"schemas": [USER_SCHEMA, "urn:example:unknown"], "userName": "a"}),
        json!({"schemas": [USER_SCHEMA, GROUP_SCHEMA], "userName": "a"}),
        json!(["not", "an", "object"]),
    ] {
        let e = create_user(body.clone()).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax), "{body}: {e}");
    }
}

#[test]
fn extension_present_but_not_listed_is_added() {
    let got =
        create_user(json!({"schemas": [USER_SCHEMA], "userName": "a", ENTERPRISE_USER_SCHEMA: {"costCenter": "4130"}}))
            .unwrap();
    assert_eq!(
        got.data["schemas"],
        json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA])
    );
    let listed_but_empty =
        create_user(json!({"schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA], "userName": "a", ENTERPRISE_USER_SCHEMA: {}}))
            .unwrap();
    assert_eq!(listed_but_empty.data["schemas"], json!([USER_SCHEMA]));
    assert!(!listed_but_empty.data.contains_key(ENTERPRISE_USER_SCHEMA));
}

#[test]
fn unknown_attributes_are_named() {
    let e = create_user(json!({"schemas": [USER_SCHEMA], "userName": "a", "shoeSize": 44}))
        .unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax));
    assert!(
        e.detail.contains("\"shoeSize\"") && e.detail.starts_with("/shoeSize"),
        "{e}"
    );
    let e = create_user(
        json!({"schemas": [USER_SCHEMA], "userName": "a", ENTERPRISE_USER_SCHEMA: {"shoeSize": 1}}),
    )
    .unwrap_err();
    assert!(e.detail.contains("shoeSize"), "{e}");
    let e = create_user(json!({"schemas": [USER_SCHEMA], "userName": "a", "emails.value": "x"}))
        .unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax), "{e}");
}

#[test]
fn required_attributes_must_be_present() {
    let e = create_user(json!({"schemas": [USER_SCHEMA], "displayName": "A"})).unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
    assert!(e.detail.contains("userName"), "{e}");
    let e = create_user(json!({"schemas": [USER_SCHEMA], "userName": ""})).unwrap_err();
    assert!(e.detail.contains("userName"), "{e}");
    let e = create_group(json!({"schemas": [GROUP_SCHEMA]})).unwrap_err();
    assert!(e.detail.contains("displayName"), "{e}");
}

#[test]
fn group_members_are_split_off() {
    let got = create_group(json!({
        "schemas": [GROUP_SCHEMA],
        "displayName": "Tour Guides",
        "members": [
            {"value": "u1", "$ref": "https://example.com/Users/u1", "display": "Babs"},
            {"value": "g2", "type": "Group"},
            {"value": "u1"},
            "u3",
        ],
    }))
    .unwrap();
    assert_eq!(
        Value::Object(got.data),
        json!({"schemas": [GROUP_SCHEMA], "displayName": "Tour Guides"})
    );
    let members = got.members.unwrap();
    assert_eq!(
        members,
        vec![
            MemberRef {
                value: "u1".into(),
                kind: None
            },
            MemberRef {
                value: "g2".into(),
                kind: Some(ResourceKind::Group)
            },
            MemberRef {
                value: "u3".into(),
                kind: None
            },
        ]
    );
}

#[test]
fn bad_members_are_rejected_with_pointers() {
    let group = |members: Value| {
        create_group(json!({"schemas": [GROUP_SCHEMA], "displayName": "G", "members": members}))
            .unwrap_err()
    };
    assert!(
        group(json!([{"value": ""}]))
            .detail
            .starts_with("/members/0/value:")
    );
    assert!(
        group(json!([{"display": "x"}]))
            .detail
            .starts_with("/members/0/value:")
    );
    assert!(
        group(json!([{"value": "u", "type": "Robot"}]))
            .detail
            .starts_with("/members/0/type:")
    );
    assert!(
        group(json!([{"value": "u", "color": "red"}]))
            .detail
            .starts_with("/members/0/color:")
    );
    assert!(group(json!([7])).detail.starts_with("/members/0:"));
}

#[test]
fn put_replaces_and_ignores_read_only_echoes() {
    let reg = Registry::new();
    let current =
        data(json!({"schemas": [USER_SCHEMA], "userName": "a", "title": "Boss", "active": true}));
    let body = json!({
        "schemas": [USER_SCHEMA],
        "id": "123",
        "meta": {"resourceType": "User", "location": "https://x/Users/123"},
        "groups": [],
        "userName": "a",
        "active": false,
        "password": "secret",
    });
    let got = parse_replace(&reg, ResourceKind::User, body, &current).unwrap();
    assert_eq!(
        Value::Object(got.data),
        json!({"schemas": [USER_SCHEMA], "userName": "a", "active": false})
    );
}

#[test]
fn put_group_members_absent_means_unchanged() {
    let reg = Registry::new();
    let current = data(json!({"schemas": [GROUP_SCHEMA], "displayName": "Old"}));
    let rename = json!({"schemas": [GROUP_SCHEMA], "id": "g", "displayName": "New"});
    let got = parse_replace(&reg, ResourceKind::Group, rename, &current).unwrap();
    assert_eq!(got.members, None);
    assert_eq!(got.data["displayName"], json!("New"));
    let empty = json!({"schemas": [GROUP_SCHEMA], "displayName": "New", "members": []});
    assert_eq!(
        parse_replace(&reg, ResourceKind::Group, empty, &current)
            .unwrap()
            .members,
        Some(vec![])
    );
}

#[test]
fn put_keeps_immutable_attributes() {
    // RFC 7643 stores no immutable attribute, so the rule runs on a modified definition.
    let reg = Registry::new();
    let mut external_id = reg
        .resolve(ResourceKind::User, None, "externalId", None)
        .unwrap()
        .attr
        .clone();
    external_id.mutability = Mutability::Immutable;
    let attrs = || std::iter::once((None, &external_id));
    let current = data(json!({"userName": "a", "externalId": "e1"}));

    let mut omitted = data(json!({"userName": "b"}));
    keep_immutables(attrs(), &mut omitted, &current).unwrap();
    assert_eq!(
        Value::Object(omitted),
        json!({"userName": "b", "externalId": "e1"})
    );

    let mut same = data(json!({"userName": "a", "externalId": "e1"}));
    keep_immutables(attrs(), &mut same, &current).unwrap();

    let mut changed = data(json!({"userName": "a", "externalId": "e2"}));
    let e = keep_immutables(attrs(), &mut changed, &current).unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::Mutability));
    assert!(e.detail.contains("externalId"), "{e}");
}
