//! Translates a validated SCIM filter into SQL over the stored rows, with exactly the
//! answers of the Rust evaluator (`scim::filter::matches`).
//!
//! Every node becomes a three-valued condition: SQL that says "certainly matches"
//! (`t`), "certainly does not" (`f`), and their negations written out (`nt`, `nf`,
//! kept sargable so `userName eq` still uses its index). A row for which neither
//! holds is *unsure* and is decided in Rust. Rows are unsure only where SQL cannot
//! mirror Rust exactly:
//!
//! - a case-insensitive comparison on a value holding non-ASCII characters (SQL lower-
//!   cases ASCII only; Rust lower-cases Unicode, where `K` (Kelvin) becomes `k`);
//! - a JSON value of an unexpected type (not canonical data);
//! - parts of a filter that have no SQL form here (`meta.location`, `meta.version`,
//!   `meta.resourceType`, `schemas`, `ne` and `eq null` on multi-valued attributes,
//!   dateTime attributes stored in JSON, numbers).
//!
//! Pushed down exactly: `id`, `externalId`, `userName` / Group `displayName` (the
//! Unicode-lower-cased `name_key` column, so even non-ASCII is exact),
//! `meta.created`/`meta.lastModified` (fixed-width UTC columns; literals are read as
//! instants in any offset or precision and normalised), and with the guards above:
//! single-valued strings, sub-attributes (`name.familyName`), extension attributes,
//! booleans, and `any element` tests on multi-valued attributes (`emails.value co`,
//! `emails[type eq "work" and value ew "@x"]`, `emails pr`).

use chrono::{Timelike, Utc};

use super::prefilter;
use super::sql::{Dialect, JsonAt, Sql, doc, safe_name};
use crate::scim::filter::{AttrPath, CompValue, CompareOp, Filter, parse_instant};
use crate::scim::schema::{AttrType, AttributeDef, Registry, Resolved, ResourceKind};

/// A SQL boolean that is never NULL, or a constant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Expr {
    /// Always true.
    True,
    /// Always false.
    False,
    /// SQL text.
    Sql(String),
}

impl Expr {
    /// A leaf's SQL, parenthesised so that operators around it cannot split it.
    fn sql(s: impl Into<String>) -> Expr {
        Expr::Sql(format!("({})", s.into()))
    }

    fn and(self, other: Expr) -> Expr {
        match (self, other) {
            (Expr::False, _) | (_, Expr::False) => Expr::False,
            (Expr::True, x) | (x, Expr::True) => x,
            (Expr::Sql(a), Expr::Sql(b)) => Expr::Sql(format!("({a} AND {b})")),
        }
    }

    fn or(self, other: Expr) -> Expr {
        match (self, other) {
            (Expr::True, _) | (_, Expr::True) => Expr::True,
            (Expr::False, x) | (x, Expr::False) => x,
            (Expr::Sql(a), Expr::Sql(b)) => Expr::Sql(format!("({a} OR {b})")),
        }
    }

    fn not(self) -> Expr {
        match self {
            Expr::True => Expr::False,
            Expr::False => Expr::True,
            Expr::Sql(a) => Expr::Sql(format!("(NOT {a})")),
        }
    }

    fn when(cond: bool) -> Expr {
        if cond { Expr::True } else { Expr::False }
    }

    /// The SQL text (`TRUE`/`FALSE` for constants; both engines know them).
    pub fn text(&self) -> &str {
        match self {
            Expr::True => "TRUE",
            Expr::False => "FALSE",
            Expr::Sql(s) => s,
        }
    }
}

/// A translated filter node (see the module documentation).
#[derive(Debug, Clone)]
pub(crate) struct Cond {
    /// Rows that certainly match.
    pub t: Expr,
    /// Rows that certainly do not.
    pub f: Expr,
    /// `NOT t`.
    pub nt: Expr,
    /// `NOT f`: the candidates.
    pub nf: Expr,
    /// No row can be unsure (`t` and `f` are complements).
    pub exact: bool,
    /// Reads the JSON data (PostgreSQL then parses it once per row).
    pub json: bool,
}

impl Cond {
    /// A condition SQL decides for every row.
    fn exact(p: Expr) -> Cond {
        let n = p.clone().not();
        Cond {
            t: p.clone(),
            f: n.clone(),
            nt: n,
            nf: p,
            exact: true,
            json: false,
        }
    }

    /// Matches every row (no filter).
    pub fn exact_true() -> Cond {
        Cond::exact(Expr::True)
    }

    /// `t` and `f` that may leave rows unsure.
    fn three(t: Expr, f: Expr) -> Cond {
        Cond {
            nt: t.clone().not(),
            nf: f.clone().not(),
            t,
            f,
            exact: false,
            json: true,
        }
    }

    /// Nothing decided in SQL: every row is a candidate for Rust.
    fn unknown() -> Cond {
        Cond {
            t: Expr::False,
            f: Expr::False,
            nt: Expr::True,
            nf: Expr::True,
            exact: false,
            json: false,
        }
    }

    fn and(a: Cond, b: Cond) -> Cond {
        Cond {
            t: a.t.and(b.t),
            f: a.f.or(b.f),
            nt: a.nt.or(b.nt),
            nf: a.nf.and(b.nf),
            exact: a.exact && b.exact,
            json: a.json || b.json,
        }
    }

    fn or(a: Cond, b: Cond) -> Cond {
        Cond {
            t: a.t.or(b.t),
            f: a.f.and(b.f),
            nt: a.nt.and(b.nt),
            nf: a.nf.or(b.nf),
            exact: a.exact && b.exact,
            json: a.json || b.json,
        }
    }

    /// `a` knowing that `necessary` holds for every row it can match: rows without it
    /// certainly do not, and are ruled out before `a`'s own (costlier) SQL runs.
    fn given(a: Cond, necessary: Option<Expr>) -> Cond {
        let Some(p) = necessary else {
            return a;
        };
        Cond {
            t: p.clone().and(a.t),
            f: p.clone().not().or(a.f),
            nt: p.clone().not().or(a.nt),
            nf: p.and(a.nf),
            ..a
        }
    }

    fn not(a: Cond) -> Cond {
        Cond {
            t: a.f,
            f: a.t,
            nt: a.nf,
            nf: a.nt,
            exact: a.exact,
            json: a.json,
        }
    }
}

/// Translates `filter` for resources of `kind`; binds go into `sql`.
pub(crate) fn translate(
    reg: &Registry,
    kind: ResourceKind,
    filter: &Filter,
    sql: &mut Sql,
) -> Cond {
    match filter {
        Filter::And(a, b) => Cond::and(translate(reg, kind, a, sql), translate(reg, kind, b, sql)),
        Filter::Or(a, b) => Cond::or(translate(reg, kind, a, sql), translate(reg, kind, b, sql)),
        Filter::Not(a) => Cond::not(translate(reg, kind, a, sql)),
        Filter::Compare { path, op, value } => match resolve(reg, kind, path) {
            Some(r) => attribute(reg, kind, &r, Test::Compare(*op, value), sql),
            None => Cond::unknown(),
        },
        Filter::Present(path) => match resolve(reg, kind, path) {
            Some(r) => attribute(reg, kind, &r, Test::Present, sql),
            None => Cond::unknown(),
        },
        Filter::ValuePath { path, filter } => match resolve(reg, kind, path) {
            Some(r) if r.sub.is_none() && r.attr.multi_valued && r.attr.ty == AttrType::Complex => {
                match json_place(&r, sql.dialect) {
                    Some(place) => {
                        let p = element_necessary(r.attr, filter, sql);
                        let c = any_element(&place, sql, |sql, alias| {
                            element_filter(r.attr, filter, alias, sql)
                        });
                        Cond::given(c, p)
                    }
                    None => Cond::unknown(),
                }
            }
            _ => Cond::unknown(),
        },
    }
}

fn resolve<'r>(reg: &'r Registry, kind: ResourceKind, path: &AttrPath) -> Option<Resolved<'r>> {
    reg.resolve(kind, path.urn.as_deref(), &path.name, path.sub.as_deref())
}

/// What a leaf tests.
#[derive(Clone, Copy)]
enum Test<'a> {
    Compare(CompareOp, &'a CompValue),
    Present,
}

/// Where a JSON attribute lives in the row's data, if its names can be spliced.
fn json_place(r: &Resolved<'_>, d: Dialect) -> Option<JsonAt> {
    let mut keys = Vec::new();
    if r.extension {
        keys.push(r.schema?);
    }
    keys.push(r.attr.name);
    if keys.iter().all(|k| safe_name(k)) {
        Some(JsonAt {
            doc: doc(d).to_owned(),
            keys,
            element_of: None,
        })
    } else {
        None
    }
}

/// A leaf on a resolved top-level path.
fn attribute(
    reg: &Registry,
    kind: ResourceKind,
    r: &Resolved<'_>,
    test: Test<'_>,
    sql: &mut Sql,
) -> Cond {
    // `id`, `externalId` and `meta` resolve with or without the core schema's URN.
    if reg.common().iter().any(|a| std::ptr::eq(a, r.attr)) {
        return common_attribute(r, test, sql);
    }
    let is_name_key = !r.extension
        && r.sub.is_none()
        && match kind {
            ResourceKind::User => r.attr.name == "userName",
            ResourceKind::Group => r.attr.name == "displayName",
        };
    if is_name_key {
        // name_key holds the Unicode-lower-cased name: exact for every operator.
        return string_leaf(
            &Source::column("r.name_key", false).folded(),
            false,
            test,
            sql,
        );
    }
    // Rust compares the sub-attribute, or a multi-valued complex attribute's `value`.
    let leaf = match r.sub {
        Some(sub) => sub,
        None if r.attr.multi_valued && r.attr.ty == AttrType::Complex => {
            r.attr.sub("value").unwrap_or(r.attr)
        }
        None => r.attr,
    };
    let p = necessary(leaf, test, sql);
    Cond::given(json_attribute(r, test, sql), p)
}

/// A leaf on an attribute kept in the JSON data.
fn json_attribute(r: &Resolved<'_>, test: Test<'_>, sql: &mut Sql) -> Cond {
    let Some(place) = json_place(r, sql.dialect) else {
        return Cond::unknown();
    };
    match (r.attr.multi_valued, r.attr.ty, r.sub) {
        (false, AttrType::Complex, Some(sub)) => {
            if !safe_name(sub.name) {
                return Cond::unknown();
            }
            let mut at = place;
            at.keys.push(sub.name);
            json_leaf(&at, sub, test, sql)
        }
        (false, AttrType::Complex, None) => Cond::unknown(),
        (false, _, _) => json_leaf(&place, r.attr, test, sql),
        (true, AttrType::Complex, sub) => multi_valued(&place, r.attr, sub, test, sql),
        (true, _, _) => Cond::unknown(),
    }
}

/// What the raw data must contain for a string comparison on `leaf` to hold in Rust
/// (see `prefilter`); `None` for other tests.
fn necessary(leaf: &AttributeDef, test: Test<'_>, sql: &mut Sql) -> Option<Expr> {
    let Test::Compare(op, CompValue::Str(lit)) = test else {
        return None;
    };
    let positive = matches!(
        op,
        CompareOp::Eq | CompareOp::Co | CompareOp::Sw | CompareOp::Ew
    );
    let stringy = matches!(
        leaf.ty,
        AttrType::String | AttrType::Reference | AttrType::Binary
    );
    if positive && stringy {
        prefilter::contains_literal(sql, lit, leaf.case_exact)
    } else {
        None
    }
}

/// What the raw data must contain for some element of `attr` to satisfy the value
/// filter `f` (the leaves as Rust's element evaluation resolves them).
fn element_necessary(attr: &AttributeDef, f: &Filter, sql: &mut Sql) -> Option<Expr> {
    match f {
        Filter::And(a, b) => {
            match (
                element_necessary(attr, a, sql),
                element_necessary(attr, b, sql),
            ) {
                (Some(a), Some(b)) => Some(a.and(b)),
                (a, b) => a.or(b),
            }
        }
        Filter::Or(a, b) => {
            let a = element_necessary(attr, a, sql)?;
            let b = element_necessary(attr, b, sql)?;
            Some(a.or(b))
        }
        Filter::Compare { path, op, value } if path.urn.is_none() && path.sub.is_none() => {
            let leaf = if attr.sub_attributes.is_empty() && path.name.eq_ignore_ascii_case("value")
            {
                attr
            } else {
                attr.sub(&path.name)?
            };
            necessary(leaf, Test::Compare(*op, value), sql)
        }
        _ => None,
    }
}

/// `id`, `externalId` and `meta.*`: columns of the row.
fn common_attribute(r: &Resolved<'_>, test: Test<'_>, sql: &mut Sql) -> Cond {
    match (r.attr.name, r.sub.map(|s| s.name)) {
        ("id", None) => string_leaf(&Source::column("r.id", false), true, test, sql),
        ("externalId", None) => {
            string_leaf(&Source::column("r.external_id", true), true, test, sql)
        }
        ("meta", Some(col @ ("created" | "lastModified"))) => {
            let col = if col == "created" {
                "r.created"
            } else {
                "r.last_modified"
            };
            time_column(col, test, sql)
        }
        _ => Cond::unknown(),
    }
}

/// A string value's SQL form: whether it is a string, absent, and its text.
struct Source {
    /// Holds a string.
    is_str: Expr,
    /// Missing or null.
    absent: Expr,
    /// The text (meaningful where `is_str`).
    text: String,
    /// Something else is possible (not canonical JSON): such rows are unsure.
    may_be_odd: bool,
    /// The text is already lower-cased by Rust (`name_key`).
    folded: bool,
    /// The text is known to be ASCII (server-written columns), so SQL lower-cases it
    /// exactly as Rust would.
    ascii: bool,
}

impl Source {
    fn column(col: &str, nullable: bool) -> Source {
        Source {
            is_str: if nullable {
                Expr::sql(format!("{col} IS NOT NULL"))
            } else {
                Expr::True
            },
            absent: if nullable {
                Expr::sql(format!("{col} IS NULL"))
            } else {
                Expr::False
            },
            text: col.to_owned(),
            may_be_odd: false,
            folded: false,
            ascii: false,
        }
    }

    fn folded(mut self) -> Source {
        self.folded = true;
        self
    }

    fn ascii(mut self) -> Source {
        self.ascii = true;
        self
    }

    fn json(at: &JsonAt, d: Dialect) -> Source {
        let ty = at.json_type(d);
        Source {
            is_str: Expr::sql(format!("{ty} = 'text'")),
            absent: Expr::sql(format!("{ty} = 'null'")),
            text: at.text(d),
            may_be_odd: true,
            folded: false,
            ascii: false,
        }
    }
}

/// A leaf on a single JSON value of attribute `leaf`.
fn json_leaf(at: &JsonAt, leaf: &AttributeDef, test: Test<'_>, sql: &mut Sql) -> Cond {
    let mut c = match leaf.ty {
        AttrType::String | AttrType::Reference | AttrType::Binary => {
            string_leaf(&Source::json(at, sql.dialect), leaf.case_exact, test, sql)
        }
        AttrType::Boolean => bool_leaf(&at.json_type(sql.dialect), test),
        _ => Cond::unknown(),
    };
    c.json = true;
    c
}

/// Rust's `fold`: lower-case (Unicode) unless the attribute is caseExact.
fn fold(s: &str, case_exact: bool) -> String {
    if case_exact {
        s.to_owned()
    } else {
        s.to_lowercase()
    }
}

/// A comparison or `pr` on one string value.
fn string_leaf(src: &Source, case_exact: bool, test: Test<'_>, sql: &mut Sql) -> Cond {
    let empty = Expr::sql(format!("{} = ''", src.text));
    let present = src.is_str.clone().and(empty.clone().not());
    let not_present = src.absent.clone().or(src.is_str.clone().and(empty));
    let (op, value) = match test {
        Test::Present => return exactness(src, Cond::three(present, not_present), true),
        Test::Compare(op, value) => (op, value),
    };
    let lit = match value {
        CompValue::Null => {
            return match op {
                CompareOp::Eq => exactness(src, Cond::three(not_present, present), true),
                CompareOp::Ne => exactness(src, Cond::three(present, not_present), true),
                _ => Cond::exact(Expr::False),
            };
        }
        CompValue::Str(s) => s,
        _ => return Cond::unknown(),
    };
    let needs_fold = !case_exact && !src.folded;
    let (c, guard) = if needs_fold && src.ascii {
        (sql.ascii_lower(&src.text), Expr::True)
    } else if needs_fold {
        (
            sql.ascii_lower(&src.text),
            Expr::sql(sql.is_ascii(&src.text)),
        )
    } else {
        (src.text.clone(), Expr::True)
    };
    let l = sql.text(fold(lit, case_exact));
    let p = Expr::sql(match op {
        CompareOp::Eq => format!("{c} = {l}"),
        CompareOp::Ne => format!("{c} <> {l}"),
        CompareOp::Gt => format!("{} > {l}", sql.bytewise(&c)),
        CompareOp::Ge => format!("{} >= {l}", sql.bytewise(&c)),
        CompareOp::Lt => format!("{} < {l}", sql.bytewise(&c)),
        CompareOp::Le => format!("{} <= {l}", sql.bytewise(&c)),
        CompareOp::Co => format!("{} > 0", sql.strpos(&c, &l)),
        CompareOp::Sw => format!("substr({c}, 1, length({l})) = {l}"),
        CompareOp::Ew => {
            format!(
                "length({c}) >= length({l}) AND substr({c}, length({c}) - length({l}) + 1) = {l}"
            )
        }
    });
    let ok = src.is_str.clone().and(guard.clone());
    let ne = op == CompareOp::Ne;
    let t = src
        .absent
        .clone()
        .and(Expr::when(ne))
        .or(ok.clone().and(p.clone()));
    let f = src.absent.clone().and(Expr::when(!ne)).or(ok.and(p.not()));
    exactness(src, Cond::three(t, f), guard == Expr::True)
}

/// Marks a leaf exact when its source cannot surprise SQL, keeping `nt`/`nf` sargable.
fn exactness(src: &Source, c: Cond, guard_free: bool) -> Cond {
    if src.may_be_odd || !guard_free {
        return c;
    }
    Cond {
        nt: c.f.clone(),
        nf: c.t.clone(),
        exact: true,
        json: false,
        ..c
    }
}

/// A comparison or `pr` on one boolean JSON value, given its `json_type`.
fn bool_leaf(ty: &str, test: Test<'_>) -> Cond {
    let is = |v: &str| Expr::sql(format!("{ty} = '{v}'"));
    let set = is("true").or(is("false"));
    let absent = is("null");
    let want = match test {
        Test::Present => return Cond::three(set, absent),
        Test::Compare(CompareOp::Eq, CompValue::Null) => return Cond::three(absent, set),
        Test::Compare(CompareOp::Ne, CompValue::Null) => return Cond::three(set, absent),
        Test::Compare(op @ (CompareOp::Eq | CompareOp::Ne), v) => {
            let b = match v {
                CompValue::Bool(b) => *b,
                CompValue::Str(s) if s.eq_ignore_ascii_case("true") => true,
                CompValue::Str(s) if s.eq_ignore_ascii_case("false") => false,
                _ => return Cond::unknown(),
            };
            b == (op == CompareOp::Eq)
        }
        Test::Compare(..) => return Cond::unknown(),
    };
    let yes = is(if want { "true" } else { "false" });
    let no = is(if want { "false" } else { "true" });
    // `ne` matches an absent value, `eq` does not.
    let (t, f) = if matches!(test, Test::Compare(CompareOp::Eq, _)) {
        (yes, no.or(absent))
    } else {
        (yes.or(absent), no)
    };
    Cond::three(t, f)
}

/// `meta.created` / `meta.lastModified`: fixed-width UTC text, always present.
fn time_column(col: &str, test: Test<'_>, sql: &mut Sql) -> Cond {
    let (op, value) = match test {
        Test::Present => return Cond::exact(Expr::True),
        Test::Compare(op, value) => (op, value),
    };
    let lit = match value {
        CompValue::Null => return Cond::exact(Expr::when(op == CompareOp::Ne)),
        CompValue::Str(s) => s,
        _ => return Cond::unknown(),
    };
    if matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew) {
        // Substring tests see the stored text, lower-cased like any caseExact=false value.
        let src = Source::column(col, false).ascii();
        return string_leaf(&src, false, test, sql);
    }
    let Some(instant) = parse_instant(lit) else {
        return Cond::unknown();
    };
    let utc = instant.with_timezone(&Utc);
    let floor = crate::store::format_time(&utc);
    if floor.len() != 24 || !floor.starts_with(|c: char| c.is_ascii_digit()) {
        return Cond::unknown(); // a year outside 0000..=9999: leave it to Rust
    }
    // Stored instants have millisecond precision: compare against the literal's
    // millisecond floor, adjusting the strictness when the literal lies between two.
    let on_ms = utc.nanosecond() % 1_000_000 == 0;
    let l = sql.text(floor);
    let c = sql.bytewise(col);
    Cond::exact(match (op, on_ms) {
        (CompareOp::Eq, true) => Expr::sql(format!("{col} = {l}")),
        (CompareOp::Eq, false) => Expr::False,
        (CompareOp::Ne, true) => Expr::sql(format!("{col} <> {l}")),
        (CompareOp::Ne, false) => Expr::True,
        (CompareOp::Gt, _) | (CompareOp::Ge, false) => Expr::sql(format!("{c} > {l}")),
        (CompareOp::Ge, true) => Expr::sql(format!("{c} >= {l}")),
        (CompareOp::Lt, true) => Expr::sql(format!("{c} < {l}")),
        (CompareOp::Lt, false) | (CompareOp::Le, _) => Expr::sql(format!("{c} <= {l}")),
        _ => return Cond::unknown(),
    })
}

mod elements;
use elements::{any_element, element_filter, multi_valued};

#[cfg(test)]
mod tests;
