//! API tokens and the identity of a request. A token is `bnd_` and 64 hex digits (256 random
//! bits from the operating system); the store keeps only its SHA-256, which is enough for a
//! secret of that entropy (no salt or slow hash needed: nothing to guess). A running server
//! holds every token's hash in memory ([`TokenCache`], refreshed when the store's token counter
//! moves), so checking one is a hash and a map lookup, with no store access on the request path.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use arc_swap::ArcSwap;
use sha2::{Digest, Sha256};

use super::aggregate::AggregateMemo;
use super::area::AreaMemo;
use super::jwt::{self, JwtError, JwtGrant};
use super::rate::{Client, RateLimiter};
use super::{Policy, PolicyFile, Role, View, Vocabulary};
use crate::store::{Store, StoreError, TokenRecord};

/// What every bando token starts with, so a leaked one is recognisable (secret scanners, logs).
pub const TOKEN_PREFIX: &str = "bnd_";

/// Why a credential was refused. Each is answered 401 with a `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    #[error("the token is not known to this server; ask an administrator for one (bando token create)")]
    UnknownToken,
    #[error("token {id} expired at {at}; ask an administrator for a new one")]
    Expired { id: i64, at: String },
    #[error("token {id} was revoked at {at}; ask an administrator for a new one")]
    Revoked { id: i64, at: String },
    #[error("token {id} has role '{role}', which the server's policy does not define; ask an administrator")]
    UnknownRole { id: i64, role: String },
    #[error("the Authorization header must be 'Bearer TOKEN'")]
    NotBearer,
    #[error("too many requests; retry in {retry_after_secs} s (the server's rate limit is per token, or per client address without one)")]
    TooManyRequests { retry_after_secs: u64 },
    #[error(transparent)]
    Jwt(#[from] JwtError),
    #[error("the JWT's claim '{claim}' names no role of the server's policy (it holds: {held}); the policy's roles are: {roles}")]
    NoJwtRole { claim: String, held: String, roles: String },
    #[error("role '{role}' is scoped, but the JWT's claim '{claim}' names no unit (LAYER:CODE)")]
    NoJwtScope { role: String, claim: String },
}

impl AuthError {
    /// The RFC 6750 error code of the challenge.
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::NotBearer => "invalid_request",
            AuthError::TooManyRequests { .. } => "rate_limited",
            _ => "invalid_token",
        }
    }
}

/// Why a token cannot be created as asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    #[error("scope '{0}' is not LAYER:CODE, e.g. wards:19900 (several: wards:19900,wards:19903)")]
    BadScope(String),
    #[error("scope '{layer}:{code}': {reason}")]
    UnknownUnit { layer: String, code: String, reason: String },
    #[error("role '{role}' is not in the policy of {config}; its roles are: {roles}")]
    UnknownRole { role: String, config: String, roles: String },
    #[error("role '{0}' is scoped: give --scope LAYER:CODE[,LAYER:CODE...] (the units it may see)")]
    ScopeNeeded(String),
    #[error("role '{0}' is not scoped (no `scoped = true` in its [[security.roles]]): leave out --scope, it would limit nothing")]
    ScopeUnused(String),
    #[error("the operating system gave no random bytes for the token: {0}")]
    Random(getrandom::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A new token's secret: shown once, then only its hash exists.
pub fn new_secret() -> Result<String, TokenError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(TokenError::Random)?;
    Ok(format!("{TOKEN_PREFIX}{}", hex::encode(bytes)))
}

pub fn hash_secret(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Parses `--scope LAYER:CODE[,LAYER:CODE...]` and checks each unit exists in the store.
pub fn parse_scope(store: &dyn Store, text: &str, known: &Vocabulary) -> Result<Vec<String>, TokenError> {
    let mut scope = Vec::new();
    for unit in text.split(',').map(str::trim).filter(|u| !u.is_empty()) {
        let (layer, code) = unit
            .split_once(':')
            .filter(|(l, c)| !l.is_empty() && !c.is_empty())
            .ok_or_else(|| TokenError::BadScope(unit.to_string()))?;
        let missing = |reason: String| TokenError::UnknownUnit {
            layer: layer.to_string(),
            code: code.to_string(),
            reason,
        };
        if !known.is_unit_layer(layer) {
            return Err(missing(format!(
                "'{layer}' is not a layer of administrative units (one with a 'code' field); units: {}",
                known.unit_layers()
            )));
        }
        let meta = store.layer(layer)?;
        let field = meta.field_index("code").unwrap_or(0);
        let mut found = false;
        store.for_each_feature(&meta, &mut |f| found |= f.properties[field].to_string() == code)?;
        if !found {
            return Err(missing(format!("layer '{layer}' has no unit with that code")));
        }
        scope.push(unit.to_string());
    }
    Ok(scope)
}

/// What a valid token grants, as the server caches it.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenGrant {
    pub id: i64,
    pub role: String,
    pub scope: Vec<String>,
    pub expires_unix: Option<i64>,
    pub revoked_unix: Option<i64>,
}

impl From<TokenRecord> for TokenGrant {
    fn from(r: TokenRecord) -> TokenGrant {
        TokenGrant {
            id: r.id,
            role: r.role,
            scope: r.scope,
            expires_unix: r.expires_unix,
            revoked_unix: r.revoked_unix,
        }
    }
}

/// Who a request is: its role under the current policy, and its API token or JWT when it sent one.
#[derive(Debug, Clone)]
pub struct Identity {
    pub role: Arc<Role>,
    pub token: Option<Arc<TokenGrant>>,
    pub jwt: Option<Arc<JwtGrant>>,
}

impl Identity {
    /// The administrative units (`LAYER:CODE`) a scoped role is limited to: its token's
    /// `--scope`, or its JWT's scope claim.
    pub fn scope(&self) -> &[String] {
        match (&self.token, &self.jwt) {
            (Some(token), _) => &token.scope,
            (None, Some(jwt)) => &jwt.scope,
            (None, None) => &[],
        }
    }

    /// Whether the request sent a valid credential (an API token or a JWT).
    pub fn is_authenticated(&self) -> bool {
        self.token.is_some() || self.jwt.is_some()
    }

    /// Who it is, for logs and the audit: `token:ID`, `jwt:SUBJECT`, or `anonymous`.
    pub fn name(&self) -> String {
        match (&self.token, &self.jwt) {
            (Some(token), _) => format!("token:{}", token.id),
            (None, Some(jwt)) => format!("jwt:{}", jwt.subject),
            (None, None) => "anonymous".to_string(),
        }
    }
}

/// RFC 3339 text of a Unix time, for messages and listings.
pub fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| unix.to_string())
}

type ByHash = HashMap<[u8; 32], Arc<TokenGrant>, foldhash::fast::RandomState>;

/// Every token's grant by the hash of its secret, swapped whole when the store's tokens change.
pub struct TokenCache {
    by_hash: ArcSwap<ByHash>,
    /// The store's token counter when `by_hash` was read.
    generation: Mutex<i64>,
}

fn read_tokens(store: &dyn Store) -> Result<(i64, ByHash), StoreError> {
    // Counter first: a token added between the two reads is seen now or on the next look.
    let generation = store.token_generation()?;
    let by_hash = store
        .tokens()?
        .into_iter()
        .map(|r| (r.hash, Arc::new(TokenGrant::from(r))))
        .collect();
    Ok((generation, by_hash))
}

impl TokenCache {
    pub fn load(store: &dyn Store) -> Result<TokenCache, StoreError> {
        let (generation, by_hash) = read_tokens(store)?;
        Ok(TokenCache {
            by_hash: ArcSwap::from_pointee(by_hash),
            generation: Mutex::new(generation),
        })
    }

    /// Re-reads the tokens if any was created or revoked since the last look; returns whether it did.
    pub fn refresh(&self, store: &dyn Store) -> Result<bool, StoreError> {
        let mut generation = self.generation.lock().unwrap_or_else(|e| e.into_inner());
        if store.token_generation()? == *generation {
            return Ok(false);
        }
        let (next, by_hash) = read_tokens(store)?;
        self.by_hash.store(Arc::new(by_hash));
        *generation = next;
        Ok(true)
    }

    pub fn len(&self) -> usize {
        self.by_hash.load().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The grant of a secret still valid at `now_unix`.
    pub fn check(&self, secret: &str, now_unix: i64) -> Result<Arc<TokenGrant>, AuthError> {
        let grant = self
            .by_hash
            .load()
            .get(&hash_secret(secret))
            .cloned()
            .ok_or(AuthError::UnknownToken)?;
        if let Some(at) = grant.revoked_unix {
            return Err(AuthError::Revoked {
                id: grant.id,
                at: rfc3339(at),
            });
        }
        if let Some(at) = grant.expires_unix.filter(|&at| now_unix >= at) {
            return Err(AuthError::Expired {
                id: grant.id,
                at: rfc3339(at),
            });
        }
        Ok(grant)
    }
}

/// The server's access control: the policy file (none: the server is open to everyone, as
/// without a configuration) and the token cache.
pub struct Security {
    policy: Option<PolicyFile>,
    tokens: TokenCache,
    limiter: RateLimiter,
    areas: Arc<AreaMemo>,
    /// The figures layers of aggregate-only layers.
    figures: Arc<AggregateMemo>,
    /// Hashes a JWT's issuer and subject into its rate-limit bucket.
    subjects: foldhash::fast::RandomState,
    /// Where requests and admin actions are recorded (with a policy in force).
    audit: Option<Arc<crate::audit::Auditor>>,
}

impl Security {
    pub fn new(policy: Option<PolicyFile>, tokens: TokenCache) -> Security {
        Security {
            policy,
            tokens,
            limiter: RateLimiter::default(),
            areas: Arc::default(),
            figures: Arc::default(),
            subjects: foldhash::fast::RandomState::default(),
            audit: None,
        }
    }

    /// Records requests and admin actions through `auditor`.
    pub fn with_audit(mut self, auditor: Arc<crate::audit::Auditor>) -> Security {
        self.audit = Some(auditor);
        self
    }

    /// The audit writer, when the server records.
    pub fn audit(&self) -> Option<&Arc<crate::audit::Auditor>> {
        self.audit.as_ref()
    }

    /// Keeps (or, with `on == false`, does not keep) the member sets of scoped views and the
    /// figures of aggregate-only layers.
    pub fn caching_areas(mut self, on: bool) -> Security {
        self.areas = Arc::new(AreaMemo::new(on));
        self.figures = Arc::new(AggregateMemo::new(on));
        self
    }

    /// The view of a request by `identity` (`None`: no policy in force).
    pub fn view(&self, identity: Option<&Identity>) -> View {
        View::of(identity, &self.areas, &self.figures)
    }

    pub fn policy_file(&self) -> Option<&PolicyFile> {
        self.policy.as_ref()
    }

    pub fn tokens(&self) -> &TokenCache {
        &self.tokens
    }

    /// Who sends `secret` (`None`: no credential) from `address`, within the rate limit.
    /// `Ok(None)` when no policy is in force: the server is open and credentials are not looked at.
    pub fn identify(&self, secret: Option<&str>, address: Option<IpAddr>) -> Result<Option<Identity>, AuthError> {
        let Some(policy) = self.policy.as_ref().and_then(PolicyFile::current) else {
            return Ok(None);
        };
        let identity = match secret {
            None => Identity {
                role: policy.anonymous().clone(),
                token: None,
                jwt: None,
            },
            Some(secret) => match policy.jwt() {
                Some(verifier) if jwt::looks_like_jwt(secret) => {
                    let grant = verifier.check(secret, time::OffsetDateTime::now_utc().unix_timestamp())?;
                    jwt_identity(&policy, verifier.role_claim(), verifier.scope_claim(), grant)?
                }
                _ => {
                    let grant = self.tokens.check(secret, time::OffsetDateTime::now_utc().unix_timestamp())?;
                    let role = policy.role(&grant.role).cloned().ok_or_else(|| AuthError::UnknownRole {
                        id: grant.id,
                        role: grant.role.clone(),
                    })?;
                    Identity {
                        role,
                        token: Some(grant),
                        jwt: None,
                    }
                }
            },
        };
        if let Some(limit) = policy.rate_limit() {
            let client = match (&identity.token, &identity.jwt, address) {
                (Some(grant), _, _) => Some(Client::Token(grant.id)),
                (None, Some(jwt), _) => Some(Client::Subject(self.subjects.hash_one((&jwt.issuer, &jwt.subject)))),
                (None, None, address) => address.map(Client::Address),
            };
            if let Some(client) = client {
                self.limiter
                    .take(client, limit, Instant::now())
                    .map_err(|wait| AuthError::TooManyRequests {
                        retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64,
                    })?;
            }
        }
        Ok(Some(identity))
    }

    /// Re-reads the JWKS of the policy in force if it is due (its file changed, its URL's
    /// interval passed, or a token named an unknown key); `Ok(true)` when the keys changed.
    pub fn refresh_jwt_keys(&self) -> Result<bool, super::jwks::JwksError> {
        match self.policy.as_ref().and_then(PolicyFile::current) {
            Some(policy) => policy.jwt().map_or(Ok(false), |v| v.refresh_keys()),
            None => Ok(false),
        }
    }
}

/// The identity of a verified JWT: the first role of its role claim the policy defines.
fn jwt_identity(policy: &Policy, role_claim: &str, scope_claim: &str, grant: Arc<JwtGrant>) -> Result<Identity, AuthError> {
    let role = grant
        .roles
        .iter()
        .find_map(|r| policy.role(r))
        .cloned()
        .ok_or_else(|| AuthError::NoJwtRole {
            claim: role_claim.to_string(),
            held: if grant.roles.is_empty() {
                "nothing".to_string()
            } else {
                grant.roles.join(", ")
            },
            roles: policy.roles().map(|r| r.name.as_str()).collect::<Vec<_>>().join(", "),
        })?;
    if role.scoped && grant.scope.is_empty() {
        return Err(AuthError::NoJwtScope {
            role: role.name.clone(),
            claim: scope_claim.to_string(),
        });
    }
    Ok(Identity {
        role,
        token: None,
        jwt: Some(grant),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::gpkg::GpkgStore;
    use crate::store::NewToken;

    fn new_token(store: &dyn Store, secret: &str, expires_unix: Option<i64>) -> TokenRecord {
        store
            .add_token(&NewToken {
                hash: hash_secret(secret),
                role: "officer".into(),
                scope: vec!["wards:19900".into()],
                expires_unix,
                note: "test".into(),
            })
            .unwrap()
    }

    #[test]
    fn secrets_are_prefixed_random_and_only_their_hash_is_stored() {
        let (a, b) = (new_secret().unwrap(), new_secret().unwrap());
        assert!(a.starts_with(TOKEN_PREFIX) && a.len() == TOKEN_PREFIX.len() + 64, "{a}");
        assert_ne!(a, b);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.gpkg");
        let store = GpkgStore::open(&path).unwrap();
        let record = new_token(&store, &a, None);
        assert_eq!(record.hash, hash_secret(&a));
        assert_eq!(record.scope, vec!["wards:19900".to_string()]);
        drop(store);
        let bytes = std::fs::read(&path).unwrap();
        let wal = std::fs::read(dir.path().join("s.gpkg-wal")).unwrap_or_default();
        let holds = |hay: &[u8]| hay.windows(a.len()).any(|w| w == a.as_bytes());
        assert!(!holds(&bytes) && !holds(&wal), "the secret itself is never written");
    }

    #[test]
    fn the_cache_sees_new_revoked_and_expired_tokens() {
        let dir = tempfile::tempdir().unwrap();
        let store = GpkgStore::open(&dir.path().join("s.gpkg")).unwrap();
        let cache = TokenCache::load(&store).unwrap();
        assert!(cache.is_empty());
        let secret = new_secret().unwrap();
        let record = new_token(&store, &secret, Some(2_000_000_000));
        assert_eq!(cache.check(&secret, 0), Err(AuthError::UnknownToken), "not yet refreshed");
        assert!(cache.refresh(&store).unwrap());
        assert!(!cache.refresh(&store).unwrap(), "nothing changed");
        assert_eq!(cache.check(&secret, 0).unwrap().id, record.id);
        assert!(matches!(cache.check(&secret, 2_000_000_000), Err(AuthError::Expired { .. })));
        assert_eq!(cache.check("bnd_0000", 0), Err(AuthError::UnknownToken));
        store.revoke_token(record.id).unwrap();
        assert!(cache.refresh(&store).unwrap());
        assert!(matches!(cache.check(&secret, 0), Err(AuthError::Revoked { id, .. }) if id == record.id));
        assert!(matches!(store.revoke_token(99), Err(StoreError::NoSuchToken(99))));
    }
}
