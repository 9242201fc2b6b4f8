//! Reconcile end to end: SCIM requests over HTTP to a running scimd, and what lands in
//! real SQL targets (SQLite, PostgreSQL, MariaDB). Target databases are fresh per test
//! and reached through a TCP proxy the test can cut (see `target_db`).

mod examples;
mod faults;
mod journal_order;
mod policies;
mod scenario;

use std::time::{Duration, Instant};

use crate::target_db::TestDb;

/// Creates an existing application's tables: user names unique, an ownership column,
/// an `active` flag in the engine's own boolean type.
pub async fn app_schema(db: &TestDb) {
    let boolean = db.pick("INTEGER", "BOOLEAN", "BOOLEAN");
    let utf8 = db.pick("", "", " CHARACTER SET utf8mb4");
    db.exec(
        &format!(
            "CREATE TABLE app_users (scim_id VARCHAR(64) NOT NULL PRIMARY KEY, \
             user_name VARCHAR(255) NOT NULL UNIQUE, email VARCHAR(255), display_name VARCHAR(255), \
             active {boolean}, scimd_owner VARCHAR(64)){utf8}"
        ),
        &[],
    )
    .await;
    db.exec(
        &format!(
            "CREATE TABLE app_groups (scim_id VARCHAR(64) NOT NULL PRIMARY KEY, \
             name VARCHAR(255) NOT NULL, scimd_owner VARCHAR(64)){utf8}"
        ),
        &[],
    )
    .await;
    db.exec(
        "CREATE TABLE app_members (group_id VARCHAR(64) NOT NULL, user_id VARCHAR(64) NOT NULL, \
         PRIMARY KEY (group_id, user_id))",
        &[],
    )
    .await;
}

/// `[providers.a.targets.app]` onto [`app_schema`]'s tables; `users_extra` goes into
/// the users table section (policies), `groups` false leaves groups out.
pub fn app_target(url: &str, users_extra: &str, groups: bool) -> String {
    let mut t = format!(
        r#"
[providers.a.targets.app]
kind = "sql"
url = "{url}"

[providers.a.targets.app.users]
table = "app_users"
key = "scim_id"
{users_extra}

[providers.a.targets.app.users.columns]
user_name = "userName"
email = 'emails[type eq "work"].value'
display_name = "{{name.givenName}} {{name.familyName}}"
active = "active"
"#
    );
    if groups {
        t.push_str(
            r#"
[providers.a.targets.app.groups]
table = "app_groups"
key = "scim_id"

[providers.a.targets.app.groups.columns]
name = "displayName"

[providers.a.targets.app.memberships]
table = "app_members"
group_column = "group_id"
member_column = "user_id"
"#,
        );
    }
    t
}

/// The users table as `(id, userName, email, active y/n, owner)`, by userName.
pub const USERS: &str = "SELECT scim_id, user_name, email, CASE WHEN active THEN 'y' ELSE 'n' END, \
                         scimd_owner FROM app_users ORDER BY user_name";
/// The groups table as `(id, name)`, by name.
pub const GROUPS: &str = "SELECT scim_id, name FROM app_groups ORDER BY name";
/// The membership table, sorted.
pub const MEMBERS: &str = "SELECT group_id, user_id FROM app_members ORDER BY group_id, user_id";

/// A row from string literals; `"NULL"` stands for NULL.
pub fn row(cols: &[&str]) -> Vec<Option<String>> {
    cols.iter()
        .map(|c| (*c != "NULL").then(|| (*c).to_owned()))
        .collect()
}

/// Polls `sql` until it returns exactly `expected` (sorted as the query sorts);
/// fails with what it saw last after `timeout`.
pub async fn wait_rows(
    db: &TestDb,
    sql: &str,
    expected: &[Vec<Option<String>>],
    timeout: Duration,
) {
    let deadline = Instant::now() + timeout;
    loop {
        let got = db.rows(sql, &[]).await;
        if got == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{:?}: target did not converge in {timeout:?} for {sql}\n got: {got:?}\nwant: {expected:?}",
            db.engine
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls a `SELECT COUNT(*)` until it equals `n`; returns how long it took.
pub async fn wait_count(db: &TestDb, sql: &str, n: usize, timeout: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let got = count(db, sql).await;
        if got == n {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < timeout,
            "{:?}: {sql} is {got}, not {n}, after {timeout:?}",
            db.engine
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The number a `SELECT COUNT(...)` returns.
pub async fn count(db: &TestDb, sql: &str) -> usize {
    db.rows(sql, &[]).await[0][0]
        .as_deref()
        .and_then(|n| n.parse().ok())
        .expect("a count")
}

/// Polls `scimd status` of the only target until `done` holds (30 s at most).
pub async fn status_until(
    socket: &std::path::Path,
    done: impl Fn(&scimd::reconcile::TargetReport) -> bool,
) -> scimd::reconcile::TargetReport {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let report = scimd::admin::fetch_status(socket).await.expect("status");
        if done(&report[0]) {
            return report[0].clone();
        }
        assert!(
            Instant::now() < deadline,
            "status never got there: {report:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
