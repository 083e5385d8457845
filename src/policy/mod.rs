//! Who may see what: the `[security]` section of `bando.toml` (roles, the anonymous role, rate
//! limits), checked against the catalog into a [`Policy`]; the policy file reloaded while the
//! server runs ([`PolicyFile`]); API tokens and the identity of a request ([`tokens`],
//! [`Security`]); OIDC / JWT bearer tokens verified against a JWKS ([`jwt`], [`jwks`]); the
//! token buckets of the rate limit ([`rate`]); what one request may see ([`View`]), which every
//! route asks.
//!
//! Owns: the policy's keys and their checks (unknown layers, fields, roles and units are refused
//! naming the file and line), token format and hashing, and deciding who a credential is.
//! Does not know HTTP (the server hands it the credential string and maps [`AuthError`] to a
//! status), and does not store tokens (that is `store`).

pub mod aggregate;
pub mod area;
mod file;
pub mod jwks;
pub mod jwt;
mod memo;
pub mod rate;
mod section;
pub mod tokens;
mod view;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

pub use aggregate::Aggregate;
pub use file::{PolicyFile, Reload};
pub use section::{RoleSection, SecuritySection};
pub use tokens::{AuthError, Identity, Security, TokenError, TokenGrant};
pub use view::View;

use crate::index::Catalog;
use crate::scenarios::Scenarios;
use crate::store::LayerMeta;

/// The role of requests without a token when the policy does not name one.
pub const DEFAULT_ANONYMOUS_ROLE: &str = "public";
/// Units with fewer features than this are suppressed from aggregates unless a role says otherwise.
pub const DEFAULT_MIN_COUNT: u32 = 5;

/// What a role may read.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LayerGrant {
    /// `"*"`: every layer and scenario, present and future.
    All,
    /// Only these layers and scenarios.
    Named(BTreeSet<String>),
}

impl LayerGrant {
    pub fn allows(&self, name: &str) -> bool {
        match self {
            LayerGrant::All => true,
            LayerGrant::Named(names) => names.contains(name),
        }
    }
}

/// One checked `[[security.roles]]` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Role {
    pub name: String,
    pub layers: LayerGrant,
    /// Per layer, the fields this role never receives.
    pub hidden_fields: BTreeMap<String, BTreeSet<String>>,
    /// Per layer, the unit layer it is only given as figures of.
    pub aggregate: BTreeMap<String, String>,
    /// Aggregate units with fewer features are suppressed.
    pub min_count: u32,
    /// May read fields marked personal.
    pub personal_data: bool,
    /// Limited to the administrative units in its token's scope.
    pub scoped: bool,
    /// May read the audit log and manage tokens over HTTP.
    pub admin: bool,
    /// A digest of what the role sees (its rules, not its name): what caches of views key on.
    pub digest: u64,
}

/// A checked policy: every name in it exists.
#[derive(Debug, Clone)]
pub struct Policy {
    roles: BTreeMap<String, Arc<Role>>,
    anonymous: Arc<Role>,
    rate_limit: Option<rate::RateLimit>,
    /// `[security.jwt]`: single sign-on tokens, with their key set and verified-token cache.
    jwt: Option<Arc<jwt::JwtVerifier>>,
}

impl Policy {
    pub fn role(&self, name: &str) -> Option<&Arc<Role>> {
        self.roles.get(name)
    }

    /// The role of requests without a credential.
    pub fn anonymous(&self) -> &Arc<Role> {
        &self.anonymous
    }

    pub fn roles(&self) -> impl Iterator<Item = &Arc<Role>> {
        self.roles.values()
    }

    /// Requests per identity (token or client IP), if limited.
    pub fn rate_limit(&self) -> Option<rate::RateLimit> {
        self.rate_limit
    }

    /// The JWT check, when `[security.jwt]` is configured.
    pub fn jwt(&self) -> Option<&Arc<jwt::JwtVerifier>> {
        self.jwt.as_ref()
    }

    /// The role a command line grants (`token create --role`, `export pmtiles --role`): the role
    /// `name` of the policy read from `config` (the anonymous role when `None`), refused when it
    /// is unknown, when it is scoped and `scope` names no unit, or when `scope` would limit nothing.
    pub fn grant(&self, name: Option<&str>, scope: &[String], config: &Path) -> Result<&Arc<Role>, TokenError> {
        let role = match name {
            None => &self.anonymous,
            Some(name) => self.role(name).ok_or_else(|| TokenError::UnknownRole {
                role: name.to_string(),
                config: config.display().to_string(),
                roles: self.roles().map(|r| r.name.as_str()).collect::<Vec<_>>().join(", "),
            })?,
        };
        match (role.scoped, scope.is_empty()) {
            (true, true) => Err(TokenError::ScopeNeeded(role.name.clone())),
            (false, false) => Err(TokenError::ScopeUnused(role.name.clone())),
            _ => Ok(role),
        }
    }
}

/// The names a policy may refer to: layers with their fields, and scenario ids.
#[derive(Debug, Default)]
pub struct Vocabulary {
    /// Store layer -> its field names.
    pub layers: BTreeMap<String, BTreeSet<String>>,
    pub scenarios: BTreeSet<String>,
}

impl Vocabulary {
    /// The names of a running server: its catalog and scenarios.
    pub fn of(catalog: &Catalog, scenarios: &Scenarios) -> Vocabulary {
        let layers = catalog.snapshot();
        Vocabulary::from_layers(layers.values().map(|l| &l.meta), scenarios)
    }

    /// The names of a store's catalog entries (no features loaded) and scenarios.
    pub fn new(layers: &[LayerMeta], scenarios: &Scenarios) -> Vocabulary {
        Vocabulary::from_layers(layers.iter(), scenarios)
    }

    fn from_layers<'a>(layers: impl Iterator<Item = &'a LayerMeta>, scenarios: &Scenarios) -> Vocabulary {
        Vocabulary {
            layers: layers
                .map(|meta| (meta.name.clone(), meta.fields.iter().map(|f| f.name.clone()).collect()))
                .collect(),
            scenarios: scenarios.iter().map(|s| s.id.clone()).collect(),
        }
    }

    /// Whether `layer` can name administrative units (`LAYER:CODE`): it has a `code` field.
    pub fn is_unit_layer(&self, layer: &str) -> bool {
        self.layers.get(layer).is_some_and(|fields| fields.contains("code"))
    }

    fn unit_layers(&self) -> String {
        let units: Vec<&str> = self.layers.keys().filter(|l| self.is_unit_layer(l)).map(String::as_str).collect();
        if units.is_empty() {
            "none in the store".into()
        } else {
            units.join(", ")
        }
    }
}
