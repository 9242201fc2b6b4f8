//! Bearer-token authentication per provider: the presented token is hashed with
//! SHA-256 and compared in constant time against every configured hash. An unknown
//! provider and a wrong token take the same path and give the same 401.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A hash that no token has, compared against when the provider does not exist, so
/// that unknown providers cost the same as known ones.
const NO_TOKEN: [u8; 32] = [0u8; 32];

/// Extracts the token from an `Authorization: Bearer ...` header value.
pub fn bearer(header: Option<&http::HeaderValue>) -> Option<&str> {
    let value = header?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Whether `token` hashes to one of `hashes` (`None`: unknown or disabled provider).
pub fn verify(token: Option<&str>, hashes: Option<&[[u8; 32]]>) -> bool {
    let presented: [u8; 32] = Sha256::digest(token.unwrap_or_default().as_bytes()).into();
    let hashes = hashes.unwrap_or(std::slice::from_ref(&NO_TOKEN));
    let mut ok = subtle::Choice::from(0u8);
    for h in hashes {
        ok |= presented.ct_eq(h);
    }
    bool::from(ok) && token.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(t: &str) -> [u8; 32] {
        Sha256::digest(t.as_bytes()).into()
    }

    #[test]
    fn accepts_any_configured_token_and_nothing_else() {
        let hashes = [hash("old"), hash("new")];
        assert!(verify(Some("old"), Some(&hashes)));
        assert!(verify(Some("new"), Some(&hashes)));
        assert!(!verify(Some("other"), Some(&hashes)));
        assert!(!verify(None, Some(&hashes)));
        assert!(!verify(Some("old"), None));
        // An empty token must not match the hash of the empty string either.
        assert!(!verify(None, Some(&[hash("")])));
    }

    #[test]
    fn parses_bearer_header() {
        let h = http::HeaderValue::from_static("Bearer abc");
        assert_eq!(bearer(Some(&h)), Some("abc"));
        let h = http::HeaderValue::from_static("bearer   abc ");
        assert_eq!(bearer(Some(&h)), Some("abc"));
        let h = http::HeaderValue::from_static("Basic abc");
        assert_eq!(bearer(Some(&h)), None);
        assert_eq!(bearer(None), None);
    }
}
