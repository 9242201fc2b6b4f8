//! The escapers against RFC 4514/4515 and the hostile values of issue 5.

use super::*;

const HOSTILE: &[&str] = &[
    "cn=a,ou=x",
    "*)(uid=*",
    "*)(uid=*))(|(uid=*",
    "\\",
    "back\\slash \\' \\\" end\\",
    "#leading hash",
    "trailing spaces  ",
    "  leading spaces",
    " ",
    "a+b=c;d<e>f\"g",
    "Zoë Ångström 山田太郎 Ελληνικά",
    "emoji 🧑‍💻🚀",
    "nul\0byte",
    "tab\there\nnewline",
    "#",
    "x#y",
];

#[test]
fn dn_value_escapes_the_rfc_4514_specials() {
    assert_eq!(dn_value("cn=a,ou=x"), "cn\\=a\\,ou\\=x");
    assert_eq!(dn_value("a+b;c<d>e\"f\\g"), "a\\+b\\;c\\<d\\>e\\\"f\\\\g");
    assert_eq!(dn_value("#hash"), "\\#hash");
    assert_eq!(dn_value("x#y"), "x#y");
    assert_eq!(dn_value(" both "), "\\ both\\ ");
    assert_eq!(dn_value(" "), "\\ ");
    assert_eq!(dn_value("in side"), "in side");
    assert_eq!(dn_value("nul\0"), "nul\\00");
    assert_eq!(dn_value("Zoë 山田"), "Zoë 山田");
    assert_eq!(dn_value("*)(uid=*"), "*)(uid\\=*");
    assert_eq!(dn_value(""), "");
}

#[test]
fn filter_value_escapes_the_rfc_4515_specials() {
    assert_eq!(filter_value("*)(uid=*"), "\\2a\\29\\28uid=\\2a");
    assert_eq!(filter_value("\\"), "\\5c");
    assert_eq!(filter_value("nul\0"), "nul\\00");
    assert_eq!(filter_value("cn=a,ou=x"), "cn=a,ou=x");
    assert_eq!(filter_value("Zoë"), "Zoë");
    assert_eq!(equals("uid", "a*"), "(uid=a\\2a)");
}

#[test]
fn an_escaped_filter_value_has_no_unescaped_specials() {
    for v in HOSTILE {
        let f = filter_value(v);
        let mut chars = f.chars();
        while let Some(c) = chars.next() {
            assert!(!matches!(c, '*' | '(' | ')' | '\0'), "{v:?} -> {f:?}");
            if c == '\\' {
                let hex: String = chars.by_ref().take(2).collect();
                assert!(
                    hex.len() == 2 && hex.chars().all(|h| h.is_ascii_hexdigit()),
                    "{v:?} -> {f:?}"
                );
            }
        }
    }
}

#[test]
fn escaped_values_parse_back_to_themselves_as_one_rdn() {
    for v in HOSTILE {
        let dn = format!("{},ou=people,dc=example", rdn("uid", v));
        let parsed = parse_dn(&dn).unwrap_or_else(|| panic!("{dn:?} must parse"));
        assert_eq!(parsed.len(), 3, "{dn:?} must stay three RDNs");
        assert_eq!(
            parsed[0],
            vec![("uid".to_owned(), (*v).to_owned())],
            "{dn:?}"
        );
        assert_eq!(first_rdn_value(&dn).as_deref(), Some(*v));
        assert_eq!(parent_dn(&dn), Some("ou=people,dc=example"));
    }
}

#[test]
fn parse_dn_reads_hex_pairs_multi_valued_rdns_and_spaces() {
    assert_eq!(
        parse_dn("CN=J\\c3\\a4ger\\2c Ann+UID=ann , OU=x").unwrap(),
        vec![
            vec![
                ("cn".to_owned(), "Jäger, Ann".to_owned()),
                ("uid".to_owned(), "ann".to_owned())
            ],
            vec![("ou".to_owned(), "x".to_owned())]
        ]
    );
    assert_eq!(parse_dn("").unwrap(), Vec::<Vec<(String, String)>>::new());
    assert_eq!(parse_dn("uid=a\\"), None);
    assert_eq!(parse_dn("nodelimiter"), None);
    assert_eq!(parse_dn("uid=a,,ou=b"), None);
}

#[test]
fn normalized_dns_compare_equal_across_spellings() {
    assert_eq!(
        normalize_dn("UID=Ann\\2c B,ou=People, dc=Example"),
        normalize_dn("uid=ann\\, b,OU=people,DC=example")
    );
    assert_ne!(
        normalize_dn("uid=a\\,ou=x,dc=e"),
        normalize_dn("uid=a,ou=x,dc=e")
    );
    assert!(is_within("uid=a,ou=People,dc=e", "ou=people,dc=e"));
    assert!(is_within("ou=people,dc=e", "ou=people,dc=e"));
    assert!(!is_within("uid=a,ou=otherpeople,dc=e", "ou=people,dc=e"));
    assert!(!is_within("uid=a\\,ou=people,dc=x", "ou=people,dc=e"));
}
