//! `nearest`: the k features closest to a point. The R-tree orders envelopes by degrees, which
//! is not metres (a degree of longitude is shorter), so instead the search runs radius queries
//! on a growing circle until it holds k features or covers every layer: exact, and as fast as
//! one radius query when features are dense.

use std::sync::Arc;

use geo_types::Coord;

use super::{radius_hits, Hit, Matches};
use crate::feature::Bbox;
use crate::index::LayerData;
use crate::query::geodesy::LocalFrame;
use crate::query::{Answer, Context, Params, MAX_LIMIT};

const FIRST_RADIUS_M: f64 = 100.0;
/// Half the Earth's circumference: no feature is farther.
const WHOLE_EARTH_M: f64 = 20_100_000.0;

pub fn nearest_hits(layers: &[Arc<LayerData>], at: Coord<f64>, k: usize) -> Vec<Hit> {
    let extent = layers
        .iter()
        .filter(|l| l.tree.size() > 0)
        .map(|l| {
            let e = l.tree.root().envelope();
            Bbox {
                west: e.lower()[0],
                south: e.lower()[1],
                east: e.upper()[0],
                north: e.upper()[1],
            }
        })
        .reduce(Bbox::union);
    let Some(extent) = extent else { return Vec::new() };
    // Past the farthest corner of all layers' extent (with a margin), every feature is inside.
    let frame = LocalFrame::at(at);
    let farthest_m = [
        (extent.west, extent.south),
        (extent.west, extent.north),
        (extent.east, extent.south),
        (extent.east, extent.north),
    ]
    .into_iter()
    .map(|(x, y)| frame.project(Coord { x, y }))
    .map(|p| p.x.hypot(p.y) * 1.01)
    .fold(0.0, f64::max);
    let mut radius_m = FIRST_RADIUS_M;
    loop {
        let mut hits = radius_hits(layers, at, radius_m);
        let covers_all = radius_m >= farthest_m || radius_m >= WHOLE_EARTH_M;
        if hits.len() >= k || covers_all {
            hits.sort_unstable_by(super::order);
            hits.truncate(k);
            return hits;
        }
        radius_m = (radius_m * 4.0).min(WHOLE_EARTH_M);
    }
}

/// `lon, lat, k, layers`.
pub fn nearest(ctx: &Context, params: &Params) -> crate::Result<Answer> {
    let at = params.lon_lat()?;
    let k = params.positive("k", 10, MAX_LIMIT)?;
    let layers = params.layers(ctx.catalog, ctx.view)?;
    let hits = nearest_hits(&layers, at, k);
    Matches {
        layers,
        hits,
        with_distance: true,
    }
    .answer(params, ctx)
}
