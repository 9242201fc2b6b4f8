//! Membership rows: added, removed or set for a group scimd owns, costing
//! O(members named) whatever the group's size. Rows of groups scimd does not
//! own are never touched.

use std::collections::BTreeSet;

use scimd_backend::{BackendError, Change, MemberRef, ObjectKind};

use crate::config::MembershipsTable;
use crate::pool::Session;
use crate::sql::Sql;
use crate::write::{IN_CHUNK, Writer};

pub(crate) async fn run(
    w: &Writer<'_>,
    session: &mut dyn Session,
    change: &Change,
    group: &str,
    members: &[MemberRef],
) -> Result<Result<(), BackendError>, sqlx::Error> {
    let (groups, m) = match (w.table(ObjectKind::Group), &w.schema.memberships) {
        (Ok(g), Some(m)) => (g, m),
        (Err(e), _) => return Ok(Err(e)),
        (_, None) => {
            return Ok(Err(BackendError::permanent(
                "this SQL target has no [memberships] table configured",
            )));
        }
    };
    match w.ownership(session, groups, group).await? {
        None => {
            return Ok(Err(BackendError::permanent(format!(
                "group {group:?} is not in {}: write the group before its members",
                groups.name
            ))));
        }
        Some(false) => {
            return Ok(Err(BackendError::conflict(format!(
                "{} row {group:?} is not owned by scimd; its members stay as they are",
                groups.name
            ))));
        }
        Some(true) => {}
    }
    let wanted: BTreeSet<&str> = members.iter().map(|m| m.id.as_str()).collect();
    match change {
        Change::AddMembers { .. } => {
            let present = present(w, session, m, group, Some(&wanted)).await?;
            let present: BTreeSet<&str> = present.iter().map(String::as_str).collect();
            insert(
                w,
                session,
                m,
                group,
                wanted.difference(&present).copied().collect(),
            )
            .await?;
        }
        Change::RemoveMembers { .. } => {
            delete(w, session, m, group, wanted.iter().copied()).await?
        }
        Change::SetMembers { .. } => {
            let present = present(w, session, m, group, None).await?;
            let present: BTreeSet<&str> = present.iter().map(String::as_str).collect();
            delete(w, session, m, group, present.difference(&wanted).copied()).await?;
            insert(
                w,
                session,
                m,
                group,
                wanted.difference(&present).copied().collect(),
            )
            .await?;
        }
        _ => unreachable!("membership changes only"),
    }
    Ok(Ok(()))
}

/// The group's members among `among` (all of them for `None`).
async fn present(
    w: &Writer<'_>,
    session: &mut dyn Session,
    m: &MembershipsTable,
    group: &str,
    among: Option<&BTreeSet<&str>>,
) -> Result<BTreeSet<String>, sqlx::Error> {
    let query = |chunk: Option<&[&str]>| {
        let mut sql = Sql::new(w.dialect);
        sql.push("SELECT ")
            .as_text(&m.member_column)
            .push(" FROM ")
            .ident(&m.table);
        sql.push(" WHERE ")
            .ident(&m.group_column)
            .push(" = ")
            .text(group);
        if let Some(chunk) = chunk {
            sql.push(" AND ")
                .ident(&m.member_column)
                .push(" IN ")
                .text_list(chunk.iter().copied());
        }
        sql
    };
    let mut found = BTreeSet::new();
    let statements: Vec<Sql> = match among {
        None => vec![query(None)],
        Some(ids) => ids
            .iter()
            .copied()
            .collect::<Vec<_>>()
            .chunks(IN_CHUNK)
            .map(|c| query(Some(c)))
            .collect(),
    };
    for sql in statements {
        found.extend(
            session
                .fetch(sql)
                .await?
                .into_iter()
                .filter_map(|mut r| r.pop().flatten()),
        );
    }
    Ok(found)
}

async fn insert(
    w: &Writer<'_>,
    session: &mut dyn Session,
    m: &MembershipsTable,
    group: &str,
    ids: Vec<&str>,
) -> Result<(), sqlx::Error> {
    for chunk in ids.chunks(IN_CHUNK) {
        let mut sql = Sql::new(w.dialect);
        sql.push("INSERT INTO ")
            .ident(&m.table)
            .push(" (")
            .ident(&m.group_column)
            .push(", ");
        sql.ident(&m.member_column).push(") VALUES ");
        for (i, id) in chunk.iter().enumerate() {
            sql.push(if i == 0 { "(" } else { ", (" })
                .text(group)
                .push(", ")
                .text(id)
                .push(")");
        }
        session.execute(sql).await?;
    }
    Ok(())
}

async fn delete<'a>(
    w: &Writer<'_>,
    session: &mut dyn Session,
    m: &MembershipsTable,
    group: &str,
    ids: impl Iterator<Item = &'a str>,
) -> Result<(), sqlx::Error> {
    let ids: Vec<&str> = ids.collect();
    for chunk in ids.chunks(IN_CHUNK) {
        let mut sql = Sql::new(w.dialect);
        sql.push("DELETE FROM ")
            .ident(&m.table)
            .push(" WHERE ")
            .ident(&m.group_column)
            .push(" = ")
            .text(group);
        sql.push(" AND ")
            .ident(&m.member_column)
            .push(" IN ")
            .text_list(chunk.iter().copied());
        session.execute(sql).await?;
    }
    Ok(())
}

/// Removes `member` from every group scimd owns (it was deleted or released).
pub(crate) async fn forget_member(
    w: &Writer<'_>,
    session: &mut dyn Session,
    member: &str,
) -> Result<(), sqlx::Error> {
    let (Some(groups), Some(m)) = (&w.schema.groups, &w.schema.memberships) else {
        return Ok(());
    };
    let mut sql = Sql::new(w.dialect);
    sql.push("DELETE FROM ")
        .ident(&m.table)
        .push(" WHERE ")
        .ident(&m.member_column)
        .push(" = ")
        .text(member);
    sql.push(" AND ")
        .ident(&m.group_column)
        .push(" IN (SELECT ")
        .ident(&groups.key)
        .push(" FROM ");
    sql.ident(&groups.name)
        .push(" WHERE ")
        .ident(&groups.owner)
        .push(" = ")
        .text(&w.config.owner_value)
        .push(")");
    session.execute(sql).await.map(drop)
}

/// Removes every member of a group scimd owns (checked by the caller).
pub(crate) async fn clear(
    w: &Writer<'_>,
    session: &mut dyn Session,
    group: &str,
) -> Result<(), sqlx::Error> {
    let Some(m) = &w.schema.memberships else {
        return Ok(());
    };
    let mut sql = Sql::new(w.dialect);
    sql.push("DELETE FROM ")
        .ident(&m.table)
        .push(" WHERE ")
        .ident(&m.group_column)
        .push(" = ")
        .text(group);
    session.execute(sql).await.map(drop)
}
