//! `boundary`: features intersecting, or lying within, a drawn polygon or an administrative unit.

use std::sync::Arc;

use super::{Hit, Matches};
use crate::index::{aabb, LayerData};
use crate::query::{admin_unit, parse_polygon, Answer, Context, Params, QueryError, Region, Relation};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Predicate {
    Intersects,
    Within,
}

impl Predicate {
    fn parse(text: Option<&str>) -> Result<Predicate, QueryError> {
        match text {
            None | Some("intersects") => Ok(Predicate::Intersects),
            Some("within") => Ok(Predicate::Within),
            Some(other) => Err(QueryError::BadParameter(format!("predicate '{other}' is not intersects or within"))),
        }
    }
}

pub fn boundary_hits(layers: &[Arc<LayerData>], region: &Region, predicate: Predicate) -> Vec<Hit> {
    let prepared = region.prepared();
    let mut hits = Vec::new();
    for (li, layer) in layers.iter().enumerate() {
        for entry in layer.tree.locate_in_envelope_intersecting(&aabb(&region.bbox)) {
            let relation = region.relate(&prepared, &layer.features[entry.index as usize].geometry);
            let keep = match predicate {
                Predicate::Intersects => relation != Relation::Disjoint,
                Predicate::Within => relation == Relation::Within,
            };
            if keep {
                hits.push(Hit { layer: li as u16, index: entry.index, distance_m: 0.0 });
            }
        }
    }
    hits
}

/// A GeoJSON polygon `body`, or `admin=<layer>:<code>`; `predicate`, `layers`.
pub fn boundary(ctx: &Context, params: &Params, body: Option<&[u8]>) -> crate::Result<Answer> {
    let predicate = Predicate::parse(params.get("predicate"))?;
    let region = match (body.filter(|b| !b.is_empty()), params.get("admin")) {
        (Some(_), Some(_)) => return Err(QueryError::BadParameter("send either a polygon body or admin=, not both".into()).into()),
        (Some(body), None) => Region::new(parse_polygon(body, ctx.limits.max_vertices)?)
            .ok_or_else(|| QueryError::InvalidGeometry("the polygon is empty".into()))?,
        (None, Some(spec)) => admin_unit(ctx.catalog, spec)?,
        (None, None) => {
            return Err(QueryError::BadParameter("send a GeoJSON polygon (POST) or admin=<layer>:<code>, e.g. admin=wards:19900".into()).into())
        }
    };
    let layers = params.layers(ctx.catalog)?;
    let hits = boundary_hits(&layers, &region, predicate);
    Matches { layers, hits, with_distance: false }.answer(params)
}
