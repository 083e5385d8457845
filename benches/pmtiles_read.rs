//! PMTiles tile lookups on an archive with leaf directories: bando's archive (src/tiles/pmtiles:
//! since this bench showed the crate faster, the `pmtiles` crate's reader and moka directory cache
//! over bando's memory-mapped bytes, driven by pollster) against the crate on its own
//! (stadiamaps/pmtiles-rs: its memory-map backend, without and with its directory cache, on a
//! tokio runtime), the same random tiles in the same order, one thread. Before the switch, bando's
//! own reader (positioned reads, each leaf read and inflated per lookup) was 1.7-2.9x slower.
//! Each is measured on the archive bando's writer makes and, when python3 has the `pmtiles`
//! package (tests/requirements.txt), on the same tiles written by the protomaps writer
//! (benches/pmtiles_protomaps.py), whose leaf directories are laid out differently.
//! Run: cargo bench --bench pmtiles_read [-- TILES LOOKUPS ROUNDS]

use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

use bando::cache::gzip;
use bando::tiles::pmtiles::{tile_id, DirectoryCache, Extent, PmtilesArchive, PmtilesWriter};
use bando::tiles::TileId;
use pmtiles::{AsyncPmTilesReader, MmapBackend, MokaCache, TileCoord};

/// The crate's directory cache budget.
const DIRECTORY_CACHE_BYTES: u64 = 16 << 20;

fn arg(i: usize, default: usize) -> usize {
    std::env::args().nth(i).and_then(|a| a.parse().ok()).unwrap_or(default)
}

/// Writes `count` distinct z14 tiles (a square block over Huế) and returns them.
fn write_archive(path: &Path, count: usize) -> Vec<TileId> {
    let side = (count as f64).sqrt().ceil() as u32;
    let (x0, y0) = (13_080, 7_480);
    let mut tiles: Vec<TileId> = (0..side * side)
        .take(count)
        .map(|i| TileId {
            z: 14,
            x: x0 + i % side,
            y: y0 + i / side,
        })
        .collect();
    tiles.sort_by_key(|&t| tile_id(t));
    let mut writer = PmtilesWriter::create(path).expect("archive file");
    for &t in &tiles {
        writer.add(t, &gzip(format!("tile {t}").as_bytes(), 6)).expect("tile added");
    }
    let extent = Extent {
        minzoom: 14,
        maxzoom: 14,
        bounds: [107.4, 16.3, 107.7, 16.6],
        center: [107.55, 16.45, 14.0],
    };
    writer
        .finish(extent, &serde_json::json!({"name": "bench"}))
        .expect("archive finished");
    tiles
}

/// `lookups` tiles drawn from `tiles` by a fixed linear congruential sequence.
fn sample(tiles: &[TileId], lookups: usize) -> Vec<TileId> {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    (0..lookups)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            tiles[(state >> 33) as usize % tiles.len()]
        })
        .collect()
}

/// Best of `rounds` (after one warm-up round), in ns per lookup.
fn best_ns(rounds: usize, lookups: usize, mut round: impl FnMut()) -> f64 {
    round();
    (0..rounds)
        .map(|_| {
            let started = Instant::now();
            round();
            started.elapsed().as_nanos() as f64 / lookups as f64
        })
        .fold(f64::INFINITY, f64::min)
}

fn coord(t: TileId) -> TileCoord {
    TileCoord::new(t.z, t.x, t.y).expect("valid tile")
}

fn main() {
    let (count, lookups, rounds) = (arg(1, 400_000), arg(2, 200_000), arg(3, 3));
    let dir = tempfile::tempdir().expect("temp dir");
    let ours = dir.path().join("bando.pmtiles");
    let tiles = write_archive(&ours, count);
    let wanted = sample(&tiles, lookups);
    measure("bando's writer", &ours, &wanted, rounds);
    let protomaps = dir.path().join("protomaps.pmtiles");
    let written = std::process::Command::new("python3")
        .args([
            "benches/pmtiles_protomaps.py",
            protomaps.to_str().expect("utf-8 path"),
            &count.to_string(),
        ])
        .status();
    match written {
        Ok(status) if status.success() => measure("the protomaps writer", &protomaps, &wanted, rounds),
        _ => println!("(no protomaps archive: pip install pmtiles for the second half)"),
    }
}

/// Every reader on the archive at `path`, the same lookups in the same order.
fn measure(writer: &str, path: &Path, wanted: &[TileId], rounds: usize) {
    let lookups = wanted.len();
    let size = std::fs::metadata(path).expect("archive").len();
    println!("archive by {writer}: {size} bytes; {lookups} random lookups, best of {rounds} rounds");

    let archive = PmtilesArchive::open(path, &DirectoryCache::new(DIRECTORY_CACHE_BYTES)).expect("opens");
    let ns = best_ns(rounds, lookups, || {
        for &t in wanted {
            black_box(archive.get(t).expect("reads").expect("present"));
        }
    });
    println!("{:<36} {ns:>8.0} ns/lookup", "bando reader");

    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    runtime.block_on(async {
        let plain = AsyncPmTilesReader::try_from_source(MmapBackend::try_from(path).await.expect("mmap"))
            .await
            .expect("crate opens");
        let cached = AsyncPmTilesReader::try_from_cached_source(
            MmapBackend::try_from(path).await.expect("mmap"),
            MokaCache::with_max_bytes(DIRECTORY_CACHE_BYTES),
        )
        .await
        .expect("crate opens");
        let coords: Vec<TileCoord> = wanted.iter().map(|&t| coord(t)).collect();
        for (name, ns) in [
            ("pmtiles crate, no directory cache", crate_round(&plain, &coords, rounds).await),
            ("pmtiles crate, moka directory cache", crate_round(&cached, &coords, rounds).await),
        ] {
            println!("{name:<36} {ns:>8.0} ns/lookup");
        }
    });
}

/// As [`best_ns`], for the crate's async reader.
async fn crate_round<C: pmtiles::DirectoryCache + Send + Sync>(
    reader: &AsyncPmTilesReader<MmapBackend, C>,
    coords: &[TileCoord],
    rounds: usize,
) -> f64 {
    let mut best = f64::INFINITY;
    for round in 0..=rounds {
        let started = Instant::now();
        for &c in coords {
            black_box(reader.get_tile(c).await.expect("reads").expect("present"));
        }
        let ns = started.elapsed().as_nanos() as f64 / coords.len() as f64;
        if round > 0 {
            best = best.min(ns);
        }
    }
    best
}
