//! `/ogc/...`: OGC API Features. The format is negotiated here (`f=json|html`, else the `Accept`
//! header, else JSON); the documents come from [`crate::ogc`] (features on a blocking thread, where
//! their CRS conversions run, sent with their `Content-Crs`),
//! errors leave as OGC exceptions through the one status mapping (`error::OgcException`).
//! OGC API Tiles' tiles are `/tiles` tiles: the same tile source, cache and `respond` path.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, Request as HttpRequest, State};
use axum::http::header::{ACCEPT, CONTENT_TYPE, VARY};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};

use super::error::OgcException;
use super::respond::respond;
use super::tiles::{base_url, live_tile};
use super::AppState;
use crate::error::Error;
use crate::ogc::{self, html, GeoJson, OgcError, Site};
use crate::policy::View;
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
            let doc: serde_json::Value = serde_json::from_slice(&json).map_err(|e| Error::Internal(e.to_string()))?;
            (html::page(&doc, title).into_bytes(), "text/html; charset=utf-8")
        }
    };
    let mut response = ([(CONTENT_TYPE, media_type)], body).into_response();
    response.headers_mut().insert(VARY, HeaderValue::from_static("accept"));
    Ok(response)
}

/// Features in the negotiated format; GeoJSON carries the `Content-Crs` of its coordinates, and
/// the audit record of the request their number.
fn features(format: Format, features: GeoJson, title: &str) -> OgcResult {
    let mut response = reply(format, features.body, ogc::GEOJSON, title)?;
    if format == Format::Json {
        let crs = HeaderValue::from_str(&features.crs.header()).map_err(|e| Error::Internal(e.to_string()))?;
        response.headers_mut().insert("content-crs", crs);
    }
    super::audit::mark_returned(&mut response, features.features);
    Ok(response)
}

/// Runs `make` (features, with their CRS conversions) on a blocking thread.
async fn blocking(
    state: AppState,
    r: Request,
    make: impl FnOnce(&Site) -> crate::Result<GeoJson> + Send + 'static,
) -> Result<GeoJson, OgcException> {
    let features = tokio::task::spawn_blocking(move || make(&site(&state, &r)))
        .await
        .map_err(|e| Error::Internal(format!("features task failed: {e}")))??;
    Ok(features)
}

fn document(format: Format, doc: serde_json::Value, title: &str) -> OgcResult {
    typed_document(format, doc, ogc::JSON, title)
}

fn typed_document(format: Format, doc: serde_json::Value, json_type: &'static str, title: &str) -> OgcResult {
    let json = serde_json::to_vec(&doc).map_err(|e| Error::Internal(e.to_string()))?;
    reply(format, json, json_type, title)
}

fn path_of<T>(path: Result<Path<T>, PathRejection>) -> Result<T, OgcException> {
    path.map(|Path(p)| p)
        .map_err(|e| OgcException(Error::bad_request(format!("bad path: {}", e.body_text()))))
}

/// What a document is made from, for one request.
struct Request {
    base: String,
    query: String,
    format: Format,
    view: View,
}

fn request(state: &AppState, view: View, headers: &HeaderMap, query: Option<String>) -> Result<Request, OgcException> {
    let query = query.unwrap_or_default();
    Ok(Request {
        base: format!("{}/ogc", base_url(state, headers)),
        format: negotiate(&query, headers)?,
        query,
        view,
    })
}

fn site<'a>(state: &'a AppState, r: &'a Request) -> Site<'a> {
    Site {
        catalog: &state.catalog,
        view: &r.view,
        base: &r.base,
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
pub async fn landing(State(state): State<AppState>, view: View, headers: HeaderMap, RawQuery(q): RawQuery) -> OgcResult {
    let r = request(&state, view, &headers, q)?;
    document(r.format, ogc::landing(&r.base, &r.query)?, "bando")
}

#[utoipa::path(
    get,
    path = "/ogc/conformance",
    tag = "ogc",
    summary = "conformance classes",
    params(("f" = Option<String>, Query, description = "json or html; else the Accept header decides")),
    responses((status = 200, description = "conformsTo", content(("application/json"), ("text/html"))))
)]
pub async fn conformance(State(state): State<AppState>, view: View, headers: HeaderMap, RawQuery(q): RawQuery) -> OgcResult {
    let r = request(&state, view, &headers, q)?;
    document(r.format, ogc::conformance(&r.query)?, "conformance")
}

#[utoipa::path(
    get,
    path = "/ogc/collections",
    tag = "ogc",
    summary = "the collections (layers) the caller may see",
    params(("f" = Option<String>, Query, description = "json or html; else the Accept header decides")),
    responses((status = 200, description = "collections", content(("application/json"), ("text/html"))))
)]
pub async fn collections(State(state): State<AppState>, view: View, headers: HeaderMap, RawQuery(q): RawQuery) -> OgcResult {
    let r = request(&state, view, &headers, q)?;
    document(r.format, ogc::collections(&site(&state, &r), &r.query)?, "collections")
}

#[utoipa::path(
    get,
    path = "/ogc/collections/{id}",
    tag = "ogc",
    summary = "one collection",
    params(("id" = String, Path, example = "parcels"), ("f" = Option<String>, Query, description = "json or html; else the Accept header decides")),
    responses((status = 200, description = "collection", content(("application/json"), ("text/html"))))
)]
pub async fn collection(
    State(state): State<AppState>,
    view: View,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    RawQuery(q): RawQuery,
) -> OgcResult {
    let id = path_of(path)?;
    let r = request(&state, view, &headers, q)?;
    document(r.format, ogc::collection(&site(&state, &r), &id, &r.query)?, &id)
}

#[utoipa::path(
    get,
    path = "/ogc/collections/{id}/items",
    tag = "ogc",
    summary = "features of a collection (Part 1, Part 3 filter)",
    params(("id" = String, Path, example = "parcels"), ("limit" = Option<u32>, Query, minimum = 1, maximum = 10000), ("offset" = Option<u32>, Query), ("bbox" = Option<String>, Query, description = "w,s,e,n or w,s,zmin,e,n,zmax in bbox-crs (CRS84 unless given) and its axis order"), ("bbox-crs" = Option<String>, Query, description = "CRS URI of bbox, one of the collection's crs list"), ("crs" = Option<String>, Query, description = "CRS URI of the answer's coordinates, one of the collection's crs list (default CRS84)"), ("datetime" = Option<String>, Query, description = "instant or start/end with .. open"), ("filter" = Option<String>, Query, description = "CQL2 text or JSON"), ("filter-lang" = Option<String>, Query, description = "cql2-text or cql2-json"), ("filter-crs" = Option<String>, Query, description = "CRS URI of the filter's geometries (default CRS84)"), ("f" = Option<String>, Query, description = "json or html; else the Accept header decides")),
    responses((status = 200, description = "FeatureCollection", headers(("content-crs" = String, description = "<URI> of the CRS of the coordinates")), content(("application/geo+json"), ("text/html"))))
)]
pub async fn items(
    State(state): State<AppState>,
    view: View,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    RawQuery(q): RawQuery,
) -> OgcResult {
    let id = path_of(path)?;
    let r = request(&state, view, &headers, q)?;
    let format = r.format;
    let query = r.query.clone();
    let title = id.clone();
    let json = blocking(state, r, move |site| ogc::items(site, &id, &query)).await?;
    features(format, json, &title)
}

#[utoipa::path(
    get,
    path = "/ogc/collections/{id}/queryables",
    tag = "ogc",
    summary = "JSON Schema of what a filter may name",
    params(("id" = String, Path, example = "parcels"), ("f" = Option<String>, Query, description = "json or html; else the Accept header decides")),
    responses((status = 200, description = "queryables", content(("application/schema+json"), ("text/html"))))
)]
pub async fn queryables(
    State(state): State<AppState>,
    view: View,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    RawQuery(q): RawQuery,
) -> OgcResult {
    let id = path_of(path)?;
    let r = request(&state, view, &headers, q)?;
    let doc = ogc::queryables(&site(&state, &r), &id, &r.query)?;
    typed_document(r.format, doc, ogc::queryables::SCHEMA_JSON, &format!("queryables of {id}"))
}

#[utoipa::path(
    get,
    path = "/ogc/collections/{id}/items/{feature_id}",
    tag = "ogc",
    summary = "one feature",
    params(("id" = String, Path, example = "parcels"), ("feature_id" = String, Path, example = "1"), ("crs" = Option<String>, Query, description = "CRS URI of the answer's coordinates (default CRS84)"), ("f" = Option<String>, Query, description = "json or html; else the Accept header decides")),
    responses((status = 200, description = "Feature", headers(("content-crs" = String, description = "<URI> of the CRS of the coordinates")), content(("application/geo+json"), ("text/html"))))
)]
pub async fn item(
    State(state): State<AppState>,
    view: View,
    headers: HeaderMap,
    path: Result<Path<(String, String)>, PathRejection>,
    RawQuery(q): RawQuery,
) -> OgcResult {
    let (id, fid) = path_of(path)?;
    let r = request(&state, view, &headers, q)?;
    let (format, query, title) = (r.format, r.query.clone(), format!("{id} {fid}"));
    let json = blocking(state, r, move |site| ogc::item(site, &id, &fid, &query)).await?;
    features(format, json, &title)
}

#[utoipa::path(
    get,
    path = "/ogc/tileMatrixSets",
    tag = "ogc",
    summary = "tile matrix sets",
    params(("f" = Option<String>, Query, description = "json or html; else the Accept header decides")),
    responses((status = 200, description = "tileMatrixSets", content(("application/json"), ("text/html"))))
)]
pub async fn tile_matrix_sets(State(state): State<AppState>, view: View, headers: HeaderMap, RawQuery(q): RawQuery) -> OgcResult {
    let r = request(&state, view, &headers, q)?;
    document(
        r.format,
        ogc::tiles::tile_matrix_sets(&site(&state, &r), &r.query)?,
        "tile matrix sets",
    )
}

#[utoipa::path(
    get,
    path = "/ogc/tileMatrixSets/{id}",
    tag = "ogc",
    summary = "one tile matrix set",
    params(("id" = String, Path, example = "parcels"), ("f" = Option<String>, Query, description = "json or html; else the Accept header decides")),
    responses((status = 200, description = "tile matrix set", content(("application/json"), ("text/html"))))
)]
pub async fn tile_matrix_set(
    State(state): State<AppState>,
    view: View,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    RawQuery(q): RawQuery,
) -> OgcResult {
    let id = path_of(path)?;
    let r = request(&state, view, &headers, q)?;
    document(r.format, ogc::tiles::tile_matrix_set(&site(&state, &r), &id, &r.query)?, &id)
}

#[utoipa::path(
    get,
    path = "/ogc/collections/{id}/tiles",
    tag = "ogc",
    summary = "tilesets of a collection",
    params(("id" = String, Path, example = "parcels"), ("f" = Option<String>, Query, description = "json or html; else the Accept header decides")),
    responses((status = 200, description = "tilesets", content(("application/json"), ("text/html"))))
)]
pub async fn collection_tilesets(
    State(state): State<AppState>,
    view: View,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    RawQuery(q): RawQuery,
) -> OgcResult {
    let id = path_of(path)?;
    let r = request(&state, view, &headers, q)?;
    document(r.format, ogc::tiles::tilesets(&site(&state, &r), Some(&id), &r.query)?, &id)
}

#[utoipa::path(
    get,
    path = "/ogc/collections/{id}/tiles/{tms}",
    tag = "ogc",
    summary = "tileset metadata of a collection",
    params(("id" = String, Path, example = "parcels"), ("tms" = String, Path, example = "WebMercatorQuad"), ("f" = Option<String>, Query, description = "json or html; else the Accept header decides")),
    responses((status = 200, description = "tileset", content(("application/json"), ("text/html"))))
)]
pub async fn collection_tileset(
    State(state): State<AppState>,
    view: View,
    headers: HeaderMap,
    path: Result<Path<(String, String)>, PathRejection>,
    RawQuery(q): RawQuery,
) -> OgcResult {
    let (id, tms) = path_of(path)?;
    let r = request(&state, view, &headers, q)?;
    document(r.format, ogc::tiles::tileset_of(&site(&state, &r), Some(&id), &tms, &r.query)?, &id)
}

#[utoipa::path(
    get,
    path = "/ogc/tiles",
    tag = "ogc",
    summary = "tilesets of the dataset",
    params(("f" = Option<String>, Query, description = "json or html; else the Accept header decides")),
    responses((status = 200, description = "tilesets", content(("application/json"), ("text/html"))))
)]
pub async fn dataset_tilesets(State(state): State<AppState>, view: View, headers: HeaderMap, RawQuery(q): RawQuery) -> OgcResult {
    let r = request(&state, view, &headers, q)?;
    document(r.format, ogc::tiles::tilesets(&site(&state, &r), None, &r.query)?, "tilesets")
}

#[utoipa::path(
    get,
    path = "/ogc/tiles/{tms}",
    tag = "ogc",
    summary = "tileset metadata of the dataset",
    params(("tms" = String, Path, example = "WebMercatorQuad"), ("f" = Option<String>, Query, description = "json or html; else the Accept header decides")),
    responses((status = 200, description = "tileset", content(("application/json"), ("text/html"))))
)]
pub async fn dataset_tileset(
    State(state): State<AppState>,
    view: View,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    RawQuery(q): RawQuery,
) -> OgcResult {
    let tms = path_of(path)?;
    let r = request(&state, view, &headers, q)?;
    document(
        r.format,
        ogc::tiles::tileset_of(&site(&state, &r), None, &tms, &r.query)?,
        "tileset",
    )
}

/// One vector tile of `collection` (or of the dataset), sent as `/tiles` sends it.
async fn tile(
    state: AppState,
    view: View,
    collection: Option<String>,
    at: (String, String, String, String),
    request: HttpRequest,
) -> OgcResult {
    let (tms, z, row, col) = at;
    ogc::tiles::check_matrix_set(&tms)?;
    let tile = TileId::parse(&z, &col, &row)?;
    let r = Request {
        base: String::new(),
        query: request.uri().query().unwrap_or("").to_string(),
        format: Format::Json,
        view,
    };
    let layers = ogc::tiles::tile_layers(&site(&state, &r), collection.as_deref(), &r.query)?;
    let source = state.tiles.sources.layer_list(&state.catalog, &layers, &r.view)?;
    respond(live_tile(&state, source, tile), request.headers())
        .await
        .map_err(|e| OgcException(e.0))
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
pub async fn collection_tile(
    State(state): State<AppState>,
    view: View,
    path: Result<Path<CollectionTilePath>, PathRejection>,
    request: HttpRequest,
) -> OgcResult {
    let (id, tms, z, row, col) = path_of(path)?;
    tile(state, view, Some(id), (tms, z, row, col), request).await
}

#[utoipa::path(
    get,
    path = "/ogc/tiles/{tms}/{z}/{row}/{col}",
    tag = "ogc",
    summary = "a vector tile of several collections",
    params(("tms" = String, Path, example = "WebMercatorQuad"), ("z" = u8, Path, description = "tile matrix (zoom)"), ("row" = u32, Path), ("col" = u32, Path), ("collections" = Option<String>, Query, description = "comma list (default: every visible collection)")),
    responses((status = 200, description = "MVT", content_type = "application/vnd.mapbox-vector-tile"), (status = 204, description = "empty tile"))
)]
pub async fn dataset_tile(
    State(state): State<AppState>,
    view: View,
    path: Result<Path<(String, String, String, String)>, PathRejection>,
    request: HttpRequest,
) -> OgcResult {
    tile(state, view, None, path_of(path)?, request).await
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
