//! `[providers.NAME]` sections: names that are safe in URLs, tokens from the config and
//! from token files, limits and drift policy. Targets are kept as written for the
//! targets layer to check.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;

use toml::Spanned;

use super::error::{index_key, join_key};
use super::raw::{RawBulk, RawProvider, RawRateLimit};
use super::token::{HASH_PREFIX, parse_hash_line, token_hash};
use super::validate::{Checker, to_usize};
use super::{BulkLimits, ProviderConfig, RateLimit};

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;

/// A token hash and where it was configured, for errors about it.
struct FoundToken {
    hash: [u8; 32],
    key: String,
    span: Range<usize>,
}

impl Checker<'_> {
    /// Checks every provider; also refuses a token accepted by two providers, which would
    /// let one client act on another provider's data.
    pub(crate) fn providers(
        &mut self,
        raw: BTreeMap<String, Spanned<RawProvider>>,
    ) -> BTreeMap<String, ProviderConfig> {
        let mut owners: HashMap<[u8; 32], String> = HashMap::new();
        let mut providers = BTreeMap::new();
        for (name, raw) in raw {
            let span = raw.span();
            let key = join_key("providers", &name);
            self.provider_name(&name, &span, &key);
            let found = self.provider_tokens(raw.get_ref(), &key);
            self.shared_tokens(&name, &found, &mut owners);
            let provider = self.provider(name.clone(), raw.into_inner(), &span, &key, &found);
            providers.insert(name, provider);
        }
        providers
    }

    /// Checks each target table with the targets layer (mappings against the schema
    /// registry, kind-specific settings); problems are reported at the provider's line.
    fn targets(
        &mut self,
        provider: &str,
        targets: &BTreeMap<String, toml::Table>,
        span: &Range<usize>,
        key: &str,
    ) {
        for (name, table) in targets {
            if let Err(problems) = crate::targets::parse(provider, name, table) {
                let target_key = join_key(&join_key(key, "targets"), name);
                for (sub, message) in problems {
                    let k = if sub.is_empty() {
                        target_key.clone()
                    } else {
                        format!("{target_key}.{sub}")
                    };
                    self.error(span.clone(), &k, message, None);
                }
            }
        }
    }

    fn provider_name(&mut self, name: &str, span: &Range<usize>, key: &str) {
        if !is_provider_name(name) {
            let message = format!("{name:?} is not a valid provider name");
            let hint = "the name appears in URLs: use 1 to 63 lowercase letters, digits, `_` or \
                        `-`, starting with a letter or digit";
            self.error(span.clone(), key, message, Some(hint));
        }
    }

    fn provider(
        &mut self,
        name: String,
        raw: RawProvider,
        span: &Range<usize>,
        key: &str,
        found: &[FoundToken],
    ) -> ProviderConfig {
        let enabled = raw.enabled.unwrap_or(true);
        if enabled && raw.tokens.is_empty() && raw.token_files.is_empty() {
            let message = "an enabled provider needs at least one token".to_owned();
            let hint = "run `scimd token new` and add its line to `tokens`, or name a file in \
                        `token_files`, or set `enabled = false`";
            self.error(span.clone(), key, message, Some(hint));
        }
        let field = |name: &str| join_key(key, name);
        self.targets(&name, &raw.targets, span, key);
        ProviderConfig {
            name,
            enabled,
            token_hashes: unique_hashes(found),
            max_results: to_usize(self.ranged(
                raw.max_results.as_ref(),
                &field("max_results"),
                1..=100_000,
                1000,
            )),
            patch_returns_body: raw.patch_returns_body.unwrap_or(true),
            rate_limit: raw
                .rate_limit
                .and_then(|limit| self.rate_limit(limit, &field("rate_limit"))),
            bulk: self.bulk(raw.bulk.unwrap_or_default(), &field("bulk")),
            drift_check: raw
                .drift_check
                .map(|cron| self.drift_check(cron, &field("drift_check"))),
            drift_action: raw.drift_action.unwrap_or_default(),
            max_delete_percent: u8::try_from(self.ranged(
                raw.max_delete_percent.as_ref(),
                &field("max_delete_percent"),
                0..=100,
                10,
            ))
            .unwrap_or(10),
            targets: raw.targets,
        }
    }

    /// Hashes from `tokens` and from every file in `token_files`, with where each came from.
    fn provider_tokens(&mut self, raw: &RawProvider, key: &str) -> Vec<FoundToken> {
        let mut found = Vec::new();
        let tokens_key = join_key(key, "tokens");
        for (index, token) in raw.tokens.iter().enumerate() {
            let key = index_key(&tokens_key, index);
            if let Some(hash) = self.inline_token(token, &key) {
                found.push(FoundToken {
                    hash,
                    key,
                    span: token.span(),
                });
            }
        }
        let files_key = join_key(key, "token_files");
        for (index, file) in raw.token_files.iter().enumerate() {
            let key = index_key(&files_key, index);
            for hash in self.token_file(file, &key) {
                found.push(FoundToken {
                    hash,
                    key: key.clone(),
                    span: file.span(),
                });
            }
        }
        found
    }

    /// A `tokens` entry: only `sha256:HEX`. The value is never echoed: it may be a secret.
    fn inline_token(&mut self, token: &Spanned<String>, key: &str) -> Option<[u8; 32]> {
        let hash = parse_hash_line(token.get_ref());
        if hash.is_none() {
            let message = if token.get_ref().starts_with(HASH_PREFIX) {
                "`sha256:` must be followed by exactly 64 hex digits"
            } else {
                "not a token hash: tokens holds `sha256:` and 64 hex digits, never a plain token"
            };
            let hint = "run `scimd token new` and paste its sha256: line here; to use a plain \
                        token, put it in a file named in `token_files`";
            self.error(token.span(), key, message.to_owned(), Some(hint));
        }
        hash
    }

    /// Hashes of the tokens in one token file; each bad line is an error naming it.
    fn token_file(&mut self, file: &Spanned<String>, key: &str) -> Vec<[u8; 32]> {
        let Some(text) = self.read_file(file, key) else {
            return Vec::new();
        };
        let path = file.get_ref();
        let mut hashes = Vec::new();
        for (number, line) in text
            .lines()
            .enumerate()
            .map(|(i, line)| (i + 1, line.trim()))
        {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match file_line_hash(line) {
                Ok(hash) => hashes.push(hash),
                Err(problem) => {
                    let message = format!("line {number} of `{path}`: {problem}");
                    self.error(file.span(), key, message, Some("one token per line"));
                }
            }
        }
        if hashes.is_empty() && text.lines().all(|line| is_blank_or_comment(line.trim())) {
            let message = format!("`{path}` holds no token");
            self.error(file.span(), key, message, Some("write one token per line"));
        }
        hashes
    }

    fn shared_tokens(
        &mut self,
        name: &str,
        found: &[FoundToken],
        owners: &mut HashMap<[u8; 32], String>,
    ) {
        for token in found {
            let owner = owners.entry(token.hash).or_insert_with(|| name.to_owned());
            if owner != name {
                let message = format!("this token is also accepted by provider `{owner}`");
                let hint = "give every provider its own tokens (`scimd token new`), so one client \
                            can never act on another provider's data";
                self.error(token.span.clone(), &token.key, message, Some(hint));
            }
        }
    }

    fn rate_limit(&mut self, raw: Spanned<RawRateLimit>, key: &str) -> Option<RateLimit> {
        let span = raw.span();
        let RawRateLimit {
            requests_per_second,
            burst,
        } = raw.into_inner();
        let mut valid = true;
        if !(requests_per_second.is_finite() && requests_per_second > 0.0) {
            let message =
                format!("requests_per_second must be more than 0, got {requests_per_second}");
            self.error(span.clone(), key, message, None);
            valid = false;
        }
        if burst == 0 {
            self.error(span, key, "burst must be at least 1".to_owned(), None);
            valid = false;
        }
        valid.then_some(RateLimit {
            per_second: requests_per_second,
            burst,
        })
    }

    fn bulk(&mut self, raw: RawBulk, key: &str) -> BulkLimits {
        BulkLimits {
            max_operations: to_usize(self.ranged(
                raw.max_operations.as_ref(),
                &join_key(key, "max_operations"),
                1..=100_000,
                1000,
            )),
            max_payload_bytes: to_usize(self.ranged(
                raw.max_payload_bytes.as_ref(),
                &join_key(key, "max_payload_bytes"),
                KIB..=64 * MIB,
                MIB,
            )),
        }
    }

    fn drift_check(&mut self, raw: Spanned<String>, key: &str) -> String {
        if let Err(problem) = crate::drift::schedule::parse(raw.get_ref()) {
            let hint = "write 5 fields: minute hour day-of-month month day-of-week, like \"*/30 * * * *\", or @hourly, @daily, @weekly";
            self.error(raw.span(), key, problem, Some(hint));
        }
        raw.into_inner()
    }
}

/// `^[a-z0-9][a-z0-9_-]{0,62}$`
fn is_provider_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    let allowed = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_' || *b == b'-';
    bytes
        .first()
        .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && bytes.len() <= 63
        && bytes.iter().all(allowed)
}

/// One token-file line: `sha256:HEX`, or a raw token (one word), hashed here.
fn file_line_hash(line: &str) -> Result<[u8; 32], &'static str> {
    if line.starts_with(HASH_PREFIX) {
        return parse_hash_line(line).ok_or("`sha256:` must be followed by exactly 64 hex digits");
    }
    if line.split_whitespace().nth(1).is_some() {
        return Err("a token is one word, without spaces (no `Bearer ` prefix)");
    }
    Ok(token_hash(line))
}

fn is_blank_or_comment(line: &str) -> bool {
    line.is_empty() || line.starts_with('#')
}

fn unique_hashes(found: &[FoundToken]) -> Vec<[u8; 32]> {
    let mut hashes: Vec<[u8; 32]> = Vec::with_capacity(found.len());
    for token in found {
        if !hashes.contains(&token.hash) {
            hashes.push(token.hash);
        }
    }
    hashes
}
