//! The `attributes` and `excludedAttributes` parameters (RFC 7644 section 3.9, with the
//! `returned` rules of RFC 7643 section 7) applied to a resource's output form.

use serde_json::{Map, Value};

use crate::scim::ScimError;
use crate::scim::filter::parse_attr_path;
use crate::scim::resource::extension;
use crate::scim::schema::{AttrType, AttributeDef, Registry, ResourceKind, Returned};

/// Which attributes a response carries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Projection {
    /// The `attributes` list; `None` when the parameter was absent.
    attributes: Option<Vec<Selector>>,
    /// The `excludedAttributes` list.
    excluded: Vec<Selector>,
}

/// One named attribute path, in canonical spelling.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Selector {
    /// The extension URN the attribute lives under, if any.
    ext: Option<&'static str>,
    /// The attribute; `None` selects the whole extension.
    attr: Option<&'static str>,
    /// The sub-attribute, if the path named one.
    sub: Option<&'static str>,
}

impl Projection {
    /// Parses the comma-separated `attributes` and `excludedAttributes` parameters; an
    /// empty `attributes` counts as absent.
    ///
    /// Paths may be URN-qualified, name a sub-attribute (`name.givenName`) or a whole
    /// extension, in any case. Names the schema does not know are ignored, as RFC 7644
    /// asks no more; a path that is not even syntactically a path is 400 invalidValue.
    pub fn parse(
        reg: &Registry,
        kind: ResourceKind,
        attributes: Option<&str>,
        excluded: Option<&str>,
    ) -> Result<Projection, ScimError> {
        let attributes = match attributes.filter(|list| !list.trim().is_empty()) {
            Some(list) => Some(selectors(reg, kind, list, "attributes")?),
            None => None,
        };
        let excluded = match excluded {
            Some(list) => selectors(reg, kind, list, "excludedAttributes")?,
            None => Vec::new(),
        };
        Ok(Projection {
            attributes,
            excluded,
        })
    }

    /// Removes from `resource` (the output form, with `id`, `meta`, `schemas` and
    /// `members`/`groups`) what this projection does not return. `schemas` and
    /// `returned: always` attributes stay, `returned: never` ones go, extension objects
    /// left empty are dropped.
    pub fn apply(&self, reg: &Registry, kind: ResourceKind, resource: &mut Map<String, Value>) {
        let keys: Vec<String> = resource.keys().cloned().collect();
        for key in keys {
            if key == "schemas" {
                continue;
            }
            if let Some(ext) = extension(reg, kind, &key) {
                self.apply_extension(ext.id, &ext.attributes, resource, &key);
                continue;
            }
            match reg.resolve(kind, None, &key, None) {
                Some(r) => self.apply_attr(None, r.attr, resource, &key),
                None if self.attributes.is_some() => {
                    resource.remove(&key);
                }
                None => {}
            }
        }
    }

    /// Whether the top-level attribute `attr_name` (e.g. `members`, `groups`) will be in
    /// the output, so the caller can skip loading it.
    pub fn wants(&self, reg: &Registry, kind: ResourceKind, attr_name: &str) -> bool {
        reg.resolve(kind, None, attr_name, None)
            .is_some_and(|r| self.keeps_attr(None, r.attr))
    }

    fn apply_extension(
        &self,
        ext: &'static str,
        attrs: &[AttributeDef],
        resource: &mut Map<String, Value>,
        key: &str,
    ) {
        let Some(Value::Object(fields)) = resource.get_mut(key) else {
            resource.remove(key);
            return;
        };
        let names: Vec<String> = fields.keys().cloned().collect();
        for name in names {
            match attrs.iter().find(|a| a.name.eq_ignore_ascii_case(&name)) {
                Some(attr) => self.apply_attr(Some(ext), attr, fields, &name),
                None => {
                    fields.remove(&name);
                }
            }
        }
        if fields.is_empty() {
            resource.remove(key);
        }
    }

    /// Applies the rules to one attribute `attr`, stored under `key` in `holder`.
    fn apply_attr(
        &self,
        ext: Option<&str>,
        attr: &AttributeDef,
        holder: &mut Map<String, Value>,
        key: &str,
    ) {
        if !self.keeps_attr(ext, attr) {
            holder.remove(key);
            return;
        }
        if attr.ty != AttrType::Complex {
            return;
        }
        let Some(value) = holder.get_mut(key) else {
            return;
        };
        match value {
            Value::Array(elements) => {
                elements
                    .iter_mut()
                    .for_each(|e| self.prune_subs(ext, attr, e));
                elements.retain(|e| !e.as_object().is_some_and(Map::is_empty));
            }
            element => self.prune_subs(ext, attr, element),
        }
        let empty = match holder.get(key) {
            Some(Value::Array(elements)) => elements.is_empty(),
            Some(Value::Object(fields)) => fields.is_empty(),
            _ => false,
        };
        if empty {
            holder.remove(key);
        }
    }

    fn prune_subs(&self, ext: Option<&str>, attr: &AttributeDef, element: &mut Value) {
        if let Value::Object(fields) = element {
            fields.retain(|name, _| match attr.sub(name) {
                Some(sub) => self.keeps_sub(ext, attr, sub),
                None => true,
            });
        }
    }

    /// Whether any part of `attr` is returned.
    fn keeps_attr(&self, ext: Option<&str>, attr: &AttributeDef) -> bool {
        match attr.returned {
            Returned::Always => return true,
            Returned::Never => return false,
            Returned::Default | Returned::Request => {}
        }
        let asked = match &self.attributes {
            Some(list) => list.iter().any(|s| s.covers_attr(ext, attr.name)),
            None => attr.returned == Returned::Default,
        };
        asked && !self.excluded.iter().any(|s| s.covers_whole(ext, attr.name))
    }

    /// Whether sub-attribute `sub` of a returned `attr` is returned.
    fn keeps_sub(&self, ext: Option<&str>, attr: &AttributeDef, sub: &AttributeDef) -> bool {
        match (attr.returned, sub.returned) {
            (_, Returned::Never) => return false,
            (Returned::Always, _) | (_, Returned::Always) => return true,
            _ => {}
        }
        let names =
            |s: &&Selector| s.covers_whole(ext, attr.name) || s.names_sub(ext, attr.name, sub.name);
        let asked = match &self.attributes {
            Some(list) => list.iter().any(|s| names(&s)),
            None => sub.returned == Returned::Default,
        };
        asked
            && !self
                .excluded
                .iter()
                .any(|s| s.names_sub(ext, attr.name, sub.name))
    }
}

impl Selector {
    fn in_scope(&self, ext: Option<&str>) -> bool {
        match (self.ext, ext) {
            (None, None) => true,
            (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
            _ => false,
        }
    }

    /// Names the attribute as a whole (or its whole extension).
    fn covers_whole(&self, ext: Option<&str>, attr: &str) -> bool {
        self.in_scope(ext)
            && match self.attr {
                None => self.ext.is_some(),
                Some(a) => a == attr && self.sub.is_none(),
            }
    }

    /// Names the attribute, its extension, or one of its sub-attributes.
    fn covers_attr(&self, ext: Option<&str>, attr: &str) -> bool {
        self.covers_whole(ext, attr) || (self.in_scope(ext) && self.attr == Some(attr))
    }

    fn names_sub(&self, ext: Option<&str>, attr: &str, sub: &str) -> bool {
        self.in_scope(ext) && self.attr == Some(attr) && self.sub == Some(sub)
    }
}

fn selectors(
    reg: &Registry,
    kind: ResourceKind,
    list: &str,
    param: &str,
) -> Result<Vec<Selector>, ScimError> {
    let mut out = Vec::new();
    for path in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if let Some(ext) = extension(reg, kind, path) {
            out.push(Selector {
                ext: Some(ext.id),
                attr: None,
                sub: None,
            });
            continue;
        }
        let parsed = parse_attr_path(path).map_err(|e| {
            ScimError::invalid_value(format!(
                "{param}: \"{path}\" is not an attribute path: {}",
                ScimError::from(e).detail
            ))
        })?;
        let resolved = reg.resolve(
            kind,
            parsed.urn.as_deref(),
            &parsed.name,
            parsed.sub.as_deref(),
        );
        if let Some(r) = resolved {
            let ext = if r.extension { r.schema } else { None };
            out.push(Selector {
                ext,
                attr: Some(r.attr.name),
                sub: r.sub.map(|s| s.name),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
