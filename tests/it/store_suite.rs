//! The state store suite, run against every engine: SQLite in a temporary directory
//! and PostgreSQL in a fresh database on the machine's server.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use scimd::scim::ResourceKind;
use scimd::scim::patch::MemberChange;
use scimd::scim::resource::MemberRef;
use scimd::store::{Change, ListQuery, Mutation, Paging, Store, StoreError, StoreUrl};

use crate::support::PgDb;

fn data(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

fn user(name: &str) -> Mutation {
    Mutation::Create {
        kind: ResourceKind::User,
        data: data(
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name}),
        ),
        members: vec![],
    }
}

fn group(name: &str, members: &[&str]) -> Mutation {
    Mutation::Create {
        kind: ResourceKind::Group,
        data: data(
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name}),
        ),
        members: members
            .iter()
            .map(|m| MemberRef {
                value: m.to_string(),
                kind: None,
            })
            .collect(),
    }
}

fn add_member(gid: &str, uid: &str) -> Mutation {
    let uid = uid.to_owned();
    Mutation::Update {
        kind: ResourceKind::Group,
        id: gid.to_owned(),
        if_match: None,
        update: Box::new(move |cur| {
            Ok(Change {
                data: cur.data.clone(),
                members: vec![MemberChange::Add(vec![MemberRef {
                    value: uid,
                    kind: None,
                }])],
            })
        }),
    }
}

async fn create(store: &Store, p: &str, m: Mutation) -> String {
    store
        .write(p, m)
        .await
        .expect("write")
        .expect("resource")
        .id
}

/// Every engine must pass this.
async fn suite(store: Store) {
    // Create, read back, per-provider scoping.
    let id = create(&store, "p1", user("Alice")).await;
    let got = store
        .get("p1", ResourceKind::User, &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.version, 1);
    assert_eq!(got.data["userName"], "Alice");
    assert!(
        store
            .get("p2", ResourceKind::User, &id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .get("p1", ResourceKind::Group, &id)
            .await
            .unwrap()
            .is_none()
    );

    // Uniqueness is per provider and case-insensitive.
    match store.write("p1", user("ALICE")).await {
        Err(StoreError::Rejected(e)) => assert_eq!(e.status, 409),
        other => panic!("expected 409, got {other:?}"),
    }
    create(&store, "p2", user("alice")).await;

    // Lookup by the indexed name key.
    let f = scimd::scim::filter::parse_filter(r#"userName eq "alice""#).unwrap();
    let q = ListQuery {
        kind: ResourceKind::User,
        filter: Some(&f),
        matches: &|_| panic!("an indexed lookup needs no Rust evaluation"),
        sort: None,
        paging: Paging::Index {
            offset: 0,
            count: 10,
        },
    };
    let page = store.list("p1", &q).await.unwrap();
    assert_eq!(page.total, 1);
    assert_eq!(page.resources[0].id, id);

    // Groups: membership rows, deltas, and no lost update under concurrency.
    let gid = create(&store, "p1", group("Staff", &[&id])).await;
    let members = store.members("p1", &gid).await.unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].display, "Alice");
    let mut users = Vec::new();
    for i in 0..20 {
        users.push(create(&store, "p1", user(&format!("c{i}"))).await);
    }
    let store2 = Arc::new(store.clone());
    let tasks: Vec<_> = users
        .iter()
        .map(|u| {
            let (s, g, u) = (store2.clone(), gid.clone(), u.clone());
            tokio::spawn(async move { s.write("p1", add_member(&g, &u)).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().expect("concurrent member add");
    }
    assert_eq!(
        store.members("p1", &gid).await.unwrap().len(),
        21,
        "a concurrent membership PATCH was lost"
    );
    let g = store
        .get("p1", ResourceKind::Group, &gid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(g.version, 21);
    assert_eq!(store.groups_of("p1", &users[0]).await.unwrap()[0].id, gid);
    let (u, groups) = store
        .user_with_groups("p1", &users[0])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(u.id, users[0]);
    assert_eq!(groups, store.groups_of("p1", &users[0]).await.unwrap());
    assert_eq!(groups[0].display, "Staff");
    assert!(
        store
            .user_with_groups("p2", &users[0])
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store.user_with_groups("p1", &gid).await.unwrap().is_none(),
        "a group is not a user"
    );

    // Re-adding is a no-op: no version bump, no journal entry.
    let before = store.journal("p1", 0, 10_000).await.unwrap().len();
    store
        .write("p1", add_member(&gid, &users[0]))
        .await
        .unwrap();
    assert_eq!(
        store
            .get("p1", ResourceKind::Group, &gid)
            .await
            .unwrap()
            .unwrap()
            .version,
        21
    );
    assert_eq!(store.journal("p1", 0, 10_000).await.unwrap().len(), before);

    // Unknown member: rejected atomically.
    let bad = Mutation::Update {
        kind: ResourceKind::Group,
        id: gid.clone(),
        if_match: None,
        update: Box::new(|cur| {
            Ok(Change {
                data: cur.data.clone(),
                members: vec![
                    MemberChange::Remove(vec![cur.id.clone()]),
                    MemberChange::Add(vec![MemberRef {
                        value: "nope".into(),
                        kind: None,
                    }]),
                ],
            })
        }),
    };
    assert!(
        matches!(store.write("p1", bad).await, Err(StoreError::Rejected(e)) if e.status == 400)
    );
    assert_eq!(store.members("p1", &gid).await.unwrap().len(), 21);

    // Membership journal entries carry the delta only.
    let last = store
        .journal("p1", 0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .rev()
        .find(|e| e.op == "members")
        .unwrap();
    assert_eq!(last.body["added"].as_array().unwrap().len(), 1);
    assert_eq!(last.body["removed"], json!([]));

    // Full replace of the member list computes the delta.
    let set = Mutation::Update {
        kind: ResourceKind::Group,
        id: gid.clone(),
        if_match: Some(21),
        update: Box::new({
            let keep = users[0].clone();
            move |cur| {
                Ok(Change {
                    data: cur.data.clone(),
                    members: vec![MemberChange::Set(vec![MemberRef {
                        value: keep,
                        kind: None,
                    }])],
                })
            }
        }),
    };
    store.write("p1", set).await.unwrap();
    assert_eq!(store.members("p1", &gid).await.unwrap().len(), 1);
    let last = store.journal("p1", 0, 10_000).await.unwrap().pop().unwrap();
    assert_eq!(last.body["removed"].as_array().unwrap().len(), 20);

    // Stale If-Match: 412.
    let stale = Mutation::Delete {
        kind: ResourceKind::Group,
        id: gid.clone(),
        if_match: Some(1),
    };
    assert!(
        matches!(store.write("p1", stale).await, Err(StoreError::Rejected(e)) if e.status == 412)
    );

    // Deleting a member user removes its membership rows and journals the group delta.
    store
        .write(
            "p1",
            Mutation::Delete {
                kind: ResourceKind::User,
                id: users[0].clone(),
                if_match: None,
            },
        )
        .await
        .unwrap();
    assert!(store.members("p1", &gid).await.unwrap().is_empty());
    let tail: Vec<String> = store
        .journal("p1", 0, 10_000)
        .await
        .unwrap()
        .iter()
        .rev()
        .take(2)
        .map(|e| e.op.clone())
        .collect();
    assert_eq!(tail, ["delete", "members"]);
    store.close().await;
}

#[tokio::test]
async fn sqlite_engine_passes_the_store_suite() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&StoreUrl::Sqlite(dir.path().join("s.db")), None, 4)
        .await
        .unwrap();
    suite(store).await;
}

#[tokio::test]
async fn postgres_engine_passes_the_store_suite() {
    let Some(db) = PgDb::create("postgres_engine_passes_the_store_suite").await else {
        return;
    };
    let store = Store::open(&StoreUrl::Postgres(db.url.clone()), None, 8)
        .await
        .unwrap();
    suite(store).await;
    db.drop_db().await;
}
