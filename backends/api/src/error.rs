//! What can go wrong when a backend talks to its target, and whether trying
//! again later can help.

use std::fmt;

/// How the caller should treat a failed change or call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The target could not be reached or refused for now (connection, I/O,
    /// timeout, lock, authentication, overload): retry the same change later.
    Transient,
    /// This change cannot succeed as it is (constraint, type, unmapped
    /// attribute, missing group): park it with this error.
    Permanent,
    /// The target holds an object scimd does not own where this one would go
    /// (an existing entry with `on_existing = "fail"`, a unique value taken by
    /// someone else): park it until an operator decides.
    Conflict,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorKind::Transient => "transient",
            ErrorKind::Permanent => "permanent",
            ErrorKind::Conflict => "conflict",
        })
    }
}

/// An error from a backend, for one change or for a whole call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} target error{}: {message}", object.as_deref().map(|o| format!(" for {o}")).unwrap_or_default())]
pub struct BackendError {
    /// Whether retrying can help.
    pub kind: ErrorKind,
    /// What went wrong and, where it helps, what to do about it.
    pub message: String,
    /// The scimd id of the object concerned, when there is one.
    pub object: Option<String>,
}

impl BackendError {
    /// A transient error: the target is unreachable or busy.
    pub fn transient(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Transient, message)
    }

    /// A permanent error: this change cannot succeed as it is.
    pub fn permanent(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Permanent, message)
    }

    /// A conflict with an object scimd does not own.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, message)
    }

    /// An error of this kind.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        BackendError {
            kind,
            message: message.into(),
            object: None,
        }
    }

    /// The same error, naming the object concerned.
    pub fn for_object(mut self, id: impl Into<String>) -> Self {
        self.object = Some(id.into());
        self
    }

    /// Whether the same change may succeed if retried later (only `Transient`).
    pub fn is_retryable(&self) -> bool {
        self.kind == ErrorKind::Transient
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_transient_is_retryable_and_display_names_the_object() {
        assert!(BackendError::transient("down").is_retryable());
        assert!(!BackendError::permanent("bad").is_retryable());
        assert!(!BackendError::conflict("taken").is_retryable());
        let e = BackendError::conflict("row exists").for_object("u1");
        assert_eq!(e.to_string(), "conflict target error for u1: row exists");
    }
}
