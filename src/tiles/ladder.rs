//! Generalisation by zoom: for every feature of a layer, the first zoom at which it is drawn.
//! A feature appears once it spans at least a pixel ([`PIXEL_UNITS`]) and, while it is still
//! small at that zoom, only if no larger or earlier feature already holds its grid cell
//! ([`CELL_UNITS`] square), so a low-zoom tile over a million parcels carries a thin,
//! evenly spread sample instead of a million specks.
//!
//! The ladder is computed once per layer import and kept as one small R-tree per zoom below the
//! zoom where every feature is drawn, so a z6 tile reads a few entries instead of scanning the
//! whole layer. A scenario layer with a filter (temporary houses among all houses) gets its own
//! ladder over the matching features only, holding every zoom, so a sparse subset is neither
//! crowded out by features it does not draw nor found by scanning the whole layer.
//! Owns that precomputation only; shaping and encoding are elsewhere.

use std::collections::HashSet;

use foldhash::fast::RandomState;
use rstar::RTree;

use crate::feature::Bbox;
use crate::index::{aabb, Entry, LayerData};
use crate::scenarios::BoundFilter;

use super::math::{lat_to_world, lon_to_world, EXTENT, MAX_ZOOM};
use super::mvt::ValueKey;

/// A pixel of a tile drawn 512 px wide, in tile units.
pub const PIXEL_UNITS: f64 = EXTENT as f64 / 512.0;
/// Side of the thinning grid cell in tile units: at most (4096/32)^2 small features per tile.
const CELL_UNITS: f64 = 32.0;

/// The per-zoom visibility of one layer's features.
pub struct Ladder {
    /// From this zoom on every feature is drawn and the layer's own R-tree answers.
    pub full_zoom: u8,
    /// `rungs[z]`: the features first drawn at zoom z, for z below `full_zoom` (through
    /// `full_zoom` for a filtered ladder, which never falls back to the layer's own R-tree).
    rungs: Vec<RTree<Entry>>,
    filtered: bool,
    /// Per field of the layer: whether it has few distinct values (a category a style can
    /// colour by) rather than near-unique ones (ids, areas, addresses). Dense tiles carry only
    /// the categorical fields.
    pub categorical: Vec<bool>,
}

/// A field with at most this many distinct values over the layer is categorical.
const CATEGORICAL_VALUES: usize = 256;

fn categorical_fields(layer: &LayerData) -> Vec<bool> {
    (0..layer.meta.fields.len())
        .map(|f| {
            let mut seen: HashSet<ValueKey<'_>, RandomState> = HashSet::with_hasher(RandomState::default());
            for feature in &layer.features {
                if let Some(k) = feature.properties.get(f).and_then(ValueKey::of) {
                    seen.insert(k);
                    if seen.len() > CATEGORICAL_VALUES {
                        return false;
                    }
                }
            }
            true
        })
        .collect()
}

struct Candidate {
    entry: Entry,
    /// Largest side in Web Mercator world units (0..1).
    size: f64,
    center: [f64; 2],
    size_zoom: u8,
}

impl Ladder {
    /// The ladder of `layer`, or of its features matching `filter`.
    pub fn build(layer: &LayerData, filter: Option<&BoundFilter>) -> Ladder {
        let mut candidates: Vec<Candidate> = layer
            .tree
            .iter()
            .filter(|e| filter.is_none_or(|f| f.matches(&layer.features[e.index as usize])))
            .map(|e| {
                let (lo, hi) = (e.envelope.lower(), e.envelope.upper());
                let (x0, x1) = (lon_to_world(lo[0]), lon_to_world(hi[0]));
                let (y0, y1) = (lat_to_world(hi[1]), lat_to_world(lo[1]));
                let size = (x1 - x0).max(y1 - y0);
                let size_zoom = if size <= 0.0 {
                    0
                } else {
                    (PIXEL_UNITS / (size * EXTENT as f64)).log2().ceil().clamp(0.0, MAX_ZOOM as f64) as u8
                };
                Candidate {
                    entry: *e,
                    size,
                    center: [(x0 + x1) / 2.0, (y0 + y1) / 2.0],
                    size_zoom,
                }
            })
            .collect();
        // Larger features claim cells first; ties in file order, so the ladder is deterministic.
        candidates.sort_by(|a, b| b.size.total_cmp(&a.size).then(a.entry.index.cmp(&b.entry.index)));

        const UNSET: u8 = u8::MAX;
        let mut first_zoom = vec![UNSET; candidates.len()];
        let mut unassigned = candidates.len();
        let mut taken: HashSet<u64, RandomState> = HashSet::with_hasher(RandomState::default());
        for z in 0..=MAX_ZOOM {
            if unassigned == 0 {
                break;
            }
            let cells_per_world = (1u64 << z) as f64 * EXTENT as f64 / CELL_UNITS;
            let cell = |c: &Candidate| ((c.center[0] * cells_per_world) as u64) << 32 | (c.center[1] * cells_per_world) as u64;
            taken.clear();
            for (c, fz) in candidates.iter().zip(&first_zoom) {
                if *fz != UNSET {
                    taken.insert(cell(c));
                }
            }
            for (c, fz) in candidates.iter().zip(first_zoom.iter_mut()) {
                if *fz != UNSET || c.size_zoom > z {
                    continue;
                }
                let big = c.size * cells_per_world >= 1.0;
                if big || z == MAX_ZOOM || taken.insert(cell(c)) {
                    *fz = z;
                    unassigned -= 1;
                }
            }
        }
        let full_zoom = first_zoom.iter().copied().max().unwrap_or(0);
        let filtered = filter.is_some();
        let kept = if filtered { full_zoom as usize + 1 } else { full_zoom as usize };
        let mut per_zoom: Vec<Vec<Entry>> = (0..kept).map(|_| Vec::new()).collect();
        for (c, z) in candidates.iter().zip(&first_zoom) {
            if let Some(rung) = per_zoom.get_mut(*z as usize) {
                rung.push(c.entry);
            }
        }
        let rungs = per_zoom.into_iter().map(RTree::bulk_load).collect();
        Ladder {
            full_zoom,
            rungs,
            filtered,
            categorical: categorical_fields(layer),
        }
    }

    /// Indices (into `layer.features`) of the features drawn at zoom `z` whose box meets `bbox`.
    pub fn candidates(&self, layer: &LayerData, z: u8, bbox: &Bbox, out: &mut Vec<u32>) {
        let envelope = aabb(bbox);
        if z >= self.full_zoom && !self.filtered {
            out.extend(layer.tree.locate_in_envelope_intersecting(&envelope).map(|e| e.index));
        } else {
            for rung in &self.rungs[..=(z as usize).min(self.rungs.len().saturating_sub(1))] {
                out.extend(rung.locate_in_envelope_intersecting(&envelope).map(|e| e.index));
            }
        }
    }

    /// Number of features drawn at zoom `z` over the whole layer (for logs and tests).
    pub fn drawn_at(&self, layer: &LayerData, z: u8) -> usize {
        if z >= self.full_zoom && !self.filtered {
            layer.tree.size()
        } else {
            self.rungs[..=(z as usize).min(self.rungs.len().saturating_sub(1))]
                .iter()
                .map(RTree::size)
                .sum()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feature::{Feature, GeometryKind, LayerKind};
    use crate::store::LayerMeta;
    use geo_types::polygon;

    fn grid(n: usize) -> LayerData {
        // 20 m squares on a regular grid near Huế.
        let d = 20.0 / 111_000.0;
        let features = (0..n * n)
            .map(|i| {
                let (x, y) = (107.5 + (i % n) as f64 * d, 16.4 + (i / n) as f64 * d);
                let p = polygon![(x: x, y: y), (x: x + d * 0.9, y: y), (x: x + d * 0.9, y: y + d * 0.9), (x: x, y: y + d * 0.9)];
                Feature {
                    id: i as i64 + 1,
                    geometry: p.into(),
                    properties: vec![],
                }
            })
            .collect();
        let meta = LayerMeta {
            name: "g".into(),
            kind: LayerKind::Cadastral,
            geometry_type: GeometryKind::Polygon,
            feature_count: (n * n) as u64,
            bbox: None,
            fields: vec![],
            source_file: String::new(),
            source_sha256: String::new(),
            source_crs: String::new(),
            imported_at: String::new(),
            import_id: 1,
        };
        LayerData::build(meta, features)
    }

    #[test]
    fn small_features_thin_out_at_low_zoom_and_all_appear_at_high_zoom() {
        let layer = grid(100);
        let ladder = Ladder::build(&layer, None);
        assert!(ladder.full_zoom >= 13 && ladder.full_zoom <= 15, "full zoom {}", ladder.full_zoom);
        assert_eq!(ladder.drawn_at(&layer, 8), 0, "18 m squares are below a pixel at z8");
        assert_eq!(ladder.drawn_at(&layer, 12), 0, "18 m is 7.8 units at z12: below a pixel");
        let z13 = ladder.drawn_at(&layer, 13);
        assert!(
            z13 > 0 && z13 < 10_000 / 2,
            "z13 draws a sample (37 m cells over 20 m squares): {z13}"
        );
        assert_eq!(ladder.drawn_at(&layer, 16), 10_000);
        let mut out = Vec::new();
        let all = Bbox {
            west: 100.0,
            south: 10.0,
            east: 110.0,
            north: 20.0,
        };
        ladder.candidates(&layer, 13, &all, &mut out);
        assert_eq!(out.len(), z13);
    }

    #[test]
    fn a_filtered_ladder_keeps_its_sparse_subset_at_low_zoom() {
        let mut layer = grid(100);
        // Tag every 5th square of every 5th row: 400 squares 100 m apart, all drawable at z13.
        layer.meta.fields = vec![crate::feature::FieldDef::new("flag", crate::feature::FieldType::Bool)];
        for (i, f) in layer.features.iter_mut().enumerate() {
            f.properties = vec![crate::feature::Value::Bool(i % 5 == 0 && (i / 100) % 5 == 0)];
        }
        let filter: crate::scenarios::Filter = serde_json::from_str(r#"[{"field":"flag","op":"eq","value":true}]"#).unwrap();
        let bound = filter.bind(&layer.meta).unwrap();
        let ladder = Ladder::build(&layer, Some(&bound));
        assert_eq!(ladder.drawn_at(&layer, 13), 400, "every flagged square at z13");
        assert_eq!(ladder.drawn_at(&layer, 20), 400, "and never the unflagged ones");
        let whole = Ladder::build(&layer, None);
        assert!(whole.drawn_at(&layer, 13) < 10_000 / 2, "the unfiltered ladder thins at z13");
    }
}
