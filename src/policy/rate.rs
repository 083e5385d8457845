//! Rate limits: a token bucket per identity (a token, or the client IP of a request without
//! one), filled at `per_second` up to `burst` (`[security.rate_limit]`). A request finding its
//! bucket empty is refused with how long until it holds a request again (429 + Retry-After).
//!
//! The buckets live in a few mutex-guarded shards so concurrent requests of different clients
//! rarely wait on each other; a shard that grows past its bound drops its full buckets (and, if
//! still crowded, all of them), so a flood of distinct addresses cannot grow memory without limit.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Deserialize;

/// `[security.rate_limit]`.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Sustained requests per second of one identity.
    pub per_second: f64,
    /// Requests one identity may make at once, above the sustained rate.
    pub burst: u32,
}

/// Whose bucket a request draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Client {
    Token(i64),
    /// A JWT's issuer and subject, hashed.
    Subject(u64),
    Address(IpAddr),
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

const SHARDS: usize = 16;
/// Buckets per shard before full ones are dropped.
const SHARD_BOUND: usize = 4096;

/// The buckets of every client seen recently.
pub struct RateLimiter {
    shards: [Mutex<HashMap<Client, Bucket>>; SHARDS],
    hasher: foldhash::fast::RandomState,
}

impl Default for RateLimiter {
    fn default() -> Self {
        RateLimiter {
            shards: std::array::from_fn(|_| Mutex::new(HashMap::new())),
            hasher: foldhash::fast::RandomState::default(),
        }
    }
}

impl RateLimiter {
    /// Takes one request from `client`'s bucket, or says how long until one is there.
    pub fn take(&self, client: Client, limit: RateLimit, now: Instant) -> Result<(), Duration> {
        let shard = &self.shards[self.hasher.hash_one(client) as usize % SHARDS];
        let mut buckets = shard.lock().unwrap_or_else(|e| e.into_inner());
        let burst = f64::from(limit.burst.max(1));
        if buckets.len() >= SHARD_BOUND && !buckets.contains_key(&client) {
            buckets.retain(|_, b| refill(b, limit, burst, now) < burst);
            // Still crowded with active clients (a flood of addresses): start the shard afresh
            // rather than grow; each of them gets a full bucket again, memory stays bounded.
            if buckets.len() > SHARD_BOUND / 2 {
                buckets.clear();
            }
        }
        let bucket = buckets.entry(client).or_insert(Bucket { tokens: burst, at: now });
        bucket.tokens = refill(bucket, limit, burst, now);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Ok(());
        }
        let missing = 1.0 - bucket.tokens;
        Err(Duration::from_secs_f64(missing / limit.per_second))
    }
}

/// What `bucket` holds at `now`.
fn refill(bucket: &Bucket, limit: RateLimit, burst: f64, now: Instant) -> f64 {
    let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
    (bucket.tokens + elapsed * limit.per_second).min(burst)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: RateLimit = RateLimit { per_second: 2.0, burst: 3 };

    #[test]
    fn a_bucket_allows_its_burst_then_refills_at_the_rate() {
        let limiter = RateLimiter::default();
        let (client, t0) = (Client::Token(1), Instant::now());
        for _ in 0..3 {
            assert_eq!(limiter.take(client, LIMIT, t0), Ok(()));
        }
        let wait = limiter.take(client, LIMIT, t0).unwrap_err();
        assert_eq!(wait, Duration::from_millis(500), "one request every half second");
        assert!(
            limiter.take(Client::Token(2), LIMIT, t0).is_ok(),
            "another identity has its own bucket"
        );
        assert!(limiter.take(client, LIMIT, t0 + Duration::from_millis(500)).is_ok());
        assert!(limiter.take(client, LIMIT, t0 + Duration::from_millis(600)).is_err());
        let later = t0 + Duration::from_secs(60);
        for _ in 0..3 {
            assert!(limiter.take(client, LIMIT, later).is_ok(), "refilled up to the burst, not beyond");
        }
        assert!(limiter.take(client, LIMIT, later).is_err());
    }

    #[test]
    fn full_buckets_are_dropped_when_a_shard_is_crowded() {
        let limiter = RateLimiter::default();
        let t0 = Instant::now();
        for i in 0..(SHARDS * SHARD_BOUND * 2) as i64 {
            let _ = limiter.take(Client::Token(i), LIMIT, t0);
        }
        let later = t0 + Duration::from_secs(10);
        let _ = limiter.take(Client::Token(-1), LIMIT, later);
        let held: usize = limiter.shards.iter().map(|s| s.lock().unwrap().len()).sum();
        assert!(held <= SHARDS * SHARD_BOUND, "{held} buckets held");
    }
}
