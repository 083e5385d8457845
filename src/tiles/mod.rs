//! Vector tiles: Mapbox Vector Tiles made on the fly from the in-memory index, generalised per
//! zoom, cached already gzipped; TileJSON; scenario styles; SDF glyphs; PMTiles archives.
//!
//! One concern per file: `math` (tile pyramid and projection), `shape` (clip, simplify,
//! quantise, wind), `mvt` (protobuf encoding), `ladder` (which features each zoom draws),
//! `source` (what a request draws), `render` (one tile within its byte budget), `cache`,
//! `tilejson`, `style`, `glyphs`, `pmtiles` (the archive format), `archives` (which archives
//! are served), `files` (live and archive tiles as [`crate::delivery::FileSource`]s), `valid`
//! (valid polygons after quantisation) and `export`. This module never imports axum or tokio: the server calls [`TileService`] from
//! a blocking thread.

pub mod archives;
pub mod cache;
pub mod export;
pub mod files;
pub mod glyphs;
pub mod ladder;
pub mod math;
pub mod mvt;
pub mod pmtiles;
pub mod render;
pub mod shape;
pub mod source;
pub mod style;
pub mod tilejson;
pub mod valid;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use crate::delivery::Encoded;
use crate::index::{Catalog, LayerData};
use crate::policy::View;
use crate::scenarios::{BoundFilter, Scenarios};

use cache::TileCache;
use ladder::Ladder;
pub use math::TileId;
pub use source::{SourceLayer, SourceMemo, TileSource};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TileError {
    #[error("{0}")]
    BadTile(String),
    #[error("no layer named '{0}'; GET /layers lists the layers in the store")]
    UnknownLayer(String),
    #[error("{0} layers requested; one tile combines at most {max}", max = source::MAX_LAYERS)]
    TooManyLayers(usize),
    #[error("bad layer list: {0}")]
    BadLayerList(String),
    #[error("scenario '{id}' does not fit the store: {reason}")]
    BadScenario { id: String, reason: String },
    #[error("scenario '{0}' has no style; set `style = \"file.json\"` in its tilesets/ file")]
    NoStyle(String),
    #[error("{0}")]
    BadGlyphs(String),
    #[error("no font of the stack '{0}' is installed; try 'Noto Sans Regular' or 'Noto Sans Bold'")]
    UnknownFont(String),
    #[error("font {file} cannot be read: {reason}")]
    BadFont { file: String, reason: String },
    #[error("PMTiles archive '{name}' is damaged or not supported: {source}")]
    BadArchive {
        name: String,
        #[source]
        source: pmtiles::PmtilesError,
    },
    #[error("{path}: {reason}")]
    Io { path: String, reason: String },
    #[error("style {file} cannot be served: {reason}")]
    BadStyle { file: String, reason: String },
}

/// gzip level of tiles. Level 1 makes a z14 parcel tile 7% larger than level 6 but serves 29%
/// more distinct tiles per second (benchmark in docs/benchmarks.md); a cache miss is paid by the
/// client waiting for it, so speed wins.
const GZIP_LEVEL: u32 = 1;

type LadderSlot = Arc<OnceLock<Arc<Ladder>>>;

/// The budget of the PMTiles archives' leaf-directory cache (shared by all; off with the cache).
const ARCHIVE_DIRECTORY_BYTES: u64 = 32 << 20;

/// Tile making for the server and the exporters: ladders per layer import, and the cache.
pub struct TileService {
    cache: TileCache,
    /// Resolved sources of layer lists and scenarios (off with the cache).
    pub sources: SourceMemo,
    /// Per layer name: the import the ladder was built for, and the ladder (built once).
    ladders: Mutex<HashMap<String, (i64, LadderSlot)>>,
    pub glyphs: glyphs::Glyphs,
    /// PMTiles archives served by name (file stem), reopened when their files change.
    pub archives: archives::Archives,
}

impl TileService {
    /// `cache_bytes == 0` switches the cache off.
    pub fn new(cache_bytes: u64) -> TileService {
        let directory_budget = if cache_bytes == 0 { 0 } else { ARCHIVE_DIRECTORY_BYTES };
        TileService {
            cache: TileCache::new(cache_bytes),
            sources: SourceMemo::new(cache_bytes > 0),
            ladders: Mutex::new(HashMap::new()),
            glyphs: glyphs::Glyphs::new(cache_bytes > 0),
            archives: archives::Archives::none(directory_budget),
        }
    }

    /// Serves every `*.pmtiles` in `dir` (if it exists) and each of `files` by file stem.
    pub fn with_archives(mut self, dir: &std::path::Path, files: &[std::path::PathBuf]) -> Result<TileService, TileError> {
        let directory_budget = if self.cache.is_on() { ARCHIVE_DIRECTORY_BYTES } else { 0 };
        self.archives = archives::Archives::open(dir, files, directory_budget)?;
        Ok(self)
    }

    /// The generalisation ladder of a source layer's current import, built on first use.
    pub fn ladder(&self, layer: &SourceLayer) -> Arc<Ladder> {
        self.ladder_of(&layer.ladder_key, &layer.data, layer.filter.as_ref())
    }

    fn ladder_of(&self, key: &str, data: &LayerData, filter: Option<&BoundFilter>) -> Arc<Ladder> {
        let slot = {
            let mut ladders = self.ladders.lock().unwrap_or_else(|e| e.into_inner());
            let import_id = data.meta.import_id;
            match ladders.get(key) {
                Some((id, slot)) if *id == import_id => slot.clone(),
                _ => {
                    let slot = LadderSlot::default();
                    ladders.insert(key.to_string(), (import_id, slot.clone()));
                    slot
                }
            }
        };
        slot.get_or_init(|| {
            let started = std::time::Instant::now();
            let ladder = Ladder::build(data, filter);
            tracing::info!(ladder = %key, full_zoom = ladder.full_zoom, ms = started.elapsed().as_millis() as u64, "generalisation ladder built");
            Arc::new(ladder)
        })
        .clone()
    }

    /// Builds the ladders of every whole layer and every filtered scenario layer (at start-up,
    /// after a re-import and after a scenario edit, so the first low-zoom tiles do not wait), and
    /// drops the ladders of filters no scenario uses any more.
    pub fn warm(&self, catalog: &Catalog, scenarios: &Scenarios) {
        for (name, layer) in catalog.snapshot().iter() {
            self.ladder_of(name, layer, None);
        }
        let mut filtered = std::collections::HashSet::new();
        for scenario in scenarios.iter() {
            match TileSource::from_scenario(catalog, scenario, &View::open()) {
                Ok(source) => source.layers.iter().filter(|l| l.filter.is_some()).for_each(|l| {
                    self.ladder(l);
                    filtered.insert(l.ladder_key.clone());
                }),
                Err(e) => tracing::warn!(scenario = %scenario.id, error = %e, "scenario cannot be drawn from this store"),
            }
        }
        let mut ladders = self.ladders.lock().unwrap_or_else(|e| e.into_inner());
        ladders.retain(|key, _| !key.contains('|') || filtered.contains(key));
    }

    /// A cached tile, if there is one (cheap: callable on an async thread).
    pub fn cached(&self, source: &TileSource, tile: TileId) -> Option<Arc<Encoded>> {
        self.cache.get(&source.key, tile)
    }

    /// The tile, from the cache or rendered now (CPU-bound: call from a blocking thread).
    /// `want_gzip` matters only with the cache off, where the gzip form is made only if asked for.
    pub fn tile(&self, source: &TileSource, tile: TileId, want_gzip: bool) -> Arc<Encoded> {
        if let Some(hit) = self.cached(source, tile) {
            return hit;
        }
        let (raw, features) = render::render(source, tile, &|layer| self.ladder(layer));
        // A cached tile may be asked for by any client, so it is kept in both forms.
        let level = (self.cache.is_on() || want_gzip).then_some(GZIP_LEVEL);
        let encoded = Arc::new(Encoded::new(raw, source.etag(tile), level).with_features(features));
        self.cache.insert(&source.key, tile, encoded.clone());
        encoded
    }

    /// Hits, misses and bytes of the tile cache.
    pub fn cache_stats(&self) -> crate::cache::CacheStats {
        self.cache.stats()
    }

    /// Called after a re-import: drops cached tiles and ladders of the changed layers.
    pub fn forget_layers(&self, layers: &[String]) {
        self.cache.forget_layers(layers);
        let mut ladders = self.ladders.lock().unwrap_or_else(|e| e.into_inner());
        ladders.retain(|key, _| !layers.iter().any(|l| key.split('|').next() == Some(l.as_str())));
    }
}
