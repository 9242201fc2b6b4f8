//! Multi-valued attributes in SQL: "some element satisfies" tests over JSON arrays
//! (`emails.value co`, `emails pr`) and value filters on one element
//! (`emails[type eq "work" and value ew "@x"]`), as `EXISTS` subqueries.

use super::{Cond, Expr, Source, Test, json_leaf};
use crate::scim::filter::{AttrPath, CompValue, CompareOp, Filter};
use crate::scim::schema::AttributeDef;
use crate::store::sql::{JsonAt, Sql, safe_name};

/// `emails.value co "x"`, `emails co "x"` (its `value`), `emails pr`: true when any
/// element satisfies the test.
pub(super) fn multi_valued(
    place: &JsonAt,
    attr: &AttributeDef,
    sub: Option<&AttributeDef>,
    test: Test<'_>,
    sql: &mut Sql,
) -> Cond {
    match (test, sub.or_else(|| attr.sub("value"))) {
        // `ne` and `eq null` mean "no value" tests over all elements: left to Rust.
        (Test::Compare(CompareOp::Ne, _) | Test::Compare(_, CompValue::Null), _) => Cond::unknown(),
        (Test::Present, None) | (_, None) => Cond::unknown(),
        (Test::Present, Some(value)) if sub.is_none() => {
            // An element is present when any of its values is; one with a non-empty
            // `value` certainly is, anything else is left to Rust.
            any_element(place, sql, |sql, alias| {
                let at = JsonAt::in_element(sql.dialect, alias, value.name);
                let src = Source::json(&at, sql.dialect);
                let t = src.is_str.and(Expr::sql(format!("{} <> ''", src.text)));
                Cond::three(t, Expr::False)
            })
        }
        (test, Some(leaf)) => any_element(place, sql, |sql, alias| {
            if !safe_name(leaf.name) {
                return Cond::unknown();
            }
            let at = JsonAt::in_element(sql.dialect, alias, leaf.name);
            json_leaf(&at, leaf, test, sql)
        }),
    }
}

/// The inner filter of `attr[...]` on one element.
pub(super) fn element_filter(attr: &AttributeDef, f: &Filter, alias: &str, sql: &mut Sql) -> Cond {
    let leaf = |path: &AttrPath| {
        if path.urn.is_some() || path.sub.is_some() {
            return None;
        }
        attr.sub(&path.name).filter(|s| safe_name(s.name))
    };
    match f {
        Filter::And(a, b) => Cond::and(
            element_filter(attr, a, alias, sql),
            element_filter(attr, b, alias, sql),
        ),
        Filter::Or(a, b) => Cond::or(
            element_filter(attr, a, alias, sql),
            element_filter(attr, b, alias, sql),
        ),
        Filter::Not(a) => Cond::not(element_filter(attr, a, alias, sql)),
        Filter::Compare { path, op, value } => match leaf(path) {
            Some(sub) => json_leaf(
                &JsonAt::in_element(sql.dialect, alias, sub.name),
                sub,
                Test::Compare(*op, value),
                sql,
            ),
            None => Cond::unknown(),
        },
        Filter::Present(path) => match leaf(path) {
            Some(sub) => json_leaf(
                &JsonAt::in_element(sql.dialect, alias, sub.name),
                sub,
                Test::Present,
                sql,
            ),
            None => Cond::unknown(),
        },
        // Nested value filters never match (and do not validate).
        Filter::ValuePath { .. } => Cond::exact(Expr::False),
    }
}

/// "Some element of the array at `place` satisfies `element`": the element condition is
/// built for the alias `e`, inside `EXISTS` subqueries.
pub(super) fn any_element(
    place: &JsonAt,
    sql: &mut Sql,
    element: impl FnOnce(&mut Sql, &str) -> Cond,
) -> Cond {
    let d = sql.dialect;
    let alias = "e";
    let e = element(sql, alias);
    let ty = place.json_type(d);
    let (from, _) = place.elements(d, alias);
    let array = Expr::sql(format!("{ty} = 'array'"));
    let absent = Expr::sql(format!("{ty} = 'null'"));
    let exists = |cond: &Expr| match cond {
        Expr::False => Expr::False,
        other => Expr::sql(format!(
            "EXISTS (SELECT 1 FROM {from} WHERE {})",
            other.text()
        )),
    };
    let some_true = exists(&e.t);
    let some_maybe = exists(&e.nf);
    let t = array.clone().and(some_true);
    let f = absent
        .clone()
        .or(array.clone().and(some_maybe.clone().not()));
    let nf = array.clone().and(some_maybe).or(array.or(absent).not());
    Cond {
        nt: t.clone().not(),
        t,
        f,
        nf,
        exact: false,
        json: true,
    }
}
