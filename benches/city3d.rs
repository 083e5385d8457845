//! 3D tiles throughput: the tile tree, buildings per second into GLB, bytes per building and one
//! leaf tile, on the demo province. `BANDO_BENCH_STORE=/tmp/demo1m.gpkg cargo bench --bench city3d` uses an existing
//! store (e.g. `bando demo --parcels 1000000`, ≈ 560k buildings); without it a demo store with
//! `BANDO_BENCH_PARCELS` parcels (default 1,000,000) is built in a temp folder first.

use std::sync::Arc;
use std::time::Instant;

use rayon::prelude::*;

use bando::city3d::{City3d, City3dOptions, Styling};
use bando::index::LayerData;
use bando::store::gpkg::GpkgStore;
use bando::store::Store;

fn main() -> anyhow::Result<()> {
    let temp = tempfile::tempdir()?;
    let path = match std::env::var("BANDO_BENCH_STORE") {
        Ok(p) => std::path::PathBuf::from(p),
        Err(_) => {
            let parcels = std::env::var("BANDO_BENCH_PARCELS")
                .ok()
                .and_then(|p| p.parse().ok())
                .unwrap_or(1_000_000);
            let path = temp.path().join("demo.gpkg");
            let store = GpkgStore::open(&path)?;
            bando::demo::build(&store, bando::demo::DemoOptions { parcels })?;
            path
        }
    };
    let store = GpkgStore::open(&path)?;
    let meta = store.layer("buildings")?;
    let layer = Arc::new(LayerData::load(&store, meta)?);
    let city = City3d::new(layer, Styling::plain(), City3dOptions::default())?;

    let started = Instant::now();
    let tree = city.tree();
    let tree_s = started.elapsed().as_secs_f64();
    let tileset = city.tileset_json(&tree);
    let root = tree.root.as_ref().ok_or_else(|| anyhow::anyhow!("no buildings"))?;
    let tiles = root.tiles();
    let ids: Vec<String> = tiles.iter().map(|t| t.id.name()).collect();
    let leaves: Vec<String> = tiles.iter().filter(|t| t.children.is_empty()).map(|t| t.id.name()).collect();

    let started = Instant::now();
    let bytes: usize = ids
        .par_iter()
        .map(|id| city.tile_glb(&tree, id).map(|g| g.len()).unwrap_or(0))
        .sum();
    let all_s = started.elapsed().as_secs_f64();
    let buildings = tree.stats.buildings as f64;

    // Spread over the tileset, not the first 50 of one corner.
    let step = (leaves.len() / 50).max(1);
    let mut one: Vec<f64> = leaves
        .iter()
        .step_by(step)
        .take(50)
        .map(|id| {
            let t = Instant::now();
            let _ = city.tile_glb(&tree, id);
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    one.sort_by(f64::total_cmp);
    let depth = tiles.iter().map(|t| t.id.level).max().unwrap_or(0);

    println!("buildings            {}", tree.stats.buildings);
    println!(
        "tiles with content   {} ({} leaves, {} levels, root holds {})",
        tiles.len(),
        leaves.len(),
        depth + 1,
        root.buildings.len()
    );
    println!(
        "tile tree            {:.0} ms (prepare, Morton sort, biggest-first split)",
        tree_s * 1e3
    );
    println!("tileset.json         {} bytes", tileset.len());
    println!(
        "all GLB tiles        {:.2} s on {} threads: {:.0} buildings/s",
        all_s,
        rayon::current_num_threads(),
        buildings / all_s
    );
    println!("GLB bytes/building   {:.0}", bytes as f64 / buildings);
    println!(
        "one leaf tile        p50 {:.1} ms, max {:.1} ms (single thread, tree built: extrusion + GLB)",
        one[one.len() / 2],
        one[one.len() - 1]
    );
    Ok(())
}
