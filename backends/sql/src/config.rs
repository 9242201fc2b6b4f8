//! The `[providers.P.targets.T]` table of a SQL target, its validation (every
//! problem at once, no I/O) and `build()`, which turns it into a backend.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::SqlBackend;
use crate::dialect::Dialect;
use crate::error::SqlConfigError;
use crate::pool::Pool;

/// A SQL target: users, groups and memberships kept in database tables.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqlTargetConfig {
    /// Database URL: `postgres://USER@HOST:PORT/DB`, `mysql://USER@HOST:PORT/DB`
    /// (MariaDB too) or `sqlite://PATH`. TLS options go in the URL (`sslmode=`, `ssl-mode=`).
    pub url: String,
    /// File holding the database password (for example a systemd credential);
    /// overrides a password in `url`. Trailing newlines are ignored.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// Create the tables (and a missing SQLite file) when they do not exist yet.
    /// When false, scimd checks that every configured table and column exists
    /// and reports each one that is missing.
    #[serde(default)]
    pub create_tables: bool,
    /// What an upsert does when the row it would write exists but is not owned
    /// by scimd (same key, or same name in `match_column`): `fail` (a conflict,
    /// the row stays untouched) or `adopt` (scimd marks it as its own and
    /// manages it from then on).
    #[serde(default)]
    pub on_existing: OnExisting,
    /// Column, in the users and groups tables, marking the rows scimd owns.
    #[serde(default = "default_owner_column")]
    pub owner_column: String,
    /// Value of `owner_column` on rows scimd owns; it touches no other rows.
    #[serde(default = "default_owner_value")]
    pub owner_value: String,
    /// Value `on_delete = "mark"` writes to `owner_column`: the row stays for
    /// the application but is no longer scimd's.
    #[serde(default = "default_released_value")]
    pub released_value: String,
    /// Seconds to wait for a connection (and, on SQLite, for a lock) before a
    /// change fails as transient.
    #[serde(default = "default_timeout_seconds")]
    pub timeout_seconds: u64,
    /// Most connections scimd opens to this database.
    #[serde(default = "default_max_connections")]
    pub max_connections: u32,
    /// The users table.
    pub users: UsersTable,
    /// The groups table; without it, group changes fail as permanent errors.
    #[serde(default)]
    pub groups: Option<GroupsTable>,
    /// The membership table; needs `groups`.
    #[serde(default)]
    pub memberships: Option<MembershipsTable>,
}

/// Whether an existing row scimd does not own may be taken over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnExisting {
    /// Leave the row alone and report a conflict.
    #[default]
    Fail,
    /// Set the owner marker on it and manage it from then on.
    Adopt,
}

/// What `active = false` does to a user's row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnDeactivate {
    /// Keep the row; the column mapped to `active` becomes false.
    #[default]
    Update,
    /// Delete the row (and its memberships).
    Delete,
}

/// What deleting a user in scimd does to its row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnDelete {
    /// Delete the row (and its memberships).
    #[default]
    Delete,
    /// Keep the row for the application: set the `active` column (if mapped) to
    /// false and `owner_column` to `released_value`, so scimd no longer owns it.
    Mark,
}

/// The users table and how SCIM users map onto it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsersTable {
    /// Table name.
    pub table: String,
    /// Column holding scimd's resource id (primary key or unique).
    pub key: String,
    /// Column matched against the userName to find an existing row scimd does
    /// not own yet (for `on_existing`); default: the column mapped to `userName`.
    #[serde(default)]
    pub match_column: Option<String>,
    /// Column name to SCIM attribute path or template (`userName`,
    /// `emails[type eq "work"].value`, `"{name.givenName} {name.familyName}"`).
    /// A column mapped to `active` carries the active flag.
    #[serde(default)]
    pub columns: BTreeMap<String, String>,
    /// What `active = false` does: `update` (the `active` column) or `delete`.
    #[serde(default)]
    pub on_deactivate: OnDeactivate,
    /// What deleting the user does: `delete` the row or `mark` it as released.
    #[serde(default)]
    pub on_delete: OnDelete,
}

/// The groups table and how SCIM groups map onto it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupsTable {
    /// Table name.
    pub table: String,
    /// Column holding scimd's resource id (primary key or unique).
    pub key: String,
    /// Column matched against the displayName to find an existing row scimd
    /// does not own yet; default: the column mapped to `displayName`.
    #[serde(default)]
    pub match_column: Option<String>,
    /// Column name to SCIM attribute path or template (`displayName`, ...).
    #[serde(default)]
    pub columns: BTreeMap<String, String>,
}

/// The table with one row per (group, member) pair, holding key values.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MembershipsTable {
    /// Table name.
    pub table: String,
    /// Column holding the group's key value.
    pub group_column: String,
    /// Column holding the member's key value (a user's, or a nested group's).
    pub member_column: String,
}

fn default_owner_column() -> String {
    "scimd_owner".into()
}
fn default_owner_value() -> String {
    "scimd".into()
}
fn default_released_value() -> String {
    "scimd-released".into()
}
fn default_timeout_seconds() -> u64 {
    10
}
fn default_max_connections() -> u32 {
    4
}

/// Whether `name` is an identifier scimd will put into SQL (quoted).
pub fn is_valid_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && name.len() <= 63
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Whether a mapping text names this core attribute (plain or URN-qualified).
pub(crate) fn maps_to(mapping: &str, attribute: &str) -> bool {
    let m = mapping.trim();
    let last = m.rsplit_once(':').map_or(m, |(_, a)| a);
    last.eq_ignore_ascii_case(attribute)
}

/// The column whose mapping is exactly this attribute, if any.
pub(crate) fn column_mapped_to<'a>(
    columns: &'a BTreeMap<String, String>,
    attribute: &str,
) -> Option<&'a str> {
    columns
        .iter()
        .find(|(_, m)| maps_to(m, attribute))
        .map(|(c, _)| c.as_str())
}

impl SqlTargetConfig {
    /// The column of the users table that carries `active`, if mapped.
    pub fn active_column(&self) -> Option<&str> {
        column_mapped_to(&self.users.columns, "active")
    }

    /// Checks everything that can be checked without the database, reporting
    /// every problem at once.
    pub fn validate(&self) -> Result<(), SqlConfigError> {
        let mut problems = Vec::new();
        let mut ident = |place: String, name: &str| {
            if !is_valid_identifier(name) {
                problems.push(format!(
                    "{place} = {name:?} is not a usable SQL name: use letters, digits and _, \
                     starting with a letter or _, at most 63 characters"
                ));
            }
        };
        ident("owner_column".into(), &self.owner_column);
        ident("users.table".into(), &self.users.table);
        ident("users.key".into(), &self.users.key);
        for column in self.users.columns.keys() {
            ident(format!("users.columns.{column}"), column);
        }
        if let Some(g) = &self.groups {
            ident("groups.table".into(), &g.table);
            ident("groups.key".into(), &g.key);
            for column in g.columns.keys() {
                ident(format!("groups.columns.{column}"), column);
            }
        }
        if let Some(m) = &self.memberships {
            ident("memberships.table".into(), &m.table);
            ident("memberships.group_column".into(), &m.group_column);
            ident("memberships.member_column".into(), &m.member_column);
        }

        if Dialect::from_url(&self.url).is_none() {
            problems.push(format!(
                "url {:?}: expected postgres://, postgresql://, mysql:// or sqlite://",
                redact(&self.url)
            ));
        }
        if self.owner_value.is_empty() {
            problems.push("owner_value must not be empty".into());
        }
        if self.released_value == self.owner_value {
            problems.push("released_value must differ from owner_value".into());
        }
        if self.timeout_seconds == 0 {
            problems.push("timeout_seconds must be at least 1".into());
        }
        if self.max_connections == 0 {
            problems.push("max_connections must be at least 1".into());
        }
        let users = &self.users;
        self.check_table(
            "users",
            &users.key,
            &users.columns,
            users.match_column.as_deref(),
            &mut problems,
        );
        if users.on_deactivate == OnDeactivate::Update && self.active_column().is_none() {
            problems.push(
                "users.on_deactivate = \"update\" needs a column mapped to \"active\" in users.columns \
                 (or use on_deactivate = \"delete\")"
                    .into(),
            );
        }
        if let Some(g) = &self.groups {
            self.check_table(
                "groups",
                &g.key,
                &g.columns,
                g.match_column.as_deref(),
                &mut problems,
            );
            if g.table == users.table {
                problems.push("groups.table must differ from users.table".into());
            }
        }
        match (&self.groups, &self.memberships) {
            (None, Some(_)) => problems.push("memberships needs a [groups] table".into()),
            (_, Some(m)) => {
                if m.group_column == m.member_column {
                    problems.push("memberships.group_column and member_column must differ".into());
                }
                if m.table == users.table
                    || self.groups.as_ref().is_some_and(|g| g.table == m.table)
                {
                    problems.push("memberships.table must be a table of its own".into());
                }
            }
            _ => {}
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(SqlConfigError { problems })
        }
    }

    fn check_table(
        &self,
        what: &str,
        key: &str,
        columns: &BTreeMap<String, String>,
        match_column: Option<&str>,
        problems: &mut Vec<String>,
    ) {
        if columns.contains_key(key) {
            problems.push(format!(
                "{what}.key {key:?} holds scimd's id and cannot also be in {what}.columns"
            ));
        }
        if columns.contains_key(&self.owner_column) || key == self.owner_column {
            problems.push(format!(
                "owner_column {:?} is scimd's ownership marker and cannot be mapped in {what}",
                self.owner_column
            ));
        }
        if let Some(m) = match_column
            && !columns.contains_key(m)
        {
            problems.push(format!(
                "{what}.match_column {m:?} must be one of {what}.columns"
            ));
        }
    }

    /// Validates the config and makes the backend. Connects lazily: the
    /// database may be down now; tables are checked or created at the first
    /// healthcheck or apply. Must run inside a Tokio runtime.
    pub fn build(&self) -> Result<SqlBackend, SqlConfigError> {
        self.validate()?;
        let password = match &self.password_file {
            None => None,
            Some(path) => match std::fs::read_to_string(path) {
                Ok(s) => Some(s.trim_end_matches(['\r', '\n']).to_owned()),
                Err(e) => {
                    return Err(SqlConfigError {
                        problems: vec![format!("password_file {}: {e}", path.display())],
                    });
                }
            },
        };
        let dialect = Dialect::from_url(&self.url).expect("validated");
        let timeout = Duration::from_secs(self.timeout_seconds);
        let pool =
            Pool::connect_lazy(self, dialect, password, timeout).map_err(|e| SqlConfigError {
                problems: vec![format!("url {:?}: {e}", redact(&self.url))],
            })?;
        Ok(SqlBackend::new(self.clone(), dialect, pool))
    }
}

/// The URL with any password replaced, for messages and `describe()`.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            format!("{scheme}://{user}@{host}{path}")
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml_text: &str) -> SqlTargetConfig {
        toml::from_str(toml_text).expect("parses")
    }

    const BASE: &str = r#"
        url = "sqlite://x.db"
        [users]
        table = "users"
        key = "scim_id"
        [users.columns]
        user_name = "userName"
        active = "active"
    "#;

    #[test]
    fn identifiers_are_checked_and_every_problem_is_reported() {
        assert!(is_valid_identifier("_a1"));
        assert!(!is_valid_identifier("1a"));
        assert!(!is_valid_identifier("a\"b"));
        assert!(!is_valid_identifier(&"a".repeat(64)));
        let mut c = parse(BASE);
        c.users.table = "users; drop".into();
        c.users.columns.insert("e-mail".into(), "emails".into());
        c.owner_value = String::new();
        let err = c.validate().unwrap_err();
        assert_eq!(err.problems.len(), 3, "{err}");
        assert!(err.to_string().contains("users.columns.e-mail"), "{err}");
    }

    #[test]
    fn update_policy_needs_an_active_column() {
        let mut c = parse(BASE);
        assert!(c.validate().is_ok());
        c.users.columns.remove("active");
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("on_deactivate")
        );
        c.users.on_deactivate = OnDeactivate::Delete;
        assert!(c.validate().is_ok());
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = toml::from_str::<SqlTargetConfig>(&format!("{BASE}\ncolour = 1")).unwrap_err();
        assert!(err.to_string().contains("colour"), "{err}");
    }

    #[test]
    fn urn_and_plain_mappings_are_recognised() {
        assert!(maps_to(
            "urn:ietf:params:scim:schemas:core:2.0:User:active",
            "active"
        ));
        assert!(maps_to(" Active ", "active"));
        assert!(!maps_to("{active}", "active"));
    }

    #[test]
    fn fits_in_the_main_crates_tagged_target_enum() {
        #[derive(Debug, Deserialize)]
        #[serde(tag = "kind", rename_all = "lowercase")]
        enum Target {
            Sql(SqlTargetConfig),
        }
        let Target::Sql(c) = toml::from_str(&format!("kind = \"sql\"\n{BASE}")).unwrap();
        assert_eq!(c.users.table, "users");
        assert_eq!(c.active_column(), Some("active"));
        let err =
            toml::from_str::<Target>(&format!("kind = \"sql\"\ncolour = 1\n{BASE}")).unwrap_err();
        assert!(err.to_string().contains("colour"), "{err}");
    }

    #[test]
    fn passwords_never_show() {
        assert_eq!(redact("postgres://u:secret@h:5/db"), "postgres://u@h:5/db");
        assert_eq!(redact("sqlite://data/x.db"), "sqlite://data/x.db");
    }
}
