//! The configuration file watch in the real binary: a saved change takes effect
//! without SIGHUP (also when the editor saves by rename), and a broken file keeps
//! the old configuration running with every error logged with its line.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{config_text, hash_line, scimd_bin};

fn status_of(port: u16, provider: &str, token: &str) -> u16 {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return 0;
    };
    let _ = write!(
        s,
        "GET /scim/v2/{provider}/Users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    );
    let mut response = String::new();
    let _ = s.read_to_string(&mut response);
    response
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

fn eventually(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !ok() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn saved_config_changes_apply_without_sighup_and_broken_ones_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let good = config_text(
        dir.path(),
        &format!("sqlite://{}/state.db", dir.path().display()),
        "",
    )
    .replace("127.0.0.1:0", &format!("127.0.0.1:{port}"))
    .replace("level = \"warn\"", "level = \"info\"");
    let config = dir.path().join("scimd.toml");
    std::fs::write(&config, &good).unwrap();
    let log = dir.path().join("scimd.log");
    let mut child = Command::new(scimd_bin())
        .args(["run", "-c"])
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    eventually("scimd serves", || {
        status_of(port, "a", crate::support::TOKEN) == 200
    });

    // Saved in place: the new provider answers, no signal sent.
    let with_c = format!(
        "{good}\n[providers.c]\ntokens = [\"{}\"]\n",
        hash_line("token-c")
    );
    std::fs::write(&config, &with_c).unwrap();
    eventually("provider c answers after an in-place save", || {
        status_of(port, "c", "token-c") == 200
    });

    // Broken: refused, logged with its line; the old configuration keeps serving.
    std::fs::write(
        &config,
        format!("{with_c}\n[providers.d]\nnonsense = true\n"),
    )
    .unwrap();
    let lines = with_c.lines().count();
    eventually("the broken file is reported", || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("reload rejected")
    });
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains(&format!("scimd.toml:{}:", lines + 3)),
        "error without its line (expected line {}):\n{text}",
        lines + 3
    );
    assert_eq!(status_of(port, "c", "token-c"), 200);

    // Saved by rename, as editors do: provider d arrives.
    let with_d = format!(
        "{with_c}\n[providers.d]\ntokens = [\"{}\"]\n",
        hash_line("token-d")
    );
    let tmp = dir.path().join(".scimd.toml.swp");
    std::fs::write(&tmp, &with_d).unwrap();
    std::fs::rename(&tmp, &config).unwrap();
    eventually("provider d answers after a save by rename", || {
        status_of(port, "d", "token-d") == 200
    });

    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    assert!(child.wait().unwrap().success());
}
