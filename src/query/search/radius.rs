//! `radius`: features within a distance of a point, measured on the ellipsoid to the nearest
//! part of each geometry.

use std::sync::Arc;

use geo_types::Coord;

use super::{Hit, Matches};
use crate::index::{aabb, LayerData};
use crate::query::geodesy::{circle_bbox, LocalFrame};
use crate::query::{Answer, Context, Params};

/// Every feature of `layers` within `radius_m` of `at`, unordered.
pub fn radius_hits(layers: &[Arc<LayerData>], at: Coord<f64>, radius_m: f64) -> Vec<Hit> {
    let frame = LocalFrame::at(at);
    let window = aabb(&circle_bbox(at, radius_m));
    let mut hits = Vec::new();
    for (li, layer) in layers.iter().enumerate() {
        for entry in layer.tree.locate_in_envelope_intersecting(&window) {
            // The envelope's nearest point bounds the geometry's distance from below.
            let corner = entry.envelope.min_point(&[at.x, at.y]);
            let bound = frame.project(Coord {
                x: corner[0],
                y: corner[1],
            });
            if bound.x.hypot(bound.y) > radius_m {
                continue;
            }
            let d = frame.distance_to(&layer.features[entry.index as usize].geometry);
            if d <= radius_m {
                hits.push(Hit {
                    layer: li as u16,
                    index: entry.index,
                    distance_m: d,
                });
            }
        }
    }
    hits
}

/// `lon, lat, radius_m, layers`.
pub fn radius(ctx: &Context, params: &Params) -> crate::Result<Answer> {
    let at = params.lon_lat()?;
    let radius_m = params.metres("radius_m", None, ctx.limits.max_radius_m)?;
    let layers = params.layers(ctx.catalog, ctx.view)?;
    let hits = radius_hits(&layers, at, radius_m);
    Matches {
        layers,
        hits,
        with_distance: true,
    }
    .answer(params, ctx)
}
