//! Building SQL text with numbered binds for list queries, and the few places where
//! SQLite and PostgreSQL spell the same thing differently. Values only ever enter a
//! statement as binds; the only text spliced in comes from the schema registry.

/// The SQL dialect a statement is built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// SQLite (the JSON is the `data` text, read with `json_extract`).
    Sqlite,
    /// PostgreSQL (the JSON is `data` cast once per row to `jsonb`).
    Postgres,
}

/// A bound value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Bind {
    /// Text.
    Text(String),
    /// A 64-bit integer.
    Int(i64),
}

/// A statement under construction: text plus its binds, numbered `$1..$n` in order.
#[derive(Debug, Clone)]
pub(crate) struct Sql {
    /// The statement text.
    pub text: String,
    /// The binds, `$1` first.
    pub binds: Vec<Bind>,
    /// The dialect the text is written in.
    pub dialect: Dialect,
}

impl Sql {
    /// An empty statement.
    pub fn new(dialect: Dialect) -> Self {
        Sql {
            text: String::new(),
            binds: Vec::new(),
            dialect,
        }
    }

    /// Adds a bind and returns its placeholder.
    pub fn bind(&mut self, value: Bind) -> String {
        self.binds.push(value);
        format!("${}", self.binds.len())
    }

    /// Adds a text bind and returns its placeholder.
    pub fn text(&mut self, value: impl Into<String>) -> String {
        self.bind(Bind::Text(value.into()))
    }

    /// The statement with only the binds its text refers to, renumbered in order.
    /// Translation binds literals eagerly and then may simplify a condition away
    /// (`x eq "a" and false`); PostgreSQL refuses binds a statement does not use.
    /// Only placeholders are `$` followed by digits here: spliced names never are.
    pub fn compact(&self) -> Sql {
        let used = |text: &str| {
            let mut out = Vec::new();
            let b = text.as_bytes();
            let mut i = 0;
            while i < b.len() {
                if b[i] == b'$' {
                    let start = i + 1;
                    let mut end = start;
                    while end < b.len() && b[end].is_ascii_digit() {
                        end += 1;
                    }
                    if end > start {
                        out.push((i, end, text[start..end].parse::<usize>().unwrap_or(0)));
                    }
                    i = end.max(i + 1);
                } else {
                    i += 1;
                }
            }
            out
        };
        let places = used(&self.text);
        let mut referenced: Vec<usize> = places.iter().map(|p| p.2).collect();
        referenced.sort_unstable();
        referenced.dedup();
        if referenced.len() == self.binds.len() {
            return self.clone();
        }
        let renumber = |n: usize| referenced.binary_search(&n).map(|i| i + 1).unwrap_or(0);
        let mut text = String::with_capacity(self.text.len());
        let mut last = 0;
        for (start, end, n) in places {
            text.push_str(&self.text[last..start]);
            text.push_str(&format!("${}", renumber(n)));
            last = end;
        }
        text.push_str(&self.text[last..]);
        Sql {
            text,
            binds: referenced
                .iter()
                .filter_map(|n| self.binds.get(n - 1).cloned())
                .collect(),
            dialect: self.dialect,
        }
    }

    /// `position of needle in haystack` (1-based, 0 when absent; an empty needle is at 1).
    pub fn strpos(&self, haystack: &str, needle: &str) -> String {
        match self.dialect {
            Dialect::Sqlite => format!("instr({haystack}, {needle})"),
            Dialect::Postgres => format!("strpos({haystack}, {needle})"),
        }
    }

    /// Forces byte-wise (code point) order on a text expression, the order Rust's
    /// `str::cmp` uses. SQLite's default BINARY collation already is.
    pub fn bytewise(&self, expr: &str) -> String {
        match self.dialect {
            Dialect::Sqlite => expr.to_owned(),
            Dialect::Postgres => format!("({expr}) COLLATE \"C\""),
        }
    }

    /// ASCII-only lower-casing on both engines (SQLite's `lower` is; PostgreSQL's is
    /// under the "C" collation), so both agree with Rust on ASCII text.
    pub fn ascii_lower(&self, expr: &str) -> String {
        match self.dialect {
            Dialect::Sqlite => format!("lower({expr})"),
            Dialect::Postgres => format!("lower(({expr}) COLLATE \"C\")"),
        }
    }

    /// True when a text expression holds only ASCII characters (and no NUL).
    pub fn is_ascii(&self, expr: &str) -> String {
        format!("octet_length({expr}) = length({expr})")
    }

    /// A JSON array of ids as a set usable after `IN`.
    pub fn id_set(&mut self, ids: &[String]) -> String {
        let json = serde_json::to_string(ids).unwrap_or_else(|_| "[]".into());
        let p = self.text(json);
        match self.dialect {
            Dialect::Sqlite => format!("(SELECT value FROM json_each({p}))"),
            Dialect::Postgres => format!("(SELECT jsonb_array_elements_text(CAST({p} AS jsonb)))"),
        }
    }
}

/// Whether a schema name may be spliced into SQL text: registry names are plain ASCII
/// identifiers and URNs; anything else is refused (and then evaluated in Rust).
pub(crate) fn safe_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'.' | b'_' | b'-' | b'$'))
}

/// Where a JSON value lives: a document expression and the key path inside it.
#[derive(Debug, Clone)]
pub(crate) struct JsonAt {
    /// The document: `r.data` (SQLite text), `jx.j` (PostgreSQL jsonb), or an array
    /// element.
    pub doc: String,
    /// Keys from the document to the value (all passing [`safe_name`]).
    pub keys: Vec<&'static str>,
    /// For array elements on SQLite: the `json_each` alias, whose `value` is JSON text
    /// only for objects (so other elements are treated as having no keys).
    pub element_of: Option<String>,
}

impl JsonAt {
    /// `$."a"."b"` for SQLite.
    fn sqlite_path(&self) -> String {
        let mut p = String::from("'$");
        for k in &self.keys {
            p.push_str(&format!(".\"{k}\""));
        }
        p.push('\'');
        p
    }

    /// `'{a,b}'` for PostgreSQL.
    fn pg_path(&self) -> String {
        format!("'{{{}}}'", self.keys.join(","))
    }

    /// The JSON type of the value, never NULL: `text`, `true`, `false`, `array`,
    /// `object`, `null` (also when missing), or `number`/`odd` for anything else.
    /// SQLite and PostgreSQL are mapped to the same words.
    pub fn json_type(&self, d: Dialect) -> String {
        match d {
            Dialect::Sqlite => {
                let t = format!(
                    "COALESCE(json_type({}, {}), 'null')",
                    self.doc,
                    self.sqlite_path()
                );
                match &self.element_of {
                    Some(e) => format!("(CASE WHEN {e}.type = 'object' THEN {t} ELSE 'null' END)"),
                    None => t,
                }
            }
            Dialect::Postgres => {
                let v = format!("({} #> {})", self.doc, self.pg_path());
                // A document PostgreSQL could not parse (see `Sql` users) is NULL: 'odd',
                // so every answer about it is left to Rust.
                format!(
                    "(CASE WHEN {doc} IS NULL THEN 'odd' ELSE CASE jsonb_typeof({v}) \
                     WHEN 'string' THEN 'text' WHEN 'boolean' THEN ({v}) #>> '{{}}' \
                     WHEN 'array' THEN 'array' WHEN 'object' THEN 'object' \
                     WHEN 'number' THEN 'number' ELSE 'null' END END)",
                    doc = self.doc
                )
            }
        }
    }

    /// The value as SQL text (meaningful only where `json_type` is `text`).
    pub fn text(&self, d: Dialect) -> String {
        match d {
            Dialect::Sqlite => {
                let x = format!("json_extract({}, {})", self.doc, self.sqlite_path());
                match &self.element_of {
                    Some(e) => format!("(CASE WHEN {e}.type = 'object' THEN {x} END)"),
                    None => x,
                }
            }
            Dialect::Postgres => format!("({} #>> {})", self.doc, self.pg_path()),
        }
    }

    /// The elements of the array at this place, as `FROM` items with alias `alias`,
    /// plus the document expression of one element.
    pub fn elements(&self, d: Dialect, alias: &str) -> (String, String) {
        match d {
            Dialect::Sqlite => (
                format!("json_each({}, {}) AS {alias}", self.doc, self.sqlite_path()),
                format!("{alias}.value"),
            ),
            Dialect::Postgres => {
                let v = format!("({} #> {})", self.doc, self.pg_path());
                (
                    format!(
                        "jsonb_array_elements(CASE WHEN jsonb_typeof({v}) = 'array' THEN {v} \
                         ELSE '[]'::jsonb END) WITH ORDINALITY AS {alias}(v, n)"
                    ),
                    format!("{alias}.v"),
                )
            }
        }
    }

    /// The place `key` inside one element of the array `alias` (see [`Self::elements`]).
    pub fn in_element(d: Dialect, alias: &str, key: &'static str) -> JsonAt {
        match d {
            Dialect::Sqlite => JsonAt {
                doc: format!("{alias}.value"),
                keys: vec![key],
                element_of: Some(alias.to_owned()),
            },
            Dialect::Postgres => JsonAt {
                doc: format!("{alias}.v"),
                keys: vec![key],
                element_of: None,
            },
        }
    }

    /// The position of an element (for "first value" ordering).
    pub fn element_order(d: Dialect, alias: &str) -> String {
        match d {
            Dialect::Sqlite => format!("{alias}.key"),
            Dialect::Postgres => format!("{alias}.n"),
        }
    }
}

/// `FROM` clause of list queries; `json` adds, on PostgreSQL, the row's data parsed
/// once as `jx.j` (NULL when it holds a `\u0000` escape, which jsonb refuses).
pub(crate) fn from_resources(d: Dialect, json: bool) -> &'static str {
    match (d, json) {
        (Dialect::Postgres, true) => {
            "FROM resources r CROSS JOIN LATERAL (SELECT CASE WHEN strpos(r.data, '\\u0000') > 0 \
             THEN NULL ELSE r.data::jsonb END AS j OFFSET 0) AS jx"
        }
        _ => "FROM resources r",
    }
}

/// The document expression of a resource row's data.
pub(crate) fn doc(d: Dialect) -> &'static str {
    match d {
        Dialect::Sqlite => "r.data",
        Dialect::Postgres => "jx.j",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_are_numbered_in_order() {
        let mut s = Sql::new(Dialect::Sqlite);
        assert_eq!(s.text("a"), "$1");
        assert_eq!(s.bind(Bind::Int(2)), "$2");
        assert_eq!(s.binds.len(), 2);
    }

    #[test]
    fn unused_binds_are_dropped_and_the_rest_renumbered() {
        let mut s = Sql::new(Dialect::Postgres);
        let a = s.text("a");
        let _unused = s.text("b");
        let c = s.text("c");
        s.text = format!("x = {a} AND y = '$.\"k\"' AND z = {c} OR w = {c}");
        let t = s.compact();
        assert_eq!(t.text, "x = $1 AND y = '$.\"k\"' AND z = $2 OR w = $2");
        assert_eq!(
            t.binds,
            vec![Bind::Text("a".into()), Bind::Text("c".into())]
        );
    }

    #[test]
    fn only_registry_like_names_are_spliced() {
        assert!(safe_name(
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
        ));
        assert!(safe_name("$ref"));
        assert!(!safe_name("a'b"));
        assert!(!safe_name("a\"b"));
        assert!(!safe_name(""));
    }
}
