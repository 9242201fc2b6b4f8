//! List parameters (`filter`, `sortBy`, `sortOrder`, `startIndex`, `count`, `cursor`,
//! `attributes`, `excludedAttributes`) and the ListResponse envelope. Paging is by index
//! (RFC 7644 section 3.4.2.4, the default) or, once a request carries `cursor` (empty
//! for the first page), by keyset cursor (RFC 9865).

use std::collections::HashMap;

use serde_json::{Value, json};

use super::cursor;
use super::reg;
use crate::scim::filter::{self, Filter};
use crate::scim::projection::Projection;
use crate::scim::{ResourceKind, ScimError};
use crate::store::{self, Direction, ListPage, Paging, Position, SortBy};

/// Parsed list parameters.
pub struct ListParams {
    /// The filter, validated against the registry.
    pub filter: Option<Filter>,
    /// `sortBy`/`sortOrder`, validated.
    pub sort: Option<SortBy>,
    /// Which page.
    pub paging: PageRequest,
    /// What to return of each resource.
    pub projection: Projection,
}

/// The paging a request asked for.
#[derive(Debug)]
pub enum PageRequest {
    /// `startIndex` (1-based) and `count`.
    Index {
        /// 1-based index of the first result.
        start_index: usize,
        /// Page size, capped at the provider's `max_results`.
        count: usize,
    },
    /// `cursor` (decoded; `None` for the first page) and `count`.
    Cursor {
        /// Where to continue.
        from: Option<(Position, Direction)>,
        /// Page size, capped at the provider's `max_results`.
        count: usize,
        /// What this query's cursors are bound to.
        tag: String,
    },
}

impl ListParams {
    /// The store's paging.
    pub fn store_paging(&self) -> Paging {
        match &self.paging {
            PageRequest::Index { start_index, count } => Paging::Index {
                offset: start_index - 1,
                count: *count,
            },
            PageRequest::Cursor { from, count, .. } => Paging::Cursor {
                from: from.clone(),
                count: *count,
            },
        }
    }

    /// The ListResponse for one page of this query: `startIndex` when paging by index,
    /// `nextCursor` (unless this is the last page) and `previousCursor` (unless it is
    /// the first) when paging by cursor.
    pub fn response(&self, page: &ListPage, resources: Vec<Value>) -> Value {
        match &self.paging {
            PageRequest::Index { start_index, .. } => {
                list_response(page.total, *start_index, resources)
            }
            PageRequest::Cursor { tag, .. } => {
                let mut v = json!({
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                    "totalResults": page.total,
                    "itemsPerPage": resources.len(),
                    "Resources": resources,
                });
                if page.more_after
                    && let Some(last) = &page.last
                {
                    v["nextCursor"] = Value::String(cursor::encode(tag, last, Direction::Forward));
                }
                if page.more_before
                    && let Some(first) = &page.first
                {
                    v["previousCursor"] =
                        Value::String(cursor::encode(tag, first, Direction::Backward));
                }
                v
            }
        }
    }
}

/// Query-string parameters, keys lower-cased (clients vary in case).
pub fn query_map(query: Option<&str>) -> HashMap<String, String> {
    form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .map(|(k, v)| (k.to_ascii_lowercase(), v.into_owned()))
        .collect()
}

fn integer(q: &HashMap<String, String>, key: &str, name: &str) -> Result<Option<i64>, ScimError> {
    q.get(key)
        .map(|v| {
            v.trim().parse::<i64>().map_err(|_| {
                ScimError::invalid_value(format!("{name} must be an integer, got {v:?}"))
            })
        })
        .transpose()
}

/// Reads the list parameters from a query string or a `.search` body (already
/// flattened to the same map).
pub fn params(
    q: &HashMap<String, String>,
    kind: ResourceKind,
    max_results: usize,
) -> Result<ListParams, ScimError> {
    let filter = match q.get("filter").map(|s| s.trim()).filter(|s| !s.is_empty()) {
        Some(text) => {
            let f = filter::parse_filter(text)?;
            filter::validate_query(reg(), kind, &f)?;
            Some(f)
        }
        None => None,
    };
    let sort = sort(q, kind)?;
    // RFC 7644 3.4.2.4: count < 0 is interpreted as 0; above the maximum it is capped.
    let count = integer(q, "count", "count")?
        .map(|c| c.max(0) as usize)
        .unwrap_or(max_results)
        .min(max_results);
    let paging = match q.get("cursor") {
        Some(_) if q.contains_key("startindex") => {
            return Err(ScimError::invalid_value(
                "startIndex and cursor cannot be combined: page by index or by cursor",
            ));
        }
        Some(token) => {
            let tag = cursor::query_tag(kind, filter.as_ref(), sort.as_ref());
            let from = if token.trim().is_empty() {
                None
            } else {
                Some(cursor::decode(token, &tag)?)
            };
            PageRequest::Cursor { from, count, tag }
        }
        None => PageRequest::Index {
            // RFC 7644 3.4.2.4: startIndex < 1 is interpreted as 1.
            start_index: integer(q, "startindex", "startIndex")?.unwrap_or(1).max(1) as usize,
            count,
        },
    };
    let projection = Projection::parse(
        reg(),
        kind,
        q.get("attributes").map(String::as_str),
        q.get("excludedattributes").map(String::as_str),
    )?;
    Ok(ListParams {
        filter,
        sort,
        paging,
        projection,
    })
}

/// `sortBy` and `sortOrder`. An unknown or unsortable attribute, or an order other than
/// `ascending`/`descending` (any case), is 400 invalidValue: RFC 7644 names no keyword
/// for it, and the value is well-formed but names nothing this resource type sorts by
/// (invalidSyntax is about the request's structure, invalidFilter about `filter`).
fn sort(q: &HashMap<String, String>, kind: ResourceKind) -> Result<Option<SortBy>, ScimError> {
    let descending = match q.get("sortorder").map(|s| s.trim()) {
        None | Some("") => false,
        Some(o) if o.eq_ignore_ascii_case("ascending") => false,
        Some(o) if o.eq_ignore_ascii_case("descending") => true,
        Some(o) => {
            return Err(ScimError::invalid_value(format!(
                "sortOrder must be \"ascending\" or \"descending\", got {o:?}"
            )));
        }
    };
    let Some(text) = q.get("sortby").map(|s| s.trim()).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let path = filter::parse_attr_path(text).map_err(|e| {
        ScimError::invalid_value(format!("sortBy {text:?} is not an attribute path {e}"))
    })?;
    store::check_sort(kind, &path)?;
    Ok(Some(SortBy { path, descending }))
}

/// The ListResponse envelope of index paging.
pub fn list_response(total: usize, start_index: usize, resources: Vec<Value>) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::ScimType;

    fn q(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn error(pairs: &[(&str, &str)], kind: ResourceKind) -> ScimError {
        match params(&q(pairs), kind, 100) {
            Ok(_) => panic!("{pairs:?} was accepted"),
            Err(e) => e,
        }
    }

    #[test]
    fn sort_parameters_are_checked() {
        let p = params(
            &q(&[("sortby", "name.familyName"), ("sortorder", "DESCENDING")]),
            ResourceKind::User,
            10,
        )
        .unwrap();
        let s = p.sort.unwrap();
        assert!(s.descending);
        assert_eq!(s.path.to_string(), "name.familyName");
        for bad in [
            vec![("sortby", "nope")],
            vec![("sortby", "name")],
            vec![("sortby", "password")],
            vec![("sortby", "userName"), ("sortorder", "up")],
            vec![("sortby", "a b")],
        ] {
            let e = error(&bad, ResourceKind::User);
            assert_eq!(e.scim_type, Some(ScimType::InvalidValue), "{bad:?}");
        }
        assert!(params(&q(&[("sortby", "emails")]), ResourceKind::User, 10).is_ok());
        error(&[("sortby", "userName")], ResourceKind::Group);
    }

    #[test]
    fn paging_is_by_index_unless_a_cursor_is_sent() {
        let p = params(
            &q(&[("count", "5000"), ("startindex", "0")]),
            ResourceKind::User,
            100,
        )
        .unwrap();
        assert!(matches!(
            p.paging,
            PageRequest::Index {
                start_index: 1,
                count: 100
            }
        ));
        let p = params(
            &q(&[("cursor", ""), ("count", "7")]),
            ResourceKind::User,
            100,
        )
        .unwrap();
        assert!(matches!(
            p.paging,
            PageRequest::Cursor {
                from: None,
                count: 7,
                ..
            }
        ));
        error(&[("cursor", ""), ("startindex", "1")], ResourceKind::User);
        let e = error(&[("cursor", "xyz")], ResourceKind::User);
        assert_eq!(e.scim_type, Some(ScimType::InvalidCursor));
    }
}
