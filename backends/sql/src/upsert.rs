//! Upserts of one kind: look up which keys exist and who owns them, refuse
//! or adopt rows scimd does not own (by key, or by name in the match column),
//! then write the rest with multi-row native upserts (`ON CONFLICT ... DO
//! UPDATE` on PostgreSQL and SQLite, `ON DUPLICATE KEY UPDATE` on MySQL),
//! guarded so a row that is not scimd's is never overwritten.

use std::collections::{BTreeMap, HashMap, HashSet};

use scimd_backend::{BackendError, Change, Object};

use crate::config::{OnDeactivate, OnExisting};
use crate::dialect::Dialect;
use crate::pool::Session;
use crate::schema::Table;
use crate::sql::{Bind, ColumnKind, Sql, to_bind};
use crate::write::{IN_CHUNK, UnitResult, Writer, column_error};

/// Stay well under every dialect's bind limit (SQLite: 32,766).
const MAX_BINDS: usize = 30_000;
/// Most rows in one statement.
const MAX_ROWS: usize = 500;

/// One row to write: the object's position in the unit, its key and its
/// column values in column order.
struct Row {
    index: usize,
    id: String,
    values: BTreeMap<String, Bind>,
}

pub(crate) async fn run(w: &Writer<'_>, session: &mut dyn Session, unit: &[Change]) -> UnitResult {
    let objects: Vec<&Object> = unit
        .iter()
        .map(|c| match c {
            Change::Upsert(o) => o,
            _ => unreachable!("an upsert unit holds upserts only"),
        })
        .collect();
    let mut results: Vec<Result<(), BackendError>> = vec![Ok(()); objects.len()];
    let table = match w.table(objects[0].kind) {
        Ok(t) => t,
        Err(e) => {
            return Ok(objects
                .iter()
                .map(|o| Err(e.clone().for_object(&o.id)))
                .collect());
        }
    };

    let mut rows = Vec::with_capacity(objects.len());
    for (index, o) in objects.iter().enumerate() {
        let deletes_inactive = w.config.users.on_deactivate == OnDeactivate::Delete;
        if !o.active && table.role == "users" && deletes_inactive {
            results[index] = w.deactivate(session, &o.id).await?;
            continue;
        }
        match row_for(table, o) {
            Ok(values) => rows.push(Row {
                index,
                id: o.id.clone(),
                values,
            }),
            Err(e) => results[index] = Err(e.for_object(&o.id)),
        }
    }

    let owners = owners_by_key(w, session, table, &rows).await?;
    let mut write = Vec::with_capacity(rows.len());
    let mut missing = Vec::new();
    for row in rows {
        match owners.get(&row.id) {
            Some(Some(owner)) if *owner == w.config.owner_value => write.push(row),
            // Released by this very id (a replayed create before its delete), or adoptable.
            Some(Some(owner)) if *owner == w.config.released_value => {
                adopt_by_key(w, session, table, &row.id).await?;
                write.push(row);
            }
            Some(_) if w.config.on_existing == OnExisting::Adopt => {
                adopt_by_key(w, session, table, &row.id).await?;
                write.push(row);
            }
            Some(_) => {
                results[row.index] = Err(BackendError::conflict(format!(
                    "{} already has a row with {} = {:?} that scimd does not own; \
                     set on_existing = \"adopt\" to take it over",
                    table.name, table.key, row.id
                ))
                .for_object(&row.id));
            }
            None => missing.push(row),
        }
    }

    let matches = unowned_by_name(w, session, table, &objects, &missing).await?;
    for row in missing {
        let name = &objects[row.index].name;
        match (
            matches.get(name).copied().unwrap_or(0),
            w.config.on_existing,
        ) {
            (0, _) => write.push(row),
            (1, OnExisting::Adopt) => {
                adopt_by_name(w, session, table, name, &row.id).await?;
                write.push(row);
            }
            (n, _) => {
                let column = table.match_column.as_deref().unwrap_or_default();
                let hint = if n == 1 {
                    "set on_existing = \"adopt\" to take it over"
                } else {
                    "resolve the duplicates"
                };
                results[row.index] = Err(BackendError::conflict(format!(
                    "{} has {n} row(s) with {column} = {name:?} that scimd does not own; {hint}",
                    table.name
                ))
                .for_object(&row.id));
            }
        }
    }

    let written = write_rows(w, session, table, &write).await?;
    for row in &write {
        if !written.contains(&row.id) {
            results[row.index] = Err(BackendError::conflict(format!(
                "{} row {:?} was not written: another row holds its key or a unique value",
                table.name, row.id
            ))
            .for_object(&row.id));
        }
    }
    Ok(results)
}

/// The column values of an object: every attribute it names, converted for
/// its column, plus the active flag where a column carries it.
fn row_for(table: &Table, o: &Object) -> Result<BTreeMap<String, Bind>, BackendError> {
    let mut values = BTreeMap::new();
    for (column, value) in &o.attributes {
        let Some(kind) = table.columns.get(column) else {
            return Err(BackendError::permanent(format!(
                "{} has no mapped column {column:?}; map it in {}.columns",
                table.name, table.role
            )));
        };
        let bind = to_bind(*kind, value.as_ref()).map_err(|p| column_error(table, column, p))?;
        values.insert(column.clone(), bind);
    }
    if let Some(active) = &table.active_column {
        let bind = to_bind(table.columns[active], Some(&o.active.into()))
            .map_err(|p| column_error(table, active, p))?;
        values.insert(active.clone(), bind);
    }
    Ok(values)
}

/// Key -> owner marker (NULL as `None`) for the rows that exist.
async fn owners_by_key(
    w: &Writer<'_>,
    session: &mut dyn Session,
    table: &Table,
    rows: &[Row],
) -> Result<HashMap<String, Option<String>>, sqlx::Error> {
    let mut owners = HashMap::new();
    for chunk in rows.chunks(IN_CHUNK) {
        let mut sql = Sql::new(w.dialect);
        sql.push("SELECT ")
            .as_text(&table.key)
            .push(", ")
            .as_text(&table.owner);
        sql.push(" FROM ")
            .ident(&table.name)
            .push(" WHERE ")
            .ident(&table.key)
            .push(" IN ");
        sql.text_list(chunk.iter().map(|r| r.id.as_str()));
        for mut row in session.fetch(sql).await? {
            let owner = row.pop().flatten();
            if let Some(key) = row.pop().flatten() {
                owners.insert(key, owner);
            }
        }
    }
    Ok(owners)
}

/// Name -> number of rows scimd does not own whose match column holds it.
async fn unowned_by_name(
    w: &Writer<'_>,
    session: &mut dyn Session,
    table: &Table,
    objects: &[&Object],
    missing: &[Row],
) -> Result<HashMap<String, usize>, sqlx::Error> {
    let mut counts = HashMap::new();
    let Some(column) = &table.match_column else {
        return Ok(counts);
    };
    if table.columns.get(column) != Some(&ColumnKind::Text) {
        return Ok(counts);
    }
    let names: Vec<&str> = missing
        .iter()
        .map(|r| objects[r.index].name.as_str())
        .filter(|n| !n.is_empty())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    for chunk in names.chunks(IN_CHUNK) {
        let mut sql = Sql::new(w.dialect);
        sql.push("SELECT ")
            .as_text(column)
            .push(" FROM ")
            .ident(&table.name);
        sql.push(" WHERE ")
            .ident(column)
            .push(" IN ")
            .text_list(chunk.iter().copied());
        w.and_not_owned(&mut sql, table);
        for mut row in session.fetch(sql).await? {
            if let Some(name) = row.pop().flatten() {
                *counts.entry(name).or_insert(0) += 1;
            }
        }
    }
    Ok(counts)
}

async fn adopt_by_key(
    w: &Writer<'_>,
    session: &mut dyn Session,
    table: &Table,
    id: &str,
) -> Result<(), sqlx::Error> {
    let mut sql = Sql::new(w.dialect);
    sql.push("UPDATE ")
        .ident(&table.name)
        .push(" SET ")
        .ident(&table.owner)
        .push(" = ");
    sql.text(&w.config.owner_value)
        .push(" WHERE ")
        .ident(&table.key)
        .push(" = ")
        .text(id);
    tracing::info!(table = %table.name, id, "adopting an existing row (same key)");
    session.execute(sql).await.map(drop)
}

async fn adopt_by_name(
    w: &Writer<'_>,
    session: &mut dyn Session,
    table: &Table,
    name: &str,
    id: &str,
) -> Result<(), sqlx::Error> {
    let column = table.match_column.as_deref().expect("matched by name");
    let mut sql = Sql::new(w.dialect);
    sql.push("UPDATE ")
        .ident(&table.name)
        .push(" SET ")
        .ident(&table.key)
        .push(" = ")
        .text(id);
    sql.push(", ")
        .ident(&table.owner)
        .push(" = ")
        .text(&w.config.owner_value);
    sql.push(" WHERE ").ident(column).push(" = ").text(name);
    w.and_not_owned(&mut sql, table);
    tracing::info!(table = %table.name, id, column, "adopting an existing row (same name)");
    session.execute(sql).await.map(drop)
}

/// Writes the rows, grouped by the columns they set, many per statement;
/// returns the keys that now hold scimd's values.
async fn write_rows(
    w: &Writer<'_>,
    session: &mut dyn Session,
    table: &Table,
    rows: &[Row],
) -> Result<HashSet<String>, sqlx::Error> {
    let mut by_columns: BTreeMap<Vec<&str>, Vec<&Row>> = BTreeMap::new();
    for row in rows {
        by_columns
            .entry(row.values.keys().map(String::as_str).collect())
            .or_default()
            .push(row);
    }
    let mut written = HashSet::new();
    for (columns, rows) in by_columns {
        let per_statement = (MAX_BINDS / (columns.len() * 2 + 3)).clamp(1, MAX_ROWS);
        for chunk in rows.chunks(per_statement) {
            let sql = upsert_sql(w, table, &columns, chunk);
            if w.dialect == Dialect::MySql {
                session.execute(sql).await?;
                written.extend(owned_keys(w, session, table, chunk).await?);
            } else {
                written.extend(
                    session
                        .fetch(sql)
                        .await?
                        .into_iter()
                        .filter_map(|mut r| r.pop().flatten()),
                );
            }
        }
    }
    Ok(written)
}

fn upsert_sql(w: &Writer<'_>, table: &Table, columns: &[&str], rows: &[&Row]) -> Sql {
    let mut sql = Sql::new(w.dialect);
    sql.push("INSERT INTO ")
        .ident(&table.name)
        .push(" (")
        .ident(&table.key)
        .push(", ")
        .ident(&table.owner);
    for column in columns {
        sql.push(", ").ident(column);
    }
    sql.push(") VALUES ");
    for (i, row) in rows.iter().enumerate() {
        sql.push(if i == 0 { "(" } else { ", (" });
        sql.text(&row.id).push(", ").text(&w.config.owner_value);
        for value in row.values.values() {
            sql.push(", ").bind(value.clone());
        }
        sql.push(")");
    }
    match w.dialect {
        Dialect::Postgres | Dialect::Sqlite => {
            sql.push(" ON CONFLICT (")
                .ident(&table.key)
                .push(") DO UPDATE SET ");
            if columns.is_empty() {
                sql.ident(&table.key).push(" = excluded.").ident(&table.key);
            }
            for (i, column) in columns.iter().enumerate() {
                sql.push(if i == 0 { "" } else { ", " })
                    .ident(column)
                    .push(" = excluded.")
                    .ident(column);
            }
            sql.push(" WHERE ")
                .qualified(&table.name, &table.owner)
                .push(" = ")
                .text(&w.config.owner_value);
            sql.push(" RETURNING ").as_text(&table.key);
        }
        Dialect::MySql => {
            // Fires on any unique index: change a row only if it is scimd's and has this key.
            sql.push(" ON DUPLICATE KEY UPDATE ");
            if columns.is_empty() {
                sql.ident(&table.key).push(" = ").ident(&table.key);
            }
            for (i, column) in columns.iter().enumerate() {
                sql.push(if i == 0 { "" } else { ", " })
                    .ident(column)
                    .push(" = IF(")
                    .ident(&table.owner);
                sql.push(" <=> ")
                    .text(&w.config.owner_value)
                    .push(" AND ")
                    .ident(&table.key);
                sql.push(" <=> VALUES(")
                    .ident(&table.key)
                    .push("), VALUES(")
                    .ident(column)
                    .push("), ");
                sql.ident(column).push(")");
            }
        }
    }
    sql
}

/// MySQL cannot say which rows an upsert wrote: read back which keys are scimd's.
async fn owned_keys(
    w: &Writer<'_>,
    session: &mut dyn Session,
    table: &Table,
    rows: &[&Row],
) -> Result<Vec<String>, sqlx::Error> {
    let mut sql = Sql::new(w.dialect);
    sql.push("SELECT ")
        .as_text(&table.key)
        .push(" FROM ")
        .ident(&table.name);
    sql.push(" WHERE ")
        .ident(&table.key)
        .push(" IN ")
        .text_list(rows.iter().map(|r| r.id.as_str()));
    sql.push(" AND ")
        .ident(&table.owner)
        .push(" = ")
        .text(&w.config.owner_value);
    Ok(session
        .fetch(sql)
        .await?
        .into_iter()
        .filter_map(|mut r| r.pop().flatten())
        .collect())
}
