//! OGC API Features of a real `bando serve`, read by real OGC clients: GDAL's OAPIF driver copies
//! a layer (same count, attributes and geometry as the store), OWSLib pages through items
//! compared with an oracle that reads the GeoPackage itself (`tests/py/ogc_check.py`), CQL2
//! filters (text and JSON) compared with a shapely + plain Python oracle (`tests/py/cql2_check.py`),
//! `crs`, `bbox-crs` and `filter-crs` (Part 2) checked against pyproj on every vertex
//! (`tests/py/crs_check.py`), and `datetime` and CQL2 instants select on a layer's time field as
//! GDAL imported it; a scenario layer is a collection of what its `where` selects.
mod common;

use std::process::Command;

use common::*;

/// A layer as GDAL reads it: (properties, geometry) of each feature in fid order; `options` are
/// more `ogr2ogr` options (e.g. `-where`).
fn ogr_features(dataset: &str, layer: &str, options: &[&str]) -> Vec<(serde_json::Value, serde_json::Value)> {
    let out = Command::new("ogr2ogr")
        .args(["-f", "GeoJSON", "/vsistdout/", dataset, layer])
        .args(options)
        .output()
        .expect("ogr2ogr runs");
    assert!(out.status.success(), "ogr2ogr {dataset} {layer}: {}", stderr_of(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("GeoJSON");
    doc["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["properties"].clone(), f["geometry"]["coordinates"].clone()))
        .collect()
}

/// Every coordinate of `a` within `tolerance` of `b`'s (same nesting).
fn coordinates_close(a: &serde_json::Value, b: &serde_json::Value, tolerance: f64) -> bool {
    match (a, b) {
        (serde_json::Value::Array(x), serde_json::Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| coordinates_close(p, q, tolerance))
        }
        (p, q) => (p.as_f64().unwrap() - q.as_f64().unwrap()).abs() <= tolerance,
    }
}

#[test]
fn gdal_oapif_copies_layers_as_the_store_holds_them() {
    let store = demo_store(2_000);
    let server = Server::start(&store, &[]);
    let dir = tempfile::tempdir().unwrap();
    for layer in ["parcels", "housing", "roads"] {
        let copy = dir.path().join(format!("{layer}.gpkg"));
        let out = Command::new("ogr2ogr")
            .args(["-f", "GPKG", copy.to_str().unwrap(), &format!("OAPIF:{}/ogc", server.base), layer])
            .output()
            .expect("ogr2ogr runs");
        assert!(out.status.success(), "ogr2ogr OAPIF {layer}: {}", stderr_of(&out));
        let served = ogr_features(copy.to_str().unwrap(), layer, &[]);
        let stored = ogr_features(store.to_str().unwrap(), layer, &[]);
        assert_eq!(served.len(), stored.len(), "{layer}: feature count");
        assert_eq!(
            ogr_feature_count(copy.to_str().unwrap(), layer),
            ogr_feature_count(store.to_str().unwrap(), layer)
        );
        for (n, ((sp, sg), (tp, tg))) in served.iter().zip(&stored).enumerate() {
            assert_eq!(sp, tp, "{layer} feature {n}: attributes");
            assert!(coordinates_close(sg, tg, 1e-8), "{layer} feature {n}: geometry {sg} vs {tg}");
        }
    }
}

#[test]
fn scenario_layers_are_collections_of_what_they_show() {
    let store = demo_store(2_000);
    let server = Server::start(&store, &[]);
    let id = "social_welfare.poor_households";
    let (_, collection) = server.get_json(&format!("/ogc/collections/{id}"));
    assert_eq!(collection["id"], id, "{collection}");
    // GDAL's OAPIF driver reads the scenario layer; GDAL's own SQL over the store picks the same
    // houses by the scenario file's `where` (poor_household = true), with the same attributes.
    let served = ogr_features(&format!("OAPIF:{}/ogc", server.base), id, &[]);
    let stored = ogr_features(store.to_str().unwrap(), "housing", &["-where", "poor_household = 1"]);
    assert!(!stored.is_empty(), "the demo has poor households");
    assert_eq!(served.len(), stored.len(), "feature count");
    for (n, ((sp, sg), (tp, tg))) in served.iter().zip(&stored).enumerate() {
        assert_eq!(sp, tp, "feature {n}: attributes");
        assert!(coordinates_close(sg, tg, 1e-8), "feature {n}: geometry {sg} vs {tg}");
    }
    let (_, page) = server.get_json(&format!("/ogc/collections/{id}/items?limit=1000"));
    assert_eq!(page["numberMatched"], stored.len(), "{}", page["numberMatched"]);
    // A house the scenario does not show is not an item of it, but is one of the store layer.
    let (_, other) = server.get_json("/ogc/collections/housing/items?poor_household=false&limit=1");
    let other_id = &other["features"][0]["id"];
    let (status, _) = server.get_json(&format!("/ogc/collections/{id}/items/{other_id}"));
    assert_eq!(status, 404);
    let (status, _) = server.get_json(&format!("/ogc/collections/housing/items/{other_id}"));
    assert_eq!(status, 200);
    for (path, status) in [
        ("/ogc/collections/social_welfare.nope", 404),
        ("/ogc/collections/nope.poor_households/items", 404),
        ("/ogc/collections/social_welfare.poor_households/queryables", 200),
    ] {
        let (got, body) = server.get_json(path);
        assert_eq!(got, status, "{path}: {body}");
    }
}

/// Runs the Python checker `script` (with `extra` arguments) against a server over the
/// 2,000-parcel demo store; it must find no disagreement.
fn checker_agrees(script: &str, extra: &[&str]) {
    let store = demo_store(2_000);
    let server = Server::start(&store, &[]);
    let mut args = vec![script, "--store", store.to_str().unwrap(), "--base", &server.base];
    args.extend_from_slice(extra);
    let report = run_checker("python3", &args);
    assert!(report.contains(", 0 disagree"), "{report}");
}

#[test]
fn owslib_and_the_store_agree() {
    checker_agrees("tests/py/ogc_check.py", &[]);
}

#[test]
fn cql2_filters_agree_with_an_oracle() {
    checker_agrees("tests/py/cql2_check.py", &["--filters", "250"]);
}

#[test]
fn crs_by_reference_agrees_with_pyproj_on_every_vertex() {
    checker_agrees("tests/py/crs_check.py", &[]);
}

#[test]
fn datetime_selects_on_the_time_field() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("events.geojson");
    let times = [
        "2024-05-01T10:00:00Z",
        "2024-05-01T23:30:00+07:00",
        "2024-06-15",
        "2025-01-01T00:00:00Z",
    ];
    let features: Vec<serde_json::Value> = times
        .iter()
        .enumerate()
        .map(|(i, t)| {
            serde_json::json!({"type": "Feature", "properties": {"name": format!("e{i}"), "observed_at": t},
                "geometry": {"type": "Point", "coordinates": [107.58 + i as f64 * 0.001, 16.46]}})
        })
        .collect();
    let doc = serde_json::json!({"type": "FeatureCollection", "features": features});
    std::fs::write(&source, doc.to_string()).unwrap();
    let store = dir.path().join("events.gpkg");
    let out = bando(&[
        "import",
        source.to_str().unwrap(),
        "--layer",
        "events",
        "--kind",
        "iot",
        "--store",
        store.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "import: {}", stderr_of(&out));
    let server = Server::start(&store, &[]);
    for (datetime, want) in [
        ("2024-05-01", vec![1, 2]),
        ("2024-05-01T16:30:00Z", vec![2]),
        ("2024-05-01T12:00:00Z/..", vec![2, 3, 4]),
        ("../2024-06-15", vec![1, 2, 3]),
        ("2024-06-01/2024-12-31", vec![3]),
        ("../..", vec![1, 2, 3, 4]),
    ] {
        let (status, body) = server.get_json(&format!("/ogc/collections/events/items?datetime={datetime}"));
        assert_eq!(status, 200, "{datetime}: {body}");
        let ids: Vec<i64> = body["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["id"].as_i64().unwrap())
            .collect();
        assert_eq!(ids, want, "{datetime}");
        assert_eq!(body["numberMatched"], want.len(), "{datetime}");
    }
    // CQL2 compares the time field with DATE and TIMESTAMP literals as instants.
    for (filter, want) in [
        ("observed_at > TIMESTAMP('2024-05-01T12:00:00Z')", vec![2, 3, 4]),
        ("observed_at >= DATE('2024-06-15') AND observed_at < DATE('2025-01-01')", vec![3]),
        (
            "observed_at BETWEEN TIMESTAMP('2024-05-01T10:00:00Z') AND TIMESTAMP('2024-05-01T16:30:00Z')",
            vec![1, 2],
        ),
    ] {
        let (status, body) = server.get_json(&format!("/ogc/collections/events/items?filter={}", encode(filter)));
        assert_eq!(status, 200, "{filter}: {body}");
        let ids: Vec<i64> = body["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["id"].as_i64().unwrap())
            .collect();
        assert_eq!(ids, want, "{filter}");
    }
    let (status, body) = server.get_json("/ogc/collections/events/items?datetime=2024-13-40");
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], "InvalidParameterValue");
}

#[test]
fn the_policy_view_applies_as_on_every_route() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bando.toml");
    let policy = "[security]\n[[security.roles]]\nname = \"public\"\nlayers = [\"parcels\", \"wards\"]\nhidden_fields = { parcels = [\"address\"] }\n";
    std::fs::write(&config, policy).unwrap();
    let server = Server::start(&demo_store(2_000), &["--config", config.to_str().unwrap()]);
    let (_, list) = server.get_json("/ogc/collections");
    let ids: Vec<&str> = list["collections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    let (stored, scenario_layers): (Vec<&str>, Vec<&str>) = ids.iter().partition(|id| !id.contains('.'));
    assert_eq!(stored, ["parcels", "wards"]);
    // Scenario layers over the readable layers only (social_welfare's housing layers are absent).
    assert!(
        scenario_layers.contains(&"social_welfare.wards") && scenario_layers.contains(&"land_management.parcels"),
        "{scenario_layers:?}"
    );
    assert!(!ids.contains(&"social_welfare.poor_households"), "{ids:?}");
    for hidden in [
        "/ogc/collections/buildings",
        "/ogc/collections/buildings/items",
        "/ogc/collections/housing/items/1",
        "/ogc/collections/social_welfare.poor_households/items",
    ] {
        let (status, body) = server.get_json(hidden);
        assert_eq!((status, body["code"].as_str()), (404, Some("NotFound")), "{hidden}: {body}");
    }
    let (_, page) = server.get_json("/ogc/collections/parcels/items?limit=50");
    for feature in page["features"].as_array().unwrap() {
        let properties = feature["properties"].as_object().unwrap();
        assert!(
            properties.contains_key("land_use") && !properties.contains_key("address"),
            "{feature}"
        );
    }
    let (_, one) = server.get_json("/ogc/collections/parcels/items/1");
    assert!(one["properties"].get("address").is_none(), "{one}");
    let (status, body) = server.get_json("/ogc/collections/parcels/items?address=1%20L%C3%AA%20L%E1%BB%A3i");
    assert_eq!(status, 400, "{body}");
    assert!(
        body["description"].as_str().unwrap().contains("unknown parameter 'address'"),
        "{body}"
    );
    // Queryables leave the hidden field out, and a filter naming it fails like an unknown name.
    let (_, queryables) = server.get_json("/ogc/collections/parcels/queryables");
    let names = queryables["properties"].as_object().unwrap();
    assert!(
        names.contains_key("land_use") && names.contains_key("geometry") && !names.contains_key("address"),
        "{queryables}"
    );
    for filter in ["address LIKE '1%'", r#"{"op":"isNull","args":[{"property":"address"}]}"#] {
        let lang = if filter.starts_with('{') { "cql2-json" } else { "cql2-text" };
        let (status, body) = server.get_json(&format!(
            "/ogc/collections/parcels/items?filter={}&filter-lang={lang}",
            encode(filter)
        ));
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("InvalidParameterValue")),
            "{filter}: {body}"
        );
        assert!(
            body["description"].as_str().unwrap().contains("'address' is not a queryable"),
            "{body}"
        );
    }
    let (status, _) = server.get_json("/ogc/collections/housing/queryables");
    assert_eq!(status, 404);
}

/// `text` percent-encoded for a query string.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The tile (x, y) at zoom `z` holding lon/lat.
fn tile_of(lon: f64, lat: f64, z: u32) -> (u64, u64) {
    let n = f64::from(1u32 << z);
    let x = (lon + 180.0) / 360.0 * n;
    let y = (1.0 - lat.to_radians().tan().asinh() / std::f64::consts::PI) / 2.0 * n;
    (x as u64, y as u64)
}

#[test]
fn ogc_tiles_are_the_tiles_of_tiles_routes() {
    let server = Server::start(&demo_store(2_000), &[]);
    let (_, sets) = server.get_json("/ogc/tileMatrixSets");
    assert_eq!(sets["tileMatrixSets"][0]["id"], "WebMercatorQuad");
    let (_, tms) = server.get_json("/ogc/tileMatrixSets/WebMercatorQuad");
    assert_eq!(tms["tileMatrices"][16]["matrixWidth"], 65536);
    let (_, tilesets) = server.get_json("/ogc/collections/parcels/tiles");
    let template = tilesets["tilesets"][0]["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["rel"] == "item")
        .and_then(|l| l["href"].as_str())
        .unwrap()
        .to_string();
    let (x, y) = tile_of(107.585, 16.463, 16);
    let url = template
        .replace("{tileMatrix}", "16")
        .replace("{tileRow}", &y.to_string())
        .replace("{tileCol}", &x.to_string());
    let (status, ogc_tile, content_type) = fetch(&url);
    assert_eq!(
        (status, content_type.as_str()),
        (200, "application/vnd.mapbox-vector-tile"),
        "{url}"
    );
    let (_, tile, _) = server.get(&format!("/tiles/parcels/16/{x}/{y}.mvt"));
    assert!(!tile.is_empty());
    assert_eq!(ogc_tile, tile, "one implementation, two addresses");
    let (_, dataset, _) = server.get(&format!("/ogc/tiles/WebMercatorQuad/16/{y}/{x}?collections=parcels,buildings"));
    let (_, two, _) = server.get(&format!("/tiles/parcels,buildings/16/{x}/{y}.mvt"));
    assert_eq!(dataset, two, "dataset tiles are /tiles layer lists");
    // GDAL's MVT driver reads the OGC tile (at its z/x/y, so it is georeferenced).
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("16/{x}"));
    std::fs::create_dir_all(&path).unwrap();
    std::fs::write(path.join(format!("{y}.pbf")), &ogc_tile).unwrap();
    let out = Command::new("ogrinfo")
        .args(["-ro", "-so", "-al", path.join(format!("{y}.pbf")).to_str().unwrap()])
        .output()
        .expect("ogrinfo runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("Layer name: parcels"),
        "{text}{}",
        stderr_of(&out)
    );
    let count: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("Feature Count: "))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(count > 10, "{text}");
    for (path, status) in [
        ("/ogc/collections/parcels/tiles/WorldCRS84Quad", 404),
        ("/ogc/collections/nope/tiles", 404),
        ("/ogc/collections/parcels/tiles/WebMercatorQuad/23/0/0", 400),
        ("/ogc/tiles/WebMercatorQuad/1/0/0?colour=red", 400),
    ] {
        let (got, body) = server.get_json(path);
        assert_eq!(got, status, "{path}: {body}");
        assert!(body["code"].is_string() && body["description"].is_string(), "{path}: {body}");
    }
}
