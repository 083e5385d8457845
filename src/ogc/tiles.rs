//! OGC API Tiles documents: the WebMercatorQuad tile matrix set (OGC 2D-TMS JSON), the vector
//! tilesets of each collection and of the dataset (several layers), with their templated tile
//! links. The tiles themselves are bando's `/tiles` tiles: the server sends them through the same
//! tile source, cache and response path, so both addresses give the same bytes.

use serde_json::{json, Value};

use super::params::Query;
use super::{link, self_links, OgcError, Site, JSON};
use crate::tiles::files::MVT_TYPE;
use crate::tiles::math::MAX_ZOOM;

pub const WEB_MERCATOR_QUAD: &str = "WebMercatorQuad";
const TMS_URI: &str = "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad";
const EPSG_3857: &str = "http://www.opengis.net/def/crs/EPSG/0/3857";
/// Half the width of the Web Mercator world, metres.
const ORIGIN: f64 = 20_037_508.342_789_244;
/// Scale denominator and metres per pixel of zoom 0 (256-pixel tiles, 0.28 mm pixels).
const SCALE_0: f64 = 559_082_264.028_717_8;
const CELL_0: f64 = 156_543.033_928_041;

/// The tile matrix set `id` when it is one this server tiles in.
pub fn check_matrix_set(id: &str) -> Result<(), OgcError> {
    if id == WEB_MERCATOR_QUAD {
        Ok(())
    } else {
        Err(OgcError::NoMatrixSet(id.to_string()))
    }
}

/// `/ogc/tileMatrixSets`.
pub fn tile_matrix_sets(site: &Site, raw_query: &str) -> Result<Value, OgcError> {
    Query::parse(raw_query)?.only_format()?;
    let href = format!("{}/tileMatrixSets/{WEB_MERCATOR_QUAD}", site.base);
    let [this, html] = self_links(&format!("{}/tileMatrixSets", site.base), "", JSON, "tile matrix sets");
    Ok(json!({
        "tileMatrixSets": [{
            "id": WEB_MERCATOR_QUAD,
            "title": "Google Maps compatible for the World",
            "uri": TMS_URI,
            "links": [link(href, "self", JSON, WEB_MERCATOR_QUAD)],
        }],
        "links": [this, html],
    }))
}

/// `/ogc/tileMatrixSets/{id}`: the full definition, zoom 0 to bando's deepest, in the keys of
/// TMS 2.0 and, beside them, of TMS 1.0 (`identifier`, `supportedCRS`, `boundingBox`,
/// `topLeftCorner`), which GDAL before 3.7 reads.
pub fn tile_matrix_set(site: &Site, id: &str, raw_query: &str) -> Result<Value, OgcError> {
    Query::parse(raw_query)?.only_format()?;
    check_matrix_set(id)?;
    let matrices: Vec<Value> = (0..=MAX_ZOOM)
        .map(|z| {
            let n = 1u64 << z;
            let factor = n as f64;
            json!({
                "id": z.to_string(),
                "identifier": z.to_string(),
                "topLeftCorner": [-ORIGIN, ORIGIN],
                "scaleDenominator": SCALE_0 / factor,
                "cellSize": CELL_0 / factor,
                "cornerOfOrigin": "topLeft",
                "pointOfOrigin": [-ORIGIN, ORIGIN],
                "tileWidth": 256,
                "tileHeight": 256,
                "matrixWidth": n,
                "matrixHeight": n,
            })
        })
        .collect();
    let [this, html] = self_links(&format!("{}/tileMatrixSets/{id}", site.base), "", JSON, id);
    Ok(json!({
        "id": WEB_MERCATOR_QUAD,
        "title": "Google Maps compatible for the World",
        "uri": TMS_URI,
        "identifier": WEB_MERCATOR_QUAD,
        "crs": EPSG_3857,
        "supportedCRS": EPSG_3857,
        "boundingBox": { "crs": EPSG_3857, "lowerCorner": [-ORIGIN, -ORIGIN], "upperCorner": [ORIGIN, ORIGIN] },
        "orderedAxes": ["E", "N"],
        "wellKnownScaleSet": "http://www.opengis.net/def/wkss/OGC/1.0/GoogleMapsCompatible",
        "tileMatrices": matrices,
        "links": [this, html],
    }))
}

/// The one tileset of `href` (a collection's or the dataset's `/tiles`) over `layers`.
fn tileset(site: &Site, href: &str, title: &str, layers: &[String]) -> Value {
    let at = format!("{href}/{WEB_MERCATOR_QUAD}");
    let [this, html] = self_links(&at, "", JSON, title);
    let mut template = link(
        format!("{at}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}"),
        "item",
        MVT_TYPE,
        "vector tiles",
    );
    template["templated"] = true.into();
    let scheme = format!("{}/tileMatrixSets/{WEB_MERCATOR_QUAD}", site.base);
    let layers: Vec<Value> = layers.iter().map(|l| json!({ "id": l, "dataType": "vector" })).collect();
    json!({
        "title": title,
        "dataType": "vector",
        "crs": EPSG_3857,
        "tileMatrixSetURI": TMS_URI,
        "layers": layers,
        "links": [this, html, template, link(scheme, "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme", JSON, WEB_MERCATOR_QUAD)],
    })
}

/// The layers a tileset draws: one collection, or every collection the request sees.
fn layers_of(site: &Site, collection: Option<&str>) -> Result<Vec<String>, OgcError> {
    Ok(match collection {
        Some(id) => vec![super::access::layer(site.catalog, site.view, id)?.meta.name.clone()],
        None => super::access::layers(site.catalog, site.view)
            .iter()
            .map(|l| l.meta.name.clone())
            .collect(),
    })
}

/// `/ogc/collections/{id}/tiles` (or `/ogc/tiles` without a collection): the tileset list.
pub fn tilesets(site: &Site, collection: Option<&str>, raw_query: &str) -> Result<Value, OgcError> {
    Query::parse(raw_query)?.only_format()?;
    let layers = layers_of(site, collection)?;
    let href = match collection {
        Some(id) => format!("{}/collections/{id}/tiles", site.base),
        None => format!("{}/tiles", site.base),
    };
    let title = collection.unwrap_or("all collections");
    let [this, html] = self_links(&href, "", JSON, "tilesets");
    Ok(json!({ "tilesets": [tileset(site, &href, title, &layers)], "links": [this, html] }))
}

/// `/ogc/collections/{id}/tiles/{tms}` (or `/ogc/tiles/{tms}`): one tileset's metadata.
pub fn tileset_of(site: &Site, collection: Option<&str>, matrix_set: &str, raw_query: &str) -> Result<Value, OgcError> {
    Query::parse(raw_query)?.only_format()?;
    check_matrix_set(matrix_set)?;
    let layers = layers_of(site, collection)?;
    let href = match collection {
        Some(id) => format!("{}/collections/{id}/tiles", site.base),
        None => format!("{}/tiles", site.base),
    };
    Ok(tileset(site, &href, collection.unwrap_or("all collections"), &layers))
}

/// The `/tiles` layer list of a tile request: the collection, or the dataset's layers (at most
/// the 32 a tile may draw; `collections=a,b` picks them).
pub fn tile_layers(site: &Site, collection: Option<&str>, raw_query: &str) -> Result<String, OgcError> {
    let query = Query::parse(raw_query)?;
    if collection.is_some() {
        query.only_format()?;
        return Ok(layers_of(site, collection)?.join(","));
    }
    query.only(&["f", "collections"], "dataset tiles take collections=<id>,<id> (at most 32)")?;
    match query.get("collections") {
        Some(list) => Ok(list.to_string()),
        None => Ok(layers_of(site, None)?.into_iter().take(32).collect::<Vec<_>>().join(",")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::Catalog;
    use crate::policy::View;

    #[test]
    fn web_mercator_quad_halves_per_zoom() {
        let catalog = Catalog::empty();
        let view = View::open();
        let scenarios = crate::scenarios::Scenarios::default();
        let site = Site {
            catalog: &catalog,
            view: &view,
            scenarios: &scenarios,
            base: "http://h/ogc",
        };
        let tms = tile_matrix_set(&site, WEB_MERCATOR_QUAD, "").unwrap();
        let m = tms["tileMatrices"].as_array().unwrap();
        assert_eq!(m.len(), MAX_ZOOM as usize + 1);
        assert_eq!(m[3]["matrixWidth"], 8);
        assert!((m[1]["cellSize"].as_f64().unwrap() - 78_271.516_964_020_5).abs() < 1e-6);
        assert!(tile_matrix_set(&site, "WorldCRS84Quad", "").is_err());
    }
}
