//! Several instances on one PostgreSQL state store: both serve SCIM, exactly one works
//! each target (advisory-lock lease), and the other takes over when it goes away.

use std::time::{Duration, Instant};

use crate::support::{Daemon, PgDb, user};

fn target_toml(db: &std::path::Path) -> String {
    format!(
        r#"
[providers.a.targets.t]
kind = "sql"
url = "sqlite://{}"
create_tables = true

[providers.a.targets.t.users]
table = "users"
key = "scim_id"
on_deactivate = "delete"

[providers.a.targets.t.users.columns]
user_name = "userName"
"#,
        db.display()
    )
}

async fn rows(db: &std::path::Path) -> i64 {
    use sqlx::Connection;
    let Ok(mut c) = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display())).await
    else {
        return -1;
    };
    sqlx::query_as::<_, (i64,)>("SELECT COUNT(*) FROM users")
        .fetch_one(&mut c)
        .await
        .map(|r| r.0)
        .unwrap_or(-1)
}

async fn wait_rows(db: &std::path::Path, n: i64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let have = rows(db).await;
        if have == n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "target holds {have} rows, expected {n}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn leader(d: &Daemon) -> bool {
    let reports = scimd::admin::fetch_status(&d.dir.path().join("admin.sock"))
        .await
        .expect("status");
    assert_eq!(reports.len(), 1);
    reports[0].leader
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_a_postgres_store_and_one_works_the_target() {
    let Some(pg) = PgDb::create("two_instances_share_a_postgres_store").await else {
        return;
    };
    let shared = tempfile::tempdir().unwrap();
    let target_db = shared.path().join("target.db");
    let extra = target_toml(&target_db);
    let first = Daemon::start_in(tempfile::tempdir().unwrap(), &pg.url, &extra).await;
    let second = Daemon::start_in(tempfile::tempdir().unwrap(), &pg.url, &extra).await;

    // Both serve SCIM on the same state.
    for i in 0..20 {
        let via = if i % 2 == 0 { &first } else { &second };
        assert_eq!(
            via.client()
                .post("/Users", &user(&format!("ha{i}")))
                .await
                .status,
            201
        );
    }
    assert_eq!(
        second.client().get("/Users?count=0").await.body["totalResults"],
        20
    );
    wait_rows(&target_db, 20).await;

    // Exactly one of them works the target.
    let deadline = Instant::now() + Duration::from_secs(10);
    let (a, b) = loop {
        let (a, b) = (leader(&first).await, leader(&second).await);
        if a != b || Instant::now() > deadline {
            break (a, b);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(a ^ b, "leaders: first={a} second={b}");

    // The leader goes away; the other takes over and nothing is lost or doubled.
    let (gone, stays) = if a { (first, second) } else { (second, first) };
    gone.stop().await;
    for i in 20..40 {
        assert_eq!(
            stays
                .client()
                .post("/Users", &user(&format!("ha{i}")))
                .await
                .status,
            201
        );
    }
    wait_rows(&target_db, 40).await;
    assert!(
        leader(&stays).await,
        "the remaining instance did not take the target over"
    );
    stays.stop().await;
    pg.drop_db().await;
}
