//! The identity check of every request once its tokens are cached: `Security::identify` for a
//! valid token (SHA-256 of the secret, one map lookup, expiry, the role under the policy), an
//! unknown token, and no token (the anonymous role), with N tokens in the store.
//! Run: cargo bench --bench auth [-- TOKENS]   (default 10,000 tokens)

use std::time::Instant;

use bando::policy::tokens::{self, TokenCache};
use bando::policy::{PolicyFile, Security, Vocabulary};
use bando::store::gpkg::GpkgStore;
use bando::store::{NewToken, Store};

const POLICY: &str = "[security]\n[[security.roles]]\nname = \"public\"\nlayers = [\"*\"]\n\n[[security.roles]]\nname = \"officer\"\nlayers = [\"*\"]\nscoped = true\n";
const CALLS: usize = 200_000;

/// p50 and p99 of one call, in nanoseconds, each call timed on its own.
fn percentiles(mut call: impl FnMut() -> bool) -> (u128, u128) {
    let mut times: Vec<u128> = Vec::with_capacity(CALLS);
    for _ in 0..CALLS {
        let started = Instant::now();
        let ok = call();
        times.push(started.elapsed().as_nanos());
        std::hint::black_box(ok);
    }
    times.sort_unstable();
    (times[CALLS / 2], times[CALLS * 99 / 100])
}

fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args()
        .skip(1)
        .find(|a| a != "--bench")
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir()?;
    let store = GpkgStore::open(&dir.path().join("auth.gpkg"))?;
    let mut secrets = Vec::with_capacity(n);
    for i in 0..n {
        let secret = tokens::new_secret()?;
        store.add_token(&NewToken {
            hash: tokens::hash_secret(&secret),
            role: "officer".into(),
            scope: vec![format!("wards:{}", 19_900 + i % 50)],
            expires_unix: Some(4_000_000_000),
            note: String::new(),
        })?;
        secrets.push(secret);
    }
    let config = dir.path().join("bando.toml");
    std::fs::write(&config, POLICY)?;
    let policy = PolicyFile::open(&config, &Vocabulary::default())?;
    let security = Security::new(Some(policy), TokenCache::load(&store)?);

    let mut i = 0;
    let (valid50, valid99) = percentiles(|| {
        i = (i + 7919) % n;
        security.identify(Some(&secrets[i]), None).is_ok_and(|id| id.is_some())
    });
    let unknown = tokens::new_secret()?;
    let (unknown50, unknown99) = percentiles(|| security.identify(Some(&unknown), None).is_err());
    let (anon50, anon99) = percentiles(|| security.identify(None, None).is_ok());
    println!("tokens in the store: {n}; {CALLS} calls each, every call timed (Instant overhead included)");
    println!("valid token:   p50 {valid50} ns  p99 {valid99} ns");
    println!("unknown token: p50 {unknown50} ns  p99 {unknown99} ns");
    println!("no token:      p50 {anon50} ns  p99 {anon99} ns");
    Ok(())
}
