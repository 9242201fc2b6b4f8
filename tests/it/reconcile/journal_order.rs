//! The journal as a reconcile worker reads it, on PostgreSQL with concurrent writers:
//! reading from a cursor and jumping to the last sequence number seen must never step
//! over an entry that commits later with a lower number.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::json;

use scimd::scim::ResourceKind;
use scimd::store::{Mutation, Store, StoreUrl};

use crate::support::PgDb;

fn create(name: &str) -> Mutation {
    Mutation::Create {
        kind: ResourceKind::User,
        data: json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name})
            .as_object()
            .unwrap()
            .clone(),
        members: vec![],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_reader_sees_every_entry_under_concurrent_postgres_writers() {
    let Some(db) = PgDb::create("journal_order").await else {
        return;
    };
    let store = Store::open(&StoreUrl::Postgres(db.url.clone()), None, 24)
        .await
        .expect("open");
    let done = Arc::new(AtomicBool::new(false));
    let reader = tokio::spawn({
        let (store, done) = (store.clone(), done.clone());
        async move {
            let mut cursor = 0;
            let mut seen = BTreeSet::new();
            loop {
                let finished = done.load(Ordering::SeqCst);
                let batch = store.journal("a", cursor, 50).await.expect("journal");
                for e in &batch {
                    seen.insert(e.seq);
                }
                match batch.last() {
                    Some(e) => cursor = e.seq,
                    None if finished => return seen,
                    None => tokio::task::yield_now().await,
                }
            }
        }
    });
    let mut writers = Vec::new();
    for w in 0..16 {
        let store = store.clone();
        writers.push(tokio::spawn(async move {
            for i in 0..100 {
                store
                    .write("a", create(&format!("w{w}-{i}")))
                    .await
                    .expect("create");
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    done.store(true, Ordering::SeqCst);
    let seen = reader.await.unwrap();
    let all: BTreeSet<i64> = store
        .journal("a", 0, 100_000)
        .await
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(all.len(), 1600);
    let missed: Vec<_> = all.difference(&seen).collect();
    assert!(
        missed.is_empty(),
        "the cursor reader stepped over {} entries: {missed:?}",
        missed.len()
    );
    store.close().await;
    db.drop_db().await;
}
