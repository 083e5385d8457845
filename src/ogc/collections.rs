//! `/ogc/collections` and `/ogc/collections/{id}`: one collection per layer the request sees,
//! with its extent, the CRSs its items can be asked in (Part 2) and links to its items.

use serde_json::{json, Value};

use super::crs::Crs;
use super::params::Query;
use super::queryables::SCHEMA_JSON;
use super::{link, self_links, OgcError, Site, CRS84, GEOJSON, HTML, JSON};
use crate::index::LayerData;

/// The description of one collection.
fn describe(site: &Site, layer: &LayerData) -> Value {
    let meta = &layer.meta;
    let href = format!("{}/collections/{}", site.base, meta.name);
    let [this, html] = self_links(&href, "", JSON, &meta.name);
    let bbox = meta.bbox.map(|b| b.to_array()).unwrap_or([-180.0, -90.0, 180.0, 90.0]);
    json!({
        "id": meta.name,
        "title": meta.name,
        "description": format!("{} layer of {} features", meta.kind, layer.features.len()),
        "itemType": "feature",
        "extent": { "spatial": { "bbox": [bbox], "crs": CRS84 } },
        "crs": Crs::offered(),
        "storageCrs": CRS84,
        "links": [
            this,
            html,
            link(format!("{href}/items?f=json"), "items", GEOJSON, &format!("{} features", meta.name)),
            link(format!("{href}/items?f=html"), "items", HTML, &format!("{} features (HTML)", meta.name)),
            link(format!("{href}/queryables?f=json"), "http://www.opengis.net/def/rel/ogc/1.0/queryables", SCHEMA_JSON, &format!("what a filter of {} may name", meta.name)),
            link(format!("{href}/tiles"), "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector", JSON, &format!("{} vector tiles", meta.name)),
        ],
    })
}

/// `/ogc/collections`.
pub fn collections(site: &Site, raw_query: &str) -> Result<Value, OgcError> {
    Query::parse(raw_query)?.only_format()?;
    let list: Vec<Value> = super::access::layers(site.catalog, site.view)
        .iter()
        .map(|l| describe(site, l))
        .collect();
    let [this, html] = self_links(&format!("{}/collections", site.base), "", JSON, "collections");
    Ok(json!({ "collections": list, "links": [this, html] }))
}

/// `/ogc/collections/{id}`.
pub fn collection(site: &Site, id: &str, raw_query: &str) -> Result<Value, OgcError> {
    Query::parse(raw_query)?.only_format()?;
    let layer = super::access::layer(site.catalog, site.view, id)?;
    Ok(describe(site, &layer))
}
