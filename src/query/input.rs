//! Query polygons sent by clients (GeoJSON Polygon, MultiPolygon, or a Feature holding one):
//! parsed straight from JSON, checked for the mistakes that would make answers meaningless
//! (open or degenerate rings, coordinates off the globe, self-intersections, holes outside their
//! shell) and capped in size, before any query work starts.

use geo::Intersects;
use geo_types::{Coord, LineString, MultiPolygon, Polygon};
use rstar::RTree;
use serde_json::Value as Json;

use super::region::{edges_of, Edge};
use super::QueryError;

fn invalid(msg: impl Into<String>) -> QueryError {
    QueryError::InvalidGeometry(msg.into())
}

/// Parses and validates a GeoJSON polygon body; `max_vertices` bounds the work any one request
/// can cause (the self-intersection check is O(n log n) in it).
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
    check_simple(&shape)?;
    Ok(shape)
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
    let shell = Polygon::new(exterior.clone(), vec![]);
    for hole in &interiors {
        if !hole.0.iter().all(|c| shell.intersects(c)) {
            return Err(invalid("a hole lies outside its polygon's exterior ring"));
        }
    }
    Ok(Polygon::new(exterior, interiors))
}

fn ring(json: &Json, budget: &mut Budget) -> Result<LineString<f64>, QueryError> {
    let Json::Array(positions) = json else {
        return Err(invalid("a ring must be an array of [lon, lat] positions"));
    };
    if positions.len() > budget.left {
        return Err(QueryError::TooManyVertices { max: budget.max });
    }
    budget.left -= positions.len();
    let coords: Vec<Coord<f64>> = positions.iter().map(position).collect::<Result<_, _>>()?;
    if coords.len() < 4 {
        return Err(invalid("a ring needs at least 4 positions (3 corners and the first repeated)"));
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
fn check_simple(shape: &MultiPolygon<f64>) -> Result<(), QueryError> {
    let edges = edges_of(&shape.0);
    let tree = RTree::bulk_load(edges.iter().copied().enumerate().map(|(i, e)| IndexedEdge { i, e }).collect());
    for (i, e) in edges.iter().enumerate() {
        let line = geo_types::Line::new(e.a, e.b);
        for other in tree.locate_in_envelope_intersecting(&rstar::RTreeObject::envelope(e)) {
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
                "intersects itself",
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
}
