//! LDAP targets end to end: SCIM requests to a running scimd land in a slapd
//! the test starts itself (users, groups, membership PATCHes, renames,
//! deactivation), nothing is lost while the directory is down, and
//! `check-config` accepts the shipped LDAP profiles.

use std::time::{Duration, Instant};

use ldap3::{Scope, SearchEntry};
use scimd_backend_ldap::escape;
use scimd_backend_ldap::testing::{GROUPS, PEOPLE, SERVICE_DN, Slapd};
use serde_json::json;

use crate::support::{Daemon, patch_op, user};

fn target_toml(slapd: &Slapd) -> String {
    format!(
        r#"
[providers.a.targets.dir]
kind = "ldap"
url = "{url}"
bind_dn = "{SERVICE_DN}"
bind_password_file = "{pw}"
timeout_seconds = 2

[providers.a.targets.dir.users]
base_dn = "{PEOPLE}"
object_classes = ["inetOrgPerson", "scimdObject"]
rdn = "uid"
on_deactivate = "disable"
disable_attribute = "employeeType"
disabled_value = "disabled"

[providers.a.targets.dir.users.attributes]
uid = "userName"
cn = "{{name.givenName}} {{name.familyName}}"
sn = "name.familyName"
mail = 'emails[type eq "work"].value'
description = "=pushed by scimd"

[providers.a.targets.dir.users.defaults]
sn = "-"

[providers.a.targets.dir.groups]
base_dn = "{GROUPS}"
object_classes = ["groupOfNames", "scimdObject"]
rdn = "cn"
member_attribute = "member"
empty_member = "cn=nobody,dc=test"

[providers.a.targets.dir.groups.attributes]
cn = "displayName"
"#,
        url = slapd.url(),
        pw = slapd.service_password_file().display(),
    )
}

async fn entries(slapd: &Slapd, base: &str, filter: &str) -> Vec<SearchEntry> {
    let Ok(mut ldap) = slapd.admin_bind().await else {
        return Vec::new();
    };
    match ldap.search(base, Scope::Subtree, filter, vec!["*"]).await {
        Ok(r) => r.0.into_iter().map(SearchEntry::construct).collect(),
        Err(_) => Vec::new(),
    }
}

/// Waits until `check` holds for what the directory returns.
async fn eventually<F>(
    slapd: &Slapd,
    base: &str,
    filter: &str,
    what: &str,
    check: F,
) -> Vec<SearchEntry>
where
    F: Fn(&[SearchEntry]) -> bool,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let found = entries(slapd, base, filter).await;
        if check(&found) {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: directory holds {found:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn member_names(group: &SearchEntry) -> Vec<String> {
    let mut names: Vec<String> = group
        .attrs
        .get("member")
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|dn| escape::first_rdn_value(dn))
        .filter(|n| n != "nobody")
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scim_pushes_land_in_the_directory_and_follow_renames() {
    let Some(slapd) = Slapd::start(false).await else {
        return;
    };
    let d = Daemon::start_with(&target_toml(&slapd)).await;
    let c = d.client();
    let ann = c.post("/Users", &user("ann")).await;
    assert_eq!(ann.status, 201, "{}", ann.text);
    let ann_id = ann.body["id"].as_str().unwrap().to_owned();
    let ben = c.post("/Users", &user("ben,ou=evil")).await;
    let ben_id = ben.body["id"].as_str().unwrap().to_owned();
    let g = c
        .post(
            "/Groups",
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                    "displayName": "staff", "members": [{"value": ann_id}]}),
        )
        .await;
    assert_eq!(g.status, 201, "{}", g.text);
    let gid = g.body["id"].as_str().unwrap().to_owned();

    let users = eventually(
        &slapd,
        PEOPLE,
        "(objectClass=inetOrgPerson)",
        "two users",
        |e| e.len() == 2,
    )
    .await;
    let ann_entry = users.iter().find(|e| e.attrs["uid"] == ["ann"]).unwrap();
    assert_eq!(ann_entry.attrs["cn"], ["Given Family"]);
    assert_eq!(ann_entry.attrs["mail"], ["ann@example.com"]);
    assert_eq!(ann_entry.attrs["description"], ["pushed by scimd"]);
    assert_eq!(ann_entry.attrs["scimdId"], std::slice::from_ref(&ann_id));
    assert!(
        users
            .iter()
            .any(|e| e.attrs["uid"] == ["ben,ou=evil"]
                && escape::parse_dn(&e.dn).unwrap().len() == 3)
    );
    eventually(&slapd, GROUPS, "(cn=staff)", "staff has ann", |e| {
        e.len() == 1 && member_names(&e[0]) == ["ann"]
    })
    .await;

    // PATCH add ben; rename ann: membership follows the modrdn.
    let r = c
        .patch(
            &format!("/Groups/{gid}"),
            &patch_op(json!([{"op": "add", "path": "members", "value": [{"value": ben_id}]}])),
        )
        .await;
    assert!(r.status == 200 || r.status == 204, "{}", r.text);
    let r = c
        .patch(
            &format!("/Users/{ann_id}"),
            &patch_op(json!([{"op": "replace", "path": "userName", "value": "ann.smith"}])),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    eventually(
        &slapd,
        GROUPS,
        "(cn=staff)",
        "renamed ann and ben in staff",
        |e| e.len() == 1 && member_names(&e[0]) == ["ann.smith", "ben,ou=evil"],
    )
    .await;
    eventually(&slapd, PEOPLE, "(uid=ann.smith)", "ann renamed", |e| {
        e.len() == 1
    })
    .await;

    // Deactivate ben: disabled, kept. Delete ann: gone, and out of the group.
    let r = c
        .patch(
            &format!("/Users/{ben_id}"),
            &patch_op(json!([{"op": "replace", "path": "active", "value": false}])),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(c.delete(&format!("/Users/{ann_id}")).await.status, 204);
    eventually(
        &slapd,
        PEOPLE,
        "(objectClass=inetOrgPerson)",
        "ann gone, ben disabled",
        |e| {
            e.len() == 1
                && e[0]
                    .attrs
                    .get("employeeType")
                    .is_some_and(|v| v == &["disabled"])
        },
    )
    .await;
    eventually(&slapd, GROUPS, "(cn=staff)", "ann out of staff", |e| {
        e.len() == 1 && member_names(&e[0]) == ["ben,ou=evil"]
    })
    .await;
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_directory_stopped_during_pushes_loses_nothing() {
    let Some(slapd) = Slapd::start(false).await else {
        return;
    };
    let d = Daemon::start_with(&target_toml(&slapd)).await;
    let c = d.client();
    let first = c.post("/Users", &user("before")).await;
    assert_eq!(first.status, 201);
    let first_id = first.body["id"].as_str().unwrap().to_owned();
    eventually(&slapd, PEOPLE, "(uid=before)", "first user", |e| {
        e.len() == 1
    })
    .await;

    slapd.stop();
    // The SCIM API keeps accepting writes while the target is down.
    let mut ids = Vec::new();
    for i in 0..20 {
        let r = c.post("/Users", &user(&format!("during{i:02}"))).await;
        assert_eq!(r.status, 201, "{}", r.text);
        ids.push(r.body["id"].as_str().unwrap().to_owned());
    }
    let g = c
        .post(
            "/Groups",
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                    "displayName": "while-down", "members": ids.iter().take(10).map(|id| json!({"value": id})).collect::<Vec<_>>()}),
        )
        .await;
    assert_eq!(g.status, 201, "{}", g.text);
    let r = c
        .patch(
            &format!("/Users/{first_id}"),
            &patch_op(json!([{"op": "replace", "path": "userName", "value": "after"}])),
        )
        .await;
    assert_eq!(r.status, 200);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    slapd.restart().await;

    eventually(
        &slapd,
        PEOPLE,
        "(objectClass=inetOrgPerson)",
        "all 21 users",
        |e| e.len() == 21,
    )
    .await;
    eventually(&slapd, PEOPLE, "(uid=after)", "rename applied", |e| {
        e.len() == 1
    })
    .await;
    let group = eventually(
        &slapd,
        GROUPS,
        "(cn=while-down)",
        "group with 10 members",
        |e| e.len() == 1 && member_names(&e[0]).len() == 10,
    )
    .await;
    let want: Vec<String> = (0..10).map(|i| format!("during{i:02}")).collect();
    assert_eq!(member_names(&group[0]), want);
    d.stop().await;
}

#[test]
fn check_config_accepts_the_ldap_profiles() {
    let root = env!("CARGO_MANIFEST_DIR");
    let creds = tempfile::tempdir().unwrap();
    for name in ["ldap-password", "ad-password"] {
        std::fs::write(creds.path().join(name), "secret\n").unwrap();
    }
    for profile in ["openldap", "389ds", "active-directory"] {
        let out = std::process::Command::new(crate::support::scimd_bin())
            .env("CREDENTIALS_DIRECTORY", creds.path())
            .args([
                "check-config",
                "-c",
                &format!("{root}/examples/{profile}.toml"),
            ])
            .output()
            .expect("run scimd");
        assert!(
            out.status.success(),
            "{profile}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn check_config_names_the_key_of_each_ldap_problem() {
    let root = env!("CARGO_MANIFEST_DIR");
    let text = std::fs::read_to_string(format!("{root}/examples/openldap.toml"))
        .unwrap()
        .replace("rdn = \"uid\"", "rdn = \"uid)(x\"")
        .replace(
            "url = \"ldap://ldap.corp.example:389\"",
            "url = \"http://x\"",
        );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, text).unwrap();
    let out = std::process::Command::new(crate::support::scimd_bin())
        .env("CREDENTIALS_DIRECTORY", dir.path())
        .args(["check-config", "-c", path.to_str().unwrap()])
        .output()
        .expect("run scimd");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for key in [
        "targets.directory.users.rdn",
        "targets.directory.url",
        "targets.directory.bind_password_file",
    ] {
        assert!(stderr.contains(key), "{key} not reported:\n{stderr}");
    }
}

/// Drift checks on a directory, which returns entries in its own order (not by id):
/// in sync is no difference; a changed attribute and a removed member value are
/// reported by a dry run and repaired; an entry scimd does not own stays untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_checks_report_and_repair_hand_edits_in_the_directory() {
    use std::collections::HashSet;
    let Some(slapd) = Slapd::start(false).await else {
        return;
    };
    let d = Daemon::start_with(&target_toml(&slapd)).await;
    let c = d.client();
    let mut ids = Vec::new();
    for i in 0..12 {
        let r = c.post("/Users", &user(&format!("u{i:02}"))).await;
        assert_eq!(r.status, 201, "{}", r.text);
        ids.push(r.body["id"].as_str().unwrap().to_owned());
    }
    let members: Vec<_> = ids[..3].iter().map(|id| json!({"value": id})).collect();
    let g = c
        .post(
            "/Groups",
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                    "displayName": "staff", "members": members}),
        )
        .await;
    assert_eq!(g.status, 201, "{}", g.text);
    eventually(&slapd, GROUPS, "(cn=staff)", "staff has 3", |e| {
        e.len() == 1 && member_names(&e[0]) == ["u00", "u01", "u02"]
    })
    .await;
    eventually(&slapd, PEOPLE, "(uid=u11)", "last user", |e| e.len() == 1).await;
    let clean = d.drift_check(true).await;
    assert_eq!(clean.error, None, "{clean:?}");
    assert_eq!(clean.differences_found(), 0, "{clean:?}");
    assert_eq!((clean.desired, clean.owned), (13, 13));

    let mut ldap = slapd.admin_bind().await.unwrap();
    let u05 = format!("uid=u05,{PEOPLE}");
    ldap.modify(
        &u05,
        vec![ldap3::Mod::Replace("mail", HashSet::from(["x@evil"]))],
    )
    .await
    .unwrap()
    .success()
    .unwrap();
    ldap.modify(
        &format!("cn=staff,{GROUPS}"),
        vec![ldap3::Mod::Delete(
            "member",
            HashSet::from([format!("uid=u01,{PEOPLE}").as_str()]),
        )],
    )
    .await
    .unwrap()
    .success()
    .unwrap();
    let manual = format!("uid=manual,{PEOPLE}");
    ldap.add(
        &manual,
        vec![
            ("objectClass", HashSet::from(["inetOrgPerson"])),
            ("uid", HashSet::from(["manual"])),
            ("cn", HashSet::from(["Manual Entry"])),
            ("sn", HashSet::from(["Entry"])),
        ],
    )
    .await
    .unwrap()
    .success()
    .unwrap();

    let report = d.drift_check(true).await;
    assert_eq!(report.error, None, "{report:?}");
    assert_eq!(
        (
            report.creates,
            report.updates,
            report.deletes,
            report.membership
        ),
        (0, 1, 0, 1),
        "{report:?}"
    );
    let repaired = d.drift_check(false).await;
    assert_eq!(repaired.error, None, "{repaired:?}");
    assert_eq!(repaired.failed, 0, "{repaired:?}");
    eventually(&slapd, PEOPLE, "(uid=u05)", "mail repaired", |e| {
        e.len() == 1 && e[0].attrs["mail"] == ["u05@example.com"]
    })
    .await;
    eventually(&slapd, GROUPS, "(cn=staff)", "member repaired", |e| {
        e.len() == 1 && member_names(&e[0]) == ["u00", "u01", "u02"]
    })
    .await;
    let untouched = entries(&slapd, PEOPLE, "(uid=manual)").await;
    assert_eq!(untouched.len(), 1);
    assert_eq!(untouched[0].attrs["cn"], ["Manual Entry"]);
    assert_eq!(d.drift_check(true).await.differences_found(), 0);
    d.stop().await;
}
