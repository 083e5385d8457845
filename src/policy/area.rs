//! Area scope: a `scoped = true` role sees only the features in its identity's units (`LAYER:CODE`
//! from the token's `--scope`), by the statistics' membership rule
//! ([`crate::query::members_in_units`]: the unit holding the centroid). Which features of a layer
//! are in a scope is worked out once per layer, scope and catalog generation and kept in the
//! [`AreaMemo`] (off with the caches), so a scoped tile costs a bit test per feature.
//!
//! Owns the scope of a view and the memo; the rule itself is the statistics'.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use super::memo::GenerationMemo;
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
    sets: GenerationMemo<MemoKey, Members>,
}

impl AreaMemo {
    /// `on == false` works every set out afresh (with the caches off).
    pub fn new(on: bool) -> AreaMemo {
        AreaMemo {
            sets: GenerationMemo::new(on, MEMO_MAX),
        }
    }

    fn members(&self, catalog: &Catalog, layer: &LayerData, area: &Area) -> Arc<Members> {
        let key = (layer.meta.name.clone(), layer.meta.import_id, area.key);
        self.sets.get_or(catalog.generation(), key, || {
            crate::query::members_in_units(catalog, layer, &area.units)
        })
    }
}

impl Default for AreaMemo {
    fn default() -> AreaMemo {
        AreaMemo::new(true)
    }
}

impl std::fmt::Debug for AreaMemo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AreaMemo").field("on", &self.sets.is_on()).finish_non_exhaustive()
    }
}
