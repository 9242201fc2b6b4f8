//! `scimd check-config` over every `examples/*.toml`, as an operator runs it on the
//! target machine (credential files present, environment set), and the target
//! `password_file` check that makes a missing secret a config error, not a 3 a.m. outage.

use std::process::Command;

use crate::support::scimd_bin;

/// The file names an example reads from `${CREDENTIALS_DIRECTORY}/NAME`.
fn credentials(text: &str) -> Vec<String> {
    text.split("${CREDENTIALS_DIRECTORY}/")
        .skip(1)
        .map(|rest| {
            rest.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                .collect()
        })
        .collect()
}

#[test]
fn every_example_config_passes_check_config() {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut checked = 0;
    for entry in std::fs::read_dir(format!("{root}/examples")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        let creds = tempfile::tempdir().unwrap();
        for name in credentials(&std::fs::read_to_string(&path).unwrap()) {
            std::fs::write(creds.path().join(name), "secret\n").unwrap();
        }
        let out = Command::new(scimd_bin())
            .args(["check-config", "-c"])
            .arg(&path)
            .env("CREDENTIALS_DIRECTORY", creds.path())
            .env("SCIMD_PG_HOST", "db.corp.example")
            .env("SCIMD_MYSQL_HOST", "db.corp.example")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        checked += 1;
    }
    assert!(
        checked >= 3,
        "postgres, mariadb and ha-postgres examples at least"
    );
}

#[test]
fn check_config_reports_an_unreadable_target_password_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-password");
    let target = format!(
        "[providers.a.targets.t]\nkind = \"sql\"\nurl = \"postgres://app@db/app\"\npassword_file = {:?}\n\
         [providers.a.targets.t.users]\ntable = \"users\"\nkey = \"id\"\n\
         [providers.a.targets.t.users.columns]\nlogin = \"userName\"\nactive = \"active\"\n",
        missing.display().to_string()
    );
    let config = dir.path().join("scimd.toml");
    let state = format!("sqlite://{}/state.db", dir.path().display());
    std::fs::write(
        &config,
        crate::support::config_text(dir.path(), &state, &target),
    )
    .unwrap();
    let out = Command::new(scimd_bin())
        .args(["check-config", "-c"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("providers.a.targets.t.password_file")
            && stderr.contains("no-such-password"),
        "names the key and the file:\n{stderr}"
    );
    std::fs::write(&missing, "pw\n").unwrap();
    let out = Command::new(scimd_bin())
        .args(["check-config", "-c"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
