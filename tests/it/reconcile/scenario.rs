//! The core scenario on every engine: users and groups created, changed, deactivated
//! and deleted over HTTP, membership deltas, a userName change and a userName freed and
//! taken again in one batch; the target tables converge to exactly the expected rows and
//! the application's own row stays untouched. Also: hostile values land verbatim.

use std::time::Duration;

use serde_json::json;

use super::{GROUPS, MEMBERS, USERS, app_schema, app_target, row, wait_rows};
use crate::support::{Daemon, group, patch_op, user};
use crate::target_db::{Engine, TestDb};

const CONVERGE: Duration = Duration::from_secs(30);

async fn id_of(c: &crate::support::Client, path: &str, body: &serde_json::Value) -> String {
    let r = c.post(path, body).await;
    assert_eq!(r.status, 201, "POST {path}: {}", r.text);
    r.body["id"].as_str().unwrap().to_owned()
}

async fn core_scenario(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    app_schema(&db).await;
    db.exec(
        "INSERT INTO app_users (scim_id, user_name, email, active, scimd_owner) \
         VALUES ('legacy-1', 'legacy', 'legacy@corp', TRUE, NULL)",
        &[],
    )
    .await;
    let daemon = Daemon::start_with(&app_target(&db.url, "", true)).await;
    let c = daemon.client();

    let alice = id_of(&c, "/Users", &user("alice")).await;
    let bob = id_of(&c, "/Users", &user("bob")).await;
    let carol = id_of(&c, "/Users", &user("carol")).await;
    let eng = id_of(&c, "/Groups", &group("eng", &[&alice, &bob])).await;
    let ops = id_of(&c, "/Groups", &group("ops", &[&carol])).await;
    let legacy = row(&["legacy-1", "legacy", "legacy@corp", "y", "NULL"]);
    let u =
        |id: &str, name: &str, email: &str, active: &str| row(&[id, name, email, active, "scimd"]);
    let mut members = vec![
        row(&[&eng, &alice]),
        row(&[&eng, &bob]),
        row(&[&ops, &carol]),
    ];
    members.sort();
    wait_rows(
        &db,
        USERS,
        &[
            u(&alice, "alice", "alice@example.com", "y"),
            u(&bob, "bob", "bob@example.com", "y"),
            u(&carol, "carol", "carol@example.com", "y"),
            legacy.clone(),
        ],
        CONVERGE,
    )
    .await;
    wait_rows(&db, MEMBERS, &members, CONVERGE).await;

    // userName and email change; deactivation; membership deltas; deletes.
    let r = c
        .patch(
            &format!("/Users/{alice}"),
            &patch_op(json!([
                {"op": "replace", "path": "userName", "value": "alice.smith"},
                {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "alice.smith@example.com"}
            ])),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = c
        .patch(
            &format!("/Users/{bob}"),
            &patch_op(json!([{"op": "replace", "path": "active", "value": false}])),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = c
        .patch(
            &format!("/Groups/{eng}"),
            &patch_op(json!([
                {"op": "add", "path": "members", "value": [{"value": carol}]},
                {"op": "remove", "path": format!("members[value eq \"{bob}\"]")},
                {"op": "replace", "path": "displayName", "value": "engineering"}
            ])),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(c.delete(&format!("/Groups/{ops}")).await.status, 204);
    assert_eq!(c.delete(&format!("/Users/{carol}")).await.status, 204);
    let dave = id_of(&c, "/Users", &user("dave")).await;

    wait_rows(
        &db,
        USERS,
        &[
            u(&alice, "alice.smith", "alice.smith@example.com", "y"),
            u(&bob, "bob", "bob@example.com", "n"),
            u(&dave, "dave", "dave@example.com", "y"),
            legacy.clone(),
        ],
        CONVERGE,
    )
    .await;
    wait_rows(&db, GROUPS, &[row(&[&eng, "engineering"])], CONVERGE).await;
    wait_rows(&db, MEMBERS, &[row(&[&eng, &alice])], CONVERGE).await;

    // With the target cut, "dave" is deleted and a new "dave" created: both land in one
    // batch, and the unique user_name index holds only if the delete goes first.
    db.cut().await;
    assert_eq!(c.delete(&format!("/Users/{dave}")).await.status, 204);
    let dave2 = id_of(&c, "/Users", &user("dave")).await;
    let r = c
        .patch(
            &format!("/Groups/{eng}"),
            &patch_op(json!([{"op": "add", "path": "members", "value": [{"value": dave2}]}])),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    tokio::time::sleep(Duration::from_millis(300)).await;
    db.restore().await;
    wait_rows(
        &db,
        USERS,
        &[
            u(&alice, "alice.smith", "alice.smith@example.com", "y"),
            u(&bob, "bob", "bob@example.com", "n"),
            u(&dave2, "dave", "dave@example.com", "y"),
            legacy,
        ],
        CONVERGE,
    )
    .await;
    let mut members = vec![row(&[&eng, &alice]), row(&[&eng, &dave2])];
    members.sort();
    wait_rows(&db, MEMBERS, &members, CONVERGE).await;

    let report = super::status_until(&daemon.dir.path().join("admin.sock"), |r| {
        r.lag_entries == 0
    })
    .await;
    assert!(
        report.parked.is_empty(),
        "nothing parked: {:?}",
        report.parked
    );
    assert!(report.last_error.is_none(), "{:?}", report.last_error);
    assert!(report.last_success.is_some());
    daemon.stop().await;
    db.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn core_scenario_converges_on_sqlite() {
    core_scenario(Engine::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn core_scenario_converges_on_postgres() {
    core_scenario(Engine::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn core_scenario_converges_on_mariadb() {
    core_scenario(Engine::MySql).await;
}

/// Values full of quotes, semicolons, backslashes, comment markers and unicode.
const HOSTILE: [&str; 4] = [
    r#"o'brien"; DROP TABLE app_users; --"#,
    r"back\slash\\ and \' \x00-free",
    "Zoë Ångström 日本語 🚀 \u{202e}rtl",
    "/* comment */ `tick` $1 ? %s :name",
];

async fn injection(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    app_schema(&db).await;
    let daemon = Daemon::start_with(&app_target(&db.url, "", true)).await;
    let c = daemon.client();
    let mut expected_users = Vec::new();
    let mut expected_groups = Vec::new();
    for (i, v) in HOSTILE.iter().enumerate() {
        let mut body = user(v);
        body["emails"][0]["value"] = json!(format!("{v}@example.com"));
        body["name"] = json!({"givenName": v, "familyName": format!("{i};'")});
        let id = id_of(&c, "/Users", &body).await;
        expected_users.push(row(&[
            &id,
            v,
            &format!("{v}@example.com"),
            &format!("{v} {i};'"),
        ]));
        let gid = id_of(&c, "/Groups", &group(v, &[&id])).await;
        expected_groups.push(row(&[&gid, v]));
    }
    expected_users.sort_by(|a, b| a[1].cmp(&b[1]));
    expected_groups.sort_by(|a, b| a[1].cmp(&b[1]));
    // Sorted in Rust: collations differ between engines.
    let deadline = std::time::Instant::now() + CONVERGE;
    loop {
        let mut users = db
            .rows(
                "SELECT scim_id, user_name, email, display_name FROM app_users",
                &[],
            )
            .await;
        let mut groups = db.rows("SELECT scim_id, name FROM app_groups", &[]).await;
        users.sort_by(|a, b| a[1].cmp(&b[1]));
        groups.sort_by(|a, b| a[1].cmp(&b[1]));
        if users == expected_users && groups == expected_groups {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{engine:?}: hostile values did not land verbatim\n got: {users:?} {groups:?}\nwant: {expected_users:?} {expected_groups:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        super::count(&db, "SELECT COUNT(*) FROM app_members").await,
        4
    );
    daemon.stop().await;
    db.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_values_land_verbatim_on_sqlite() {
    injection(Engine::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_values_land_verbatim_on_postgres() {
    injection(Engine::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_values_land_verbatim_on_mariadb() {
    injection(Engine::MySql).await;
}
