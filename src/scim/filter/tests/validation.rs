//! Validation tests: what cannot match is refused, what clients send is accepted.

use super::*;

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
