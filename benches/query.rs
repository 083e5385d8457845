//! Core timing of spatial queries (no HTTP): radius 500 m, point, boundary by ward, nearest, and
//! radius with its GeoJSON answer, on a store with a big `parcels` layer and a `wards` layer.
//!
//! `BANDO_BENCH_STORE=/tmp/bench/q1m.gpkg cargo bench --bench query` (see docs/benchmarks.md for
//! how that store is made). Query points are those of the PostGIS bench (`radius.sql`,
//! `point.sql`): a 1000 x 1000 grid from (107.45, 16.30).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bando::index::Catalog;
use bando::query::{boundary_hits, nearest_hits, point_hits, radius_hits, Matches, Params, Predicate, Region};
use bando::store::gpkg::GpkgStore;
use geo_types::Coord;

/// Deterministic pseudo-random integers below `n`.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }

    /// A point of an `n` x `n` grid over the bench parcels (the PostGIS scripts' grid).
    fn grid_point(&mut self, n: u64) -> Coord<f64> {
        let step = 1000.0 / n as f64;
        Coord {
            x: 107.45 + self.below(n) as f64 * 0.000187 * step,
            y: 16.30 + self.below(n) as f64 * 0.00018 * step,
        }
    }
}

fn report(name: &str, mut times: Vec<Duration>, results: usize) {
    times.sort();
    let total: Duration = times.iter().sum();
    let pct = |p: f64| times[((times.len() - 1) as f64 * p) as usize].as_secs_f64() * 1e3;
    println!(
        "{name:<34} n={:<6} p50 {:>8.3} ms  p99 {:>8.3} ms  {:>9.0} q/s (1 thread)  {:>8.1} results/query",
        times.len(),
        pct(0.5),
        pct(0.99),
        times.len() as f64 / total.as_secs_f64(),
        results as f64 / times.len() as f64
    );
}

fn time<T>(f: impl FnOnce() -> T) -> (Duration, T) {
    let started = Instant::now();
    let out = f();
    (started.elapsed(), out)
}

fn main() {
    let path = std::env::var("BANDO_BENCH_STORE").unwrap_or_else(|_| "/tmp/bench/q1m.gpkg".into());
    if !std::path::Path::new(&path).exists() {
        println!("no store at {path}: set BANDO_BENCH_STORE (docs/benchmarks.md, 'Spatial queries')");
        return;
    }
    let store = GpkgStore::open(std::path::Path::new(&path)).expect("store opens");
    let (load, catalog) = time(|| Catalog::load(&store).expect("store loads"));
    let parcels = vec![catalog.get("parcels").expect("a parcels layer")];
    println!("loaded {} parcels in {:.1} s", parcels[0].features.len(), load.as_secs_f64());
    let mut rng = Lcg(42);

    let mut times = Vec::new();
    let mut results = 0;
    for _ in 0..2_000 {
        let at = rng.grid_point(1000);
        let (t, hits) = time(|| radius_hits(&parcels, at, 500.0));
        results += hits.len();
        times.push(t);
    }
    report("radius 500 m (search)", times, results);

    let params: HashMap<String, String> = [("limit".to_string(), "10000".to_string())].into();
    let (scenarios, view) = (bando::scenarios::Scenarios::default(), bando::policy::View::open());
    let ctx = bando::query::Context {
        catalog: &catalog,
        scenarios: &scenarios,
        limits: bando::query::Limits::default(),
        view: &view,
    };
    let mut times = Vec::new();
    let mut bytes = 0;
    for _ in 0..500 {
        let at = rng.grid_point(1000);
        let (t, answer) = time(|| {
            let hits = radius_hits(&parcels, at, 500.0);
            Matches {
                layers: parcels.clone(),
                hits,
                with_distance: true,
            }
            .answer(&Params(&params), &ctx)
            .expect("answer")
        });
        bytes += answer.body.len();
        times.push(t);
    }
    report("radius 500 m + GeoJSON answer", times, bytes / 1000);
    println!("  (results/query above = kB of GeoJSON per answer)");

    let mut times = Vec::new();
    let mut results = 0;
    for _ in 0..20_000 {
        let at = rng.grid_point(100_000);
        let (t, hits) = time(|| point_hits(&parcels, at, 5.0));
        results += hits.len();
        times.push(t);
    }
    report("point in parcel", times, results);

    let mut times = Vec::new();
    let mut results = 0;
    for _ in 0..2_000 {
        let at = rng.grid_point(1000);
        let (t, hits) = time(|| nearest_hits(&parcels, at, 10));
        results += hits.len();
        times.push(t);
    }
    report("nearest k=10", times, results);

    if let Some(wards) = catalog.get("wards") {
        let mut times = Vec::new();
        let mut results = 0;
        for round in 0..3 {
            for ward in &wards.features {
                let geo_types::Geometry::Polygon(p) = &ward.geometry else {
                    continue;
                };
                let (t, hits) = time(|| {
                    let region = Region::new(geo_types::MultiPolygon(vec![p.clone()])).expect("a ward");
                    boundary_hits(
                        &parcels,
                        &region,
                        if round == 1 { Predicate::Within } else { Predicate::Intersects },
                    )
                });
                results += hits.len();
                times.push(t);
            }
        }
        report("boundary by ward (all matches)", times, results);
    }
}
