//! The in-memory tile cache: finished tiles, already gzipped, under a byte budget (moka, LRU-ish
//! TinyLFU). Keys carry the source key, which names each layer's `import_id`: a re-import makes
//! new keys for exactly the sources using that layer, and [`TileCache::forget_layers`] drops
//! the stale entries at once instead of waiting for eviction.
//!
//! Owns what a cached tile is and which tiles a re-import makes stale; the byte budget and
//! compression are the shared [`crate::cache`]. Knows nothing of how tiles are made.

use std::sync::Arc;

use crate::cache::ByteBudgetCache;
use crate::delivery::Encoded;

use super::math::TileId;

pub struct TileCache {
    inner: ByteBudgetCache<(Arc<str>, TileId), Arc<Encoded>>,
}

impl TileCache {
    /// `budget_bytes == 0` switches the cache off.
    pub fn new(budget_bytes: u64) -> TileCache {
        let weigh = |key: &(Arc<str>, TileId), tile: &Arc<Encoded>| tile.weight().saturating_add(key.0.len() as u32);
        TileCache {
            inner: ByteBudgetCache::new(budget_bytes, weigh),
        }
    }

    pub fn is_on(&self) -> bool {
        self.inner.is_on()
    }

    pub fn stats(&self) -> crate::cache::CacheStats {
        self.inner.stats()
    }

    pub fn get(&self, key: &Arc<str>, tile: TileId) -> Option<Arc<Encoded>> {
        self.inner.get(&(key.clone(), tile))
    }

    pub fn insert(&self, key: &Arc<str>, tile: TileId, encoded: Arc<Encoded>) {
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
