//! Times the core tile encoder (no HTTP) per zoom on a store: `cargo bench --bench tiles --
//! STORE [LAYER] [LON LAT]`. For each zoom it renders the 5 x 5 tiles around the point, several
//! rounds, and prints per-tile time (median, p99, max) and raw / gzip sizes; then it renders
//! every tile covering the layer at z0-z17 once and prints the size distribution per zoom.

use std::time::Instant;

use bando::cache::gzip;
use bando::index::Catalog;
use bando::store::gpkg::GpkgStore;
use bando::tiles::{render, TileId, TileService, TileSource};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let Some(store) = args.first() else {
        println!("tiles bench needs a store: cargo bench --bench tiles -- STORE [LAYER] [LON LAT]; nothing measured");
        return Ok(());
    };
    let layer = args.get(1).map_or("parcels", String::as_str);
    let lon: f64 = args.get(2).map_or(Ok(107.54), |s| s.parse())?;
    let lat: f64 = args.get(3).map_or(Ok(16.39), |s| s.parse())?;
    let started = Instant::now();
    let catalog = Catalog::load(&GpkgStore::open(std::path::Path::new(store))?)?;
    println!("loaded {store} in {:.1} s", started.elapsed().as_secs_f64());
    let service = TileService::new(0);
    let started = Instant::now();
    service.warm(&catalog, &bando::scenarios::Scenarios::default());
    println!("ladders built in {:.1} s", started.elapsed().as_secs_f64());
    let source = TileSource::from_layer_list(&catalog, layer, &bando::policy::View::open())?;
    println!("| zoom | tiles | median ms | p99 ms | max ms | max raw kB | max gzip kB |");
    println!("|---|---|---|---|---|---|---|");
    for z in [0u8, 4, 6, 8, 10, 12, 13, 14, 15, 16, 18] {
        let n = 1u64 << z;
        let cx = (((lon + 180.0) / 360.0) * n as f64) as i64;
        let cy = ((1.0 - lat.to_radians().tan().asinh() / std::f64::consts::PI) / 2.0 * n as f64) as i64;
        let mut times = Vec::new();
        let (mut raw_max, mut gz_max, mut count) = (0usize, 0usize, 0usize);
        for dx in -2..=2i64 {
            for dy in -2..=2i64 {
                let (x, y) = (cx + dx, cy + dy);
                let Ok(tile) = TileId::new(z as u32, x.max(-1) as u64, y.max(-1) as u64) else {
                    continue;
                };
                count += 1;
                let mut bytes = Vec::new();
                for _ in 0..5 {
                    let t = Instant::now();
                    bytes = render::render(&source, tile, &|l| service.ladder(l)).0;
                    times.push(t.elapsed().as_secs_f64() * 1000.0);
                }
                raw_max = raw_max.max(bytes.len());
                gz_max = gz_max.max(gzip(&bytes, 1).len());
            }
        }
        times.sort_by(f64::total_cmp);
        let pick = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
        println!(
            "| {z} | {count} | {:.2} | {:.2} | {:.2} | {:.1} | {:.1} |",
            pick(0.5),
            pick(0.99),
            times.last().copied().unwrap_or(0.0),
            raw_max as f64 / 1000.0,
            gz_max as f64 / 1000.0
        );
    }
    println!();
    println!("| zoom | tiles covering the layer | non-empty | mean raw kB | max raw kB | over 500 kB |");
    println!("|---|---|---|---|---|---|");
    let bounds = source.layers[0].data.meta.bbox.ok_or_else(|| anyhow::anyhow!("empty layer"))?;
    for z in 0u8..=17 {
        let (xs, ys) = TileId::covering(&bounds, z);
        let (mut count, mut non_empty, mut total, mut max, mut over) = (0u64, 0u64, 0usize, 0usize, 0u64);
        for x in xs {
            for y in ys.clone() {
                let (bytes, _) = render::render(&source, TileId { z, x, y }, &|l| service.ladder(l));
                count += 1;
                if !bytes.is_empty() {
                    non_empty += 1;
                    total += bytes.len();
                    max = max.max(bytes.len());
                    over += u64::from(bytes.len() > 500_000);
                }
            }
        }
        let mean = if non_empty > 0 {
            total as f64 / non_empty as f64 / 1000.0
        } else {
            0.0
        };
        println!("| {z} | {count} | {non_empty} | {mean:.1} | {:.1} | {over} |", max as f64 / 1000.0);
    }
    Ok(())
}
