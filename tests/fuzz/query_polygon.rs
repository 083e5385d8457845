//! The query polygon reader (`query::parse_polygon`): real ward outlines (Hà Nội, the demo
//! province) and small hand-made shapes, mutated as JSON trees and as text, plus generated big
//! polygons (circles, fans of long edges) that probe the work bound. What it accepts must be
//! closed rings of 4+ finite lon/lat positions within the vertex limit, each vertex on the
//! region's boundary.

use bando::query::{parse_polygon, Position, Region};
use geo::CoordsIter;

use crate::engine::{Pool, Rng, Target};
use crate::{json_tree, mutate};

pub const TARGET: Target = Target {
    name: "query_polygon",
    run,
    mutate: mutate_polygon,
    // The server's query body limit (`server::query::MAX_BODY_BYTES`): bigger bodies get a 413
    // before they are parsed.
    max_input: 16 << 20,
    seed_dirs: &[],
};

const MAX_VERTICES: usize = 100_000;

fn run(input: &[u8]) -> String {
    match parse_polygon(input, MAX_VERTICES) {
        Ok(shape) => {
            assert!(shape.coords_count() <= MAX_VERTICES, "the vertex limit holds");
            for ring in shape.0.iter().flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors())) {
                assert!(
                    ring.0.len() >= 4 && ring.0.first() == ring.0.last(),
                    "rings are closed with 4+ positions"
                );
                for c in &ring.0 {
                    assert!(
                        (-180.0..=180.0).contains(&c.x) && (-90.0..=90.0).contains(&c.y),
                        "{c:?} is a lon/lat"
                    );
                }
            }
            let holes: usize = shape.0.iter().map(|p| p.interiors().len()).sum();
            let parts = shape.0.len();
            let region = Region::new(shape).expect("an accepted polygon is not empty");
            let first = region.shape.0[0].exterior().0[0];
            assert_eq!(region.locate(first), Position::Boundary, "a vertex lies on the boundary");
            format!("ok {parts} parts {holes} holes")
        }
        // Messages carry coordinates and counts: their words alone tell the outcome.
        Err(e) => e.to_string().chars().filter(|c| !c.is_ascii_digit()).take(60).collect(),
    }
}

const WORDS: [&str; 10] = [
    "Polygon",
    "MultiPolygon",
    "Feature",
    "FeatureCollection",
    "Point",
    "GeometryCollection",
    "coordinates",
    "geometry",
    "type",
    "",
];

const TOKENS: [&str; 14] = [
    "[",
    "]",
    "[[",
    "]]",
    ",",
    "{",
    "}",
    "\"",
    "null",
    "1e400",
    "-0",
    "\"type\":\"Polygon\",",
    "\\u0000",
    "[107.5,16.4]",
];

fn mutate_polygon(rng: &mut Rng, input: &[u8], pool: &Pool) -> Vec<u8> {
    match rng.below(64) {
        0 => big_polygon(rng).into_bytes(),
        1..=30 => match serde_json::from_slice::<serde_json::Value>(input) {
            Ok(mut tree) => {
                json_tree::mutate(rng, &mut tree, &WORDS);
                serde_json::to_vec(&tree).expect("a JSON tree serialises")
            }
            Err(_) => mutate::text(rng, input, pool, &TOKENS, ("[", "]")),
        },
        _ => mutate::text(rng, input, pool, &TOKENS, ("[", "]")),
    }
}

/// A circle or a fan of long edges (every edge's box overlapping the others') of up to
/// 60,000 vertices: big real outlines must pass, crafted fans must stop at the work bound.
fn big_polygon(rng: &mut Rng) -> String {
    let n = 4 + rng.below(60_000) as usize;
    let fan = rng.below(2) == 0;
    let mut coords: Vec<String> = (0..n)
        .map(|i| {
            let angle = i as f64 * std::f64::consts::TAU / n as f64;
            let r = if fan && i % 2 == 0 { 1e-6 } else { 0.5 };
            format!("[{},{}]", 107.5 + r * angle.cos(), 16.4 + r * angle.sin())
        })
        .collect();
    coords.push(coords[0].clone());
    format!(r#"{{"type":"Polygon","coordinates":[[{}]]}}"#, coords.join(","))
}
