//! Fuzz targets for the parsers that read untrusted bytes, run by `cargo test --release --test
//! fuzz`: briefly (4 s each, fixed seed) in CI, as long as wanted by hand
//! (`BANDO_FUZZ_SECONDS=600 BANDO_FUZZ_SEED=random`). Each target replays its committed corpus
//! in `tests/fuzz/corpus/<target>/` (real inputs and every input that once broke a parser) and
//! then mutates it. What must hold: no panic, no unbounded recursion or allocation, and the
//! target's own checks (round trips, invariants of what a parser accepts).

#[path = "../common/mod.rs"]
mod common;
mod engine;
mod json_tree;
mod mutate;
mod pmtiles;
mod query_polygon;
mod scenario;
mod wkb;

#[test]
fn wkb_decoder() {
    engine::fuzz(wkb::TARGET);
}

#[test]
fn query_polygon_reader() {
    engine::fuzz(query_polygon::TARGET);
}

#[test]
fn pmtiles_reader() {
    engine::fuzz(pmtiles::TARGET);
}

#[test]
fn scenario_loader() {
    engine::fuzz(scenario::TARGET);
}
