//! Cheap necessary conditions on a row's raw JSON text, checked before any JSON is read.
//!
//! A filter over an attribute kept in the JSON `data` costs one JSON parse per row
//! (SQLite's `json_extract`, PostgreSQL's `::jsonb`): over 100,000 users that parse is
//! most of the time of `title co "eng"`. But when Rust's evaluator says a string value
//! `eq`/`co`/`sw`/`ew` a literal, the literal (folded like the attribute) occurs in that
//! value, and the value is written verbatim into `data` by `serde_json`, which escapes
//! only `"`, `\` and control characters. So "data contains the literal" is necessary,
//! and a row without it certainly does not match: one substring scan of the raw text
//! (no parse, no allocation on SQLite) rules out most rows, and only the rest are parsed.
//!
//! For a case-insensitive attribute Rust compares Unicode lower case while the raw text
//! is searched with ASCII case folding. That is still necessary when the folded literal
//! is ASCII and no non-ASCII character lower-cases into it: only the Kelvin sign (to
//! `k`) and the dotted capital I (to `i` plus a combining dot, so only as a match's last
//! character) do (see the test that checks every character). Literals outside these
//! rules get no pre-filter and are answered exactly as before.

use super::filter_sql::Expr;
use super::sql::{Dialect, Sql};

/// "The row's raw data contains `literal`" in `sql`'s dialect, or `None` when that is
/// not implied by a match (then no pre-filter is used). `literal` is the filter's value
/// as sent; `case_exact` is the compared attribute's.
pub(crate) fn contains_literal(sql: &mut Sql, literal: &str, case_exact: bool) -> Option<Expr> {
    let needle = if case_exact {
        literal.to_owned()
    } else {
        literal.to_lowercase()
    };
    if needle.is_empty() || needle.chars().any(escaped_by_json) {
        return None;
    }
    if !case_exact && !ascii_fold_is_necessary(&needle) {
        return None;
    }
    Some(Expr::Sql(match sql.dialect {
        // LIKE folds ASCII case only and compares other characters exactly: it holds
        // whenever the exact or the ASCII-folded text contains the needle.
        Dialect::Sqlite => {
            let p = sql.text(format!("%{}%", like_escape(&needle)));
            format!("(r.data LIKE {p} ESCAPE '\\')")
        }
        Dialect::Postgres => {
            let p = sql.text(needle);
            if case_exact {
                format!("(strpos(r.data, {p}) > 0)")
            } else {
                format!("(strpos({}, {p}) > 0)", sql.ascii_lower("r.data"))
            }
        }
    }))
}

/// Characters `serde_json` writes as escapes, so the raw text does not hold them as is.
fn escaped_by_json(c: char) -> bool {
    matches!(c, '"' | '\\') || (c as u32) < 0x20
}

/// Whether a match under Unicode lower-casing implies one under ASCII lower-casing, for
/// an already lower-cased needle.
fn ascii_fold_is_necessary(needle: &str) -> bool {
    needle.is_ascii() && !needle.contains('k') && !needle.ends_with('i')
}

/// Escapes LIKE's wildcards with `\` (the needle holds no `\`).
fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sql::Bind;

    #[test]
    fn only_the_kelvin_sign_and_dotted_i_lower_case_into_ascii() {
        for c in (0x80..=0x10FFFFu32).filter_map(char::from_u32) {
            let lower: Vec<char> = c.to_lowercase().collect();
            if !lower.iter().any(char::is_ascii) {
                continue;
            }
            match c {
                // `k`: refused anywhere in a case-insensitive needle.
                '\u{212A}' => assert_eq!(lower, ['k']),
                // `i` followed by a non-ASCII mark: only a needle's last `i` can come
                // from it, and needles ending in `i` are refused.
                '\u{130}' => assert_eq!(lower, ['i', '\u{307}']),
                other => panic!("{other:?} lower-cases to ASCII: {lower:?}"),
            }
        }
    }

    #[test]
    fn needles_that_folding_or_escaping_could_hide_get_no_prefilter() {
        let mut sql = Sql::new(Dialect::Sqlite);
        for lit in ["", "a\"b", "a\\b", "a\nb", "work", "admi", "é"] {
            assert!(contains_literal(&mut sql, lit, false).is_none(), "{lit}");
        }
        // caseExact compares exactly: non-ASCII, `k` and a final `i` are fine.
        for lit in ["é", "Work", "admi"] {
            assert!(contains_literal(&mut sql, lit, true).is_some(), "{lit}");
        }
        assert!(contains_literal(&mut sql, "a\"b", true).is_none());
    }

    #[test]
    fn sqlite_escapes_wildcards_and_postgres_folds_ascii() {
        let mut sql = Sql::new(Dialect::Sqlite);
        let e = contains_literal(&mut sql, "ENG_1%", false).unwrap();
        assert_eq!(e.text(), "(r.data LIKE $1 ESCAPE '\\')");
        assert_eq!(sql.binds, vec![Bind::Text("%eng\\_1\\%%".into())]);
        let mut sql = Sql::new(Dialect::Postgres);
        let e = contains_literal(&mut sql, "ENG", false).unwrap();
        assert_eq!(e.text(), "(strpos(lower((r.data) COLLATE \"C\"), $1) > 0)");
        assert_eq!(sql.binds, vec![Bind::Text("eng".into())]);
        let e = contains_literal(&mut sql, "ENG", true).unwrap();
        assert_eq!(e.text(), "(strpos(r.data, $2) > 0)");
    }
}
