//! `/tiles/{layers}/{z}/{x}/{y}.mvt` and `/tiles/{layers}.json`, plus the response plumbing the
//! scenario routes share: absolute base URLs, gzip negotiation, ETag / 304, 204 for empty tiles.
//! Rendering runs on the blocking pool; a cache hit is answered without leaving the async thread.

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::error::{ApiError, ApiResult};
use super::AppState;
use crate::error::Error;
use std::sync::Arc;

use crate::tiles::pmtiles::{self, PmtilesArchive};
use crate::tiles::{tilejson, EncodedTile, TileError, TileId, TileSource};

pub const MVT_TYPE: &str = "application/vnd.mapbox-vector-tile";
const TILE_CACHE_CONTROL: &str = "public, max-age=60";

/// Turns axum's path rejection (e.g. bytes that are not UTF-8) into our JSON 400.
pub fn path_of<T>(path: Result<Path<T>, PathRejection>) -> ApiResult<T> {
    path.map(|Path(p)| p)
        .map_err(|e| ApiError(Error::bad_request(format!("bad path: {}", e.body_text()))))
}

/// The URL clients reach this server at: `--public-url`, else X-Forwarded-Proto/Host, else Host.
pub fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(url) = &state.config.public_url {
        return url.clone();
    }
    let clean = |v: &HeaderValue| -> Option<String> {
        let s = v.to_str().ok()?.split(',').next()?.trim().to_string();
        let ok = !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:[]_".contains(&b));
        ok.then_some(s)
    };
    let host = headers
        .get("x-forwarded-host")
        .and_then(clean)
        .or_else(|| headers.get(header::HOST).and_then(clean))
        .unwrap_or_else(|| state.config.addr.to_string());
    let proto = headers
        .get("x-forwarded-proto")
        .and_then(clean)
        .filter(|p| p == "https" || p == "http")
        .unwrap_or_else(|| "http".into());
    format!("{proto}://{host}")
}

/// Whether the client takes `Content-Encoding: gzip` (`gzip` or `*`, not refused with `q=0`).
pub fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';').map(str::trim);
            let coding = parts.next().unwrap_or("");
            let refused = parts.any(|p| p.strip_prefix("q=").is_some_and(|q| q.parse::<f32>().is_ok_and(|q| q == 0.0)));
            (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
        })
}

fn etag_matches(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == etag || t == "*")
}

fn not_modified(etag: &str) -> Response {
    let mut r = StatusCode::NOT_MODIFIED.into_response();
    if let Ok(v) = HeaderValue::from_str(etag) {
        r.headers_mut().insert(header::ETAG, v);
    }
    r
}

/// The HTTP form of a finished tile: 204 when empty, gzip when the client takes it.
pub fn tile_response(tile: &EncodedTile, gzip_ok: bool) -> Response {
    let mut response = if tile.is_empty() {
        StatusCode::NO_CONTENT.into_response()
    } else {
        let (body, gzipped) = match (&tile.gzip, gzip_ok) {
            (Some(gz), true) => (gz.clone(), true),
            _ => (tile.raw.clone(), false),
        };
        let mut r = Response::new(Body::from(body));
        r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(MVT_TYPE));
        if gzipped {
            r.headers_mut().insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        r
    };
    let h = response.headers_mut();
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(TILE_CACHE_CONTROL));
    if let Ok(v) = HeaderValue::from_str(&tile.etag) {
        h.insert(header::ETAG, v);
    }
    response
}

/// Answers one tile of `source`: the cached tile if any (304 when its ETag matches), else a 304
/// on an ETag known without rendering, else renders on the blocking pool.
pub async fn serve_tile(state: &AppState, source: Arc<TileSource>, tile: TileId, headers: &HeaderMap) -> ApiResult<Response> {
    let gzip_ok = accepts_gzip(headers);
    if let Some(hit) = state.tiles.cached(&source, tile) {
        if etag_matches(headers, &hit.etag) {
            return Ok(not_modified(&hit.etag));
        }
        return Ok(with_cache_status(tile_response(&hit, gzip_ok), "hit"));
    }
    let etag = source.etag(tile);
    if etag_matches(headers, &etag) {
        return Ok(not_modified(&etag));
    }
    let tiles = state.tiles.clone();
    let encoded = tokio::task::spawn_blocking(move || tiles.tile(&source, tile, gzip_ok))
        .await
        .map_err(|e| Error::Internal(format!("tile task failed: {e}")))?;
    Ok(with_cache_status(tile_response(&encoded, gzip_ok), "miss"))
}

/// `X-Cache: hit|miss`, for operators and for tests of cache invalidation.
fn with_cache_status(mut response: Response, status: &'static str) -> Response {
    response.headers_mut().insert("x-cache", HeaderValue::from_static(status));
    response
}

/// Splits `123.mvt` into `123`; anything else is not a tile path.
pub fn strip_mvt(y: &str) -> ApiResult<&str> {
    y.strip_suffix(".mvt").ok_or_else(|| {
        ApiError(Error::not_found(format!(
            "'{}' is not a tile: tile paths end in /{{z}}/{{x}}/{{y}}.mvt",
            y.escape_default()
        )))
    })
}

/// The request comes last and whole (not as a `HeaderMap`, which axum would copy).
pub async fn layer_tile(
    State(state): State<AppState>,
    path: Result<Path<(String, String, String, String)>, PathRejection>,
    request: Request,
) -> ApiResult<Response> {
    let (layers, z, x, y) = path_of(path)?;
    let tile = TileId::parse(&z, &x, strip_mvt(&y)?)?;
    if let Some(archive) = state.tiles.archives.get(&layers) {
        return archive_tile(archive, tile, request.headers()).await;
    }
    let source = state.tiles.sources.layer_list(&state.catalog, &layers)?;
    serve_tile(&state, source, tile, request.headers()).await
}

/// A tile of a PMTiles archive, read by range on the blocking pool.
async fn archive_tile(archive: Arc<PmtilesArchive>, tile: TileId, headers: &HeaderMap) -> ApiResult<Response> {
    let etag = format!("\"{}-{}\"", archive.version, pmtiles::tile_id(tile));
    if etag_matches(headers, &etag) {
        return Ok(not_modified(&etag));
    }
    let gzip_ok = accepts_gzip(headers);
    let encoded = tokio::task::spawn_blocking(move || -> Result<EncodedTile, TileError> {
        let damaged = |e: std::io::Error| TileError::BadArchive(format!("{}: {e}", archive.name));
        Ok(match archive.get(tile)? {
            None => EncodedTile::new(Vec::new(), etag, None),
            Some(stored) if archive.tiles_gzipped() => EncodedTile::from_gzip(stored, etag, !gzip_ok).map_err(damaged)?,
            Some(stored) => EncodedTile::new(stored, etag, None),
        })
    })
    .await
    .map_err(|e| Error::Internal(format!("tile task failed: {e}")))??;
    Ok(tile_response(&encoded, gzip_ok))
}

/// TileJSON of a PMTiles archive, from its header and metadata.
fn archive_tilejson(archive: &PmtilesArchive, base: &str) -> serde_json::Value {
    let extent = archive.extent();
    let mut doc = match &archive.metadata {
        serde_json::Value::Object(m) => serde_json::Value::Object(m.clone()),
        _ => serde_json::json!({}),
    };
    doc["tilejson"] = "3.0.0".into();
    doc["name"] = doc.get("name").cloned().unwrap_or_else(|| archive.name.clone().into());
    doc["tiles"] = serde_json::json!([format!("{base}/tiles/{}/{{z}}/{{x}}/{{y}}.mvt", archive.name)]);
    doc["minzoom"] = extent.minzoom.into();
    doc["maxzoom"] = extent.maxzoom.into();
    doc["bounds"] = serde_json::json!(extent.bounds);
    doc["center"] = serde_json::json!(extent.center);
    if doc.get("vector_layers").is_none() {
        doc["vector_layers"] = serde_json::json!([]);
    }
    doc
}

pub async fn layer_tilejson(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<serde_json::Value>> {
    let file = path_of(path)?;
    let layers = file.strip_suffix(".json").ok_or_else(|| {
        ApiError(Error::not_found(format!(
            "no route /tiles/{}; TileJSON is at /tiles/{{layers}}.json",
            file.escape_default()
        )))
    })?;
    if let Some(archive) = state.tiles.archives.get(layers) {
        return Ok(Json(archive_tilejson(&archive, &base_url(&state, &headers))));
    }
    let source = state.tiles.sources.layer_list(&state.catalog, layers)?;
    let url = format!("{}/tiles/{layers}/{{z}}/{{x}}/{{y}}.mvt", base_url(&state, &headers));
    let description = format!("bando layers {layers}");
    Ok(Json(tilejson::for_source(&source, layers, &description, &url, None)))
}

/// `/fonts/{fontstack}/{range}.pbf`: SDF glyphs for map labels.
pub async fn glyphs(State(state): State<AppState>, path: Result<Path<(String, String)>, PathRejection>) -> ApiResult<Response> {
    let (fontstack, file) = path_of(path)?;
    let range = file
        .strip_suffix(".pbf")
        .ok_or_else(|| {
            ApiError(Error::not_found(format!(
                "'{}' is not a glyph range: use /fonts/{{fontstack}}/{{start}}-{{end}}.pbf",
                file.escape_default()
            )))
        })?
        .to_string();
    let tiles = state.tiles.clone();
    let bytes = tokio::task::spawn_blocking(move || tiles.glyphs.range(&fontstack, &range))
        .await
        .map_err(|e| Error::Internal(format!("glyph task failed: {e}")))??;
    let mut r = Response::new(Body::from(bytes));
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-protobuf"));
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=86400"));
    Ok(r)
}
