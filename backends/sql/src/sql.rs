//! Building SQL text with binds: identifiers come only from validated config
//! and are quoted per dialect, values only ever travel as binds. Also how a
//! neutral [`Value`] becomes a bind for a column of a given type, and back.

use scimd_backend::Value;

use crate::dialect::Dialect;

/// A bound value, typed for the column it goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Bind {
    Text(Option<String>),
    Bool(Option<bool>),
    Int(Option<i64>),
}

/// What a column holds, as far as binding and reading values goes; types
/// other than boolean and integer are bound and read as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ColumnKind {
    Text,
    Bool,
    Int,
}

/// A statement under construction.
#[derive(Debug, Clone)]
pub(crate) struct Sql {
    pub dialect: Dialect,
    pub text: String,
    pub binds: Vec<Bind>,
}

impl Sql {
    pub fn new(dialect: Dialect) -> Self {
        Sql {
            dialect,
            text: String::with_capacity(256),
            binds: Vec::new(),
        }
    }

    /// Appends SQL text written in this crate (never data).
    pub fn push(&mut self, sql: &str) -> &mut Self {
        self.text.push_str(sql);
        self
    }

    /// Appends a quoted identifier from validated config.
    pub fn ident(&mut self, name: &str) -> &mut Self {
        debug_assert!(crate::config::is_valid_identifier(name), "{name}");
        let q = self.dialect.quote_char();
        self.text.push(q);
        self.text.push_str(name);
        self.text.push(q);
        self
    }

    /// Appends `table.column`, both quoted.
    pub fn qualified(&mut self, table: &str, column: &str) -> &mut Self {
        self.ident(table).push(".").ident(column)
    }

    /// Appends a placeholder and binds the value to it.
    pub fn bind(&mut self, value: Bind) -> &mut Self {
        self.binds.push(value);
        let n = self.binds.len();
        match self.dialect {
            Dialect::Postgres => {
                self.text.push('$');
                self.text.push_str(&n.to_string());
            }
            Dialect::MySql | Dialect::Sqlite => self.text.push('?'),
        }
        self
    }

    /// Binds a text value to a placeholder already in the text (catalog queries).
    pub fn arg(&mut self, value: &str) -> &mut Self {
        self.binds.push(Bind::Text(Some(value.to_owned())));
        self
    }

    /// Binds a text value.
    pub fn text(&mut self, value: &str) -> &mut Self {
        self.bind(Bind::Text(Some(value.to_owned())))
    }

    /// Appends `(v1, v2, ...)` with every value bound as text.
    pub fn text_list<'a>(&mut self, values: impl IntoIterator<Item = &'a str>) -> &mut Self {
        self.push("(");
        for (i, v) in values.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.text(v);
        }
        self.push(")")
    }

    /// Appends `column` read back as text (every value is fetched as text).
    pub fn as_text(&mut self, column: &str) -> &mut Self {
        let cast = match self.dialect {
            Dialect::MySql => " AS CHAR)",
            Dialect::Postgres | Dialect::Sqlite => " AS TEXT)",
        };
        self.push("CAST(").ident(column).push(cast)
    }
}

/// Converts a mapped value for a column of this kind. Multi-valued values fit
/// a single column only when they hold at most one value.
pub(crate) fn to_bind(kind: ColumnKind, value: Option<&Value>) -> Result<Bind, String> {
    let value = match value {
        Some(Value::Texts(v)) if v.len() > 1 => {
            return Err(format!("holds one value, the mapping gave {}", v.len()));
        }
        Some(Value::Texts(v)) => v.first().map(|s| Value::Text(s.clone())),
        other => other.cloned(),
    };
    Ok(match (kind, value) {
        (ColumnKind::Text, None) => Bind::Text(None),
        (ColumnKind::Bool, None) => Bind::Bool(None),
        (ColumnKind::Int, None) => Bind::Int(None),
        (ColumnKind::Text, Some(Value::Text(s))) => Bind::Text(Some(s)),
        (ColumnKind::Text, Some(Value::Bool(b))) => Bind::Text(Some(b.to_string())),
        (ColumnKind::Text, Some(Value::Int(i))) => Bind::Text(Some(i.to_string())),
        (ColumnKind::Bool, Some(Value::Bool(b))) => Bind::Bool(Some(b)),
        (ColumnKind::Bool, Some(Value::Int(i))) => Bind::Bool(Some(i != 0)),
        (ColumnKind::Bool, Some(Value::Text(s))) => match parse_bool(&s) {
            Some(b) => Bind::Bool(Some(b)),
            None => return Err(format!("is boolean, {s:?} is not")),
        },
        (ColumnKind::Int, Some(Value::Int(i))) => Bind::Int(Some(i)),
        (ColumnKind::Int, Some(Value::Bool(b))) => Bind::Int(Some(i64::from(b))),
        (ColumnKind::Int, Some(Value::Text(s))) => match s.trim().parse() {
            Ok(i) => Bind::Int(Some(i)),
            Err(_) => return Err(format!("is an integer, {s:?} is not")),
        },
        (_, Some(Value::Texts(_))) => unreachable!("flattened above"),
    })
}

/// Reads back a value fetched as text from a column of this kind.
pub(crate) fn from_text(kind: ColumnKind, text: Option<String>) -> Option<Value> {
    let text = text?;
    Some(match kind {
        ColumnKind::Text => Value::Text(text),
        ColumnKind::Bool => match parse_bool(&text) {
            Some(b) => Value::Bool(b),
            None => Value::Text(text),
        },
        ColumnKind::Int => match text.parse() {
            Ok(i) => Value::Int(i),
            Err(_) => Value::Text(text),
        },
    })
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "t" | "1" | "yes" | "y" | "on" => Some(true),
        "false" | "f" | "0" | "no" | "n" | "off" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_and_quotes_follow_the_dialect() {
        let mut pg = Sql::new(Dialect::Postgres);
        pg.push("SELECT ")
            .ident("a")
            .push(" FROM ")
            .ident("t")
            .push(" WHERE x IN ")
            .text_list(["1", "2"]);
        assert_eq!(pg.text, r#"SELECT "a" FROM "t" WHERE x IN ($1, $2)"#);
        let mut my = Sql::new(Dialect::MySql);
        my.push("SELECT ")
            .as_text("a")
            .push(" WHERE b = ")
            .text("x");
        assert_eq!(my.text, "SELECT CAST(`a` AS CHAR) WHERE b = ?");
        assert_eq!(my.binds, vec![Bind::Text(Some("x".into()))]);
    }

    #[test]
    fn values_convert_to_the_column_type_and_back() {
        assert_eq!(
            to_bind(ColumnKind::Text, Some(&Value::Bool(true))),
            Ok(Bind::Text(Some("true".into())))
        );
        assert_eq!(
            to_bind(ColumnKind::Bool, Some(&"0".into())),
            Ok(Bind::Bool(Some(false)))
        );
        assert_eq!(
            to_bind(ColumnKind::Int, Some(&"12".into())),
            Ok(Bind::Int(Some(12)))
        );
        assert!(to_bind(ColumnKind::Int, Some(&"x".into())).is_err());
        assert!(
            to_bind(
                ColumnKind::Text,
                Some(&Value::Texts(vec!["a".into(), "b".into()]))
            )
            .is_err()
        );
        assert_eq!(to_bind(ColumnKind::Bool, None), Ok(Bind::Bool(None)));
        assert_eq!(
            from_text(ColumnKind::Bool, Some("1".into())),
            Some(Value::Bool(true))
        );
        assert_eq!(
            from_text(ColumnKind::Bool, Some("false".into())),
            Some(Value::Bool(false))
        );
        assert_eq!(
            from_text(ColumnKind::Int, Some("7".into())),
            Some(Value::Int(7))
        );
        assert_eq!(from_text(ColumnKind::Text, None), None);
    }
}
