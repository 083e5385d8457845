//! A byte-budgeted cache of finished 3D responses (tileset.json and GLB bytes), kept gzip-compressed
//! as they are sent (GLB shrinks ~3×, tileset.json ~10×), so a hit costs no compression. Keys carry the
//! layer's `import_id`, so a re-import makes old entries unreachable; they then age out. Eviction
//! is first-in first-out: 3D clients fetch a view's tiles together, so recency within a budget of
//! hundreds of MiB buys little over the simplicity. A budget of 0 switches the cache off.

use std::collections::{HashMap, VecDeque};
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};

/// Gzip at the fast level: float vertex data barely compresses further at the default level,
/// which costs four times the time.
pub fn gzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::with_capacity(bytes.len() / 2), flate2::Compression::fast());
    encoder.write_all(bytes)?;
    encoder.finish()
}

pub fn gunzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(bytes.len() * 3);
    flate2::read::GzDecoder::new(bytes).read_to_end(&mut out)?;
    Ok(out)
}

/// What a response is: which tileset variant (`layer:NAME` or `scenario:ID`), of which import,
/// and which file of it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    pub variant: String,
    pub import_id: i64,
    pub file: String,
}

#[derive(Default)]
struct Entries {
    map: HashMap<CacheKey, Arc<Vec<u8>>>,
    order: VecDeque<CacheKey>,
    bytes: u64,
}

pub struct ResponseCache {
    budget: u64,
    entries: Mutex<Entries>,
}

impl ResponseCache {
    pub fn new(budget_bytes: u64) -> ResponseCache {
        ResponseCache { budget: budget_bytes, entries: Mutex::new(Entries::default()) }
    }

    pub fn get(&self, key: &CacheKey) -> Option<Arc<Vec<u8>>> {
        if self.budget == 0 {
            return None;
        }
        self.entries.lock().ok()?.map.get(key).cloned()
    }

    /// Stores `bytes` unless they alone exceed the budget; evicts the oldest entries to fit.
    pub fn put(&self, key: CacheKey, bytes: Arc<Vec<u8>>) {
        let size = bytes.len() as u64;
        if size > self.budget {
            return;
        }
        let Ok(mut e) = self.entries.lock() else { return };
        if e.map.contains_key(&key) {
            return;
        }
        while e.bytes + size > self.budget {
            let Some(old) = e.order.pop_front() else { break };
            if let Some(b) = e.map.remove(&old) {
                e.bytes -= b.len() as u64;
            }
        }
        e.bytes += size;
        e.order.push_back(key.clone());
        e.map.insert(key, bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(file: &str) -> CacheKey {
        CacheKey { variant: "layer:b".into(), import_id: 1, file: file.into() }
    }

    #[test]
    fn the_budget_evicts_oldest_first_and_zero_disables() {
        let cache = ResponseCache::new(10);
        cache.put(key("a"), Arc::new(vec![0; 6]));
        cache.put(key("b"), Arc::new(vec![0; 4]));
        cache.put(key("c"), Arc::new(vec![0; 4]));
        assert!(cache.get(&key("a")).is_none());
        assert!(cache.get(&key("b")).is_some() && cache.get(&key("c")).is_some());
        cache.put(key("huge"), Arc::new(vec![0; 11]));
        assert!(cache.get(&key("huge")).is_none());
        assert_eq!(gunzip(&gzip(b"glTF").unwrap()).unwrap(), b"glTF");
        let off = ResponseCache::new(0);
        off.put(key("a"), Arc::new(vec![1]));
        assert!(off.get(&key("a")).is_none());
    }
}
