//! Malformed requests and mutability violations: each is a 400 that says where.

use serde_json::json;

use super::super::edit;
use super::super::target::Target;
use super::*;
use crate::scim::schema::Mutability;

fn raw_err(body: Value) -> ScimError {
    let mut data = user().as_object().cloned().unwrap();
    apply_patch(&Registry::new(), ResourceKind::User, ID, &mut data, &body).unwrap_err()
}

#[test]
fn envelope_is_checked() {
    let op = json!({"op": "add", "path": "title", "value": "x"});
    let cases = [
        (json!("nope"), ScimType::InvalidSyntax),
        (json!({"Operations": [op]}), ScimType::InvalidSyntax),
        (
            json!({"schemas": ["urn:example"], "Operations": [op]}),
            ScimType::InvalidSyntax,
        ),
        (
            json!({"schemas": [PATCH_OP_SCHEMA]}),
            ScimType::InvalidSyntax,
        ),
        (
            json!({"schemas": [PATCH_OP_SCHEMA], "Operations": []}),
            ScimType::InvalidValue,
        ),
        (
            json!({"schemas": [PATCH_OP_SCHEMA], "Operations": vec![op; MAX_OPERATIONS + 1]}),
            ScimType::InvalidValue,
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(raw_err(body.clone()).scim_type, Some(expected), "{body}");
    }
}

#[test]
fn lowercase_operations_key_is_accepted() {
    let mut data = user().as_object().cloned().unwrap();
    let body = json!({"schemas": [PATCH_OP_SCHEMA], "operations": [{"op": "add", "path": "title", "value": "x"}]});
    apply_patch(&Registry::new(), ResourceKind::User, ID, &mut data, &body).unwrap();
    assert_eq!(data["title"], json!("x"));
}

#[test]
fn operations_are_checked() {
    let cases = [
        (json!(["add"]), ScimType::InvalidSyntax, "/Operations/0"),
        (
            json!([{"op": "merge", "path": "title", "value": "x"}]),
            ScimType::InvalidSyntax,
            "/Operations/0/op",
        ),
        (
            json!([{"op": "add", "path": 5, "value": "x"}]),
            ScimType::InvalidPath,
            "/Operations/0/path",
        ),
        (
            json!([{"op": "add", "path": "title"}]),
            ScimType::InvalidValue,
            "/Operations/0",
        ),
        (
            json!([{"op": "add", "value": "x"}]),
            ScimType::InvalidValue,
            "/Operations/0/value",
        ),
        (
            json!([{"op": "add", "path": "shoeSize", "value": 44}]),
            ScimType::InvalidPath,
            "/Operations/0/path",
        ),
        (
            json!([{"op": "add", "path": "emails[type eq", "value": "x"}]),
            ScimType::InvalidPath,
            "/Operations/0/path",
        ),
        (
            json!([{"op": "add", "path": "name[givenName eq \"x\"]", "value": "x"}]),
            ScimType::InvalidPath,
            "/Operations/0/path",
        ),
        (
            json!([{"op": "add", "path": "emails[shoe eq \"x\"]", "value": "x"}]),
            ScimType::InvalidPath,
            "/Operations/0/path",
        ),
        (
            json!([{"op": "add", "path": "name.nope", "value": "x"}]),
            ScimType::InvalidPath,
            "/Operations/0/path",
        ),
        (
            json!([{"op": "add", "value": {"shoeSize": 44}}]),
            ScimType::InvalidPath,
            "/Operations/0/value/shoeSize",
        ),
        (
            json!([{"op": "add", "path": "active", "value": "maybe"}]),
            ScimType::InvalidValue,
            "/Operations/0/value",
        ),
        (
            json!([{"op": "add", "path": "emails", "value": [{"value": "a", "foo": 1}]}]),
            ScimType::InvalidSyntax,
            "/Operations/0/value/0/foo",
        ),
        (
            json!([{"op": "add", "value": {"emails": [{"value": "a", "foo": 1}]}}]),
            ScimType::InvalidSyntax,
            "/Operations/0/value/emails/0/foo",
        ),
    ];
    for (ops, expected, pointer) in cases {
        let e = patch_user_err(&user(), ops.clone());
        assert_eq!(e.scim_type, Some(expected), "{ops}: {e}");
        assert!(e.detail.starts_with(pointer), "{ops}: {e}");
    }
}

#[test]
fn read_only_attributes_cannot_be_written() {
    for ops in [
        json!([{"op": "replace", "path": "id", "value": "other"}]),
        json!([{"op": "remove", "path": "id"}]),
        json!([{"op": "replace", "path": "meta.created", "value": "2024-01-01T00:00:00Z"}]),
        json!([{"op": "add", "path": "groups", "value": [{"value": "g"}]}]),
        json!([{"op": "add", "value": {"groups": [{"value": "g"}]}}]),
        json!([{"op": "add", "path": format!("{ENTERPRISE_USER_SCHEMA}:manager.displayName"), "value": "Boss"}]),
    ] {
        let e = patch_user_err(&user(), ops.clone());
        assert_eq!(e.scim_type, Some(ScimType::Mutability), "{ops}: {e}");
    }
}

#[test]
fn own_id_in_a_path_is_ignored() {
    assert_eq!(
        patch_user(
            &user(),
            json!([{"op": "replace", "path": "id", "value": ID}])
        ),
        user()
    );
}

#[test]
fn required_attributes_cannot_be_removed() {
    let e = patch_user_err(&user(), json!([{"op": "remove", "path": "userName"}]));
    assert_eq!(e.scim_type, Some(ScimType::Mutability), "{e}");
    let e = patch_user_err(
        &user(),
        json!([{"op": "replace", "path": "userName", "value": ""}]),
    );
    assert_eq!(e.scim_type, Some(ScimType::InvalidValue), "{e}");
    let e = run(
        ResourceKind::Group,
        &group(),
        json!([{"op": "remove", "path": "displayName"}]),
    )
    .unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::Mutability), "{e}");
}

#[test]
fn password_is_validated_and_never_stored() {
    assert_eq!(
        patch_user(
            &user(),
            json!([{"op": "replace", "path": "password", "value": "s3cret!"}])
        ),
        user()
    );
    let e = patch_user_err(
        &user(),
        json!([{"op": "replace", "value": {"password": 1234}}]),
    );
    assert_eq!(e.scim_type, Some(ScimType::InvalidValue), "{e}");
}

#[test]
fn member_paths_are_checked() {
    let group_err = |ops: Value| run(ResourceKind::Group, &group(), ops).unwrap_err();
    let e = group_err(
        json!([{"op": "add", "path": "members[value eq \"a\"]", "value": [{"value": "b"}]}]),
    );
    assert_eq!(e.scim_type, Some(ScimType::InvalidPath), "{e}");
    let e = group_err(
        json!([{"op": "replace", "path": "members[value eq \"a\"].display", "value": "x"}]),
    );
    assert_eq!(e.scim_type, Some(ScimType::InvalidPath), "{e}");
    let e = group_err(json!([{"op": "add", "value": {"members.value": "x"}}]));
    assert_eq!(e.scim_type, Some(ScimType::InvalidPath), "{e}");
    let e = group_err(json!([{"op": "add", "path": "members", "value": [{"type": "User"}]}]));
    assert_eq!(e.scim_type, Some(ScimType::InvalidValue), "{e}");
}

#[test]
fn immutable_attributes_can_be_added_once() {
    // RFC 7643 stores no immutable attribute, so the rule runs on a modified definition.
    let reg = Registry::new();
    let mut attr = reg
        .resolve(ResourceKind::User, None, "externalId", None)
        .unwrap()
        .attr
        .clone();
    attr.mutability = Mutability::Immutable;
    let t = Target {
        ext: None,
        attr: &attr,
        filter: None,
        sub: None,
        path: "externalId".into(),
    };
    let scope = Scope {
        reg: &reg,
        kind: ResourceKind::User,
        id: ID,
    };
    let mut data = Map::new();
    edit::write(&scope, &mut data, Op::Add, &t, json!("e1"), "/v").unwrap();
    edit::write(&scope, &mut data, Op::Replace, &t, json!("e1"), "/v").unwrap();
    let e = edit::write(&scope, &mut data, Op::Replace, &t, json!("e2"), "/v").unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::Mutability), "{e}");
    let e = edit::remove(&scope, &mut data, &t, None, "/v").unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::Mutability), "{e}");
}

#[test]
fn lists_stay_bounded() {
    let full: Vec<_> = (0..crate::scim::value::MAX_VALUES)
        .map(|i| json!({"value": format!("{i}@example.com")}))
        .collect();
    let before = user_with(json!({"emails": full}));
    for ops in [
        json!([{"op": "add", "path": "emails", "value": {"value": "one@more.com"}}]),
        json!([{"op": "add", "path": "emails[type eq \"work\"].value", "value": "one@more.com"}]),
    ] {
        let e = patch_user_err(&before, ops.clone());
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue), "{ops}: {e}");
    }
    // Re-adding a present value is still fine.
    let again = json!([{"op": "add", "path": "emails", "value": {"value": "7@example.com"}}]);
    assert_eq!(patch_user(&before, again), before);
}
