//! Connections: a small pool of bound connections, opened on first use and
//! reopened after a failure (the directory restarted, a timeout), TLS set up
//! from the configuration (StartTLS, ldaps, CA file, client certificate), and
//! the mapping of LDAP failures to transient or permanent errors.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use ldap3::controls::RawControl;
use ldap3::{
    Ldap, LdapConnAsync, LdapConnSettings, LdapError, LdapResult, Mod, Scope, SearchEntry,
};
use rustls::ClientConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use scimd_backend::BackendError;
use tokio::sync::Mutex;

use crate::config::LdapTargetConfig;

/// LDAP result codes scimd reacts to (RFC 4511 appendix A).
pub mod rc {
    /// noSuchAttribute (also: a value to delete is not there)
    pub const NO_SUCH_ATTRIBUTE: u32 = 16;
    /// attributeOrValueExists
    pub const VALUE_EXISTS: u32 = 20;
    /// noSuchObject
    pub const NO_SUCH_OBJECT: u32 = 32;
    /// objectClassViolation
    pub const OBJECT_CLASS_VIOLATION: u32 = 65;
    /// entryAlreadyExists
    pub const ALREADY_EXISTS: u32 = 68;
}

/// The Permissive Modify control (OpenLDAP, 389-DS, Active Directory): adding
/// a value that is there or deleting one that is not succeeds, so membership
/// deltas stay idempotent without reading the member attribute first.
const PERMISSIVE_MODIFY: &str = "1.2.840.113556.1.4.1413";

/// A failed LDAP operation: the result code when the server answered, and the
/// error for the caller.
#[derive(Debug, Clone)]
pub struct OpError {
    /// The server's result code; `None` when it did not answer.
    pub rc: Option<u32>,
    /// What to report.
    pub error: BackendError,
}

impl OpError {
    fn from_result(what: &str, r: &LdapResult) -> OpError {
        let message = format!(
            "{what}: LDAP result {} {}{}",
            r.rc,
            code_name(r.rc),
            if r.text.is_empty() {
                String::new()
            } else {
                format!(" ({})", r.text)
            }
        );
        let error = match r.rc {
            // busy, unavailable, timeLimitExceeded, adminLimitExceeded, other,
            // invalidCredentials (a rotated password), loopDetect
            3 | 11 | 49 | 51 | 52 | 80 | 54 => BackendError::transient(message),
            rc::ALREADY_EXISTS => BackendError::conflict(message),
            _ => BackendError::permanent(message),
        };
        OpError {
            rc: Some(r.rc),
            error,
        }
    }

    fn io(what: &str, e: &LdapError) -> OpError {
        OpError {
            rc: None,
            error: BackendError::transient(format!("{what}: {e}")),
        }
    }
}

fn code_name(rc: u32) -> &'static str {
    match rc {
        16 => "noSuchAttribute",
        17 => "undefinedAttributeType",
        20 => "attributeOrValueExists",
        21 => "invalidAttributeSyntax",
        32 => "noSuchObject",
        34 => "invalidDNSyntax",
        49 => "invalidCredentials",
        50 => "insufficientAccessRights (grant the service account the ACLs in the docs)",
        51 => "busy",
        52 => "unavailable",
        53 => "unwillingToPerform",
        64 => "namingViolation",
        65 => "objectClassViolation",
        66 => "notAllowedOnNonLeaf",
        67 => "notAllowedOnRDN",
        68 => "entryAlreadyExists",
        69 => "objectClassModsProhibited",
        _ => "",
    }
}

/// Values of one attribute to add, delete or replace.
pub type Values = HashSet<String>;

/// A bound connection handle (cheap to clone; operations are multiplexed).
pub struct Conn {
    ldap: Ldap,
    timeout: Duration,
    slot: usize,
    pool: Arc<PoolInner>,
}

struct PoolInner {
    slots: Vec<Mutex<Option<Ldap>>>,
}

/// The pool of connections to one directory.
pub struct Pool {
    config: LdapTargetConfig,
    inner: Arc<PoolInner>,
    next: AtomicUsize,
    /// Write operations sent (add, modify, delete, modrdn): for tests and metrics.
    writes: AtomicU64,
}

impl Pool {
    /// A pool that connects on first use.
    pub fn new(config: LdapTargetConfig) -> Pool {
        let slots = (0..config.pool_size.max(1))
            .map(|_| Mutex::new(None))
            .collect();
        Pool {
            config,
            inner: Arc::new(PoolInner { slots }),
            next: AtomicUsize::new(0),
            writes: AtomicU64::new(0),
        }
    }

    /// How many write operations this pool has sent.
    pub fn writes(&self) -> u64 {
        self.writes.load(Ordering::Relaxed)
    }

    pub(crate) fn count_write(&self) {
        self.writes.fetch_add(1, Ordering::Relaxed);
    }

    /// A bound connection: an open one from the pool, or a fresh one.
    pub async fn get(&self) -> Result<Conn, BackendError> {
        let slot = self.next.fetch_add(1, Ordering::Relaxed) % self.inner.slots.len();
        let mut guard = self.inner.slots[slot].lock().await;
        if let Some(ldap) = guard.as_mut()
            && !ldap.is_closed()
        {
            return Ok(self.conn(ldap.clone(), slot));
        }
        *guard = None;
        let ldap = self.connect().await?;
        *guard = Some(ldap.clone());
        Ok(self.conn(ldap, slot))
    }

    fn conn(&self, ldap: Ldap, slot: usize) -> Conn {
        Conn {
            ldap,
            timeout: Duration::from_secs(self.config.timeout_seconds.max(1)),
            slot,
            pool: self.inner.clone(),
        }
    }

    async fn connect(&self) -> Result<Ldap, BackendError> {
        let c = &self.config;
        let timeout = Duration::from_secs(c.timeout_seconds.max(1));
        let mut settings = LdapConnSettings::new()
            .set_conn_timeout(timeout)
            .set_starttls(c.starttls);
        if c.ca_file.is_some() || c.client_cert_file.is_some() {
            settings = settings.set_config(Arc::new(tls_config(c)?));
        }
        let (conn, mut ldap) = LdapConnAsync::with_settings(settings, &c.url)
            .await
            .map_err(|e| BackendError::transient(format!("cannot connect to {}: {e}", c.url)))?;
        ldap3::drive!(conn);
        ldap.with_timeout(timeout);
        if !c.bind_dn.is_empty() {
            let password = read_password(c)?;
            let r = ldap
                .simple_bind(&c.bind_dn, &password)
                .await
                .map_err(|e| BackendError::transient(format!("bind to {} failed: {e}", c.url)))?;
            if r.rc != 0 {
                let e = OpError::from_result(&format!("bind as {:?} to {}", c.bind_dn, c.url), &r);
                return Err(BackendError::transient(format!(
                    "{}; check bind_dn and the password in bind_password_file",
                    e.error.message
                )));
            }
        }
        Ok(ldap)
    }
}

fn read_password(c: &LdapTargetConfig) -> Result<String, BackendError> {
    let Some(path) = &c.bind_password_file else {
        return Ok(String::new());
    };
    std::fs::read_to_string(path)
        .map(|s| s.trim_end_matches(['\n', '\r']).to_owned())
        .map_err(|e| {
            BackendError::permanent(format!(
                "cannot read bind_password_file {}: {e}",
                path.display()
            ))
        })
}

fn tls_config(c: &LdapTargetConfig) -> Result<ClientConfig, BackendError> {
    let bad = |what: &str, path: &std::path::Path, e: &dyn std::fmt::Display| {
        BackendError::permanent(format!("{what} {}: {e}", path.display()))
    };
    let mut roots = rustls::RootCertStore::empty();
    match &c.ca_file {
        Some(path) => {
            for cert in CertificateDer::pem_file_iter(path).map_err(|e| bad("ca_file", path, &e))? {
                let cert = cert.map_err(|e| bad("ca_file", path, &e))?;
                roots.add(cert).map_err(|e| bad("ca_file", path, &e))?;
            }
        }
        None => {
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| BackendError::permanent(format!("TLS setup: {e}")))?
        .with_root_certificates(roots);
    match (&c.client_cert_file, &c.client_key_file) {
        (Some(cert), Some(key)) => {
            let certs = CertificateDer::pem_file_iter(cert)
                .map_err(|e| bad("client_cert_file", cert, &e))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| bad("client_cert_file", cert, &e))?;
            let key =
                PrivateKeyDer::from_pem_file(key).map_err(|e| bad("client_key_file", key, &e))?;
            builder
                .with_client_auth_cert(certs, key)
                .map_err(|e| BackendError::permanent(format!("client certificate: {e}")))
        }
        _ => Ok(builder.with_no_client_auth()),
    }
}

impl Conn {
    /// Forgets this connection after a transport failure so the next use reconnects.
    async fn drop_connection(&self) {
        *self.pool.slots[self.slot].lock().await = None;
    }

    async fn check(&self, what: &str, r: Result<LdapResult, LdapError>) -> Result<(), OpError> {
        match r {
            Ok(r) if r.rc == 0 => Ok(()),
            Ok(r) => Err(OpError::from_result(what, &r)),
            Err(e) => {
                self.drop_connection().await;
                Err(OpError::io(what, &e))
            }
        }
    }

    /// Entries matching `filter` below `base` (at most a few: lookups by id or
    /// name); `noSuchObject` for the base yields none.
    pub async fn search(
        &self,
        base: &str,
        scope: Scope,
        filter: &str,
        attrs: &[&str],
    ) -> Result<Vec<SearchEntry>, OpError> {
        let mut ldap = self.ldap.clone();
        let what = format!("search {base:?} for {filter}");
        let r = ldap
            .with_timeout(self.timeout)
            .search(base, scope, filter, attrs.to_vec())
            .await;
        match r {
            Ok(res) => {
                let (entries, result) = (res.0, res.1);
                match result.rc {
                    0 => Ok(entries.into_iter().map(SearchEntry::construct).collect()),
                    rc::NO_SUCH_OBJECT => Ok(Vec::new()),
                    _ => Err(OpError::from_result(&what, &result)),
                }
            }
            Err(e) => {
                self.drop_connection().await;
                Err(OpError::io(&what, &e))
            }
        }
    }

    /// The entry at `dn`, if there is one.
    pub async fn read(&self, dn: &str, attrs: &[&str]) -> Result<Option<SearchEntry>, OpError> {
        Ok(self
            .search(dn, Scope::Base, "(objectClass=*)", attrs)
            .await?
            .into_iter()
            .next())
    }

    /// Adds an entry.
    pub async fn add(
        &self,
        pool: &Pool,
        dn: &str,
        attrs: Vec<(String, Values)>,
    ) -> Result<(), OpError> {
        pool.count_write();
        let mut ldap = self.ldap.clone();
        let r = ldap.with_timeout(self.timeout).add(dn, attrs).await;
        self.check(&format!("add {dn:?}"), r).await
    }

    /// Modifies an entry; `permissive` sends the Permissive Modify control.
    pub async fn modify(
        &self,
        pool: &Pool,
        dn: &str,
        mods: Vec<Mod<String>>,
        permissive: bool,
    ) -> Result<(), OpError> {
        if mods.is_empty() {
            return Ok(());
        }
        pool.count_write();
        let mut ldap = self.ldap.clone();
        ldap.with_timeout(self.timeout);
        if permissive {
            ldap.with_controls(RawControl {
                ctype: PERMISSIVE_MODIFY.into(),
                crit: false,
                val: None,
            });
        }
        let r = ldap.modify(dn, mods).await;
        self.check(&format!("modify {dn:?}"), r).await
    }

    /// Whether the entry's attribute holds this value (LDAP Compare); an
    /// entry or attribute that is not there holds nothing.
    pub async fn compare(&self, dn: &str, attr: &str, value: &str) -> Result<bool, OpError> {
        let mut ldap = self.ldap.clone();
        let what = format!("compare {attr} of {dn:?}");
        match ldap
            .with_timeout(self.timeout)
            .compare(dn, attr, value)
            .await
        {
            Ok(r) => match r.0.rc {
                6 => Ok(true),
                5 | 16 | rc::NO_SUCH_OBJECT => Ok(false),
                _ => Err(OpError::from_result(&what, &r.0)),
            },
            Err(e) => {
                self.drop_connection().await;
                Err(OpError::io(&what, &e))
            }
        }
    }

    /// Deletes an entry; one that is gone already is fine.
    pub async fn delete(&self, pool: &Pool, dn: &str) -> Result<(), OpError> {
        pool.count_write();
        let mut ldap = self.ldap.clone();
        let r = ldap.with_timeout(self.timeout).delete(dn).await;
        match self.check(&format!("delete {dn:?}"), r).await {
            Err(e) if e.rc == Some(rc::NO_SUCH_OBJECT) => Ok(()),
            other => other,
        }
    }

    /// Renames and/or moves an entry (the old RDN value is removed).
    pub async fn modrdn(
        &self,
        pool: &Pool,
        dn: &str,
        new_rdn: &str,
        new_superior: Option<&str>,
    ) -> Result<(), OpError> {
        pool.count_write();
        let mut ldap = self.ldap.clone();
        let r = ldap
            .with_timeout(self.timeout)
            .modifydn(dn, new_rdn, true, new_superior)
            .await;
        self.check(&format!("rename {dn:?} to {new_rdn:?}"), r)
            .await
    }

    /// A handle for a streaming (paged) search.
    pub fn ldap(&self) -> Ldap {
        self.ldap.clone()
    }

    /// Reports a transport failure seen outside these helpers.
    pub async fn failed(&self) {
        self.drop_connection().await;
    }
}

/// Builds an [`OpError`] for a failure outside the helpers.
pub fn io_error(what: &str, e: &LdapError) -> OpError {
    OpError::io(what, e)
}

/// Builds an [`OpError`] from a result outside the helpers.
pub fn result_error(what: &str, r: &LdapResult) -> OpError {
    OpError::from_result(what, r)
}
