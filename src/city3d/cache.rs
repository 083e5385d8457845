//! The 3D response cache: finished responses (tileset.json and GLB bytes) kept gzip-compressed as
//! they are sent (GLB shrinks ~3×, tileset.json ~10×), so a hit costs no compression. Keys carry
//! the layer's `import_id`, so a re-import makes old entries unreachable; they then age out.
//!
//! Owns the key and the gzip level of 3D responses; the byte budget and compression are the
//! shared [`crate::cache`].

use std::sync::Arc;

use crate::cache::ByteBudgetCache;

/// Gzip at the fast level: float vertex data barely compresses further at the default level,
/// which costs four times the time.
pub const GZIP_LEVEL: u32 = 1;

/// What a response is: which tileset variant (`layer:NAME` or `scenario:ID`), of which import,
/// and which file of it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    pub variant: String,
    pub import_id: i64,
    pub file: String,
}

/// Gzipped response bytes by what they are.
pub type ResponseCache = ByteBudgetCache<CacheKey, Arc<Vec<u8>>>;

/// A response cache holding at most `budget_bytes` of gzipped responses; 0 switches it off.
pub fn response_cache(budget_bytes: u64) -> ResponseCache {
    ResponseCache::new(budget_bytes, |_, bytes| bytes.len().min(u32::MAX as usize) as u32)
}
