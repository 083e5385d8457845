//! The identity check of every request once its tokens are cached: `Security::identify` for a
//! valid token (SHA-256 of the secret, one map lookup, expiry, the role under the policy), an
//! unknown token, and no token (the anonymous role), with N tokens in the store; and for JWTs
//! (`[security.jwt]`, an Ed25519 JWKS): a token already verified (SHA-256 of it, the cache
//! lookup, exp/nbf, the role of its claim), and a new token each time (signature and claims).
//! Run: cargo bench --bench auth [-- TOKENS]   (default 10,000 tokens)

use std::time::Instant;

use bando::policy::tokens::{self, TokenCache};
use bando::policy::{PolicyFile, Security, Vocabulary};
use bando::store::gpkg::GpkgStore;
use bando::store::{NewToken, Store};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};

const POLICY: &str = "[security]\n[[security.roles]]\nname = \"public\"\nlayers = [\"*\"]\n\n[[security.roles]]\nname = \"officer\"\nlayers = [\"*\"]\nscoped = true\n";
const CALLS: usize = 200_000;
/// Distinct JWTs in the "verified once" run (all cached after the first round).
const JWTS: usize = 1_000;

/// A fixed Ed25519 signing key (PKCS#8 DER: RFC 8410's prefix and a 32-byte seed).
fn signing_key() -> EncodingKey {
    let mut der = hex::decode("302e020100300506032b657004220420").expect("hex");
    der.extend_from_slice(&[42u8; 32]);
    EncodingKey::from_ed_der(&der)
}

fn mint(key: &EncodingKey, subject: usize) -> anyhow::Result<String> {
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some("bench".into());
    let claims = serde_json::json!({ "iss": "https://sso.bench", "aud": "bando", "sub": format!("user{subject}"),
        "exp": 4_000_000_000u32, "roles": ["officer"], "admin_units": ["wards:19900"] });
    Ok(jsonwebtoken::encode(&header, &claims, key)?)
}

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
    let key = signing_key();
    let mut jwk = Jwk::from_encoding_key(&key, Algorithm::EdDSA)?;
    jwk.common.key_id = Some("bench".into());
    let jwks = dir.path().join("jwks.json");
    std::fs::write(&jwks, serde_json::json!({ "keys": [jwk] }).to_string())?;
    let config = dir.path().join("bando.toml");
    let jwt_section = format!(
        "\n[security.jwt]\njwks = \"{}\"\nissuer = \"https://sso.bench\"\naudience = \"bando\"\n",
        jwks.display()
    );
    std::fs::write(&config, format!("{POLICY}{jwt_section}"))?;
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
    let jwts: Vec<String> = (0..JWTS).map(|i| mint(&key, i)).collect::<anyhow::Result<_>>()?;
    let mut j = 0;
    let (jwt50, jwt99) = percentiles(|| {
        j = (j + 1) % JWTS;
        security.identify(Some(&jwts[j]), None).is_ok_and(|id| id.is_some())
    });
    let fresh: Vec<String> = (JWTS..JWTS + 20_000).map(|i| mint(&key, i)).collect::<anyhow::Result<_>>()?;
    let mut times: Vec<u128> = fresh
        .iter()
        .map(|token| {
            let started = Instant::now();
            let ok = security.identify(Some(token), None).is_ok_and(|id| id.is_some());
            let took = started.elapsed().as_nanos();
            assert!(ok, "a fresh JWT is accepted");
            took
        })
        .collect();
    times.sort_unstable();
    let (new50, new99) = (times[times.len() / 2], times[times.len() * 99 / 100]);
    println!("tokens in the store: {n}; {CALLS} calls each, every call timed (Instant overhead included)");
    println!("valid token:   p50 {valid50} ns  p99 {valid99} ns");
    println!("unknown token: p50 {unknown50} ns  p99 {unknown99} ns");
    println!("no token:      p50 {anon50} ns  p99 {anon99} ns");
    println!("JWT verified before ({JWTS} distinct, EdDSA): p50 {jwt50} ns  p99 {jwt99} ns");
    println!(
        "JWT never seen ({} calls, EdDSA signature check): p50 {new50} ns  p99 {new99} ns",
        fresh.len()
    );
    Ok(())
}
