//! The PostGIS store on a real PostgreSQL 15 + PostGIS 3 (the harness's own cluster), checked
//! with psql and GDAL's ogrinfo.

mod common;

#[test]
fn each_test_database_is_fresh_and_has_postgis() {
    let a = common::pg_database();
    let b = common::pg_database();
    assert_ne!(a, b);
    assert!(common::pg_sql(&a, "SELECT postgis_lib_version()").starts_with('3'));
    common::pg_sql(&a, "CREATE TABLE only_in_a (id int)");
    assert_eq!(
        common::pg_sql(&b, "SELECT count(*) FROM pg_tables WHERE tablename = 'only_in_a'"),
        "0"
    );
}

#[test]
fn tiles_and_queries_are_byte_identical_over_geopackage_and_postgis() {
    let gpkg = common::Server::start(&common::Backend::Gpkg.demo_store(2_000), &[]);
    let pg = common::Server::start(&common::Backend::Postgis.demo_store(2_000), &[]);
    let (lon, lat) = gpkg.middle_of("parcels");
    let mut compared = 0;
    for z in [8u8, 12, 14, 16] {
        let (x0, y0) = common::tile_of(lon, lat, z);
        for (x, y) in [(x0, y0), (x0 + 1, y0), (x0, y0.saturating_sub(1)), (x0 + 1, y0.saturating_sub(1))] {
            for layers in ["parcels", "parcels,roads,buildings", "wards"] {
                let path = format!("/tiles/{layers}/{z}/{x}/{y}.mvt");
                let (a, b) = (gpkg.get(&path), pg.get(&path));
                assert_eq!(a.0, b.0, "{path}");
                assert!(a.1 == b.1, "{path}: {} vs {} bytes", a.1.len(), b.1.len());
                compared += usize::from(!a.1.is_empty());
            }
        }
    }
    assert!(compared >= 10, "only {compared} non-empty tiles compared");
    for query in [
        format!("/query/nearest?layers=schools&lon={lon}&lat={lat}&k=5"),
        format!("/query/radius?layers=parcels&lon={lon}&lat={lat}&radius_m=300"),
    ] {
        let (a, b) = (gpkg.get(&query), pg.get(&query));
        assert_eq!(a.0, 200, "{query}: {}", String::from_utf8_lossy(&a.1));
        assert!(a.1 == b.1, "{query} differs");
    }
}

fn bando_import(store: &str, file: &std::path::Path, layer: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["import", file.to_str().unwrap(), "--layer", layer, "--store", store];
    args.extend_from_slice(extra);
    common::bando(&args)
}

#[test]
fn replace_swaps_the_layer_in_one_transaction_and_gdal_reads_plain_postgis_tables() {
    let dir = tempfile::tempdir().unwrap();
    let store = common::pg_database();
    let csv = |name: &str, rows: usize| lights_csv(dir.path(), name, rows);
    let flags = LIGHTS;
    let out = bando_import(&store, &csv("a.csv", 3), "lights", &flags);
    assert!(out.status.success(), "{}", common::stderr_of(&out));
    let again = bando_import(&store, &csv("b.csv", 5), "lights", &flags);
    assert!(!again.status.success() && common::stderr_of(&again).contains("--replace"));
    let replaced = bando_import(&store, &csv("b.csv", 5), "lights", &[&flags[..], &["--replace"]].concat());
    assert!(replaced.status.success(), "{}", common::stderr_of(&replaced));

    assert_eq!(common::ogr_feature_count(&store, "lights"), Some(5));
    let (dataset, layer) = common::ogr_layer(&store, "lights");
    let info = std::process::Command::new("ogrinfo")
        .args(["-so", &dataset, &layer])
        .output()
        .unwrap();
    let info = String::from_utf8_lossy(&info.stdout);
    assert!(info.contains("Geometry: Point") && info.contains("FID Column = fid"), "{info}");
    assert!(info.contains("name: String"), "{info}");
    assert_eq!(
        common::pg_sql(
            &store,
            "SELECT type || ' ' || srid FROM geometry_columns WHERE f_table_name = 'lights'"
        ),
        "POINT 4326"
    );
    assert_eq!(
        common::pg_sql(
            &store,
            "SELECT count(*) FROM pg_indexes WHERE tablename = 'lights' AND indexdef LIKE '%gist%'"
        ),
        "1"
    );
    assert_eq!(
        common::pg_sql(&store, "SELECT string_agg(replaced::text, ',' ORDER BY id) FROM bando_meta.imports"),
        "false,true"
    );
    assert_eq!(common::pg_sql(&store, "SELECT value FROM bando_meta.generation"), "2");
    assert_eq!(
        common::pg_sql(&store, "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'bando_new%'"),
        "0"
    );
}

#[test]
fn connection_failures_name_the_fix() {
    let url = common::pg_database();
    let port = url.rsplit(':').next().unwrap().split('/').next().unwrap().to_string();
    common::pg_sql(&url, "SELECT 1");
    let bare = url.replace(url.rsplit('/').next().unwrap(), "no_postgis");
    common::pg_sql(
        &url.replace(url.rsplit('/').next().unwrap(), "postgres"),
        "CREATE DATABASE no_postgis TEMPLATE template0",
    );
    let closed = common::free_port();
    for (store, expect) in [
        (url.replace("bando:bando@", "bando:wrong@"), "user or password"),
        (bare, "CREATE EXTENSION postgis"),
        (url.replace(&format!(":{port}/"), &format!(":{closed}/")), "cannot reach PostgreSQL"),
        (format!("{url}?schema=Not-A-Name"), "schema must be"),
    ] {
        let out = common::bando(&["serve", "--store", &store, "--addr", "127.0.0.1:0"]);
        let err = common::stderr_of(&out);
        assert!(!out.status.success() && err.contains(expect), "{store}: {err}");
        assert!(!err.contains("wrong@"), "the password is never printed: {err}");
    }
}

#[test]
fn api_tokens_live_in_the_postgis_store_too() {
    let store = common::pg_database();
    let created = common::bando(&["token", "create", "--role", "viewer", "--note", "wall", "--store", &store]);
    assert!(created.status.success(), "{}", common::stderr_of(&created));
    let secret = String::from_utf8_lossy(&created.stdout).trim().to_string();
    let hash = common::pg_sql(&store, "SELECT hash FROM bando_meta.tokens WHERE id = 1");
    assert_eq!(hash.len(), 64);
    assert!(!secret.is_empty() && !secret.contains(&hash), "only the hash is stored");
    let revoked = common::bando(&["token", "revoke", "1", "--store", &store]);
    assert!(revoked.status.success(), "{}", common::stderr_of(&revoked));
    let list = common::bando(&["token", "list", "--json", "--store", &store]);
    let list: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(list[0]["note"], "wall");
    assert!(list[0]["revoked"].is_string());
    assert_eq!(common::pg_sql(&store, "SELECT tokens FROM bando_meta.generation"), "2");
    // Both actions are in the audit chain of the PostGIS store, which refuses edits and catches forced ones.
    let actions = common::pg_sql(&store, "SELECT string_agg(action, ',' ORDER BY id) FROM bando_meta.audit");
    assert_eq!(actions, "token.create,token.revoke");
    let verify = common::bando(&["audit", "verify", "--store", &store]);
    assert!(
        String::from_utf8_lossy(&verify.stdout).contains("2 rows, chain intact"),
        "{}",
        common::stderr_of(&verify)
    );
    let edit = common::pg_sql(
        &store,
        "CREATE FUNCTION pg_temp.edit() RETURNS text LANGUAGE plpgsql AS $$ BEGIN \
         UPDATE bando_meta.audit SET role = 'admin' WHERE id = 1; RETURN 'edited'; \
         EXCEPTION WHEN OTHERS THEN RETURN SQLERRM; END $$; SELECT pg_temp.edit()",
    );
    assert!(edit.contains("append-only"), "the table refuses edits: {edit}");
    common::pg_sql(
        &store,
        "ALTER TABLE bando_meta.audit DISABLE TRIGGER audit_append_only; UPDATE bando_meta.audit SET role = 'admin' WHERE id = 1",
    );
    let broken = common::bando(&["audit", "verify", "--store", &store]);
    assert!(!broken.status.success() && common::stderr_of(&broken).contains("audit row 1 was changed"));
}

/// Lights along a street, `rows` of them, as a CSV file in `dir`.
fn lights_csv(dir: &std::path::Path, name: &str, rows: usize) -> std::path::PathBuf {
    let path = dir.join(name);
    let body: String = (0..rows)
        .map(|i| format!("{},{},light {i}\n", 107.5 + i as f64 * 1e-3, 16.4))
        .collect();
    std::fs::write(&path, format!("lon,lat,name\n{body}")).unwrap();
    path
}

const LIGHTS: [&str; 4] = ["--kind", "infrastructure", "--src-crs", "EPSG:4326"];

/// Polls `check` every 20 ms until it holds; panics with `what` after `limit`.
fn within(limit: std::time::Duration, what: &str, mut check: impl FnMut() -> bool) -> std::time::Duration {
    let started = std::time::Instant::now();
    while !check() {
        assert!(started.elapsed() < limit, "{what} within {limit:?}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    started.elapsed()
}

fn feature_count(server: &common::Server, layer: &str) -> Option<u64> {
    let (status, body) = server.get_json(&format!("/layers/{layer}"));
    (status == 200).then(|| body["feature_count"].as_u64()).flatten()
}

#[test]
fn two_replicas_serve_an_import_made_elsewhere_at_once_and_drop_only_its_cached_tiles() {
    let dir = tempfile::tempdir().unwrap();
    let store = common::pg_database();
    let out = common::bando(&["demo", "--parcels", "300", "--store", &store]);
    assert!(out.status.success(), "{}", common::stderr_of(&out));
    let out = bando_import(&store, &lights_csv(dir.path(), "a.csv", 3), "lights", &LIGHTS);
    assert!(out.status.success(), "{}", common::stderr_of(&out));
    // Polling every 60 s: only the notification can explain a pick-up within seconds.
    let replicas = [
        common::Server::start(&store, &["--watch-seconds", "60"]),
        common::Server::start(&store, &["--watch-seconds", "60"]),
    ];
    let (lon, lat) = replicas[0].middle_of("wards");
    let (x, y) = common::tile_of(lon, lat, 12);
    let wards = &format!("/tiles/wards/12/{x}/{y}.mvt");
    for r in &replicas {
        assert_eq!(feature_count(r, "lights"), Some(3));
        r.get(wards);
        assert_eq!(cache_state(r, wards), "hit");
    }
    let more = lights_csv(dir.path(), "b.csv", 5);
    let out = bando_import(&store, &more, "lights", &[&LIGHTS[..], &["--replace"]].concat());
    assert!(out.status.success(), "{}", common::stderr_of(&out));
    let out = bando_import(&store, &more, "poles", &LIGHTS);
    assert!(out.status.success(), "{}", common::stderr_of(&out));
    for r in &replicas {
        within(std::time::Duration::from_secs(5), "the replica serves the re-import", || {
            feature_count(r, "lights") == Some(5) && feature_count(r, "poles") == Some(5)
        });
        assert_eq!(cache_state(r, wards), "hit", "the tiles of layers that did not change stay cached");
        let (status, body) = r.get_json("/ready");
        assert_eq!((status, body["status"].as_str()), (200, Some("ready")), "{body}");
        let m = r.metrics();
        let notified = common::metric(&m, "bando_store_notifications_total", &[]).unwrap_or(0.0);
        assert!(notified >= 2.0, "both imports were announced: {notified}");
        let lag = common::metric(&m, "bando_replica_pickup_lag_seconds", &[]);
        assert!(lag.is_some_and(|l| (0.0..5.0).contains(&l)), "pick-up lag {lag:?}");
        assert!(common::metric(&m, "bando_layer_reloads_total", &[]).is_some_and(|n| n >= 2.0));
        assert_eq!(common::metric(&m, "bando_layer_features", &[("layer", "poles")]), Some(5.0));
    }
}

fn cache_state(server: &common::Server, path: &str) -> String {
    let response = ureq::get(&server.url(path)).call().unwrap();
    response.header("x-cache").unwrap_or("").to_string()
}

#[test]
fn tiles_keep_coming_while_postgresql_is_down_and_ready_reports_degraded_until_it_is_back() {
    let dir = tempfile::tempdir().unwrap();
    let pg = common::OwnCluster::start();
    let out = common::bando(&["demo", "--parcels", "300", "--store", &pg.url]);
    assert!(out.status.success(), "{}", common::stderr_of(&out));
    // No cache: every tile is drawn from the layers in memory while the database is away.
    let server = common::Server::start(&pg.url, &["--watch-seconds", "0.2", "--no-cache"]);
    let (lon, lat) = server.middle_of("parcels");
    let load = TileLoad::start(&server, lon, lat);
    std::thread::sleep(std::time::Duration::from_millis(300));
    pg.halt();
    let status = |s: &common::Server| {
        let (code, body) = s.get_json("/ready");
        (code, body["status"].as_str().unwrap_or("").to_string())
    };
    within(std::time::Duration::from_secs(10), "/ready says degraded", || {
        status(&server) == (503, "degraded".to_string())
    });
    assert_eq!(server.get("/health").0, 200, "/health stays up");
    let refused = bando_import(&pg.url, &lights_csv(dir.path(), "a.csv", 3), "lights", &LIGHTS);
    let err = common::stderr_of(&refused);
    assert!(!refused.status.success() && err.contains("cannot reach PostgreSQL"), "{err}");
    std::thread::sleep(std::time::Duration::from_millis(500));
    pg.resume();
    within(std::time::Duration::from_secs(15), "/ready is 200 again", || {
        status(&server) == (200, "ready".to_string())
    });
    let out = bando_import(&pg.url, &lights_csv(dir.path(), "a.csv", 3), "lights", &LIGHTS);
    assert!(out.status.success(), "{}", common::stderr_of(&out));
    within(std::time::Duration::from_secs(5), "the import after the outage is served", || {
        feature_count(&server, "lights") == Some(3)
    });
    load.finish_without_failures(50);
}

/// Two threads asking a server for tiles around a point, over and over, until finished.
struct TileLoad {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    threads: Vec<std::thread::JoinHandle<(u32, Vec<String>)>>,
}

impl TileLoad {
    fn start(server: &common::Server, lon: f64, lat: f64) -> TileLoad {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let threads = (0..2)
            .map(|t| {
                let (base, stop) = (server.base.clone(), stop.clone());
                std::thread::spawn(move || {
                    let (mut ok, mut failed) = (0u32, Vec::new());
                    let mut i = 0u32;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        let z = 10 + (i + t) % 6;
                        let (x, y) = common::tile_of(lon, lat, z as u8);
                        let url = format!("{base}/tiles/parcels,wards,roads/{z}/{x}/{y}.mvt");
                        // A refused connection is a failure to count, not a panic.
                        match ureq::get(&url).call().map(|r| r.status()) {
                            Ok(200 | 204) => ok += 1,
                            Ok(status) | Err(ureq::Error::Status(status, _)) => failed.push(format!("{url}: {status}")),
                            Err(e) => failed.push(format!("{url}: {e}")),
                        }
                        i += 1;
                    }
                    (ok, failed)
                })
            })
            .collect();
        TileLoad { stop, threads }
    }

    /// Stops the load: the requests answered, and what failed.
    fn finish(self) -> (u32, Vec<String>) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let (mut ok, mut failed) = (0, Vec::new());
        for thread in self.threads {
            let (o, f) = thread.join().unwrap();
            ok += o;
            failed.extend(f);
        }
        (ok, failed)
    }

    /// Stops the load; panics if any request failed or fewer than `at_least` were made.
    fn finish_without_failures(self, at_least: u32) {
        let (ok, failed) = self.finish();
        assert!(
            failed.is_empty(),
            "{} of {} tile requests failed: {:?}",
            failed.len(),
            ok as usize + failed.len(),
            &failed[..failed.len().min(5)]
        );
        assert!(ok > at_least, "only {ok} tile requests made");
    }
}

#[test]
fn a_replica_killed_under_load_leaves_the_other_answering_and_following_imports() {
    let dir = tempfile::tempdir().unwrap();
    let store = common::pg_database();
    let out = common::bando(&["demo", "--parcels", "300", "--store", &store]);
    assert!(out.status.success(), "{}", common::stderr_of(&out));
    let mut doomed = common::Server::start(&store, &["--no-cache"]);
    let survivor = common::Server::start(&store, &["--no-cache"]);
    let (lon, lat) = survivor.middle_of("parcels");
    let on_doomed = TileLoad::start(&doomed, lon, lat);
    let on_survivor = TileLoad::start(&survivor, lon, lat);
    std::thread::sleep(std::time::Duration::from_millis(500));
    doomed.child.kill().unwrap(); // SIGKILL: no goodbye to the database, no shutdown
    doomed.child.wait().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    let out = bando_import(&store, &lights_csv(dir.path(), "a.csv", 3), "lights", &LIGHTS);
    assert!(out.status.success(), "{}", common::stderr_of(&out));
    within(
        std::time::Duration::from_secs(5),
        "the survivor serves an import made after the kill",
        || feature_count(&survivor, "lights") == Some(3),
    );
    let (status, body) = survivor.get_json("/ready");
    assert_eq!((status, body["status"].as_str()), (200, Some("ready")), "{body}");
    on_survivor.finish_without_failures(50);
    // The killed replica's own clients fail once it is gone (a load balancer's /ready check
    // takes it out); it was answering until then.
    let (answered, _) = on_doomed.finish();
    assert!(answered > 10, "the killed replica was under load: {answered} answers");
}
