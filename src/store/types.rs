//! The store's vocabulary: stored resources, members, mutations, list queries,
//! journal entries and the store error.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::scim::patch::MemberChange;
use crate::scim::resource::MemberRef;
use crate::scim::{ResourceKind, ScimError};

/// A resource as stored: canonical data plus the metadata the store owns.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredResource {
    /// Server-issued id.
    pub id: String,
    /// User or Group.
    pub kind: ResourceKind,
    /// Canonical JSON without `id`, `meta` and `members`.
    pub data: Map<String, Value>,
    /// When created.
    pub created: DateTime<Utc>,
    /// When last changed (membership changes included).
    pub last_modified: DateTime<Utc>,
    /// Increases by one with every change; the ETag is `W/"<version>"`.
    pub version: i64,
}

impl StoredResource {
    /// The weak ETag of this version.
    pub fn etag(&self) -> String {
        format!("W/\"{}\"", self.version)
    }
}

/// A group member as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The member's id.
    pub id: String,
    /// User or Group.
    pub kind: ResourceKind,
    /// Its display name.
    pub display: String,
}

/// A group a resource belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRef {
    /// The group's id.
    pub id: String,
    /// Its displayName.
    pub display: String,
}

/// The new state of a resource computed by an update closure.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// The new canonical data.
    pub data: Map<String, Value>,
    /// Membership changes, applied in order after `data`.
    pub members: Vec<MemberChange>,
}

/// Computes a resource's new state from its current one, inside the write transaction
/// (so read-modify-write never races). Pure: it must not do I/O.
pub type UpdateFn = Box<dyn FnOnce(&StoredResource) -> Result<Change, ScimError> + Send>;

/// One change to the state.
pub enum Mutation {
    /// Creates a resource with a fresh id.
    Create {
        /// User or Group.
        kind: ResourceKind,
        /// Canonical data.
        data: Map<String, Value>,
        /// Initial members (groups only).
        members: Vec<MemberRef>,
    },
    /// Changes an existing resource (PUT, PATCH).
    Update {
        /// User or Group.
        kind: ResourceKind,
        /// Its id.
        id: String,
        /// `If-Match` version, if the client sent one.
        if_match: Option<i64>,
        /// The change, computed against the current state.
        update: UpdateFn,
    },
    /// Deletes a resource (and its memberships).
    Delete {
        /// User or Group.
        kind: ResourceKind,
        /// Its id.
        id: String,
        /// `If-Match` version, if the client sent one.
        if_match: Option<i64>,
    },
}

impl std::fmt::Debug for Mutation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mutation::Create { kind, .. } => write!(f, "Create({})", kind.as_str()),
            Mutation::Update { kind, id, .. } => write!(f, "Update({} {id})", kind.as_str()),
            Mutation::Delete { kind, id, .. } => write!(f, "Delete({} {id})", kind.as_str()),
        }
    }
}

/// Conditions on indexed columns that a list query can push down into SQL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexedFilter {
    /// `id eq`.
    pub id: Option<String>,
    /// `userName eq` / group `displayName eq`, already lower-cased.
    pub name_key: Option<String>,
    /// `externalId eq`.
    pub external_id: Option<String>,
    /// True when the filter can match nothing (e.g. two different `id eq`).
    pub impossible: bool,
}

/// A predicate evaluated in Rust on candidates the indexed filter let through.
pub type Predicate<'a> = &'a (dyn Fn(&StoredResource) -> bool + Sync);

/// A list request, after parsing.
pub struct ListQuery<'a> {
    /// User or Group.
    pub kind: ResourceKind,
    /// Pushed-down conditions.
    pub indexed: IndexedFilter,
    /// The rest of the filter, when it is not fully indexed.
    pub predicate: Option<Predicate<'a>>,
    /// 0-based offset (SCIM `startIndex` - 1).
    pub offset: usize,
    /// Page size; 0 returns the total only.
    pub count: usize,
}

/// A page of results.
#[derive(Debug, Clone, PartialEq)]
pub struct ListPage {
    /// How many resources match in all.
    pub total: usize,
    /// The page, in stable (`id`) order.
    pub resources: Vec<StoredResource>,
}

/// One journal (outbox) entry.
#[derive(Debug, Clone, PartialEq)]
pub struct JournalEntry {
    /// Position in the journal; increases with every entry.
    pub seq: i64,
    /// User or Group.
    pub kind: ResourceKind,
    /// The resource the entry is about.
    pub resource_id: String,
    /// `upsert`, `delete` or `members`.
    pub op: String,
    /// Entry payload (resource data, or the membership delta).
    pub body: Value,
}

/// Errors of the store layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The request is wrong given the current state (not found, conflict, precondition,
    /// unknown member): the client gets this SCIM error.
    #[error("{0}")]
    Rejected(ScimError),
    /// The database cannot be reached or refused the work; retrying later may succeed.
    #[error("state store unavailable: {0}")]
    Unavailable(String),
    /// A bug or corrupted data.
    #[error("state store error: {0}")]
    Internal(String),
}

impl From<ScimError> for StoreError {
    fn from(e: ScimError) -> Self {
        StoreError::Rejected(e)
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => StoreError::Unavailable(e.to_string()),
            _ => StoreError::Internal(e.to_string()),
        }
    }
}

/// Formats a timestamp the way the store keeps it: fixed width, so text order is time order.
pub fn format_time(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Parses a stored timestamp.
pub fn parse_time(s: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Internal(format!("bad timestamp {s:?} in store: {e}")))
}
