//! `/ogc/collections/{id}/queryables`: the JSON Schema (2020-12) of what a filter may name in a
//! collection, as the request's view sees it: the geometry (as [`GEOMETRY`]) and every visible
//! field with its type; hidden fields are not in it (and a filter naming one is refused like an
//! unknown name, `ogc::filter`). `additionalProperties: false`: nothing else can be queried.

use serde_json::{json, Map, Value};

use super::params::Query;
use super::{datetime, link, OgcError, Site, JSON};
use crate::feature::{FieldType, GeometryKind};

/// The name filters give a feature's geometry.
pub const GEOMETRY: &str = "geometry";

/// The media type of a queryables document.
pub const SCHEMA_JSON: &str = "application/schema+json";

fn geometry_format(kind: GeometryKind) -> &'static str {
    match kind {
        GeometryKind::Point => "geometry-point",
        GeometryKind::LineString => "geometry-linestring",
        GeometryKind::Polygon => "geometry-polygon",
        GeometryKind::MultiPoint => "geometry-multipoint",
        GeometryKind::MultiLineString => "geometry-multilinestring",
        GeometryKind::MultiPolygon => "geometry-multipolygon",
        GeometryKind::Geometry => "geometry-any",
    }
}

/// `/ogc/collections/{id}/queryables`.
pub fn queryables(site: &Site, id: &str, raw_query: &str) -> Result<Value, OgcError> {
    Query::parse(raw_query)?.only_format()?;
    let collection = super::access::collection(site, id)?;
    let meta = &collection.layer.meta;
    let time_field = datetime::time_field(meta);
    let mut properties = Map::new();
    properties.insert(
        GEOMETRY.to_string(),
        json!({ "title": "geometry", "format": geometry_format(meta.geometry_type), "x-ogc-role": "primary-geometry" }),
    );
    for i in site.view.fields(meta) {
        let field = &meta.fields[i];
        let mut schema = json!({ "title": field.name });
        schema["type"] = json!(match field.ty {
            FieldType::Int => "integer",
            FieldType::Float => "number",
            FieldType::Text => "string",
            FieldType::Bool => "boolean",
        });
        if time_field == Some(i) {
            schema["format"] = json!("date-time");
        }
        properties.insert(field.name.clone(), schema);
    }
    let href = format!("{}/collections/{id}/queryables", site.base);
    Ok(json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": href,
        "type": "object",
        "title": format!("queryables of {id}"),
        "properties": properties,
        "additionalProperties": false,
        "links": [
            link(format!("{href}?f=json"), "self", SCHEMA_JSON, "this document"),
            link(format!("{href}?f=html"), "alternate", super::HTML, "this document (HTML)"),
            link(format!("{}/collections/{id}?f=json", site.base), "collection", JSON, id),
        ],
    }))
}
