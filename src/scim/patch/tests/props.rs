//! Property: any sequence of add/replace/remove on simple attributes either fails
//! cleanly or leaves data in stored form (every value a fixed point of `coerce`, at most
//! one primary per list, `schemas` in step with the extensions, `userName` kept).

use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::scim::resource::{KeyTarget, resolve_key};
use crate::scim::schema::{AttributeDef, Mutability};
use crate::scim::value::coerce;

const PATHS: &[&str] = &[
    "userName",
    "displayName",
    "nickName",
    "title",
    "active",
    "externalId",
    "name",
    "name.givenName",
    "name.familyName",
    "emails",
    "emails.value",
    "emails[type eq \"work\"]",
    "emails[type eq \"work\"].value",
    "emails[primary eq true].type",
    "phoneNumbers[type eq \"mobile\"].value",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    "id",
    "password",
];

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        "[a-c]{0,3}".prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
        prop_oneof![Just("True"), Just("false")].prop_map(Value::from),
        (-2i64..3).prop_map(Value::from),
    ]
}

fn element() -> impl Strategy<Value = Value> {
    (scalar(), scalar(), scalar())
        .prop_map(|(v, t, p)| json!({"value": v, "type": t, "primary": p}))
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => scalar(),
        1 => element(),
        1 => prop::collection::vec(element(), 0..3).prop_map(Value::from),
        1 => (scalar(), scalar()).prop_map(|(g, f)| json!({"givenName": g, "familyName": f})),
        1 => scalar().prop_map(|v| json!({"employeeNumber": v})),
    ]
}

fn operation() -> impl Strategy<Value = Value> {
    let op = prop_oneof![Just("add"), Just("Replace"), Just("remove")];
    let path = prop::option::of(prop::sample::select(PATHS));
    (op, path, value(), prop::sample::select(PATHS)).prop_map(|(op, path, value, key)| match path {
        Some(path) => json!({"op": op, "path": path, "value": value}),
        None => json!({"op": op, "value": {key: value}}),
    })
}

/// Checks that `data` is in stored form for a User.
fn assert_stored_form(data: &Value) {
    let reg = Registry::new();
    let fields = data.as_object().expect("an object");
    let mut schemas = vec![json!(USER_SCHEMA)];
    for (key, v) in fields {
        match resolve_key(&reg, ResourceKind::User, key) {
            _ if key == "schemas" => {}
            Some(KeyTarget::Extension(ext)) => {
                schemas.push(json!(ext.id));
                let inner = v.as_object().expect("an extension object");
                assert!(!inner.is_empty(), "empty extension in {data}");
                for (name, v) in inner {
                    assert_fixed_point(
                        ext.attribute(name).expect("a known extension attribute"),
                        v,
                        data,
                    );
                }
            }
            Some(KeyTarget::Attr(r)) => {
                assert!(
                    r.sub.is_none() && r.attr.name == key,
                    "non-canonical key {key} in {data}"
                );
                assert_fixed_point(r.attr, v, data);
            }
            None => panic!("unknown key {key} in {data}"),
        }
    }
    assert_eq!(fields["schemas"], Value::from(schemas), "{data}");
    assert!(fields.contains_key("userName"), "{data}");
}

fn assert_fixed_point(attr: &AttributeDef, v: &Value, data: &Value) {
    assert!(
        matches!(
            attr.mutability,
            Mutability::ReadWrite | Mutability::Immutable
        ),
        "{} stored in {data}",
        attr.name
    );
    assert_eq!(
        coerce(attr, v.clone(), "").as_ref(),
        Ok(v),
        "{} in {data}",
        attr.name
    );
    if let Value::Array(list) = v {
        let primaries = list
            .iter()
            .filter(|e| e.get("primary") == Some(&json!(true)))
            .count();
        assert!(primaries <= 1, "{} primaries in {data}", attr.name);
    }
}

proptest! {
    #[test]
    fn random_patches_keep_the_stored_form(requests in prop::collection::vec(prop::collection::vec(operation(), 1..4), 1..6)) {
        let mut data = user();
        for ops in requests {
            if let Ok((next, changes)) = run(ResourceKind::User, &data, Value::from(ops)) {
                prop_assert!(changes.is_empty());
                assert_stored_form(&next);
                data = next;
            }
        }
    }
}
