//! The object-safe trait every target kind implements.

use async_trait::async_trait;

use crate::{BackendError, Change, ObjectKind, Observed};

/// Where [`Backend::observe`] delivers objects, one at a time. Returning an
/// error stops the walk and `observe` returns that error.
pub type ObservedSink<'a> = dyn FnMut(Observed) -> Result<(), BackendError> + Send + 'a;

/// A target scimd keeps in sync: an LDAP directory, a SQL database.
///
/// Ownership: a backend touches, and reports, only objects it created or
/// adopted (marked as scimd's by an attribute or column, inside its configured
/// subtree or table). Objects it does not own are never modified, deleted or
/// observed; a change that would need to touch one fails with
/// [`ErrorKind::Conflict`](crate::ErrorKind::Conflict).
#[async_trait]
pub trait Backend: Send + Sync {
    /// A one-line description for logs and `scimd status` (kind and address,
    /// never a secret).
    fn describe(&self) -> String;

    /// Checks that the target is reachable and set up as configured (tables,
    /// columns, base DNs); creates what the configuration says to create.
    /// An unreachable target is `Transient`; a missing table or column is
    /// `Permanent`, with a message naming everything that is missing.
    async fn healthcheck(&self) -> Result<(), BackendError>;

    /// Applies the changes in order and returns exactly one result per change,
    /// in the same order. Every change is idempotent: applying it again, or
    /// applying a batch again after a partial failure, succeeds and changes
    /// nothing more. Changes to one object take effect in the given order.
    /// A batch is written in as few transactions and round trips as the target
    /// allows. A `Transient` result means the change may or may not have been
    /// applied and must be retried; `Permanent` and `Conflict` mean it was not
    /// applied and retrying it unchanged will fail again. Never panics on
    /// target trouble: an unreachable target yields `Transient` results.
    async fn apply(&self, changes: &[Change]) -> Vec<Result<(), BackendError>>;

    /// Streams every object of this kind the target owns, with every mapped
    /// attribute and, for groups, the member ids, into `sink`, in a stable
    /// order, holding only a bounded page in memory. Objects the target does
    /// not own are never reported. An error part-way leaves the objects
    /// already delivered valid; the walk is not resumed.
    async fn observe(
        &self,
        kind: ObjectKind,
        sink: &mut ObservedSink<'_>,
    ) -> Result<(), BackendError>;

    /// Whether `observe` delivers objects in ascending id order (as `str::cmp`
    /// orders scimd's ids). A drift check merge-joins both sides in that order;
    /// for a backend that cannot sort (LDAP without server-side sorting) it
    /// sorts what was observed first, which costs memory in the target's size.
    fn observes_in_id_order(&self) -> bool {
        false
    }
}
