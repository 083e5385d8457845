//! 3D Tiles of a real `bando serve`: every GLB through the Khronos glTF validator, the tileset and
//! the placement of every vertex through an independent checker (PROJ, GEOS), scenario variants,
//! bad requests, height fallbacks, re-import invalidation and `bando export 3dtiles`.
mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;

/// Downloads tileset.json and every content file it names into `dir`; returns the tileset.
fn download_tileset(server: &Server, base: &str, dir: &Path) -> serde_json::Value {
    let (status, body, content_type) = server.get(&format!("{base}/tileset.json"));
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert!(content_type.starts_with("application/json"));
    std::fs::create_dir_all(dir.join("tiles")).unwrap();
    std::fs::write(dir.join("tileset.json"), &body).unwrap();
    let tileset: serde_json::Value = serde_json::from_slice(&body).unwrap();
    for uri in content_uris(&tileset["root"]) {
        let (status, glb, content_type) = server.get(&format!("{base}/{uri}"));
        assert_eq!(status, 200, "{uri}: {}", String::from_utf8_lossy(&glb));
        assert_eq!(content_type, "model/gltf-binary");
        std::fs::write(dir.join(&uri), glb).unwrap();
    }
    tileset
}

fn content_uris(tile: &serde_json::Value) -> Vec<String> {
    let mut out: Vec<String> = tile["content"]["uri"].as_str().map(String::from).into_iter().collect();
    for child in tile["children"].as_array().into_iter().flatten() {
        out.extend(content_uris(child));
    }
    out
}

fn glbs_in(dir: &Path) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(dir.join("tiles"))
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .collect();
    files.sort();
    files
}

/// Runs the Khronos validator over every GLB; returns how many it checked.
fn validate_glbs(dir: &Path) -> usize {
    let files = glbs_in(dir);
    let validator = repo_root().join("tests/js/validate-gltf.mjs");
    let mut args = vec![validator.to_str().unwrap()];
    args.extend(files.iter().map(String::as_str));
    // The script fails on any error or warning; the per-file lines say which.
    let out = run_checker("node", &args);
    for line in out.lines() {
        let report: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!((&report["errors"], &report["warnings"]), (&0.into(), &0.into()), "{line}");
    }
    assert_eq!(out.lines().count(), files.len(), "one report per file: {out}");
    files.len()
}

fn check_placement(dir: &Path, store: &Path, layer: &str) -> serde_json::Value {
    let out = run_checker(
        "python3",
        &["tests/py/check_3dtiles.py", dir.to_str().unwrap(), store.to_str().unwrap(), layer],
    );
    serde_json::from_str(out.trim()).unwrap()
}

/// The JSON chunk of a GLB.
fn glb_json(glb: &[u8]) -> serde_json::Value {
    let len = u32::from_le_bytes(glb[12..16].try_into().unwrap()) as usize;
    serde_json::from_slice(&glb[20..20 + len]).unwrap()
}

#[test]
fn demo_buildings_validate_and_every_vertex_lands_on_its_footprint() {
    let store = demo_store(5_000);
    let server = Server::start(&store, &["--max-per-tile", "250"]);
    let dir = tempfile::tempdir().unwrap();
    let tileset = download_tileset(&server, "/3d/buildings", dir.path());
    assert_eq!(tileset["asset"]["version"], "1.1");
    assert_eq!(tileset["root"]["refine"], "ADD");
    let tiles = validate_glbs(dir.path());
    assert!(tiles > 4, "expected a real quadtree, got {tiles} tiles");
    let report = check_placement(dir.path(), &store, "buildings");
    assert_eq!(report["failures"], serde_json::json!([]), "{report}");
    assert!(
        report["vertices_of_buildings_with_holes"].as_u64().unwrap() > 0,
        "no courtyard was checked: {report}"
    );
    assert!(
        report["levels"].as_u64().unwrap() >= 3,
        "content at every level of a deep tree: {report}"
    );

    // The attributes a click shows: schema and property table with every layer field.
    let (_, glb, _) = server.get(&format!("/3d/buildings/{}", content_uris(&tileset["root"])[0]));
    let gltf = glb_json(&glb);
    let metadata = &gltf["extensions"]["EXT_structural_metadata"];
    let props = metadata["schema"]["classes"]["building"]["properties"].as_object().unwrap();
    for field in ["fid", "floors", "height_m", "base_height_m", "temporary_house", "use"] {
        assert!(props.contains_key(field), "{field} missing from {props:?}");
    }
    let primitive = &gltf["meshes"][0]["primitives"][0];
    assert_eq!(primitive["extensions"]["EXT_mesh_features"]["featureIds"][0]["propertyTable"], 0);
    assert!(primitive["attributes"]["_FEATURE_ID_0"].is_number());

    // Exported files are the bytes the server sends (the flag under its earlier name too).
    let out = tempfile::tempdir().unwrap();
    export_3dtiles(&store, "buildings", out.path(), &["--max-buildings-per-tile", "250"]).expect("export succeeds");
    assert_eq!(
        std::fs::read(out.path().join("tileset.json")).unwrap(),
        std::fs::read(dir.path().join("tileset.json")).unwrap()
    );
    for file in glbs_in(dir.path()) {
        let name = Path::new(&file).file_name().unwrap();
        assert_eq!(
            std::fs::read(out.path().join("tiles").join(name)).unwrap(),
            std::fs::read(&file).unwrap(),
            "{file}"
        );
    }
}

/// Raw HTTP/1.1 GET (ureq would decompress behind our back): (head, body).
fn raw_get(base: &str, path: &str, accept_encoding: &str) -> (String, Vec<u8>) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(base.trim_start_matches("http://")).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: x\r\nAccept-Encoding: {accept_encoding}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    (
        String::from_utf8_lossy(&response[..split]).to_lowercase(),
        response[split + 4..].to_vec(),
    )
}

#[test]
fn tiles_go_out_gzipped_to_clients_that_accept_it() {
    let server = Server::start(&demo_store(2_000), &[]);
    let (_, tileset) = server.get_json("/3d/buildings/tileset.json");
    let tile = format!("/3d/buildings/{}", content_uris(&tileset["root"])[0]);
    for _ in 0..2 {
        // the second round is served from the cache
        let (head, gz) = raw_get(&server.base, &tile, "gzip, deflate");
        assert!(
            head.contains("content-encoding: gzip") && head.contains("vary: accept-encoding"),
            "{head}"
        );
        let (head, plain) = raw_get(&server.base, &tile, "identity");
        assert!(!head.contains("content-encoding"), "{head}");
        assert_eq!(&plain[..4], b"glTF");
        let mut unzipped = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut unzipped).unwrap();
        assert_eq!(unzipped, plain);
        assert!(gz.len() * 2 < plain.len(), "gzip {} vs {}", gz.len(), plain.len());
    }
}

/// `bando export 3dtiles --layer LAYER OUT --store STORE ARGS`: its output, or its stderr when it fails.
fn export_3dtiles(store: &Path, layer: &str, out: &Path, args: &[&str]) -> Result<std::process::Output, String> {
    let mut all = vec![
        "export",
        "3dtiles",
        "--layer",
        layer,
        out.to_str().unwrap(),
        "--store",
        store.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    let output = bando(&all);
    if output.status.success() {
        Ok(output)
    } else {
        Err(stderr_of(&output))
    }
}

#[test]
fn export_gzip_writes_gzip_files_under_plain_names() {
    let store = demo_store(2_000);
    let out = tempfile::tempdir().unwrap();
    let exported = export_3dtiles(&store, "buildings", out.path(), &["--gzip"]).expect("export succeeds");
    let summary = String::from_utf8_lossy(&exported.stdout);
    assert!(summary.contains("buildings"), "{summary}");
    let raw = std::fs::read(out.path().join("tileset.json")).unwrap();
    assert_eq!(&raw[..2], &[0x1f, 0x8b], "tileset.json is not gzip");
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&raw[..]), &mut text).unwrap();
    let tileset: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(tileset["asset"]["version"], "1.1");
    assert!(
        export_3dtiles(&store, "nope", out.path(), &[]).is_err(),
        "an unknown layer is refused"
    );
}

#[test]
fn bad_requests_get_json_4xx_never_500() {
    let store = demo_store(2_000);
    let tilesets = tempfile::tempdir().unwrap();
    std::fs::write(
        tilesets.path().join("flat.toml"),
        "id = \"flat\"\ntitle = \"No 3D\"\n[[layers]]\nlayer = \"parcels\"\n",
    )
    .unwrap();
    std::fs::write(
        tilesets.path().join("none.toml"),
        "id = \"none\"\ntitle = \"Nothing\"\n[[layers]]\nlayer = \"buildings\"\n[three_d]\nlayer = \"buildings\"\nwhere = [{ field = \"use\", op = \"eq\", value = \"castle\" }]\n",
    )
    .unwrap();
    let server = Server::start(&store, &["--tilesets", tilesets.path().to_str().unwrap()]);
    // A filter that matches nothing is an empty tileset, not an error.
    let (status, empty) = server.get_json("/scenarios/none/3d/tileset.json");
    assert_eq!(status, 200, "{empty}");
    assert_eq!(empty["extras"]["buildings"], 0);
    assert!(empty["root"]["children"].is_null() && empty["root"]["content"].is_null(), "{empty}");
    let cases = [
        ("/3d/no_such_layer/tileset.json", 404),
        ("/3d/schools/tileset.json", 400), // points, not footprints
        ("/3d/parcels/tileset.json", 400), // polygons without heights
        ("/3d/buildings/tiles/r9.glb", 400),
        ("/3d/buildings/tiles/x.glb", 400),
        ("/3d/buildings/tiles/r0.png", 400),
        ("/3d/buildings/tiles/r00000000000000000000000000000.glb", 400),
        ("/3d/buildings/tiles/r3333333333.glb", 404),
        ("/scenarios/nope/3d/tileset.json", 404),
        ("/scenarios/flat/3d/tileset.json", 404),
        ("/scenarios/flat/3d/tiles/r0.glb", 404),
    ];
    server.assert_json_errors(&cases);
}

#[test]
fn a_scenario_filters_and_colours_its_buildings() {
    let store = demo_store(2_000);
    let tilesets = tempfile::tempdir().unwrap();
    std::fs::write(
        tilesets.path().join("welfare.toml"),
        r##"
id = "welfare"
title = "Nhà tạm"
[[layers]]
layer = "buildings"
[three_d]
layer = "buildings"
where = [{ field = "use", op = "eq", value = "residential" }]
colors = [{ where = [{ field = "temporary_house", op = "eq", value = true }], color = "#ff0000" }]
default_color = "#cccccc"
"##,
    )
    .unwrap();
    let server = Server::start(&store, &["--tilesets", tilesets.path().to_str().unwrap()]);
    let dir = tempfile::tempdir().unwrap();
    let tileset = download_tileset(&server, "/scenarios/welfare/3d", dir.path());
    validate_glbs(dir.path());
    let (_, plain) = server.get_json("/3d/buildings/tileset.json");
    let (all, residential) = (
        plain["extras"]["buildings"].as_u64().unwrap(),
        tileset["extras"]["buildings"].as_u64().unwrap(),
    );
    assert!(residential > 0 && residential < all, "filter kept {residential} of {all}");
    let mut red = 0;
    for file in glbs_in(dir.path()) {
        let gltf = glb_json(&std::fs::read(&file).unwrap());
        for material in gltf["materials"].as_array().unwrap() {
            if material["pbrMetallicRoughness"]["baseColorFactor"] == serde_json::json!([1.0, 0.0, 0.0, 1.0]) {
                red += 1;
            }
        }
        let uses = gltf["extensions"]["EXT_structural_metadata"]["propertyTables"][0]["properties"]["use"].clone();
        assert!(uses.is_object());
    }
    assert!(red > 0, "no temporary house was coloured red");
}

/// A GeoJSON building layer with every height trap: missing, negative, absurd, floors only, a base
/// above the top, and a sliver footprint.
fn trap_buildings(extra_height: f64) -> String {
    let square = |i: usize| {
        let (x, y) = (107.58 + i as f64 * 0.0003, 16.46);
        format!(
            "[[[{x},{y}],[{},{y}],[{},{}],[{x},{}],[{x},{y}]]]",
            x + 0.0001,
            x + 0.0001,
            y + 0.0001,
            y + 0.0001
        )
    };
    let props = [
        format!(r#"{{"height_m": {}, "floors": 2, "base_height_m": 0}}"#, 9.0 + extra_height),
        r#"{"height_m": null, "floors": 4, "base_height_m": null}"#.to_string(),
        r#"{"height_m": -3, "floors": null, "base_height_m": null}"#.to_string(),
        r#"{"height_m": 5000, "floors": null, "base_height_m": null}"#.to_string(),
        r#"{"height_m": 10, "floors": 3, "base_height_m": 12}"#.to_string(),
    ];
    let mut features: Vec<String> = props
        .iter()
        .enumerate()
        .map(|(i, p)| {
            format!(
                r#"{{"type":"Feature","properties":{p},"geometry":{{"type":"Polygon","coordinates":{}}}}}"#,
                square(i)
            )
        })
        .collect();
    features.push(r#"{"type":"Feature","properties":{"height_m": 6, "floors": 2, "base_height_m": 0},"geometry":{"type":"Polygon","coordinates":[[[107.59,16.47],[107.5900003,16.47],[107.59,16.4700003],[107.59,16.47]]]}}"#.to_string());
    format!(r#"{{"type":"FeatureCollection","features":[{}]}}"#, features.join(","))
}

fn import(store: &Path, file: &Path, replace: bool) {
    let mut args = vec![
        "import",
        file.to_str().unwrap(),
        "--layer",
        "houses",
        "--kind",
        "building",
        "--store",
        store.to_str().unwrap(),
    ];
    if replace {
        args.push("--replace");
    }
    let out = bando(&args);
    assert!(out.status.success(), "{}", stderr_of(&out));
}

#[test]
fn height_fallbacks_are_counted_and_a_reimport_invalidates_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("houses.gpkg");
    let source = dir.path().join("houses.geojson");
    std::fs::write(&source, trap_buildings(0.0)).unwrap();
    import(&store, &source, false);
    let server = Server::start(&store, &["--watch-seconds", "0.1"]);
    let tiles = dir.path().join("tiles1");
    let tileset = download_tileset(&server, "/3d/houses", &tiles);
    assert_eq!(tileset["extras"]["buildings"], 5, "{tileset}");
    assert_eq!(tileset["extras"]["defaulted_height"], 2, "{tileset}");
    assert_eq!(tileset["extras"]["skipped_degenerate"], 1, "{tileset}");
    validate_glbs(&tiles);
    let report = check_placement(&tiles, &store, "houses");
    assert_eq!(report["failures"], serde_json::json!([]), "{report}");
    let top = tileset["root"]["boundingVolume"]["region"][5].as_f64().unwrap();
    assert!((top - 13.2).abs() < 1e-9, "highest roof is 4 floors × 3.3 m, got {top}");

    // The storey height is a setting: the floors-only house (4 floors) follows it.
    let tall_storeys = Server::start(&store, &["--storey-height", "4.0"]);
    let (_, t) = tall_storeys.get_json("/3d/houses/tileset.json");
    assert_eq!(t["root"]["boundingVolume"]["region"][5].as_f64(), Some(16.0), "{t}");
    drop(tall_storeys);

    // Re-import with a taller first house: the cached tileset must not survive it.
    std::fs::write(&source, trap_buildings(20.0)).unwrap();
    import(&store, &source, true);
    let started = Instant::now();
    loop {
        let (_, t) = server.get_json("/3d/houses/tileset.json");
        if t["root"]["boundingVolume"]["region"][5].as_f64() == Some(29.0) {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "re-import not picked up: {t}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A building layer whose attribute columns are every awkward case: all empty text, all null, one
/// value repeated, long Vietnamese text, a value in one building only, every numeric type.
fn awkward_columns() -> String {
    let long_text = "Nhà ở riêng lẻ, mái ngói, tường gạch; chủ hộ đã đăng ký quyền sử dụng đất ở phường Thuận Hoá. ".repeat(12);
    assert!(long_text.len() > 1024);
    let features: Vec<String> = (0..60)
        .map(|i| {
            let (x, y) = (107.58 + (i % 10) as f64 * 0.0004, 16.46 + (i / 10) as f64 * 0.0004);
            let (e, n) = (x + 0.0001, y + 0.0001);
            let props = serde_json::json!({
                "height_m": 4.0 + i as f64,
                "all_empty": "",
                "all_null": null,
                "repeated": "Nhà ở",
                "long_text": format!("{i}: {long_text}"),
                "only_one": if i == 0 { serde_json::json!("Chùa Thiên Mụ") } else { serde_json::Value::Null },
                "small_int": i % 3,
                "big_int": 9_007_199_254_740_993i64 + i as i64,
                "real": i as f64 * 0.25 - 3.0,
                "flag": i % 2 == 0,
            });
            format!(r#"{{"type":"Feature","properties":{props},"geometry":{{"type":"Polygon","coordinates":[[[{x},{y}],[{e},{y}],[{e},{n}],[{x},{n}],[{x},{y}]]]}}}}"#)
        })
        .collect();
    format!(r#"{{"type":"FeatureCollection","features":[{}]}}"#, features.join(","))
}

/// (binary chunk, JSON) of a GLB.
fn glb_parts(glb: &[u8]) -> (serde_json::Value, &[u8]) {
    let len = u32::from_le_bytes(glb[12..16].try_into().unwrap()) as usize;
    (glb_json(glb), &glb[20 + len + 8..])
}

/// The bytes of property `name` in the tile's property table, None when the tile leaves it out.
fn property_bytes<'a>(gltf: &serde_json::Value, bin: &'a [u8], name: &str) -> Option<&'a [u8]> {
    let table = &gltf["extensions"]["EXT_structural_metadata"]["propertyTables"][0];
    let view = &gltf["bufferViews"][table["properties"][name]["values"].as_u64()? as usize];
    let start = view["byteOffset"].as_u64().unwrap() as usize;
    Some(&bin[start..start + view["byteLength"].as_u64().unwrap() as usize])
}

#[test]
fn every_glb_is_clean_whatever_the_attribute_columns_hold() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("awkward.gpkg");
    let source = dir.path().join("houses.geojson");
    std::fs::write(&source, awkward_columns()).unwrap();
    import(&store, &source, false);
    let server = Server::start(&store, &["--max-per-tile", "8"]);
    let served = dir.path().join("served");
    download_tileset(&server, "/3d/houses", &served);
    let tiles = validate_glbs(&served);
    assert!(tiles > 4, "expected several tiles, got {tiles}");
    let exported = dir.path().join("exported");
    export_3dtiles(&store, "houses", &exported, &["--max-per-tile", "8"]).expect("export succeeds");
    assert_eq!(validate_glbs(&exported), tiles);
    for dir in [&served, &exported] {
        // Placement and every property table against EXT_structural_metadata's rules.
        let report = check_placement(dir, &store, "houses");
        assert_eq!(report["failures"], serde_json::json!([]), "{report}");
        assert_eq!(report["buildings"], 60, "{report}");
    }

    let mut big_ints = Vec::new();
    let mut tiles_with_only_one = 0;
    for file in glbs_in(&served) {
        let glb = std::fs::read(&file).unwrap();
        let (gltf, bin) = glb_parts(&glb);
        let class = &gltf["extensions"]["EXT_structural_metadata"]["schema"]["classes"]["building"]["properties"];
        for name in [
            "all_empty",
            "all_null",
            "repeated",
            "long_text",
            "only_one",
            "small_int",
            "big_int",
            "real",
            "flag",
        ] {
            assert!(class[name].is_object(), "{file}: the schema lost {name}: {class}");
        }
        assert_eq!(class["big_int"]["componentType"], "INT64");
        for empty in ["all_empty", "all_null"] {
            assert!(property_bytes(&gltf, bin, empty).is_none(), "{file}: {empty} has a buffer view");
        }
        tiles_with_only_one += property_bytes(&gltf, bin, "only_one").is_some() as usize;
        let repeated = property_bytes(&gltf, bin, "repeated").unwrap();
        assert!(std::str::from_utf8(repeated).unwrap().starts_with("Nhà ở"));
        let big = property_bytes(&gltf, bin, "big_int").unwrap();
        big_ints.extend(big.chunks(8).map(|c| i64::from_le_bytes(c.try_into().unwrap())));
    }
    assert_eq!(tiles_with_only_one, 1, "only the tile of the one building has that column");
    big_ints.sort_unstable();
    let expected: Vec<i64> = (0..60).map(|i| 9_007_199_254_740_993 + i).collect();
    assert_eq!(big_ints, expected, "64-bit integers go through exactly");
}

#[test]
fn exported_osm_helsinki_buildings_validate_with_content_at_every_level() {
    let Some(store) = helsinki_store() else { return };
    let out = tempfile::tempdir().unwrap();
    export_3dtiles(&store, "helsinki", out.path(), &["--max-per-tile", "60"]).expect("export succeeds");
    let tiles = validate_glbs(out.path());
    let report = check_placement(out.path(), &store, "helsinki");
    assert_eq!(report["failures"], serde_json::json!([]), "{report}");
    assert_eq!(report["tiles"], tiles as u64, "{report}");
    assert!(report["levels"].as_u64().unwrap() >= 3, "{report}");
    assert!(report["buildings"].as_u64().unwrap() > 1000, "{report}");
}
