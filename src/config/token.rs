//! Provider bearer tokens. scimd keeps only their SHA-256: the config holds `sha256:HEX`
//! lines, token files may hold the raw token (hashed at load), and requests are checked by
//! hashing the presented token and comparing in constant time.

use sha2::{Digest, Sha256};

/// The prefix of a token hash in the config: `sha256:` followed by 64 hex digits.
pub const HASH_PREFIX: &str = "sha256:";

/// The prefix of tokens made by [`new_token`], so a leaked one is recognisable in logs and
/// by secret scanners.
pub const TOKEN_PREFIX: &str = "scimd_";

/// SHA-256 of a bearer token, as stored in [`super::ProviderConfig::token_hashes`].
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// A fresh token for `scimd token new`: `scimd_` and 64 hex digits (256 random bits; hex so
/// it survives copy and paste anywhere), and its config line `sha256:HEX`.
///
/// Fails only when the operating system cannot provide randomness.
pub fn new_token() -> Result<(String, String), std::io::Error> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| std::io::Error::other(e.to_string()))?;
    let token = format!("{TOKEN_PREFIX}{}", hex(&secret));
    let line = hash_line(&token_hash(&token));
    Ok((token, line))
}

/// The config line for a token hash: `sha256:` and 64 lowercase hex digits.
pub fn hash_line(hash: &[u8; 32]) -> String {
    format!("{HASH_PREFIX}{}", hex(hash))
}

/// Parses `sha256:` and 64 hex digits (either case); `None` for anything else.
pub(crate) fn parse_hash_line(line: &str) -> Option<[u8; 32]> {
    let digits = line.strip_prefix(HASH_PREFIX)?.as_bytes();
    if digits.len() != 64 {
        return None;
    }
    let mut hash = [0u8; 32];
    for (byte, pair) in hash.iter_mut().zip(digits.chunks_exact(2)) {
        *byte = hex_value(pair[0])? << 4 | hex_value(pair[1])?;
    }
    Some(hash)
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}
