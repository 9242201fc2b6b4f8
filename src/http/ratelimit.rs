//! Per-provider request rate limits (`[providers.P] rate_limit`, CLIENT-QUIRKS 20): one
//! token bucket per provider, holding up to `burst` tokens and refilled at
//! `requests_per_second`; each request on `/scim/v2/P/...` takes one token (a `/Bulk`
//! request too, whatever its size). The router checks it after authentication, so a
//! flood of unauthenticated requests cannot drain a tenant's bucket. An empty bucket
//! answers 429 with `Retry-After`: the whole seconds until a token is back.
//!
//! Buckets are keyed by provider name and survive a config reload; a provider whose
//! rate or burst changed starts over with a full bucket under the new limit.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use http::{Response, header};

use super::response::{self, Body};
use crate::config::{ProviderConfig, RateLimit};
use crate::scim::ScimError;

/// A token bucket. Time is passed in, so tests drive it with their own clock.
#[derive(Debug)]
struct Bucket {
    limit: RateLimit,
    tokens: f64,
    updated: Instant,
}

impl Bucket {
    fn full(limit: RateLimit, now: Instant) -> Bucket {
        Bucket {
            limit,
            tokens: f64::from(limit.burst),
            updated: now,
        }
    }

    /// Takes a token, or says how long until one is back.
    fn take(&mut self, now: Instant) -> Result<(), Duration> {
        // A clock read before `updated` (another thread got the lock first) adds nothing.
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens =
            (self.tokens + elapsed * self.limit.per_second).min(f64::from(self.limit.burst));
        self.updated = self.updated.max(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            let seconds = (1.0 - self.tokens) / self.limit.per_second;
            Err(Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX))
        }
    }
}

/// The buckets of every rate-limited provider.
#[derive(Debug, Default)]
pub struct RateLimiter {
    // A plain mutex: it is held for a few float operations, never across an await.
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    /// Takes one request's token from `provider`'s bucket, limited by `limit`, at time
    /// `now`; `Err` holds how long until the next token.
    pub fn check(&self, provider: &str, limit: RateLimit, now: Instant) -> Result<(), Duration> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        match buckets.get_mut(provider) {
            Some(bucket) if bucket.limit == limit => bucket.take(now),
            _ => {
                let mut bucket = Bucket::full(limit, now);
                let taken = bucket.take(now);
                buckets.insert(provider.to_owned(), bucket);
                taken
            }
        }
    }

    /// Keeps the buckets of providers still served with the same limit (config reload),
    /// and forgets the others.
    pub fn retain(&self, providers: &BTreeMap<String, ProviderConfig>) {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        buckets.retain(|name, bucket| {
            providers
                .get(name)
                .is_some_and(|p| p.enabled && p.rate_limit == Some(bucket.limit))
        });
    }
}

/// `Retry-After` in whole seconds, at least 1 (RFC 9110 section 10.2.3 has no fractions).
pub fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_secs()
        .saturating_add(u64::from(wait.subsec_nanos() > 0))
        .max(1)
}

/// The 429 response for a provider whose bucket is empty.
pub fn too_many_requests(provider: &str, limit: RateLimit, wait: Duration) -> Response<Body> {
    let secs = retry_after_secs(wait);
    let error = ScimError::new(
        429,
        format!(
            "too many requests for provider {provider:?}: it allows {} per second with bursts \
             of {}; retry after {secs} s (the Retry-After header)",
            limit.per_second, limit.burst
        ),
    );
    let mut resp = response::error(&error);
    response::set_header(&mut resp, header::RETRY_AFTER, &secs.to_string());
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(per_second: f64, burst: u32) -> RateLimit {
        RateLimit { per_second, burst }
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_full_bucket_allows_a_burst_then_refills_at_the_rate() {
        let t0 = Instant::now();
        let rl = RateLimiter::default();
        let l = limit(2.0, 3);
        for _ in 0..3 {
            assert_eq!(rl.check("a", l, t0), Ok(()));
        }
        // Empty: one token comes back after 1/2 s.
        assert_eq!(rl.check("a", l, t0), Err(ms(500)));
        assert_eq!(rl.check("a", l, t0 + ms(250)), Err(ms(250)));
        assert_eq!(rl.check("a", l, t0 + ms(500)), Ok(()));
        // Refill is capped at the burst, however long the pause.
        let later = t0 + Duration::from_secs(3600);
        for _ in 0..3 {
            assert_eq!(rl.check("a", l, later), Ok(()));
        }
        assert!(rl.check("a", l, later).is_err());
    }

    #[test]
    fn providers_have_their_own_buckets() {
        let t0 = Instant::now();
        let rl = RateLimiter::default();
        assert_eq!(rl.check("a", limit(1.0, 1), t0), Ok(()));
        assert!(rl.check("a", limit(1.0, 1), t0).is_err());
        assert_eq!(rl.check("b", limit(1.0, 1), t0), Ok(()));
        assert_eq!(rl.buckets.lock().unwrap().len(), 2);
    }

    fn provider(name: &str, rate_limit: Option<RateLimit>) -> (String, ProviderConfig) {
        let config = ProviderConfig {
            name: name.to_owned(),
            enabled: true,
            token_hashes: Vec::new(),
            max_results: 100,
            patch_returns_body: true,
            rate_limit,
            bulk: crate::config::BulkLimits {
                max_operations: 10,
                max_payload_bytes: 1024,
            },
            drift_check: None,
            drift_action: Default::default(),
            max_delete_percent: 10,
            targets: BTreeMap::new(),
        };
        (name.to_owned(), config)
    }

    #[test]
    fn reload_keeps_buckets_of_unchanged_providers_only() {
        let t0 = Instant::now();
        let rl = RateLimiter::default();
        for name in ["same", "changed", "unlimited", "removed"] {
            assert_eq!(rl.check(name, limit(1.0, 1), t0), Ok(()));
        }
        rl.retain(&BTreeMap::from([
            provider("same", Some(limit(1.0, 1))),
            provider("changed", Some(limit(5.0, 1))),
            provider("unlimited", None),
        ]));
        let mut kept: Vec<String> = rl.buckets.lock().unwrap().keys().cloned().collect();
        kept.sort();
        assert_eq!(kept, vec!["same".to_owned()]);
        // The kept bucket is still empty: a reload does not hand out new tokens.
        assert!(rl.check("same", limit(1.0, 1), t0).is_err());
    }

    #[test]
    fn a_changed_limit_starts_a_full_bucket() {
        let t0 = Instant::now();
        let rl = RateLimiter::default();
        assert_eq!(rl.check("a", limit(1.0, 1), t0), Ok(()));
        assert!(rl.check("a", limit(1.0, 1), t0).is_err());
        assert_eq!(rl.check("a", limit(1.0, 2), t0), Ok(()));
        assert_eq!(rl.check("a", limit(1.0, 2), t0), Ok(()));
        assert!(rl.check("a", limit(1.0, 2), t0).is_err());
    }

    #[test]
    fn an_earlier_clock_reading_neither_refills_nor_panics() {
        let t0 = Instant::now() + Duration::from_secs(10);
        let rl = RateLimiter::default();
        assert_eq!(rl.check("a", limit(1.0, 1), t0), Ok(()));
        assert!(
            rl.check("a", limit(1.0, 1), t0 - Duration::from_secs(5))
                .is_err()
        );
        assert_eq!(rl.check("a", limit(1.0, 1), t0 + ms(1000)), Ok(()));
    }

    #[test]
    fn a_tiny_rate_waits_long_without_overflow() {
        let t0 = Instant::now();
        let rl = RateLimiter::default();
        let l = limit(1e-300, 1);
        assert_eq!(rl.check("a", l, t0), Ok(()));
        let wait = rl.check("a", l, t0).unwrap_err();
        assert_eq!(wait, Duration::MAX);
        assert!(retry_after_secs(wait) > 1_000_000);
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds_at_least_one() {
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(ms(1)), 1);
        assert_eq!(retry_after_secs(ms(1000)), 1);
        assert_eq!(retry_after_secs(ms(1001)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(7)), 7);
    }

    #[test]
    fn the_429_has_a_scim_body_and_retry_after() {
        let resp = too_many_requests(
            "a",
            RateLimit {
                per_second: 2.0,
                burst: 2,
            },
            ms(1500),
        );
        assert_eq!(resp.status(), 429);
        assert_eq!(resp.headers()[header::RETRY_AFTER], "2");
        assert_eq!(resp.headers()[header::CONTENT_TYPE], response::SCIM_JSON);
    }
}
