//! PATCH paths resolved against the schema registry: what an operation points at.

use crate::scim::ScimError;
use crate::scim::filter::{AttrPath, Filter, parse_patch_path, validate};
use crate::scim::resource::{extension, extension_key, is_members};
use crate::scim::schema::{AttributeDef, Registry, Resolved, ResourceKind, SchemaDef};

/// What a PATCH `path` points at.
pub(super) enum PathTarget<'r> {
    /// Group `members`, optionally narrowed by a value filter.
    Members(Option<Filter>),
    /// A whole extension object (`urn:...:enterprise:2.0:User`).
    Extension(&'r SchemaDef),
    /// An attribute of the stored form.
    Attr(Target<'r>),
}

/// An attribute location: `attr`, `attr.sub`, `attr[filter]` or `attr[filter].sub`.
pub(super) struct Target<'r> {
    /// The extension URN key the attribute lives under, if any.
    pub ext: Option<&'static str>,
    /// The top-level attribute.
    pub attr: &'r AttributeDef,
    /// The value filter selecting elements of a multi-valued attribute.
    pub filter: Option<Filter>,
    /// The sub-attribute: of the attribute itself, or of each selected element.
    pub sub: Option<&'r AttributeDef>,
    /// The path as the client wrote it, for error details.
    pub path: String,
}

impl<'r> Target<'r> {
    /// The target of a key in a no-path value (`name.givenName`, `urn:...:employeeNumber`).
    pub fn from_resolved(r: &Resolved<'r>, key: &str) -> Self {
        Target {
            ext: extension_key(r),
            attr: r.attr,
            filter: None,
            sub: r.sub,
            path: key.to_owned(),
        }
    }

    /// The attribute the value is written to: the sub-attribute if any.
    pub fn leaf(&self) -> &'r AttributeDef {
        self.sub.unwrap_or(self.attr)
    }
}

/// Resolves the `path` of the operation at `pointer` (`/Operations/3`).
pub(super) fn resolve_path<'r>(
    reg: &'r Registry,
    kind: ResourceKind,
    path: &str,
    pointer: &str,
) -> Result<PathTarget<'r>, ScimError> {
    if let Some(ext) = extension(reg, kind, path) {
        return Ok(PathTarget::Extension(ext));
    }
    let invalid = |why: &str| ScimError::invalid_path(format!("{pointer}/path: \"{path}\" {why}"));
    let parsed = parse_patch_path(path)
        .map_err(|e| invalid(&format!("is malformed: {}", ScimError::from(e).detail)))?;
    let unknown = || {
        invalid(&format!(
            "names no attribute of a {}; GET /Schemas lists them",
            kind.as_str()
        ))
    };
    if parsed.attr.sub.is_some() && (parsed.filter.is_some() || parsed.sub.is_some()) {
        return Err(invalid(
            "has a sub-attribute before the [filter]; write attr[filter].sub",
        ));
    }
    let attr = &parsed.attr;
    let r = reg
        .resolve(kind, attr.urn.as_deref(), &attr.name, attr.sub.as_deref())
        .ok_or_else(unknown)?;
    let sub = match &parsed.sub {
        Some(name) => Some(r.attr.sub(name).ok_or_else(unknown)?),
        None => r.sub,
    };
    if let Some(filter) = &parsed.filter {
        if !r.attr.multi_valued {
            return Err(invalid(
                "filters a single-valued attribute; a [filter] needs a multi-valued one",
            ));
        }
        let whole = AttrPath {
            urn: attr.urn.clone(),
            name: attr.name.clone(),
            sub: None,
        };
        let check = Filter::ValuePath {
            path: whole,
            filter: Box::new(filter.clone()),
        };
        validate(reg, kind, &check)
            .map_err(|e| invalid(&format!("has an unusable filter: {}", e.detail)))?;
    }
    if is_members(kind, &r) {
        if sub.is_some() {
            return Err(invalid(
                "addresses a member's sub-attribute; add or remove whole members instead",
            ));
        }
        return Ok(PathTarget::Members(parsed.filter));
    }
    Ok(PathTarget::Attr(Target {
        ext: extension_key(&r),
        attr: r.attr,
        filter: parsed.filter,
        sub,
        path: path.to_owned(),
    }))
}
