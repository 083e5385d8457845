//! The vocabulary every module shares: layer kinds, field types, typed values, features and
//! bounding boxes. It owns no I/O and knows nothing of GDAL, SQLite or HTTP; every other module
//! speaks in these types.

use std::fmt;
use std::str::FromStr;

use geo::BoundingRect;
use geo_types::Geometry;
use serde::{Deserialize, Serialize};

/// What a layer holds; decides the default import profile and how scenarios use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LayerKind {
    Admin,
    Cadastral,
    Housing,
    Building,
    Planning,
    Infrastructure,
    Poi,
    Iot,
}

impl LayerKind {
    pub const ALL: [LayerKind; 8] = [
        LayerKind::Admin,
        LayerKind::Cadastral,
        LayerKind::Housing,
        LayerKind::Building,
        LayerKind::Planning,
        LayerKind::Infrastructure,
        LayerKind::Poi,
        LayerKind::Iot,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LayerKind::Admin => "admin",
            LayerKind::Cadastral => "cadastral",
            LayerKind::Housing => "housing",
            LayerKind::Building => "building",
            LayerKind::Planning => "planning",
            LayerKind::Infrastructure => "infrastructure",
            LayerKind::Poi => "poi",
            LayerKind::Iot => "iot",
        }
    }
}

impl fmt::Display for LayerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error for a layer kind nobody knows; the message lists the valid ones.
#[derive(Debug, thiserror::Error)]
#[error("unknown layer kind '{0}': use one of admin, cadastral, housing, building, planning, infrastructure, poi, iot")]
pub struct UnknownKind(pub String);

impl FromStr for LayerKind {
    type Err = UnknownKind;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        LayerKind::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownKind(s.to_string()))
    }
}

/// Column type of an attribute, as stored in the GeoPackage and announced in catalogs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    Bool,
    Int,
    Float,
    Text,
}

impl FieldType {
    /// The GeoPackage column type (GeoPackage 1.3, table 1).
    pub fn sql_type(self) -> &'static str {
        match self {
            FieldType::Bool => "BOOLEAN",
            FieldType::Int => "INTEGER",
            FieldType::Float => "REAL",
            FieldType::Text => "TEXT",
        }
    }

    pub fn from_sql_type(t: &str) -> FieldType {
        let t = t.to_ascii_uppercase();
        if t.starts_with("BOOL") {
            FieldType::Bool
        } else if t.contains("INT") {
            FieldType::Int
        } else if t.starts_with("REAL") || t.starts_with("DOUBLE") || t.starts_with("FLOAT") {
            FieldType::Float
        } else {
            FieldType::Text
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldDef {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: FieldType,
    /// Personal data of a citizen or business (marked at import, kept in the catalog): only
    /// roles with `personal_data = true` receive it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub personal: bool,
}

impl FieldDef {
    /// A field that is not personal data.
    pub fn new(name: impl Into<String>, ty: FieldType) -> FieldDef {
        FieldDef {
            name: name.into(),
            ty,
            personal: false,
        }
    }
}

/// One attribute value. Text is NFC-normalised UTF-8 by the time it reaches this type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(Box<str>),
}

impl Value {
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
            Value::Text(t) => t.trim().replace(',', ".").parse().ok(),
            Value::Null => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            Value::Int(i) => Some(*i != 0),
            Value::Float(f) => Some(*f != 0.0),
            Value::Text(t) => parse_bool(t),
            Value::Null => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Converts to the column type; a value that cannot be converted becomes Null.
    pub fn coerce(self, ty: FieldType) -> Value {
        match (ty, &self) {
            (_, Value::Null) => Value::Null,
            (FieldType::Text, Value::Text(_)) => self,
            (FieldType::Text, Value::Int(i)) => Value::Text(i.to_string().into()),
            (FieldType::Text, Value::Float(f)) => Value::Text(f.to_string().into()),
            (FieldType::Text, Value::Bool(b)) => Value::Text(b.to_string().into()),
            (FieldType::Float, _) => self.as_f64().map_or(Value::Null, Value::Float),
            (FieldType::Int, Value::Int(_)) => self,
            (FieldType::Int, _) => self
                .as_f64()
                .filter(|f| f.is_finite())
                .map_or(Value::Null, |f| Value::Int(f.round() as i64)),
            (FieldType::Bool, _) => self.as_bool().map_or(Value::Null, Value::Bool),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => Ok(()),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Text(t) => f.write_str(t),
        }
    }
}

/// Yes/no as Vietnamese survey sheets write it: 1/0, x, có/không, true/false, yes/no.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_lowercase().as_str() {
        "1" | "x" | "true" | "t" | "yes" | "y" | "có" | "co" | "c" => Some(true),
        "0" | "" | "false" | "f" | "no" | "n" | "không" | "khong" | "k" => Some(false),
        _ => None,
    }
}

/// A stored feature: a stable integer id (the GeoPackage fid), WGS84 lon/lat geometry, and
/// properties aligned with the layer's field list.
#[derive(Debug, Clone, PartialEq)]
pub struct Feature {
    pub id: i64,
    pub geometry: Geometry<f64>,
    pub properties: Vec<Value>,
}

/// Axis-aligned box in lon/lat degrees (west, south, east, north).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bbox {
    pub west: f64,
    pub south: f64,
    pub east: f64,
    pub north: f64,
}

impl Bbox {
    pub fn of(geometry: &Geometry<f64>) -> Option<Bbox> {
        geometry.bounding_rect().map(|r| Bbox {
            west: r.min().x,
            south: r.min().y,
            east: r.max().x,
            north: r.max().y,
        })
    }

    pub fn union(self, other: Bbox) -> Bbox {
        Bbox {
            west: self.west.min(other.west),
            south: self.south.min(other.south),
            east: self.east.max(other.east),
            north: self.north.max(other.north),
        }
    }

    pub fn contains(&self, other: &Bbox) -> bool {
        other.west >= self.west && other.east <= self.east && other.south >= self.south && other.north <= self.north
    }

    pub fn intersects(&self, other: &Bbox) -> bool {
        other.west <= self.east && other.east >= self.west && other.south <= self.north && other.north >= self.south
    }

    pub fn to_array(self) -> [f64; 4] {
        [self.west, self.south, self.east, self.north]
    }
}

impl fmt::Display for Bbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{:.6}, {:.6}, {:.6}, {:.6}]", self.west, self.south, self.east, self.north)
    }
}

/// Geometry type of a layer, as GeoPackage names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum GeometryKind {
    #[serde(rename = "POINT")]
    Point,
    #[serde(rename = "LINESTRING")]
    LineString,
    #[serde(rename = "POLYGON")]
    Polygon,
    #[serde(rename = "MULTIPOINT")]
    MultiPoint,
    #[serde(rename = "MULTILINESTRING")]
    MultiLineString,
    #[serde(rename = "MULTIPOLYGON")]
    MultiPolygon,
    #[serde(rename = "GEOMETRY")]
    Geometry,
}

impl GeometryKind {
    pub fn of(g: &Geometry<f64>) -> GeometryKind {
        match g {
            Geometry::Point(_) => GeometryKind::Point,
            Geometry::Line(_) | Geometry::LineString(_) => GeometryKind::LineString,
            Geometry::Polygon(_) | Geometry::Rect(_) | Geometry::Triangle(_) => GeometryKind::Polygon,
            Geometry::MultiPoint(_) => GeometryKind::MultiPoint,
            Geometry::MultiLineString(_) => GeometryKind::MultiLineString,
            Geometry::MultiPolygon(_) => GeometryKind::MultiPolygon,
            Geometry::GeometryCollection(_) => GeometryKind::Geometry,
        }
    }

    /// The narrowest kind that holds both (a layer of polygons and multipolygons is MULTIPOLYGON).
    pub fn merge(self, other: GeometryKind) -> GeometryKind {
        use GeometryKind::*;
        match (self, other) {
            (a, b) if a == b => a,
            (Point, MultiPoint) | (MultiPoint, Point) => MultiPoint,
            (LineString, MultiLineString) | (MultiLineString, LineString) => MultiLineString,
            (Polygon, MultiPolygon) | (MultiPolygon, Polygon) => MultiPolygon,
            _ => Geometry,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            GeometryKind::Point => "POINT",
            GeometryKind::LineString => "LINESTRING",
            GeometryKind::Polygon => "POLYGON",
            GeometryKind::MultiPoint => "MULTIPOINT",
            GeometryKind::MultiLineString => "MULTILINESTRING",
            GeometryKind::MultiPolygon => "MULTIPOLYGON",
            GeometryKind::Geometry => "GEOMETRY",
        }
    }

    pub fn parse(s: &str) -> GeometryKind {
        match s.to_ascii_uppercase().as_str() {
            "POINT" => GeometryKind::Point,
            "LINESTRING" => GeometryKind::LineString,
            "POLYGON" => GeometryKind::Polygon,
            "MULTIPOINT" => GeometryKind::MultiPoint,
            "MULTILINESTRING" => GeometryKind::MultiLineString,
            "MULTIPOLYGON" => GeometryKind::MultiPolygon,
            _ => GeometryKind::Geometry,
        }
    }

    pub fn is_polygonal(self) -> bool {
        matches!(self, GeometryKind::Polygon | GeometryKind::MultiPolygon)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_parse_case_insensitively_and_reject_unknown() {
        assert_eq!("Cadastral".parse::<LayerKind>().unwrap(), LayerKind::Cadastral);
        let err = "parcels".parse::<LayerKind>().unwrap_err().to_string();
        assert!(err.contains("admin, cadastral"), "{err}");
    }

    #[test]
    fn coercion_follows_vietnamese_survey_habits() {
        assert_eq!(Value::Text("có".into()).coerce(FieldType::Bool), Value::Bool(true));
        assert_eq!(Value::Text("12,5".into()).coerce(FieldType::Float), Value::Float(12.5));
        assert_eq!(Value::Float(3.4).coerce(FieldType::Int), Value::Int(3));
        assert_eq!(Value::Text("abc".into()).coerce(FieldType::Int), Value::Null);
    }

    #[test]
    fn geometry_kinds_merge_to_multi() {
        assert_eq!(GeometryKind::Polygon.merge(GeometryKind::MultiPolygon), GeometryKind::MultiPolygon);
        assert_eq!(GeometryKind::Point.merge(GeometryKind::Polygon), GeometryKind::Geometry);
    }
}
