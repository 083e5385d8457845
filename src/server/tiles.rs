//! `/tiles/{layers}/{z}/{x}/{y}.mvt` and `/tiles/{layers}.json`, plus what the scenario routes
//! share: absolute base URLs and tile paths. Every tile goes out through `respond`.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::Response;
use axum::Json;

use super::error::{ApiError, ApiResult};
use super::respond::respond;
use super::AppState;
use crate::error::Error;
use crate::policy::View;
use std::sync::Arc;

use crate::tiles::files::{ArchiveTile, GlyphRange, LiveTile};
use crate::tiles::pmtiles::PmtilesArchive;
use crate::tiles::{tilejson, TileId, TileSource};

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
#[utoipa::path(
    get,
    path = "/tiles/{layers}/{z}/{x}/{y}",
    tag = "tiles",
    summary = "vector tile of one layer, a comma list, or a PMTiles archive",
    params(("layers" = String, Path, example = "parcels,roads"), ("z" = u8, Path, maximum = 22), ("x" = u32, Path), ("y" = String, Path, description = "row and extension, e.g. 12.mvt")),
    responses((status = 200, description = "MVT (gzip when accepted)", content_type = "application/vnd.mapbox-vector-tile"), (status = 204, description = "empty tile"))
)]
pub async fn layer_tile(
    State(state): State<AppState>,
    view: View,
    path: Result<Path<(String, String, String, String)>, PathRejection>,
    request: Request,
) -> ApiResult<Response> {
    let (layers, z, x, y) = path_of(path)?;
    let tile = TileId::parse(&z, &x, strip_mvt(&y)?)?;
    if let Some(archive) = archive(&state, &view, &layers) {
        return respond(ArchiveTile { archive, tile }, request.headers()).await;
    }
    let source = state.tiles.sources.layer_list(&state.catalog, &layers, &view)?;
    respond(live_tile(&state, source, tile), request.headers()).await
}

/// A live tile of `source` (a layer list or a scenario).
pub fn live_tile(state: &AppState, source: Arc<TileSource>, tile: TileId) -> LiveTile {
    LiveTile {
        service: state.tiles.clone(),
        source,
        tile,
    }
}

/// The served PMTiles archive `name`, if the view may read it (an archive is named like a layer).
fn archive(state: &AppState, view: &View, name: &str) -> Option<Arc<PmtilesArchive>> {
    state.tiles.archives.get(name).filter(|_| view.may_read(name))
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

#[utoipa::path(
    get,
    path = "/tiles/{file}",
    tag = "tiles",
    summary = "TileJSON 3.0.0 of layers",
    params(("file" = String, Path, description = "{layers}.json", example = "parcels.json")),
    responses((status = 200, description = "TileJSON", content_type = "application/json", body = Object))
)]
pub async fn layer_tilejson(
    State(state): State<AppState>,
    view: View,
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
    if let Some(archive) = archive(&state, &view, layers) {
        return Ok(Json(archive_tilejson(&archive, &base_url(&state, &headers))));
    }
    let source = state.tiles.sources.layer_list(&state.catalog, layers, &view)?;
    let url = format!("{}/tiles/{layers}/{{z}}/{{x}}/{{y}}.mvt", base_url(&state, &headers));
    let description = format!("bando layers {layers}");
    Ok(Json(tilejson::for_source(&source, layers, &description, &url, None)))
}

/// `/fonts/{fontstack}/{range}.pbf`: SDF glyphs for map labels.
#[utoipa::path(
    get,
    path = "/fonts/{fontstack}/{range}",
    tag = "tiles",
    summary = "SDF glyphs for map labels",
    params(("fontstack" = String, Path, example = "Noto Sans Regular"), ("range" = String, Path, description = "e.g. 0-255.pbf")),
    responses((status = 200, description = "glyph protobuf", content_type = "application/x-protobuf"))
)]
pub async fn glyphs(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult<Response> {
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
    let glyphs = GlyphRange {
        service: state.tiles.clone(),
        fontstack,
        range,
    };
    respond(glyphs, &headers).await
}
