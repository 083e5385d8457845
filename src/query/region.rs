//! A query area (a drawn polygon or an administrative unit) prepared for many tests: its edges in
//! an R-tree, so locating a point costs a tree query along a ray instead of a pass over every
//! vertex, and a feature whose box no edge enters is known to be wholly inside or outside from one
//! of its vertices. Predicates are planar in lon/lat with robust orientation, like GEOS and
//! PostGIS `geometry`; boundary points count as inside (intersects semantics).

use geo::kernels::{Kernel, Orientation, RobustKernel};
use std::cell::OnceCell;

use geo::{BoundingRect, CoordsIter, Intersects, PreparedGeometry, Relate};
use geo_types::{Coord, Geometry, MultiPolygon, Polygon};
use rstar::{RTree, RTreeObject, AABB};

use crate::feature::Bbox;
use crate::index::aabb;

/// Metres per degree of latitude (mean), and of longitude at the equator, for [`Region::near_edge`].
const METRES_PER_DEGREE: f64 = 111_195.0;

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

impl Edge {
    /// Whether the segment meets the box (its envelope is known to). The envelope of a long
    /// diagonal edge covers much more than the edge; testing the box's corners against the
    /// edge's line keeps features far from the edge on the fast path. Collinear counts as meeting.
    fn meets(&self, b: &Bbox) -> bool {
        let corners = [(b.west, b.south), (b.east, b.south), (b.east, b.north), (b.west, b.north)];
        let mut sides = corners.iter().map(|&(x, y)| RobustKernel::orient2d(self.a, self.b, Coord { x, y }));
        let Some(first) = sides.next() else { return true };
        first == Orientation::Collinear || sides.any(|o| o != first)
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

/// The edges of every ring of some polygons.
pub(crate) fn edges_of(polygons: &[Polygon<f64>]) -> Vec<Edge> {
    polygons
        .iter()
        .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
        .flat_map(|ring| ring.0.windows(2).map(|w| Edge { a: w[0], b: w[1] }))
        .collect()
}

/// The edges of a feature's lines and rings; `None` for collections (left to DE-9IM).
fn segments(g: &Geometry<f64>) -> Option<Vec<(Coord<f64>, Coord<f64>)>> {
    let path = |cs: &[Coord<f64>]| cs.windows(2).map(|w| (w[0], w[1])).collect::<Vec<_>>();
    Some(match g {
        Geometry::Point(_) | Geometry::MultiPoint(_) => Vec::new(),
        Geometry::Line(l) => vec![(l.start, l.end)],
        Geometry::LineString(ls) => path(&ls.0),
        Geometry::MultiLineString(ml) => ml.0.iter().flat_map(|l| path(&l.0)).collect(),
        Geometry::Polygon(p) => edges_of(std::slice::from_ref(p)).into_iter().map(|e| (e.a, e.b)).collect(),
        Geometry::MultiPolygon(mp) => edges_of(&mp.0).into_iter().map(|e| (e.a, e.b)).collect(),
        Geometry::Rect(_) | Geometry::Triangle(_) | Geometry::GeometryCollection(_) => return None,
    })
}

impl Region {
    /// Prepares a region; `None` for an empty multipolygon.
    pub fn new(shape: MultiPolygon<f64>) -> Option<Region> {
        let rect = shape.bounding_rect()?;
        let bbox = Bbox {
            west: rect.min().x,
            south: rect.min().y,
            east: rect.max().x,
            north: rect.max().y,
        };
        let edges = RTree::bulk_load(edges_of(&shape.0));
        Some(Region { shape, bbox, edges })
    }

    /// Locates a point by the even-odd rule along a ray to the east, over the edges the ray meets.
    pub fn locate(&self, p: Coord<f64>) -> Position {
        self.locate_counted(p, &mut 0)
    }

    /// [`Region::locate`], adding the number of edges it looked at to `visited`: for callers
    /// that bound the work one request may cause.
    pub(crate) fn locate_counted(&self, p: Coord<f64>, visited: &mut usize) -> Position {
        if !(p.x >= self.bbox.west && p.x <= self.bbox.east && p.y >= self.bbox.south && p.y <= self.bbox.north) {
            return Position::Outside;
        }
        let ray = AABB::from_corners([p.x, p.y], [self.bbox.east, p.y]);
        let mut crossings = 0u32;
        for e in self.edges.locate_in_envelope_intersecting(&ray) {
            *visited = visited.saturating_add(1);
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

    /// Whether some edge of the region passes within `metres` of `p` (a local flat frame: fine
    /// for the tens of metres of a geofence's hysteresis band, not for kilometres).
    pub fn near_edge(&self, p: Coord<f64>, metres: f64) -> bool {
        let (kx, ky) = (METRES_PER_DEGREE * p.y.to_radians().cos(), METRES_PER_DEGREE);
        let (dx, dy) = (metres / kx.max(1.0), metres / ky);
        let around = AABB::from_corners([p.x - dx, p.y - dy], [p.x + dx, p.y + dy]);
        let local = |c: Coord<f64>| ((c.x - p.x) * kx, (c.y - p.y) * ky);
        self.edges.locate_in_envelope_intersecting(&around).any(|e| {
            let ((ax, ay), (bx, by)) = (local(e.a), local(e.b));
            let (ex, ey) = (bx - ax, by - ay);
            let len2 = ex * ex + ey * ey;
            let t = if len2 > 0.0 {
                (-(ax * ex + ay * ey) / len2).clamp(0.0, 1.0)
            } else {
                0.0
            };
            let (cx, cy) = (ax + t * ex, ay + t * ey);
            cx * cx + cy * cy <= metres * metres
        })
    }

    /// Whether any edge of the region enters the box.
    pub fn edges_meet(&self, bbox: &Bbox) -> bool {
        self.edges.locate_in_envelope_intersecting(&aabb(bbox)).any(|e| e.meets(bbox))
    }

    /// Prepares the region for relating many features to it.
    pub fn relater(&self) -> Relater<'_> {
        Relater {
            region: self,
            graph: OnceCell::new(),
        }
    }

    /// Decides a feature near the boundary from robust orientation tests against the region
    /// edges `near` (those meeting its box); `None` when a vertex or edge touches the boundary
    /// without crossing it, which only the full DE-9IM settles.
    fn classify_near(&self, geometry: &Geometry<f64>, near: &[Edge]) -> Option<Relation> {
        let (mut inside, mut outside) = (false, false);
        for c in geometry.coords_iter() {
            match self.locate(c) {
                Position::Inside => inside = true,
                Position::Outside => outside = true,
                Position::Boundary => return None,
            }
        }
        let mut crossed = false;
        for (p, q) in segments(geometry)? {
            for e in near {
                let disjoint_boxes = p.x.max(q.x) < e.a.x.min(e.b.x)
                    || p.x.min(q.x) > e.a.x.max(e.b.x)
                    || p.y.max(q.y) < e.a.y.min(e.b.y)
                    || p.y.min(q.y) > e.a.y.max(e.b.y);
                if disjoint_boxes {
                    continue;
                }
                let o = [
                    RobustKernel::orient2d(e.a, e.b, p),
                    RobustKernel::orient2d(e.a, e.b, q),
                    RobustKernel::orient2d(p, q, e.a),
                    RobustKernel::orient2d(p, q, e.b),
                ];
                if o.contains(&Orientation::Collinear) {
                    return None;
                }
                crossed |= o[0] != o[1] && o[2] != o[3];
            }
        }
        if crossed || (inside && outside) {
            return Some(Relation::Intersects);
        }
        // The feature's outline keeps to one side of the region's boundary; a ring of the region
        // inside a polygonal feature still makes them overlap (or breaks "within").
        let encloses_region_ring =
            matches!(geometry, Geometry::Polygon(_) | Geometry::MultiPolygon(_)) && near.iter().any(|e| geometry.intersects(&e.a));
        Some(match (inside, encloses_region_ring) {
            (true, false) => Relation::Within,
            (false, false) => Relation::Disjoint,
            (_, true) => Relation::Intersects,
        })
    }
}

/// A region ready to relate many features: the DE-9IM graph is built on first need only.
pub struct Relater<'r> {
    region: &'r Region,
    graph: OnceCell<PreparedGeometry<'r, &'r MultiPolygon<f64>>>,
}

impl Relater<'_> {
    /// How `geometry` (whose bounding box is `bbox`) relates to the region. Features whose box
    /// no region edge enters are decided from one vertex, the others by orientation tests, and
    /// the few touching the boundary by DE-9IM.
    pub fn relate(&self, geometry: &Geometry<f64>, bbox: &Bbox) -> Relation {
        let region = self.region;
        if !region.bbox.intersects(bbox) {
            return Relation::Disjoint;
        }
        let near: Vec<Edge> = region
            .edges
            .locate_in_envelope_intersecting(&aabb(bbox))
            .filter(|e| e.meets(bbox))
            .copied()
            .collect();
        if near.is_empty() {
            return match geometry.coords_iter().next().map(|c| region.locate(c)) {
                Some(Position::Inside | Position::Boundary) => Relation::Within,
                _ => Relation::Disjoint,
            };
        }
        if let Some(relation) = region.classify_near(geometry, &near) {
            return relation;
        }
        // The matrix is region-to-feature: the region contains the feature = the feature is within.
        let matrix = self.graph.get_or_init(|| PreparedGeometry::from(&region.shape)).relate(geometry);
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
        let relater = r.relater();
        let relate = |g: Geometry<f64>| relater.relate(&g, &Bbox::of(&g).unwrap());
        let small = |x: f64, y: f64| -> Geometry<f64> { polygon![(x: x, y: y), (x: x + 0.5, y: y), (x: x + 0.5, y: y + 0.5)].into() };
        assert_eq!(relate(small(1.0, 1.0)), Relation::Within);
        assert_eq!(relate(small(4.5, 4.5)), Relation::Disjoint);
        assert_eq!(relate(small(9.8, 1.0)), Relation::Intersects, "crosses the exterior");
        assert_eq!(relate(small(3.8, 4.5)), Relation::Intersects, "crosses into the hole");
        assert_eq!(relate(small(20.0, 1.0)), Relation::Disjoint);
        let around_hole: Geometry<f64> = polygon![(x: 3.0, y: 3.0), (x: 7.0, y: 3.0), (x: 7.0, y: 7.0), (x: 3.0, y: 7.0)].into();
        assert_eq!(relate(around_hole), Relation::Intersects, "encloses the hole");
        let touching: Geometry<f64> = polygon![(x: 9.0, y: 1.0), (x: 10.0, y: 1.0), (x: 10.0, y: 2.0), (x: 9.0, y: 2.0)].into();
        assert_eq!(relate(touching), Relation::Within, "inside, touching the boundary (DE-9IM)");
    }
}
