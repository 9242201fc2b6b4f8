//! Fuzzing bound: arbitrary text as a query filter never panics, and whatever is wrong
//! with it becomes 400 invalidFilter, whether the parser or the validation finds it.

use proptest::prelude::*;

use super::*;
use crate::scim::ScimError;

/// Filter-like text: fragments of real filters glued together, often almost valid.
fn filterish() -> impl Strategy<Value = String> {
    let fragments = vec![
        "userName",
        "emails",
        "members",
        "groups",
        "meta.created",
        "name.givenName",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
        "urn:ietf:params:scim:schemas:core:2.0:User:",
        "[type eq \"work\"]",
        ".value",
        " eq ",
        " ne ",
        " co ",
        " sw ",
        " gt ",
        " le ",
        " pr",
        " and ",
        " or ",
        "not ",
        "(",
        ")",
        "[",
        "]",
        "\"x@y\"",
        "\"",
        "\\\"",
        "true",
        "false",
        "null",
        "42",
        "-1.5e3",
        "\"2024-05-01T12:00:00Z\"",
        " ",
        "$ref",
        "é",
        "😀",
        "\u{0}",
        "\\u0041",
    ];
    prop_oneof![
        prop::collection::vec(prop::sample::select(fragments), 0..16).prop_map(|f| f.concat()),
        "\\PC{0,64}",
        ".{0,32}",
    ]
}

/// A parse or validation error must be 400 invalidFilter with a detail.
fn check_error(e: &ScimError, input: &str) -> Result<(), TestCaseError> {
    prop_assert_eq!(e.status, 400, "{} for {:?}", e, input);
    prop_assert_eq!(
        e.scim_type,
        Some(ScimType::InvalidFilter),
        "{} for {:?}",
        e,
        input
    );
    prop_assert!(!e.detail.is_empty());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn arbitrary_filters_are_answered_or_400_invalid_filter(input in filterish()) {
        let reg = Registry::new();
        match parse_filter(&input) {
            Err(e) => check_error(&ScimError::from(e), &input)?,
            Ok(f) => {
                for kind in [ResourceKind::User, ResourceKind::Group] {
                    if let Err(e) = validate_query(&reg, kind, &f) {
                        check_error(&e, &input)?;
                    }
                    let _ = matches(&reg, kind, &f, &bjensen());
                }
            }
        }
    }
}
