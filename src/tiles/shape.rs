//! From a lon/lat geometry to what one tile draws: projection into the tile grid, clipping to the
//! buffered tile square, Douglas-Peucker simplification at the tile's pixel size, quantisation to
//! integers, and the clean-up MVT 2.1 asks for (no repeated points, no degenerate rings, exterior
//! rings clockwise in y-down tile coordinates, interior rings counter-clockwise). Polygons then
//! pass through [`Repair`], so that every polygon a tile carries is OGC-valid on the integer grid.
//!
//! Owns geometry only; attributes and encoding live in `mvt`. All buffers are kept in [`Shaper`]
//! and reused from feature to feature, so shaping allocates nothing once warm.

use geo_types::{Geometry, LineString, Polygon};

use super::math::{TileProjection, BUFFER, EXTENT};
use super::valid::Repair;

/// MVT geometry types (the numbers are the protobuf enum).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShapeKind {
    Point = 1,
    Line = 2,
    Polygon = 3,
}

/// One feature shaped for one tile: integer points grouped in parts (points: one part; lines:
/// one part per line; polygons: one part per ring, exterior first, orientation already fixed).
#[derive(Default)]
pub struct Shaper {
    pub points: Vec<[i32; 2]>,
    /// End index (exclusive) in `points` of each part.
    pub parts: Vec<usize>,
    projected: Vec<[f64; 2]>,
    clipped: Vec<[f64; 2]>,
    piece: Vec<[f64; 2]>,
    keep: Vec<bool>,
    stack: Vec<(usize, usize)>,
    repair: Repair,
}

const LO: f64 = -BUFFER;
const HI: f64 = EXTENT as f64 + BUFFER;

fn inside_box(p: [f64; 2]) -> bool {
    p[0] >= LO && p[0] <= HI && p[1] >= LO && p[1] <= HI
}

impl Shaper {
    /// Shapes `geometry` for the tile of `projection`. `tolerance` is the simplification distance
    /// in tile units (0 keeps every vertex). Returns `None` when nothing of it is left to draw.
    pub fn shape(&mut self, geometry: &Geometry<f64>, projection: &TileProjection, tolerance: f64) -> Option<ShapeKind> {
        self.points.clear();
        self.parts.clear();
        let kind = match geometry {
            Geometry::Point(p) => {
                self.add_point(projection.project(p.x(), p.y()));
                ShapeKind::Point
            }
            Geometry::MultiPoint(mp) => {
                for p in &mp.0 {
                    self.add_point(projection.project(p.x(), p.y()));
                }
                ShapeKind::Point
            }
            Geometry::LineString(l) => {
                self.add_line(l, projection, tolerance);
                ShapeKind::Line
            }
            Geometry::MultiLineString(ml) => {
                for l in &ml.0 {
                    self.add_line(l, projection, tolerance);
                }
                ShapeKind::Line
            }
            Geometry::Line(l) => {
                self.add_line(&LineString(vec![l.start, l.end]), projection, tolerance);
                ShapeKind::Line
            }
            Geometry::Polygon(p) => self.add_polygons(std::slice::from_ref(p), projection, tolerance),
            Geometry::MultiPolygon(mp) => self.add_polygons(&mp.0, projection, tolerance),
            Geometry::Rect(r) => self.add_polygons(&[r.to_polygon()], projection, tolerance),
            Geometry::Triangle(t) => self.add_polygons(&[t.to_polygon()], projection, tolerance),
            // The store writes no collections (imports split them); a tile cannot mix types anyway.
            Geometry::GeometryCollection(_) => return None,
        };
        if kind == ShapeKind::Point && !self.points.is_empty() {
            self.parts.push(self.points.len());
        }
        (!self.parts.is_empty()).then_some(kind)
    }

    fn add_point(&mut self, p: [f64; 2]) {
        if inside_box(p) {
            self.points.push([p[0].round() as i32, p[1].round() as i32]);
        }
    }

    fn project_into_projected(&mut self, line: &LineString<f64>, projection: &TileProjection) -> ([f64; 2], [f64; 2]) {
        self.projected.clear();
        let (mut min, mut max) = ([f64::MAX; 2], [f64::MIN; 2]);
        for c in &line.0 {
            let p = projection.project(c.x, c.y);
            min = [min[0].min(p[0]), min[1].min(p[1])];
            max = [max[0].max(p[0]), max[1].max(p[1])];
            self.projected.push(p);
        }
        (min, max)
    }

    fn add_line(&mut self, line: &LineString<f64>, projection: &TileProjection, tolerance: f64) {
        let (min, max) = self.project_into_projected(line, projection);
        if max[0] < LO || min[0] > HI || max[1] < LO || min[1] > HI {
            return;
        }
        let projected = std::mem::take(&mut self.projected);
        if inside_box(min) && inside_box(max) {
            self.piece.clear();
            self.piece.extend_from_slice(&projected);
            self.finish_line_piece(tolerance);
        } else {
            self.piece.clear();
            for w in projected.windows(2) {
                match clip_segment(w[0], w[1]) {
                    None => self.finish_line_piece(tolerance),
                    Some((a, b, a_clipped, b_clipped)) => {
                        if self.piece.is_empty() || a_clipped {
                            self.finish_line_piece(tolerance);
                            self.piece.push(a);
                        }
                        self.piece.push(b);
                        if b_clipped {
                            self.finish_line_piece(tolerance);
                        }
                    }
                }
            }
            self.finish_line_piece(tolerance);
        }
        self.projected = projected;
    }

    /// Simplifies, quantises and keeps the line piece gathered in `self.piece` (then clears it).
    fn finish_line_piece(&mut self, tolerance: f64) {
        if self.piece.len() >= 2 {
            let start = self.points.len();
            let piece = std::mem::take(&mut self.piece);
            self.push_simplified(&piece, tolerance);
            self.piece = piece;
            if self.points.len() - start >= 2 {
                self.parts.push(self.points.len());
            } else {
                self.points.truncate(start);
            }
        }
        self.piece.clear();
    }

    /// Adds the rings of one feature's polygons, then makes them one valid (multi)polygon.
    fn add_polygons(&mut self, polygons: &[Polygon<f64>], projection: &TileProjection, tolerance: f64) -> ShapeKind {
        for p in polygons {
            self.add_polygon(p, projection, tolerance);
        }
        self.repair.make_valid(&mut self.points, &mut self.parts, 0);
        ShapeKind::Polygon
    }

    fn add_polygon(&mut self, polygon: &Polygon<f64>, projection: &TileProjection, tolerance: f64) {
        if !self.add_ring(polygon.exterior(), projection, tolerance, true) {
            return;
        }
        for hole in polygon.interiors() {
            self.add_ring(hole, projection, tolerance, false);
        }
    }

    /// Adds one ring; false when nothing of it is left (outside the tile or degenerate).
    fn add_ring(&mut self, ring: &LineString<f64>, projection: &TileProjection, tolerance: f64, exterior: bool) -> bool {
        let (min, max) = self.project_into_projected(ring, projection);
        if max[0] < LO || min[0] > HI || max[1] < LO || min[1] > HI {
            return false;
        }
        let mut source = std::mem::take(&mut self.projected);
        if !(inside_box(min) && inside_box(max)) {
            clip_ring(&source, &mut self.clipped, &mut self.piece);
            std::mem::swap(&mut source, &mut self.clipped);
        }
        let start = self.points.len();
        self.push_simplified(&source, tolerance);
        self.projected = source;
        // The ring is stored open: ClosePath closes it.
        if self.points.len() - start > 1 && self.points[start] == self.points[self.points.len() - 1] {
            self.points.pop();
        }
        let ring = &mut self.points[start..];
        let area2 = signed_area2(ring);
        if ring.len() < 3 || area2 == 0 {
            self.points.truncate(start);
            return false;
        }
        // Positive surveyor's area in y-down tile coordinates is clockwise on screen: exterior.
        if (area2 > 0) != exterior {
            ring.reverse();
        }
        self.parts.push(self.points.len());
        true
    }

    /// Douglas-Peucker on `line`, then quantisation with consecutive duplicates dropped.
    fn push_simplified(&mut self, line: &[[f64; 2]], tolerance: f64) {
        let n = line.len();
        // A closed quadrilateral (5 points) or less has nothing Douglas-Peucker could usefully drop.
        let simplify = tolerance > 0.0 && n > 5;
        self.keep.clear();
        self.keep.resize(n, !simplify);
        if simplify {
            self.keep[0] = true;
            self.keep[n - 1] = true;
            let t2 = tolerance * tolerance;
            self.stack.clear();
            self.stack.push((0, n - 1));
            while let Some((a, b)) = self.stack.pop() {
                let (mut worst, mut worst_d) = (0, -1.0);
                for (i, &p) in line.iter().enumerate().take(b).skip(a + 1) {
                    let d = segment_distance2(p, line[a], line[b]);
                    if d > worst_d {
                        worst_d = d;
                        worst = i;
                    }
                }
                if worst_d > t2 {
                    self.keep[worst] = true;
                    self.stack.push((a, worst));
                    self.stack.push((worst, b));
                }
            }
        }
        let part_start = self.parts.last().copied().unwrap_or(0);
        for (p, _) in line.iter().zip(&self.keep).filter(|(_, k)| **k) {
            let q = [p[0].round() as i32, p[1].round() as i32];
            if self.points.len() == part_start || self.points.last() != Some(&q) {
                self.points.push(q);
            }
        }
    }
}

/// Twice the surveyor's-formula area of an open ring (positive = clockwise with y down).
pub fn signed_area2(ring: &[[i32; 2]]) -> i64 {
    let n = ring.len();
    (0..n)
        .map(|i| {
            let (a, b) = (ring[i], ring[(i + 1) % n]);
            a[0] as i64 * b[1] as i64 - b[0] as i64 * a[1] as i64
        })
        .sum()
}

fn segment_distance2(p: [f64; 2], a: [f64; 2], b: [f64; 2]) -> f64 {
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 {
        (((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (ex, ey) = (a[0] + t * dx - p[0], a[1] + t * dy - p[1]);
    ex * ex + ey * ey
}

/// Liang-Barsky: the part of segment a-b inside the buffered tile, and whether each end was cut.
fn clip_segment(a: [f64; 2], b: [f64; 2]) -> Option<([f64; 2], [f64; 2], bool, bool)> {
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    for (p, q) in [(-dx, a[0] - LO), (dx, HI - a[0]), (-dy, a[1] - LO), (dy, HI - a[1])] {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
        } else {
            let r = q / p;
            if p < 0.0 {
                t0 = t0.max(r);
            } else {
                t1 = t1.min(r);
            }
        }
    }
    if t0 > t1 {
        return None;
    }
    let at = |t: f64| [a[0] + t * dx, a[1] + t * dy];
    Some((at(t0), at(t1), t0 > 0.0, t1 < 1.0))
}

/// Sutherland-Hodgman against the four edges of the buffered tile square. Edges along the
/// square that this leaves are outside the visible tile, inside the buffer.
fn clip_ring(ring: &[[f64; 2]], out: &mut Vec<[f64; 2]>, scratch: &mut Vec<[f64; 2]>) {
    out.clear();
    out.extend_from_slice(ring);
    // Each edge: axis, boundary, whether "inside" is >= (true) or <= (false).
    for (axis, bound, keep_above) in [(0usize, LO, true), (0, HI, false), (1, LO, true), (1, HI, false)] {
        std::mem::swap(out, scratch);
        out.clear();
        let n = scratch.len();
        if n == 0 {
            return;
        }
        let inside = |p: &[f64; 2]| if keep_above { p[axis] >= bound } else { p[axis] <= bound };
        for i in 0..n {
            let cur = scratch[i];
            let prev = scratch[(i + n - 1) % n];
            let (ci, pi) = (inside(&cur), inside(&prev));
            if ci != pi {
                let t = (bound - prev[axis]) / (cur[axis] - prev[axis]);
                let mut x = [prev[0] + t * (cur[0] - prev[0]), prev[1] + t * (cur[1] - prev[1])];
                x[axis] = bound;
                out.push(x);
            }
            if ci {
                out.push(cur);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tiles::math::TileId;
    use geo_types::polygon;

    fn shape(g: Geometry<f64>, tile: TileId) -> (Shaper, Option<ShapeKind>) {
        let mut s = Shaper::default();
        let k = s.shape(&g, &TileProjection::new(tile), 0.0);
        (s, k)
    }

    #[test]
    fn rings_are_wound_exterior_clockwise_interior_counter_clockwise() {
        let tile = TileId { z: 0, x: 0, y: 0 };
        // Counter-clockwise on the map (north up) exterior, clockwise hole: the usual GIS order.
        let p = polygon!(
            exterior: [(x: -90.0, y: -40.0), (x: 90.0, y: -40.0), (x: 90.0, y: 40.0), (x: -90.0, y: 40.0), (x: -90.0, y: -40.0)],
            interiors: [[(x: -10.0, y: -10.0), (x: -10.0, y: 10.0), (x: 10.0, y: 10.0), (x: 10.0, y: -10.0), (x: -10.0, y: -10.0)]],
        );
        let (s, kind) = shape(p.into(), tile);
        assert_eq!(kind, Some(ShapeKind::Polygon));
        assert_eq!(s.parts.len(), 2);
        assert!(signed_area2(&s.points[..s.parts[0]]) > 0);
        assert!(signed_area2(&s.points[s.parts[0]..s.parts[1]]) < 0);
    }

    #[test]
    fn clipping_keeps_the_buffer_and_drops_what_is_outside() {
        let tile = TileId { z: 1, x: 1, y: 0 };
        let big = polygon![(x: -170.0, y: 10.0), (x: 170.0, y: 10.0), (x: 170.0, y: 80.0), (x: -170.0, y: 80.0)];
        let (s, kind) = shape(big.into(), tile);
        assert_eq!(kind, Some(ShapeKind::Polygon));
        assert!(
            s.points.iter().all(|p| p[0] >= -64 && p[0] <= 4160 && p[1] >= -64 && p[1] <= 4160),
            "{:?}",
            s.points
        );
        let far = polygon![(x: -170.0, y: -10.0), (x: -160.0, y: -10.0), (x: -160.0, y: -20.0)];
        assert_eq!(shape(far.into(), tile).1, None);
    }

    #[test]
    fn lines_leaving_and_reentering_the_tile_split_into_pieces() {
        let tile = TileId { z: 1, x: 0, y: 0 };
        // Along lat 45 (inside the north-west tile) out to the east and back.
        let line = LineString::from(vec![(-170.0, 45.0), (90.0, 45.0), (90.0, 60.0), (-170.0, 60.0)]);
        let (s, kind) = shape(line.into(), tile);
        assert_eq!(kind, Some(ShapeKind::Line));
        assert_eq!(s.parts.len(), 2, "{:?}", s.points);
    }

    #[test]
    fn sub_unit_rings_vanish_after_quantisation() {
        let tile = TileId { z: 0, x: 0, y: 0 };
        let tiny = polygon![(x: 10.0, y: 10.0), (x: 10.00001, y: 10.0), (x: 10.00001, y: 10.00001)];
        assert_eq!(shape(tiny.into(), tile).1, None);
    }
}
