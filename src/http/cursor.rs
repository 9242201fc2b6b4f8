//! RFC 9865 cursors: opaque, URL-safe tokens (only unreserved characters) naming a
//! keyset position (sort key, id) and a direction, bound to the query they came from.
//!
//! A token is `base64url(payload) "." base64url(check)`, where the check is a truncated
//! SHA-256 of the payload: a changed or truncated token is refused with 400
//! `invalidCursor` instead of silently paging from somewhere else. It is not a secret
//! MAC, on purpose: a position only says where to continue inside the caller's own
//! provider (every query is scoped by provider, and positions are binds), so a forged
//! cursor reveals nothing a filter would not; and an unkeyed check keeps cursors valid
//! across restarts and across instances sharing a PostgreSQL store. Keyset cursors do
//! not expire: they stay valid while data changes (no duplicates, no misses of rows
//! that existed throughout).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::scim::filter::Filter;
use crate::scim::{ResourceKind, ScimError, ScimType};
use crate::store::{Direction, Position, SortBy};

/// What a cursor is bound to: the resource type, filter and sort of its query.
pub fn query_tag(kind: ResourceKind, filter: Option<&Filter>, sort: Option<&SortBy>) -> String {
    let text = format!(
        "{}\n{}\n{}\n{}",
        kind.as_str(),
        filter.map(ToString::to_string).unwrap_or_default(),
        sort.map(|s| s.path.to_string().to_ascii_lowercase())
            .unwrap_or_default(),
        sort.is_some_and(|s| s.descending)
    );
    URL_SAFE_NO_PAD.encode(&Sha256::digest(text.as_bytes())[..9])
}

fn check(payload: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(b"scimd cursor v1\n");
    h.update(payload);
    URL_SAFE_NO_PAD.encode(&h.finalize()[..12])
}

/// The token for continuing from `pos` in direction `dir`.
pub fn encode(tag: &str, pos: &Position, dir: Direction) -> String {
    let payload = json!({
        "q": tag,
        "d": match dir {
            Direction::Forward => "n",
            Direction::Backward => "p",
        },
        "k": pos.key,
        "i": pos.id,
    })
    .to_string();
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(payload.as_bytes()),
        check(payload.as_bytes())
    )
}

fn invalid(detail: &str) -> ScimError {
    ScimError::bad_request(ScimType::InvalidCursor, detail)
}

/// Reads a token issued for the query tagged `tag`.
pub fn decode(token: &str, tag: &str) -> Result<(Position, Direction), ScimError> {
    let foreign = || {
        invalid(
            "the cursor is not one this server issued, or it was changed; \
             start again with an empty cursor (cursor=)",
        )
    };
    let (payload, sum) = token.trim().split_once('.').ok_or_else(foreign)?;
    let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| foreign())?;
    if check(&payload) != sum {
        return Err(foreign());
    }
    let v: Value = serde_json::from_slice(&payload).map_err(|_| foreign())?;
    if v["q"].as_str() != Some(tag) {
        return Err(invalid(
            "the cursor belongs to another query; send it with the same filter, sortBy and \
             sortOrder as the request that returned it, or start again with cursor=",
        ));
    }
    let dir = match v["d"].as_str() {
        Some("n") => Direction::Forward,
        Some("p") => Direction::Backward,
        _ => return Err(foreign()),
    };
    let key = match &v["k"] {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        _ => return Err(foreign()),
    };
    let id = v["i"].as_str().ok_or_else(foreign)?.to_owned();
    Ok((Position { key, id }, dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_changes() {
        let tag = query_tag(ResourceKind::User, None, None);
        let pos = Position {
            key: Some("émile".into()),
            id: "1f0e".into(),
        };
        let token = encode(&tag, &pos, Direction::Backward);
        assert!(
            token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
        );
        assert_eq!(
            decode(&token, &tag).unwrap(),
            (pos.clone(), Direction::Backward)
        );
        let mut changed = token.clone().into_bytes();
        changed[3] = if changed[3] == b'A' { b'B' } else { b'A' };
        let changed = String::from_utf8(changed).unwrap();
        assert_eq!(
            decode(&changed, &tag).unwrap_err().scim_type,
            Some(ScimType::InvalidCursor)
        );
        assert!(decode("garbage", &tag).is_err());
        let other = query_tag(ResourceKind::Group, None, None);
        assert!(
            decode(&token, &other)
                .unwrap_err()
                .detail
                .contains("another query")
        );
    }
}
