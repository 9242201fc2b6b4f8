//! POSIX entries: uidNumber/gidNumber allocated from a counter entry, never
//! handed out twice (not even after a delete, not under concurrency), and
//! posixGroup membership kept as memberUid values that follow renames.

use std::collections::HashSet;

use scimd_backend::{Backend, Change, MemberRef, Object, ObjectKind};
use scimd_backend_ldap::LdapTargetConfig;
use scimd_backend_ldap::testing::{self, GROUPS, PEOPLE, Slapd};

fn config(slapd: &Slapd) -> LdapTargetConfig {
    toml::from_str(&format!(
        r#"
        url = "{url}"
        bind_dn = "{dn}"
        bind_password_file = "{pw}"
        [users]
        base_dn = "{PEOPLE}"
        object_classes = ["inetOrgPerson", "posixAccount", "scimdObject"]
        rdn = "uid"
        on_deactivate = "ignore"
        number = {{ attribute = "uidNumber", counter_dn = "cn=next-uid,dc=test", counter_attribute = "gidNumber" }}
        [users.attributes]
        uid = "userName"
        homeDirectory = "/home/{{userName}}"
        [users.defaults]
        cn = "-"
        sn = "-"
        gidNumber = "100"
        [groups]
        base_dn = "{GROUPS}"
        object_classes = ["posixGroup", "scimdObject"]
        rdn = "cn"
        member_attribute = "memberUid"
        number = {{ attribute = "gidNumber", counter_dn = "cn=next-gid,dc=test", counter_attribute = "gidNumber" }}
        [groups.attributes]
        cn = "displayName"
        "#,
        url = slapd.url(),
        dn = testing::SERVICE_DN,
        pw = slapd.service_password_file().display(),
    ))
    .unwrap()
}

fn user(id: &str, name: &str) -> Object {
    Object::new(ObjectKind::User, id, name)
        .with("uid", name)
        .with("homeDirectory", format!("/home/{name}"))
}

async fn numbers(slapd: &Slapd, base: &str, filter: &str, attr: &str) -> Vec<(String, i64)> {
    let mut ldap = slapd.admin_bind().await.unwrap();
    let (entries, _) = ldap
        .search(base, ldap3::Scope::Subtree, filter, vec!["uid", "cn", attr])
        .await
        .unwrap()
        .success()
        .unwrap();
    let mut out: Vec<(String, i64)> = entries
        .into_iter()
        .map(ldap3::SearchEntry::construct)
        .map(|e| {
            let name = e.attrs.get("uid").or(e.attrs.get("cn")).unwrap()[0].clone();
            (name, e.attrs[attr][0].parse().unwrap())
        })
        .collect();
    out.sort();
    out
}

async fn apply_ok(b: &dyn Backend, changes: &[Change]) {
    for (c, r) in changes.iter().zip(b.apply(changes).await) {
        r.unwrap_or_else(|e| panic!("{c:?}: {e}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posix_numbers_are_never_reused_and_member_uids_follow_renames() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let Some(slapd) = Slapd::start(false).await else {
        return;
    };
    let mut admin = slapd.admin_bind().await.unwrap();
    for (cn, first) in [("next-uid", "10000"), ("next-gid", "20000")] {
        admin
            .add(
                &format!("cn={cn},dc=test"),
                vec![
                    ("objectClass", HashSet::from(["posixGroup"])),
                    ("cn", HashSet::from([cn])),
                    ("gidNumber", HashSet::from([first])),
                ],
            )
            .await
            .unwrap()
            .success()
            .unwrap();
    }
    let backend = config(&slapd).build().unwrap();

    // 40 users in one batch: upserts of distinct users run concurrently.
    let batch: Vec<Change> = (0..40)
        .map(|i| Change::Upsert(user(&format!("u-{i:02}"), &format!("user{i:02}"))))
        .collect();
    apply_ok(&backend, &batch).await;
    let got = numbers(&slapd, PEOPLE, "(objectClass=posixAccount)", "uidNumber").await;
    let mut nums: Vec<i64> = got.iter().map(|(_, n)| *n).collect();
    nums.sort();
    assert_eq!(
        nums,
        (10000..10040).collect::<Vec<_>>(),
        "distinct, from the counter"
    );

    // Re-applying keeps every number; a deleted user's number is not reused.
    apply_ok(&backend, &batch).await;
    assert_eq!(
        numbers(&slapd, PEOPLE, "(objectClass=posixAccount)", "uidNumber").await,
        got
    );
    apply_ok(
        &backend,
        &[
            Change::Delete {
                kind: ObjectKind::User,
                id: "u-39".into(),
            },
            Change::Upsert(user("u-new", "newcomer")),
        ],
    )
    .await;
    let after = numbers(&slapd, PEOPLE, "(uid=newcomer)", "uidNumber").await;
    assert_eq!(after, [("newcomer".to_string(), 10040)]);

    // posixGroup: gidNumber allocated, members as memberUid values.
    apply_ok(
        &backend,
        &[
            Change::Upsert(Object::new(ObjectKind::Group, "g-dev", "dev").with("cn", "dev")),
            Change::AddMembers {
                group: "g-dev".into(),
                members: vec![MemberRef::user("u-01"), MemberRef::user("u-02")],
            },
        ],
    )
    .await;
    assert_eq!(
        numbers(&slapd, GROUPS, "(cn=dev)", "gidNumber").await,
        [("dev".to_string(), 20000)]
    );
    apply_ok(&backend, &[Change::Upsert(user("u-01", "renamed01"))]).await;
    let mut ldap = slapd.admin_bind().await.unwrap();
    let (e, _) = ldap
        .search(GROUPS, ldap3::Scope::Subtree, "(cn=dev)", vec!["memberUid"])
        .await
        .unwrap()
        .success()
        .unwrap();
    let mut uids =
        ldap3::SearchEntry::construct(e.into_iter().next().unwrap()).attrs["memberUid"].clone();
    uids.sort();
    assert_eq!(uids, ["renamed01", "user02"]);
    let mut seen = Vec::new();
    backend
        .observe(ObjectKind::Group, &mut |o| {
            seen.push(o);
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(
        seen[0].members.as_deref(),
        Some(&["u-01".to_string(), "u-02".to_string()][..])
    );
}
