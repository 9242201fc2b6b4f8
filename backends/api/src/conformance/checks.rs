//! The checks themselves: each builds objects from the profile, applies
//! changes through the backend and asserts on what the harness reads back.

use std::collections::BTreeMap;

use super::support::{
    apply_ok, assert_holds, assert_observed, assert_outcome, group, observe, snapshot, stored,
    upserts, user, users_ref,
};
use super::{Fixture, Outcome};
use crate::{BackendError, Change, MemberRef, Object, ObjectKind, Observed, Value};

pub(super) const NAMES: &[&str] = &[
    "upsert_creates",
    "upsert_converges_named_attributes_only",
    "reapplying_changes_nothing",
    "deactivate_follows_policy",
    "delete_follows_policy",
    "members_add_remove_set",
    "observe_returns_exactly_owned",
    "unowned_objects_untouched",
    "values_land_verbatim",
    "batch_of_1000_upserts",
    "results_are_per_change",
    "unreachable_target_is_transient",
];

pub(super) async fn run(name: &str, f: &Fixture) {
    match name {
        "upsert_creates" => upsert_creates(f).await,
        "upsert_converges_named_attributes_only" => upsert_converges(f).await,
        "reapplying_changes_nothing" => reapplying_changes_nothing(f).await,
        "deactivate_follows_policy" => deactivate_follows_policy(f).await,
        "delete_follows_policy" => delete_follows_policy(f).await,
        "members_add_remove_set" => members_add_remove_set(f).await,
        "observe_returns_exactly_owned" => observe_returns_exactly_owned(f).await,
        "unowned_objects_untouched" => unowned_objects_untouched(f).await,
        "values_land_verbatim" => values_land_verbatim(f).await,
        "batch_of_1000_upserts" => batch_of_1000(f).await,
        "results_are_per_change" => results_are_per_change(f).await,
        "unreachable_target_is_transient" => unreachable_is_transient(f).await,
        other => panic!("no conformance check named {other}"),
    }
}

// ---- the checks ----

async fn upsert_creates(f: &Fixture) {
    let alice = user(f, "u-alice", "alice");
    let staff = group(f, "g-staff", "staff");
    apply_ok(f, &upserts(&[alice.clone(), staff.clone()])).await;
    assert_holds(&stored(f, ObjectKind::User, "u-alice").await, &alice);
    assert_holds(&stored(f, ObjectKind::Group, "g-staff").await, &staff);
    assert_eq!(f.harness.members("g-staff").await, Vec::<String>::new());
}

async fn upsert_converges(f: &Fixture) {
    let attrs = f.profile.user_attributes.clone();
    let bob = user(f, "u-bob", "bob");
    apply_ok(f, &upserts(std::slice::from_ref(&bob))).await;
    if f.profile.unmapped {
        f.harness
            .set_unmapped(ObjectKind::User, "u-bob", "kept by the app")
            .await;
    }

    // Only attrs[1] named: attrs[0] stays, attrs[1] changes.
    let mut change = Object::new(ObjectKind::User, "u-bob", "bob");
    change
        .attributes
        .insert(attrs[1].clone(), Some("robert@example.test".into()));
    apply_ok(f, &[Change::Upsert(change)]).await;
    let s = stored(f, ObjectKind::User, "u-bob").await;
    assert_holds(
        &s,
        &bob.clone().with(attrs[1].as_str(), "robert@example.test"),
    );

    // None clears; renaming changes the name attribute and keeps the id.
    let mut renamed = user(f, "u-bob", "robert");
    renamed.attributes.insert(attrs[1].clone(), None);
    apply_ok(f, &[Change::Upsert(renamed.clone())]).await;
    assert_holds(&stored(f, ObjectKind::User, "u-bob").await, &renamed);
    if f.profile.unmapped {
        assert_eq!(
            f.harness
                .unmapped(ObjectKind::User, "u-bob")
                .await
                .as_deref(),
            Some("kept by the app"),
            "an attribute scimd does not map must survive upserts"
        );
    }
    assert_eq!(
        f.harness.count(ObjectKind::User).await,
        1,
        "an update must not create"
    );
}

async fn reapplying_changes_nothing(f: &Fixture) {
    let (a, b, c) = (
        user(f, "u-a", "a"),
        user(f, "u-b", "b"),
        user(f, "u-c", "c"),
    );
    let (g, h) = (group(f, "g-1", "one"), group(f, "g-2", "two"));
    let batch = vec![
        Change::Upsert(a.clone()),
        Change::Upsert(b.clone()),
        Change::Upsert(c.clone()),
        Change::Upsert(g.clone()),
        Change::Upsert(h.clone()),
        Change::AddMembers {
            group: "g-1".into(),
            members: users_ref(&["u-a", "u-b"]),
        },
        Change::RemoveMembers {
            group: "g-1".into(),
            members: users_ref(&["u-b"]),
        },
        Change::SetMembers {
            group: "g-2".into(),
            members: users_ref(&["u-b", "u-c"]),
        },
        Change::Deactivate { id: "u-b".into() },
        Change::Delete {
            kind: ObjectKind::User,
            id: "u-c".into(),
        },
    ];
    apply_ok(f, &batch).await;
    let snapshot = snapshot(f, &["u-a", "u-b", "u-c"], &["g-1", "g-2"]).await;
    apply_ok(f, &batch).await;
    apply_ok(f, &batch).await;
    assert_eq!(
        snapshot,
        super::support::snapshot(f, &["u-a", "u-b", "u-c"], &["g-1", "g-2"]).await
    );
    assert_eq!(f.harness.members("g-1").await, vec!["u-a".to_string()]);
    assert_holds(&stored(f, ObjectKind::User, "u-a").await, &a);
}

async fn deactivate_follows_policy(f: &Fixture) {
    let (c, d) = (user(f, "u-carol", "carol"), user(f, "u-dave", "dave"));
    apply_ok(f, &upserts(&[c.clone(), d.clone()])).await;
    apply_ok(
        f,
        &[Change::Deactivate {
            id: "u-carol".into(),
        }],
    )
    .await;
    assert_outcome(f, "u-carol", f.profile.on_deactivate).await;
    apply_ok(
        f,
        &[Change::Deactivate {
            id: "u-carol".into(),
        }],
    )
    .await;
    assert_outcome(f, "u-carol", f.profile.on_deactivate).await;

    // An upsert with active = false is written, then deactivated by policy.
    let mut inactive = d.clone();
    inactive.active = false;
    if let Some(active) = &f.profile.active_attribute {
        inactive
            .attributes
            .insert(active.clone(), Some(Value::Bool(false)));
    }
    apply_ok(f, &[Change::Upsert(inactive.clone())]).await;
    assert_outcome(f, "u-dave", f.profile.on_deactivate).await;

    let observed = observe(f, ObjectKind::User).await;
    match f.profile.on_deactivate {
        Outcome::Deactivated => {
            assert_eq!(observed.len(), 2);
            assert!(observed.iter().all(|o| !o.object.active), "{observed:?}");
        }
        _ => assert!(observed.is_empty(), "{observed:?}"),
    }
    apply_ok(
        f,
        &[Change::Deactivate {
            id: "u-nobody".into(),
        }],
    )
    .await;
}

async fn delete_follows_policy(f: &Fixture) {
    let erin = user(f, "u-erin", "erin");
    let g = group(f, "g-del", "to-delete");
    apply_ok(f, &upserts(&[erin, g])).await;
    apply_ok(
        f,
        &[Change::AddMembers {
            group: "g-del".into(),
            members: users_ref(&["u-erin"]),
        }],
    )
    .await;
    let delete_user = Change::Delete {
        kind: ObjectKind::User,
        id: "u-erin".into(),
    };
    let delete_group = Change::Delete {
        kind: ObjectKind::Group,
        id: "g-del".into(),
    };
    apply_ok(f, &[delete_user.clone(), delete_group.clone()]).await;
    assert_outcome(f, "u-erin", f.profile.on_delete).await;
    let g_now = f.harness.read(ObjectKind::Group, "g-del").await;
    assert!(
        g_now.is_none_or(|s| !s.owned),
        "deleted group must be gone or released"
    );
    assert_eq!(f.harness.members("g-del").await, Vec::<String>::new());
    assert!(observe(f, ObjectKind::User).await.is_empty());
    assert!(observe(f, ObjectKind::Group).await.is_empty());
    // Deleting again, or deleting what never existed, succeeds.
    apply_ok(f, &[delete_user, delete_group]).await;
    apply_ok(
        f,
        &[Change::Delete {
            kind: ObjectKind::User,
            id: "u-never".into(),
        }],
    )
    .await;
}

async fn members_add_remove_set(f: &Fixture) {
    let ids = ["u-1", "u-2", "u-3", "u-4"];
    let mut objects: Vec<Object> = ids.iter().map(|id| user(f, id, id)).collect();
    objects.push(group(f, "g-team", "team"));
    objects.push(group(f, "g-sub", "sub"));
    apply_ok(f, &upserts(&objects)).await;
    let add = |m: Vec<MemberRef>| Change::AddMembers {
        group: "g-team".into(),
        members: m,
    };
    let remove = |m: Vec<MemberRef>| Change::RemoveMembers {
        group: "g-team".into(),
        members: m,
    };

    apply_ok(f, &[add(users_ref(&["u-1", "u-2"]))]).await;
    apply_ok(f, &[add(users_ref(&["u-2", "u-3", "u-3"]))]).await;
    assert_eq!(f.harness.members("g-team").await, ["u-1", "u-2", "u-3"]);
    apply_ok(f, &[remove(users_ref(&["u-2", "u-4"]))]).await;
    assert_eq!(f.harness.members("g-team").await, ["u-1", "u-3"]);
    let mut nested = users_ref(&["u-4", "u-1"]);
    nested.push(MemberRef::group("g-sub"));
    apply_ok(
        f,
        &[Change::SetMembers {
            group: "g-team".into(),
            members: nested,
        }],
    )
    .await;
    assert_eq!(f.harness.members("g-team").await, ["g-sub", "u-1", "u-4"]);
    apply_ok(
        f,
        &[Change::SetMembers {
            group: "g-team".into(),
            members: vec![],
        }],
    )
    .await;
    assert_eq!(f.harness.members("g-team").await, Vec::<String>::new());
    assert_eq!(f.harness.members("g-sub").await, Vec::<String>::new());
}

async fn observe_returns_exactly_owned(f: &Fixture) {
    let users: Vec<Object> = (0..5)
        .map(|i| user(f, &format!("u-{i}"), &format!("user{i}")))
        .collect();
    let (g1, g2) = (group(f, "g-a", "alpha"), group(f, "g-b", "beta"));
    apply_ok(f, &upserts(&users)).await;
    apply_ok(f, &upserts(&[g1.clone(), g2.clone()])).await;
    apply_ok(
        f,
        &[Change::SetMembers {
            group: "g-a".into(),
            members: users_ref(&["u-3", "u-0"]),
        }],
    )
    .await;
    f.harness
        .create_unowned(&user(f, "x-app-user", "appuser"), &[])
        .await;
    f.harness
        .create_unowned(&group(f, "x-app-group", "appgroup"), &["x-app-user".into()])
        .await;

    let seen = observe(f, ObjectKind::User).await;
    let mut ids: Vec<&str> = seen.iter().map(|o| o.object.id.as_str()).collect();
    ids.sort();
    assert_eq!(ids, ["u-0", "u-1", "u-2", "u-3", "u-4"]);
    for o in &seen {
        let want = users.iter().find(|u| u.id == o.object.id).unwrap();
        assert_observed(o, want);
        assert_eq!(o.members, None, "users have no member list");
    }
    let groups: BTreeMap<String, Observed> = observe(f, ObjectKind::Group)
        .await
        .into_iter()
        .map(|o| (o.object.id.clone(), o))
        .collect();
    assert_eq!(groups.keys().collect::<Vec<_>>(), ["g-a", "g-b"]);
    assert_observed(&groups["g-a"], &g1);
    assert_observed(&groups["g-b"], &g2);
    let mut members = groups["g-a"]
        .members
        .clone()
        .expect("groups report members");
    members.sort();
    assert_eq!(members, ["u-0", "u-3"]);
    assert_eq!(groups["g-b"].members.as_deref(), Some(&[][..]));

    // A sink error stops the walk and comes back.
    let mut calls = 0;
    let err = f
        .backend
        .observe(ObjectKind::User, &mut |_| {
            calls += 1;
            Err(BackendError::permanent("stop"))
        })
        .await
        .expect_err("a sink error must end observe");
    assert_eq!((calls, err.message.as_str()), (1, "stop"));
}

async fn unowned_objects_untouched(f: &Fixture) {
    let app_user = user(f, "x-owned-by-app", "appuser");
    let app_group = group(f, "x-app-group", "appgroup");
    f.harness.create_unowned(&app_user, &[]).await;
    f.harness
        .create_unowned(&app_group, &["x-owned-by-app".into()])
        .await;
    let before_user = stored(f, ObjectKind::User, "x-owned-by-app").await;
    let before_group = stored(f, ObjectKind::Group, "x-app-group").await;
    assert!(
        !before_user.owned && !before_group.owned,
        "the harness must plant unowned objects"
    );

    // Same id and same name as the planted objects (a target that keeps no ids
    // on foreign entries matches by name), other values.
    let attrs = &f.profile.user_attributes;
    let hijack =
        user(f, "x-owned-by-app", "appuser").with(attrs[1].as_str(), "hijacked@example.test");
    let mut hijack_group = group(f, "x-app-group", "appgroup");
    if let Some(extra) = f.profile.group_attributes.get(1) {
        hijack_group = hijack_group.with(extra.as_str(), "hijacked");
    }
    let changes = [
        Change::Upsert(hijack),
        Change::Upsert(hijack_group),
        Change::AddMembers {
            group: "x-app-group".into(),
            members: users_ref(&["u-z"]),
        },
        Change::RemoveMembers {
            group: "x-app-group".into(),
            members: users_ref(&["x-owned-by-app"]),
        },
        Change::SetMembers {
            group: "x-app-group".into(),
            members: vec![],
        },
        Change::Deactivate {
            id: "x-owned-by-app".into(),
        },
        Change::Delete {
            kind: ObjectKind::User,
            id: "x-owned-by-app".into(),
        },
        Change::Delete {
            kind: ObjectKind::Group,
            id: "x-app-group".into(),
        },
    ];
    let results = f.backend.apply(&changes).await;
    assert_eq!(results.len(), changes.len());
    for (i, r) in results.iter().enumerate().take(5) {
        let e = r
            .as_ref()
            .expect_err("touching an unowned object must fail");
        if i < 2 {
            assert_eq!(e.kind, crate::ErrorKind::Conflict, "change {i}: {e}");
        }
        // Member changes of a foreign group: a conflict, or "no such group"
        // where the target cannot see scimd ids on foreign entries.
        assert!(!e.is_retryable(), "change {i}: {e}");
    }
    for (i, r) in results.iter().enumerate().skip(5) {
        assert!(
            r.is_ok(),
            "deactivating or deleting what scimd does not own is a no-op, change {i}: {r:?}"
        );
    }
    assert_eq!(
        stored(f, ObjectKind::User, "x-owned-by-app").await,
        before_user
    );
    assert_eq!(
        stored(f, ObjectKind::Group, "x-app-group").await,
        before_group
    );
    assert_eq!(f.harness.members("x-app-group").await, ["x-owned-by-app"]);
    assert!(observe(f, ObjectKind::User).await.is_empty());
    assert!(observe(f, ObjectKind::Group).await.is_empty());
}

const NASTY: &[&str] = &[
    "O'Brien \"the\" ; DROP TABLE users; --",
    "back\\slash \\' \\\" end\\",
    "cn=a,ou=x+uid=y",
    "*)(uid=*))(|(uid=*",
    "#leading hash",
    " padded both ends ",
    "Zoë Ångström 山田太郎 Ελληνικά",
    "emoji 🧑‍💻🚀 and 𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    "%_ like wildcards ?$1 :name @p",
    "tab\there\nnewline",
];

async fn values_land_verbatim(f: &Fixture) {
    let attrs = f.profile.user_attributes.clone();
    let objects: Vec<Object> = NASTY
        .iter()
        .enumerate()
        .map(|(i, v)| {
            Object::new(ObjectKind::User, format!("u-{i}-{v}"), *v)
                .with(attrs[0].as_str(), *v)
                .with(attrs[1].as_str(), format!("{v}'; --"))
        })
        .collect();
    let mut changes = upserts(&objects);
    changes.push(Change::Upsert(group(f, "g-'\";", "grp 'x'; \\")));
    let ids: Vec<MemberRef> = objects
        .iter()
        .map(|o| MemberRef::user(o.id.clone()))
        .collect();
    changes.push(Change::AddMembers {
        group: "g-'\";".into(),
        members: ids,
    });
    apply_ok(f, &changes).await;

    for o in &objects {
        let s = stored(f, ObjectKind::User, &o.id).await;
        for (attr, want) in &o.attributes {
            assert_eq!(
                s.attributes.get(attr),
                Some(want),
                "value of {attr} must land verbatim"
            );
        }
    }
    let mut want_members: Vec<String> = objects.iter().map(|o| o.id.clone()).collect();
    want_members.sort();
    assert_eq!(f.harness.members("g-'\";").await, want_members);
    let seen = observe(f, ObjectKind::User).await;
    assert_eq!(seen.len(), objects.len());
    for o in &seen {
        let want = objects
            .iter()
            .find(|w| w.id == o.object.id)
            .expect("observed id verbatim");
        assert_eq!(
            o.object.attributes.get(&attrs[0]),
            want.attributes.get(&attrs[0])
        );
    }
    apply_ok(f, &changes).await;
    assert_eq!(f.harness.count(ObjectKind::User).await, objects.len());
}

async fn batch_of_1000(f: &Fixture) {
    let users: Vec<Object> = (0..1000)
        .map(|i| user(f, &format!("u-{i:04}"), &format!("bulk{i:04}")))
        .collect();
    apply_ok(f, &upserts(&users)).await;
    assert_eq!(f.harness.count(ObjectKind::User).await, 1000);
    let seen = observe(f, ObjectKind::User).await;
    assert_eq!(seen.len(), 1000);
    let mut ids: Vec<&str> = seen.iter().map(|o| o.object.id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(
        ids.len(),
        1000,
        "observe must not repeat objects across pages"
    );
    assert_holds(&stored(f, ObjectKind::User, "u-0999").await, &users[999]);

    // The same batch with every second user changed: converges, creates nothing.
    let changed: Vec<Object> = users
        .iter()
        .enumerate()
        .map(|(i, u)| {
            if i % 2 == 0 {
                user(f, &u.id, &format!("renamed{i:04}"))
            } else {
                u.clone()
            }
        })
        .collect();
    apply_ok(f, &upserts(&changed)).await;
    assert_eq!(f.harness.count(ObjectKind::User).await, 1000);
    assert_holds(&stored(f, ObjectKind::User, "u-0998").await, &changed[998]);
}

async fn results_are_per_change(f: &Fixture) {
    f.harness
        .create_unowned(&user(f, "x-taken", "taken"), &[])
        .await;
    let changes = [
        Change::Upsert(user(f, "u-first", "first")),
        Change::Upsert(user(f, "x-taken", "taken")),
        Change::Upsert(user(f, "u-third", "third")),
        Change::Upsert(group(f, "g-ok", "ok")),
        Change::AddMembers {
            group: "g-ok".into(),
            members: users_ref(&["u-first", "u-third"]),
        },
        Change::AddMembers {
            group: "g-missing".into(),
            members: users_ref(&["u-first"]),
        },
        Change::Upsert(user(f, "u-first", "first-renamed")),
    ];
    let results = f.backend.apply(&changes).await;
    assert_eq!(results.len(), changes.len());
    for i in [0, 2, 3, 4, 6] {
        assert!(
            results[i].is_ok(),
            "change {i} must succeed alone: {:?}",
            results[i]
        );
    }
    let conflict = results[1].as_ref().expect_err("unowned key must conflict");
    assert_eq!(conflict.kind, crate::ErrorKind::Conflict);
    assert_eq!(conflict.object.as_deref(), Some("x-taken"));
    let missing = results[5]
        .as_ref()
        .expect_err("a group the target lacks cannot get members");
    assert!(!missing.is_retryable(), "{missing}");
    assert_holds(
        &stored(f, ObjectKind::User, "u-first").await,
        &user(f, "u-first", "first-renamed"),
    );
    assert_holds(
        &stored(f, ObjectKind::User, "u-third").await,
        &user(f, "u-third", "third"),
    );
    assert_eq!(f.harness.members("g-ok").await, ["u-first", "u-third"]);
}

async fn unreachable_is_transient(f: &Fixture) {
    apply_ok(f, &upserts(&[user(f, "u-before", "before")])).await;
    f.harness.cut().await;
    let changes = upserts(&[
        user(f, "u-during", "during"),
        user(f, "u-before", "changed"),
    ]);
    let results = f.backend.apply(&changes).await;
    assert_eq!(results.len(), 2);
    for r in &results {
        let e = r
            .as_ref()
            .expect_err("apply must fail while the target is unreachable");
        assert!(e.is_retryable(), "unreachable must be transient: {e}");
    }
    let e = f
        .backend
        .healthcheck()
        .await
        .expect_err("healthcheck must fail while cut");
    assert!(e.is_retryable(), "{e}");
    let e = f
        .backend
        .observe(ObjectKind::User, &mut |_| Ok(()))
        .await
        .expect_err("observe must fail while cut");
    assert!(e.is_retryable(), "{e}");

    f.harness.restore().await;
    apply_ok(f, &changes).await;
    assert_holds(
        &stored(f, ObjectKind::User, "u-before").await,
        &user(f, "u-before", "changed"),
    );
    assert_eq!(f.harness.count(ObjectKind::User).await, 2);
    f.backend.healthcheck().await.expect("healthy again");
}
