//! Planning: turns a batch of journal entries and the current desired state of the
//! resources they name into the idempotent changes a target must apply. Pure code.
//!
//! Resource entries collapse to the resource's state now ("converge to exactly
//! this"), which keeps per-resource order whatever the batch holds; membership
//! entries stay deltas, in journal order, so one member added to a huge group is
//! one small change. Deletes go first (groups, then users), then upserts (users,
//! then groups), then membership changes.

use std::collections::{BTreeMap, HashMap, HashSet};

use scimd_backend::{Change, MemberRef, Object, ObjectKind, Value as TargetValue};
use serde_json::Value;

use super::mapping::{Mapping, first_text};
use crate::scim::ResourceKind;
use crate::store::JournalEntry;

/// How one target names and computes its attributes, per resource kind.
#[derive(Debug, Clone, Default)]
pub struct ObjectMapping {
    /// Target attribute (or column) -> mapping, for Users.
    pub users: Vec<(String, Mapping)>,
    /// Target attribute (or column) -> mapping, for Groups.
    pub groups: Vec<(String, Mapping)>,
    /// Whether every target attribute holds one value (SQL columns): multi-valued
    /// results then give their first value, the primary one when marked.
    pub single_valued: bool,
    /// Whether the target keeps users only (no groups table): group resources and
    /// memberships are not its business and are skipped, not refused.
    pub users_only: bool,
    /// Whether deactivating a user deletes its row and memberships in the target
    /// (`on_deactivate = "delete"`): upserting an active user then re-adds it to its
    /// groups, so a reactivated user gets its memberships back.
    pub restore_memberships: bool,
}

/// The kind a target knows a resource kind as.
pub fn object_kind(kind: ResourceKind) -> ObjectKind {
    match kind {
        ResourceKind::User => ObjectKind::User,
        ResourceKind::Group => ObjectKind::Group,
    }
}

fn target_value(v: &Value) -> Option<TargetValue> {
    match v {
        Value::Null => None,
        Value::Bool(b) => Some(TargetValue::Bool(*b)),
        Value::Number(n) => Some(
            n.as_i64()
                .map(TargetValue::Int)
                .unwrap_or_else(|| TargetValue::Text(n.to_string())),
        ),
        Value::String(s) => Some(TargetValue::Text(s.clone())),
        Value::Array(items) => Some(TargetValue::Texts(items.iter().map(first_text).collect())),
        Value::Object(_) => Some(TargetValue::Text(v.to_string())),
    }
}

impl ObjectMapping {
    /// The target object for a resource in its full JSON form (with `id`).
    pub fn object(&self, kind: ResourceKind, resource: &Value) -> Object {
        let id = resource
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let (name_attr, rules) = match kind {
            ResourceKind::User => ("userName", &self.users),
            ResourceKind::Group => ("displayName", &self.groups),
        };
        let name = resource
            .get(name_attr)
            .and_then(Value::as_str)
            .unwrap_or_default();
        let mut object = Object::new(object_kind(kind), id, name);
        object.active = resource
            .get("active")
            .and_then(Value::as_bool)
            .unwrap_or(true);
        object.attributes = rules
            .iter()
            .map(|(target_attr, m)| {
                let mut v = m.evaluate(resource);
                if self.single_valued
                    && let Some(Value::Array(items)) = &v
                {
                    v = items.first().cloned();
                }
                (target_attr.clone(), v.as_ref().and_then(target_value))
            })
            .collect::<BTreeMap<_, _>>();
        object
    }
}

/// The desired state of a resource now: its kind and full JSON, or `None` once deleted.
pub type Current = HashMap<String, Option<(ResourceKind, Value)>>;

fn member_refs(v: Option<&Value>) -> Vec<MemberRef> {
    v.and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|m| {
                    let id = m.get("id")?.as_str()?.to_owned();
                    let kind = match m.get("kind").and_then(Value::as_str) {
                        Some("Group") => ObjectKind::Group,
                        _ => ObjectKind::User,
                    };
                    Some(MemberRef { id, kind })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Whether `id` is a user the batch knows to be inactive now.
fn inactive_user(current: &Current, id: &str) -> bool {
    matches!(
        current.get(id),
        Some(Some((ResourceKind::User, v))) if v.get("active") == Some(&Value::Bool(false))
    )
}

/// The changes for one batch. `current` must hold every resource id the batch names
/// and, where `restore_memberships` is set, every member its deltas add (inactive
/// ones are left out: their rows are gone from the target).
pub fn plan(entries: &[JournalEntry], current: &Current, mapping: &ObjectMapping) -> Vec<Change> {
    let mut upserts: Vec<(ResourceKind, String)> = Vec::new();
    let mut deletes: Vec<(ResourceKind, String)> = Vec::new();
    let mut membership = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for e in entries {
        if mapping.users_only && e.kind == ResourceKind::Group {
            continue;
        }
        if e.op == "members" {
            // A group deleted since needs no membership changes.
            if !matches!(current.get(&e.resource_id), Some(Some(_))) {
                continue;
            }
            let mut added = member_refs(e.body.get("added"));
            if mapping.restore_memberships {
                // Deactivation deleted (or will delete) these users' rows and
                // memberships; re-adding them would leave memberships pointing
                // nowhere. Reactivation restores them.
                added.retain(|m| !inactive_user(current, &m.id));
            }
            let removed = member_refs(e.body.get("removed"));
            if !removed.is_empty() {
                membership.push(Change::RemoveMembers {
                    group: e.resource_id.clone(),
                    members: removed,
                });
            }
            if !added.is_empty() {
                membership.push(Change::AddMembers {
                    group: e.resource_id.clone(),
                    members: added,
                });
            }
            continue;
        }
        if !seen.insert(e.resource_id.clone()) {
            continue;
        }
        match current.get(&e.resource_id) {
            Some(Some((kind, _))) => upserts.push((*kind, e.resource_id.clone())),
            _ => deletes.push((e.kind, e.resource_id.clone())),
        }
    }
    let mut changes = Vec::with_capacity(upserts.len() + membership.len() + deletes.len());
    // Deletes first: a userName (or any unique column value) freed by a delete may be
    // taken by a create in the same batch. A resource deleted now is never upserted in
    // this batch, so per-resource order holds.
    for wanted in [ResourceKind::Group, ResourceKind::User] {
        for (kind, id) in deletes.iter().filter(|(k, _)| *k == wanted) {
            changes.push(Change::Delete {
                kind: object_kind(*kind),
                id: id.clone(),
            });
        }
    }
    for wanted in [ResourceKind::User, ResourceKind::Group] {
        for (kind, id) in upserts.iter().filter(|(k, _)| *k == wanted) {
            let Some(Some((_, resource))) = current.get(id) else {
                continue;
            };
            let object = mapping.object(*kind, resource);
            let inactive = !object.active;
            changes.push(Change::Upsert(object));
            if inactive && *kind == ResourceKind::User {
                changes.push(Change::Deactivate { id: id.clone() });
            }
        }
    }
    changes.extend(membership);
    changes
}

/// The active users upserted by `changes`, whose group memberships
/// [`restore_memberships`] needs when the mapping asks for it.
pub fn reactivated_users(changes: &[Change], mapping: &ObjectMapping) -> Vec<String> {
    if !mapping.restore_memberships {
        return Vec::new();
    }
    changes
        .iter()
        .filter_map(|c| match c {
            Change::Upsert(o) if o.kind == ObjectKind::User && o.active => Some(o.id.clone()),
            _ => None,
        })
        .collect()
}

/// Holds back what cannot land yet because it names objects this target parked
/// (refused earlier, so not in the target): a parked group's membership deltas are
/// dropped and parked members are left out of the others, instead of failing or
/// writing rows that point nowhere. Returns the parked objects this batch upserts
/// again: once they land, their memberships must be written in full (a group's whole
/// member list, a user's groups), which brings back everything held back.
pub fn hold_back_parked(
    changes: &mut Vec<Change>,
    parked: &HashSet<String>,
) -> Vec<(ObjectKind, String)> {
    if parked.is_empty() {
        return Vec::new();
    }
    let landing: Vec<(ObjectKind, String)> = changes
        .iter()
        .filter_map(|c| match c {
            Change::Upsert(o) if parked.contains(&o.id) => Some((o.kind, o.id.clone())),
            _ => None,
        })
        .collect();
    changes.retain_mut(|c| match c {
        Change::AddMembers { group, members } | Change::RemoveMembers { group, members } => {
            members.retain(|m| !parked.contains(&m.id));
            !parked.contains(group) && !members.is_empty()
        }
        _ => true,
    });
    landing
}

/// Appends, after the batch's own changes, one idempotent `AddMembers` per group of
/// each user in `groups_of` (user id -> the ids of its groups now).
pub fn restore_memberships(changes: &mut Vec<Change>, groups_of: &BTreeMap<String, Vec<String>>) {
    for (user, groups) in groups_of {
        for group in groups {
            changes.push(Change::AddMembers {
                group: group.clone(),
                members: vec![MemberRef::user(user.clone())],
            });
        }
    }
}

#[cfg(test)]
#[path = "plan/tests.rs"]
mod tests;
