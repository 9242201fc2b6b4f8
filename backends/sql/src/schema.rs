//! The target's tables as scimd uses them: created when `create_tables` is
//! set, otherwise checked, with every missing table, column or key index
//! reported at once. The column types found decide how values are bound.

use std::collections::{BTreeMap, BTreeSet};

use scimd_backend::BackendError;

use crate::config::{MembershipsTable, SqlTargetConfig, column_mapped_to};
use crate::dialect::Dialect;
use crate::error::classify;
use crate::pool::Session;
use crate::sql::{ColumnKind, Sql};

/// A users or groups table with the kind of every mapped column.
#[derive(Debug, Clone)]
pub(crate) struct Table {
    /// `users` or `groups`, for messages.
    pub role: &'static str,
    pub name: String,
    pub key: String,
    pub owner: String,
    /// Mapped column -> how its values are bound and read.
    pub columns: BTreeMap<String, ColumnKind>,
    /// Column matched against the object's name to find an existing row.
    pub match_column: Option<String>,
    /// Column carrying `active` (users only).
    pub active_column: Option<String>,
}

/// Both tables, ready for use.
#[derive(Debug, Clone)]
pub(crate) struct Schema {
    pub users: Table,
    pub groups: Option<Table>,
    pub memberships: Option<MembershipsTable>,
}

impl Schema {
    /// The tables as configured, every column assumed text until checked.
    pub fn from_config(config: &SqlTargetConfig) -> Schema {
        let u = &config.users;
        let users = Table {
            role: "users",
            name: u.table.clone(),
            key: u.key.clone(),
            owner: config.owner_column.clone(),
            columns: u
                .columns
                .keys()
                .map(|c| (c.clone(), ColumnKind::Text))
                .collect(),
            match_column: u
                .match_column
                .clone()
                .or_else(|| column_mapped_to(&u.columns, "userName").map(str::to_owned)),
            active_column: config.active_column().map(str::to_owned),
        };
        let groups = config.groups.as_ref().map(|g| Table {
            role: "groups",
            name: g.table.clone(),
            key: g.key.clone(),
            owner: config.owner_column.clone(),
            columns: g
                .columns
                .keys()
                .map(|c| (c.clone(), ColumnKind::Text))
                .collect(),
            match_column: g
                .match_column
                .clone()
                .or_else(|| column_mapped_to(&g.columns, "displayName").map(str::to_owned)),
            active_column: None,
        });
        Schema {
            users,
            groups,
            memberships: config.memberships.clone(),
        }
    }

    fn tables(&self) -> impl Iterator<Item = &Table> {
        std::iter::once(&self.users).chain(self.groups.as_ref())
    }
}

/// Creates (if configured) and checks the tables; returns the schema with the
/// real column kinds. Transient on connection trouble, permanent with the full
/// list of what is missing otherwise.
pub(crate) async fn prepare(
    session: &mut dyn Session,
    dialect: Dialect,
    config: &SqlTargetConfig,
) -> Result<Schema, BackendError> {
    let mut schema = Schema::from_config(config);
    if config.create_tables {
        create(session, dialect, &schema)
            .await
            .map_err(|e| classify(&e))?;
    }
    let mut missing = Vec::new();
    for table in [Some(&mut schema.users), schema.groups.as_mut()]
        .into_iter()
        .flatten()
    {
        let found = columns_of(session, dialect, &table.name).await?;
        if found.is_empty() {
            missing.push(format!("table {} ({})", table.name, table.role));
            continue;
        }
        for column in [&table.key, &table.owner]
            .into_iter()
            .chain(table.columns.keys())
        {
            if !found.contains_key(&fold(dialect, column)) {
                missing.push(format!("{}.{column}", table.name));
            }
        }
        for (column, kind) in table.columns.iter_mut() {
            if let Some(k) = found.get(&fold(dialect, column)) {
                *kind = *k;
            }
        }
        if found.contains_key(&fold(dialect, &table.key)) {
            let unique = unique_columns(session, dialect, &table.name).await?;
            if !unique.contains(&fold(dialect, &table.key)) {
                missing.push(format!(
                    "a primary key or unique index on {}.{} alone",
                    table.name, table.key
                ));
            }
        }
    }
    if let Some(m) = &schema.memberships {
        let found = columns_of(session, dialect, &m.table).await?;
        if found.is_empty() {
            missing.push(format!("table {} (memberships)", m.table));
        } else {
            for column in [&m.group_column, &m.member_column] {
                if !found.contains_key(&fold(dialect, column)) {
                    missing.push(format!("{}.{column}", m.table));
                }
            }
        }
    }
    if missing.is_empty() {
        Ok(schema)
    } else {
        Err(BackendError::permanent(format!(
            "the {} target lacks: {}; create them, or set create_tables = true",
            dialect.name(),
            missing.join(", ")
        )))
    }
}

/// Column names compare case-insensitively on MySQL and SQLite.
fn fold(dialect: Dialect, name: &str) -> String {
    match dialect {
        Dialect::Postgres => name.to_owned(),
        Dialect::MySql | Dialect::Sqlite => name.to_ascii_lowercase(),
    }
}

async fn columns_of(
    session: &mut dyn Session,
    dialect: Dialect,
    table: &str,
) -> Result<BTreeMap<String, ColumnKind>, BackendError> {
    let mut sql = Sql::new(dialect);
    sql.push(dialect.columns_query());
    sql.arg(table);
    let rows = session.fetch(sql).await.map_err(|e| classify(&e))?;
    Ok(rows
        .into_iter()
        .filter_map(|mut r| {
            let declared = r.pop().flatten().unwrap_or_default();
            let name = r.pop().flatten()?;
            Some((fold(dialect, &name), dialect.kind_of(&declared)))
        })
        .collect())
}

async fn unique_columns(
    session: &mut dyn Session,
    dialect: Dialect,
    table: &str,
) -> Result<BTreeSet<String>, BackendError> {
    let mut sql = Sql::new(dialect);
    sql.push(dialect.unique_columns_query());
    sql.arg(table);
    let rows = session.fetch(sql).await.map_err(|e| classify(&e))?;
    Ok(rows
        .into_iter()
        .filter_map(|mut r| r.pop().flatten())
        .map(|c| fold(dialect, &c))
        .collect())
}

/// `CREATE TABLE IF NOT EXISTS` for each table, then `ADD COLUMN` for mapped
/// columns a table created earlier lacks (a mapping added to the config).
async fn create(
    session: &mut dyn Session,
    dialect: Dialect,
    schema: &Schema,
) -> Result<(), sqlx::Error> {
    for table in schema.tables() {
        let kind_of = |column: &str| {
            if table.active_column.as_deref() == Some(column) {
                ColumnKind::Bool
            } else {
                ColumnKind::Text
            }
        };
        let mut sql = Sql::new(dialect);
        sql.push("CREATE TABLE IF NOT EXISTS ")
            .ident(&table.name)
            .push(" (");
        sql.ident(&table.key)
            .push(" ")
            .push(dialect.key_type())
            .push(" NOT NULL PRIMARY KEY, ");
        sql.ident(&table.owner).push(" ").push(dialect.key_type());
        for column in table.columns.keys() {
            sql.push(", ")
                .ident(column)
                .push(" ")
                .push(dialect.value_type(kind_of(column)));
        }
        sql.push(")").push(dialect.table_options());
        session.execute(sql).await?;

        let mut existing = Sql::new(dialect);
        existing.push(dialect.columns_query());
        existing.arg(&table.name);
        let found: BTreeSet<String> = session
            .fetch(existing)
            .await?
            .into_iter()
            .filter_map(|mut r| r.swap_remove(0))
            .map(|c| fold(dialect, &c))
            .collect();
        let owner = std::iter::once((&table.owner, dialect.key_type()));
        let mapped = table
            .columns
            .keys()
            .map(|c| (c, dialect.value_type(kind_of(c))));
        for (column, ty) in owner.chain(mapped) {
            if !found.contains(&fold(dialect, column)) {
                let mut sql = Sql::new(dialect);
                sql.push("ALTER TABLE ")
                    .ident(&table.name)
                    .push(" ADD COLUMN ")
                    .ident(column)
                    .push(" ")
                    .push(ty);
                session.execute(sql).await?;
            }
        }
    }
    if let Some(m) = &schema.memberships {
        let index = index_name(&m.table, &m.member_column);
        let mut sql = Sql::new(dialect);
        sql.push("CREATE TABLE IF NOT EXISTS ")
            .ident(&m.table)
            .push(" (");
        for column in [&m.group_column, &m.member_column] {
            sql.ident(column)
                .push(" ")
                .push(dialect.key_type())
                .push(" NOT NULL, ");
        }
        sql.push("PRIMARY KEY (")
            .ident(&m.group_column)
            .push(", ")
            .ident(&m.member_column)
            .push(")");
        if dialect == Dialect::MySql {
            sql.push(", INDEX ")
                .ident(&index)
                .push(" (")
                .ident(&m.member_column)
                .push(")");
        }
        sql.push(")").push(dialect.table_options());
        session.execute(sql).await?;
        if dialect != Dialect::MySql {
            let mut sql = Sql::new(dialect);
            sql.push("CREATE INDEX IF NOT EXISTS ")
                .ident(&index)
                .push(" ON ")
                .ident(&m.table);
            sql.push(" (").ident(&m.member_column).push(")");
            session.execute(sql).await?;
        }
    }
    Ok(())
}

/// `<table>_<column>_idx`, cut to the 63 characters every dialect accepts.
fn index_name(table: &str, column: &str) -> String {
    let mut name = format!("{table}_{column}_idx");
    name.truncate(63);
    name
}
