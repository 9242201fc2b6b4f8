//! What the issue asks of an LDAP target beyond the shared suite: hostile
//! values land literally in DNs and filters, unowned entries stay untouched
//! even with adoption on, membership changes are single-value deltas (counted
//! by the server's cn=Monitor and the backend's own counter), a rename keeps
//! membership, and the `move` policy.

use scimd_backend::{Backend, Change, MemberRef, Object, ObjectKind, Observed};
use scimd_backend_ldap::escape;
use scimd_backend_ldap::testing::{DISABLED, GROUPS, PEOPLE};

use crate::directory::{Direct, fixture};

fn user(id: &str, name: &str) -> Object {
    Object::new(ObjectKind::User, id, name)
        .with("uid", name)
        .with("displayName", format!("{name} display"))
}

fn group(id: &str, name: &str) -> Object {
    Object::new(ObjectKind::Group, id, name).with("cn", name)
}

async fn apply_ok(b: &dyn Backend, changes: &[Change]) {
    for (c, r) in changes.iter().zip(b.apply(changes).await) {
        r.unwrap_or_else(|e| panic!("{c:?}: {e}"));
    }
}

async fn observe(b: &dyn Backend, kind: ObjectKind) -> Vec<Observed> {
    let mut out = Vec::new();
    b.observe(kind, &mut |o| {
        out.push(o);
        Ok(())
    })
    .await
    .expect("observe");
    out
}

const HOSTILE: &[&str] = &[
    "cn=a,ou=x",
    "*)(uid=*",
    "*",
    "\\",
    "#leading",
    "trailing spaces  ",
    "Zoë 山田 Ελληνικά",
    "a+b;c<d>\"e\"",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_names_land_literally_and_inject_nothing() {
    // on_existing = adopt: a filter built without escaping would adopt
    // "alice" for the user named "*".
    let Some((_slapd, backend, direct)) = fixture("").await else {
        return;
    };
    let mut config = crate::directory::config(&direct.slapd, "");
    config.on_existing = scimd_backend_ldap::OnExisting::Adopt;
    let backend_adopt = config.build().unwrap();
    drop(backend);
    direct.plant(&user("x-alice", "alice"), &[]).await;
    let alice_before = direct.entry(ObjectKind::User, "x-alice").await.unwrap();

    let changes: Vec<Change> = HOSTILE
        .iter()
        .enumerate()
        .map(|(i, n)| Change::Upsert(user(&format!("u-{i}"), n)))
        .chain([Change::Upsert(group("g-h", "cn=admins,ou=groups"))])
        .collect();
    apply_ok(&backend_adopt, &changes).await;
    let members: Vec<MemberRef> = (0..HOSTILE.len())
        .map(|i| MemberRef::user(format!("u-{i}")))
        .collect();
    apply_ok(
        &backend_adopt,
        &[Change::AddMembers {
            group: "g-h".into(),
            members,
        }],
    )
    .await;

    for (i, name) in HOSTILE.iter().enumerate() {
        let e = direct
            .entry(ObjectKind::User, &format!("u-{i}"))
            .await
            .expect("created");
        let rdns = escape::parse_dn(&e.dn).expect("valid DN");
        assert_eq!(
            rdns.len(),
            3,
            "{name:?} must stay one RDN below ou=people: {}",
            e.dn
        );
        assert_eq!(
            rdns[0],
            vec![("uid".to_owned(), (*name).to_owned())],
            "{}",
            e.dn
        );
        assert_eq!(e.attrs["uid"], vec![(*name).to_owned()]);
    }
    let g = direct.entry(ObjectKind::Group, "g-h").await.unwrap();
    assert!(escape::is_within(&g.dn, GROUPS));
    assert_eq!(escape::parse_dn(&g.dn).unwrap().len(), 3, "{}", g.dn);
    let mut want: Vec<String> = (0..HOSTILE.len()).map(|i| format!("u-{i}")).collect();
    want.sort();
    assert_eq!(direct.member_ids("g-h").await, want);

    // alice was neither adopted nor changed; nobody else is in the tree.
    let alice = direct.entry(ObjectKind::User, "x-alice").await.unwrap();
    assert_eq!(alice.attrs, alice_before.attrs);
    assert_eq!(direct.count(ObjectKind::User).await, HOSTILE.len() + 1);
    // Observe reports each hostile name as it is.
    let mut names: Vec<String> = observe(&backend_adopt, ObjectKind::User)
        .await
        .into_iter()
        .map(|o| o.object.name)
        .collect();
    names.sort();
    let mut want: Vec<String> = HOSTILE.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(names, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adoption_takes_only_the_named_entry_and_unowned_ones_stay_untouched() {
    let Some((_slapd, _b, direct)) = fixture("").await else {
        return;
    };
    let mut config = crate::directory::config(&direct.slapd, "");
    config.on_existing = scimd_backend_ldap::OnExisting::Adopt;
    let backend = config.build().unwrap();
    direct.plant(&user("x-bob", "bob"), &[]).await;
    direct.plant(&user("x-carol", "carol"), &[]).await;
    direct
        .plant(&group("x-ops", "ops"), &["x-carol".into()])
        .await;
    let carol_before = direct.entry(ObjectKind::User, "x-carol").await.unwrap();
    let ops_before = direct.entry(ObjectKind::Group, "x-ops").await.unwrap();

    apply_ok(&backend, &[Change::Upsert(user("u-bob", "bob"))]).await;
    let bob = direct
        .entry(ObjectKind::User, "u-bob")
        .await
        .expect("bob adopted");
    assert_eq!(bob.attrs["scimdId"], ["u-bob"]);
    assert_eq!(bob.attrs["displayName"], ["bob display"]);
    assert!(bob.attrs["objectClass"].iter().any(|c| c == "scimdObject"));
    assert_eq!(
        direct.count(ObjectKind::User).await,
        2,
        "adopted, not created"
    );

    // Deletes, deactivations and member changes aimed at carol and ops do nothing.
    let results = backend
        .apply(&[
            Change::Deactivate {
                id: "x-carol".into(),
            },
            Change::Delete {
                kind: ObjectKind::User,
                id: "x-carol".into(),
            },
            Change::RemoveMembers {
                group: "x-ops".into(),
                members: vec![MemberRef::user("x-carol")],
            },
            Change::Delete {
                kind: ObjectKind::Group,
                id: "x-ops".into(),
            },
        ])
        .await;
    assert!(results[2].is_err(), "a foreign group cannot be changed");
    assert_eq!(
        direct
            .entry(ObjectKind::User, "x-carol")
            .await
            .unwrap()
            .attrs,
        carol_before.attrs
    );
    assert_eq!(
        direct
            .entry(ObjectKind::Group, "x-ops")
            .await
            .unwrap()
            .attrs,
        ops_before.attrs
    );
    let seen = observe(&backend, ObjectKind::User).await;
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].object.id, "u-bob");
}

async fn modifies(direct: &Direct) -> u64 {
    direct.slapd.completed("Modify").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn membership_changes_are_single_value_deltas() {
    let Some((_slapd, backend, direct)) = fixture("").await else {
        return;
    };
    let users: Vec<Change> = (0..300)
        .map(|i| Change::Upsert(user(&format!("u-{i:03}"), &format!("user{i:03}"))))
        .collect();
    apply_ok(&backend, &users).await;
    apply_ok(&backend, &[Change::Upsert(group("g-big", "big"))]).await;
    apply_ok(
        &backend,
        &[Change::SetMembers {
            group: "g-big".into(),
            members: (0..299)
                .map(|i| MemberRef::user(format!("u-{i:03}")))
                .collect(),
        }],
    )
    .await;

    // One member added: one modify, and it adds exactly one value.
    let (server, ours) = (modifies(&direct).await, backend.write_operations());
    apply_ok(
        &backend,
        &[Change::AddMembers {
            group: "g-big".into(),
            members: vec![MemberRef::user("u-299")],
        }],
    )
    .await;
    assert_eq!(
        modifies(&direct).await - server,
        1,
        "server-side modify count"
    );
    assert_eq!(backend.write_operations() - ours, 1, "backend write count");
    let members = direct.member_ids("g-big").await;
    assert_eq!(members.len(), 300);
    assert!(members.contains(&"u-299".to_string()));

    // One member removed: one modify deleting one value.
    let (server, ours) = (modifies(&direct).await, backend.write_operations());
    apply_ok(
        &backend,
        &[Change::RemoveMembers {
            group: "g-big".into(),
            members: vec![MemberRef::user("u-000")],
        }],
    )
    .await;
    assert_eq!(modifies(&direct).await - server, 1);
    assert_eq!(backend.write_operations() - ours, 1);
    let members = direct.member_ids("g-big").await;
    assert_eq!(members.len(), 299);
    assert!(!members.contains(&"u-000".to_string()));

    // Repeating either is harmless and changes nothing.
    apply_ok(
        &backend,
        &[
            Change::AddMembers {
                group: "g-big".into(),
                members: vec![MemberRef::user("u-299")],
            },
            Change::RemoveMembers {
                group: "g-big".into(),
                members: vec![MemberRef::user("u-000")],
            },
        ],
    )
    .await;
    assert_eq!(direct.member_ids("g-big").await, members);

    // The last member leaving puts the placeholder back; the next one removes it.
    apply_ok(&backend, &[Change::Upsert(group("g-small", "small"))]).await;
    let small = direct.entry(ObjectKind::Group, "g-small").await.unwrap();
    assert_eq!(small.attrs["member"], [crate::directory::NOBODY]);
    let add = Change::AddMembers {
        group: "g-small".into(),
        members: vec![MemberRef::user("u-001")],
    };
    apply_ok(&backend, std::slice::from_ref(&add)).await;
    let small = direct.entry(ObjectKind::Group, "g-small").await.unwrap();
    assert_eq!(small.attrs["member"].len(), 1);
    assert_ne!(small.attrs["member"][0], crate::directory::NOBODY);
    apply_ok(
        &backend,
        &[Change::RemoveMembers {
            group: "g-small".into(),
            members: vec![MemberRef::user("u-001")],
        }],
    )
    .await;
    let small = direct.entry(ObjectKind::Group, "g-small").await.unwrap();
    assert_eq!(small.attrs["member"], [crate::directory::NOBODY]);
    let observed = observe(&backend, ObjectKind::Group).await;
    let small = observed.iter().find(|o| o.object.id == "g-small").unwrap();
    assert_eq!(
        small.members.as_deref(),
        Some(&[][..]),
        "the placeholder is no member"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rename_is_a_modrdn_and_keeps_membership() {
    let Some((_slapd, backend, direct)) = fixture("").await else {
        return;
    };
    apply_ok(
        &backend,
        &[
            Change::Upsert(user("u-ann", "ann")),
            Change::Upsert(user("u-ben", "ben")),
            Change::Upsert(group("g-a", "alpha")),
            Change::Upsert(group("g-b", "beta")),
            Change::AddMembers {
                group: "g-a".into(),
                members: vec![MemberRef::user("u-ann"), MemberRef::user("u-ben")],
            },
            Change::AddMembers {
                group: "g-b".into(),
                members: vec![MemberRef::user("u-ann"), MemberRef::group("g-a")],
            },
        ],
    )
    .await;
    let before = direct.entry(ObjectKind::User, "u-ann").await.unwrap();
    let server = direct.slapd.completed("Modrdn").await;
    apply_ok(
        &backend,
        &[
            Change::Upsert(user("u-ann", "ann.smith, jr")),
            Change::Upsert(group("g-a", "alpha team")),
        ],
    )
    .await;
    assert_eq!(direct.slapd.completed("Modrdn").await - server, 2);
    let after = direct.entry(ObjectKind::User, "u-ann").await.unwrap();
    assert_eq!(
        escape::first_rdn_value(&after.dn).as_deref(),
        Some("ann.smith, jr")
    );
    assert_eq!(after.attrs["displayName"], ["ann.smith, jr display"]);
    assert_eq!(
        after.attrs.get("createTimestamp"),
        before.attrs.get("createTimestamp")
    );
    assert_eq!(direct.member_ids("g-a").await, ["u-ann", "u-ben"]);
    assert_eq!(direct.member_ids("g-b").await, ["g-a", "u-ann"]);
    let groups = observe(&backend, ObjectKind::Group).await;
    let b = groups.iter().find(|o| o.object.id == "g-b").unwrap();
    assert_eq!(
        b.members.as_deref(),
        Some(&["g-a".to_string(), "u-ann".to_string()][..])
    );
    // Deleting the user removes its member values too.
    apply_ok(
        &backend,
        &[Change::Delete {
            kind: ObjectKind::User,
            id: "u-ann".into(),
        }],
    )
    .await;
    assert_eq!(direct.member_ids("g-a").await, ["u-ben"]);
    assert_eq!(direct.member_ids("g-b").await, ["g-a"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn move_policy_moves_to_the_ou_and_back() {
    let extra = format!("on_deactivate = \"move\"\nmove_to = \"{DISABLED}\"");
    let Some((_slapd, backend, direct)) = fixture(&extra).await else {
        return;
    };
    apply_ok(
        &backend,
        &[
            Change::Upsert(user("u-dan", "dan")),
            Change::Upsert(group("g-x", "x")),
            Change::AddMembers {
                group: "g-x".into(),
                members: vec![MemberRef::user("u-dan")],
            },
            Change::Deactivate { id: "u-dan".into() },
        ],
    )
    .await;
    let moved = direct.search(DISABLED, "(uid=dan)").await;
    assert_eq!(moved.len(), 1, "dan is below ou=disabled");
    assert!(direct.search(PEOPLE, "(uid=dan)").await.is_empty());
    assert_eq!(
        direct.member_ids("g-x").await,
        ["u-dan"],
        "membership follows the move"
    );
    let seen = observe(&backend, ObjectKind::User).await;
    assert_eq!(seen.len(), 1);
    assert!(!seen[0].object.active);
    apply_ok(&backend, &[Change::Upsert(user("u-dan", "dan"))]).await;
    assert_eq!(
        direct.search(PEOPLE, "(uid=dan)").await.len(),
        1,
        "active again: back"
    );
    assert!(observe(&backend, ObjectKind::User).await[0].object.active);
}
