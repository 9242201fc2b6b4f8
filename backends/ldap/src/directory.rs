//! Where scimd's entries live and how they are found: the per-kind layout
//! (base DN, naming and id attributes, object classes) and lookups by scimd
//! id (which also decides ownership: an entry below the base carrying the id
//! attribute) or by name (for entries scimd does not own yet).

use std::collections::HashMap;

use ldap3::{Scope, SearchEntry};
use scimd_backend::{BackendError, ObjectKind, Value};

use crate::config::{LdapTargetConfig, Policy};
use crate::conn::{Conn, OpError};
use crate::escape;

/// An entry as read: its DN and attributes (names lower-cased).
#[derive(Debug, Clone)]
pub struct Entry {
    /// The DN the directory reported.
    pub dn: String,
    /// Attribute name (lower case) to values.
    pub attrs: HashMap<String, Vec<String>>,
}

impl From<SearchEntry> for Entry {
    fn from(e: SearchEntry) -> Self {
        Entry {
            dn: e.dn,
            attrs: e
                .attrs
                .into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .collect(),
        }
    }
}

impl Entry {
    /// The values of an attribute (empty when absent).
    pub fn get(&self, attr: &str) -> &[String] {
        self.attrs
            .get(&attr.to_ascii_lowercase())
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }
}

/// The layout of one kind of object.
#[derive(Debug, Clone)]
pub struct Layout {
    /// User or group.
    pub kind: ObjectKind,
    /// Base DN of new entries.
    pub base_dn: String,
    /// Other subtree scimd's entries of this kind may sit in (users moved on
    /// deactivation to an OU outside `base_dn`).
    pub other_base: Option<String>,
    /// Naming attribute.
    pub rdn: String,
    /// Attribute holding scimd's id.
    pub id_attr: String,
    /// Attribute compared with the name of a not yet owned entry.
    pub match_attr: String,
    /// objectClass values of new entries.
    pub object_classes: Vec<String>,
    /// Mapped attribute names.
    pub mapped: Vec<String>,
    /// Attributes to read besides the mapped ones.
    pub extra: Vec<String>,
    /// Values for required attributes a new entry would lack.
    pub defaults: Vec<(String, String)>,
    /// Number allocation for new entries.
    pub number: Option<crate::config::NumberAllocation>,
}

impl Layout {
    /// The layout of a kind, or why this target has none.
    pub fn of(config: &LdapTargetConfig, kind: ObjectKind) -> Result<Layout, BackendError> {
        match kind {
            ObjectKind::User => {
                let u = &config.users;
                let other_base = u
                    .move_to
                    .clone()
                    .filter(|m| !escape::is_within(m, &u.base_dn));
                let mut extra = vec![u.rdn.clone(), u.id_attribute.clone(), "objectClass".into()];
                extra.extend(u.disable_attribute.clone());
                Ok(Layout {
                    kind,
                    base_dn: u.base_dn.clone(),
                    other_base: other_base
                        .filter(|_| u.on_deactivate == Policy::Move || u.on_delete == Policy::Move),
                    rdn: u.rdn.clone(),
                    id_attr: u.id_attribute.clone(),
                    match_attr: config.users_match().to_owned(),
                    object_classes: u.object_classes.clone(),
                    mapped: u.attributes.keys().cloned().collect(),
                    extra,
                    defaults: u.defaults.clone().into_iter().collect(),
                    number: u.number.clone(),
                })
            }
            ObjectKind::Group => {
                let g = config.groups.as_ref().ok_or_else(|| {
                    BackendError::permanent(
                        "this LDAP target has no [groups] section: add one to write groups",
                    )
                })?;
                Ok(Layout {
                    kind,
                    base_dn: g.base_dn.clone(),
                    other_base: None,
                    rdn: g.rdn.clone(),
                    id_attr: g.id_attribute.clone(),
                    match_attr: g.match_attribute.clone().unwrap_or_else(|| g.rdn.clone()),
                    object_classes: g.object_classes.clone(),
                    mapped: g.attributes.keys().cloned().collect(),
                    extra: vec![g.rdn.clone(), g.id_attribute.clone(), "objectClass".into()],
                    defaults: g.defaults.clone().into_iter().collect(),
                    number: g.number.clone(),
                })
            }
        }
    }

    /// Every attribute a lookup reads (never the member attribute of groups).
    pub fn read_attrs(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.mapped.iter().map(String::as_str).collect();
        v.extend(self.extra.iter().map(String::as_str));
        v.push(&self.match_attr);
        v
    }

    /// The bases to search for owned entries.
    pub fn bases(&self) -> Vec<&str> {
        let mut b = vec![self.base_dn.as_str()];
        b.extend(self.other_base.as_deref());
        b
    }

    /// The DN a new entry with this RDN value gets.
    pub fn dn_for(&self, rdn_value: &str) -> String {
        format!("{},{}", escape::rdn(&self.rdn, rdn_value), self.base_dn)
    }

    /// The owned entry with this scimd id, if there is one.
    pub async fn find(&self, conn: &Conn, id: &str) -> Result<Option<Entry>, OpError> {
        let filter = escape::equals(&self.id_attr, id);
        let attrs = self.read_attrs();
        for base in self.bases() {
            let found = conn.search(base, Scope::Subtree, &filter, &attrs).await?;
            if let Some(e) = found.into_iter().next() {
                let e = Entry::from(e);
                // The id attribute matches case-insensitively in some schemas:
                // only the exact id counts.
                if e.get(&self.id_attr).iter().any(|v| v == id) {
                    return Ok(Some(e));
                }
            }
        }
        Ok(None)
    }

    /// Owned entries for many ids at once (chunks of OR filters).
    pub async fn find_many(
        &self,
        conn: &Conn,
        ids: &[&str],
        attrs: &[&str],
    ) -> Result<HashMap<String, Entry>, OpError> {
        let mut out = HashMap::new();
        for chunk in ids.chunks(200) {
            let filter = format!(
                "(|{})",
                chunk
                    .iter()
                    .map(|id| escape::equals(&self.id_attr, id))
                    .collect::<String>()
            );
            for base in self.bases() {
                for e in conn.search(base, Scope::Subtree, &filter, attrs).await? {
                    let e = Entry::from(e);
                    if let Some(id) = e.get(&self.id_attr).first().cloned()
                        && chunk.contains(&id.as_str())
                    {
                        out.insert(id, e);
                    }
                }
            }
        }
        Ok(out)
    }

    /// An entry scimd does not own (yet) that has this name: the match
    /// attribute equal to it, or the DN a new entry would get.
    pub async fn find_by_name(
        &self,
        conn: &Conn,
        name: &str,
        rdn_value: &str,
    ) -> Result<Option<Entry>, OpError> {
        let attrs = self.read_attrs();
        let filter = escape::equals(&self.match_attr, name);
        if let Some(e) = conn
            .search(&self.base_dn, Scope::Subtree, &filter, &attrs)
            .await?
            .into_iter()
            .next()
        {
            return Ok(Some(e.into()));
        }
        Ok(conn
            .read(&self.dn_for(rdn_value), &attrs)
            .await?
            .map(Entry::from))
    }
}

/// The LDAP text of a value.
/// Empty strings are dropped: LDAP holds no empty values.
pub fn ldap_values(v: &Value) -> Vec<String> {
    let mut out = match v {
        Value::Text(s) => vec![s.clone()],
        Value::Bool(b) => vec![if *b { "TRUE" } else { "FALSE" }.to_owned()],
        Value::Int(i) => vec![i.to_string()],
        Value::Texts(v) => v.clone(),
    };
    out.retain(|s| !s.is_empty());
    out.dedup();
    out
}

/// The neutral value of attribute values read from the directory.
pub fn neutral(values: &[String]) -> Option<Value> {
    match values {
        [] => None,
        [one] => Some(Value::Text(one.clone())),
        many => Some(Value::Texts(many.to_vec())),
    }
}
