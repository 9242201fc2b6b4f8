//! Filters run in SQL answer exactly like the Rust evaluator: random users (case and
//! Unicode variants, missing values, several emails) and random filters over them, on
//! SQLite and PostgreSQL. One database per engine, a fresh provider per case.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{Duration, FixedOffset, SecondsFormat};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Map, Value, json};

use scimd::scim::filter::{self, Filter};
use scimd::scim::{ResourceKind, registry, resource};
use scimd::store::{
    Direction, ListQuery, Mutation, Paging, Position, SortBy, Store, StoreUrl, StoredResource,
};

use crate::support::PgDb;

const USERS: usize = 40;
const FILTERS_PER_CASE: usize = 8;
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// Characters that make case folding interesting: ASCII, Latin-1, the Kelvin sign and
/// dotted I (which lower-case to ASCII in Rust), sigma, LIKE wildcards and quotes.
const CHARS: &[&str] = &[
    "a", "A", "b", "E", "e", "n", "N", "g", "k", "K", "i", "I", "é", "É", "ß", "\u{212A}",
    "\u{130}", "Σ", "σ", "%", "_", "\\", "'", " ", "@", ".",
];

fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(CHARS), 0..5).prop_map(|v| v.concat())
}

/// A user as the test describes it.
#[derive(Debug, Clone)]
struct UserSpec {
    name: String,
    title: Option<String>,
    display: Option<String>,
    active: Option<bool>,
    given: Option<String>,
    family: Option<String>,
    employee: Option<String>,
    external: bool,
    emails: Vec<(String, Option<&'static str>, bool)>,
    upper_keys: bool,
}

fn user_spec() -> impl Strategy<Value = UserSpec> {
    (
        (
            text(),
            prop::option::of(text()),
            prop::option::of(text()),
            prop::option::of(any::<bool>()),
        ),
        (
            prop::option::of(text()),
            prop::option::of(text()),
            prop::option::of(text()),
            any::<bool>(),
        ),
        prop::collection::vec(
            (
                text(),
                prop::option::of(prop::sample::select(&["work", "WORK", "home", "é"][..])),
                any::<bool>(),
            ),
            0..3,
        ),
        any::<bool>(),
    )
        .prop_map(
            |(
                (name, title, display, active),
                (given, family, employee, external),
                emails,
                upper,
            )| {
                UserSpec {
                    name,
                    title,
                    display,
                    active,
                    given,
                    family,
                    employee,
                    external,
                    emails,
                    upper_keys: upper,
                }
            },
        )
}

impl UserSpec {
    /// The POST body (`i` keeps userName and externalId unique).
    fn body(&self, i: usize) -> Value {
        let key = |k: &str| {
            if self.upper_keys {
                k.to_uppercase()
            } else {
                k.to_owned()
            }
        };
        let mut b = Map::new();
        b.insert(
            "schemas".into(),
            json!(["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE]),
        );
        b.insert(key("userName"), json!(format!("{}{i}", self.name)));
        let mut put = |k: &str, v: &Option<String>| {
            if let Some(v) = v {
                b.insert(key(k), json!(v));
            }
        };
        put("title", &self.title);
        put("displayName", &self.display);
        if let Some(a) = self.active {
            b.insert(key("active"), json!(a));
        }
        if self.external {
            b.insert(key("externalId"), json!(format!("Ext-{i}")));
        }
        let mut name = Map::new();
        if let Some(g) = &self.given {
            name.insert(key("givenName"), json!(g));
        }
        if let Some(f) = &self.family {
            name.insert(key("familyName"), json!(f));
        }
        b.insert(key("name"), Value::Object(name));
        if let Some(e) = &self.employee {
            b.insert(ENTERPRISE.into(), json!({ key("employeeNumber"): e }));
        }
        let emails: Vec<Value> = self
            .emails
            .iter()
            .map(|(v, t, p)| {
                let mut e = json!({"value": v, "primary": p});
                if let Some(t) = t {
                    e["type"] = json!(t);
                }
                e
            })
            .collect();
        b.insert(key("emails"), Value::Array(emails));
        Value::Object(b)
    }
}

/// A literal, some of them only known once users exist.
#[derive(Debug, Clone)]
enum Lit {
    Str(String),
    Bool(bool),
    BoolText(&'static str),
    Null,
    IdOf(usize),
    /// meta.created of user n, moved by `delta` microseconds, printed in style `style`.
    CreatedOf(usize, i64, u8),
}

#[derive(Debug, Clone)]
enum FilterSpec {
    Cmp(&'static str, &'static str, Lit),
    Pr(&'static str),
    EmailsWhere(Box<FilterSpec>),
    And(Box<FilterSpec>, Box<FilterSpec>),
    Or(Box<FilterSpec>, Box<FilterSpec>),
    Not(Box<FilterSpec>),
}

const STRING_PATHS: &[&str] = &[
    "userName",
    "urn:ietf:params:scim:schemas:core:2.0:User:userName",
    "title",
    "displayName",
    "nickName",
    "name.givenName",
    "name.familyName",
    "externalId",
    "emails",
    "emails.value",
    "emails.type",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
    "meta.location",
];
const OPS: &[&str] = &["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"];

fn leaf() -> impl Strategy<Value = FilterSpec> {
    prop_oneof![
        6 => (prop::sample::select(STRING_PATHS), prop::sample::select(OPS), text())
            .prop_map(|(p, o, t)| FilterSpec::Cmp(p, o, Lit::Str(t))),
        1 => (prop::sample::select(STRING_PATHS), prop::sample::select(&["eq", "ne"][..]))
            .prop_map(|(p, o)| FilterSpec::Cmp(p, o, Lit::Null)),
        1 => prop::sample::select(STRING_PATHS).prop_map(FilterSpec::Pr),
        1 => (prop::sample::select(&["eq", "ne"][..]), any::<bool>())
            .prop_map(|(o, b)| FilterSpec::Cmp("active", o, Lit::Bool(b))),
        1 => prop::sample::select(&["True", "false"][..])
            .prop_map(|b| FilterSpec::Cmp("active", "eq", Lit::BoolText(b))),
        1 => Just(FilterSpec::Pr("active")),
        1 => Just(FilterSpec::Pr("name")),
        1 => (0..USERS).prop_map(|k| FilterSpec::Cmp("id", "eq", Lit::IdOf(k))),
        2 => (
            prop::sample::select(&["meta.created", "meta.lastModified"][..]),
            prop::sample::select(OPS),
            0..USERS,
            prop::sample::select(&[-1000i64, -500, 0, 0, 500, 1000][..]),
            0u8..6,
        )
            .prop_map(|(p, o, k, d, s)| FilterSpec::Cmp(p, o, Lit::CreatedOf(k, d, s))),
        2 => (
            prop::sample::select(&["type", "value", "display"][..]),
            prop::sample::select(OPS),
            text(),
            prop::sample::select(&["work", "Work", "home"][..]),
        )
            .prop_map(|(p, o, t, ty)| FilterSpec::EmailsWhere(Box::new(FilterSpec::And(
                Box::new(FilterSpec::Cmp("type", "eq", Lit::Str(ty.into()))),
                Box::new(FilterSpec::Not(Box::new(FilterSpec::Cmp(p, o, Lit::Str(t))))),
            )))),
        1 => any::<bool>().prop_map(|b| FilterSpec::EmailsWhere(Box::new(
            FilterSpec::Cmp("primary", "eq", Lit::Bool(b))))),
        1 => Just(FilterSpec::EmailsWhere(Box::new(FilterSpec::Pr("type")))),
    ]
}

fn filter_spec() -> impl Strategy<Value = FilterSpec> {
    leaf().prop_recursive(3, 12, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone())
                .prop_map(|(a, b)| FilterSpec::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner.clone())
                .prop_map(|(a, b)| FilterSpec::Or(Box::new(a), Box::new(b))),
            inner.prop_map(|a| FilterSpec::Not(Box::new(a))),
        ]
    })
}

fn instant_literal(r: &StoredResource, delta_us: i64, style: u8) -> String {
    let t = r.created + Duration::microseconds(delta_us);
    let plus2 = FixedOffset::east_opt(2 * 3600).unwrap();
    match style {
        0 => t.to_rfc3339_opts(SecondsFormat::Millis, true),
        1 => t
            .with_timezone(&plus2)
            .to_rfc3339_opts(SecondsFormat::Micros, false),
        2 => t.to_rfc3339_opts(SecondsFormat::Secs, true),
        3 => t.format("%Y-%m-%dT%H:%M:%S%.f").to_string(),
        4 => t.format("%Y-%m-%d").to_string(),
        _ => t.to_rfc3339_opts(SecondsFormat::Nanos, true),
    }
}

impl FilterSpec {
    fn text(&self, users: &[StoredResource]) -> String {
        let lit = |l: &Lit| match l {
            Lit::Str(s) => Value::String(s.clone()).to_string(),
            Lit::Bool(b) => b.to_string(),
            Lit::BoolText(b) => format!("\"{b}\""),
            Lit::Null => "null".into(),
            Lit::IdOf(k) => format!("\"{}\"", users[*k].id),
            Lit::CreatedOf(k, d, s) => format!("\"{}\"", instant_literal(&users[*k], *d, *s)),
        };
        match self {
            FilterSpec::Cmp(p, o, l) => format!("{p} {o} {}", lit(l)),
            FilterSpec::Pr(p) => format!("{p} pr"),
            FilterSpec::EmailsWhere(inner) => format!("emails[{}]", inner.text(users)),
            FilterSpec::And(a, b) => format!("({} and {})", a.text(users), b.text(users)),
            FilterSpec::Or(a, b) => format!("({} or {})", a.text(users), b.text(users)),
            FilterSpec::Not(a) => format!("not ({})", a.text(users)),
        }
    }
}

/// The resource as the evaluator sees it (what `GET` shows, without `groups`).
fn full_json(r: &StoredResource) -> Value {
    let mut out = r.data.clone();
    out.insert("id".into(), json!(r.id));
    out.insert(
        "meta".into(),
        json!({
            "resourceType": "User",
            "created": scimd::store::format_time(&r.created),
            "lastModified": scimd::store::format_time(&r.last_modified),
            "location": format!("https://scim.example/scim/v2/p/Users/{}", r.id),
            "version": r.etag(),
        }),
    );
    Value::Object(out)
}

fn rust_matches(f: &Filter, r: &StoredResource) -> bool {
    filter::matches(registry(), ResourceKind::User, f, &full_json(r))
}

async fn create_users(store: &Store, provider: &str, specs: &[UserSpec]) -> Vec<StoredResource> {
    let mut tasks = tokio::task::JoinSet::new();
    for (i, spec) in specs.iter().enumerate() {
        let incoming = resource::parse_create(registry(), ResourceKind::User, spec.body(i))
            .unwrap_or_else(|e| panic!("generated body {i} rejected: {e}"));
        let (store, provider) = (store.clone(), provider.to_owned());
        tasks.spawn(async move {
            let m = Mutation::Create {
                kind: ResourceKind::User,
                data: incoming.data,
                members: vec![],
            };
            (
                i,
                store
                    .write(&provider, m)
                    .await
                    .expect("create")
                    .expect("resource"),
            )
        });
    }
    let mut users: Vec<(usize, StoredResource)> = tasks.join_all().await;
    users.sort_by_key(|(i, _)| *i);
    users.into_iter().map(|(_, r)| r).collect()
}

async fn ids(
    store: &Store,
    provider: &str,
    f: &Filter,
    paging: Paging,
    sort: Option<SortBy>,
) -> (usize, Vec<String>, scimd::store::ListPage) {
    let q = ListQuery {
        kind: ResourceKind::User,
        filter: Some(f),
        matches: &|r| rust_matches(f, r),
        sort,
        paging,
    };
    let page = store.list(provider, &q).await.expect("list");
    let ids = page.resources.iter().map(|r| r.id.clone()).collect();
    (page.total, ids, page)
}

/// Walks every page forward with cursors of `count`, then back from the end.
async fn walk(
    store: &Store,
    provider: &str,
    f: &Filter,
    sort: &SortBy,
    count: usize,
) -> (Vec<String>, Vec<String>) {
    let mut forward = Vec::new();
    let mut from: Option<(Position, Direction)> = None;
    let mut page = loop {
        let page = ids_page(store, provider, f, from.clone(), count, sort).await;
        forward.extend(page.resources.iter().map(|r| r.id.clone()));
        if !page.more_after {
            break page;
        }
        from = Some((page.last.clone().unwrap(), Direction::Forward));
    };
    let mut backward = Vec::new();
    loop {
        let mut ids: Vec<String> = page.resources.iter().map(|r| r.id.clone()).collect();
        ids.reverse();
        backward.extend(ids);
        if !page.more_before || page.first.is_none() {
            break;
        }
        let from = Some((page.first.clone().unwrap(), Direction::Backward));
        page = ids_page(store, provider, f, from, count, sort).await;
    }
    backward.reverse();
    (forward, backward)
}

async fn ids_page(
    store: &Store,
    provider: &str,
    f: &Filter,
    from: Option<(Position, Direction)>,
    count: usize,
    sort: &SortBy,
) -> scimd::store::ListPage {
    ids(
        store,
        provider,
        f,
        Paging::Cursor { from, count },
        Some(sort.clone()),
    )
    .await
    .2
}

const SORTS: &[&str] = &[
    "userName",
    "title",
    "name.familyName",
    "emails",
    "active",
    "externalId",
    "meta.created",
    ENTERPRISE,
];

async fn check_case(
    store: &Store,
    provider: &str,
    specs: &[UserSpec],
    filters: &[(FilterSpec, usize, bool)],
) -> Result<(), TestCaseError> {
    let users = create_users(store, provider, specs).await;
    for (spec, sort_i, desc) in filters {
        let text = spec.text(&users);
        let f =
            filter::parse_filter(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        filter::validate(registry(), ResourceKind::User, &f)
            .map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        let mut expected: Vec<String> = users
            .iter()
            .filter(|u| rust_matches(&f, u))
            .map(|u| u.id.clone())
            .collect();
        expected.sort();
        let (total, mut got, _) = ids(
            store,
            provider,
            &f,
            Paging::Index {
                offset: 0,
                count: 1000,
            },
            None,
        )
        .await;
        prop_assert_eq!(total, expected.len(), "total of {}", text);
        let in_order = got.clone();
        got.sort();
        prop_assert_eq!(&got, &expected, "filter {}", text);
        prop_assert_eq!(&in_order, &expected, "id order without sortBy: {}", text);

        // Sorted: cursor walks both ways give the index order, with no duplicates.
        let path = if SORTS[*sort_i] == ENTERPRISE {
            format!("{ENTERPRISE}:employeeNumber")
        } else {
            SORTS[*sort_i].to_owned()
        };
        let sort = SortBy {
            path: filter::parse_attr_path(&path).unwrap(),
            descending: *desc,
        };
        let (_, sorted, _) = ids(
            store,
            provider,
            &f,
            Paging::Index {
                offset: 0,
                count: 1000,
            },
            Some(sort.clone()),
        )
        .await;
        let mut sorted_set = sorted.clone();
        sorted_set.sort();
        prop_assert_eq!(&sorted_set, &expected, "sorted by {} {}", path, text);
        let (forward, backward) = walk(store, provider, &f, &sort, 7).await;
        prop_assert_eq!(&forward, &sorted, "cursor walk by {} {}", path, text);
        prop_assert_eq!(&backward, &sorted, "backward walk by {} {}", path, text);
    }
    Ok(())
}

fn run(store: Store, rt: &tokio::runtime::Runtime, engine: &str) {
    let cases = std::env::var("SCIMD_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let n = Arc::new(AtomicUsize::new(0));
    let strategy = (
        prop::collection::vec(user_spec(), USERS),
        prop::collection::vec(
            (filter_spec(), 0..SORTS.len(), any::<bool>()),
            FILTERS_PER_CASE,
        ),
    );
    let result = runner.run(&strategy, |(specs, filters)| {
        let provider = format!("{engine}-case-{}", n.fetch_add(1, Ordering::Relaxed));
        rt.block_on(check_case(&store, &provider, &specs, &filters))
    });
    rt.block_on(store.close());
    if let Err(e) = result {
        panic!("{engine}: {e}");
    }
}

#[test]
fn sqlite_filters_in_sql_agree_with_the_evaluator() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = rt
        .block_on(Store::open(
            &StoreUrl::Sqlite(dir.path().join("s.db")),
            None,
            4,
        ))
        .unwrap();
    run(store, &rt, "sqlite");
}

#[test]
fn postgres_filters_in_sql_agree_with_the_evaluator() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let Some(db) = rt.block_on(PgDb::create(
        "postgres_filters_in_sql_agree_with_the_evaluator",
    )) else {
        return;
    };
    let store = rt
        .block_on(Store::open(&StoreUrl::Postgres(db.url.clone()), None, 8))
        .unwrap();
    run(store, &rt, "postgres");
    rt.block_on(db.drop_db());
}
