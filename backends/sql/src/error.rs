//! Errors of the SQL target: configuration problems, and database errors
//! sorted into transient (the target as a whole is unwell: retry) and
//! permanent or conflict (this row cannot be written as it is: park it).

use std::fmt;

use scimd_backend::{BackendError, ErrorKind};
use sqlx::error::{DatabaseError, ErrorKind as SqlxKind};

/// Everything wrong with a SQL target's configuration, found at once.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct SqlConfigError {
    /// One line per problem, each naming the key concerned.
    pub problems: Vec<String>,
}

impl fmt::Display for SqlConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid SQL target: {}", self.problems.join("; "))
    }
}

/// Sorts a sqlx error into a backend error. Connection, I/O, pool, lock,
/// authentication and permission trouble is transient (the target is unwell
/// and every change would fail alike); a unique violation is a conflict; other
/// constraint, type and SQL errors are permanent for the row concerned.
pub(crate) fn classify(e: &sqlx::Error) -> BackendError {
    let kind = match e {
        sqlx::Error::Database(db) => database_kind(db.as_ref()),
        sqlx::Error::Encode(_) | sqlx::Error::Decode(_) | sqlx::Error::ColumnNotFound(_) => {
            ErrorKind::Permanent
        }
        sqlx::Error::ColumnDecode { .. } | sqlx::Error::TypeNotFound { .. } => ErrorKind::Permanent,
        _ => ErrorKind::Transient,
    };
    BackendError::new(kind, e.to_string())
}

fn database_kind(db: &dyn DatabaseError) -> ErrorKind {
    match db.kind() {
        SqlxKind::UniqueViolation => return ErrorKind::Conflict,
        SqlxKind::ForeignKeyViolation | SqlxKind::NotNullViolation | SqlxKind::CheckViolation => {
            return ErrorKind::Permanent;
        }
        _ => {}
    }
    if let Some(e) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
        return postgres_kind(e.code());
    }
    if let Some(e) = db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
        return mysql_kind(e.number());
    }
    if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
        let code: i64 = db.code().and_then(|c| c.parse().ok()).unwrap_or(0);
        return sqlite_kind(code);
    }
    ErrorKind::Transient
}

/// SQLSTATE classes 22 (data), 23 (integrity) and 42 (syntax, undefined
/// column, type mismatch) are about the statement; the rest (connection,
/// resources, shutdown, serialization, locks, authentication) about the server.
fn postgres_kind(sqlstate: &str) -> ErrorKind {
    match sqlstate {
        "42501" => ErrorKind::Transient, // insufficient privilege: fix the grants, then retry
        s if s.starts_with("23") => ErrorKind::Permanent,
        s if s.starts_with("22") || s.starts_with("42") => ErrorKind::Permanent,
        _ => ErrorKind::Transient,
    }
}

fn mysql_kind(number: u16) -> ErrorKind {
    match number {
        1062 | 1586 => ErrorKind::Conflict, // duplicate entry
        1048 | 1054 | 1064 | 1146 | 1216 | 1217 | 1264 | 1292 | 1364 | 1366 | 1406 | 1451
        | 1452 | 3819 | 4025 => ErrorKind::Permanent,
        _ => ErrorKind::Transient, // deadlock, lock wait, gone away, access denied, too many connections
    }
}

/// Primary result codes: CONSTRAINT, MISMATCH, TOOBIG, RANGE and ERROR (a SQL
/// error such as a missing column) are about the statement; BUSY, LOCKED,
/// IOERR, FULL, CANTOPEN, READONLY and the rest about the database file.
fn sqlite_kind(extended: i64) -> ErrorKind {
    match extended {
        2067 | 1555 => ErrorKind::Conflict, // CONSTRAINT_UNIQUE, CONSTRAINT_PRIMARYKEY
        _ => match extended & 0xff {
            1 | 18 | 19 | 20 | 25 => ErrorKind::Permanent,
            _ => ErrorKind::Transient,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_sort_as_documented() {
        assert_eq!(postgres_kind("08006"), ErrorKind::Transient);
        assert_eq!(postgres_kind("40P01"), ErrorKind::Transient);
        assert_eq!(postgres_kind("28P01"), ErrorKind::Transient);
        assert_eq!(postgres_kind("22001"), ErrorKind::Permanent);
        assert_eq!(postgres_kind("42703"), ErrorKind::Permanent);
        assert_eq!(mysql_kind(1213), ErrorKind::Transient);
        assert_eq!(mysql_kind(1406), ErrorKind::Permanent);
        assert_eq!(sqlite_kind(5), ErrorKind::Transient);
        assert_eq!(sqlite_kind(2067), ErrorKind::Conflict);
        assert_eq!(sqlite_kind(1299), ErrorKind::Permanent); // CONSTRAINT_NOTNULL
        assert!(classify(&sqlx::Error::PoolTimedOut).is_retryable());
        let io = sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(classify(&io).is_retryable());
    }
}
