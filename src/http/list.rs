//! List parameters (`filter`, `startIndex`, `count`, `attributes`,
//! `excludedAttributes`) and the split of a filter into what SQL can answer from
//! indexed columns and what is evaluated in Rust.

use std::collections::HashMap;

use serde_json::Value;

use super::reg;
use crate::scim::filter::{self, CompValue, CompareOp, Filter};
use crate::scim::projection::Projection;
use crate::scim::{ResourceKind, ScimError};
use crate::store::IndexedFilter;

/// Parsed list parameters.
pub struct ListParams {
    /// The filter, validated against the registry.
    pub filter: Option<Filter>,
    /// 1-based index of the first result.
    pub start_index: usize,
    /// Page size, capped at the provider's `max_results`.
    pub count: usize,
    /// What to return of each resource.
    pub projection: Projection,
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
    // RFC 7644 3.4.2.4: startIndex < 1 is interpreted as 1; count < 0 as 0.
    let start_index = integer(q, "startindex", "startIndex")?.unwrap_or(1).max(1) as usize;
    let count = integer(q, "count", "count")?
        .map(|c| c.max(0) as usize)
        .unwrap_or(max_results)
        .min(max_results);
    let projection = Projection::parse(
        reg(),
        kind,
        q.get("attributes").map(String::as_str),
        q.get("excludedattributes").map(String::as_str),
    )?;
    Ok(ListParams {
        filter,
        start_index,
        count,
        projection,
    })
}

fn conjuncts<'a>(f: &'a Filter, out: &mut Vec<&'a Filter>) {
    match f {
        Filter::And(a, b) => {
            conjuncts(a, out);
            conjuncts(b, out);
        }
        other => out.push(other),
    }
}

/// Which indexed column an `attr eq "string"` conjunct constrains, with the value
/// as the column holds it.
fn indexed_column(kind: ResourceKind, f: &Filter) -> Option<(&'static str, String)> {
    let Filter::Compare {
        path,
        op: CompareOp::Eq,
        value: CompValue::Str(v),
    } = f
    else {
        return None;
    };
    if path.sub.is_some() {
        return None;
    }
    if let Some(urn) = &path.urn
        && !urn.eq_ignore_ascii_case(kind.core_schema())
    {
        return None;
    }
    let name = path.name.as_str();
    let is = |n: &str| name.eq_ignore_ascii_case(n);
    if is("id") {
        Some(("id", v.clone()))
    } else if is("externalId") {
        Some(("external_id", v.clone()))
    } else if (kind == ResourceKind::User && is("userName"))
        || (kind == ResourceKind::Group && is("displayName"))
    {
        Some(("name_key", v.to_lowercase()))
    } else {
        None
    }
}

/// Splits a filter into indexed conditions and whether anything is left for Rust.
pub fn split(kind: ResourceKind, f: &Filter) -> (IndexedFilter, bool) {
    let mut parts = Vec::new();
    conjuncts(f, &mut parts);
    let mut indexed = IndexedFilter::default();
    let mut rest = false;
    for part in parts {
        let Some((col, value)) = indexed_column(kind, part) else {
            rest = true;
            continue;
        };
        let slot = match col {
            "id" => &mut indexed.id,
            "external_id" => &mut indexed.external_id,
            _ => &mut indexed.name_key,
        };
        match slot {
            Some(existing) if *existing != value => indexed.impossible = true,
            _ => *slot = Some(value),
        }
    }
    (indexed, rest)
}

/// The ListResponse envelope.
pub fn list_response(total: usize, start_index: usize, resources: Vec<Value>) -> Value {
    serde_json::json!({
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
    use crate::scim::schema::USER_SCHEMA;

    #[test]
    fn indexes_matching_lookups_and_leaves_the_rest() {
        let f = filter::parse_filter(r#"userName eq "Bjensen" and externalId eq "x1""#).unwrap();
        let (ix, rest) = split(ResourceKind::User, &f);
        assert_eq!(ix.name_key.as_deref(), Some("bjensen"));
        assert_eq!(ix.external_id.as_deref(), Some("x1"));
        assert!(!rest);
        let f = filter::parse_filter(r#"userName eq "a" and title co "eng""#).unwrap();
        assert!(split(ResourceKind::User, &f).1);
        let f = filter::parse_filter(r#"userName eq "a" or userName eq "b""#).unwrap();
        let (ix, rest) = split(ResourceKind::User, &f);
        assert!(rest && ix == IndexedFilter::default());
        let f = filter::parse_filter(&format!(
            r#"{USER_SCHEMA}:userName eq "A" and userName eq "b""#
        ))
        .unwrap();
        assert!(split(ResourceKind::User, &f).0.impossible);
        // displayName is the Group's name key, not the User's.
        let f = filter::parse_filter(r#"displayName eq "Ops""#).unwrap();
        assert!(split(ResourceKind::User, &f).1);
        assert_eq!(
            split(ResourceKind::Group, &f).0.name_key.as_deref(),
            Some("ops")
        );
    }
}
