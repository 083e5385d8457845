//! TileJSON 3.0.0 documents for layer lists, scenario maps and PMTiles archives. The caller
//! supplies the absolute tile URL template (it knows the public base URL); this file only lays
//! out the document.

use serde_json::{json, Map, Value as Json};

use crate::feature::Bbox;

use super::source::TileSource;

/// Attribution shown by map clients for data served from the store.
pub const ATTRIBUTION: &str = "Dữ liệu: Trung tâm Giám sát, điều hành đô thị thông minh (bando)";

/// The TileJSON of `source`; `tiles_url` is an absolute `.../{z}/{x}/{y}.mvt` template.
pub fn for_source(source: &TileSource, name: &str, description: &str, tiles_url: &str, center: Option<[f64; 3]>) -> Json {
    let bounds = source.layers.iter().filter_map(|l| l.data.meta.bbox).reduce(Bbox::union);
    let (minzoom, maxzoom) = (source.minzoom(), source.maxzoom());
    let center = center.or_else(|| {
        bounds.map(|b| {
            [
                (b.west + b.east) / 2.0,
                (b.south + b.north) / 2.0,
                12f64.clamp(minzoom as f64, maxzoom as f64),
            ]
        })
    });
    let vector_layers: Vec<Json> = source
        .layers
        .iter()
        .map(|l| {
            let fields: Map<String, Json> = l.field_types().map(|(n, t)| (n.to_string(), Json::from(t))).collect();
            json!({
                "id": l.name,
                "fields": fields,
                "minzoom": l.minzoom,
                "maxzoom": l.maxzoom,
                "description": format!("{} ({}, {}) from store layer '{}'", l.name, l.data.meta.kind, l.data.meta.geometry_type.as_str(), l.data.meta.name),
            })
        })
        .collect();
    let mut doc = json!({
        "tilejson": "3.0.0",
        "name": name,
        "description": description,
        "version": "1.0.0",
        "scheme": "xyz",
        "tiles": [tiles_url],
        "vector_layers": vector_layers,
        "minzoom": minzoom,
        "maxzoom": maxzoom,
        "attribution": ATTRIBUTION,
    });
    if let Some(b) = bounds {
        doc["bounds"] = json!(b.to_array());
    }
    if let Some(c) = center {
        doc["center"] = json!(c);
    }
    doc
}
