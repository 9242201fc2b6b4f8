use serde_json::{Value, json};

use super::*;
use crate::scim::ScimType;
use crate::scim::schema::{ENTERPRISE_USER_SCHEMA, Registry, ResourceKind};

fn user_attr(reg: &Registry, name: &str) -> AttributeDef {
    reg.resolve(ResourceKind::User, None, name, None)
        .unwrap()
        .attr
        .clone()
}

fn ok(name: &str, v: Value) -> Value {
    let reg = Registry::new();
    coerce(&user_attr(&reg, name), v, &format!("/{name}")).unwrap()
}

fn err(name: &str, v: Value) -> ScimError {
    let reg = Registry::new();
    coerce(&user_attr(&reg, name), v, &format!("/{name}")).unwrap_err()
}

#[test]
fn booleans_accept_strings_in_any_case() {
    assert_eq!(ok("active", json!("False")), json!(false));
    assert_eq!(ok("active", json!("TRUE")), json!(true));
    assert_eq!(ok("active", json!("false")), json!(false));
    assert_eq!(ok("active", json!(true)), json!(true));
    let e = err("active", json!("maybe"));
    assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
    assert!(
        e.detail.contains("/active") && e.detail.contains("boolean"),
        "{e}"
    );
}

#[test]
fn strings_are_checked_and_empty_ones_unassigned() {
    assert_eq!(ok("displayName", json!("Babs")), json!("Babs"));
    assert_eq!(ok("displayName", json!("")), Value::Null);
    assert_eq!(ok("displayName", Value::Null), Value::Null);
    let e = err("displayName", json!(42));
    assert!(
        e.detail.contains("/displayName") && e.detail.contains("a string"),
        "{e}"
    );
    assert!(err("displayName", json!(["a"])).detail.contains("an array"));
}

#[test]
fn sub_attribute_names_are_canonicalised() {
    let v = ok(
        "name",
        json!({"GIVENNAME": "Barbara", "familyname": "Jensen", "formatted": null}),
    );
    assert_eq!(v, json!({"givenName": "Barbara", "familyName": "Jensen"}));
    assert_eq!(ok("name", json!({"givenName": ""})), Value::Null);
}

#[test]
fn unknown_sub_attributes_are_named_by_pointer() {
    let e = err(
        "emails",
        json!([{"value": "a@b.c"}, {"value": "d@e.f", "foo": 1}]),
    );
    assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax));
    assert!(e.detail.starts_with("/emails/1/foo:"), "{e}");
    assert!(e.detail.contains("value, display, type, primary"), "{e}");
}

#[test]
fn multi_valued_wraps_single_values_and_drops_nulls() {
    assert_eq!(
        ok("emails", json!({"value": "a@b.c"})),
        json!([{"value": "a@b.c"}])
    );
    assert_eq!(
        ok(
            "emails",
            json!([null, {"value": "a@b.c", "primary": "True"}])
        ),
        json!([{"value": "a@b.c", "primary": true}])
    );
    assert_eq!(ok("emails", json!([])), Value::Null);
    assert_eq!(ok("emails", json!([{}])), Value::Null);
    let e = err("emails", json!([[{"value": "x"}]]));
    assert!(e.detail.starts_with("/emails/0:"), "{e}");
}

#[test]
fn nested_type_errors_point_at_the_value() {
    let e = err("emails", json!([{"value": "a@b.c", "primary": "yes"}]));
    assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
    assert!(e.detail.starts_with("/emails/0/primary:"), "{e}");
    let e = err("name", json!("Barbara"));
    assert!(e.detail.contains("must be an object"), "{e}");
}

#[test]
fn complex_with_value_accepts_a_plain_value() {
    let reg = Registry::new();
    let manager = reg
        .resolve(
            ResourceKind::User,
            Some(ENTERPRISE_USER_SCHEMA),
            "manager",
            None,
        )
        .unwrap();
    let v = coerce(
        manager.attr,
        json!("26118915-6090-4610-87e4-49d8ca9f808d"),
        "/manager",
    )
    .unwrap();
    assert_eq!(v, json!({"value": "26118915-6090-4610-87e4-49d8ca9f808d"}));
    let echoed = coerce(
        manager.attr,
        json!({"value": "m-1", "displayName": "Boss"}),
        "/manager",
    )
    .unwrap();
    assert_eq!(
        echoed,
        json!({"value": "m-1"}),
        "readOnly sub-attributes are the server's"
    );
}

#[test]
fn date_times_must_be_rfc3339() {
    let reg = Registry::new();
    let created = reg
        .resolve(ResourceKind::User, None, "meta", Some("created"))
        .unwrap();
    let leaf = created.leaf();
    assert_eq!(
        coerce(leaf, json!("2024-05-01T12:00:00Z"), "/x").unwrap(),
        json!("2024-05-01T12:00:00Z")
    );
    let e = coerce(leaf, json!("yesterday"), "/meta/created").unwrap_err();
    assert!(
        e.detail.contains("RFC 3339") && e.detail.contains("/meta/created"),
        "{e}"
    );
}

#[test]
fn numbers_are_typed() {
    let mut attr = user_attr(&Registry::new(), "displayName");
    attr.ty = AttrType::Integer;
    assert_eq!(coerce(&attr, json!(7), "/n").unwrap(), json!(7));
    assert_eq!(coerce(&attr, json!("7"), "/n").unwrap(), json!(7));
    assert!(coerce(&attr, json!(7.5), "/n").is_err());
    attr.ty = AttrType::Decimal;
    assert_eq!(coerce(&attr, json!(7.5), "/n").unwrap(), json!(7.5));
    assert_eq!(coerce(&attr, json!("7.5"), "/n").unwrap(), json!(7.5));
    assert!(coerce(&attr, json!("seven"), "/n").is_err());
}

#[test]
fn pointers_escape_keys() {
    assert_eq!(child_pointer("/a", "b/c~d"), "/a/b~1c~0d");
}

#[test]
fn long_strings_are_cut_in_details() {
    let e = err("active", json!("x".repeat(500)));
    assert!(e.detail.len() < 200, "{e}");
}

#[test]
fn multi_valued_attributes_are_capped() {
    let many: Vec<_> = (0..=MAX_VALUES)
        .map(|i| json!({"value": format!("{i}@example.com")}))
        .collect();
    let e = err("emails", Value::from(many));
    assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
    assert!(
        e.detail.starts_with("/emails:") && e.detail.contains("at most"),
        "{e}"
    );
}

#[test]
fn only_the_last_primary_stays_primary() {
    let v = ok(
        "emails",
        json!([{"value": "a", "primary": true}, {"value": "b", "primary": "true"}, {"value": "c"}]),
    );
    assert_eq!(
        v,
        json!([{"value": "a", "primary": false}, {"value": "b", "primary": true}, {"value": "c"}])
    );
}
