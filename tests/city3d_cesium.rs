//! A real client: CesiumJS in Debian's headless chromium (software WebGL) loads bando's 3D tiles.
//! Up close it looks straight down at one building and picks it: the attributes it shows must be
//! that building's, and the picked roof must be at its height. At the initial whole-area view
//! (the demo, and real OSM buildings of Helsinki) buildings must already be drawn, from the upper
//! tiles alone, and the biggest building picked there. Needs `.ci/setup --test` (chromium, npm
//! cesium and playwright-core). Screenshots land in tests/artifacts/.
mod common;

use geo::{Centroid, ChamberlainDuquetteArea, InteriorPoint};

use bando::feature::{Feature, Value};
use bando::store::gpkg::GpkgStore;
use bando::store::Store;
use common::*;

/// A plain rectangular building of three floors or more (no courtyard under the camera).
fn a_rectangular_building(store: &std::path::Path) -> (i64, f64, f64, i64, f64) {
    let store = GpkgStore::open(store).unwrap();
    let meta = store.layer("buildings").unwrap();
    let (floors, height) = (meta.field_index("floors").unwrap(), meta.field_index("height_m").unwrap());
    let mut found = None;
    store
        .for_each_feature(&meta, &mut |f| {
            if found.is_some() {
                return;
            }
            let (geo_types::Geometry::Polygon(p), Value::Int(n), Value::Float(h)) =
                (&f.geometry, &f.properties[floors], &f.properties[height])
            else {
                return;
            };
            if *n >= 3 && p.interiors().is_empty() && p.exterior().0.len() == 5 {
                let c = p.centroid().unwrap();
                found = Some((f.id, c.x(), c.y(), *n, *h));
            }
        })
        .unwrap();
    found.expect("the demo has rectangular buildings of 3+ floors")
}

/// A building the checks look for: its fid, a point inside its footprint, its roof height.
struct Target {
    fid: i64,
    lon: f64,
    lat: f64,
    roof_m: f64,
}

/// The biggest building of `layer` (footprint area × height, by independent formulas: geo's
/// spherical area, heights as the README states them) among those `keep` accepts.
fn the_biggest_building(store: &std::path::Path, layer: &str, keep: impl Fn(&Feature) -> bool) -> Target {
    let store = GpkgStore::open(store).unwrap();
    let meta = store.layer(layer).unwrap();
    let field = |name: &str| meta.field_index(name);
    let (height, floors) = (field("height_m"), field("floors"));
    let number = |f: &Feature, i: Option<usize>| i.and_then(|i| f.properties[i].as_f64()).filter(|v| *v > 0.0 && *v <= 1000.0);
    let mut best: Option<(f64, Target)> = None;
    store
        .for_each_feature(&meta, &mut |feature| {
            let f = &feature;
            if !keep(f) {
                return;
            }
            let roof_m = number(f, height).or_else(|| number(f, floors).map(|n| n * 3.3)).unwrap_or(3.3);
            let bulk = f.geometry.chamberlain_duquette_unsigned_area() * roof_m;
            if best.as_ref().is_none_or(|(b, _)| bulk > *b) {
                let inside = f.geometry.interior_point().unwrap();
                best = Some((
                    bulk,
                    Target {
                        fid: f.id,
                        lon: inside.x(),
                        lat: inside.y(),
                        roof_m,
                    },
                ));
            }
        })
        .unwrap();
    best.expect("the layer has buildings").1
}

/// Runs tests/js/cesium-pick.mjs against `tileset` of `server`; returns its JSON line.
fn cesium(server: &Server, tileset: &str, target: &Target, view: &str, shot: &str) -> serde_json::Value {
    let artifacts = repo_root().join("tests/artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let shot = artifacts.join(shot);
    let out = run_checker(
        "node",
        &[
            "tests/js/cesium-pick.mjs",
            "--bando",
            &server.base,
            "--tileset",
            tileset,
            "--lon",
            &target.lon.to_string(),
            "--lat",
            &target.lat.to_string(),
            "--height",
            &target.roof_m.to_string(),
            "--view",
            view,
            "--screenshot",
            shot.to_str().unwrap(),
        ],
    );
    serde_json::from_str(out.trim()).unwrap()
}

#[test]
fn cesium_renders_the_demo_buildings_and_picks_a_building_with_its_attributes() {
    let store = demo_store(2_000);
    let (fid, lon, lat, floors, height) = a_rectangular_building(&store);
    let server = Server::start(&store, &[]);
    let target = Target {
        fid,
        lon,
        lat,
        roof_m: height,
    };
    let result = cesium(&server, "/3d/buildings/tileset.json", &target, "top", "cesium-buildings.png");
    assert_eq!(result["picked"], true, "{result}");
    let props = &result["properties"];
    assert_eq!(props["fid"], fid.to_string(), "{result}");
    assert_eq!(props["floors"], floors.to_string(), "{result}");
    assert_eq!(props["use"].as_str().map(|s| !s.is_empty()), Some(true), "{result}");
    let roof = result["pickedHeight"].as_f64().expect("pickPosition found the roof");
    assert!(
        (roof - height).abs() < 0.2,
        "picked the roof at {roof} m, building is {height} m: {result}"
    );
    assert!(result["statistics"]["features"].as_u64().unwrap() > 10, "{result}");
}

fn count_tiles(tile: &serde_json::Value) -> u64 {
    1 + tile["children"].as_array().into_iter().flatten().map(count_tiles).sum::<u64>()
}

/// The whole-area view draws the root's `per_tile` buildings and fewer tiles than the tileset has,
/// and the biggest building, which the root holds, is picked where its roof lands on screen.
fn assert_overview_shows_the_biggest(server: &Server, tileset: &str, target: &Target, per_tile: u64, shot: &str) {
    let (_, json) = server.get_json(tileset);
    let tiles = count_tiles(&json["root"]);
    assert!(tiles > 3, "expected several levels, got {tiles} tiles: {json}");
    let result = cesium(server, tileset, target, "overview", shot);
    let stats = &result["statistics"];
    let selected = stats["selected"].as_u64().unwrap();
    assert!(selected > 0 && selected < tiles, "drew {selected} of {tiles} tiles: {result}");
    assert_eq!(result["rootFeatures"], per_tile, "the root draws its buildings: {result}");
    assert!(stats["featuresSelected"].as_u64().unwrap() >= per_tile, "{result}");
    assert_eq!(result["picked"], true, "{result}");
    assert_eq!(result["properties"]["fid"], target.fid.to_string(), "{result}");
    let roof = result["pickedHeight"].as_f64().expect("pickPosition found the roof");
    assert!(
        (roof - target.roof_m).abs() < 1.0,
        "roof at {roof} m, building is {} m: {result}",
        target.roof_m
    );
}

#[test]
fn cesium_shows_the_demo_buildings_at_the_initial_whole_area_view() {
    let store = demo_store(20_000);
    let target = the_biggest_building(&store, "buildings", |_| true);
    // 100 a tile: leaves are then far too small to load from this far; only content at every
    // level puts anything on screen.
    let server = Server::start(&store, &["--max-per-tile", "100"]);
    assert_overview_shows_the_biggest(&server, "/3d/buildings/tileset.json", &target, 100, "cesium-demo-overview.png");
}

#[test]
fn cesium_shows_osm_helsinki_buildings_at_the_initial_whole_area_view() {
    let Some(store) = helsinki_store() else { return };
    let meta = GpkgStore::open(&store).unwrap().layer("helsinki").unwrap();
    let building = meta.field_index("building").unwrap();
    let target = the_biggest_building(&store, "helsinki", |f| !f.properties[building].is_null());
    let tilesets = tempfile::tempdir().unwrap();
    std::fs::write(
        tilesets.path().join("helsinki.toml"),
        "id = \"helsinki\"\ntitle = \"Helsinki\"\n[[layers]]\nlayer = \"helsinki\"\n[three_d]\nlayer = \"helsinki\"\nwhere = [{ field = \"building\", op = \"exists\" }]\n",
    )
    .unwrap();
    let server = Server::start(&store, &["--tilesets", tilesets.path().to_str().unwrap(), "--max-per-tile", "60"]);
    assert_overview_shows_the_biggest(
        &server,
        "/scenarios/helsinki/3d/tileset.json",
        &target,
        60,
        "cesium-helsinki-overview.png",
    );
}
