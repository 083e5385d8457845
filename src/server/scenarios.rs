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
use crate::scenarios::Scenario;
use crate::tiles::{style, tilejson, TileError, TileId};

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

pub async fn list(State(state): State<AppState>, headers: HeaderMap) -> Json<Json_> {
    let base = base_url(&state, &headers);
    let scenarios = state.scenarios.current();
    Json(json!({
        "scenarios": scenarios.iter().map(|s| summary(s, &base)).collect::<Vec<_>>(),
        // An edit of tilesets/ that does not load: the previous scenarios stay in service.
        "reload_error": state.scenarios.problem(),
    }))
}

/// `/scenarios/{id}` (the scenario, with its URLs) or `/scenarios/{id}.json` (its TileJSON).
pub async fn detail(State(state): State<AppState>, headers: HeaderMap, path: Result<Path<String>, PathRejection>) -> ApiResult<Response> {
    let name = path_of(path)?;
    let base = base_url(&state, &headers);
    if let Some(id) = name.strip_suffix(".json") {
        let scenarios = state.scenarios.current();
        let scenario = scenarios.get(id)?;
        let source = state.tiles.sources.scenario(&state.catalog, scenario)?;
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
    let scenario = scenarios.get(&name)?;
    let mut body = serde_json::to_value(scenario).unwrap_or_default();
    if let (Some(obj), Json_::Object(links)) = (body.as_object_mut(), summary(scenario, &base)) {
        for key in ["tilejson", "style", "tiles"] {
            obj.insert(key.into(), links[key].clone());
        }
    }
    Ok(Json(body).into_response())
}

pub async fn style_json(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<Json_>> {
    let id = path_of(path)?;
    let scenarios = state.scenarios.current();
    let scenario = scenarios.get(&id)?;
    let file = scenario.style.as_deref().ok_or_else(|| TileError::NoStyle(id.clone()))?;
    Ok(Json(style::load(&state.config.styles_dir, file, &base_url(&state, &headers))?))
}

pub async fn tile(
    State(state): State<AppState>,
    path: Result<Path<(String, String, String, String)>, PathRejection>,
    request: Request,
) -> ApiResult<Response> {
    let (id, z, x, y) = path_of(path)?;
    let tile = TileId::parse(&z, &x, strip_mvt(&y)?)?;
    let source = state.tiles.sources.scenario(&state.catalog, state.scenarios.current().get(&id)?)?;
    respond(live_tile(&state, source, tile), request.headers()).await
}
