//! Spatial queries of a real `bando serve` over the demo province: thousands of answers compared
//! with an independent implementation (shapely/GEOS + pyproj, `tests/py/query_check.py`), paging
//! and formats, and every kind of bad input answered with a JSON 4xx.
mod common;

use common::*;

const SCENARIO: &str = r#"
id = "welfare_check"
title = "An sinh xã hội (test)"

[[layers]]
layer = "housing"

[[indicators]]
id = "temporary_houses"
title = "Nhà tạm"
layer = "housing"
by = "wards"
measure = "count"
where = [{ field = "temporary_house", op = "eq", value = true }]
target = { max = 5 }

[[indicators]]
id = "lights_working"
title = "Đèn hoạt động"
layer = "street_lights"
by = "wards"
measure = "share"
where = [{ field = "status", op = "eq", value = "working" }]
target = { min = 0.9 }

[[indicators]]
id = "poor_people"
title = "Nhân khẩu hộ nghèo"
layer = "housing"
by = "wards"
measure = "sum"
field = "household_size"
where = [{ field = "poor_household", op = "eq", value = true }]
target = { max = 40 }
"#;

fn scenario_dir() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("welfare_check.toml");
    std::fs::write(&file, SCENARIO).unwrap();
    (dir, file)
}

#[test]
fn answers_agree_with_shapely_and_pyproj() {
    let store = demo_store(5_000);
    let (dir, scenario) = scenario_dir();
    let server = Server::start(&store, &["--tilesets", dir.path().to_str().unwrap()]);
    let out = run_checker(
        "python3",
        &[
            "tests/py/query_check.py",
            "--store",
            store.to_str().unwrap(),
            "--base",
            &server.base,
            "--scenario",
            scenario.to_str().unwrap(),
        ],
    );
    assert!(out.contains("all agree"), "{out}");
}

fn post(url: &str, body: &[u8]) -> (u16, serde_json::Value) {
    let response = match ureq::post(url).set("Content-Type", "application/json").send_bytes(body) {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("POST {url}: {e}"),
    };
    let status = response.status();
    let text = response.into_string().unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("non-JSON answer {status} ({e}): {text}")),
    )
}

fn ring_json(points: &[(f64, f64)]) -> String {
    let coords: Vec<String> = points.iter().chain(points.first()).map(|(x, y)| format!("[{x},{y}]")).collect();
    format!(r#"{{"type":"Polygon","coordinates":[[{}]]}}"#, coords.join(","))
}

#[test]
fn bad_input_is_refused_with_json_errors() {
    let server = Server::start(&demo_store(2_000), &["--max-radius-m", "20000"]);
    let cases: &[(&str, u16)] = &[
        ("/query/radius?lon=200&lat=16.46&radius_m=100", 400),
        ("/query/radius?lon=107.58&lat=-91&radius_m=100", 400),
        ("/query/radius?lon=NaN&lat=16.46&radius_m=100", 400),
        ("/query/radius?lon=107.58&lat=inf&radius_m=100", 400),
        ("/query/radius?lat=16.46&radius_m=100", 400),
        ("/query/radius?lon=107.58&lat=16.46&radius_m=-5", 400),
        ("/query/radius?lon=107.58&lat=16.46&radius_m=0", 400),
        ("/query/radius?lon=107.58&lat=16.46&radius_m=20001", 400),
        ("/query/radius?lon=107.58&lat=16.46&radius_m=1e300", 400),
        ("/query/radius?lon=107.58&lat=16.46&radius_m=abc", 400),
        ("/query/radius?lon=107.58&lat=16.46&radius_m=100&layers=no_such_layer", 404),
        ("/query/radius?lon=107.58&lat=16.46&radius_m=100&limit=10001", 400),
        ("/query/radius?lon=107.58&lat=16.46&radius_m=100&limit=-1", 400),
        (
            "/query/radius?lon=107.58&lat=16.46&radius_m=100&fields=no_such_field&layers=parcels",
            400,
        ),
        ("/query/radius?lon=107.58&lat=16.46&radius_m=100&format=xml", 400),
        ("/query/point?lon=107.58&lat=16.46&tolerance_m=-1", 400),
        ("/query/nearest?lon=107.58&lat=16.46&k=0", 400),
        ("/query/nearest?lon=107.58&lat=16.46&k=10001", 400),
        ("/query/bbox?bbox=108,16,107,17", 400),
        ("/query/bbox?bbox=1,2,3", 400),
        ("/query/boundary?admin=wards:00000&layers=parcels", 404),
        ("/query/boundary?admin=no_layer:1", 404),
        ("/query/boundary?admin=parcels:1", 400),
        ("/query/boundary?admin=wards", 400),
        ("/query/boundary?admin=wards:19900&predicate=touches", 400),
        ("/query/boundary?layers=parcels", 400),
        ("/stats?layer=parcels", 400),
        ("/stats?layer=parcels&by=roads", 400),
        ("/stats?layer=parcels&by=wards&group_by=nope", 400),
        ("/stats?layer=nope&by=wards", 404),
        ("/stats?layer=parcels&by=wards&within=wards:1", 404),
        ("/stats?layer=parcels&by=wards&within={\"type\":\"Point\"}", 400),
        ("/scenarios/no_such/indicators", 404),
        ("/query/radius?lon=%ZZ", 400),
    ];
    server.assert_json_errors(cases);

    let url = server.url("/query/boundary?layers=parcels");
    let bow_tie = ring_json(&[(107.58, 16.46), (107.59, 16.47), (107.59, 16.46), (107.58, 16.471)]);
    let open_ring = r#"{"type":"Polygon","coordinates":[[[107.58,16.46],[107.59,16.46],[107.59,16.47]]]}"#;
    for (body, status, says) in [
        (bow_tie.as_str(), 400, "intersects itself"),
        (open_ring, 400, "at least 4"),
        (
            "{\"type\":\"Polygon\",\"coordinates\":[[[107.58,16.46],[107.59,16.46],[107.59,16.47],[107.58,16.47]]]}",
            400,
            "closed",
        ),
        (
            "{\"type\":\"LineString\",\"coordinates\":[[107.58,16.46],[107.59,16.46]]}",
            400,
            "cannot bound",
        ),
        ("{\"type\":", 400, "not JSON"),
    ] {
        let (got, json) = post(&url, body.as_bytes());
        assert_eq!(got, status, "{body}: {json}");
        assert!(json["error"]["message"].as_str().unwrap().contains(says), "{json}");
    }

    // 100,001 vertices: refused as too large, before any geometry work.
    let n = 100_001;
    let circle: Vec<(f64, f64)> = (0..n)
        .map(|i| {
            let a = i as f64 / n as f64 * std::f64::consts::TAU;
            (107.58 + 0.01 * a.cos(), 16.46 + 0.01 * a.sin())
        })
        .collect();
    let (got, json) = post(&url, ring_json(&circle).as_bytes());
    assert_eq!(got, 413, "{json}");
    assert!(json["error"]["message"].as_str().unwrap().contains("100000"), "{json}");
    // A body over the route's byte limit gets a JSON 413 too.
    let huge = vec![b' '; 17 * 1024 * 1024];
    let (got, _) = post(&url, &huge);
    assert_eq!(got, 413);
    // 99,999 vertices are accepted.
    let (got, json) = post(&url, ring_json(&circle[..99_999]).as_bytes());
    assert_eq!(got, 200, "{json}");
}

#[test]
fn pages_formats_fields_and_indicators() {
    let store = demo_store(2_000);
    let (dir, _) = scenario_dir();
    let server = Server::start(&store, &["--tilesets", dir.path().to_str().unwrap()]);
    let (lon, lat) = (107.585, 16.463);
    let all_url = format!("/query/radius?lon={lon}&lat={lat}&radius_m=300&layers=parcels,buildings,housing&limit=10000");
    let (status, all) = server.get_json(&all_url);
    assert_eq!(status, 200);
    let total = all["numberMatched"].as_u64().unwrap() as usize;
    assert!(total > 100, "{total}");
    let ids = |v: &serde_json::Value| -> Vec<(String, i64)> {
        v["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (f["layer"].as_str().unwrap().to_string(), f["id"].as_i64().unwrap()))
            .collect()
    };
    let mut paged = Vec::new();
    for offset in (0..total).step_by(37) {
        let (_, page) = server.get_json(&format!("{all_url}&limit=37&offset={offset}"));
        assert_eq!(page["numberMatched"].as_u64().unwrap() as usize, total);
        paged.extend(ids(&page));
    }
    assert_eq!(paged, ids(&all), "pages concatenate to the whole list in the same order");
    let (_, default_page) = server.get_json(&format!("/query/radius?lon={lon}&lat={lat}&radius_m=2000&layers=parcels"));
    assert_eq!(default_page["numberReturned"], 1000, "the default limit");

    // fields= keeps only the named properties (and distance_m).
    let (_, picked) = server.get_json(&format!(
        "/query/radius?lon={lon}&lat={lat}&radius_m=50&layers=parcels&fields=land_use"
    ));
    let props = picked["features"][0]["properties"].as_object().unwrap();
    let mut keys: Vec<&str> = props.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["distance_m", "land_use"]);

    // CSV: a header, one row per feature, WKT geometry.
    let (status, body, content_type) = server.get(&format!("/query/radius?lon={lon}&lat={lat}&radius_m=50&layers=parcels&format=csv"));
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/csv"), "{content_type}");
    let text = String::from_utf8(body).unwrap();
    let mut rows = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = rows.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(&header[..3], ["layer", "id", "distance_m"]);
    assert_eq!(header.last().unwrap(), "wkt");
    let records: Vec<csv::StringRecord> = rows.records().map(Result::unwrap).collect();
    assert!(!records.is_empty() && records.iter().all(|r| r[header.len() - 1].starts_with("POLYGON ((")));

    // Indicators: every ward, a value and a status the alert panel can show.
    let (status, ind) = server.get_json("/scenarios/welfare_check/indicators");
    assert_eq!(status, 200, "{ind}");
    let indicators = ind["indicators"].as_array().unwrap();
    assert_eq!(indicators.len(), 3);
    for i in indicators {
        assert_eq!(i["units"].as_array().unwrap().len(), 16);
        for u in i["units"].as_array().unwrap() {
            assert!(["ok", "below_target", "no_data"].contains(&u["status"].as_str().unwrap()), "{u}");
        }
    }
    let (status, one) = server.get_json("/scenarios/welfare_check/indicators?indicator=lights_working");
    assert_eq!(status, 200);
    assert_eq!(one["indicators"].as_array().unwrap().len(), 1);
    let (status, _) = server.get_json("/scenarios/welfare_check/indicators?indicator=nope");
    assert_eq!(status, 404);
}
