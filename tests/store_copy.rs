//! `bando store copy`, `bando backup` and `bando restore` between GeoPackage files and a real
//! PostgreSQL 15 + PostGIS 3 (the harness's own cluster). What was copied is read back by GDAL
//! (ogr2ogr) and compared by shapely (`tests/py/same_layer.py`), by served tiles, and by the
//! token list and audit chain the commands themselves print.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{bando, stderr_of, Backend, Server};

fn ok(out: Output, what: &str) -> String {
    assert!(out.status.success(), "{what}: {}", stderr_of(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn lights_csv(dir: &Path, name: &str, rows: usize) -> PathBuf {
    let path = dir.join(name);
    let body: String = (0..rows)
        .map(|i| {
            format!(
                "{},{},light {i}\n",
                107.5 + (i % 1000) as f64 * 1e-4,
                16.4 + (i / 1000) as f64 * 1e-4
            )
        })
        .collect();
    std::fs::write(&path, format!("lon,lat,name\n{body}")).unwrap();
    path
}

fn import_lights(store: &str, csv: &Path, replace: bool) -> Command {
    let mut cmd = Command::new(common::bando_bin());
    cmd.args(["import", csv.to_str().unwrap(), "--layer", "lights", "--store", store]);
    cmd.args(["--kind", "infrastructure", "--src-crs", "EPSG:4326"]);
    if replace {
        cmd.arg("--replace");
    }
    cmd
}

/// A store with layers of every geometry kind, a layer imported twice (two history rows), two
/// tokens (one revoked) and their audit rows.
fn rich_store(store: &str, dir: &Path) {
    ok(bando(&["demo", "--parcels", "600", "--store", store]), "demo");
    ok(
        import_lights(store, &lights_csv(dir, "a.csv", 3), false).output().unwrap(),
        "import",
    );
    ok(
        import_lights(store, &lights_csv(dir, "b.csv", 40), true).output().unwrap(),
        "re-import",
    );
    ok(
        bando(&["token", "create", "--role", "viewer", "--note", "wall", "--store", store]),
        "token",
    );
    ok(
        bando(&["token", "create", "--role", "planner", "--scope", "wards:19900", "--store", store]),
        "token",
    );
    ok(bando(&["token", "revoke", "1", "--store", store]), "revoke");
}

/// The layer as GDAL reads it from a store, as GeoJSON with full precision and the fids.
fn ogr_geojson(store: &str, layer: &str, out: &Path) -> String {
    let (dataset, layer) = common::ogr_layer(store, layer);
    let _ = std::fs::remove_file(out);
    let done = Command::new("ogr2ogr")
        .args([
            "-f",
            "GeoJSON",
            "-preserve_fid",
            "-lco",
            "COORDINATE_PRECISION=17",
            "-lco",
            "RFC7946=NO",
        ])
        .args([out.to_str().unwrap(), &dataset, &layer])
        .output()
        .expect("ogr2ogr runs");
    assert!(done.status.success(), "ogr2ogr {dataset} {layer}: {}", stderr_of(&done));
    out.to_str().unwrap().to_string()
}

fn token_list(store: &str) -> serde_json::Value {
    serde_json::from_str(&ok(bando(&["token", "list", "--json", "--store", store]), "token list")).unwrap()
}

fn audit_verify(store: &str) -> String {
    ok(bando(&["audit", "verify", "--store", store]), "audit verify")
        .split(": ")
        .last()
        .unwrap()
        .trim()
        .to_string()
}

/// `/layers/NAME` without what a store assigns itself (import ids).
fn layer_detail(server: &Server, layer: &str) -> serde_json::Value {
    let (status, mut body) = server.get_json(&format!("/layers/{layer}"));
    assert_eq!(status, 200, "{layer}: {body}");
    body.as_object_mut().unwrap().remove("import_id");
    for row in body["history"].as_array_mut().unwrap() {
        row.as_object_mut().unwrap().remove("id");
    }
    body
}

#[test]
fn a_store_copied_from_geopackage_to_postgis_and_back_is_the_same_store() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.gpkg").to_str().unwrap().to_string();
    let b = dir.path().join("b.gpkg").to_str().unwrap().to_string();
    let pg = common::pg_database();
    rich_store(&a, dir.path());
    let printed = ok(bando(&["store", "copy", "--from", &a, "--to", &pg]), "copy to PostGIS");
    assert!(
        printed.contains("layer parcels: 600 features, geometry and attributes verified"),
        "{printed}"
    );
    let chain = audit_verify(&a);
    assert_eq!(chain, "5 rows, chain intact", "two imports and three token actions");
    assert!(
        printed.contains("tokens: 2 carried") && printed.contains("audit log: 5 rows carried"),
        "{printed}"
    );
    ok(bando(&["store", "copy", "--from", &pg, "--to", &b]), "copy back");

    for layer in ["parcels", "roads", "buildings", "schools", "lights"] {
        let reference = ogr_geojson(&a, layer, &dir.path().join("a.geojson"));
        for store in [&pg, &b] {
            let copied = ogr_geojson(store, layer, &dir.path().join("copy.geojson"));
            let same = common::run_checker("python3", &["tests/py/same_layer.py", &reference, &copied]);
            assert!(same.contains("\"same\": true"), "{layer} in {store}: {same}");
        }
    }
    assert_eq!(
        common::pg_sql(&pg, "SELECT count(*) FROM bando_meta.imports WHERE layer = 'lights'"),
        "2"
    );
    let tokens = token_list(&a);
    assert_eq!(tokens.as_array().unwrap().len(), 2);
    assert_eq!((token_list(&pg), token_list(&b)), (tokens.clone(), tokens));
    assert_eq!((audit_verify(&pg), audit_verify(&b)), (chain.clone(), chain));

    // Served from either end, the layers, their history and their tiles are the same.
    let (from_a, from_b) = (Server::start(&a, &[]), Server::start(&b, &[]));
    for layer in ["parcels", "lights", "wards"] {
        assert_eq!(layer_detail(&from_a, layer), layer_detail(&from_b, layer), "{layer}");
    }
    let (lon, lat) = from_a.middle_of("parcels");
    for z in [12u8, 15] {
        let (x, y) = common::tile_of(lon, lat, z);
        let path = format!("/tiles/parcels,roads,buildings/{z}/{x}/{y}.mvt");
        let (ta, tb) = (from_a.get(&path), from_b.get(&path));
        assert!(ta.0 == 200 && ta.1 == tb.1, "{path}");
    }

    // A target that has the layers is refused unless --replace swaps them in.
    let again = bando(&["store", "copy", "--from", &a, "--to", &pg]);
    assert!(
        !again.status.success() && stderr_of(&again).contains("--replace"),
        "{}",
        stderr_of(&again)
    );
    ok(
        bando(&["store", "copy", "--from", &a, "--to", &pg, "--replace"]),
        "copy with --replace",
    );
    assert_eq!(common::ogr_feature_count(&pg, "parcels"), Some(600));
    let itself = bando(&["store", "copy", "--from", &a, "--to", &a]);
    assert!(!itself.status.success() && stderr_of(&itself).contains("same store"));
}

/// The `layer/...` rows of a backup's manifest, sorted: what the layers were when it was taken.
fn layer_manifest(file: &Path) -> String {
    let out = Command::new("sqlite3")
        .arg(file)
        .arg("SELECT item || ' ' || count || ' ' || sha256 FROM bando_manifest WHERE item LIKE 'layer/%' ORDER BY item")
        .output()
        .expect("sqlite3 runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Whether the import is inside its COPY (its transaction open, nothing committed yet).
fn import_copying(backend: Backend, store: &str) -> bool {
    backend == Backend::Postgis
        && common::pg_sql(
            store,
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY %bando_new_%' AND state = 'active'",
        ) != "0"
}

#[test]
fn a_backup_taken_during_an_import_restores_the_state_before_or_after_it_never_between() {
    for backend in Backend::ALL {
        let dir = tempfile::tempdir().unwrap();
        let store = backend.fresh_store(dir.path());
        ok(bando(&["demo", "--parcels", "300", "--store", &store]), "demo");
        ok(
            import_lights(&store, &lights_csv(dir.path(), "few.csv", 3), false)
                .output()
                .unwrap(),
            "import",
        );
        let before = dir.path().join("before.gpkg");
        ok(
            bando(&["backup", "--store", &store, "--to", before.to_str().unwrap()]),
            "backup before",
        );

        let many = lights_csv(dir.path(), "many.csv", 150_000);
        let mut import = import_lights(&store, &many, true).spawn().unwrap();
        if backend == Backend::Postgis {
            let started = std::time::Instant::now();
            while !import_copying(backend, &store) {
                assert!(import.try_wait().unwrap().is_none(), "the import ended before its COPY was seen");
                assert!(started.elapsed() < std::time::Duration::from_secs(60));
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
        let mut during = Vec::new();
        let mut while_copying = 0;
        loop {
            let copying = import_copying(backend, &store);
            let file = dir.path().join(format!("during-{}.gpkg", during.len()));
            ok(
                bando(&["backup", "--store", &store, "--to", file.to_str().unwrap()]),
                "backup during",
            );
            while_copying += usize::from(copying);
            during.push(file);
            if import.try_wait().unwrap().is_some() || during.len() == 30 {
                break;
            }
        }
        assert!(import.wait().unwrap().success(), "the import succeeds beside the backups");
        let after = dir.path().join("after.gpkg");
        ok(
            bando(&["backup", "--store", &store, "--to", after.to_str().unwrap()]),
            "backup after",
        );
        let (was, is) = (layer_manifest(&before), layer_manifest(&after));
        assert_ne!(was, is);
        assert!(is.contains("layer/lights/geometry 150000 "), "{is}");
        for file in &during {
            let taken = layer_manifest(file);
            assert!(
                taken == was || taken == is,
                "{backend:?} {}: neither before nor after:\n{taken}",
                file.display()
            );
        }
        if backend == Backend::Postgis {
            assert!(while_copying >= 1, "a backup was taken while the import was writing");
        }

        // The first backup taken during the import, restored, is that state again.
        let target = backend.fresh_store(&dir.path().join("restored"));
        let printed = ok(bando(&["restore", during[0].to_str().unwrap(), "--to", &target]), "restore");
        assert!(printed.contains("geometry and attributes verified"), "{printed}");
        let again = dir.path().join("restored-backup.gpkg");
        ok(
            bando(&["backup", "--store", &target, "--to", again.to_str().unwrap()]),
            "backup of the restore",
        );
        assert_eq!(layer_manifest(&again), layer_manifest(&during[0]), "{backend:?}");
        let lights = common::ogr_feature_count(&target, "lights");
        assert!(lights == Some(3) || lights == Some(150_000), "{lights:?}");
        let existing = bando(&["backup", "--store", &store, "--to", after.to_str().unwrap()]);
        assert!(!existing.status.success() && stderr_of(&existing).contains("never overwrites"));
    }
}

/// Edits a backup file as someone with sqlite would (the R-tree triggers need the GeoPackage
/// envelope functions, given here as stand-ins).
fn tamper(file: &Path, sql: &str) {
    let mut permissions = std::fs::metadata(file).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    permissions.set_readonly(false);
    std::fs::set_permissions(file, permissions).unwrap();
    let script = "import sqlite3, sys\n\
        c = sqlite3.connect(sys.argv[1])\n\
        for name in ['ST_MinX', 'ST_MaxX', 'ST_MinY', 'ST_MaxY', 'ST_IsEmpty']:\n    c.create_function(name, 1, lambda g: 0)\n\
        c.executescript(sys.argv[2])\n\
        c.commit()\n";
    common::run_checker("python3", &["-c", script, file.to_str().unwrap(), sql]);
}

#[test]
fn a_damaged_or_changed_backup_is_refused_and_nothing_is_restored() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.gpkg").to_str().unwrap().to_string();
    rich_store(&store, dir.path());
    let good = dir.path().join("good.gpkg");
    ok(bando(&["backup", "--store", &store, "--to", good.to_str().unwrap()]), "backup");
    assert!(std::fs::metadata(&good).unwrap().permissions().readonly(), "a backup is read-only");

    let variant = |name: &str| {
        let file = dir.path().join(name);
        std::fs::copy(&good, &file).unwrap();
        file
    };
    let attribute = variant("attribute.gpkg");
    tamper(&attribute, "UPDATE parcels SET land_use = 'XYZ' WHERE fid = 5");
    let history = variant("history.gpkg");
    tamper(
        &history,
        "UPDATE bando_imports SET source_file = 'elsewhere.csv' WHERE layer = 'lights'",
    );
    let token = variant("token.gpkg");
    tamper(&token, "UPDATE bando_tokens SET revoked_unix = NULL");
    let truncated = variant("truncated.gpkg");
    let bytes = std::fs::read(&good).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();

    let target = common::pg_database();
    for (file, expect) in [
        (&attribute, "layer/parcels/attributes"),
        (&history, "layer/lights/catalog"),
        (&token, "tokens"),
        (&truncated, "cannot be read as a backup"),
        (&PathBuf::from(&store), "not a bando backup"),
        (&dir.path().join("missing.gpkg"), "does not exist"),
    ] {
        let out = bando(&["restore", file.to_str().unwrap(), "--to", &target]);
        let err = stderr_of(&out);
        assert!(!out.status.success() && err.contains(expect), "{}: {err}", file.display());
        if err.contains("fails its manifest") {
            assert!(err.contains("nothing was restored"), "{err}");
        }
        assert_eq!(
            common::pg_sql(&target, "SELECT count(*) FROM bando_meta.layers"),
            "0",
            "{}",
            file.display()
        );
    }
    let printed = ok(bando(&["restore", good.to_str().unwrap(), "--to", &target]), "restore");
    assert!(printed.contains("tokens: 2 carried"), "{printed}");
    assert_eq!(token_list(&target), token_list(&store));
    // Into a store that has the layers: refused without --replace, swapped in with it.
    let again = bando(&["restore", good.to_str().unwrap(), "--to", &target]);
    assert!(!again.status.success() && stderr_of(&again).contains("--replace"));
    let replaced = ok(
        bando(&["restore", good.to_str().unwrap(), "--to", &target, "--replace"]),
        "restore --replace",
    );
    assert!(replaced.contains("kept it"), "the target's own audit chain is kept: {replaced}");
    assert_eq!(common::ogr_feature_count(&target, "lights"), Some(40));
}
