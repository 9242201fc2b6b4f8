//! `observe`: pages through the rows scimd owns by key (keyset paging, one
//! short read transaction per page) and reads the members of each page's
//! groups in one query, so memory holds one page at a time.

use std::collections::BTreeMap;

use scimd_backend::{BackendError, Object, ObjectKind, Observed, ObservedSink, Value};

use crate::config::SqlTargetConfig;
use crate::dialect::Dialect;
use crate::error::classify;
use crate::pool::Pool;
use crate::schema::{Schema, Table};
use crate::sql::{Sql, from_text};

/// Users per page.
const USER_PAGE: usize = 1000;
/// Groups per page: fewer, as their members come along.
const GROUP_PAGE: usize = 100;

pub(crate) async fn observe(
    pool: &Pool,
    dialect: Dialect,
    config: &SqlTargetConfig,
    schema: &Schema,
    kind: ObjectKind,
    sink: &mut ObservedSink<'_>,
) -> Result<(), BackendError> {
    let (table, page_size) = match kind {
        ObjectKind::User => (&schema.users, USER_PAGE),
        ObjectKind::Group => match &schema.groups {
            Some(g) => (g, GROUP_PAGE),
            None => return Ok(()),
        },
    };
    let columns: Vec<&String> = table.columns.keys().collect();
    let mut after: Option<String> = None;
    loop {
        let mut sql = Sql::new(dialect);
        sql.push("SELECT ").as_text(&table.key);
        for column in &columns {
            sql.push(", ").as_text(column);
        }
        sql.push(" FROM ")
            .ident(&table.name)
            .push(" WHERE ")
            .ident(&table.owner)
            .push(" = ");
        sql.text(&config.owner_value);
        if let Some(last) = &after {
            sql.push(" AND ").ident(&table.key).push(" > ").text(last);
        }
        sql.push(" ORDER BY ")
            .ident(&table.key)
            .push(" LIMIT ")
            .push(&page_size.to_string());

        let mut session = pool.begin().await.map_err(|e| classify(&e))?;
        let rows = session.fetch(sql).await.map_err(|e| classify(&e))?;
        let objects: Vec<Object> = rows
            .into_iter()
            .filter_map(|row| object(kind, table, &columns, row))
            .collect();
        let mut members = match (kind, &schema.memberships) {
            (ObjectKind::Group, Some(m)) if !objects.is_empty() => {
                let mut sql = Sql::new(dialect);
                sql.push("SELECT ")
                    .as_text(&m.group_column)
                    .push(", ")
                    .as_text(&m.member_column);
                sql.push(" FROM ")
                    .ident(&m.table)
                    .push(" WHERE ")
                    .ident(&m.group_column)
                    .push(" IN ");
                sql.text_list(objects.iter().map(|o| o.id.as_str()));
                let mut by_group: BTreeMap<String, Vec<String>> = BTreeMap::new();
                for mut row in session.fetch(sql).await.map_err(|e| classify(&e))? {
                    if let (Some(member), Some(group)) = (row.pop().flatten(), row.pop().flatten())
                    {
                        by_group.entry(group).or_default().push(member);
                    }
                }
                Some(by_group)
            }
            (ObjectKind::Group, _) => Some(BTreeMap::new()),
            (ObjectKind::User, _) => None,
        };
        session.commit().await.map_err(|e| classify(&e))?;

        let full_page = objects.len() == page_size;
        after = objects.last().map(|o| o.id.clone());
        for object in objects {
            let members = members.as_mut().map(|m| {
                let mut list = m.remove(&object.id).unwrap_or_default();
                list.sort();
                list
            });
            sink(Observed { object, members })?;
        }
        if !full_page {
            return Ok(());
        }
    }
}

/// A fetched row (key, then the mapped columns as text) as an object.
fn object(
    kind: ObjectKind,
    table: &Table,
    columns: &[&String],
    row: Vec<Option<String>>,
) -> Option<Object> {
    let mut values = row.into_iter();
    let id = values.next()??;
    let attributes: BTreeMap<String, Option<Value>> = columns
        .iter()
        .zip(values)
        .map(|(c, text)| ((*c).clone(), from_text(table.columns[*c], text)))
        .collect();
    let text_of = |column: &Option<String>| match column
        .as_ref()
        .and_then(|c| attributes.get(c))
        .cloned()
        .flatten()
    {
        Some(Value::Text(s)) => Some(s),
        _ => None,
    };
    let name = text_of(&table.match_column).unwrap_or_default();
    let active = match table
        .active_column
        .as_ref()
        .and_then(|c| attributes.get(c))
        .cloned()
        .flatten()
    {
        Some(Value::Bool(b)) => b,
        Some(Value::Int(i)) => i != 0,
        _ => true,
    };
    Some(Object {
        kind,
        id,
        name,
        active,
        attributes,
    })
}
