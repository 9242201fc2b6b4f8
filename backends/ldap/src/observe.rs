//! `observe`: every owned entry of a kind, streamed with paged results
//! (RFC 2696) so a directory of any size neither hits a size limit nor is held
//! in memory; groups report their members as scimd ids.

use std::collections::HashMap;

use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
use ldap3::{Scope, SearchEntry};
use scimd_backend::{BackendError, Object, ObjectKind, Observed, ObservedSink};

use crate::config::{LdapTargetConfig, MemberStyle, Policy};
use crate::conn::{Conn, io_error, result_error};
use crate::directory::{Entry, Layout, neutral};
use crate::escape;

/// Walks every owned entry of `layout` below its bases, page by page.
async fn walk(
    conn: &Conn,
    layout: &Layout,
    attrs: Vec<String>,
    page_size: i32,
    each: &mut (dyn FnMut(Entry) -> Result<(), BackendError> + Send),
) -> Result<(), BackendError> {
    let filter = format!("({}=*)", layout.id_attr);
    for base in layout.bases() {
        let mut ldap = conn.ldap();
        let adapters: Vec<Box<dyn Adapter<'_, String, Vec<String>>>> = vec![
            Box::new(EntriesOnly::new()),
            Box::new(PagedResults::new(page_size)),
        ];
        let what = format!("observe {base:?}");
        let mut stream = match ldap
            .streaming_search_with(adapters, base, Scope::Subtree, &filter, attrs.clone())
            .await
        {
            Ok(s) => s,
            Err(e) => {
                conn.failed().await;
                return Err(io_error(&what, &e).error);
            }
        };
        loop {
            match stream.next().await {
                Ok(Some(entry)) => {
                    if let Err(e) = each(Entry::from(SearchEntry::construct(entry))) {
                        let last = stream.ldap_handle().last_id();
                        let _ = stream.ldap_handle().abandon(last).await;
                        return Err(e);
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    conn.failed().await;
                    return Err(io_error(&what, &e).error);
                }
            }
        }
        let result = stream.finish().await;
        match result.rc {
            0 | 32 => {}
            80.. if result.text.contains("connection") => {
                conn.failed().await;
                return Err(result_error(&what, &result).error);
            }
            _ => return Err(result_error(&what, &result).error),
        }
    }
    Ok(())
}

/// Member value (normalized) to scimd id, for every owned user (and group).
async fn member_index(
    conn: &Conn,
    config: &LdapTargetConfig,
    style: MemberStyle,
) -> Result<HashMap<String, String>, BackendError> {
    let mut index = HashMap::new();
    let kinds: &[ObjectKind] = match style {
        MemberStyle::Dn => &[ObjectKind::User, ObjectKind::Group],
        MemberStyle::Uid => &[ObjectKind::User],
    };
    for kind in kinds {
        let layout = Layout::of(config, *kind)?;
        let id_attr = layout.id_attr.clone();
        walk(
            conn,
            &layout,
            vec![id_attr.clone()],
            config.page_size,
            &mut |e| {
                if let Some(id) = e.get(&id_attr).first() {
                    let key = match style {
                        MemberStyle::Dn => escape::normalize_dn(&e.dn),
                        MemberStyle::Uid => escape::first_rdn_value(&e.dn)
                            .unwrap_or_default()
                            .to_lowercase(),
                    };
                    index.insert(key, id.clone());
                }
                Ok(())
            },
        )
        .await?;
    }
    Ok(index)
}

/// Streams the owned objects of `kind` into `sink`.
pub async fn observe(
    conn: &Conn,
    config: &LdapTargetConfig,
    kind: ObjectKind,
    sink: &mut ObservedSink<'_>,
) -> Result<(), BackendError> {
    let layout = Layout::of(config, kind)?;
    let mut attrs: Vec<String> = layout.read_attrs().into_iter().map(str::to_owned).collect();
    let groups = config.groups.as_ref().filter(|_| kind == ObjectKind::Group);
    let index = match groups {
        Some(g) => {
            attrs.push(g.member_attribute.clone());
            Some(member_index(conn, config, g.member_style()).await?)
        }
        None => None,
    };
    let u = &config.users;
    walk(conn, &layout, attrs, config.page_size, &mut |e| {
        let Some(id) = e.get(&layout.id_attr).first().cloned() else {
            return Ok(());
        };
        let name = escape::first_rdn_value(&e.dn).unwrap_or_default();
        let mut object = Object::new(kind, id, name);
        for a in &layout.mapped {
            object.attributes.insert(a.clone(), neutral(e.get(a)));
        }
        if kind == ObjectKind::User {
            let disabled = u.on_deactivate == Policy::Disable
                && u.disable_attribute.as_ref().is_some_and(|a| {
                    e.get(a).first().map(String::as_str) == u.disabled_value.as_deref()
                });
            let moved = u.on_deactivate == Policy::Move
                && u.move_to.as_ref().is_some_and(|m| {
                    escape::parent_dn(&e.dn).map(escape::normalize_dn)
                        == Some(escape::normalize_dn(m))
                });
            object.active = !(disabled || moved);
        }
        let members = match (groups, &index) {
            (Some(g), Some(index)) => {
                let placeholder = g.empty_member.as_deref().map(escape::normalize_dn);
                let mut ids: Vec<String> = e
                    .get(&g.member_attribute)
                    .iter()
                    .filter_map(|v| {
                        let key = match g.member_style() {
                            MemberStyle::Dn => escape::normalize_dn(v),
                            MemberStyle::Uid => v.to_lowercase(),
                        };
                        if Some(&key) == placeholder.as_ref() {
                            return None;
                        }
                        index.get(&key).cloned()
                    })
                    .collect();
                ids.sort();
                Some(ids)
            }
            _ => None,
        };
        sink(Observed { object, members })
    })
    .await
}
