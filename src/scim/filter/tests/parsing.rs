//! Parser tests: every operator, precedence, paths, value paths, PATCH paths,
//! escapes and numbers, error positions, size bounds, and the RFC 7644 examples.

use super::*;

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
