//! The conformance suite every backend crate runs against a real server.
//!
//! A backend crate provides a setup function that builds a fresh target (an
//! empty database, an LDAP subtree) and returns a [`Fixture`]: the backend
//! under test, a [`Harness`] that reads and writes the target directly (to
//! check what landed and to plant objects scimd does not own), and a
//! [`Profile`] saying which attributes it maps and which policies it runs.
//! Then one line generates one test per check:
//!
//! ```ignore
//! async fn setup() -> Option<Fixture> { /* None = service not reachable, skip */ }
//! mod conformance { scimd_backend::conformance_tests!(super::setup); }
//! ```
//!
//! The fixture must use `on_existing = "fail"` (an existing, unowned object is
//! a conflict, never adopted) and must map every attribute named in the profile.

mod checks;
mod support;

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;

use crate::{Backend, ObjectKind, Value};

/// What the target holds after a user was deactivated or deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The object is gone.
    Removed,
    /// The object is kept, still owned, with the active attribute false.
    Deactivated,
    /// The object is kept but no longer owned (marked), so never observed again.
    Released,
}

/// What the backend under test is configured to do.
#[derive(Debug, Clone)]
pub struct Profile {
    /// Text attributes mapped for users; the first one holds the userName.
    /// At least two.
    pub user_attributes: Vec<String>,
    /// Text attributes mapped for groups; the first one holds the displayName.
    pub group_attributes: Vec<String>,
    /// The user attribute that carries `active`, if one is mapped.
    pub active_attribute: Option<String>,
    /// What `Deactivate` (and an upsert with `active = false`) leaves behind.
    pub on_deactivate: Outcome,
    /// What `Delete` of a user leaves behind (groups are always removed or released).
    pub on_delete: Outcome,
    /// Whether the harness supports [`Harness::set_unmapped`] / [`Harness::unmapped`].
    pub unmapped: bool,
}

/// An object as the harness reads it straight from the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// Every attribute of the profile, `None` where the target holds nothing.
    pub attributes: BTreeMap<String, Option<Value>>,
    /// Whether scimd's ownership marker is on it.
    pub owned: bool,
}

/// Direct access to the target under test, bypassing the backend. Methods
/// panic on failure: they are test code.
#[async_trait]
pub trait Harness: Send + Sync {
    /// Writes an object as an application or administrator would: not owned by
    /// scimd, keyed by `object.id` where the target keeps scimd ids. For a
    /// group, `members` are member ids.
    async fn create_unowned(&self, object: &crate::Object, members: &[String]);
    /// Reads the object with this id, owned or not; `None` if the target has none.
    async fn read(&self, kind: ObjectKind, id: &str) -> Option<Stored>;
    /// The member ids of this group as the target holds them, sorted.
    async fn members(&self, group: &str) -> Vec<String>;
    /// Sets an attribute the backend does not map on this object.
    async fn set_unmapped(&self, kind: ObjectKind, id: &str, value: &str);
    /// Reads the attribute set by [`Harness::set_unmapped`].
    async fn unmapped(&self, kind: ObjectKind, id: &str) -> Option<String>;
    /// How many objects of this kind the target holds, owned or not.
    async fn count(&self, kind: ObjectKind) -> usize;
    /// Makes the target unreachable for the backend until [`Harness::restore`].
    async fn cut(&self);
    /// Makes the target reachable again.
    async fn restore(&self);
    /// Removes what the fixture created (database, subtree, server process).
    async fn teardown(&self);
}

/// A fresh target, the backend under test and direct access to it.
pub struct Fixture {
    /// The backend under test, configured per `profile`.
    pub backend: Box<dyn Backend>,
    /// Direct access to the same target.
    pub harness: Box<dyn Harness>,
    /// What the backend maps and which policies it runs.
    pub profile: Profile,
}

/// The names of every check, in the order [`run_all`] runs them.
pub const CHECKS: &[&str] = checks::NAMES;

/// Runs one check against a fresh fixture, then tears the fixture down, even
/// when the check fails (the failure is then re-raised).
pub async fn check(name: &str, fixture: Fixture) {
    let fixture = Arc::new(fixture);
    let name_owned = name.to_owned();
    let run = {
        let fixture = fixture.clone();
        tokio::spawn(async move { checks::run(&name_owned, &fixture).await })
    };
    let outcome = run.await;
    fixture.harness.teardown().await;
    if let Err(e) = outcome {
        match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(e) => panic!("conformance check {name} did not finish: {e}"),
        }
    }
}

/// Runs every check in turn on one fixture (no teardown): for a quick manual run.
pub async fn run_all(fixture: &Fixture) {
    for name in CHECKS {
        checks::run(name, fixture).await;
    }
}

/// Generates one `#[tokio::test]` per conformance check. The argument is an
/// async function returning `Option<Fixture>` (`None`: the service is not
/// reachable and the test is skipped, having printed why).
#[macro_export]
macro_rules! conformance_tests {
    ($setup:path) => {
        $crate::conformance_tests!(@each $setup;
            upsert_creates,
            upsert_converges_named_attributes_only,
            reapplying_changes_nothing,
            deactivate_follows_policy,
            delete_follows_policy,
            members_add_remove_set,
            observe_returns_exactly_owned,
            unowned_objects_untouched,
            values_land_verbatim,
            batch_of_1000_upserts,
            results_are_per_change,
            unreachable_target_is_transient
        );
        #[test]
        fn every_check_is_generated() {
            let generated = [
                "upsert_creates",
                "upsert_converges_named_attributes_only",
                "reapplying_changes_nothing",
                "deactivate_follows_policy",
                "delete_follows_policy",
                "members_add_remove_set",
                "observe_returns_exactly_owned",
                "unowned_objects_untouched",
                "values_land_verbatim",
                "batch_of_1000_upserts",
                "results_are_per_change",
                "unreachable_target_is_transient",
            ];
            assert_eq!(&generated[..], $crate::conformance::CHECKS);
        }
    };
    (@each $setup:path; $($name:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                if let Some(fixture) = $setup().await {
                    $crate::conformance::check(stringify!($name), fixture).await;
                }
            }
        )*
    };
}
