//! Tests of the filter parser and evaluator: unit tests per feature, the RFC 7644
//! section 3.4.2.2 examples, and properties (round trip, no panics, logic laws, errors
//! of arbitrary text are 400 invalidFilter).

mod fuzz;

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

// ------------------------------------------------------------------ parsing

#[test]
fn parses_every_operator_in_any_case() {
    let ops = [
        ("eq", CompareOp::Eq),
        ("NE", CompareOp::Ne),
        ("Co", CompareOp::Co),
        ("sW", CompareOp::Sw),
        ("ew", CompareOp::Ew),
        ("gt", CompareOp::Gt),
        ("GE", CompareOp::Ge),
        ("lt", CompareOp::Lt),
        ("Le", CompareOp::Le),
    ];
    for (word, op) in ops {
        assert_eq!(
            parse_filter(&format!("title {word} \"x\"")),
            Ok(cmp("title", op, s("x"))),
            "{word}"
        );
    }
    assert_eq!(parse_filter("title PR"), Ok(pr("title")));
    assert_eq!(
        parse_filter("active eq TRUE"),
        Ok(cmp("active", CompareOp::Eq, CompValue::Bool(true)))
    );
    assert_eq!(
        parse_filter("active eq False"),
        Ok(cmp("active", CompareOp::Eq, CompValue::Bool(false)))
    );
    assert_eq!(
        parse_filter("title eq NULL"),
        Ok(cmp("title", CompareOp::Eq, CompValue::Null))
    );
    assert_eq!(
        parse_filter("a pr AND b pr Or NOT (c pr)"),
        Ok(or(and(pr("a"), pr("b")), not(pr("c"))))
    );
}

#[test]
fn and_binds_tighter_than_or() {
    assert_eq!(
        parse_filter("a pr or b pr and c pr"),
        Ok(or(pr("a"), and(pr("b"), pr("c"))))
    );
    assert_eq!(
        parse_filter("a pr and b pr or c pr"),
        Ok(or(and(pr("a"), pr("b")), pr("c")))
    );
    assert_eq!(
        parse_filter("(a pr or b pr) and c pr"),
        Ok(and(or(pr("a"), pr("b")), pr("c")))
    );
    assert_eq!(
        parse_filter("not (a pr) and b pr"),
        Ok(and(not(pr("a")), pr("b")))
    );
    assert_eq!(
        parse_filter("a pr or b pr or c pr"),
        Ok(or(or(pr("a"), pr("b")), pr("c")))
    );
}

#[test]
fn long_flat_chains_stay_shallow() {
    fn depth(f: &Filter) -> usize {
        match f {
            Filter::And(a, b) | Filter::Or(a, b) => 1 + depth(a).max(depth(b)),
            Filter::Not(a) | Filter::ValuePath { filter: a, .. } => 1 + depth(a),
            _ => 1,
        }
    }
    let chain = vec!["id eq \"x\""; 200].join(" or ");
    let f = parse_filter(&chain).expect("a long or-list parses");
    assert!(depth(&f) <= 9, "depth {}", depth(&f));
}

#[test]
fn parses_sub_attributes_urns_and_ref() {
    assert_eq!(
        path("name.givenName"),
        AttrPath {
            urn: None,
            name: "name".into(),
            sub: Some("givenName".into())
        }
    );
    assert_eq!(
        path("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber"),
        AttrPath {
            urn: Some(ENTERPRISE_USER_SCHEMA.into()),
            name: "employeeNumber".into(),
            sub: None
        }
    );
    assert_eq!(
        path("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value"),
        AttrPath {
            urn: Some(ENTERPRISE_USER_SCHEMA.into()),
            name: "manager".into(),
            sub: Some("value".into())
        }
    );
    assert_eq!(
        path("members.$ref"),
        AttrPath {
            urn: None,
            name: "members".into(),
            sub: Some("$ref".into())
        }
    );
    assert_eq!(
        path("  userName "),
        AttrPath {
            urn: None,
            name: "userName".into(),
            sub: None
        }
    );
    assert_eq!(
        parse_attr_path("name.givenName.x").map_err(|e| e.position),
        Err(14)
    );
    assert_eq!(parse_attr_path("1abc").map_err(|e| e.position), Err(0));
    assert_eq!(parse_attr_path(":name").map_err(|e| e.position), Err(0));
    assert_eq!(parse_attr_path("urn:x:").map_err(|e| e.position), Err(6));
    assert!(parse_attr_path("").is_err());
}

#[test]
fn parses_value_paths() {
    let inner = and(
        cmp("type", CompareOp::Eq, s("work")),
        cmp("value", CompareOp::Co, s("@example.com")),
    );
    let expected = Filter::ValuePath {
        path: path("emails"),
        filter: Box::new(inner),
    };
    assert_eq!(
        parse_filter("emails[type eq \"work\" and value co \"@example.com\"]"),
        Ok(expected)
    );
    // `valuePath.sub op value`, which clients send, means one element satisfying both.
    let desugared = Filter::ValuePath {
        path: path("emails"),
        filter: Box::new(and(
            cmp("type", CompareOp::Eq, s("work")),
            cmp("value", CompareOp::Eq, s("a@b")),
        )),
    };
    assert_eq!(
        parse_filter("emails[type eq \"work\"].value eq \"a@b\""),
        Ok(desugared)
    );
    assert!(
        err("emails[type eq \"work\" and addresses[type pr]]")
            .message
            .contains("cannot be nested")
    );
    assert_eq!(err("emails.value[type pr]").position, 0);
    assert!(
        err("emails[type pr")
            .message
            .contains("to close the \"[\" at position 6")
    );
}

#[test]
fn parses_patch_paths() {
    let p = parse_patch_path("members[value eq \"2819c223\"]").expect("parses");
    assert_eq!(p.attr, path("members"));
    assert_eq!(p.filter, Some(cmp("value", CompareOp::Eq, s("2819c223"))));
    assert_eq!(p.sub, None);
    let p = parse_patch_path("emails[type eq \"work\"].value").expect("parses");
    assert_eq!(
        (p.filter.is_some(), p.sub.as_deref()),
        (true, Some("value"))
    );
    assert_eq!(p.to_string(), "emails[type eq \"work\"].value");
    let p = parse_patch_path("urn:ietf:params:scim:schemas:core:2.0:User:name.givenName")
        .expect("parses");
    assert_eq!(p.attr.urn.as_deref(), Some(USER_SCHEMA));
    assert_eq!(p.attr.sub.as_deref(), Some("givenName"));
    let p = parse_patch_path(
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
    );
    assert_eq!(p.map(|p| p.attr.name), Ok("employeeNumber".to_owned()));
    assert_eq!(
        parse_patch_path("name.familyName").map(|p| p.attr.sub),
        Ok(Some("familyName".to_owned()))
    );
    assert_eq!(
        parse_patch_path("emails[type eq \"work\"].").map_err(|e| e.position),
        Err(23)
    );
    assert_eq!(
        parse_patch_path("emails[type eq \"work\"] x").map_err(|e| e.position),
        Err(23)
    );
    assert!(parse_patch_path("").is_err());
}

#[test]
fn parses_string_escapes_and_numbers() {
    let f = parse_filter(r#"title eq "a\"b\\c\/d\u00e9\ud83d\ude00\n""#);
    assert_eq!(f, Ok(cmp("title", CompareOp::Eq, s("a\"b\\c/dé😀\n"))));
    assert_eq!(
        parse_filter("title eq \"日本語 ✓\""),
        Ok(cmp("title", CompareOp::Eq, s("日本語 ✓")))
    );
    for (text, n) in [
        ("42", json!(42)),
        ("-7", json!(-7)),
        ("-1.5", json!(-1.5)),
        ("2e3", json!(2000.0)),
        ("1.5E-3", json!(0.0015)),
    ] {
        let expected = n.as_number().cloned().map(CompValue::Num);
        assert_eq!(
            parse_filter(&format!("x gt {text}")),
            Ok(cmp("x", CompareOp::Gt, expected.expect("number")))
        );
    }
    for bad in ["01", "-", "1.", "1e", "1e400", "1-2", "+1"] {
        assert!(parse_filter(&format!("x gt {bad}")).is_err(), "{bad}");
    }
    assert_eq!(err(r#"title eq "a\qb""#).position, 11);
    assert_eq!(err(r#"title eq "\ud83d""#).position, 10);
    assert_eq!(err(r#"title eq "\ude00""#).position, 10);
    assert_eq!(err(r#"title eq "\u12"#).position, 10);
    assert_eq!(err("title eq \"abc").position, 9);
    assert!(parse_filter("meta.lastModified gt \"2011-05-13T04:42:34+02:00\"").is_ok());
}

#[test]
fn errors_say_where_and_what_was_expected() {
    let e = err("userName is \"bjensen\"");
    assert_eq!(e.position, 9);
    assert!(e.message.starts_with(
        "expected a comparison operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr) after \"userName\""
    ));
    let scim: crate::scim::ScimError = err("userName eq \"x\" and userName").into();
    assert_eq!(scim.scim_type, Some(ScimType::InvalidFilter));
    assert!(
        scim.detail
            .starts_with("invalid filter at position 28: expected a comparison operator"),
        "{}",
        scim.detail
    );
    assert!(err("userName eq bjensen").message.contains("double quotes"));
    assert_eq!(err("userName eq").position, 11);
    assert_eq!(err("").position, 0);
    assert_eq!(err("   ").position, 0);
    assert_eq!(err("userName pr pr").position, 12);
    assert_eq!(err("(userName pr").position, 12);
    assert_eq!(err("userName pr)").position, 11);
    assert_eq!(err("not userName pr").position, 4);
    assert_eq!(err("and userName pr").position, 0);
    assert_eq!(err("userName pr or").position, 14);
    assert_eq!(err("é eq \"x\"").position, 0);
    assert_eq!(err("title eq \"é\" é").position, 13);
    assert_eq!(err("userName eq \"x\"\u{1F600}").position, 15);
    assert_eq!(
        format!("{}", err("x")),
        "at position 1: expected a comparison operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr) after \"x\", found the end of the filter"
    );
}

#[test]
fn rejects_oversized_and_overly_nested_input() {
    assert!(parse_filter(&"(".repeat(10_000)).is_err());
    assert_eq!(err(&"(".repeat(4_000)).position, MAX_FILTER_DEPTH);
    assert_eq!(err(&"[".repeat(4_000)).position, 0);
    assert_eq!(err(&"a[".repeat(2_000)).position, 3);
    let nots = |n: usize| format!("{}a pr{}", "not (".repeat(n), ")".repeat(n));
    assert!(parse_filter(&nots(MAX_FILTER_DEPTH)).is_ok());
    assert!(
        err(&nots(MAX_FILTER_DEPTH + 1))
            .message
            .contains("more than 32 levels")
    );
    // `not (a and b)` is two levels: printed, it reads `not ((a pr and b pr))`.
    let deep_and = format!(
        "{}a pr and b pr{}",
        "not (".repeat(MAX_FILTER_DEPTH),
        ")".repeat(MAX_FILTER_DEPTH)
    );
    assert!(
        err(&deep_and)
            .message
            .contains("\"and\", \"or\", \"not\" and value filters")
    );
    assert!(
        err(&"not (".repeat(800))
            .message
            .contains("nests more than 32 levels")
    );
    let nested = |n: usize| format!("{}a pr{}", "(".repeat(n), ")".repeat(n));
    assert!(parse_filter(&nested(MAX_FILTER_DEPTH)).is_ok());
    assert!(parse_filter(&nested(MAX_FILTER_DEPTH + 1)).is_err());
    let long = format!("title eq \"{}\"", "x".repeat(MAX_FILTER_LEN));
    assert!(err(&long).message.contains("at most 4096 bytes"));
    assert!(parse_patch_path(&long).is_err());
    assert!(parse_attr_path(&"é".repeat(3000)).is_err());
}

#[test]
fn rfc7644_example_filters_parse_validate_and_match() {
    let user = bjensen();
    let examples = [
        ("userName eq \"bjensen@example.com\"", true),
        ("name.familyName co \"O'Malley\"", true),
        ("userName sw \"J\"", false),
        (
            "urn:ietf:params:scim:schemas:core:2.0:User:userName sw \"B\"",
            true,
        ),
        ("title pr", true),
        ("meta.lastModified gt \"2011-05-13T04:42:34Z\"", false),
        ("meta.lastModified ge \"2011-05-13T04:42:34Z\"", true),
        ("meta.lastModified lt \"2011-05-13T04:42:34Z\"", false),
        ("meta.lastModified le \"2011-05-13T04:42:34Z\"", true),
        ("title pr and userType eq \"Employee\"", true),
        ("title pr or userType eq \"Intern\"", true),
        (
            "schemas eq \"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\"",
            true,
        ),
        (
            "userType eq \"Employee\" and (emails co \"example.com\" or emails.value co \"example.org\")",
            true,
        ),
        (
            "userType ne \"Employee\" and not (emails co \"example.com\" or emails.value co \"example.org\")",
            false,
        ),
        (
            "userType eq \"Employee\" and (emails.type eq \"work\")",
            true,
        ),
        (
            "userType eq \"Employee\" and emails[type eq \"work\" and value co \"@example.com\"]",
            true,
        ),
        (
            "emails[type eq \"work\" and value co \"@example.com\"] or ims[type eq \"xmpp\" and value co \"@foo.com\"]",
            true,
        ),
    ];
    for (filter, expected) in examples {
        assert_eq!(eval(filter, &user), expected, "{filter}");
    }
}

// ------------------------------------------------------------------ validation

#[test]
fn validation_rejects_what_cannot_match() {
    assert!(invalid("nickname2 eq \"x\"").contains("unknown attribute \"nickname2\""));
    assert!(invalid("employeeNumber eq \"1\"").contains("need their schema URN"));
    assert!(invalid("name.nope eq \"x\"").contains("has no sub-attribute \"nope\""));
    assert!(invalid("userName.x pr").contains("is not complex"));
    assert!(invalid("urn:example:Foo:bar pr").contains("unknown schema"));
    assert!(
        invalid("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:nope pr")
            .contains("nope")
    );
    assert!(invalid("name eq \"x\"").contains("is complex"));
    assert!(invalid("active gt true").contains("only be compared with eq and ne"));
    assert!(invalid("active co \"t\"").contains("cannot be compared with co"));
    assert!(invalid("active eq \"abc\"").contains("true or false"));
    assert!(invalid("active eq 1").contains("true or false"));
    assert!(invalid("userName eq 42").contains("quoted string"));
    assert!(invalid("meta.created gt \"yesterday\"").contains("RFC 3339"));
    assert!(invalid("title gt null").contains("null"));
    assert!(invalid("password eq \"secret\"").contains("never returned"));
    assert!(
        invalid("emails[nope eq \"x\"]")
            .contains("unknown attribute \"nope\" inside \"emails[...]\"")
    );
    assert!(invalid("emails[name.givenName pr]").contains("inside \"emails[...]\""));
    assert!(invalid("userName[value pr]").contains("complex attribute"));
    let nested = Filter::ValuePath {
        path: path("emails"),
        filter: Box::new(Filter::ValuePath {
            path: path("emails"),
            filter: Box::new(pr("type")),
        }),
    };
    assert!(validate(&Registry::new(), USER, &nested).is_err());
}

#[test]
fn validation_accepts_what_clients_send() {
    let reg = Registry::new();
    for filter in [
        "active eq \"True\"",
        "active eq \"false\"",
        "active ne true",
        "emails co \"@example.com\"",
        "emails pr",
        "name pr",
        "userName eq \"x\" and externalId eq \"y\"",
        "emails[type eq \"work\"].value eq \"a@b\"",
        "meta.created sw \"2011\"",
        "meta.created gt \"2011-05-13\"",
        "title eq null",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager pr",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq \"m1\"",
        "urn:ietf:params:scim:schemas:core:2.0:User:meta.version pr",
        "groups.$ref pr",
        "USERNAME Eq \"x\"",
    ] {
        let f = parse_filter(filter).expect("parses");
        assert_eq!(validate(&reg, USER, &f), Ok(()), "{filter}");
    }
    let members =
        parse_filter("displayName eq \"Admins\" and members[value eq \"u1\"]").expect("parses");
    assert_eq!(validate(&reg, ResourceKind::Group, &members), Ok(()));
    assert!(
        validate(
            &reg,
            ResourceKind::Group,
            &parse_filter("userName pr").expect("parses")
        )
        .is_err()
    );
}

#[test]
fn queries_refuse_membership_paths_they_cannot_evaluate() {
    let reg = Registry::new();
    for (kind, filter) in [
        (ResourceKind::Group, "members[value eq \"u1\"]"),
        (
            ResourceKind::Group,
            "displayName eq \"A\" and members.value eq \"u1\"",
        ),
        (ResourceKind::Group, "members eq \"u1\""),
        (ResourceKind::Group, "not (members pr)"),
        (
            ResourceKind::Group,
            "urn:ietf:params:scim:schemas:core:2.0:Group:members pr",
        ),
        (USER, "groups.value eq \"g1\""),
        (USER, "userName eq \"x\" or groups[display eq \"Admins\"]"),
    ] {
        let f = parse_filter(filter).expect("parses");
        assert_eq!(validate(&reg, kind, &f), Ok(()), "{filter}");
        let e = validate_query(&reg, kind, &f).expect_err(filter);
        assert_eq!(e.status, 400, "{filter}");
        assert_eq!(e.scim_type, Some(ScimType::InvalidFilter), "{filter}");
        assert!(e.detail.contains("membership is not searchable"), "{e}");
    }
    for (kind, filter) in [
        (ResourceKind::Group, "displayName eq \"members\""),
        (
            USER,
            "userName eq \"groups\" and emails[type eq \"work\"] and title pr",
        ),
    ] {
        let f = parse_filter(filter).expect("parses");
        assert_eq!(validate_query(&reg, kind, &f), Ok(()), "{filter}");
    }
}

// ------------------------------------------------------------------ evaluation

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

// ------------------------------------------------------------------ properties

fn any_path() -> impl Strategy<Value = AttrPath> + Clone {
    let paths = [
        "userName",
        "name.givenName",
        "members.$ref",
        "x-attr_1",
        "emails",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
        "urn:ietf:params:scim:schemas:core:2.0:User:name.familyName",
    ];
    prop::sample::select(paths.to_vec()).prop_map(path)
}

fn any_value() -> impl Strategy<Value = CompValue> {
    prop_oneof![
        any::<String>().prop_map(CompValue::Str),
        "[a\"\\\\/é😀\n\t ]{0,8}".prop_map(CompValue::Str),
        any::<i64>().prop_map(|n| CompValue::Num(n.into())),
        any::<u64>().prop_map(|n| CompValue::Num(n.into())),
        any::<f64>()
            .prop_filter_map("finite", serde_json::Number::from_f64)
            .prop_map(CompValue::Num),
        any::<bool>().prop_map(CompValue::Bool),
        Just(CompValue::Null),
    ]
}

fn any_op() -> impl Strategy<Value = CompareOp> {
    use CompareOp::*;
    prop::sample::select(vec![Eq, Ne, Co, Sw, Ew, Gt, Ge, Lt, Le])
}

fn attr_expr(paths: impl Strategy<Value = AttrPath> + Clone) -> impl Strategy<Value = Filter> {
    prop_oneof![
        (paths.clone(), any_op(), any_value()).prop_map(|(path, op, value)| Filter::Compare {
            path,
            op,
            value
        }),
        paths.prop_map(Filter::Present),
    ]
}

fn logic(leaf: BoxedStrategy<Filter>, depth: u32) -> BoxedStrategy<Filter> {
    leaf.prop_recursive(depth, 24, 2, |f| {
        prop_oneof![
            (f.clone(), f.clone()).prop_map(|(a, b)| and(a, b)),
            (f.clone(), f.clone()).prop_map(|(a, b)| or(a, b)),
            f.prop_map(not),
        ]
    })
    .boxed()
}

fn any_filter() -> BoxedStrategy<Filter> {
    let inner_paths = prop::sample::select(vec!["type", "value", "$ref", "primary"]).prop_map(path);
    let value_path = (
        prop::sample::select(vec!["emails", "members"]),
        logic(attr_expr(inner_paths).boxed(), 2),
    )
        .prop_map(|(p, inner)| Filter::ValuePath {
            path: path(p),
            filter: Box::new(inner),
        });
    logic(
        prop_oneof![3 => attr_expr(any_path()), 1 => value_path].boxed(),
        4,
    )
}

/// Paths and values that make sense for the User schema, so that evaluation is exercised.
fn user_filter() -> BoxedStrategy<Filter> {
    let names = ["alice", "Alice", "bob", "émile", "a", ""];
    let string_paths = prop::sample::select(vec![
        "userName",
        "name.givenName",
        "emails",
        "emails.type",
        "title",
    ]);
    let strings = (string_paths, any_op(), prop::sample::select(names.to_vec()))
        .prop_map(|(p, op, v)| cmp(p, op, s(v)));
    let dates = prop::sample::select(vec![
        "2020-01-01T00:00:00Z",
        "2021-06-01T12:00:00+02:00",
        "2022-01-01",
    ]);
    let instants = (any_op(), dates).prop_map(|(op, v)| cmp("meta.created", op, s(v)));
    let bools = (any::<bool>(), prop::bool::ANY).prop_map(|(b, as_str)| {
        let value = if as_str {
            s(&b.to_string().to_uppercase())
        } else {
            CompValue::Bool(b)
        };
        cmp("active", CompareOp::Eq, value)
    });
    let present = prop::sample::select(vec![
        "title",
        "emails",
        "name.givenName",
        "active",
        "meta.created",
    ])
    .prop_map(pr);
    let work = prop::sample::select(names.to_vec()).prop_map(|v| {
        let inner = and(
            cmp("type", CompareOp::Eq, s("work")),
            cmp("value", CompareOp::Sw, s(v)),
        );
        Filter::ValuePath {
            path: path("emails"),
            filter: Box::new(inner),
        }
    });
    logic(
        prop_oneof![strings, instants, bools, present, work].boxed(),
        4,
    )
}

fn any_user() -> impl Strategy<Value = Value> {
    let name = prop::sample::select(vec!["alice", "ALICE", "bob", "Émile", "zed"]);
    let email = (
        prop::sample::select(vec!["alice@x", "bob@y", "a"]),
        prop::sample::select(vec!["work", "home"]),
    );
    let created = prop::sample::select(vec![
        "2020-01-01T00:00:00Z",
        "2021-06-01T10:00:00Z",
        "2023-03-03T03:03:03Z",
    ]);
    (
        name.clone(),
        prop::option::of(name),
        prop::option::of(any::<bool>()),
        prop::collection::vec(email, 0..3),
        created,
    )
        .prop_map(|(user_name, given, active, emails, created)| {
            let emails: Vec<Value> = emails
                .into_iter()
                .map(|(v, t)| json!({"value": v, "type": t}))
                .collect();
            json!({
                "userName": user_name,
                "name": {"givenName": given},
                "active": active,
                "emails": emails,
                "meta": {"created": created}
            })
        })
}

fn token_soup() -> impl Strategy<Value = String> {
    let tokens = vec![
        "(",
        ")",
        "[",
        "]",
        " ",
        "not",
        "and",
        "or",
        "pr",
        "eq",
        "gt",
        "userName",
        "emails",
        ".",
        ":",
        "\"",
        "\\",
        "\"x\"",
        "42",
        "-",
        "1e999",
        "é",
        "😀",
        "$ref",
        "\\u",
        "\\ud83d",
        "true",
        "null",
        "urn:ietf:params:scim:schemas:core:2.0:User:",
    ];
    prop::collection::vec(prop::sample::select(tokens), 0..40).prop_map(|t| t.concat())
}

proptest! {
    #[test]
    fn printing_then_parsing_gives_the_same_filter(f in any_filter()) {
        prop_assert_eq!(parse_filter(&f.to_string()), Ok(f));
    }

    #[test]
    fn parsers_never_panic_on_arbitrary_text(input in ".*") {
        check_total(&input)?;
    }

    #[test]
    fn parsers_never_panic_on_filter_tokens(input in token_soup()) {
        check_total(&input)?;
    }

    #[test]
    fn evaluation_obeys_logic(f in user_filter(), g in user_filter(), user in any_user()) {
        let reg = Registry::new();
        let m = |f: &Filter| matches(&reg, USER, f, &user);
        prop_assert_eq!(m(&not(f.clone())), !m(&f));
        prop_assert_eq!(m(&and(f.clone(), g.clone())), m(&f) && m(&g));
        prop_assert_eq!(m(&or(f.clone(), g.clone())), m(&f) || m(&g));
        prop_assert_eq!(m(&not(and(f.clone(), g.clone()))), m(&or(not(f.clone()), not(g.clone()))));
        let reparsed = parse_filter(&f.to_string());
        prop_assert!(reparsed.is_ok());
        if let Ok(r) = reparsed {
            prop_assert_eq!(m(&r), m(&f));
        }
    }

    #[test]
    fn ne_is_not_eq_on_single_valued_attributes(
        p in prop::sample::select(vec!["userName", "name.givenName", "title", "meta.created"]),
        v in prop::sample::select(vec!["alice", "ALICE", "Émile", "2020-01-01T00:00:00Z"]),
        user in any_user(),
    ) {
        let reg = Registry::new();
        let eq = cmp(p, CompareOp::Eq, s(v));
        let ne = cmp(p, CompareOp::Ne, s(v));
        prop_assert_eq!(matches(&reg, USER, &ne, &user), !matches(&reg, USER, &eq, &user));
    }
}

/// Every parser either fails with a position inside the input or returns something that
/// prints and parses back to itself; validation and evaluation of it do not panic.
fn check_total(input: &str) -> Result<(), TestCaseError> {
    let len = input.chars().count();
    match parse_filter(input) {
        Err(e) => prop_assert!(e.position <= len, "position {} > {}", e.position, len),
        Ok(f) => {
            prop_assert_eq!(parse_filter(&f.to_string()), Ok(f.clone()));
            let reg = Registry::new();
            let _ = validate(&reg, USER, &f);
            let _ = matches(&reg, USER, &f, &bjensen());
        }
    }
    if let Err(e) = parse_patch_path(input) {
        prop_assert!(e.position <= len);
    }
    if let Err(e) = parse_attr_path(input) {
        prop_assert!(e.position <= len);
    }
    Ok(())
}
