//! The 3D response cache: finished responses (tileset.json and GLB bytes) kept gzip-compressed as
//! they are sent (GLB shrinks ~3×, tileset.json ~10×), so a hit costs no compression. Keys carry
//! the layer's `import_id`, so a re-import makes old entries unreachable; they then age out.
//!
//! Owns the key and the gzip level of 3D responses (the byte budget and compression are the
//! shared [`crate::cache`]), and the memo of recent tile trees: a tile's content depends on what
//! its ancestors took, so a tile request needs its variant's whole tree.

use std::sync::Arc;

use super::{City3d, Tree};
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

/// How many tile trees the memo keeps (the most recently used): a tree costs ~4 bytes a building
/// plus its tiles, so eight province-sized variants take a few tens of MB.
pub const TREES_KEPT: u64 = 8;

/// The tile trees of the most recently used tileset variants, keyed by (variant, import_id) like
/// responses, so a re-import is never served an old tree. Concurrent requests for a tree not yet
/// built wait for one build rather than each making their own.
pub struct TreeMemo {
    trees: Option<moka::sync::Cache<(String, i64), Arc<Tree>>>,
}

impl TreeMemo {
    /// `on = false` keeps nothing: every request builds its tree.
    pub fn new(on: bool) -> TreeMemo {
        TreeMemo {
            trees: on.then(|| moka::sync::Cache::new(TREES_KEPT)),
        }
    }

    /// The tree of `city`, which is tileset variant `variant`.
    pub fn tree(&self, variant: &str, city: &City3d) -> Arc<Tree> {
        match &self.trees {
            Some(trees) => trees.get_with((variant.to_string(), city.layer().meta.import_id), || Arc::new(city.tree())),
            None => Arc::new(city.tree()),
        }
    }
}
