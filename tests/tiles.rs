//! Vector tiles of a real `bando serve`, decoded by independent decoders (Python
//! mapbox-vector-tile, npm @mapbox/vector-tile) and compared with the store.
mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;

/// Decodes a saved tile with the independent Python checker (mapbox-vector-tile) against the
/// GeoPackage and returns its JSON summary.
fn check_mvt(store: &str, layer: &str, (z, x, y): (u32, u32, u32), file: &str, flags: &[&str]) -> serde_json::Value {
    let (z, x, y) = (z.to_string(), x.to_string(), y.to_string());
    let mut args = vec!["tests/py/check_mvt.py", store, layer, &z, &x, &y, file];
    args.extend_from_slice(flags);
    serde_json::from_str(&run_checker("python3", &args)).unwrap()
}

/// The demo's centre (the Huế citadel), where every demo layer has features.
const CENTRE: (f64, f64) = (107.585, 16.463);

/// The shared 2,000-parcel demo store, built by one test while the others wait (the harness's
/// builder is not safe to call from parallel tests).
fn shared_store() -> std::path::PathBuf {
    static BUILT: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    BUILT.get_or_init(|| demo_store(2_000)).clone()
}

fn tile_at(lon: f64, lat: f64, z: u32) -> (u32, u32, u32) {
    let n = 2f64.powi(z as i32);
    let x = ((lon + 180.0) / 360.0 * n) as u32;
    let y = ((1.0 - lat.to_radians().tan().asinh() / std::f64::consts::PI) / 2.0 * n) as u32;
    (z, x, y)
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

/// GET over a plain HTTP/1.1 socket with explicit request headers, so the body and headers are
/// exactly what the server sent (no client-side gunzip).
fn get_with(url: &str, headers: &[(&str, &str)]) -> Reply {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").expect("http URL");
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut stream = std::net::TcpStream::connect(host).unwrap_or_else(|e| panic!("connect {host}: {e}"));
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("header end");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers.iter().any(|(k, v)| k == "transfer-encoding" && v.contains("chunked")) {
        let (mut out, mut at) = (Vec::new(), 0);
        loop {
            let line_end = at + body[at..].windows(2).position(|w| w == b"\r\n").unwrap();
            let size = usize::from_str_radix(std::str::from_utf8(&body[at..line_end]).unwrap().trim(), 16).unwrap();
            if size == 0 {
                break;
            }
            out.extend_from_slice(&body[line_end + 2..line_end + 2 + size]);
            at = line_end + 2 + size + 2;
        }
        body = out;
    }
    Reply { status, headers, body }
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(bytes), &mut out).expect("valid gzip");
    out
}

/// GETs `url` every 100 ms until `done` holds for the reply (a server picking up a change).
fn poll_until(url: &str, never: &str, done: impl Fn(&Reply) -> bool) -> Reply {
    let started = Instant::now();
    loop {
        let reply = get_with(url, &[]);
        if done(&reply) {
            return reply;
        }
        assert!(started.elapsed() < Duration::from_secs(15), "{never}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn save(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn tiles_decode_independently_and_match_the_store() {
    let store = shared_store();
    let server = Server::start(&store, &[]);
    let dir = tempfile::tempdir().unwrap();
    let (z, cx, cy) = tile_at(CENTRE.0, CENTRE.1, 16);
    let mut files = Vec::new();
    for layer in ["parcels", "buildings", "roads", "housing", "wards", "street_lights"] {
        let mut features = 0;
        for (x, y) in [(cx, cy), (cx - 1, cy), (cx, cy - 1), (cx - 1, cy - 1)] {
            let reply = get_with(
                &server.url(&format!("/tiles/{layer}/{z}/{x}/{y}.mvt")),
                &[("Accept-Encoding", "gzip")],
            );
            if reply.status == 204 {
                continue; // nothing of this layer here; the sum over the four tiles is checked below
            }
            assert_eq!(reply.status, 200, "{layer} {z}/{x}/{y}");
            assert_eq!(reply.header("content-type"), Some("application/vnd.mapbox-vector-tile"));
            assert_eq!(reply.header("content-encoding"), Some("gzip"));
            let file = save(dir.path(), &format!("{layer}-{x}-{y}.mvt"), &gunzip(&reply.body));
            let summary = check_mvt(store.to_str().unwrap(), layer, (z, x, y), &file, &["--complete"]);
            features += summary["features"].as_u64().unwrap();
            files.push(file);
        }
        assert!(features > 0, "{layer}: no features around the centre at z{z}");
    }
    let mut args = vec!["tests/js/check_mvt.mjs"];
    args.extend(files.iter().map(String::as_str));
    let winding: serde_json::Value = serde_json::from_str(&run_checker("node", &args)).unwrap();
    let layers = &winding["layers"];
    assert!(layers["parcels"]["rings"].as_u64().unwrap() > 10, "{winding}");
    assert!(
        layers["buildings"]["holes"].as_u64().unwrap() > 0,
        "courtyard holes survive as counter-clockwise rings: {winding}"
    );
    assert!(layers["roads"]["points"].as_u64().unwrap() > 0);
}

#[test]
fn gzip_etag_304_204_and_cache_headers() {
    let store = shared_store();
    let server = Server::start(&store, &[]);
    let (z, x, y) = tile_at(CENTRE.0, CENTRE.1, 15);
    let url = server.url(&format!("/tiles/parcels,roads/{z}/{x}/{y}.mvt"));
    let plain = get_with(&url, &[("Accept-Encoding", "identity")]);
    assert_eq!(plain.status, 200);
    assert_eq!(plain.header("content-encoding"), None);
    let zipped = get_with(&url, &[("Accept-Encoding", "gzip, deflate")]);
    assert_eq!(zipped.header("content-encoding"), Some("gzip"));
    assert_eq!(gunzip(&zipped.body), plain.body, "gzip and identity forms carry the same tile");
    assert_eq!(zipped.header("x-cache"), Some("hit"));
    assert!(zipped.header("cache-control").unwrap().contains("max-age"));
    let etag = plain.header("etag").expect("etag").to_string();
    let again = get_with(&url, &[("If-None-Match", &etag)]);
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    // Layers come out in the order asked for.
    let dir = tempfile::tempdir().unwrap();
    let file = save(dir.path(), "t.mvt", &plain.body);
    let out = run_checker(
        "python3",
        &[
            "-c",
            "import sys,mapbox_vector_tile as m;print(','.join(m.decode(open(sys.argv[1],'rb').read())))",
            &file,
        ],
    );
    assert_eq!(out.trim(), "parcels,roads");
    // Far from any data: an empty tile is 204.
    let (z, x, y) = tile_at(100.0, 21.0, 16);
    let empty = get_with(&server.url(&format!("/tiles/parcels/{z}/{x}/{y}.mvt")), &[]);
    assert_eq!(empty.status, 204);
}

#[test]
fn tilejson_has_absolute_urls_layers_and_fields() {
    let store = shared_store();
    let server = Server::start(&store, &[]);
    let tj = get_with(&server.url("/tiles/parcels,roads.json"), &[]).json();
    assert_eq!(tj["tilejson"], "3.0.0");
    let url = tj["tiles"][0].as_str().unwrap();
    assert_eq!(url, format!("{}/tiles/parcels,roads/{{z}}/{{x}}/{{y}}.mvt", server.base));
    assert_eq!(tj["vector_layers"][0]["id"], "parcels");
    assert_eq!(tj["vector_layers"][0]["fields"]["land_use"], "String");
    assert_eq!(tj["vector_layers"][0]["fields"]["area_m2"], "Number");
    assert_eq!(tj["vector_layers"][1]["fields"]["lanes"], "Number");
    assert_eq!(tj["bounds"].as_array().unwrap().len(), 4);
    assert_eq!(tj["center"].as_array().unwrap().len(), 3);
    assert!(tj["attribution"].as_str().unwrap().len() > 5);
    assert_eq!(tj["minzoom"], 0);
    assert_eq!(tj["maxzoom"], 22);
    let proxied = get_with(
        &server.url("/tiles/parcels.json"),
        &[("X-Forwarded-Host", "ioc.hue.gov.vn"), ("X-Forwarded-Proto", "https")],
    )
    .json();
    assert_eq!(proxied["tiles"][0], "https://ioc.hue.gov.vn/tiles/parcels/{z}/{x}/{y}.mvt");
    drop(server);
    let public = Server::start(&store, &["--public-url", "https://bando.example.vn/gis/"]);
    let tj = get_with(&public.url("/tiles/parcels.json"), &[("X-Forwarded-Host", "ignored.example")]).json();
    assert_eq!(tj["tiles"][0], "https://bando.example.vn/gis/tiles/parcels/{z}/{x}/{y}.mvt");
}

#[test]
fn bad_tile_requests_are_4xx_json() {
    let store = shared_store();
    let server = Server::start(&store, &[]);
    let many = vec!["parcels"; 300].join(",");
    let cases: Vec<(String, u16)> = vec![
        ("/tiles/parcels/23/0/0.mvt".into(), 400),
        ("/tiles/parcels/-1/0/0.mvt".into(), 400),
        ("/tiles/parcels/2/4/0.mvt".into(), 400),
        ("/tiles/parcels/2/0/4.mvt".into(), 400),
        ("/tiles/parcels/a/0/0.mvt".into(), 400),
        ("/tiles/parcels/1/0/0x.mvt".into(), 400),
        ("/tiles/parcels/1/0/0.png".into(), 404),
        ("/tiles/parcels/99999999999999999999999/0/0.mvt".into(), 400),
        ("/tiles/no_such_layer/1/0/0.mvt".into(), 404),
        ("/tiles/parcels,,roads/1/0/0.mvt".into(), 400),
        ("/tiles/parcels,parcels/1/0/0.mvt".into(), 400),
        (format!("/tiles/{many}/1/0/0.mvt"), 400),
        ("/tiles/%FF%FE/1/0/0.mvt".into(), 400),
        ("/tiles/no_such_layer.json".into(), 404),
        ("/tiles/parcels.xml".into(), 404),
    ];
    for (path, want) in cases {
        let reply = get_with(&server.url(&path), &[]);
        assert_eq!(reply.status, want, "{path}: {}", String::from_utf8_lossy(&reply.body));
        let body = reply.json();
        assert_eq!(body["error"]["status"], want, "{path}");
        assert!(body["error"]["message"].as_str().unwrap().len() > 10, "{path}");
    }
    // The server is still fine.
    assert_eq!(server.get("/health").0, 200);
}

fn write_points(path: &Path, points: &[(f64, f64, &str)]) {
    let features: Vec<serde_json::Value> = points
        .iter()
        .map(|(lon, lat, name)| serde_json::json!({"type": "Feature", "properties": {"name": name, "category": "site"}, "geometry": {"type": "Point", "coordinates": [lon, lat]}}))
        .collect();
    std::fs::write(
        path,
        serde_json::json!({"type": "FeatureCollection", "features": features}).to_string(),
    )
    .unwrap();
}

#[test]
fn a_reimport_invalidates_exactly_the_changed_layer() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.gpkg");
    std::fs::copy(shared_store(), &store).unwrap();
    let sites = dir.path().join("sites.geojson");
    write_points(&sites, &[(107.585, 16.463, "Một"), (107.586, 16.464, "Hai")]);
    let s = store.to_str().unwrap();
    let out = bando(&["import", sites.to_str().unwrap(), "--layer", "sites", "--kind", "poi", "--store", s]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let server = Server::start(&store, &["--watch-seconds", "0.2"]);
    let (z, x, y) = tile_at(CENTRE.0, CENTRE.1, 14);
    let sites_url = server.url(&format!("/tiles/sites/{z}/{x}/{y}.mvt"));
    let parcels_url = server.url(&format!("/tiles/parcels/{z}/{x}/{y}.mvt"));
    let before = get_with(&sites_url, &[]);
    assert_eq!(before.status, 200);
    let parcels = get_with(&parcels_url, &[]);
    assert_eq!(get_with(&sites_url, &[]).header("x-cache"), Some("hit"));
    assert_eq!(get_with(&parcels_url, &[]).header("x-cache"), Some("hit"));

    write_points(
        &sites,
        &[(107.585, 16.463, "Một"), (107.586, 16.464, "Hai"), (107.584, 16.462, "Ba")],
    );
    let out = bando(&[
        "import",
        sites.to_str().unwrap(),
        "--layer",
        "sites",
        "--kind",
        "poi",
        "--replace",
        "--store",
        s,
    ]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let after = poll_until(&sites_url, "the re-import never reached the tiles", |r| {
        r.header("etag") != before.header("etag")
    });
    assert_eq!(after.header("x-cache"), Some("miss"));
    let file = save(dir.path(), "sites.mvt", &after.body);
    let summary = check_mvt(s, "sites", (z, x, y), &file, &["--complete"]);
    assert_eq!(summary["features"], 3, "the new import is drawn");
    let parcels_after = get_with(&parcels_url, &[]);
    assert_eq!(
        parcels_after.header("x-cache"),
        Some("hit"),
        "the parcels tile survived the sites re-import"
    );
    assert_eq!(parcels_after.body, parcels.body);
}

const SCENARIOS: [&str; 9] = [
    "basemap",
    "land_management",
    "construction_planning",
    "transport",
    "street_lighting",
    "environment",
    "social_welfare",
    "iuu_fishing",
    "fire_safety",
];

#[test]
fn scenario_maps_serve_valid_styles_tilejson_and_filtered_tiles() {
    let store = shared_store();
    let server = Server::start(&store, &[]);
    let list = get_with(&server.url("/scenarios"), &[]).json();
    let ids: Vec<&str> = list["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    for id in SCENARIOS {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for id in SCENARIOS {
        let style = get_with(&server.url(&format!("/scenarios/{id}/style.json")), &[]);
        assert_eq!(style.status, 200, "{id}");
        let doc = style.json();
        assert_eq!(doc["version"], 8);
        assert_eq!(doc["glyphs"], format!("{}/fonts/{{fontstack}}/{{range}}.pbf", server.base));
        for (name, source) in doc["sources"].as_object().unwrap() {
            let url = source["url"].as_str().unwrap();
            assert!(url.starts_with(&server.base), "{id}: source {name} points at {url}");
            let tj = fetch(url);
            assert_eq!(tj.0, 200, "{url}");
            let tj: serde_json::Value = serde_json::from_slice(&tj.1).unwrap();
            assert_eq!(tj["tilejson"], "3.0.0");
            // Every source-layer the style draws is a vector layer of its source.
            let vector_layers: Vec<&str> = tj["vector_layers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l["id"].as_str().unwrap())
                .collect();
            for layer in doc["layers"].as_array().unwrap().iter().filter(|l| l["source"] == name.as_str()) {
                let sl = layer["source-layer"].as_str().unwrap();
                assert!(
                    vector_layers.contains(&sl),
                    "{id}: style layer {} draws {sl}, not in {vector_layers:?}",
                    layer["id"]
                );
            }
        }
        files.push(save(dir.path(), &format!("{id}.json"), &style.body));
        let detail = get_with(&server.url(&format!("/scenarios/{id}")), &[]).json();
        assert_eq!(detail["id"], id);
    }
    let mut args = vec!["tests/js/validate_style.mjs"];
    args.extend(files.iter().map(String::as_str));
    let report: serde_json::Value = serde_json::from_str(&run_checker("node", &args)).unwrap();
    assert_eq!(report["checked"], SCENARIOS.len());
    assert_eq!(report["errors"].as_array().unwrap().len(), 0, "{report}");

    // Scenario tiles: layer ids, filters and the shown fields apply.
    let (z, x, y) = tile_at(CENTRE.0, CENTRE.1, 14);
    let mut temporary = 0;
    for (dx, dy) in [(0u32, 0u32), (1, 0), (0, 1), (1, 1)] {
        let (x, y) = (x - 1, y - 1);
        let reply = get_with(
            &server.url(&format!("/scenarios/social_welfare/{z}/{}/{}.mvt", x + dx, y + dy)),
            &[],
        );
        if reply.status == 204 {
            continue;
        }
        assert_eq!(reply.status, 200);
        let file = save(dir.path(), "welfare.mvt", &reply.body);
        let summary = check_mvt(
            store.to_str().unwrap(),
            "housing",
            (z, x + dx, y + dy),
            &file,
            &["--mvt-layer", "temporary_houses", "--allow-absent"],
        );
        if summary["features"] == 0 {
            continue;
        }
        temporary += summary["features"].as_u64().unwrap();
        assert_eq!(
            summary["properties"],
            serde_json::json!(["address", "household_size", "temporary_house"]),
            "only the scenario's fields"
        );
        let values = run_checker(
            "python3",
            &["-c", "import sys,mapbox_vector_tile as m;t=m.decode(open(sys.argv[1],'rb').read());print(sorted({f['properties']['temporary_house'] for f in t['temporary_houses']['features']}))", &file],
        );
        assert_eq!(values.trim(), "[True]", "the where filter keeps only temporary houses");
    }
    assert!(temporary > 0, "temporary houses drawn near the centre");

    // Per-zoom attribute lists (`zoom_fields`): land-management parcels carry only their land use
    // up to z15, and every chosen field from z16.
    for (zoom, want) in [
        (14, serde_json::json!(["land_use"])),
        (16, serde_json::json!(["address", "area_m2", "land_use", "parcel_no", "sheet_no"])),
    ] {
        let (z, x, y) = tile_at(CENTRE.0, CENTRE.1, zoom);
        let reply = get_with(&server.url(&format!("/scenarios/land_management/{z}/{x}/{y}.mvt")), &[]);
        assert_eq!(reply.status, 200, "z{zoom}");
        let file = save(dir.path(), "land.mvt", &reply.body);
        let summary = check_mvt(store.to_str().unwrap(), "parcels", (z, x, y), &file, &["--mvt-layer", "parcels"]);
        assert!(summary["features"].as_u64().unwrap() > 0, "z{zoom}: parcels drawn");
        assert_eq!(summary["properties"], want, "z{zoom}");
    }

    for (path, want) in [
        ("/scenarios/no_such", 404),
        ("/scenarios/no_such.json", 404),
        ("/scenarios/no_such/style.json", 404),
        ("/scenarios/no_such/1/0/0.mvt", 404),
        ("/scenarios/basemap/30/0/0.mvt", 400),
        ("/scenarios/basemap/3/9/0.mvt", 400),
    ] {
        let reply = get_with(&server.url(path), &[]);
        assert_eq!(reply.status, want, "{path}");
        assert_eq!(reply.json()["error"]["status"], want);
    }
}

#[test]
fn glyph_ranges_cover_vietnamese_and_bad_names_are_refused() {
    let server = Server::start(&shared_store(), &[]);
    let dir = tempfile::tempdir().unwrap();
    for (range, must_have) in [("0-255", vec![65u32, 97, 224, 244]), ("7680-7935", vec![0x1EC7, 0x1EA1, 0x1EDD])] {
        let reply = get_with(
            &server.url(&format!("/fonts/Noto%20Sans%20Regular,Noto%20Sans%20Bold/{range}.pbf")),
            &[],
        );
        assert_eq!(reply.status, 200, "{range}");
        assert_eq!(reply.header("content-type"), Some("application/x-protobuf"));
        let file = save(dir.path(), "g.pbf", &reply.body);
        let out: serde_json::Value = serde_json::from_str(&run_checker("node", &["tests/js/check_glyphs.mjs", &file])).unwrap();
        assert_eq!(out["range"], range);
        assert_eq!(out["bitmaps_ok"], true, "every bitmap is (w+6) x (h+6)");
        let ids: Vec<u64> = out["ids"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
        for c in must_have {
            assert!(ids.contains(&(c as u64)), "glyph U+{c:04X} missing in {range}");
        }
    }
    for (path, want) in [
        ("/fonts/..%2F..%2Fetc%2Fpasswd/0-255.pbf", 400),
        ("/fonts/Noto%00Sans/0-255.pbf", 400),
        ("/fonts/Noto%20Sans%20Regular/0-256.pbf", 400),
        ("/fonts/Noto%20Sans%20Regular/65536-65791.pbf", 400),
        ("/fonts/Noto%20Sans%20Regular/abc.pbf", 400),
        ("/fonts/Noto%20Sans%20Regular/0-255.png", 404),
        ("/fonts/No%20Such%20Font/0-255.pbf", 404),
        ("/fonts/%FF%FE/0-255.pbf", 400),
    ] {
        let reply = get_with(&server.url(path), &[]);
        assert_eq!(reply.status, want, "{path}: {}", String::from_utf8_lossy(&reply.body));
        assert_eq!(reply.json()["error"]["status"], want, "{path}");
    }
}

/// `bando export pmtiles ARGS --store STORE OUT`, which must succeed.
fn export_pmtiles(store: &Path, args: &[&str], out: &Path) -> std::process::Output {
    let mut all = vec!["export", "pmtiles", "--store", store.to_str().unwrap()];
    all.extend_from_slice(args);
    all.push(out.to_str().unwrap());
    let output = bando(&all);
    assert!(output.status.success(), "{}", stderr_of(&output));
    output
}

#[test]
fn pmtiles_export_round_trips_through_the_npm_reader_and_is_served() {
    let store = shared_store();
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("hue_parcels.pmtiles");
    let out = export_pmtiles(
        &store,
        &["--layers", "parcels,roads", "--minzoom", "12", "--maxzoom", "16", "--json"],
        &archive,
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(summary["tiles_written"].as_u64().unwrap() >= 5, "{summary}");

    let server = Server::start(&store, &["--pmtiles", archive.to_str().unwrap()]);
    let mut checks = Vec::new();
    let mut compared = 0;
    for z in [12u32, 14, 16] {
        let (_, cx, cy) = tile_at(CENTRE.0, CENTRE.1, z);
        for (x, y) in [(cx, cy), (cx - 1, cy - 1)] {
            let live = get_with(&server.url(&format!("/tiles/parcels,roads/{z}/{x}/{y}.mvt")), &[]);
            let archived = get_with(
                &server.url(&format!("/tiles/hue_parcels/{z}/{x}/{y}.mvt")),
                &[("Accept-Encoding", "gzip")],
            );
            assert_eq!(archived.status, live.status, "{z}/{x}/{y}");
            if live.status == 204 {
                checks.push(format!("{z}/{x}/{y}=-"));
                continue;
            }
            assert_eq!(archived.header("content-encoding"), Some("gzip"), "archive tiles go out as stored");
            assert_eq!(gunzip(&archived.body), live.body, "{z}/{x}/{y}: archive and live tile differ");
            let file = save(dir.path(), &format!("{z}-{x}-{y}.mvt"), &live.body);
            checks.push(format!("{z}/{x}/{y}={file}"));
            compared += 1;
        }
    }
    assert!(compared >= 3);
    let mut args = vec!["tests/js/read_pmtiles.mjs".to_string(), archive.to_str().unwrap().to_string()];
    args.extend(checks);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let report: serde_json::Value = serde_json::from_str(&run_checker("node", &args)).unwrap();
    assert_eq!(report["matched"], compared);
    let header = &report["header"];
    assert_eq!(header["specVersion"], 3);
    assert_eq!(header["clustered"], true);
    assert_eq!(header["tileCompression"], 2, "gzip tiles");
    assert_eq!(header["tileType"], 1, "MVT");
    assert_eq!((header["minZoom"].as_u64(), header["maxZoom"].as_u64()), (Some(12), Some(16)));
    let ids: Vec<&str> = report["metadata"]["vector_layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["parcels", "roads"]);

    let tj = get_with(&server.url("/tiles/hue_parcels.json"), &[]).json();
    assert_eq!(tj["tilejson"], "3.0.0");
    assert_eq!(tj["tiles"][0], format!("{}/tiles/hue_parcels/{{z}}/{{x}}/{{y}}.mvt", server.base));
    assert_eq!(tj["vector_layers"][0]["id"], "parcels");
    assert_eq!(tj["minzoom"], 12);

    // A scenario exports too.
    let scenario = dir.path().join("welfare.pmtiles");
    export_pmtiles(
        &store,
        &["--scenario", "social_welfare", "--minzoom", "10", "--maxzoom", "14"],
        &scenario,
    );
    let report: serde_json::Value =
        serde_json::from_str(&run_checker("node", &["tests/js/read_pmtiles.mjs", scenario.to_str().unwrap()])).unwrap();
    assert!(report["header"]["numAddressedTiles"].as_u64().unwrap() > 0);
    // Neither or both of --scenario / --layers is a usage error.
    let out = bando(&["export", "pmtiles", "--store", store.to_str().unwrap(), scenario.to_str().unwrap()]);
    assert!(!out.status.success());
}

/// GIS staff edit a scenario file while the server runs: the next tiles follow the edit, and a
/// broken edit is reported while the last good scenarios stay in service.
#[test]
fn an_edited_scenario_file_is_served_without_a_restart() {
    let store = shared_store();
    let tilesets = tempfile::tempdir().unwrap();
    let file = tilesets.path().join("land_management.toml");
    let original = std::fs::read_to_string(repo_root().join("tilesets/land_management.toml")).unwrap();
    std::fs::write(&file, &original).unwrap();
    let server = Server::start(&store, &["--tilesets", tilesets.path().to_str().unwrap(), "--watch-seconds", "0.1"]);
    let (z, x, y) = tile_at(CENTRE.0, CENTRE.1, 16);
    let url = server.url(&format!("/scenarios/land_management/{z}/{x}/{y}.mvt"));
    let dir = tempfile::tempdir().unwrap();
    let properties = |reply: &Reply| {
        let file = save(dir.path(), "land.mvt", &reply.body);
        check_mvt(store.to_str().unwrap(), "parcels", (z, x, y), &file, &["--mvt-layer", "parcels"])["properties"].clone()
    };
    let before = get_with(&url, &[]);
    assert_eq!(
        properties(&before),
        serde_json::json!(["address", "area_m2", "land_use", "parcel_no", "sheet_no"])
    );

    let narrowed = original.replace(
        r#"fields = ["land_use", "sheet_no", "parcel_no", "area_m2", "address"]"#,
        r#"fields = ["land_use", "area_m2"]"#,
    );
    assert_ne!(narrowed, original, "the test edits the parcels' fields");
    std::fs::write(&file, &narrowed).unwrap();
    let after = poll_until(&url, "the edit never reached the tiles", |r| {
        r.header("etag") != before.header("etag")
    });
    assert_eq!(
        properties(&after),
        serde_json::json!(["area_m2", "land_use"]),
        "the edited fields are served"
    );

    std::fs::write(&file, narrowed.replace("[[layers]]", "[[layer]]")).unwrap();
    let list = poll_until(&server.url("/scenarios"), "the broken edit was never reported", |r| {
        r.json()["reload_error"].is_string()
    });
    let reported = list.json()["reload_error"].as_str().unwrap().to_string();
    assert!(reported.contains("land_management.toml"), "{reported}");
    let still = get_with(&url, &[]);
    assert_eq!(still.status, 200, "the last good scenario stays in service");
    assert_eq!(still.header("etag"), after.header("etag"));
}

/// An archive exported into the tilesets folder of a running server is served without a
/// restart, and stops being served when its file is removed.
#[test]
fn an_archive_dropped_into_tilesets_is_served_without_a_restart() {
    let store = shared_store();
    let tilesets = tempfile::tempdir().unwrap();
    let server = Server::start(&store, &["--tilesets", tilesets.path().to_str().unwrap(), "--watch-seconds", "0.1"]);
    let (z, x, y) = tile_at(CENTRE.0, CENTRE.1, 14);
    let url = server.url(&format!("/tiles/live_parcels/{z}/{x}/{y}.mvt"));
    assert_eq!(get_with(&url, &[]).status, 404, "no such archive or layer yet");

    let archive = tilesets.path().join("live_parcels.pmtiles");
    export_pmtiles(&store, &["--layers", "parcels", "--minzoom", "14", "--maxzoom", "14"], &archive);
    let served = poll_until(&url, "the new archive was never served", |r| r.status == 200);
    let live = get_with(&server.url(&format!("/tiles/parcels/{z}/{x}/{y}.mvt")), &[]);
    assert_eq!(served.body, live.body, "the archive holds the live tile");
    let names: Vec<String> = std::fs::read_dir(tilesets.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["live_parcels.pmtiles"], "no partial files left behind");

    std::fs::remove_file(&archive).unwrap();
    poll_until(&url, "the removed archive was still served", |r| r.status == 404);
}

/// The first content URI below a tileset node (children first: parents may carry none).
fn first_content(node: &serde_json::Value) -> Option<String> {
    node.get("content")
        .and_then(|c| c["uri"].as_str())
        .map(str::to_string)
        .or_else(|| node["children"].as_array()?.iter().find_map(first_content))
}

#[test]
fn every_served_file_shares_one_response_path() {
    let store = shared_store();
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("hue.pmtiles");
    export_pmtiles(&store, &["--layers", "parcels", "--minzoom", "14", "--maxzoom", "15"], &archive);
    let server = Server::start(&store, &["--pmtiles", archive.to_str().unwrap()]);
    let (z, x, y) = tile_at(CENTRE.0, CENTRE.1, 15);
    let tileset = server.get_json("/3d/buildings/tileset.json").1;
    let glb = first_content(&tileset["root"]).expect("a 3D tile with content");
    let files = [
        format!("/tiles/parcels/{z}/{x}/{y}.mvt"),
        format!("/tiles/hue/{z}/{x}/{y}.mvt"),
        "/3d/buildings/tileset.json".to_string(),
        format!("/3d/buildings/{glb}"),
    ];
    for path in &files {
        let url = server.url(path);
        let plain = get_with(&url, &[("Accept-Encoding", "identity")]);
        assert_eq!(plain.status, 200, "{path}");
        assert_eq!(plain.header("content-encoding"), None, "{path}");
        let zipped = get_with(&url, &[("Accept-Encoding", "gzip")]);
        assert_eq!(zipped.header("content-encoding"), Some("gzip"), "{path}");
        assert_eq!(gunzip(&zipped.body), plain.body, "{path}: both forms carry the same bytes");
        for reply in [&plain, &zipped] {
            assert_eq!(reply.header("vary"), Some("accept-encoding"), "{path}");
            assert_eq!(reply.header("cache-control"), Some("public, max-age=60"), "{path}");
            assert!(reply.header("x-cache").is_some(), "{path}");
        }
        let etag = plain.header("etag").unwrap_or_else(|| panic!("{path}: no ETag"));
        assert_eq!(zipped.header("etag"), Some(etag), "{path}: one ETag for both forms");
        let again = get_with(&url, &[("If-None-Match", etag)]);
        assert_eq!((again.status, again.body.len()), (304, 0), "{path}");
    }
}

/// Imports `file` as `layer` and has benches/tile_validity.py judge z12-z20 tiles of it strictly:
/// every polygon OGC-valid by shapely, no zero-length line segment, no feature dropped at z16+,
/// every area within the integer grid's bound of the source clipped to the same tile.
fn assert_tiles_valid(store: &Path, file: &Path, layer: &str, import_flags: &[&str]) {
    let (f, s) = (file.to_str().unwrap(), store.to_str().unwrap());
    let mut args = vec!["import", f, "--layer", layer, "--store", s];
    args.extend_from_slice(import_flags);
    let out = bando(&args);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let binary = format!("test={}", bando_bin());
    let report = run_checker(
        "python3",
        &[
            "benches/tile_validity.py",
            "--store",
            s,
            "--layer",
            layer,
            "--zooms",
            "12-20",
            "--tiles",
            "12",
            "--bando",
            &binary,
            "--strict",
        ],
    );
    assert!(report.contains(" 20 "), "no z20 row in the report:\n{report}");
}

#[test]
fn tiles_of_real_and_hard_shapes_are_valid_at_every_zoom() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.gpkg");
    let hard = dir.path().join("hard.geojson");
    run_checker("python3", &["tests/py/hard_shapes.py", hard.to_str().unwrap()]);
    assert_tiles_valid(&store, &hard, "hard", &["--region", "100,10,115,25"]);
    // Real concave, thin shapes nobody here drew, when the shared data is on this machine.
    if let Some(osm) = shared_data("osm/Helsinki.osm.pbf") {
        let region = ["--region", "24,60,26,61"];
        assert_tiles_valid(
            &store,
            &osm,
            "osm_areas",
            &[&["--source-layer", "multipolygons", "--repair"][..], &region].concat(),
        );
        assert_tiles_valid(&store, &osm, "osm_lines", &[&["--source-layer", "lines"][..], &region].concat());
    }
    if let Some(wards) = shared_data("vn-admin-2025/wards-hanoi") {
        let merged = dir.path().join("wards.gpkg");
        for entry in std::fs::read_dir(&wards).unwrap() {
            let path = entry.unwrap().path();
            let out = std::process::Command::new("ogr2ogr")
                .args(["-append", "-nln", "wards", "-nlt", "PROMOTE_TO_MULTI"])
                .arg(&merged)
                .arg(&path)
                .output()
                .expect("ogr2ogr runs");
            assert!(out.status.success(), "{}", stderr_of(&out));
        }
        assert_tiles_valid(&store, &merged, "wards", &["--kind", "admin"]);
    }
}
