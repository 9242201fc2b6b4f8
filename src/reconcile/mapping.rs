//! Attribute mappings of targets: how a target attribute or column is computed from a
//! SCIM resource. A mapping is an attribute path (`userName`, `name.familyName`,
//! `emails[type eq "work"].value`, a URN-qualified extension path), a template with
//! `{path}` placeholders (`"{name.givenName} {name.familyName}"`, `{{`/`}}` for literal
//! braces), or a constant written `=text`. Parsed and checked against the schema
//! registry once, when the configuration loads; evaluated as pure code.

use serde_json::Value;

use crate::scim::filter::{self, Filter};
use crate::scim::schema::{AttrType, AttributeDef};
use crate::scim::{Registry, ResourceKind};

/// A parsed mapping.
#[derive(Debug, Clone)]
pub enum Mapping {
    /// One attribute path.
    Path(Path),
    /// Literal text and paths, concatenated.
    Template(Vec<Piece>),
    /// A fixed value.
    Constant(String),
}

/// A piece of a template.
#[derive(Debug, Clone)]
pub enum Piece {
    /// Literal text.
    Text(String),
    /// A placeholder.
    Path(Path),
}

/// An attribute path resolved against the registry.
#[derive(Debug, Clone)]
pub struct Path {
    /// The extension URN the attribute nests under, if any.
    extension: Option<&'static str>,
    /// The (top-level) attribute.
    attr: &'static AttributeDef,
    /// Value filter on the elements of a multi-valued attribute.
    filter: Option<Filter>,
    /// The sub-attribute read from the attribute or its elements.
    sub: Option<&'static AttributeDef>,
}

impl Mapping {
    /// Parses a mapping for resources of `kind`; the error says what is wrong and how
    /// to write it instead.
    pub fn parse(reg: &Registry, kind: ResourceKind, text: &str) -> Result<Mapping, String> {
        if let Some(constant) = text.strip_prefix('=') {
            return Ok(Mapping::Constant(constant.to_owned()));
        }
        if text.contains('{') || text.contains('}') {
            return parse_template(reg, kind, text).map(Mapping::Template);
        }
        Path::parse(reg, kind, text.trim()).map(Mapping::Path)
    }

    /// The value for a resource in its full JSON form (`id`, core attributes at the
    /// top level, extensions under their URN): a string, boolean, number, or an array
    /// of strings for multi-valued paths; `None` when the resource has no value.
    pub fn evaluate(&self, resource: &Value) -> Option<Value> {
        match self {
            Mapping::Constant(c) => Some(Value::String(c.clone())),
            Mapping::Path(p) => p.evaluate(resource),
            Mapping::Template(pieces) => {
                let mut out = String::new();
                for piece in pieces {
                    match piece {
                        Piece::Text(t) => out.push_str(t),
                        Piece::Path(p) => {
                            if let Some(v) = p.evaluate(resource) {
                                out.push_str(&first_text(&v));
                            }
                        }
                    }
                }
                // A template whose placeholders were all missing yields nothing
                // rather than a string of separators.
                let trimmed = out.trim();
                (!trimmed.is_empty()).then(|| Value::String(trimmed.to_owned()))
            }
        }
    }
}

/// The text of a value; for arrays, of their first element.
pub fn first_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.first().map(first_text).unwrap_or_default(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn parse_template(reg: &Registry, kind: ResourceKind, text: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        match c {
            '{' if chars.peek().map(|p| p.1) == Some('{') => {
                chars.next();
                literal.push('{');
            }
            '}' if chars.peek().map(|p| p.1) == Some('}') => {
                chars.next();
                literal.push('}');
            }
            '{' => {
                let rest = &text[at + 1..];
                let end = rest.find('}').ok_or_else(|| {
                    format!("unclosed '{{' at position {at} in template {text:?}")
                })?;
                if !literal.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut literal)));
                }
                let path = Path::parse(reg, kind, rest[..end].trim())
                    .map_err(|e| format!("in template {text:?}: {e}"))?;
                pieces.push(Piece::Path(path));
                for _ in 0..=rest[..end].chars().count() {
                    chars.next();
                }
            }
            '}' => {
                return Err(format!(
                    "unmatched '}}' at position {at} in template {text:?}; write '}}}}' for a literal brace"
                ));
            }
            _ => literal.push(c),
        }
    }
    if !literal.is_empty() {
        pieces.push(Piece::Text(literal));
    }
    Ok(pieces)
}

impl Path {
    fn parse(_reg: &Registry, kind: ResourceKind, text: &str) -> Result<Path, String> {
        // The registry is the process-wide one: paths keep `'static` definitions.
        let reg: &'static Registry = crate::scim::registry();
        let parsed = filter::parse_patch_path(text).map_err(|e| {
            format!("{text:?} is not an attribute path ({e}); write a constant as \"=text\"")
        })?;
        let attr = &parsed.attr;
        let resolved = reg
            .resolve(kind, attr.urn.as_deref(), &attr.name, attr.sub.as_deref())
            .ok_or_else(|| {
                format!(
                    "{text:?} names no attribute of a {}; GET /Schemas lists them (extension \
                     attributes need their URN; a constant is written \"=text\")",
                    kind.as_str()
                )
            })?;
        let top: &'static AttributeDef = resolved.attr;
        if top.name == "password" {
            return Err("password is never stored, so it cannot be mapped".to_owned());
        }
        let mut sub = resolved.sub;
        if let Some(s) = &parsed.sub {
            sub = Some(
                top.sub(s)
                    .ok_or_else(|| format!("{text:?}: {} has no sub-attribute {s:?}", top.name))?,
            );
        }
        if let Some(f) = &parsed.filter {
            if !top.multi_valued {
                return Err(format!(
                    "{text:?}: a [filter] needs a multi-valued attribute"
                ));
            }
            let probe = filter::Filter::ValuePath {
                path: parsed.attr.clone(),
                filter: Box::new(f.clone()),
            };
            filter::validate(reg, kind, &probe).map_err(|e| format!("{text:?}: {}", e.detail))?;
        }
        // A complex attribute without a sub-attribute maps its `value` (SCIM's convention).
        if sub.is_none() && top.ty == AttrType::Complex {
            sub = Some(top.sub("value").ok_or_else(|| {
                format!(
                    "{text:?} is a complex attribute: name one of its sub-attributes, like {}.{}",
                    top.name,
                    top.sub_attributes
                        .first()
                        .map(|s| s.name)
                        .unwrap_or("value")
                )
            })?);
        }
        Ok(Path {
            extension: if resolved.extension {
                resolved.schema
            } else {
                None
            },
            attr: top,
            filter: parsed.filter,
            sub,
        })
    }

    fn evaluate(&self, resource: &Value) -> Option<Value> {
        let scope = match self.extension {
            Some(urn) => resource.get(urn)?,
            None => resource,
        };
        let value = scope.get(self.attr.name)?;
        let pick = |element: &Value| -> Option<Value> {
            let v = match self.sub {
                Some(sub) => element.get(sub.name)?,
                None => element,
            };
            (!v.is_null()).then(|| v.clone())
        };
        if !self.attr.multi_valued {
            return pick(value);
        }
        let reg = crate::scim::registry();
        let mut matching: Vec<&Value> = value
            .as_array()?
            .iter()
            .filter(|e| match &self.filter {
                Some(f) => filter::matches_element(reg, ResourceKind::User, self.attr, f, e),
                None => true,
            })
            .collect();
        // The primary element first, so single-valued targets get it.
        matching.sort_by_key(|e| e.get("primary") != Some(&Value::Bool(true)));
        let values: Vec<Value> = matching.into_iter().filter_map(pick).collect();
        (!values.is_empty()).then_some(Value::Array(values))
    }

    /// The type of the values this path yields.
    pub fn ty(&self) -> AttrType {
        self.sub.unwrap_or(self.attr).ty
    }
}

#[cfg(test)]
#[path = "mapping/tests.rs"]
mod tests;
