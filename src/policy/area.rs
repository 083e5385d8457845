//! Area scope: a `scoped = true` role sees only the features in its identity's units (`LAYER:CODE`
//! from the token's `--scope`), by the statistics' membership rule
//! ([`crate::query::members_in_units`]: the unit holding the centroid). Which features of a layer
//! are in a scope is worked out once per layer, scope and catalog generation and kept in the
//! [`AreaMemo`] (off with the caches), so a scoped tile costs a bit test per feature.
//!
//! Owns the scope of a view and the memo; the rule itself is the statistics'.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

use crate::index::{Catalog, LayerData, Members};

/// Most (layer, scope) member sets kept; past this the memo starts over.
const MEMO_MAX: usize = 256;

/// The units a scoped view is limited to.
#[derive(Debug, Clone)]
pub struct Area {
    units: Arc<[String]>,
    /// A digest of the units (sorted), what caches of scoped views key on.
    key: u64,
    memo: Arc<AreaMemo>,
}

impl Area {
    pub fn new(units: &[String], memo: Arc<AreaMemo>) -> Area {
        let mut sorted: Vec<String> = units.to_vec();
        sorted.sort();
        sorted.dedup();
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        sorted.hash(&mut hasher);
        Area {
            units: sorted.into(),
            key: hasher.finish(),
            memo,
        }
    }

    pub fn units(&self) -> &[String] {
        &self.units
    }

    pub fn key(&self) -> u64 {
        self.key
    }

    /// The features of `layer` inside this area.
    pub fn members(&self, catalog: &Catalog, layer: &LayerData) -> Arc<Members> {
        self.memo.members(catalog, layer, self)
    }
}

type MemoKey = (String, i64, u64);

/// Member sets by (layer, import id, scope key), valid for one catalog generation (a re-import
/// of a unit layer moves it, so no set outlives the units it was cut by).
pub struct AreaMemo {
    on: bool,
    sets: Mutex<(i64, HashMap<MemoKey, Arc<Members>>)>,
}

impl AreaMemo {
    /// `on == false` works every set out afresh (with the caches off).
    pub fn new(on: bool) -> AreaMemo {
        AreaMemo {
            on,
            sets: Mutex::new((i64::MIN, HashMap::new())),
        }
    }

    fn members(&self, catalog: &Catalog, layer: &LayerData, area: &Area) -> Arc<Members> {
        let work = || Arc::new(crate::query::members_in_units(catalog, layer, &area.units));
        if !self.on {
            return work();
        }
        let generation = catalog.generation();
        let key = (layer.meta.name.clone(), layer.meta.import_id, area.key);
        {
            let sets = self.sets.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(hit) = sets.1.get(&key).filter(|_| sets.0 == generation) {
                return hit.clone();
            }
        }
        let members = work();
        let mut sets = self.sets.lock().unwrap_or_else(|e| e.into_inner());
        if sets.0 != generation || sets.1.len() >= MEMO_MAX {
            sets.1.clear();
            sets.0 = generation;
        }
        sets.1.insert(key, members.clone());
        members
    }
}

impl Default for AreaMemo {
    fn default() -> AreaMemo {
        AreaMemo::new(true)
    }
}

impl std::fmt::Debug for AreaMemo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AreaMemo").field("on", &self.on).finish_non_exhaustive()
    }
}
