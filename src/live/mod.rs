//! Live layers (issue 14): device positions and values coming in over MQTT (`mqtt.rs`) or HTTP
//! (`POST /live/{layer}`, through [`Live::ingest_body`]), the latest state per device in memory
//! (`layer.rs`), published into the [`Catalog`] as ordinary layers every `publish_ms` so tiles,
//! queries and stats read them like any other; rules (`rules.rs`) raising alerts (`alerts.rs`),
//! whose active ones are published the same way as `{layer}_alerts` (counted by `/stats` and
//! scenario indicators);
//! history, latest state and alerts written to the store in batches (`writer.rs`) and reloaded
//! on restart. `simulate.rs` publishes realistic traffic to a broker (`bando simulate`), and
//! `demo.rs` runs it with a local Mosquitto for `bando serve --demo`.
//!
//! Owns live state, ingest, rules and alerts. Must not touch HTTP (the routes are
//! `server/live.rs`, which also streams) and never imports tokio or axum: its threads are plain
//! threads, and the server hears of alerts through [`alerts::AlertBook::set_listener`].

pub mod alerts;
pub mod demo;
pub mod layer;
pub mod message;
pub mod mqtt;
pub mod rules;
pub mod section;
pub mod simulate;
mod writer;

use std::collections::{BTreeMap, HashSet};
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde::Serialize;

use crate::config::{ConfigError, Source};
use crate::crs::Region;
use crate::feature::{Bbox, FieldType, Value};
use crate::index::Catalog;
use crate::policy::View;
use crate::query::stats::Units;
use crate::store::{check_layer_name, Store, StoreError};
use alerts::{now_unix, Alert, AlertBook, Opening};
use layer::{Accepted, LiveLayer};
use message::{BadMessage, Mapping};
use rules::{BoundRule, Change};
pub use section::LiveSection;
use writer::Writer;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LiveError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("no live layer named '{0}'; declare it in [[live.layers]] or [[live.sources]] of bando.toml")]
    UnknownLayer(String),
    #[error("no alert with id {0}; GET /alerts lists the alerts")]
    NoSuchAlert(i64),
    #[error("alert {0} is closed; only open alerts can be acknowledged")]
    AlertClosed(i64),
    #[error("no message accepted ({refused} refused): {reason}")]
    NothingAccepted { refused: usize, reason: String },
    #[error("{0}")]
    BadParameter(String),
    #[error("{0} needs a token when the server has a policy: send Authorization: Bearer TOKEN")]
    NeedsToken(&'static str),
    #[error("live layers cannot use the store: {0}")]
    Store(#[from] StoreError),
}

/// A report as the store keeps it: `values` is a JSON object of the value fields.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredPosition {
    pub layer: String,
    pub device: String,
    pub time: f64,
    pub lon: f64,
    pub lat: f64,
    pub values: String,
}

/// What the writer hands the store in one transaction.
#[derive(Debug, Default)]
pub struct LiveBatch {
    pub positions: Vec<StoredPosition>,
    pub alerts: Vec<Alert>,
}

/// What `POST /live/{layer}` did.
#[derive(Debug, Default, Serialize)]
pub struct IngestReport {
    pub accepted: usize,
    /// Refused messages by reason.
    pub rejected: BTreeMap<&'static str, usize>,
}

/// Defaults of `[live]`.
const TRACK_MINUTES: f64 = 30.0;
const HISTORY_DAYS: f64 = 30.0;
const MAX_FUTURE_SECONDS: f64 = 300.0;
const HYSTERESIS_M: f64 = 50.0;
/// Closed alerts reloaded at start: those opened in the last day.
const CLOSED_RELOADED_SECONDS: f64 = 86_400.0;
/// How often `signal_lost` looks at the clock.
const CLOCK_EVERY: Duration = Duration::from_secs(1);

/// Hears the names of the layers each publication swapped in.
pub type PublishListener = Box<dyn Fn(&[String]) + Send + Sync>;

/// Every live layer of a server, its rules, alerts and sources.
pub struct Live {
    layers: BTreeMap<String, Arc<LiveLayer>>,
    pub alerts: AlertBook,
    catalog: Arc<Catalog>,
    store: Arc<dyn Store>,
    writer: Arc<Writer>,
    units: Option<Units>,
    region: Region,
    max_future: f64,
    publish_every: Duration,
    published: OnceLock<PublishListener>,
    stop: Arc<AtomicBool>,
    sources: OnceLock<Vec<Arc<mqtt::SourceStatus>>>,
    /// Refusals logged so far (every power of two is logged: a sample, never a flood).
    logged: AtomicU64,
    /// The alert book's change count at the last publication of the `{layer}_alerts` layers.
    alerts_published: AtomicU64,
}

/// One declared live layer before it is built.
struct Declared {
    mapping: Mapping,
    devices_file: Option<std::path::PathBuf>,
    span: Range<usize>,
}

impl Live {
    /// Declares the live layers of `section`, binds its rules to the catalog's zone layers,
    /// reloads the latest state and the alerts from the store, publishes the layers and starts
    /// the publisher and the MQTT sources. Every refusal names the file and line.
    pub fn start(section: &LiveSection, file: &Source, store: Arc<dyn Store>, catalog: Arc<Catalog>) -> Result<Arc<Live>, LiveError> {
        let declared = declare(section, file, &catalog)?;
        let hysteresis = section.hysteresis_m.unwrap_or(HYSTERESIS_M);
        let mut rules: BTreeMap<String, Vec<Arc<BoundRule>>> = BTreeMap::new();
        let mut ids = HashSet::new();
        for rule in &section.rules {
            let (span, rule) = (rule.span(), rule.get_ref());
            let Some(layer) = declared.get(&rule.layer) else {
                return Err(file
                    .error_at(
                        span,
                        format!(
                            "rule '{}': layer '{}' is not a live layer ([[live.sources]] or [[live.layers]])",
                            rule.id, rule.layer
                        ),
                    )
                    .into());
            };
            if !ids.insert(rule.id.clone()) {
                return Err(file.error_at(span, format!("rule id '{}' is used twice", rule.id)).into());
            }
            let fields: Vec<String> = layer.mapping.fields.iter().map(|(n, _)| n.clone()).collect();
            let bound = BoundRule::bind(rule, &fields, &catalog, hysteresis)
                .map_err(|why| file.error_at(span.clone(), format!("rule '{}': {why}", rule.id)))?;
            rules.entry(rule.layer.clone()).or_default().push(Arc::new(bound));
        }
        let track_seconds = section.track_minutes.unwrap_or(TRACK_MINUTES).max(0.0) * 60.0;
        let mut layers = BTreeMap::new();
        for (name, d) in declared {
            let registry = match &d.devices_file {
                None => None,
                Some(path) => Some(read_registry(path).map_err(|why| file.error_at(d.span.clone(), why))?),
            };
            let layer = LiveLayer::new(
                name.clone(),
                d.mapping,
                registry,
                rules.remove(&name).unwrap_or_default(),
                track_seconds,
            );
            layers.insert(name, Arc::new(layer));
        }
        let retention = section.history_days.unwrap_or(HISTORY_DAYS).max(0.0) * 86_400.0;
        let writer = Arc::new(Writer::start(store.clone(), retention));
        let restored = store.live_alerts(now_unix() - CLOSED_RELOADED_SECONDS)?;
        let persist = writer.clone();
        let units_layer = section.units.clone().or_else(|| catalog.get("wards").map(|_| "wards".to_string()));
        let units = match units_layer {
            None => None,
            Some(name) => {
                let data = catalog
                    .get(&name)
                    .ok_or_else(|| LiveError::BadParameter(format!("[live] units = \"{name}\": no such layer in the store")))?;
                Some(Units::new(data, &View::open()).map_err(|e| LiveError::BadParameter(format!("[live] units = \"{name}\": {e}")))?)
            }
        };
        let live = Arc::new(Live {
            layers,
            alerts: AlertBook::new(restored, Box::new(move |a| persist.alert(a))),
            catalog,
            store,
            writer,
            units,
            region: Region::vietnam(),
            max_future: section.max_future_seconds.unwrap_or(MAX_FUTURE_SECONDS),
            publish_every: section.publish_every(),
            published: OnceLock::new(),
            stop: Arc::new(AtomicBool::new(false)),
            sources: OnceLock::new(),
            logged: AtomicU64::new(0),
            alerts_published: AtomicU64::new(0),
        });
        live.restore_latest()?;
        live.publish(true);
        spawn_publisher(Arc::downgrade(&live), live.stop.clone(), live.publish_every);
        let mut sources = Vec::new();
        for source in &section.sources {
            let status = mqtt::spawn(
                Arc::downgrade(&live),
                source.get_ref().layer.clone(),
                source.get_ref(),
                live.stop.clone(),
            )
            .map_err(|why| file.error_at(source.span(), why))?;
            sources.push(status);
        }
        let _ = live.sources.set(sources);
        Ok(live)
    }

    /// Who hears of every publication (the server drops the tiles of those layers).
    pub fn on_publish(&self, listener: PublishListener) {
        let _ = self.published.set(listener);
    }

    pub fn layer(&self, name: &str) -> Result<&Arc<LiveLayer>, LiveError> {
        self.layers
            .get(name)
            .ok_or_else(|| LiveError::UnknownLayer(name.escape_default().to_string()))
    }

    pub fn layers(&self) -> impl Iterator<Item = &Arc<LiveLayer>> {
        self.layers.values()
    }

    pub fn sources(&self) -> &[Arc<mqtt::SourceStatus>] {
        self.sources.get().map_or(&[], Vec::as_slice)
    }

    /// Reports written to the store, and batches it refused, since start.
    pub fn written(&self) -> (u64, u64) {
        (
            self.writer.written.load(Ordering::Relaxed),
            self.writer.failed.load(Ordering::Relaxed),
        )
    }

    /// `POST /live/{layer}`: every message of the body, accepted or counted as refused. A body
    /// with nothing accepted is an error naming the first problem.
    pub fn ingest_body(&self, layer: &str, body: &[u8]) -> Result<IngestReport, LiveError> {
        let layer = self.layer(layer)?;
        let mut report = IngestReport::default();
        let mut first = None;
        for parsed in message::parse_body(body, &layer.mapping) {
            match self.take(layer, parsed) {
                Ok(()) => report.accepted += 1,
                Err(why) => {
                    first.get_or_insert(why);
                    *report.rejected.entry(why.as_str()).or_insert(0) += 1;
                }
            }
        }
        match first {
            Some(why) if report.accepted == 0 => Err(LiveError::NothingAccepted {
                refused: report.rejected.values().sum(),
                reason: why.explain(&layer.mapping),
            }),
            None if report.accepted == 0 => Err(LiveError::NothingAccepted {
                refused: 0,
                reason: "the body holds no message".into(),
            }),
            _ => Ok(report),
        }
    }

    /// One MQTT payload of a source feeding `layer`.
    pub fn ingest_payload(&self, layer: &str, payload: &[u8], topic_device: Option<&str>) {
        if let Some(layer) = self.layers.get(layer) {
            let _ = self.take(layer, message::parse_payload(payload, &layer.mapping, topic_device));
        }
    }

    /// Checks, applies and records one parsed message.
    fn take(&self, layer: &LiveLayer, parsed: Result<message::Reading, BadMessage>) -> Result<(), BadMessage> {
        let checked = parsed.and_then(|r| layer.check(r, now_unix(), self.max_future, |lon, lat| self.in_region(lon, lat)));
        let report = match checked {
            Ok(report) => report,
            Err(why) => {
                layer.refuse(why);
                let n = self.logged.fetch_add(1, Ordering::Relaxed) + 1;
                if n.is_power_of_two() {
                    tracing::warn!(layer = %layer.name, reason = why.as_str(), refused_so_far = n, "live message refused (a sample; /metrics counts every one)");
                }
                return Err(why);
            }
        };
        let applied = layer.apply(&report, false);
        let counter = if applied.newest {
            &layer.counters.accepted
        } else {
            &layer.counters.late
        };
        counter.fetch_add(1, Ordering::Relaxed);
        self.writer.position(stored(layer, &report));
        for (rule, change) in applied.changes {
            self.alert_change(
                layer,
                &layer.rules[rule],
                change,
                &report.device,
                (report.lon, report.lat, report.time),
            );
        }
        Ok(())
    }

    fn in_region(&self, lon: f64, lat: f64) -> bool {
        self.region.contains(&Bbox {
            west: lon,
            south: lat,
            east: lon,
            north: lat,
        })
    }

    fn alert_change(&self, layer: &LiveLayer, rule: &BoundRule, change: Change, device: &str, (lon, lat, time): (f64, f64, f64)) {
        match change {
            Change::Open { zone, value } => {
                let zone = zone.and_then(|z| rule.zone(z));
                self.alerts.open(Opening {
                    rule: rule.id.clone(),
                    layer: layer.name.clone(),
                    device: device.to_string(),
                    kind: rule.kind,
                    zone_id: zone.map_or(0, |z| z.id),
                    zone: zone.and_then(|z| z.name.clone()),
                    unit: self.unit_at(lon, lat),
                    value,
                    time,
                    lon,
                    lat,
                });
            }
            Change::Close { zone } => {
                let zone_id = zone.and_then(|z| rule.zone(z)).map_or(0, |z| z.id);
                self.alerts.close(&rule.id, device, zone_id, time);
            }
        }
    }

    /// The administrative unit holding a point: its code, else its name.
    fn unit_at(&self, lon: f64, lat: f64) -> Option<String> {
        let units = self.units.as_ref()?;
        let unit = units.unit_of(geo_types::Coord { x: lon, y: lat })?;
        let name = units.name(unit);
        name.code.or(name.name).or(Some(name.id.to_string()))
    }

    /// Reloads each device's newest report from the store, setting rule states without alerts.
    fn restore_latest(&self) -> Result<(), LiveError> {
        let mut restored = 0usize;
        for row in self.store.live_latest()? {
            let Some(layer) = self.layers.get(&row.layer) else { continue };
            let values = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&row.values).unwrap_or_default();
            let report = Accepted {
                device: row.device.into(),
                lon: row.lon,
                lat: row.lat,
                time: row.time,
                values: layer
                    .mapping
                    .fields
                    .iter()
                    .map(|(name, ty)| restored_value(values.get(name), *ty))
                    .collect(),
            };
            layer.apply(&report, true);
            restored += 1;
        }
        if restored > 0 {
            tracing::info!(
                devices = restored,
                alerts = self.alerts.active().len(),
                "live state reloaded from the store"
            );
        }
        Ok(())
    }

    /// Puts fresh snapshots of the layers that moved (all with `force`) into the catalog.
    fn publish(&self, force: bool) {
        let version = (now_unix() * 1000.0) as i64;
        let at = alerts::rfc3339(now_unix());
        let mut fresh = Vec::new();
        for layer in self.layers.values() {
            if let Some(snapshots) = layer.snapshot(version, &at, force) {
                fresh.extend(snapshots.into_iter().map(Arc::new));
            }
        }
        let changes = self.alerts.changes();
        if force || self.alerts_published.swap(changes, Ordering::AcqRel) != changes {
            for layer in self.layers.values().filter(|l| !l.rules.is_empty()) {
                fresh.push(Arc::new(self.alerts.layer_of(&layer.name, version, &at)));
            }
        }
        if fresh.is_empty() {
            return;
        }
        let names: Vec<String> = fresh.iter().map(|l| l.meta.name.clone()).collect();
        self.catalog.put_live(fresh);
        if let Some(listener) = self.published.get() {
            listener(&names);
        }
    }

    /// `signal_lost` on each layer's clock (the newest report time, advancing with the server's).
    fn look_at_clock(&self) {
        for layer in self.layers.values() {
            let Some(clock) = layer.clock() else { continue };
            let now = clock.max(now_unix());
            for (rule, change, device, lon, lat, time) in layer.on_clock(now) {
                let at = if matches!(change, Change::Open { .. }) { now } else { time };
                self.alert_change(layer, &layer.rules[rule], change, &device, (lon, lat, at));
            }
        }
    }

    /// One device's stored reports between two times, oldest first (track replay).
    pub fn track(&self, layer: &str, device: &str, from: f64, to: f64) -> Result<Vec<StoredPosition>, LiveError> {
        self.layer(layer)?;
        Ok(self.store.live_track(layer, device, from, to)?)
    }

    /// Waits until every report and alert change so far is in the store.
    pub fn flush(&self) {
        self.writer.flush();
    }

    /// Stops the publisher and the sources (they check every second) and waits until what
    /// they queued is in the store.
    pub fn finish(&self) {
        self.stop.store(true, Ordering::Relaxed);
        self.writer.flush();
    }
}

/// The live layers `section` declares, with their mappings: sources and `[[live.layers]]`.
fn declare(section: &LiveSection, file: &Source, catalog: &Catalog) -> Result<BTreeMap<String, Declared>, LiveError> {
    let mut declared: BTreeMap<String, Declared> = BTreeMap::new();
    let entries = section
        .layers
        .iter()
        .map(|l| {
            let l2 = l.get_ref();
            (
                l.span(),
                l2.name.clone(),
                mapping_of(&l2.id, &l2.lon, &l2.lat, &l2.time, &l2.fields, &l2.text_fields),
                l2.devices_file.clone(),
            )
        })
        .chain(section.sources.iter().map(|s| {
            let s2 = s.get_ref();
            (
                s.span(),
                s2.layer.clone(),
                mapping_of(&s2.id, &s2.lon, &s2.lat, &s2.time, &s2.fields, &s2.text_fields),
                s2.devices_file.clone(),
            )
        }));
    for (span, name, mapping, devices_file) in entries {
        let refuse = |why: String| LiveError::Config(file.error_at(span.clone(), why));
        check_layer_name(&name).map_err(|e| refuse(e.to_string()))?;
        let published = [name.clone(), format!("{name}_track"), alerts::alerts_layer_name(&name)];
        if let Some(taken) = published.iter().find(|n| catalog.get(n).is_some() && !catalog.is_live(n)) {
            return Err(refuse(format!(
                "'{taken}' is a layer of the store; live layer '{name}' publishes {}, {} and {}: give it a name of its own",
                published[0], published[1], published[2]
            )));
        }
        let mapping = mapping.map_err(&refuse)?;
        match declared.get_mut(&name) {
            // The first declaration's mapping serves HTTP; later sources add fields.
            Some(d) => {
                for field in mapping.fields {
                    if !d.mapping.fields.iter().any(|(n, _)| *n == field.0) {
                        d.mapping.fields.push(field);
                    }
                }
            }
            None => {
                declared.insert(
                    name,
                    Declared {
                        mapping,
                        devices_file,
                        span,
                    },
                );
            }
        }
    }
    Ok(declared)
}

fn mapping_of(id: &str, lon: &str, lat: &str, time: &str, fields: &[String], text: &[String]) -> Result<Mapping, String> {
    let reserved = [layer::DEVICE_FIELD, layer::TIME_FIELD];
    if let Some(f) = fields.iter().find(|f| reserved.contains(&f.as_str())) {
        return Err(format!(
            "field '{f}' is one every live layer has already (device, time); drop it from fields"
        ));
    }
    if let Some(t) = text.iter().find(|t| !fields.contains(t)) {
        return Err(format!("text_fields names '{t}', which is not in fields"));
    }
    Ok(Mapping {
        id: id.into(),
        lon: lon.into(),
        lat: lat.into(),
        time: time.into(),
        fields: fields
            .iter()
            .map(|f| (f.clone(), if text.contains(f) { FieldType::Text } else { FieldType::Float }))
            .collect(),
    })
}

fn read_registry(path: &std::path::Path) -> Result<HashSet<Box<str>>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("devices_file {}: {e}", path.display()))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(Into::into)
        .collect())
}

fn stored(layer: &LiveLayer, report: &Accepted) -> StoredPosition {
    let values: serde_json::Map<String, serde_json::Value> = layer
        .mapping
        .fields
        .iter()
        .zip(&report.values)
        .filter(|(_, v)| !v.is_null())
        .map(|((name, _), v)| (name.clone(), serde_json::to_value(v).unwrap_or_default()))
        .collect();
    StoredPosition {
        layer: layer.name.clone(),
        device: report.device.to_string(),
        time: report.time,
        lon: report.lon,
        lat: report.lat,
        values: serde_json::Value::Object(values).to_string(),
    }
}

fn restored_value(json: Option<&serde_json::Value>, ty: FieldType) -> Value {
    match json {
        Some(serde_json::Value::String(s)) => Value::Text(s.as_str().into()).coerce(ty),
        Some(serde_json::Value::Number(n)) => n.as_f64().map_or(Value::Null, Value::Float).coerce(ty),
        Some(serde_json::Value::Bool(b)) => Value::Bool(*b).coerce(ty),
        _ => Value::Null,
    }
}

/// The thread that publishes moved layers every `every` and looks at the rules' clock.
fn spawn_publisher(live: std::sync::Weak<Live>, stop: Arc<AtomicBool>, every: Duration) {
    let started = std::thread::Builder::new().name("bando-live-publish".into()).spawn(move || {
        let mut clock_seen = std::time::Instant::now();
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(every);
            let Some(live) = live.upgrade() else { return };
            live.publish(false);
            if clock_seen.elapsed() >= CLOCK_EVERY {
                clock_seen = std::time::Instant::now();
                live.look_at_clock();
            }
        }
    });
    if let Err(e) = started {
        tracing::error!(error = %e, "cannot start the live publisher; live layers will not move");
    }
}
