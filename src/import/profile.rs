//! Import profiles: TOML files (importers/<kind>.toml) that map the field names real survey
//! datasets use onto bando's canonical fields, with the canonical type of each.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use unicode_normalization::UnicodeNormalization;

use super::ImportError;
use crate::feature::{FieldType, LayerKind};

/// Type of a canonical field; `Auto` keeps the source column's type (parcel numbers such as "12a").
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CanonicalType {
    Text,
    Int,
    Float,
    Bool,
    Auto,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CanonicalField {
    #[serde(rename = "type")]
    pub ty: CanonicalType,
    #[serde(default)]
    pub aliases: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub kind: LayerKind,
    #[serde(default)]
    pub fields: BTreeMap<String, CanonicalField>,
    /// Fields (by their names in the store) that are personal data of citizens or businesses:
    /// kept marked in the catalog, and given only to roles with `personal_data = true`.
    #[serde(default)]
    pub personal: Vec<String>,
}

const DEFAULTS: &[(LayerKind, &str)] = &[
    (LayerKind::Admin, include_str!("../../importers/admin.toml")),
    (LayerKind::Cadastral, include_str!("../../importers/cadastral.toml")),
    (LayerKind::Housing, include_str!("../../importers/housing.toml")),
    (LayerKind::Building, include_str!("../../importers/building.toml")),
    (LayerKind::Planning, include_str!("../../importers/planning.toml")),
    (LayerKind::Infrastructure, include_str!("../../importers/infrastructure.toml")),
    (LayerKind::Poi, include_str!("../../importers/poi.toml")),
    (LayerKind::Iot, include_str!("../../importers/iot.toml")),
];

/// Lower-case ASCII letters and digits only: "Số thửa", "so_thua" and "SoThua" all give "sothua".
pub fn match_key(name: &str) -> String {
    name.nfd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .filter_map(|c| match c {
            'đ' | 'Đ' => Some('d'),
            c if c.is_ascii_alphanumeric() => Some(c.to_ascii_lowercase()),
            _ => None,
        })
        .collect()
}

impl Profile {
    /// The built-in profile of a kind (compiled in from importers/).
    pub fn default_for(kind: LayerKind) -> Profile {
        let text = DEFAULTS
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, t)| *t)
            .expect("every kind has a profile");
        toml::from_str(text).expect("built-in profiles are valid TOML")
    }

    pub fn load(path: &Path) -> Result<Profile, ImportError> {
        let text = std::fs::read_to_string(path).map_err(|e| ImportError::Profile {
            path: path.to_path_buf(),
            reason: format!("{e}; profiles live in importers/, e.g. --profile importers/cadastral.toml"),
        })?;
        toml::from_str(&text).map_err(|e| ImportError::Profile {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
    }

    /// The canonical name and type for a source field, if the profile knows it.
    pub fn canonical(&self, source_name: &str) -> Option<(&str, CanonicalType)> {
        let key = match_key(source_name);
        self.fields.iter().find_map(|(name, field)| {
            let hit = match_key(name) == key || field.aliases.iter().any(|a| match_key(a) == key);
            hit.then_some((name.as_str(), field.ty))
        })
    }

    pub fn canonical_type(&self, canonical_name: &str) -> Option<CanonicalType> {
        self.fields.get(canonical_name).map(|f| f.ty)
    }
}

impl CanonicalType {
    pub fn resolve(self, source: FieldType) -> FieldType {
        match self {
            CanonicalType::Text => FieldType::Text,
            CanonicalType::Int => FieldType::Int,
            CanonicalType::Float => FieldType::Float,
            CanonicalType::Bool => FieldType::Bool,
            CanonicalType::Auto => source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_valid_default_profile() {
        for kind in LayerKind::ALL {
            assert_eq!(Profile::default_for(kind).kind, kind);
        }
    }

    #[test]
    fn the_housing_profile_marks_the_household_s_personal_data() {
        let housing = Profile::default_for(LayerKind::Housing);
        assert_eq!(housing.personal, ["household_head", "citizen_id", "phone"]);
        assert_eq!(housing.canonical("SoCCCD").unwrap().0, "citizen_id");
        assert_eq!(housing.canonical("Chủ hộ").unwrap().0, "household_head");
    }

    #[test]
    fn vietnamese_and_english_names_map_to_canonical_fields() {
        let cadastral = Profile::default_for(LayerKind::Cadastral);
        assert_eq!(cadastral.canonical("SoThua").unwrap().0, "parcel_no");
        assert_eq!(cadastral.canonical("so_thua").unwrap().0, "parcel_no");
        assert_eq!(cadastral.canonical("Loại đất").unwrap().0, "land_use");
        assert_eq!(cadastral.canonical("dien_tich").unwrap().0, "area_m2");
        let building = Profile::default_for(LayerKind::Building);
        assert_eq!(building.canonical("building:levels").unwrap().0, "floors");
        assert_eq!(building.canonical("Height").unwrap().0, "height_m");
        assert!(building.canonical("colour").is_none());
    }
}
