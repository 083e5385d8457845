//! The public keys JWTs are verified with: a JWKS (RFC 7517 key set, as an OpenID provider
//! publishes at its `jwks_uri`) read from a file or fetched from an `http(s)://` URL. Only
//! public signature keys are kept (RSA, EC P-256/P-384, Ed25519), each with the one algorithm it
//! verifies; shared-secret (`oct`) and encryption keys are left out, so no token can make bando
//! use a key as an HMAC secret.
//!
//! The set is re-read when its file changes, and a URL is fetched again every
//! `jwks_refresh_seconds` or soon after a token names a key the set does not hold (a provider
//! rotating its keys); both happen on the server's watch task, never on a request. Knows nothing
//! of tokens' claims (that is `jwt`) or of HTTP serving.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use sha2::{Digest, Sha256};

use crate::watch::FileStamps;

/// Algorithms bando verifies: public-key signatures only (never `none`, never HMAC).
pub const ACCEPTED: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// A URL is not fetched again for an unknown `kid` sooner than this after the last fetch.
const UNKNOWN_KID_PAUSE: Duration = Duration::from_secs(10);
/// The largest JWKS document read (a provider's set is a few kB).
const MAX_JWKS_BYTES: u64 = 1 << 20;

/// Why a key set cannot be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JwksError {
    #[error("cannot read the JWKS file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot fetch the JWKS from {url}: {source}")]
    Fetch {
        url: String,
        #[source]
        source: Box<ureq::Error>,
    },
    #[error("cannot read the JWKS answer of {url}: {source}")]
    Body {
        url: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the JWKS of {from} is not a JSON key set ({{\"keys\": [...]}}): {source}")]
    Json {
        from: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("the JWKS of {from} holds no public signature key bando can use (RSA, EC P-256/P-384 or Ed25519){skipped}")]
    NoKeys { from: String, skipped: String },
}

/// Where the key set comes from: `jwks = "..."` under `[security.jwt]`.
#[derive(Debug, Clone, PartialEq)]
pub enum JwksSource {
    File(PathBuf),
    Url(String),
}

impl JwksSource {
    /// An `http://` or `https://` address is fetched; anything else is a file path.
    pub fn parse(text: &str) -> JwksSource {
        let lower = text.to_ascii_lowercase();
        if lower.starts_with("https://") || lower.starts_with("http://") {
            JwksSource::Url(text.to_string())
        } else {
            JwksSource::File(PathBuf::from(text))
        }
    }

    pub fn describe(&self) -> String {
        match self {
            JwksSource::File(path) => path.display().to_string(),
            JwksSource::Url(url) => url.clone(),
        }
    }

    fn read(&self) -> Result<Vec<u8>, JwksError> {
        match self {
            JwksSource::File(path) => std::fs::read(path).map_err(|source| JwksError::Read {
                path: path.clone(),
                source,
            }),
            JwksSource::Url(url) => fetch(url),
        }
    }
}

fn fetch(url: &str) -> Result<Vec<u8>, JwksError> {
    let response = ureq::get(url)
        .timeout(Duration::from_secs(10))
        .call()
        .map_err(|e| JwksError::Fetch {
            url: url.to_string(),
            source: Box::new(e),
        })?;
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut std::io::Read::take(response.into_reader(), MAX_JWKS_BYTES), &mut bytes).map_err(|source| {
        JwksError::Body {
            url: url.to_string(),
            source,
        }
    })?;
    Ok(bytes)
}

/// One usable key: what it verifies with, and the only algorithm it accepts.
pub struct VerifyingKey {
    pub algorithm: Algorithm,
    pub key: DecodingKey,
}

/// The usable keys of one JWKS document.
#[derive(Default)]
pub struct KeySet {
    by_kid: HashMap<String, Arc<VerifyingKey>, foldhash::fast::RandomState>,
    /// The key of a set holding exactly one (then a token may leave out its `kid`).
    only: Option<Arc<VerifyingKey>>,
    /// SHA-256 of the document, to tell whether a fresh read changed anything.
    digest: [u8; 32],
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySet")
            .field("kids", &self.by_kid.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// What a token's `kid` finds.
pub enum Lookup<'a> {
    Found(&'a Arc<VerifyingKey>),
    UnknownKid,
    /// No `kid`, and the set holds several keys.
    NoKid,
}

impl KeySet {
    /// Parses a JWKS document; `from` names it in errors.
    pub fn parse(bytes: &[u8], from: &str) -> Result<KeySet, JwksError> {
        let set: JwkSet = serde_json::from_slice(bytes).map_err(|source| JwksError::Json {
            from: from.to_string(),
            source,
        })?;
        let mut keys = KeySet {
            digest: Sha256::digest(bytes).into(),
            ..KeySet::default()
        };
        let mut skipped = Vec::new();
        let mut usable = Vec::new();
        for (i, jwk) in set.keys.iter().enumerate() {
            let name = jwk.common.key_id.clone().unwrap_or_else(|| format!("#{}", i + 1));
            match verifying_key(jwk) {
                Ok(key) => usable.push((jwk.common.key_id.clone(), Arc::new(key))),
                Err(why) => skipped.push(format!("{name}: {why}")),
            }
        }
        if usable.is_empty() {
            let skipped = if skipped.is_empty() {
                " (the set is empty)".to_string()
            } else {
                format!("; left out: {}", skipped.join("; "))
            };
            return Err(JwksError::NoKeys {
                from: from.to_string(),
                skipped,
            });
        }
        if !skipped.is_empty() {
            tracing::warn!(jwks = from, left_out = %skipped.join("; "), "JWKS keys bando cannot use");
        }
        if usable.len() == 1 {
            keys.only = Some(usable[0].1.clone());
        }
        for (kid, key) in usable {
            if let Some(kid) = kid {
                keys.by_kid.insert(kid, key);
            }
        }
        Ok(keys)
    }

    pub fn len(&self) -> usize {
        self.by_kid.len().max(usize::from(self.only.is_some()))
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn find(&self, kid: Option<&str>) -> Lookup<'_> {
        match kid {
            Some(kid) => self.by_kid.get(kid).map_or(Lookup::UnknownKid, Lookup::Found),
            None => self.only.as_ref().map_or(Lookup::NoKid, Lookup::Found),
        }
    }
}

/// The key and algorithm of one JWK, or why bando does not use it.
fn verifying_key(jwk: &Jwk) -> Result<VerifyingKey, String> {
    if jwk.common.public_key_use == Some(PublicKeyUse::Encryption) {
        return Err("an encryption key (use: enc)".into());
    }
    let implied = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
            EllipticCurve::P256 => Algorithm::ES256,
            EllipticCurve::P384 => Algorithm::ES384,
            _ => return Err("an EC key on a curve other than P-256 or P-384".into()),
        },
        AlgorithmParameters::OctetKeyPair(okp) if okp.curve == EllipticCurve::Ed25519 => Algorithm::EdDSA,
        AlgorithmParameters::OctetKeyPair(_) => return Err("an OKP key other than Ed25519".into()),
        AlgorithmParameters::OctetKey(_) => return Err("a shared secret (kty: oct); bando verifies only public-key signatures".into()),
        _ => return Err("an unknown key type".into()),
    };
    let algorithm = match jwk.common.key_algorithm {
        None => implied,
        Some(alg) => Algorithm::try_from(alg)
            .ok()
            .filter(|a| ACCEPTED.contains(a) && a.family() == implied.family())
            .ok_or_else(|| format!("alg {alg} does not fit its key type"))?,
    };
    let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("not a valid key ({e})"))?;
    if algorithm == Algorithm::EdDSA && key.try_get_as_bytes().map(<[u8]>::len) != Ok(32) {
        return Err("an Ed25519 key whose x is not 32 bytes".into());
    }
    // Builds the verifier once: a malformed modulus or curve point is refused here, not per token.
    jsonwebtoken::crypto::verify("AAAA", b"probe", &key, algorithm).map_err(|e| format!("not a valid key ({e})"))?;
    Ok(VerifyingKey { algorithm, key })
}

/// The key set in force, and when to read it again.
pub struct Jwks {
    source: JwksSource,
    keys: ArcSwap<KeySet>,
    refresh_every: Duration,
    /// A token named a key the set lacks: fetch the URL again soon.
    wanted: AtomicBool,
    last: Mutex<(FileStamps, Instant)>,
}

impl Jwks {
    /// Reads the set now: a source that cannot be read or holds no usable key is an error.
    pub fn load(source: JwksSource, refresh_every: Duration) -> Result<Jwks, JwksError> {
        let stamp = stamp_of(&source);
        let keys = KeySet::parse(&source.read()?, &source.describe())?;
        Ok(Jwks {
            source,
            keys: ArcSwap::from_pointee(keys),
            refresh_every,
            wanted: AtomicBool::new(false),
            last: Mutex::new((stamp, Instant::now())),
        })
    }

    pub fn source(&self) -> &JwksSource {
        &self.source
    }

    pub fn current(&self) -> arc_swap::Guard<Arc<KeySet>> {
        self.keys.load()
    }

    /// Asks for an early fetch of a URL set (a token named a key it does not hold).
    pub fn want_refresh(&self) {
        self.wanted.store(true, Ordering::Relaxed);
    }

    /// Re-reads the set if it is due (file changed; URL's interval passed, or an unknown key was
    /// asked for). `Ok(true)` when the keys changed; an error keeps the keys in force.
    pub fn refresh_if_due(&self) -> Result<bool, JwksError> {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let due = match &self.source {
            JwksSource::File(_) => stamp_of(&self.source) != last.0,
            JwksSource::Url(_) => {
                let since = last.1.elapsed();
                since >= self.refresh_every || (self.wanted.load(Ordering::Relaxed) && since >= UNKNOWN_KID_PAUSE)
            }
        };
        if !due {
            return Ok(false);
        }
        *last = (stamp_of(&self.source), Instant::now());
        self.wanted.store(false, Ordering::Relaxed);
        let keys = KeySet::parse(&self.source.read()?, &self.source.describe())?;
        if keys.digest == self.keys.load().digest {
            return Ok(false);
        }
        self.keys.store(Arc::new(keys));
        Ok(true)
    }
}

fn stamp_of(source: &JwksSource) -> FileStamps {
    match source {
        JwksSource::File(path) => FileStamps::of(std::slice::from_ref(path)),
        JwksSource::Url(_) => FileStamps::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An Ed25519 public key (RFC 8037 appendix A.2) and a P-256 one (RFC 7517 appendix A.1).
    const ED: &str = r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"ed"}"#;
    const EC: &str = r#"{"kty":"EC","crv":"P-256","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM","use":"sig","kid":"ec"}"#;

    fn set(keys: &[&str]) -> Vec<u8> {
        format!("{{\"keys\":[{}]}}", keys.join(",")).into_bytes()
    }

    #[test]
    fn public_keys_are_kept_with_their_one_algorithm_and_secrets_are_left_out() {
        let secret = r#"{"kty":"oct","k":"c2VjcmV0","kid":"hs","alg":"HS256"}"#;
        let keys = KeySet::parse(&set(&[ED, EC, secret]), "test").unwrap();
        assert_eq!(keys.len(), 2);
        let Lookup::Found(ed) = keys.find(Some("ed")) else {
            panic!("ed key")
        };
        assert_eq!(ed.algorithm, Algorithm::EdDSA);
        let Lookup::Found(ec) = keys.find(Some("ec")) else {
            panic!("ec key")
        };
        assert_eq!(ec.algorithm, Algorithm::ES256);
        assert!(
            matches!(keys.find(Some("hs")), Lookup::UnknownKid),
            "a shared secret is never a key"
        );
        assert!(matches!(keys.find(None), Lookup::NoKid), "several keys: a token must name one");
        let one = KeySet::parse(&set(&[ED]), "test").unwrap();
        assert!(matches!(one.find(None), Lookup::Found(_)), "one key: kid may be left out");
    }

    #[test]
    fn a_set_without_usable_keys_is_refused_naming_why() {
        let err = KeySet::parse(&set(&[r#"{"kty":"oct","k":"c2VjcmV0"}"#]), "keys.json")
            .unwrap_err()
            .to_string();
        assert!(err.contains("keys.json") && err.contains("shared secret"), "{err}");
        let mismatched = ED.replace("\"kid\":\"ed\"", "\"alg\":\"RS256\"");
        let err = KeySet::parse(&set(&[&mismatched]), "k").unwrap_err().to_string();
        assert!(err.contains("alg RS256 does not fit"), "{err}");
        let short = ED.replace("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "AAAA");
        let err = KeySet::parse(&set(&[&short]), "k").unwrap_err().to_string();
        assert!(err.contains("not 32 bytes"), "{err}");
        let err = KeySet::parse(b"{\"keys\": 3}", "k").unwrap_err().to_string();
        assert!(err.contains("not a JSON key set"), "{err}");
    }

    #[test]
    fn a_changed_file_is_read_again_and_a_broken_one_keeps_the_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jwks.json");
        std::fs::write(&path, set(&[ED])).unwrap();
        let jwks = Jwks::load(JwksSource::parse(path.to_str().unwrap()), Duration::from_secs(600)).unwrap();
        assert!(!jwks.refresh_if_due().unwrap(), "unchanged");
        std::fs::write(&path, set(&[ED, EC])).unwrap();
        assert!(jwks.refresh_if_due().unwrap());
        assert_eq!(jwks.current().len(), 2);
        std::fs::write(&path, "not json at all").unwrap();
        assert!(jwks.refresh_if_due().is_err());
        assert_eq!(jwks.current().len(), 2, "the last good set stays");
        assert_eq!(
            JwksSource::parse("HTTPS://id.example/jwks"),
            JwksSource::Url("HTTPS://id.example/jwks".into())
        );
    }
}
