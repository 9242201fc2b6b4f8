use scimd_backend::{Change, MemberRef, Object, ObjectKind, Observed, Value};

use super::*;

fn user(id: &str, mail: &str) -> Object {
    Object::new(ObjectKind::User, id, format!("name-{id}")).with("email", mail)
}

fn want(o: Object) -> Result<Desired, String> {
    Ok(Desired {
        object: o,
        members: None,
    })
}

fn have(o: Object) -> Result<Observed, String> {
    Ok(Observed {
        object: o,
        members: None,
    })
}

fn group(id: &str, members: &[&str]) -> (Desired, Observed) {
    let o = Object::new(ObjectKind::Group, id, id).with("name", id);
    (
        Desired {
            object: o.clone(),
            members: Some(members.iter().map(|m| MemberRef::user(*m)).collect()),
        },
        Observed {
            object: o,
            members: Some(Vec::new()),
        },
    )
}

fn run(
    desired: Vec<Result<Desired, String>>,
    observed: Vec<Result<Observed, String>>,
) -> (Vec<Planned>, Result<MergeCounts, MergeError>) {
    let mut out = Vec::new();
    let r = merge(
        desired.into_iter(),
        observed.into_iter(),
        |p| {
            out.push(p);
            Ok(())
        },
        |_| {},
    );
    (out, r)
}

#[test]
fn equal_sides_have_no_differences() {
    let d = vec![want(user("a", "a@x")), want(user("b", "b@x"))];
    let o = vec![
        have(user("a", "a@x")),
        // Representation differs, meaning does not.
        have(user("b", "b@x")),
    ];
    let (out, r) = run(d, o);
    assert!(out.is_empty(), "{out:?}");
    assert_eq!(
        r.unwrap(),
        MergeCounts {
            desired: 2,
            observed: 2
        }
    );
}

#[test]
fn create_update_and_orphan_in_id_order() {
    let d = vec![want(user("a", "a@x")), want(user("c", "c@x"))];
    let o = vec![have(user("b", "b@x")), have(user("c", "old@x"))];
    let (out, r) = run(d, o);
    r.unwrap();
    let kinds: Vec<(&str, &DifferenceKind)> = out
        .iter()
        .map(|p| (p.difference.id.as_str(), &p.difference.what))
        .collect();
    assert_eq!(kinds[0], ("a", &DifferenceKind::Create));
    assert_eq!(kinds[1], ("b", &DifferenceKind::Delete));
    assert_eq!(
        kinds[2],
        (
            "c",
            &DifferenceKind::Update {
                attributes: vec![AttributeDiff {
                    attribute: "email".into(),
                    desired: Some("c@x".into()),
                    observed: Some("old@x".into()),
                }]
            }
        )
    );
    assert_eq!(out[0].changes, vec![Change::Upsert(user("a", "a@x"))]);
    assert_eq!(
        out[1].changes,
        vec![Change::Delete {
            kind: ObjectKind::User,
            id: "b".into()
        }]
    );
    assert_eq!(out[2].changes, vec![Change::Upsert(user("c", "c@x"))]);
}

#[test]
fn representation_and_emptiness_are_not_drift() {
    let mut d = user("a", "a@x");
    d.attributes
        .insert("active".into(), Some(Value::Bool(true)));
    d.attributes.insert("phone".into(), None);
    let mut o = user("a", "a@x");
    o.attributes
        .insert("active".into(), Some(Value::Text("true".into())));
    o.attributes
        .insert("phone".into(), Some(Value::Text(String::new())));
    // Unmapped columns of the target are not compared.
    o.attributes
        .insert("extra".into(), Some(Value::Text("x".into())));
    assert!(attribute_diffs(&d, &o).is_empty());
}

#[test]
fn cleared_attribute_is_drift() {
    let d = user("a", "a@x");
    let mut o = user("a", "a@x");
    o.attributes.insert("email".into(), None);
    let diffs = attribute_diffs(&d, &o);
    assert_eq!(diffs.len(), 1);
    assert_eq!(diffs[0].observed, None);
}

#[test]
fn members_added_and_removed() {
    let (d, mut o) = group("g", &["u1", "u3"]);
    o.members = Some(vec!["u2".into(), "u3".into()]);
    let (out, r) = run(vec![Ok(d)], vec![Ok(o)]);
    r.unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(
        out[0].difference.what,
        DifferenceKind::Members {
            add: vec!["u1".into()],
            remove: vec!["u2".into()]
        }
    );
    assert_eq!(
        out[0].changes,
        vec![
            Change::RemoveMembers {
                group: "g".into(),
                members: vec![MemberRef::user("u2")]
            },
            Change::AddMembers {
                group: "g".into(),
                members: vec![MemberRef::user("u1")]
            },
        ]
    );
}

#[test]
fn missing_group_is_created_with_its_members() {
    let (d, _) = group("g", &["u1"]);
    let (out, _) = run(vec![Ok(d.clone())], vec![]);
    assert_eq!(
        out[0].changes,
        vec![
            Change::Upsert(d.object.clone()),
            Change::AddMembers {
                group: "g".into(),
                members: vec![MemberRef::user("u1")]
            }
        ]
    );
}

#[test]
fn inactive_user_absent_from_target_is_not_missing() {
    let mut u = user("a", "a@x");
    u.active = false;
    let (out, r) = run(vec![want(u.clone())], vec![]);
    assert!(out.is_empty());
    assert_eq!(r.unwrap().desired, 1);
    // Present and different: converged, then deactivated again.
    let (out, _) = run(vec![want(u.clone())], vec![have(user("a", "b@x"))]);
    assert_eq!(
        out[0].changes,
        vec![Change::Upsert(u), Change::Deactivate { id: "a".into() }]
    );
}

#[test]
fn out_of_order_side_stops_the_merge() {
    let o = vec![have(user("b", "x")), have(user("a", "x"))];
    let (_, r) = run(vec![], o);
    assert!(matches!(
        r,
        Err(MergeError::OutOfOrder { side: "target", .. })
    ));
    let d = vec![want(user("a", "x")), want(user("a", "x"))];
    let (_, r) = run(d, vec![]);
    assert!(matches!(
        r,
        Err(MergeError::OutOfOrder {
            side: "state store",
            ..
        })
    ));
}

#[test]
fn failing_source_or_consumer_stops_the_merge() {
    let (_, r) = run(vec![Err("store down".into())], vec![]);
    assert_eq!(r, Err(MergeError::Stopped("store down".into())));
    let r = merge(
        vec![want(user("a", "x"))].into_iter(),
        std::iter::empty(),
        |_| Err("enough".into()),
        |_| {},
    );
    assert_eq!(r, Err(MergeError::Stopped("enough".into())));
}

#[test]
fn threshold() {
    assert!(within_threshold(0, 0, 10));
    assert!(within_threshold(10, 100, 10));
    assert!(!within_threshold(11, 100, 10));
    assert!(!within_threshold(1, 0, 10));
    assert!(!within_threshold(1, 5, 0));
}

proptest::proptest! {
    /// Whatever the two sides hold, applying the planned differences to the observed
    /// side yields exactly the desired ids.
    #[test]
    fn merge_plans_exactly_the_set_difference(
        want_ids in proptest::collection::btree_set("[a-f]{1,3}", 0..30),
        have_ids in proptest::collection::btree_set("[a-f]{1,3}", 0..30),
    ) {
        let d: Vec<_> = want_ids.iter().map(|i| want(user(i, "m"))).collect();
        let o: Vec<_> = have_ids.iter().map(|i| have(user(i, "m"))).collect();
        let (out, r) = run(d, o);
        let counts = r.unwrap();
        proptest::prop_assert_eq!(counts.desired as usize, want_ids.len());
        let mut result = have_ids.clone();
        for p in &out {
            match p.difference.what {
                DifferenceKind::Create => { result.insert(p.difference.id.clone()); }
                DifferenceKind::Delete => { result.remove(&p.difference.id); }
                _ => proptest::prop_assert!(false, "unexpected {:?}", p),
            }
        }
        proptest::prop_assert_eq!(result, want_ids);
    }
}
