//! The catalog routes of a real `bando serve` over a demo store.
mod common;

use common::*;

#[test]
fn health_layers_and_layer_detail() {
    for backend in Backend::ALL {
        health_layers_and_layer_detail_on(&backend.demo_store(2_000));
    }
}

fn health_layers_and_layer_detail_on(store: &str) {
    let server = Server::start(store, &[]);
    let (status, health) = server.get_json("/health");
    assert_eq!(status, 200);
    assert_eq!(health["status"], "ok");

    let (status, layers) = server.get_json("/layers");
    assert_eq!(status, 200);
    let names: Vec<&str> = layers["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    for wanted in [
        "parcels",
        "buildings",
        "wards",
        "roads",
        "schools",
        "street_lights",
        "vessels",
        "fishing_zones",
    ] {
        assert!(names.contains(&wanted), "{wanted} missing from {names:?}");
    }

    let cors = ureq::get(&server.url("/layers"))
        .set("Origin", "http://wall-display.local")
        .call()
        .unwrap();
    assert_eq!(
        cors.header("access-control-allow-origin"),
        Some("*"),
        "map clients on other origins may read"
    );
    let (status, parcels) = server.get_json("/layers/parcels");
    assert_eq!(status, 200);
    assert_eq!(parcels["feature_count"], 2000);
    assert_eq!(parcels["geometry_type"], "POLYGON");
    assert_eq!(parcels["kind"], "cadastral");
    assert!(parcels["fields"].as_array().unwrap().iter().any(|f| f["name"] == "land_use"));
    assert_eq!(parcels["history"].as_array().unwrap().len(), 1);

    let (status, err) = server.get_json("/layers/no_such_layer");
    assert_eq!(status, 404);
    assert!(err["error"]["message"].as_str().unwrap().contains("GET /layers"));
    let (status, _) = server.get_json("/no/such/route");
    assert_eq!(status, 404);
    // axum's own rejections come back as bando's JSON errors too
    let (status, err) = server.get_json("/layers/%FF%FE");
    assert_eq!(status, 400, "{err}");
    assert!(err["error"]["message"].is_string());
    let response = ureq::post(&server.url("/layers")).call();
    let Err(ureq::Error::Status(405, r)) = response else {
        panic!("POST /layers should be 405")
    };
    assert!(r.content_type().starts_with("application/json"));
}

#[test]
fn serve_demo_builds_the_demo_province_once_and_serves_it() {
    let dir = tempfile::tempdir().unwrap();
    let first = Server::start_in(dir.path(), &["--demo"]);
    let (_, layers) = first.get_json("/layers");
    assert!(layers["layers"].as_array().unwrap().len() >= 15);
    let demo = dir.path().join("data/demo.gpkg");
    let built = std::fs::metadata(&demo).unwrap().modified().unwrap();
    drop(first);
    let second = Server::start_in(dir.path(), &["--demo"]);
    assert_eq!(second.get_json("/layers/parcels").1["feature_count"], 20_000);
    assert_eq!(
        std::fs::metadata(&demo).unwrap().modified().unwrap(),
        built,
        "the demo is built once, then reused"
    );
}
