//! The in-memory tile cache: finished tiles, already gzipped, under a byte budget (moka, LRU-ish
//! TinyLFU). Keys carry the source key, which names each layer's `import_id`: a re-import makes
//! new keys for exactly the sources using that layer, and [`TileCache::forget_layers`] drops
//! the stale entries at once instead of waiting for eviction.
//!
//! Owns caching and compression of finished tiles; knows nothing of how they are made.

use std::io::Write;
use std::sync::Arc;

use bytes::Bytes;
use flate2::write::GzEncoder;
use flate2::Compression;

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
        Ok(EncodedTile { raw, gzip: Some(Bytes::from(gzipped)), etag })
    }

    /// Wraps a rendered tile; `level` is the gzip level (None: no gzip form).
    pub fn new(raw: Vec<u8>, etag: String, level: Option<u32>) -> EncodedTile {
        let gzip = level.filter(|_| !raw.is_empty()).map(|l| Bytes::from(gzip(&raw, l)));
        EncodedTile { raw: Bytes::from(raw), gzip, etag }
    }

    fn weight(&self) -> u32 {
        (self.raw.len() + self.gzip.as_ref().map_or(0, Bytes::len) + self.etag.len() + 96).min(u32::MAX as usize) as u32
    }
}

pub fn gzip(data: &[u8], level: u32) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(data.len() / 3 + 64), Compression::new(level));
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(data);
    encoder.finish().unwrap_or_default()
}

pub fn gunzip(data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(data.len() * 3);
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(data), &mut out)?;
    Ok(out)
}

pub struct TileCache {
    inner: moka::sync::Cache<(String, TileId), Arc<EncodedTile>>,
}

impl TileCache {
    pub fn new(budget_bytes: u64) -> TileCache {
        let inner = moka::sync::Cache::builder()
            .max_capacity(budget_bytes)
            .weigher(|key: &(String, TileId), tile: &Arc<EncodedTile>| tile.weight().saturating_add(key.0.len() as u32))
            .support_invalidation_closures()
            .build();
        TileCache { inner }
    }

    pub fn get(&self, key: &str, tile: TileId) -> Option<Arc<EncodedTile>> {
        self.inner.get(&(key.to_string(), tile))
    }

    pub fn insert(&self, key: &str, tile: TileId, encoded: Arc<EncodedTile>) {
        self.inner.insert((key.to_string(), tile), encoded);
    }

    /// Drops every cached tile of a source that uses one of `layers`.
    pub fn forget_layers(&self, layers: &[String]) {
        let layers: Vec<String> = layers.to_vec();
        let uses = move |key: &(String, TileId), _: &Arc<EncodedTile>| {
            key.0.split(':').filter_map(|part| part.rsplit_once('@')).any(|(name, _)| layers.iter().any(|l| l == name))
        };
        if let Err(e) = self.inner.invalidate_entries_if(uses) {
            tracing::warn!(error = %e, "tile cache could not drop stale tiles; they will age out");
        }
    }
}
