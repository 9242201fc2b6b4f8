//! The fixture shared by this binary's tests: a fresh slapd, a backend
//! configured against it, and direct (root) access for assertions.

use std::collections::BTreeMap;
use std::sync::Arc;

use ldap3::{Ldap, Mod, Scope, SearchEntry};
use scimd_backend::{Object, ObjectKind, Value};
use scimd_backend_ldap::testing::{self, GROUPS, PEOPLE, Slapd};
use scimd_backend_ldap::{LdapBackend, LdapTargetConfig, escape};
use tokio::sync::Mutex;

/// The placeholder member of empty groups.
pub const NOBODY: &str = "cn=nobody,dc=test";

/// The target configuration tests start from (groupOfNames, disable policy).
pub fn config(slapd: &Slapd, extra_users: &str) -> LdapTargetConfig {
    toml::from_str(&format!(
        r#"
        url = "{url}"
        bind_dn = "{dn}"
        bind_password_file = "{pw}"
        timeout_seconds = 2
        page_size = 100
        [users]
        base_dn = "{PEOPLE}"
        object_classes = ["inetOrgPerson", "scimdObject"]
        rdn = "uid"
        disable_attribute = "employeeType"
        disabled_value = "disabled"
        {extra_users}
        [users.attributes]
        uid = "userName"
        displayName = 'emails[type eq "work"].value'
        [users.defaults]
        cn = "-"
        sn = "-"
        [groups]
        base_dn = "{GROUPS}"
        object_classes = ["groupOfNames", "scimdObject"]
        rdn = "cn"
        member_attribute = "member"
        empty_member = "{NOBODY}"
        [groups.attributes]
        cn = "displayName"
        description = "externalId"
        "#,
        url = slapd.url(),
        dn = testing::SERVICE_DN,
        pw = slapd.service_password_file().display(),
    ))
    .expect("test config parses")
}

/// Root access to the test directory.
pub struct Direct {
    /// The server.
    pub slapd: Arc<Slapd>,
    /// Ids of the entries planted as not scimd's: id -> DN.
    pub planted: Mutex<BTreeMap<String, String>>,
}

impl Direct {
    /// A root connection.
    pub async fn ldap(&self) -> Ldap {
        self.slapd.admin_bind().await.expect("admin bind")
    }

    /// Entries below `base` matching `filter`, every user attribute.
    pub async fn search(&self, base: &str, filter: &str) -> Vec<SearchEntry> {
        let (entries, _) = self
            .ldap()
            .await
            .search(base, Scope::Subtree, filter, vec!["*"])
            .await
            .expect("search")
            .success()
            .expect("search result");
        entries.into_iter().map(SearchEntry::construct).collect()
    }

    /// The entry with this id: owned (scimdId) or planted.
    pub async fn entry(&self, kind: ObjectKind, id: &str) -> Option<SearchEntry> {
        let base = base(kind);
        if let Some(e) = self
            .search(base, &escape::equals("scimdId", id))
            .await
            .into_iter()
            .find(|e| e.attrs.get("scimdId").is_some_and(|v| v[0] == id))
        {
            return Some(e);
        }
        let dn = self.planted.lock().await.get(id).cloned()?;
        let (entries, _) = self
            .ldap()
            .await
            .search(&dn, Scope::Base, "(objectClass=*)", vec!["*"])
            .await
            .ok()?
            .non_error()
            .ok()?;
        entries.into_iter().next().map(SearchEntry::construct)
    }

    /// The member values of a group, as ids (owned ids, planted ids), sorted.
    pub async fn member_ids(&self, group: &str) -> Vec<String> {
        let Some(e) = self.entry(ObjectKind::Group, group).await else {
            return Vec::new();
        };
        let planted = self.planted.lock().await.clone();
        let mut out = Vec::new();
        for dn in e.attrs.get("member").cloned().unwrap_or_default() {
            if escape::normalize_dn(&dn) == escape::normalize_dn(NOBODY) {
                continue;
            }
            let (found, _) = self
                .ldap()
                .await
                .search(&dn, Scope::Base, "(objectClass=*)", vec!["scimdId"])
                .await
                .expect("member read")
                .non_error()
                .expect("member read");
            let id = found
                .into_iter()
                .next()
                .map(SearchEntry::construct)
                .and_then(|m| m.attrs.get("scimdId").map(|v| v[0].clone()))
                .or_else(|| {
                    planted
                        .iter()
                        .find(|(_, p)| escape::normalize_dn(p) == escape::normalize_dn(&dn))
                        .map(|(id, _)| id.clone())
                })
                .unwrap_or_else(|| format!("?{dn}"));
            out.push(id);
        }
        out.sort();
        out
    }

    /// Writes an entry as an administrator would (no scimdId).
    pub async fn plant(&self, object: &Object, members: &[String]) {
        let (base, rdn, classes) = match object.kind {
            ObjectKind::User => (PEOPLE, "uid", vec!["inetOrgPerson"]),
            ObjectKind::Group => (GROUPS, "cn", vec!["groupOfNames"]),
        };
        let dn = format!("{},{base}", escape::rdn(rdn, &object.name));
        let mut attrs: Vec<(String, std::collections::HashSet<String>)> = vec![
            (
                "objectClass".into(),
                classes.iter().map(|c| c.to_string()).collect(),
            ),
            (rdn.into(), [object.name.clone()].into()),
        ];
        if object.kind == ObjectKind::User {
            attrs.push(("cn".into(), ["planted".into()].into()));
            attrs.push(("sn".into(), ["planted".into()].into()));
        }
        for (k, v) in &object.attributes {
            if k == rdn {
                continue;
            }
            if let Some(Value::Text(t)) = v {
                attrs.push((k.clone(), [t.clone()].into()));
            }
        }
        let mut member_dns = std::collections::HashSet::new();
        for m in members {
            let dn = self
                .planted
                .lock()
                .await
                .get(m)
                .cloned()
                .expect("planted member");
            member_dns.insert(dn);
        }
        if object.kind == ObjectKind::Group {
            if member_dns.is_empty() {
                member_dns.insert(NOBODY.to_owned());
            }
            attrs.push(("member".into(), member_dns));
        }
        self.ldap()
            .await
            .add(&dn, attrs)
            .await
            .expect("plant")
            .success()
            .expect("plant result");
        self.planted.lock().await.insert(object.id.clone(), dn);
    }

    /// Sets an attribute on an entry.
    pub async fn set(&self, dn: &str, attr: &str, value: &str) {
        self.ldap()
            .await
            .modify(
                dn,
                vec![Mod::Replace(attr.to_owned(), [value.to_owned()].into())],
            )
            .await
            .expect("modify")
            .success()
            .expect("modify result");
    }

    /// Counts entries of a kind below its base (owned or not).
    pub async fn count(&self, kind: ObjectKind) -> usize {
        let filter = match kind {
            ObjectKind::User => "(objectClass=inetOrgPerson)",
            ObjectKind::Group => "(objectClass=groupOfNames)",
        };
        self.search(base(kind), filter).await.len()
    }
}

/// The base DN of a kind in tests.
pub fn base(kind: ObjectKind) -> &'static str {
    match kind {
        ObjectKind::User => PEOPLE,
        ObjectKind::Group => GROUPS,
    }
}

/// A fresh slapd and a backend on it; `None` when slapd is missing (skipped).
pub async fn fixture(extra_users: &str) -> Option<(Arc<Slapd>, LdapBackend, Direct)> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let slapd = Arc::new(Slapd::start(false).await?);
    let backend = config(&slapd, extra_users).build().expect("config valid");
    let direct = Direct {
        slapd: slapd.clone(),
        planted: Mutex::new(BTreeMap::new()),
    };
    Some((slapd, backend, direct))
}

/// The attributes a test object has in the directory, neutral values.
pub fn attributes(e: &SearchEntry, names: &[&str]) -> BTreeMap<String, Option<Value>> {
    names
        .iter()
        .map(|n| {
            let v = e.attrs.get(*n).map(|v| match v.as_slice() {
                [one] => Value::Text(one.clone()),
                many => Value::Texts(many.to_vec()),
            });
            (n.to_string(), v)
        })
        .collect()
}
