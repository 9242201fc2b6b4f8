//! What the checks share: objects built from the profile, calls to the
//! backend that fail loudly, and assertions on what the target holds.

use super::{Fixture, Outcome, Stored};
use crate::{Change, MemberRef, Object, ObjectKind, Observed, Value};

// ---- building objects from the profile ----

pub(super) fn user(f: &Fixture, id: &str, name: &str) -> Object {
    let attrs = &f.profile.user_attributes;
    let mut o = Object::new(ObjectKind::User, id, name)
        .with(attrs[0].as_str(), name)
        .with(attrs[1].as_str(), format!("{name}@example.test"));
    if let Some(active) = &f.profile.active_attribute {
        o = o.with(active.as_str(), true);
    }
    o
}

pub(super) fn group(f: &Fixture, id: &str, name: &str) -> Object {
    Object::new(ObjectKind::Group, id, name).with(f.profile.group_attributes[0].as_str(), name)
}

pub(super) fn upserts(objects: &[Object]) -> Vec<Change> {
    objects.iter().cloned().map(Change::Upsert).collect()
}

pub(super) fn users_ref(ids: &[&str]) -> Vec<MemberRef> {
    ids.iter().map(|id| MemberRef::user(*id)).collect()
}

// ---- talking to the backend ----

pub(super) async fn apply_ok(f: &Fixture, changes: &[Change]) {
    let results = f.backend.apply(changes).await;
    assert_eq!(
        results.len(),
        changes.len(),
        "apply must return one result per change"
    );
    for (change, result) in changes.iter().zip(&results) {
        if let Err(e) = result {
            panic!("{} failed: {e}\nchange: {change:?}", f.backend.describe());
        }
    }
}

pub(super) async fn observe(f: &Fixture, kind: ObjectKind) -> Vec<Observed> {
    let mut seen = Vec::new();
    f.backend
        .observe(kind, &mut |o| {
            seen.push(o);
            Ok(())
        })
        .await
        .unwrap_or_else(|e| panic!("observe {kind} failed: {e}"));
    seen
}

pub(super) async fn stored(f: &Fixture, kind: ObjectKind, id: &str) -> Stored {
    f.harness
        .read(kind, id)
        .await
        .unwrap_or_else(|| panic!("{kind} {id} should be in the target"))
}

/// Asserts the target holds every attribute `o` names with the same meaning.
pub(super) fn assert_holds(stored: &Stored, o: &Object) {
    assert!(stored.owned, "{} {} should be owned by scimd", o.kind, o.id);
    for (attr, want) in &o.attributes {
        let got = stored.attributes.get(attr).cloned().flatten();
        let same = match (want, &got) {
            (Some(w), Some(g)) => w.same_as(g),
            (None, None) => true,
            _ => false,
        };
        assert!(
            same,
            "{} {}: attribute {attr} is {got:?}, expected {want:?}",
            o.kind, o.id
        );
    }
}

pub(super) fn assert_observed(observed: &Observed, o: &Object) {
    assert_eq!(observed.object.id, o.id);
    assert_eq!(observed.object.kind, o.kind);
    assert_eq!(
        observed.object.active, o.active,
        "observed active of {}",
        o.id
    );
    for (attr, want) in &o.attributes {
        let got = observed.object.attributes.get(attr).cloned().flatten();
        let same = match (want, &got) {
            (Some(w), Some(g)) => w.same_as(g),
            (None, None) => true,
            _ => false,
        };
        assert!(
            same,
            "observed {} {}: {attr} is {got:?}, expected {want:?}",
            o.kind, o.id
        );
    }
}

pub(super) async fn assert_outcome(f: &Fixture, id: &str, outcome: Outcome) {
    let now = f.harness.read(ObjectKind::User, id).await;
    match outcome {
        Outcome::Removed => assert_eq!(now, None, "user {id} should be gone"),
        Outcome::Deactivated => {
            let s = now.unwrap_or_else(|| panic!("user {id} should be kept"));
            assert!(s.owned, "deactivated user {id} should stay owned");
            if let Some(active) = &f.profile.active_attribute {
                let v = s.attributes.get(active).cloned().flatten();
                assert!(
                    v.as_ref().is_some_and(|v| v.same_as(&Value::Bool(false))),
                    "user {id}: {active} should be false, is {v:?}"
                );
            }
        }
        Outcome::Released => {
            let s = now.unwrap_or_else(|| panic!("user {id} should be kept"));
            assert!(!s.owned, "user {id} should no longer be owned");
        }
    }
}

pub(super) type Snapshot = (Vec<Option<Stored>>, Vec<Vec<String>>, usize, usize);

pub(super) async fn snapshot(f: &Fixture, users: &[&str], groups: &[&str]) -> Snapshot {
    let mut objects = Vec::new();
    for id in users {
        objects.push(f.harness.read(ObjectKind::User, id).await);
    }
    let mut members = Vec::new();
    for id in groups {
        objects.push(f.harness.read(ObjectKind::Group, id).await);
        members.push(f.harness.members(id).await);
    }
    let counts = (
        f.harness.count(ObjectKind::User).await,
        f.harness.count(ObjectKind::Group).await,
    );
    (objects, members, counts.0, counts.1)
}
