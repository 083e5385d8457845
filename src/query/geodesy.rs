//! Metres on the WGS84 ellipsoid for queries: a local plane around a query point in which
//! distances from that point are ellipsoidal (mid-latitude formula with the ellipsoid's radii of
//! curvature), the degree box that holds a circle, and geodesic-grade area and length.
//!
//! Why not geodesic inverse per vertex: it costs about a microsecond, a 500 m radius touches
//! ~10,000 vertices, and the mid-latitude form is within 0.01% of geographiclib below 100 km
//! (checked in the tests below). Edges are straight in lon/lat, as the store's EPSG:4326 and
//! PostGIS `geometry` read them; long edges are subdivided so their image stays straight.

use geo_types::{Coord, Geometry, LineString, Polygon};

/// WGS84 semi-major axis (m) and first eccentricity squared.
const A: f64 = 6_378_137.0;
const E2: f64 = 0.006_694_379_990_141_317;
/// Edges longer than this (m, in the local plane) are split before measuring, so the curvature of
/// a lon/lat-straight edge in the plane stays under a centimetre.
const MAX_EDGE_M: f64 = 1_000.0;
/// Beyond this latitude offset (degrees) the quadratic expansions of the radii are not trusted
/// and the radii are computed exactly.
const TAYLOR_SPAN_DEG: f64 = 2.0;

/// Metres per degree eastward and northward at latitude `lat` (degrees).
pub fn metres_per_degree(lat: f64) -> (f64, f64) {
    let phi = lat.to_radians();
    let w2 = 1.0 - E2 * phi.sin().powi(2);
    let n = A / w2.sqrt();
    let m = A * (1.0 - E2) / (w2 * w2.sqrt());
    let per_deg = std::f64::consts::PI / 180.0;
    (n * phi.cos() * per_deg, m * per_deg)
}

/// A quadratic in the latitude offset u (degrees): c0 + c1 u + c2 u².
#[derive(Debug, Clone, Copy)]
struct Quadratic([f64; 3]);

impl Quadratic {
    fn fit(f: impl Fn(f64) -> f64) -> Quadratic {
        let h = 0.5;
        let (lo, mid, hi) = (f(-h), f(0.0), f(h));
        Quadratic([mid, (hi - lo) / (2.0 * h), (hi - 2.0 * mid + lo) / (2.0 * h * h)])
    }
    fn at(&self, u: f64) -> f64 {
        self.0[0] + u * (self.0[1] + u * self.0[2])
    }
}

/// A plane centred on a query point; `project` gives metres east and north of it such that the
/// length of the result is the ellipsoidal distance from the centre.
#[derive(Debug, Clone, Copy)]
pub struct LocalFrame {
    pub origin: Coord<f64>,
    east: Quadratic,
    north: Quadratic,
}

impl LocalFrame {
    pub fn at(origin: Coord<f64>) -> LocalFrame {
        let lat0 = origin.y;
        LocalFrame {
            origin,
            east: Quadratic::fit(|u| metres_per_degree(lat0 + u).0),
            north: Quadratic::fit(|u| metres_per_degree(lat0 + u).1),
        }
    }

    /// Metres east and north of the origin, with the radii taken at the mid-latitude.
    pub fn project(&self, c: Coord<f64>) -> Coord<f64> {
        let dlat = c.y - self.origin.y;
        let mut dlon = c.x - self.origin.x;
        if dlon > 180.0 {
            dlon -= 360.0;
        } else if dlon < -180.0 {
            dlon += 360.0;
        }
        let half = dlat / 2.0;
        let (kx, ky) = if half.abs() <= TAYLOR_SPAN_DEG {
            (self.east.at(half), self.north.at(half))
        } else {
            metres_per_degree(self.origin.y + half)
        };
        Coord {
            x: dlon * kx,
            y: dlat * ky,
        }
    }

    /// Distance (m) from the origin to the nearest part of `geometry`; 0 inside a polygon.
    pub fn distance_to(&self, geometry: &Geometry<f64>) -> f64 {
        let mut nearest = Nearest {
            frame: self,
            best2: f64::INFINITY,
        };
        match geometry {
            Geometry::Point(p) => nearest.point(p.0),
            Geometry::MultiPoint(mp) => mp.0.iter().for_each(|p| nearest.point(p.0)),
            Geometry::Line(l) => {
                nearest.path(&[l.start, l.end]);
            }
            Geometry::LineString(ls) => {
                nearest.path(&ls.0);
            }
            Geometry::MultiLineString(ml) => ml.0.iter().for_each(|ls| {
                nearest.path(&ls.0);
            }),
            Geometry::Polygon(p) => nearest.polygon(p),
            Geometry::MultiPolygon(mp) => mp.0.iter().for_each(|p| nearest.polygon(p)),
            Geometry::Rect(r) => nearest.polygon(&r.to_polygon()),
            Geometry::Triangle(t) => nearest.polygon(&t.to_polygon()),
            Geometry::GeometryCollection(gc) => {
                gc.0.iter()
                    .for_each(|g| nearest.best2 = nearest.best2.min(self.distance_to(g).powi(2)))
            }
        }
        nearest.best2.sqrt()
    }
}

/// Running minimum of squared distances from the frame's origin (0, 0).
struct Nearest<'f> {
    frame: &'f LocalFrame,
    best2: f64,
}

impl Nearest<'_> {
    fn point(&mut self, c: Coord<f64>) {
        let p = self.frame.project(c);
        self.best2 = self.best2.min(p.x * p.x + p.y * p.y);
    }

    /// Visits the projected segments of a path, splitting long ones; returns the number of times
    /// the segments cross the positive x axis (for the even-odd inside test of rings).
    fn path(&mut self, coords: &[Coord<f64>]) -> u32 {
        let mut crossings = 0;
        let Some(&first) = coords.first() else { return 0 };
        let mut prev_deg = first;
        let mut prev = self.frame.project(first);
        if coords.len() == 1 {
            self.best2 = self.best2.min(prev.x * prev.x + prev.y * prev.y);
        }
        for &c in &coords[1..] {
            let next = self.frame.project(c);
            let (dx, dy) = (next.x - prev.x, next.y - prev.y);
            let len2 = dx * dx + dy * dy;
            if len2 > MAX_EDGE_M * MAX_EDGE_M {
                let pieces = (len2.sqrt() / MAX_EDGE_M).ceil() as usize;
                let mut a = prev;
                for i in 1..=pieces {
                    let t = i as f64 / pieces as f64;
                    let b = if i == pieces {
                        next
                    } else {
                        self.frame.project(Coord {
                            x: prev_deg.x + t * (c.x - prev_deg.x),
                            y: prev_deg.y + t * (c.y - prev_deg.y),
                        })
                    };
                    crossings += self.segment(a, b);
                    a = b;
                }
            } else {
                crossings += self.segment(prev, next);
            }
            prev = next;
            prev_deg = c;
        }
        crossings
    }

    fn segment(&mut self, a: Coord<f64>, b: Coord<f64>) -> u32 {
        let (dx, dy) = (b.x - a.x, b.y - a.y);
        let len2 = dx * dx + dy * dy;
        let t = if len2 > 0.0 {
            (-(a.x * dx + a.y * dy) / len2).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let (px, py) = (a.x + t * dx, a.y + t * dy);
        self.best2 = self.best2.min(px * px + py * py);
        // Half-open rule on y so a vertex on the axis is counted once.
        if (a.y > 0.0) != (b.y > 0.0) {
            let x_at_axis = a.x + (0.0 - a.y) * dx / dy;
            u32::from(x_at_axis > 0.0)
        } else {
            0
        }
    }

    fn polygon(&mut self, polygon: &Polygon<f64>) {
        let mut crossings = self.path(&polygon.exterior().0);
        for hole in polygon.interiors() {
            crossings += self.path(&hole.0);
        }
        if crossings % 2 == 1 {
            self.best2 = 0.0;
        }
    }
}

/// A degree box holding every point within `radius_m` of `centre` (with a 1% margin).
pub fn circle_bbox(centre: Coord<f64>, radius_m: f64) -> crate::feature::Bbox {
    let r = radius_m * 1.01;
    // The eastward scale shrinks away from the equator: take the smallest over the circle.
    let (_, ky) = metres_per_degree(centre.y);
    let dlat = r / ky.min(metres_per_degree(0.0).1);
    let far_lat = (centre.y.abs() + dlat).min(89.9);
    let (kx, _) = metres_per_degree(far_lat);
    let dlon = (r / kx).min(180.0);
    crate::feature::Bbox {
        west: centre.x - dlon,
        south: (centre.y - dlat).max(-90.0),
        east: centre.x + dlon,
        north: (centre.y + dlat).min(90.0),
    }
}

/// Coordinates of a ring or path with edges longer than [`MAX_EDGE_M`] subdivided (in lon/lat).
fn densified(coords: &[Coord<f64>]) -> Vec<Coord<f64>> {
    let mut out = Vec::with_capacity(coords.len());
    for pair in coords.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        out.push(a);
        // A degree is at most 111.7 km either way: short edges need no radii.
        if ((b.x - a.x).abs() + (b.y - a.y).abs()) * 111_700.0 <= MAX_EDGE_M {
            continue;
        }
        let (kx, ky) = metres_per_degree((a.y + b.y) / 2.0);
        let len = ((b.x - a.x) * kx).hypot((b.y - a.y) * ky);
        let pieces = (len / MAX_EDGE_M).ceil() as usize;
        for i in 1..pieces {
            let t = i as f64 / pieces as f64;
            out.push(Coord {
                x: a.x + t * (b.x - a.x),
                y: a.y + t * (b.y - a.y),
            });
        }
    }
    out.extend(coords.last());
    out
}

/// Area (m²) of a ring on the ellipsoid: shoelace in the ellipsoidal sinusoidal projection
/// centred on the ring, which is equal-area (x = Δlon·N·cos φ at the point's own latitude,
/// y = meridian arc from the centre latitude).
fn ring_area_m2(ring: &LineString<f64>) -> f64 {
    let Some(&first) = ring.0.first() else { return 0.0 };
    let coords = densified(&ring.0);
    let lat0 = first.y;
    let east = Quadratic::fit(|u| metres_per_degree(lat0 + u).0);
    let north = Quadratic::fit(|u| metres_per_degree(lat0 + u).1);
    let project = |c: Coord<f64>| {
        let u = c.y - lat0;
        let (kx, arc) = if u.abs() <= TAYLOR_SPAN_DEG {
            // Meridian arc = ∫ ky du, integrated from the quadratic.
            let q = north.0;
            (east.at(u), u * (q[0] + u * (q[1] / 2.0 + u * q[2] / 3.0)))
        } else {
            let (kx, _) = metres_per_degree(c.y);
            let mid = metres_per_degree(lat0 + u / 2.0).1;
            (kx, u * mid)
        };
        Coord {
            x: (c.x - first.x) * kx,
            y: arc,
        }
    };
    let pts: Vec<Coord<f64>> = coords.iter().map(|&c| project(c)).collect();
    let twice: f64 = pts.windows(2).map(|w| w[0].x * w[1].y - w[1].x * w[0].y).sum();
    (twice / 2.0).abs()
}

/// Area (m²) of the polygons in a geometry; 0 for points and lines.
pub fn area_m2(geometry: &Geometry<f64>) -> f64 {
    let polygon = |p: &Polygon<f64>| ring_area_m2(p.exterior()) - p.interiors().iter().map(ring_area_m2).sum::<f64>();
    match geometry {
        Geometry::Polygon(p) => polygon(p),
        Geometry::MultiPolygon(mp) => mp.0.iter().map(polygon).sum(),
        Geometry::Rect(r) => polygon(&r.to_polygon()),
        Geometry::Triangle(t) => polygon(&t.to_polygon()),
        Geometry::GeometryCollection(gc) => gc.0.iter().map(area_m2).sum(),
        _ => 0.0,
    }
}

/// Length (m) of a path: each edge measured with the mid-latitude formula after subdivision.
fn path_length_m(coords: &[Coord<f64>]) -> f64 {
    densified(coords)
        .windows(2)
        .map(|w| {
            let (kx, ky) = metres_per_degree((w[0].y + w[1].y) / 2.0);
            ((w[1].x - w[0].x) * kx).hypot((w[1].y - w[0].y) * ky)
        })
        .sum()
}

/// Length (m) of the lines in a geometry; 0 for points and polygons.
pub fn length_m(geometry: &Geometry<f64>) -> f64 {
    match geometry {
        Geometry::Line(l) => path_length_m(&[l.start, l.end]),
        Geometry::LineString(ls) => path_length_m(&ls.0),
        Geometry::MultiLineString(ml) => ml.0.iter().map(|l| path_length_m(&l.0)).sum(),
        Geometry::GeometryCollection(gc) => gc.0.iter().map(length_m).sum(),
        _ => 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Distance, Geodesic, GeodesicArea, Point};
    use geo_types::{coord, polygon};

    /// Deterministic pseudo-random numbers in [0, 1).
    fn uniform(seed: &mut u64) -> f64 {
        *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (*seed >> 11) as f64 / (1u64 << 53) as f64
    }

    #[test]
    fn distances_match_geographiclib_within_a_hundredth_of_a_percent() {
        let mut seed = 1;
        for _ in 0..20_000 {
            let origin = coord! { x: 102.0 + 8.0 * uniform(&mut seed), y: 8.0 + 15.0 * uniform(&mut seed) };
            let r = 100_000.0 * uniform(&mut seed).powi(3) + 1.0;
            let (kx, ky) = metres_per_degree(origin.y);
            let angle = std::f64::consts::TAU * uniform(&mut seed);
            let target = coord! { x: origin.x + r * angle.cos() / kx, y: origin.y + r * angle.sin() / ky };
            let ours = LocalFrame::at(origin).distance_to(&Point(target).into());
            let exact = Geodesic.distance(Point(origin), Point(target));
            assert!((ours - exact).abs() / exact < 1e-4, "{origin:?} -> {target:?}: {ours} vs {exact}");
        }
    }

    #[test]
    fn inside_a_polygon_is_zero_and_holes_are_outside() {
        let frame = LocalFrame::at(coord! { x: 107.5, y: 16.5 });
        let square = polygon!(
            exterior: [(x: 107.49, y: 16.49), (x: 107.51, y: 16.49), (x: 107.51, y: 16.51), (x: 107.49, y: 16.51)],
            interiors: [[(x: 107.499, y: 16.499), (x: 107.501, y: 16.499), (x: 107.501, y: 16.501), (x: 107.499, y: 16.501)]],
        );
        let d = frame.distance_to(&square.into());
        let expected = Geodesic.distance(Point::new(107.5, 16.5), Point::new(107.501, 16.5));
        assert!((d - expected).abs() < 0.05, "{d} vs {expected}");
        let solid = polygon![(x: 107.49, y: 16.49), (x: 107.51, y: 16.49), (x: 107.51, y: 16.51)];
        assert_eq!(frame.distance_to(&solid.into()), 0.0);
    }

    #[test]
    fn areas_match_geographiclib() {
        for (size, lat) in [(0.0002, 16.4), (0.05, 16.4), (0.3, 21.0), (0.25, 10.0)] {
            let p = polygon![(x: 107.0, y: lat), (x: 107.0 + size, y: lat + size / 3.0), (x: 107.0 + size, y: lat + size), (x: 107.0, y: lat + size)];
            let ours = area_m2(&p.clone().into());
            let exact = p.geodesic_area_unsigned();
            assert!((ours - exact).abs() / exact < 2e-4, "size {size}: {ours} vs {exact}");
        }
    }

    #[test]
    fn circle_boxes_hold_the_circle() {
        let centre = coord! { x: 107.585, y: 16.463 };
        let b = circle_bbox(centre, 500.0);
        for (x, y) in [(b.west, centre.y), (b.east, centre.y), (centre.x, b.south), (centre.x, b.north)] {
            let d = Geodesic.distance(Point(centre), Point::new(x, y));
            assert!(d > 500.0 && d < 510.0, "{d}");
        }
    }
}
