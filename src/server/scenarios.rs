//! `/scenarios`, `/scenarios/{id}`, `/scenarios/{id}.json` (TileJSON), `/scenarios/{id}/style.json`
//! and `/scenarios/{id}/{z}/{x}/{y}.mvt`: the IOC's scenario maps as tiles and MapLibre styles.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Request, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value as Json_};

use super::error::ApiResult;
use super::respond::respond;
use super::tiles::{base_url, live_tile, path_of, strip_mvt};
use super::AppState;
use crate::index::Catalog;
use crate::policy::View;
use crate::scenarios::{Scenario, Scenarios};
use crate::tiles::{style, tilejson, TileError, TileId};

/// A scenario as listed; `s` is already as the view shows it.
fn summary(s: &Scenario, base: &str) -> Json_ {
    json!({
        "id": s.id,
        "title": s.title,
        "description": s.description,
        "center": s.center,
        "layers": s.layers.iter().map(|l| l.tile_id()).collect::<Vec<_>>(),
        "tilejson": format!("{base}/scenarios/{}.json", s.id),
        "style": s.style.as_ref().map(|_| format!("{base}/scenarios/{}/style.json", s.id)),
        "tiles": format!("{base}/scenarios/{}/{{z}}/{{x}}/{{y}}.mvt", s.id),
    })
}

/// The scenarios the request may read, each with only the layers it may read.
#[utoipa::path(
    get,
    path = "/scenarios",
    tag = "scenarios",
    summary = "the scenario maps with their TileJSON, style and tile URLs",
    responses((status = 200, description = "the scenarios", content_type = "application/json", body = Object))
)]
pub async fn list(State(state): State<AppState>, view: View, headers: HeaderMap) -> Json<Json_> {
    let base = base_url(&state, &headers);
    let scenarios = state.scenarios.current();
    let shown = scenarios
        .iter()
        .filter(|s| view.may_read(&s.id))
        .map(|s| summary(&view.scenario_shown(s, &state.catalog), &base));
    Json(json!({
        "scenarios": shown.collect::<Vec<_>>(),
        // An edit of tilesets/ that does not load: the previous scenarios stay in service.
        "reload_error": state.scenarios.problem(),
    }))
}

/// `/scenarios/{id}` (the scenario, with its URLs) or `/scenarios/{id}.json` (its TileJSON).
#[utoipa::path(
    get,
    path = "/scenarios/{id}",
    tag = "scenarios",
    summary = "one scenario (or its TileJSON as {id}.json)",
    params(("id" = String, Path)),
    responses((status = 200, description = "the scenario", content_type = "application/json", body = Object))
)]
pub async fn detail(
    State(state): State<AppState>,
    view: View,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Response> {
    let name = path_of(path)?;
    let base = base_url(&state, &headers);
    if let Some(id) = name.strip_suffix(".json") {
        let scenarios = state.scenarios.current();
        let scenario = view.scenario(&scenarios, id)?;
        let source = state.tiles.sources.scenario(&state.catalog, scenario, &view)?;
        let url = format!("{base}/scenarios/{id}/{{z}}/{{x}}/{{y}}.mvt");
        return Ok(Json(tilejson::for_source(
            &source,
            &scenario.title,
            &scenario.description,
            &url,
            scenario.center,
        ))
        .into_response());
    }
    let scenarios = state.scenarios.current();
    let scenario = view.scenario_shown(view.scenario(&scenarios, &name)?, &state.catalog);
    let mut body = serde_json::to_value(&scenario).unwrap_or_default();
    if let (Some(obj), Json_::Object(links)) = (body.as_object_mut(), summary(&scenario, &base)) {
        for key in ["tilejson", "style", "tiles"] {
            obj.insert(key.into(), links[key].clone());
        }
    }
    Ok(Json(body).into_response())
}

#[utoipa::path(
    get,
    path = "/scenarios/{id}/style.json",
    tag = "scenarios",
    summary = "the scenario's MapLibre style v8",
    params(("id" = String, Path)),
    responses((status = 200, description = "style", content_type = "application/json", body = Object))
)]
pub async fn style_json(
    State(state): State<AppState>,
    view: View,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<Json_>> {
    let id = path_of(path)?;
    let scenarios = state.scenarios.current();
    let scenario = view.scenario(&scenarios, &id)?;
    let file = scenario.style.as_deref().ok_or_else(|| TileError::NoStyle(id.clone()))?;
    let shown = |url: &str| style_source(&view, &scenarios, &state.catalog, url);
    Ok(Json(style::load(
        &state.config.styles_dir,
        file,
        &base_url(&state, &headers),
        shown,
    )?))
}

/// What of a style source the view shows: a scenario's or a layer list's tile layers (and which
/// of them are figures of aggregate-only layers), or nothing when the scenario or a listed
/// layer is outside it.
fn style_source(view: &View, scenarios: &Scenarios, catalog: &Catalog, url: &str) -> style::Shown {
    if let Some(id) = url.strip_prefix("/scenarios/").and_then(|u| u.strip_suffix(".json")) {
        return match view.scenario(scenarios, id) {
            Ok(s) => {
                let layers = view.scenario_shown(s, catalog).layers;
                let ids = |of_figures: bool| {
                    layers
                        .iter()
                        .filter(|l| !of_figures || view.aggregate(&l.layer).is_some())
                        .map(|l| l.tile_id().to_string())
                        .collect()
                };
                style::Shown::Layers {
                    ids: ids(false),
                    figures: ids(true),
                }
            }
            Err(_) => style::Shown::Hidden,
        };
    }
    if let Some(list) = url.strip_prefix("/tiles/").and_then(|u| u.strip_suffix(".json")) {
        let names: Vec<String> = list.split(',').map(str::to_string).collect();
        let figures = names.iter().filter(|n| view.aggregate(n).is_some()).cloned().collect();
        return match names.iter().all(|n| view.may_read(n)) {
            true => style::Shown::Layers { ids: names, figures },
            false => style::Shown::Hidden,
        };
    }
    style::Shown::Whole
}

#[utoipa::path(
    get,
    path = "/scenarios/{id}/{z}/{x}/{y}",
    tag = "scenarios",
    summary = "a scenario's vector tile",
    params(("id" = String, Path), ("z" = u8, Path, maximum = 22), ("x" = u32, Path), ("y" = String, Path, description = "row and extension, e.g. 12.mvt")),
    responses((status = 200, description = "MVT", content_type = "application/vnd.mapbox-vector-tile"), (status = 204, description = "empty tile"))
)]
pub async fn tile(
    State(state): State<AppState>,
    view: View,
    path: Result<Path<(String, String, String, String)>, PathRejection>,
    request: Request,
) -> ApiResult<Response> {
    let (id, z, x, y) = path_of(path)?;
    let tile = TileId::parse(&z, &x, strip_mvt(&y)?)?;
    let scenarios = state.scenarios.current();
    let source = state
        .tiles
        .sources
        .scenario(&state.catalog, view.scenario(&scenarios, &id)?, &view)?;
    respond(live_tile(&state, source, tile), request.headers()).await
}
