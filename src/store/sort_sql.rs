//! `sortBy` in SQL (RFC 7644 section 3.4.2.3): the sort key of each row as text (NULL
//! when the resource has no value), the `ORDER BY` that puts missing values last in
//! ascending order (first in descending, the exact reverse), `id` as the tie-break so
//! the order is total and stable across pages, and keyset conditions for cursors.
//!
//! Keys: `userName` and Group `displayName` use the Unicode-lower-cased `name_key`;
//! other case-insensitive strings are lower-cased ASCII-only (both engines agree, and
//! so do cursors; `É` and `é` then sort apart). caseExact strings sort by code point,
//! booleans `false` before `true`, `meta.created`/`lastModified` by instant,
//! `meta.version` by number, `meta.location` like `id`. A multi-valued attribute sorts by
//! its primary value, else its first (`emails` means `emails.value`).

use super::filter_sql::Expr;
use super::sql::{Dialect, JsonAt, Sql, doc, safe_name};
use super::types::Position;
use crate::scim::ScimError;
use crate::scim::filter::AttrPath;
use crate::scim::schema::{AttrType, AttributeDef, Registry, Resolved, ResourceKind, Returned};

/// The SQL of a sort key.
#[derive(Debug, Clone)]
pub(crate) struct SortKey {
    /// A text expression, NULL when missing; `None` sorts by id alone.
    expr: Option<String>,
    /// Whether the key can be NULL.
    nullable: bool,
    /// Whether it reads the JSON data.
    pub json: bool,
}

fn invalid(path: &AttrPath, why: &str) -> ScimError {
    ScimError::invalid_value(format!("sortBy \"{path}\": {why}"))
}

impl SortKey {
    /// Id order.
    pub fn by_id() -> SortKey {
        SortKey {
            expr: None,
            nullable: false,
            json: false,
        }
    }

    /// The key of `path` for resources of `kind`, or 400 invalidValue saying why not.
    pub fn resolve(
        reg: &Registry,
        kind: ResourceKind,
        path: &AttrPath,
        d: Dialect,
    ) -> Result<SortKey, ScimError> {
        let r = reg
            .resolve(kind, path.urn.as_deref(), &path.name, path.sub.as_deref())
            .ok_or_else(|| invalid(path, &format!("{}s have no such attribute", kind.as_str())))?;
        if r.leaf().returned == Returned::Never || r.attr.returned == Returned::Never {
            return Err(invalid(path, "this attribute is never returned"));
        }
        if reg.common().iter().any(|a| std::ptr::eq(a, r.attr)) {
            return common(kind, &r, path, d);
        }
        let is_name_key = !r.extension
            && r.sub.is_none()
            && match kind {
                ResourceKind::User => r.attr.name == "userName",
                ResourceKind::Group => r.attr.name == "displayName",
            };
        if is_name_key {
            return Ok(column("r.name_key", false));
        }
        let mut keys = Vec::new();
        if r.extension {
            keys.extend(r.schema);
        }
        keys.push(r.attr.name);
        let at = |keys: Vec<&'static str>| JsonAt {
            doc: doc(d).to_owned(),
            keys,
            element_of: None,
        };
        let expr = match (r.attr.multi_valued, r.attr.ty, r.sub) {
            (false, AttrType::Complex, None) => {
                return Err(invalid(
                    path,
                    "it is complex; sort by one of its sub-attributes",
                ));
            }
            (false, AttrType::Complex, Some(sub)) => {
                keys.push(sub.name);
                value_key(&at(keys), sub, d)
            }
            (false, _, _) => value_key(&at(keys), r.attr, d),
            (true, AttrType::Complex, sub) => {
                let sub = sub
                    .or_else(|| r.attr.sub("value"))
                    .ok_or_else(|| invalid(path, "name one of its sub-attributes"))?;
                first_value_key(&at(keys), sub, d)
            }
            (true, _, _) => None,
        };
        let expr = expr.filter(|_| {
            r.schema.is_none_or(safe_name)
                && safe_name(r.attr.name)
                && r.sub.is_none_or(|s| safe_name(s.name))
        });
        match expr {
            Some(expr) => Ok(SortKey {
                expr: Some(expr),
                nullable: true,
                json: true,
            }),
            None => Err(invalid(
                path,
                "scimd sorts by string, reference, binary, boolean and dateTime attributes",
            )),
        }
    }

    /// The key as a selected column (`sort_key`), text or NULL.
    pub fn select(&self) -> String {
        match &self.expr {
            Some(e) => format!("{e} AS sort_key"),
            None => "CAST(NULL AS TEXT) AS sort_key".to_owned(),
        }
    }

    /// `ORDER BY ...` in ascending order, or its exact reverse.
    pub fn order_by(&self, sql: &Sql, descending: bool) -> String {
        let dir = if descending { " DESC" } else { "" };
        let id = sql.bytewise("r.id");
        match &self.expr {
            None => format!(" ORDER BY {id}{dir}"),
            Some(e) => {
                let k = sql.bytewise(e);
                let nulls = if self.nullable {
                    format!("({e}) IS NULL{dir}, ")
                } else {
                    String::new()
                };
                format!(" ORDER BY {nulls}{k}{dir}, {id}{dir}")
            }
        }
    }

    /// Rows after (`after = true`) or before `pos` in ascending order.
    pub fn beyond(&self, sql: &mut Sql, pos: &Position, after: bool) -> Result<Expr, ScimError> {
        let (cmp, null_side) = if after {
            (">", "IS NULL")
        } else {
            ("<", "IS NOT NULL")
        };
        let id_p = sql.text(pos.id.clone());
        let id = format!("{} {cmp} {id_p}", sql.bytewise("r.id"));
        let Some(e) = &self.expr else {
            return Ok(Expr::Sql(format!("({id})")));
        };
        let k = sql.bytewise(e);
        let bad = || {
            ScimError::bad_request(
                crate::scim::ScimType::InvalidCursor,
                "the cursor does not fit this sortBy; start again without a cursor",
            )
        };
        let tail = match &pos.key {
            Some(v) => {
                let v = sql.text(v.clone());
                format!("({k} {cmp} {v} OR ({k} = {v} AND {id}))")
            }
            None if !self.nullable => return Err(bad()),
            None => {
                // Missing values sort last: after one come only other missing values.
                return Ok(Expr::Sql(if after {
                    format!("(({e}) IS NULL AND {id})")
                } else {
                    format!("(({e}) IS NOT NULL OR {id})")
                }));
            }
        };
        Ok(Expr::Sql(if !self.nullable {
            tail
        } else if after {
            format!("(({e}) {null_side} OR {tail})")
        } else {
            format!("(({e}) {null_side} AND {tail})")
        }))
    }
}

fn column(col: &str, nullable: bool) -> SortKey {
    SortKey {
        expr: Some(col.to_owned()),
        nullable,
        json: false,
    }
}

/// `id`, `externalId`, `meta.*`.
fn common(
    kind: ResourceKind,
    r: &Resolved<'_>,
    path: &AttrPath,
    d: Dialect,
) -> Result<SortKey, ScimError> {
    Ok(match (r.attr.name, r.sub.map(|s| s.name)) {
        ("id", None) | ("meta", Some("location")) => SortKey::by_id(),
        ("externalId", None) => column("r.external_id", true),
        ("meta", Some("created")) => column("r.created", false),
        ("meta", Some("lastModified")) => column("r.last_modified", false),
        ("meta", Some("version")) => column(
            match d {
                Dialect::Sqlite => "printf('%020d', r.version)",
                Dialect::Postgres => "lpad(r.version::text, 20, '0')",
            },
            false,
        ),
        ("meta", Some("resourceType")) => column(
            match kind {
                ResourceKind::User => "'User'",
                ResourceKind::Group => "'Group'",
            },
            false,
        ),
        _ => {
            return Err(invalid(
                path,
                "it is complex; sort by one of its sub-attributes",
            ));
        }
    })
}

/// The key text of one JSON value of attribute `leaf`, NULL unless of its type.
fn value_key(at: &JsonAt, leaf: &AttributeDef, d: Dialect) -> Option<String> {
    let ty = at.json_type(d);
    let text = at.text(d);
    match leaf.ty {
        AttrType::String | AttrType::Reference | AttrType::Binary => {
            let folded = if leaf.case_exact {
                text
            } else {
                Sql::new(d).ascii_lower(&text)
            };
            Some(format!("(CASE WHEN {ty} = 'text' THEN {folded} END)"))
        }
        AttrType::Boolean => Some(format!(
            "(CASE WHEN {ty} IN ('true', 'false') THEN {ty} END)"
        )),
        _ => None,
    }
}

/// The key of the primary element of a multi-valued attribute, else of its first.
fn first_value_key(at: &JsonAt, sub: &AttributeDef, d: Dialect) -> Option<String> {
    let alias = "s";
    let (from, _) = at.elements(d, alias);
    let inner = value_key(&JsonAt::in_element(d, alias, sub.name), sub, d)?;
    let primary = JsonAt::in_element(d, alias, "primary").json_type(d);
    let position = JsonAt::element_order(d, alias);
    let ty = at.json_type(d);
    Some(format!(
        "(CASE WHEN {ty} = 'array' THEN (SELECT {inner} FROM {from} \
         ORDER BY CASE WHEN {primary} = 'true' THEN 0 ELSE 1 END, {position} LIMIT 1) END)"
    ))
}
