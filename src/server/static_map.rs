//! `/scenarios/{id}/static/{lon},{lat},{zoom}/{width}x{height}.png` and
//! `/scenarios/{id}/static/{west},{south},{east},{north}/{width}x{height}.png` (also `.jpg`,
//! `.webp`, `@2x`): a static map of the scenario's style for the request's view, with
//! `overlay=` GeoJSON, `markers=lon,lat[,RRGGBB];...`, `scale_bar`, `north_arrow` and `legend`
//! (`true`/`false`). Over the largest size: 400. Sent through `respond`.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, Request, State};
use axum::response::Response;

use super::error::ApiResult;
use super::raster::style_file;
use super::respond::respond;
use super::tiles::path_of;
use super::AppState;
use crate::error::Error;
use crate::render::decor::{parse_markers, parse_overlay, Decor};
use crate::render::still::{parse_size, Place, StaticMap};

/// The query string's furniture; unknown parameters are refused by name.
fn decor_of(query: Option<&str>) -> Result<Decor, Error> {
    let mut decor = Decor::default();
    let flag = |key: &str, value: &str| match value {
        "" | "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        other => Err(Error::bad_request(format!(
            "{key}='{}' must be true or false",
            other.escape_default()
        ))),
    };
    for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match key.as_ref() {
            "overlay" => decor.overlay.extend(parse_overlay(&value)?),
            "markers" => decor.markers.extend(parse_markers(&value)?),
            "scale_bar" => decor.scale_bar = flag(&key, &value)?,
            "north_arrow" => decor.north_arrow = flag(&key, &value)?,
            "legend" => decor.legend = flag(&key, &value)?,
            other => {
                return Err(Error::bad_request(format!(
                    "unknown parameter '{}'; a static map takes overlay, markers, scale_bar, north_arrow and legend",
                    other.escape_default()
                )))
            }
        }
    }
    Ok(decor)
}

#[utoipa::path(
    get,
    path = "/scenarios/{id}/static/{place}/{size}",
    tag = "scenarios",
    summary = "a static map of the scenario's style",
    params(
        ("id" = String, Path),
        ("place" = String, Path, description = "lon,lat,zoom or west,south,east,north"),
        ("size" = String, Path, description = "WIDTHxHEIGHT[@2x].png|jpg|webp, at most 2048 a side"),
        ("overlay" = Option<String>, Query, description = "GeoJSON geometry, Feature or FeatureCollection"),
        ("markers" = Option<String>, Query, description = "lon,lat[,RRGGBB] separated by ;"),
        ("scale_bar" = Option<bool>, Query),
        ("north_arrow" = Option<bool>, Query),
        ("legend" = Option<bool>, Query)
    ),
    responses((status = 200, description = "the picture", content(("image/png"), ("image/jpeg"), ("image/webp"))))
)]
pub async fn picture(
    State(state): State<AppState>,
    view: crate::policy::View,
    path: Result<Path<(String, String, String)>, PathRejection>,
    RawQuery(query): RawQuery,
    request: Request,
) -> ApiResult<Response> {
    let (id, place, size) = path_of(path)?;
    let place = Place::parse(&place)?;
    let (width, height, ratio, format) = parse_size(&size)?;
    let decor = decor_of(query.as_deref())?;
    let file = style_file(&state, &view, &id)?;
    let made = state.clone();
    let picture = tokio::task::spawn_blocking(move || -> Result<StaticMap, Error> {
        let style = made.render.style(&file)?;
        let sources = made.render.sources(&style.style, &made.catalog, &made.scenarios.current(), &view);
        let renderer = made.render.clone();
        Ok(StaticMap {
            renderer,
            style,
            sources,
            place,
            size: (width, height),
            ratio,
            format,
            decor,
        })
    })
    .await
    .map_err(|e| Error::Internal(format!("static map task failed: {e}")))??;
    respond(picture, request.headers()).await
}
