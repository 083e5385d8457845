//! A real client: CesiumJS in Debian's headless chromium (software WebGL) loads bando's 3D tiles of
//! the demo buildings, looks straight down at one building and picks it; the attributes it shows
//! must be that building's, and the picked roof must be at its height. Needs `.ci/setup --test`
//! (chromium, npm cesium and playwright-core). The screenshot lands in tests/artifacts/.
mod common;

use geo::Centroid;

use bando::feature::Value;
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

#[test]
fn cesium_renders_the_demo_buildings_and_picks_a_building_with_its_attributes() {
    let store = demo_store(2_000);
    let (fid, lon, lat, floors, height) = a_rectangular_building(&store);
    let server = Server::start(&store, &[]);
    let artifacts = repo_root().join("tests/artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let shot = artifacts.join("cesium-buildings.png");
    let out = run_checker(
        "node",
        &[
            "tests/js/cesium-pick.mjs",
            "--bando",
            &server.base,
            "--tileset",
            "/3d/buildings/tileset.json",
            "--lon",
            &lon.to_string(),
            "--lat",
            &lat.to_string(),
            "--height",
            &height.to_string(),
            "--screenshot",
            shot.to_str().unwrap(),
        ],
    );
    let result: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
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
