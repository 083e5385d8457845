//! The in-memory tile cache: finished tiles, already gzipped, under a byte budget (moka, LRU-ish
//! TinyLFU). Keys carry the source key, which names each layer's `import_id`: a re-import makes
//! new keys for exactly the sources using that layer, and [`TileCache::forget_layers`] drops
//! the stale entries at once instead of waiting for eviction.
//!
//! Owns what a cached tile is and which tiles a re-import makes stale; the byte budget and
//! compression are the shared [`crate::cache`]. Knows nothing of how tiles are made.

use std::sync::Arc;

use bytes::Bytes;

use crate::cache::{gunzip, gzip, ByteBudgetCache};

use super::math::TileId;

/// A finished tile as served: raw MVT, its gzip form when made, and its ETag.
pub struct EncodedTile {
    pub raw: Bytes,
    pub gzip: Option<Bytes>,
    pub etag: String,
}

impl EncodedTile {
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty() && self.gzip.is_none()
    }

    /// A tile stored gzipped elsewhere (a PMTiles archive); the raw form is made only if needed.
    pub fn from_gzip(gzipped: Vec<u8>, etag: String, need_raw: bool) -> std::io::Result<EncodedTile> {
        let raw = if need_raw { Bytes::from(gunzip(&gzipped)?) } else { Bytes::new() };
        Ok(EncodedTile {
            raw,
            gzip: Some(Bytes::from(gzipped)),
            etag,
        })
    }

    /// Wraps a rendered tile; `level` is the gzip level (None: no gzip form).
    pub fn new(raw: Vec<u8>, etag: String, level: Option<u32>) -> EncodedTile {
        let gzip = level.filter(|_| !raw.is_empty()).map(|l| Bytes::from(gzip(&raw, l)));
        EncodedTile {
            raw: Bytes::from(raw),
            gzip,
            etag,
        }
    }

    fn weight(&self) -> u32 {
        (self.raw.len() + self.gzip.as_ref().map_or(0, Bytes::len) + self.etag.len() + 96).min(u32::MAX as usize) as u32
    }
}

pub struct TileCache {
    inner: ByteBudgetCache<(Arc<str>, TileId), Arc<EncodedTile>>,
}

impl TileCache {
    /// `budget_bytes == 0` switches the cache off.
    pub fn new(budget_bytes: u64) -> TileCache {
        let weigh = |key: &(Arc<str>, TileId), tile: &Arc<EncodedTile>| tile.weight().saturating_add(key.0.len() as u32);
        TileCache {
            inner: ByteBudgetCache::new(budget_bytes, weigh),
        }
    }

    pub fn is_on(&self) -> bool {
        self.inner.is_on()
    }

    pub fn get(&self, key: &Arc<str>, tile: TileId) -> Option<Arc<EncodedTile>> {
        self.inner.get(&(key.clone(), tile))
    }

    pub fn insert(&self, key: &Arc<str>, tile: TileId, encoded: Arc<EncodedTile>) {
        self.inner.insert((key.clone(), tile), encoded);
    }

    /// Drops every cached tile of a source that uses one of `layers`.
    pub fn forget_layers(&self, layers: &[String]) {
        let layers: Vec<String> = layers.to_vec();
        self.inner.forget_if(move |key: &(Arc<str>, TileId), _| {
            key.0
                .split(':')
                .filter_map(|part| part.rsplit_once('@'))
                .any(|(name, _)| layers.iter().any(|l| l == name))
        });
    }
}
