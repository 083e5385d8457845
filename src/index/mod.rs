//! The in-memory side of the store: every layer's features decoded once, with an rstar R-tree
//! over their bounding boxes, behind a [`Catalog`] that swaps a layer atomically when a
//! re-import lands. Tiles, 3D tiles and queries read only from here, never from the store file.
//!
//! Owns: loading, bulk-loading R-trees, hot swap. Does not know about HTTP, tile math or file
//! formats; it reads the store only through the [`Store`] trait.

use std::collections::BTreeMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use rstar::{RTree, RTreeObject, AABB};

use crate::feature::{Bbox, Feature};
use crate::store::{LayerMeta, Store, StoreError};

/// One R-tree entry: a feature's position in [`LayerData::features`] and its envelope.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Entry {
    pub index: u32,
    pub envelope: AABB<[f64; 2]>,
}

impl RTreeObject for Entry {
    type Envelope = AABB<[f64; 2]>;
    fn envelope(&self) -> Self::Envelope {
        self.envelope
    }
}

impl rstar::PointDistance for Entry {
    /// Squared distance in degrees to the envelope: a lower bound that nearest-neighbour searches
    /// refine with true geodesic distances.
    fn distance_2(&self, point: &[f64; 2]) -> f64 {
        self.envelope.distance_2(point)
    }
}

/// A layer ready to serve: catalog entry, features in id order, R-tree.
pub struct LayerData {
    pub meta: LayerMeta,
    pub features: Vec<Feature>,
    pub tree: RTree<Entry>,
}

/// A subset of one layer's features, by their index in [`LayerData::features`] (e.g. those in a
/// request's area scope).
#[derive(Debug, Clone, PartialEq)]
pub struct Members {
    bits: Vec<u64>,
}

impl Members {
    /// The features of a layer of `len` whose index `keep` accepts.
    pub fn of(len: usize, keep: impl Fn(usize) -> bool) -> Members {
        let mut bits = vec![0u64; len.div_ceil(64)];
        (0..len).filter(|&i| keep(i)).for_each(|i| bits[i / 64] |= 1 << (i % 64));
        Members { bits }
    }

    pub fn contains(&self, index: u32) -> bool {
        let i = index as usize;
        self.bits.get(i / 64).is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    pub fn count(&self) -> usize {
        self.bits.iter().map(|w| w.count_ones() as usize).sum()
    }
}

pub fn aabb(b: &Bbox) -> AABB<[f64; 2]> {
    AABB::from_corners([b.west, b.south], [b.east, b.north])
}

impl LayerData {
    /// Bulk-loads the R-tree (one pass, no incremental inserts).
    pub fn build(meta: LayerMeta, features: Vec<Feature>) -> LayerData {
        let entries: Vec<Entry> = features
            .iter()
            .enumerate()
            .filter_map(|(i, f)| {
                Bbox::of(&f.geometry).map(|b| Entry {
                    index: i as u32,
                    envelope: aabb(&b),
                })
            })
            .collect();
        LayerData {
            meta,
            features,
            tree: RTree::bulk_load(entries),
        }
    }

    pub fn load(store: &dyn Store, meta: LayerMeta) -> Result<LayerData, StoreError> {
        let mut features = Vec::with_capacity(meta.feature_count as usize);
        store.for_each_feature(&meta, &mut |f| features.push(f))?;
        Ok(LayerData::build(meta, features))
    }

    /// Features whose bounding box intersects `bbox`.
    pub fn in_bbox<'a>(&'a self, bbox: &Bbox) -> impl Iterator<Item = &'a Feature> + 'a {
        self.tree
            .locate_in_envelope_intersecting(&aabb(bbox))
            .map(move |e| &self.features[e.index as usize])
    }

    pub fn by_id(&self, id: i64) -> Option<&Feature> {
        self.features.binary_search_by_key(&id, |f| f.id).ok().map(|i| &self.features[i])
    }
}

/// All served layers; readers take a snapshot, a refresh swaps in a new map without blocking them.
/// Live layers (`crate::live`) are not in the store's catalog: their owner puts fresh snapshots
/// in with [`Catalog::put_live`], and a refresh keeps them.
pub struct Catalog {
    layers: ArcSwap<BTreeMap<String, Arc<LayerData>>>,
    generation: std::sync::atomic::AtomicI64,
    /// Bumped on every swap, store or live: what memos of resolved sources key on.
    version: std::sync::atomic::AtomicI64,
    /// The names of the live layers.
    live: std::sync::RwLock<std::collections::BTreeSet<String>>,
    /// Serialises the read-modify-write of the map by a refresh and a live publication.
    swapping: std::sync::Mutex<()>,
}

impl Catalog {
    pub fn empty() -> Catalog {
        Catalog {
            layers: ArcSwap::from_pointee(BTreeMap::new()),
            generation: std::sync::atomic::AtomicI64::new(-1),
            version: std::sync::atomic::AtomicI64::new(0),
            live: Default::default(),
            swapping: std::sync::Mutex::new(()),
        }
    }

    /// A number that changes whenever any layer is swapped, live layers included: anything
    /// resolved from the catalog's layers is current while it is unchanged.
    pub fn version(&self) -> i64 {
        self.version.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Whether `name` is a live layer (kept in memory by `crate::live`, not in the store).
    pub fn is_live(&self, name: &str) -> bool {
        self.live.read().unwrap_or_else(|e| e.into_inner()).contains(name)
    }

    /// Swaps in new snapshots of live layers (registering their names as live).
    pub fn put_live(&self, layers: Vec<Arc<LayerData>>) {
        let _swapping = self.swapping.lock().unwrap_or_else(|e| e.into_inner());
        let mut next = (*self.snapshot()).clone();
        {
            let mut live = self.live.write().unwrap_or_else(|e| e.into_inner());
            for layer in layers {
                live.insert(layer.meta.name.clone());
                next.insert(layer.meta.name.clone(), layer);
            }
        }
        self.layers.store(Arc::new(next));
        self.version.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    /// Loads every layer of the store.
    pub fn load(store: &dyn Store) -> Result<Catalog, StoreError> {
        let catalog = Catalog::empty();
        catalog.refresh(store)?;
        Ok(catalog)
    }

    pub fn snapshot(&self) -> Arc<BTreeMap<String, Arc<LayerData>>> {
        self.layers.load_full()
    }

    /// The store generation the catalog last loaded: anything derived from the catalog is
    /// current while this is unchanged (it is stored after the layers are swapped in).
    pub fn generation(&self) -> i64 {
        self.generation.load(std::sync::atomic::Ordering::Acquire)
    }

    pub fn get(&self, name: &str) -> Option<Arc<LayerData>> {
        self.layers.load().get(name).cloned()
    }

    /// Reloads the layers whose contents changed in the store since the last refresh and drops
    /// deleted ones. Returns the names of the layers that changed. Cheap when nothing changed.
    pub fn refresh(&self, store: &dyn Store) -> Result<Vec<String>, StoreError> {
        let generation = store.generation()?;
        if generation == self.generation.load(std::sync::atomic::Ordering::Acquire) {
            return Ok(Vec::new());
        }
        let _swapping = self.swapping.lock().unwrap_or_else(|e| e.into_inner());
        let current = self.snapshot();
        let live = self.live.read().unwrap_or_else(|e| e.into_inner()).clone();
        let mut next: BTreeMap<String, Arc<LayerData>> = current
            .iter()
            .filter(|(name, _)| live.contains(*name))
            .map(|(n, l)| (n.clone(), l.clone()))
            .collect();
        let mut changed = Vec::new();
        for meta in store.layers()? {
            match current.get(&meta.name) {
                Some(existing) if existing.meta.import_id == meta.import_id => {
                    next.insert(meta.name.clone(), existing.clone());
                }
                _ => {
                    let started = std::time::Instant::now();
                    let name = meta.name.clone();
                    let data = LayerData::load(store, meta)?;
                    tracing::info!(layer = %name, features = data.features.len(), ms = started.elapsed().as_millis() as u64, "layer loaded");
                    changed.push(name.clone());
                    next.insert(name, Arc::new(data));
                }
            }
        }
        changed.extend(current.keys().filter(|k| !next.contains_key(*k)).cloned());
        self.layers.store(Arc::new(next));
        self.generation.store(generation, std::sync::atomic::Ordering::Release);
        self.version.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        Ok(changed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feature::{GeometryKind, LayerKind};
    use geo_types::point;

    #[test]
    fn bbox_lookup_finds_exactly_the_features_inside() {
        let features: Vec<Feature> = (0..100)
            .map(|i| Feature {
                id: i + 1,
                geometry: point!(x: 107.0 + i as f64 * 0.01, y: 16.0).into(),
                properties: vec![],
            })
            .collect();
        let meta = LayerMeta::new("p", LayerKind::Poi, GeometryKind::Point, vec![]);
        let layer = LayerData::build(meta, features);
        let hits: Vec<i64> = layer
            .in_bbox(&Bbox {
                west: 107.095,
                south: 15.9,
                east: 107.205,
                north: 16.1,
            })
            .map(|f| f.id)
            .collect();
        assert_eq!(hits.len(), 11);
        assert_eq!(layer.by_id(42).unwrap().id, 42);
    }
}
