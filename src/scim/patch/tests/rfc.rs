//! The examples of RFC 7644 section 3.5.2.

use serde_json::json;

use super::*;

#[test]
fn add_without_path_merges_attributes() {
    // 3.5.2.1: add emails and a nickname (the RFC spells it "nickname").
    let before = user_with(json!({"emails": [{"value": "bjensen@example.com", "type": "work"}]}));
    let after = patch_user(
        &before,
        json!([{"op": "add", "value": {
            "emails": [{"value": "babs@jensen.org", "type": "home"}],
            "nickname": "Babs"
        }}]),
    );
    assert_eq!(
        after,
        user_with(json!({
            "emails": [
                {"value": "bjensen@example.com", "type": "work"},
                {"value": "babs@jensen.org", "type": "home"}
            ],
            "nickName": "Babs"
        }))
    );
}

#[test]
fn add_members() {
    // 3.5.2.1: "$ref" and "display" are ignored.
    let changes = patch_group(json!([{"op": "add", "path": "members", "value": [{
        "display": "Babs Jensen",
        "$ref": "https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646",
        "value": "2819c223-7f76-453a-919d-413861904646"
    }]}]));
    assert_eq!(
        changes,
        vec![MemberChange::Add(vec![member(
            "2819c223-7f76-453a-919d-413861904646"
        )])]
    );
}

#[test]
fn add_to_a_single_valued_attribute_replaces_it() {
    let after = patch_user(
        &user_with(json!({"title": "Tour Guide"})),
        json!([{"op": "add", "path": "title", "value": "Lead"}]),
    );
    assert_eq!(after, user_with(json!({"title": "Lead"})));
}

#[test]
fn add_to_a_complex_attribute_merges_sub_attributes() {
    let before = user_with(json!({"name": {"givenName": "Barbara", "familyName": "Jensen"}}));
    let after = patch_user(
        &before,
        json!([{"op": "add", "path": "name", "value": {"middleName": "Jane"}}]),
    );
    assert_eq!(
        after["name"],
        json!({"givenName": "Barbara", "familyName": "Jensen", "middleName": "Jane"})
    );
}

#[test]
fn add_skips_exact_duplicates() {
    let before = user_with(json!({"emails": [{"value": "a@example.com", "type": "work"}]}));
    let after = patch_user(
        &before,
        json!([{"op": "add", "path": "emails", "value": [{"value": "a@example.com", "type": "work"}]}]),
    );
    assert_eq!(after, before);
}

#[test]
fn remove_one_member_by_filter() {
    // 3.5.2.2
    let changes = patch_group(
        json!([{"op": "remove", "path": "members[value eq \"2819c223-7f76-...413861904646\"]"}]),
    );
    assert_eq!(
        changes,
        vec![MemberChange::Remove(vec![
            "2819c223-7f76-...413861904646".into()
        ])]
    );
}

#[test]
fn remove_all_members() {
    // 3.5.2.2
    assert_eq!(
        patch_group(json!([{"op": "remove", "path": "members"}])),
        vec![MemberChange::Set(vec![])]
    );
}

#[test]
fn remove_all_members_then_add_some() {
    // 3.5.2.2: replacing all members by remove + add.
    let changes = patch_group(json!([
        {"op": "remove", "path": "members"},
        {"op": "add", "path": "members", "value": [
            {"display": "Babs Jensen", "value": "2819c223"},
            {"display": "James Smith", "value": "08e1d05d"}
        ]}
    ]));
    assert_eq!(
        changes,
        vec![
            MemberChange::Set(vec![]),
            MemberChange::Add(vec![member("2819c223"), member("08e1d05d")])
        ]
    );
}

#[test]
fn remove_elements_by_complex_filter() {
    // 3.5.2.2: emails[type eq "work" and value ew "example.com"]
    let before = user_with(json!({"emails": [
        {"value": "bjensen@example.com", "type": "work"},
        {"value": "babs@jensen.org", "type": "work"},
        {"value": "babs@example.com", "type": "home"}
    ]}));
    let after = patch_user(
        &before,
        json!([{"op": "remove", "path": "emails[type eq \"work\" and value ew \"example.com\"]"}]),
    );
    assert_eq!(
        after["emails"],
        json!([{"value": "babs@jensen.org", "type": "work"}, {"value": "babs@example.com", "type": "home"}])
    );
}

#[test]
fn removing_the_last_element_unassigns_the_attribute() {
    let before = user_with(json!({"emails": [{"value": "a@example.com", "type": "work"}]}));
    let after = patch_user(
        &before,
        json!([{"op": "remove", "path": "emails[type eq \"work\"]"}]),
    );
    assert_eq!(after, user());
}

#[test]
fn remove_with_a_filter_that_matches_nothing_is_no_target() {
    let before = user_with(json!({"emails": [{"value": "a@example.com", "type": "work"}]}));
    let e = patch_user_err(
        &before,
        json!([{"op": "remove", "path": "emails[type eq \"home\"]"}]),
    );
    assert_eq!(e.scim_type, Some(ScimType::NoTarget), "{e}");
    assert!(e.detail.contains("/Operations/0/path"), "{e}");
}

#[test]
fn remove_without_path_is_no_target() {
    let e = patch_user_err(&user(), json!([{"op": "remove"}]));
    assert_eq!(e.scim_type, Some(ScimType::NoTarget), "{e}");
}

#[test]
fn remove_sub_attributes() {
    let before = user_with(json!({
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "emails": [{"value": "a@example.com", "type": "work"}, {"value": "b@example.com", "type": "home"}]
    }));
    let after = patch_user(
        &before,
        json!([
            {"op": "remove", "path": "name.givenName"},
            {"op": "remove", "path": "emails[type eq \"work\"].type"},
        ]),
    );
    assert_eq!(
        after,
        user_with(json!({
            "name": {"familyName": "Jensen"},
            "emails": [{"value": "a@example.com"}, {"value": "b@example.com", "type": "home"}]
        }))
    );
    let after = patch_user(&after, json!([{"op": "remove", "path": "name.familyName"}]));
    assert!(
        after.get("name").is_none(),
        "an empty complex attribute is unassigned: {after}"
    );
}

#[test]
fn replace_all_members() {
    // 3.5.2.3
    let changes = patch_group(json!([{"op": "replace", "path": "members", "value": [
        {"display": "Babs Jensen", "value": "2819c223"},
        {"display": "James Smith", "value": "08e1d05d"}
    ]}]));
    assert_eq!(
        changes,
        vec![MemberChange::Set(vec![
            member("2819c223"),
            member("08e1d05d")
        ])]
    );
}

#[test]
fn replace_filtered_element() {
    // 3.5.2.3: addresses[type eq "work"]
    let before = user_with(json!({"addresses": [
        {"type": "work", "streetAddress": "100 Universal City Plaza", "locality": "Hollywood"},
        {"type": "home", "streetAddress": "456 Hollywood Blvd"}
    ]}));
    let work = json!({
        "type": "work",
        "streetAddress": "911 Universal City Plaza",
        "locality": "Hollywood",
        "region": "CA",
        "postalCode": "91608",
        "country": "US",
        "formatted": "911 Universal City Plaza\nHollywood, CA 91608 US",
        "primary": true
    });
    let after = patch_user(
        &before,
        json!([{"op": "replace", "path": "addresses[type eq \"work\"]", "value": work}]),
    );
    assert_eq!(
        after["addresses"],
        json!([work, {"type": "home", "streetAddress": "456 Hollywood Blvd"}])
    );
}

#[test]
fn replace_sub_attribute_of_filtered_element() {
    // 3.5.2.3: addresses[type eq "work"].streetAddress
    let before = user_with(
        json!({"addresses": [{"type": "work", "streetAddress": "100 Universal City Plaza"}]}),
    );
    let after = patch_user(
        &before,
        json!([{"op": "replace", "path": "addresses[type eq \"work\"].streetAddress", "value": "1010 Broadway Ave"}]),
    );
    assert_eq!(
        after["addresses"],
        json!([{"type": "work", "streetAddress": "1010 Broadway Ave"}])
    );
}

#[test]
fn replace_without_path_replaces_multi_valued_and_merges_complex() {
    // 3.5.2.3: a no-path replace of emails and nickname.
    let before = user_with(json!({
        "emails": [{"value": "old@example.com", "type": "home"}],
        "name": {"givenName": "Barbara", "familyName": "Jensen"}
    }));
    let after = patch_user(
        &before,
        json!([{"op": "replace", "value": {
            "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}],
            "nickname": "Babs",
            "name": {"givenName": "Babs"}
        }}]),
    );
    assert_eq!(
        after,
        user_with(json!({
            "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}],
            "nickName": "Babs",
            "name": {"givenName": "Babs", "familyName": "Jensen"}
        }))
    );
}

#[test]
fn extension_paths() {
    let urn = ENTERPRISE_USER_SCHEMA;
    let after = patch_user(
        &user(),
        json!([
            {"op": "add", "path": format!("{urn}:employeeNumber"), "value": "701984"},
            {"op": "add", "path": format!("{urn}:manager.value"), "value": "m-1"},
            {"op": "replace", "path": urn, "value": {"department": "Tour Operations"}},
        ]),
    );
    assert_eq!(after["schemas"], json!([USER_SCHEMA, urn]));
    assert_eq!(
        after[urn],
        json!({"employeeNumber": "701984", "manager": {"value": "m-1"}, "department": "Tour Operations"})
    );
    let after = patch_user(
        &after,
        json!([{"op": "remove", "path": format!("{urn}:manager")}]),
    );
    assert_eq!(
        after[urn],
        json!({"employeeNumber": "701984", "department": "Tour Operations"})
    );
    let after = patch_user(&after, json!([{"op": "remove", "path": urn}]));
    assert_eq!(after, user());
}

#[test]
fn core_urn_qualified_path() {
    let after = patch_user(
        &user(),
        json!([{"op": "replace", "path": format!("{USER_SCHEMA}:displayName"), "value": "Babs"}]),
    );
    assert_eq!(after, user_with(json!({"displayName": "Babs"})));
}

#[test]
fn primary_true_clears_the_other_primaries() {
    let before = user_with(json!({"emails": [
        {"value": "a@example.com", "type": "work", "primary": true},
        {"value": "b@example.com", "type": "home"}
    ]}));
    let after = patch_user(
        &before,
        json!([{"op": "replace", "path": "emails[type eq \"home\"].primary", "value": true}]),
    );
    assert_eq!(
        after["emails"],
        json!([
            {"value": "a@example.com", "type": "work", "primary": false},
            {"value": "b@example.com", "type": "home", "primary": true}
        ])
    );
    let after = patch_user(
        &after,
        json!([{"op": "add", "path": "emails", "value": {"value": "c@example.com", "primary": "True"}}]),
    );
    let primaries: Vec<_> = after["emails"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["primary"] == json!(true))
        .collect();
    assert_eq!(
        primaries,
        vec![&json!({"value": "c@example.com", "primary": true})]
    );
}

#[test]
fn remove_listed_elements_of_a_multi_valued_attribute() {
    let before = user_with(json!({"emails": [
        {"value": "a@example.com", "type": "work"},
        {"value": "b@example.com", "type": "home"}
    ]}));
    let after = patch_user(
        &before,
        json!([{"op": "remove", "path": "emails", "value": [{"value": "a@example.com"}]}]),
    );
    assert_eq!(
        after["emails"],
        json!([{"value": "b@example.com", "type": "home"}])
    );
    let after = patch_user(&after, json!([{"op": "remove", "path": "emails"}]));
    assert_eq!(after, user());
}
