//! Membership changes as deltas: `add`/`delete` of exactly the member values
//! that change, sent with the Permissive Modify control so repeats are
//! harmless, never a rewrite of the member attribute. An empty group keeps the
//! configured placeholder member where its object class requires one.

use std::collections::{HashMap, HashSet};

use ldap3::Mod;
use scimd_backend::{BackendError, MemberRef, ObjectKind};

use crate::config::{GroupsConfig, MemberStyle};
use crate::conn::{Values, rc};
use crate::directory::{Entry, Layout};
use crate::escape;
use crate::write::{Outcome, Writer};

/// Which membership change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Add these members.
    Add,
    /// Remove these members.
    Remove,
    /// Make the members exactly these.
    Set,
}

impl Writer<'_> {
    /// Applies one membership change to an owned group.
    pub async fn members(&self, op: Op, group: &str, members: &[MemberRef]) -> Outcome {
        let layout = Layout::of(self.config, ObjectKind::Group)?;
        let g = self.config.groups.as_ref().expect("layout checked groups");
        let Some(entry) = layout.find(self.conn, group).await.map_err(|e| e.error)? else {
            return Err(BackendError::permanent(format!(
                "group {group} is not in the directory as scimd's (not created yet, refused, or \
                 an entry scimd does not own)"
            )));
        };
        let (values, missing) = self.member_values(g, members).await?;
        let attr = g.member_attribute.clone();
        let placeholder = g.empty_member.clone();
        let result = match op {
            Op::Add => {
                self.add_values(&entry, &attr, values, placeholder.as_deref())
                    .await
            }
            Op::Remove => {
                self.remove_values(&entry, &attr, values, placeholder.as_deref())
                    .await
            }
            Op::Set => self.set_values(&entry, g, values).await,
        };
        result?;
        if !missing.is_empty() && op != Op::Remove {
            return Err(BackendError::permanent(format!(
                "members not in the directory as scimd's entries (their upsert failed or they \
                 are not mapped): {}",
                missing.join(", ")
            )));
        }
        Ok(())
    }

    /// The member values for these members, and the ids that have none.
    async fn member_values(
        &self,
        g: &GroupsConfig,
        members: &[MemberRef],
    ) -> Result<(Values, Vec<String>), BackendError> {
        let mut values = Values::new();
        let mut missing = Vec::new();
        for kind in [ObjectKind::User, ObjectKind::Group] {
            let ids: Vec<&str> = members
                .iter()
                .filter(|m| m.kind == kind)
                .map(|m| m.id.as_str())
                .collect::<HashSet<_>>()
                .into_iter()
                .collect();
            if ids.is_empty() {
                continue;
            }
            if kind == ObjectKind::Group && g.member_style() == MemberStyle::Uid {
                missing.extend(
                    ids.iter()
                        .map(|id| format!("{id} (posixGroup holds no groups)")),
                );
                continue;
            }
            let layout = Layout::of(self.config, kind)?;
            let found: HashMap<String, Entry> = layout
                .find_many(self.conn, &ids, &[&layout.id_attr, &layout.rdn])
                .await
                .map_err(|e| e.error)?;
            for id in ids {
                match found.get(id) {
                    Some(e) => values.insert(match g.member_style() {
                        MemberStyle::Dn => e.dn.clone(),
                        MemberStyle::Uid => escape::first_rdn_value(&e.dn).unwrap_or_default(),
                    }),
                    None => {
                        missing.push(id.to_owned());
                        false
                    }
                };
            }
        }
        Ok((values, missing))
    }

    /// Adds values: one modify in the common case (all new). Where the server
    /// refuses a value that is there already (no Permissive Modify), the
    /// values are compared one by one and only the missing ones are added.
    /// The placeholder goes once a real member is in.
    async fn add_values(
        &self,
        entry: &Entry,
        attr: &str,
        values: Values,
        placeholder: Option<&str>,
    ) -> Outcome {
        if values.is_empty() {
            return Ok(());
        }
        let add = |v: Values| vec![Mod::Add(attr.to_owned(), v)];
        match self
            .conn
            .modify(self.pool, &entry.dn, add(values.clone()), true)
            .await
        {
            Ok(()) => {}
            Err(e) if e.rc == Some(rc::VALUE_EXISTS) => {
                let missing = self.filter_values(entry, attr, values, false).await?;
                if !missing.is_empty() {
                    self.conn
                        .modify(self.pool, &entry.dn, add(missing), true)
                        .await
                        .map_err(|e| e.error)?;
                }
            }
            Err(e) => return Err(e.error),
        }
        if let Some(p) = placeholder
            && self
                .conn
                .compare(&entry.dn, attr, p)
                .await
                .map_err(|e| e.error)?
        {
            let del = vec![Mod::Delete(attr.to_owned(), [p.to_owned()].into())];
            match self.conn.modify(self.pool, &entry.dn, del, true).await {
                Err(e) if e.rc != Some(rc::NO_SUCH_ATTRIBUTE) => return Err(e.error),
                _ => {}
            }
        }
        Ok(())
    }

    /// The values the attribute holds (`present`) or lacks, by LDAP Compare.
    async fn filter_values(
        &self,
        entry: &Entry,
        attr: &str,
        values: Values,
        present: bool,
    ) -> Result<Values, BackendError> {
        let mut out = Values::new();
        for v in values {
            if self
                .conn
                .compare(&entry.dn, attr, &v)
                .await
                .map_err(|e| e.error)?
                == present
            {
                out.insert(v);
            }
        }
        Ok(out)
    }

    /// Deletes values: one modify in the common case; values already gone
    /// are skipped (by compare) where the server refuses them; the last
    /// member going makes way for the placeholder where the class needs one.
    async fn remove_values(
        &self,
        entry: &Entry,
        attr: &str,
        values: Values,
        placeholder: Option<&str>,
    ) -> Outcome {
        let mut values = values;
        for _ in 0..2 {
            if values.is_empty() {
                return Ok(());
            }
            let mods = vec![Mod::Delete(attr.to_owned(), values.clone())];
            match self.conn.modify(self.pool, &entry.dn, mods, true).await {
                Ok(()) => return Ok(()),
                Err(e) if e.rc == Some(rc::NO_SUCH_ATTRIBUTE) => {
                    values = self.filter_values(entry, attr, values, true).await?;
                }
                Err(e) if e.rc == Some(rc::OBJECT_CLASS_VIOLATION) && placeholder.is_some() => {
                    let p = placeholder.unwrap_or_default().to_owned();
                    let mods = vec![
                        Mod::Add(attr.to_owned(), [p].into()),
                        Mod::Delete(attr.to_owned(), values),
                    ];
                    return self
                        .conn
                        .modify(self.pool, &entry.dn, mods, true)
                        .await
                        .map_err(|e| e.error);
                }
                Err(e) => return Err(e.error),
            }
        }
        Ok(())
    }

    /// Reads the current member values once and sends only the difference.
    async fn set_values(&self, entry: &Entry, g: &GroupsConfig, want: Values) -> Outcome {
        let attr = &g.member_attribute;
        let current = self
            .conn
            .read(&entry.dn, &[attr.as_str()])
            .await
            .map_err(|e| e.error)?
            .map(Entry::from)
            .map(|e| e.get(attr).to_vec())
            .unwrap_or_default();
        let norm = |v: &str| match g.member_style() {
            MemberStyle::Dn => escape::normalize_dn(v),
            MemberStyle::Uid => v.to_lowercase(),
        };
        let placeholder = g.empty_member.as_deref().map(norm);
        let want_norm: HashSet<String> = want.iter().map(|v| norm(v)).collect();
        let have_norm: HashSet<String> = current.iter().map(|v| norm(v)).collect();
        let add: Values = want
            .iter()
            .filter(|v| !have_norm.contains(&norm(v)))
            .cloned()
            .collect();
        let mut remove: Values = current
            .iter()
            .filter(|v| !want_norm.contains(&norm(v)) && Some(norm(v)) != placeholder)
            .cloned()
            .collect();
        let mut mods = Vec::new();
        match (&g.empty_member, want.is_empty()) {
            (Some(p), true) => {
                if !have_norm.contains(&norm(p)) {
                    mods.push(Mod::Add(attr.clone(), [p.clone()].into()));
                }
            }
            (Some(p), false) => {
                if have_norm.contains(&norm(p)) {
                    remove.extend(
                        current
                            .iter()
                            .filter(|v| Some(norm(v)) == placeholder)
                            .cloned(),
                    );
                }
                let _ = p;
            }
            (None, _) => {}
        }
        if !add.is_empty() {
            mods.insert(0, Mod::Add(attr.clone(), add));
        }
        if !remove.is_empty() {
            mods.push(Mod::Delete(attr.clone(), remove));
        }
        self.conn
            .modify(self.pool, &entry.dn, mods, true)
            .await
            .map_err(|e| e.error)
    }
}
