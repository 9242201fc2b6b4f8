//! The drift plan, pure: merge-joins the desired objects (from the state store) and
//! the observed ones (from the target), both in ascending id order, and yields one
//! [`Difference`] per object that is not as it should be. Neither side is copied:
//! each is consumed one object at a time, so memory stays flat however large the
//! target is.

use std::cmp::Ordering;

use scimd_backend::{Change, MemberRef, Object, ObjectKind, Observed, Value};
use serde::{Deserialize, Serialize};

/// One object as the state store says the target should hold it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desired {
    /// The mapped object (attributes as the target names them).
    pub object: Object,
    /// For groups: the members, sorted by id; `None` for users.
    pub members: Option<Vec<MemberRef>>,
}

/// One attribute whose value in the target differs from the desired one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttributeDiff {
    /// Target attribute (column, LDAP attribute).
    pub attribute: String,
    /// What it should be (`null`: empty).
    pub desired: Option<String>,
    /// What the target holds (`null`: empty).
    pub observed: Option<String>,
}

/// What is wrong with one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum DifferenceKind {
    /// In the store, missing from the target.
    Create,
    /// In both, with these attributes differing.
    Update {
        /// The differing attributes.
        attributes: Vec<AttributeDiff>,
    },
    /// Owned by scimd in the target, gone from the store: an orphan.
    Delete,
    /// A group whose members differ.
    Members {
        /// Member ids the target lacks.
        add: Vec<String>,
        /// Member ids the target has but should not.
        remove: Vec<String>,
    },
}

/// One difference, as reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Difference {
    /// `user` or `group`.
    pub kind: String,
    /// scimd id of the object.
    pub id: String,
    /// userName / displayName, for people reading the report.
    pub name: String,
    /// What differs.
    #[serde(flatten)]
    pub what: DifferenceKind,
}

/// A difference together with the changes that repair it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    /// The difference, as reported.
    pub difference: Difference,
    /// The idempotent changes that repair it, in order.
    pub changes: Vec<Change>,
}

fn text(v: &Option<Value>) -> Option<String> {
    match v {
        None => None,
        Some(Value::Text(s)) => Some(s.clone()),
        Some(Value::Bool(b)) => Some(b.to_string()),
        Some(Value::Int(i)) => Some(i.to_string()),
        Some(Value::Texts(items)) => Some(items.join(", ")),
    }
}

fn empty(v: &Option<Value>) -> bool {
    match v {
        None => true,
        Some(Value::Text(s)) => s.is_empty(),
        Some(Value::Texts(items)) => items.iter().all(String::is_empty),
        _ => false,
    }
}

/// The attributes whose observed value means something else than the desired one.
/// Only attributes the mapping sets are compared; empty and absent are the same.
pub fn attribute_diffs(desired: &Object, observed: &Object) -> Vec<AttributeDiff> {
    let mut out = Vec::new();
    for (attribute, want) in &desired.attributes {
        let have = observed.attributes.get(attribute).cloned().flatten();
        let same = match (want, &have) {
            (Some(a), Some(b)) => a.same_as(b) || (empty(want) && empty(&have)),
            _ => empty(want) && empty(&have),
        };
        if !same {
            out.push(AttributeDiff {
                attribute: attribute.clone(),
                desired: text(want),
                observed: text(&have),
            });
        }
    }
    out
}

/// Members to add and to remove, from two id-sorted lists.
fn member_diffs(want: &[MemberRef], have: &[String]) -> (Vec<MemberRef>, Vec<String>) {
    let (mut add, mut remove) = (Vec::new(), Vec::new());
    let (mut i, mut j) = (0, 0);
    while i < want.len() || j < have.len() {
        match (want.get(i), have.get(j)) {
            (Some(w), Some(h)) => match w.id.as_str().cmp(h.as_str()) {
                Ordering::Equal => {
                    i += 1;
                    j += 1;
                }
                Ordering::Less => {
                    add.push(w.clone());
                    i += 1;
                }
                Ordering::Greater => {
                    remove.push(h.clone());
                    j += 1;
                }
            },
            (Some(w), None) => {
                add.push(w.clone());
                i += 1;
            }
            (None, Some(h)) => {
                remove.push(h.clone());
                j += 1;
            }
            (None, None) => break,
        }
    }
    (add, remove)
}

fn upsert_changes(d: &Desired) -> Vec<Change> {
    let mut changes = vec![Change::Upsert(d.object.clone())];
    if !d.object.active && d.object.kind == ObjectKind::User {
        changes.push(Change::Deactivate {
            id: d.object.id.clone(),
        });
    }
    changes
}

fn difference(object: &Object, what: DifferenceKind) -> Difference {
    Difference {
        kind: object.kind.to_string(),
        id: object.id.clone(),
        name: object.name.clone(),
        what,
    }
}

/// Compares one object present on both sides (same id).
pub fn compare(desired: &Desired, observed: &Observed) -> Vec<Planned> {
    let mut out = Vec::new();
    let attributes = attribute_diffs(&desired.object, &observed.object);
    if !attributes.is_empty() {
        out.push(Planned {
            difference: difference(&desired.object, DifferenceKind::Update { attributes }),
            changes: upsert_changes(desired),
        });
    }
    if let Some(want) = &desired.members {
        let have = observed.members.as_deref().unwrap_or_default();
        let (add, remove) = member_diffs(want, have);
        if !add.is_empty() || !remove.is_empty() {
            let group = desired.object.id.clone();
            let mut changes = Vec::new();
            if !remove.is_empty() {
                changes.push(Change::RemoveMembers {
                    group: group.clone(),
                    // The target stores ids only; removal by id works for either kind.
                    members: remove.iter().map(MemberRef::user).collect(),
                });
            }
            if !add.is_empty() {
                changes.push(Change::AddMembers {
                    group,
                    members: add.clone(),
                });
            }
            out.push(Planned {
                difference: difference(
                    &desired.object,
                    DifferenceKind::Members {
                        add: add.into_iter().map(|m| m.id).collect(),
                        remove,
                    },
                ),
                changes,
            });
        }
    }
    out
}

/// A desired object the target does not hold. An inactive user is not missing: the
/// target's `on_deactivate` policy may well have removed it.
pub fn missing(desired: &Desired) -> Option<Planned> {
    if !desired.object.active && desired.object.kind == ObjectKind::User {
        return None;
    }
    let mut changes = upsert_changes(desired);
    if let Some(members) = desired.members.as_ref().filter(|m| !m.is_empty()) {
        changes.push(Change::AddMembers {
            group: desired.object.id.clone(),
            members: members.clone(),
        });
    }
    Some(Planned {
        difference: difference(&desired.object, DifferenceKind::Create),
        changes,
    })
}

/// An owned object the store no longer has.
pub fn orphan(observed: &Observed) -> Planned {
    Planned {
        difference: difference(&observed.object, DifferenceKind::Delete),
        changes: vec![Change::Delete {
            kind: observed.object.kind,
            id: observed.object.id.clone(),
        }],
    }
}

/// Why a merge stopped early.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    /// One side did not come in ascending id order, so a merge would invent differences.
    #[error(
        "the {side} returned {previous:?} before {next:?}, not in ascending id order; no difference was acted on"
    )]
    OutOfOrder {
        /// `state store` or `target`.
        side: &'static str,
        /// The id before.
        previous: String,
        /// The id after, not greater.
        next: String,
    },
    /// A side failed or the consumer asked to stop.
    #[error("{0}")]
    Stopped(String),
}

/// Counts of one merge.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MergeCounts {
    /// Desired objects read.
    pub desired: u64,
    /// Owned objects observed in the target.
    pub observed: u64,
}

struct Ordered<I> {
    inner: I,
    side: &'static str,
    last: Option<String>,
}

impl<I, T> Ordered<I>
where
    I: Iterator<Item = Result<T, String>>,
{
    fn next_checked(
        &mut self,
        id: fn(&T) -> &str,
        count: &mut u64,
    ) -> Result<Option<T>, MergeError> {
        let Some(item) = self.inner.next() else {
            return Ok(None);
        };
        let item = item.map_err(MergeError::Stopped)?;
        let key = id(&item);
        if let Some(last) = &self.last
            && last.as_str() >= key
        {
            return Err(MergeError::OutOfOrder {
                side: self.side,
                previous: last.clone(),
                next: key.to_owned(),
            });
        }
        self.last = Some(key.to_owned());
        *count += 1;
        Ok(Some(item))
    }
}

/// Merge-joins both sides (each in strictly ascending id order, as `str::cmp` orders)
/// and hands every difference to `found`, in id order; `found` may stop the merge by
/// returning an error. Items are `Err` when their source failed.
pub fn merge<D, O>(
    desired: D,
    observed: O,
    mut found: impl FnMut(Planned) -> Result<(), String>,
    mut compared: impl FnMut(MergeCounts),
) -> Result<MergeCounts, MergeError>
where
    D: Iterator<Item = Result<Desired, String>>,
    O: Iterator<Item = Result<Observed, String>>,
{
    let mut counts = MergeCounts::default();
    let mut ds = Ordered {
        inner: desired,
        side: "state store",
        last: None,
    };
    let mut os = Ordered {
        inner: observed,
        side: "target",
        last: None,
    };
    fn did(d: &Desired) -> &str {
        &d.object.id
    }
    fn oid(o: &Observed) -> &str {
        &o.object.id
    }
    let mut d = ds.next_checked(did, &mut counts.desired)?;
    let mut o = os.next_checked(oid, &mut counts.observed)?;
    let emit = |found: &mut dyn FnMut(Planned) -> Result<(), String>, p: Planned| {
        found(p).map_err(MergeError::Stopped)
    };
    let mut steps: u64 = 0;
    loop {
        match (&d, &o) {
            (None, None) => break,
            (Some(want), Some(have)) if want.object.id == have.object.id => {
                for p in compare(want, have) {
                    emit(&mut found, p)?;
                }
                d = ds.next_checked(did, &mut counts.desired)?;
                o = os.next_checked(oid, &mut counts.observed)?;
            }
            (Some(want), Some(have)) if want.object.id < have.object.id => {
                if let Some(p) = missing(want) {
                    emit(&mut found, p)?;
                }
                d = ds.next_checked(did, &mut counts.desired)?;
            }
            (Some(want), None) => {
                if let Some(p) = missing(want) {
                    emit(&mut found, p)?;
                }
                d = ds.next_checked(did, &mut counts.desired)?;
            }
            (_, Some(have)) => {
                emit(&mut found, orphan(have))?;
                o = os.next_checked(oid, &mut counts.observed)?;
            }
        }
        steps += 1;
        if steps.is_multiple_of(1000) {
            compared(counts);
        }
    }
    compared(counts);
    Ok(counts)
}

/// Whether deleting `deletes` of `owned` objects stays within `max_percent`.
pub fn within_threshold(deletes: u64, owned: u64, max_percent: u8) -> bool {
    deletes == 0 || deletes * 100 <= owned * u64::from(max_percent)
}

#[cfg(test)]
#[path = "diff/tests.rs"]
mod tests;
