//! Property tests: printing round-trips, parsers are total, evaluation obeys logic.

use super::*;

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
