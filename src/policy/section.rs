//! The `[security]` section as written (with the byte span of every name, for line numbers),
//! and its check into a [`Policy`]: each name must exist, so a typo is refused at start or
//! reload instead of silently granting or hiding nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::Deserialize;
use toml::Spanned;

use super::jwt::JwtSection;
use super::rate::RateLimit;
use super::{LayerGrant, Policy, Role, Vocabulary, DEFAULT_ANONYMOUS_ROLE, DEFAULT_MIN_COUNT};
use crate::config::{ConfigError, Source};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecuritySection {
    /// Role of requests without a token (default `public`).
    #[serde(default)]
    pub anonymous_role: Option<Spanned<String>>,
    #[serde(default)]
    pub roles: Vec<Spanned<RoleSection>>,
    /// Token bucket per identity: a token, or the client IP of a request without one.
    #[serde(default)]
    pub rate_limit: Option<Spanned<RateLimit>>,
    /// OIDC / JWT bearer tokens: `[security.jwt]`.
    #[serde(default)]
    pub jwt: Option<JwtSection>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleSection {
    pub name: Spanned<String>,
    /// Layers and scenarios the role may read; `"*"` is every one.
    #[serde(default)]
    pub layers: Vec<Spanned<String>>,
    #[serde(default)]
    pub hidden_fields: BTreeMap<String, Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    pub aggregate: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    pub min_count: Option<Spanned<u32>>,
    #[serde(default)]
    pub personal_data: bool,
    #[serde(default)]
    pub scoped: bool,
    #[serde(default)]
    pub admin: bool,
}

fn valid_role_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

impl SecuritySection {
    /// Checks every name against `known` and builds the policy; `source` is the file the section
    /// came from, so each refusal names its line.
    pub fn check(&self, source: &Source, known: &Vocabulary) -> Result<Policy, ConfigError> {
        let mut roles = BTreeMap::new();
        for role in &self.roles {
            let checked = role.get_ref().check(source, known)?;
            let span = role.get_ref().name.span();
            if roles.insert(checked.name.clone(), Arc::new(checked)).is_some() {
                return Err(source.error_at(span, "this role name is defined twice; give each [[security.roles]] its own name"));
            }
        }
        let (anonymous, span) = match &self.anonymous_role {
            Some(name) => (name.get_ref().as_str(), Some(name.span())),
            None => (DEFAULT_ANONYMOUS_ROLE, None),
        };
        let refuse = |message: String| match span.clone() {
            Some(span) => source.error_at(span, message),
            None => ConfigError::Whole {
                path: source.path.to_path_buf(),
                message: format!("[security]: {message} (anonymous_role defaults to '{DEFAULT_ANONYMOUS_ROLE}')"),
            },
        };
        let Some(anonymous) = roles.get(anonymous).cloned() else {
            let defined: Vec<&str> = roles.keys().map(String::as_str).collect();
            return Err(refuse(format!(
                "anonymous role '{anonymous}' is not defined; add a [[security.roles]] named '{anonymous}' or name one of: {}",
                if defined.is_empty() {
                    "(no roles defined)".to_string()
                } else {
                    defined.join(", ")
                }
            )));
        };
        if anonymous.admin || anonymous.scoped {
            return Err(refuse(format!(
                "anonymous role '{}' is {}; requests without a token cannot be, so choose another anonymous_role",
                anonymous.name,
                if anonymous.admin {
                    "admin"
                } else {
                    "scoped (it has no token to take a scope from)"
                }
            )));
        }
        let rate_limit = match &self.rate_limit {
            Some(limit) => {
                let l = *limit.get_ref();
                if !(l.per_second.is_finite() && l.per_second > 0.0) || l.burst == 0 {
                    return Err(source.error_at(
                        limit.span(),
                        "rate_limit needs per_second > 0 (requests per second) and burst >= 1 (requests at once)",
                    ));
                }
                Some(l)
            }
            None => None,
        };
        let jwt = self.jwt.as_ref().map(|j| j.check(source)).transpose()?.map(Arc::new);
        Ok(Policy {
            roles,
            anonymous,
            rate_limit,
            jwt,
        })
    }
}

impl RoleSection {
    fn check(&self, source: &Source, known: &Vocabulary) -> Result<Role, ConfigError> {
        let name = self.name.get_ref();
        if !valid_role_name(name) {
            return Err(source.error_at(
                self.name.span(),
                format!("role name '{name}' must be 1-64 characters a-z, 0-9, _ or -"),
            ));
        }
        let unknown_layer = |layer: &str| {
            format!("role '{name}': no layer or scenario named '{layer}'; GET /layers and /scenarios list them (or use \"*\" for all)")
        };
        let layers = if self.layers.iter().any(|l| l.get_ref() == "*") {
            LayerGrant::All
        } else {
            let mut named = BTreeSet::new();
            for layer in &self.layers {
                let l = layer.get_ref();
                if !known.layers.contains_key(l) && !known.scenarios.contains(l) {
                    return Err(source.error_at(layer.span(), unknown_layer(l)));
                }
                named.insert(l.clone());
            }
            LayerGrant::Named(named)
        };
        let mut hidden_fields = BTreeMap::new();
        for (layer, fields) in &self.hidden_fields {
            let Some(known_fields) = known.layers.get(layer) else {
                return Err(source.error_at(fields.span(), unknown_layer(layer)));
            };
            let mut hidden = BTreeSet::new();
            for field in fields.get_ref() {
                if !known_fields.contains(field.get_ref()) {
                    let list: Vec<&str> = known_fields.iter().map(String::as_str).collect();
                    return Err(source.error_at(
                        field.span(),
                        format!(
                            "role '{name}': layer '{layer}' has no field '{}'; its fields are: {}",
                            field.get_ref(),
                            list.join(", ")
                        ),
                    ));
                }
                hidden.insert(field.get_ref().clone());
            }
            hidden_fields.insert(layer.clone(), hidden);
        }
        let mut aggregate = BTreeMap::new();
        for (layer, unit) in &self.aggregate {
            if !known.layers.contains_key(layer) {
                return Err(source.error_at(unit.span(), unknown_layer(layer)));
            }
            if !known.is_unit_layer(unit.get_ref()) {
                return Err(source.error_at(
                    unit.span(),
                    format!(
                        "role '{name}': '{}' is not a layer of administrative units (a layer with a 'code' field); units: {}",
                        unit.get_ref(),
                        known.unit_layers()
                    ),
                ));
            }
            aggregate.insert(layer.clone(), unit.get_ref().clone());
        }
        let min_count = match &self.min_count {
            Some(n) if *n.get_ref() == 0 => {
                return Err(source.error_at(n.span(), format!("role '{name}': min_count must be at least 1")));
            }
            Some(n) => *n.get_ref(),
            None => DEFAULT_MIN_COUNT,
        };
        let mut role = Role {
            name: name.clone(),
            layers,
            hidden_fields,
            aggregate,
            min_count,
            personal_data: self.personal_data,
            scoped: self.scoped,
            admin: self.admin,
            digest: 0,
        };
        role.digest = super::view::role_digest(&role);
        Ok(role)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::ConfigFile;

    /// The contract block of the policy (issue "who may see what"), verbatim.
    const CONTRACT: &str = r#"
[security]
anonymous_role = "public"            # role of requests without a token

[[security.roles]]
name = "public"
layers = ["wards", "parcels", "housing", "buildings"]   # "*" = every layer
hidden_fields = { parcels = ["address"] }
aggregate = { housing = "wards" }    # housing only as figures per ward
min_count = 5                        # units with fewer features are suppressed

[[security.roles]]
name = "officer"                     # a commune officer
layers = ["*"]
personal_data = true
scoped = true                        # only the units in the token's --scope

[[security.roles]]
name = "analyst"                     # a department analyst: everything but personal fields
layers = ["*"]

[[security.roles]]
name = "admin"
layers = ["*"]
personal_data = true
admin = true                         # may read the audit log and manage tokens over HTTP
"#;

    fn known() -> Vocabulary {
        let fields = |names: &[&str]| names.iter().map(|s| s.to_string()).collect();
        Vocabulary {
            layers: BTreeMap::from([
                ("wards".into(), fields(&["code", "name"])),
                ("parcels".into(), fields(&["parcel_no", "address"])),
                ("housing".into(), fields(&["household_size"])),
                ("buildings".into(), fields(&["height_m"])),
            ]),
            scenarios: BTreeSet::from(["social_welfare".to_string()]),
        }
    }

    fn check(text: &str) -> Result<Policy, ConfigError> {
        let source = Source {
            path: Path::new("bando.toml"),
            text,
        };
        let config = ConfigFile::parse(&source)?;
        config.security.expect("a [security] section").check(&source, &known())
    }

    fn refusal(text: &str) -> String {
        check(text).expect_err("refused").to_string()
    }

    #[test]
    fn the_contract_block_is_a_valid_policy() {
        let policy = check(CONTRACT).unwrap();
        assert_eq!(policy.anonymous().name, "public");
        let public = policy.role("public").unwrap();
        assert!(public.layers.allows("parcels") && !public.layers.allows("lights"));
        assert!(public.hidden_fields["parcels"].contains("address"));
        assert_eq!(public.aggregate["housing"], "wards");
        assert_eq!(public.min_count, 5);
        let officer = policy.role("officer").unwrap();
        assert!(officer.scoped && officer.personal_data && !officer.admin && officer.layers.allows("anything"));
        assert!(policy.role("admin").unwrap().admin);
        assert!(!policy.role("analyst").unwrap().personal_data);
    }

    #[test]
    fn unknown_names_are_refused_with_their_line() {
        let layer = refusal("[security]\n[[security.roles]]\nname = \"public\"\nlayers = [\"wards\", \"parcel\"]\n");
        assert!(
            layer.starts_with("bando.toml line 4: role 'public': no layer or scenario named 'parcel'"),
            "{layer}"
        );
        let field = refusal("[security]\n[[security.roles]]\nname = \"public\"\nhidden_fields = { parcels = [\"adress\"] }\n");
        assert!(
            field.starts_with("bando.toml line 4:") && field.contains("no field 'adress'") && field.contains("address"),
            "{field}"
        );
        let unit = refusal("[security]\n[[security.roles]]\nname = \"public\"\n\naggregate = { housing = \"parcels\" }\n");
        assert!(unit.starts_with("bando.toml line 5:") && unit.contains("units: wards"), "{unit}");
        let role = refusal("[security]\nanonymous_role = \"guest\"\n[[security.roles]]\nname = \"public\"\n");
        assert!(
            role.starts_with("bando.toml line 2: anonymous role 'guest' is not defined"),
            "{role}"
        );
        let default = refusal("[security]\n[[security.roles]]\nname = \"officer\"\n");
        assert!(default.contains("anonymous role 'public' is not defined"), "{default}");
    }

    #[test]
    fn duplicate_roles_unknown_keys_and_unsafe_anonymous_roles_are_refused() {
        let twice = refusal("[security]\n[[security.roles]]\nname = \"public\"\n[[security.roles]]\nname = \"public\"\n");
        assert!(twice.starts_with("bando.toml line 5:") && twice.contains("twice"), "{twice}");
        let key = refusal("[security]\n[[security.roles]]\nname = \"public\"\npersonal = true\n");
        assert!(key.starts_with("bando.toml line 4: unknown field `personal`"), "{key}");
        let admin = refusal("[security]\n[[security.roles]]\nname = \"public\"\nadmin = true\n");
        assert!(admin.contains("cannot be"), "{admin}");
        let zero = refusal("[security]\n[[security.roles]]\nname = \"public\"\nmin_count = 0\n");
        assert!(zero.starts_with("bando.toml line 4:"), "{zero}");
        let rate = refusal("[security]\nrate_limit = { per_second = 0.0, burst = 5 }\n[[security.roles]]\nname = \"public\"\n");
        assert!(rate.starts_with("bando.toml line 2: rate_limit needs per_second > 0"), "{rate}");
        let limited = check("[security]\nrate_limit = { per_second = 2.5, burst = 5 }\n[[security.roles]]\nname = \"public\"\n");
        assert_eq!(limited.unwrap().rate_limit().map(|l| l.burst), Some(5));
    }
}
