//! The shared backend conformance suite on SQLite, PostgreSQL and MariaDB.
//! Each engine runs a different pair of policies, so every policy is covered:
//! SQLite update/delete, PostgreSQL update/mark, MariaDB delete/delete.

use std::collections::BTreeMap;

use async_trait::async_trait;
use scimd_backend::conformance::{Fixture, Harness, Outcome, Profile, Stored};
use scimd_backend::{Object, ObjectKind, Value};
use scimd_backend_sql::{OnDeactivate, OnDelete, SqlTargetConfig};

use crate::db::{Engine, TestDb};

/// The config every conformance fixture uses (tables are created).
pub fn config(db: &TestDb, on_deactivate: OnDeactivate, on_delete: OnDelete) -> SqlTargetConfig {
    let mut c: SqlTargetConfig = toml::from_str(&format!(
        r#"
        url = "{}"
        create_tables = true
        timeout_seconds = 1
        [users]
        table = "app_users"
        key = "scim_id"
        [users.columns]
        user_name = "userName"
        email = 'emails[type eq "work"].value'
        active = "active"
        [groups]
        table = "app_groups"
        key = "scim_id"
        [groups.columns]
        display_name = "displayName"
        [memberships]
        table = "app_members"
        group_column = "group_id"
        member_column = "user_id"
        "#,
        db.url
    ))
    .unwrap();
    c.users.on_deactivate = on_deactivate;
    c.users.on_delete = on_delete;
    c
}

async fn setup(engine: Engine) -> Option<Fixture> {
    let db = TestDb::new(engine).await?;
    let (on_deactivate, on_delete) = match engine {
        Engine::Sqlite => (OnDeactivate::Update, OnDelete::Delete),
        Engine::Postgres => (OnDeactivate::Update, OnDelete::Mark),
        Engine::MySql => (OnDeactivate::Delete, OnDelete::Delete),
    };
    let backend = config(&db, on_deactivate, on_delete).build().unwrap();
    scimd_backend::Backend::healthcheck(&backend)
        .await
        .expect("tables created");
    db.exec("ALTER TABLE app_users ADD COLUMN note TEXT", &[])
        .await;
    db.exec("ALTER TABLE app_groups ADD COLUMN note TEXT", &[])
        .await;
    let outcome = |deactivate: bool| match (deactivate, on_deactivate, on_delete) {
        (true, OnDeactivate::Update, _) => Outcome::Deactivated,
        (true, OnDeactivate::Delete, _) | (false, _, OnDelete::Delete) => Outcome::Removed,
        (false, _, OnDelete::Mark) => Outcome::Released,
    };
    let profile = Profile {
        user_attributes: vec!["user_name".into(), "email".into()],
        group_attributes: vec!["display_name".into()],
        active_attribute: Some("active".into()),
        on_deactivate: outcome(true),
        on_delete: outcome(false),
        unmapped: true,
    };
    Some(Fixture {
        backend: Box::new(backend),
        harness: Box::new(SqlHarness { db }),
        profile,
    })
}

pub async fn sqlite() -> Option<Fixture> {
    setup(Engine::Sqlite).await
}
pub async fn postgres() -> Option<Fixture> {
    setup(Engine::Postgres).await
}
pub async fn mysql() -> Option<Fixture> {
    setup(Engine::MySql).await
}

struct SqlHarness {
    db: TestDb,
}

fn table(kind: ObjectKind) -> &'static str {
    match kind {
        ObjectKind::User => "app_users",
        ObjectKind::Group => "app_groups",
    }
}

#[async_trait]
impl Harness for SqlHarness {
    async fn create_unowned(&self, object: &Object, members: &[String]) {
        let mut columns = vec!["scim_id"];
        let mut values = vec![Some(object.id.as_str())];
        for (column, value) in &object.attributes {
            if let Some(Value::Text(s)) = value {
                columns.push(column);
                values.push(Some(s));
            }
        }
        let marks = vec!["?"; columns.len()].join(", ");
        let sql = format!(
            "INSERT INTO {} ({}) VALUES ({marks})",
            table(object.kind),
            columns.join(", ")
        );
        self.db.exec(&sql, &values).await;
        for m in members {
            let sql = "INSERT INTO app_members (group_id, user_id) VALUES (?, ?)";
            self.db.exec(sql, &[Some(&object.id), Some(m)]).await;
        }
    }

    async fn read(&self, kind: ObjectKind, id: &str) -> Option<Stored> {
        let (sql, names): (&str, &[&str]) = match kind {
            ObjectKind::User => (
                "SELECT scimd_owner, user_name, email, \
                 CASE WHEN active IS NULL THEN NULL WHEN active THEN 'true' ELSE 'false' END \
                 FROM app_users WHERE scim_id = ?",
                &["user_name", "email", "active"],
            ),
            ObjectKind::Group => (
                "SELECT scimd_owner, display_name FROM app_groups WHERE scim_id = ?",
                &["display_name"],
            ),
        };
        let mut rows = self.db.rows(sql, &[Some(id)]).await;
        assert!(rows.len() <= 1, "key {id:?} must be unique");
        let mut row = rows.pop()?.into_iter();
        let owned = row.next().flatten().as_deref() == Some("scimd");
        let attributes: BTreeMap<String, Option<Value>> = names
            .iter()
            .zip(row)
            .map(|(n, v)| {
                let v = v.map(|s| match (*n, s.as_str()) {
                    ("active", "true") => Value::Bool(true),
                    ("active", "false") => Value::Bool(false),
                    _ => Value::Text(s),
                });
                (n.to_string(), v)
            })
            .collect();
        Some(Stored { attributes, owned })
    }

    async fn members(&self, group: &str) -> Vec<String> {
        let rows = self
            .db
            .rows(
                "SELECT user_id FROM app_members WHERE group_id = ?",
                &[Some(group)],
            )
            .await;
        let mut ids: Vec<String> = rows
            .into_iter()
            .filter_map(|mut r| r.pop().flatten())
            .collect();
        ids.sort();
        ids
    }

    async fn set_unmapped(&self, kind: ObjectKind, id: &str, value: &str) {
        let sql = format!("UPDATE {} SET note = ? WHERE scim_id = ?", table(kind));
        self.db.exec(&sql, &[Some(value), Some(id)]).await;
    }

    async fn unmapped(&self, kind: ObjectKind, id: &str) -> Option<String> {
        let sql = format!("SELECT note FROM {} WHERE scim_id = ?", table(kind));
        self.db.rows(&sql, &[Some(id)]).await.pop()?.pop().flatten()
    }

    async fn count(&self, kind: ObjectKind) -> usize {
        let rows = self
            .db
            .rows(&format!("SELECT COUNT(*) FROM {}", table(kind)), &[])
            .await;
        rows[0][0].as_deref().unwrap().parse().unwrap()
    }

    async fn cut(&self) {
        self.db.cut().await;
    }

    async fn restore(&self) {
        self.db.restore().await;
    }

    async fn teardown(&self) {
        self.db.teardown().await;
    }
}

mod sqlite {
    scimd_backend::conformance_tests!(super::sqlite);
}
mod postgres {
    scimd_backend::conformance_tests!(super::postgres);
}
mod mariadb {
    scimd_backend::conformance_tests!(super::mysql);
}
