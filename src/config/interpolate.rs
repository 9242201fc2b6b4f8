//! `${VAR}` references in config strings, replaced from the environment before the tree is
//! deserialized, so every string value (and only string values) may use them.
//!
//! `${NAME}` takes the variable `NAME` (letters, digits and `_`, not starting with a digit);
//! `$${` is a literal `${`; any other `$` is kept as is. An unset variable is an error, never
//! an empty string: a missing secret must stop the load, not weaken it. Substituted text is
//! not expanded again.

use std::borrow::Cow;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::error::{Issue, index_key, join_key};

/// Looks up an environment variable; `None` when it is unset (or not UTF-8).
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Why a string could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ExpandError {
    /// `${NAME}` names a variable that is not set.
    Unset(String),
    /// `${...}` holds something that is not a variable name.
    BadName(String),
    /// `${` without a closing `}`.
    Unterminated,
}

impl ExpandError {
    fn into_issue(self, span: std::ops::Range<usize>, key: &str) -> Issue {
        let literal = "or write `$${` for a literal `${`";
        match self {
            Self::Unset(name) => Issue::new(
                Some(span),
                key,
                format!("environment variable `{name}` is not set"),
            )
            .with_hint(format!(
                "set it in scimd's environment, e.g. with systemd Environment= or EnvironmentFile=; {literal}"
            )),
            Self::BadName(name) => Issue::new(
                Some(span),
                key,
                format!("`${{{name}}}` is not a valid variable name"),
            )
            .with_hint(format!(
                "names are letters, digits and `_`, not starting with a digit; {literal}"
            )),
            Self::Unterminated => Issue::new(Some(span), key, "`${` without a closing `}`")
                .with_hint(format!("write `${{NAME}}`, {literal}")),
        }
    }
}

/// Expands every string value under `table`, recording one issue per bad reference. A
/// string with errors is left as written; returns the spans of those strings, so that
/// later stages do not report the same value again.
pub(crate) fn table(
    table: &mut DeTable<'_>,
    parent: &str,
    env: Env<'_>,
    issues: &mut Vec<Issue>,
) -> Vec<std::ops::Range<usize>> {
    let mut failed = Vec::new();
    for (key, value) in table.iter_mut() {
        let key = join_key(parent, key.get_ref());
        value_in_place(value, &key, env, issues, &mut failed);
    }
    failed
}

fn value_in_place(
    value: &mut Spanned<DeValue<'_>>,
    key: &str,
    env: Env<'_>,
    issues: &mut Vec<Issue>,
    failed: &mut Vec<std::ops::Range<usize>>,
) {
    let span = value.span();
    match value.get_mut() {
        DeValue::String(text) => match expand(text, env) {
            Ok(Cow::Borrowed(_)) => {}
            Ok(Cow::Owned(expanded)) => *text = Cow::Owned(expanded),
            Err(errors) => {
                issues.extend(errors.into_iter().map(|e| e.into_issue(span.clone(), key)));
                failed.push(span);
            }
        },
        DeValue::Array(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                value_in_place(item, &index_key(key, index), env, issues, failed);
            }
        }
        DeValue::Table(inner) => failed.extend(table(inner, key, env, issues)),
        _ => {}
    }
}

/// Expands `${NAME}` and `$${` in one string; borrowed when there was nothing to expand.
pub(crate) fn expand<'s>(text: &'s str, env: Env<'_>) -> Result<Cow<'s, str>, Vec<ExpandError>> {
    if !text.contains('$') {
        return Ok(Cow::Borrowed(text));
    }
    let mut out = String::with_capacity(text.len());
    let mut errors = Vec::new();
    let mut rest = text;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        let from_dollar = &rest[dollar..];
        rest = if let Some(after) = from_dollar.strip_prefix("$${") {
            out.push_str("${");
            after
        } else if let Some(after) = from_dollar.strip_prefix("${") {
            reference(after, env, &mut out, &mut errors)
        } else {
            out.push('$');
            &from_dollar[1..]
        };
    }
    out.push_str(rest);
    if errors.is_empty() {
        Ok(Cow::Owned(out))
    } else {
        Err(errors)
    }
}

/// Handles the text after `${`: appends the variable's value and returns what follows `}`.
fn reference<'s>(
    after: &'s str,
    env: Env<'_>,
    out: &mut String,
    errors: &mut Vec<ExpandError>,
) -> &'s str {
    let Some(close) = after.find('}') else {
        errors.push(ExpandError::Unterminated);
        return "";
    };
    let name = &after[..close];
    if !is_variable_name(name) {
        errors.push(ExpandError::BadName(name.to_owned()));
    } else if let Some(value) = env(name) {
        out.push_str(&value);
    } else {
        errors.push(ExpandError::Unset(name.to_owned()));
    }
    &after[close + 1..]
}

fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
