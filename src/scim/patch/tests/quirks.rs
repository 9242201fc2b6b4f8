//! CLIENT-QUIRKS.md items 1-10 and 19, at the engine level.

use serde_json::json;

use super::*;

#[test]
fn q1_op_names_in_any_case() {
    let after = patch_user(
        &user_with(json!({"title": "x"})),
        json!([
            {"op": "Add", "path": "displayName", "value": "Babs"},
            {"op": "Replace", "path": "nickName", "value": "B"},
            {"op": "Remove", "path": "title"},
            {"op": "REPLACE", "path": "userType", "value": "Employee"},
        ]),
    );
    assert_eq!(
        after,
        user_with(json!({"displayName": "Babs", "nickName": "B", "userType": "Employee"}))
    );
}

#[test]
fn q2_booleans_as_strings() {
    for (sent, stored) in [
        ("False", false),
        ("false", false),
        ("True", true),
        ("TRUE", true),
    ] {
        let after = patch_user(
            &user(),
            json!([{"op": "Replace", "path": "active", "value": sent}]),
        );
        assert_eq!(after["active"], json!(stored), "{sent}");
    }
}

#[test]
fn q3_no_path_value_with_dotted_and_urn_keys() {
    let before = user_with(json!({"name": {"familyName": "Jensen"}}));
    let after = patch_user(
        &before,
        json!([{"op": "replace", "value": {
            "displayName": "X",
            "name.givenName": "Y",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "42"
        }}]),
    );
    assert_eq!(
        after,
        json!({
            "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
            "userName": "bjensen",
            "displayName": "X",
            "name": {"givenName": "Y", "familyName": "Jensen"},
            ENTERPRISE_USER_SCHEMA: {"employeeNumber": "42"}
        })
    );
}

#[test]
fn q3_no_path_value_with_an_extension_object() {
    let after = patch_user(
        &user(),
        json!([{"op": "add", "value": {ENTERPRISE_USER_SCHEMA: {"department": "Sales", "manager": "m-1"}}}]),
    );
    assert_eq!(
        after[ENTERPRISE_USER_SCHEMA],
        json!({"department": "Sales", "manager": {"value": "m-1"}})
    );
}

#[test]
fn q4_deactivation_both_ways() {
    let active = user_with(json!({"active": true}));
    let okta = patch_user(
        &active,
        json!([{"op": "replace", "value": {"active": false}}]),
    );
    let entra = patch_user(
        &active,
        json!([{"op": "Replace", "path": "active", "value": "False"}]),
    );
    assert_eq!(okta, user_with(json!({"active": false})));
    assert_eq!(entra, okta);
}

#[test]
fn q5_filtered_paths_upsert() {
    for op in ["Replace", "add"] {
        let after = patch_user(
            &user(),
            json!([{"op": op, "path": "emails[type eq \"work\"].value", "value": "a@b"}]),
        );
        assert_eq!(
            after["emails"],
            json!([{"type": "work", "value": "a@b"}]),
            "{op}"
        );
        // Once it exists, the same operation updates it in place.
        let after = patch_user(
            &after,
            json!([{"op": op, "path": "emails[type eq \"work\"].value", "value": "c@d"}]),
        );
        assert_eq!(
            after["emails"],
            json!([{"type": "work", "value": "c@d"}]),
            "{op}"
        );
    }
}

#[test]
fn q5_upsert_of_a_whole_element_and_of_an_and_filter() {
    let after = patch_user(
        &user(),
        json!([
            {"op": "replace", "path": "addresses[type eq \"work\"]", "value": {"locality": "Hollywood"}},
            {"op": "add", "path": "phoneNumbers[type eq \"work\" and primary eq true].value", "value": "555-1234"},
        ]),
    );
    assert_eq!(
        after["addresses"],
        json!([{"type": "work", "locality": "Hollywood"}])
    );
    assert_eq!(
        after["phoneNumbers"],
        json!([{"type": "work", "primary": true, "value": "555-1234"}])
    );
}

#[test]
fn q5_upsert_needs_an_equality_filter() {
    let e = patch_user_err(
        &user(),
        json!([{"op": "replace", "path": "emails[type ne \"work\"].value", "value": "a@b"}]),
    );
    assert_eq!(e.scim_type, Some(ScimType::NoTarget), "{e}");
}

#[test]
fn q6_member_removal_both_forms() {
    let listed = patch_group(
        json!([{"op": "Remove", "path": "members", "value": [{"value": "ID"}, {"value": "ID2"}]}]),
    );
    assert_eq!(
        listed,
        vec![MemberChange::Remove(vec!["ID".into(), "ID2".into()])]
    );
    let filtered = patch_group(json!([{"op": "remove", "path": "members[value eq \"ID\"]"}]));
    assert_eq!(filtered, vec![MemberChange::Remove(vec!["ID".into()])]);
    let either =
        patch_group(json!([{"op": "remove", "path": "members[value eq \"a\" or value eq \"b\"]"}]));
    assert_eq!(
        either,
        vec![MemberChange::Remove(vec!["a".into(), "b".into()])]
    );
}

#[test]
fn q6_other_member_filters_remove_where() {
    let changes = patch_group(json!([{"op": "remove", "path": "members[type eq \"Group\"]"}]));
    let [MemberChange::RemoveWhere(filter)] = changes.as_slice() else {
        panic!("{changes:?}")
    };
    assert_eq!(filter.to_string(), "type eq \"Group\"");
}

#[test]
fn q7_member_add() {
    let changes = patch_group(
        json!([{"op": "Add", "path": "members", "value": [{"value": "ID"}, {"value": "ID"}]}]),
    );
    // Duplicates collapse here; re-adding an existing member is a no-op in the store.
    assert_eq!(changes, vec![MemberChange::Add(vec![member("ID")])]);
    let typed = patch_group(
        json!([{"op": "add", "value": {"members": [{"value": "G", "type": "Group"}]}}]),
    );
    assert_eq!(
        typed,
        vec![MemberChange::Add(vec![MemberRef {
            value: "G".into(),
            kind: Some(ResourceKind::Group)
        }])]
    );
}

#[test]
fn q8_mixed_member_operations_apply_in_order_all_or_nothing() {
    let ops = json!([
        {"op": "remove", "path": "members[value eq \"old\"]"},
        {"op": "add", "path": "members", "value": [{"value": "new"}]},
        {"op": "replace", "path": "displayName", "value": "Guides"},
    ]);
    let (data, changes) = run(ResourceKind::Group, &group(), ops).unwrap();
    assert_eq!(
        changes,
        vec![
            MemberChange::Remove(vec!["old".into()]),
            MemberChange::Add(vec![member("new")])
        ]
    );
    assert_eq!(data["displayName"], json!("Guides"));

    let failing = json!([
        {"op": "remove", "path": "members[value eq \"old\"]"},
        {"op": "add", "path": "members", "value": [{"value": ""}]},
    ]);
    let e = run(ResourceKind::Group, &group(), failing).unwrap_err();
    assert!(e.detail.starts_with("/Operations/1/value/0/value"), "{e}");
}

#[test]
fn q9_full_membership_replace() {
    let some = patch_group(
        json!([{"op": "replace", "path": "members", "value": [{"value": "a"}, {"value": "b"}]}]),
    );
    assert_eq!(
        some,
        vec![MemberChange::Set(vec![member("a"), member("b")])]
    );
    let none = patch_group(json!([{"op": "replace", "path": "members", "value": []}]));
    assert_eq!(none, vec![MemberChange::Set(vec![])]);
    let no_path = patch_group(json!([{"op": "replace", "value": {"members": []}}]));
    assert_eq!(no_path, vec![MemberChange::Set(vec![])]);
}

#[test]
fn q10_rename_carrying_the_unchanged_id() {
    let ops = json!([{"op": "replace", "value": {"id": ID, "displayName": "New"}}]);
    let (data, changes) = run(ResourceKind::Group, &group(), ops).unwrap();
    assert!(changes.is_empty());
    assert_eq!(
        data,
        json!({"schemas": [GROUP_SCHEMA], "displayName": "New"})
    );

    let other = json!([{"op": "replace", "value": {"id": "someone-else", "displayName": "New"}}]);
    let e = run(ResourceKind::Group, &group(), other).unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::Mutability), "{e}");
    assert!(e.detail.starts_with("/Operations/0/value/id"), "{e}");
}

#[test]
fn q10_echoed_schemas_and_meta_are_ignored() {
    let ops = json!([{"op": "replace", "value": {
        "schemas": [USER_SCHEMA],
        "meta": {"resourceType": "User"},
        "id": ID,
        "displayName": "Babs"
    }}]);
    assert_eq!(
        patch_user(&user(), ops),
        user_with(json!({"displayName": "Babs"}))
    );
}

#[test]
fn q19_every_listed_member_reaches_the_store() {
    // The engine cannot know which ids exist: it hands all of them to the store, which
    // applies the valid ones or rejects the request as a whole.
    let ids: Vec<_> = (0..50).map(|i| json!({"value": format!("u{i}")})).collect();
    let changes = patch_group(json!([{"op": "add", "path": "members", "value": ids}]));
    let [MemberChange::Add(members)] = changes.as_slice() else {
        panic!("{changes:?}")
    };
    assert_eq!(members.len(), 50);
}
