//! `/ogc/collections` and `/ogc/collections/{id}`: one collection per layer the request sees (and
//! per scenario layer over one, [`super::access`]), with its extent, the CRSs its items can be
//! asked in (Part 2) and links to its items, queryables and (a store layer's) vector tiles.

use serde_json::{json, Value};

use super::access::Collection;
use super::crs::Crs;
use super::params::Query;
use super::queryables::SCHEMA_JSON;
use super::{link, self_links, OgcError, Site, CRS84, GEOJSON, HTML, JSON};

/// The description of one collection.
fn describe(site: &Site, collection: &Collection) -> Value {
    let (id, meta) = (&collection.id, &collection.layer.meta);
    let href = format!("{}/collections/{id}", site.base);
    let [this, html] = self_links(&href, "", JSON, id);
    let bbox = meta.bbox.map(|b| b.to_array()).unwrap_or([-180.0, -90.0, 180.0, 90.0]);
    let description = match collection.only {
        None => format!("{} layer of {} features", meta.kind, collection.layer.features.len()),
        Some(_) => format!("the features of layer {} that scenario layer {id} shows", meta.name),
    };
    let mut links = vec![
        this,
        html,
        link(format!("{href}/items?f=json"), "items", GEOJSON, &format!("{id} features")),
        link(format!("{href}/items?f=html"), "items", HTML, &format!("{id} features (HTML)")),
        link(
            format!("{href}/queryables?f=json"),
            "http://www.opengis.net/def/rel/ogc/1.0/queryables",
            SCHEMA_JSON,
            &format!("what a filter of {id} may name"),
        ),
    ];
    // A scenario layer's tiles are its scenario's (`/scenarios/{id}/{z}/{x}/{y}`), not OGC
    // tilesets; it links the store layer it selects from instead.
    match collection.only {
        None => links.push(link(
            format!("{href}/tiles"),
            "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector",
            JSON,
            &format!("{id} vector tiles"),
        )),
        Some(_) => links.push(link(
            format!("{}/collections/{}", site.base, meta.name),
            "related",
            JSON,
            &format!("layer {}, all of it", meta.name),
        )),
    }
    json!({
        "id": id,
        "title": id,
        "description": description,
        "itemType": "feature",
        "extent": { "spatial": { "bbox": [bbox], "crs": CRS84 } },
        "crs": Crs::offered(),
        "storageCrs": CRS84,
        "links": links,
    })
}

/// `/ogc/collections`.
pub fn collections(site: &Site, raw_query: &str) -> Result<Value, OgcError> {
    Query::parse(raw_query)?.only_format()?;
    let list: Vec<Value> = super::access::collections(site).iter().map(|c| describe(site, c)).collect();
    let [this, html] = self_links(&format!("{}/collections", site.base), "", JSON, "collections");
    Ok(json!({ "collections": list, "links": [this, html] }))
}

/// `/ogc/collections/{id}`.
pub fn collection(site: &Site, id: &str, raw_query: &str) -> Result<Value, OgcError> {
    Query::parse(raw_query)?.only_format()?;
    Ok(describe(site, &super::access::collection(site, id)?))
}
