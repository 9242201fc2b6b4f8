//! The real `scimd` binary: `check-config` output and exit codes, `token new`, and a
//! graceful stop on SIGTERM that lets an in-flight request finish.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{TOKEN, config_text, scimd_bin};

fn scimd(args: &[&str]) -> std::process::Output {
    Command::new(scimd_bin())
        .args(args)
        .output()
        .expect("run scimd")
}

#[test]
fn check_config_accepts_the_example_and_reports_every_error_with_its_line() {
    let root = env!("CARGO_MANIFEST_DIR");
    let ok = scimd(&["check-config", "-c", &format!("{root}/config.example.toml")]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "[server]\nlisten = \"127.0.0.1:8080\"\nbogus = 1\n\n[providers.demo]\ntokens = [\"plain-secret\"]\n\n[providers.\"Bad Name\"]\ntokens = [\"sha256:00\"]\n",
    )
    .unwrap();
    let out = scimd(&["check-config", "-c", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let file = path.display().to_string();
    assert!(
        stderr.contains(&format!("{file}:3:")),
        "unknown key not reported at line 3:\n{stderr}"
    );
    assert!(
        stderr.contains(&format!("{file}:6:")),
        "inline token not reported at line 6:\n{stderr}"
    );
    assert!(
        stderr.contains(&format!("{file}:8:")),
        "bad provider name not reported at line 8:\n{stderr}"
    );
    assert!(
        !stderr.contains("plain-secret"),
        "a secret was echoed:\n{stderr}"
    );
    assert!(
        stderr.contains("scimd token new"),
        "no hint on how to make a token:\n{stderr}"
    );
}

#[test]
fn token_new_prints_a_fresh_token_and_its_hash_line() {
    let a = scimd(&["token", "new"]);
    let b = scimd(&["token", "new"]);
    assert!(a.status.success());
    let text = String::from_utf8_lossy(&a.stdout);
    let token = text
        .lines()
        .find_map(|l| l.strip_prefix("token:"))
        .unwrap()
        .trim()
        .to_owned();
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("config:"))
        .unwrap()
        .trim()
        .to_owned();
    assert!(token.len() >= 64, "token too short for 256 bits: {token}");
    assert!(
        line.contains(&scimd::config::hash_line(&scimd::config::token_hash(
            &token
        )))
    );
    assert_ne!(a.stdout, b.stdout, "two tokens were the same");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_listening(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "scimd did not start listening");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn sigterm_lets_an_in_flight_request_finish_then_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let text = config_text(
        dir.path(),
        &format!("sqlite://{}/state.db", dir.path().display()),
        "",
    )
    .replace("127.0.0.1:0", &format!("127.0.0.1:{port}"));
    let config = dir.path().join("scimd.toml");
    std::fs::write(&config, text).unwrap();
    let mut child = Command::new(scimd_bin())
        .args(["run", "-c"])
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_listening(port);

    // Start a request and send only half of its body.
    let body = serde_json::to_vec(&crate::support::user("inflight")).unwrap();
    let (first, rest) = body.split_at(body.len() / 2);
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "POST /scim/v2/a/Users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/scim+json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(first).unwrap();
    s.flush().unwrap();
    std::thread::sleep(Duration::from_millis(200));

    // SIGTERM while the request is in flight; then finish it.
    let pid = child.id() as i32;
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    std::thread::sleep(Duration::from_millis(300));
    s.write_all(rest).unwrap();
    let mut response = String::new();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let _ = s.read_to_string(&mut response);
    assert!(
        response.starts_with("HTTP/1.1 201"),
        "in-flight request did not complete: {response:?}"
    );

    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        assert!(
            Instant::now() < deadline,
            "scimd did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "scimd exited with {status}");
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "still listening after exit"
    );
}
