//! The memo shape the views' derived data share (area member sets, aggregate figures layers):
//! values by key, valid for one catalog generation, bounded, and off with the caches.
//!
//! Owns only keeping and dropping; what a value is and how it is worked out is its user's.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

/// Values by key for the catalog generation they were made at; past `max` entries, or at a new
/// generation, it starts over (a re-import of a unit layer moves every set cut by its units).
pub(super) struct GenerationMemo<K, V> {
    on: bool,
    max: usize,
    held: Mutex<(i64, HashMap<K, Arc<V>>)>,
}

impl<K: Hash + Eq, V> GenerationMemo<K, V> {
    /// `on == false` works every value out afresh.
    pub fn new(on: bool, max: usize) -> GenerationMemo<K, V> {
        GenerationMemo {
            on,
            max,
            held: Mutex::new((i64::MIN, HashMap::new())),
        }
    }

    pub fn is_on(&self) -> bool {
        self.on
    }

    /// The value of `key` at `generation`, worked out by `work` (outside the lock) when not held.
    pub fn get_or(&self, generation: i64, key: K, work: impl FnOnce() -> V) -> Arc<V> {
        if !self.on {
            return Arc::new(work());
        }
        {
            let held = self.held.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(hit) = held.1.get(&key).filter(|_| held.0 == generation) {
                return hit.clone();
            }
        }
        let value = Arc::new(work());
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        if held.0 != generation || held.1.len() >= self.max {
            held.1.clear();
            held.0 = generation;
        }
        held.1.insert(key, value.clone());
        value
    }
}
