//! The mutation logic both engines share: uniqueness, preconditions, membership
//! deltas, version bumps and journal entries, written once against the `Tx`
//! interface that each engine implements with the same SQL (`queries.rs`).

use std::collections::{BTreeSet, HashMap};

use async_trait::async_trait;
use chrono::Utc;
use serde_json::{Map, Value, json};

use super::types::{
    Change, GroupRef, JournalEntry, Member, Mutation, StoreError, StoredResource, format_time,
    parse_time,
};
use crate::scim::patch::MemberChange;
use crate::scim::resource::MemberRef;
use crate::scim::{ResourceKind, ScimError, filter, registry};

/// One transaction's worth of operations on the state tables.
#[async_trait]
pub(super) trait Tx: Send {
    /// Reads one resource; `lock` takes a row lock for the rest of the transaction.
    async fn get(
        &mut self,
        provider: &str,
        kind: ResourceKind,
        id: &str,
        lock: bool,
    ) -> Result<Option<StoredResource>, StoreError>;
    /// The resources of the provider among `ids`, in no particular order (missing
    /// ids are left out).
    async fn get_many(
        &mut self,
        provider: &str,
        ids: &[String],
    ) -> Result<Vec<StoredResource>, StoreError>;
    /// The id holding a name key (userName / group displayName), if any.
    async fn owner_of_name(
        &mut self,
        provider: &str,
        kind: ResourceKind,
        name_key: &str,
    ) -> Result<Option<String>, StoreError>;
    /// The id holding an externalId, if any.
    async fn owner_of_external_id(
        &mut self,
        provider: &str,
        kind: ResourceKind,
        external_id: &str,
    ) -> Result<Option<String>, StoreError>;
    /// Inserts a new resource row.
    async fn insert(&mut self, provider: &str, row: &Row<'_>) -> Result<(), StoreError>;
    /// Rewrites a resource row.
    async fn update(&mut self, provider: &str, row: &Row<'_>) -> Result<(), StoreError>;
    /// Bumps a resource's version and lastModified (membership changed).
    async fn touch(
        &mut self,
        provider: &str,
        id: &str,
        last_modified: &str,
    ) -> Result<(), StoreError>;
    /// Deletes a resource row.
    async fn delete(&mut self, provider: &str, id: &str) -> Result<(), StoreError>;
    /// The kinds of those ids that exist in the provider.
    async fn kinds_of(
        &mut self,
        provider: &str,
        ids: &[String],
    ) -> Result<HashMap<String, ResourceKind>, StoreError>;
    /// Adds member rows; returns the ids that were not members yet.
    async fn add_members(
        &mut self,
        provider: &str,
        group_id: &str,
        members: &[(String, ResourceKind)],
    ) -> Result<Vec<String>, StoreError>;
    /// Removes member rows; returns the ids that were members.
    async fn remove_members(
        &mut self,
        provider: &str,
        group_id: &str,
        ids: &[String],
    ) -> Result<Vec<(String, ResourceKind)>, StoreError>;
    /// Every member id of a group.
    async fn member_ids(
        &mut self,
        provider: &str,
        group_id: &str,
    ) -> Result<Vec<(String, ResourceKind)>, StoreError>;
    /// Every member of a group with its display name.
    async fn members_with_display(
        &mut self,
        provider: &str,
        group_id: &str,
    ) -> Result<Vec<Member>, StoreError>;
    /// The groups a resource is a direct member of.
    async fn groups_of(
        &mut self,
        provider: &str,
        member_id: &str,
    ) -> Result<Vec<GroupRef>, StoreError>;
    /// Removes every member row of a group.
    async fn clear_members(&mut self, provider: &str, group_id: &str) -> Result<(), StoreError>;
    /// Appends a journal entry.
    async fn append_journal(
        &mut self,
        provider: &str,
        kind: ResourceKind,
        resource_id: &str,
        op: &str,
        body: &str,
        at: &str,
    ) -> Result<(), StoreError>;
    /// Journal entries after a sequence number.
    async fn journal(
        &mut self,
        provider: &str,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<JournalEntry>, StoreError>;
    /// The SQL dialect of this connection.
    fn dialect(&self) -> super::sql::Dialect;
    /// Runs a statement returning one row of two integers.
    async fn counts(&mut self, sql: &super::sql::Sql) -> Result<(i64, i64), StoreError>;
    /// Runs a statement returning resource rows plus a nullable text `sort_key`.
    async fn rows(
        &mut self,
        sql: &super::sql::Sql,
    ) -> Result<Vec<(StoredResource, Option<String>)>, StoreError>;
}

/// A resource row as written.
pub(super) struct Row<'a> {
    pub id: &'a str,
    pub kind: ResourceKind,
    pub name_key: String,
    pub external_id: Option<String>,
    pub display: String,
    pub data: String,
    pub version: i64,
    pub created: String,
    pub last_modified: String,
}

/// Maps a unique-index violation (a concurrent create won the race) to 409.
pub(super) fn unique_violation(e: sqlx::Error) -> StoreError {
    if let Some(db) = e.as_database_error()
        && db.is_unique_violation()
    {
        return StoreError::Rejected(ScimError::uniqueness(
            "a resource with this userName, displayName or externalId already exists in this provider",
        ));
    }
    e.into()
}

/// Parses a stored kind.
pub(super) fn decode_kind(s: &str) -> Result<ResourceKind, StoreError> {
    ResourceKind::parse(s)
        .ok_or_else(|| StoreError::Internal(format!("unknown resource kind {s:?} in store")))
}

/// Decodes a `SELECT id, kind, data, version, created, last_modified` row.
pub(super) fn decode_resource<R>(row: &R) -> Result<StoredResource, StoreError>
where
    R: sqlx::Row,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'s> &'s str: sqlx::ColumnIndex<R>,
{
    let id: String = row.try_get("id")?;
    let data: String = row.try_get("data")?;
    let data = match serde_json::from_str(&data) {
        Ok(Value::Object(m)) => m,
        _ => {
            return Err(StoreError::Internal(format!(
                "resource {id}: stored data is not a JSON object"
            )));
        }
    };
    Ok(StoredResource {
        kind: decode_kind(&row.try_get::<String, _>("kind")?)?,
        data,
        version: row.try_get("version")?,
        created: parse_time(&row.try_get::<String, _>("created")?)?,
        last_modified: parse_time(&row.try_get::<String, _>("last_modified")?)?,
        id,
    })
}

/// The lower-cased name key and display name of a resource's data.
fn keys(
    kind: ResourceKind,
    data: &Map<String, Value>,
) -> Result<(String, Option<String>, String), ScimError> {
    let text = |k: &str| data.get(k).and_then(Value::as_str).map(str::to_owned);
    let name = match kind {
        ResourceKind::User => text("userName"),
        ResourceKind::Group => text("displayName"),
    }
    .filter(|n| !n.is_empty())
    .ok_or_else(|| {
        ScimError::invalid_value(match kind {
            ResourceKind::User => "userName is required and must be a non-empty string",
            ResourceKind::Group => "displayName is required and must be a non-empty string",
        })
    })?;
    let display = match kind {
        ResourceKind::User => text("displayName")
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| name.clone()),
        ResourceKind::Group => name.clone(),
    };
    Ok((name.to_lowercase(), text("externalId"), display))
}

fn row<'a>(
    id: &'a str,
    kind: ResourceKind,
    data: &Map<String, Value>,
    version: i64,
    created: String,
    now: &str,
) -> Result<Row<'a>, ScimError> {
    let (name_key, external_id, display) = keys(kind, data)?;
    Ok(Row {
        id,
        kind,
        name_key,
        external_id,
        display,
        data: Value::Object(data.clone()).to_string(),
        version,
        created,
        last_modified: now.to_owned(),
    })
}

async fn check_unique(
    tx: &mut dyn Tx,
    provider: &str,
    row: &Row<'_>,
    data: &Map<String, Value>,
) -> Result<(), StoreError> {
    let (attr, shown) = match row.kind {
        ResourceKind::User => ("userName", data.get("userName")),
        ResourceKind::Group => ("displayName", data.get("displayName")),
    };
    if let Some(owner) = tx.owner_of_name(provider, row.kind, &row.name_key).await?
        && owner != row.id
    {
        return Err(ScimError::uniqueness(format!(
            "{attr} {} is already used by {} {owner} in this provider (compared case-insensitively)",
            shown.cloned().unwrap_or(Value::Null),
            row.kind.as_str()
        ))
        .into());
    }
    if let Some(ext) = &row.external_id
        && let Some(owner) = tx.owner_of_external_id(provider, row.kind, ext).await?
        && owner != row.id
    {
        return Err(ScimError::uniqueness(format!(
            "externalId {ext:?} is already used by {} {owner} in this provider",
            row.kind.as_str()
        ))
        .into());
    }
    Ok(())
}

fn check_if_match(current: &StoredResource, if_match: Option<i64>) -> Result<(), StoreError> {
    match if_match {
        Some(v) if v != current.version => Err(ScimError::precondition_failed(format!(
            "If-Match does not match: the resource is at version W/\"{}\"; read it again and retry",
            current.version
        ))
        .into()),
        _ => Ok(()),
    }
}

fn not_found(kind: ResourceKind, id: &str) -> StoreError {
    ScimError::not_found(format!("{} {id} not found", kind.as_str())).into()
}

/// Applies one mutation inside the caller's transaction.
pub(super) async fn apply(
    tx: &mut dyn Tx,
    provider: &str,
    mutation: Mutation,
) -> Result<Option<StoredResource>, StoreError> {
    let now_t = Utc::now();
    let now = format_time(&now_t);
    match mutation {
        Mutation::Create {
            kind,
            data,
            members,
        } => {
            let id = uuid::Uuid::new_v4().to_string();
            let r = row(&id, kind, &data, 1, now.clone(), &now)?;
            check_unique(tx, provider, &r, &data).await?;
            tx.insert(provider, &r).await?;
            journal_upsert(tx, provider, kind, &id, 1, &data, &now).await?;
            if kind == ResourceKind::Group && !members.is_empty() {
                let mut delta = Delta::default();
                add_members(tx, provider, &id, &members, &mut delta).await?;
                journal_members(tx, provider, &id, &delta, &now).await?;
            }
            let created = parse_time(&now)?;
            Ok(Some(StoredResource {
                id,
                kind,
                data,
                created,
                last_modified: created,
                version: 1,
            }))
        }
        Mutation::Update {
            kind,
            id,
            if_match,
            update,
        } => {
            let current = tx
                .get(provider, kind, &id, true)
                .await?
                .ok_or_else(|| not_found(kind, &id))?;
            check_if_match(&current, if_match)?;
            let Change { data, members } = update(&current)?;
            let data_changed = data != current.data;
            let mut delta = Delta::default();
            for change in &members {
                apply_member_change(tx, provider, &id, change, &mut delta).await?;
            }
            if !data_changed && delta.is_empty() {
                return Ok(Some(current));
            }
            let version = current.version + 1;
            let r = row(
                &id,
                kind,
                &data,
                version,
                format_time(&current.created),
                &now,
            )?;
            if data_changed {
                check_unique(tx, provider, &r, &data).await?;
            }
            tx.update(provider, &r).await?;
            if data_changed {
                journal_upsert(tx, provider, kind, &id, version, &data, &now).await?;
            }
            journal_members(tx, provider, &id, &delta, &now).await?;
            Ok(Some(StoredResource {
                data,
                version,
                last_modified: parse_time(&now)?,
                ..current
            }))
        }
        Mutation::Delete { kind, id, if_match } => {
            let current = tx
                .get(provider, kind, &id, true)
                .await?
                .ok_or_else(|| not_found(kind, &id))?;
            check_if_match(&current, if_match)?;
            if kind == ResourceKind::Group {
                tx.clear_members(provider, &id).await?;
            }
            for group in tx.groups_of(provider, &id).await? {
                let removed = tx
                    .remove_members(provider, &group.id, std::slice::from_ref(&id))
                    .await?;
                if !removed.is_empty() {
                    tx.touch(provider, &group.id, &now).await?;
                    let mut delta = Delta::default();
                    for (member, member_kind) in removed {
                        delta.remove(member, member_kind);
                    }
                    journal_members(tx, provider, &group.id, &delta, &now).await?;
                }
            }
            tx.delete(provider, &id).await?;
            tx.append_journal(provider, kind, &id, "delete", "{}", &now)
                .await?;
            Ok(None)
        }
        Mutation::Replay { kind, id } => {
            let current = tx
                .get(provider, kind, &id, false)
                .await?
                .ok_or_else(|| not_found(kind, &id))?;
            journal_upsert(
                tx,
                provider,
                kind,
                &id,
                current.version,
                &current.data,
                &now,
            )
            .await?;
            if kind == ResourceKind::Group {
                let mut delta = Delta::default();
                for m in tx.members_with_display(provider, &id).await? {
                    delta.add(m.id, m.kind);
                }
                journal_members(tx, provider, &id, &delta, &now).await?;
            }
            Ok(Some(current))
        }
    }
}

/// The net membership change of one mutation.
#[derive(Default)]
struct Delta {
    added: BTreeSet<String>,
    removed: BTreeSet<String>,
    kinds: HashMap<String, ResourceKind>,
}

impl Delta {
    fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }
    fn add(&mut self, id: String, kind: ResourceKind) {
        if !self.removed.remove(&id) {
            self.kinds.insert(id.clone(), kind);
            self.added.insert(id);
        }
    }
    fn remove(&mut self, id: String, kind: ResourceKind) {
        if !self.added.remove(&id) {
            self.kinds.insert(id.clone(), kind);
            self.removed.insert(id);
        }
    }
}

/// Adds `members` to a group and records the net change in `delta`; a current member is
/// a no-op. CLIENT-QUIRKS 19: an id naming no User or Group of this provider rejects the
/// whole request atomically (400 invalidValue listing the unknown ids, nothing changed)
/// instead of applying the valid members, so a 2xx always means "done exactly as sent".
async fn add_members(
    tx: &mut dyn Tx,
    provider: &str,
    group_id: &str,
    members: &[MemberRef],
    delta: &mut Delta,
) -> Result<(), StoreError> {
    let ids: Vec<String> = members.iter().map(|m| m.value.clone()).collect();
    if ids.iter().any(|m| m == group_id) {
        return Err(ScimError::invalid_value(format!(
            "group {group_id} cannot be a member of itself"
        ))
        .into());
    }
    let kinds = tx.kinds_of(provider, &ids).await?;
    let mut unknown: Vec<&str> = Vec::new();
    let mut rows = Vec::with_capacity(members.len());
    for m in members {
        match kinds.get(&m.value) {
            Some(k) if m.kind.is_none_or(|want| want == *k) => rows.push((m.value.clone(), *k)),
            Some(k) => {
                return Err(ScimError::invalid_value(format!(
                    "member {} is a {}, not a {} as its \"type\" says",
                    m.value,
                    k.as_str(),
                    m.kind.map(ResourceKind::as_str).unwrap_or_default()
                ))
                .into());
            }
            None => unknown.push(&m.value),
        }
    }
    if !unknown.is_empty() {
        let shown: Vec<&str> = unknown.iter().take(10).copied().collect();
        return Err(ScimError::invalid_value(format!(
            "{} member value(s) name no User or Group of this provider: {}{}; nothing was changed",
            unknown.len(),
            shown.join(", "),
            if unknown.len() > shown.len() {
                ", ..."
            } else {
                ""
            }
        ))
        .into());
    }
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    rows.dedup_by(|a, b| a.0 == b.0);
    for id in tx.add_members(provider, group_id, &rows).await? {
        let kind = kinds.get(&id).copied().unwrap_or(ResourceKind::User);
        delta.add(id, kind);
    }
    Ok(())
}

async fn apply_member_change(
    tx: &mut dyn Tx,
    provider: &str,
    group_id: &str,
    change: &MemberChange,
    delta: &mut Delta,
) -> Result<(), StoreError> {
    match change {
        MemberChange::Add(members) => add_members(tx, provider, group_id, members, delta).await,
        MemberChange::Remove(ids) => {
            for id in tx.remove_members(provider, group_id, ids).await? {
                delta.remove(id.0, id.1);
            }
            Ok(())
        }
        MemberChange::RemoveWhere(f) => {
            let reg = registry();
            let attr = reg
                .core(ResourceKind::Group)
                .attribute("members")
                .ok_or_else(ScimError::internal)?;
            let doomed: Vec<String> = tx
                .member_ids(provider, group_id)
                .await?
                .into_iter()
                .filter(|(id, kind)| {
                    let element = json!({"value": id, "type": kind.as_str()});
                    filter::matches_element(reg, ResourceKind::Group, attr, f, &element)
                })
                .map(|(id, _)| id)
                .collect();
            for id in tx.remove_members(provider, group_id, &doomed).await? {
                delta.remove(id.0, id.1);
            }
            Ok(())
        }
        MemberChange::Set(members) => {
            let wanted: BTreeSet<&str> = members.iter().map(|m| m.value.as_str()).collect();
            let current = tx.member_ids(provider, group_id).await?;
            let doomed: Vec<String> = current
                .iter()
                .filter(|(id, _)| !wanted.contains(id.as_str()))
                .map(|(id, _)| id.clone())
                .collect();
            for id in tx.remove_members(provider, group_id, &doomed).await? {
                delta.remove(id.0, id.1);
            }
            let have: BTreeSet<&str> = current.iter().map(|(id, _)| id.as_str()).collect();
            let fresh: Vec<MemberRef> = members
                .iter()
                .filter(|m| !have.contains(m.value.as_str()))
                .cloned()
                .collect();
            add_members(tx, provider, group_id, &fresh, delta).await
        }
    }
}

async fn journal_upsert(
    tx: &mut dyn Tx,
    provider: &str,
    kind: ResourceKind,
    id: &str,
    version: i64,
    data: &Map<String, Value>,
    at: &str,
) -> Result<(), StoreError> {
    let body = json!({"version": version, "data": data}).to_string();
    tx.append_journal(provider, kind, id, "upsert", &body, at)
        .await
}

async fn journal_members(
    tx: &mut dyn Tx,
    provider: &str,
    group_id: &str,
    delta: &Delta,
    at: &str,
) -> Result<(), StoreError> {
    if delta.is_empty() {
        return Ok(());
    }
    let added: Vec<Value> = delta
        .added
        .iter()
        .map(|id| json!({"id": id, "kind": delta.kinds.get(id).copied().unwrap_or(ResourceKind::User).as_str()}))
        .collect();
    let removed: Vec<Value> = delta
        .removed
        .iter()
        .map(|id| json!({"id": id, "kind": delta.kinds.get(id).copied().unwrap_or(ResourceKind::User).as_str()}))
        .collect();
    let body = json!({"added": added, "removed": removed}).to_string();
    tx.append_journal(
        provider,
        ResourceKind::Group,
        group_id,
        "members",
        &body,
        at,
    )
    .await
}
