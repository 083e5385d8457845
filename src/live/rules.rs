//! Rules of live layers, bound to the store once at start: zone rules (`enter`, `exit`,
//! `outside`, `dwell`) against the polygons of a zone layer that match the rule's `where`,
//! `signal_lost` and `threshold`. Each device keeps one [`RuleState`] per rule; a report (or the
//! clock, for `signal_lost`) moves it and says which alerts to open or close ([`Change`]).
//!
//! Hysteresis: a device counts as having crossed a zone's boundary only once it is more than
//! `hysteresis_m` beyond it, and a value only once it is back past `clear`, so a vessel moving
//! along a boundary or a reading wobbling around a limit raises one alert, not hundreds.
//!
//! Owns rule binding and the state machines. Knows no alert storage (the book dedupes and
//! keeps them), no HTTP and no SQL.

use std::sync::Arc;

use geo_types::{Coord, Geometry, MultiPolygon};

use super::section::{RuleKind, RuleSection};
use crate::feature::Value;
use crate::index::{Catalog, LayerData};
use crate::query::{Position, Region};
use crate::store::LayerMeta;

/// A zone of a zone rule: one polygon feature of the zone layer that its `where` selects.
pub struct Zone {
    /// The zone feature's id (alerts name it by `name`).
    pub id: i64,
    pub name: Option<String>,
    region: Region,
}

/// A rule ready to evaluate.
pub struct BoundRule {
    pub id: String,
    pub layer: String,
    pub kind: RuleKind,
    /// Per feature of the zone layer (by index): the zone, when the filter selects it.
    zones: Vec<Option<Zone>>,
    zone_layer: Option<Arc<LayerData>>,
    /// signal_lost and dwell: seconds.
    pub after: f64,
    threshold: Option<Threshold>,
    hysteresis_m: f64,
}

struct Threshold {
    /// Index into the layer's value fields.
    field: usize,
    above: bool,
    limit: f64,
    clear: f64,
    for_seconds: f64,
}

/// What a rule remembers of one device.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum RuleState {
    /// No report yet.
    #[default]
    Fresh,
    /// The zones the device counts as inside (by zone index), with the time it entered each and
    /// whether a dwell alert was raised for it.
    Zones(Vec<Stay>),
    Lost(bool),
    Threshold {
        since: Option<f64>,
        active: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stay {
    pub zone: u32,
    pub since: f64,
    pub alerted: bool,
}

/// An alert to open or close, by zone index (`None`: the rule's only alert per device).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Change {
    Open { zone: Option<u32>, value: Option<f64> },
    Close { zone: Option<u32> },
}

/// One device report as rules see it.
pub struct Report<'a> {
    pub lon: f64,
    pub lat: f64,
    pub time: f64,
    pub values: &'a [Value],
}

impl BoundRule {
    /// Binds a rule of `layer` (whose value fields are `fields`) to the zone layer it names.
    /// `default_hysteresis_m` is `[live] hysteresis_m`.
    pub fn bind(rule: &RuleSection, fields: &[String], catalog: &Catalog, default_hysteresis_m: f64) -> Result<BoundRule, String> {
        let mut bound = BoundRule {
            id: rule.id.clone(),
            layer: rule.layer.clone(),
            kind: rule.kind,
            zones: Vec::new(),
            zone_layer: None,
            after: rule.after_seconds.unwrap_or(0.0),
            threshold: None,
            hysteresis_m: rule.hysteresis_m.unwrap_or(default_hysteresis_m),
        };
        if !(bound.hysteresis_m.is_finite() && bound.hysteresis_m >= 0.0) {
            return Err("hysteresis_m must be a number of metres, 0 or more".into());
        }
        match rule.kind {
            RuleKind::SignalLost | RuleKind::Dwell if !(bound.after.is_finite() && bound.after > 0.0) => {
                return Err(format!(
                    "a {} rule needs after_seconds, a positive number of seconds",
                    rule.kind.as_str()
                ));
            }
            RuleKind::Threshold => bound.threshold = Some(threshold(rule, fields)?),
            _ => {}
        }
        if rule.kind.uses_zones() {
            let name = rule
                .zones
                .as_deref()
                .ok_or_else(|| format!("a {} rule needs zones = \"a polygon layer\"", rule.kind.as_str()))?;
            let layer = catalog
                .get(name)
                .ok_or_else(|| format!("zones = \"{name}\": no such layer in the store (GET /layers lists them)"))?;
            bound.zones = zones_of(&layer, rule)?;
            if bound.zones.iter().all(Option::is_none) {
                return Err(format!("no polygon of layer '{name}' matches the rule's where"));
            }
            bound.zone_layer = Some(layer);
        }
        Ok(bound)
    }

    /// The zone at `index`, for naming an alert.
    pub fn zone(&self, index: u32) -> Option<&Zone> {
        self.zones.get(index as usize).and_then(Option::as_ref)
    }

    /// Moves the device's state on a report and says which alerts change.
    pub fn on_report(&self, state: &mut RuleState, report: &Report) -> Vec<Change> {
        match self.kind {
            RuleKind::SignalLost => {
                let was_lost = matches!(state, RuleState::Lost(true));
                *state = RuleState::Lost(false);
                if was_lost {
                    vec![Change::Close { zone: None }]
                } else {
                    Vec::new()
                }
            }
            RuleKind::Threshold => self.threshold_report(state, report),
            _ => self.zone_report(state, report),
        }
    }

    /// Sets the state a report implies without raising anything (a restart's latest positions).
    pub fn seed(&self, state: &mut RuleState, report: &Report) {
        let _ = self.on_report(state, report);
        if let RuleState::Zones(stays) = state {
            // Whatever dwell alert was due is in the book already (restored), or was closed.
            stays.iter_mut().for_each(|s| s.alerted = true);
        }
    }

    /// signal_lost on the clock: the device's last report was at `last`, the layer's clock says `now`.
    pub fn on_clock(&self, state: &mut RuleState, last: f64, now: f64) -> Option<Change> {
        if self.kind != RuleKind::SignalLost || matches!(state, RuleState::Lost(true)) {
            return None;
        }
        (now - last > self.after).then(|| {
            *state = RuleState::Lost(true);
            Change::Open { zone: None, value: None }
        })
    }

    fn threshold_report(&self, state: &mut RuleState, report: &Report) -> Vec<Change> {
        let Some(t) = &self.threshold else { return Vec::new() };
        let Some(v) = report.values.get(t.field).and_then(Value::as_f64).filter(|v| v.is_finite()) else {
            return Vec::new();
        };
        let (mut since, mut active) = match state {
            RuleState::Threshold { since, active } => (*since, *active),
            _ => (None, false),
        };
        let (past, back) = if t.above {
            (v > t.limit, v < t.clear)
        } else {
            (v < t.limit, v > t.clear)
        };
        let mut changes = Vec::new();
        if active {
            if back {
                active = false;
                since = None;
                changes.push(Change::Close { zone: None });
            }
        } else if past {
            let from = *since.get_or_insert(report.time);
            if report.time - from >= t.for_seconds {
                active = true;
                changes.push(Change::Open {
                    zone: None,
                    value: Some(v),
                });
            }
        } else {
            since = None;
        }
        *state = RuleState::Threshold { since, active };
        changes
    }

    fn zone_report(&self, state: &mut RuleState, report: &Report) -> Vec<Change> {
        let before = match state {
            RuleState::Zones(stays) => Some(std::mem::take(stays)),
            _ => None,
        };
        let now = self.inside(report, before.as_deref());
        let was_in = |z: u32| before.as_ref().is_some_and(|b| b.iter().any(|s| s.zone == z));
        let is_in = |z: u32| now.iter().any(|s| s.zone == z);
        let entered = now.iter().map(|s| s.zone).filter(|&z| !was_in(z));
        let left = before.iter().flatten().map(|s| s.zone).filter(|&z| !is_in(z));
        let known = before.is_some();
        let open = |zone| Change::Open {
            zone: Some(zone),
            value: None,
        };
        let close = |zone| Change::Close { zone: Some(zone) };
        let mut changes: Vec<Change> = match self.kind {
            RuleKind::Outside => {
                let (was_out, is_out) = (before.as_ref().is_some_and(Vec::is_empty), now.is_empty());
                match (known, was_out, is_out) {
                    (false, _, true) | (true, false, true) => vec![Change::Open { zone: None, value: None }],
                    (true, true, false) => vec![Change::Close { zone: None }],
                    _ => Vec::new(),
                }
            }
            RuleKind::Enter if known => left.map(close).chain(entered.map(open)).collect(),
            RuleKind::Exit if known => entered.map(close).chain(left.map(open)).collect(),
            RuleKind::Dwell => left
                .filter(|&z| before.iter().flatten().any(|s| s.zone == z && s.alerted))
                .map(close)
                .collect(),
            _ => Vec::new(),
        };
        let mut now = now;
        if self.kind == RuleKind::Dwell {
            for stay in now.iter_mut().filter(|s| !s.alerted && report.time - s.since >= self.after) {
                stay.alerted = true;
                changes.push(Change::Open {
                    zone: Some(stay.zone),
                    value: Some(report.time - stay.since),
                });
            }
        }
        *state = RuleState::Zones(now);
        changes
    }

    /// The zones the device counts as inside after this report, given those it was inside.
    fn inside(&self, report: &Report, before: Option<&[Stay]>) -> Vec<Stay> {
        let Some(layer) = &self.zone_layer else { return Vec::new() };
        let p = Coord {
            x: report.lon,
            y: report.lat,
        };
        let (dx, dy) = degrees_around(report.lat, self.hysteresis_m);
        let around = rstar::AABB::from_corners([p.x - dx, p.y - dy], [p.x + dx, p.y + dy]);
        let mut now: Vec<Stay> = Vec::new();
        for entry in layer.tree.locate_in_envelope_intersecting(&around) {
            let Some(zone) = self.zone(entry.index) else { continue };
            let prior = before.map(|b| b.iter().find(|s| s.zone == entry.index));
            let inside = zone.region.locate(p) != Position::Outside;
            let counts = match prior {
                // First report: where it is, no band.
                None => inside,
                Some(Some(_)) => inside || zone.region.near_edge(p, self.hysteresis_m),
                Some(None) => inside && !zone.region.near_edge(p, self.hysteresis_m),
            };
            if counts {
                now.push(prior.flatten().copied().unwrap_or(Stay {
                    zone: entry.index,
                    since: report.time,
                    alerted: false,
                }));
            }
        }
        now.sort_by_key(|s| s.zone);
        now
    }
}

/// Half-sides in degrees of a box `metres` around a point at latitude `lat`.
fn degrees_around(lat: f64, metres: f64) -> (f64, f64) {
    let dy = metres / 110_540.0;
    let dx = metres / (111_320.0 * lat.to_radians().cos()).max(1.0);
    (dx, dy)
}

fn threshold(rule: &RuleSection, fields: &[String]) -> Result<Threshold, String> {
    let field = rule
        .field
        .as_deref()
        .ok_or("a threshold rule needs field = \"a value field of the layer\"")?;
    let index = fields.iter().position(|f| f == field).ok_or_else(|| {
        format!(
            "field '{field}' is not a value of layer '{}' (its fields: {})",
            rule.layer,
            fields.join(", ")
        )
    })?;
    let (above, limit) = match (rule.above, rule.below) {
        (Some(a), None) => (true, a),
        (None, Some(b)) => (false, b),
        _ => return Err("a threshold rule needs exactly one of above = N or below = N".into()),
    };
    let clear = rule.clear.unwrap_or(limit);
    if (above && clear > limit) || (!above && clear < limit) || !clear.is_finite() || !limit.is_finite() {
        return Err("clear must lie on the safe side of the limit (below `above`, above `below`)".into());
    }
    let for_seconds = rule.for_seconds.unwrap_or(0.0);
    if !(for_seconds.is_finite() && for_seconds >= 0.0) {
        return Err("for_seconds must be 0 or more seconds".into());
    }
    Ok(Threshold {
        field: index,
        above,
        limit,
        clear,
        for_seconds,
    })
}

fn zones_of(layer: &LayerData, rule: &RuleSection) -> Result<Vec<Option<Zone>>, String> {
    let filter = if rule.filter.is_empty() {
        None
    } else {
        Some(rule.filter.bind(&layer.meta)?)
    };
    let name_field = zone_name_field(&layer.meta, rule.zone_field.as_deref())?;
    Ok(layer
        .features
        .iter()
        .map(|f| {
            if filter.as_ref().is_some_and(|flt| !flt.matches(f)) {
                return None;
            }
            let shape = match &f.geometry {
                Geometry::Polygon(p) => MultiPolygon(vec![p.clone()]),
                Geometry::MultiPolygon(mp) => mp.clone(),
                _ => return None,
            };
            Some(Zone {
                id: f.id,
                name: name_field.map(|i| f.properties[i].to_string()),
                region: Region::new(shape)?,
            })
        })
        .collect())
}

fn zone_name_field(meta: &LayerMeta, asked: Option<&str>) -> Result<Option<usize>, String> {
    match asked {
        Some(name) => meta
            .field_index(name)
            .map(Some)
            .ok_or_else(|| format!("zone_field = \"{name}\": layer '{}' has no such field", meta.name)),
        None => Ok(["zone_code", "code", "name"].iter().find_map(|n| meta.field_index(n))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feature::{Feature, FieldDef, FieldType, GeometryKind, LayerKind};
    use crate::scenarios::Filter;
    use geo_types::{LineString, Polygon};

    /// A catalog with one permitted square zone 107.70..107.90 x 16.60..16.80.
    fn catalog() -> Catalog {
        let ring = LineString::from(vec![(107.7, 16.6), (107.9, 16.6), (107.9, 16.8), (107.7, 16.8), (107.7, 16.6)]);
        let meta = LayerMeta::new(
            "zones",
            LayerKind::Planning,
            GeometryKind::Polygon,
            vec![
                FieldDef::new("zone_code", FieldType::Text),
                FieldDef::new("permitted", FieldType::Bool),
            ],
        );
        let feature = Feature {
            id: 1,
            geometry: Polygon::new(ring, vec![]).into(),
            properties: vec![Value::Text("VB-1".into()), Value::Bool(true)],
        };
        let catalog = Catalog::empty();
        catalog.put_live(vec![Arc::new(LayerData::build(meta, vec![feature]))]);
        catalog
    }

    fn rule(kind: RuleKind) -> RuleSection {
        RuleSection {
            id: "r".into(),
            layer: "v".into(),
            kind,
            zones: Some("zones".into()),
            filter: serde_json::from_str::<Filter>(r#"[{"field":"permitted","op":"eq","value":true}]"#).unwrap(),
            zone_field: None,
            after_seconds: Some(600.0),
            field: Some("level".into()),
            above: Some(3.0),
            below: None,
            clear: Some(2.5),
            for_seconds: Some(60.0),
            hysteresis_m: None,
        }
    }

    fn run(rule: &BoundRule, track: &[(f64, f64, f64)]) -> Vec<(usize, Change)> {
        let mut state = RuleState::Fresh;
        let mut out = Vec::new();
        for (i, &(lon, lat, time)) in track.iter().enumerate() {
            let report = Report {
                lon,
                lat,
                time,
                values: &[],
            };
            out.extend(rule.on_report(&mut state, &report).into_iter().map(|c| (i, c)));
        }
        out
    }

    #[test]
    fn a_boundary_wobble_inside_the_band_raises_one_alert() {
        let outside = BoundRule::bind(&rule(RuleKind::Outside), &[], &catalog(), 50.0).unwrap();
        // In, then along the east edge (107.9) within ~20 m either side, then clearly out, then back.
        let edge = 107.9;
        let wobble = 20.0 / (111_320.0 * 16.7f64.to_radians().cos());
        let track = [
            (107.8, 16.7, 0.0),
            (edge - wobble, 16.7, 10.0),
            (edge + wobble, 16.7, 20.0),
            (edge - wobble, 16.7, 30.0),
            (edge + wobble, 16.7, 40.0),
            (107.95, 16.7, 50.0),
            (edge + wobble, 16.7, 60.0),
            (edge - wobble, 16.7, 70.0),
            (107.8, 16.7, 80.0),
        ];
        let changes = run(&outside, &track);
        assert_eq!(
            changes,
            vec![(5, Change::Open { zone: None, value: None }), (8, Change::Close { zone: None })]
        );
    }

    #[test]
    fn enter_and_exit_follow_the_crossings_in_order() {
        let enter = BoundRule::bind(&rule(RuleKind::Enter), &[], &catalog(), 50.0).unwrap();
        let exit = BoundRule::bind(&rule(RuleKind::Exit), &[], &catalog(), 50.0).unwrap();
        let track = [(107.6, 16.7, 0.0), (107.8, 16.7, 10.0), (107.6, 16.7, 20.0), (107.8, 16.7, 30.0)];
        let z = Some(0);
        assert_eq!(
            run(&enter, &track),
            vec![
                (1, Change::Open { zone: z, value: None }),
                (2, Change::Close { zone: z }),
                (3, Change::Open { zone: z, value: None })
            ]
        );
        assert_eq!(
            run(&exit, &track),
            vec![
                (1, Change::Close { zone: z }),
                (2, Change::Open { zone: z, value: None }),
                (3, Change::Close { zone: z })
            ]
        );
        assert!(
            run(&enter, &[(107.8, 16.7, 0.0)]).is_empty(),
            "a first report inside is not an entry"
        );
    }

    #[test]
    fn dwell_opens_once_after_its_time_and_closes_on_leaving() {
        let dwell = BoundRule::bind(&rule(RuleKind::Dwell), &[], &catalog(), 50.0).unwrap();
        let track = [
            (107.8, 16.7, 0.0),
            (107.8, 16.71, 300.0),
            (107.8, 16.72, 700.0),
            (107.8, 16.73, 900.0),
            (107.6, 16.7, 1000.0),
        ];
        assert_eq!(
            run(&dwell, &track),
            vec![
                (
                    2,
                    Change::Open {
                        zone: Some(0),
                        value: Some(700.0)
                    }
                ),
                (4, Change::Close { zone: Some(0) })
            ]
        );
    }

    #[test]
    fn thresholds_wait_for_their_duration_and_clear_below_the_band() {
        let fields = vec!["level".to_string()];
        let t = BoundRule::bind(&rule(RuleKind::Threshold), &fields, &catalog(), 50.0).unwrap();
        let mut state = RuleState::Fresh;
        let mut seen = Vec::new();
        for (time, level) in [
            (0.0, 3.5),
            (30.0, 3.6),
            (70.0, 3.2),
            (80.0, 2.9),
            (90.0, 3.1),
            (100.0, 2.4),
            (110.0, 3.5),
        ] {
            let values = [Value::Float(level)];
            let report = Report {
                lon: 107.0,
                lat: 16.0,
                time,
                values: &values,
            };
            seen.extend(t.on_report(&mut state, &report).into_iter().map(|c| (time, c)));
        }
        assert_eq!(
            seen,
            vec![
                (
                    70.0,
                    Change::Open {
                        zone: None,
                        value: Some(3.2)
                    }
                ),
                (100.0, Change::Close { zone: None })
            ]
        );
    }

    #[test]
    fn signal_lost_opens_on_the_clock_and_closes_on_the_next_report() {
        let lost = BoundRule::bind(&rule(RuleKind::SignalLost), &[], &catalog(), 50.0).unwrap();
        let mut state = RuleState::Fresh;
        let report = Report {
            lon: 107.0,
            lat: 16.0,
            time: 0.0,
            values: &[],
        };
        assert!(lost.on_report(&mut state, &report).is_empty());
        assert_eq!(lost.on_clock(&mut state, 0.0, 500.0), None);
        assert_eq!(
            lost.on_clock(&mut state, 0.0, 601.0),
            Some(Change::Open { zone: None, value: None })
        );
        assert_eq!(lost.on_clock(&mut state, 0.0, 900.0), None, "once");
        assert_eq!(lost.on_report(&mut state, &report), vec![Change::Close { zone: None }]);
    }

    #[test]
    fn binding_names_what_is_wrong() {
        let mut r = rule(RuleKind::Outside);
        r.zones = Some("nope".into());
        assert!(BoundRule::bind(&r, &[], &catalog(), 50.0).err().unwrap().contains("no such layer"));
        let mut r = rule(RuleKind::Threshold);
        r.field = Some("pm25".into());
        assert!(BoundRule::bind(&r, &["level".into()], &catalog(), 50.0)
            .err()
            .unwrap()
            .contains("not a value"));
        let mut r = rule(RuleKind::SignalLost);
        r.after_seconds = None;
        assert!(BoundRule::bind(&r, &[], &catalog(), 50.0).err().unwrap().contains("after_seconds"));
    }
}
