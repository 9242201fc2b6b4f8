//! LDAP target benchmark (issue 5). Starts a durable slapd of its own
//! (fsync on, no olcDbNoSync) and an in-process scimd with an LDAP target,
//! then measures in the same run:
//!
//! 1. `push`: N users POSTed through the SCIM API (concurrency C) until the
//!    last one is in the directory, against the baseline of a raw
//!    `ldapadd -c` of N equivalent entries into the same server (run before
//!    and after; the ratio uses their mean).
//! 2. `member`: with a group of `--group-size` members in scimd and in the
//!    directory (loaded with fsync off, then measured with fsync on), PATCH
//!    add one member and time until the value is in the directory; baseline:
//!    one raw modify adding one value to the same group. The PATCH asks for
//!    `excludedAttributes=members`: by default a PATCH answers with the whole
//!    resource, 100,000 members included (or 204 with `patch_returns_body = false`).
//! 3. `drift`: a dry-run drift check (`scimd reconcile --dry-run` over the admin
//!    socket) of everything loaded above, unchanged (`--drift-runs`, median),
//!    against a raw paged search of the same entries; then the process's RSS
//!    before and its peak during the checks (VmHWM reset first; daemon and load
//!    client share the process, so an upper bound for the daemon).
//!
//! ```text
//! cargo run --release --example ldap_bench -- --users 10000 --group-size 100000
//! ```

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use ldap3::{Ldap, Mod, Scope, SearchEntry};
use scimd_backend_ldap::testing::{GROUPS, PEOPLE, SERVICE_DN, SERVICE_PASSWORD, Slapd};
use serde_json::{Value, json};

type Http = Client<HttpConnector, Full<Bytes>>;
const TOKEN: &str = "bench-token";

struct Api {
    http: Http,
    base: String,
}

impl Api {
    async fn call(&self, method: &str, path: &str, body: &Value) -> (u16, Value) {
        let req = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("authorization", format!("Bearer {TOKEN}"))
            .header("content-type", "application/scim+json")
            .body(Full::new(Bytes::from(body.to_string())))
            .unwrap();
        let resp = self.http.request(req).await.expect("request");
        let status = resp.status().as_u16();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    async fn ok(&self, method: &str, path: &str, body: &Value) -> Value {
        let (status, v) = self.call(method, path, body).await;
        assert!(status < 300, "{method} {path}: {status} {v}");
        v
    }
}

fn user(name: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": name,
        "name": {"givenName": "Given", "familyName": "Family"},
        "emails": [{"value": format!("{name}@example.com"), "type": "work", "primary": true}],
    })
}

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| v.parse().expect("a number"))
        .unwrap_or(default)
}

async fn count(ldap: &mut Ldap, base: &str) -> usize {
    ldap.search(
        base,
        Scope::OneLevel,
        "(objectClass=inetOrgPerson)",
        vec!["1.1"],
    )
    .await
    .map(|r| r.0.len())
    .unwrap_or(0)
}

/// A raw `ldapadd -c` of `n` entries like scimd's below `ou=NAME`; entries/s.
fn ldapadd(slapd: &Slapd, ou: &str, n: usize) -> f64 {
    let mut ldif = format!("dn: ou={ou},dc=test\nobjectClass: organizationalUnit\nou: {ou}\n\n");
    for i in 0..n {
        ldif.push_str(&format!(
            "dn: uid={ou}{i:06},ou={ou},dc=test\nobjectClass: inetOrgPerson\nobjectClass: scimdObject\n\
             uid: {ou}{i:06}\ncn: Given Family\nsn: Family\nmail: {ou}{i:06}@example.com\n\
             scimdId: 00000000-0000-4000-8000-{i:012}\n\n"
        ));
    }
    let file = slapd.dir().join(format!("{ou}.ldif"));
    std::fs::write(&file, ldif).unwrap();
    let t = Instant::now();
    let out = Command::new("ldapadd")
        .args([
            "-c",
            "-x",
            "-H",
            &slapd.url(),
            "-D",
            SERVICE_DN,
            "-w",
            SERVICE_PASSWORD,
        ])
        .arg("-f")
        .arg(&file)
        .output()
        .expect("run ldapadd (apt-get install ldap-utils)");
    let secs = t.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "ldapadd: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    n as f64 / secs
}

async fn post_users(api: &Arc<Api>, prefix: &str, n: usize, concurrency: usize) -> Vec<String> {
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (api, next, prefix) = (api.clone(), next.clone(), prefix.to_owned());
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= n {
                    return ids;
                }
                let v = api
                    .ok("POST", "/Users", &user(&format!("{prefix}{i:06}")))
                    .await;
                ids.push(v["id"].as_str().unwrap().to_owned());
            }
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.extend(t.await.unwrap());
    }
    ids
}

async fn wait_count(ldap: &mut Ldap, base: &str, n: usize, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(3600);
    while count(ldap, base).await < n {
        assert!(Instant::now() < deadline, "{what}: timed out");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn has_member(ldap: &mut Ldap, group_dn: &str, member: &str) -> bool {
    ldap.compare(group_dn, "member", member)
        .await
        .ok()
        .is_some_and(|r| r.0.rc == 6)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let users = arg("--users", 10_000);
    let group_size = arg("--group-size", 100_000);
    let concurrency = arg("--concurrency", 32);
    let samples = arg("--samples", 21);

    let slapd = Slapd::start(true).await.expect("slapd installed");
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        r#"
[server]
listen = "127.0.0.1:0"
max_body_bytes = 16777216
[state]
url = "sqlite://{d}/state.db"
[admin]
socket = "{d}/admin.sock"
[log]
level = "warn"
[providers.a]
tokens = ["{hash}"]
[providers.a.targets.dir]
kind = "ldap"
url = "{url}"
bind_dn = "{SERVICE_DN}"
bind_password_file = "{pw}"
[providers.a.targets.dir.users]
base_dn = "{PEOPLE}"
object_classes = ["inetOrgPerson", "scimdObject"]
rdn = "uid"
on_deactivate = "delete"
[providers.a.targets.dir.users.attributes]
uid = "userName"
cn = "{{name.givenName}} {{name.familyName}}"
sn = "name.familyName"
mail = 'emails[type eq "work"].value'
[providers.a.targets.dir.groups]
base_dn = "{GROUPS}"
object_classes = ["groupOfNames", "scimdObject"]
rdn = "cn"
empty_member = "cn=nobody,dc=test"
[providers.a.targets.dir.groups.attributes]
cn = "displayName"
"#,
        d = dir.path().display(),
        hash = scimd::config::hash_line(&scimd::config::token_hash(TOKEN)),
        url = slapd.url(),
        pw = slapd.service_password_file().display(),
    );
    let path = dir.path().join("scimd.toml");
    std::fs::write(&path, text).unwrap();
    let config = scimd::config::load(&path).expect("bench config");
    let running = scimd::daemon::start(config, false)
        .await
        .expect("scimd starts");
    let api = Arc::new(Api {
        http: Client::builder(TokioExecutor::new()).build_http(),
        base: format!("http://{}/scim/v2/a", running.addr),
    });
    let mut admin = slapd.admin_bind().await.unwrap();

    // 1. push N users vs raw ldapadd, same server, same run.
    println!(
        "durable slapd on {}; {users} users, concurrency {concurrency}",
        slapd.url()
    );
    let raw1 = ldapadd(&slapd, "rawa", users);
    println!("raw ldapadd -c (before): {raw1:.0} entries/s");
    let t = Instant::now();
    post_users(&api, "push", users, concurrency).await;
    let api_secs = t.elapsed().as_secs_f64();
    wait_count(&mut admin, PEOPLE, users, "push").await;
    let secs = t.elapsed().as_secs_f64();
    let pushed = users as f64 / secs;
    println!(
        "scimd: {users} users accepted in {api_secs:.1} s, all in the directory after {secs:.1} s: {pushed:.0} users/s"
    );
    let raw2 = ldapadd(&slapd, "rawb", users);
    println!("raw ldapadd -c (after): {raw2:.0} entries/s");
    let raw = (raw1 + raw2) / 2.0;
    println!(
        "push ratio: {:.2} of the raw rate ({pushed:.0} / {raw:.0})",
        pushed / raw
    );

    if group_size > 0 {
        member(&api, &slapd, users, group_size, concurrency, samples).await;
    }
    drift(&slapd, dir.path(), arg("--drift-runs", 3)).await;
    let _ = running
        .control
        .send(scimd::signals::Control::Shutdown)
        .await;
}

/// Phase 2: one member added to a big group, end to end.
async fn member(
    api: &Arc<Api>,
    slapd: &Slapd,
    users: usize,
    group_size: usize,
    concurrency: usize,
    samples: usize,
) {
    // 2. one member added to a big group, end to end.
    println!("loading a {group_size}-member group (fsync off while loading)");
    slapd.set_durable(false).await;
    let mut ids = post_users(api, "member", group_size, concurrency).await;
    ids.sort();
    let g = api
        .ok(
            "POST",
            "/Groups",
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "big"}),
        )
        .await;
    let gid = g["id"].as_str().unwrap().to_owned();
    for chunk in ids.chunks(5000) {
        let members: Vec<Value> = chunk.iter().map(|id| json!({"value": id})).collect();
        api.ok(
            "PATCH",
            &format!("/Groups/{gid}?excludedAttributes=members"),
            &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "add", "path": "members", "value": members}]}),
        )
        .await;
    }
    let group_dn = format!("cn=big,{GROUPS}");
    let mut admin = slapd.admin_bind().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(3600);
    loop {
        let e = admin
            .search(&group_dn, Scope::Base, "(objectClass=*)", vec!["member"])
            .await
            .ok()
            .and_then(|r| r.0.into_iter().next())
            .map(SearchEntry::construct);
        let n = e
            .and_then(|e| e.attrs.get("member").map(Vec::len))
            .unwrap_or(0);
        if n >= group_size {
            println!("group holds {n} member values");
            break;
        }
        assert!(Instant::now() < deadline, "group load timed out at {n}");
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let probes = post_users(api, "probe", samples, 1).await;
    wait_count(&mut admin, PEOPLE, users + group_size + samples, "probes").await;
    slapd.set_durable(true).await;
    let mut admin = slapd.admin_bind().await.unwrap();
    // Warm the target's connection after the restart.
    api.ok("POST", "/Users", &user("warmup")).await;
    wait_count(
        &mut admin,
        PEOPLE,
        users + group_size + samples + 1,
        "warmup",
    )
    .await;

    let mut e2e = Vec::new();
    let mut accepted = Vec::new();
    for (i, id) in probes.iter().enumerate() {
        let dn = format!("uid=probe{i:06},{PEOPLE}");
        let t = Instant::now();
        api.ok(
            "PATCH",
            &format!("/Groups/{gid}?excludedAttributes=members"),
            &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "add", "path": "members", "value": [{"value": id}]}]}),
        )
        .await;
        accepted.push(t.elapsed().as_secs_f64() * 1000.0);
        while !has_member(&mut admin, &group_dn, &dn).await {
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "member {dn} never landed"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        e2e.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let mut raw = Vec::new();
    for i in 0..samples {
        let dn = format!("uid=rawa{i:06},ou=rawa,dc=test");
        let t = Instant::now();
        admin
            .modify(&group_dn, vec![Mod::Add("member", [dn.as_str()].into())])
            .await
            .unwrap()
            .success()
            .unwrap();
        raw.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    println!(
        "one member added to a {group_size}-member group, end to end into the directory: \
         median {:.1} ms (max {:.1} ms, {samples} samples; the PATCH itself: median {:.1} ms); \
         raw single-value modify: median {:.1} ms",
        median(&mut e2e.clone()),
        e2e.iter().cloned().fold(0.0, f64::max),
        median(&mut accepted),
        median(&mut raw)
    );
}

/// Phase 3: dry-run drift checks of the unchanged directory, against a raw paged
/// search of the same subtrees.
async fn drift(slapd: &Slapd, dir: &std::path::Path, runs: usize) {
    if runs == 0 {
        return;
    }
    let socket = dir.join("admin.sock");
    // Resets VmHWM to the current RSS, so the peak printed below is the drift
    // checks' own (what loading left resident included).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let rss = |field: &str| {
        std::fs::read_to_string("/proc/self/status")
            .unwrap_or_default()
            .lines()
            .find(|l| l.starts_with(field))
            .map(|l| l.split_whitespace().nth(1).unwrap_or("?").to_owned())
            .unwrap_or_else(|| "?".into())
    };
    let before = rss("VmRSS");
    let mut checks = Vec::new();
    for run in 1..=runs {
        let t = Instant::now();
        let raw = raw_paged_search(slapd).await;
        let base = t.elapsed().as_secs_f64();
        let reports = scimd::admin::request_reconcile(&socket, Some("a"), true, |_, _, _| {})
            .await
            .expect("reconcile answers");
        let r = &reports[0];
        println!(
            "drift run {run}: {:.2} s, compared {} desired with {} owned, {} differences; \
             baseline raw paged search of {raw} entries: {base:.2} s",
            r.seconds,
            r.desired,
            r.owned,
            r.creates + r.updates + r.deletes + r.membership
        );
        if let Some(e) = r.error.as_ref().or(r.blocked.as_ref()) {
            println!("drift run {run} did not complete: {e}");
        }
        checks.push(r.seconds);
    }
    println!(
        "drift check median {:.2} s over {runs} runs; process RSS {before} kB before the checks, \
         peak {} kB during them (daemon and load client share the process)",
        median(&mut checks),
        rss("VmHWM")
    );
}

/// Every entry below the people and groups subtrees with the mapped attributes,
/// 500 per page: what a drift check must read at least.
async fn raw_paged_search(slapd: &Slapd) -> usize {
    use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
    let mut ldap = slapd.admin_bind().await.unwrap();
    let mut n = 0;
    for base in [PEOPLE, GROUPS] {
        let adapters: Vec<Box<dyn Adapter<_, _>>> = vec![
            Box::new(EntriesOnly::new()),
            Box::new(PagedResults::new(500)),
        ];
        let mut stream = ldap
            .streaming_search_with(
                adapters,
                base,
                Scope::OneLevel,
                "(scimdId=*)",
                vec!["scimdId", "uid", "cn", "sn", "mail", "member"],
            )
            .await
            .unwrap();
        while let Some(_entry) = stream.next().await.unwrap() {
            n += 1;
        }
        let _ = stream.finish().await;
    }
    n
}
