//! Messages of live devices: a flat JSON object (an MQTT payload), a GeoJSON Feature, a
//! FeatureCollection or NDJSON lines of either (`POST /live/{layer}`), each turned into a
//! [`Reading`] through the layer's [`Mapping`], or refused with the [`BadMessage`] reason that
//! `/metrics` counts.
//!
//! Owns payload parsing only; whether a reading is acceptable (region, clock, registry) is
//! decided by the layer (`layer.rs`). Knows no MQTT, HTTP or store.

use serde_json::{Map, Value as Json};

use crate::feature::{FieldType, Value};

/// Why a message was refused; each has its own counter in `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadMessage {
    InvalidJson,
    NoDevice,
    NoPosition,
    OutsideRegion,
    BadTime,
    FutureTime,
    UnknownDevice,
}

impl BadMessage {
    pub const ALL: [BadMessage; 7] = [
        BadMessage::InvalidJson,
        BadMessage::NoDevice,
        BadMessage::NoPosition,
        BadMessage::OutsideRegion,
        BadMessage::BadTime,
        BadMessage::FutureTime,
        BadMessage::UnknownDevice,
    ];

    /// The metrics label.
    pub fn as_str(self) -> &'static str {
        match self {
            BadMessage::InvalidJson => "invalid_json",
            BadMessage::NoDevice => "no_device",
            BadMessage::NoPosition => "no_position",
            BadMessage::OutsideRegion => "outside_region",
            BadMessage::BadTime => "bad_time",
            BadMessage::FutureTime => "future_time",
            BadMessage::UnknownDevice => "unknown_device",
        }
    }

    /// What the sender should fix.
    pub fn explain(self, mapping: &Mapping) -> String {
        match self {
            BadMessage::InvalidJson => {
                "the message is not JSON (a GeoJSON Feature, a FeatureCollection, NDJSON lines of them, or a flat object)".into()
            }
            BadMessage::NoDevice => format!("the message has no device id: put it in '{}' (or the Feature's id)", mapping.id),
            BadMessage::NoPosition => format!(
                "the message has no position: give numbers in '{}' and '{}', or a Point geometry",
                mapping.lon, mapping.lat
            ),
            BadMessage::OutsideRegion => "the position is outside the region bando serves (Vietnam and its waters)".into(),
            BadMessage::BadTime => format!("'{}' is neither RFC 3339 nor epoch seconds", mapping.time),
            BadMessage::FutureTime => format!("'{}' is too far in the future; check the device's clock", mapping.time),
            BadMessage::UnknownDevice => "the device is not in the layer's registry (devices_file)".into(),
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// The JSON keys of a layer's messages and the values it keeps.
#[derive(Debug, Clone, PartialEq)]
pub struct Mapping {
    pub id: String,
    pub lon: String,
    pub lat: String,
    pub time: String,
    /// Value fields, in the layer's order, with their types.
    pub fields: Vec<(String, FieldType)>,
}

/// One device report, before the layer's checks.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub device: Box<str>,
    pub lon: f64,
    pub lat: f64,
    /// Epoch seconds; `None`: the message carried no time (it takes its arrival time).
    pub time: Option<f64>,
    /// Aligned with [`Mapping::fields`].
    pub values: Vec<Value>,
}

/// An MQTT payload: one flat JSON object. `topic_device` is the device id the topic names (its
/// first `+` level), used when the payload has none.
pub fn parse_payload(payload: &[u8], mapping: &Mapping, topic_device: Option<&str>) -> Result<Reading, BadMessage> {
    let json: Json = serde_json::from_slice(payload).map_err(|_| BadMessage::InvalidJson)?;
    match &json {
        Json::Object(object) => from_object(object, None, None, mapping, topic_device),
        _ => Err(BadMessage::InvalidJson),
    }
}

/// An HTTP body: a Feature, a FeatureCollection, a flat object, or NDJSON lines of those. Every
/// message gives a reading or a refusal, in order.
pub fn parse_body(body: &[u8], mapping: &Mapping) -> Vec<Result<Reading, BadMessage>> {
    let mut out = Vec::new();
    match serde_json::from_slice::<Json>(body) {
        Ok(json) => push_document(&json, mapping, &mut out),
        Err(_) => {
            for line in body.split(|&b| b == b'\n').filter(|l| !l.iter().all(u8::is_ascii_whitespace)) {
                match serde_json::from_slice::<Json>(line) {
                    Ok(json) => push_document(&json, mapping, &mut out),
                    Err(_) => out.push(Err(BadMessage::InvalidJson)),
                }
            }
        }
    }
    out
}

fn push_document(json: &Json, mapping: &Mapping, out: &mut Vec<Result<Reading, BadMessage>>) {
    let Json::Object(object) = json else {
        out.push(Err(BadMessage::InvalidJson));
        return;
    };
    match object.get("type").and_then(Json::as_str) {
        Some("FeatureCollection") => match object.get("features").and_then(Json::as_array) {
            Some(features) => features.iter().for_each(|f| push_document(f, mapping, out)),
            None => out.push(Err(BadMessage::InvalidJson)),
        },
        Some("Feature") => out.push(from_feature(object, mapping)),
        _ => out.push(from_object(object, None, None, mapping, None)),
    }
}

fn from_feature(feature: &Map<String, Json>, mapping: &Mapping) -> Result<Reading, BadMessage> {
    let empty = Map::new();
    let properties = feature.get("properties").and_then(Json::as_object).unwrap_or(&empty);
    let point = feature
        .get("geometry")
        .and_then(Json::as_object)
        .filter(|g| g.get("type").and_then(Json::as_str) == Some("Point"))
        .and_then(|g| g.get("coordinates"))
        .and_then(Json::as_array)
        .and_then(|c| Some((c.first()?.as_f64()?, c.get(1)?.as_f64()?)));
    let id = feature.get("id").and_then(id_text);
    from_object(properties, point.or(Some((f64::NAN, f64::NAN))), id, mapping, None)
}

/// A device id as text: a string, or an integer.
fn id_text(json: &Json) -> Option<Box<str>> {
    match json {
        Json::String(s) if !s.trim().is_empty() => Some(s.trim().into()),
        Json::Number(n) => Some(n.to_string().into()),
        _ => None,
    }
}

/// `point`: a Feature's geometry (NaN when it has no Point), else the mapped keys are read.
fn from_object(
    object: &Map<String, Json>,
    point: Option<(f64, f64)>,
    feature_id: Option<Box<str>>,
    mapping: &Mapping,
    topic_device: Option<&str>,
) -> Result<Reading, BadMessage> {
    let device = object
        .get(&mapping.id)
        .and_then(id_text)
        .or(feature_id)
        .or_else(|| topic_device.filter(|d| !d.is_empty()).map(Into::into))
        .ok_or(BadMessage::NoDevice)?;
    let (lon, lat) = match point {
        Some(p) => p,
        None => (number(object.get(&mapping.lon)), number(object.get(&mapping.lat))),
    };
    if !(lon.is_finite() && lat.is_finite() && (-180.0..=180.0).contains(&lon) && (-90.0..=90.0).contains(&lat)) {
        return Err(BadMessage::NoPosition);
    }
    let time = match object.get(&mapping.time) {
        None | Some(Json::Null) => None,
        Some(t) => Some(epoch_seconds(t).ok_or(BadMessage::BadTime)?),
    };
    let values = mapping.fields.iter().map(|(name, ty)| value(object.get(name), *ty)).collect();
    Ok(Reading {
        device,
        lon,
        lat,
        time,
        values,
    })
}

/// A number, or a string holding one; NaN otherwise.
fn number(json: Option<&Json>) -> f64 {
    match json {
        Some(Json::Number(n)) => n.as_f64().unwrap_or(f64::NAN),
        Some(Json::String(s)) => s.trim().parse().unwrap_or(f64::NAN),
        _ => f64::NAN,
    }
}

/// RFC 3339, or epoch seconds (a number or digits; milliseconds when past the year 5000).
pub fn epoch_seconds(json: &Json) -> Option<f64> {
    let seconds = match json {
        Json::Number(n) => n.as_f64()?,
        Json::String(s) => match s.trim().parse::<f64>() {
            Ok(n) => n,
            Err(_) => {
                let t = time::OffsetDateTime::parse(s.trim(), &time::format_description::well_known::Rfc3339).ok()?;
                t.unix_timestamp_nanos() as f64 / 1e9
            }
        },
        _ => return None,
    };
    let seconds = if seconds.abs() > 1e11 { seconds / 1000.0 } else { seconds };
    seconds.is_finite().then_some(seconds)
}

fn value(json: Option<&Json>, ty: FieldType) -> Value {
    let raw = match json {
        None | Some(Json::Null) => return Value::Null,
        Some(Json::Bool(b)) => Value::Bool(*b),
        Some(Json::Number(n)) => n.as_i64().map_or_else(|| Value::Float(n.as_f64().unwrap_or(f64::NAN)), Value::Int),
        Some(Json::String(s)) => Value::Text(s.as_str().into()),
        Some(other) => Value::Text(other.to_string().into()),
    };
    raw.coerce(ty)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping() -> Mapping {
        Mapping {
            id: "vessel_id".into(),
            lon: "lon".into(),
            lat: "lat".into(),
            time: "ts".into(),
            fields: vec![("speed_kn".into(), FieldType::Float), ("status".into(), FieldType::Text)],
        }
    }

    #[test]
    fn a_flat_payload_maps_its_keys() {
        let r = parse_payload(
            br#"{"vessel_id":"TTH-1","lon":107.8,"lat":16.7,"ts":"2026-12-03T10:00:00Z","speed_kn":"7.5","status":"fishing"}"#,
            &mapping(),
            None,
        )
        .unwrap();
        assert_eq!(&*r.device, "TTH-1");
        assert_eq!(r.time, Some(1_796_292_000.0));
        assert_eq!(r.values, vec![Value::Float(7.5), Value::Text("fishing".into())]);
    }

    #[test]
    fn the_topic_names_a_device_the_payload_does_not() {
        let r = parse_payload(br#"{"lon":107.8,"lat":16.7,"ts":1796292000}"#, &mapping(), Some("TTH-9")).unwrap();
        assert_eq!(&*r.device, "TTH-9");
        assert_eq!(r.values, vec![Value::Null, Value::Null]);
    }

    #[test]
    fn every_refusal_has_its_reason() {
        let m = mapping();
        assert_eq!(parse_payload(b"{nope", &m, None), Err(BadMessage::InvalidJson));
        assert_eq!(parse_payload(b"[1,2]", &m, None), Err(BadMessage::InvalidJson));
        assert_eq!(parse_payload(br#"{"lon":1,"lat":2}"#, &m, None), Err(BadMessage::NoDevice));
        assert_eq!(
            parse_payload(br#"{"vessel_id":"a","lon":1}"#, &m, None),
            Err(BadMessage::NoPosition)
        );
        assert_eq!(
            parse_payload(br#"{"vessel_id":"a","lon":1,"lat":2,"ts":"yesterday"}"#, &m, None),
            Err(BadMessage::BadTime)
        );
    }

    #[test]
    fn bodies_are_features_collections_or_ndjson() {
        let m = mapping();
        let feature = br#"{"type":"Feature","id":7,"geometry":{"type":"Point","coordinates":[107.8,16.7]},"properties":{"speed_kn":3}}"#;
        let one = parse_body(feature, &m);
        assert_eq!(one.len(), 1);
        assert_eq!(&*one[0].as_ref().unwrap().device, "7");
        let collection = format!(
            r#"{{"type":"FeatureCollection","features":[{},{}]}}"#,
            std::str::from_utf8(feature).unwrap(),
            r#"{"type":"Feature","geometry":null,"properties":{"vessel_id":"x"}}"#
        );
        let two = parse_body(collection.as_bytes(), &m);
        assert!(two[0].is_ok());
        assert_eq!(two[1], Err(BadMessage::NoPosition));
        let ndjson = b"{\"vessel_id\":\"a\",\"lon\":107.1,\"lat\":16.1}\n\nnot json\n{\"vessel_id\":\"b\",\"lon\":107.2,\"lat\":16.2}\n";
        let lines = parse_body(ndjson, &m);
        assert_eq!(lines.len(), 3);
        assert!(lines[0].is_ok() && lines[2].is_ok());
        assert_eq!(lines[1], Err(BadMessage::InvalidJson));
    }
}
