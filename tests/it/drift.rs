//! Drift checks against real SQL targets (SQLite and PostgreSQL): hand edits are
//! reported by a dry run and repaired by a repair, rows scimd does not own stay as
//! they are, the deletion threshold stops a plan that would wipe the target, and
//! the real binary runs a check on SIGUSR1 and answers `scimd reconcile`.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use scimd::drift::{DriftReport, Mode};
use sqlx::Connection;

use crate::support::{Daemon, PgDb, config_text, group, scimd_bin, user};

fn target_toml(url: &str, extra: &str) -> String {
    format!(
        r#"
{extra}

[providers.a.targets.t]
kind = "sql"
url = "{url}"
create_tables = true

[providers.a.targets.t.users]
table = "users"
key = "scim_id"
on_deactivate = "delete"

[providers.a.targets.t.users.columns]
user_name = "userName"
email = 'emails[type eq "work"].value'

[providers.a.targets.t.groups]
table = "groups"
key = "scim_id"

[providers.a.targets.t.groups.columns]
name = "displayName"

[providers.a.targets.t.memberships]
table = "group_members"
group_column = "group_id"
member_column = "user_id"
"#
    )
}

/// The target database, for hand edits and checks.
enum Target {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

impl Target {
    async fn open(url: &str) -> Target {
        if url.starts_with("sqlite:") {
            Target::Sqlite(sqlx::SqliteConnection::connect(url).await.unwrap())
        } else {
            Target::Postgres(sqlx::PgConnection::connect(url).await.unwrap())
        }
    }

    async fn exec(&mut self, sql: &str) {
        let q = sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()));
        match self {
            Target::Sqlite(c) => q.execute(c).await.map(|_| ()),
            Target::Postgres(c) => q.execute(c).await.map(|_| ()),
        }
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// Rows of a two-text-column query.
    async fn try_pairs(&mut self, sql: &str) -> Result<Vec<(String, String)>, sqlx::Error> {
        let q = || sqlx::AssertSqlSafe(sql.to_owned());
        match self {
            Target::Sqlite(c) => sqlx::query_as(q()).fetch_all(c).await,
            Target::Postgres(c) => sqlx::query_as(q()).fetch_all(c).await,
        }
    }

    async fn pairs(&mut self, sql: &str) -> Vec<(String, String)> {
        self.try_pairs(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    async fn users(&mut self) -> Vec<(String, String)> {
        self.pairs("SELECT scim_id, COALESCE(email, '') FROM users ORDER BY scim_id")
            .await
    }

    async fn members(&mut self) -> Vec<(String, String)> {
        self.pairs("SELECT group_id, user_id FROM group_members ORDER BY group_id, user_id")
            .await
    }
}

async fn id_of(reply: crate::support::Reply) -> String {
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    reply.body["id"].as_str().unwrap().to_owned()
}

/// Waits until the journal worker has written `n` user rows.
async fn wait_users(t: &mut Target, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    // The worker creates the tables when it first reaches the target.
    while t
        .try_pairs("SELECT scim_id, scim_id FROM users")
        .await
        .map_or(true, |rows| rows.len() != n)
    {
        assert!(Instant::now() < deadline, "target never reached {n} users");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn hand_edits_are_reported_then_repaired(target_url: &str, state_url: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let state = state_url
        .map(str::to_owned)
        .unwrap_or_else(|| format!("sqlite://{}/state.db", dir.path().display()));
    let extra = target_toml(target_url, "max_delete_percent = 50");
    let d = Daemon::start_in(dir, &state, &extra).await;
    let c = d.client();
    let u1 = id_of(c.post("/Users", &user("alice")).await).await;
    let u2 = id_of(c.post("/Users", &user("bob")).await).await;
    let u3 = id_of(c.post("/Users", &user("carol")).await).await;
    let u4 = id_of(c.post("/Users", &user("dave")).await).await;
    let g = id_of(c.post("/Groups", &group("staff", &[&u1, &u2, &u4])).await).await;
    // Dave leaves: on_deactivate = "delete" removes his row and memberships, which a
    // drift check must not count as missing.
    let off = crate::support::patch_op(
        serde_json::json!([{"op": "replace", "path": "active", "value": false}]),
    );
    assert_eq!(c.patch(&format!("/Users/{u4}"), &off).await.status, 200);
    let mut t = Target::open(target_url).await;
    wait_users(&mut t, 3).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while t.members().await.len() != 2 {
        assert!(
            Instant::now() < deadline,
            "memberships never applied: {:?}",
            t.members().await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // In sync once the journal is applied: nothing to do.
    let deadline = Instant::now() + Duration::from_secs(20);
    let clean = loop {
        let r = d.drift_check(true).await;
        if r.differences_found() == 0 || Instant::now() > deadline {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(clean.differences_found(), 0, "{clean:?}");
    assert_eq!((clean.desired, clean.owned), (5, 4));

    // Hand edits: a changed attribute, a deleted row, an extra member, an owned
    // orphan and a row scimd does not own.
    t.exec(&format!(
        "UPDATE users SET email = 'x@evil' WHERE scim_id = '{u1}'"
    ))
    .await;
    t.exec(&format!("DELETE FROM users WHERE scim_id = '{u2}'"))
        .await;
    t.exec(&format!(
        "INSERT INTO group_members (group_id, user_id) VALUES ('{g}', '{u3}')"
    ))
    .await;
    t.exec("INSERT INTO users (scim_id, scimd_owner, user_name, email) VALUES ('zz-orphan', 'scimd', 'ghost', 'g@x')")
        .await;
    t.exec("INSERT INTO users (scim_id, scimd_owner, user_name, email) VALUES ('manual-1', NULL, 'manual', 'm@x')")
        .await;
    let before = t.users().await;

    let report = d.drift_check(true).await;
    assert_eq!(report.mode, Mode::DryRun);
    assert_eq!(
        (
            report.creates,
            report.updates,
            report.deletes,
            report.membership
        ),
        (1, 1, 1, 1),
        "{report:?}"
    );
    assert!(report.ok(), "{report:?}");
    let update = report
        .differences
        .iter()
        .find(|x| x.id == u1)
        .expect("alice reported");
    let text = serde_json::to_string(update).unwrap();
    assert!(
        text.contains("x@evil") && text.contains("alice@example.com"),
        "{text}"
    );
    assert_eq!(t.users().await, before, "a dry run wrote to the target");

    let repair = d.drift_check(false).await;
    assert!(repair.ok(), "{repair:?}");
    assert!(repair.repaired >= 4, "{repair:?}");
    let users = t.users().await;
    assert!(users.contains(&(u1.clone(), "alice@example.com".into())));
    assert!(users.contains(&(u2.clone(), "bob@example.com".into())));
    assert!(!users.iter().any(|(id, _)| id == "zz-orphan"), "{users:?}");
    assert!(
        users.contains(&("manual-1".into(), "m@x".into())),
        "the unowned row was touched: {users:?}"
    );
    let mut want = vec![(g.clone(), u1.clone()), (g.clone(), u2.clone())];
    want.sort();
    assert_eq!(t.members().await, want);
    let again = d.drift_check(true).await;
    assert_eq!(again.differences_found(), 0, "{again:?}");

    // `scimd status` keeps the reports.
    let status = scimd::admin::fetch_status(&d.dir.path().join("admin.sock"))
        .await
        .unwrap();
    assert!(status[0].drift.len() >= 4);
    assert_eq!(status[0].drift[1].mode, Mode::Repair);
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_hand_edits_are_reported_then_repaired() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/target.db", dir.path().display());
    hand_edits_are_reported_then_repaired(&url, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_hand_edits_are_reported_then_repaired() {
    let Some(target) = PgDb::create("postgres_hand_edits_target").await else {
        return;
    };
    let Some(state) = PgDb::create("postgres_hand_edits_state").await else {
        return;
    };
    hand_edits_are_reported_then_repaired(&target.url, Some(&state.url)).await;
    target.drop_db().await;
    state.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn threshold_blocks_wiping_the_target_after_a_misconfiguration() {
    let shared = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/target.db", shared.path().display());
    let extra = target_toml(&url, "");
    let dir = tempfile::tempdir().unwrap();
    let state = format!("sqlite://{}/state.db", dir.path().display());
    let d = Daemon::start_in(dir, &state, &extra).await;
    for i in 0..5 {
        id_of(d.client().post("/Users", &user(&format!("u{i}"))).await).await;
    }
    let mut t = Target::open(&url).await;
    wait_users(&mut t, 5).await;
    d.stop().await;

    // The operator points [state] at a fresh, empty store by mistake.
    let other = tempfile::tempdir().unwrap();
    let empty = format!("sqlite://{}/state.db", other.path().display());
    let d = Daemon::start_in(other, &empty, &extra).await;
    let report = d.drift_check(false).await;
    assert_eq!(report.deletes, 5, "{report:?}");
    let why = report.blocked.clone().expect("the threshold refused");
    assert!(why.contains("max_delete_percent"), "{why}");
    assert_eq!(report.repaired, 0);
    assert!(!report.ok());
    assert_eq!(t.users().await.len(), 5, "the target was wiped");
    let body = crate::support::Client::new(&d.base, None)
        .get("/metrics")
        .await
        .text;
    assert!(body.contains("scimd_drift_blocked_total"), "{body}");
    d.stop().await;
}

fn wait_for(path: &Path, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if text.contains(needle) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "log never said {needle:?}:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn sigusr1_and_the_reconcile_command_run_drift_checks_in_the_real_binary() {
    let dir = tempfile::tempdir().unwrap();
    let target = format!("sqlite://{}/target.db", dir.path().display());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let text = config_text(
        dir.path(),
        &format!("sqlite://{}/state.db", dir.path().display()),
        &target_toml(&target, ""),
    )
    .replace("127.0.0.1:0", &format!("127.0.0.1:{port}"))
    .replace("level = \"warn\"", "level = \"info\"");
    let config = dir.path().join("scimd.toml");
    std::fs::write(&config, text).unwrap();
    let log = dir.path().join("scimd.log");
    let mut child = Command::new(scimd_bin())
        .args(["run", "-c"])
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    wait_for(&log, "scimd listening");
    let pid = child.id() as i32;

    assert_eq!(unsafe { libc::kill(pid, libc::SIGUSR1) }, 0);
    wait_for(&log, "reconcile (SIGUSR1) done");
    let text = wait_for(&log, "drift check done");
    assert!(text.contains("reconcile requested (SIGUSR1)"), "{text}");

    let status = Command::new(scimd_bin())
        .args(["status", "--json", "-c"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(status.status.success());
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status[0]["drift"][0]["mode"], "repair", "{status}");
    assert!(status[0]["drift"][0]["error"].is_null(), "{status}");

    let out = Command::new(scimd_bin())
        .args(["reconcile", "--provider", "a", "--dry-run", "--json", "-c"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reports: Vec<DriftReport> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].mode, Mode::DryRun);
    assert_eq!(reports[0].target, "t");
    assert_eq!(reports[0].differences_found(), 0);

    let unknown = Command::new(scimd_bin())
        .args(["reconcile", "--provider", "nope", "-c"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("nope"));

    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    assert!(child.wait().unwrap().success());
}
