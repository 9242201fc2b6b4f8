//! Per-provider rate limits over HTTP (CLIENT-QUIRKS 20): 429 with `Retry-After` once a
//! provider's bucket is empty, other providers unaffected, recovery after the wait, and
//! no tokens spent by unauthenticated requests or by the operational endpoints.

use std::time::Duration;

use crate::support::{Client, Daemon, Reply, TOKEN_B};

/// 1 request per second, bursts of 2: slow enough that a loaded test machine cannot
/// refill the bucket between back-to-back requests.
const LIMIT: &str = "rate_limit = { requests_per_second = 1.0, burst = 2 }";

/// Sends GETs until one is refused (at most `n`); returns the refusal.
async fn until_throttled(c: &Client, n: usize) -> Option<Reply> {
    for _ in 0..n {
        let r = c.get("/Users").await;
        if r.status == 429 {
            return Some(r);
        }
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
    None
}

#[tokio::test]
async fn a_burst_over_the_limit_gets_429_with_retry_after_then_recovers() {
    let d = Daemon::start_with(LIMIT).await;
    let c = d.client();
    assert_eq!(c.get("/Users").await.status, 200);
    assert_eq!(c.get("/ServiceProviderConfig").await.status, 200);
    let refused = until_throttled(&c, 5)
        .await
        .expect("a 429 within 5 requests");
    assert_eq!(refused.header("retry-after"), Some("1"));
    assert_eq!(
        refused.header("content-type"),
        Some("application/scim+json")
    );
    assert_eq!(
        refused.body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );
    assert_eq!(refused.body["status"], "429");
    assert!(
        refused.body["detail"]
            .as_str()
            .unwrap()
            .contains("1 per second with bursts of 2"),
        "{:?}",
        refused.body
    );
    // Writes are throttled too, and change nothing.
    let post = c.post("/Users", &crate::support::user("throttled")).await;
    assert_eq!(post.status, 429);

    // Provider b has no limit and its own (absent) bucket.
    let b = d.client_for("b", Some(TOKEN_B));
    for _ in 0..10 {
        assert_eq!(b.get("/Users").await.status, 200);
    }

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let again = c.get("/Users?filter=userName%20eq%20%22throttled%22").await;
    assert_eq!(again.status, 200, "{:?}", again.body);
    assert_eq!(again.body["totalResults"], 0);
    d.stop().await;
}

#[tokio::test]
async fn unauthenticated_and_operational_requests_spend_no_tokens() {
    let d = Daemon::start_with(LIMIT).await;
    let intruder = d.client_for("a", Some("wrong-token"));
    for _ in 0..20 {
        assert_eq!(intruder.get("/Users").await.status, 401);
    }
    let ops = Client::new(&d.base, None);
    for _ in 0..10 {
        assert_eq!(ops.get("/healthz").await.status, 200);
    }
    // The bucket is still full: the tenant's burst of 2 goes through.
    let c = d.client();
    assert_eq!(c.get("/Users").await.status, 200);
    assert_eq!(c.get("/Users").await.status, 200);
    d.stop().await;
}
