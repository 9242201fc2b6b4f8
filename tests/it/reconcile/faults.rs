//! Fault tests: the target made unreachable (its TCP proxy cut) while 1,000 users are
//! pushed, and the real scimd binary SIGKILLed while it applies a backlog of 2,000. No
//! push fails, nothing is lost, nothing is duplicated.

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{app_schema, app_target, count, status_until, wait_count};
use crate::support::{Client, Daemon, TOKEN, config_text, scimd_bin, user};
use crate::target_db::{Engine, TestDb};

/// Creates `n` users with 16 concurrent clients; every push must get a 201.
async fn push_users(client: &Client, prefix: &str, n: usize) -> Vec<String> {
    let ids = Arc::new(Mutex::new(Vec::with_capacity(n)));
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (client, ids, next, prefix) =
            (client.clone(), ids.clone(), next.clone(), prefix.to_owned());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let r = client.post("/Users", &user(&format!("{prefix}{i}"))).await;
                assert_eq!(
                    r.status, 201,
                    "push {i} while the target is down: {}",
                    r.text
                );
                ids.lock()
                    .unwrap()
                    .push(r.body["id"].as_str().unwrap().to_owned());
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    Arc::try_unwrap(ids).unwrap().into_inner().unwrap()
}

const ROWS: &str = "SELECT COUNT(*) FROM app_users";
const DISTINCT: &str = "SELECT COUNT(DISTINCT user_name) FROM app_users";

async fn outage(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    app_schema(&db).await;
    let daemon = Daemon::start_with(&app_target(&db.url, "", false)).await;
    let c = daemon.client();
    // The worker has met the target once before it goes away.
    push_users(&c, "before-", 1).await;
    wait_count(&db, ROWS, 1, Duration::from_secs(30)).await;

    db.cut().await;
    push_users(&c, "during-", 999).await;
    let socket = daemon.dir.path().join("admin.sock");
    // The worker keeps retrying (SQLite waits out its busy timeout first) and says why.
    let report = status_until(&socket, |r| r.last_error.is_some()).await;
    assert_eq!(report.lag_entries, 999, "backlog while down: {report:?}");
    assert!(report.parked.is_empty(), "an outage parks nothing");
    if engine != Engine::Sqlite {
        // (A locked SQLite file cannot be read either.)
        assert_eq!(count(&db, ROWS).await, 1, "nothing landed while cut");
    }

    db.restore().await;
    let drained = wait_count(&db, ROWS, 1000, Duration::from_secs(90)).await;
    println!("{engine:?}: 999-user backlog drained {drained:?} after the target returned");
    assert_eq!(count(&db, DISTINCT).await, 1000);
    let report = status_until(&socket, |r| r.lag_entries == 0).await;
    assert!(
        report.last_error.is_none(),
        "cleared on success: {report:?}"
    );
    assert_eq!(count(&db, ROWS).await, 1000);
    daemon.stop().await;
    db.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_of_a_postgres_target_delays_only_itself() {
    outage(Engine::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_of_a_mariadb_target_delays_only_itself() {
    outage(Engine::MySql).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locked_sqlite_target_delays_only_itself() {
    outage(Engine::Sqlite).await;
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn spawn_scimd(config: &std::path::Path, base: &str) -> Child {
    let child = Command::new(scimd_bin())
        .args(["run", "-c"])
        .arg(config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn scimd");
    let c = Client::new(base, None);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !matches!(
        tokio::time::timeout(Duration::from_millis(500), c.try_get("/healthz")).await,
        Ok(Ok(r)) if r.status == 200
    ) {
        assert!(Instant::now() < deadline, "scimd did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_while_applying_a_backlog_loses_and_duplicates_nothing() {
    let Some(db) = TestDb::new(Engine::Postgres).await else {
        return;
    };
    app_schema(&db).await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let state = format!("sqlite://{}/state.db", dir.path().display());
    let text = config_text(dir.path(), &state, &app_target(&db.url, "", false))
        .replace("127.0.0.1:0", &format!("127.0.0.1:{port}"));
    let config = dir.path().join("scimd.toml");
    std::fs::write(&config, text).unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = spawn_scimd(&config, &base).await;
    let client = Client::new(&format!("{base}/scim/v2/a"), Some(TOKEN));

    // A backlog builds while the target is cut; when it returns, kill scimd as soon
    // as the first rows of the backlog appear, in the middle of applying it.
    db.cut().await;
    let ids = push_users(&client, "k-", 2000).await;
    db.restore().await;
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut at_kill;
    loop {
        at_kill = count(&db, ROWS).await;
        if at_kill > 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the backlog never started to drain"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let after_kill = count(&db, ROWS).await;
    println!("SIGKILL with {at_kill} of 2000 rows applied ({after_kill} once it was dead)");
    assert!(after_kill < 2000, "killed before the backlog was applied");

    let mut child = spawn_scimd(&config, &base).await;
    wait_count(&db, ROWS, 2000, Duration::from_secs(60)).await;
    // Let a replayed batch (at-least-once) finish before judging duplicates.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(count(&db, ROWS).await, 2000);
    assert_eq!(count(&db, DISTINCT).await, 2000);
    let mut landed: Vec<String> = db
        .rows("SELECT scim_id FROM app_users", &[])
        .await
        .into_iter()
        .map(|r| r[0].clone().unwrap())
        .collect();
    landed.sort();
    let mut ids = ids;
    ids.sort();
    assert_eq!(landed, ids, "exactly the acknowledged users");
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    child.wait().unwrap();
    db.teardown().await;
}
