//! `/health` (with the policy's reload state), `/layers`, `/layers/{name}`: the catalog as JSON
//! (a layer's import history is read from the store, and left out while the store is away).

use axum::extract::{Path, State};
use axum::{Extension, Json};
use serde_json::{json, Value as Json_};

use super::error::ApiResult;
use super::AppState;
use crate::error::Error;
use crate::policy::{Identity, View};

#[utoipa::path(
    get,
    path = "/health",
    tag = "service",
    summary = "liveness, layer count and the policy file's reload error",
    responses((status = 200, description = "alive", content_type = "application/json", body = Object))
)]
pub async fn health(State(state): State<AppState>, identity: Option<Extension<Identity>>) -> Json<Json_> {
    let layers = state.catalog.snapshot();
    Json(json!({
        "status": "ok",
        "layers": layers.len(),
        "store": state.store.describe(),
        "policy": super::auth::policy_health(&state, identity.as_ref().map(|e| &e.0)),
    }))
}

/// The layers the request may read, without the fields it may not (an aggregate-only layer as
/// its figures per unit).
#[utoipa::path(
    get,
    path = "/layers",
    tag = "layers",
    summary = "the catalog of layers the caller may see",
    responses((status = 200, description = "the layers", content_type = "application/json", body = Object))
)]
pub async fn list(State(state): State<AppState>, view: View) -> Json<Json_> {
    let list: Vec<Json_> = view.layers(&state.catalog).iter().map(|l| described(&view, l)).collect();
    Json(json!({ "layers": list }))
}

/// A layer's catalog entry as `view` sees it; a figures layer says what it counts by.
fn described(view: &View, layer: &crate::index::LayerData) -> Json_ {
    let mut entry = serde_json::to_value(view.meta(&layer.meta)).unwrap_or_default();
    if let Some(aggregate) = view.aggregate(&layer.meta.name) {
        entry["aggregate"] = json!({ "by": aggregate.units, "min_count": aggregate.min_count });
    }
    entry
}

/// One layer and its import history; a layer outside the view is not found, like an unknown one.
#[utoipa::path(
    get,
    path = "/layers/{name}",
    tag = "layers",
    summary = "one layer: geometry type, count, bbox, fields, import history",
    params(("name" = String, Path, example = "parcels")),
    responses((status = 200, description = "the layer", content_type = "application/json", body = Object))
)]
pub async fn detail(State(state): State<AppState>, view: View, Path(name): Path<String>) -> ApiResult<Json<Json_>> {
    let layer = view
        .layer(&state.catalog, &name)
        .ok_or_else(|| Error::not_found(format!("no layer named '{name}'; GET /layers lists the layers in the store")))?;
    let store = state.store.clone();
    let history = tokio::task::spawn_blocking(move || store.history(&name))
        .await
        .map_err(|e| Error::Internal(e.to_string()))?;
    let mut body = described(&view, &layer);
    match history {
        Ok(history) => body["history"] = serde_json::to_value(history).map_err(|e| Error::Internal(e.to_string()))?,
        // The store is away (an outage): the layer is still served from memory, without its history.
        Err(e) => body["history_error"] = json!(e.to_string()),
    }
    Ok(Json(body))
}
