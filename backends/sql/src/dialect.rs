//! What differs between PostgreSQL, MariaDB/MySQL and SQLite: quoting,
//! column types for created tables, catalog queries, and how a column's
//! declared type maps to a [`ColumnKind`].

use crate::sql::ColumnKind;

/// The database family a target URL points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Postgres,
    MySql,
    Sqlite,
}

impl Dialect {
    pub fn from_url(url: &str) -> Option<Self> {
        let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase())?;
        match scheme.as_str() {
            "postgres" | "postgresql" => Some(Dialect::Postgres),
            "mysql" => Some(Dialect::MySql),
            "sqlite" => Some(Dialect::Sqlite),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Dialect::Postgres => "PostgreSQL",
            Dialect::MySql => "MySQL/MariaDB",
            Dialect::Sqlite => "SQLite",
        }
    }

    pub fn quote_char(self) -> char {
        match self {
            Dialect::MySql => '`',
            Dialect::Postgres | Dialect::Sqlite => '"',
        }
    }

    /// Type of key, owner and membership columns in created tables: indexable,
    /// and compared byte for byte on MySQL (its default collation would make
    /// `a` and `A ` the same key).
    pub fn key_type(self) -> &'static str {
        match self {
            Dialect::Postgres => "VARCHAR(255)",
            Dialect::MySql => "VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
            Dialect::Sqlite => "TEXT",
        }
    }

    /// Type of mapped columns in created tables.
    pub fn value_type(self, kind: ColumnKind) -> &'static str {
        match (self, kind) {
            (_, ColumnKind::Bool) => "BOOLEAN",
            (Dialect::Sqlite, ColumnKind::Int) => "INTEGER",
            (_, ColumnKind::Int) => "BIGINT",
            (Dialect::MySql, ColumnKind::Text) => "TEXT CHARACTER SET utf8mb4",
            (_, ColumnKind::Text) => "TEXT",
        }
    }

    /// Suffix of `CREATE TABLE` (MySQL: a charset that holds every character).
    pub fn table_options(self) -> &'static str {
        match self {
            Dialect::MySql => " DEFAULT CHARSET=utf8mb4",
            Dialect::Postgres | Dialect::Sqlite => "",
        }
    }

    /// One bind (table name) -> rows of (column name, declared type), as text.
    pub fn columns_query(self) -> &'static str {
        match self {
            Dialect::Postgres => {
                "SELECT CAST(column_name AS TEXT), CAST(data_type AS TEXT) FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = $1"
            }
            Dialect::MySql => {
                "SELECT CAST(COLUMN_NAME AS CHAR), CAST(COLUMN_TYPE AS CHAR) FROM information_schema.COLUMNS \
                 WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?"
            }
            Dialect::Sqlite => "SELECT name, type FROM pragma_table_info(?)",
        }
    }

    /// One bind (table name) -> rows of (column name) for every column that is
    /// unique on its own (primary key or single-column unique index, not partial).
    pub fn unique_columns_query(self) -> &'static str {
        match self {
            Dialect::Postgres => {
                "SELECT CAST(a.attname AS TEXT) FROM pg_index i \
                 JOIN pg_class c ON c.oid = i.indrelid \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = i.indkey[0] \
                 WHERE c.relname = $1 AND n.nspname = current_schema() \
                 AND i.indisunique AND i.indnkeyatts = 1 AND i.indpred IS NULL"
            }
            Dialect::MySql => {
                "SELECT CAST(MIN(COLUMN_NAME) AS CHAR) FROM information_schema.STATISTICS \
                 WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND NON_UNIQUE = 0 \
                 GROUP BY INDEX_NAME HAVING COUNT(*) = 1"
            }
            Dialect::Sqlite => {
                "SELECT MIN(ii.name) FROM pragma_index_list(?) AS il, pragma_index_info(il.name) AS ii \
                 WHERE il.\"unique\" = 1 AND il.partial = 0 GROUP BY il.name HAVING COUNT(*) = 1"
            }
        }
    }

    /// How values of a column with this declared type are bound and read.
    pub fn kind_of(self, declared: &str) -> ColumnKind {
        let t = declared.trim().to_ascii_lowercase();
        match self {
            Dialect::Postgres => match t.as_str() {
                "boolean" => ColumnKind::Bool,
                "smallint" | "integer" | "bigint" => ColumnKind::Int,
                _ => ColumnKind::Text,
            },
            Dialect::MySql => {
                if t.starts_with("tinyint(1)") || t == "bool" || t == "boolean" {
                    ColumnKind::Bool
                } else if ["tinyint", "smallint", "mediumint", "int", "bigint"]
                    .iter()
                    .any(|p| t.starts_with(p))
                {
                    ColumnKind::Int
                } else {
                    ColumnKind::Text
                }
            }
            Dialect::Sqlite => {
                if t.contains("bool") {
                    ColumnKind::Bool
                } else if t.contains("int") {
                    ColumnKind::Int
                } else {
                    ColumnKind::Text
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_declared_types() {
        assert_eq!(
            Dialect::from_url("postgresql://h/db"),
            Some(Dialect::Postgres)
        );
        assert_eq!(Dialect::from_url("SQLITE://x.db"), Some(Dialect::Sqlite));
        assert_eq!(Dialect::from_url("mssql://x"), None);
        assert_eq!(Dialect::MySql.kind_of("tinyint(1)"), ColumnKind::Bool);
        assert_eq!(Dialect::MySql.kind_of("int(11) unsigned"), ColumnKind::Int);
        assert_eq!(Dialect::MySql.kind_of("varchar(255)"), ColumnKind::Text);
        assert_eq!(Dialect::Sqlite.kind_of("BOOLEAN"), ColumnKind::Bool);
        assert_eq!(Dialect::Sqlite.kind_of("BIGINT"), ColumnKind::Int);
        assert_eq!(
            Dialect::Postgres.kind_of("character varying"),
            ColumnKind::Text
        );
    }
}
