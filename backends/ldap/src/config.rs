//! The `[providers.P.targets.T]` table of an LDAP target, its validation
//! (every problem at once, no I/O) and `build()`, which turns it into a backend.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use crate::LdapBackend;
use crate::escape;

/// An LDAP target: users and groups kept as entries below two base DNs.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LdapTargetConfig {
    /// `ldap://HOST:PORT` (add `starttls = true` to upgrade it) or `ldaps://HOST:PORT`.
    pub url: String,
    /// DN scimd binds as (a service account); empty binds anonymously.
    #[serde(default)]
    pub bind_dn: String,
    /// File holding the bind password (a systemd credential); trailing
    /// newlines are ignored.
    #[serde(default)]
    pub bind_password_file: Option<PathBuf>,
    /// Upgrade an `ldap://` connection with StartTLS before binding.
    #[serde(default)]
    pub starttls: bool,
    /// PEM file of the CA(s) that sign the directory's certificate; default:
    /// the system's trusted roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate for TLS client authentication (needs `client_key_file`).
    #[serde(default)]
    pub client_cert_file: Option<PathBuf>,
    /// PEM private key of `client_cert_file`.
    #[serde(default)]
    pub client_key_file: Option<PathBuf>,
    /// Seconds to wait for a connection or an operation before it fails as transient.
    #[serde(default = "default_timeout_seconds")]
    pub timeout_seconds: u64,
    /// Connections scimd keeps open to this directory (operations are spread over them).
    #[serde(default = "default_pool_size")]
    pub pool_size: usize,
    /// Entries per page when observing (RFC 2696 paged results).
    #[serde(default = "default_page_size")]
    pub page_size: i32,
    /// What an upsert does when an entry scimd does not own already has the
    /// user's (or group's) name: `fail` (a conflict, the entry stays untouched)
    /// or `adopt` (scimd adds its id attribute and manages the entry from then on).
    #[serde(default)]
    pub on_existing: OnExisting,
    /// Where users live and how they are written.
    pub users: UsersConfig,
    /// Where groups live and how they are written; without it group changes
    /// fail as permanent errors.
    #[serde(default)]
    pub groups: Option<GroupsConfig>,
}

/// Whether an existing entry scimd does not own may be taken over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnExisting {
    /// Leave the entry alone and report a conflict.
    #[default]
    Fail,
    /// Add scimd's id attribute to it and manage it from then on.
    Adopt,
}

/// What happens to a user entry when the user is deactivated or deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    /// Set `disable_attribute` to `disabled_value` (nsAccountLock, userAccountControl).
    Disable,
    /// Move the entry below `move_to` (and back when the user is active again).
    Move,
    /// Delete the entry (its member values in scimd's groups go too).
    Delete,
    /// Leave the entry as it is.
    Ignore,
}

/// The users subtree.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsersConfig {
    /// DN below which scimd creates and looks for users.
    pub base_dn: String,
    /// objectClass values of new entries (the structural class first),
    /// including the one that allows `id_attribute`.
    pub object_classes: Vec<String>,
    /// Naming attribute: a user's DN is `RDN=VALUE,base_dn`, VALUE being the
    /// value mapped to this attribute, else the userName.
    pub rdn: String,
    /// Attribute holding scimd's id of the user; its presence below `base_dn`
    /// marks the entries scimd owns.
    #[serde(default = "default_id_attribute")]
    pub id_attribute: String,
    /// Attribute compared with the userName to find an existing entry scimd
    /// does not own yet (`on_existing`); default: `rdn`.
    #[serde(default)]
    pub match_attribute: Option<String>,
    /// LDAP attribute to SCIM path, template (`"{name.givenName} {name.familyName}"`)
    /// or constant (`"=text"`); evaluated by scimd.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// Values a new entry gets for attributes its object class requires when
    /// the mapping yields none (inetOrgPerson requires `sn` and `cn`:
    /// `sn = "-"`); written only on creation.
    #[serde(default)]
    pub defaults: BTreeMap<String, String>,
    /// POSIX uidNumber allocation for new entries (posixAccount).
    #[serde(default)]
    pub number: Option<NumberAllocation>,
    /// What `active = false` does: `disable`, `move`, `delete` or `ignore`.
    #[serde(default = "default_on_deactivate")]
    pub on_deactivate: Policy,
    /// What deleting the user in scimd does: `delete`, `disable` or `move`.
    #[serde(default = "default_on_delete")]
    pub on_delete: Policy,
    /// Attribute `disable` writes (for example `nsAccountLock`, AD `userAccountControl`).
    #[serde(default)]
    pub disable_attribute: Option<String>,
    /// Value of `disable_attribute` on a disabled user (`TRUE`, AD `514`).
    #[serde(default)]
    pub disabled_value: Option<String>,
    /// Value of `disable_attribute` on an active user (AD `512`); when unset the
    /// attribute is removed from active users.
    #[serde(default)]
    pub enabled_value: Option<String>,
    /// DN of the OU `move` puts users in (outside `base_dn` or below it).
    #[serde(default)]
    pub move_to: Option<String>,
}

/// Numbers (uidNumber, gidNumber) handed to new entries from a counter kept
/// in the directory: each allocation increments it atomically (delete the old
/// value and add the next in one modify, retried when another writer won), so
/// a number is never handed out twice, even after its entry is deleted.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NumberAllocation {
    /// Attribute of new entries that gets the number (`uidNumber`, `gidNumber`).
    pub attribute: String,
    /// DN of the entry holding the next free number (created by the admin,
    /// e.g. a posixGroup `cn=scimd-next-uid` with `gidNumber: 10000`).
    pub counter_dn: String,
    /// Attribute of the counter entry holding the next number.
    pub counter_attribute: String,
}

/// How groups hold their members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberStyle {
    /// Member values are DNs (`member`, `uniqueMember`).
    Dn,
    /// Member values are the users' RDN values (`memberUid` of posixGroup).
    Uid,
}

/// The groups subtree.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupsConfig {
    /// DN below which scimd creates and looks for groups.
    pub base_dn: String,
    /// objectClass values of new entries: `groupOfNames`, `groupOfUniqueNames`,
    /// `posixGroup`, AD `group`, plus the one that allows `id_attribute`.
    pub object_classes: Vec<String>,
    /// Naming attribute: a group's DN is `RDN=VALUE,base_dn`.
    pub rdn: String,
    /// Attribute holding scimd's id of the group (ownership marker, as for users).
    #[serde(default = "default_id_attribute")]
    pub id_attribute: String,
    /// Attribute compared with the displayName to find an existing entry; default `rdn`.
    #[serde(default)]
    pub match_attribute: Option<String>,
    /// `member` or `uniqueMember` (DNs) or `memberUid` (users' RDN values).
    #[serde(default = "default_member_attribute")]
    pub member_attribute: String,
    /// DN kept as the only member of an empty group, for classes that require
    /// one (groupOfNames, groupOfUniqueNames); never reported as a member.
    #[serde(default)]
    pub empty_member: Option<String>,
    /// LDAP attribute to SCIM path, template or constant; evaluated by scimd.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// POSIX gidNumber allocation for new entries (posixGroup).
    #[serde(default)]
    pub number: Option<NumberAllocation>,
    /// Values a new group entry gets for required attributes the mapping
    /// leaves empty; written only on creation.
    #[serde(default)]
    pub defaults: BTreeMap<String, String>,
}

impl GroupsConfig {
    /// Whether members are DNs or user names.
    pub fn member_style(&self) -> MemberStyle {
        if self.member_attribute.eq_ignore_ascii_case("memberUid") {
            MemberStyle::Uid
        } else {
            MemberStyle::Dn
        }
    }
}

fn default_timeout_seconds() -> u64 {
    10
}
fn default_pool_size() -> usize {
    4
}
fn default_page_size() -> i32 {
    500
}
fn default_id_attribute() -> String {
    "scimdId".into()
}
fn default_member_attribute() -> String {
    "member".into()
}
fn default_on_deactivate() -> Policy {
    Policy::Disable
}
fn default_on_delete() -> Policy {
    Policy::Delete
}

/// Whether `name` is an attribute description scimd will put into a filter
/// or DN: a descriptor (letter, then letters, digits, `-`) or a numeric OID.
pub fn is_attribute_name(name: &str) -> bool {
    let mut chars = name.chars();
    let descr = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-');
    let oid = !name.is_empty()
        && name
            .split('.')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
    descr || oid
}

/// Problems with the configuration, each naming its key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.iter().map(|(k, m)| if k.is_empty() { m.clone() } else { format!("{k}: {m}") }).collect::<Vec<_>>().join("; "))]
pub struct LdapConfigError(pub Vec<(String, String)>);

impl LdapTargetConfig {
    /// Checks everything that can be checked without the directory; every
    /// problem comes back as (key below the target, what is wrong).
    pub fn validate(&self) -> Result<(), LdapConfigError> {
        let mut p: Vec<(String, String)> = Vec::new();
        let attr = |key: String, name: &str, p: &mut Vec<(String, String)>| {
            if !is_attribute_name(name) {
                p.push((
                    key,
                    format!(
                        "{name:?} is not an LDAP attribute name: use letters, digits and '-', \
                         starting with a letter"
                    ),
                ));
            }
        };
        let lower = self.url.to_ascii_lowercase();
        let ldaps = lower.starts_with("ldaps://");
        if !ldaps && !lower.starts_with("ldap://") {
            p.push((
                "url".into(),
                format!("{:?} must start with ldap:// or ldaps://", self.url),
            ));
        }
        if ldaps && self.starttls {
            p.push((
                "starttls".into(),
                "StartTLS is for ldap:// URLs; ldaps:// is TLS already".into(),
            ));
        }
        if self.client_cert_file.is_some() != self.client_key_file.is_some() {
            p.push((
                "client_cert_file".into(),
                "client_cert_file and client_key_file go together".into(),
            ));
        }
        if !self.bind_dn.is_empty() && self.bind_password_file.is_none() {
            p.push((
                "bind_password_file".into(),
                "a bind_dn needs bind_password_file (a file holding the password)".into(),
            ));
        }
        if self.pool_size == 0 || self.pool_size > 64 {
            p.push(("pool_size".into(), "must be between 1 and 64".into()));
        }
        if !(1..=100_000).contains(&self.page_size) {
            p.push(("page_size".into(), "must be between 1 and 100000".into()));
        }
        let dn =
            |key: &str, value: &str, p: &mut Vec<(String, String)>| match escape::parse_dn(value) {
                Some(rdns) if !rdns.is_empty() => {}
                _ => p.push((
                    key.into(),
                    format!("{value:?} is not a DN (like \"ou=people,dc=example,dc=org\")"),
                )),
            };
        let u = &self.users;
        dn("users.base_dn", &u.base_dn, &mut p);
        attr("users.rdn".into(), &u.rdn, &mut p);
        attr("users.id_attribute".into(), &u.id_attribute, &mut p);
        if let Some(m) = &u.match_attribute {
            attr("users.match_attribute".into(), m, &mut p);
        }
        if u.object_classes.is_empty() {
            p.push((
                "users.object_classes".into(),
                "name at least the structural class, like [\"inetOrgPerson\"]".into(),
            ));
        }
        for a in u.attributes.keys() {
            attr(format!("users.attributes.{a}"), a, &mut p);
            if a.eq_ignore_ascii_case(&u.id_attribute) || a.eq_ignore_ascii_case("objectClass") {
                p.push((
                    format!("users.attributes.{a}"),
                    "scimd writes this attribute itself; it cannot be mapped".into(),
                ));
            }
        }
        let number = |key: &str, n: &Option<NumberAllocation>, p: &mut Vec<(String, String)>| {
            if let Some(n) = n {
                attr(format!("{key}.attribute"), &n.attribute, p);
                attr(format!("{key}.counter_attribute"), &n.counter_attribute, p);
                dn(&format!("{key}.counter_dn"), &n.counter_dn, p);
            }
        };
        number("users.number", &u.number, &mut p);
        if let Some(g) = &self.groups {
            number("groups.number", &g.number, &mut p);
        }
        for a in u.defaults.keys() {
            attr(format!("users.defaults.{a}"), a, &mut p);
        }
        let uses = |policy: Policy| u.on_deactivate == policy || u.on_delete == policy;
        if uses(Policy::Disable) {
            match (&u.disable_attribute, &u.disabled_value) {
                (Some(a), Some(_)) => attr("users.disable_attribute".into(), a, &mut p),
                _ => p.push((
                    "users.disable_attribute".into(),
                    "the \"disable\" policy needs disable_attribute and disabled_value \
                     (for example nsAccountLock = \"TRUE\")"
                        .into(),
                )),
            }
        }
        if uses(Policy::Move) {
            match &u.move_to {
                Some(m) => dn("users.move_to", m, &mut p),
                None => p.push((
                    "users.move_to".into(),
                    "the \"move\" policy needs move_to, the DN of an OU".into(),
                )),
            }
        }
        if u.on_delete == Policy::Ignore {
            p.push((
                "users.on_delete".into(),
                "use \"delete\", \"disable\" or \"move\"".into(),
            ));
        }
        if let Some(g) = &self.groups {
            dn("groups.base_dn", &g.base_dn, &mut p);
            attr("groups.rdn".into(), &g.rdn, &mut p);
            attr("groups.id_attribute".into(), &g.id_attribute, &mut p);
            attr(
                "groups.member_attribute".into(),
                &g.member_attribute,
                &mut p,
            );
            if let Some(m) = &g.match_attribute {
                attr("groups.match_attribute".into(), m, &mut p);
            }
            if let Some(e) = &g.empty_member {
                dn("groups.empty_member", e, &mut p);
            }
            if g.object_classes.is_empty() {
                p.push((
                    "groups.object_classes".into(),
                    "name at least the structural class, like [\"groupOfNames\"]".into(),
                ));
            }
            let needs_member = g.object_classes.iter().any(|c| {
                c.eq_ignore_ascii_case("groupOfNames")
                    || c.eq_ignore_ascii_case("groupOfUniqueNames")
            });
            if needs_member && g.empty_member.is_none() {
                p.push((
                    "groups.empty_member".into(),
                    "groupOfNames and groupOfUniqueNames need at least one member: set \
                     empty_member to a placeholder DN (for example \"cn=nobody,dc=example\") \
                     that an empty group keeps"
                        .into(),
                ));
            }
            for a in g.defaults.keys() {
                attr(format!("groups.defaults.{a}"), a, &mut p);
            }
            for a in g.attributes.keys() {
                attr(format!("groups.attributes.{a}"), a, &mut p);
                if a.eq_ignore_ascii_case(&g.id_attribute)
                    || a.eq_ignore_ascii_case(&g.member_attribute)
                    || a.eq_ignore_ascii_case("objectClass")
                {
                    p.push((
                        format!("groups.attributes.{a}"),
                        "scimd writes this attribute itself; it cannot be mapped".into(),
                    ));
                }
            }
        }
        if p.is_empty() {
            Ok(())
        } else {
            Err(LdapConfigError(p))
        }
    }

    /// Validates and makes the backend; connections open on first use.
    pub fn build(&self) -> Result<LdapBackend, LdapConfigError> {
        self.validate()?;
        Ok(LdapBackend::new(self.clone()))
    }

    /// The attribute matched against a user's or group's name.
    pub(crate) fn users_match(&self) -> &str {
        self.users
            .match_attribute
            .as_deref()
            .unwrap_or(&self.users.rdn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(extra: &str) -> LdapTargetConfig {
        toml::from_str(&format!(
            r#"
            url = "ldap://127.0.0.1:389"
            bind_dn = "cn=admin,dc=e"
            bind_password_file = "/run/pw"
            [users]
            base_dn = "ou=people,dc=e"
            object_classes = ["inetOrgPerson", "scimdObject"]
            rdn = "uid"
            disable_attribute = "employeeType"
            disabled_value = "disabled"
            [users.attributes]
            uid = "userName"
            {extra}
            "#
        ))
        .unwrap()
    }

    #[test]
    fn a_complete_config_validates() {
        parse("").validate().unwrap();
    }

    #[test]
    fn every_problem_is_reported_with_its_key() {
        let mut c = parse("\"bad name\" = \"userName\"\nscimdId = \"id\"");
        c.url = "http://x".into();
        c.users.base_dn = "not a dn".into();
        c.users.on_delete = Policy::Move;
        c.groups = Some(GroupsConfig {
            base_dn: "ou=groups,dc=e".into(),
            object_classes: vec!["groupOfNames".into()],
            rdn: "cn".into(),
            id_attribute: "scimdId".into(),
            match_attribute: None,
            member_attribute: "member".into(),
            empty_member: None,
            attributes: BTreeMap::new(),
            defaults: BTreeMap::new(),
            number: None,
        });
        let keys: Vec<String> = c
            .validate()
            .unwrap_err()
            .0
            .into_iter()
            .map(|p| p.0)
            .collect();
        for k in [
            "url",
            "users.base_dn",
            "users.attributes.bad name",
            "users.attributes.scimdId",
            "users.move_to",
            "groups.empty_member",
        ] {
            assert!(keys.iter().any(|x| x == k), "{k} missing in {keys:?}");
        }
    }

    #[test]
    fn attribute_names_are_descriptors_or_oids() {
        for ok in ["uid", "userAccountControl", "x-custom-1", "2.5.4.3"] {
            assert!(is_attribute_name(ok), "{ok}");
        }
        for bad in ["", "1uid", "uid)(x", "a b", "2..5", "uid=*", "cn,ou"] {
            assert!(!is_attribute_name(bad), "{bad}");
        }
    }
}
