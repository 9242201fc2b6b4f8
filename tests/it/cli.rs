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

/// Starts the real binary on a fresh port with `NOTIFY_SOCKET` pointing at a socket
/// the test reads; returns the child, its port, config path and the socket.
fn start_notified(
    dir: &std::path::Path,
) -> (
    std::process::Child,
    u16,
    std::path::PathBuf,
    std::os::unix::net::UnixDatagram,
) {
    let port = free_port();
    let text = config_text(dir, &format!("sqlite://{}/state.db", dir.display()), "")
        .replace("127.0.0.1:0", &format!("127.0.0.1:{port}"));
    let config = dir.join("scimd.toml");
    std::fs::write(&config, text).unwrap();
    let sock_path = dir.join("notify.sock");
    let sock = std::os::unix::net::UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let child = Command::new(scimd_bin())
        .args(["run", "-c"])
        .arg(&config)
        .env("NOTIFY_SOCKET", &sock_path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    (child, port, config, sock)
}

fn next_notification(sock: &std::os::unix::net::UnixDatagram) -> String {
    let mut buf = [0u8; 4096];
    let n = sock.recv(&mut buf).expect("a systemd notification");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

fn http_status(port: u16, path: &str, token: &str) -> u16 {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    s.read_to_string(&mut response).unwrap();
    response
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

#[test]
fn notifies_systemd_and_reloads_on_sighup_keeping_the_old_config_when_invalid() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, port, config, sock) = start_notified(dir.path());
    assert!(next_notification(&sock).contains("READY=1"));
    assert_eq!(http_status(port, "/scim/v2/a/Users", TOKEN), 200);
    let pid = child.id() as i32;

    // A broken file: rejected whole; the old configuration keeps serving.
    let good = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("{good}\n[providers.c]\nnonsense = true\n")).unwrap();
    assert_eq!(unsafe { libc::kill(pid, libc::SIGHUP) }, 0);
    assert!(next_notification(&sock).contains("RELOADING=1"));
    assert!(next_notification(&sock).contains("READY=1"));
    assert_eq!(http_status(port, "/scim/v2/a/Users", TOKEN), 200);
    assert_eq!(http_status(port, "/scim/v2/c/Users", "token-c"), 401);

    // A valid file with a new provider: it answers without a restart.
    let line = crate::support::hash_line("token-c");
    std::fs::write(
        &config,
        format!("{good}\n[providers.c]\ntokens = [\"{line}\"]\n"),
    )
    .unwrap();
    assert_eq!(unsafe { libc::kill(pid, libc::SIGHUP) }, 0);
    assert!(next_notification(&sock).contains("RELOADING=1"));
    assert!(next_notification(&sock).contains("READY=1"));
    assert_eq!(http_status(port, "/scim/v2/c/Users", "token-c"), 200);
    assert_eq!(http_status(port, "/scim/v2/a/Users", TOKEN), 200);

    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    assert!(next_notification(&sock).contains("STOPPING=1"));
    assert!(child.wait().unwrap().success());
}
