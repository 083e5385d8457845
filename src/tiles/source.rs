//! What a tile request draws: a [`TileSource`] is an ordered list of MVT layers, each a store
//! layer snapshot with an optional filter, the attributes carried and a zoom range. Built either
//! from a comma list of layer names (`/tiles/{layers}`) or from a scenario map.
//!
//! Owns the resolution of names against the catalog and the request's [`View`] (a layer outside
//! it is unknown, a hidden field is not carried) and the cache key of a source (which names
//! every layer's `import_id`, so a re-import changes exactly the keys of the sources that use
//! the re-imported layer, and the fields carried when a view hides some, so views that see the
//! same share tiles). Does not render.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, RwLock};

use crate::feature::FieldType;
use crate::index::{Catalog, LayerData, Members};
use crate::policy::{Aggregate, View};
use crate::scenarios::{BoundFilter, Scenario};

use super::math::{TileId, MAX_ZOOM};
use super::TileError;

/// Most layers one request may combine.
pub const MAX_LAYERS: usize = 32;

/// One MVT layer of a source.
pub struct SourceLayer {
    /// The layer's name in the tile.
    pub name: String,
    pub data: Arc<LayerData>,
    pub filter: Option<BoundFilter>,
    /// Only these features are drawn (a scoped view's area); `None`: all.
    pub members: Option<Arc<Members>>,
    /// Identifies the generalisation ladder: the store layer's name, plus the filter when there is one.
    pub ladder_key: String,
    /// Indices into the features' properties of the attributes carried, in key order.
    pub fields: Vec<usize>,
    /// Shallower zooms' lists, ascending by the deepest zoom each applies to (see
    /// [`SourceLayer::fields_at`]); empty for a plain layer list.
    pub zoom_fields: Vec<(u8, Vec<usize>)>,
    pub minzoom: u8,
    pub maxzoom: u8,
}

impl SourceLayer {
    /// The attributes a tile at zoom `z` carries, and whether the scenario chose them for that
    /// zoom (rather than `fields` for every zoom).
    pub fn fields_at(&self, z: u8) -> (&[usize], bool) {
        match self.zoom_fields.iter().find(|(maxzoom, _)| z <= *maxzoom) {
            Some((_, fields)) => (fields, true),
            None => (&self.fields, false),
        }
    }

    pub fn field_names(&self) -> impl Iterator<Item = &str> {
        self.fields.iter().map(|&i| self.data.meta.fields[i].name.as_str())
    }

    /// TileJSON's field types: `Number`, `Boolean` or `String`.
    pub fn field_types(&self) -> impl Iterator<Item = (&str, &'static str)> {
        self.fields.iter().map(|&i| {
            let f = &self.data.meta.fields[i];
            let ty = match f.ty {
                FieldType::Int | FieldType::Float => "Number",
                FieldType::Bool => "Boolean",
                FieldType::Text => "String",
            };
            (f.name.as_str(), ty)
        })
    }
}

/// An ordered set of MVT layers plus the key that identifies its tiles' contents.
pub struct TileSource {
    pub layers: Vec<SourceLayer>,
    /// Shared with every cache entry of this source (a cache lookup clones it, never copies it).
    pub key: Arc<str>,
    /// Some layer is live (`crate::live`): its tiles change within seconds.
    pub live: bool,
}

impl TileSource {
    /// `parcels` or `wards,roads,parcels`: every layer whole, with all the attributes `view` sees.
    pub fn from_layer_list(catalog: &Catalog, list: &str, view: &View) -> Result<TileSource, TileError> {
        let names: Vec<&str> = list.split(',').collect();
        if names.len() > MAX_LAYERS {
            return Err(TileError::TooManyLayers(names.len()));
        }
        let mut layers: Vec<SourceLayer> = Vec::with_capacity(names.len());
        let mut key = String::from("L");
        let mut live = false;
        for name in names {
            if name.is_empty() {
                return Err(TileError::BadLayerList(
                    "an empty layer name (two commas in a row, or a trailing comma)".into(),
                ));
            }
            if layers.iter().any(|l| l.name == name) {
                return Err(TileError::BadLayerList(format!("layer '{name}' is listed twice")));
            }
            let data = view
                .layer(catalog, name)
                .ok_or_else(|| TileError::UnknownLayer(name.escape_default().to_string()))?;
            key.push_str(&format!(":{name}@{}", data.meta.import_id));
            let fields = view.fields(&data.meta);
            if !view.sees_all_fields(&data.meta) {
                push_fields(&mut key, &fields);
            }
            push_area(&mut key, view);
            live |= catalog.is_live(name);
            let ladder_key = match view.aggregate(name) {
                None => name.to_string(),
                Some(aggregate) => figures_ladder(&mut key, catalog, aggregate, &data),
            };
            layers.push(SourceLayer {
                name: name.to_string(),
                ladder_key,
                members: view.members(catalog, &data),
                data,
                filter: None,
                fields,
                zoom_fields: Vec::new(),
                minzoom: 0,
                maxzoom: MAX_ZOOM,
            });
        }
        Ok(TileSource {
            layers,
            key: key.into(),
            live,
        })
    }

    /// The layers of a scenario map. Layers missing from the store are left out (and logged) so
    /// the rest of the map still draws; layers outside `view` are left out, and fields it hides
    /// are not carried.
    pub fn from_scenario(catalog: &Catalog, scenario: &Scenario, view: &View) -> Result<TileSource, TileError> {
        let mut key = format!("S:{}:{:x}", scenario.id, scenario.fingerprint);
        let mut layers = Vec::with_capacity(scenario.layers.len());
        let mut live = false;
        for sl in scenario.layers.iter().filter(|sl| view.may_read(&sl.layer)) {
            let Some(data) = catalog.get(&sl.layer) else {
                tracing::warn!(scenario = %scenario.id, layer = %sl.layer, "scenario layer is not in the store; left out");
                continue;
            };
            let shown = ScenarioLayerShown::bind(scenario, sl, &data, view)?;
            if let Some(aggregate) = view.aggregate(&sl.layer) {
                layers.extend(shown.aggregated(catalog, data, aggregate, view, &mut key));
                continue;
            }
            key.push_str(&format!(":{}@{}", sl.layer, data.meta.import_id));
            if !view.sees_all_fields(&data.meta) {
                push_fields(&mut key, &shown.fields);
                shown.zoom_fields.iter().for_each(|(_, f)| push_fields(&mut key, f));
            }
            push_area(&mut key, view);
            live |= catalog.is_live(&sl.layer);
            layers.push(SourceLayer {
                name: sl.tile_id().to_string(),
                ladder_key: shown.ladder_key,
                members: view.members(catalog, &data),
                data,
                filter: shown.filter,
                fields: shown.fields,
                zoom_fields: shown.zoom_fields,
                minzoom: sl.minzoom.unwrap_or(0),
                maxzoom: sl.maxzoom.unwrap_or(MAX_ZOOM),
            });
        }
        Ok(TileSource {
            layers,
            key: key.into(),
            live,
        })
    }

    /// Strong ETag of one tile of this source: a function of the layers' import ids, the source
    /// definition and this build of bando, so it is known before (or without) rendering.
    pub fn etag(&self, tile: TileId) -> String {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        (env!("CARGO_PKG_VERSION"), &*self.key, tile).hash(&mut hasher);
        format!("\"{:016x}\"", hasher.finish())
    }

    pub fn minzoom(&self) -> u8 {
        self.layers.iter().map(|l| l.minzoom).min().unwrap_or(0)
    }

    pub fn maxzoom(&self) -> u8 {
        self.layers.iter().map(|l| l.maxzoom).max().unwrap_or(MAX_ZOOM)
    }
}

/// What a scenario layer draws of its store layer for one view: its filter bound to the layer's
/// fields, the fields it carries (all it may see, or those it names) and per zoom, and the key of
/// its generalisation ladder.
struct ScenarioLayerShown<'s> {
    layer: &'s crate::scenarios::ScenarioLayer,
    scenario: &'s str,
    filter: Option<BoundFilter>,
    fields: Vec<usize>,
    zoom_fields: Vec<(u8, Vec<usize>)>,
    ladder_key: String,
}

impl<'s> ScenarioLayerShown<'s> {
    fn bind(scenario: &'s Scenario, sl: &'s crate::scenarios::ScenarioLayer, data: &LayerData, view: &View) -> Result<Self, TileError> {
        let bad = |reason: String| TileError::BadScenario {
            id: scenario.id.clone(),
            reason,
        };
        let filter = if sl.filter.is_empty() {
            None
        } else {
            Some(sl.filter.bind(&data.meta).map_err(bad)?)
        };
        let resolve = |names: &[String]| {
            names
                .iter()
                .filter(|n| !view.hides(&data.meta, n))
                .map(|n| {
                    data.meta
                        .field_index(n)
                        .ok_or_else(|| bad(format!("layer '{}' has no field '{n}' to show", sl.layer)))
                })
                .collect::<Result<Vec<_>, _>>()
        };
        let fields = match &sl.fields {
            None => view.fields(&data.meta),
            Some(names) => resolve(names)?,
        };
        let zoom_fields = sl
            .zoom_fields
            .iter()
            .map(|zf| Ok((zf.maxzoom, resolve(&zf.fields)?)))
            .collect::<Result<Vec<_>, TileError>>()?;
        let ladder_key = match &filter {
            None => sl.layer.clone(),
            Some(_) => format!("{}|{}", sl.layer, serde_json::to_string(&sl.filter).unwrap_or_default()),
        };
        Ok(ScenarioLayerShown {
            layer: sl,
            scenario: &scenario.id,
            filter,
            fields,
            zoom_fields,
            ladder_key,
        })
    }

    /// The layer of an aggregate-only view: figures per unit of the features the layer draws,
    /// summing the fields it shows; none when the units are not in the store.
    fn aggregated(
        &self,
        catalog: &Catalog,
        data: Arc<LayerData>,
        aggregate: Aggregate,
        view: &View,
        key: &mut String,
    ) -> Option<SourceLayer> {
        let sl = self.layer;
        let counted = self.filter.as_ref().map(|f| (self.ladder_key.as_str(), f));
        let Some(figures) = view.figures(catalog, &data, counted, &self.fields) else {
            tracing::warn!(scenario = %self.scenario, layer = %sl.layer, units = aggregate.units, "the units of an aggregate-only layer are not in the store; left out");
            return None;
        };
        key.push_str(&format!(":{}@{}", sl.layer, figures.meta.import_id));
        push_area(key, view);
        Some(SourceLayer {
            name: sl.tile_id().to_string(),
            ladder_key: figures_ladder(key, catalog, aggregate, &figures),
            members: None,
            fields: view.fields(&figures.meta),
            data: figures,
            filter: None,
            zoom_fields: Vec::new(),
            minzoom: sl.minzoom.unwrap_or(0),
            maxzoom: sl.maxzoom.unwrap_or(MAX_ZOOM),
        })
    }
}

/// Records in a source's cache key which fields a layer carries (when a view hides some).
fn push_fields(key: &mut String, fields: &[usize]) {
    key.push('#');
    for (n, i) in fields.iter().enumerate() {
        if n > 0 {
            key.push('.');
        }
        key.push_str(&i.to_string());
    }
}

/// Records in a source's cache key the unit layer a figures layer was counted by (so a
/// re-import of the units forgets its tiles), and returns the figures' ladder key: the store
/// layer's name (which a re-import of it forgets) and the figures' own id.
fn figures_ladder(key: &mut String, catalog: &Catalog, aggregate: Aggregate, figures: &LayerData) -> String {
    let units = catalog.get(aggregate.units).map_or(0, |u| u.meta.import_id);
    key.push_str(&format!(":{}@{units}", aggregate.units));
    format!("{}|figures:{:x}", figures.meta.name, figures.meta.import_id)
}

/// Records in a source's cache key the area a scoped view is limited to (its units, not its user).
fn push_area(key: &mut String, view: &View) {
    if let Some(area) = view.area() {
        key.push_str(&format!("~{:x}", area.key()));
    }
}

/// Most sources a [`SourceMemo`] map keeps; layer lists come from clients, so past this the map
/// starts over rather than grow without bound.
const MEMO_MAX_SOURCES: usize = 4096;

/// Resolved sources by layer list and by scenario id, valid while the catalog's generation (and
/// the scenario's fingerprint) is unchanged. A hot tile then costs one map lookup instead of
/// resolving names and allocating the layer list and the cache key.
pub struct SourceMemo {
    on: bool,
    layer_lists: RwLock<MemoMap>,
    scenarios: RwLock<MemoMap>,
}

#[derive(Default)]
struct MemoMap {
    generation: i64,
    /// By layer list or scenario id: per view seen, the scenario's fingerprint (0 for a layer
    /// list), the view's digest and the source.
    sources: HashMap<Box<str>, Vec<Memoised>, foldhash::fast::RandomState>,
    /// Sources held, over every name.
    held: usize,
}

/// One memoised source: the definition it was built from, the view's digest, the source.
type Memoised = (u64, u64, Arc<TileSource>);

/// Most views one name keeps sources for (roles are few; scoped views add one per scope).
const MEMO_MAX_VIEWS: usize = 16;

impl SourceMemo {
    /// `on == false` resolves every request afresh (with the caches off).
    pub fn new(on: bool) -> SourceMemo {
        SourceMemo {
            on,
            layer_lists: Default::default(),
            scenarios: Default::default(),
        }
    }

    /// The source of a layer list as `view` sees it (memoised per view digest).
    pub fn layer_list(&self, catalog: &Catalog, list: &str, view: &View) -> Result<Arc<TileSource>, TileError> {
        self.resolve(&self.layer_lists, catalog.version(), (list, 0, view.digest()), || {
            TileSource::from_layer_list(catalog, list, view)
        })
    }

    /// The source of a scenario as `view` sees it (memoised per fingerprint and view digest).
    pub fn scenario(&self, catalog: &Catalog, scenario: &Scenario, view: &View) -> Result<Arc<TileSource>, TileError> {
        let name = (scenario.id.as_str(), scenario.fingerprint, view.digest());
        self.resolve(&self.scenarios, catalog.version(), name, || {
            TileSource::from_scenario(catalog, scenario, view)
        })
    }

    fn resolve(
        &self,
        map: &RwLock<MemoMap>,
        generation: i64,
        (name, definition, view): (&str, u64, u64),
        build: impl FnOnce() -> Result<TileSource, TileError>,
    ) -> Result<Arc<TileSource>, TileError> {
        if !self.on {
            return build().map(Arc::new);
        }
        {
            let memo = map.read().unwrap_or_else(|e| e.into_inner());
            if memo.generation == generation {
                let mut held = memo.sources.get(name).into_iter().flatten();
                if let Some((_, _, source)) = held.find(|(d, v, _)| (*d, *v) == (definition, view)) {
                    return Ok(source.clone());
                }
            }
        }
        // Built from a catalog at least as new as `generation` (the catalog stores its
        // generation after swapping layers), so a source is never kept past its layers.
        let source = Arc::new(build()?);
        let mut memo = map.write().unwrap_or_else(|e| e.into_inner());
        if memo.generation != generation || memo.held >= MEMO_MAX_SOURCES {
            memo.sources.clear();
            memo.held = 0;
            memo.generation = generation;
        }
        let views = memo.sources.entry(name.into()).or_default();
        let before = views.len();
        // An edited scenario's older sources, and a name seen by too many views, start over.
        views.retain(|(d, v, _)| *d == definition && *v != view);
        if views.len() >= MEMO_MAX_VIEWS {
            views.clear();
        }
        views.push((definition, view, source.clone()));
        let after = views.len();
        memo.held = memo.held.saturating_sub(before) + after;
        Ok(source)
    }
}
