//! The `[live]` section of `bando.toml` as written: `[[live.sources]]` (MQTT feeds),
//! `[[live.layers]]` (layers fed only over HTTP, or settings of a source's layer) and
//! `[[live.rules]]`, with the byte span of each entry so every refusal names its line.
//!
//! Owns the keys and their defaults; their check against the store (zone layers, fields) is
//! `rules.rs` and `mod.rs`. Knows no MQTT, HTTP or SQL.

use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

use crate::scenarios::Filter;

/// `[live]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LiveSection {
    #[serde(default)]
    pub sources: Vec<Spanned<SourceSection>>,
    #[serde(default)]
    pub layers: Vec<Spanned<LayerSection>>,
    #[serde(default)]
    pub rules: Vec<Spanned<RuleSection>>,
    /// Milliseconds between publications of new positions to tiles and queries (default 500).
    pub publish_ms: Option<u64>,
    /// Minutes of track drawn as lines in the `{layer}_track` layer (default 30; 0: no track layer).
    pub track_minutes: Option<f64>,
    /// Days of position history kept in the store (default 30).
    pub history_days: Option<f64>,
    /// A message more than this many seconds ahead of the server's clock is refused (default 300).
    pub max_future_seconds: Option<f64>,
    /// The administrative layer whose unit (by its `code`, else `name`) an alert names (default
    /// `wards` when the store has it).
    pub units: Option<String>,
    /// Metres beyond a zone's boundary a device must be before it counts as having crossed it
    /// (default 50): a vessel moving along a boundary raises one alert, not hundreds.
    pub hysteresis_m: Option<f64>,
}

/// How a JSON message maps to a device's position and values: shared by sources and layers.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSection {
    /// The live layer the source feeds (created on first use).
    pub layer: String,
    /// `mqtt://host:port`.
    pub broker: String,
    /// An MQTT topic filter, e.g. `vms/+/position`.
    pub topic: String,
    #[serde(default = "default_id")]
    pub id: String,
    #[serde(default = "default_lon")]
    pub lon: String,
    #[serde(default = "default_lat")]
    pub lat: String,
    /// RFC 3339 or epoch seconds; a message without it takes the time it arrived.
    #[serde(default = "default_time")]
    pub time: String,
    /// Values carried to tiles, queries and rules (numbers unless `text_fields` says otherwise).
    #[serde(default)]
    pub fields: Vec<String>,
    /// Which of `fields` hold text (lamp status) rather than numbers.
    #[serde(default)]
    pub text_fields: Vec<String>,
    /// A registry of the devices (one id a line): messages of other devices are refused.
    pub devices_file: Option<PathBuf>,
    /// MQTT client id (default `bando-{layer}-{pid}`).
    pub client_id: Option<String>,
}

/// A live layer fed over HTTP only (`POST /live/{layer}`), or the HTTP mapping of a source's.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerSection {
    pub name: String,
    #[serde(default = "default_id")]
    pub id: String,
    #[serde(default = "default_lon")]
    pub lon: String,
    #[serde(default = "default_lat")]
    pub lat: String,
    #[serde(default = "default_time")]
    pub time: String,
    #[serde(default)]
    pub fields: Vec<String>,
    #[serde(default)]
    pub text_fields: Vec<String>,
    pub devices_file: Option<PathBuf>,
}

fn default_id() -> String {
    "id".into()
}
fn default_lon() -> String {
    "lon".into()
}
fn default_lat() -> String {
    "lat".into()
}
fn default_time() -> String {
    "time".into()
}

/// What a rule watches for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    Enter,
    Exit,
    Outside,
    Dwell,
    SignalLost,
    Threshold,
}

impl LiveSection {
    /// Whether the section declares any live layer.
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty() && self.layers.is_empty()
    }

    /// How often tiles and position streams see new positions.
    pub fn publish_every(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.publish_ms.unwrap_or(500).max(50))
    }
}

impl RuleKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleKind::Enter => "enter",
            RuleKind::Exit => "exit",
            RuleKind::Outside => "outside",
            RuleKind::Dwell => "dwell",
            RuleKind::SignalLost => "signal_lost",
            RuleKind::Threshold => "threshold",
        }
    }

    pub fn parse(s: &str) -> Option<RuleKind> {
        [
            RuleKind::Enter,
            RuleKind::Exit,
            RuleKind::Outside,
            RuleKind::Dwell,
            RuleKind::SignalLost,
            RuleKind::Threshold,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }

    pub fn uses_zones(self) -> bool {
        matches!(self, RuleKind::Enter | RuleKind::Exit | RuleKind::Outside | RuleKind::Dwell)
    }
}

/// `[[live.rules]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSection {
    pub id: String,
    pub layer: String,
    pub kind: RuleKind,
    /// The polygon layer of the zones (enter, exit, outside, dwell).
    pub zones: Option<String>,
    /// Which zones count (all conditions must hold).
    #[serde(default, rename = "where")]
    pub filter: Filter,
    /// The zone attribute an alert names the zone by (default `zone_code`, else `code`, else `name`).
    pub zone_field: Option<String>,
    /// signal_lost: seconds without a message; dwell: seconds inside a zone.
    pub after_seconds: Option<f64>,
    /// threshold: the value watched.
    pub field: Option<String>,
    /// threshold: opens when the value goes above this ...
    pub above: Option<f64>,
    /// ... or below this.
    pub below: Option<f64>,
    /// threshold: the level the value must come back past to close (hysteresis; default the limit).
    pub clear: Option<f64>,
    /// threshold: seconds the value must stay past the limit before the alert opens (default 0).
    #[serde(alias = "for")]
    pub for_seconds: Option<f64>,
    /// Overrides `[live] hysteresis_m` for this rule.
    pub hysteresis_m: Option<f64>,
}
