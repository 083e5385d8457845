//! Alerts: what a rule raised about a device, its state (open, acknowledged, closed) and the
//! book that holds them. At most one alert is active (open or acknowledged) per rule, device and
//! zone, so a condition that holds for hours, or is reported again after a restart, never opens
//! a second one. Every change is handed to the store writer and to the listener (the server's
//! `/alerts/stream`).
//!
//! Owns alert identity, state transitions, selection (`GET /alerts`'s filters) and the
//! `{layer}_alerts` layers (the active alerts as points, which `/stats` and scenario
//! indicators count). Knows no rules (they say open or close), no HTTP and no SQL.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use geo_types::Point;
use serde::Serialize;

use super::section::RuleKind;
use super::LiveError;
use crate::feature::{Feature, FieldDef, FieldType, GeometryKind, LayerKind, Value};
use crate::index::LayerData;
use crate::store::LayerMeta;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    Open,
    Acknowledged,
    Closed,
}

impl AlertState {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Open => "open",
            AlertState::Acknowledged => "acknowledged",
            AlertState::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<AlertState> {
        [AlertState::Open, AlertState::Acknowledged, AlertState::Closed]
            .into_iter()
            .find(|a| a.as_str() == s)
    }

    pub fn is_active(self) -> bool {
        self != AlertState::Closed
    }
}

/// One alert, as `GET /alerts` and `event: alert` show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    pub id: i64,
    pub rule: String,
    pub layer: String,
    pub device: String,
    pub kind: RuleKind,
    pub state: AlertState,
    /// The triggering position's time (RFC 3339).
    pub opened_at: String,
    pub lon: f64,
    pub lat: f64,
    /// The zone's name (its `zone_field`) for zone rules.
    pub zone: Option<String>,
    /// The administrative unit holding the triggering position (`[live] units`).
    pub unit: Option<String>,
    /// The value past the threshold, or the seconds dwelt.
    pub value: Option<f64>,
    pub acknowledged_at: Option<String>,
    pub closed_at: Option<String>,
    /// The zone's feature id (0: no zone): with rule and device, what makes an alert one.
    #[serde(skip)]
    pub zone_id: i64,
    #[serde(skip)]
    pub opened_unix: f64,
}

/// What a rule asks the book to open.
#[derive(Debug, Clone)]
pub struct Opening {
    pub rule: String,
    pub layer: String,
    pub device: String,
    pub kind: RuleKind,
    pub zone_id: i64,
    pub zone: Option<String>,
    pub unit: Option<String>,
    pub value: Option<f64>,
    pub time: f64,
    pub lon: f64,
    pub lat: f64,
}

/// `GET /alerts`'s filters.
#[derive(Debug, Default, Clone)]
pub struct AlertQuery {
    pub state: Option<AlertState>,
    pub layer: Option<String>,
    pub rule: Option<String>,
    /// Epoch seconds: alerts opened at or after.
    pub since: Option<f64>,
}

impl AlertQuery {
    /// `state`, `layer`, `rule`, `since` (RFC 3339 or epoch seconds) from a query string;
    /// anything else is refused by name.
    pub fn parse(params: &std::collections::HashMap<String, String>) -> Result<AlertQuery, LiveError> {
        let mut query = AlertQuery::default();
        for (key, value) in params {
            match key.as_str() {
                "state" => {
                    query.state = Some(
                        AlertState::parse(value)
                            .ok_or_else(|| LiveError::BadParameter(format!("state={value}: use open, acknowledged or closed")))?,
                    )
                }
                "layer" => query.layer = Some(value.clone()),
                "rule" => query.rule = Some(value.clone()),
                "since" => {
                    query.since = Some(
                        super::message::epoch_seconds(&serde_json::Value::String(value.clone())).ok_or_else(|| {
                            LiveError::BadParameter(format!("since={value}: give RFC 3339 (2026-12-03T10:00:00Z) or epoch seconds"))
                        })?,
                    )
                }
                other => {
                    return Err(LiveError::BadParameter(format!(
                        "unknown parameter '{}'; GET /alerts takes state, layer, rule and since",
                        other.escape_default()
                    )))
                }
            }
        }
        Ok(query)
    }
}

/// Closed alerts kept in memory for `GET /alerts?state=closed` (older ones stay in the store).
const CLOSED_KEPT: usize = 20_000;

type Key = (String, String, i64);
type Listener = Box<dyn Fn(&Alert) + Send + Sync>;

#[derive(Default)]
struct Book {
    by_id: BTreeMap<i64, Alert>,
    active: HashMap<Key, i64>,
    next_id: i64,
    closed: usize,
}

/// Every alert of the server.
pub struct AlertBook {
    book: Mutex<Book>,
    /// Where changes go to be written (the store writer).
    persist: Box<dyn Fn(&Alert) + Send + Sync>,
    listener: OnceLock<Listener>,
    /// Changes announced so far.
    changes: AtomicU64,
}

impl AlertBook {
    /// A book holding `restored` (from the store), whose changes `persist` writes.
    pub fn new(restored: Vec<Alert>, persist: Box<dyn Fn(&Alert) + Send + Sync>) -> AlertBook {
        let mut book = Book {
            next_id: restored.iter().map(|a| a.id).max().unwrap_or(0) + 1,
            ..Book::default()
        };
        for alert in restored {
            if alert.state.is_active() {
                book.active.insert(key_of(&alert), alert.id);
            } else {
                book.closed += 1;
            }
            book.by_id.insert(alert.id, alert);
        }
        AlertBook {
            book: Mutex::new(book),
            persist,
            listener: OnceLock::new(),
            changes: AtomicU64::new(0),
        }
    }

    /// Who hears of every change from now on (one listener: the server's stream).
    pub fn set_listener(&self, listener: Listener) {
        let _ = self.listener.set(listener);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn announce(&self, alert: &Alert) {
        self.changes.fetch_add(1, Ordering::AcqRel);
        (self.persist)(alert);
        if let Some(listener) = self.listener.get() {
            listener(alert);
        }
    }

    /// Opens an alert unless one is already active for its rule, device and zone.
    pub fn open(&self, o: Opening) -> Option<Alert> {
        let alert = {
            let mut book = self.lock();
            let key = (o.rule.clone(), o.device.clone(), o.zone_id);
            if book.active.contains_key(&key) {
                return None;
            }
            let id = book.next_id;
            book.next_id += 1;
            let alert = Alert {
                id,
                rule: o.rule,
                layer: o.layer,
                device: o.device,
                kind: o.kind,
                state: AlertState::Open,
                opened_at: rfc3339(o.time),
                lon: o.lon,
                lat: o.lat,
                zone: o.zone,
                unit: o.unit,
                value: o.value,
                acknowledged_at: None,
                closed_at: None,
                zone_id: o.zone_id,
                opened_unix: o.time,
            };
            book.active.insert(key, id);
            book.by_id.insert(id, alert.clone());
            alert
        };
        self.announce(&alert);
        Some(alert)
    }

    /// Closes the active alert of a rule, device and zone, if there is one.
    pub fn close(&self, rule: &str, device: &str, zone_id: i64, time: f64) -> Option<Alert> {
        let alert = {
            let mut book = self.lock();
            let id = book.active.remove(&(rule.to_string(), device.to_string(), zone_id))?;
            book.closed += 1;
            let alert = book.by_id.get_mut(&id)?;
            alert.state = AlertState::Closed;
            alert.closed_at = Some(rfc3339(time));
            let alert = alert.clone();
            forget_old_closed(&mut book);
            alert
        };
        self.announce(&alert);
        Some(alert)
    }

    /// Acknowledges an open alert (an acknowledged one is answered as it is).
    pub fn acknowledge(&self, id: i64) -> Result<Alert, LiveError> {
        let alert = {
            let mut book = self.lock();
            let alert = book.by_id.get_mut(&id).ok_or(LiveError::NoSuchAlert(id))?;
            match alert.state {
                AlertState::Acknowledged => return Ok(alert.clone()),
                AlertState::Closed => return Err(LiveError::AlertClosed(id)),
                AlertState::Open => {}
            }
            alert.state = AlertState::Acknowledged;
            alert.acknowledged_at = Some(rfc3339(now_unix()));
            alert.clone()
        };
        self.announce(&alert);
        Ok(alert)
    }

    /// The alerts `query` selects, by id.
    pub fn list(&self, query: &AlertQuery) -> Vec<Alert> {
        let book = self.lock();
        book.by_id
            .values()
            .filter(|a| query.state.is_none_or(|s| a.state == s))
            .filter(|a| query.layer.as_ref().is_none_or(|l| &a.layer == l))
            .filter(|a| query.rule.as_ref().is_none_or(|r| &a.rule == r))
            .filter(|a| query.since.is_none_or(|t| a.opened_unix >= t))
            .cloned()
            .collect()
    }

    /// Open and acknowledged alerts (what a new subscriber is sent first).
    pub fn active(&self) -> Vec<Alert> {
        let book = self.lock();
        let mut ids: Vec<i64> = book.active.values().copied().collect();
        ids.sort_unstable();
        ids.iter().filter_map(|id| book.by_id.get(id).cloned()).collect()
    }

    /// How many changes the book has announced: what tells the publisher its alert layers moved.
    pub fn changes(&self) -> u64 {
        self.changes.load(Ordering::Acquire)
    }

    /// The `{layer}_alerts` layer of the live layer `layer`: one point per active alert at its
    /// triggering position (feature id = alert id), so `/stats`, scenario indicators, queries
    /// and tiles count and draw open alerts like any layer's features.
    pub fn layer_of(&self, layer: &str, version: i64, imported_at: &str) -> LayerData {
        let features: Vec<Feature> = self
            .active()
            .into_iter()
            .filter(|a| a.layer == layer)
            .map(|a| Feature {
                id: a.id,
                geometry: Point::new(a.lon, a.lat).into(),
                properties: vec![
                    Value::Text(a.rule.into()),
                    Value::Text(a.device.into()),
                    Value::Text(a.state.as_str().into()),
                    Value::Text(a.kind.as_str().into()),
                    a.zone.map_or(Value::Null, |z| Value::Text(z.into())),
                    a.unit.map_or(Value::Null, |u| Value::Text(u.into())),
                    Value::Text(a.opened_at.into()),
                    a.value.map_or(Value::Null, Value::Float),
                ],
            })
            .collect();
        let fields = ALERT_FIELDS.iter().map(|&(name, ty)| FieldDef::new(name, ty)).collect();
        let mut meta = LayerMeta::new(&alerts_layer_name(layer), LayerKind::Iot, GeometryKind::Point, fields);
        meta.feature_count = features.len() as u64;
        meta.import_id = version;
        meta.imported_at = imported_at.to_string();
        meta.source_file = "live".into();
        LayerData::build(meta, features)
    }
}

/// The name of the layer holding a live layer's active alerts.
pub fn alerts_layer_name(layer: &str) -> String {
    format!("{layer}_alerts")
}

/// The fields of a `{layer}_alerts` layer, in [`AlertBook::layer_of`]'s order.
const ALERT_FIELDS: [(&str, FieldType); 8] = [
    ("rule", FieldType::Text),
    ("device", FieldType::Text),
    ("state", FieldType::Text),
    ("kind", FieldType::Text),
    ("zone", FieldType::Text),
    ("unit", FieldType::Text),
    ("opened_at", FieldType::Text),
    ("value", FieldType::Float),
];

fn key_of(alert: &Alert) -> Key {
    (alert.rule.clone(), alert.device.clone(), alert.zone_id)
}

/// Drops the oldest closed alerts from memory past [`CLOSED_KEPT`].
fn forget_old_closed(book: &mut Book) {
    if book.closed <= CLOSED_KEPT {
        return;
    }
    let oldest: Vec<i64> = book
        .by_id
        .values()
        .filter(|a| a.state == AlertState::Closed)
        .take(book.closed - CLOSED_KEPT / 2)
        .map(|a| a.id)
        .collect();
    for id in oldest {
        book.by_id.remove(&id);
    }
    book.closed = CLOSED_KEPT / 2;
}

/// RFC 3339 (UTC, milliseconds) of epoch seconds.
pub fn rfc3339(seconds: f64) -> String {
    let nanos = (seconds * 1e3).round() as i128 * 1_000_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".into())
}

pub fn now_unix() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn opening(device: &str, zone_id: i64) -> Opening {
        Opening {
            rule: "left".into(),
            layer: "vessels_live".into(),
            device: device.into(),
            kind: RuleKind::Outside,
            zone_id,
            zone: None,
            unit: None,
            value: None,
            time: 1_796_292_000.0,
            lon: 107.8,
            lat: 16.7,
        }
    }

    #[test]
    fn one_active_alert_per_rule_device_and_zone() {
        let written = Arc::new(Mutex::new(Vec::new()));
        let sink = written.clone();
        let book = AlertBook::new(Vec::new(), Box::new(move |a| sink.lock().unwrap().push(a.state)));
        let first = book.open(opening("a", 0)).unwrap();
        assert!(
            book.open(opening("a", 0)).is_none(),
            "a second open of the same condition is refused"
        );
        assert!(book.open(opening("a", 7)).is_some() && book.open(opening("b", 0)).is_some());
        assert_eq!(book.acknowledge(first.id).unwrap().state, AlertState::Acknowledged);
        assert!(book.open(opening("a", 0)).is_none(), "acknowledged is still active");
        let closed = book.close("left", "a", 0, 1_796_292_060.0).unwrap();
        assert_eq!(closed.closed_at.as_deref(), Some("2026-12-03T10:01:00Z"));
        assert!(matches!(book.acknowledge(first.id), Err(LiveError::AlertClosed(_))));
        assert!(matches!(book.acknowledge(999), Err(LiveError::NoSuchAlert(999))));
        assert_eq!(book.open(opening("a", 0)).unwrap().id, 4, "reopens as a new alert");
        assert_eq!(written.lock().unwrap().len(), 6);
        let open = book.list(&AlertQuery {
            state: Some(AlertState::Open),
            ..Default::default()
        });
        assert_eq!(open.iter().map(|a| a.id).collect::<Vec<_>>(), vec![2, 3, 4]);
    }

    #[test]
    fn the_alerts_layer_holds_the_active_alerts_of_its_live_layer() {
        let book = AlertBook::new(Vec::new(), Box::new(|_| {}));
        let a = book.open(opening("a", 0)).unwrap();
        let b = book.open(opening("b", 0)).unwrap();
        book.open(Opening {
            layer: "env_live".into(),
            ..opening("c", 0)
        });
        book.acknowledge(a.id).unwrap();
        book.close("left", "b", 0, 1_796_292_060.0);
        assert_eq!(book.changes(), 5, "three openings, an acknowledgement, a closing");
        let layer = book.layer_of("vessels_live", 9, "t");
        assert_eq!(layer.meta.name, "vessels_live_alerts");
        assert_eq!(layer.meta.import_id, 9);
        assert_eq!(layer.features.len(), 1, "b is closed, c is another layer's");
        let f = &layer.features[0];
        assert_eq!(f.id, a.id);
        let state = layer.meta.field_index("state").unwrap();
        assert_eq!(f.properties[state], Value::Text("acknowledged".into()));
        assert_eq!(f.properties.len(), layer.meta.fields.len());
        assert_eq!(layer.tree.size(), 1);
        assert!(b.id > a.id);
    }

    #[test]
    fn restored_alerts_keep_their_state_and_ids() {
        let book = AlertBook::new(Vec::new(), Box::new(|_| {}));
        let a = book.open(opening("a", 0)).unwrap();
        book.acknowledge(a.id).unwrap();
        let restored = AlertBook::new(book.list(&AlertQuery::default()), Box::new(|_| {}));
        assert!(restored.open(opening("a", 0)).is_none());
        assert_eq!(restored.open(opening("b", 0)).unwrap().id, 2);
        assert_eq!(restored.active()[0].state, AlertState::Acknowledged);
    }
}
