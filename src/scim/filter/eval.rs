//! Filter semantics (RFC 7644 section 3.4.2.2): `validate` checks a parsed filter against
//! the schema registry, `matches` evaluates it against a resource in its full JSON form.

use std::borrow::Cow;
use std::cmp::Ordering;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime};
use serde_json::{Number, Value};

use super::ast::{AttrPath, CompValue, CompareOp, Filter};
use crate::scim::error::ScimError;
use crate::scim::schema::{
    AttrType, AttributeDef, Mutability, Registry, Resolved, ResourceKind, Returned, Uniqueness,
};

/// Checks that every path of `filter` exists for `kind` and that every comparison can
/// make sense for its attribute's type; the error is 400 invalidFilter naming the culprit.
pub fn validate(reg: &Registry, kind: ResourceKind, filter: &Filter) -> Result<(), ScimError> {
    match filter {
        Filter::Compare { path, op, value } => {
            let r = resolve_checked(reg, kind, path)?;
            check_comparison(&path.to_string(), comparison_target(&r).1, *op, value)
        }
        Filter::Present(path) => resolve_checked(reg, kind, path).map(|_| ()),
        Filter::And(a, b) | Filter::Or(a, b) => {
            validate(reg, kind, a)?;
            validate(reg, kind, b)
        }
        Filter::Not(a) => validate(reg, kind, a),
        Filter::ValuePath { path, filter } => {
            let r = resolve_checked(reg, kind, path)?;
            if r.sub.is_some() || r.attr.ty != AttrType::Complex {
                return Err(ScimError::invalid_filter(format!(
                    "\"{path}[...]\": a value filter needs a complex attribute such as emails or members"
                )));
            }
            validate_element(&path.to_string(), r.attr, filter)
        }
    }
}

/// [`validate`] for a query (`?filter=`, `.search`), which is evaluated against the stored
/// form: a path into Group `members` or User `groups` is refused with 400 invalidFilter,
/// because membership lives in its own rows and such a filter would silently match
/// nothing; an empty answer makes clients create duplicates (CLIENT-QUIRKS 13).
pub fn validate_query(
    reg: &Registry,
    kind: ResourceKind,
    filter: &Filter,
) -> Result<(), ScimError> {
    validate(reg, kind, filter)?;
    match membership_path(reg, kind, filter) {
        None => Ok(()),
        Some(path) => Err(ScimError::invalid_filter(format!(
            "\"{path}\" cannot be used in a filter: membership is not searchable; read the {} \
             with GET {}/{{id}} and look at \"{}\"",
            kind.as_str(),
            kind.endpoint(),
            path.name
        ))),
    }
}

/// The first path of `filter` that names the computed membership attribute of `kind`.
fn membership_path<'f>(
    reg: &Registry,
    kind: ResourceKind,
    filter: &'f Filter,
) -> Option<&'f AttrPath> {
    let computed = |path: &AttrPath| {
        resolve_base(reg, kind, path).is_some_and(|r| {
            !r.extension
                && match kind {
                    ResourceKind::Group => r.attr.name == "members",
                    ResourceKind::User => r.attr.name == "groups",
                }
        })
    };
    match filter {
        Filter::Compare { path, .. } | Filter::Present(path) | Filter::ValuePath { path, .. } => {
            computed(path).then_some(path)
        }
        Filter::And(a, b) | Filter::Or(a, b) => {
            membership_path(reg, kind, a).or_else(|| membership_path(reg, kind, b))
        }
        Filter::Not(a) => membership_path(reg, kind, a),
    }
}

/// Whether `resource` (full JSON form: core and common attributes at the top level,
/// extension attributes under their schema URN) satisfies `filter`. Paths that do not
/// resolve count as absent; run [`validate`] first to reject them.
pub fn matches(reg: &Registry, kind: ResourceKind, filter: &Filter, resource: &Value) -> bool {
    match filter {
        Filter::Compare { path, op, value } => match resolve(reg, kind, path) {
            Some(r) => {
                let (sub, leaf) = comparison_target(&r);
                compare_all(Some(leaf), *op, value, &values_at(resource, &r, sub))
            }
            None => compare_all(None, *op, value, &[]),
        },
        Filter::Present(path) => resolve(reg, kind, path)
            .is_some_and(|r| values_at(resource, &r, r.sub).into_iter().any(is_present)),
        Filter::And(a, b) => matches(reg, kind, a, resource) && matches(reg, kind, b, resource),
        Filter::Or(a, b) => matches(reg, kind, a, resource) || matches(reg, kind, b, resource),
        Filter::Not(a) => !matches(reg, kind, a, resource),
        Filter::ValuePath { path, filter } => resolve(reg, kind, path).is_some_and(|r| {
            values_at(resource, &r, None)
                .into_iter()
                .any(|e| element_matches(r.attr, filter, e))
        }),
    }
}

/// Whether ONE element of the multi-valued complex attribute `attr` satisfies a value
/// filter's inner `filter` (paths relative to the element: `type eq "work"`).
/// `attr` carries all it needs; `reg` and `kind` keep the signature in step with [`matches`].
pub fn matches_element(
    _reg: &Registry,
    _kind: ResourceKind,
    attr: &AttributeDef,
    filter: &Filter,
    element: &Value,
) -> bool {
    element_matches(attr, filter, element)
}

fn element_matches(attr: &AttributeDef, filter: &Filter, element: &Value) -> bool {
    match filter {
        Filter::Compare { path, op, value } => match element_field(attr, path, element) {
            Some((leaf, values)) => compare_all(Some(leaf), *op, value, &values),
            None => compare_all(None, *op, value, &[]),
        },
        Filter::Present(path) => {
            element_field(attr, path, element).is_some_and(|(_, v)| v.into_iter().any(is_present))
        }
        Filter::And(a, b) => element_matches(attr, a, element) && element_matches(attr, b, element),
        Filter::Or(a, b) => element_matches(attr, a, element) || element_matches(attr, b, element),
        Filter::Not(a) => !element_matches(attr, a, element),
        Filter::ValuePath { .. } => false,
    }
}

// ---------------------------------------------------------------- validation

/// `schemas` (RFC 7643 section 3): on every resource, filterable (`schemas eq "urn:..."`),
/// but not in the registry, which describes schema attributes only.
static SCHEMAS: AttributeDef = AttributeDef {
    name: "schemas",
    ty: AttrType::Reference,
    multi_valued: true,
    required: true,
    case_exact: false,
    mutability: Mutability::ReadOnly,
    returned: Returned::Always,
    uniqueness: Uniqueness::None,
    canonical_values: &[],
    reference_types: &["uri"],
    sub_attributes: Vec::new(),
    description: "The schema URNs the resource uses.",
};

/// Resolves `[urn:]name` (without the sub-attribute) in the registry, plus `schemas`.
fn resolve_base<'r>(
    reg: &'r Registry,
    kind: ResourceKind,
    path: &AttrPath,
) -> Option<Resolved<'r>> {
    let found = reg.resolve(kind, path.urn.as_deref(), &path.name, None);
    if found.is_some() || path.urn.is_some() || !path.name.eq_ignore_ascii_case(SCHEMAS.name) {
        return found;
    }
    Some(Resolved {
        schema: None,
        extension: false,
        attr: &SCHEMAS,
        sub: None,
    })
}

fn resolve<'r>(reg: &'r Registry, kind: ResourceKind, path: &AttrPath) -> Option<Resolved<'r>> {
    let base = resolve_base(reg, kind, path)?;
    match &path.sub {
        None => Some(base),
        Some(sub) => Some(Resolved {
            sub: Some(base.attr.sub(sub)?),
            ..base
        }),
    }
}

/// Resolves `path`, or says precisely which part is unknown.
fn resolve_checked<'r>(
    reg: &'r Registry,
    kind: ResourceKind,
    path: &AttrPath,
) -> Result<Resolved<'r>, ScimError> {
    let Some(base) = resolve_base(reg, kind, path) else {
        return Err(unknown_attribute(reg, kind, path));
    };
    if base.attr.returned == Returned::Never {
        return Err(ScimError::invalid_filter(format!(
            "\"{path}\" cannot be used in a filter: it is never returned"
        )));
    }
    let Some(sub) = &path.sub else {
        return Ok(base);
    };
    match base.attr.sub(sub) {
        Some(s) => Ok(Resolved {
            sub: Some(s),
            ..base
        }),
        None => Err(ScimError::invalid_filter(format!(
            "unknown attribute \"{path}\" in filter: \"{}\" {}",
            base.attr.name,
            sub_attribute_hint(base.attr, sub)
        ))),
    }
}

fn unknown_attribute(reg: &Registry, kind: ResourceKind, path: &AttrPath) -> ScimError {
    let plural = format!("{}s", kind.as_str());
    let detail = match &path.urn {
        Some(urn) if reg.core(kind).id.eq_ignore_ascii_case(urn) => {
            format!(
                "unknown attribute \"{path}\" in filter: the {} schema has no attribute \"{}\"",
                kind.as_str(),
                path.name
            )
        }
        Some(urn) => match reg
            .extensions(kind)
            .iter()
            .find(|s| s.id.eq_ignore_ascii_case(urn))
        {
            Some(ext) => format!(
                "unknown attribute \"{path}\" in filter: {} has no attribute \"{}\"",
                ext.id, path.name
            ),
            None => format!(
                "unknown schema \"{urn}\" in filter path \"{path}\": {plural} do not use that schema"
            ),
        },
        None => match reg
            .extensions(kind)
            .iter()
            .find(|s| s.attribute(&path.name).is_some())
        {
            Some(ext) => format!(
                "unknown attribute \"{path}\" in filter: extension attributes need their schema URN, as in \"{}:{path}\"",
                ext.id
            ),
            None => format!(
                "unknown attribute \"{path}\" in filter: {plural} have no attribute \"{}\"",
                path.name
            ),
        },
    };
    ScimError::invalid_filter(detail)
}

/// `has no sub-attribute "x" (it has a, b)`, or `is not complex, ...` for a simple attribute.
fn sub_attribute_hint(attr: &AttributeDef, sub: &str) -> String {
    if attr.sub_attributes.is_empty() {
        return format!("is not complex, so it has no sub-attribute \"{sub}\"");
    }
    let names: Vec<&str> = attr.sub_attributes.iter().map(|a| a.name).collect();
    format!(
        "has no sub-attribute \"{sub}\" (it has {})",
        names.join(", ")
    )
}

/// Checks the inner filter of `outer[...]`, whose paths name sub-attributes of `attr`.
fn validate_element(outer: &str, attr: &AttributeDef, filter: &Filter) -> Result<(), ScimError> {
    match filter {
        Filter::Compare { path, op, value } => {
            let leaf = element_sub(outer, attr, path)?;
            check_comparison(&format!("{outer}.{}", path.name), leaf, *op, value)
        }
        Filter::Present(path) => element_sub(outer, attr, path).map(|_| ()),
        Filter::And(a, b) | Filter::Or(a, b) => {
            validate_element(outer, attr, a)?;
            validate_element(outer, attr, b)
        }
        Filter::Not(a) => validate_element(outer, attr, a),
        Filter::ValuePath { path, .. } => Err(ScimError::invalid_filter(format!(
            "\"{path}[...]\" inside \"{outer}[...]\": value filters cannot be nested"
        ))),
    }
}

/// The sub-attribute of `attr` a value-filter path names.
fn element_sub<'a>(
    outer: &str,
    attr: &'a AttributeDef,
    path: &AttrPath,
) -> Result<&'a AttributeDef, ScimError> {
    let found = if path.urn.is_some() || path.sub.is_some() {
        None
    } else {
        element_leaf(attr, &path.name)
    };
    found.ok_or_else(|| {
        ScimError::invalid_filter(format!(
            "unknown attribute \"{path}\" inside \"{outer}[...]\": \"{}\" {}",
            attr.name,
            sub_attribute_hint(attr, &path.to_string())
        ))
    })
}

/// Checks that `op value` can apply to the attribute `leaf` (named `shown` in messages).
fn check_comparison(
    shown: &str,
    leaf: &AttributeDef,
    op: CompareOp,
    value: &CompValue,
) -> Result<(), ScimError> {
    let fail = |why: String| {
        Err(ScimError::invalid_filter(format!(
            "\"{shown} {} {value}\": {why}",
            op.as_str()
        )))
    };
    if leaf.ty == AttrType::Complex {
        let subs: Vec<&str> = leaf.sub_attributes.iter().map(|a| a.name).collect();
        return fail(format!(
            "\"{shown}\" is complex; compare one of its sub-attributes ({}) or use \"{shown} pr\"",
            subs.join(", ")
        ));
    }
    if is_ordering(op) && matches!(leaf.ty, AttrType::Boolean | AttrType::Binary) {
        return fail(format!(
            "{} attributes can only be compared with eq and ne",
            type_name(leaf.ty)
        ));
    }
    if is_substring(op)
        && matches!(
            leaf.ty,
            AttrType::Boolean | AttrType::Integer | AttrType::Decimal
        )
    {
        return fail(format!(
            "{} attributes cannot be compared with co, sw or ew",
            type_name(leaf.ty)
        ));
    }
    if *value == CompValue::Null {
        return match op {
            CompareOp::Eq | CompareOp::Ne => Ok(()),
            _ => fail("null can only be compared with eq and ne (or use pr)".into()),
        };
    }
    if value_fits(leaf.ty, op, value) {
        return Ok(());
    }
    fail(format!(
        "\"{shown}\" is a {}; {}",
        type_name(leaf.ty),
        value_hint(leaf.ty)
    ))
}

/// Whether a (non-null) value can be compared with an attribute of type `ty`.
fn value_fits(ty: AttrType, op: CompareOp, value: &CompValue) -> bool {
    match (ty, value) {
        (AttrType::Boolean, CompValue::Bool(_)) => true,
        (AttrType::Boolean, CompValue::Str(s)) => parse_bool(s).is_some(),
        (AttrType::Integer | AttrType::Decimal, CompValue::Num(_)) => true,
        (AttrType::DateTime, CompValue::Str(s)) => is_substring(op) || parse_instant(s).is_some(),
        (AttrType::String | AttrType::Reference | AttrType::Binary, CompValue::Str(_)) => true,
        _ => false,
    }
}

fn value_hint(ty: AttrType) -> &'static str {
    match ty {
        AttrType::Boolean => "compare it with true or false",
        AttrType::Integer | AttrType::Decimal => "compare it with a number",
        AttrType::DateTime => "compare it with an RFC 3339 string such as \"2011-05-13T04:42:34Z\"",
        _ => "compare it with a \"quoted string\"",
    }
}

fn type_name(ty: AttrType) -> &'static str {
    match ty {
        AttrType::String => "string",
        AttrType::Boolean => "boolean",
        AttrType::Decimal => "decimal",
        AttrType::Integer => "integer",
        AttrType::DateTime => "dateTime",
        AttrType::Binary => "binary",
        AttrType::Reference => "reference",
        AttrType::Complex => "complex attribute",
    }
}

fn is_ordering(op: CompareOp) -> bool {
    matches!(
        op,
        CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le
    )
}

fn is_substring(op: CompareOp) -> bool {
    matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew)
}

// ---------------------------------------------------------------- evaluation

/// What a comparison looks at: the sub-attribute to descend into (if any) and the leaf
/// definition. A multi-valued complex attribute without a sub-attribute means its `value`.
fn comparison_target<'a>(r: &Resolved<'a>) -> (Option<&'a AttributeDef>, &'a AttributeDef) {
    match r.sub {
        Some(sub) => (Some(sub), sub),
        None if r.attr.ty == AttrType::Complex && r.attr.multi_valued => {
            match r.attr.sub("value") {
                Some(value) => (Some(value), value),
                None => (None, r.attr),
            }
        }
        None => (None, r.attr),
    }
}

/// The sub-attribute `name` of `attr`; for a multi-valued attribute of simple values,
/// `value` names the element itself.
fn element_leaf<'a>(attr: &'a AttributeDef, name: &str) -> Option<&'a AttributeDef> {
    if is_simple_value(attr, name) {
        return Some(attr);
    }
    attr.sub(name)
}

fn is_simple_value(attr: &AttributeDef, name: &str) -> bool {
    attr.sub_attributes.is_empty() && name.eq_ignore_ascii_case("value")
}

/// The leaf definition and non-null values a value-filter path names inside `element`.
fn element_field<'a, 'v>(
    attr: &'a AttributeDef,
    path: &AttrPath,
    element: &'v Value,
) -> Option<(&'a AttributeDef, Vec<&'v Value>)> {
    if path.urn.is_some() || path.sub.is_some() {
        return None;
    }
    let (leaf, raw) = if is_simple_value(attr, &path.name) {
        (attr, Some(element))
    } else {
        let sub = attr.sub(&path.name)?;
        (sub, get_ci(element, sub.name))
    };
    let values = raw
        .map(flatten)
        .unwrap_or_default()
        .into_iter()
        .filter(|v| !v.is_null())
        .collect();
    Some((leaf, values))
}

/// The non-null values at a resolved path, descending into `sub` of every element.
fn values_at<'v>(
    resource: &'v Value,
    r: &Resolved<'_>,
    sub: Option<&AttributeDef>,
) -> Vec<&'v Value> {
    let container = match (r.extension, r.schema) {
        (true, Some(urn)) => get_ci(resource, urn),
        _ => Some(resource),
    };
    let Some(value) = container.and_then(|c| get_ci(c, r.attr.name)) else {
        return Vec::new();
    };
    let items = flatten(value);
    let leaves = match sub {
        None => items,
        Some(sub) => items
            .into_iter()
            .filter_map(|item| get_ci(item, sub.name))
            .flat_map(flatten)
            .collect(),
    };
    leaves.into_iter().filter(|v| !v.is_null()).collect()
}

/// `obj[key]`, exact first, then ignoring ASCII case (schema names are ASCII).
fn get_ci<'v>(obj: &'v Value, key: &str) -> Option<&'v Value> {
    let map = obj.as_object()?;
    map.get(key).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// The elements of an array, or the value itself.
fn flatten(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    }
}

/// `pr`: not null, not an empty string, array or object (nor one holding only such values).
fn is_present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(items) => items.iter().any(is_present),
        Value::Object(map) => map.values().any(is_present),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

/// `op expected` over all non-null `values` of an attribute: true when ANY value matches;
/// `ne` on an absent attribute is true; `eq null` means absent and `ne null` present.
fn compare_all(
    leaf: Option<&AttributeDef>,
    op: CompareOp,
    expected: &CompValue,
    values: &[&Value],
) -> bool {
    match (op, expected) {
        (CompareOp::Eq, CompValue::Null) => !values.iter().any(|v| is_present(v)),
        (CompareOp::Ne, CompValue::Null) => values.iter().any(|v| is_present(v)),
        (_, CompValue::Null) => false,
        (CompareOp::Ne, _) if values.is_empty() => true,
        _ => leaf.is_some_and(|leaf| values.iter().any(|v| compare_one(leaf, op, expected, v))),
    }
}

/// `actual op expected` for one value of the attribute `leaf`.
fn compare_one(leaf: &AttributeDef, op: CompareOp, expected: &CompValue, actual: &Value) -> bool {
    if is_substring(op) {
        return substring(leaf, op, expected, actual);
    }
    if is_ordering(op)
        && matches!(
            leaf.ty,
            AttrType::Boolean | AttrType::Binary | AttrType::Complex
        )
    {
        return false;
    }
    let order = order(leaf, expected, actual);
    match op {
        CompareOp::Eq => order == Some(Ordering::Equal),
        CompareOp::Ne => order != Some(Ordering::Equal),
        CompareOp::Gt => order == Some(Ordering::Greater),
        CompareOp::Ge => matches!(order, Some(Ordering::Greater | Ordering::Equal)),
        CompareOp::Lt => order == Some(Ordering::Less),
        CompareOp::Le => matches!(order, Some(Ordering::Less | Ordering::Equal)),
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

/// How `actual` orders against `expected` under `leaf`'s type, if they are comparable.
fn order(leaf: &AttributeDef, expected: &CompValue, actual: &Value) -> Option<Ordering> {
    match leaf.ty {
        AttrType::String | AttrType::Reference | AttrType::Binary => {
            let (a, e) = (actual.as_str()?, expected_str(expected)?);
            Some(fold(a, leaf).cmp(&fold(e, leaf)))
        }
        AttrType::Boolean => {
            let a = match actual {
                Value::Bool(b) => *b,
                Value::String(s) => parse_bool(s)?,
                _ => return None,
            };
            let e = match expected {
                CompValue::Bool(b) => *b,
                CompValue::Str(s) => parse_bool(s)?,
                _ => return None,
            };
            Some(a.cmp(&e))
        }
        AttrType::Integer | AttrType::Decimal => match (actual, expected) {
            (Value::Number(a), CompValue::Num(e)) => number_cmp(a, e),
            _ => None,
        },
        AttrType::DateTime => {
            let a = parse_instant(actual.as_str()?)?;
            let e = parse_instant(expected_str(expected)?)?;
            Some(a.cmp(&e))
        }
        AttrType::Complex => None,
    }
}

/// `co`, `sw`, `ew` on string-like values, honouring `caseExact`.
fn substring(leaf: &AttributeDef, op: CompareOp, expected: &CompValue, actual: &Value) -> bool {
    if matches!(
        leaf.ty,
        AttrType::Boolean | AttrType::Integer | AttrType::Decimal | AttrType::Complex
    ) {
        return false;
    }
    let (Some(a), Some(e)) = (actual.as_str(), expected_str(expected)) else {
        return false;
    };
    let (a, e) = (fold(a, leaf), fold(e, leaf));
    match op {
        CompareOp::Co => a.contains(e.as_ref()),
        CompareOp::Sw => a.starts_with(e.as_ref()),
        CompareOp::Ew => a.ends_with(e.as_ref()),
        _ => false,
    }
}

fn expected_str(expected: &CompValue) -> Option<&str> {
    match expected {
        CompValue::Str(s) => Some(s),
        _ => None,
    }
}

/// The string as compared: lower-cased (Unicode-aware) unless the attribute is caseExact.
fn fold<'s>(s: &'s str, leaf: &AttributeDef) -> Cow<'s, str> {
    if leaf.case_exact {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.to_lowercase())
    }
}

/// `true`/`false` in any case, as clients send booleans as strings.
fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// Compares integers exactly and anything else as f64.
fn number_cmp(a: &Number, b: &Number) -> Option<Ordering> {
    let exact = |n: &Number| {
        n.as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
    };
    match (exact(a), exact(b)) {
        (Some(x), Some(y)) => Some(x.cmp(&y)),
        _ => a.as_f64()?.partial_cmp(&b.as_f64()?),
    }
}

/// An instant from RFC 3339; also accepts a date-time without offset, or a bare date,
/// as UTC, since some clients send those. (The store's SQL translation of dateTime
/// comparisons reads literals with this same function.)
pub fn parse_instant(s: &str) -> Option<DateTime<FixedOffset>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t);
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f") {
        return Some(t.and_utc().fixed_offset());
    }
    let date = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    Some(date.and_hms_opt(0, 0, 0)?.and_utc().fixed_offset())
}
