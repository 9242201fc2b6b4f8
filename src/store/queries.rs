//! The SQL both engines run. The statements are the same text on SQLite and PostgreSQL
//! (`$N` placeholders, `ON CONFLICT`, `RETURNING`), so one macro implements the
//! transaction interface for each connection type. Identifiers are fixed here; every
//! value is a bind.

/// Rows per multi-row statement (well under SQLite's and PostgreSQL's bind limits).
pub(super) const CHUNK: usize = 200;

/// `($a,$b,$c),($d,$e,$f)...` for `rows` rows of `width` binds starting after `first - 1`.
pub(super) fn value_tuples(first: usize, rows: usize, width: usize) -> String {
    let mut out = String::with_capacity(rows * width * 5);
    let mut n = first;
    for r in 0..rows {
        if r > 0 {
            out.push(',');
        }
        out.push('(');
        for c in 0..width {
            if c > 0 {
                out.push(',');
            }
            out.push('$');
            out.push_str(&n.to_string());
            n += 1;
        }
        out.push(')');
    }
    out
}

/// `$a,$b,...` for an `IN` list.
pub(super) fn bind_list(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Implements `logic::Tx` for a transaction wrapper over one sqlx connection type.
/// `$lock` is appended to the row read of an update (`FOR UPDATE` on PostgreSQL);
/// `$dialect` is what list queries are written in.
macro_rules! impl_tx {
    ($tx:ident, $conn:ty, $lock:literal, $dialect:expr) => {
        /// A unit of work on one connection, inside a transaction the engine opened.
        pub(super) struct $tx<'c> {
            pub(super) conn: &'c mut $conn,
        }

        #[async_trait::async_trait]
        impl crate::store::logic::Tx for $tx<'_> {
            async fn get(
                &mut self,
                provider: &str,
                kind: crate::scim::ResourceKind,
                id: &str,
                lock: bool,
            ) -> Result<Option<crate::store::StoredResource>, crate::store::StoreError> {
                let q = if lock {
                    concat!(
                        "SELECT id, kind, data, version, created, last_modified FROM resources ",
                        "WHERE provider = $1 AND id = $2 AND kind = $3 ",
                        $lock
                    )
                } else {
                    "SELECT id, kind, data, version, created, last_modified FROM resources \
                     WHERE provider = $1 AND id = $2 AND kind = $3"
                };
                let row = sqlx::query(sqlx::AssertSqlSafe(q))
                    .bind(provider)
                    .bind(id)
                    .bind(kind.as_str())
                    .fetch_optional(&mut *self.conn)
                    .await?;
                row.map(|r| crate::store::logic::decode_resource(&r)).transpose()
            }

            async fn get_many(
                &mut self,
                provider: &str,
                ids: &[String],
            ) -> Result<Vec<crate::store::StoredResource>, crate::store::StoreError> {
                let mut found = Vec::with_capacity(ids.len());
                for chunk in ids.chunks(crate::store::queries::CHUNK) {
                    let sql = format!(
                        "SELECT id, kind, data, version, created, last_modified FROM resources \
                         WHERE provider = $1 AND id IN ({})",
                        crate::store::queries::bind_list(2, chunk.len())
                    );
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(provider);
                    for id in chunk {
                        q = q.bind(id);
                    }
                    for row in q.fetch_all(&mut *self.conn).await? {
                        found.push(crate::store::logic::decode_resource(&row)?);
                    }
                }
                Ok(found)
            }

            async fn owner_of_name(
                &mut self,
                provider: &str,
                kind: crate::scim::ResourceKind,
                name_key: &str,
            ) -> Result<Option<String>, crate::store::StoreError> {
                let row: Option<(String,)> =
                    sqlx::query_as("SELECT id FROM resources WHERE provider = $1 AND kind = $2 AND name_key = $3")
                        .bind(provider)
                        .bind(kind.as_str())
                        .bind(name_key)
                        .fetch_optional(&mut *self.conn)
                        .await?;
                Ok(row.map(|r| r.0))
            }

            async fn owner_of_external_id(
                &mut self,
                provider: &str,
                kind: crate::scim::ResourceKind,
                external_id: &str,
            ) -> Result<Option<String>, crate::store::StoreError> {
                let row: Option<(String,)> =
                    sqlx::query_as("SELECT id FROM resources WHERE provider = $1 AND kind = $2 AND external_id = $3")
                        .bind(provider)
                        .bind(kind.as_str())
                        .bind(external_id)
                        .fetch_optional(&mut *self.conn)
                        .await?;
                Ok(row.map(|r| r.0))
            }

            async fn insert(
                &mut self,
                provider: &str,
                row: &crate::store::logic::Row<'_>,
            ) -> Result<(), crate::store::StoreError> {
                sqlx::query(
                    "INSERT INTO resources (provider, id, kind, name_key, external_id, display, data, version, \
                     created, last_modified) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                )
                .bind(provider)
                .bind(row.id)
                .bind(row.kind.as_str())
                .bind(&row.name_key)
                .bind(&row.external_id)
                .bind(&row.display)
                .bind(&row.data)
                .bind(row.version)
                .bind(&row.created)
                .bind(&row.last_modified)
                .execute(&mut *self.conn)
                .await
                .map_err(crate::store::logic::unique_violation)?;
                Ok(())
            }

            async fn update(
                &mut self,
                provider: &str,
                row: &crate::store::logic::Row<'_>,
            ) -> Result<(), crate::store::StoreError> {
                sqlx::query(
                    "UPDATE resources SET name_key = $3, external_id = $4, display = $5, data = $6, version = $7, \
                     last_modified = $8 WHERE provider = $1 AND id = $2",
                )
                .bind(provider)
                .bind(row.id)
                .bind(&row.name_key)
                .bind(&row.external_id)
                .bind(&row.display)
                .bind(&row.data)
                .bind(row.version)
                .bind(&row.last_modified)
                .execute(&mut *self.conn)
                .await
                .map_err(crate::store::logic::unique_violation)?;
                Ok(())
            }

            async fn touch(
                &mut self,
                provider: &str,
                id: &str,
                last_modified: &str,
            ) -> Result<(), crate::store::StoreError> {
                sqlx::query(
                    "UPDATE resources SET version = version + 1, last_modified = $3 WHERE provider = $1 AND id = $2",
                )
                .bind(provider)
                .bind(id)
                .bind(last_modified)
                .execute(&mut *self.conn)
                .await?;
                Ok(())
            }

            async fn delete(&mut self, provider: &str, id: &str) -> Result<(), crate::store::StoreError> {
                sqlx::query("DELETE FROM resources WHERE provider = $1 AND id = $2")
                    .bind(provider)
                    .bind(id)
                    .execute(&mut *self.conn)
                    .await?;
                Ok(())
            }

            async fn kinds_of(
                &mut self,
                provider: &str,
                ids: &[String],
            ) -> Result<std::collections::HashMap<String, crate::scim::ResourceKind>, crate::store::StoreError> {
                let mut found = std::collections::HashMap::new();
                for chunk in ids.chunks(crate::store::queries::CHUNK) {
                    let sql = format!(
                        // `kind IN` lets the (provider, kind, id) index seek on every id.
                        "SELECT id, kind FROM resources WHERE provider = $1 AND kind IN ('User', 'Group') \
                         AND id IN ({})",
                        crate::store::queries::bind_list(2, chunk.len())
                    );
                    let mut q = sqlx::query_as::<_, (String, String)>(sqlx::AssertSqlSafe(sql)).bind(provider);
                    for id in chunk {
                        q = q.bind(id);
                    }
                    for (id, kind) in q.fetch_all(&mut *self.conn).await? {
                        found.insert(id, crate::store::logic::decode_kind(&kind)?);
                    }
                }
                Ok(found)
            }

            async fn add_members(
                &mut self,
                provider: &str,
                group_id: &str,
                members: &[(String, crate::scim::ResourceKind)],
            ) -> Result<Vec<String>, crate::store::StoreError> {
                let mut added = Vec::new();
                for chunk in members.chunks(crate::store::queries::CHUNK) {
                    let sql = format!(
                        "INSERT INTO members (provider, group_id, member_id, member_kind) VALUES {} \
                         ON CONFLICT DO NOTHING RETURNING member_id",
                        crate::store::queries::value_tuples(1, chunk.len(), 4)
                    );
                    let mut q = sqlx::query_as::<_, (String,)>(sqlx::AssertSqlSafe(sql));
                    for (id, kind) in chunk {
                        q = q.bind(provider).bind(group_id).bind(id).bind(kind.as_str());
                    }
                    added.extend(q.fetch_all(&mut *self.conn).await?.into_iter().map(|r| r.0));
                }
                Ok(added)
            }

            async fn remove_members(
                &mut self,
                provider: &str,
                group_id: &str,
                ids: &[String],
            ) -> Result<Vec<(String, crate::scim::ResourceKind)>, crate::store::StoreError> {
                let mut removed = Vec::new();
                for chunk in ids.chunks(crate::store::queries::CHUNK) {
                    let sql = format!(
                        "DELETE FROM members WHERE provider = $1 AND group_id = $2 AND member_id IN ({}) \
                         RETURNING member_id, member_kind",
                        crate::store::queries::bind_list(3, chunk.len())
                    );
                    let mut q = sqlx::query_as::<_, (String, String)>(sqlx::AssertSqlSafe(sql))
                        .bind(provider)
                        .bind(group_id);
                    for id in chunk {
                        q = q.bind(id);
                    }
                    for (id, kind) in q.fetch_all(&mut *self.conn).await? {
                        removed.push((id, crate::store::logic::decode_kind(&kind)?));
                    }
                }
                Ok(removed)
            }

            async fn member_ids(
                &mut self,
                provider: &str,
                group_id: &str,
            ) -> Result<Vec<(String, crate::scim::ResourceKind)>, crate::store::StoreError> {
                let rows: Vec<(String, String)> = sqlx::query_as(
                    "SELECT member_id, member_kind FROM members WHERE provider = $1 AND group_id = $2 \
                     ORDER BY member_id",
                )
                .bind(provider)
                .bind(group_id)
                .fetch_all(&mut *self.conn)
                .await?;
                rows.into_iter().map(|(id, k)| Ok((id, crate::store::logic::decode_kind(&k)?))).collect()
            }

            async fn members_with_display(
                &mut self,
                provider: &str,
                group_id: &str,
            ) -> Result<Vec<crate::store::Member>, crate::store::StoreError> {
                let rows: Vec<(String, String, String)> = sqlx::query_as(
                    "SELECT m.member_id, m.member_kind, r.display FROM members m \
                     JOIN resources r ON r.provider = m.provider AND r.id = m.member_id \
                     WHERE m.provider = $1 AND m.group_id = $2 ORDER BY m.member_id",
                )
                .bind(provider)
                .bind(group_id)
                .fetch_all(&mut *self.conn)
                .await?;
                rows.into_iter()
                    .map(|(id, k, display)| {
                        Ok(crate::store::Member { id, kind: crate::store::logic::decode_kind(&k)?, display })
                    })
                    .collect()
            }

            async fn groups_of(
                &mut self,
                provider: &str,
                member_id: &str,
            ) -> Result<Vec<crate::store::GroupRef>, crate::store::StoreError> {
                let rows: Vec<(String, String)> = sqlx::query_as(
                    "SELECT m.group_id, r.display FROM members m \
                     JOIN resources r ON r.provider = m.provider AND r.id = m.group_id \
                     WHERE m.provider = $1 AND m.member_id = $2 ORDER BY m.group_id",
                )
                .bind(provider)
                .bind(member_id)
                .fetch_all(&mut *self.conn)
                .await?;
                Ok(rows.into_iter().map(|(id, display)| crate::store::GroupRef { id, display }).collect())
            }

            async fn clear_members(&mut self, provider: &str, group_id: &str) -> Result<(), crate::store::StoreError> {
                sqlx::query("DELETE FROM members WHERE provider = $1 AND group_id = $2")
                    .bind(provider)
                    .bind(group_id)
                    .execute(&mut *self.conn)
                    .await?;
                Ok(())
            }

            async fn append_journal(
                &mut self,
                provider: &str,
                kind: crate::scim::ResourceKind,
                resource_id: &str,
                op: &str,
                body: &str,
                at: &str,
            ) -> Result<(), crate::store::StoreError> {
                // PostgreSQL hands out sequence numbers at insert but transactions commit
                // in any order, so a worker that read up to seq N could later miss a lower
                // seq committed after it read. A per-provider transaction lock taken before
                // the number is drawn makes journal commits of one provider happen in seq
                // order (it is held only from the journal insert, the tail of a mutation, to
                // commit). SQLite has one writer at a time and needs nothing.
                let sql = match $dialect {
                    crate::store::sql::Dialect::Postgres => {
                        "INSERT INTO journal (provider, kind, resource_id, op, body, at) \
                         SELECT $1, $2, $3, $4, $5, $6 FROM (SELECT pg_advisory_xact_lock($7, hashtext($1))) AS journal_lock"
                    }
                    crate::store::sql::Dialect::Sqlite => {
                        "INSERT INTO journal (provider, kind, resource_id, op, body, at) VALUES ($1, $2, $3, $4, $5, $6)"
                    }
                };
                let mut q = sqlx::query(sql)
                    .bind(provider)
                .bind(kind.as_str())
                .bind(resource_id)
                .bind(op)
                .bind(body)
                .bind(at);
                if $dialect == crate::store::sql::Dialect::Postgres {
                    q = q.bind(crate::store::JOURNAL_LOCK_CLASS);
                }
                q.execute(&mut *self.conn).await?;
                Ok(())
            }

            async fn journal(
                &mut self,
                provider: &str,
                after_seq: i64,
                limit: i64,
            ) -> Result<Vec<crate::store::JournalEntry>, crate::store::StoreError> {
                let rows: Vec<(i64, String, String, String, String)> = sqlx::query_as(
                    "SELECT seq, kind, resource_id, op, body FROM journal WHERE provider = $1 AND seq > $2 \
                     ORDER BY seq LIMIT $3",
                )
                .bind(provider)
                .bind(after_seq)
                .bind(limit)
                .fetch_all(&mut *self.conn)
                .await?;
                rows.into_iter()
                    .map(|(seq, kind, resource_id, op, body)| {
                        Ok(crate::store::JournalEntry {
                            seq,
                            kind: crate::store::logic::decode_kind(&kind)?,
                            resource_id,
                            op,
                            body: serde_json::from_str(&body)
                                .map_err(|e| crate::store::StoreError::Internal(format!("journal {seq}: {e}")))?,
                        })
                    })
                    .collect()
            }

            fn dialect(&self) -> crate::store::sql::Dialect {
                $dialect
            }

            async fn counts(&mut self, sql: &crate::store::sql::Sql) -> Result<(i64, i64), crate::store::StoreError> {
                let sql = &sql.compact();
                let mut q = sqlx::query_as::<_, (i64, i64)>(sqlx::AssertSqlSafe(sql.text.clone()));
                for b in &sql.binds {
                    q = match b {
                        crate::store::sql::Bind::Text(s) => q.bind(s.clone()),
                        crate::store::sql::Bind::Int(i) => q.bind(*i),
                    };
                }
                Ok(q.fetch_one(&mut *self.conn).await?)
            }

            async fn rows(
                &mut self,
                sql: &crate::store::sql::Sql,
            ) -> Result<Vec<(crate::store::StoredResource, Option<String>)>, crate::store::StoreError> {
                use sqlx::Row as _;
                let sql = &sql.compact();
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.text.clone()));
                for b in &sql.binds {
                    q = match b {
                        crate::store::sql::Bind::Text(s) => q.bind(s.clone()),
                        crate::store::sql::Bind::Int(i) => q.bind(*i),
                    };
                }
                let rows = q.fetch_all(&mut *self.conn).await?;
                rows.iter()
                    .map(|r| {
                        let key: Option<String> = r.try_get("sort_key")?;
                        Ok((crate::store::logic::decode_resource(r)?, key))
                    })
                    .collect()
            }
        }
    };
}

pub(super) use impl_tx;
