//! Query polygons sent by clients (GeoJSON Polygon, MultiPolygon, or a Feature holding one):
//! parsed straight from JSON, checked for the mistakes that would make answers meaningless
//! (open or degenerate rings, coordinates off the globe, self-intersections, holes outside their
//! shell) and capped in size, before any query work starts.

use geo::Intersects;
use geo_types::{Coord, LineString, MultiPolygon, Polygon};
use rstar::RTree;
use serde_json::Value as Json;

use super::region::{edges_of, Edge, Position, Region};
use super::QueryError;

fn invalid(msg: impl Into<String>) -> QueryError {
    QueryError::InvalidGeometry(msg.into())
}

/// Parses and validates a GeoJSON polygon body; `max_vertices` bounds its size, and the checks
/// stop with [`QueryError::TooComplex`] past [`TESTS_PER_EDGE`] edge tests per edge, so no
/// polygon makes them quadratic.
pub fn parse_polygon(body: &[u8], max_vertices: usize) -> Result<MultiPolygon<f64>, QueryError> {
    let json: Json = serde_json::from_slice(body).map_err(|e| invalid(format!("not JSON: {e}")))?;
    let geometry = match json.get("type").and_then(Json::as_str) {
        Some("Feature") => json.get("geometry").ok_or_else(|| invalid("the Feature has no geometry"))?,
        _ => &json,
    };
    let coordinates = geometry.get("coordinates");
    let mut budget = Budget {
        left: max_vertices,
        max: max_vertices,
    };
    let shape = match (geometry.get("type").and_then(Json::as_str), coordinates) {
        (Some("Polygon"), Some(c)) => MultiPolygon(vec![polygon(c, &mut budget)?]),
        (Some("MultiPolygon"), Some(Json::Array(parts))) if !parts.is_empty() => {
            MultiPolygon(parts.iter().map(|p| polygon(p, &mut budget)).collect::<Result<_, _>>()?)
        }
        (Some(t @ ("Polygon" | "MultiPolygon")), _) => return Err(invalid(format!("the {t} has no usable coordinates"))),
        (Some(t), _) => {
            return Err(invalid(format!(
                "a {t} cannot bound a query; send a Polygon, MultiPolygon or a Feature holding one"
            )))
        }
        (None, _) => {
            return Err(invalid(
                "no GeoJSON \"type\"; send a Polygon, MultiPolygon or a Feature holding one",
            ))
        }
    };
    // A simple closed ring of 4+ positions encloses an area: a collinear one folds back on itself.
    let mut work = Work::for_edges(edges_of(&shape.0).len());
    check_simple(&shape, &mut work)?;
    check_holes(&shape, &mut work)?;
    Ok(shape)
}

/// Edge tests one query polygon may cost per edge: a real outline's edges meet a handful of
/// neighbours' extents, a crafted fan of long edges meets all of them (quadratic work).
const TESTS_PER_EDGE: usize = 32;
/// Tests any polygon may use, however few its edges.
const MIN_TESTS: usize = 1 << 18;

/// What is left of the work a polygon's checks may do.
struct Work {
    edges: usize,
    max_tests: usize,
    left: usize,
}

impl Work {
    fn for_edges(edges: usize) -> Work {
        let max_tests = edges.saturating_mul(TESTS_PER_EDGE).max(MIN_TESTS);
        Work {
            edges,
            max_tests,
            left: max_tests,
        }
    }

    fn spend(&mut self, tests: usize) -> Result<(), QueryError> {
        self.left = self.left.checked_sub(tests).ok_or(QueryError::TooComplex {
            edges: self.edges,
            max_tests: self.max_tests,
        })?;
        Ok(())
    }
}

struct Budget {
    left: usize,
    max: usize,
}

fn polygon(json: &Json, budget: &mut Budget) -> Result<Polygon<f64>, QueryError> {
    let Json::Array(rings) = json else {
        return Err(invalid("polygon coordinates must be an array of rings"));
    };
    let mut rings = rings.iter().map(|r| ring(r, budget));
    let exterior = rings.next().ok_or_else(|| invalid("a polygon needs an exterior ring"))??;
    let interiors: Vec<LineString<f64>> = rings.collect::<Result<_, _>>()?;
    Ok(Polygon::new(exterior, interiors))
}

/// Rejects holes outside their shell. The rings are known not to cross (see [`check_simple`]),
/// so the first vertex of a hole that is not on the shell tells where the whole hole lies.
fn check_holes(shape: &MultiPolygon<f64>, work: &mut Work) -> Result<(), QueryError> {
    for polygon in shape.0.iter().filter(|p| !p.interiors().is_empty()) {
        let Some(shell) = Region::new(MultiPolygon(vec![Polygon::new(polygon.exterior().clone(), vec![])])) else {
            continue;
        };
        for hole in polygon.interiors() {
            for c in &hole.0 {
                let mut visited = 0;
                let position = shell.locate_counted(*c, &mut visited);
                work.spend(visited)?;
                match position {
                    Position::Boundary => continue,
                    Position::Inside => break,
                    Position::Outside => return Err(invalid("a hole lies outside its polygon's exterior ring")),
                }
            }
        }
    }
    Ok(())
}

fn ring(json: &Json, budget: &mut Budget) -> Result<LineString<f64>, QueryError> {
    let Json::Array(positions) = json else {
        return Err(invalid("a ring must be an array of [lon, lat] positions"));
    };
    if positions.len() > budget.left {
        return Err(QueryError::TooManyVertices { max: budget.max });
    }
    budget.left -= positions.len();
    let mut coords: Vec<Coord<f64>> = positions.iter().map(position).collect::<Result<_, _>>()?;
    // A position repeated in a row adds nothing but a zero-length edge (real outlines have
    // them); GEOS ignores them too.
    coords.dedup();
    if coords.len() < 4 {
        return Err(invalid(
            "a ring needs at least 4 positions (3 distinct corners and the first repeated)",
        ));
    }
    if coords.first() != coords.last() {
        return Err(invalid(
            "a ring must be closed: its last position must equal its first (RFC 7946 3.1.6)",
        ));
    }
    Ok(LineString(coords))
}

fn position(json: &Json) -> Result<Coord<f64>, QueryError> {
    let pair = match json {
        Json::Array(v) if v.len() >= 2 => (v[0].as_f64(), v[1].as_f64()),
        _ => return Err(invalid("a position must be [lon, lat]")),
    };
    match pair {
        (Some(x), Some(y)) if (-180.0..=180.0).contains(&x) && (-90.0..=90.0).contains(&y) => Ok(Coord { x, y }),
        _ => Err(invalid(format!(
            "position {json} is not a lon/lat in degrees (lon -180..180, lat -90..90)"
        ))),
    }
}

/// Rejects edges that cross or touch other than at their shared vertex: self-intersecting
/// rings, rings crossing each other, overlapping parts.
fn check_simple(shape: &MultiPolygon<f64>, work: &mut Work) -> Result<(), QueryError> {
    let edges = edges_of(&shape.0);
    let tree = RTree::bulk_load(edges.iter().copied().enumerate().map(|(i, e)| IndexedEdge { i, e }).collect());
    for (i, e) in edges.iter().enumerate() {
        let line = geo_types::Line::new(e.a, e.b);
        for other in tree.locate_in_envelope_intersecting(&rstar::RTreeObject::envelope(e)) {
            work.spend(1)?;
            if other.i <= i || shares_vertex(e, &other.e) {
                continue;
            }
            if line.intersects(&geo_types::Line::new(other.e.a, other.e.b)) {
                return Err(invalid(format!(
                    "the polygon intersects itself near [{:.7}, {:.7}]; rings must be simple and must not cross each other",
                    e.a.x, e.a.y
                )));
            }
        }
    }
    Ok(())
}

/// Consecutive edges of a ring (including last-first) share exactly one vertex; that contact is
/// allowed unless they fold back over each other.
fn shares_vertex(a: &Edge, b: &Edge) -> bool {
    let shared = a.b == b.a || a.a == b.b;
    let folds_back = (a.a == b.b && a.b == b.a) || {
        use geo::kernels::{Kernel, Orientation, RobustKernel};
        let (p, q, r) = if a.b == b.a { (a.a, a.b, b.b) } else { (b.a, b.b, a.b) };
        RobustKernel::orient2d(p, q, r) == Orientation::Collinear && (r.x - q.x) * (p.x - q.x) + (r.y - q.y) * (p.y - q.y) > 0.0
    };
    shared && !folds_back
}

#[derive(Clone, Copy)]
struct IndexedEdge {
    i: usize,
    e: Edge,
}

impl rstar::RTreeObject for IndexedEdge {
    type Envelope = rstar::AABB<[f64; 2]>;
    fn envelope(&self) -> Self::Envelope {
        self.e.envelope()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<MultiPolygon<f64>, QueryError> {
        parse_polygon(s.as_bytes(), 100)
    }

    #[test]
    fn polygons_features_and_multipolygons_parse() {
        let square = "[[[107.5,16.4],[107.6,16.4],[107.6,16.5],[107.5,16.5],[107.5,16.4]]]";
        assert_eq!(
            parse(&format!(r#"{{"type":"Polygon","coordinates":{square}}}"#)).unwrap().0.len(),
            1
        );
        // Real ward outlines repeat a vertex in a row: one zero-length edge is no self-intersection.
        let repeated = "[[[107.5,16.4],[107.6,16.4],[107.6,16.4],[107.6,16.4],[107.6,16.5],[107.5,16.5],[107.5,16.4]]]";
        let shape = parse(&format!(r#"{{"type":"Polygon","coordinates":{repeated}}}"#)).unwrap();
        assert_eq!(shape.0[0].exterior().0.len(), 5);
        let feature = format!(r#"{{"type":"Feature","properties":{{}},"geometry":{{"type":"Polygon","coordinates":{square}}}}}"#);
        assert_eq!(parse(&feature).unwrap().0.len(), 1);
        let other = "[[[107.7,16.4],[107.8,16.4],[107.8,16.5],[107.7,16.4]]]";
        assert_eq!(
            parse(&format!(r#"{{"type":"MultiPolygon","coordinates":[{square},{other}]}}"#))
                .unwrap()
                .0
                .len(),
            2
        );
    }

    #[test]
    fn bad_polygons_are_refused_with_reasons() {
        let cases = [
            (
                r#"{"type":"Polygon","coordinates":[[[0,0],[1,1],[1,0],[0,1],[0,0]]]}"#,
                "intersects itself",
            ),
            (r#"{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1]]]}"#, "closed"),
            (r#"{"type":"Polygon","coordinates":[[[0,0],[1,0],[0,0]]]}"#, "at least 4"),
            (
                r#"{"type":"Polygon","coordinates":[[[0,0],[1,0],[2,0],[0,0]]]}"#,
                "intersects itself",
            ),
            (
                r#"{"type":"Polygon","coordinates":[[[0,0],[0,0],[0,0],[0,0]]]}"#,
                "3 distinct corners",
            ),
            (r#"{"type":"Polygon","coordinates":[[[0,0],[200,0],[1,1],[0,0]]]}"#, "lon/lat"),
            (r#"{"type":"Point","coordinates":[0,0]}"#, "cannot bound"),
            (r#"{"type":"Polygon"}"#, "no usable"),
            (r#"not json"#, "not JSON"),
            (
                r#"{"type":"Polygon","coordinates":[[[0,0],[4,0],[4,4],[0,4],[0,0]],[[5,5],[6,5],[6,6],[5,5]]]}"#,
                "outside",
            ),
            (
                r#"{"type":"MultiPolygon","coordinates":[[[[0,0],[2,0],[2,2],[0,0]]],[[[1,0],[3,0],[3,2],[1,0]]]]}"#,
                "intersects itself",
            ),
        ];
        for (body, expected) in cases {
            let err = parse(body).unwrap_err().to_string();
            assert!(err.contains(expected), "{body}: {err}");
        }
        let big: Vec<String> = (0..=100)
            .map(|i| format!("[{},{}]", (i as f64 * 0.06).cos(), (i as f64 * 0.06).sin()))
            .collect();
        let body = format!(r#"{{"type":"Polygon","coordinates":[[{}]]}}"#, big.join(","));
        assert!(matches!(parse(&body), Err(QueryError::TooManyVertices { .. })));
    }

    fn ring_json(points: impl Iterator<Item = (f64, f64)>) -> String {
        let mut coords: Vec<String> = points.map(|(x, y)| format!("[{x},{y}]")).collect();
        coords.push(coords[0].clone());
        format!("[{}]", coords.join(","))
    }

    #[test]
    fn a_fan_of_long_edges_is_refused_without_quadratic_work() {
        // A star whose spikes all start next to the centre: every edge's box overlaps every
        // other's in its quadrant, so pairwise tests would be quadratic in the vertex count.
        let n = 4000;
        let star = (0..2 * n).map(|i| {
            let angle = i as f64 * std::f64::consts::PI / n as f64;
            let r = if i % 2 == 0 { 1e-6 } else { 1.0 };
            (r * angle.cos(), r * angle.sin())
        });
        let body = format!(r#"{{"type":"Polygon","coordinates":[{}]}}"#, ring_json(star));
        let err = parse_polygon(body.as_bytes(), 100_000).unwrap_err();
        assert!(matches!(err, QueryError::TooComplex { edges: 8000, .. }), "{err}");
    }

    #[test]
    fn a_big_real_outline_with_holes_passes_within_the_work_bound() {
        let n = 100_000;
        let circle = |r: f64, n: usize| {
            (0..n).map(move |i| {
                let angle = i as f64 * std::f64::consts::TAU / n as f64;
                (107.5 + r * angle.cos(), 16.4 + r * angle.sin())
            })
        };
        let body = format!(
            r#"{{"type":"Polygon","coordinates":[{},{}]}}"#,
            ring_json(circle(0.1, n)),
            ring_json(circle(0.01, 1000))
        );
        let shape = parse_polygon(body.as_bytes(), 200_000).unwrap();
        assert_eq!(shape.0[0].interiors().len(), 1);
    }
}
