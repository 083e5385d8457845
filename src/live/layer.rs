//! One live layer in memory: the latest report of every device as a point feature, an rstar
//! R-tree over them updated in place (one remove and one insert per report, never a rebuild),
//! each device's recent track and its rule states. [`LiveLayer::snapshot`] copies it into an
//! ordinary [`LayerData`] (and the `{layer}_track` lines) for the catalog, so tiles, queries and
//! stats read live layers like any other.
//!
//! Owns the per-device state and the checks a reading must pass (region, clock, registry).
//! Knows no alerts storage, MQTT, HTTP or SQL.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use geo_types::{Geometry, LineString, Point};
use rstar::{RTree, AABB};

use super::message::{BadMessage, Mapping, Reading};
use super::rules::{BoundRule, Change, Report, RuleState};
use crate::feature::{Bbox, Feature, FieldDef, FieldType, GeometryKind, LayerKind, Value};
use crate::index::{Entry, LayerData};
use crate::store::LayerMeta;

/// The fields every live layer starts with, before its value fields.
pub const DEVICE_FIELD: &str = "device";
pub const TIME_FIELD: &str = "time";

/// A reading that passed the checks, with its time settled.
#[derive(Debug, Clone)]
pub struct Accepted {
    pub device: Box<str>,
    pub lon: f64,
    pub lat: f64,
    pub time: f64,
    pub values: Vec<Value>,
}

/// What one accepted report did: whether it is the device's newest (else only history), and
/// the alert changes of each rule (by the rule's index in the layer).
pub struct Applied {
    pub newest: bool,
    pub changes: Vec<(usize, Change)>,
}

struct Device {
    time: f64,
    /// The layer's change counter when the device last moved (what `/live/{layer}/events` sends).
    seq: u64,
    track: VecDeque<(f64, f64, f64)>,
    rules: Vec<RuleState>,
}

#[derive(Default)]
struct State {
    slots: HashMap<Box<str>, u32>,
    devices: Vec<Device>,
    /// Feature `i` is device slot `i`, id `i + 1`: ids stay sorted as devices only join.
    features: Vec<Feature>,
    tree: RTree<Entry>,
    seq: u64,
    published: u64,
    /// The newest report time seen, and when (server clock) it was seen: the rules' clock.
    newest: Option<(f64, std::time::Instant)>,
}

/// Counters of `/metrics`.
#[derive(Default)]
pub struct Counters {
    pub accepted: AtomicU64,
    /// Reports older than the device's latest: kept as history only.
    pub late: AtomicU64,
    pub rejected: [AtomicU64; BadMessage::ALL.len()],
}

pub struct LiveLayer {
    pub name: String,
    pub mapping: Mapping,
    registry: Option<HashSet<Box<str>>>,
    pub rules: Vec<Arc<BoundRule>>,
    /// Seconds of track kept and drawn (0: none).
    track_seconds: f64,
    state: Mutex<State>,
    pub counters: Counters,
}

impl LiveLayer {
    pub fn new(
        name: String,
        mapping: Mapping,
        registry: Option<HashSet<Box<str>>>,
        rules: Vec<Arc<BoundRule>>,
        track_seconds: f64,
    ) -> LiveLayer {
        LiveLayer {
            name,
            mapping,
            registry,
            rules,
            track_seconds,
            state: Mutex::new(State::default()),
            counters: Counters::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The layer's field list: device, time, then the value fields.
    pub fn fields(&self) -> Vec<FieldDef> {
        let mut fields = vec![
            FieldDef::new(DEVICE_FIELD, FieldType::Text),
            FieldDef::new(TIME_FIELD, FieldType::Text),
        ];
        fields.extend(self.mapping.fields.iter().map(|(n, t)| FieldDef::new(n.as_str(), *t)));
        fields
    }

    pub fn track_name(&self) -> Option<String> {
        (self.track_seconds > 0.0).then(|| format!("{}_track", self.name))
    }

    /// Counts a refused message.
    pub fn refuse(&self, why: BadMessage) {
        self.counters.rejected[why.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// The checks of a reading: the registry, the region (`in_region`), the clock.
    pub fn check(&self, reading: Reading, now: f64, max_future: f64, in_region: impl Fn(f64, f64) -> bool) -> Result<Accepted, BadMessage> {
        if self.registry.as_ref().is_some_and(|r| !r.contains(&reading.device)) {
            return Err(BadMessage::UnknownDevice);
        }
        if !in_region(reading.lon, reading.lat) {
            return Err(BadMessage::OutsideRegion);
        }
        let time = reading.time.unwrap_or(now);
        if time > now + max_future {
            return Err(BadMessage::FutureTime);
        }
        Ok(Accepted {
            device: reading.device,
            lon: reading.lon,
            lat: reading.lat,
            time,
            values: reading.values,
        })
    }

    /// Applies an accepted report: the device's point moves (if it is its newest), its track
    /// grows and its rules move. `seed` (a restart's latest positions) raises nothing.
    pub fn apply(&self, report: &Accepted, seed: bool) -> Applied {
        let mut state = self.lock();
        let state = &mut *state;
        if state.newest.is_none_or(|(t, _)| report.time > t) {
            state.newest = Some((report.time, std::time::Instant::now()));
        }
        state.seq += 1;
        let seq = state.seq;
        let slot = match state.slots.get(&report.device) {
            Some(&slot) => slot,
            None => {
                let slot = state.devices.len() as u32;
                state.slots.insert(report.device.clone(), slot);
                state.devices.push(Device {
                    time: f64::NEG_INFINITY,
                    seq,
                    track: VecDeque::new(),
                    rules: vec![RuleState::Fresh; self.rules.len()],
                });
                state.features.push(Feature {
                    id: i64::from(slot) + 1,
                    geometry: Point::new(report.lon, report.lat).into(),
                    properties: Vec::new(),
                });
                state.tree.insert(point_entry(slot, report.lon, report.lat));
                slot
            }
        };
        let device = &mut state.devices[slot as usize];
        if report.time < device.time {
            return Applied {
                newest: false,
                changes: Vec::new(),
            };
        }
        device.time = report.time;
        device.seq = seq;
        if self.track_seconds > 0.0 {
            device.track.push_back((report.time, report.lon, report.lat));
            while device.track.front().is_some_and(|(t, _, _)| *t < report.time - self.track_seconds) {
                device.track.pop_front();
            }
        }
        let rule_report = Report {
            lon: report.lon,
            lat: report.lat,
            time: report.time,
            values: &report.values,
        };
        let mut changes = Vec::new();
        for (i, (rule, rule_state)) in self.rules.iter().zip(device.rules.iter_mut()).enumerate() {
            if seed {
                rule.seed(rule_state, &rule_report);
            } else {
                changes.extend(rule.on_report(rule_state, &rule_report).into_iter().map(|c| (i, c)));
            }
        }
        let feature = &mut state.features[slot as usize];
        if let Geometry::Point(old) = feature.geometry {
            state.tree.remove(&point_entry(slot, old.x(), old.y()));
        }
        state.tree.insert(point_entry(slot, report.lon, report.lat));
        feature.geometry = Point::new(report.lon, report.lat).into();
        feature.properties.clear();
        feature.properties.push(Value::Text(report.device.clone()));
        feature.properties.push(Value::Text(super::alerts::rfc3339(report.time).into()));
        feature.properties.extend(report.values.iter().cloned());
        Applied { newest: true, changes }
    }

    /// The rules' clock: the newest report time, advanced by the server's clock since it came.
    pub fn clock(&self) -> Option<f64> {
        self.lock().newest.map(|(t, seen)| t + seen.elapsed().as_secs_f64())
    }

    /// signal_lost on the clock: per device and rule, the changes due at `now`, with the
    /// device's last position.
    pub fn on_clock(&self, now: f64) -> Vec<(usize, Change, Box<str>, f64, f64, f64)> {
        let mut state = self.lock();
        let state = &mut *state;
        let mut out = Vec::new();
        for (i, rule) in self
            .rules
            .iter()
            .enumerate()
            .filter(|(_, r)| r.kind == super::section::RuleKind::SignalLost)
        {
            for (name, &slot) in &state.slots {
                let device = &mut state.devices[slot as usize];
                if let Some(change) = rule.on_clock(&mut device.rules[i], device.time, now) {
                    let Geometry::Point(p) = state.features[slot as usize].geometry else {
                        continue;
                    };
                    out.push((i, change, name.clone(), p.x(), p.y(), device.time));
                }
            }
        }
        out
    }

    /// Copies of the layer (and its track lines) for the catalog, if anything moved since the
    /// last; `version` becomes their `import_id`, so caches and ETags change with the data.
    /// `force`: even if nothing moved (the first publication, at start).
    pub fn snapshot(&self, version: i64, imported_at: &str, force: bool) -> Option<Vec<LayerData>> {
        let mut state = self.lock();
        if state.seq == state.published && !force {
            return None;
        }
        state.published = state.seq;
        let mut meta = LayerMeta::new(&self.name, LayerKind::Iot, GeometryKind::Point, self.fields());
        meta.feature_count = state.features.len() as u64;
        meta.bbox = bbox_of(&state.tree);
        meta.import_id = version;
        meta.imported_at = imported_at.to_string();
        meta.source_file = "live".into();
        let points = LayerData {
            meta,
            features: state.features.clone(),
            tree: state.tree.clone(),
        };
        let mut out = vec![points];
        if let Some(name) = self.track_name() {
            out.push(track_layer(&name, &state, version, imported_at));
        }
        Some(out)
    }

    /// Devices that moved after `seq` (all for 0): their features, and the layer's seq now.
    pub fn moved_since(&self, seq: u64) -> (Vec<Feature>, u64) {
        let state = self.lock();
        let moved = state
            .devices
            .iter()
            .zip(&state.features)
            .filter(|(d, _)| d.seq > seq && d.time.is_finite())
            .map(|(_, f)| f.clone())
            .collect();
        (moved, state.seq)
    }

    pub fn device_count(&self) -> usize {
        self.lock().devices.len()
    }
}

fn point_entry(slot: u32, lon: f64, lat: f64) -> Entry {
    Entry {
        index: slot,
        envelope: AABB::from_point([lon, lat]),
    }
}

fn bbox_of(tree: &RTree<Entry>) -> Option<Bbox> {
    (tree.size() > 0).then(|| {
        let e = tree.root().envelope();
        Bbox {
            west: e.lower()[0],
            south: e.lower()[1],
            east: e.upper()[0],
            north: e.upper()[1],
        }
    })
}

/// The `{layer}_track` layer: each device's recent track as a line (devices with two points or more).
fn track_layer(name: &str, state: &State, version: i64, imported_at: &str) -> LayerData {
    let mut meta = LayerMeta::new(
        name,
        LayerKind::Iot,
        GeometryKind::LineString,
        vec![FieldDef::new(DEVICE_FIELD, FieldType::Text)],
    );
    let features: Vec<Feature> = state
        .devices
        .iter()
        .zip(&state.features)
        .filter(|(d, _)| d.track.len() >= 2)
        .enumerate()
        .map(|(i, (d, f))| Feature {
            id: i as i64 + 1,
            geometry: LineString::from(d.track.iter().map(|&(_, x, y)| (x, y)).collect::<Vec<_>>()).into(),
            properties: vec![f.properties.first().cloned().unwrap_or(Value::Null)],
        })
        .collect();
    meta.feature_count = features.len() as u64;
    meta.import_id = version;
    meta.imported_at = imported_at.to_string();
    meta.source_file = "live".into();
    LayerData::build(meta, features)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer() -> LiveLayer {
        let mapping = Mapping {
            id: "id".into(),
            lon: "lon".into(),
            lat: "lat".into(),
            time: "time".into(),
            fields: vec![("speed".into(), FieldType::Float)],
        };
        LiveLayer::new("boats".into(), mapping, None, Vec::new(), 600.0)
    }

    fn report(device: &str, lon: f64, time: f64) -> Accepted {
        Accepted {
            device: device.into(),
            lon,
            lat: 16.5,
            time,
            values: vec![Value::Float(lon)],
        }
    }

    #[test]
    fn the_tree_follows_each_device_in_place() {
        let layer = layer();
        for i in 0..100 {
            layer.apply(&report(&format!("d{}", i % 10), 107.0 + i as f64 * 0.001, i as f64), false);
        }
        assert!(
            !layer.apply(&report("d0", 100.0, 5.0), false).newest,
            "an older report is history only"
        );
        let snapshot = layer.snapshot(7, "t", false).unwrap();
        let points = &snapshot[0];
        assert_eq!(points.features.len(), 10);
        assert_eq!(points.tree.size(), 10);
        let d9 = points
            .features
            .iter()
            .find(|f| f.properties[0] == Value::Text("d9".into()))
            .unwrap();
        assert_eq!(d9.geometry, Geometry::Point(Point::new(107.099, 16.5)));
        let hits: Vec<_> = points
            .in_bbox(&Bbox {
                west: 107.0895,
                south: 16.0,
                east: 107.2,
                north: 17.0,
            })
            .collect();
        assert_eq!(hits.len(), 10, "every device's latest point is past 107.09");
        assert_eq!(points.meta.import_id, 7);
        let tracks = &snapshot[1];
        assert_eq!(tracks.meta.name, "boats_track");
        assert_eq!(tracks.features.len(), 10);
        assert!(layer.snapshot(8, "t", false).is_none(), "nothing moved since");
        let (moved, seq) = layer.moved_since(0);
        assert_eq!(moved.len(), 10);
        assert!(layer.moved_since(seq).0.is_empty());
    }
}
