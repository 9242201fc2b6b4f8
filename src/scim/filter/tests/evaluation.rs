//! Evaluator tests: caseExact folding, types, presence, multi-valued and extension
//! attributes, value paths, numbers.

use super::*;

#[test]
fn strings_honour_case_exact_with_unicode_folding() {
    let user = bjensen();
    assert!(eval("userName eq \"BJENSEN@example.COM\"", &user));
    assert!(eval("name.givenName eq \"ÉMILE\"", &user));
    assert!(eval("name.givenName sw \"éM\"", &user));
    assert!(eval("externalId eq \"BJensen-Ext\"", &user));
    assert!(!eval("externalId eq \"bjensen-ext\"", &user));
    assert!(!eval(
        "id eq \"2819C223-7F76-453A-919D-413861904646\"",
        &user
    ));
    assert!(eval("title ew \"GUIDE\" and title co \"r g\"", &user));
    assert!(eval("title gt \"tour\" and title lt \"tourz\"", &user));
    assert!(eval(
        "title ge \"TOUR GUIDE\" and title le \"tour guide\"",
        &user
    ));
}

#[test]
fn booleans_datetimes_and_null() {
    let user = bjensen();
    assert!(eval("active eq true", &user));
    assert!(eval("active eq \"TRUE\"", &user));
    assert!(eval("active ne false", &user));
    assert!(!eval("active eq false", &user));
    assert!(eval(
        "meta.lastModified eq \"2011-05-13T06:42:34+02:00\"",
        &user
    ));
    assert!(eval("meta.created lt \"2010-01-23T04:56:22.001Z\"", &user));
    assert!(eval("meta.created gt \"2010-01-23\"", &user));
    assert!(eval("nickName eq null and title ne null", &user));
    assert!(!eval("title eq null", &user));
    let mut inactive = bjensen();
    inactive["active"] = json!("False");
    assert!(eval("active eq false", &inactive));
}

#[test]
fn presence_and_missing_attributes() {
    let mut user = bjensen();
    user["nickName"] = json!("");
    user["phoneNumbers"] = json!([]);
    user["addresses"] = json!([{}]);
    user["locale"] = Value::Null;
    for absent in [
        "nickName pr",
        "phoneNumbers pr",
        "addresses pr",
        "locale pr",
        "profileUrl pr",
        "name.middleName pr",
    ] {
        assert!(!eval(absent, &user), "{absent}");
    }
    assert!(eval(
        "emails pr and emails.type pr and name pr and active pr",
        &user
    ));
    assert!(eval("profileUrl ne \"x\"", &user));
    assert!(!eval("profileUrl eq \"x\"", &user));
    assert!(eval("not (profileUrl eq \"x\")", &user));
}

#[test]
fn multi_valued_attributes_match_any_value() {
    let user = bjensen();
    assert!(eval("emails.value eq \"babs@jensen.org\"", &user));
    assert!(eval("emails eq \"BABS@jensen.org\"", &user));
    assert!(eval(
        "emails.type eq \"home\" and emails.type eq \"work\"",
        &user
    ));
    assert!(!eval(
        "emails[type eq \"home\" and value co \"example.com\"]",
        &user
    ));
    assert!(eval("emails[type eq \"home\" or primary eq true]", &user));
    assert!(eval(
        "emails[type eq \"work\"].value eq \"bjensen@example.com\"",
        &user
    ));
    assert!(!eval(
        "emails[type eq \"home\"].value eq \"bjensen@example.com\"",
        &user
    ));
    assert!(eval("emails[not (primary pr)]", &user));
    assert!(eval(
        "schemas eq \"urn:ietf:params:scim:schemas:core:2.0:user\"",
        &user
    ));
}

#[test]
fn extension_attributes_live_under_their_urn() {
    let user = bjensen();
    assert!(eval(
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq \"701984\"",
        &user
    ));
    assert!(eval(
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value sw \"2611\"",
        &user
    ));
    assert!(!eval(
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department pr",
        &user
    ));
    let loose = json!({
        "USERNAME": "x",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user": {"EmployeeNumber": "7"}
    });
    assert!(eval("userName eq \"X\"", &loose));
    assert!(eval(
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq \"7\"",
        &loose
    ));
}

#[test]
fn groups_match_members_by_value_path() {
    let reg = Registry::new();
    let group = json!({"displayName": "Admins", "members": [{"value": "u1", "type": "User"}, {"value": "u2"}]});
    let f = parse_filter("displayName eq \"admins\" and members[value eq \"u2\"]").expect("parses");
    assert!(matches(&reg, ResourceKind::Group, &f, &group));
    let f = parse_filter("members[value eq \"U2\"]").expect("parses");
    assert!(
        !matches(&reg, ResourceKind::Group, &f, &group),
        "members.value is caseExact"
    );
}

#[test]
fn matches_element_evaluates_one_element() {
    let reg = Registry::new();
    let emails = reg
        .resolve(USER, None, "emails", None)
        .expect("emails")
        .attr;
    let patch =
        parse_patch_path("emails[type eq \"WORK\" and not (primary eq false)]").expect("parses");
    let inner = patch.filter.expect("has a filter");
    assert!(matches_element(
        &reg,
        USER,
        emails,
        &inner,
        &json!({"type": "work", "value": "a@b"})
    ));
    assert!(!matches_element(
        &reg,
        USER,
        emails,
        &inner,
        &json!({"type": "work", "primary": false})
    ));
    assert!(!matches_element(
        &reg,
        USER,
        emails,
        &inner,
        &json!({"type": "home"})
    ));
    assert!(!matches_element(
        &reg,
        USER,
        emails,
        &pr("nope"),
        &json!({"nope": "x"})
    ));
}

/// A complex attribute with numeric sub-attributes (the standard schemas have none).
fn counters() -> AttributeDef {
    let sub = |name: &'static str, ty: AttrType| AttributeDef {
        name,
        ty,
        multi_valued: false,
        required: false,
        case_exact: false,
        mutability: Mutability::ReadWrite,
        returned: Returned::Default,
        uniqueness: Uniqueness::None,
        canonical_values: &[],
        reference_types: &[],
        sub_attributes: Vec::new(),
        description: "",
    };
    AttributeDef {
        multi_valued: true,
        sub_attributes: vec![
            sub("count", AttrType::Integer),
            sub("ratio", AttrType::Decimal),
        ],
        ..sub("counters", AttrType::Complex)
    }
}

#[test]
fn numbers_compare_numerically() {
    let reg = Registry::new();
    let attr = counters();
    let element = json!({"count": 9_007_199_254_740_993_i64, "ratio": 0.5});
    let check = |filter: &str| {
        let f = parse_filter(filter).expect("parses");
        matches_element(&reg, USER, &attr, &f, &element)
    };
    assert!(check("count gt 9007199254740992"));
    assert!(check("count eq 9007199254740993"));
    assert!(!check("count eq 9007199254740992"));
    assert!(check(
        "count ge 9.0e15 and ratio lt 1 and ratio ge 0.5 and ratio le 5e-1"
    ));
    assert!(check("ratio eq 0.50 and ratio ne 1"));
    assert!(!check("ratio gt 0.5 or count lt -1"));
    assert!(!check("count co \"9\""));
}
