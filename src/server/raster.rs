//! `/scenarios/{id}/raster/{z}/{x}/{y}.png|jpg|webp` (256 CSS pixels, `@2x` for twice the
//! pixels, `?tile_size=512` for 512) and `/scenarios/{id}/raster.json` (its TileJSON): the
//! scenario's style drawn by the server-side renderer for the request's view. Tiles go out
//! through `respond` like every served file.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::Json;

use super::error::{ApiError, ApiResult};
use super::respond::respond;
use super::tiles::{base_url, path_of};
use super::AppState;
use crate::error::Error;
use crate::policy::View;
use crate::render::encode::Format;
use crate::render::tile::{RasterTile, TileFormat};
use crate::tiles::{tilejson, TileError, TileId};

/// `123.png`, `123@2x.webp`: the tile row, the pixel ratio and the format.
fn parse_tile_file(file: &str) -> Result<(&str, u32, Format), Error> {
    let unknown = || {
        Error::not_found(format!(
            "'{}' is not a raster tile: use /scenarios/{{id}}/raster/{{z}}/{{x}}/{{y}}.png (or .jpg, .webp; @2x before the extension)",
            file.escape_default()
        ))
    };
    let (stem, ext) = file.rsplit_once('.').ok_or_else(unknown)?;
    let format = Format::from_extension(ext).ok_or_else(unknown)?;
    Ok(match stem.strip_suffix("@2x") {
        Some(y) => (y, 2, format),
        None => (stem, 1, format),
    })
}

/// `tile_size=256|512` from the query string (default 256).
fn tile_size(query: Option<&str>) -> Result<u32, Error> {
    let mut size = 256;
    for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        if key == "tile_size" {
            size = match value.as_ref() {
                "256" => 256,
                "512" => 512,
                other => {
                    return Err(Error::bad_request(format!(
                        "tile_size '{}' is not offered: use 256 or 512",
                        other.escape_default()
                    )))
                }
            };
        }
    }
    Ok(size)
}

/// The scenario's style file, as the view sees the scenario.
pub fn style_file(state: &AppState, view: &View, id: &str) -> Result<String, Error> {
    let scenarios = state.scenarios.current();
    let scenario = view.scenario(&scenarios, id)?;
    Ok(scenario.style.clone().ok_or_else(|| TileError::NoStyle(id.to_string()))?)
}

#[utoipa::path(
    get,
    path = "/scenarios/{id}/raster/{z}/{x}/{y}",
    tag = "scenarios",
    summary = "a raster tile of the scenario's style, drawn by bando",
    params(
        ("id" = String, Path),
        ("z" = u8, Path, maximum = 22),
        ("x" = u32, Path),
        ("y" = String, Path, description = "row, optional @2x, extension: 12.png, 12@2x.webp, 12.jpg"),
        ("tile_size" = Option<u32>, Query, description = "256 (default) or 512 CSS pixels")
    ),
    responses((status = 200, description = "the tile", content(("image/png"), ("image/jpeg"), ("image/webp"))))
)]
pub async fn tile(
    State(state): State<AppState>,
    view: View,
    path: Result<Path<(String, String, String, String)>, PathRejection>,
    RawQuery(query): RawQuery,
    request: Request,
) -> ApiResult<Response> {
    let (id, z, x, file) = path_of(path)?;
    let (y, ratio, format) = parse_tile_file(&file)?;
    let tile = TileId::parse(&z, &x, y)?;
    let format = TileFormat {
        size: tile_size(query.as_deref())?,
        ratio,
        format,
    };
    let file = style_file(&state, &view, &id)?;
    // Reading and compiling the style touches the disk: off the async threads.
    let made = state.clone();
    let raster = tokio::task::spawn_blocking(move || -> Result<RasterTile, Error> {
        let style = made.render.style(&file)?;
        let sources = made.render.sources(&style.style, &made.catalog, &made.scenarios.current(), &view);
        Ok(RasterTile::new(made.render.clone(), style, sources, tile, format))
    })
    .await
    .map_err(|e| Error::Internal(format!("raster task failed: {e}")))??;
    respond(raster, request.headers()).await
}

/// `/scenarios/{id}/raster.json`: TileJSON of the raster tiles (`?tile_size=512` for 512-pixel ones).
#[utoipa::path(
    get,
    path = "/scenarios/{id}/raster.json",
    tag = "scenarios",
    summary = "TileJSON of the scenario's raster tiles",
    params(("id" = String, Path), ("tile_size" = Option<u32>, Query, description = "256 (default) or 512")),
    responses((status = 200, description = "TileJSON 3.0.0", content_type = "application/json", body = Object))
)]
pub async fn tilejson(
    State(state): State<AppState>,
    view: View,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<serde_json::Value>> {
    let id = path_of(path)?;
    let size = tile_size(query.as_deref())?;
    style_file(&state, &view, &id)?;
    let scenarios = state.scenarios.current();
    let scenario = view.scenario(&scenarios, &id).map_err(|e| ApiError(e.into()))?;
    let source = state.tiles.sources.scenario(&state.catalog, scenario, &view)?;
    let suffix = if size == 512 { "?tile_size=512" } else { "" };
    let url = format!("{}/scenarios/{id}/raster/{{z}}/{{x}}/{{y}}.png{suffix}", base_url(&state, &headers));
    let mut doc = tilejson::for_source(&source, &scenario.title, &scenario.description, &url, scenario.center);
    if let Some(obj) = doc.as_object_mut() {
        obj.remove("vector_layers");
        obj.insert("tileSize".into(), size.into());
        obj.insert("format".into(), "png".into());
    }
    Ok(Json(doc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tile_files_name_their_ratio_and_format() {
        assert_eq!(parse_tile_file("12.png").unwrap(), ("12", 1, Format::Png));
        assert_eq!(parse_tile_file("12@2x.webp").unwrap(), ("12", 2, Format::Webp));
        assert_eq!(parse_tile_file("12.jpg").unwrap(), ("12", 1, Format::Jpeg));
        assert!(parse_tile_file("12.gif").is_err() && parse_tile_file("12").is_err());
        assert_eq!(tile_size(Some("tile_size=512")).unwrap(), 512);
        assert_eq!(tile_size(None).unwrap(), 256);
        assert!(tile_size(Some("tile_size=300")).is_err());
    }
}
