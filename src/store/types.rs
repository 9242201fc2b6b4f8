//! The store's vocabulary: stored resources, members, mutations, list queries,
//! journal entries and the store error.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::scim::filter::{AttrPath, Filter};
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
    /// Journals a resource's current state again without changing it (a group also
    /// with all its members as added), so every target converges to it once more:
    /// how parked changes are retried after an operator fixed the target.
    Replay {
        /// User or Group.
        kind: ResourceKind,
        /// Its id.
        id: String,
    },
}

impl std::fmt::Debug for Mutation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mutation::Create { kind, .. } => write!(f, "Create({})", kind.as_str()),
            Mutation::Update { kind, id, .. } => write!(f, "Update({} {id})", kind.as_str()),
            Mutation::Delete { kind, id, .. } => write!(f, "Delete({} {id})", kind.as_str()),
            Mutation::Replay { kind, id } => write!(f, "Replay({} {id})", kind.as_str()),
        }
    }
}

/// Evaluates the whole filter in Rust on one resource: for the rows SQL cannot decide
/// (see `store::filter_sql`), so answers never depend on the engine.
pub type Predicate<'a> = &'a (dyn Fn(&StoredResource) -> bool + Sync);

/// `sortBy` and `sortOrder`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortBy {
    /// The attribute to sort by (validated with [`crate::store::check_sort`]).
    pub path: AttrPath,
    /// `sortOrder=descending`.
    pub descending: bool,
}

/// Where a resource sits in a listing: its sort key (as the store computes it; `None`
/// when the resource has no value) and its id, the tie-break.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    /// The sort key; always `None` without `sortBy`.
    pub key: Option<String>,
    /// The resource id.
    pub id: String,
}

/// Which way a cursor page goes from its position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// The page after the position (`nextCursor`).
    Forward,
    /// The page before the position (`previousCursor`).
    Backward,
}

/// How a list is paged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Paging {
    /// `startIndex`/`count` (RFC 7644 section 3.4.2.4).
    Index {
        /// 0-based offset (`startIndex` - 1).
        offset: usize,
        /// Page size; 0 returns the total only.
        count: usize,
    },
    /// Keyset cursors (RFC 9865): the page after or before a position, or the first page.
    Cursor {
        /// Where to continue; `None` for the first page.
        from: Option<(Position, Direction)>,
        /// Page size; 0 returns the total only.
        count: usize,
    },
}

/// A list request, after parsing.
pub struct ListQuery<'a> {
    /// User or Group.
    pub kind: ResourceKind,
    /// The filter, validated against the registry; as much of it as possible runs in SQL.
    pub filter: Option<&'a Filter>,
    /// The same filter evaluated in Rust, for rows SQL leaves unsure.
    pub matches: Predicate<'a>,
    /// The order; id order when absent (and always the tie-break).
    pub sort: Option<SortBy>,
    /// Which page.
    pub paging: Paging,
}

/// A page of results.
#[derive(Debug, Clone, PartialEq)]
pub struct ListPage {
    /// How many resources match in all.
    pub total: usize,
    /// The page, in listing order.
    pub resources: Vec<StoredResource>,
    /// Position of the first resource of the page.
    pub first: Option<Position>,
    /// Position of the last resource of the page.
    pub last: Option<Position>,
    /// Whether resources come before this page (cursor paging).
    pub more_before: bool,
    /// Whether resources come after this page (cursor paging).
    pub more_after: bool,
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
