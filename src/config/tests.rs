//! Tests of config loading: defaults, every kind of error with its line, `${VAR}`, token
//! files, TLS files and state URLs. Environment variables come from a closure, never from
//! the process environment, so tests run in parallel safely.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;

/// sha256 of the published demo token `demo-token`.
const DEMO_HASH: &str = "sha256:7c43ef5ae21d43ce2743f770c68e24def1a43ee2f416d2438410c8af7af2ff2c";
/// sha256 of `other-token`.
const OTHER_HASH: &str = "sha256:6c67163bbed989f232b31acc4f04df54b31285bfc01bd022c735b71e041a4754";

fn parse_env(text: &str, vars: &[(&str, &str)]) -> Result<Config, ConfigErrors> {
    let lookup = |name: &str| {
        vars.iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| (*value).to_owned())
    };
    parse_with_env(text, Path::new("scimd.toml"), &lookup)
}

fn ok(text: &str) -> Config {
    match parse_env(text, &[]) {
        Ok(config) => config,
        Err(errors) => panic!("expected a valid config, got:\n{errors}"),
    }
}

fn errors(text: &str) -> Vec<ConfigError> {
    match parse_env(text, &[]) {
        Ok(config) => panic!("expected errors, got {config:?}"),
        Err(errors) => errors.into_iter().collect(),
    }
}

/// The single error of a config that must have exactly one.
fn one_error(text: &str) -> ConfigError {
    let mut all = errors(text);
    assert_eq!(all.len(), 1, "expected one error, got {all:#?}");
    all.remove(0)
}

fn demo(extra: &str) -> String {
    format!("[providers.demo]\ntokens = [\"{DEMO_HASH}\"]\n{extra}")
}

fn temp_file(contents: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(contents.as_bytes())
        .expect("write temp file");
    file
}

fn toml_path(file: &tempfile::NamedTempFile) -> String {
    file.path().display().to_string()
}

#[test]
fn minimal_config_gets_every_default() {
    let config = ok(&demo(""));
    assert_eq!(config.path, PathBuf::from("scimd.toml"));
    assert_eq!(
        config.server.listen,
        "127.0.0.1:8080".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(config.server.tls, None);
    assert_eq!(config.server.max_body_bytes, 1024 * 1024);
    assert_eq!(config.server.request_timeout, Duration::from_secs(30));
    assert_eq!(config.server.max_connections, 1024);
    assert_eq!(
        config.state.url,
        StateUrl::Sqlite("/var/lib/scimd/scimd.db".into())
    );
    assert_eq!(config.state.password, None);
    assert_eq!(config.state.max_connections, 8);
    assert_eq!(config.admin.socket, PathBuf::from("/run/scimd/admin.sock"));
    assert_eq!(config.log.format, LogFormat::Auto);
    assert_eq!(config.log.level, "info");
    let provider = &config.providers["demo"];
    assert_eq!(provider.name, "demo");
    assert!(provider.enabled);
    assert_eq!(provider.token_hashes, vec![token_hash("demo-token")]);
    assert_eq!(provider.max_results, 1000);
    assert!(provider.patch_returns_body);
    assert_eq!(provider.rate_limit, None);
    assert_eq!(
        provider.bulk,
        BulkLimits {
            max_operations: 1000,
            max_payload_bytes: 1024 * 1024
        }
    );
    assert_eq!(provider.drift_check, None);
    assert_eq!(provider.drift_action, DriftAction::Report);
    assert_eq!(provider.max_delete_percent, 10);
    assert!(provider.targets.is_empty());
    assert!(provider.accepts_token("demo-token"));
    assert!(!provider.accepts_token("demo-token2"));
}

#[test]
fn every_key_set_is_taken() {
    let text = format!(
        r#"
[server]
listen = "[::1]:9443"
max_body_bytes = 2048
request_timeout_secs = 5
max_connections = 10

[state]
url = "sqlite://data/scimd.db"
max_connections = 2

[admin]
socket = "data/admin.sock"

[log]
format = "json"
level = "info,scimd=debug"

[providers.contoso]
enabled = false
tokens = ["{DEMO_HASH}", "{}"]
max_results = 50
patch_returns_body = false
rate_limit = {{ requests_per_second = 50.0, burst = 100 }}
bulk = {{ max_operations = 10, max_payload_bytes = 4096 }}
drift_check = "*/30 * * * *"
drift_action = "repair"
max_delete_percent = 0

[providers.contoso.targets.directory]
kind = "sql"
url = "sqlite://data/demo-directory.db"

[providers.contoso.targets.directory.users]
table = "users"
key = "scim_id"
on_deactivate = "delete"
"#,
        DEMO_HASH.to_uppercase().replacen("SHA256:", "sha256:", 1)
    );
    let config = ok(&text);
    assert_eq!(
        config.server.listen,
        "[::1]:9443".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(config.server.max_body_bytes, 2048);
    assert_eq!(config.server.request_timeout, Duration::from_secs(5));
    assert_eq!(config.state.url, StateUrl::Sqlite("data/scimd.db".into()));
    assert_eq!(config.state.max_connections, 2);
    assert_eq!(config.admin.socket, PathBuf::from("data/admin.sock"));
    assert_eq!(config.log.format, LogFormat::Json);
    assert_eq!(config.log.level, "info,scimd=debug");
    let provider = &config.providers["contoso"];
    assert!(!provider.enabled);
    // The same hash in upper case is the same token: kept once.
    assert_eq!(provider.token_hashes.len(), 1);
    assert_eq!(provider.max_results, 50);
    assert!(!provider.patch_returns_body);
    assert_eq!(
        provider.rate_limit,
        Some(RateLimit {
            per_second: 50.0,
            burst: 100
        })
    );
    assert_eq!(
        provider.bulk,
        BulkLimits {
            max_operations: 10,
            max_payload_bytes: 4096
        }
    );
    assert_eq!(provider.drift_check.as_deref(), Some("*/30 * * * *"));
    assert_eq!(provider.drift_action, DriftAction::Repair);
    assert_eq!(provider.max_delete_percent, 0);
    let target = &provider.targets["directory"];
    assert_eq!(target["kind"].as_str(), Some("sql"));
    assert_eq!(target["users"]["table"].as_str(), Some("users"));
}

#[test]
fn example_config_loads() {
    let text = include_str!("../../config.example.toml");
    let config = ok(text);
    assert_eq!(config.state.url, StateUrl::Sqlite("data/scimd.db".into()));
    assert_eq!(config.admin.socket, PathBuf::from("data/admin.sock"));
    assert!(config.providers["demo"].accepts_token("demo-token"));
}

#[test]
fn unknown_key_is_reported_with_its_line() {
    let error = one_error(&format!(
        "{}\n[server]\nlisten = \"127.0.0.1:1\"\nlisen = 3\n",
        demo("")
    ));
    assert_eq!(error.line, Some(6));
    assert_eq!(error.column, Some(1));
    assert_eq!(error.key, "server.lisen");
    assert!(error.message.contains("unknown key `lisen`"), "{error}");
    assert!(
        error
            .hint
            .as_deref()
            .unwrap_or_default()
            .contains("`listen`"),
        "{error}"
    );
}

#[test]
fn every_error_in_a_file_is_reported_with_its_line() {
    let text = r#"[server]
listen = "localhost"
colour = "blue"
max_body_bytes = 10

[providers.Bad]
tokens = ["hunter2"]
max_results = "many"
max_delete_percent = 200

[providers.ok]
tokens = ["sha256:abc"]
drift_action = "fix"
"#;
    let found: Vec<(Option<usize>, String)> =
        errors(text).into_iter().map(|e| (e.line, e.key)).collect();
    let expected = [
        (2, "server.listen"),
        (3, "server.colour"),
        (4, "server.max_body_bytes"),
        (6, "providers.Bad"),
        (7, "providers.Bad.tokens[0]"),
        (8, "providers.Bad.max_results"),
        (9, "providers.Bad.max_delete_percent"),
        (12, "providers.ok.tokens[0]"),
        (13, "providers.ok.drift_action"),
    ]
    .map(|(line, key)| (Some(line), key.to_owned()));
    assert_eq!(found, expected);
}

#[test]
fn bad_array_item_names_its_index() {
    let error = one_error(&format!(
        "[providers.demo]\ntokens = [\"{DEMO_HASH}\", 3]\n"
    ));
    assert_eq!(error.key, "providers.demo.tokens[1]");
    assert_eq!(error.line, Some(2));
    assert!(error.message.contains("invalid type"), "{error}");
}

#[test]
fn missing_key_in_a_table_is_reported() {
    let error = one_error(&demo("rate_limit = { requests_per_second = 5.0 }\n"));
    assert_eq!(error.key, "providers.demo.rate_limit");
    assert_eq!(error.line, Some(3));
    assert!(error.message.contains("missing field `burst`"), "{error}");
}

#[test]
fn variables_are_expanded_and_escaped() {
    let text = format!(
        "[server]\nlisten = \"${{HOST}}:${{PORT}}\"\n[admin]\nsocket = \"/run/$${{not}}/$x\"\n{}",
        demo("")
    );
    let config = parse_env(&text, &[("HOST", "127.0.0.2"), ("PORT", "9000")]).expect("valid");
    assert_eq!(
        config.server.listen,
        "127.0.0.2:9000".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(config.admin.socket, PathBuf::from("/run/${not}/$x"));
}

#[test]
fn unset_variable_is_one_error_naming_it() {
    let text = format!("{}[server]\nlisten = \"${{SCIMD_TEST_UNSET}}\"\n", demo(""));
    let error = one_error(&text);
    assert_eq!(error.line, Some(4));
    assert_eq!(error.key, "server.listen");
    assert!(
        error.message.contains("`SCIMD_TEST_UNSET` is not set"),
        "{error}"
    );
}

#[test]
fn malformed_references_are_errors() {
    let text = format!("{}[admin]\nsocket = \"${{1X}} ${{OPEN\"\n", demo(""));
    let all = errors(&text);
    assert_eq!(all.len(), 2, "{all:#?}");
    assert!(all[0].message.contains("not a valid variable name"));
    assert!(all[1].message.contains("without a closing"));
}

#[test]
fn token_files_hold_raw_tokens_and_hash_lines() {
    let file = temp_file(&format!(
        "# rotated 2025-01\n\nraw-secret-token\n  {OTHER_HASH}  \n"
    ));
    let text = format!("[providers.demo]\ntoken_files = [{:?}]\n", toml_path(&file));
    let provider = ok(&text).providers.remove("demo").expect("demo");
    assert_eq!(
        provider.token_hashes,
        vec![token_hash("raw-secret-token"), token_hash("other-token")]
    );
    assert!(provider.accepts_token("raw-secret-token"));
    assert!(provider.accepts_token("other-token"));
}

#[test]
fn bad_token_files_are_errors_naming_the_file() {
    let empty = temp_file("# nothing yet\n");
    let bad = temp_file("Bearer abc\nsha256:1234\n");
    let missing = "/nonexistent/scimd-token";
    let text = format!(
        "[providers.demo]\ntoken_files = [{:?}, {:?}, {missing:?}]\n",
        toml_path(&empty),
        toml_path(&bad)
    );
    let all = errors(&text);
    let messages: Vec<&str> = all.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(all.len(), 4, "{messages:#?}");
    assert!(messages[0].contains("holds no token") && all[0].key.ends_with("token_files[0]"));
    assert!(messages[1].starts_with("line 1 of") && messages[1].contains("one word"));
    assert!(messages[2].starts_with("line 2 of") && messages[2].contains("64 hex digits"));
    assert!(messages[3].contains(missing) && all[3].key.ends_with("token_files[2]"));
    assert!(all.iter().all(|e| e.line == Some(2)));
}

#[test]
fn invalid_provider_name_is_an_error_with_hint() {
    for name in [
        "\"Contoso\"",
        "\"-x\"",
        "\"a.b\"",
        &format!("\"{}\"", "a".repeat(64)),
    ] {
        let error = one_error(&format!("[providers.{name}]\ntokens = [\"{DEMO_HASH}\"]\n"));
        assert_eq!(error.line, Some(1));
        assert!(
            error.message.contains("not a valid provider name"),
            "{error}"
        );
        assert!(error.hint.is_some());
    }
    ok(&format!(
        "[providers.{}]\ntokens = [\"{DEMO_HASH}\"]\n",
        "a".repeat(63)
    ));
    ok(&format!("[providers.0_a-b]\ntokens = [\"{DEMO_HASH}\"]\n"));
}

#[test]
fn plain_token_inline_is_refused_without_echoing_it() {
    let error = one_error("[providers.demo]\ntokens = [\"super-secret-value\"]\n");
    assert_eq!(error.key, "providers.demo.tokens[0]");
    assert_eq!(error.line, Some(2));
    assert!(
        error
            .hint
            .as_deref()
            .unwrap_or_default()
            .contains("scimd token new")
    );
    assert!(!error.to_string().contains("super-secret-value"));
    let short = one_error("[providers.demo]\ntokens = [\"sha256:abcd\"]\n");
    assert!(short.message.contains("64 hex digits"), "{short}");
}

#[test]
fn enabled_provider_needs_a_token() {
    let error = one_error("[providers.demo]\nmax_results = 5\n");
    assert_eq!(
        (error.line, error.key.as_str()),
        (Some(1), "providers.demo")
    );
    assert!(error.message.contains("at least one token"));
    let config = ok("[providers.demo]\nenabled = false\n");
    assert!(config.providers["demo"].token_hashes.is_empty());
}

#[test]
fn a_token_shared_by_two_providers_is_refused() {
    let text = format!(
        "{}[providers.other]\ntokens = [\"{DEMO_HASH}\"]\n",
        demo("")
    );
    let error = one_error(&text);
    assert_eq!(error.key, "providers.other.tokens[0]");
    assert!(error.message.contains("provider `demo`"), "{error}");
}

#[test]
fn tls_needs_both_files_and_they_must_exist() {
    let error = one_error(&format!(
        "{}[server]\ntls_cert_file = \"/tmp/x.pem\"\n",
        demo("")
    ));
    assert_eq!(
        (error.line, error.key.as_str()),
        (Some(4), "server.tls_cert_file")
    );
    assert!(error.message.contains("tls_key_file is not"));

    let missing = format!(
        "{}[server]\ntls_cert_file = \"/nonexistent/cert.pem\"\ntls_key_file = \"/nonexistent/key.pem\"\n",
        demo("")
    );
    let keys: Vec<String> = errors(&missing).into_iter().map(|e| e.key).collect();
    assert_eq!(keys, ["server.tls_cert_file", "server.tls_key_file"]);

    let cert = temp_file("cert");
    let key = temp_file("key");
    let text = format!(
        "{}[server]\ntls_cert_file = {:?}\ntls_key_file = {:?}\n",
        demo(""),
        toml_path(&cert),
        toml_path(&key)
    );
    let tls = ok(&text).server.tls.expect("tls");
    assert_eq!(
        (tls.cert_file.as_path(), tls.key_file.as_path()),
        (cert.path(), key.path())
    );
}

#[test]
fn postgres_url_with_password_file() {
    let password = temp_file("  s3cret-pw\n");
    let text = format!(
        "{}[state]\nurl = \"postgresql://scimd@db.example/scimd\"\npassword_file = {:?}\n",
        demo(""),
        toml_path(&password)
    );
    let state = ok(&text).state;
    assert_eq!(
        state.url,
        StateUrl::Postgres("postgresql://scimd@db.example/scimd".into())
    );
    assert_eq!(state.password.as_deref(), Some("s3cret-pw"));
    assert!(!format!("{state:?}").contains("s3cret-pw"));
}

#[test]
fn postgres_password_only_through_a_variable_or_file() {
    let inline = format!(
        "{}[state]\nurl = \"postgres://scimd:hunter2@db/scimd\"\n",
        demo("")
    );
    let error = one_error(&inline);
    assert_eq!((error.line, error.key.as_str()), (Some(4), "state.url"));
    assert!(error.message.contains("inline"), "{error}");

    let via_env = format!(
        "{}[state]\nurl = \"postgres://scimd:${{PGPASS}}@db/scimd\"\n",
        demo("")
    );
    let config = parse_env(&via_env, &[("PGPASS", "hunter2")]).expect("valid");
    assert_eq!(
        config.state.url,
        StateUrl::Postgres("postgres://scimd:hunter2@db/scimd".into())
    );
    assert!(!format!("{config:?}").contains("hunter2"));
    assert_eq!(
        config.state.url.to_string(),
        "postgres://scimd:***@db/scimd"
    );
}

#[test]
fn unknown_state_scheme_is_an_error_with_hint() {
    let error = one_error(&format!(
        "{}[state]\nurl = \"mysql://db/scimd\"\n",
        demo("")
    ));
    assert_eq!(error.key, "state.url");
    assert!(
        error
            .hint
            .as_deref()
            .unwrap_or_default()
            .contains("sqlite://")
    );
}

#[test]
fn bad_log_level_and_format_are_errors() {
    let text = format!(
        "{}[log]\nformat = \"xml\"\nlevel = \"scimd=loud\"\n",
        demo("")
    );
    let keys: Vec<String> = errors(&text).into_iter().map(|e| e.key).collect();
    assert_eq!(keys, ["log.format", "log.level"]);
}

#[test]
fn toml_syntax_error_has_line_and_column() {
    let error = one_error("[server]\nlisten = \"127.0.0.1:80\"\nmax_connections = = 3\n");
    assert_eq!(error.line, Some(3));
    assert!(error.column.is_some());
    assert!(error.message.starts_with("TOML syntax"), "{error}");

    let lines: Vec<Option<usize>> = errors("a = = 1\nb = 2\nc = = 3\n")
        .into_iter()
        .map(|e| e.line)
        .collect();
    assert_eq!(lines, [Some(1), Some(3)]);
}

#[test]
fn errors_display_one_per_line_with_position_key_and_hint() {
    let text = format!("{}[server]\nlisten = \"nowhere\"\nbogus = 1\n", demo(""));
    let shown = parse_env(&text, &[]).expect_err("invalid").to_string();
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(lines.len(), 2, "{shown}");
    assert!(
        lines[0].starts_with(
            "scimd.toml:4:10: server.listen: `nowhere` is not an IP:PORT address (hint: "
        ),
        "{shown}"
    );
    assert!(
        lines[1].starts_with("scimd.toml:5:1: server.bogus: unknown key `bogus`"),
        "{shown}"
    );
}

#[test]
fn load_reports_an_unreadable_file() {
    let errors = load(Path::new("/nonexistent/scimd.toml")).expect_err("missing file");
    assert_eq!(errors.len(), 1);
    assert!(
        errors
            .to_string()
            .starts_with("/nonexistent/scimd.toml: cannot read the config file")
    );
}

#[test]
fn load_reads_a_file() {
    let file = temp_file(&demo(""));
    let config = load(file.path()).expect("valid");
    assert_eq!(config.path, file.path());
}

#[test]
fn new_tokens_are_random_and_their_line_matches() {
    let (token, line) = new_token().expect("randomness");
    let (other, _) = new_token().expect("randomness");
    assert_ne!(token, other);
    assert!(token.starts_with("scimd_") && token.len() == 6 + 64);
    assert_eq!(token::parse_hash_line(&line), Some(token_hash(&token)));
    assert_eq!(hash_line(&token_hash("demo-token")), DEMO_HASH);
}

#[test]
fn provider_debug_hides_token_hashes() {
    let config = ok(&demo(""));
    let shown = format!("{config:?}");
    assert!(
        !shown.contains("7c43ef5a") && !shown.contains("124, 67"),
        "{shown}"
    );
    assert!(shown.contains("<1 redacted>"));
}

#[test]
fn configs_compare_equal_for_reload_diffs() {
    assert_eq!(ok(&demo("")), ok(&demo("")));
    assert_ne!(ok(&demo("")), ok(&demo("max_results = 5\n")));
}
