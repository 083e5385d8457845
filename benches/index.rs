//! R-tree bulk load for 1,000,000 parcel polygons (the foundation issue's target: under 3 s).
//! Run: cargo bench --bench index

use std::time::Instant;

use bando::feature::{Feature, GeometryKind, LayerKind};
use bando::index::LayerData;
use bando::store::LayerMeta;
use geo_types::{Coord, LineString, Polygon};

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let side = (n as f64).sqrt().ceil() as usize;
    let (dlon, dlat) = (20.0 / 106_700.0, 20.0 / 110_700.0);
    let features: Vec<Feature> = (0..n)
        .map(|i| {
            let (r, c) = (i / side, i % side);
            let (x, y) = (107.45 + c as f64 * dlon, 16.30 + r as f64 * dlat);
            let ring = LineString(vec![
                Coord { x, y },
                Coord { x: x + dlon, y },
                Coord { x: x + dlon, y: y + dlat },
                Coord { x, y: y + dlat },
                Coord { x, y },
            ]);
            Feature {
                id: i as i64 + 1,
                geometry: Polygon::new(ring, vec![]).into(),
                properties: vec![],
            }
        })
        .collect();
    let meta = LayerMeta::new("parcels", LayerKind::Cadastral, GeometryKind::Polygon, vec![]);
    let started = Instant::now();
    let layer = LayerData::build(meta, features);
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "rtree bulk load: {n} polygons in {seconds:.3} s ({:.0} polygons/s), tree size {}",
        n as f64 / seconds,
        layer.tree.size()
    );
}
