//! Aggregate-only layers: a role with `aggregate = { housing = "wards" }` gets `housing` only as
//! figures per ward. Its figures layer has one feature per unit (the unit's polygon and id) with
//! the unit's `code` and `name` (those the view sees), `count` (the features the unit holds, by
//! the statistics' rule: [`crate::query::tally_per_unit`]) and `sum_<field>` for each numeric
//! field the view carries; units holding fewer than the role's `min_count` are left out, so
//! nobody is singled out. Tiles, queries, OGC items and listings all read this one layer.
//!
//! Owns what a figures layer carries and the memo of them (per layer import, filter, unit layer
//! import, fields, threshold and area: never per user). The membership rule is the statistics'.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use super::memo::GenerationMemo;
use crate::feature::{Bbox, Feature, FieldDef, FieldType, Value};
use crate::index::{Catalog, LayerData, Members};
use crate::scenarios::BoundFilter;
use crate::store::LayerMeta;

/// The figure every unit of a figures layer carries: how many features it holds.
pub const COUNT_FIELD: &str = "count";
/// The prefix of a summed field's name: `sum_household_size`.
pub const SUM_PREFIX: &str = "sum_";
/// Most figures layers kept; past this the memo starts over.
const MEMO_MAX: usize = 128;

/// How a view gets a layer: only as figures per unit of layer `units`, leaving out the units that
/// hold fewer than `min_count` of its features.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Aggregate<'a> {
    pub units: &'a str,
    pub min_count: u32,
}

/// What one figures layer is made of.
pub struct Recipe<'a> {
    pub data: &'a LayerData,
    /// Only the features this filter accepts are counted (a scenario layer's `where`), with a
    /// text naming the filter (what the memo keys on).
    pub filter: Option<(&'a str, &'a BoundFilter)>,
    pub units: Arc<LayerData>,
    pub min_count: u32,
    /// Fields of `data` to sum (numeric ones the view carries).
    pub sums: Vec<usize>,
    /// Fields of the unit layer each figure is labelled with (`code`, `name`, as the view sees them).
    pub labels: Vec<usize>,
    /// A scoped view's features of `data` (`None`: all), and the digest of its area.
    pub members: Option<Arc<Members>>,
    pub area: u64,
}

impl Recipe<'_> {
    /// Names everything the figures depend on; also the figures layer's `import_id`, so tile
    /// cache keys and generalisation ladders of different figures never meet.
    fn key(&self) -> u64 {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        (
            &self.data.meta.name,
            self.data.meta.import_id,
            self.filter.map(|(text, _)| text),
            &self.units.meta.name,
            self.units.meta.import_id,
            self.min_count,
            &self.sums,
            &self.labels,
            self.area,
        )
            .hash(&mut hasher);
        hasher.finish()
    }

    /// The figures layer; `None` when the unit layer has no polygons to count by.
    fn build(&self) -> Option<LayerData> {
        let counted = |f: &Feature| self.filter.is_none_or(|(_, filter)| filter.matches(f));
        let tally = crate::query::tally_per_unit(self.units.clone(), self.data, self.members.as_deref(), counted, &self.sums).ok()?;
        let source = &self.data.meta;
        let sum_is_int: Vec<bool> = self.sums.iter().map(|&f| source.fields[f].ty == FieldType::Int).collect();
        let mut fields: Vec<FieldDef> = self.labels.iter().map(|&l| self.units.meta.fields[l].clone()).collect();
        fields.iter_mut().for_each(|f| f.personal = false);
        fields.push(FieldDef::new(COUNT_FIELD, FieldType::Int));
        for (&f, &int) in self.sums.iter().zip(&sum_is_int) {
            let ty = if int { FieldType::Int } else { FieldType::Float };
            fields.push(FieldDef::new(format!("{SUM_PREFIX}{}", source.fields[f].name), ty));
        }
        let features: Vec<Feature> = tally
            .iter()
            .zip(&self.units.features)
            .filter(|(t, _)| t.count >= u64::from(self.min_count))
            .map(|(t, unit)| {
                let mut properties: Vec<Value> = self.labels.iter().map(|&l| unit.properties[l].clone()).collect();
                properties.push(Value::Int(t.count as i64));
                properties.extend(t.sums.iter().zip(&sum_is_int).map(|(&total, &int)| match int {
                    true => Value::Int(total.round() as i64),
                    false => Value::Float((total * 1000.0).round() / 1000.0),
                }));
                Feature {
                    id: unit.id,
                    geometry: unit.geometry.clone(),
                    properties,
                }
            })
            .collect();
        let meta = LayerMeta {
            name: source.name.clone(),
            kind: source.kind,
            geometry_type: self.units.meta.geometry_type,
            feature_count: features.len() as u64,
            bbox: features.iter().filter_map(|f| Bbox::of(&f.geometry)).reduce(Bbox::union),
            fields,
            source_file: source.source_file.clone(),
            source_sha256: source.source_sha256.clone(),
            source_crs: source.source_crs.clone(),
            imported_at: source.imported_at.clone(),
            import_id: self.key() as i64,
        };
        Some(LayerData::build(meta, features))
    }
}

/// Figures layers by recipe, for one catalog generation (off with the caches).
pub struct AggregateMemo {
    layers: GenerationMemo<u64, Option<Arc<LayerData>>>,
}

impl AggregateMemo {
    pub fn new(on: bool) -> AggregateMemo {
        AggregateMemo {
            layers: GenerationMemo::new(on, MEMO_MAX),
        }
    }

    /// The figures layer of `recipe` (`None`: its unit layer cannot hold units).
    pub fn figures(&self, catalog: &Catalog, recipe: &Recipe) -> Option<Arc<LayerData>> {
        let built = self
            .layers
            .get_or(catalog.generation(), recipe.key(), || recipe.build().map(Arc::new));
        built.as_ref().clone()
    }
}

impl Default for AggregateMemo {
    fn default() -> AggregateMemo {
        AggregateMemo::new(true)
    }
}

impl std::fmt::Debug for AggregateMemo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AggregateMemo")
            .field("on", &self.layers.is_on())
            .finish_non_exhaustive()
    }
}
