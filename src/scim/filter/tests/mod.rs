//! Tests of the filter parser and evaluator: unit tests per feature, the RFC 7644
//! section 3.4.2.2 examples, and properties (round trip, no panics, logic laws, errors
//! of arbitrary text are 400 invalidFilter).

mod evaluation;
mod fuzz;
mod parsing;
mod properties;
mod validation;

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::scim::ScimType;
use crate::scim::schema::{
    AttrType, AttributeDef, ENTERPRISE_USER_SCHEMA, Mutability, Registry, ResourceKind, Returned,
    USER_SCHEMA, Uniqueness,
};

const USER: ResourceKind = ResourceKind::User;

fn path(s: &str) -> AttrPath {
    parse_attr_path(s).expect("test path parses")
}

fn cmp(p: &str, op: CompareOp, value: CompValue) -> Filter {
    Filter::Compare {
        path: path(p),
        op,
        value,
    }
}

fn s(v: &str) -> CompValue {
    CompValue::Str(v.to_owned())
}

fn pr(p: &str) -> Filter {
    Filter::Present(path(p))
}

fn and(a: Filter, b: Filter) -> Filter {
    Filter::And(Box::new(a), Box::new(b))
}

fn or(a: Filter, b: Filter) -> Filter {
    Filter::Or(Box::new(a), Box::new(b))
}

fn not(a: Filter) -> Filter {
    Filter::Not(Box::new(a))
}

fn err(input: &str) -> FilterError {
    parse_filter(input).expect_err("filter should be rejected")
}

fn bjensen() -> Value {
    json!({
        "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
        "id": "2819c223-7f76-453a-919d-413861904646",
        "externalId": "BJensen-Ext",
        "userName": "bjensen@example.com",
        "name": {"familyName": "O'Malley", "givenName": "Émile"},
        "title": "Tour Guide",
        "userType": "Employee",
        "active": true,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "ims": [{"value": "babs@foo.com", "type": "xmpp"}],
        "meta": {
            "resourceType": "User",
            "created": "2010-01-23T04:56:22Z",
            "lastModified": "2011-05-13T04:42:34Z",
            "version": "W/\"3694e05e9dff591\""
        },
        ENTERPRISE_USER_SCHEMA: {
            "employeeNumber": "701984",
            "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d", "displayName": "John Smith"}
        }
    })
}

fn eval(filter: &str, resource: &Value) -> bool {
    let reg = Registry::new();
    let f = parse_filter(filter).expect("test filter parses");
    validate(&reg, USER, &f).expect("test filter is valid");
    matches(&reg, USER, &f, resource)
}

fn invalid(filter: &str) -> String {
    let f = parse_filter(filter).expect("test filter parses");
    let e = validate(&Registry::new(), USER, &f).expect_err("filter should be invalid");
    assert_eq!(e.status, 400);
    assert_eq!(e.scim_type, Some(ScimType::InvalidFilter));
    e.detail
}
