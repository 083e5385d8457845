//! A query area (a drawn polygon or an administrative unit) prepared for many tests: its edges in
//! an R-tree, so locating a point costs a tree query along a ray instead of a pass over every
//! vertex, and a feature whose box no edge enters is known to be wholly inside or outside from one
//! of its vertices. Predicates are planar in lon/lat with robust orientation, like GEOS and
//! PostGIS `geometry`; boundary points count as inside (intersects semantics).

use geo::kernels::{Kernel, Orientation, RobustKernel};
use geo::{BoundingRect, CoordsIter, PreparedGeometry, Relate};
use geo_types::{Coord, Geometry, MultiPolygon};
use rstar::{RTree, RTreeObject, AABB};

use crate::feature::Bbox;
use crate::index::aabb;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Edge {
    pub a: Coord<f64>,
    pub b: Coord<f64>,
}

impl RTreeObject for Edge {
    type Envelope = AABB<[f64; 2]>;
    fn envelope(&self) -> Self::Envelope {
        AABB::from_corners([self.a.x, self.a.y], [self.b.x, self.b.y])
    }
}

/// Where a point lies relative to a region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    Inside,
    Boundary,
    Outside,
}

/// How a feature relates to a region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    Disjoint,
    Intersects,
    Within,
}

pub struct Region {
    pub shape: MultiPolygon<f64>,
    pub bbox: Bbox,
    edges: RTree<Edge>,
}

/// The edges of every ring of a multipolygon.
pub(crate) fn edges_of(shape: &MultiPolygon<f64>) -> Vec<Edge> {
    shape
        .0
        .iter()
        .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
        .flat_map(|ring| ring.0.windows(2).map(|w| Edge { a: w[0], b: w[1] }))
        .collect()
}

impl Region {
    /// Prepares a region; `None` for an empty multipolygon.
    pub fn new(shape: MultiPolygon<f64>) -> Option<Region> {
        let rect = shape.bounding_rect()?;
        let bbox = Bbox { west: rect.min().x, south: rect.min().y, east: rect.max().x, north: rect.max().y };
        let edges = RTree::bulk_load(edges_of(&shape));
        Some(Region { shape, bbox, edges })
    }

    /// Locates a point by the even-odd rule along a ray to the east, over the edges the ray meets.
    pub fn locate(&self, p: Coord<f64>) -> Position {
        if !(p.x >= self.bbox.west && p.x <= self.bbox.east && p.y >= self.bbox.south && p.y <= self.bbox.north) {
            return Position::Outside;
        }
        let ray = AABB::from_corners([p.x, p.y], [self.bbox.east, p.y]);
        let mut crossings = 0u32;
        for e in self.edges.locate_in_envelope_intersecting(&ray) {
            let orientation = RobustKernel::orient2d(e.a, e.b, p);
            if orientation == Orientation::Collinear
                && p.x >= e.a.x.min(e.b.x)
                && p.x <= e.a.x.max(e.b.x)
                && p.y >= e.a.y.min(e.b.y)
                && p.y <= e.a.y.max(e.b.y)
            {
                return Position::Boundary;
            }
            // Half-open in y so a ray through a vertex counts the vertex once.
            let upward = e.a.y <= p.y && e.b.y > p.y && orientation == Orientation::CounterClockwise;
            let downward = e.a.y > p.y && e.b.y <= p.y && orientation == Orientation::Clockwise;
            if upward || downward {
                crossings += 1;
            }
        }
        if crossings % 2 == 1 {
            Position::Inside
        } else {
            Position::Outside
        }
    }

    /// Whether any edge of the region enters the box.
    pub fn edges_meet(&self, bbox: &Bbox) -> bool {
        self.edges.locate_in_envelope_intersecting(&aabb(bbox)).next().is_some()
    }

    /// A preparation of the shape for exact tests of features near the region's boundary.
    pub fn prepared(&self) -> PreparedGeometry<'_, &MultiPolygon<f64>> {
        PreparedGeometry::from(&self.shape)
    }

    /// How `geometry` relates to the region. Features far from every edge are decided from one
    /// vertex; the rest by the DE-9IM of the prepared shape.
    pub fn relate<'r>(&self, prepared: &PreparedGeometry<'r, &'r MultiPolygon<f64>>, geometry: &Geometry<f64>) -> Relation {
        let Some(b) = Bbox::of(geometry) else { return Relation::Disjoint };
        if !self.bbox.intersects(&b) {
            return Relation::Disjoint;
        }
        if !self.edges_meet(&b) {
            return match geometry.coords_iter().next().map(|c| self.locate(c)) {
                Some(Position::Inside | Position::Boundary) => Relation::Within,
                _ => Relation::Disjoint,
            };
        }
        // The matrix is region-to-feature: the region contains the feature = the feature is within.
        let matrix = prepared.relate(geometry);
        if matrix.is_contains() {
            Relation::Within
        } else if matrix.is_intersects() {
            Relation::Intersects
        } else {
            Relation::Disjoint
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo_types::{coord, polygon};

    fn square_with_hole() -> Region {
        let p = polygon!(
            exterior: [(x: 0.0, y: 0.0), (x: 10.0, y: 0.0), (x: 10.0, y: 10.0), (x: 0.0, y: 10.0), (x: 0.0, y: 0.0)],
            interiors: [[(x: 4.0, y: 4.0), (x: 6.0, y: 4.0), (x: 6.0, y: 6.0), (x: 4.0, y: 6.0), (x: 4.0, y: 4.0)]],
        );
        Region::new(MultiPolygon(vec![p])).unwrap()
    }

    #[test]
    fn points_are_located_with_holes_and_boundaries() {
        let r = square_with_hole();
        assert_eq!(r.locate(coord! { x: 1.0, y: 1.0 }), Position::Inside);
        assert_eq!(r.locate(coord! { x: 5.0, y: 5.0 }), Position::Outside);
        assert_eq!(r.locate(coord! { x: 10.0, y: 3.0 }), Position::Boundary);
        assert_eq!(r.locate(coord! { x: 4.0, y: 5.0 }), Position::Boundary);
        assert_eq!(r.locate(coord! { x: 1.0, y: 4.0 }), Position::Inside, "ray through hole vertices");
        assert_eq!(r.locate(coord! { x: 11.0, y: 5.0 }), Position::Outside);
    }

    #[test]
    fn features_relate_by_fast_path_and_exactly() {
        let r = square_with_hole();
        let prepared = r.prepared();
        let small = |x: f64, y: f64| -> Geometry<f64> { polygon![(x: x, y: y), (x: x + 0.5, y: y), (x: x + 0.5, y: y + 0.5)].into() };
        assert_eq!(r.relate(&prepared, &small(1.0, 1.0)), Relation::Within);
        assert_eq!(r.relate(&prepared, &small(4.5, 4.5)), Relation::Disjoint);
        assert_eq!(r.relate(&prepared, &small(9.8, 1.0)), Relation::Intersects);
        assert_eq!(r.relate(&prepared, &small(20.0, 1.0)), Relation::Disjoint);
    }
}
