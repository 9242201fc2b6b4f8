//! Upserts, deactivations and deletes of single entries: minimal modify
//! deltas (only attributes whose values differ are replaced), modrdn when the
//! name changes (with the member values in scimd's groups following), the
//! `on_existing`, `on_deactivate` and `on_delete` policies, and ownership:
//! nothing without scimd's id attribute is modified or deleted unless adopted.

use std::collections::HashSet;

use ldap3::{Mod, Scope};
use scimd_backend::{BackendError, Object, ObjectKind};

use crate::config::{LdapTargetConfig, MemberStyle, OnExisting, Policy};
use crate::conn::{Conn, OpError, Pool, Values, rc};
use crate::directory::{Entry, Layout, ldap_values};
use crate::escape;

/// What every write needs.
pub struct Writer<'a> {
    /// Target configuration.
    pub config: &'a LdapTargetConfig,
    /// The pool (counts writes).
    pub pool: &'a Pool,
    /// A connection.
    pub conn: &'a Conn,
    /// Entries looked up for a whole run of upserts at once, if any.
    pub prefetch: Option<&'a Prefetch>,
}

/// What a run of upserts found in one go: owned entries by id, and entries
/// by (lower-cased) match-attribute value for the ids that had none.
#[derive(Debug, Default)]
pub struct Prefetch {
    /// The ids looked up (found or not).
    pub ids: HashSet<String>,
    /// Owned entries by scimd id.
    pub by_id: std::collections::HashMap<String, Entry>,
    /// Entries by lower-cased match-attribute value.
    pub by_name: std::collections::HashMap<String, Entry>,
}

impl Prefetch {
    /// Looks up every object of the run: one search per 200 ids, one per 200
    /// names for those not found by id.
    pub async fn load(
        config: &LdapTargetConfig,
        conn: &Conn,
        objects: &[&Object],
    ) -> Result<Prefetch, BackendError> {
        let mut p = Prefetch::default();
        for kind in [ObjectKind::User, ObjectKind::Group] {
            let of_kind: Vec<&Object> =
                objects.iter().copied().filter(|o| o.kind == kind).collect();
            if of_kind.is_empty() {
                continue;
            }
            let layout = Layout::of(config, kind)?;
            let ids: Vec<&str> = of_kind.iter().map(|o| o.id.as_str()).collect();
            let attrs = layout.read_attrs();
            p.by_id
                .extend(layout.find_many(conn, &ids, &attrs).await.map_err(err)?);
            p.ids.extend(ids.iter().map(|s| s.to_string()));
            let names: Vec<&str> = of_kind
                .iter()
                .filter(|o| !p.by_id.contains_key(&o.id))
                .map(|o| o.name.as_str())
                .filter(|n| !n.is_empty())
                .collect();
            for chunk in names.chunks(200) {
                let filter = format!(
                    "(|{})",
                    chunk
                        .iter()
                        .map(|n| escape::equals(&layout.match_attr, n))
                        .collect::<String>()
                );
                let found = conn
                    .search(&layout.base_dn, Scope::Subtree, &filter, &attrs)
                    .await
                    .map_err(err)?;
                for e in found {
                    let e = Entry::from(e);
                    for v in e.get(&layout.match_attr).to_vec() {
                        p.by_name.insert(v.to_lowercase(), e.clone());
                    }
                }
            }
        }
        Ok(p)
    }
}

/// A change's outcome before it is tied to its object.
pub type Outcome = Result<(), BackendError>;

fn err(e: OpError) -> BackendError {
    e.error
}

fn set(values: &[String]) -> Values {
    values.iter().cloned().collect()
}

impl Writer<'_> {
    /// Converges one object to exactly the attributes it names.
    pub async fn upsert(&self, o: &Object) -> Outcome {
        let layout = Layout::of(self.config, o.kind)?;
        let rdn_value = o
            .attributes
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(&layout.rdn))
            .and_then(|(_, v)| v.as_ref())
            .and_then(|v| ldap_values(v).into_iter().next())
            .unwrap_or_else(|| o.name.clone());
        if rdn_value.is_empty() {
            return Err(BackendError::permanent(format!(
                "{} {} has no value for its naming attribute {}",
                o.kind, o.id, layout.rdn
            )));
        }
        let user_policy = (o.kind == ObjectKind::User).then_some(self.config.users.on_deactivate);
        let prefetched = self.prefetch.filter(|p| p.ids.contains(&o.id));
        let found = match prefetched {
            Some(p) => p.by_id.get(&o.id).cloned(),
            None => layout.find(self.conn, &o.id).await.map_err(err)?,
        };
        let entry = match found {
            Some(e) => e,
            None => {
                if !o.active && user_policy == Some(Policy::Delete) {
                    return Ok(());
                }
                let existing = match prefetched {
                    Some(p) => match p.by_name.get(&o.name.to_lowercase()) {
                        Some(e) => Some(e.clone()),
                        // The match search covers the DN a new entry gets
                        // when the name is also the naming value.
                        None if layout.match_attr.eq_ignore_ascii_case(&layout.rdn)
                            && rdn_value.eq_ignore_ascii_case(&o.name) =>
                        {
                            None
                        }
                        None => self
                            .conn
                            .read(&layout.dn_for(&rdn_value), &layout.read_attrs())
                            .await
                            .map_err(err)?
                            .map(Entry::from),
                    },
                    None => layout
                        .find_by_name(self.conn, &o.name, &rdn_value)
                        .await
                        .map_err(err)?,
                };
                match existing {
                    Some(existing) => self.adopt(&layout, o, existing).await?,
                    None => return self.create(&layout, o, &rdn_value).await,
                }
            }
        };
        let entry = self.rename(&layout, o, entry, &rdn_value).await?;
        let mut mods = delta(&layout, o, &entry);
        if user_policy == Some(Policy::Disable) {
            mods.extend(self.disable_delta(&entry, !o.active));
        }
        self.conn
            .modify(self.pool, &entry.dn, mods, false)
            .await
            .map_err(err)?;
        if o.kind == ObjectKind::User {
            match (user_policy, o.active) {
                (Some(Policy::Move), active) => self.place(&layout, &entry, active).await?,
                (Some(Policy::Delete), false) => self.delete_entry(&layout, &entry).await?,
                _ => {}
            }
        }
        Ok(())
    }

    async fn create(&self, layout: &Layout, o: &Object, rdn_value: &str) -> Outcome {
        let mut attrs: Vec<(String, Values)> = vec![
            (
                "objectClass".into(),
                layout.object_classes.iter().cloned().collect(),
            ),
            (layout.id_attr.clone(), [o.id.clone()].into()),
        ];
        let mut rdn_set = false;
        for (name, value) in &o.attributes {
            let values = value.as_ref().map(ldap_values).unwrap_or_default();
            if name.eq_ignore_ascii_case(&layout.rdn) {
                rdn_set = true;
            }
            if !values.is_empty() {
                attrs.push((name.clone(), set(&values)));
            }
        }
        if !rdn_set {
            attrs.push((layout.rdn.clone(), [rdn_value.to_owned()].into()));
        }
        if let Some(n) = &layout.number
            && !attrs
                .iter()
                .any(|(a, _)| a.eq_ignore_ascii_case(&n.attribute))
        {
            let number = self.allocate(n).await?;
            attrs.push((n.attribute.clone(), [number.to_string()].into()));
        }
        for (name, value) in &layout.defaults {
            if !attrs.iter().any(|(a, _)| a.eq_ignore_ascii_case(name)) {
                attrs.push((name.clone(), [value.clone()].into()));
            }
        }
        let users = &self.config.users;
        let mut dn = layout.dn_for(rdn_value);
        if o.kind == ObjectKind::User {
            match users.on_deactivate {
                Policy::Disable => {
                    let v = if o.active {
                        &users.enabled_value
                    } else {
                        &users.disabled_value
                    };
                    if let (Some(a), Some(v)) = (&users.disable_attribute, v) {
                        attrs.push((a.clone(), [v.clone()].into()));
                    }
                }
                Policy::Move if !o.active => {
                    if let Some(to) = &users.move_to {
                        dn = format!("{},{to}", escape::rdn(&layout.rdn, rdn_value));
                    }
                }
                _ => {}
            }
        }
        if o.kind == ObjectKind::Group
            && let Some(g) = &self.config.groups
            && let Some(placeholder) = &g.empty_member
        {
            attrs.push((g.member_attribute.clone(), [placeholder.clone()].into()));
        }
        match self.conn.add(self.pool, &dn, attrs).await {
            Ok(()) => Ok(()),
            Err(e) if e.rc == Some(crate::conn::rc::ALREADY_EXISTS) => {
                Err(BackendError::conflict(format!(
                    "{dn:?} exists and is not scimd's: set on_existing = \"adopt\" or rename it"
                )))
            }
            Err(e) => Err(e.error),
        }
    }

    /// The next number from the counter entry, incremented atomically.
    async fn allocate(&self, n: &crate::config::NumberAllocation) -> Result<i64, BackendError> {
        for _ in 0..50 {
            let counter = self
                .conn
                .read(&n.counter_dn, &[n.counter_attribute.as_str()])
                .await
                .map_err(err)?
                .map(Entry::from)
                .ok_or_else(|| {
                    BackendError::permanent(format!(
                        "number counter {:?} is missing: create it with {} set to the first                          number to hand out",
                        n.counter_dn, n.counter_attribute
                    ))
                })?;
            let current = counter.get(&n.counter_attribute).first().cloned();
            let Some(value) = current.as_deref().and_then(|v| v.parse::<i64>().ok()) else {
                return Err(BackendError::permanent(format!(
                    "number counter {:?} has no numeric {}",
                    n.counter_dn, n.counter_attribute
                )));
            };
            let mods = vec![
                Mod::Delete(n.counter_attribute.clone(), [value.to_string()].into()),
                Mod::Add(
                    n.counter_attribute.clone(),
                    [(value + 1).to_string()].into(),
                ),
            ];
            match self
                .conn
                .modify(self.pool, &n.counter_dn, mods, false)
                .await
            {
                Ok(()) => return Ok(value),
                // Another writer took this number first: read again.
                Err(e) if e.rc == Some(rc::NO_SUCH_ATTRIBUTE) => continue,
                Err(e) => return Err(e.error),
            }
        }
        Err(BackendError::transient(format!(
            "number counter {:?} is too contended; will retry",
            n.counter_dn
        )))
    }

    /// Takes over an existing entry (`on_existing = "adopt"`) or refuses.
    async fn adopt(
        &self,
        layout: &Layout,
        o: &Object,
        existing: Entry,
    ) -> Result<Entry, BackendError> {
        let holder = existing.get(&layout.id_attr).first().cloned();
        if self.config.on_existing == OnExisting::Fail || holder.is_some() {
            return Err(BackendError::conflict(format!(
                "{:?} already exists{}; scimd does not own it{}",
                existing.dn,
                holder
                    .map(|h| format!(" for scimd id {h:?}"))
                    .unwrap_or_default(),
                if self.config.on_existing == OnExisting::Fail {
                    " (set on_existing = \"adopt\" to take it over)"
                } else {
                    ""
                }
            )));
        }
        let have: HashSet<String> = existing
            .get("objectClass")
            .iter()
            .map(|c| c.to_ascii_lowercase())
            .collect();
        let missing: Values = layout
            .object_classes
            .iter()
            .filter(|c| !have.contains(&c.to_ascii_lowercase()))
            .cloned()
            .collect();
        let mut mods = Vec::new();
        if !missing.is_empty() {
            mods.push(Mod::Add("objectClass".to_owned(), missing));
        }
        mods.push(Mod::Add(layout.id_attr.clone(), [o.id.clone()].into()));
        self.conn
            .modify(self.pool, &existing.dn, mods, false)
            .await
            .map_err(err)?;
        tracing::info!(dn = %existing.dn, id = %o.id, "adopted an existing LDAP entry");
        Ok(existing)
    }

    /// Renames the entry when its RDN value changed; member values follow.
    async fn rename(
        &self,
        layout: &Layout,
        o: &Object,
        entry: Entry,
        rdn_value: &str,
    ) -> Result<Entry, BackendError> {
        let current = escape::first_rdn_value(&entry.dn).unwrap_or_default();
        if current == rdn_value {
            return Ok(entry);
        }
        let new_rdn = escape::rdn(&layout.rdn, rdn_value);
        self.conn
            .modrdn(self.pool, &entry.dn, &new_rdn, None)
            .await
            .map_err(err)?;
        let parent = escape::parent_dn(&entry.dn).unwrap_or(&layout.base_dn);
        let new_dn = format!("{new_rdn},{parent}");
        self.follow(o.kind, &entry.dn, Some(&new_dn), &current, Some(rdn_value))
            .await?;
        let mut renamed = entry;
        renamed.dn = new_dn;
        renamed
            .attrs
            .insert(layout.rdn.to_ascii_lowercase(), vec![rdn_value.to_owned()]);
        Ok(renamed)
    }

    /// Replaces (or, with `None`, removes) the member values that name an
    /// object in scimd's groups, after a rename or before a delete.
    pub async fn follow(
        &self,
        kind: ObjectKind,
        old_dn: &str,
        new_dn: Option<&str>,
        old_uid: &str,
        new_uid: Option<&str>,
    ) -> Outcome {
        let Some(g) = &self.config.groups else {
            return Ok(());
        };
        let (old, new) = match g.member_style() {
            MemberStyle::Dn => (old_dn.to_owned(), new_dn.map(str::to_owned)),
            MemberStyle::Uid if kind == ObjectKind::User => {
                (old_uid.to_owned(), new_uid.map(str::to_owned))
            }
            MemberStyle::Uid => return Ok(()),
        };
        let filter = format!(
            "(&{}({}=*))",
            escape::equals(&g.member_attribute, &old),
            g.id_attribute
        );
        let groups = self
            .conn
            .search(&g.base_dn, Scope::Subtree, &filter, &["1.1"])
            .await
            .map_err(err)?;
        for group in groups {
            let attr = &g.member_attribute;
            let delete = Mod::Delete(attr.clone(), [old.clone()].into());
            let mods = match &new {
                Some(n) => vec![Mod::Add(attr.clone(), [n.clone()].into()), delete],
                None => vec![delete],
            };
            match self.conn.modify(self.pool, &group.dn, mods, true).await {
                Ok(()) => {}
                // The new value is there already: only the old one goes.
                Err(e) if e.rc == Some(rc::VALUE_EXISTS) => {
                    let mods = vec![Mod::Delete(attr.clone(), [old.clone()].into())];
                    self.conn
                        .modify(self.pool, &group.dn, mods, true)
                        .await
                        .map_err(err)?;
                }
                // The last member went: the placeholder stays instead.
                Err(e) if e.rc == Some(rc::OBJECT_CLASS_VIOLATION) && g.empty_member.is_some() => {
                    let p = g.empty_member.clone().unwrap_or_default();
                    let mods = vec![
                        Mod::Add(attr.clone(), [p].into()),
                        Mod::Delete(attr.clone(), [old.clone()].into()),
                    ];
                    self.conn
                        .modify(self.pool, &group.dn, mods, true)
                        .await
                        .map_err(err)?;
                }
                Err(e) => return Err(e.error),
            }
        }
        Ok(())
    }

    /// The modification that sets the disable attribute for `disabled`, if needed.
    fn disable_delta(&self, entry: &Entry, disabled: bool) -> Option<Mod<String>> {
        let u = &self.config.users;
        let attr = u.disable_attribute.as_ref()?;
        let want = if disabled {
            u.disabled_value.clone()
        } else {
            u.enabled_value.clone()
        };
        let have = entry.get(attr);
        match want {
            Some(w) if have != [w.clone()] => Some(Mod::Replace(attr.clone(), [w].into())),
            None if !have.is_empty() => Some(Mod::Replace(attr.clone(), HashSet::new())),
            _ => None,
        }
    }

    /// Moves a user between `base_dn` (active) and `move_to` (inactive).
    async fn place(&self, layout: &Layout, entry: &Entry, active: bool) -> Outcome {
        let Some(move_to) = &self.config.users.move_to else {
            return Ok(());
        };
        let target = if active { &layout.base_dn } else { move_to };
        let parent = escape::parent_dn(&entry.dn).unwrap_or_default();
        if escape::normalize_dn(parent) == escape::normalize_dn(target) {
            return Ok(());
        }
        let rdn_value = escape::first_rdn_value(&entry.dn).unwrap_or_default();
        let rdn = escape::rdn(&layout.rdn, &rdn_value);
        self.conn
            .modrdn(self.pool, &entry.dn, &rdn, Some(target))
            .await
            .map_err(err)?;
        let new_dn = format!("{rdn},{target}");
        self.follow(
            layout.kind,
            &entry.dn,
            Some(&new_dn),
            &rdn_value,
            Some(&rdn_value),
        )
        .await
    }

    /// Deletes an owned entry after removing its member values from scimd's groups.
    async fn delete_entry(&self, layout: &Layout, entry: &Entry) -> Outcome {
        let uid = escape::first_rdn_value(&entry.dn).unwrap_or_default();
        self.follow(layout.kind, &entry.dn, None, &uid, None)
            .await?;
        self.conn.delete(self.pool, &entry.dn).await.map_err(err)
    }

    /// Applies a policy to the owned user with this id; others are left alone.
    pub async fn user_policy(&self, id: &str, policy: Policy) -> Outcome {
        let layout = Layout::of(self.config, ObjectKind::User)?;
        let Some(entry) = layout.find(self.conn, id).await.map_err(err)? else {
            return Ok(());
        };
        match policy {
            Policy::Ignore => Ok(()),
            Policy::Delete => self.delete_entry(&layout, &entry).await,
            Policy::Move => self.place(&layout, &entry, false).await,
            Policy::Disable => {
                let mods: Vec<_> = self.disable_delta(&entry, true).into_iter().collect();
                self.conn
                    .modify(self.pool, &entry.dn, mods, false)
                    .await
                    .map_err(err)
            }
        }
    }

    /// Deletes the owned group with this id, if there is one.
    pub async fn delete_group(&self, id: &str) -> Outcome {
        let layout = Layout::of(self.config, ObjectKind::Group)?;
        match layout.find(self.conn, id).await.map_err(err)? {
            Some(entry) => self.delete_entry(&layout, &entry).await,
            None => Ok(()),
        }
    }
}

/// Replace operations for the mapped attributes whose values differ (the
/// naming attribute is left to modrdn).
fn delta(layout: &Layout, o: &Object, entry: &Entry) -> Vec<Mod<String>> {
    let mut mods = Vec::new();
    for (name, value) in &o.attributes {
        if name.eq_ignore_ascii_case(&layout.rdn) {
            continue;
        }
        let want: Values = value
            .as_ref()
            .map(ldap_values)
            .unwrap_or_default()
            .into_iter()
            .collect();
        let have: Values = set(entry.get(name));
        if want != have {
            mods.push(Mod::Replace(name.clone(), want));
        }
    }
    mods
}
