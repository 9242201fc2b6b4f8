//! `apply`: one transaction per batch. Consecutive upserts of one kind become
//! multi-row statements; every other change is a unit of its own. The batch is
//! first tried straight through; if a statement fails for one row, it is
//! rolled back and redone carefully, each unit (then each change of a failed
//! unit) under a savepoint, so every change gets its own result and the
//! good ones still commit. Transient trouble fails the whole batch alike.

use std::collections::BTreeSet;

use scimd_backend::{BackendError, Change, ErrorKind, ObjectKind};

use crate::config::{OnDeactivate, OnDelete, SqlTargetConfig};
use crate::dialect::Dialect;
use crate::error::classify;
use crate::members;
use crate::pool::{Pool, Session};
use crate::schema::{Schema, Table};
use crate::sql::Sql;
use crate::upsert;

/// Most values in one `IN (...)` list.
pub(crate) const IN_CHUNK: usize = 1000;

/// What every write needs to know.
pub(crate) struct Writer<'a> {
    pub config: &'a SqlTargetConfig,
    pub schema: &'a Schema,
    pub dialect: Dialect,
}

/// Per-change results of one unit; `Err` = a statement failed.
pub(crate) type UnitResult = Result<Vec<Result<(), BackendError>>, sqlx::Error>;

enum Abort {
    /// The target is unwell: every change gets this error.
    Transient(BackendError),
    /// A statement failed for a row: redo the batch carefully.
    RowFailed,
}

impl Writer<'_> {
    pub async fn apply(&self, pool: &Pool, changes: &[Change]) -> Vec<Result<(), BackendError>> {
        let all = |e: BackendError| {
            changes
                .iter()
                .map(|c| Err(e.clone().for_object(c.object_id())))
                .collect()
        };
        match self.attempt(pool, changes, false).await {
            Ok(results) => results,
            Err(Abort::Transient(e)) => all(e),
            Err(Abort::RowFailed) => match self.attempt(pool, changes, true).await {
                Ok(results) => results,
                Err(Abort::Transient(e)) => all(e),
                Err(Abort::RowFailed) => unreachable!("careful mode records row failures"),
            },
        }
    }

    async fn attempt(
        &self,
        pool: &Pool,
        changes: &[Change],
        careful: bool,
    ) -> Result<Vec<Result<(), BackendError>>, Abort> {
        let transient = |e: &sqlx::Error| Abort::Transient(classify(e));
        let mut session = pool.begin().await.map_err(|e| transient(&e))?;
        let mut results = Vec::with_capacity(changes.len());
        for unit in units(changes) {
            let unit_results = if careful {
                self.careful(session.as_mut(), unit).await?
            } else {
                match self.run(session.as_mut(), unit).await {
                    Ok(r) => r,
                    Err(e) if classify(&e).is_retryable() => return Err(transient(&e)),
                    Err(_) => return Err(Abort::RowFailed),
                }
            };
            results.extend(unit_results);
        }
        session.commit().await.map_err(|e| transient(&e))?;
        Ok(results)
    }

    /// Runs a unit under a savepoint; if a statement fails for a row, runs its
    /// changes one by one so each gets its own result.
    async fn careful(
        &self,
        session: &mut dyn Session,
        unit: &[Change],
    ) -> Result<Vec<Result<(), BackendError>>, Abort> {
        match self.guarded(session, unit).await? {
            Ok(results) => Ok(results),
            Err(e) if unit.len() == 1 => Ok(vec![Err(e.for_object(unit[0].object_id()))]),
            Err(_) => {
                let mut results = Vec::with_capacity(unit.len());
                for one in unit.chunks(1) {
                    results.push(match self.guarded(session, one).await? {
                        Ok(mut r) => r.remove(0),
                        Err(e) => Err(e.for_object(one[0].object_id())),
                    });
                }
                Ok(results)
            }
        }
    }

    /// One unit under a savepoint: the inner error is the row failure, rolled back.
    async fn guarded(
        &self,
        session: &mut dyn Session,
        unit: &[Change],
    ) -> Result<Result<Vec<Result<(), BackendError>>, BackendError>, Abort> {
        let abort = |e: &sqlx::Error| Abort::Transient(classify(e));
        self.savepoint(session, "SAVEPOINT scimd_unit")
            .await
            .map_err(|e| abort(&e))?;
        match self.run(session, unit).await {
            Ok(results) => {
                self.savepoint(session, "RELEASE SAVEPOINT scimd_unit")
                    .await
                    .map_err(|e| abort(&e))?;
                Ok(Ok(results))
            }
            Err(e) => {
                let error = classify(&e);
                if error.is_retryable() {
                    return Err(Abort::Transient(error));
                }
                self.savepoint(session, "ROLLBACK TO SAVEPOINT scimd_unit")
                    .await
                    .map_err(|e| abort(&e))?;
                self.savepoint(session, "RELEASE SAVEPOINT scimd_unit")
                    .await
                    .map_err(|e| abort(&e))?;
                Ok(Err(error))
            }
        }
    }

    async fn savepoint(
        &self,
        session: &mut dyn Session,
        statement: &'static str,
    ) -> Result<(), sqlx::Error> {
        let mut sql = Sql::new(self.dialect);
        sql.push(statement);
        session.execute(sql).await.map(drop)
    }

    async fn run(&self, session: &mut dyn Session, unit: &[Change]) -> UnitResult {
        match &unit[0] {
            Change::Upsert(_) => upsert::run(self, session, unit).await,
            Change::Deactivate { id } => Ok(vec![self.deactivate(session, id).await?]),
            Change::Delete {
                kind: ObjectKind::User,
                id,
            } => Ok(vec![self.delete_user(session, id).await?]),
            Change::Delete {
                kind: ObjectKind::Group,
                id,
            } => Ok(vec![self.delete_group(session, id).await?]),
            Change::AddMembers { group, members }
            | Change::RemoveMembers { group, members }
            | Change::SetMembers { group, members } => Ok(vec![
                members::run(self, session, &unit[0], group, members).await?,
            ]),
        }
    }

    /// The users or groups table, or the error saying this target has none.
    pub fn table(&self, kind: ObjectKind) -> Result<&Table, BackendError> {
        match kind {
            ObjectKind::User => Ok(&self.schema.users),
            ObjectKind::Group => self.schema.groups.as_ref().ok_or_else(|| {
                BackendError::permanent("this SQL target has no [groups] table configured")
            }),
        }
    }

    /// Whether the row with this key is missing (`None`), someone else's or scimd's.
    pub async fn ownership(
        &self,
        session: &mut dyn Session,
        table: &Table,
        id: &str,
    ) -> Result<Option<bool>, sqlx::Error> {
        let mut sql = Sql::new(self.dialect);
        sql.push("SELECT ")
            .as_text(&table.owner)
            .push(" FROM ")
            .ident(&table.name);
        sql.push(" WHERE ").ident(&table.key).push(" = ").text(id);
        let rows = session.fetch(sql).await?;
        Ok(rows
            .first()
            .map(|r| r[0].as_deref() == Some(self.config.owner_value.as_str())))
    }

    /// Applies `on_deactivate` to a user scimd owns; anything else is left alone.
    pub async fn deactivate(
        &self,
        session: &mut dyn Session,
        id: &str,
    ) -> Result<Result<(), BackendError>, sqlx::Error> {
        match self.config.users.on_deactivate {
            OnDeactivate::Delete => self.remove_user(session, id).await.map(Ok),
            OnDeactivate::Update => {
                let users = &self.schema.users;
                let active = users
                    .active_column
                    .as_deref()
                    .expect("validated: update needs an active column");
                let mut sql = Sql::new(self.dialect);
                sql.push("UPDATE ")
                    .ident(&users.name)
                    .push(" SET ")
                    .ident(active)
                    .push(" = ");
                sql.bind(
                    crate::sql::to_bind(users.columns[active], Some(&false.into()))
                        .expect("bool fits"),
                );
                self.where_owned(&mut sql, users, id);
                session.execute(sql).await?;
                Ok(Ok(()))
            }
        }
    }

    async fn delete_user(
        &self,
        session: &mut dyn Session,
        id: &str,
    ) -> Result<Result<(), BackendError>, sqlx::Error> {
        match self.config.users.on_delete {
            OnDelete::Delete => self.remove_user(session, id).await.map(Ok),
            OnDelete::Mark => {
                members::forget_member(self, session, id).await?;
                let users = &self.schema.users;
                let mut sql = Sql::new(self.dialect);
                sql.push("UPDATE ").ident(&users.name).push(" SET ");
                if let Some(active) = &users.active_column {
                    sql.ident(active).push(" = ");
                    sql.bind(
                        crate::sql::to_bind(users.columns[active], Some(&false.into()))
                            .expect("bool fits"),
                    );
                    sql.push(", ");
                }
                sql.ident(&users.owner)
                    .push(" = ")
                    .text(&self.config.released_value);
                self.where_owned(&mut sql, users, id);
                session.execute(sql).await?;
                Ok(Ok(()))
            }
        }
    }

    /// Deletes a user row scimd owns and its memberships in scimd's groups.
    async fn remove_user(&self, session: &mut dyn Session, id: &str) -> Result<(), sqlx::Error> {
        members::forget_member(self, session, id).await?;
        let users = &self.schema.users;
        let mut sql = Sql::new(self.dialect);
        sql.push("DELETE FROM ").ident(&users.name);
        self.where_owned(&mut sql, users, id);
        session.execute(sql).await.map(drop)
    }

    async fn delete_group(
        &self,
        session: &mut dyn Session,
        id: &str,
    ) -> Result<Result<(), BackendError>, sqlx::Error> {
        let groups = match self.table(ObjectKind::Group) {
            Ok(t) => t,
            Err(e) => return Ok(Err(e)),
        };
        members::forget_member(self, session, id).await?;
        if self.ownership(session, groups, id).await? == Some(true) {
            members::clear(self, session, id).await?;
            let mut sql = Sql::new(self.dialect);
            sql.push("DELETE FROM ").ident(&groups.name);
            self.where_owned(&mut sql, groups, id);
            session.execute(sql).await?;
        }
        Ok(Ok(()))
    }

    /// Appends ` WHERE key = id AND owner = owner_value`.
    pub fn where_owned(&self, sql: &mut Sql, table: &Table, id: &str) {
        sql.push(" WHERE ").ident(&table.key).push(" = ").text(id);
        sql.push(" AND ")
            .ident(&table.owner)
            .push(" = ")
            .text(&self.config.owner_value);
    }

    /// Appends ` AND (owner IS NULL OR owner <> owner_value)`.
    pub fn and_not_owned(&self, sql: &mut Sql, table: &Table) {
        sql.push(" AND (")
            .ident(&table.owner)
            .push(" IS NULL OR ")
            .ident(&table.owner)
            .push(" <> ");
        sql.text(&self.config.owner_value).push(")");
    }
}

/// Splits a batch into units: runs of consecutive upserts of one kind with
/// distinct ids (one multi-row write), and every other change on its own.
fn units(changes: &[Change]) -> Vec<&[Change]> {
    let mut units = Vec::new();
    let mut start = 0;
    let mut ids = BTreeSet::new();
    for (i, change) in changes.iter().enumerate() {
        let joins = match (&changes[start], change) {
            (Change::Upsert(first), Change::Upsert(o)) if i > start => {
                first.kind == o.kind && !ids.contains(&o.id)
            }
            _ => false,
        };
        if !joins && i > start {
            units.push(&changes[start..i]);
            start = i;
            ids.clear();
        }
        if let Change::Upsert(o) = change {
            ids.insert(o.id.clone());
        }
    }
    if start < changes.len() {
        units.push(&changes[start..]);
    }
    units
}

/// A bind error for a column, as a permanent error.
pub(crate) fn column_error(table: &Table, column: &str, problem: String) -> BackendError {
    BackendError::new(
        ErrorKind::Permanent,
        format!("{}.{column} {problem}", table.name),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use scimd_backend::Object;

    #[test]
    fn upserts_of_one_kind_with_distinct_ids_share_a_unit() {
        let u = |id: &str| Change::Upsert(Object::new(ObjectKind::User, id, id));
        let g = |id: &str| Change::Upsert(Object::new(ObjectKind::Group, id, id));
        let d = Change::Deactivate { id: "a".into() };
        let batch = [u("a"), u("b"), u("a"), g("g"), d.clone(), d, u("c")];
        let sizes: Vec<usize> = units(&batch).iter().map(|u| u.len()).collect();
        assert_eq!(sizes, [2, 1, 1, 1, 1, 1]);
        assert!(units(&[]).is_empty());
    }
}
