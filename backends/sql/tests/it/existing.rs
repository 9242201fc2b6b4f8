//! The SQL target against tables that already exist: the check that names
//! what is missing, adoption of an application's rows, conflicts on its
//! unique values, a column added to the mapping, and hostile values. Each
//! test runs on every engine that answers.

use std::sync::Arc;

use scimd_backend::{Backend, Change, ErrorKind, Object, ObjectKind, Value};
use scimd_backend_sql::{OnDeactivate, OnDelete, OnExisting, SqlTargetConfig};

use crate::conformance::config;
use crate::db::{Engine, TestDb};

async fn observe_ids(backend: &dyn Backend, kind: ObjectKind) -> Vec<String> {
    let mut ids = Vec::new();
    backend
        .observe(kind, &mut |o| {
            ids.push(o.object.id);
            Ok(())
        })
        .await
        .unwrap();
    ids.sort();
    ids
}

fn users_only(db: &TestDb, on_existing: OnExisting) -> SqlTargetConfig {
    let mut c = config(db, OnDeactivate::Update, OnDelete::Delete);
    c.create_tables = false;
    c.on_existing = on_existing;
    c.groups = None;
    c.memberships = None;
    c
}

/// An application's own users table: its own primary key, scimd's key as a
/// nullable unique column, unique user names and e-mails.
async fn application_table(db: &TestDb) {
    let id = db.pick(
        "INTEGER PRIMARY KEY",
        "SERIAL PRIMARY KEY",
        "INT AUTO_INCREMENT PRIMARY KEY",
    );
    let boolean = db.pick("INTEGER", "BOOLEAN", "TINYINT(1)");
    let sql = format!(
        "CREATE TABLE app_users (id {id}, scim_id VARCHAR(255) UNIQUE, scimd_owner VARCHAR(64), \
         user_name VARCHAR(255) NOT NULL UNIQUE, email VARCHAR(255) UNIQUE, active {boolean}, \
         shell VARCHAR(64) NOT NULL DEFAULT '/bin/sh')"
    );
    db.exec(&sql, &[]).await;
    for (name, email) in [("alice", "alice@old.example"), ("bob", "bob@example.test")] {
        let sql = "INSERT INTO app_users (user_name, email, shell) VALUES (?, ?, '/bin/zsh')";
        db.exec(sql, &[Some(name), Some(email)]).await;
    }
}

fn user(id: &str, name: &str, email: &str) -> Object {
    Object::new(ObjectKind::User, id, name)
        .with("user_name", name)
        .with("email", email)
        .with("active", true)
}

async fn missing_tables_and_columns_are_named(db: Arc<TestDb>) {
    db.exec(
        "CREATE TABLE app_users (scim_id VARCHAR(255), user_name TEXT)",
        &[],
    )
    .await;
    let mut c = config(&db, OnDeactivate::Update, OnDelete::Delete);
    c.create_tables = false;
    let backend = c.build().unwrap();
    let err = backend
        .healthcheck()
        .await
        .expect_err("columns are missing");
    assert_eq!(err.kind, ErrorKind::Permanent, "{err}");
    for missing in [
        "app_users.scimd_owner",
        "app_users.email",
        "app_users.active",
        "a primary key or unique index on app_users.scim_id",
        "table app_groups",
        "table app_members",
    ] {
        assert!(
            err.message.contains(missing),
            "{missing:?} not named in: {}",
            err.message
        );
    }
    assert!(
        !err.message.contains("app_users.user_name"),
        "{}",
        err.message
    );
    let results = backend
        .apply(&[Change::Upsert(user("u-1", "x", "x@example.test"))])
        .await;
    assert_eq!(results[0].as_ref().unwrap_err().kind, ErrorKind::Permanent);
}

async fn existing_rows_are_adopted_by_name(db: Arc<TestDb>) {
    application_table(&db).await;
    let backend = users_only(&db, OnExisting::Adopt).build().unwrap();
    backend
        .healthcheck()
        .await
        .expect("the application table fits");
    assert_eq!(
        observe_ids(&backend, ObjectKind::User).await,
        Vec::<String>::new()
    );

    let alice = user("u-alice", "alice", "alice@example.test");
    let carol = user("u-carol", "carol", "carol@example.test");
    let results = backend
        .apply(&[Change::Upsert(alice.clone()), Change::Upsert(carol)])
        .await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let rows = db
        .rows("SELECT user_name, scim_id, scimd_owner, email, shell FROM app_users ORDER BY user_name", &[])
        .await;
    let text = |r: &[Option<String>]| {
        r.iter()
            .map(|v| v.clone().unwrap_or_default())
            .collect::<Vec<_>>()
            .join("|")
    };
    let rows: Vec<String> = rows.iter().map(|r| text(r)).collect();
    assert_eq!(
        rows,
        [
            "alice|u-alice|scimd|alice@example.test|/bin/zsh", // adopted: key and marker set, app column kept
            "bob|||bob@example.test|/bin/zsh",                 // never touched
            "carol|u-carol|scimd|carol@example.test|/bin/sh",  // created
        ]
    );
    let app_id = db
        .rows("SELECT id FROM app_users WHERE user_name = 'alice'", &[])
        .await;
    assert_eq!(
        app_id[0][0].as_deref(),
        Some("1"),
        "the application's own key stays"
    );
    assert_eq!(
        observe_ids(&backend, ObjectKind::User).await,
        ["u-alice", "u-carol"]
    );

    // An INTEGER / TINYINT active column reads back as a boolean.
    backend
        .apply(&[Change::Deactivate {
            id: "u-alice".into(),
        }])
        .await[0]
        .clone()
        .unwrap();
    let mut seen = Vec::new();
    backend
        .observe(ObjectKind::User, &mut |o| {
            seen.push((
                o.object.id,
                o.object.active,
                o.object.attributes["active"].clone(),
            ));
            Ok(())
        })
        .await
        .unwrap();
    seen.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(!seen[0].1, "{seen:?}");
    assert!(
        seen[0].2.as_ref().unwrap().same_as(&Value::Bool(false))
            || seen[0].2 == Some(Value::Int(0))
    );
    assert!(seen[1].1, "{seen:?}");
}

async fn existing_rows_conflict_without_adopt(db: Arc<TestDb>) {
    application_table(&db).await;
    let backend = users_only(&db, OnExisting::Fail).build().unwrap();
    let results = backend
        .apply(&[
            Change::Upsert(user("u-bob", "bob", "bob@new.example")),
            // A new name but bob's e-mail: the unique index refuses, bob stays as is.
            Change::Upsert(user("u-dave", "dave", "bob@example.test")),
            Change::Upsert(user("u-erin", "erin", "erin@example.test")),
        ])
        .await;
    let kinds: Vec<Option<ErrorKind>> = results
        .iter()
        .map(|r| r.as_ref().err().map(|e| e.kind))
        .collect();
    assert_eq!(
        kinds,
        [Some(ErrorKind::Conflict), Some(ErrorKind::Conflict), None],
        "{results:?}"
    );
    assert!(
        results[0].as_ref().unwrap_err().message.contains("adopt"),
        "{results:?}"
    );
    let bob = db
        .rows(
            "SELECT scim_id, scimd_owner, user_name FROM app_users WHERE email = 'bob@example.test'",
            &[],
        )
        .await;
    assert_eq!(
        bob,
        [vec![None, None, Some("bob".to_string())]],
        "bob's row must stay exactly as the application left it"
    );
    assert_eq!(observe_ids(&backend, ObjectKind::User).await, ["u-erin"]);
}

async fn a_newly_mapped_column_is_added(db: Arc<TestDb>) {
    let mut c = config(&db, OnDeactivate::Update, OnDelete::Delete);
    c.build().unwrap().healthcheck().await.unwrap();
    c.users.columns.insert(
        "phone".into(),
        r#"phoneNumbers[type eq "work"].value"#.into(),
    );
    let backend = c.build().unwrap();
    backend.healthcheck().await.expect("phone column added");
    let u = user("u-1", "one", "one@example.test").with("phone", "+49 30 1234");
    assert!(backend.apply(&[Change::Upsert(u)]).await[0].is_ok());
    let phone = db
        .rows("SELECT phone FROM app_users WHERE scim_id = 'u-1'", &[])
        .await;
    assert_eq!(phone[0][0].as_deref(), Some("+49 30 1234"));
}

async fn hostile_values_land_verbatim(db: Arc<TestDb>) {
    let backend = config(&db, OnDeactivate::Update, OnDelete::Delete)
        .build()
        .unwrap();
    let hostile = [
        "x'); DROP TABLE app_users; --",
        "\"; DELETE FROM app_members; --",
        "\\'; SELECT pg_sleep(5); --",
        "Robert'); DROP TABLE Students;-- 🎓",
        "`backtick` $1 ? :p ${VAR}",
    ];
    let changes: Vec<Change> = hostile
        .iter()
        .enumerate()
        .map(|(i, v)| Change::Upsert(user(&format!("{v}#{i}"), v, &format!("{v}@example.test"))))
        .collect();
    assert!(backend.apply(&changes).await.iter().all(Result::is_ok));
    for (i, v) in hostile.iter().enumerate() {
        let id = format!("{v}#{i}");
        let row = db
            .rows(
                "SELECT user_name, email FROM app_users WHERE scim_id = ?",
                &[Some(&id)],
            )
            .await;
        assert_eq!(
            row,
            [vec![Some(v.to_string()), Some(format!("{v}@example.test"))]]
        );
    }
    let count = db.rows("SELECT COUNT(*) FROM app_users", &[]).await;
    assert_eq!(count[0][0].as_deref(), Some("5"));
}

/// Runs a test on a fresh database of this engine and drops the database
/// afterwards, also when the test fails.
async fn on<F: Future<Output = ()> + Send + 'static>(engine: Engine, test: fn(Arc<TestDb>) -> F) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    let db = Arc::new(db);
    let outcome = tokio::spawn(test(db.clone())).await;
    db.teardown().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

macro_rules! on_every_engine {
    ($($test:ident),*) => {
        mod sqlite { $( #[tokio::test] async fn $test() { super::on(super::Engine::Sqlite, super::$test).await } )* }
        mod postgres { $( #[tokio::test] async fn $test() { super::on(super::Engine::Postgres, super::$test).await } )* }
        mod mariadb { $( #[tokio::test] async fn $test() { super::on(super::Engine::MySql, super::$test).await } )* }
    };
}

on_every_engine!(
    missing_tables_and_columns_are_named,
    existing_rows_are_adopted_by_name,
    existing_rows_conflict_without_adopt,
    a_newly_mapped_column_is_added,
    hostile_values_land_verbatim
);

/// PostgreSQL waits for row locks without end unless told: scimd sets
/// `lock_timeout`, so a row the application keeps locked fails as transient.
async fn a_locked_row_is_transient(db: Arc<TestDb>) {
    let backend = config(&db, OnDeactivate::Update, OnDelete::Delete)
        .build()
        .unwrap();
    let first = user("u-1", "one", "one@example.test");
    assert!(backend.apply(&[Change::Upsert(first)]).await[0].is_ok());
    let crate::db::Direct::Pg(pool) = &db.direct else {
        unreachable!()
    };
    let mut lock = pool.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM app_users WHERE scim_id = 'u-1' FOR UPDATE")
        .execute(&mut *lock)
        .await
        .unwrap();
    let update = [Change::Upsert(user("u-1", "one", "new@example.test"))];
    let results = tokio::time::timeout(std::time::Duration::from_secs(5), backend.apply(&update))
        .await
        .expect("apply must not wait for the lock forever");
    let e = results[0].as_ref().expect_err("the row is locked");
    assert!(e.is_retryable(), "{e}");
    lock.rollback().await.unwrap();
    assert!(
        backend
            .apply(&[Change::Upsert(user("u-1", "one", "new@example.test"))])
            .await[0]
            .is_ok()
    );
}

#[tokio::test]
async fn postgres_a_locked_row_is_transient() {
    on(Engine::Postgres, a_locked_row_is_transient).await
}
