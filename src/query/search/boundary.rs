//! `boundary`: features intersecting, or lying within, a drawn polygon or an administrative unit.

use std::sync::Arc;

use rstar::{ParentNode, RTreeNode, AABB};

use super::{Hit, Matches};
use crate::feature::{Bbox, Feature};
use crate::index::{Entry, LayerData};
use crate::query::region::Relater;
use crate::query::{admin_unit, parse_polygon, Answer, Context, Params, Position, QueryError, Region, Relation};

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
    let relater = region.relater();
    let mut hits = Vec::new();
    for (li, layer) in layers.iter().enumerate() {
        let mut walk = Walk {
            region,
            relater: &relater,
            predicate,
            layer: li as u16,
            hits: &mut hits,
        };
        walk.node(layer.tree.root(), &layer.features);
    }
    hits
}

fn bbox_of(envelope: &AABB<[f64; 2]>) -> Bbox {
    let ([west, south], [east, north]) = (envelope.lower(), envelope.upper());
    Bbox { west, south, east, north }
}

/// A descent of one layer's R-tree that settles whole subtrees at once: a node whose box no
/// region edge enters lies wholly inside the region (all its features are within) or wholly
/// outside (none meets it), so only nodes along the boundary are opened down to features.
struct Walk<'a, 'r> {
    region: &'a Region,
    relater: &'a Relater<'r>,
    predicate: Predicate,
    layer: u16,
    hits: &'a mut Vec<Hit>,
}

impl Walk<'_, '_> {
    fn node(&mut self, node: &ParentNode<Entry>, features: &[Feature]) {
        let b = bbox_of(&node.envelope());
        if !self.region.bbox.intersects(&b) {
            return;
        }
        if !self.region.edges_meet(&b) {
            let corner = geo_types::Coord { x: b.west, y: b.south };
            if self.region.locate(corner) != Position::Outside {
                self.all(node);
            }
            return;
        }
        for child in node.children() {
            match child {
                RTreeNode::Parent(parent) => self.node(parent, features),
                RTreeNode::Leaf(entry) => {
                    let relation = self
                        .relater
                        .relate(&features[entry.index as usize].geometry, &bbox_of(&entry.envelope));
                    let keep = match self.predicate {
                        Predicate::Intersects => relation != Relation::Disjoint,
                        Predicate::Within => relation == Relation::Within,
                    };
                    if keep {
                        self.hits.push(Hit {
                            layer: self.layer,
                            index: entry.index,
                            distance_m: 0.0,
                        });
                    }
                }
            }
        }
    }

    /// Every feature under `node`.
    fn all(&mut self, node: &ParentNode<Entry>) {
        for child in node.children() {
            match child {
                RTreeNode::Parent(parent) => self.all(parent),
                RTreeNode::Leaf(entry) => self.hits.push(Hit {
                    layer: self.layer,
                    index: entry.index,
                    distance_m: 0.0,
                }),
            }
        }
    }
}

/// A GeoJSON polygon `body`, or `admin=<layer>:<code>`; `predicate`, `layers`.
pub fn boundary(ctx: &Context, params: &Params, body: Option<&[u8]>) -> crate::Result<Answer> {
    let predicate = Predicate::parse(params.get("predicate"))?;
    let region = match (body.filter(|b| !b.is_empty()), params.get("admin")) {
        (Some(_), Some(_)) => return Err(QueryError::BadParameter("send either a polygon body or admin=, not both".into()).into()),
        (Some(body), None) => Region::new(parse_polygon(body, ctx.limits.max_vertices)?)
            .ok_or_else(|| QueryError::InvalidGeometry("the polygon is empty".into()))?,
        (None, Some(spec)) => admin_unit(ctx, spec)?,
        (None, None) => {
            return Err(
                QueryError::BadParameter("send a GeoJSON polygon (POST) or admin=<layer>:<code>, e.g. admin=wards:19900".into()).into(),
            )
        }
    };
    let layers = params.layers(ctx.catalog, ctx.view)?;
    let hits = boundary_hits(&layers, &region, predicate);
    Matches {
        layers,
        hits,
        with_distance: false,
    }
    .answer(params, ctx)
}
