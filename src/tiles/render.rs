//! Rendering one tile of a [`TileSource`]: pick the features the zoom draws (the layer's
//! [`Ladder`]), filter, shape and encode them, and keep the tile under [`TILE_BUDGET`]: a layer
//! that would overflow first loses its near-unique attributes (ids, areas, addresses: what a
//! client can fetch on click at a deeper zoom), then its smallest features, and the thinning is
//! logged. CPU-bound and synchronous: callers run it off the async threads.

use std::cell::RefCell;

use crate::index::LayerData;

use geo::BoundingRect;

use super::ladder::Ladder;
use super::math::{TileId, TileProjection, BUFFER};
use super::mvt::LayerEncoder;
use super::shape::Shaper;
use super::source::{SourceLayer, TileSource};

/// Largest encoded tile (uncompressed MVT bytes).
pub const TILE_BUDGET: usize = 500 * 1000;
/// Above this many features a layer's tile is dense: it carries only categorical attributes.
const DENSE_FEATURES: usize = 4096;
/// Douglas-Peucker tolerance: a quarter of a pixel of a 512 px tile, at every zoom.
const SIMPLIFY_UNITS: f64 = 2.0;

thread_local! {
    /// Per-thread scratch: the shaper's buffers and the candidate list, reused tile after tile.
    static SCRATCH: RefCell<(Shaper, Vec<u32>)> = RefCell::new((Shaper::default(), Vec::new()));
}

/// Encodes `tile` of `source`; an empty vector means no layer has anything to draw there.
/// `ladder_of` gives each layer's generalisation ladder.
pub fn render(source: &TileSource, tile: TileId, ladder_of: &dyn Fn(&LayerData) -> std::sync::Arc<Ladder>) -> Vec<u8> {
    SCRATCH.with(|scratch| {
        let (shaper, candidates) = &mut *scratch.borrow_mut();
        let projection = TileProjection::new(tile);
        let bbox = tile.bounds(BUFFER);
        let mut out = Vec::new();
        for layer in &source.layers {
            if tile.z < layer.minzoom || tile.z > layer.maxzoom {
                continue;
            }
            candidates.clear();
            let ladder = ladder_of(&layer.data);
            ladder.candidates(&layer.data, tile.z, &bbox, candidates);
            if let Some(filter) = &layer.filter {
                candidates.retain(|&i| filter.matches(&layer.data.features[i as usize]));
            }
            candidates.sort_unstable();
            let remaining = TILE_BUDGET.saturating_sub(out.len());
            let fields: Vec<usize> = if candidates.len() > DENSE_FEATURES {
                layer.fields.iter().copied().filter(|&f| ladder.categorical.get(f).copied().unwrap_or(false)).collect()
            } else {
                layer.fields.clone()
            };
            encode_within_budget(layer, fields, candidates, &projection, shaper, remaining, tile, &mut out);
        }
        out
    })
}

/// Encodes one layer into `out`, thinning it until it fits `budget` bytes.
#[allow(clippy::too_many_arguments)]
fn encode_within_budget(
    layer: &SourceLayer,
    mut fields: Vec<usize>,
    candidates: &mut Vec<u32>,
    projection: &TileProjection,
    shaper: &mut Shaper,
    budget: usize,
    tile: TileId,
    out: &mut Vec<u8>,
) {
    let start = out.len();
    for attempt in 0.. {
        out.truncate(start);
        let (written, distinct) = encode_layer(layer, &fields, candidates, projection, shaper, out);
        if written <= budget || candidates.is_empty() || attempt > 6 {
            if attempt > 0 {
                tracing::warn!(%tile, layer = %layer.name, bytes = written, features = candidates.len(), attributes = fields.len(), "tile over budget was thinned");
            }
            return;
        }
        // First drop the attributes that are nearly unique per feature, then the smallest features.
        let unique_limit = (candidates.len() / 8).max(16);
        let kept: Vec<usize> = fields.iter().zip(&distinct).filter(|(_, d)| **d <= unique_limit).map(|(f, _)| *f).collect();
        if kept.len() < fields.len() {
            fields = kept;
            continue;
        }
        let keep = ((candidates.len() as f64) * (budget as f64 / written as f64) * 0.9) as usize;
        let features = &layer.data.features;
        let extent = |i: u32| features[i as usize].geometry.bounding_rect().map_or(0.0, |r| r.width().max(r.height()));
        let mut ranked: Vec<(f64, u32)> = candidates.iter().map(|&i| (extent(i), i)).collect();
        ranked.sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        ranked.truncate(keep);
        candidates.clear();
        candidates.extend(ranked.into_iter().map(|(_, i)| i));
        candidates.sort_unstable();
    }
}

/// Encodes the layer once; returns the bytes written and, per carried field, its distinct values.
fn encode_layer(
    layer: &SourceLayer,
    fields: &[usize],
    candidates: &[u32],
    projection: &TileProjection,
    shaper: &mut Shaper,
    out: &mut Vec<u8>,
) -> (usize, Vec<usize>) {
    let keys: Vec<&str> = fields.iter().map(|&i| layer.data.meta.fields[i].name.as_str()).collect();
    let mut encoder = LayerEncoder::new(&layer.name, &keys);
    let tolerance = SIMPLIFY_UNITS;
    for &i in candidates {
        let feature = &layer.data.features[i as usize];
        if let Some(kind) = shaper.shape(&feature.geometry, projection, tolerance) {
            let attributes = fields.iter().enumerate().map(|(k, &f)| (k as u32, &feature.properties[f]));
            encoder.add(feature.id, attributes, kind, shaper);
        }
    }
    if encoder.is_empty() {
        return (0, Vec::new());
    }
    let distinct = encoder.distinct_per_key().to_vec();
    (encoder.finish_into(out), distinct)
}
