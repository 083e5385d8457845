//! 3D Tiles routes: `/3d/{layer}/tileset.json` and `/3d/{layer}/tiles/{id}.glb` for a building
//! layer, `/scenarios/{id}/3d/tileset.json` and `.../3d/tiles/{id}.glb` for a scenario's
//! `[three_d]` variant (filtered, coloured). Responses are made on a blocking thread, gzipped and
//! cached by (variant, import_id, file), and sent gzipped to clients that accept it; the core in
//! `city3d` does all the work.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};

use super::error::ApiResult;
use super::tiles::accepts_gzip;
use super::AppState;
use crate::cache::{gunzip, gzip};
use crate::city3d::{response_cache, CacheKey, City3d, City3dError, City3dOptions, ResponseCache, Styling, GZIP_LEVEL};
use crate::error::Error;

/// The 3D options and response cache of a running server.
pub struct City3dState {
    pub options: City3dOptions,
    pub cache: ResponseCache,
}

impl City3dState {
    pub fn new(options: City3dOptions, cache_bytes: u64) -> City3dState {
        City3dState {
            options,
            cache: response_cache(cache_bytes),
        }
    }
}

/// Which file of a tileset is asked for.
enum File {
    Tileset,
    Tile(String),
}

impl File {
    fn tile(name: String) -> Result<File, Error> {
        match name.strip_suffix(".glb") {
            Some(id) => Ok(File::Tile(id.to_string())),
            None => Err(City3dError::BadTileId(name).into()),
        }
    }
}

fn layer_city(
    state: &AppState,
    name: &str,
    styling: impl FnOnce(&crate::index::LayerData) -> Result<Styling, Error>,
) -> Result<City3d, Error> {
    let layer = state
        .catalog
        .get(name)
        .ok_or_else(|| Error::not_found(format!("no layer named '{name}'; GET /layers lists the layers in the store")))?;
    let styling = styling(&layer)?;
    Ok(City3d::new(layer, styling, state.city3d.options)?)
}

async fn respond(state: AppState, variant: String, city: City3d, file: File, headers: HeaderMap) -> ApiResult<Response> {
    let key = CacheKey {
        variant,
        import_id: city.layer().meta.import_id,
        file: match &file {
            File::Tileset => "tileset.json".into(),
            File::Tile(id) => id.clone(),
        },
    };
    let content_type = match file {
        File::Tileset => "application/json",
        File::Tile(_) => "model/gltf-binary",
    };
    let compressed = match state.city3d.cache.get(&key) {
        Some(bytes) => bytes,
        None => {
            let bytes = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, Error> {
                let raw = match file {
                    File::Tileset => city.tileset_json(),
                    File::Tile(id) => city.tile_glb(&id)?,
                };
                Ok(gzip(&raw, GZIP_LEVEL))
            })
            .await
            .map_err(|e| Error::Internal(e.to_string()))??;
            let bytes = Arc::new(bytes);
            state.city3d.cache.insert(key, bytes.clone());
            bytes
        }
    };
    let vary = (header::VARY, "accept-encoding");
    if accepts_gzip(&headers) {
        let headers = [(header::CONTENT_TYPE, content_type), (header::CONTENT_ENCODING, "gzip"), vary];
        Ok((headers, compressed.as_ref().clone()).into_response())
    } else {
        let raw = gunzip(&compressed).map_err(|e| Error::Internal(format!("gunzip: {e}")))?;
        Ok(([(header::CONTENT_TYPE, content_type), vary], raw).into_response())
    }
}

fn layer_variant(state: &AppState, layer: &str, file: File) -> Result<(String, City3d, File), Error> {
    Ok((format!("layer:{layer}"), layer_city(state, layer, |_| Ok(Styling::plain()))?, file))
}

fn scenario_variant(state: &AppState, id: &str, file: File) -> Result<(String, City3d, File), Error> {
    let scenarios = state.scenarios.current();
    let scenario = scenarios.get(id)?;
    let three_d = scenario
        .three_d
        .as_ref()
        .ok_or_else(|| Error::not_found(format!("scenario '{id}' has no [three_d] section, so no 3D view")))?;
    let city = layer_city(state, &three_d.layer, |layer| Ok(Styling::of_scenario(three_d, layer)?))?;
    // The fingerprint keys the cache: an edited [three_d] section is never served stale.
    Ok((format!("scenario:{id}:{:x}", scenario.fingerprint), city, file))
}

pub async fn layer_tileset(State(state): State<AppState>, Path(layer): Path<String>, headers: HeaderMap) -> ApiResult<Response> {
    let (variant, city, file) = layer_variant(&state, &layer, File::Tileset)?;
    respond(state, variant, city, file, headers).await
}

pub async fn layer_tile(
    State(state): State<AppState>,
    Path((layer, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let (variant, city, file) = layer_variant(&state, &layer, File::tile(name)?)?;
    respond(state, variant, city, file, headers).await
}

pub async fn scenario_tileset(State(state): State<AppState>, Path(id): Path<String>, headers: HeaderMap) -> ApiResult<Response> {
    let (variant, city, file) = scenario_variant(&state, &id, File::Tileset)?;
    respond(state, variant, city, file, headers).await
}

pub async fn scenario_tile(
    State(state): State<AppState>,
    Path((id, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let (variant, city, file) = scenario_variant(&state, &id, File::tile(name)?)?;
    respond(state, variant, city, file, headers).await
}
