//! 3D Tiles routes: `/3d/{layer}/tileset.json` and `/3d/{layer}/tiles/{id}.glb` for a building
//! layer, `/scenarios/{id}/3d/tileset.json` and `.../3d/tiles/{id}.glb` for a scenario's
//! `[three_d]` variant (filtered, coloured). Each file is a [`FileSource`] sent through the one
//! response helper: made on a blocking thread from the variant's memoised tile tree, gzipped and
//! cached by (variant, import_id, file), with an ETag known from that key; the core in `city3d`
//! does all the work.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use bytes::Bytes;
use sha2::{Digest, Sha256};

use super::error::ApiResult;
use super::respond::respond;
use super::AppState;
use crate::cache::gzip;
use crate::city3d::{response_cache, CacheKey, City3d, City3dError, City3dOptions, ResponseCache, Styling, TreeMemo, GZIP_LEVEL};
use crate::delivery::{Encoded, FileSource};
use crate::error::Error;
use crate::policy::View;

/// The 3D options, response cache and tile-tree memo of a running server.
pub struct City3dState {
    pub options: City3dOptions,
    pub cache: ResponseCache,
    pub trees: TreeMemo,
}

impl City3dState {
    /// A budget of 0 switches the response cache and the tree memo off.
    pub fn new(options: City3dOptions, cache_bytes: u64) -> City3dState {
        City3dState {
            options,
            cache: response_cache(cache_bytes),
            trees: TreeMemo::new(cache_bytes > 0),
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

/// The buildings of layer `name` as `view` sees them (a layer outside it is not found; its
/// hidden fields are not in the property tables), and the variant-key suffix of what it sees.
fn layer_city(
    state: &AppState,
    view: &View,
    name: &str,
    styling: impl FnOnce(&crate::index::LayerData) -> Result<Styling, Error>,
) -> Result<(City3d, String), Error> {
    // A layer the view gets only as figures per unit has no buildings for it.
    let layer = state
        .catalog
        .get(name)
        .filter(|_| view.may_read(name) && view.aggregate(name).is_none())
        .ok_or_else(|| Error::not_found(format!("no layer named '{name}'; GET /layers lists the layers in the store")))?;
    let styling = styling(&layer)?;
    let shown = view.fields(&layer.meta);
    let mut seen = match view.sees_all_fields(&layer.meta) {
        true => String::new(),
        false => format!("#{shown:?}"),
    };
    if let Some(area) = view.area() {
        seen.push_str(&format!("~{:x}", area.key()));
    }
    let members = view.members(&state.catalog, &layer);
    Ok((
        City3d::new(layer, styling, state.city3d.options)?.showing(shown).within(members),
        seen,
    ))
}

/// One file of a 3D tileset variant, kept gzipped in the 3D response cache.
struct City3dFile {
    state: AppState,
    key: CacheKey,
    city: City3d,
    file: File,
}

impl City3dFile {
    fn new(state: &AppState, variant: String, city: City3d, file: File) -> City3dFile {
        let key = CacheKey {
            variant,
            import_id: city.layer().meta.import_id,
            file: match &file {
                File::Tileset => "tileset.json".into(),
                File::Tile(id) => id.clone(),
            },
        };
        City3dFile {
            state: state.clone(),
            key,
            city,
            file,
        }
    }

    /// Known from the key alone: the variant (with a scenario's fingerprint), the import, the file.
    fn etag_of(key: &CacheKey) -> String {
        let digest = Sha256::digest(format!("{}\n{}\n{}", key.variant, key.import_id, key.file));
        format!("\"3d-{}\"", hex::encode(&digest[..12]))
    }

    fn encoded(&self, gzipped: Arc<Vec<u8>>, want_gzip: bool) -> Result<Arc<Encoded>, Error> {
        let etag = Self::etag_of(&self.key);
        let encoded = Encoded::from_gzip(Bytes::from_owner(Gzipped(gzipped)), etag, !want_gzip)
            .map_err(|e| Error::Internal(format!("gunzip of a cached 3D file: {e}")))?;
        Ok(Arc::new(encoded))
    }
}

/// Lends the cache's gzipped bytes to a response without copying them.
struct Gzipped(Arc<Vec<u8>>);

impl AsRef<[u8]> for Gzipped {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl FileSource for City3dFile {
    fn media_type(&self) -> &'static str {
        match self.file {
            File::Tileset => "application/json",
            File::Tile(_) => "model/gltf-binary",
        }
    }

    fn cached(&self, want_gzip: bool) -> Option<Arc<Encoded>> {
        let gzipped = self.state.city3d.cache.get(&self.key)?;
        self.encoded(gzipped, want_gzip).ok()
    }

    fn etag(&self) -> Option<String> {
        Some(Self::etag_of(&self.key))
    }

    fn produce(self, want_gzip: bool) -> Result<Arc<Encoded>, Error> {
        let tree = self.state.city3d.trees.tree(&self.key.variant, &self.city);
        let raw = match &self.file {
            File::Tileset => self.city.tileset_json(&tree),
            File::Tile(id) => self.city.tile_glb(&tree, id)?,
        };
        let gzipped = Arc::new(gzip(&raw, GZIP_LEVEL));
        self.state.city3d.cache.insert(self.key.clone(), gzipped.clone());
        self.encoded(gzipped, want_gzip)
    }
}

fn layer_variant(state: &AppState, view: &View, layer: &str, file: File) -> Result<(String, City3d, File), Error> {
    let (city, seen) = layer_city(state, view, layer, |_| Ok(Styling::plain()))?;
    Ok((format!("layer:{layer}{seen}"), city, file))
}

fn scenario_variant(state: &AppState, view: &View, id: &str, file: File) -> Result<(String, City3d, File), Error> {
    let scenarios = state.scenarios.current();
    let scenario = view.scenario(&scenarios, id)?;
    let three_d = scenario
        .three_d
        .as_ref()
        .ok_or_else(|| Error::not_found(format!("scenario '{id}' has no [three_d] section, so no 3D view")))?;
    let (city, seen) = layer_city(state, view, &three_d.layer, |layer| Ok(Styling::of_scenario(three_d, layer)?))?;
    // The fingerprint keys the cache: an edited [three_d] section is never served stale.
    Ok((format!("scenario:{id}:{:x}{seen}", scenario.fingerprint), city, file))
}

#[utoipa::path(
    get,
    path = "/3d/{layer}/tileset.json",
    tag = "3d",
    summary = "3D Tiles 1.1 tileset of a building layer",
    params(("layer" = String, Path, example = "buildings")),
    responses((status = 200, description = "tileset.json", content_type = "application/json", body = Object))
)]
pub async fn layer_tileset(
    State(state): State<AppState>,
    view: View,
    Path(layer): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let (variant, city, file) = layer_variant(&state, &view, &layer, File::Tileset)?;
    respond(City3dFile::new(&state, variant, city, file), &headers).await
}

#[utoipa::path(
    get,
    path = "/3d/{layer}/tiles/{file}",
    tag = "3d",
    summary = "one 3D tile (GLB)",
    params(("layer" = String, Path, example = "buildings"), ("file" = String, Path, description = "tile id and extension, e.g. 0.glb")),
    responses((status = 200, description = "GLB with EXT_mesh_features", content_type = "model/gltf-binary"))
)]
pub async fn layer_tile(
    State(state): State<AppState>,
    view: View,
    Path((layer, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let (variant, city, file) = layer_variant(&state, &view, &layer, File::tile(name)?)?;
    respond(City3dFile::new(&state, variant, city, file), &headers).await
}

#[utoipa::path(
    get,
    path = "/scenarios/{id}/3d/tileset.json",
    tag = "3d",
    summary = "the 3D Tiles tileset of a scenario's [three_d] variant",
    params(("id" = String, Path)),
    responses((status = 200, description = "tileset.json", content_type = "application/json", body = Object))
)]
pub async fn scenario_tileset(
    State(state): State<AppState>,
    view: View,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let (variant, city, file) = scenario_variant(&state, &view, &id, File::Tileset)?;
    respond(City3dFile::new(&state, variant, city, file), &headers).await
}

#[utoipa::path(
    get,
    path = "/scenarios/{id}/3d/tiles/{file}",
    tag = "3d",
    summary = "one 3D tile of a scenario",
    params(("id" = String, Path), ("file" = String, Path, description = "tile id and extension, e.g. 0.glb")),
    responses((status = 200, description = "GLB", content_type = "model/gltf-binary"))
)]
pub async fn scenario_tile(
    State(state): State<AppState>,
    view: View,
    Path((id, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let (variant, city, file) = scenario_variant(&state, &view, &id, File::tile(name)?)?;
    respond(City3dFile::new(&state, variant, city, file), &headers).await
}
