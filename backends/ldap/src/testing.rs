//! A throwaway OpenLDAP server for tests (feature `testing`): a cn=config
//! instance in a temporary directory (schemas core, cosine, inetorgperson,
//! nis and scimd's own; back_mdb; cn=Monitor for operation counts), started as
//! `slapd -d 0` on a free port, stopped by PID on drop. Entries under
//! `dc=test`: `ou=people`, `ou=groups`, `ou=disabled` and a service account
//! `cn=scimd,dc=test` that may write everything (and is bound by the
//! default size limit of 500, so observe must page).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ldap3::{LdapConnAsync, Scope, SearchEntry};

/// The suffix of the test directory.
pub const SUFFIX: &str = "dc=test";
/// Where tests put users.
pub const PEOPLE: &str = "ou=people,dc=test";
/// Where tests put groups.
pub const GROUPS: &str = "ou=groups,dc=test";
/// Where the `move` policy puts users in tests.
pub const DISABLED: &str = "ou=disabled,dc=test";
/// The root DN (bypasses ACLs and limits).
pub const ADMIN_DN: &str = "cn=admin,dc=test";
/// The root DN's password.
pub const ADMIN_PASSWORD: &str = "secret";
/// The service account scimd binds as in tests.
pub const SERVICE_DN: &str = "cn=scimd,dc=test";
/// The service account's password.
pub const SERVICE_PASSWORD: &str = "scimd-secret";

const SLAPD: &str = "/usr/sbin/slapd";
const SLAPADD: &str = "/usr/sbin/slapadd";
const SCHEMAS: &[&str] = &["core", "cosine", "inetorgperson", "nis"];

/// Whether tests must fail instead of skipping when slapd is missing.
pub fn services_required() -> bool {
    std::env::var("SCIMD_TEST_REQUIRE_SERVICES").is_ok_and(|v| v == "1")
}

/// A running slapd, killed when dropped.
pub struct Slapd {
    dir: tempfile::TempDir,
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    child: Mutex<Option<Child>>,
}

/// scimd's schema (the `scimdId` attribute and `scimdObject` class).
pub const SCIMD_SCHEMA: &str = include_str!("../../../examples/ldap/scimd-schema.ldif");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn schema_ldif(name: &str) -> String {
    std::fs::read_to_string(format!("/etc/ldap/schema/{name}.ldif"))
        .unwrap_or_else(|e| panic!("schema {name}: {e}"))
}

fn config_ldif(dir: &Path, durable: bool) -> String {
    let mut out = format!(
        "dn: cn=config\nobjectClass: olcGlobal\ncn: config\nolcPidFile: {d}/slapd.pid\n\n\
         dn: cn=module{{0}},cn=config\nobjectClass: olcModuleList\ncn: module{{0}}\n\
         olcModulePath: /usr/lib/ldap\nolcModuleLoad: back_mdb\n\n\
         dn: cn=schema,cn=config\nobjectClass: olcSchemaConfig\ncn: schema\n\n",
        d = dir.display()
    );
    for s in SCHEMAS {
        out.push_str(&schema_ldif(s));
        out.push('\n');
    }
    out.push_str(SCIMD_SCHEMA);
    out.push('\n');
    out.push_str(&format!(
        "dn: olcDatabase={{-1}}frontend,cn=config\nobjectClass: olcDatabaseConfig\n\
         objectClass: olcFrontendConfig\nolcDatabase: {{-1}}frontend\nolcSizeLimit: 500\n\n\
         dn: olcDatabase={{0}}config,cn=config\nobjectClass: olcDatabaseConfig\n\
         olcDatabase: {{0}}config\nolcAccess: {{0}}to * by * none\n\n\
         dn: olcDatabase={{1}}mdb,cn=config\nobjectClass: olcDatabaseConfig\n\
         objectClass: olcMdbConfig\nolcDatabase: {{1}}mdb\nolcSuffix: {SUFFIX}\n\
         olcRootDN: {ADMIN_DN}\nolcRootPW: {ADMIN_PASSWORD}\nolcDbDirectory: {d}/data\n\
         olcDbMaxSize: 4294967296\n{nosync}\
         olcDbIndex: objectClass eq\nolcDbIndex: scimdId eq\nolcDbIndex: uid,cn eq\n\
         olcDbIndex: member,uniqueMember,memberUid eq\n\
         olcLimits: dn.exact=\"{SERVICE_DN}\" size.prtotal=unlimited\n\
         olcAccess: {{0}}to attrs=userPassword by self =xw by anonymous auth by * none\n\
         olcAccess: {{1}}to * by dn.exact=\"{SERVICE_DN}\" write by * read\n\n\
         dn: olcDatabase={{2}}monitor,cn=config\nobjectClass: olcDatabaseConfig\n\
         olcDatabase: {{2}}monitor\n\
         olcAccess: {{0}}to * by dn.exact=\"{ADMIN_DN}\" read by * none\n",
        d = dir.display(),
        nosync = if durable { "" } else { "olcDbNoSync: TRUE\n" },
    ));
    out
}

fn base_ldif() -> String {
    format!(
        "dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\ndc: test\no: test\n\n\
         dn: {PEOPLE}\nobjectClass: organizationalUnit\nou: people\n\n\
         dn: {GROUPS}\nobjectClass: organizationalUnit\nou: groups\n\n\
         dn: {DISABLED}\nobjectClass: organizationalUnit\nou: disabled\n\n\
         dn: {SERVICE_DN}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\n\
         cn: scimd\nuserPassword: {SERVICE_PASSWORD}\n"
    )
}

fn run(cmd: &mut Command, what: &str) -> Result<(), String> {
    let out = cmd
        .output()
        .map_err(|e| format!("{what}: cannot run: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

impl Slapd {
    /// Builds and starts a slapd; `durable` keeps fsync on (for benchmarks).
    /// `None` (after printing why) when slapd is not installed, unless
    /// `SCIMD_TEST_REQUIRE_SERVICES=1`, which makes that a panic.
    pub async fn start(durable: bool) -> Option<Slapd> {
        if !Path::new(SLAPD).exists() {
            assert!(
                !services_required(),
                "slapd is not installed ({SLAPD}) but SCIMD_TEST_REQUIRE_SERVICES=1: \
                 apt-get install slapd ldap-utils"
            );
            eprintln!("skipped: no slapd at {SLAPD} (apt-get install slapd ldap-utils)");
            return None;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let d = dir.path();
        std::fs::create_dir_all(d.join("slapd.d")).unwrap();
        std::fs::create_dir_all(d.join("data")).unwrap();
        std::fs::write(d.join("config.ldif"), config_ldif(d, durable)).unwrap();
        std::fs::write(d.join("base.ldif"), base_ldif()).unwrap();
        run(
            Command::new(SLAPADD)
                .args(["-n0", "-F"])
                .arg(d.join("slapd.d"))
                .arg("-l")
                .arg(d.join("config.ldif")),
            "slapadd -n0 (config)",
        )
        .unwrap();
        run(
            Command::new(SLAPADD)
                .args(["-b", SUFFIX, "-F"])
                .arg(d.join("slapd.d"))
                .arg("-l")
                .arg(d.join("base.ldif")),
            "slapadd (base entries)",
        )
        .unwrap();
        let slapd = Slapd {
            dir,
            port: free_port(),
            child: Mutex::new(None),
        };
        slapd.launch().await;
        Some(slapd)
    }

    async fn launch(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let child = Command::new(SLAPD)
                .args(["-d", "0", "-F"])
                .arg(self.dir.path().join("slapd.d"))
                .arg("-h")
                .arg(self.url())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn slapd");
            *self.child.lock().unwrap() = Some(child);
            // Poll with a bind until it answers (about 0.3 s); a restart may
            // find the port still held for a moment.
            while Instant::now() < deadline {
                if self.admin_bind().await.is_ok() {
                    return;
                }
                let exited = self
                    .child
                    .lock()
                    .unwrap()
                    .as_mut()
                    .and_then(|c| c.try_wait().ok().flatten())
                    .is_some();
                if exited {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            assert!(
                Instant::now() < deadline,
                "slapd did not come up on {}",
                self.url()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// `ldap://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("ldap://127.0.0.1:{}", self.port)
    }

    /// The temporary directory (for password files and the like).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A file holding the service account's password.
    pub fn service_password_file(&self) -> PathBuf {
        let p = self.dir.path().join("scimd.pw");
        std::fs::write(&p, format!("{SERVICE_PASSWORD}\n")).unwrap();
        p
    }

    /// A connection bound as the root DN.
    pub async fn admin_bind(&self) -> Result<ldap3::Ldap, ldap3::LdapError> {
        let settings = ldap3::LdapConnSettings::new().set_conn_timeout(Duration::from_secs(2));
        let (conn, mut ldap) = LdapConnAsync::with_settings(settings, &self.url()).await?;
        ldap3::drive!(conn);
        ldap.simple_bind(ADMIN_DN, ADMIN_PASSWORD)
            .await?
            .success()?;
        Ok(ldap)
    }

    /// Turns fsync off (`false`) or on again (`true`): a restart with the
    /// database's `olcDbNoSync` changed. For benchmarks that load data fast
    /// and then measure durable writes.
    pub async fn set_durable(&self, durable: bool) {
        self.stop();
        let file = self
            .dir
            .path()
            .join("slapd.d/cn=config/olcDatabase={1}mdb.ldif");
        let text = std::fs::read_to_string(&file).expect("mdb config");
        // Hand edits void the file's checksum line: drop it.
        let mut lines: Vec<&str> = text
            .lines()
            .filter(|l| !l.starts_with("# CRC32") && !l.starts_with("olcDbNoSync:"))
            .collect();
        if !durable {
            lines.push("olcDbNoSync: TRUE");
        }
        std::fs::write(&file, lines.join("\n") + "\n").expect("write mdb config");
        self.launch().await;
    }

    /// Stops the server (the data stays).
    pub fn stop(&self) {
        if let Some(mut child) = self.child.lock().unwrap().take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the stopped server again on the same port with the same data.
    pub async fn restart(&self) {
        self.stop();
        self.launch().await;
    }

    /// How many operations of a kind (`Add`, `Modify`, `Delete`, `Modrdn`,
    /// `Search`) the server has completed, from cn=Monitor.
    pub async fn completed(&self, operation: &str) -> u64 {
        let mut ldap = self.admin_bind().await.expect("admin bind");
        let (entries, _) = ldap
            .search(
                &format!("cn={operation},cn=Operations,cn=Monitor"),
                Scope::Base,
                "(objectClass=*)",
                vec!["monitorOpCompleted"],
            )
            .await
            .expect("monitor search")
            .success()
            .expect("monitor entry");
        entries
            .into_iter()
            .next()
            .map(SearchEntry::construct)
            .and_then(|e| e.attrs.get("monitorOpCompleted")?.first()?.parse().ok())
            .expect("monitorOpCompleted")
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        self.stop();
    }
}
