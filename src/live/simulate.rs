//! `bando simulate`: realistic traffic for live layers, published to an MQTT broker, around the
//! demo province (issue 14, part 4). Vessels sail between waypoints inside the permitted fishing
//! zones of the store and points of open sea outside them, so they go in and out of the zones;
//! some go silent for hours (VMS signal loss) and come back; sensors at the store's
//! `env_sensors` and `water_level_sensors` sites drift over their limits and back.
//!
//! Time can be accelerated (`speedup`): the messages carry simulated times, which run ahead of
//! the wall clock, so a server fed this way needs `[live] max_future_seconds` large enough.
//!
//! Owns the traffic model and its publishing. Knows no live-layer state, rules, HTTP or SQL:
//! it reads the zones and sites through the [`Store`] trait.

use std::f64::consts::TAU;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use geo::{Contains, Coord, Geometry, Point};
use rumqttc::{Client, Event, MqttOptions, Outgoing, Packet, QoS};
use serde::Serialize;

use super::alerts::now_unix;
use crate::demo::rng::SplitMix;
use crate::feature::{Bbox, Value};
use crate::store::{Store, StoreError};

/// Topic filters of the simulated devices (`+` is the device id).
pub const VESSEL_TOPIC: &str = "vms/+/position";
pub const ENV_TOPIC: &str = "env/+/reading";
pub const WATER_TOPIC: &str = "water/+/level";

/// A vessel's speed range, knots.
const SPEED_KN: (f64, f64) = (4.0, 11.0);
const KNOT_M_S: f64 = 0.514_444;
const M_PER_DEG: f64 = 111_320.0;
/// A waypoint counts as reached within this many metres.
const REACHED_M: f64 = 300.0;
/// One vessel in this many goes silent, once, for [`SILENCE_S`] of simulated time.
const DARK_EVERY: u64 = 6;
const SILENCE_S: (f64, f64) = (3.0 * 3600.0, 10.0 * 3600.0);
/// One sensor in this many drifts over its limit (peaks at 1.15 × the limit).
const DRIFTING_EVERY: u64 = 3;
/// The simulated period of a sensor's drift, seconds.
const DRIFT_PERIOD_S: (f64, f64) = (3600.0, 3.0 * 3600.0);
/// How long publishing waits for the broker at start, and for the last messages to leave.
const CONNECT_WAIT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimulateError {
    #[error("the simulator reads the demo's zones and sensor sites from the store: {0}")]
    Store(#[source] StoreError),
    #[error("layer '{0}' of the store has no {1}; build the demo province first (bando demo)")]
    Missing(&'static str, &'static str),
    #[error("{0}")]
    Options(String),
    #[error("cannot reach the MQTT broker at {broker} within {seconds} s (is mosquitto running there?): {why}")]
    Unreachable { broker: String, seconds: u64, why: String },
}

/// What to publish, and how fast.
#[derive(Debug, Clone)]
pub struct SimulateOptions {
    /// `mqtt://host:port`.
    pub broker: String,
    pub vessels: usize,
    pub sensors: usize,
    /// Messages per second, all devices together (silent vessels skip their turn).
    pub rate: f64,
    /// Simulated seconds per real second.
    pub speedup: f64,
    /// Real seconds to run (`None`: until `stop`).
    pub seconds: Option<f64>,
    pub seed: u64,
    /// MQTT QoS 0 or 1.
    pub qos: u8,
}

impl SimulateOptions {
    fn check(&self) -> Result<QoS, SimulateError> {
        let bad = |why: &str| Err(SimulateError::Options(why.into()));
        if self.vessels + self.sensors == 0 {
            return bad("--vessels and --sensors are both 0: nothing to simulate");
        }
        if !(self.rate.is_finite() && self.rate > 0.0) {
            return bad("--rate must be a positive number of messages per second");
        }
        if !(self.speedup.is_finite() && self.speedup >= 1.0) {
            return bad("--speedup must be a number, 1 (real time) or more");
        }
        if self.seconds.is_some_and(|s| !(s.is_finite() && s > 0.0)) {
            return bad("--seconds must be a positive number of seconds");
        }
        match self.qos {
            0 => Ok(QoS::AtMostOnce),
            1 => Ok(QoS::AtLeastOnce),
            _ => bad("--qos must be 0 or 1"),
        }
    }
}

/// What a run published.
#[derive(Debug, Default, Serialize)]
pub struct SimulateReport {
    pub published: u64,
    pub vessel_reports: u64,
    pub sensor_readings: u64,
    /// Turns vessels skipped while silent.
    pub silent_turns: u64,
    pub seconds: f64,
    pub simulated_seconds: f64,
}

/// A zone vessels fish in (permitted) or must keep out of.
struct Zone {
    geometry: Geometry,
    bbox: Bbox,
    permitted: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum SensorKind {
    Pm25,
    Cod,
    WaterLevel,
}

impl SensorKind {
    /// The payload field that carries the value.
    fn field(self) -> &'static str {
        match self {
            SensorKind::Pm25 => "pm25",
            SensorKind::Cod => "cod",
            SensorKind::WaterLevel => "water_level_m",
        }
    }
}

/// A sensor site of the store.
struct Site {
    kind: SensorKind,
    at: Coord,
    limit: f64,
}

/// The demo province as the simulator sees it: fishing zones and sensor sites.
pub struct Scene {
    zones: Vec<Zone>,
    /// Where vessels sail: the zones' extent, widened.
    sea: Bbox,
    sites: Vec<Site>,
}

impl Scene {
    /// Reads `fishing_zones`, `env_sensors` and `water_level_sensors` from the store.
    pub fn from_store(store: &dyn Store) -> Result<Scene, SimulateError> {
        let mut zones = Vec::new();
        read_layer(store, "fishing_zones", &["permitted"], |geometry, values| {
            if let Some(bbox) = Bbox::of(&geometry) {
                let permitted = matches!(values[0], Value::Bool(true) | Value::Int(1));
                zones.push(Zone { geometry, bbox, permitted });
            }
        })?;
        if !zones.iter().any(|z| z.permitted) {
            return Err(SimulateError::Missing("fishing_zones", "permitted zone"));
        }
        let mut sites = Vec::new();
        read_layer(store, "env_sensors", &["device_type", "limit"], |geometry, values| {
            let kind = match &values[0] {
                Value::Text(t) if &**t == "cod" => SensorKind::Cod,
                _ => SensorKind::Pm25,
            };
            push_site(&mut sites, kind, &geometry, &values[1]);
        })?;
        read_layer(store, "water_level_sensors", &["alert_level"], |geometry, values| {
            push_site(&mut sites, SensorKind::WaterLevel, &geometry, &values[0]);
        })?;
        let extent = zones.iter().skip(1).fold(zones[0].bbox, |b, z| b.union(z.bbox));
        let sea = Bbox {
            west: extent.west - 0.12,
            south: extent.south - 0.06,
            east: extent.east + 0.12,
            north: extent.north + 0.08,
        };
        Ok(Scene { zones, sea, sites })
    }

    fn random_in(&self, rng: &mut SplitMix, bbox: &Bbox) -> Coord {
        Coord {
            x: rng.range(bbox.west, bbox.east),
            y: rng.range(bbox.south, bbox.north),
        }
    }

    /// A waypoint inside a permitted zone (`inside`), else in open sea outside every zone.
    fn waypoint(&self, rng: &mut SplitMix, inside: bool) -> Coord {
        let permitted: Vec<&Zone> = self.zones.iter().filter(|z| z.permitted).collect();
        for _ in 0..200 {
            let p = if inside {
                let zone = permitted[rng.below(permitted.len() as u64) as usize];
                let c = self.random_in(rng, &zone.bbox);
                if zone.geometry.contains(&Point(c)) {
                    return c;
                }
                continue;
            } else {
                self.random_in(rng, &self.sea)
            };
            if !self.zones.iter().any(|z| z.geometry.contains(&Point(p))) {
                return p;
            }
        }
        self.random_in(rng, &self.sea)
    }
}

fn push_site(sites: &mut Vec<Site>, kind: SensorKind, geometry: &Geometry, limit: &Value) {
    if let (Geometry::Point(p), Some(limit)) = (geometry, limit.as_f64()) {
        sites.push(Site { kind, at: p.0, limit });
    }
}

/// Visits the geometry and the named fields of every feature of `layer`.
fn read_layer(
    store: &dyn Store,
    layer: &'static str,
    fields: &[&'static str],
    mut visit: impl FnMut(Geometry, Vec<Value>),
) -> Result<(), SimulateError> {
    let meta = store.layer(layer).map_err(SimulateError::Store)?;
    let mut at = Vec::new();
    for &field in fields {
        at.push(meta.field_index(field).ok_or(SimulateError::Missing(layer, "such field"))?);
    }
    store
        .for_each_feature(&meta, &mut |f| {
            let values = at.iter().map(|&i| f.properties.get(i).cloned().unwrap_or(Value::Null)).collect();
            visit(f.geometry, values);
        })
        .map_err(SimulateError::Store)
}

struct Vessel {
    id: String,
    at: Coord,
    target: Coord,
    heading: f64,
    speed_kn: f64,
    /// Whether the next waypoint is inside a permitted zone.
    inbound: bool,
    /// Simulated time of the last move.
    moved: f64,
    /// The simulated span of the vessel's one silence (dark vessels only).
    silence: Option<(f64, f64)>,
}

impl Vessel {
    /// Sails toward the waypoint until `now`, picking the next one when it is reached.
    fn sail(&mut self, scene: &Scene, rng: &mut SplitMix, now: f64) {
        let mut left = (now - self.moved).max(0.0) * self.speed_kn * KNOT_M_S;
        self.moved = now;
        while left > 0.0 {
            let dx = (self.target.x - self.at.x) * M_PER_DEG * self.at.y.to_radians().cos();
            let dy = (self.target.y - self.at.y) * M_PER_DEG;
            let distance = dx.hypot(dy);
            if distance <= REACHED_M {
                self.inbound = !self.inbound;
                self.target = scene.waypoint(rng, self.inbound);
                self.speed_kn = rng.range(SPEED_KN.0, SPEED_KN.1);
                continue;
            }
            let step = left.min(distance);
            self.heading = dx.atan2(dy).to_degrees().rem_euclid(360.0);
            self.at.x += dx / distance * step / (M_PER_DEG * self.at.y.to_radians().cos());
            self.at.y += dy / distance * step / M_PER_DEG;
            left -= step;
        }
    }

    fn silent(&self, now: f64) -> bool {
        self.silence.is_some_and(|(from, to)| now >= from && now < to)
    }
}

struct Sensor {
    id: String,
    kind: SensorKind,
    at: Coord,
    limit: f64,
    base: f64,
    amplitude: f64,
    period: f64,
    phase: f64,
}

impl Sensor {
    fn value(&self, rng: &mut SplitMix, now: f64) -> f64 {
        let wave = (TAU * now / self.period + self.phase).sin();
        let noise = rng.range(-0.02, 0.02);
        (self.limit * (self.base + self.amplitude * wave + noise) * 100.0).round() / 100.0
    }
}

/// The devices of a run, built from the scene with a fixed seed.
struct Fleet {
    vessels: Vec<Vessel>,
    sensors: Vec<Sensor>,
    rng: SplitMix,
}

impl Fleet {
    fn new(scene: &Scene, options: &SimulateOptions, start: f64) -> Result<Fleet, SimulateError> {
        let mut rng = SplitMix::new(options.seed);
        if options.sensors > 0 && scene.sites.is_empty() {
            return Err(SimulateError::Missing("env_sensors", "sensor site"));
        }
        let vessels = (0..options.vessels)
            .map(|i| {
                let inbound = i % 2 == 0;
                let at = scene.waypoint(&mut rng, !inbound);
                let dark = rng.below(DARK_EVERY) == 0;
                let silence = dark.then(|| {
                    let from = start + rng.range(600.0, 3600.0);
                    (from, from + rng.range(SILENCE_S.0, SILENCE_S.1))
                });
                Vessel {
                    id: format!("TTH-{:05}-TS", 90_000 + i),
                    at,
                    target: scene.waypoint(&mut rng, inbound),
                    heading: 0.0,
                    speed_kn: rng.range(SPEED_KN.0, SPEED_KN.1),
                    inbound,
                    moved: start,
                    silence,
                }
            })
            .collect();
        let sensors = (0..options.sensors)
            .map(|i| {
                let site = &scene.sites[i % scene.sites.len()];
                let copy = i / scene.sites.len();
                // Sites beyond the store's get a neighbour a few hundred metres away.
                let jitter = if copy == 0 { 0.0 } else { 0.004 };
                let drifting = rng.below(DRIFTING_EVERY) == 0;
                Sensor {
                    id: format!("{}-{:04}", site.kind.field().replace('_', "-"), i + 1),
                    kind: site.kind,
                    at: Coord {
                        x: site.at.x + rng.range(-jitter, jitter),
                        y: site.at.y + rng.range(-jitter, jitter),
                    },
                    limit: site.limit,
                    base: if drifting { 0.85 } else { 0.6 },
                    amplitude: if drifting { 0.3 } else { 0.1 },
                    period: rng.range(DRIFT_PERIOD_S.0, DRIFT_PERIOD_S.1),
                    phase: rng.range(0.0, TAU),
                }
            })
            .collect();
        Ok(Fleet { vessels, sensors, rng })
    }

    fn len(&self) -> usize {
        self.vessels.len() + self.sensors.len()
    }

    /// The topic and payload of device `turn`'s message at `now`, or `None` if it is silent.
    fn message(&mut self, scene: &Scene, turn: usize, now: f64) -> Option<(String, String)> {
        let ts = (now * 1000.0).round() / 1000.0;
        if let Some(vessel) = self.vessels.get_mut(turn) {
            vessel.sail(scene, &mut self.rng, now);
            if vessel.silent(now) {
                return None;
            }
            let payload = serde_json::json!({
                "vessel_id": vessel.id,
                "lon": round6(vessel.at.x),
                "lat": round6(vessel.at.y),
                "ts": ts,
                "speed_kn": (vessel.speed_kn * 10.0).round() / 10.0,
                "heading": vessel.heading.round(),
            });
            return Some((VESSEL_TOPIC.replace('+', &vessel.id), payload.to_string()));
        }
        let sensor = &self.sensors[turn - self.vessels.len()];
        let mut payload = serde_json::json!({
            "sensor_id": sensor.id,
            "lon": round6(sensor.at.x),
            "lat": round6(sensor.at.y),
            "ts": ts,
        });
        payload[sensor.kind.field()] = serde_json::json!(sensor.value(&mut self.rng, now));
        let topic = if sensor.kind == SensorKind::WaterLevel {
            WATER_TOPIC
        } else {
            ENV_TOPIC
        };
        Some((topic.replace('+', &sensor.id), payload.to_string()))
    }
}

fn round6(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

/// What the connection thread saw.
#[derive(Default)]
struct Link {
    connected: AtomicBool,
    /// Publishes written to the socket, and acknowledged (QoS 1).
    sent: AtomicU64,
    acked: AtomicU64,
    last_error: std::sync::Mutex<String>,
}

/// Publishes the scene's traffic until `options.seconds` have passed or `stop` is set.
pub fn run(scene: &Scene, options: &SimulateOptions, stop: &AtomicBool) -> Result<SimulateReport, SimulateError> {
    let qos = options.check()?;
    let (host, port) = super::mqtt::parse_broker(&options.broker).map_err(SimulateError::Options)?;
    let mut mqtt = MqttOptions::new(format!("bando-simulate-{}", std::process::id()), host, port);
    mqtt.set_keep_alive(Duration::from_secs(15)).set_clean_session(true);
    let (client, mut connection) = Client::new(mqtt, 1024);
    let link = Arc::new(Link::default());
    let seen = link.clone();
    std::thread::Builder::new()
        .name("bando-simulate-mqtt".into())
        .spawn(move || {
            for event in connection.iter() {
                match event {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => seen.connected.store(true, Ordering::Relaxed),
                    Ok(Event::Incoming(Packet::PubAck(_))) => {
                        seen.acked.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(Event::Outgoing(Outgoing::Publish(_))) => {
                        seen.sent.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(Event::Outgoing(Outgoing::Disconnect)) => return,
                    Ok(_) => {}
                    Err(e) => {
                        seen.connected.store(false, Ordering::Relaxed);
                        *seen.last_error.lock().unwrap_or_else(|e| e.into_inner()) = e.to_string();
                        std::thread::sleep(Duration::from_millis(200));
                    }
                }
            }
        })
        .map_err(|e| SimulateError::Options(format!("cannot start the MQTT thread: {e}")))?;
    wait_until(CONNECT_WAIT, || link.connected.load(Ordering::Relaxed));
    if !link.connected.load(Ordering::Relaxed) {
        let why = link.last_error.lock().unwrap_or_else(|e| e.into_inner()).clone();
        return Err(SimulateError::Unreachable {
            broker: options.broker.clone(),
            seconds: CONNECT_WAIT.as_secs(),
            why,
        });
    }
    let report = publish(scene, options, qos, &client, stop)?;
    let done = |n: &AtomicU64| n.load(Ordering::Relaxed) >= report.published;
    wait_until(CONNECT_WAIT, || {
        if qos == QoS::AtMostOnce {
            done(&link.sent)
        } else {
            done(&link.acked)
        }
    });
    let _ = client.disconnect();
    Ok(report)
}

/// The paced loop: device turns round-robin, `rate` turns a second.
fn publish(
    scene: &Scene,
    options: &SimulateOptions,
    qos: QoS,
    client: &Client,
    stop: &AtomicBool,
) -> Result<SimulateReport, SimulateError> {
    let start = now_unix();
    let mut fleet = Fleet::new(scene, options, start)?;
    let started = Instant::now();
    let mut report = SimulateReport::default();
    let mut turns = 0u64;
    let mut logged = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let elapsed = started.elapsed().as_secs_f64();
        if options.seconds.is_some_and(|s| elapsed >= s) {
            break;
        }
        let due = (elapsed * options.rate) as u64;
        if turns >= due {
            std::thread::sleep(Duration::from_millis(2));
            continue;
        }
        let now = start + elapsed * options.speedup;
        let last = due.min(turns + 10_000);
        while turns < last {
            let turn = (turns % fleet.len() as u64) as usize;
            turns += 1;
            let Some((topic, payload)) = fleet.message(scene, turn, now) else {
                report.silent_turns += 1;
                continue;
            };
            if client.publish(topic, qos, false, payload).is_err() {
                return Err(SimulateError::Options("the MQTT connection closed".into()));
            }
            report.published += 1;
            if turn < fleet.vessels.len() {
                report.vessel_reports += 1;
            } else {
                report.sensor_readings += 1;
            }
        }
        if logged.elapsed() >= Duration::from_secs(10) {
            logged = Instant::now();
            tracing::info!(published = report.published, simulated_hours = (now - start) / 3600.0, "simulating");
        }
    }
    report.seconds = started.elapsed().as_secs_f64();
    report.simulated_seconds = report.seconds * options.speedup;
    Ok(report)
}

fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() && started.elapsed() < limit {
        std::thread::sleep(Duration::from_millis(20));
    }
}
