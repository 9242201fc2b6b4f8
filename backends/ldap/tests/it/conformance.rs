//! The shared backend conformance suite against a slapd of its own per check:
//! inetOrgPerson + groupOfNames (placeholder member for empty groups), the
//! `disable` policy for deactivation and `delete` for deletion.

use async_trait::async_trait;
use scimd_backend::conformance::{Fixture, Harness, Outcome, Profile, Stored};
use scimd_backend::{Object, ObjectKind};

use crate::directory::{Direct, attributes, base, fixture};

struct LdapHarness {
    direct: Direct,
}

#[async_trait]
impl Harness for LdapHarness {
    async fn create_unowned(&self, object: &Object, members: &[String]) {
        self.direct.plant(object, members).await;
    }

    async fn read(&self, kind: ObjectKind, id: &str) -> Option<Stored> {
        let e = self.direct.entry(kind, id).await?;
        let names: &[&str] = match kind {
            ObjectKind::User => &["uid", "displayName", "employeeType"],
            ObjectKind::Group => &["cn", "description"],
        };
        Some(Stored {
            attributes: attributes(&e, names),
            owned: e.attrs.contains_key("scimdId"),
        })
    }

    async fn members(&self, group: &str) -> Vec<String> {
        self.direct.member_ids(group).await
    }

    async fn set_unmapped(&self, kind: ObjectKind, id: &str, value: &str) {
        let e = self.direct.entry(kind, id).await.expect("entry");
        self.direct.set(&e.dn, "description", value).await;
    }

    async fn unmapped(&self, kind: ObjectKind, id: &str) -> Option<String> {
        let e = self.direct.entry(kind, id).await?;
        e.attrs.get("description").map(|v| v[0].clone())
    }

    async fn count(&self, kind: ObjectKind) -> usize {
        self.direct.count(kind).await
    }

    async fn cut(&self) {
        self.direct.slapd.stop();
    }

    async fn restore(&self) {
        self.direct.slapd.restart().await;
    }

    async fn teardown(&self) {
        self.direct.slapd.stop();
    }
}

async fn setup() -> Option<Fixture> {
    let (_slapd, backend, direct) = fixture("").await?;
    let _ = base(ObjectKind::User);
    Some(Fixture {
        backend: Box::new(backend),
        harness: Box::new(LdapHarness { direct }),
        profile: Profile {
            user_attributes: vec!["uid".into(), "displayName".into()],
            group_attributes: vec!["cn".into(), "description".into()],
            active_attribute: None,
            on_deactivate: Outcome::Deactivated,
            on_delete: Outcome::Removed,
            unmapped: true,
        },
    })
}

mod suite {
    scimd_backend::conformance_tests!(super::setup);
}
