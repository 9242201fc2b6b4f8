//! Durability: the real binary is SIGKILLed in the middle of a burst of concurrent
//! creates; after restart every acknowledged resource and its journal entry exist.

use std::collections::HashSet;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::{Client, TOKEN, config_text, scimd_bin, user};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn wait_healthy(base: &str) {
    let c = Client::new(base, None);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let ok = tokio::time::timeout(Duration::from_millis(500), c.try_get("/healthz")).await;
        if matches!(ok, Ok(Ok(r)) if r.status == 200) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "scimd did not become healthy at {base}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_concurrent_creates_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state.db");
    let port = free_port();
    let text = config_text(dir.path(), &format!("sqlite://{}", db.display()), "")
        .replace("127.0.0.1:0", &format!("127.0.0.1:{port}"));
    let config = dir.path().join("scimd.toml");
    std::fs::write(&config, text).unwrap();
    let mut child = Command::new(scimd_bin())
        .args(["run", "-c"])
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn scimd");
    let base = format!("http://127.0.0.1:{port}");
    wait_healthy(&base).await;

    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let client = Client::new(&format!("{base}/scim/v2/a"), Some(TOKEN));
    let mut tasks = Vec::new();
    for worker in 0..16 {
        let (client, acked) = (client.clone(), acked.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0.. {
                let body = user(&format!("w{worker}-{i}"));
                let send = client.try_post("/Users", &body);
                // After the kill, requests fail or hang: stop this worker.
                let Ok(r) = tokio::time::timeout(Duration::from_secs(2), send).await else {
                    break;
                };
                match r {
                    Ok(r) if r.status == 201 => acked
                        .lock()
                        .unwrap()
                        .push(r.body["id"].as_str().unwrap().to_owned()),
                    _ => break,
                }
            }
        }));
    }
    // Let the burst run, then kill without warning.
    let deadline = Instant::now() + Duration::from_secs(10);
    while acked.lock().unwrap().len() < 300 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().expect("SIGKILL");
    child.wait().unwrap();
    for t in tasks {
        let _ = t.await;
    }
    let acked: Vec<String> = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= 100,
        "the burst acknowledged only {} creates",
        acked.len()
    );

    let store = scimd::store::Store::open(&scimd::store::StoreUrl::Sqlite(db), None, 2)
        .await
        .unwrap();
    for id in &acked {
        assert!(
            store
                .get("a", scimd::scim::ResourceKind::User, id)
                .await
                .unwrap()
                .is_some(),
            "acknowledged user {id} lost after SIGKILL"
        );
    }
    let journaled: HashSet<String> = store
        .journal("a", 0, 1_000_000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.resource_id)
        .collect();
    for id in &acked {
        assert!(
            journaled.contains(id),
            "journal entry of acknowledged user {id} lost"
        );
    }
    eprintln!("{} acknowledged creates all survived SIGKILL", acked.len());
    store.close().await;
}
