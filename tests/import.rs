//! `bando import` end to end: formats, CRS handling (VN-2000), field profiles, and every bad
//! input the foundation issue lists, each checked for a clear message and an unchanged store.
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

fn ogr2ogr(args: &[&str]) {
    let out = Command::new("ogr2ogr")
        .args(args)
        .output()
        .expect("ogr2ogr (gdal-bin) is installed by .ci/setup");
    assert!(out.status.success(), "ogr2ogr {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// Three parcels in Huế as GeoJSON, with Vietnamese field names and a decomposed (NFD) name.
fn parcels_geojson(dir: &Path) -> PathBuf {
    let path = dir.join("parcels.geojson");
    let feature = |i: usize, lon: f64, lat: f64, loai: &str, ten: &str| {
        format!(
            r#"{{"type":"Feature","properties":{{"SoTo":{},"SoThua":{},"LoaiDat":"{}","DienTich":"{}","ChuSuDung":"{}"}},"geometry":{{"type":"Polygon","coordinates":[[[{lon},{lat}],[{},{lat}],[{},{}],[{lon},{}],[{lon},{lat}]]]}}}}"#,
            12,
            i,
            loai,
            "312,5",
            ten,
            lon + 0.0002,
            lon + 0.0002,
            lat + 0.0002,
            lat + 0.0002
        )
    };
    let body = format!(
        r#"{{"type":"FeatureCollection","features":[{},{},{}]}}"#,
        feature(1, 107.590, 16.460, "ODT", "Nguyễn Văn A"),
        feature(2, 107.591, 16.461, "LUC", "Tr\u{1b0}\u{300}ng Thi\u{323} B"),
        feature(3, 107.592, 16.462, "CLN", "Lê C")
    );
    std::fs::write(&path, body).unwrap();
    path
}

/// A temp dir with a store holding the three-parcel layer `parcels`: (dir, store, source file).
fn store_with_parcels() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.gpkg");
    let good = parcels_geojson(dir.path());
    let (ok, out) = import_to(&store, &good, "parcels", &[]);
    assert!(ok, "{out}");
    (dir, store, good)
}

fn layer_count(store: &Path) -> usize {
    if !store.exists() {
        return 0;
    }
    let out = Command::new("sqlite3")
        .arg(store)
        .arg("SELECT count(*) FROM bando_layers")
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(0)
}

/// `bando import FILE --layer LAYER EXTRA... --store STORE`.
fn import_to(store: &Path, file: &Path, layer: &str, extra: &[&str]) -> (bool, String) {
    let mut args = vec![file.to_str().unwrap(), "--layer", layer];
    args.extend_from_slice(extra);
    args.extend(["--store", store.to_str().unwrap()]);
    import(&args)
}

fn import(args: &[&str]) -> (bool, String) {
    let out = bando(&[&["import"], args].concat());
    (
        out.status.success(),
        format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr_of(&out)),
    )
}

fn sql(store: &Path, query: &str) -> String {
    let out = Command::new("sqlite3").arg(store).arg(query).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn geojson_import_maps_fields_normalises_text_and_opens_in_gdal() {
    let dir = tempfile::tempdir().unwrap();
    let src = parcels_geojson(dir.path());
    let store = dir.path().join("s.gpkg");
    let (ok, out) = import(&[
        src.to_str().unwrap(),
        "--layer",
        "parcels",
        "--store",
        store.to_str().unwrap(),
        "--map",
        "ChuSuDung=owner",
    ]);
    assert!(ok, "{out}");
    assert!(out.contains("written 3"), "{out}");
    // kind guessed from the field names; canonical names from the cadastral profile
    assert_eq!(sql(&store, "SELECT kind FROM bando_layers"), "cadastral");
    assert_eq!(
        sql(&store, "SELECT parcel_no, land_use, area_m2, owner FROM parcels WHERE fid = 2"),
        "2|LUC|312.5|Trừng Thị B"
    );
    // NFC: the decomposed name is stored composed
    assert_eq!(sql(&store, "SELECT count(*) FROM parcels WHERE owner = 'Trừng Thị B'"), "1");
    let info = Command::new("ogrinfo")
        .args(["-so", store.to_str().unwrap(), "parcels"])
        .output()
        .unwrap();
    let info = String::from_utf8_lossy(&info.stdout);
    assert!(info.contains("Feature Count: 3") && info.contains("Polygon"), "{info}");
}

#[test]
fn vn2000_shapefile_lands_within_centimetres() {
    let dir = tempfile::tempdir().unwrap();
    // The official test vector: WGS84 (16.4637 N, 107.5909 E) = VN-2000 / TM-3 107-00 E 562897.886 N 1820978.931.
    let csv = dir.path().join("pt.csv");
    std::fs::write(&csv, "x,y,ten\n562897.886,1820978.931,Huế\n").unwrap();
    let shp = dir.path().join("pt.shp");
    ogr2ogr(&[
        "-f",
        "ESRI Shapefile",
        shp.to_str().unwrap(),
        csv.to_str().unwrap(),
        "-oo",
        "X_POSSIBLE_NAMES=x",
        "-oo",
        "Y_POSSIBLE_NAMES=y",
        "-a_srs",
        "EPSG:9214",
    ]);
    let store = dir.path().join("s.gpkg");
    let (ok, out) = import_to(&store, &shp, "marker", &["--kind", "poi"]);
    assert!(ok, "{out}");
    let xy = sql(&store, "SELECT min_x || ',' || min_y FROM bando_layers");
    let (lon, lat) = xy
        .split_once(',')
        .map(|(a, b)| (a.parse::<f64>().unwrap(), b.parse::<f64>().unwrap()))
        .unwrap();
    assert!(
        ((lon - 107.5909) * 106_700.0).abs() < 0.05 && ((lat - 16.4637) * 110_700.0).abs() < 0.05,
        "landed at {lon},{lat}"
    );

    // The same file with the CRS declared by shorthand on a CSV (no CRS of its own).
    let (ok, out) = import_to(&store, &csv, "marker2", &["--kind", "poi", "--src-crs", "VN2000:Thua_Thien_Hue"]);
    assert!(ok, "{out}");
}

#[test]
fn zipped_shapefile_and_csv_with_lonlat_import() {
    let dir = tempfile::tempdir().unwrap();
    let src = parcels_geojson(dir.path());
    let shp_dir = dir.path().join("shp");
    std::fs::create_dir(&shp_dir).unwrap();
    ogr2ogr(&[
        "-f",
        "ESRI Shapefile",
        shp_dir.join("thua.shp").to_str().unwrap(),
        src.to_str().unwrap(),
    ]);
    let zip = dir.path().join("thua.zip");
    let status = Command::new("python3")
        .args(["-c", "import sys,zipfile,os; z=zipfile.ZipFile(sys.argv[1],'w'); [z.write(os.path.join(sys.argv[2],f),f) for f in os.listdir(sys.argv[2])]", zip.to_str().unwrap(), shp_dir.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success());
    let store = dir.path().join("s.gpkg");
    let (ok, out) = import_to(&store, &zip, "thua", &["--kind", "cadastral"]);
    assert!(ok, "{out}");
    assert_eq!(sql(&store, "SELECT count(*) FROM thua"), "3");

    let csv = dir.path().join("lights.csv");
    std::fs::write(&csv, "lon,lat,TrangThai\n107.59,16.46,working\n107.60,16.47,broken\n").unwrap();
    let (ok, out) = import_to(&store, &csv, "lights", &["--kind", "infrastructure", "--src-crs", "EPSG:4326"]);
    assert!(ok, "{out}");
    assert_eq!(sql(&store, "SELECT status FROM lights ORDER BY fid"), "working\nbroken");
}

/// Runs a failing import and checks the message and that the store did not change.
fn refused(store: &Path, args: &[&str], expect: &[&str]) {
    let before_layers = layer_count(store);
    let before = if store.exists() {
        sql(store, "SELECT group_concat(name || ':' || import_id) FROM bando_layers")
    } else {
        String::new()
    };
    let mut full = args.to_vec();
    full.extend(["--store", store.to_str().unwrap()]);
    let (ok, out) = import(&full);
    assert!(!ok, "import {args:?} should fail but said: {out}");
    for e in expect {
        assert!(out.contains(e), "message for {args:?} should mention '{e}': {out}");
    }
    assert!(!out.contains("panicked"), "{out}");
    assert_eq!(layer_count(store), before_layers, "layer count changed after {args:?}");
    if store.exists() && before_layers > 0 {
        assert_eq!(
            sql(store, "SELECT group_concat(name || ':' || import_id) FROM bando_layers"),
            before
        );
    }
}

#[test]
fn bad_input_is_refused_clearly_and_leaves_the_store_unchanged() {
    let (dir, store, good) = store_with_parcels();
    let d = dir.path();

    // missing file, unsupported format
    refused(&store, &[d.join("nope.shp").to_str().unwrap(), "--layer", "x"], &["does not exist"]);
    let docx = d.join("report.docx");
    std::fs::write(&docx, b"PK\x03\x04 not a map").unwrap();
    refused(
        &store,
        &[docx.to_str().unwrap(), "--layer", "x"],
        &["not a format bando imports", "ogr2ogr"],
    );

    // invalid JSON
    let broken = d.join("broken.geojson");
    std::fs::write(
        &broken,
        r#"{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Point","coordinates":[107.5,"#,
    )
    .unwrap();
    refused(&store, &[broken.to_str().unwrap(), "--layer", "x"], &["cannot read", "GeoJSON"]);

    // truncated .shp
    let shp_dir = d.join("trunc");
    std::fs::create_dir(&shp_dir).unwrap();
    let shp = shp_dir.join("t.shp");
    ogr2ogr(&["-f", "ESRI Shapefile", shp.to_str().unwrap(), good.to_str().unwrap()]);
    let bytes = std::fs::read(&shp).unwrap();
    std::fs::write(&shp, &bytes[..bytes.len() - 60]).unwrap();
    refused(
        &store,
        &[shp.to_str().unwrap(), "--layer", "x", "--kind", "cadastral"],
        &["truncated"],
    );

    // no CRS in the file and no --src-crs
    let csv = d.join("nocrs.csv");
    std::fs::write(&csv, "x,y,name\n562897.886,1820978.931,a\n").unwrap();
    refused(&store, &[csv.to_str().unwrap(), "--layer", "x"], &["--src-crs", "VN2000"]);

    // VN-2000 metres declared as degrees, and degrees declared as VN-2000 metres
    refused(
        &store,
        &[csv.to_str().unwrap(), "--layer", "x", "--src-crs", "EPSG:4326"],
        &["CRS is probably wrong"],
    );
    let lonlat = d.join("lonlat.csv");
    std::fs::write(&lonlat, "lon,lat,name\n107.59,16.46,a\n").unwrap();
    refused(
        &store,
        &[lonlat.to_str().unwrap(), "--layer", "x", "--src-crs", "VN2000:TM3:107"],
        &["CRS is probably wrong", "lands at"],
    );

    // self-intersecting polygon (a bow tie): refused, then accepted with --repair
    let bowtie = d.join("bowtie.geojson");
    std::fs::write(&bowtie, r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"LoaiDat":"ODT"},"geometry":{"type":"Polygon","coordinates":[[[107.59,16.46],[107.591,16.461],[107.591,16.46],[107.59,16.461],[107.59,16.46]]]}}]}"#).unwrap();
    refused(
        &store,
        &[bowtie.to_str().unwrap(), "--layer", "bowtie"],
        &["invalid geometries", "feature", "--repair"],
    );
    let (ok, out) = import_to(&store, &bowtie, "bowtie", &["--repair"]);
    assert!(ok && out.contains("repaired 1"), "{out}");

    // an existing layer name; --replace swaps it
    refused(
        &store,
        &[good.to_str().unwrap(), "--layer", "parcels"],
        &["already exists", "--replace"],
    );
    let (ok, out) = import_to(&store, &good, "parcels", &["--replace"]);
    assert!(ok, "{out}");
    assert_eq!(sql(&store, "SELECT count(*) FROM bando_imports WHERE layer = 'parcels'"), "2");

    // unknown kind, unknown profile, bad layer name
    refused(
        &store,
        &[good.to_str().unwrap(), "--layer", "x", "--kind", "castle"],
        &["unknown layer kind", "cadastral"],
    );
    refused(
        &store,
        &[good.to_str().unwrap(), "--layer", "x", "--profile", "importers/nope.toml"],
        &["importers/"],
    );
    refused(&store, &[good.to_str().unwrap(), "--layer", "Bad-Name"], &["invalid layer name"]);
}

#[test]
fn a_cp1258_dbf_without_cpg_needs_encoding() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let src = d.join("names.geojson");
    std::fs::write(&src, r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"ten":"Phường Vĩnh Ninh"},"geometry":{"type":"Point","coordinates":[107.59,16.46]}}]}"#).unwrap();
    let shp = d.join("names.shp");
    ogr2ogr(&[
        "-f",
        "ESRI Shapefile",
        shp.to_str().unwrap(),
        src.to_str().unwrap(),
        "-lco",
        "ENCODING=CP1258",
    ]);
    let _ = std::fs::remove_file(d.join("names.cpg"));
    // An old DBF: no code page mark either (byte 29, the language driver id).
    let dbf = d.join("names.dbf");
    let mut bytes = std::fs::read(&dbf).unwrap();
    bytes[29] = 0;
    std::fs::write(&dbf, bytes).unwrap();
    let store = d.join("s.gpkg");
    refused(
        &store,
        &[shp.to_str().unwrap(), "--layer", "names", "--kind", "poi"],
        &["--encoding", "CP1258"],
    );
    let (ok, out) = import_to(&store, &shp, "names", &["--kind", "poi", "--encoding", "CP1258"]);
    assert!(ok, "{out}");
    assert_eq!(sql(&store, "SELECT name FROM names"), "Phường Vĩnh Ninh");
}

#[test]
fn corrupt_and_read_only_stores_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let good = parcels_geojson(d);
    let corrupt = d.join("corrupt.gpkg");
    std::fs::write(&corrupt, vec![0x42u8; 8192]).unwrap();
    let (ok, out) = import_to(&corrupt, &good, "p", &[]);
    assert!(!ok && out.contains("not a GeoPackage bando can use"), "{out}");
    assert_eq!(
        std::fs::read(&corrupt).unwrap(),
        vec![0x42u8; 8192],
        "the corrupt file must be left alone"
    );

    let ro = d.join("ro.gpkg");
    let (ok, out) = import_to(&ro, &good, "p", &[]);
    assert!(ok, "{out}");
    let mut perms = std::fs::metadata(&ro).unwrap().permissions();
    perms.set_readonly(true);
    std::fs::set_permissions(&ro, perms).unwrap();
    let (ok, out) = import_to(&ro, &good, "q", &[]);
    assert!(!ok && out.contains("read-only"), "{out}");
    assert_eq!(sql(&ro, "SELECT count(*) FROM bando_layers"), "1");
}

#[test]
fn a_killed_import_leaves_the_previous_state() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A big source: the demo's parcels exported as FlatGeobuf.
    let demo = demo_store(200_000);
    let fgb = d.join("big.fgb");
    ogr2ogr(&["-f", "FlatGeobuf", fgb.to_str().unwrap(), demo.to_str().unwrap(), "parcels"]);
    let good = parcels_geojson(d);
    for backend in Backend::ALL {
        let store = backend.fresh_store(d);
        let (ok, out) = import_to(Path::new(&store), &good, "parcels", &[]);
        assert!(ok, "{out}");
        let mut child = Command::new(bando_bin())
            .args([
                "import",
                fgb.to_str().unwrap(),
                "--layer",
                "parcels",
                "--replace",
                "--store",
                &store,
            ])
            .spawn()
            .unwrap();
        // Kill it while it writes (well before 200,000 features are in).
        std::thread::sleep(std::time::Duration::from_millis(400));
        child.kill().unwrap();
        let status = child.wait().unwrap();
        assert!(
            !status.success(),
            "the import finished before it could be killed; use a bigger source"
        );
        if backend == Backend::Gpkg {
            assert_eq!(sql(Path::new(&store), "PRAGMA integrity_check"), "ok");
        } else {
            // The server notices the dead client and rolls its transaction back.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while pg_sql(&store, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY%'") != "0" {
                assert!(std::time::Instant::now() < deadline, "the killed COPY still runs");
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            assert_eq!(
                pg_sql(&store, "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'bando_new%'"),
                "0"
            );
        }
        let server = Server::start(&store, &[]);
        assert_eq!(server.get_json("/layers/parcels").1["feature_count"], 3, "{backend:?}");
        assert_eq!(ogr_feature_count(&store, "parcels"), Some(3), "{backend:?}");
    }
}

#[test]
fn a_running_server_sees_a_new_import_without_restart() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let good = parcels_geojson(d);
    let csv = d.join("lights.csv");
    std::fs::write(&csv, "lon,lat,status\n107.59,16.46,working\n").unwrap();
    for backend in Backend::ALL {
        let store = backend.fresh_store(d);
        let store = Path::new(&store);
        let (ok, out) = import_to(store, &good, "parcels", &[]);
        assert!(ok, "{out}");
        let server = Server::start(store, &["--watch-seconds", "0.2"]);
        assert_eq!(server.get_json("/layers/lights").0, 404);
        let (ok, out) = import_to(store, &csv, "lights", &["--kind", "infrastructure", "--src-crs", "EPSG:4326"]);
        assert!(ok, "{out}");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let (status, body) = server.get_json("/layers/lights");
            if status == 200 {
                assert_eq!(body["feature_count"], 1);
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{backend:?}: the server did not pick up the import"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        assert_eq!(server.get_json("/layers/parcels").1["feature_count"], 3);
    }
}

#[test]
fn every_listed_format_imports() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let src = parcels_geojson(d);
    let store = d.join("s.gpkg");
    for (driver, ext) in [
        ("GPKG", "gpkg"),
        ("FlatGeobuf", "fgb"),
        ("KML", "kml"),
        ("GML", "gml"),
        ("GeoJSONSeq", "geojsons"),
    ] {
        let file = d.join(format!("parcels.{ext}"));
        ogr2ogr(&["-f", driver, file.to_str().unwrap(), src.to_str().unwrap()]);
        let layer = format!("p_{ext}");
        let (ok, out) = import_to(&store, &file, &layer, &["--kind", "cadastral", "--src-crs", "EPSG:4326"]);
        assert!(ok, "{driver}: {out}");
        assert_eq!(sql(&store, &format!("SELECT count(*) FROM {layer}")), "3", "{driver}");
    }
    // DXF carries no CRS: survey drawings in VN-2000 TM-3 metres, declared by province.
    let vn = d.join("vn.geojson");
    std::fs::write(&vn, r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},"geometry":{"type":"LineString","coordinates":[[562897.886,1820978.931],[562997.886,1821078.931]]}}]}"#).unwrap();
    let dxf = d.join("survey.dxf");
    ogr2ogr(&["-f", "DXF", dxf.to_str().unwrap(), vn.to_str().unwrap()]);
    let (ok, out) = import_to(&store, &dxf, "survey", &["--kind", "infrastructure", "--src-crs", "VN2000:Hue"]);
    assert!(ok, "DXF: {out}");
    let west: f64 = sql(&store, "SELECT min_x FROM bando_layers WHERE name = 'survey'").parse().unwrap();
    assert!((west - 107.5909).abs() < 1e-6, "DXF landed at {west}");
}

/// `ogr2ogr ARGS... OUT SRC` with one arc step for every curve, as bando reads them.
fn ogr2ogr_to(out: &Path, src: &Path, args: &[&str]) {
    let mut all = vec!["--config", "OGR_ARC_STEPSIZE", "1"];
    all.extend_from_slice(args);
    all.extend([out.to_str().unwrap(), src.to_str().unwrap()]);
    ogr2ogr(&all);
}

/// Imports `src` as `layer` and checks what bando stored against GDAL's own 2D reading of the
/// same file (`ogr2ogr -dim XY -t_srs EPSG:4326 REFERENCE_ARGS`), feature by feature, with
/// tests/py/compare_import.py (CHECKS are its flags).
fn imports_as_gdal_reads_it(
    store: &Path,
    src: &Path,
    layer: &str,
    import_args: &[&str],
    reference_args: &[&str],
    checks: &[&str],
) -> serde_json::Value {
    let (ok, out) = import_to(store, src, layer, import_args);
    assert!(ok, "{}: {out}", src.display());
    let dir = store.parent().unwrap();
    let reference = dir.join(format!("{layer}.reference.geojson"));
    ogr2ogr_to(
        &reference,
        src,
        &[&["-f", "GeoJSON", "-dim", "XY", "-t_srs", "EPSG:4326"], reference_args].concat(),
    );
    let stored = dir.join(format!("{layer}.stored.geojson"));
    ogr2ogr(&["-f", "GeoJSON", stored.to_str().unwrap(), store.to_str().unwrap(), layer]);
    let mut args = vec!["tests/py/compare_import.py", reference.to_str().unwrap(), stored.to_str().unwrap()];
    args.extend_from_slice(checks);
    serde_json::from_str(&run_checker("python3", &args)).unwrap()
}

/// Writes `src` (GeoJSON) again with a Z per vertex: `base + (vertex number mod 7)` metres.
fn with_z_per_vertex(src: &Path, out: &Path, base: f64) {
    let script = "import json,sys\n\
        doc=json.load(open(sys.argv[1],encoding='utf-8')); base=float(sys.argv[3]); n=[0]\n\
        def z(c):\n    n[0]+=1; return [c[0],c[1],base+n[0]%7]\n\
        def walk(a):\n    return z(a) if isinstance(a[0],(int,float)) else [walk(b) for b in a]\n\
        for f in doc['features']: f['geometry']['coordinates']=walk(f['geometry']['coordinates'])\n\
        json.dump(doc,open(sys.argv[2],'w',encoding='utf-8'))";
    run_checker(
        "python3",
        &["-c", script, src.to_str().unwrap(), out.to_str().unwrap(), &base.to_string()],
    );
}

#[test]
fn z_m_and_25d_geometries_import_as_their_xy() {
    let Some(ward) = shared_data("vn-admin-2025/wards-hanoi/38_hoan_kiem_phuong.geojson") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let store = d.join("s.gpkg");
    // A real ward as a Shapefile PolygonZ (GDAL: 25D) with a different Z at every vertex.
    let ward_z = d.join("ward_z.geojson");
    with_z_per_vertex(&ward, &ward_z, 10.0);
    let shp = d.join("ward_z.shp");
    ogr2ogr_to(&shp, &ward_z, &["-f", "ESRI Shapefile", "-dim", "XYZ"]);
    let info = Command::new("ogrinfo")
        .args(["-so", shp.to_str().unwrap(), "ward_z"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&info.stdout).contains("3D Polygon"),
        "{}",
        String::from_utf8_lossy(&info.stdout)
    );
    imports_as_gdal_reads_it(&store, &shp, "ward_z", &["--kind", "admin"], &[], &[]);
    // XYM and XYZM in GeoPackage, and the three-parcel fixture as XYM FlatGeobuf.
    for (dim, ext, driver) in [("XYM", "gpkg", "GPKG"), ("XYZM", "gpkg", "GPKG")] {
        let file = d.join(format!("ward_{}.{ext}", dim.to_lowercase()));
        ogr2ogr_to(&file, &ward_z, &["-f", driver, "-dim", dim]);
        imports_as_gdal_reads_it(
            &store,
            &file,
            &format!("ward_{}", dim.to_lowercase()),
            &["--kind", "admin"],
            &[],
            &[],
        );
    }
    let parcels = parcels_geojson(d);
    let fgb = d.join("parcels_m.fgb");
    ogr2ogr_to(&fgb, &parcels, &["-f", "FlatGeobuf", "-dim", "XYM"]);
    let summary = imports_as_gdal_reads_it(&store, &fgb, "parcels_m", &["--kind", "cadastral"], &[], &[]);
    assert_eq!(summary["features"], 3);
    // Not a building layer: no Z fields.
    assert_eq!(
        sql(&store, "SELECT count(*) FROM pragma_table_info('ward_z') WHERE name LIKE 'z_%'"),
        "0"
    );
}

/// The curve fixtures: a circle, a polygon bounded by a half circle and a chord, and a line of
/// a half circle and a straight leg, near Huế in lon/lat.
fn curves_csv(dir: &Path) -> PathBuf {
    let path = dir.join("curves.csv");
    std::fs::write(
        &path,
        "id,WKT\n\
         1,\"CURVEPOLYGON (CIRCULARSTRING (107.59 16.46,107.592 16.46,107.59 16.46))\"\n\
         2,\"CURVEPOLYGON (COMPOUNDCURVE (CIRCULARSTRING (107.60 16.47,107.601 16.471,107.602 16.47),(107.602 16.47,107.60 16.47)))\"\n\
         3,\"COMPOUNDCURVE (CIRCULARSTRING (107.61 16.48,107.611 16.481,107.612 16.48),(107.612 16.48,107.613 16.482))\"\n",
    )
    .unwrap();
    path
}

/// A DXF drawing in VN-2000 / TM-3 107-00 metres: a circle, a quarter arc and a closed
/// polyline of two half-circle bulges.
fn arcs_dxf(dir: &Path) -> PathBuf {
    let (x, y) = (562_897.886, 1_820_978.931);
    let entity = |pairs: &[(u16, String)]| pairs.iter().map(|(c, v)| format!("{c}\n{v}\n")).collect::<String>();
    let s = |v: &str| v.to_string();
    let text = [
        entity(&[(0, s("SECTION")), (2, s("ENTITIES"))]),
        entity(&[
            (0, s("CIRCLE")),
            (8, s("0")),
            (10, x.to_string()),
            (20, y.to_string()),
            (30, s("0")),
            (40, s("10")),
        ]),
        entity(&[
            (0, s("ARC")),
            (8, s("0")),
            (10, (x + 50.0).to_string()),
            (20, y.to_string()),
            (30, s("0")),
            (40, s("20")),
            (50, s("0")),
            (51, s("90")),
        ]),
        entity(&[
            (0, s("LWPOLYLINE")),
            (8, s("0")),
            (90, s("2")),
            (70, s("1")),
            (10, (x + 100.0).to_string()),
            (20, y.to_string()),
            (42, s("1")),
            (10, (x + 120.0).to_string()),
            (20, y.to_string()),
            (42, s("1")),
        ]),
        entity(&[(0, s("ENDSEC")), (0, s("EOF"))]),
    ]
    .concat();
    let path = dir.join("arcs.dxf");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn curves_from_gml_geopackage_and_dxf_are_linearised_at_one_degree() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let store = d.join("s.gpkg");
    let csv = curves_csv(d);
    let gml = d.join("curves.gml");
    ogr2ogr_to(&gml, &csv, &["-f", "GML", "-dsco", "FORMAT=GML3", "-a_srs", "EPSG:4326"]);
    let gpkg = d.join("curves.gpkg");
    ogr2ogr_to(&gpkg, &csv, &["-f", "GPKG", "-a_srs", "EPSG:4326", "-nlt", "GEOMETRY"]);
    let surfaces = d.join("surfaces.gpkg");
    ogr2ogr_to(
        &surfaces,
        &csv,
        &["-f", "GPKG", "-a_srs", "EPSG:4326", "-nlt", "MULTISURFACE", "-where", "id <> '3'"],
    );
    // Every curve here spans at least a half circle: 1° steps give 180 segments or more.
    for (file, layer) in [(&gml, "curves_gml"), (&gpkg, "curves_gpkg"), (&surfaces, "surfaces")] {
        let summary = imports_as_gdal_reads_it(&store, file, layer, &["--kind", "planning"], &[], &["--min-vertices", "180"]);
        assert!(summary["features"].as_u64().unwrap() >= 2, "{layer}: {summary}");
    }
    let surfaces_type = sql(&store, "SELECT geometry_type FROM bando_layers WHERE name = 'surfaces'");
    assert_eq!(surfaces_type, "MULTIPOLYGON");
    // DXF arcs: the driver's step is set to the same degree (a quarter arc: 90 segments).
    let dxf = arcs_dxf(d);
    imports_as_gdal_reads_it(
        &store,
        &dxf,
        "arcs",
        &["--kind", "infrastructure", "--src-crs", "EPSG:9214"],
        &["-s_srs", "EPSG:9214"],
        &["--min-vertices", "90"],
    );
}

/// A building as a closed solid (floor, a wall and the roof of a 0.001° box, 10 m tall) and a
/// TIN of two triangles.
fn solids_csv(dir: &Path) -> PathBuf {
    let path = dir.join("solids.csv");
    std::fs::write(
        &path,
        "id,WKT\n\
         1,\"POLYHEDRALSURFACE Z (((107.59 16.46 5,107.59 16.461 5,107.591 16.461 5,107.591 16.46 5,107.59 16.46 5)),((107.59 16.46 5,107.59 16.46 15,107.59 16.461 15,107.59 16.461 5,107.59 16.46 5)),((107.591 16.461 15,107.591 16.46 15,107.59 16.46 15,107.59 16.461 15,107.591 16.461 15)))\"\n\
         2,\"TIN Z (((107.6 16.47 0,107.6 16.471 0,107.601 16.471 5,107.6 16.47 0)),((107.6 16.47 0,107.601 16.471 5,107.601 16.47 0,107.6 16.47 0)))\"\n",
    )
    .unwrap();
    path
}

#[test]
fn polyhedral_surfaces_tins_and_multipatches_import_as_footprints() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let store = d.join("s.gpkg");
    let csv = solids_csv(d);
    let gpkg = d.join("solids.gpkg");
    ogr2ogr_to(&gpkg, &csv, &["-f", "GPKG", "-a_srs", "EPSG:4326", "-nlt", "GEOMETRY"]);
    let multipatch = d.join("solids.shp");
    ogr2ogr_to(
        &multipatch,
        &csv,
        &["-f", "ESRI Shapefile", "-a_srs", "EPSG:4326", "-lco", "SHPT=MULTIPATCH"],
    );
    for (file, layer) in [(&gpkg, "solids_gpkg"), (&multipatch, "solids_shp")] {
        let summary = imports_as_gdal_reads_it(
            &store,
            file,
            layer,
            &["--kind", "planning"],
            &["-nlt", "MULTIPOLYGON"],
            &["--footprint"],
        );
        let expected = 2.0 * 0.001 * 0.001;
        assert!(
            (summary["area"].as_f64().unwrap() - expected).abs() < 1e-3 * expected,
            "{layer}: {summary}"
        );
    }
}

#[test]
fn geometry_collections_become_one_kind_or_are_refused_naming_the_option() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let store = d.join("s.gpkg");
    let collections = d.join("collections.geojson");
    std::fs::write(&collections, r#"{"type":"FeatureCollection","features":[
        {"type":"Feature","properties":{"n":1},"geometry":{"type":"GeometryCollection","geometries":[{"type":"Point","coordinates":[107.59,16.46]},{"type":"Point","coordinates":[107.591,16.461]}]}},
        {"type":"Feature","properties":{"n":2},"geometry":{"type":"GeometryCollection","geometries":[{"type":"Point","coordinates":[107.59,16.46]},{"type":"Polygon","coordinates":[[[107.59,16.46],[107.591,16.46],[107.591,16.461],[107.59,16.46]]]}]}}]}"#).unwrap();
    refused(
        &store,
        &[collections.to_str().unwrap(), "--layer", "gc", "--kind", "poi"],
        &["feature 1 ", "GEOMETRYCOLLECTION mixing points and polygons", "--split-collections"],
    );
    let (ok, out) = import_to(&store, &collections, "gc", &["--kind", "poi", "--split-collections"]);
    assert!(ok && out.contains("split 1"), "{out}");
    let stored = d.join("gc.geojson");
    ogr2ogr(&["-f", "GeoJSON", stored.to_str().unwrap(), store.to_str().unwrap(), "gc"]);
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&stored).unwrap()).unwrap();
    let types: Vec<&str> = doc["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["geometry"]["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["MultiPoint", "Polygon"]);

    // OSM relations that are not areas (routes: lines and stop points) are such collections.
    let Some(osm) = shared_data("osm/Helsinki.osm.pbf") else { return };
    let args = [
        "--source-layer",
        "other_relations",
        "--region",
        "24,60,26,61",
        "--kind",
        "infrastructure",
    ];
    refused(
        &store,
        &[&[osm.to_str().unwrap(), "--layer", "relations"], &args[..]].concat(),
        &["GEOMETRYCOLLECTION mixing points and lines", "--split-collections"],
    );
    let (ok, out) = import_to(
        &store,
        &osm,
        "relations",
        &[&args[..], &["--split-collections", "--repair"]].concat(),
    );
    assert!(ok && out.contains("written 232"), "{out}");
}

#[test]
fn a_polygonz_building_shapefile_keeps_its_z_range_and_city3d_builds_heights_from_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Three footprints with a Z at every vertex (10-16 m) and no height or floors column.
    let flat = parcels_geojson(d);
    let with_z = d.join("buildings_z.geojson");
    with_z_per_vertex(&flat, &with_z, 10.0);
    let shp = d.join("nha.shp");
    ogr2ogr(&["-f", "ESRI Shapefile", shp.to_str().unwrap(), with_z.to_str().unwrap()]);
    let store = d.join("s.gpkg");
    imports_as_gdal_reads_it(&store, &shp, "nha", &["--kind", "building"], &[], &[]);
    // z_min / z_max as the source says (read here from the GeoJSON, not from bando).
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&with_z).unwrap()).unwrap();
    let expected: Vec<String> = doc["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let z: Vec<f64> = f["geometry"]["coordinates"][0]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c[2].as_f64().unwrap())
                .collect();
            let (low, high) = (
                z.iter().cloned().fold(f64::INFINITY, f64::min),
                z.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
            );
            format!("{low:.1}|{high:.1}")
        })
        .collect();
    assert_eq!(
        sql(&store, "SELECT z_min || '|' || z_max FROM nha ORDER BY fid"),
        expected.join("\n")
    );
    // city3d: with neither height_m nor floors, each building is z_max - z_min tall.
    let out_dir = d.join("3d");
    let out = bando(&[
        "export",
        "3dtiles",
        "--layer",
        "nha",
        out_dir.to_str().unwrap(),
        "--store",
        store.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("3 with the height z_max - z_min"), "{stdout}");
    let tileset: serde_json::Value = serde_json::from_slice(&std::fs::read(out_dir.join("tileset.json")).unwrap()).unwrap();
    assert_eq!(tileset["extras"]["height_from_z"], 3, "{tileset}");
    assert_eq!(tileset["extras"]["defaulted_height"], 0, "{tileset}");
    let tallest = sql(&store, "SELECT max(z_max - z_min) FROM nha").parse::<f64>().unwrap();
    let top = tileset["root"]["boundingVolume"]["region"][5].as_f64().unwrap();
    assert!((top - tallest).abs() < 0.01, "region top {top} vs tallest {tallest}");
}
