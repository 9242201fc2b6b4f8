//! Fuzzing bound: arbitrary JSON as a PATCH body, for Users and Groups, never panics and
//! fails only with a 4xx ScimError. Bodies range from junk to well-formed envelopes whose
//! operations carry junk, so both the envelope checks and the engine get exercised.

use proptest::prelude::*;
use serde_json::{Map, Number, json};

use super::*;
use crate::scim::registry;

/// Keys drawn from real attribute names, URNs, dotted names, paths and junk.
const KEYS: &[&str] = &[
    "schemas",
    "Operations",
    "op",
    "path",
    "value",
    "id",
    "meta",
    "externalId",
    "userName",
    "USERNAME",
    "displayName",
    "nickname",
    "active",
    "password",
    "name",
    "name.givenName",
    "name.familyName",
    "name.nope",
    "emails",
    "emails.value",
    "phoneNumbers",
    "addresses",
    "groups",
    "members",
    "members.value",
    "type",
    "primary",
    "display",
    "$ref",
    "created",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName",
    "urn:ietf:params:scim:schemas:core:2.0:User:userName",
    "urn:ietf:params:scim:schemas:core:2.0:Group:displayName",
    "urn:ietf:params:scim:schemas:core:2.0:Group:members",
    "urn:ietf:params:scim:api:messages:2.0:PatchOp",
    "employeeNumber",
    "manager",
    "urn:",
    "urn:x",
    ":",
    ".",
    "a.b.c",
    "",
    " ",
    "emails[type eq \"work\"].value",
    "\u{0}",
    "é",
    "~/",
];

/// PATCH paths of every shape that resolve for a User.
const USER_PATHS: &[&str] = &[
    "userName",
    "displayName",
    "active",
    "title",
    "id",
    "meta",
    "meta.created",
    "groups",
    "password",
    "externalId",
    "name",
    "name.givenName",
    "emails",
    "emails.value",
    "emails[type eq \"work\"]",
    "emails[type eq \"work\"].value",
    "emails[type eq \"work\" and value ew \"example.com\"]",
    "emails[value co \"@\" or primary eq true].primary",
    "emails[not (type pr)]",
    "addresses[type eq \"work\"].streetAddress",
    "phoneNumbers[type eq \"mobile\"].value",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
    "urn:ietf:params:scim:schemas:core:2.0:User:emails[type eq \"work\"].value",
];

/// PATCH paths of every shape that resolve for a Group.
const GROUP_PATHS: &[&str] = &[
    "displayName",
    "externalId",
    "id",
    "meta",
    "members",
    "members[value eq \"u1\"]",
    "members[value eq \"u1\" or value eq \"u2\"]",
    "members[type eq \"Group\"]",
    "members[display co \"a\"]",
    "urn:ietf:params:scim:schemas:core:2.0:Group:members",
    "urn:ietf:params:scim:schemas:core:2.0:Group:displayName",
];

/// PATCH paths that are malformed or name nothing.
const BROKEN_PATHS: &[&str] = &[
    "members[value eq \"u1\"].display",
    "members.value",
    "emails[",
    "emails[type eq]",
    "emails[type eq \"work\"",
    "emails]",
    "emails[type eq \"work\"][x]",
    "emails[emails[type eq \"a\"]]",
    "name[givenName eq \"x\"]",
    "name.givenName.x",
    "userName.x",
    "nope",
    "urn:nope:x",
    "\"",
    "",
    " ",
];

fn string() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "",
            " ",
            "True",
            "false",
            "FALSE",
            "null",
            "42",
            "-1e999",
            "0x10",
            "u1",
            "u2",
            "work",
            "home",
            "User",
            "Group",
            "a@b",
            "2024-05-01T12:00:00Z",
            "2819c223-7f76-453a-919d-413861904646",
            "\"",
            "\\",
            "\\\"quoted\\\"",
            "\u{0}",
            "\u{202e}rtl",
            "😀",
            "é\u{301}",
            "W/\"1\"",
        ])
        .prop_map(str::to_owned),
        prop::sample::select(KEYS).prop_map(str::to_owned),
        prop::sample::select(USER_PATHS).prop_map(str::to_owned),
        prop::sample::select(GROUP_PATHS).prop_map(str::to_owned),
        prop::sample::select(BROKEN_PATHS).prop_map(str::to_owned),
        "\\PC{0,16}",
        "[\"\\\\\\[\\] .:a-z]{0,12}",
    ]
}

fn number() -> impl Strategy<Value = Number> {
    prop_oneof![
        any::<i64>().prop_map(Number::from),
        any::<u64>().prop_map(Number::from),
        Just(Number::from(0)),
        Just(Number::from(1)),
        any::<f64>().prop_filter_map("finite", Number::from_f64),
    ]
}

/// Arbitrary JSON: nulls, booleans, numbers, strings, arrays, and objects whose keys are
/// mostly attribute names.
fn any_json() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(4, 48, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        3 => prop::sample::select(KEYS).prop_map(str::to_owned),
                        1 => string(),
                    ],
                    inner
                ),
                0..5
            )
            .prop_map(|fields| Value::Object(fields.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A scalar, the value most operations carry.
fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number().prop_map(Value::Number),
        string().prop_map(Value::String),
    ]
}

/// A list of multi-valued attribute values or group members, loosely typed.
fn element_list() -> impl Strategy<Value = Value> {
    let element = (
        prop_oneof![string().prop_map(Value::from), scalar()],
        prop::option::of(prop::sample::select(vec![
            "work", "home", "User", "Group", "x",
        ])),
        prop::option::of(prop_oneof![any::<bool>().prop_map(Value::from), scalar()]),
    )
        .prop_map(|(value, ty, primary)| {
            let mut fields = Map::from_iter([("value".to_owned(), value)]);
            if let Some(ty) = ty {
                fields.insert("type".to_owned(), Value::from(ty));
            }
            if let Some(primary) = primary {
                fields.insert("primary".to_owned(), primary);
            }
            Value::Object(fields)
        });
    prop::collection::vec(element, 0..4).prop_map(Value::Array)
}

/// An object of attributes, as a no-path operation carries.
fn attributes() -> impl Strategy<Value = Value> {
    let value = prop_oneof![3 => scalar(), 1 => element_list(), 1 => any_json()];
    prop::collection::vec((prop::sample::select(KEYS), value), 0..4).prop_map(|fields| {
        Value::Object(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    })
}

/// One operation on a resource of `kind`: usually an object with op, path and value,
/// sometimes anything at all.
fn operation(kind: ResourceKind) -> impl Strategy<Value = Value> {
    let paths = match kind {
        ResourceKind::User => USER_PATHS,
        ResourceKind::Group => GROUP_PATHS,
    };
    let op = prop_oneof![
        19 => prop::sample::select(vec!["add", "Add", "replace", "REPLACE", "remove", "Remove"])
            .prop_map(Value::from),
        1 => any_json(),
    ];
    let with_path = prop_oneof![
        20 => prop::sample::select(paths).prop_map(Value::from),
        3 => prop::sample::select(BROKEN_PATHS).prop_map(Value::from),
        1 => string().prop_map(Value::from),
        1 => any_json(),
    ]
    .prop_flat_map(|path| {
        let value = prop_oneof![
            1 => Just(None),
            4 => scalar().prop_map(Some),
            3 => element_list().prop_map(Some),
            2 => any_json().prop_map(Some),
        ];
        (Just(Some(path)), value)
    });
    let without_path = prop_oneof![
        8 => attributes().prop_map(Some),
        1 => any_json().prop_map(Some),
        1 => Just(None),
    ]
    .prop_map(|value| (None, value));
    let target = prop_oneof![4 => with_path, 1 => without_path];
    let extra = prop::option::weighted(0.05, (prop::sample::select(KEYS), any_json()));
    prop_oneof![
        30 => (op, target, extra).prop_map(|(op, (path, value), extra)| {
            let mut fields = Map::new();
            fields.insert("op".to_owned(), op);
            if let Some(path) = path {
                fields.insert("path".to_owned(), path);
            }
            if let Some(value) = value {
                fields.insert("value".to_owned(), value);
            }
            if let Some((key, v)) = extra {
                fields.insert(key.to_owned(), v);
            }
            Value::Object(fields)
        }),
        1 => any_json(),
    ]
}

/// A PATCH body for `kind`: mostly a well-formed envelope, sometimes arbitrary JSON.
fn patch_body(kind: ResourceKind) -> impl Strategy<Value = Value> {
    prop_oneof![
        18 => prop::collection::vec(operation(kind), 1..4)
            .prop_map(|ops| json!({"schemas": [PATCH_OP_SCHEMA], "Operations": ops})),
        1 => (any_json(), any_json())
            .prop_map(|(schemas, ops)| json!({"schemas": schemas, "Operations": ops})),
        1 => any_json(),
    ]
}

/// A User with a bit of everything, so filters and removes find something.
fn rich_user() -> Value {
    user_with(json!({
        "displayName": "Babs",
        "active": true,
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "addresses": [{"type": "work", "streetAddress": "100 Universal City Plaza"}],
        ENTERPRISE_USER_SCHEMA: {"employeeNumber": "701984", "manager": {"value": "m1"}}
    }))
}

/// Applies `body` and checks the outcome: success, or a 4xx error with a detail.
fn check(kind: ResourceKind, start: &Value, body: &Value) -> Result<(), TestCaseError> {
    let mut data = start.as_object().cloned().unwrap_or_default();
    match apply_patch(registry(), kind, ID, &mut data, body) {
        Ok(changes) => {
            prop_assert!(
                data.contains_key("schemas"),
                "{}",
                Value::Object(data.clone())
            );
            prop_assert!(!data.contains_key("members") && !data.contains_key("id"));
            if kind == ResourceKind::User {
                prop_assert!(changes.is_empty());
                prop_assert!(data.get("userName").is_some_and(Value::is_string));
            } else {
                prop_assert!(data.get("displayName").is_some_and(Value::is_string));
            }
        }
        Err(e) => {
            prop_assert!((400..500).contains(&e.status), "{e} for {body}");
            prop_assert!(!e.detail.is_empty(), "empty detail for {body}");
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn arbitrary_patch_bodies_on_a_user_fail_cleanly(body in patch_body(ResourceKind::User)) {
        check(ResourceKind::User, &rich_user(), &body)?;
    }

    #[test]
    fn arbitrary_patch_bodies_on_a_group_fail_cleanly(body in patch_body(ResourceKind::Group)) {
        check(ResourceKind::Group, &group(), &body)?;
    }
}
