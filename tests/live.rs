//! Live layers (issue 14) through the real binary: HTTP ingest, tiles decoded by
//! mapbox-vector-tile, alerts, bad messages in /metrics, restart; MQTT through a real Mosquitto
//! (tests/mqtt/broker.sh) with scripted tracks checked against a shapely oracle
//! (tests/py/live_tracks.py).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{metric, repo_root, run_checker, tile_of, Server};
use serde_json::{json, Value};

/// A writable copy of the demo store (live layers write their tables into it).
fn store_copy(dir: &Path) -> PathBuf {
    let store = dir.join("store.gpkg");
    std::fs::copy(common::demo_store(2_000), &store).unwrap();
    store
}

fn post(server: &Server, path: &str, body: &str, token: Option<&str>) -> (u16, Value) {
    let mut request = ureq::post(&server.url(path));
    if let Some(t) = token {
        request = request.set("Authorization", &format!("Bearer {t}"));
    }
    let response = match request.send_string(body) {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("POST {path}: {e}"),
    };
    let status = response.status();
    let text = response.into_string().unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}: {text}")),
    )
}

/// Waits until `check` holds (live layers publish every `publish_ms`).
fn eventually(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let started = Instant::now();
    while started.elapsed() < limit {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{what}: not within {limit:?}");
}

/// SIGTERM and wait, as an operator restarts a service (queued reports are flushed).
fn stop_gracefully(mut server: Server) {
    let pid = server.child.id().to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(20) {
        if server.child.try_wait().unwrap().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("bando did not stop on SIGTERM");
}

fn vessel(id: &str, lon: f64, lat: f64, ts: f64, speed: f64) -> Value {
    json!({
        "type": "Feature",
        "geometry": { "type": "Point", "coordinates": [lon, lat] },
        "properties": { "vessel_id": id, "ts": ts, "speed_kn": speed, "heading": 90 }
    })
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

const HTTP_CONFIG: &str = r#"
[live]
publish_ms = 100

[[live.layers]]
name = "vessels_live"
id = "vessel_id"
time = "ts"
fields = ["speed_kn", "heading"]

[[live.rules]]
id = "left_permitted_zone"
layer = "vessels_live"
kind = "outside"
zones = "fishing_zones"
where = [{ field = "permitted", op = "eq", value = true }]
"#;

/// The layers of a tile of `path`, decoded by mapbox-vector-tile.
fn decoded_tile(server: &Server, path: &str) -> (Value, String, String) {
    let response = ureq::get(&server.url(path)).call().unwrap();
    let cache_control = response.header("Cache-Control").unwrap_or_default().to_string();
    let etag = response.header("ETag").unwrap_or_default().to_string();
    let mut body = Vec::new();
    std::io::Read::read_to_end(&mut response.into_reader(), &mut body).unwrap();
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &body).unwrap();
    let layers = run_checker("python3", &["tests/py/mvt_layers.py", file.path().to_str().unwrap()]);
    (serde_json::from_str(&layers).unwrap(), cache_control, etag)
}

#[test]
fn http_reports_become_tiles_queries_and_alerts_that_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_copy(dir.path());
    let config = dir.path().join("bando.toml");
    std::fs::write(&config, HTTP_CONFIG).unwrap();
    let args = ["--store", store.to_str().unwrap(), "--config", config.to_str().unwrap()];
    let server = Server::start_in(&repo_root(), &args);

    // One vessel inside the permitted zone VB-1, one outside every permitted zone.
    let t = now() - 60.0;
    let body = json!({ "type": "FeatureCollection", "features": [
        vessel("TTH-1", 107.80, 16.70, t, 6.5),
        vessel("TTH-2", 107.60, 16.95, t, 9.0),
    ]});
    let (status, report) = post(&server, "/live/vessels_live", &body.to_string(), None);
    assert_eq!((status, report["accepted"].as_u64()), (200, Some(2)), "{report}");

    let (x, y) = tile_of(107.7, 16.8, 8);
    let tile = format!("/tiles/vessels_live/8/{x}/{y}.mvt");
    eventually("the vessels are in their tile", Duration::from_secs(5), || {
        decoded_tile(&server, &tile).0["vessels_live"]["features"] == 2
    });
    let (layers, cache_control, etag) = decoded_tile(&server, &tile);
    assert_eq!(cache_control, "public, max-age=1", "live tiles stay fresh for a second");
    let props = &layers["vessels_live"]["properties"];
    for p in ["device", "time", "speed_kn", "heading"] {
        assert!(props.as_array().unwrap().iter().any(|v| v == p), "{p} in {props}");
    }
    assert_eq!(layers["vessels_live_track"], Value::Null, "one report each: no track line yet");

    // A queries like any layer: radius around TTH-1.
    let (status, hits) = server.get_json("/query/radius?layers=vessels_live&lon=107.8&lat=16.7&radius_m=1000");
    assert_eq!(status, 200, "{hits}");
    assert_eq!(hits["features"].as_array().unwrap().len(), 1, "{hits}");
    assert_eq!(hits["features"][0]["properties"]["device"], "TTH-1");

    // NDJSON moves TTH-1 on; the tile's ETag changes with the data and the track appears.
    let line = json!({ "vessel_id": "TTH-1", "lon": 107.82, "lat": 16.71, "ts": t + 30.0, "speed_kn": 7.0 });
    let (status, report) = post(&server, "/live/vessels_live", &format!("{line}\n"), None);
    assert_eq!((status, report["accepted"].as_u64()), (200, Some(1)), "{report}");
    eventually("the tile changes with the data", Duration::from_secs(5), || {
        decoded_tile(&server, &tile).2 != etag
    });
    let (layers, _, _) = decoded_tile(&server, &format!("/tiles/vessels_live,vessels_live_track/8/{x}/{y}.mvt"));
    assert_eq!(layers["vessels_live_track"]["features"], 1, "{layers}");

    // TTH-2 is outside every permitted zone: one open alert, in the contract's shape.
    let (_, alerts) = server.get_json("/alerts?state=open&layer=vessels_live");
    let list = alerts["alerts"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{alerts}");
    let alert = &list[0];
    for key in ["id", "rule", "layer", "device", "state", "opened_at", "lon", "lat", "zone", "unit"] {
        assert!(alert.get(key).is_some(), "{key} in {alert}");
    }
    assert_eq!(
        (alert["rule"].as_str(), alert["device"].as_str()),
        (Some("left_permitted_zone"), Some("TTH-2"))
    );
    let id = alert["id"].as_i64().unwrap();
    let (status, acked) = post(&server, &format!("/alerts/{id}/ack"), "", None);
    assert_eq!((status, acked["state"].as_str()), (200, Some("acknowledged")), "{acked}");

    // Bad messages: each refused for its reason and counted, the good one beside them accepted.
    let bad = [
        json!({ "type": "Feature", "geometry": null, "properties": { "vessel_id": "X1", "ts": t } }),
        vessel("X2", 2.35, 48.85, t, 1.0),
        vessel("X3", 107.7, 16.7, now() + 86_400.0, 1.0),
        json!({ "type": "Feature", "geometry": { "type": "Point", "coordinates": [107.7, 16.7] }, "properties": { "vessel_id": "X4", "ts": "soon" } }),
        json!({ "type": "Feature", "geometry": { "type": "Point", "coordinates": [107.7, 16.7] }, "properties": { "ts": t } }),
        vessel("TTH-3", 107.75, 16.65, t, 3.0),
    ];
    let (status, report) = post(
        &server,
        "/live/vessels_live",
        &json!({ "type": "FeatureCollection", "features": bad }).to_string(),
        None,
    );
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["accepted"], 1);
    for reason in ["no_position", "outside_region", "future_time", "bad_time", "no_device"] {
        assert_eq!(report["rejected"][reason], 1, "{reason}: {report}");
    }
    let (status, refused) = post(&server, "/live/vessels_live", "{ not json", None);
    assert_eq!(status, 400, "{refused}");
    assert!(refused["error"]["message"].as_str().unwrap().contains("not JSON"), "{refused}");
    let (status, _) = post(&server, "/live/nope", &body.to_string(), None);
    assert_eq!(status, 404);
    server.assert_json_errors(&[
        ("/alerts?state=maybe", 400),
        ("/alerts?colour=red", 400),
        ("/live/nope/events", 404),
    ]);
    let (status, _) = post(&server, "/alerts/999999/ack", "", None);
    assert_eq!(status, 404);
    let scraped = server.metrics();
    let count = |outcome: &str, reason: &str| {
        let mut labels = vec![("layer", "vessels_live"), ("outcome", outcome)];
        if !reason.is_empty() {
            labels.push(("reason", reason));
        }
        metric(&scraped, "bando_live_messages_total", &labels).unwrap_or(-1.0)
    };
    assert_eq!(count("accepted", ""), 4.0);
    assert_eq!(count("rejected", "invalid_json"), 1.0);
    assert_eq!(count("rejected", "outside_region"), 1.0);
    assert_eq!(count("rejected", "unknown_device"), 0.0);

    // A restart (SIGTERM, as a service manager does) keeps the latest state and the alert.
    stop_gracefully(server);
    let server = Server::start_in(&repo_root(), &args);
    let (_, alerts) = server.get_json("/alerts");
    let list = alerts["alerts"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{alerts}");
    assert_eq!(
        (list[0]["id"].as_i64(), list[0]["state"].as_str()),
        (Some(id), Some("acknowledged"))
    );
    let (_, hits) = server.get_json("/query/bbox?layers=vessels_live&bbox=107.5,16.5,108.0,17.0");
    let mut devices: Vec<&str> = hits["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["properties"]["device"].as_str().unwrap())
        .collect();
    devices.sort();
    assert_eq!(devices, ["TTH-1", "TTH-2", "TTH-3"], "{hits}");
    let moved = hits["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["properties"]["device"] == "TTH-1")
        .unwrap();
    assert_eq!(
        moved["geometry"]["coordinates"],
        json!([107.82, 16.71]),
        "the newest report, not the first"
    );
    // Reporting TTH-2 outside again does not open a second alert.
    let again = vessel("TTH-2", 107.61, 16.95, t + 60.0, 9.0);
    assert_eq!(post(&server, "/live/vessels_live", &again.to_string(), None).0, 200);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(server.get_json("/alerts").1["alerts"].as_array().unwrap().len(), 1);
}

#[test]
fn a_config_that_does_not_fit_the_store_is_refused_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_copy(dir.path());
    let config = dir.path().join("bando.toml");
    let cases = [
        (
            HTTP_CONFIG.replace("zones = \"fishing_zones\"", "zones = \"fishing_zonez\""),
            "no such layer",
        ),
        (
            HTTP_CONFIG.replace("kind = \"outside\"", "kind = \"outside_of\""),
            "unknown variant",
        ),
        (
            HTTP_CONFIG.replace("name = \"vessels_live\"", "name = \"wards\""),
            "a layer of the store",
        ),
    ];
    for (text, want) in cases {
        std::fs::write(&config, &text).unwrap();
        let out = Command::new(common::bando_bin())
            .args(["serve", "--store", store.to_str().unwrap(), "--config", config.to_str().unwrap()])
            .args(["--addr", &format!("127.0.0.1:{}", common::free_port())])
            .current_dir(repo_root())
            .output()
            .unwrap();
        let err = common::stderr_of(&out);
        assert!(!out.status.success(), "{text}");
        assert!(err.contains(want) && err.contains("bando.toml line"), "{want}: {err}");
    }
}

/// A Mosquitto of the test's own (tests/mqtt/broker.sh), stopped on drop.
struct Broker {
    dir: PathBuf,
    port: u16,
}

impl Broker {
    fn start(dir: &Path, port: u16) -> Broker {
        let broker = Broker {
            dir: dir.join("broker"),
            port,
        };
        broker.run("start");
        broker
    }

    fn run(&self, action: &str) {
        let port = self.port.to_string();
        let mut args = vec![action, self.dir.to_str().unwrap()];
        if action == "start" {
            args.push(&port);
        }
        let out = Command::new("tests/mqtt/broker.sh")
            .args(&args)
            .current_dir(repo_root())
            .output()
            .unwrap();
        assert!(out.status.success(), "broker.sh {action}: {}", common::stderr_of(&out));
    }

    fn publish(&self, topic: &str, payload: &str) {
        let out = Command::new("mosquitto_pub")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-q",
                "1",
                "-t",
                topic,
                "-m",
                payload,
            ])
            .output()
            .expect("mosquitto_pub (mosquitto-clients; bash .ci/setup --test)");
        assert!(out.status.success(), "mosquitto_pub: {}", common::stderr_of(&out));
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.run("stop");
    }
}

fn mqtt_config(port: u16, devices: &Path) -> String {
    format!(
        r#"
[live]
publish_ms = 100

[[live.sources]]
layer = "vessels_live"
broker = "mqtt://127.0.0.1:{port}"
topic = "vms/+/position"
id = "vessel_id"
lon = "lon"
lat = "lat"
time = "ts"
fields = ["speed_kn", "heading"]
devices_file = "{devices}"

[[live.rules]]
id = "left_permitted_zone"
layer = "vessels_live"
kind = "outside"
zones = "fishing_zones"
where = [{{ field = "permitted", op = "eq", value = true }}]

[[live.rules]]
id = "entered"
layer = "vessels_live"
kind = "enter"
zones = "fishing_zones"

[[live.rules]]
id = "exited"
layer = "vessels_live"
kind = "exit"
zones = "fishing_zones"

[[live.rules]]
id = "speeding"
layer = "vessels_live"
kind = "threshold"
field = "speed_kn"
above = 20
clear = 18
"#,
        devices = devices.display()
    )
}

fn accepted(server: &Server) -> f64 {
    metric(
        &server.metrics(),
        "bando_live_messages_total",
        &[("layer", "vessels_live"), ("outcome", "accepted")],
    )
    .unwrap_or(0.0)
}

/// (rule, device, zone, state) of every alert, in id order.
fn alert_rows(server: &Server) -> Vec<(String, String, Value, String)> {
    let (_, alerts) = server.get_json("/alerts");
    alerts["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let s = |k: &str| a[k].as_str().unwrap().to_string();
            (s("rule"), s("device"), a["zone"].clone(), s("state"))
        })
        .collect()
}

#[test]
fn mqtt_tracks_raise_exactly_the_oracles_alerts_across_broker_and_bando_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_copy(dir.path());
    let (plan, devices) = (dir.path().join("plan.json"), dir.path().join("devices.txt"));
    run_checker(
        "python3",
        &[
            "tests/py/live_tracks.py",
            "plan",
            store.to_str().unwrap(),
            plan.to_str().unwrap(),
            devices.to_str().unwrap(),
        ],
    );
    let plan_json: Value = serde_json::from_str(&std::fs::read_to_string(&plan).unwrap()).unwrap();
    let total = plan_json["total"].as_f64().unwrap();
    let broker = Broker::start(dir.path(), 18483);
    let config = dir.path().join("bando.toml");
    std::fs::write(&config, mqtt_config(broker.port, &devices)).unwrap();
    let args = ["--store", store.to_str().unwrap(), "--config", config.to_str().unwrap()];
    let server = Server::start_in(&repo_root(), &args);
    let subscribed = |server: &Server, n: f64| {
        metric(
            &server.metrics(),
            "bando_live_source_subscriptions_total",
            &[("layer", "vessels_live")],
        )
        .unwrap_or(0.0)
            >= n
    };
    eventually("bando subscribes", Duration::from_secs(10), || subscribed(&server, 1.0));

    let publish = |phase: &str| {
        run_checker(
            "python3",
            &["tests/py/live_tracks.py", "publish", plan.to_str().unwrap(), "18483", phase],
        )
    };
    let first: f64 = publish("1").trim().parse().unwrap();
    eventually("phase 1 is ingested", Duration::from_secs(20), || accepted(&server) >= first);

    // The broker restarts mid-stream: bando reconnects, subscribes again, and ingest resumes.
    broker.run("stop");
    eventually("bando sees the broker go", Duration::from_secs(20), || {
        metric(&server.metrics(), "bando_live_source_connected", &[("layer", "vessels_live")]) == Some(0.0)
    });
    broker.run("start");
    eventually("bando subscribes again", Duration::from_secs(20), || subscribed(&server, 2.0));
    publish("2");
    eventually("phase 2 is ingested", Duration::from_secs(20), || accepted(&server) >= total);

    // Exactly the oracle's alerts: none missed, none twice, each device's in the oracle's order.
    let expected: Vec<(String, String, Value, String)> = plan_json["expected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["rule"].as_str().unwrap().into(),
                a["device"].as_str().unwrap().into(),
                a["zone"].clone(),
                a["state"].as_str().unwrap().into(),
            )
        })
        .collect();
    let per_device = |rows: &[(String, String, Value, String)], device: &str| -> Vec<(String, String, Value, String)> {
        rows.iter().filter(|r| r.1 == device).cloned().collect()
    };
    eventually("the alerts settle", Duration::from_secs(5), || {
        alert_rows(&server).len() >= expected.len()
    });
    let got = alert_rows(&server);
    assert_eq!(got.len(), expected.len(), "got {got:#?}\nexpected {expected:#?}");
    for device in ["V01", "V02", "V03", "V04", "V05", "V06"] {
        assert_eq!(per_device(&got, device), per_device(&expected, device), "{device}");
    }
    let moved: f64 = metric(&server.metrics(), "bando_live_devices", &[("layer", "vessels_live")]).unwrap();
    assert_eq!(moved, 6.0);

    // Bad messages of every kind: counted, never fatal; a good report after them is taken.
    let t = now();
    broker.publish("vms/V01/position", "{ not json");
    broker.publish("vms/V01/position", &json!({ "ts": t, "speed_kn": 3 }).to_string());
    broker.publish("vms/V01/position", &json!({ "lon": 2.35, "lat": 48.85, "ts": t }).to_string());
    broker.publish(
        "vms/V01/position",
        &json!({ "lon": 107.8, "lat": 16.7, "ts": t + 86_400.0 }).to_string(),
    );
    broker.publish("vms/INTRUDER/position", &json!({ "lon": 107.8, "lat": 16.7, "ts": t }).to_string());
    broker.publish(
        "vms/V04/position",
        &json!({ "lon": 108.5, "lat": 16.45, "ts": t, "speed_kn": 4 }).to_string(),
    );
    eventually("the good report after the bad ones", Duration::from_secs(10), || {
        accepted(&server) >= total + 1.0
    });
    let scraped = server.metrics();
    for reason in ["invalid_json", "no_position", "outside_region", "future_time", "unknown_device"] {
        let labels = [("layer", "vessels_live"), ("outcome", "rejected"), ("reason", reason)];
        assert_eq!(metric(&scraped, "bando_live_messages_total", &labels), Some(1.0), "{reason}");
    }

    // bando restarts: the alerts (open and closed) and every device's latest state are back.
    let before = alert_rows(&server);
    stop_gracefully(server);
    let server = Server::start_in(&repo_root(), &args);
    assert_eq!(alert_rows(&server), before);
    let (_, hits) = server.get_json("/query/bbox?layers=vessels_live&bbox=107.0,16.0,109.0,17.5&limit=100");
    assert_eq!(hits["features"].as_array().unwrap().len(), 6, "{hits}");
    // Still subscribed: a crossing after the restart is one more alert, not a repeat of the old ones.
    eventually("bando subscribes after its restart", Duration::from_secs(10), || {
        subscribed(&server, 1.0)
    });
    broker.publish("vms/V04/position", &json!({ "lon": 107.80, "lat": 16.70, "ts": now() }).to_string());
    eventually("V04 enters VB-1", Duration::from_secs(10), || {
        alert_rows(&server).len() == before.len() + 1
    });
    let last = alert_rows(&server).pop().unwrap();
    assert_eq!(
        (last.0.as_str(), last.1.as_str(), last.2.as_str()),
        ("entered", "V04", Some("VB-1"))
    );
}

fn simulated_config(port: u16) -> String {
    let source = |layer: &str, topic: &str, id: &str, fields: &str| {
        format!(
            "[[live.sources]]\nlayer = \"{layer}\"\nbroker = \"mqtt://127.0.0.1:{port}\"\ntopic = \"{topic}\"\nid = \"{id}\"\ntime = \"ts\"\nfields = {fields}\n\n"
        )
    };
    format!(
        r#"
[live]
publish_ms = 100
max_future_seconds = 864000

{}{}{}
[[live.rules]]
id = "left_permitted_zone"
layer = "vessels_live"
kind = "outside"
zones = "fishing_zones"
where = [{{ field = "permitted", op = "eq", value = true }}]

[[live.rules]]
id = "vms_silent"
layer = "vessels_live"
kind = "signal_lost"
after_seconds = 1800

[[live.rules]]
id = "pm25_over_limit"
layer = "env_live"
kind = "threshold"
field = "pm25"
above = 50
clear = 45
for = 60

[[live.rules]]
id = "water_above_alarm"
layer = "water_live"
kind = "threshold"
field = "water_level_m"
above = 3.0
clear = 2.9
"#,
        source("vessels_live", "vms/+/position", "vessel_id", r#"["speed_kn", "heading"]"#),
        source("env_live", "env/+/reading", "sensor_id", r#"["pm25", "cod"]"#),
        source("water_live", "water/+/level", "sensor_id", r#"["water_level_m"]"#),
    )
}

/// Whether a point lies inside a permitted zone of the demo (VB-1, VK-2: rectangles, see
/// src/demo). No `outside` alert may be raised there, hysteresis or not.
fn in_permitted_zone(lon: f64, lat: f64) -> bool {
    [(107.70, 16.62, 107.95, 16.80), (107.85, 16.80, 108.20, 17.05)]
        .iter()
        .any(|&(w, s, e, n)| lon > w && lon < e && lat > s && lat < n)
}

#[test]
fn simulated_traffic_raises_zone_silence_and_threshold_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_copy(dir.path());
    let broker = Broker::start(dir.path(), 18484);
    let config = dir.path().join("bando.toml");
    std::fs::write(&config, simulated_config(broker.port)).unwrap();
    let server = Server::start_in(
        &repo_root(),
        &["--store", store.to_str().unwrap(), "--config", config.to_str().unwrap()],
    );
    eventually("bando subscribes to the three sources", Duration::from_secs(10), || {
        let scraped = server.metrics();
        ["vessels_live", "env_live", "water_live"]
            .iter()
            .all(|layer| metric(&scraped, "bando_live_source_subscriptions_total", &[("layer", layer)]).unwrap_or(0.0) >= 1.0)
    });
    // 10 s at 1200 times the clock: 3 h 20 min of traffic, long enough for silences and drifts.
    let out = Command::new(common::bando_bin())
        .args(["simulate", "--broker", &format!("mqtt://127.0.0.1:{}", broker.port)])
        .args([
            "--vessels",
            "30",
            "--sensors",
            "36",
            "--rate",
            "300",
            "--speedup",
            "1200",
            "--seconds",
            "10",
        ])
        .args(["--store", store.to_str().unwrap()])
        .current_dir(repo_root())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::stderr_of(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let published = report["published"].as_f64().unwrap();
    assert!(published > 2000.0 && report["silent_turns"].as_u64() > Some(0), "{report}");

    let taken = |scraped: &Value| -> f64 {
        ["vessels_live", "env_live", "water_live"]
            .iter()
            .map(|layer| metric(scraped, "bando_live_messages_total", &[("layer", layer), ("outcome", "accepted")]).unwrap_or(0.0))
            .sum()
    };
    eventually("every simulated message is ingested", Duration::from_secs(20), || {
        taken(&server.metrics()) >= published
    });
    let scraped = server.metrics();
    let devices = |layer: &str| metric(&scraped, "bando_live_devices", &[("layer", layer)]);
    assert_eq!(
        (devices("vessels_live"), devices("env_live"), devices("water_live")),
        (Some(30.0), Some(24.0), Some(12.0))
    );
    let (_, alerts) = server.get_json("/alerts");
    let alerts = alerts["alerts"].as_array().unwrap().clone();
    for rule in ["left_permitted_zone", "vms_silent", "pm25_over_limit", "water_above_alarm"] {
        assert!(alerts.iter().any(|a| a["rule"] == rule), "no {rule} alert in {alerts:#?}");
    }
    for alert in alerts.iter().filter(|a| a["rule"] == "left_permitted_zone") {
        let (lon, lat) = (alert["lon"].as_f64().unwrap(), alert["lat"].as_f64().unwrap());
        assert!(!in_permitted_zone(lon, lat), "raised inside a permitted zone: {alert}");
    }
    for alert in alerts.iter().filter(|a| a["rule"] == "water_above_alarm") {
        assert!(alert["value"].as_f64().unwrap() > 3.0, "{alert}");
    }
}

#[test]
fn serve_demo_runs_a_broker_and_the_simulator() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    std::fs::copy(common::demo_store(2_000), dir.path().join("data/demo.gpkg")).unwrap();
    let tilesets = repo_root().join("tilesets");
    let server = Server::start_in(dir.path(), &["--demo", "--tilesets", tilesets.to_str().unwrap()]);
    eventually("the demo's vessels sail", Duration::from_secs(30), || {
        let (status, layer) = server.get_json("/layers/vessels_live");
        status == 200 && layer["feature_count"] == 60
    });
    eventually("vessels outside the permitted zones raise alerts", Duration::from_secs(30), || {
        let (_, alerts) = server.get_json("/alerts?rule=left_permitted_zone");
        !alerts["alerts"].as_array().unwrap().is_empty()
    });
    // The sensors report less often than the vessels: on a loaded machine their first
    // readings may come after the first alert.
    eventually("the demo's sensors report", Duration::from_secs(30), || {
        let (status, sensors) = server.get_json("/query/bbox?layers=env_live,water_live&bbox=107.0,16.0,109.0,17.5&limit=100");
        assert_eq!(status, 200, "{sensors}");
        !sensors["features"].as_array().unwrap().is_empty()
    });

    // Killed outright (SIGKILL), bando takes its broker with it.
    let marker = format!("bando-demo-live-{}/", server.child.id());
    let brokers = || {
        std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| std::fs::read(e.ok()?.path().join("cmdline")).ok())
            .filter(|cmdline| String::from_utf8_lossy(cmdline).contains(&marker))
            .count()
    };
    assert!(brokers() > 0, "the demo's broker runs beside bando");
    drop(server);
    eventually("the demo's broker ends with bando", Duration::from_secs(5), || brokers() == 0);
}

const SENSOR_CONFIG: &str = r#"
[live]
publish_ms = 100

[[live.layers]]
name = "env_live"
id = "sensor_id"
fields = ["pm25"]

[[live.rules]]
id = "pm25_over_limit"
layer = "env_live"
kind = "threshold"
field = "pm25"
above = 50
clear = 45

[[live.rules]]
id = "outside_park"
layer = "env_live"
kind = "outside"
zones = "industrial_parks"
"#;

/// A scenario over the live layers: the sensors, and an indicator counting open alerts per ward.
const SENSOR_SCENARIO: &str = r#"
id = "env_live"
title = "Cảm biến trực tuyến"

[[layers]]
layer = "env_live"

[[layers]]
layer = "env_live_alerts"

[[indicators]]
id = "open_alerts"
title = "Cảnh báo chưa xử lý"
layer = "env_live_alerts"
by = "wards"
measure = "count"
where = [{ field = "state", op = "eq", value = "open" }]
target = { max = 0 }
"#;

fn ndjson(lines: &Value) -> String {
    lines.as_array().unwrap().iter().map(|l| format!("{l}\n")).collect()
}

#[test]
fn alert_counts_per_ward_in_stats_and_indicators_match_the_oracle() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_copy(dir.path());
    let plan_path = dir.path().join("plan.json");
    run_checker(
        "python3",
        &["tests/py/live_alert_units.py", store.to_str().unwrap(), plan_path.to_str().unwrap()],
    );
    let plan: Value = serde_json::from_str(&std::fs::read_to_string(&plan_path).unwrap()).unwrap();
    let expected = &plan["expected"];
    let (config, tilesets) = (dir.path().join("bando.toml"), dir.path().join("tilesets"));
    std::fs::write(&config, SENSOR_CONFIG).unwrap();
    std::fs::create_dir_all(&tilesets).unwrap();
    std::fs::write(tilesets.join("env_live.toml"), SENSOR_SCENARIO).unwrap();
    let server = Server::start_in(
        &repo_root(),
        &[
            "--store",
            store.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
            "--tilesets",
            tilesets.to_str().unwrap(),
        ],
    );

    // Phase 1, the acknowledgements, then phase 2 clears some of the pm25 alerts.
    let (status, report) = post(&server, "/live/env_live", &ndjson(&plan["phase1"]), None);
    assert_eq!((status, report["accepted"].as_u64()), (200, Some(80)), "{report}");
    let (_, alerts) = server.get_json("/alerts?state=open&layer=env_live");
    let id_of = |rule: &str, device: &str| {
        alerts["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["rule"] == rule && a["device"] == device)
            .unwrap_or_else(|| panic!("no open {rule} alert of {device}: {alerts}"))["id"]
            .as_i64()
            .unwrap()
    };
    for pair in plan["acknowledge"].as_array().unwrap() {
        let id = id_of(pair[0].as_str().unwrap(), pair[1].as_str().unwrap());
        assert_eq!(post(&server, &format!("/alerts/{id}/ack"), "", None).0, 200);
    }
    let (status, report) = post(&server, "/live/env_live", &ndjson(&plan["phase2"]), None);
    assert_eq!(status, 200, "{report}");

    // Each active alert's unit is the oracle's ward.
    let (_, active) = server.get_json("/alerts?layer=env_live");
    let active: Vec<&Value> = active["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["state"] != "closed")
        .collect();
    assert_eq!(active.len() as u64, expected["active"].as_u64().unwrap());
    for alert in &active {
        let key = format!("{}/{}", alert["rule"].as_str().unwrap(), alert["device"].as_str().unwrap());
        assert_eq!(alert["unit"], expected["unit_of"][&key], "{alert}");
    }

    // /stats counts the active alerts per ward and rule, as the oracle does.
    let per_unit = expected["per_unit"].as_object().unwrap();
    let rules_of = |code: &str| per_unit.get(code).map_or(json!({}), |u| u["rules"].clone());
    let stats_path = "/stats?layer=env_live_alerts&by=wards&group_by=rule";
    let counted = |stats: &Value| stats["total"]["count"].as_u64().unwrap_or(0) + stats["unassigned"].as_u64().unwrap_or(0);
    eventually("the alert layer is published", Duration::from_secs(5), || {
        Some(counted(&server.get_json(stats_path).1)) == expected["active"].as_u64()
    });
    let (status, stats) = server.get_json(stats_path);
    assert_eq!(status, 200, "{stats}");
    assert_eq!(stats["unassigned"], expected["unassigned"], "{stats}");
    for unit in stats["units"].as_array().unwrap() {
        let code = unit["code"].as_str().unwrap();
        let got: serde_json::Map<String, Value> = unit["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| (g["value"].as_str().unwrap().to_string(), g["count"].clone()))
            .collect();
        assert_eq!(Value::Object(got), rules_of(code), "ward {code}: {unit}");
    }

    // The scenario's indicator counts the open (not acknowledged) alerts per ward.
    let (status, answer) = server.get_json("/scenarios/env_live/indicators");
    assert_eq!(status, 200, "{answer}");
    let indicator = &answer["indicators"][0];
    let mut over = 0;
    for unit in indicator["units"].as_array().unwrap() {
        let code = unit["code"].as_str().unwrap();
        let open = per_unit.get(code).map_or(0, |u| u["open"].as_u64().unwrap());
        assert_eq!(unit["value"].as_f64(), Some(open as f64), "ward {code}: {unit}");
        over += usize::from(open > 0);
    }
    assert_eq!(indicator["below_target"], over, "{indicator}");
    assert_eq!(
        indicator["units"].as_array().unwrap().len(),
        expected["ward_codes"].as_array().unwrap().len()
    );
}

/// The events of a Server-Sent Events stream, read on a thread of their own: (event, data).
struct EventStream {
    events: std::sync::mpsc::Receiver<(String, Value)>,
}

impl EventStream {
    fn open(server: &Server, path: &str) -> EventStream {
        let response = ureq::get(&server.url(path)).call().unwrap_or_else(|e| panic!("GET {path}: {e}"));
        assert_eq!(response.content_type(), "text/event-stream");
        let (send, events) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let reader = std::io::BufReader::new(response.into_reader());
            let (mut event, mut data) = (String::new(), String::new());
            for line in std::io::BufRead::lines(reader) {
                let Ok(line) = line else { return };
                if let Some(name) = line.strip_prefix("event:") {
                    event = name.trim().to_string();
                } else if let Some(text) = line.strip_prefix("data:") {
                    data.push_str(text.trim_start());
                } else if line.is_empty() && !data.is_empty() {
                    let parsed = serde_json::from_str(&data).unwrap_or(Value::Null);
                    if send.send((std::mem::take(&mut event), parsed)).is_err() {
                        return;
                    }
                    data.clear();
                }
            }
        });
        EventStream { events }
    }

    /// The next event named `name` (others skipped), within `limit`.
    fn next(&self, name: &str, limit: Duration) -> Value {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok((event, data)) if event == name => return data,
                Ok(_) => continue,
                Err(e) => panic!("no '{name}' event within {limit:?}: {e}"),
            }
        }
    }
}

/// The one alert of `/alerts` with this id.
fn listed_alert(server: &Server, id: &Value) -> Value {
    let (_, alerts) = server.get_json("/alerts");
    alerts["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == *id)
        .cloned()
        .unwrap_or(Value::Null)
}

#[test]
fn mqtt_reports_reach_the_event_streams_and_the_track() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_copy(dir.path());
    let devices = dir.path().join("devices.txt");
    std::fs::write(&devices, "V01\nV02\n").unwrap();
    let broker = Broker::start(dir.path(), 18485);
    let config = dir.path().join("bando.toml");
    std::fs::write(&config, mqtt_config(broker.port, &devices)).unwrap();
    let server = Server::start_in(
        &repo_root(),
        &["--store", store.to_str().unwrap(), "--config", config.to_str().unwrap()],
    );
    eventually("bando subscribes", Duration::from_secs(10), || {
        metric(
            &server.metrics(),
            "bando_live_source_subscriptions_total",
            &[("layer", "vessels_live")],
        )
        .unwrap_or(0.0)
            >= 1.0
    });
    let report = |device: &str, lon: f64, lat: f64, ts: f64, speed: f64| {
        let payload = json!({ "lon": lon, "lat": lat, "ts": ts, "speed_kn": speed, "heading": 90 });
        broker.publish(&format!("vms/{device}/position"), &payload.to_string());
    };
    // V01 outside every permitted zone: one alert, before anyone subscribes.
    let t = now() - 120.0;
    report("V01", 107.60, 16.95, t, 8.0);
    eventually("V01's alert", Duration::from_secs(10), || alert_rows(&server).len() == 1);

    // A new subscriber gets the current state first: V01's position and its open alert.
    let positions = EventStream::open(&server, "/live/vessels_live/events");
    let alerts = EventStream::open(&server, "/alerts/stream");
    let first = positions.next("positions", Duration::from_secs(5));
    assert_eq!(first["layer"], "vessels_live");
    let v01 = &first["positions"].as_array().unwrap()[0];
    assert_eq!(
        (v01["device"].as_str(), v01["lon"].as_f64(), v01["lat"].as_f64()),
        (Some("V01"), Some(107.60), Some(16.95)),
        "{first}"
    );
    let opened = alerts.next("alert", Duration::from_secs(5));
    assert_eq!(
        (opened["rule"].as_str(), opened["device"].as_str(), opened["state"].as_str()),
        (Some("left_permitted_zone"), Some("V01"), Some("open"))
    );
    assert_eq!(
        opened,
        listed_alert(&server, &opened["id"]),
        "event: alert carries GET /alerts's object"
    );

    // Then what changes: V02 appears and moves inside VB-1 (positions, no alert: a first report
    // inside a permitted zone is no crossing), V01 speeds (a threshold alert) and its zone alert
    // is acknowledged.
    report("V02", 107.80, 16.70, t + 10.0, 5.0);
    report("V02", 107.82, 16.71, t + 20.0, 5.0);
    eventually("V02's second position is streamed", Duration::from_secs(10), || {
        let moved = positions.next("positions", Duration::from_secs(5));
        moved["positions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["device"] == "V02" && p["lon"] == 107.82)
    });
    report("V01", 107.61, 16.95, t + 30.0, 25.0);
    let acked_id = opened["id"].as_i64().unwrap();
    assert_eq!(post(&server, &format!("/alerts/{acked_id}/ack"), "", None).0, 200);
    let mut rules = Vec::new();
    for _ in 0..2 {
        let alert = alerts.next("alert", Duration::from_secs(10));
        assert_eq!(
            alert,
            listed_alert(&server, &alert["id"]),
            "event: alert carries GET /alerts's object"
        );
        let text = |k: &str| alert[k].as_str().unwrap().to_string();
        rules.push((text("rule"), text("device"), text("state")));
    }
    rules.sort();
    let row = |r: &str, d: &str, s: &str| (r.to_string(), d.to_string(), s.to_string());
    assert_eq!(
        rules,
        [row("left_permitted_zone", "V01", "acknowledged"), row("speeding", "V01", "open")]
    );
    assert_eq!(alert_rows(&server).len(), 2, "V02 raised nothing");

    // The track replay: V02's stored reports, oldest first.
    let path = format!("/live/vessels_live/track?device=V02&from={}&to={}", t - 1.0, t + 60.0);
    eventually("V02's reports are stored", Duration::from_secs(10), || {
        server.get_json(&path).1["features"].as_array().is_some_and(|f| f.len() == 2)
    });
    let (_, track) = server.get_json(&path);
    let coords: Vec<Value> = track["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["geometry"]["coordinates"].clone())
        .collect();
    assert_eq!(coords, [json!([107.80, 16.70]), json!([107.82, 16.71])], "{track}");
    assert_eq!(track["features"][1]["properties"]["values"]["speed_kn"], 5.0);
}
