//! Caches of finished responses, kept gzip-compressed as they are sent so that a hit costs no
//! compression: the gzip helpers and [`ByteBudgetCache`], a moka cache (TinyLFU admission, LRU-ish
//! eviction) bounded by the bytes its entries hold.
//!
//! Owns compression and the byte budget only. Knows nothing of tiles, 3D or HTTP (never imports
//! axum): callers choose the key, say what an entry weighs, and say which entries went stale
//! after a re-import.

use std::borrow::Borrow;
use std::cell::RefCell;
use std::hash::Hash;
use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};

use flate2::{Compress, Compression, Crc, FlushCompress, Status};

/// Gzip-compresses `data` at `level` (0-9: 1 fastest, 9 smallest).
pub fn gzip(data: &[u8], level: u32) -> Vec<u8> {
    thread_local! {
        /// One deflate state per thread and level, reset between uses: a fresh state allocates
        /// and zeroes a few hundred kB, which cost more than compressing a small tile.
        static DEFLATE: RefCell<Vec<(u32, Compress)>> = const { RefCell::new(Vec::new()) };
    }
    DEFLATE.with(|states| {
        let mut states = states.borrow_mut();
        let index = match states.iter().position(|(l, _)| *l == level) {
            Some(i) => i,
            None => {
                states.push((level, Compress::new(Compression::new(level), false)));
                states.len() - 1
            }
        };
        let compress = &mut states[index].1;
        compress.reset();
        // RFC 1952 header: deflate, no flags, no mtime, no extra flags, OS unknown.
        let mut out = Vec::with_capacity(data.len() / 3 + 64);
        out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255]);
        loop {
            let consumed = compress.total_in() as usize;
            match compress.compress_vec(&data[consumed..], &mut out, FlushCompress::Finish) {
                Ok(Status::StreamEnd) => break,
                // Out of room (or no progress possible without it): grow and go on.
                Ok(_) | Err(_) if out.len() == out.capacity() => out.reserve(out.capacity().max(4096)),
                Ok(_) => out.reserve(4096),
                // A deflate error on in-memory buffers cannot happen with a valid level.
                Err(_) => return Vec::new(),
            }
        }
        let mut crc = Crc::new();
        crc.update(data);
        out.extend_from_slice(&crc.sum().to_le_bytes());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out
    })
}

/// Why gzip bytes could not be inflated.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GunzipError {
    #[error("not valid gzip: {0}")]
    Corrupt(#[source] std::io::Error),
    #[error("inflates past {limit} bytes (a gzip bomb, or a file too large to send uncompressed)")]
    TooLarge { limit: usize },
}

/// Inflates `data`, stopping at `limit` output bytes: a few kB of crafted gzip inflate to
/// gigabytes, so every caller says how much it can hold.
pub fn gunzip(data: &[u8], limit: usize) -> Result<Vec<u8>, GunzipError> {
    let mut out = Vec::with_capacity(data.len().saturating_mul(3).min(limit));
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    flate2::read::GzDecoder::new(data)
        .take(cap)
        .read_to_end(&mut out)
        .map_err(GunzipError::Corrupt)?;
    if out.len() > limit {
        return Err(GunzipError::TooLarge { limit });
    }
    Ok(out)
}

/// A cache whose entries together weigh at most a byte budget; a budget of 0 switches it off
/// (nothing is kept). Values are cheap handles (`Arc`), cloned out on a hit. Hits and misses
/// (values made and kept) are counted with relaxed atomics, for `/metrics`.
pub struct ByteBudgetCache<K, V> {
    entries: Option<moka::sync::Cache<K, V>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

/// What a cache has done so far and holds now.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
    /// The weight of the entries held (their bytes, as the cache's weigher counts them).
    pub bytes: u64,
    pub entries: u64,
}

impl<K, V> ByteBudgetCache<K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// `weigh` gives the bytes an entry holds; an entry heavier than the whole budget is not kept.
    pub fn new(budget_bytes: u64, weigh: impl Fn(&K, &V) -> u32 + Send + Sync + 'static) -> ByteBudgetCache<K, V> {
        let entries = (budget_bytes > 0).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(budget_bytes)
                .weigher(weigh)
                .support_invalidation_closures()
                .build()
        });
        ByteBudgetCache {
            entries,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// Whether the cache keeps anything (its budget is not 0).
    pub fn is_on(&self) -> bool {
        self.entries.is_some()
    }

    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let found = self.entries.as_ref()?.get(key);
        if found.is_some() {
            self.hits.fetch_add(1, Ordering::Relaxed);
        }
        found
    }

    /// Hits and misses since start (none while off), and what is held now.
    pub fn stats(&self) -> CacheStats {
        let Some(entries) = &self.entries else {
            return CacheStats::default();
        };
        entries.run_pending_tasks();
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            bytes: entries.weighted_size(),
            entries: entries.entry_count(),
        }
    }

    /// Keeps a value made because it was not found: counted as the miss (a caller may look
    /// twice before making it, but makes it once).
    pub fn insert(&self, key: K, value: V) {
        if let Some(entries) = &self.entries {
            self.misses.fetch_add(1, Ordering::Relaxed);
            entries.insert(key, value);
        }
    }

    /// Drops every entry for which `stale` holds, at once rather than waiting for eviction
    /// (after a re-import, so stale entries stop taking budget from live ones).
    pub fn forget_if(&self, stale: impl Fn(&K, &V) -> bool + Send + Sync + 'static) {
        let Some(entries) = &self.entries else { return };
        if let Err(e) = entries.invalidate_entries_if(stale) {
            tracing::warn!(error = %e, "cache could not drop stale entries; they will age out");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn cache(budget: u64) -> ByteBudgetCache<String, Arc<Vec<u8>>> {
        ByteBudgetCache::new(budget, |_, bytes: &Arc<Vec<u8>>| bytes.len() as u32)
    }

    /// Lets moka apply pending evictions and invalidations now (it does so lazily).
    fn settle(cache: &ByteBudgetCache<String, Arc<Vec<u8>>>) {
        if let Some(entries) = &cache.entries {
            entries.run_pending_tasks();
        }
    }

    #[test]
    fn gzip_round_trips_at_every_level() {
        for level in [1, 6, 9] {
            assert_eq!(gunzip(&gzip(b"glTF glTF glTF", level), 14).unwrap(), b"glTF glTF glTF");
        }
        assert!(matches!(gunzip(b"not gzip", 100), Err(GunzipError::Corrupt(_))));
        let bomb = gzip(&vec![0u8; 1 << 20], 9);
        assert!(bomb.len() < 2048, "a megabyte of zeros packs into {} bytes", bomb.len());
        assert!(matches!(gunzip(&bomb, (1 << 20) - 1), Err(GunzipError::TooLarge { .. })));
        assert_eq!(gunzip(&bomb, 1 << 20).unwrap().len(), 1 << 20);
    }

    #[test]
    fn the_budget_bounds_the_bytes_kept_and_zero_disables() {
        let cache = cache(10);
        for name in ["a", "b", "c"] {
            cache.insert(name.into(), Arc::new(vec![0; 4]));
            settle(&cache);
        }
        let kept = ["a", "b", "c"].iter().filter(|k| cache.get(**k).is_some()).count();
        assert_eq!(kept, 2, "three 4-byte entries in a 10-byte budget");
        cache.insert("huge".into(), Arc::new(vec![0; 11]));
        settle(&cache);
        assert!(cache.get("huge").is_none(), "an entry over the whole budget is not kept");
        let off = self::cache(0);
        off.insert("a".into(), Arc::new(vec![1]));
        assert!(!off.is_on() && off.get("a").is_none());
    }

    #[test]
    fn forget_if_drops_exactly_the_matching_entries() {
        let cache = cache(100);
        cache.insert("sites@1".into(), Arc::new(vec![1]));
        cache.insert("parcels@1".into(), Arc::new(vec![2]));
        cache.forget_if(|key, _| key.starts_with("sites@"));
        settle(&cache);
        assert!(cache.get("sites@1").is_none());
        assert_eq!(cache.get("parcels@1").as_deref(), Some(&vec![2]));
    }
}
