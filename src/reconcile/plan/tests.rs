//! Planning from journal batches.

use serde_json::json;

use super::*;
use crate::scim::registry;

fn entry(seq: i64, kind: ResourceKind, id: &str, op: &str, body: Value) -> JournalEntry {
    JournalEntry {
        seq,
        kind,
        resource_id: id.into(),
        op: op.into(),
        body,
    }
}

fn mapping() -> ObjectMapping {
    let m = |k, t| Mapping::parse(registry(), k, t).unwrap();
    ObjectMapping {
        users: vec![
            ("user_name".into(), m(ResourceKind::User, "userName")),
            (
                "email".into(),
                m(ResourceKind::User, r#"emails[type eq "work"].value"#),
            ),
            ("active".into(), m(ResourceKind::User, "active")),
        ],
        groups: vec![("name".into(), m(ResourceKind::Group, "displayName"))],
        single_valued: false,
        users_only: false,
        restore_memberships: false,
    }
}

#[test]
fn collapses_resource_entries_and_keeps_member_deltas_in_order() {
    let u = json!({"id": "u1", "userName": "ann", "active": false,
        "emails": [{"type": "work", "value": "ann@x"}]});
    let g = json!({"id": "g1", "displayName": "Ops"});
    let current: Current = [
        ("u1".to_owned(), Some((ResourceKind::User, u))),
        ("g1".to_owned(), Some((ResourceKind::Group, g))),
        ("u2".to_owned(), None),
    ]
    .into();
    let entries = vec![
        entry(1, ResourceKind::User, "u1", "upsert", json!({})),
        entry(2, ResourceKind::User, "u2", "upsert", json!({})),
        entry(3, ResourceKind::Group, "g1", "upsert", json!({})),
        entry(
            4,
            ResourceKind::Group,
            "g1",
            "members",
            json!({"added": [{"id": "u1", "kind": "User"}], "removed": []}),
        ),
        entry(5, ResourceKind::User, "u1", "upsert", json!({})),
        entry(6, ResourceKind::User, "u2", "delete", json!({})),
        entry(
            7,
            ResourceKind::Group,
            "g1",
            "members",
            json!({"added": [], "removed": [{"id": "u1", "kind": "User"}]}),
        ),
    ];
    let changes = plan(&entries, &current, &mapping());
    let kinds: Vec<String> = changes
        .iter()
        .map(|c| match c {
            Change::Upsert(o) => format!("upsert {}", o.id),
            Change::Deactivate { id } => format!("deactivate {id}"),
            Change::Delete { id, .. } => format!("delete {id}"),
            Change::AddMembers { group, .. } => format!("add {group}"),
            Change::RemoveMembers { group, .. } => format!("remove {group}"),
            Change::SetMembers { group, .. } => format!("set {group}"),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "delete u2",
            "upsert u1",
            "deactivate u1",
            "upsert g1",
            "add g1",
            "remove g1"
        ]
    );
    let Change::Upsert(user) = &changes[1] else {
        panic!()
    };
    assert_eq!(user.name, "ann");
    assert!(!user.active);
    assert_eq!(
        user.attributes["email"],
        Some(TargetValue::Texts(vec!["ann@x".into()]))
    );
    assert_eq!(user.attributes["active"], Some(TargetValue::Bool(false)));
}

#[test]
fn inactive_users_are_not_added_to_groups_where_deactivation_deletes() {
    let off = json!({"id": "u1", "userName": "ann", "active": false});
    let on = json!({"id": "u2", "userName": "bob", "active": true});
    let current: Current = [
        ("u1".to_owned(), Some((ResourceKind::User, off))),
        ("u2".to_owned(), Some((ResourceKind::User, on))),
        (
            "g1".to_owned(),
            Some((ResourceKind::Group, json!({"displayName": "Ops"}))),
        ),
    ]
    .into();
    let entries = vec![
        entry(1, ResourceKind::User, "u1", "upsert", json!({})),
        entry(2, ResourceKind::User, "u2", "upsert", json!({})),
        entry(3, ResourceKind::Group, "g1", "upsert", json!({})),
        entry(
            4,
            ResourceKind::Group,
            "g1",
            "members",
            json!({"added": [{"id": "u1", "kind": "User"}, {"id": "u2", "kind": "User"}]}),
        ),
    ];
    let added = |m: &ObjectMapping| -> Vec<String> {
        plan(&entries, &current, m)
            .into_iter()
            .flat_map(|c| match c {
                Change::AddMembers { members, .. } => members.into_iter().map(|m| m.id).collect(),
                _ => Vec::new(),
            })
            .collect()
    };
    // A target that keeps deactivated rows keeps their memberships too.
    assert_eq!(added(&mapping()), ["u1", "u2"]);
    let deleting = ObjectMapping {
        restore_memberships: true,
        ..mapping()
    };
    assert_eq!(added(&deleting), ["u2"]);
}

#[test]
fn membership_of_a_deleted_group_is_dropped() {
    let current: Current = [("g1".to_owned(), None)].into();
    let entries = vec![
        entry(
            1,
            ResourceKind::Group,
            "g1",
            "members",
            json!({"added": [{"id": "u1", "kind": "User"}]}),
        ),
        entry(2, ResourceKind::Group, "g1", "delete", json!({})),
    ];
    let changes = plan(&entries, &current, &mapping());
    assert_eq!(
        changes,
        vec![Change::Delete {
            kind: ObjectKind::Group,
            id: "g1".into()
        }]
    );
}

#[test]
fn a_delete_goes_before_a_create_that_reuses_its_user_name() {
    // u1 "ann" deleted, u2 created as "ann" in the same batch: the target must free the
    // name before it is taken again, or its unique index refuses the create.
    let current: Current = [
        ("u1".to_owned(), None),
        (
            "u2".to_owned(),
            Some((ResourceKind::User, json!({"id": "u2", "userName": "ann"}))),
        ),
    ]
    .into();
    let entries = vec![
        entry(1, ResourceKind::User, "u1", "upsert", json!({})),
        entry(2, ResourceKind::User, "u1", "delete", json!({})),
        entry(3, ResourceKind::User, "u2", "upsert", json!({})),
    ];
    let changes = plan(&entries, &current, &mapping());
    assert_eq!(changes.len(), 2);
    assert_eq!(
        changes[0],
        Change::Delete {
            kind: ObjectKind::User,
            id: "u1".into()
        }
    );
    assert!(matches!(&changes[1], Change::Upsert(o) if o.id == "u2" && o.name == "ann"));
}

#[test]
fn a_users_only_target_skips_groups_and_memberships() {
    let current: Current = [
        (
            "u1".to_owned(),
            Some((ResourceKind::User, json!({"id": "u1", "userName": "ann"}))),
        ),
        (
            "g1".to_owned(),
            Some((
                ResourceKind::Group,
                json!({"id": "g1", "displayName": "Ops"}),
            )),
        ),
    ]
    .into();
    let entries = vec![
        entry(1, ResourceKind::User, "u1", "upsert", json!({})),
        entry(2, ResourceKind::Group, "g1", "upsert", json!({})),
        entry(
            3,
            ResourceKind::Group,
            "g1",
            "members",
            json!({"added": [{"id": "u1", "kind": "User"}]}),
        ),
    ];
    let users_only = ObjectMapping {
        users_only: true,
        ..mapping()
    };
    let changes = plan(&entries, &current, &users_only);
    assert_eq!(changes.len(), 1);
    assert!(matches!(&changes[0], Change::Upsert(o) if o.id == "u1"));
    assert_eq!(plan(&entries, &current, &mapping()).len(), 3);
}

#[test]
fn reactivated_users_get_their_groups_back_only_when_the_target_deletes_on_deactivate() {
    let current: Current = [
        (
            "u1".to_owned(),
            Some((
                ResourceKind::User,
                json!({"id": "u1", "userName": "ann", "active": true}),
            )),
        ),
        (
            "u2".to_owned(),
            Some((
                ResourceKind::User,
                json!({"id": "u2", "userName": "bob", "active": false}),
            )),
        ),
    ]
    .into();
    let entries = vec![
        entry(1, ResourceKind::User, "u1", "upsert", json!({})),
        entry(2, ResourceKind::User, "u2", "upsert", json!({})),
    ];
    let changes = plan(&entries, &current, &mapping());
    assert!(reactivated_users(&changes, &mapping()).is_empty());
    let deleting = ObjectMapping {
        restore_memberships: true,
        ..mapping()
    };
    let mut changes = plan(&entries, &current, &deleting);
    assert_eq!(reactivated_users(&changes, &deleting), ["u1"]);
    let groups: BTreeMap<String, Vec<String>> =
        [("u1".to_owned(), vec!["g1".to_owned(), "g2".to_owned()])].into();
    restore_memberships(&mut changes, &groups);
    assert_eq!(
        changes[changes.len() - 2..],
        [
            Change::AddMembers {
                group: "g1".into(),
                members: vec![MemberRef::user("u1")]
            },
            Change::AddMembers {
                group: "g2".into(),
                members: vec![MemberRef::user("u1")]
            }
        ]
    );
}

#[test]
fn membership_naming_parked_objects_is_held_back_and_landing_ones_are_reported() {
    let add = |group: &str, members: &[&str]| Change::AddMembers {
        group: group.into(),
        members: members.iter().map(|m| MemberRef::user(*m)).collect(),
    };
    let mut changes = vec![
        Change::Upsert(Object::new(ObjectKind::User, "u-parked", "ann")),
        add("g-parked", &["u1"]),
        add("g1", &["u1", "u-parked"]),
        add("g2", &["u-parked"]),
        Change::RemoveMembers {
            group: "g1".into(),
            members: vec![MemberRef::user("u2")],
        },
    ];
    let parked: HashSet<String> = ["u-parked".to_owned(), "g-parked".to_owned()].into();
    let landing = hold_back_parked(&mut changes, &parked);
    assert_eq!(landing, [(ObjectKind::User, "u-parked".to_owned())]);
    assert_eq!(
        changes,
        vec![
            Change::Upsert(Object::new(ObjectKind::User, "u-parked", "ann")),
            add("g1", &["u1"]),
            Change::RemoveMembers {
                group: "g1".into(),
                members: vec![MemberRef::user("u2")]
            },
        ]
    );
    let mut untouched = changes.clone();
    assert!(hold_back_parked(&mut untouched, &HashSet::new()).is_empty());
    assert_eq!(untouched, changes);
}
