//! Target policies and refusals: `on_deactivate = "delete"` (and reactivation bringing
//! memberships back), `on_delete = "mark"`, a users-only target, and a change the target
//! refuses for good (parked, visible in status, the rest flowing; cleared once fixed).

use std::time::Duration;

use serde_json::json;

use super::{MEMBERS, USERS, app_schema, app_target, row, wait_rows};
use crate::support::{Daemon, group, patch_op, user};
use crate::target_db::{Engine, TestDb};

const CONVERGE: Duration = Duration::from_secs(30);

async fn create(c: &crate::support::Client, path: &str, body: &serde_json::Value) -> String {
    let r = c.post(path, body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["id"].as_str().unwrap().to_owned()
}

async fn set_active(c: &crate::support::Client, id: &str, active: bool) {
    let r = c
        .patch(
            &format!("/Users/{id}"),
            &patch_op(json!([{"op": "replace", "path": "active", "value": active}])),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

async fn deactivate_delete_and_reactivate(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    app_schema(&db).await;
    let target = app_target(
        &db.url,
        "on_deactivate = \"delete\"\non_delete = \"mark\"",
        true,
    );
    let daemon = Daemon::start_with(&target).await;
    let c = daemon.client();
    let ann = create(&c, "/Users", &user("ann")).await;
    let bob = create(&c, "/Users", &user("bob")).await;
    let g = create(&c, "/Groups", &group("staff", &[&ann, &bob])).await;
    let mut both = vec![row(&[&g, &ann]), row(&[&g, &bob])];
    both.sort();
    wait_rows(&db, MEMBERS, &both, CONVERGE).await;

    // Deactivation deletes the row and its memberships...
    set_active(&c, &ann, false).await;
    wait_rows(
        &db,
        USERS,
        &[row(&[&bob, "bob", "bob@example.com", "y", "scimd"])],
        CONVERGE,
    )
    .await;
    wait_rows(&db, MEMBERS, &[row(&[&g, &bob])], CONVERGE).await;
    // An inactive user added to a group later (in a later batch than its deactivation)
    // gets no membership row pointing at the row its deactivation deleted.
    let late = create(&c, "/Groups", &group("late", &[&ann, &bob])).await;
    let mut bob_only = vec![row(&[&g, &bob]), row(&[&late, &bob])];
    bob_only.sort();
    wait_rows(&db, MEMBERS, &bob_only, CONVERGE).await;
    // ...and reactivation brings both back (the user is still in the groups in scimd).
    set_active(&c, &ann, true).await;
    wait_rows(
        &db,
        USERS,
        &[
            row(&[&ann, "ann", "ann@example.com", "y", "scimd"]),
            row(&[&bob, "bob", "bob@example.com", "y", "scimd"]),
        ],
        CONVERGE,
    )
    .await;
    let mut all = vec![
        row(&[&g, &ann]),
        row(&[&g, &bob]),
        row(&[&late, &ann]),
        row(&[&late, &bob]),
    ];
    all.sort();
    wait_rows(&db, MEMBERS, &all, CONVERGE).await;

    // DELETE with on_delete = "mark": the row stays for the application, released.
    assert_eq!(c.delete(&format!("/Users/{bob}")).await.status, 204);
    wait_rows(
        &db,
        USERS,
        &[
            row(&[&ann, "ann", "ann@example.com", "y", "scimd"]),
            row(&[&bob, "bob", "bob@example.com", "n", "scimd-released"]),
        ],
        CONVERGE,
    )
    .await;
    let mut ann_only = vec![row(&[&g, &ann]), row(&[&late, &ann])];
    ann_only.sort();
    wait_rows(&db, MEMBERS, &ann_only, CONVERGE).await;
    daemon.stop().await;
    db.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deactivate_delete_and_reactivation_on_sqlite() {
    deactivate_delete_and_reactivate(Engine::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deactivate_delete_and_reactivation_on_postgres() {
    deactivate_delete_and_reactivate(Engine::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_users_only_target_ignores_groups_without_parking_them() {
    let Some(db) = TestDb::new(Engine::Sqlite).await else {
        return;
    };
    app_schema(&db).await;
    let daemon = Daemon::start_with(&app_target(&db.url, "", false)).await;
    let c = daemon.client();
    let ann = create(&c, "/Users", &user("ann")).await;
    create(&c, "/Groups", &group("staff", &[&ann])).await;
    let zed = create(&c, "/Users", &user("zed")).await;
    wait_rows(
        &db,
        USERS,
        &[
            row(&[&ann, "ann", "ann@example.com", "y", "scimd"]),
            row(&[&zed, "zed", "zed@example.com", "y", "scimd"]),
        ],
        CONVERGE,
    )
    .await;
    let socket = daemon.dir.path().join("admin.sock");
    let deadline = std::time::Instant::now() + CONVERGE;
    loop {
        let report = scimd::admin::fetch_status(&socket).await.expect("status");
        assert!(
            report[0].parked.is_empty(),
            "groups are not parked: {report:?}"
        );
        if report[0].lag_entries == 0 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{report:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        super::count(&db, "SELECT COUNT(*) FROM app_groups").await,
        0
    );
    daemon.stop().await;
    db.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_change_is_parked_shown_and_cleared_once_it_lands() {
    let Some(db) = TestDb::new(Engine::Postgres).await else {
        return;
    };
    app_schema(&db).await;
    // The application already has a "legacy" row scimd does not own (on_existing = fail).
    db.exec(
        "INSERT INTO app_users (scim_id, user_name, active) VALUES ('app-7', 'legacy', TRUE)",
        &[],
    )
    .await;
    let daemon = Daemon::start_with(&app_target(&db.url, "", true)).await;
    let c = daemon.client();
    let clash = create(&c, "/Users", &user("legacy")).await;
    let ok = create(&c, "/Users", &user("fine")).await;
    let socket = daemon.dir.path().join("admin.sock");
    let deadline = std::time::Instant::now() + CONVERGE;
    let parked = loop {
        let report = scimd::admin::fetch_status(&socket).await.expect("status");
        if report[0].lag_entries == 0 && !report[0].parked.is_empty() {
            break report[0].parked.clone();
        }
        assert!(std::time::Instant::now() < deadline, "{report:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(parked.len(), 1, "{parked:?}");
    assert_eq!(parked[0].resource_id, clash);
    assert_eq!(parked[0].change, "upsert");
    assert!(
        parked[0].error.contains("legacy") || parked[0].error.contains("app-7"),
        "the error names the clashing row: {}",
        parked[0].error
    );
    // The rest flowed; the application's row is untouched.
    wait_rows(
        &db,
        USERS,
        &[
            row(&[&ok, "fine", "fine@example.com", "y", "scimd"]),
            row(&["app-7", "legacy", "NULL", "y", "NULL"]),
        ],
        CONVERGE,
    )
    .await;
    let text = scimd::admin::render(&scimd::admin::fetch_status(&socket).await.unwrap());
    assert!(
        text.contains(&clash),
        "status shows the parked resource:\n{text}"
    );

    // Unpark retries only what is parked, and refuses an id that is not.
    let request = |resource: Option<&str>| scimd::admin::UnparkRequest {
        provider: "a".into(),
        target: "app".into(),
        resource: resource.map(str::to_owned),
    };
    let refused = scimd::admin::unpark(&socket, &request(Some(&ok))).await;
    assert!(
        refused.as_ref().is_err_and(|e| e.contains("not parked")),
        "{refused:?}"
    );
    // Retried before the cause is fixed: parked again, with the same error.
    assert_eq!(scimd::admin::unpark(&socket, &request(None)).await, Ok(1));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let report = status_settled(&socket).await;
    assert_eq!(report.parked.len(), 1, "{report:?}");

    // The operator renames the application's account, then unparks: the user lands and
    // the parked entry goes away.
    db.exec(
        "UPDATE app_users SET user_name = 'legacy-old' WHERE scim_id = 'app-7'",
        &[],
    )
    .await;
    assert_eq!(
        scimd::admin::unpark(&socket, &request(Some(&clash))).await,
        Ok(1)
    );
    wait_rows(
        &db,
        USERS,
        &[
            row(&[&ok, "fine", "fine@example.com", "y", "scimd"]),
            row(&[&clash, "legacy", "legacy@example.com", "y", "scimd"]),
            row(&["app-7", "legacy-old", "NULL", "y", "NULL"]),
        ],
        CONVERGE,
    )
    .await;
    let report = status_settled(&socket).await;
    assert!(report.parked.is_empty(), "{report:?}");
    assert_eq!(scimd::admin::unpark(&socket, &request(None)).await, Ok(0));
    daemon.stop().await;
    db.teardown().await;
}

/// The status of the only target once its journal is applied.
async fn status_settled(socket: &std::path::Path) -> scimd::reconcile::TargetReport {
    super::status_until(socket, |r| r.lag_entries == 0).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memberships_of_parked_objects_wait_for_them_and_land_with_them() {
    let Some(db) = TestDb::new(Engine::Sqlite).await else {
        return;
    };
    app_schema(&db).await;
    // The application's own "legacy" user and "admins" group clash with what is pushed.
    db.exec(
        "INSERT INTO app_users (scim_id, user_name, active) VALUES ('app-7', 'legacy', TRUE)",
        &[],
    )
    .await;
    db.exec(
        "INSERT INTO app_groups (scim_id, name) VALUES ('app-g', 'admins')",
        &[],
    )
    .await;
    let daemon = Daemon::start_with(&app_target(&db.url, "", true)).await;
    let c = daemon.client();
    let ann = create(&c, "/Users", &user("ann")).await;
    let legacy = create(&c, "/Users", &user("legacy")).await;
    let admins = create(&c, "/Groups", &group("admins", &[&ann])).await;
    let staff = create(&c, "/Groups", &group("staff", &[&ann, &legacy])).await;
    let socket = daemon.dir.path().join("admin.sock");
    let report = super::status_until(&socket, |r| r.lag_entries == 0).await;
    let mut parked: Vec<(String, String)> = report
        .parked
        .iter()
        .map(|p| (p.resource_id.clone(), p.change.clone()))
        .collect();
    parked.sort();
    let mut want = vec![
        (legacy.clone(), "upsert".to_owned()),
        (admins.clone(), "upsert".to_owned()),
    ];
    want.sort();
    assert_eq!(
        parked, want,
        "the objects are parked, not their memberships"
    );
    // Nothing points at rows that are not there.
    wait_rows(&db, MEMBERS, &[row(&[&staff, &ann])], CONVERGE).await;

    db.exec(
        "UPDATE app_users SET user_name = 'legacy-old' WHERE scim_id = 'app-7'",
        &[],
    )
    .await;
    db.exec(
        "UPDATE app_groups SET name = 'admins-old' WHERE scim_id = 'app-g'",
        &[],
    )
    .await;
    let all = scimd::admin::UnparkRequest {
        provider: "a".into(),
        target: "app".into(),
        resource: None,
    };
    assert_eq!(scimd::admin::unpark(&socket, &all).await, Ok(2));
    let mut members = vec![
        row(&[&admins, &ann]),
        row(&[&staff, &ann]),
        row(&[&staff, &legacy]),
    ];
    members.sort();
    wait_rows(&db, MEMBERS, &members, CONVERGE).await;
    let report = super::status_until(&socket, |r| r.lag_entries == 0).await;
    assert!(report.parked.is_empty(), "{report:?}");
    daemon.stop().await;
    db.teardown().await;
}
