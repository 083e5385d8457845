//! OIDC / JWT bearer tokens (the province's single sign-on): `[security.jwt]`, and the check of
//! one token. A token is accepted only when it is signed with a public key of the configured
//! JWKS ([`super::jwks`]) in that key's own algorithm (RS/PS/ES/EdDSA: never `none`, never
//! HMAC, so a public key can never be used as a shared secret), names a key the set holds, and
//! carries the configured issuer and audience, an `exp` not past and an `nbf` not ahead (each
//! with `leeway_seconds` of clock skew). Its role and admin-unit scope come from configurable
//! claims (dotted paths such as `realm_access.roles`).
//!
//! Verified tokens are cached by the SHA-256 of their text (bounded, cleared when the keys
//! change), so a token seen before costs a hash, a lookup and its time checks: the signature is
//! verified once. Knows no HTTP: the server hands it the bearer string and maps [`JwtError`].

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use jsonwebtoken::errors::ErrorKind as JwtErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use toml::Spanned;

use super::jwks::{Jwks, JwksSource, Lookup, ACCEPTED};
use super::tokens::rfc3339;
use crate::config::{ConfigError, Source};

/// Default claim holding the role (a string, or an array whose first role the policy defines wins).
pub const DEFAULT_ROLE_CLAIM: &str = "roles";
/// Default claim holding the admin-unit scope (`LAYER:CODE` strings, an array or comma-separated).
pub const DEFAULT_SCOPE_CLAIM: &str = "admin_units";
const DEFAULT_LEEWAY_SECONDS: u64 = 30;
const MAX_LEEWAY_SECONDS: u64 = 300;
const DEFAULT_REFRESH_SECONDS: u64 = 600;
/// Verified tokens held at once.
const CACHE_CAPACITY: u64 = 10_000;

/// `[security.jwt]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtSection {
    /// A JWKS file path, or the provider's `jwks_uri` (`https://...`).
    pub jwks: Spanned<String>,
    /// The `iss` every token must carry, exactly.
    pub issuer: Spanned<String>,
    /// The `aud` every token must carry (or hold, when it is an array).
    pub audience: Spanned<String>,
    #[serde(default)]
    pub role_claim: Option<Spanned<String>>,
    #[serde(default)]
    pub scope_claim: Option<Spanned<String>>,
    #[serde(default)]
    pub leeway_seconds: Option<Spanned<u64>>,
    #[serde(default)]
    pub jwks_refresh_seconds: Option<Spanned<u64>>,
}

/// Why a JWT was refused. Each is answered 401 with a `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum JwtError {
    #[error("the bearer token is neither a bando token (bnd_...) nor a JWT (header.payload.signature): {0}")]
    Malformed(String),
    #[error("the JWT is unsigned (alg 'none'), which is never accepted; sign it with a key of the server's JWKS")]
    Unsigned,
    #[error("the JWT is signed with {0}, a shared-secret algorithm; bando accepts only public-key signatures (RS256, ES256, EdDSA) by a key of its JWKS")]
    SharedSecret(String),
    #[error("the JWT's algorithm '{0}' is not accepted; use RS256, ES256 or EdDSA")]
    UnsupportedAlgorithm(String),
    #[error("the JWT names key '{kid}', which the JWKS {jwks} does not hold")]
    UnknownKey { kid: String, jwks: String },
    #[error("the JWT names no key (kid) and the JWKS {jwks} holds several; the token's header needs a kid")]
    NoKeyId { jwks: String },
    #[error("the JWT says alg {alg} but key '{kid}' verifies only {key_alg}")]
    WrongAlgorithm { alg: String, kid: String, key_alg: String },
    #[error("the JWT's header lists critical extensions ({0}) that bando does not understand")]
    Critical(String),
    #[error("the JWT's signature does not verify with key '{kid}'")]
    BadSignature { kid: String },
    #[error("the JWT expired at {at}; sign in again")]
    Expired { at: String },
    #[error("the JWT is not valid before {at} (nbf); check the clocks of the identity provider and this server")]
    NotYetValid { at: String },
    #[error("the JWT was issued by '{got}', not by '{want}' ([security.jwt] issuer)")]
    WrongIssuer { got: String, want: String },
    #[error("the JWT is not meant for '{want}' ([security.jwt] audience); its aud is {got}")]
    WrongAudience { got: String, want: String },
    #[error("the JWT has no '{0}' claim, which bando requires")]
    MissingClaim(String),
    #[error("the JWT's claim '{claim}' ({value}) is not well formed: {why}")]
    BadClaim { claim: String, value: String, why: String },
}

/// What a verified JWT grants, as the cache holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct JwtGrant {
    pub issuer: String,
    /// `sub`, or empty when the token has none.
    pub subject: String,
    /// The values of the role claim, in order; the first one the policy defines is the role.
    pub roles: Vec<String>,
    /// `LAYER:CODE` units of the scope claim.
    pub scope: Vec<String>,
    pub expires_unix: i64,
    pub not_before_unix: Option<i64>,
}

/// `[security.jwt]`, checked, with its key set loaded.
pub struct JwtVerifier {
    keys: Jwks,
    issuer: String,
    audience: String,
    role_claim: String,
    scope_claim: String,
    leeway: u64,
    verified: moka::sync::Cache<[u8; 32], Arc<JwtGrant>, foldhash::fast::RandomState>,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("jwks", &self.keys.source())
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

fn claim_name(claim: &Option<Spanned<String>>, default: &str, source: &Source) -> Result<String, ConfigError> {
    match claim {
        None => Ok(default.to_string()),
        Some(name) if name.get_ref().split('.').any(str::is_empty) => {
            Err(source.error_at(name.span(), "a claim is a name, or a dotted path such as realm_access.roles"))
        }
        Some(name) => Ok(name.get_ref().clone()),
    }
}

impl JwtSection {
    /// Checks the keys and loads the JWKS; `source` names the file and line of a problem.
    pub fn check(&self, source: &Source) -> Result<JwtVerifier, ConfigError> {
        for (key, value) in [("issuer", &self.issuer), ("audience", &self.audience), ("jwks", &self.jwks)] {
            if value.get_ref().trim().is_empty() {
                return Err(source.error_at(value.span(), format!("[security.jwt] {key} must not be empty")));
            }
        }
        let leeway = match &self.leeway_seconds {
            Some(l) if *l.get_ref() > MAX_LEEWAY_SECONDS => {
                return Err(source.error_at(
                    l.span(),
                    format!("leeway_seconds is clock skew, at most {MAX_LEEWAY_SECONDS}; a longer one would accept expired tokens"),
                ));
            }
            Some(l) => *l.get_ref(),
            None => DEFAULT_LEEWAY_SECONDS,
        };
        let refresh = match &self.jwks_refresh_seconds {
            Some(r) if *r.get_ref() == 0 => {
                return Err(source.error_at(r.span(), "jwks_refresh_seconds must be at least 1"));
            }
            Some(r) => *r.get_ref(),
            None => DEFAULT_REFRESH_SECONDS,
        };
        let keys = Jwks::load(JwksSource::parse(self.jwks.get_ref()), Duration::from_secs(refresh))
            .map_err(|e| source.error_at(self.jwks.span(), e.to_string()))?;
        Ok(JwtVerifier {
            keys,
            issuer: self.issuer.get_ref().clone(),
            audience: self.audience.get_ref().clone(),
            role_claim: claim_name(&self.role_claim, DEFAULT_ROLE_CLAIM, source)?,
            scope_claim: claim_name(&self.scope_claim, DEFAULT_SCOPE_CLAIM, source)?,
            leeway,
            verified: moka::sync::Cache::builder()
                .max_capacity(CACHE_CAPACITY)
                .build_with_hasher(foldhash::fast::RandomState::default()),
        })
    }
}

/// The JOSE header fields bando reads before choosing a key.
#[derive(Deserialize)]
struct RawHeader {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    crit: Option<Vec<String>>,
}

/// Whether a bearer credential looks like a JWT (three base64url parts) rather than an API token.
pub fn looks_like_jwt(credential: &str) -> bool {
    credential.starts_with("eyJ") && credential.bytes().filter(|&b| b == b'.').count() == 2
}

fn header_of(token: &str) -> Result<RawHeader, JwtError> {
    let encoded = token.split('.').next().unwrap_or_default();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(encoded.trim_end_matches('='))
        .map_err(|e| JwtError::Malformed(format!("its header is not base64url ({e})")))?;
    serde_json::from_slice(&bytes).map_err(|e| JwtError::Malformed(format!("its header is not a JOSE header with alg ({e})")))
}

/// The algorithm a header asks for, refusing the ones bando never accepts.
fn algorithm_of(alg: &str) -> Result<Algorithm, JwtError> {
    if alg.eq_ignore_ascii_case("none") {
        return Err(JwtError::Unsigned);
    }
    if alg.to_ascii_uppercase().starts_with("HS") {
        return Err(JwtError::SharedSecret(alg.to_string()));
    }
    alg.parse::<Algorithm>()
        .ok()
        .filter(|a| ACCEPTED.contains(a))
        .ok_or_else(|| JwtError::UnsupportedAlgorithm(alg.to_string()))
}

/// The value at a dotted claim path.
fn claim<'a>(claims: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(claims, |v, part| v.get(part))
}

/// A claim as a list of strings: a string (split at commas and spaces), or an array of strings.
fn strings(claims: &Value, path: &str) -> Result<Vec<String>, JwtError> {
    let bad = |value: &Value| JwtError::BadClaim {
        claim: path.to_string(),
        value: value.to_string(),
        why: "it must be a string or an array of strings".into(),
    };
    match claim(claims, path) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(s
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| item.as_str().map(str::to_string).ok_or_else(|| bad(item)))
            .collect(),
        Some(other) => Err(bad(other)),
    }
}

impl JwtVerifier {
    pub fn jwks(&self) -> &Jwks {
        &self.keys
    }

    pub fn role_claim(&self) -> &str {
        &self.role_claim
    }

    pub fn scope_claim(&self) -> &str {
        &self.scope_claim
    }

    /// Re-reads the key set if it is due; a change forgets every verified token.
    pub fn refresh_keys(&self) -> Result<bool, super::jwks::JwksError> {
        let changed = self.keys.refresh_if_due()?;
        if changed {
            self.verified.invalidate_all();
        }
        Ok(changed)
    }

    /// The grant of `token` at `now_unix`: from the cache once verified, else verified now.
    pub fn check(&self, token: &str, now_unix: i64) -> Result<Arc<JwtGrant>, JwtError> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let grant = match self.verified.get(&digest) {
            Some(grant) => grant,
            None => {
                let grant = Arc::new(self.verify(token)?);
                self.verified.insert(digest, grant.clone());
                grant
            }
        };
        self.in_time(&grant, now_unix)?;
        Ok(grant)
    }

    /// `exp` and `nbf` against `now_unix`, with the leeway (a cached token expires in the cache too).
    fn in_time(&self, grant: &JwtGrant, now_unix: i64) -> Result<(), JwtError> {
        let leeway = self.leeway as i64;
        if now_unix > grant.expires_unix.saturating_add(leeway) {
            return Err(JwtError::Expired {
                at: rfc3339(grant.expires_unix),
            });
        }
        if let Some(nbf) = grant.not_before_unix.filter(|&nbf| now_unix.saturating_add(leeway) < nbf) {
            return Err(JwtError::NotYetValid { at: rfc3339(nbf) });
        }
        Ok(())
    }

    /// Checks the header, the signature and the claims of a token not seen before.
    fn verify(&self, token: &str) -> Result<JwtGrant, JwtError> {
        let header = header_of(token)?;
        let alg = algorithm_of(&header.alg)?;
        if let Some(crit) = header.crit.filter(|c| !c.is_empty()) {
            return Err(JwtError::Critical(crit.join(", ")));
        }
        let keys = self.keys.current();
        let kid = header.kid.clone().unwrap_or_else(|| "(none)".into());
        let key = match keys.find(header.kid.as_deref()) {
            Lookup::Found(key) => key,
            Lookup::UnknownKid => {
                self.keys.want_refresh();
                return Err(JwtError::UnknownKey {
                    kid,
                    jwks: self.keys.source().describe(),
                });
            }
            Lookup::NoKid => {
                return Err(JwtError::NoKeyId {
                    jwks: self.keys.source().describe(),
                })
            }
        };
        if key.algorithm != alg {
            return Err(JwtError::WrongAlgorithm {
                alg: header.alg,
                kid,
                key_alg: format!("{:?}", key.algorithm),
            });
        }
        // Times are checked by `in_time`, against the caller's clock, for fresh and cached tokens alike.
        let mut validation = Validation::new(alg);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        let claims = jsonwebtoken::decode::<Value>(token, &key.key, &validation)
            .map_err(|e| self.refusal(e.kind(), token, &kid))?
            .claims;
        self.grant_of(&claims)
    }

    /// The message of a token the library refused; its claims (unverified) only fill in the message.
    fn refusal(&self, kind: &JwtErrorKind, token: &str, kid: &str) -> JwtError {
        let claims: Value = jsonwebtoken::dangerous::insecure_decode_claims(token).unwrap_or(Value::Null);
        let shown = |name: &str| claims.get(name).map_or("(none)".to_string(), Value::to_string);
        match kind {
            JwtErrorKind::InvalidSignature => JwtError::BadSignature { kid: kid.to_string() },
            JwtErrorKind::InvalidIssuer => JwtError::WrongIssuer {
                got: claims.get("iss").and_then(Value::as_str).unwrap_or("(none)").to_string(),
                want: self.issuer.clone(),
            },
            JwtErrorKind::InvalidAudience => JwtError::WrongAudience {
                got: shown("aud"),
                want: self.audience.clone(),
            },
            JwtErrorKind::MissingRequiredClaim(name) => JwtError::MissingClaim(name.clone()),
            JwtErrorKind::InvalidClaimFormat(name) => JwtError::BadClaim {
                claim: name.clone(),
                value: shown(name),
                why: "not of the type RFC 7519 gives it".into(),
            },
            other => JwtError::Malformed(format!("{other:?}")),
        }
    }

    fn grant_of(&self, claims: &Value) -> Result<JwtGrant, JwtError> {
        // NumericDate may have a fraction (RFC 7519 section 2).
        let int = |name: &str| {
            let value = claims.get(name)?;
            value
                .as_i64()
                .or_else(|| value.as_f64().filter(|f| f.is_finite()).map(|f| f.floor() as i64))
        };
        let scope = strings(claims, &self.scope_claim)?;
        if let Some(unit) = scope
            .iter()
            .find(|u| u.split_once(':').is_none_or(|(l, c)| l.is_empty() || c.is_empty()))
        {
            return Err(JwtError::BadClaim {
                claim: self.scope_claim.clone(),
                value: unit.clone(),
                why: "each unit is LAYER:CODE, e.g. wards:19900".into(),
            });
        }
        Ok(JwtGrant {
            issuer: self.issuer.clone(),
            subject: claims.get("sub").and_then(Value::as_str).unwrap_or_default().to_string(),
            roles: strings(claims, &self.role_claim)?,
            scope,
            expires_unix: int("exp").ok_or_else(|| JwtError::MissingClaim("exp".into()))?,
            not_before_unix: int("nbf"),
        })
    }
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::jwk::Jwk;
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::json;

    use super::*;

    /// A fixed Ed25519 key as PKCS#8 DER: the 16-byte prefix of RFC 8410 and a 32-byte seed.
    fn signing_key() -> EncodingKey {
        let mut der = hex::decode("302e020100300506032b657004220420").unwrap();
        der.extend_from_slice(&[7u8; 32]);
        EncodingKey::from_ed_der(&der)
    }

    fn verifier(dir: &std::path::Path, extra: &str) -> JwtVerifier {
        let mut jwk = Jwk::from_encoding_key(&signing_key(), Algorithm::EdDSA).unwrap();
        jwk.common.key_id = Some("k1".into());
        let path = dir.join("jwks.json");
        std::fs::write(&path, json!({ "keys": [jwk] }).to_string()).unwrap();
        let text = format!(
            "[security.jwt]\njwks = \"{}\"\nissuer = \"https://sso.hue.gov.vn\"\naudience = \"bando\"\n{extra}",
            path.display()
        );
        let source = Source {
            path: std::path::Path::new("bando.toml"),
            text: &text,
        };
        #[derive(Deserialize)]
        struct File {
            security: Section,
        }
        #[derive(Deserialize)]
        struct Section {
            jwt: JwtSection,
        }
        let file: File = toml::from_str(&text).unwrap();
        file.security.jwt.check(&source).unwrap()
    }

    fn mint(claims: Value) -> String {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some("k1".into());
        jsonwebtoken::encode(&header, &claims, &signing_key()).unwrap()
    }

    const NOW: i64 = 1_900_000_000;

    fn claims() -> Value {
        json!({ "iss": "https://sso.hue.gov.vn", "aud": "bando", "sub": "u1", "exp": NOW + 600,
                "roles": ["viewer", "officer"], "admin_units": "wards:19900, wards:19903" })
    }

    #[test]
    fn a_valid_token_grants_its_claims_and_is_cached() {
        let dir = tempfile::tempdir().unwrap();
        let v = verifier(dir.path(), "");
        let token = mint(claims());
        assert!(looks_like_jwt(&token));
        let grant = v.check(&token, NOW).unwrap();
        assert_eq!(grant.subject, "u1");
        assert_eq!(grant.roles, ["viewer", "officer"]);
        assert_eq!(grant.scope, ["wards:19900", "wards:19903"]);
        assert!(
            Arc::ptr_eq(&grant, &v.check(&token, NOW).unwrap()),
            "the second check is the cached grant"
        );
        assert!(
            matches!(v.check(&token, NOW + 600 + 31), Err(JwtError::Expired { .. })),
            "expiry holds in the cache"
        );
        assert!(v.check(&token, NOW + 600 + 29).is_ok(), "within the leeway");
    }

    #[test]
    fn claims_come_from_configured_paths() {
        let dir = tempfile::tempdir().unwrap();
        let v = verifier(dir.path(), "role_claim = \"realm_access.roles\"\nscope_claim = \"units\"\n");
        let mut c = claims();
        c["realm_access"] = json!({ "roles": ["analyst"] });
        c["units"] = json!(["wards:19900"]);
        let grant = v.check(&mint(c), NOW).unwrap();
        assert_eq!(
            (grant.roles.as_slice(), grant.scope.as_slice()),
            (&["analyst".to_string()][..], &["wards:19900".to_string()][..])
        );
        let mut bad = claims();
        bad["units"] = json!(["19900"]);
        assert!(matches!(v.check(&mint(bad), NOW), Err(JwtError::BadClaim { .. })));
    }

    #[test]
    fn forged_and_misdirected_tokens_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let v = verifier(dir.path(), "");
        let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let unsigned = format!("{}.{}.", b64(&json!({"alg": "none", "kid": "k1"})), b64(&claims()));
        assert_eq!(v.check(&unsigned, NOW), Err(JwtError::Unsigned));
        let hs = format!("{}.{}.AAAA", b64(&json!({"alg": "HS256", "kid": "k1"})), b64(&claims()));
        assert_eq!(v.check(&hs, NOW), Err(JwtError::SharedSecret("HS256".into())));
        let token = mint(claims());
        let parts: Vec<&str> = token.split('.').collect();
        let mut richer = claims();
        richer["roles"] = json!(["admin"]);
        let tampered = format!("{}.{}.{}", parts[0], b64(&richer), parts[2]);
        assert!(matches!(v.check(&tampered, NOW), Err(JwtError::BadSignature { kid }) if kid == "k1"));
        let mut wrong_iss = claims();
        wrong_iss["iss"] = json!("https://evil.example");
        assert!(matches!(v.check(&mint(wrong_iss), NOW), Err(JwtError::WrongIssuer { got, .. }) if got == "https://evil.example"));
        let mut wrong_aud = claims();
        wrong_aud["aud"] = json!(["other"]);
        assert!(matches!(v.check(&mint(wrong_aud), NOW), Err(JwtError::WrongAudience { .. })));
        let mut future = claims();
        future["nbf"] = json!(NOW + 3600);
        assert!(matches!(v.check(&mint(future), NOW), Err(JwtError::NotYetValid { .. })));
        let mut no_exp = claims();
        no_exp.as_object_mut().unwrap().remove("exp");
        assert_eq!(v.check(&mint(no_exp), NOW), Err(JwtError::MissingClaim("exp".into())));
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some("k9".into());
        let unknown = jsonwebtoken::encode(&header, &claims(), &signing_key()).unwrap();
        assert!(matches!(v.check(&unknown, NOW), Err(JwtError::UnknownKey { kid, .. }) if kid == "k9"));
    }
}
