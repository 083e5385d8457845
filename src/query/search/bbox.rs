//! `bbox`: features intersecting a lon/lat box.

use std::sync::Arc;

use geo::Intersects;
use geo_types::Rect;

use super::{Hit, Matches};
use crate::feature::Bbox;
use crate::index::{aabb, LayerData};
use crate::query::{Answer, Context, Params};

pub fn bbox_hits(layers: &[Arc<LayerData>], bbox: &Bbox) -> Vec<Hit> {
    let rect = Rect::new((bbox.west, bbox.south), (bbox.east, bbox.north));
    let mut hits = Vec::new();
    for (li, layer) in layers.iter().enumerate() {
        for entry in layer.tree.locate_in_envelope_intersecting(&aabb(bbox)) {
            // A feature whose envelope lies inside the box intersects it; only the others are tested.
            let inside = bbox.west <= entry.envelope.lower()[0]
                && bbox.south <= entry.envelope.lower()[1]
                && bbox.east >= entry.envelope.upper()[0]
                && bbox.north >= entry.envelope.upper()[1];
            if inside || layer.features[entry.index as usize].geometry.intersects(&rect) {
                hits.push(Hit {
                    layer: li as u16,
                    index: entry.index,
                    distance_m: 0.0,
                });
            }
        }
    }
    hits
}

/// `bbox=w,s,e,n, layers`.
pub fn bbox(ctx: &Context, params: &Params) -> crate::Result<Answer> {
    let bbox = params.bbox()?;
    let layers = params.layers(ctx.catalog, ctx.view)?;
    let hits = bbox_hits(&layers, &bbox);
    Matches {
        layers,
        hits,
        with_distance: false,
    }
    .answer(params, ctx)
}
