//! Leadership for work that must run on exactly one instance at a time (a target's
//! reconcile worker): a PostgreSQL session-level advisory lock held on a dedicated
//! connection. When the instance dies its connection closes, the lock is released and
//! another instance takes it on its next try. SQLite serves one process: always granted.

use sha2::{Digest, Sha256};
use sqlx::Connection;

/// Proof of leadership; dropping it (or losing its connection) gives it up.
pub struct Lease {
    conn: Option<sqlx::PgConnection>,
}

impl Lease {
    /// A lease that needs no lock (single-process engines).
    pub fn local() -> Lease {
        Lease { conn: None }
    }

    /// A lease held by a lock on this connection.
    pub(super) fn postgres(conn: sqlx::PgConnection) -> Lease {
        Lease { conn: Some(conn) }
    }

    /// Whether the lease still holds: its connection still answers.
    pub async fn check(&mut self) -> bool {
        match &mut self.conn {
            None => true,
            Some(c) => c.ping().await.is_ok(),
        }
    }

    /// Gives the lease up now instead of when dropped.
    pub async fn release(mut self) {
        if let Some(c) = self.conn.take() {
            let _ = c.close().await;
        }
    }
}

/// The advisory-lock key of a lease name: a stable 64-bit hash.
pub(super) fn lock_key(name: &str) -> i64 {
    let digest = Sha256::digest(format!("scimd-lease:{name}").as_bytes());
    i64::from_be_bytes(
        digest[..8]
            .try_into()
            .expect("a SHA-256 digest has 8 bytes"),
    )
}
