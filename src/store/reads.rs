//! Read paths that are hot enough to deserve one round trip: a User with its groups.

/// Implements the combined reads for one sqlx connection type (same SQL on both engines).
macro_rules! impl_reads {
    ($conn:ty) => {
        /// A user and the groups it is a direct member of, in one statement.
        pub(super) async fn user_with_groups(
            c: &mut $conn,
            provider: &str,
            id: &str,
        ) -> Result<Option<(crate::store::StoredResource, Vec<crate::store::GroupRef>)>, crate::store::StoreError>
        {
            use sqlx::Row;
            let rows = sqlx::query(
                "SELECT 0 AS part, id, kind, data, version, created, last_modified FROM resources \
                 WHERE provider = $1 AND id = $2 AND kind = 'User' \
                 UNION ALL \
                 SELECT 1 AS part, m.group_id AS id, 'Group' AS kind, g.display AS data, 0 AS version, \
                 '' AS created, '' AS last_modified FROM members m \
                 JOIN resources g ON g.provider = m.provider AND g.id = m.group_id \
                 WHERE m.provider = $1 AND m.member_id = $2 \
                 ORDER BY part, id",
            )
            .bind(provider)
            .bind(id)
            .fetch_all(&mut *c)
            .await?;
            let mut user = None;
            let mut groups = Vec::new();
            for row in &rows {
                let part: i32 = row.try_get::<i64, _>("part").map(|p| p as i32).or_else(|_| row.try_get("part"))?;
                if part == 0 {
                    user = Some(crate::store::logic::decode_resource(row)?);
                } else {
                    groups.push(crate::store::GroupRef { id: row.try_get("id")?, display: row.try_get("data")? });
                }
            }
            Ok(user.map(|u| (u, groups)))
        }
    };
}

pub(super) use impl_reads;
