//! Operating a server: `GET /metrics` read by prometheus_client's own parser (tests/py), request
//! ids echoed in `X-Request-Id` and in the JSON log's request lines.

mod common;

use common::{metric as sample, repo_root, Server};
use serde_json::Value;

fn request_id(server: &Server, path: &str, sent: Option<&str>) -> String {
    let mut request = ureq::get(&server.url(path));
    if let Some(id) = sent {
        request = request.set("X-Request-Id", id);
    }
    let response = match request.call() {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{path}: {e}"),
    };
    response.header("x-request-id").unwrap_or("").to_string()
}

#[test]
fn metrics_count_requests_caches_and_layers_and_request_ids_reach_the_json_log() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("serve.log");
    let store = common::demo_store(2_000);
    let args = ["--store", store.to_str().unwrap(), "--log-format", "json"];
    let server = Server::start_logged(&repo_root(), &args, &log, "info");
    let (lon, lat) = server.middle_of("parcels");
    let (x, y) = common::tile_of(lon, lat, 15);
    let tile = format!("/tiles/parcels/15/{x}/{y}.mvt");
    for _ in 0..3 {
        assert_eq!(server.get(&tile).0, 200, "{tile}");
    }
    assert_eq!(server.get("/no/such/route").0, 404);
    assert_eq!(server.get("/ogc/collections?f=json").0, 200);

    assert_eq!(request_id(&server, &tile, Some("wall-display-7")), "wall-display-7");
    let (a, b) = (request_id(&server, "/layers", None), request_id(&server, "/layers", None));
    assert!(!a.is_empty() && a != b, "a new id per request: {a} {b}");
    let refused = request_id(&server, "/layers", Some("bad id with spaces"));
    assert!(!refused.is_empty() && !refused.contains(' '), "an insane id is replaced: {refused}");

    let m = server.metrics();
    assert_eq!(m["types"]["bando_http_requests"], "counter", "{}", m["types"]);
    assert_eq!(m["types"]["bando_http_request_duration_seconds"], "histogram");
    let tiles_ok = sample(&m, "bando_http_requests_total", &[("family", "tiles"), ("status", "200")]);
    assert_eq!(tiles_ok, Some(4.0));
    let not_found = sample(&m, "bando_http_requests_total", &[("family", "other"), ("status", "404")]);
    assert_eq!(not_found, Some(1.0));
    let ogc = sample(&m, "bando_http_requests_total", &[("family", "ogc"), ("status", "200")]);
    assert_eq!(ogc, Some(1.0), "OGC API routes are a family of their own");
    let counted = sample(&m, "bando_http_request_duration_seconds_count", &[("family", "tiles")]);
    let inf = sample(
        &m,
        "bando_http_request_duration_seconds_bucket",
        &[("family", "tiles"), ("le", "+Inf")],
    );
    assert_eq!((counted, inf), (Some(4.0), Some(4.0)));
    assert_eq!(sample(&m, "bando_cache_misses_total", &[("cache", "tiles")]), Some(1.0));
    assert_eq!(sample(&m, "bando_cache_hits_total", &[("cache", "tiles")]), Some(3.0));
    assert!(sample(&m, "bando_cache_bytes", &[("cache", "tiles")]).is_some_and(|b| b > 100.0));
    let (_, layers) = server.get_json("/layers");
    let served = layers["layers"].as_array().unwrap().len() as f64;
    assert_eq!(sample(&m, "bando_layers", &[]), Some(served));
    assert_eq!(sample(&m, "bando_layer_features", &[("layer", "parcels")]), Some(2000.0));
    assert_eq!(sample(&m, "bando_store_reachable", &[]), Some(1.0));

    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<Value> = text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    assert!(!lines.is_empty(), "every log line is JSON: {text}");
    let line = lines
        .iter()
        .find(|l| l["fields"]["request_id"] == "wall-display-7")
        .unwrap_or_else(|| panic!("no request line with the client's id: {text}"));
    assert_eq!(line["fields"]["path"], tile.as_str());
    assert_eq!(line["fields"]["status"], 200);
}
