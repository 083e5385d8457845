//! `point`: the polygons containing a point (boundary included), and the points and lines within
//! a small tolerance of it (a click on a map).

use std::sync::Arc;

use geo::Intersects;
use geo_types::{Coord, Geometry};

use super::{Hit, Matches};
use crate::index::{aabb, LayerData};
use crate::query::geodesy::{circle_bbox, LocalFrame};
use crate::query::{Answer, Context, Params};

/// The default click tolerance (m) for points and lines.
const DEFAULT_TOLERANCE_M: f64 = 5.0;

pub fn point_hits(layers: &[Arc<LayerData>], at: Coord<f64>, tolerance_m: f64) -> Vec<Hit> {
    let frame = LocalFrame::at(at);
    let window = aabb(&circle_bbox(at, tolerance_m));
    let mut hits = Vec::new();
    for (li, layer) in layers.iter().enumerate() {
        for entry in layer.tree.locate_in_envelope_intersecting(&window) {
            let geometry = &layer.features[entry.index as usize].geometry;
            let distance_m = match geometry {
                Geometry::Polygon(_) | Geometry::MultiPolygon(_) | Geometry::Rect(_) | Geometry::Triangle(_) => {
                    if geometry.intersects(&at) {
                        0.0
                    } else {
                        continue;
                    }
                }
                _ => frame.distance_to(geometry),
            };
            if distance_m <= tolerance_m {
                hits.push(Hit {
                    layer: li as u16,
                    index: entry.index,
                    distance_m,
                });
            }
        }
    }
    hits
}

/// `lon, lat, layers, tolerance_m`.
pub fn point(ctx: &Context, params: &Params) -> crate::Result<Answer> {
    let at = params.lon_lat()?;
    let tolerance_m = params.metres("tolerance_m", Some(DEFAULT_TOLERANCE_M), ctx.limits.max_radius_m)?;
    let layers = params.layers(ctx.catalog, ctx.view)?;
    let hits = point_hits(&layers, at, tolerance_m);
    Matches {
        layers,
        hits,
        with_distance: true,
    }
    .answer(params, ctx)
}
