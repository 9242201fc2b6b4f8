//! The order bulk operations run in and their `bulkId:` references: which POST each
//! reference names, which operations are refused before running (unknown, duplicate or
//! circular references), and the substitution of created ids once those POSTs ran.

use std::collections::HashMap;

use serde_json::Value;

use super::{Entry, Method, Operation, REFERENCE_PREFIX, Target, describe};
use crate::scim::ScimError;

/// How a bulk request runs: every operation once, dependencies first.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Indexes into the request's operations, in the order to run them: request order,
    /// except that a POST named by a reference runs before the operation naming it.
    pub order: Vec<usize>,
    /// Operations refused before running, and why.
    refused: HashMap<usize, ScimError>,
    /// bulkId -> the POST declaring it.
    declared: HashMap<String, usize>,
    /// How errors name each operation: `/Operations/3 (bulkId "x")`.
    labels: Vec<String>,
}

impl Plan {
    /// Why operation `index` is refused without running, if it is.
    pub fn refusal(&self, index: usize) -> Option<&ScimError> {
        self.refused.get(&index)
    }

    /// The bulkId that operation `index` declares for later references, if any: only a
    /// POST declares, and only the first of several with the same bulkId.
    pub fn declares<'e>(&self, index: usize, entry: &'e Entry) -> Option<&'e str> {
        let bulk_id = entry.bulk_id.as_deref()?;
        (self.declared.get(bulk_id) == Some(&index)).then_some(bulk_id)
    }
}

fn is_declaration(entry: &Entry) -> bool {
    entry.method == Some(Method::Post)
        && entry
            .bulk_id
            .as_deref()
            .is_some_and(|b| !b.is_empty() && !b.starts_with(REFERENCE_PREFIX))
}

/// Plans a bulk request (section 3.7.2): maps references to the POSTs declaring them,
/// orders operations so that those POSTs run first, and refuses what cannot run.
pub fn plan(entries: &[Entry]) -> Plan {
    let labels: Vec<String> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| describe(i, e.bulk_id.as_deref()))
        .collect();
    let mut refused: HashMap<usize, ScimError> = HashMap::new();
    let mut declared: HashMap<String, usize> = HashMap::new();
    for (index, entry) in entries.iter().enumerate() {
        if !is_declaration(entry) {
            continue;
        }
        let bulk_id = entry.bulk_id.clone().unwrap_or_default();
        if let Some(&first) = declared.get(&bulk_id) {
            refused.insert(
                index,
                ScimError::invalid_value(format!(
                    "{}: bulkId {bulk_id:?} is already declared by {}; give every POST its own \
                     bulkId",
                    labels[index], labels[first]
                )),
            );
        } else {
            declared.insert(bulk_id, index);
        }
    }
    let mut dependencies: Vec<Vec<usize>> = vec![Vec::new(); entries.len()];
    for (index, entry) in entries.iter().enumerate() {
        let Ok(op) = &entry.operation else { continue };
        for name in &op.references {
            match declared.get(name) {
                Some(&post) => dependencies[index].push(post),
                None => {
                    refused
                        .entry(index)
                        .or_insert_with(|| undeclared(entries, &labels[index], name));
                }
            }
        }
    }
    let order = order(&dependencies, &labels, &mut refused);
    Plan {
        order,
        refused,
        declared,
        labels,
    }
}

fn undeclared(entries: &[Entry], label: &str, name: &str) -> ScimError {
    let other = entries
        .iter()
        .position(|e| e.bulk_id.as_deref() == Some(name));
    match other {
        Some(i) => ScimError::invalid_value(format!(
            "{label}: \"bulkId:{name}\" names /Operations/{i}, a {}; only a POST creates a \
             resource that a reference can name",
            entries[i].method_name()
        )),
        None => ScimError::invalid_value(format!(
            "{label}: \"bulkId:{name}\" names no operation of this request; add a POST with \
             \"bulkId\": {name:?}, or use the resource's id"
        )),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Visit {
    New,
    Open,
    Done,
}

/// Depth-first post-order over the dependencies, starting from each operation in request
/// order, so an operation runs after the POSTs it references. Iterative: a long chain of
/// references must not overflow the stack. An edge back to an open operation closes a
/// cycle: every operation on it is refused with 409 (section 3.7.1).
fn order(
    dependencies: &[Vec<usize>],
    labels: &[String],
    refused: &mut HashMap<usize, ScimError>,
) -> Vec<usize> {
    let mut visit = vec![Visit::New; dependencies.len()];
    let mut order = Vec::with_capacity(dependencies.len());
    for start in 0..dependencies.len() {
        if visit[start] != Visit::New {
            continue;
        }
        visit[start] = Visit::Open;
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        while let Some(top) = stack.len().checked_sub(1) {
            let (node, next) = stack[top];
            let Some(&dependency) = dependencies[node].get(next) else {
                visit[node] = Visit::Done;
                order.push(node);
                stack.pop();
                continue;
            };
            stack[top].1 += 1;
            match visit[dependency] {
                Visit::New => {
                    visit[dependency] = Visit::Open;
                    stack.push((dependency, 0));
                }
                Visit::Open => {
                    let from = stack
                        .iter()
                        .position(|&(n, _)| n == dependency)
                        .unwrap_or(top);
                    let cycle: Vec<usize> = stack[from..].iter().map(|&(n, _)| n).collect();
                    let error = circular(&cycle, labels);
                    for member in cycle {
                        refused.entry(member).or_insert_with(|| error.clone());
                    }
                }
                Visit::Done => {}
            }
        }
    }
    order
}

fn circular(cycle: &[usize], labels: &[String]) -> ScimError {
    let what = match cycle {
        [one] => format!("{} references its own bulkId", labels[*one]),
        _ => {
            let names: Vec<&str> = cycle.iter().map(|&i| labels[i].as_str()).collect();
            format!("{} reference each other in a cycle", names.join(", "))
        }
    };
    ScimError::new(
        409,
        format!(
            "{what}; scimd does not break reference cycles (RFC 7644 section 3.7.1): create the \
             resources without these references, then add them with PATCH operations after \
             the POSTs"
        ),
    )
}

/// The ids created so far by POSTs that declare bulkIds, and the substitution of
/// references with them.
#[derive(Debug, Default)]
pub struct Resolved {
    /// bulkId -> the id created, or `None` when that POST failed or was refused.
    ids: HashMap<String, Option<String>>,
}

impl Resolved {
    /// Records what became of the POST declaring `bulk_id`.
    pub fn record(&mut self, bulk_id: &str, id: Option<String>) {
        self.ids.insert(bulk_id.to_owned(), id);
    }

    /// `op` with every reference in its path and data replaced by the created id; 409
    /// when a referenced POST failed (the operation then does not run).
    pub fn apply(&self, plan: &Plan, index: usize, op: &Operation) -> Result<Operation, ScimError> {
        let lookup = |name: &str| -> Result<String, ScimError> {
            match self.ids.get(name) {
                Some(Some(id)) => Ok(id.clone()),
                _ => {
                    let post = plan
                        .declared
                        .get(name)
                        .map_or_else(|| "its POST".to_owned(), |&i| plan.labels[i].clone());
                    Err(ScimError::new(
                        409,
                        format!(
                            "{}: \"bulkId:{name}\" names {post}, which did not create a \
                             resource (see its result); this operation was not performed",
                            plan.labels[index]
                        ),
                    ))
                }
            }
        };
        let mut resolved = op.clone();
        if let Some(Target::Reference(name)) = &op.target {
            resolved.target = Some(Target::Id(lookup(name)?));
        }
        if let Some(data) = &mut resolved.data
            && !op.references.is_empty()
        {
            substitute(data, &lookup)?;
        }
        resolved.references.clear();
        Ok(resolved)
    }
}

fn substitute(
    value: &mut Value,
    lookup: &dyn Fn(&str) -> Result<String, ScimError>,
) -> Result<(), ScimError> {
    match value {
        Value::String(s) => {
            if let Some(name) = s.strip_prefix(REFERENCE_PREFIX) {
                *s = lookup(name)?;
            }
            Ok(())
        }
        Value::Array(items) => items.iter_mut().try_for_each(|v| substitute(v, lookup)),
        Value::Object(fields) => fields.values_mut().try_for_each(|v| substitute(v, lookup)),
        _ => Ok(()),
    }
}
