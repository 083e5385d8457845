//! Scenario maps: the IOC's named maps (land management, social welfare, IUU fishing ...), each a
//! TOML file in `tilesets/` naming its layers, per-layer filters and zoom ranges, the attributes
//! it shows, its MapLibre style in `styles/`, its indicators with targets, and its 3D variant.
//!
//! Owns: the scenario file format, loading and checking it, reloading a folder whose files
//! changed ([`ScenarioFolder`]), and evaluating [`Filter`]s on features. Does not encode tiles,
//! run queries or know HTTP; those modules read [`Scenario`]s.

mod filter;

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use serde::{Deserialize, Serialize};

use crate::tiles::math::MAX_ZOOM;
use crate::watch::FileStamps;

pub use filter::{BoundFilter, Condition, Filter, Op};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScenarioError {
    #[error("cannot read scenario file {path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("scenario file {path} is not valid: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error("no scenario '{0}'; GET /scenarios lists them")]
    NotFound(String),
}

/// One layer of a scenario map.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioLayer {
    /// The store layer it reads.
    pub layer: String,
    /// Its name in tiles and styles (default: the store layer's name). Lets one store layer appear
    /// twice with different filters (e.g. housing and temporary houses).
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub minzoom: Option<u8>,
    #[serde(default)]
    pub maxzoom: Option<u8>,
    /// Only features matching every condition are drawn.
    #[serde(default, rename = "where")]
    pub filter: Filter,
    /// Attributes carried in tiles (default: all).
    #[serde(default)]
    pub fields: Option<Vec<String>>,
    /// Fewer attributes at shallower zooms, in ascending `maxzoom` order: a tile at zoom z carries
    /// the first list whose `maxzoom` is at least z, or `fields` past the last one.
    #[serde(default)]
    pub zoom_fields: Vec<ZoomFields>,
}

/// The attributes a scenario layer carries up to a zoom.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoomFields {
    /// The deepest zoom this list applies to.
    pub maxzoom: u8,
    pub fields: Vec<String>,
}

impl ScenarioLayer {
    pub fn tile_id(&self) -> &str {
        self.id.as_deref().unwrap_or(&self.layer)
    }

    /// Per-zoom lists ascend, stay within z0-22 and pick from `fields` (names against the store
    /// layer are checked when the scenario is drawn).
    fn check_zoom_fields(&self) -> Result<(), String> {
        let mut previous: Option<u8> = None;
        for zf in &self.zoom_fields {
            let id = self.tile_id();
            if zf.maxzoom > MAX_ZOOM || previous.is_some_and(|p| zf.maxzoom <= p) {
                return Err(format!(
                    "layer '{id}': zoom_fields maxzoom {} must be at most {MAX_ZOOM} and above the previous entry's (list them from shallow to deep)",
                    zf.maxzoom
                ));
            }
            previous = Some(zf.maxzoom);
            if let Some(all) = &self.fields {
                if let Some(extra) = zf.fields.iter().find(|f| !all.contains(f)) {
                    return Err(format!(
                        "layer '{id}': zoom_fields up to zoom {} names '{extra}', which `fields` does not carry; per-zoom lists pick from `fields`",
                        zf.maxzoom
                    ));
                }
            }
        }
        Ok(())
    }
}

/// What an indicator measures per administrative unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// Number of features matching `where`.
    Count,
    /// Sum of `field` over features matching `where`.
    Sum,
    /// Fraction (0..1) of the unit's features that match `where`.
    Share,
}

/// A target an indicator must meet: at most `max`, at least `min`, or both.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    #[serde(default)]
    pub min: Option<f64>,
    #[serde(default)]
    pub max: Option<f64>,
}

impl Target {
    pub fn is_met(&self, value: f64) -> bool {
        self.min.is_none_or(|m| value >= m) && self.max.is_none_or(|m| value <= m)
    }
}

/// A figure computed per administrative unit and compared with a target (the IOC's alert panel).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Indicator {
    pub id: String,
    pub title: String,
    /// The layer measured.
    pub layer: String,
    /// The administrative layer whose units group the figures (e.g. wards).
    pub by: String,
    pub measure: Measure,
    /// The numeric field summed when `measure = "sum"`.
    #[serde(default)]
    pub field: Option<String>,
    #[serde(default, rename = "where")]
    pub filter: Filter,
    pub target: Target,
    #[serde(default)]
    pub unit: Option<String>,
}

/// Colour of 3D buildings by attribute: the first rule whose filter matches wins.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColorRule {
    #[serde(default, rename = "where")]
    pub filter: Filter,
    /// `#rrggbb`.
    pub color: String,
}

/// The scenario's 3D view: which building layer, filtered and coloured how.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThreeD {
    pub layer: String,
    #[serde(default, rename = "where")]
    pub filter: Filter,
    #[serde(default)]
    pub colors: Vec<ColorRule>,
    /// Colour of buildings no rule matches (`#rrggbb`).
    #[serde(default)]
    pub default_color: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub description: String,
    /// The MapLibre style file in `styles/`.
    #[serde(default)]
    pub style: Option<String>,
    /// Initial view: [lon, lat, zoom].
    #[serde(default)]
    pub center: Option<[f64; 3]>,
    pub layers: Vec<ScenarioLayer>,
    #[serde(default)]
    pub indicators: Vec<Indicator>,
    #[serde(default, rename = "three_d")]
    pub three_d: Option<ThreeD>,
    /// A hash of the file's text: what caches of the scenario's tiles and 3D key on, so an
    /// edited file never serves stale tiles.
    #[serde(skip)]
    pub fingerprint: u64,
}

impl Scenario {
    pub fn parse(text: &str, path: &Path) -> Result<Scenario, ScenarioError> {
        let mut scenario: Scenario = toml::from_str(text).map_err(|e| ScenarioError::Invalid {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        // SipHash with fixed keys: the same file gives the same fingerprint (and tile ETags) after a restart.
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        text.hash(&mut hasher);
        scenario.fingerprint = hasher.finish();
        scenario.check().map_err(|reason| ScenarioError::Invalid {
            path: path.to_path_buf(),
            reason,
        })?;
        Ok(scenario)
    }

    fn check(&self) -> Result<(), String> {
        let valid_id = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
        };
        if !valid_id(&self.id) {
            return Err(format!("id '{}' must be lower-case a-z, 0-9, _ or -", self.id));
        }
        if self.layers.is_empty() {
            return Err("a scenario needs at least one [[layers]] entry".into());
        }
        let mut seen = std::collections::HashSet::new();
        for layer in &self.layers {
            if !seen.insert(layer.tile_id()) {
                return Err(format!("layer id '{}' appears twice; give one of them another id", layer.tile_id()));
            }
            // Unset ends default to 0 and 22, so a lone minzoom past 22 is a reversed range too.
            let (a, b) = (layer.minzoom.unwrap_or(0), layer.maxzoom.unwrap_or(MAX_ZOOM));
            if a > b || b > MAX_ZOOM {
                return Err(format!(
                    "layer '{}': zoom range {a}..{b} must satisfy minzoom <= maxzoom <= {MAX_ZOOM}",
                    layer.tile_id()
                ));
            }
            layer.check_zoom_fields()?;
        }
        if let Some([lon, lat, zoom]) = self.center {
            if !((-180.0..=180.0).contains(&lon) && (-90.0..=90.0).contains(&lat) && (0.0..=f64::from(MAX_ZOOM)).contains(&zoom)) {
                return Err(format!(
                    "center [{lon}, {lat}, {zoom}] must be [lon -180..180, lat -90..90, zoom 0..{MAX_ZOOM}]"
                ));
            }
        }
        for indicator in &self.indicators {
            if indicator.measure == Measure::Sum && indicator.field.is_none() {
                return Err(format!("indicator '{}': measure = \"sum\" needs a field", indicator.id));
            }
            if indicator.target.min.is_none() && indicator.target.max.is_none() {
                return Err(format!("indicator '{}': target needs min or max", indicator.id));
            }
            if [indicator.target.min, indicator.target.max]
                .iter()
                .flatten()
                .any(|v| !v.is_finite())
            {
                return Err(format!("indicator '{}': target min and max must be finite numbers", indicator.id));
            }
        }
        Ok(())
    }
}

/// All scenarios found in a folder, by id.
#[derive(Debug, Clone, Default)]
pub struct Scenarios {
    by_id: BTreeMap<String, Scenario>,
}

impl Scenarios {
    /// Loads every `*.toml` in `dir`; a missing folder gives no scenarios.
    pub fn load(dir: &Path) -> Result<Scenarios, ScenarioError> {
        let mut by_id = BTreeMap::new();
        for path in scenario_files(dir)? {
            let text = std::fs::read_to_string(&path).map_err(|e| ScenarioError::Read {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            let scenario = Scenario::parse(&text, &path)?;
            if by_id.contains_key(&scenario.id) {
                return Err(ScenarioError::Invalid {
                    path,
                    reason: format!("scenario id '{}' is used twice", scenario.id),
                });
            }
            by_id.insert(scenario.id.clone(), scenario);
        }
        Ok(Scenarios { by_id })
    }

    pub fn get(&self, id: &str) -> Result<&Scenario, ScenarioError> {
        self.by_id.get(id).ok_or_else(|| ScenarioError::NotFound(id.to_string()))
    }

    pub fn iter(&self) -> impl Iterator<Item = &Scenario> {
        self.by_id.values()
    }
}

/// The `*.toml` files of `dir`, sorted; a missing folder has none.
fn scenario_files(dir: &Path) -> Result<Vec<PathBuf>, ScenarioError> {
    crate::watch::files_with_extension(dir, "toml").map_err(|e| ScenarioError::Read {
        path: dir.to_path_buf(),
        reason: e.to_string(),
    })
}

/// The scenario folder of a running server: GIS staff edit, add or remove files and the server
/// picks them up without a restart. A folder that stops loading (a typo in an edit) keeps the
/// previous scenarios in service and reports the problem until it is fixed.
pub struct ScenarioFolder {
    dir: PathBuf,
    current: ArcSwap<Scenarios>,
    /// The folder's files as last looked at, and the problem of the last failed reload.
    last: Mutex<(FileStamps, Option<String>)>,
}

impl ScenarioFolder {
    /// Loads the folder; at start-up a bad file is an error, not a warning.
    pub fn open(dir: &Path) -> Result<ScenarioFolder, ScenarioError> {
        // Stamped before reading, so an edit made during the read is seen on the next look.
        let stamp = FileStamps::of(&scenario_files(dir)?);
        let scenarios = Scenarios::load(dir)?;
        Ok(ScenarioFolder {
            dir: dir.to_path_buf(),
            current: ArcSwap::from_pointee(scenarios),
            last: Mutex::new((stamp, None)),
        })
    }

    /// The scenarios in service.
    pub fn current(&self) -> Arc<Scenarios> {
        self.current.load_full()
    }

    /// Why the folder's latest files are not in service, if they are not.
    pub fn problem(&self) -> Option<String> {
        self.last.lock().unwrap_or_else(|e| e.into_inner()).1.clone()
    }

    /// Re-reads the folder if a file was added, removed or changed since the last look, and
    /// returns the ids of the scenarios that were added, changed or removed (empty when nothing
    /// changed or the new files do not load; the previous scenarios then stay in service).
    pub fn reload_if_changed(&self) -> Vec<String> {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let stamp = match scenario_files(&self.dir) {
            Ok(files) => FileStamps::of(&files),
            Err(e) => {
                last.1 = Some(e.to_string());
                return Vec::new();
            }
        };
        if stamp == last.0 {
            return Vec::new();
        }
        last.0 = stamp;
        let next = match Scenarios::load(&self.dir) {
            Ok(next) => next,
            Err(e) => {
                tracing::warn!(error = %e, "scenario files changed but do not load; the previous scenarios stay in service");
                last.1 = Some(e.to_string());
                return Vec::new();
            }
        };
        last.1 = None;
        let previous = self.current();
        let changed = crate::watch::changed_names(&previous.by_id, &next.by_id, |s| s.fingerprint);
        self.current.store(Arc::new(next));
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WELFARE: &str = r##"
id = "social_welfare"
title = "An sinh xã hội"
style = "social_welfare.json"
center = [107.585, 16.463, 14]

[[layers]]
layer = "wards"
maxzoom = 22

[[layers]]
layer = "housing"
id = "temporary_houses"
minzoom = 12
where = [{ field = "temporary_house", op = "eq", value = true }]
fields = ["address", "household_size"]
zoom_fields = [{ maxzoom = 14, fields = ["household_size"] }]

[[indicators]]
id = "temporary_houses"
title = "Nhà tạm trên địa bàn"
layer = "housing"
by = "wards"
measure = "count"
where = [{ field = "temporary_house", op = "eq", value = true }]
target = { max = 20 }

[three_d]
layer = "buildings"
colors = [{ where = [{ field = "temporary_house", op = "eq", value = true }], color = "#d7301f" }]
default_color = "#cccccc"
"##;

    #[test]
    fn a_scenario_file_parses_with_layers_indicators_and_3d() {
        let s = Scenario::parse(WELFARE, Path::new("t.toml")).unwrap();
        assert_eq!(s.layers[1].tile_id(), "temporary_houses");
        assert_eq!(s.indicators[0].measure, Measure::Count);
        assert!(s.indicators[0].target.is_met(20.0) && !s.indicators[0].target.is_met(21.0));
        assert_eq!(s.three_d.unwrap().colors[0].color, "#d7301f");
        assert_eq!(s.layers[1].zoom_fields[0].maxzoom, 14);
    }

    #[test]
    fn mistakes_in_scenario_files_are_named() {
        let dup = WELFARE.replace("id = \"temporary_houses\"\nminzoom", "id = \"wards\"\nminzoom");
        let err = Scenario::parse(&dup, Path::new("t.toml")).unwrap_err().to_string();
        assert!(err.contains("appears twice"), "{err}");
        let typo = WELFARE.replace("maxzoom = 22", "maxzom = 22");
        assert!(Scenario::parse(&typo, Path::new("t.toml")).is_err());
        // A lone minzoom past 22 reversed the layer's zoom range (TileJSON's centre clamp then
        // panicked on min > max); NaN or infinite centres and targets came out as JSON nulls.
        for (edit, named) in [
            (("maxzoom = 22", "minzoom = 23"), "zoom range 23..22"),
            (("center = [107.585, 16.463, 14]", "center = [nan, 16.463, 14]"), "center"),
            (("center = [107.585, 16.463, 14]", "center = [107.585, 16.463, 99]"), "center"),
            (("target = { max = 20 }", "target = { max = inf }"), "finite"),
        ] {
            let bad = WELFARE.replace(edit.0, edit.1);
            assert_ne!(bad, WELFARE);
            let err = Scenario::parse(&bad, Path::new("t.toml")).unwrap_err().to_string();
            assert!(err.contains(named), "{edit:?}: {err}");
        }
        for (zoom_fields, named) in [
            ("[{ maxzoom = 14, fields = [\"owner\"] }]", "names 'owner'"),
            ("[{ maxzoom = 23, fields = [] }]", "at most 22"),
            ("[{ maxzoom = 14, fields = [] }, { maxzoom = 12, fields = [] }]", "shallow to deep"),
        ] {
            let bad = WELFARE.replace("[{ maxzoom = 14, fields = [\"household_size\"] }]", zoom_fields);
            let err = Scenario::parse(&bad, Path::new("t.toml")).unwrap_err().to_string();
            assert!(err.contains(named), "{zoom_fields}: {err}");
        }
    }

    #[test]
    fn a_folder_picks_up_edits_and_keeps_serving_through_a_broken_one() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("welfare.toml");
        std::fs::write(&file, WELFARE).unwrap();
        let folder = ScenarioFolder::open(dir.path()).unwrap();
        assert!(folder.reload_if_changed().is_empty(), "nothing changed yet");
        let first = folder.current().get("social_welfare").unwrap().fingerprint;

        std::fs::write(&file, WELFARE.replace("An sinh xã hội", "An sinh xã hội (sửa)")).unwrap();
        assert_eq!(folder.reload_if_changed(), ["social_welfare"]);
        let edited = folder.current();
        let scenario = edited.get("social_welfare").unwrap();
        assert_eq!(scenario.title, "An sinh xã hội (sửa)");
        assert_ne!(scenario.fingerprint, first, "caches key on the new definition");

        std::fs::write(&file, WELFARE.replace("measure = \"count\"", "measure = \"cuont\"")).unwrap();
        assert!(folder.reload_if_changed().is_empty());
        let problem = folder.problem().expect("the broken edit is reported");
        assert!(problem.contains("welfare.toml") && problem.contains("cuont"), "{problem}");
        assert_eq!(
            folder.current().get("social_welfare").unwrap().title,
            "An sinh xã hội (sửa)",
            "the previous scenarios stay"
        );

        std::fs::remove_file(&file).unwrap();
        assert_eq!(
            folder.reload_if_changed(),
            ["social_welfare"],
            "a removed file removes its scenario"
        );
        assert!(folder.problem().is_none() && folder.current().get("social_welfare").is_err());
    }
}
