//! Shared harness for integration tests: the real `bando` binary, a demo store built once per
//! test binary, servers on free loopback ports, and the outside checkers (python3, node).
#![allow(dead_code)] // each test binary uses its own subset of the harness

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub fn bando_bin() -> &'static str {
    env!("CARGO_BIN_EXE_bando")
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `bando ARGS` to completion.
pub fn bando(args: &[&str]) -> Output {
    Command::new(bando_bin())
        .args(args)
        .current_dir(repo_root())
        .output()
        .expect("bando runs")
}

pub fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A demo store with `parcels` parcels, built once per test binary and shared read-only.
pub fn demo_store(parcels: usize) -> PathBuf {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    let dir = DIR.get_or_init(|| tempfile::tempdir().expect("temp dir"));
    let path = dir.path().join(format!("demo-{parcels}.gpkg"));
    // Tests run in parallel threads: one builds, the others wait (two builds would share a temp file).
    static BUILDING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = BUILDING.lock().unwrap_or_else(|e| e.into_inner());
    if !path.exists() {
        let out = bando(&["demo", "--parcels", &parcels.to_string(), "--store", path.to_str().unwrap()]);
        assert!(out.status.success(), "demo build failed: {}", stderr_of(&out));
    }
    path
}

/// A file of the shared real data (../shared/data), or None with a visible note when it is absent
/// (a clean clone on another machine has no ../shared).
pub fn shared_data(relative: &str) -> Option<PathBuf> {
    let path = repo_root().join("../shared/data").join(relative);
    if path.exists() {
        Some(path)
    } else {
        eprintln!(
            "SKIPPED: {} is absent (the shared real data is not on this machine)",
            path.display()
        );
        None
    }
}

/// Central Helsinki's OSM multipolygons (buildings and other areas, 1 km x 1.7 km) imported as
/// a building layer `helsinki`, with the height tags kept by tests/fixtures/osmconf.ini; built once
/// per test binary. Real shapes and heights that nobody here drew; None without the shared data.
pub fn helsinki_store() -> Option<PathBuf> {
    let source = shared_data("osm/Helsinki.osm.pbf")?;
    static STORE: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, path) = STORE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("helsinki.gpkg");
        let out = Command::new(bando_bin())
            .args(["import", source.to_str().unwrap(), "--layer", "helsinki", "--kind", "building"])
            .args(["--source-layer", "multipolygons", "--region", "24,60,26,61", "--repair"])
            .args(["--store", path.to_str().unwrap()])
            .env("OSM_CONFIG_FILE", repo_root().join("tests/fixtures/osmconf.ini"))
            .output()
            .expect("bando runs");
        assert!(out.status.success(), "Helsinki import failed: {}", stderr_of(&out));
        (dir, path)
    });
    Some(path.clone())
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A running `bando serve`, killed on drop.
pub struct Server {
    pub child: Child,
    pub base: String,
}

impl Server {
    /// `bando serve --store STORE EXTRA...`; STORE is a GeoPackage path or a PostGIS URL.
    pub fn start(store: &(impl AsRef<std::ffi::OsStr> + ?Sized), extra: &[&str]) -> Server {
        let mut args = vec!["--store", store.as_ref().to_str().unwrap()];
        args.extend_from_slice(extra);
        Server::start_in(&repo_root(), &args)
    }

    /// `bando serve ARGS --addr <free port>` with `dir` as the working directory.
    pub fn start_in(dir: &Path, args: &[&str]) -> Server {
        // Server logs only when asked for (BANDO_TEST_LOG=1), so CI output stays readable.
        let stderr = if std::env::var_os("BANDO_TEST_LOG").is_some() {
            Stdio::inherit()
        } else {
            Stdio::null()
        };
        Server::spawn(dir, args, stderr, &[])
    }

    /// Like [`Server::start_in`], with the server's log (at `BANDO_LOG=level`) written to `log`.
    pub fn start_logged(dir: &Path, args: &[&str], log: &Path, level: &str) -> Server {
        let file = std::fs::File::create(log).expect("log file");
        Server::spawn(dir, args, Stdio::from(file), &[("BANDO_LOG", level)])
    }

    fn spawn(dir: &Path, args: &[&str], stderr: Stdio, env: &[(&str, &str)]) -> Server {
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let child = Command::new(bando_bin())
            .arg("serve")
            .args(args)
            .args(["--addr", &addr])
            .envs(env.iter().copied())
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("bando serve starts");
        let server = Server {
            child,
            base: format!("http://{addr}"),
        };
        server.wait_ready(Duration::from_secs(60));
        server
    }

    fn wait_ready(&self, limit: Duration) {
        let started = Instant::now();
        while started.elapsed() < limit {
            if ureq::get(&format!("{}/ready", self.base)).call().is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("server at {} not ready within {limit:?}", self.base);
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// GET returning (status, body bytes, content-type) for any status.
    pub fn get(&self, path: &str) -> (u16, Vec<u8>, String) {
        fetch(&self.url(path))
    }

    /// Each path answers its status with a JSON error carrying a message.
    pub fn assert_json_errors(&self, cases: &[(&str, u16)]) {
        for &(path, want) in cases {
            let (status, body) = self.get_json(path);
            assert_eq!(status, want, "{path}: {body}");
            assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{path}: {body}");
        }
    }

    /// The samples of its `GET /metrics`, as prometheus_client's parser reads them
    /// (tests/py/prom_metrics.py): `{"samples": [{name, labels, value}], "types": {family: type}}`.
    pub fn metrics(&self) -> serde_json::Value {
        let (status, body, content_type) = self.get("/metrics");
        assert_eq!(status, 200);
        assert_eq!(content_type, "text/plain");
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), &body).unwrap();
        let parsed = run_checker("python3", &["tests/py/prom_metrics.py", file.path().to_str().unwrap()]);
        serde_json::from_str(&parsed).unwrap()
    }

    /// The middle of a layer's bounding box, as the server reports it: (lon, lat).
    pub fn middle_of(&self, layer: &str) -> (f64, f64) {
        let (_, meta) = self.get_json(&format!("/layers/{layer}"));
        let b = &meta["bbox"];
        let mid = |low: &str, high: &str| (b[low].as_f64().unwrap() + b[high].as_f64().unwrap()) / 2.0;
        (mid("west", "east"), mid("south", "north"))
    }

    pub fn get_json(&self, path: &str) -> (u16, serde_json::Value) {
        let (status, body, _) = self.get(path);
        let json = serde_json::from_slice(&body)
            .unwrap_or_else(|e| panic!("{path} answered {status} with non-JSON ({e}): {}", String::from_utf8_lossy(&body)));
        (status, json)
    }
}

/// The value of the sample `name` of [`Server::metrics`] whose labels include all of `labels`.
pub fn metric(scraped: &serde_json::Value, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    scraped["samples"]
        .as_array()?
        .iter()
        .find(|s| s["name"] == name && labels.iter().all(|(k, v)| s["labels"][*k] == *v))
        .and_then(|s| s["value"].as_f64())
}

/// The tile x, y at zoom z that holds lon, lat.
pub fn tile_of(lon: f64, lat: f64, z: u8) -> (u32, u32) {
    let n = f64::from(1u32 << z);
    let x = ((lon + 180.0) / 360.0 * n) as u32;
    let lat = lat.to_radians();
    let y = ((1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / std::f64::consts::PI) / 2.0 * n) as u32;
    (x, y)
}

pub fn fetch(url: &str) -> (u16, Vec<u8>, String) {
    let response = match ureq::get(url).call() {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("GET {url}: {e}"),
    };
    let status = response.status();
    let content_type = response.content_type().to_string();
    let mut body = Vec::new();
    std::io::Read::read_to_end(&mut response.into_reader(), &mut body).unwrap();
    (status, body, content_type)
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs an outside checker (python3 or node) and returns its stdout; panics with its stderr on failure.
pub fn run_checker(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .current_dir(repo_root())
        .output()
        .unwrap_or_else(|e| panic!("{program} is not available ({e}); run `bash .ci/setup --test` first"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The store backends every backend-neutral test runs against.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Backend {
    Gpkg,
    Postgis,
}

impl Backend {
    pub const ALL: [Backend; 2] = [Backend::Gpkg, Backend::Postgis];

    /// A fresh, empty store as a `--store` value: a file in `dir`, or a new PostGIS database.
    pub fn fresh_store(self, dir: &Path) -> String {
        match self {
            Backend::Gpkg => dir.join("store.gpkg").to_str().unwrap().to_string(),
            Backend::Postgis => pg_database(),
        }
    }

    /// The demo province with `parcels` parcels, built once per test binary and backend.
    pub fn demo_store(self, parcels: usize) -> String {
        match self {
            Backend::Gpkg => demo_store(parcels).to_str().unwrap().to_string(),
            Backend::Postgis => {
                static BUILT: std::sync::Mutex<Vec<(usize, String)>> = std::sync::Mutex::new(Vec::new());
                let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
                if let Some((_, url)) = built.iter().find(|(n, _)| *n == parcels) {
                    return url.clone();
                }
                let url = pg_database();
                let out = bando(&["demo", "--parcels", &parcels.to_string(), "--store", &url]);
                assert!(out.status.success(), "demo build into PostGIS failed: {}", stderr_of(&out));
                built.push((parcels, url.clone()));
                url
            }
        }
    }
}

/// GDAL's names of a store's layer, (dataset, layer), for ogrinfo and ogr2ogr.
pub fn ogr_layer(store: &str, layer: &str) -> (String, String) {
    if store.starts_with("postgresql://") {
        let schema = store.split("schema=").nth(1).unwrap_or("bando");
        (format!("PG:{}", store.split('?').next().unwrap()), format!("{schema}.{layer}"))
    } else {
        (store.to_string(), layer.to_string())
    }
}

/// `ogrinfo -so` of a store's layer: its feature count, or None when GDAL cannot open it.
pub fn ogr_feature_count(store: &str, layer: &str) -> Option<u64> {
    let (dataset, layer) = ogr_layer(store, layer);
    let out = Command::new("ogrinfo")
        .args(["-so", &dataset, &layer])
        .output()
        .expect("ogrinfo runs");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("Feature Count: "))
        .and_then(|n| n.trim().parse().ok())
}

/// The PostgreSQL 15 + PostGIS 3 cluster of this test binary (`tests/pg/cluster.sh`): started on
/// first use on a free port and a data directory of its own, stopped and removed by the script's
/// watcher once the test binary exits.
struct PgCluster {
    port: u16,
}

fn pg_cluster() -> &'static PgCluster {
    static CLUSTER: OnceLock<PgCluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        let (_, port) = start_cluster(&std::process::id().to_string());
        PgCluster { port }
    })
}

/// `tests/pg/cluster.sh ARGS`, which must succeed.
fn cluster_script(args: &[&str]) -> String {
    let out = Command::new("bash")
        .arg(repo_root().join("tests/pg/cluster.sh"))
        .args(args)
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "tests/pg/cluster.sh {args:?} failed (run `bash .ci/setup --test`): {}",
        stderr_of(&out)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Starts a cluster in a new temporary folder on a free port; `watched` is the pid whose exit
/// stops it and removes the folder.
fn start_cluster(watched: &str) -> (PathBuf, u16) {
    let dir = tempfile::Builder::new().prefix("bando-pg-").tempdir().expect("temp dir").keep();
    // The server runs as user postgres when the tests run as root: it must reach the folder.
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let port = free_port();
    cluster_script(&["start", dir.to_str().unwrap(), &port.to_string(), watched]);
    (dir, port)
}

/// A PostgreSQL + PostGIS cluster of one test's own, which the test may stop and start again
/// (an outage) without disturbing the other tests; removed on drop.
pub struct OwnCluster {
    dir: PathBuf,
    port: u16,
    /// The `bando` database with PostGIS, as a `--store` URL.
    pub url: String,
}

impl OwnCluster {
    pub fn start() -> OwnCluster {
        let (dir, port) = start_cluster(&std::process::id().to_string());
        let url = format!("postgresql://bando:bando@127.0.0.1:{port}/bando");
        OwnCluster { dir, port, url }
    }

    /// Stops the server (fast shutdown: every connection is closed), keeping its data.
    pub fn halt(&self) {
        cluster_script(&["halt", self.dir.to_str().unwrap()]);
    }

    /// Starts the halted server again, on the same port.
    pub fn resume(&self) {
        cluster_script(&["resume", self.dir.to_str().unwrap(), &self.port.to_string()]);
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(repo_root().join("tests/pg/cluster.sh"))
            .args(["stop", self.dir.to_str().unwrap()])
            .output();
    }
}

/// A fresh, empty PostGIS database on this test binary's cluster, as a `--store` URL.
pub fn pg_database() -> String {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    // CREATE DATABASE copies the template: two copies of one template at once are refused.
    static CREATING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let cluster = pg_cluster();
    let name = format!("test_{}", NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst));
    let _one_at_a_time = CREATING.lock().unwrap_or_else(|e| e.into_inner());
    psql(cluster.port, "postgres", &format!("CREATE DATABASE {name} TEMPLATE bando"));
    format!("postgresql://bando:bando@127.0.0.1:{}/{name}", cluster.port)
}

/// Runs one SQL statement with psql on the test cluster and returns its unaligned output.
pub fn pg_sql(url: &str, sql: &str) -> String {
    let db = url.rsplit('/').next().unwrap().split('?').next().unwrap();
    psql(pg_cluster().port, db, sql)
}

fn psql(port: u16, db: &str, sql: &str) -> String {
    let out = Command::new("/usr/lib/postgresql/15/bin/psql")
        .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-U", "bando"])
        .args(["-p", &port.to_string(), "-d", db, "-c", sql])
        .env("PGPASSWORD", "bando")
        .output()
        .expect("psql runs");
    assert!(out.status.success(), "psql {sql}: {}", stderr_of(&out));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}
