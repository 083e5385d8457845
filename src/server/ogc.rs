//! `/ogc/...`: OGC API Features. Every handler starts from an [`OgcRequest`]: the caller's policy
//! view, the `/ogc` URL as the client reaches it, the raw query and the negotiated format (`f=json|html`,
//! else the `Accept` header, else JSON). The documents come from [`crate::ogc`] (features on a
//! blocking thread, where their CRS conversions run, sent with their `Content-Crs`); errors leave
//! as OGC exceptions through the one status mapping (`error::OgcException`).
//! OGC API Tiles' tiles are `/tiles` tiles: the same tile source, cache and `respond` path.

use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequestParts, Path};
use axum::http::header::{ACCEPT, CONTENT_TYPE, VARY};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::error::OgcException;
use super::respond::respond;
use super::tiles::{base_url, live_tile};
use super::AppState;
use crate::error::Error;
use crate::ogc::{self, html, GeoJson, OgcError, Site};
use crate::policy::View;
use crate::scenarios::Scenarios;
use crate::tiles::TileId;

type OgcResult = Result<Response, OgcException>;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Format {
    Json,
    Html,
}

/// `f=` when given, else the media type the `Accept` header prefers (HTML or JSON), else JSON.
fn negotiate(query: &str, headers: &HeaderMap) -> Result<Format, OgcError> {
    if let Some((_, f)) = form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "f") {
        return match f.as_ref() {
            "json" | "geojson" | "application/json" | "application/geo+json" => Ok(Format::Json),
            "html" | "text/html" => Ok(Format::Html),
            other => Err(OgcError::bad(
                "f",
                format!("'{other}' is not a format of this API; use f=json or f=html"),
            )),
        };
    }
    let accept = headers.get(ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
    let mut best = (Format::Json, 0.0f32);
    for item in accept.split(',') {
        let mut parts = item.split(';').map(str::trim);
        let media = parts.next().unwrap_or("");
        let q = parts.find_map(|p| p.strip_prefix("q=")).and_then(|q| q.parse().ok()).unwrap_or(1.0);
        let format = match media {
            "text/html" | "application/xhtml+xml" => Format::Html,
            "application/json" | "application/geo+json" | "application/schema+json" => Format::Json,
            _ => continue,
        };
        if q > best.1 {
            best = (format, q);
        }
    }
    Ok(best.0)
}

/// The answer in the negotiated format: `json` bytes as `json_type`, or their HTML page.
fn reply(format: Format, json: Vec<u8>, json_type: &'static str, title: &str) -> OgcResult {
    let (body, media_type) = match format {
        Format::Json => (json, json_type),
        Format::Html => {
            let doc: Value = serde_json::from_slice(&json).map_err(|e| Error::Internal(e.to_string()))?;
            (html::page(&doc, title).into_bytes(), "text/html; charset=utf-8")
        }
    };
    let mut response = ([(CONTENT_TYPE, media_type)], body).into_response();
    response.headers_mut().insert(VARY, HeaderValue::from_static("accept"));
    Ok(response)
}

fn path_of<T>(path: Result<Path<T>, PathRejection>) -> Result<T, OgcException> {
    path.map(|Path(p)| p)
        .map_err(|e| OgcException(Error::bad_request(format!("bad path: {}", e.body_text()))))
}

/// One `/ogc` request as every handler starts from it.
pub struct OgcRequest {
    state: AppState,
    view: View,
    /// The scenarios as they were when the request came (their layers are collections too).
    scenarios: Arc<Scenarios>,
    headers: HeaderMap,
    /// e.g. `http://127.0.0.1:8080/ogc`, as the client reaches it.
    base: String,
    /// The raw (percent-encoded) query string.
    query: String,
    format: Format,
}

impl FromRequestParts<AppState> for OgcRequest {
    type Rejection = OgcException;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<OgcRequest, OgcException> {
        let view = View::from_request_parts(parts, state).await.unwrap_or_else(|never| match never {});
        let query = parts.uri.query().unwrap_or_default().to_string();
        Ok(OgcRequest {
            base: format!("{}/ogc", base_url(state, &parts.headers)),
            format: negotiate(&query, &parts.headers)?,
            query,
            view,
            scenarios: state.scenarios.current(),
            headers: parts.headers.clone(),
            state: state.clone(),
        })
    }
}

impl OgcRequest {
    fn site(&self) -> Site<'_> {
        Site {
            catalog: &self.state.catalog,
            view: &self.view,
            scenarios: &self.scenarios,
            base: &self.base,
        }
    }

    /// A JSON document, or its HTML page.
    fn document(&self, doc: Result<Value, OgcError>, title: &str) -> OgcResult {
        self.typed_document(doc, ogc::JSON, title)
    }

    fn typed_document(&self, doc: Result<Value, OgcError>, json_type: &'static str, title: &str) -> OgcResult {
        let json = serde_json::to_vec(&doc?).map_err(|e| Error::Internal(e.to_string()))?;
        reply(self.format, json, json_type, title)
    }

    /// Features made by `make` (from the site and the query) on a blocking thread, where their
    /// CRS conversions run; GeoJSON carries the `Content-Crs` of its coordinates, and the audit
    /// record of the request their number.
    async fn features(self, title: &str, make: impl FnOnce(&Site, &str) -> crate::Result<GeoJson> + Send + 'static) -> OgcResult {
        let format = self.format;
        let features = tokio::task::spawn_blocking(move || make(&self.site(), &self.query))
            .await
            .map_err(|e| Error::Internal(format!("features task failed: {e}")))??;
        let mut response = reply(format, features.body, ogc::GEOJSON, title)?;
        if format == Format::Json {
            let crs = HeaderValue::from_str(&features.crs.header()).map_err(|e| Error::Internal(e.to_string()))?;
            response.headers_mut().insert("content-crs", crs);
        }
        super::audit::mark_returned(&mut response, features.features);
        Ok(response)
    }

    /// One vector tile of `collection` (or of the dataset), sent as `/tiles` sends it.
    async fn tile(self, collection: Option<&str>, (tms, z, row, col): (String, String, String, String)) -> OgcResult {
        ogc::tiles::check_matrix_set(&tms)?;
        let tile = TileId::parse(&z, &col, &row)?;
        let layers = ogc::tiles::tile_layers(&self.site(), collection, &self.query)?;
        let source = self.state.tiles.sources.layer_list(&self.state.catalog, &layers, &self.view)?;
        respond(live_tile(&self.state, source, tile), &self.headers)
            .await
            .map_err(|e| OgcException(e.0))
    }
}

#[utoipa::path(
    get,
    path = "/ogc",
    tag = "ogc",
    summary = "OGC API landing page",
    params(("f" = Option<String>, Query, description = "json or html; else the Accept header decides")),
    responses((status = 200, description = "landing page", content(("application/json"), ("text/html"))))
)]
pub async fn landing(r: OgcRequest) -> OgcResult {
    r.document(ogc::landing(&r.base, &r.query), "bando")
}

#[utoipa::path(
    get,
    path = "/ogc/conformance",
    tag = "ogc",
    summary = "conformance classes",
    params(("f" = Option<String>, Query, description = "json or html; else the Accept header decides")),
    responses((status = 200, description = "conformsTo", content(("application/json"), ("text/html"))))
)]
pub async fn conformance(r: OgcRequest) -> OgcResult {
    r.document(ogc::conformance(&r.query), "conformance")
}

#[utoipa::path(
    get,
    path = "/ogc/collections",
    tag = "ogc",
    summary = "the collections (layers) the caller may see",
    params(("f" = Option<String>, Query, description = "json or html; else the Accept header decides")),
    responses((status = 200, description = "collections", content(("application/json"), ("text/html"))))
)]
pub async fn collections(r: OgcRequest) -> OgcResult {
    r.document(ogc::collections(&r.site(), &r.query), "collections")
}

#[utoipa::path(
    get,
    path = "/ogc/collections/{id}",
    tag = "ogc",
    summary = "one collection",
    params(("id" = String, Path, example = "parcels"), ("f" = Option<String>, Query, description = "json or html; else the Accept header decides")),
    responses((status = 200, description = "collection", content(("application/json"), ("text/html"))))
)]
pub async fn collection(r: OgcRequest, path: Result<Path<String>, PathRejection>) -> OgcResult {
    let id = path_of(path)?;
    r.document(ogc::collection(&r.site(), &id, &r.query), &id)
}

#[utoipa::path(
    get,
    path = "/ogc/collections/{id}/items",
    tag = "ogc",
    summary = "features of a collection (Part 1, Part 3 filter)",
    params(("id" = String, Path, example = "parcels"), ("limit" = Option<u32>, Query, minimum = 1, maximum = 10000), ("offset" = Option<u32>, Query), ("bbox" = Option<String>, Query, description = "w,s,e,n or w,s,zmin,e,n,zmax in bbox-crs (CRS84 unless given) and its axis order"), ("bbox-crs" = Option<String>, Query, description = "CRS URI of bbox, one of the collection's crs list"), ("crs" = Option<String>, Query, description = "CRS URI of the answer's coordinates, one of the collection's crs list (default CRS84)"), ("datetime" = Option<String>, Query, description = "instant or start/end with .. open"), ("filter" = Option<String>, Query, description = "CQL2 text or JSON"), ("filter-lang" = Option<String>, Query, description = "cql2-text or cql2-json"), ("filter-crs" = Option<String>, Query, description = "CRS URI of the filter's geometries (default CRS84)"), ("f" = Option<String>, Query, description = "json or html; else the Accept header decides")),
    responses((status = 200, description = "FeatureCollection", headers(("content-crs" = String, description = "<URI> of the CRS of the coordinates")), content(("application/geo+json"), ("text/html"))))
)]
pub async fn items(r: OgcRequest, path: Result<Path<String>, PathRejection>) -> OgcResult {
    let id = path_of(path)?;
    let title = id.clone();
    r.features(&title, move |site, query| ogc::items(site, &id, query)).await
}

#[utoipa::path(
    get,
    path = "/ogc/collections/{id}/queryables",
    tag = "ogc",
    summary = "JSON Schema of what a filter may name",
    params(("id" = String, Path, example = "parcels"), ("f" = Option<String>, Query, description = "json or html; else the Accept header decides")),
    responses((status = 200, description = "queryables", content(("application/schema+json"), ("text/html"))))
)]
pub async fn queryables(r: OgcRequest, path: Result<Path<String>, PathRejection>) -> OgcResult {
    let id = path_of(path)?;
    let doc = ogc::queryables(&r.site(), &id, &r.query);
    r.typed_document(doc, ogc::queryables::SCHEMA_JSON, &format!("queryables of {id}"))
}

#[utoipa::path(
    get,
    path = "/ogc/collections/{id}/items/{feature_id}",
    tag = "ogc",
    summary = "one feature",
    params(("id" = String, Path, example = "parcels"), ("feature_id" = String, Path, example = "1"), ("crs" = Option<String>, Query, description = "CRS URI of the answer's coordinates (default CRS84)"), ("f" = Option<String>, Query, description = "json or html; else the Accept header decides")),
    responses((status = 200, description = "Feature", headers(("content-crs" = String, description = "<URI> of the CRS of the coordinates")), content(("application/geo+json"), ("text/html"))))
)]
pub async fn item(r: OgcRequest, path: Result<Path<(String, String)>, PathRejection>) -> OgcResult {
    let (id, fid) = path_of(path)?;
    let title = format!("{id} {fid}");
    r.features(&title, move |site, query| ogc::item(site, &id, &fid, query)).await
}

#[utoipa::path(
    get,
    path = "/ogc/tileMatrixSets",
    tag = "ogc",
    summary = "tile matrix sets",
    params(("f" = Option<String>, Query, description = "json or html; else the Accept header decides")),
    responses((status = 200, description = "tileMatrixSets", content(("application/json"), ("text/html"))))
)]
pub async fn tile_matrix_sets(r: OgcRequest) -> OgcResult {
    r.document(ogc::tiles::tile_matrix_sets(&r.site(), &r.query), "tile matrix sets")
}

#[utoipa::path(
    get,
    path = "/ogc/tileMatrixSets/{id}",
    tag = "ogc",
    summary = "one tile matrix set",
    params(("id" = String, Path, example = "parcels"), ("f" = Option<String>, Query, description = "json or html; else the Accept header decides")),
    responses((status = 200, description = "tile matrix set", content(("application/json"), ("text/html"))))
)]
pub async fn tile_matrix_set(r: OgcRequest, path: Result<Path<String>, PathRejection>) -> OgcResult {
    let id = path_of(path)?;
    r.document(ogc::tiles::tile_matrix_set(&r.site(), &id, &r.query), &id)
}

#[utoipa::path(
    get,
    path = "/ogc/collections/{id}/tiles",
    tag = "ogc",
    summary = "tilesets of a collection",
    params(("id" = String, Path, example = "parcels"), ("f" = Option<String>, Query, description = "json or html; else the Accept header decides")),
    responses((status = 200, description = "tilesets", content(("application/json"), ("text/html"))))
)]
pub async fn collection_tilesets(r: OgcRequest, path: Result<Path<String>, PathRejection>) -> OgcResult {
    let id = path_of(path)?;
    r.document(ogc::tiles::tilesets(&r.site(), Some(&id), &r.query), &id)
}

#[utoipa::path(
    get,
    path = "/ogc/collections/{id}/tiles/{tms}",
    tag = "ogc",
    summary = "tileset metadata of a collection",
    params(("id" = String, Path, example = "parcels"), ("tms" = String, Path, example = "WebMercatorQuad"), ("f" = Option<String>, Query, description = "json or html; else the Accept header decides")),
    responses((status = 200, description = "tileset", content(("application/json"), ("text/html"))))
)]
pub async fn collection_tileset(r: OgcRequest, path: Result<Path<(String, String)>, PathRejection>) -> OgcResult {
    let (id, tms) = path_of(path)?;
    r.document(ogc::tiles::tileset_of(&r.site(), Some(&id), &tms, &r.query), &id)
}

#[utoipa::path(
    get,
    path = "/ogc/tiles",
    tag = "ogc",
    summary = "tilesets of the dataset",
    params(("f" = Option<String>, Query, description = "json or html; else the Accept header decides")),
    responses((status = 200, description = "tilesets", content(("application/json"), ("text/html"))))
)]
pub async fn dataset_tilesets(r: OgcRequest) -> OgcResult {
    r.document(ogc::tiles::tilesets(&r.site(), None, &r.query), "tilesets")
}

#[utoipa::path(
    get,
    path = "/ogc/tiles/{tms}",
    tag = "ogc",
    summary = "tileset metadata of the dataset",
    params(("tms" = String, Path, example = "WebMercatorQuad"), ("f" = Option<String>, Query, description = "json or html; else the Accept header decides")),
    responses((status = 200, description = "tileset", content(("application/json"), ("text/html"))))
)]
pub async fn dataset_tileset(r: OgcRequest, path: Result<Path<String>, PathRejection>) -> OgcResult {
    let tms = path_of(path)?;
    r.document(ogc::tiles::tileset_of(&r.site(), None, &tms, &r.query), "tileset")
}

/// Collection, tile matrix set, tile matrix, row, column.
type CollectionTilePath = (String, String, String, String, String);

#[utoipa::path(
    get,
    path = "/ogc/collections/{id}/tiles/{tms}/{z}/{row}/{col}",
    tag = "ogc",
    summary = "a vector tile of a collection (the /tiles tile)",
    params(("id" = String, Path, example = "parcels"), ("tms" = String, Path, example = "WebMercatorQuad"), ("z" = u8, Path, description = "tile matrix (zoom)"), ("row" = u32, Path), ("col" = u32, Path)),
    responses((status = 200, description = "MVT", content_type = "application/vnd.mapbox-vector-tile"), (status = 204, description = "empty tile"))
)]
pub async fn collection_tile(r: OgcRequest, path: Result<Path<CollectionTilePath>, PathRejection>) -> OgcResult {
    let (id, tms, z, row, col) = path_of(path)?;
    r.tile(Some(&id), (tms, z, row, col)).await
}

#[utoipa::path(
    get,
    path = "/ogc/tiles/{tms}/{z}/{row}/{col}",
    tag = "ogc",
    summary = "a vector tile of several collections",
    params(("tms" = String, Path, example = "WebMercatorQuad"), ("z" = u8, Path, description = "tile matrix (zoom)"), ("row" = u32, Path), ("col" = u32, Path), ("collections" = Option<String>, Query, description = "comma list (default: every visible collection)")),
    responses((status = 200, description = "MVT", content_type = "application/vnd.mapbox-vector-tile"), (status = 204, description = "empty tile"))
)]
pub async fn dataset_tile(r: OgcRequest, path: Result<Path<(String, String, String, String)>, PathRejection>) -> OgcResult {
    r.tile(None, path_of(path)?).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_follows_f_then_accept() {
        let mut headers = HeaderMap::new();
        assert_eq!(negotiate("", &headers).unwrap(), Format::Json);
        headers.insert(ACCEPT, HeaderValue::from_static("text/html,application/xhtml+xml,*/*;q=0.8"));
        assert_eq!(negotiate("", &headers).unwrap(), Format::Html);
        assert_eq!(negotiate("f=json", &headers).unwrap(), Format::Json);
        headers.insert(ACCEPT, HeaderValue::from_static("application/geo+json, text/html;q=0.5"));
        assert_eq!(negotiate("limit=1", &headers).unwrap(), Format::Json);
        assert!(negotiate("f=xml", &headers).is_err());
    }
}
