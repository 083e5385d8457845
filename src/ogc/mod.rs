//! OGC API Features (Part 1 Core, with GeoJSON and HTML; Part 2 CRS by reference; Part 3
//! Filtering) over the in-memory layers: the landing page, conformance, collections (one per
//! store layer and one per scenario layer), items with `bbox` (also across the antimeridian, and 6 numbers), `limit`/`offset`
//! paging by links, `datetime` on layers with a time field, property equality filters and CQL2
//! `filter`s (text or JSON, [`cql2`], bound and evaluated by `filter`), queryables, and single
//! items by id; `crs`, `bbox-crs` and `filter-crs` name one of the CRSs of [`crs`].
//!
//! Owns: the documents' shapes and links, parameter checking (every unknown parameter or bad
//! value is an [`OgcError`] naming it), selection through the layers' R-trees, and writing the
//! answers as JSON bytes or HTML. Every layer and field lookup goes through [`access`], the one
//! place layers are looked up, through the request's policy `View`. Knows no HTTP: the server hands it the
//! base URL and the query parameters, and negotiates the format.

mod access;
mod collections;
pub mod cql2;
pub mod crs;
mod datetime;
mod filter;
pub mod html;
mod items;
mod params;
pub mod queryables;
pub mod tiles;

use serde_json::{json, Value};

pub use collections::{collection, collections};
pub use items::{item, items, GeoJson};
pub use queryables::queryables;

use crate::index::Catalog;
use crate::policy::View;
use crate::scenarios::Scenarios;

/// Page size when none is asked for, and the largest page.
pub const DEFAULT_LIMIT: usize = 10;
pub const MAX_LIMIT: usize = 10_000;

/// The CRS of everything bando stores and, unless asked otherwise, answers in.
pub const CRS84: &str = "http://www.opengis.net/def/crs/OGC/1.3/CRS84";

pub const GEOJSON: &str = "application/geo+json";
pub const JSON: &str = "application/json";
pub const HTML: &str = "text/html";
pub const OPENAPI: &str = "application/vnd.oai.openapi+json;version=3.1";

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OgcError {
    /// A parameter with a value the API cannot take; the message names it and what it takes.
    #[error("parameter '{name}': {reason}")]
    BadParameter { name: String, reason: String },
    #[error("unknown parameter '{name}'; {allowed}")]
    UnknownParameter { name: String, allowed: String },
    #[error("parameter '{0}' is given more than once; give it once")]
    Repeated(String),
    #[error("no collection '{0}'; GET /ogc/collections lists them")]
    NoCollection(String),
    #[error("collection '{collection}' has no feature {id}")]
    NoFeature { collection: String, id: String },
    #[error("no tile matrix set '{0}'; this server tiles in WebMercatorQuad (GET /ogc/tileMatrixSets)")]
    NoMatrixSet(String),
    #[error("cannot convert coordinates to or from {crs}: {reason}; ask for another crs or bbox-crs")]
    NoTransform { crs: String, reason: String },
}

impl OgcError {
    pub(crate) fn bad(name: &str, reason: impl Into<String>) -> OgcError {
        OgcError::BadParameter {
            name: name.to_string(),
            reason: reason.into(),
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            OgcError::NoCollection(_) | OgcError::NoFeature { .. } | OgcError::NoMatrixSet(_)
        )
    }
}

/// What every OGC document is made from: the catalog, the request's policy view of it, and the URL
/// of `/ogc` as the client reaches it.
pub struct Site<'a> {
    pub catalog: &'a Catalog,
    pub view: &'a View,
    /// Whose layers are collections too (`{scenario}.{layer id}`).
    pub scenarios: &'a Scenarios,
    /// e.g. `http://127.0.0.1:8080/ogc`, no trailing slash.
    pub base: &'a str,
}

/// West, south, east, north of a box given as 4 numbers, or 6 with heights (`w,s,zmin,e,n,zmax`);
/// the message says what is wrong otherwise.
pub(crate) fn box_corners(numbers: &[f64]) -> Result<[f64; 4], String> {
    match numbers {
        [w, s, e, n] | [w, s, _, e, n, _] => Ok([*w, *s, *e, *n]),
        other => Err(format!("has {} numbers; give 4 (or 6 with heights)", other.len())),
    }
}

/// A building layer for the module tests: `floors` (integer), `use` (text), `seen_at` (a time
/// as text) and `open` (boolean).
#[cfg(test)]
pub(crate) fn test_layer() -> crate::store::LayerMeta {
    use crate::feature::{FieldDef, FieldType, GeometryKind, LayerKind};
    let field = |name: &str, ty| FieldDef {
        name: name.into(),
        ty,
        personal: false,
    };
    crate::store::LayerMeta::new(
        "b",
        LayerKind::Building,
        GeometryKind::Polygon,
        vec![
            field("floors", FieldType::Int),
            field("use", FieldType::Text),
            field("seen_at", FieldType::Text),
            field("open", FieldType::Bool),
        ],
    )
}

/// One link object.
pub(crate) fn link(href: String, rel: &str, media_type: &str, title: &str) -> Value {
    json!({ "href": href, "rel": rel, "type": media_type, "title": title })
}

/// `self` in JSON and `alternate` in HTML (or the other way round) for the document at `href`
/// (which carries no `f`); `query` is the rest of its query string, if any.
pub(crate) fn self_links(href: &str, query: &str, json_type: &str, title: &str) -> [Value; 2] {
    let sep = if query.is_empty() { "" } else { "&" };
    [
        link(format!("{href}?{query}{sep}f=json"), "self", json_type, title),
        link(format!("{href}?{query}{sep}f=html"), "alternate", HTML, &format!("{title} (HTML)")),
    ]
}

/// The landing page `/ogc`.
pub fn landing(base: &str, raw_query: &str) -> Result<Value, OgcError> {
    params::Query::parse(raw_query)?.only_format()?;
    let [this, html] = self_links(base, "", JSON, "this document");
    Ok(json!({
        "title": "bando",
        "description": "OGC API Features over the province's layers (the same data and policy as bando's tiles and queries)",
        "links": [
            this,
            html,
            link(format!("{base}/conformance"), "conformance", JSON, "conformance classes"),
            link(format!("{base}/conformance"), "http://www.opengis.net/def/rel/ogc/1.0/conformance", JSON, "conformance classes"),
            link(format!("{base}/collections"), "data", JSON, "collections"),
            link(format!("{base}/collections"), "http://www.opengis.net/def/rel/ogc/1.0/data", JSON, "collections"),
            link(format!("{base}/tileMatrixSets"), "http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes", JSON, "tile matrix sets"),
            link(format!("{base}/tiles"), "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector", JSON, "vector tiles of all collections"),
            link(format!("{}/api", base.trim_end_matches("/ogc")), "service-desc", OPENAPI, "the OpenAPI document of all of bando"),
        ],
    }))
}

/// The conformance classes bando implements.
pub const CONFORMANCE: &[&str] = &[
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-common-2/1.0/conf/collections",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tileset",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tilesets-list",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/geodata-tilesets",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/dataset-tilesets",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt",
    "http://www.opengis.net/spec/tms/2.0/conf/tilematrixset",
    "http://www.opengis.net/spec/tms/2.0/conf/json-tilematrixset",
];

/// `/ogc/conformance`.
pub fn conformance(raw_query: &str) -> Result<Value, OgcError> {
    params::Query::parse(raw_query)?.only_format()?;
    Ok(json!({ "conformsTo": CONFORMANCE }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn landing_links_conformance_and_data() {
        let page = landing("http://h/ogc", "f=json").unwrap();
        assert!(landing("http://h/ogc", "x=1").is_err());
        let rels: Vec<&str> = page["links"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["rel"].as_str().unwrap())
            .collect();
        for rel in ["self", "alternate", "conformance", "data", "service-desc"] {
            assert!(rels.contains(&rel), "{rels:?}");
        }
        assert_eq!(page["links"][0]["href"], "http://h/ogc?f=json");
    }
}
