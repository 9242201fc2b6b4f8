//! The TOML document: parsed into a spanned tree, then deserialized into the raw structs
//! while collecting every error instead of only the first.
//!
//! serde stops at the first error. To report them all, [`deserialize`] records the error,
//! finds the key or array item its span points at, removes that entry from a working copy
//! of the tree and tries again, until the rest deserializes. Removed entries fall back to
//! their defaults, so later stages keep finding the remaining problems.

use std::ops::Range;

use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeArray, DeTable, DeValue, Deserializer};

use super::error::{Issue, index_key, join_key};

/// Stops a pathological file from looping for long; far more errors than anyone reads.
const MAX_ERRORS: usize = 200;

/// The parsed document, every key and value with its byte span.
pub(crate) type Tree<'i> = Spanned<DeTable<'i>>;

/// Parses the TOML text; on syntax errors returns all of them (the parser recovers), but
/// only the first of each line: the others on a line echo its first mistake.
pub(crate) fn parse(text: &str) -> Result<Tree<'_>, Vec<Issue>> {
    let (tree, mut errors) = DeTable::parse_recoverable(text);
    if errors.is_empty() {
        return Ok(tree);
    }
    errors.sort_by_key(|error| error.span().map_or(usize::MAX, |span| span.start));
    let mut last_start: Option<usize> = None;
    let mut issues = Vec::new();
    for error in errors {
        let start = error.span().map(|span| span.start);
        let same_line = match (last_start, start) {
            (Some(last), Some(start)) => {
                !text.get(last..start).is_some_and(|gap| gap.contains('\n'))
            }
            _ => false,
        };
        if same_line {
            continue;
        }
        last_start = start.or(last_start);
        let message = format!("TOML syntax: {}", error.message());
        issues.push(Issue::new(error.span(), "", message));
    }
    Err(issues)
}

/// Deserializes `T` from the tree, pushing one issue per bad entry. Returns `None` only
/// when an error could not be pinned to an entry (so nothing could be removed).
pub(crate) fn deserialize<T: DeserializeOwned>(
    tree: &Tree<'_>,
    issues: &mut Vec<Issue>,
) -> Option<T> {
    let mut work = tree.clone();
    for _ in 0..MAX_ERRORS {
        let error = match T::deserialize(Deserializer::from(work.clone())) {
            Ok(value) => return Some(value),
            Err(error) => error,
        };
        let span = error.span();
        let key = span
            .as_ref()
            .and_then(|span| locate(tree.get_ref(), span))
            .map_or_else(String::new, |path| key_of(&path));
        issues.push(issue_from(&error, span.clone(), key));
        let removed = span
            .and_then(|span| locate(work.get_ref(), &span))
            .is_some_and(|path| remove(work.get_mut(), &path));
        if !removed {
            return None;
        }
    }
    None
}

/// An issue from a serde error, splitting "unknown field `x`, expected ..." into a short
/// message and a hint listing the known keys.
fn issue_from(error: &toml::de::Error, span: Option<Range<usize>>, key: String) -> Issue {
    let message = error.message();
    match message.split_once(", expected ") {
        Some((what, expected)) if what.starts_with("unknown field") => {
            let what = what.replacen("unknown field", "unknown key", 1);
            Issue::new(span, key, what).with_hint(format!("known keys here: {expected}"))
        }
        _ => Issue::new(span, key, message),
    }
}

/// One step of a path into the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

/// The deepest entry whose key or value span covers `span`.
fn locate(table: &DeTable<'_>, span: &Range<usize>) -> Option<Vec<Step>> {
    let mut best: Option<Vec<Step>> = None;
    for (key, value) in table.iter() {
        let step = Step::Key(key.get_ref().to_string());
        let here = covers(&key.span(), span) || covers(&value.span(), span);
        let found = extend(step, locate_within(value.get_ref(), span), here);
        best = deeper(best, found);
    }
    best
}

fn locate_array(array: &DeArray<'_>, span: &Range<usize>) -> Option<Vec<Step>> {
    let mut best: Option<Vec<Step>> = None;
    for (index, item) in array.iter().enumerate() {
        let here = covers(&item.span(), span);
        let found = extend(
            Step::Index(index),
            locate_within(item.get_ref(), span),
            here,
        );
        best = deeper(best, found);
    }
    best
}

fn locate_within(value: &DeValue<'_>, span: &Range<usize>) -> Option<Vec<Step>> {
    match value {
        DeValue::Table(table) => locate(table, span),
        DeValue::Array(array) => locate_array(array, span),
        _ => None,
    }
}

/// `step` followed by the deeper match, or `step` alone when it matched itself.
fn extend(step: Step, inner: Option<Vec<Step>>, here: bool) -> Option<Vec<Step>> {
    match inner {
        Some(rest) => Some(std::iter::once(step).chain(rest).collect()),
        None if here => Some(vec![step]),
        None => None,
    }
}

fn deeper(a: Option<Vec<Step>>, b: Option<Vec<Step>>) -> Option<Vec<Step>> {
    match (a, b) {
        (Some(a), Some(b)) if b.len() > a.len() => Some(b),
        (Some(a), _) => Some(a),
        (None, b) => b,
    }
}

fn covers(outer: &Range<usize>, inner: &Range<usize>) -> bool {
    outer.start <= inner.start && inner.end <= outer.end && outer.start < outer.end
}

fn key_of(path: &[Step]) -> String {
    path.iter().fold(String::new(), |key, step| match step {
        Step::Key(name) => join_key(&key, name),
        Step::Index(index) => index_key(&key, *index),
    })
}

/// Removes the entry at `path`; false when the path does not lead anywhere.
fn remove(table: &mut DeTable<'_>, path: &[Step]) -> bool {
    match path {
        [Step::Key(key)] => table.remove(key.as_str()).is_some(),
        [Step::Key(key), rest @ ..] => table
            .get_mut(key.as_str())
            .is_some_and(|value| remove_within(value.get_mut(), rest)),
        _ => false,
    }
}

fn remove_within(value: &mut DeValue<'_>, path: &[Step]) -> bool {
    match (value, path) {
        (DeValue::Table(table), _) => remove(table, path),
        (DeValue::Array(array), [Step::Index(index)]) => remove_item(array, *index),
        (DeValue::Array(array), [Step::Index(index), rest @ ..]) => array
            .get_mut(*index)
            .is_some_and(|item| remove_within(item.get_mut(), rest)),
        _ => false,
    }
}

fn remove_item(array: &mut DeArray<'_>, index: usize) -> bool {
    if index >= array.len() {
        return false;
    }
    let items = std::mem::replace(array, DeArray::new());
    *array = items
        .into_iter()
        .enumerate()
        .filter(|(i, _)| *i != index)
        .map(|(_, item)| item)
        .collect();
    true
}
