//! The neutral values a backend writes and reads: objects already mapped to
//! target attributes, the changes applied to them, and what observe reports.

use std::collections::BTreeMap;
use std::fmt;

/// Which kind of SCIM resource an object stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ObjectKind {
    /// A SCIM User.
    User,
    /// A SCIM Group.
    Group,
}

impl fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ObjectKind::User => "user",
            ObjectKind::Group => "group",
        })
    }
}

/// One attribute value, already converted by scimd's mapping.
///
/// A backend stores it in the target's own representation (a TEXT column
/// gets `"true"` for `Bool(true)`); what observe returns may therefore differ
/// in form but not in meaning: compare with [`Value::same_as`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A single string.
    Text(String),
    /// A boolean (`active`, flags).
    Bool(bool),
    /// An integer (uid numbers, counters).
    Int(i64),
    /// Several strings (a multi-valued LDAP attribute).
    Texts(Vec<String>),
}

impl Value {
    /// Whether two values mean the same once representation is ignored:
    /// `Text("true")` is `Bool(true)`, `Text("42")` is `Int(42)`, `Texts([x])` is
    /// `Text(x)`, and `Texts` compare as sets.
    pub fn same_as(&self, other: &Value) -> bool {
        match (self.canonical(), other.canonical()) {
            (Value::Texts(mut a), Value::Texts(mut b)) => {
                a.sort();
                b.sort();
                a == b
            }
            (a, b) => a == b,
        }
    }

    /// The value in its most specific form, used by [`Value::same_as`].
    fn canonical(&self) -> Value {
        match self {
            Value::Texts(v) if v.len() == 1 => Value::Text(v[0].clone()).canonical(),
            Value::Text(s) => match s.as_str() {
                "true" | "TRUE" | "True" => Value::Bool(true),
                "false" | "FALSE" | "False" => Value::Bool(false),
                _ => match s.parse::<i64>() {
                    Ok(i) if i.to_string() == *s => Value::Int(i),
                    _ => Value::Text(s.clone()),
                },
            },
            v => v.clone(),
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Text(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Text(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}

/// A user or group as the target should hold it (or, from observe, holds it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    /// User or group.
    pub kind: ObjectKind,
    /// scimd's resource id: the stable key the target stores with the object.
    pub id: String,
    /// userName (users) or displayName (groups): how an existing, not yet owned
    /// entry is matched, and how a target that names entries by value names it
    /// (an LDAP RDN).
    pub name: String,
    /// Whether the user is active; groups are always active.
    pub active: bool,
    /// Target attribute (column, LDAP attribute) to value; `None` clears it.
    /// Attributes absent from the map are left as they are.
    pub attributes: BTreeMap<String, Option<Value>>,
}

impl Object {
    /// An active object with no attributes yet.
    pub fn new(kind: ObjectKind, id: impl Into<String>, name: impl Into<String>) -> Self {
        Object {
            kind,
            id: id.into(),
            name: name.into(),
            active: true,
            attributes: BTreeMap::new(),
        }
    }

    /// Builder-style: sets one attribute.
    pub fn with(mut self, attribute: impl Into<String>, value: impl Into<Value>) -> Self {
        self.attributes.insert(attribute.into(), Some(value.into()));
        self
    }
}

/// A member of a group: a user or a nested group, by scimd id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MemberRef {
    /// scimd's id of the member.
    pub id: String,
    /// Whether the member is a user or a group (an LDAP target needs it to build the DN).
    pub kind: ObjectKind,
}

impl MemberRef {
    /// A user member.
    pub fn user(id: impl Into<String>) -> Self {
        MemberRef {
            id: id.into(),
            kind: ObjectKind::User,
        }
    }

    /// A nested group member.
    pub fn group(id: impl Into<String>) -> Self {
        MemberRef {
            id: id.into(),
            kind: ObjectKind::Group,
        }
    }
}

/// One idempotent change: applying it again must succeed and change nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Create the object, or converge the attributes it names to exactly these
    /// values; attributes it does not name stay untouched. An object with
    /// `active = false` is written and then deactivated per the target's
    /// `on_deactivate` policy (which may delete it).
    Upsert(Object),
    /// The user became inactive: apply the target's `on_deactivate` policy.
    Deactivate {
        /// scimd id of the user.
        id: String,
    },
    /// The resource was deleted in scimd: apply the target's `on_delete` policy.
    /// Deleting what the target does not hold (or does not own) succeeds.
    Delete {
        /// User or group.
        kind: ObjectKind,
        /// scimd id.
        id: String,
    },
    /// Add these members to the group; members already present are fine.
    AddMembers {
        /// scimd id of the group.
        group: String,
        /// Members to add.
        members: Vec<MemberRef>,
    },
    /// Remove these members from the group; members already absent are fine.
    RemoveMembers {
        /// scimd id of the group.
        group: String,
        /// Members to remove.
        members: Vec<MemberRef>,
    },
    /// Make the group's members exactly these.
    SetMembers {
        /// scimd id of the group.
        group: String,
        /// The complete member list.
        members: Vec<MemberRef>,
    },
}

impl Change {
    /// The scimd id of the object this change is about.
    pub fn object_id(&self) -> &str {
        match self {
            Change::Upsert(o) => &o.id,
            Change::Deactivate { id } | Change::Delete { id, .. } => id,
            Change::AddMembers { group, .. }
            | Change::RemoveMembers { group, .. }
            | Change::SetMembers { group, .. } => group,
        }
    }
}

/// One owned object as the target holds it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// The object with every mapped attribute the target holds (`None` where empty).
    pub object: Object,
    /// For groups: the scimd ids of its members; `None` for users.
    pub members: Option<Vec<String>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_as_ignores_representation_only() {
        assert!(Value::Text("true".into()).same_as(&Value::Bool(true)));
        assert!(Value::Text("42".into()).same_as(&Value::Int(42)));
        assert!(Value::Texts(vec!["a".into()]).same_as(&Value::Text("a".into())));
        assert!(
            Value::Texts(vec!["a".into(), "b".into()])
                .same_as(&Value::Texts(vec!["b".into(), "a".into()]))
        );
        assert!(!Value::Text("042".into()).same_as(&Value::Int(42)));
        assert!(!Value::Text("yes".into()).same_as(&Value::Bool(true)));
        assert!(!Value::Text("a".into()).same_as(&Value::Text("A".into())));
    }
}
