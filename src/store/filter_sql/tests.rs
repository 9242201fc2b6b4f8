//! Shape checks of the translation; whether SQL answers like Rust is the job of the
//! property test in `tests/it/store_filters.rs`, run on both engines.

use super::*;
use crate::scim::filter::parse_filter;
use crate::scim::registry;

fn tr(kind: ResourceKind, text: &str, d: Dialect) -> (Cond, Sql) {
    let f = parse_filter(text).unwrap();
    let mut sql = Sql::new(d);
    sql.text("provider");
    sql.text("kind");
    let c = translate(registry(), kind, &f, &mut sql);
    (c, sql)
}

#[test]
fn indexed_lookups_are_exact_and_sargable() {
    for d in [Dialect::Sqlite, Dialect::Postgres] {
        let (c, sql) = tr(ResourceKind::User, r#"userName eq "Ärger""#, d);
        assert!(c.exact && !c.json);
        assert_eq!(c.t.text(), "(r.name_key = $3)");
        assert_eq!(sql.binds[2], super::super::sql::Bind::Text("ärger".into()));
        let (c, _) = tr(
            ResourceKind::User,
            r#"urn:ietf:params:scim:schemas:core:2.0:User:id eq "x" and externalId eq "E""#,
            d,
        );
        assert!(c.exact);
        assert!(c.t.text().contains("r.id = $3"), "{}", c.t.text());
        let (c, _) = tr(ResourceKind::Group, r#"displayName eq "Ops""#, d);
        assert_eq!(c.t.text(), "(r.name_key = $3)");
        // User displayName is not the name key.
        let (c, _) = tr(ResourceKind::User, r#"displayName eq "Ops""#, d);
        assert!(!c.exact && c.json);
    }
}

#[test]
fn json_comparisons_guard_case_folding() {
    let (c, sql) = tr(ResourceKind::User, r#"title co "ENG""#, Dialect::Sqlite);
    assert!(!c.exact);
    let t = c.t.text();
    assert!(
        t.contains("octet_length") && t.contains("instr(lower("),
        "{t}"
    );
    // The raw-text pre-filter comes first, so rows without "eng" are never parsed.
    assert!(t.starts_with("((r.data LIKE $3 ESCAPE '\\')"), "{t}");
    assert_eq!(sql.binds[2], super::super::sql::Bind::Text("%eng%".into()));
    assert_eq!(sql.binds[3], super::super::sql::Bind::Text("eng".into()));
    // caseExact: no folding, no guard.
    let (c, _) = tr(
        ResourceKind::User,
        r#"externalId sw "A""#,
        Dialect::Postgres,
    );
    assert!(c.exact && !c.t.text().contains("lower"));
}

#[test]
fn not_swaps_the_certain_sides() {
    let (a, _) = tr(ResourceKind::User, r#"userName eq "a""#, Dialect::Sqlite);
    let (n, _) = tr(
        ResourceKind::User,
        r#"not (userName eq "a")"#,
        Dialect::Sqlite,
    );
    assert_eq!(a.t, n.f);
    assert_eq!(a.f, n.t);
}

#[test]
fn untranslatable_parts_leave_rows_to_rust() {
    let (c, _) = tr(
        ResourceKind::User,
        r#"meta.location co "x" and userName eq "a""#,
        Dialect::Sqlite,
    );
    assert_eq!(c.t, Expr::False);
    // The indexed conjunct still narrows the candidates.
    assert!(c.nf.text().contains("r.name_key = $3"), "{}", c.nf.text());
}

#[test]
fn date_literals_are_normalised_to_stored_form() {
    let (c, sql) = tr(
        ResourceKind::User,
        r#"meta.created gt "2024-05-01T14:00:00.0004+02:00""#,
        Dialect::Sqlite,
    );
    assert!(c.exact);
    assert_eq!(
        sql.binds[2],
        super::super::sql::Bind::Text("2024-05-01T12:00:00.000Z".into())
    );
    let (c, _) = tr(
        ResourceKind::User,
        r#"meta.created eq "2024-05-01T12:00:00.0004Z""#,
        Dialect::Sqlite,
    );
    assert_eq!(c.t, Expr::False);
}

#[test]
fn value_filters_use_exists_over_elements() {
    for d in [Dialect::Sqlite, Dialect::Postgres] {
        let (c, _) = tr(
            ResourceKind::User,
            r#"emails[type eq "work" and value ew "@x.org"]"#,
            d,
        );
        assert!(c.t.text().contains("EXISTS"), "{}", c.t.text());
    }
}
