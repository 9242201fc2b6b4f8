//! Escaping of values placed in DNs (RFC 4514) and search filters (RFC 4515),
//! and the parsing that lets DNs read back from the directory be compared with
//! the ones scimd builds. Every value that reaches a DN or a filter goes
//! through here; nothing else builds either.

use std::fmt::Write;

/// Escapes an attribute value for an RDN (RFC 4514 section 2.4): `" + , ; < > \`
/// anywhere, `#` or space at the start, space at the end, and NUL (as `\00`).
/// Other characters, non-ASCII included, stay as they are (UTF-8).
pub fn dn_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 8);
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        match c {
            '"' | '+' | ',' | ';' | '<' | '>' | '\\' | '=' => {
                out.push('\\');
                out.push(c);
            }
            '\0' => out.push_str("\\00"),
            '#' if i == 0 => out.push_str("\\#"),
            ' ' if i == 0 || i == last => out.push_str("\\ "),
            _ => out.push(c),
        }
    }
    out
}

/// Escapes an assertion value for a search filter (RFC 4515 section 3):
/// `* ( ) \` and NUL become `\2a \28 \29 \5c \00`.
pub fn filter_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        match c {
            '*' | '(' | ')' | '\\' | '\0' => {
                let _ = write!(out, "\\{:02x}", c as u32);
            }
            _ => out.push(c),
        }
    }
    out
}

/// `(attribute=value)` with the value escaped; `attribute` comes from
/// validated configuration only.
pub fn equals(attribute: &str, value: &str) -> String {
    format!("({attribute}={})", filter_value(value))
}

/// One RDN `attribute=value` with the value escaped.
pub fn rdn(attribute: &str, value: &str) -> String {
    format!("{attribute}={}", dn_value(value))
}

/// Splits a DN into its RDNs as (attribute type, unescaped value) pairs; a
/// multi-valued RDN (`a=1+b=2`) yields one pair per value, in order. `None`
/// when the DN is malformed (a dangling escape, an RDN without `=`).
pub fn parse_dn(dn: &str) -> Option<Vec<Vec<(String, String)>>> {
    let mut rdns = Vec::new();
    if dn.trim().is_empty() {
        return Some(rdns);
    }
    let mut current: Vec<(String, String)> = Vec::new();
    let mut attr = String::new();
    let mut value: Vec<u8> = Vec::new();
    let mut in_value = false;
    // Trailing unescaped spaces of a value are not part of it.
    let mut significant = 0usize;
    let bytes = dn.as_bytes();
    let mut i = 0;
    let finish = |attr: &mut String, value: &mut Vec<u8>, significant: usize| {
        value.truncate(significant);
        let v = String::from_utf8(std::mem::take(value)).ok()?;
        Some((std::mem::take(attr).trim().to_ascii_lowercase(), v))
    };
    while i < bytes.len() {
        let b = bytes[i];
        if !in_value {
            match b {
                b'=' => {
                    in_value = true;
                    // Leading unescaped spaces are not part of the value.
                    while i + 1 < bytes.len() && bytes[i + 1] == b' ' {
                        i += 1;
                    }
                }
                b',' | b';' | b'+' => return None,
                _ => attr.push(b as char),
            }
            i += 1;
            continue;
        }
        match b {
            b'\\' => {
                let next = *bytes.get(i + 1)?;
                let hex = |c: u8| (c as char).to_digit(16);
                if let (Some(h), Some(l)) = (hex(next), bytes.get(i + 2).and_then(|c| hex(*c))) {
                    value.push((h * 16 + l) as u8);
                    i += 3;
                } else {
                    value.push(next);
                    i += 2;
                }
                significant = value.len();
            }
            b',' | b';' | b'+' => {
                current.push(finish(&mut attr, &mut value, significant)?);
                significant = 0;
                in_value = false;
                if b != b'+' {
                    rdns.push(std::mem::take(&mut current));
                }
                i += 1;
                while b != b'+' && i < bytes.len() && bytes[i] == b' ' {
                    i += 1;
                }
            }
            _ => {
                value.push(b);
                if b != b' ' {
                    significant = value.len();
                }
                i += 1;
            }
        }
    }
    if !in_value {
        return None;
    }
    current.push(finish(&mut attr, &mut value, significant)?);
    rdns.push(current);
    Some(rdns)
}

/// A canonical form of a DN for comparisons: attribute types and values
/// lower-cased (the naming attributes scimd uses match case-insensitively),
/// values re-escaped one way. A malformed DN is only lower-cased.
pub fn normalize_dn(dn: &str) -> String {
    match parse_dn(dn) {
        Some(rdns) => rdns
            .iter()
            .map(|rdn| {
                rdn.iter()
                    .map(|(a, v)| format!("{a}={}", dn_value(&v.to_lowercase())))
                    .collect::<Vec<_>>()
                    .join("+")
            })
            .collect::<Vec<_>>()
            .join(","),
        None => dn.to_lowercase(),
    }
}

/// The value of the first (leftmost) RDN of a DN, unescaped.
pub fn first_rdn_value(dn: &str) -> Option<String> {
    parse_dn(dn)?
        .into_iter()
        .next()?
        .into_iter()
        .next()
        .map(|(_, v)| v)
}

/// The DN without its first RDN (its parent), as written.
pub fn parent_dn(dn: &str) -> Option<&str> {
    let bytes = dn.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b',' | b';' => return Some(dn[i + 1..].trim_start()),
            _ => i += 1,
        }
    }
    None
}

/// Whether `dn` is `base` or below it (compared in normalized form).
pub fn is_within(dn: &str, base: &str) -> bool {
    let (dn, base) = (normalize_dn(dn), normalize_dn(base));
    dn == base || dn.ends_with(&format!(",{base}"))
}

#[cfg(test)]
#[path = "escape_tests.rs"]
mod tests;
