//! Mapping parse and evaluation against realistic resources.

use serde_json::{Value, json};

use super::Mapping;
use crate::scim::{ResourceKind, registry};

fn user() -> Value {
    json!({
        "id": "2819c223",
        "userName": "bjensen@example.com",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "active": false,
        "emails": [
            {"value": "home@example.com", "type": "home"},
            {"value": "work@example.com", "type": "work", "primary": true},
        ],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
            "employeeNumber": "701984",
            "manager": {"value": "26118915"}
        }
    })
}

fn eval(text: &str) -> Option<Value> {
    Mapping::parse(registry(), ResourceKind::User, text)
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .evaluate(&user())
}

#[test]
fn paths_templates_and_constants() {
    assert_eq!(eval("userName"), Some(json!("bjensen@example.com")));
    assert_eq!(eval("USERNAME"), Some(json!("bjensen@example.com")));
    assert_eq!(eval("id"), Some(json!("2819c223")));
    assert_eq!(eval("name.familyName"), Some(json!("Jensen")));
    assert_eq!(eval("active"), Some(json!(false)));
    assert_eq!(
        eval(r#"emails[type eq "work"].value"#),
        Some(json!(["work@example.com"]))
    );
    assert_eq!(
        eval("emails"),
        Some(json!(["work@example.com", "home@example.com"])),
        "primary first"
    );
    assert_eq!(
        eval("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber"),
        Some(json!("701984"))
    );
    assert_eq!(
        eval("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value"),
        Some(json!("26118915"))
    );
    assert_eq!(
        eval("{name.givenName} {name.familyName}"),
        Some(json!("Barbara Jensen"))
    );
    assert_eq!(eval("{{{userName}}}"), Some(json!("{bjensen@example.com}")));
    assert_eq!(
        eval("{name.middleName} {name.familyName}"),
        Some(json!("Jensen"))
    );
    assert_eq!(eval("{name.middleName} {nickName}"), None);
    assert_eq!(eval("=inetOrgPerson"), Some(json!("inetOrgPerson")));
    assert_eq!(eval("title"), None);
    assert_eq!(eval(r#"emails[type eq "other"].value"#), None);
}

#[test]
fn errors_say_what_to_write_instead() {
    for (text, needle) in [
        ("nosuch", "names no attribute"),
        ("employeeNumber", "URN"),
        ("password", "never stored"),
        ("name.nosuch", "names no attribute"),
        (r#"userName[value eq "x"]"#, "multi-valued"),
        ("{userName", "unclosed"),
        ("a}", "unmatched"),
        ("{nosuch}", "names no attribute"),
        ("name", "sub-attributes"),
    ] {
        let err = Mapping::parse(registry(), ResourceKind::User, text).expect_err(text);
        assert!(err.contains(needle), "{text}: {err}");
    }
    assert!(Mapping::parse(registry(), ResourceKind::Group, "displayName").is_ok());
    assert!(Mapping::parse(registry(), ResourceKind::Group, "userName").is_err());
}
