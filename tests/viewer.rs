//! The web viewer in a real browser (Debian's headless chromium driven by playwright-core, no
//! browser download) against a real `bando serve` over the demo province:
//! `tests/js/viewer.test.mjs` does the clicking; these tests start the server and run it, one
//! part per test so a failure says which API it depends on.
//!
//! - `viewer_core` needs only the foundation's routes (/, /viewer, /vendor, /layers);
//!   `viewer_core_without_libraries` serves a web folder without node_modules.
//! - `viewer_scenario_map_needs_tiles` needs issue 3 (scenarios, styles, tiles, glyphs).
//! - `viewer_query_tools_needs_queries` needs issues 3 and 4 (queries, stats, indicators).
//! - `viewer_3d_city_needs_3d_tiles` needs issue 5 (3D Tiles).
//!
//! Screenshots are kept in `tests/artifacts/viewer/` (gitignored).
mod common;

use std::process::Command;
use std::sync::Mutex;

use common::*;

/// One browser at a time: WebGL in software (SwiftShader) on a small machine.
static BROWSER: Mutex<()> = Mutex::new(());

fn run_part(part: &str) {
    run_part_with(part, &[]);
}

fn run_part_with(part: &str, serve_args: &[&str]) {
    let _one_at_a_time = BROWSER.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let root = repo_root();
    assert!(
        root.join("web/node_modules/maplibre-gl/dist/maplibre-gl.mjs").exists(),
        "the viewer's libraries are missing: run `bash .ci/setup` (npm ci in web/)"
    );
    assert!(
        root.join("tests/js/node_modules/playwright-core").exists(),
        "playwright-core is missing: run `bash .ci/setup --test`"
    );
    let server = Server::start(&demo_store(2_000), serve_args);
    let artifacts = root.join("tests/artifacts/viewer");
    let out = Command::new("node")
        .arg(root.join("tests/js/viewer.test.mjs"))
        .arg(&server.base)
        .arg(&artifacts)
        .arg(part)
        .current_dir(&root)
        .output()
        .unwrap_or_else(|e| panic!("node is not available ({e}); run `bash .ci/setup --test`"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "viewer browser test part '{part}' failed:\n{stdout}\n{stderr}"
    );
}

#[test]
fn viewer_core() {
    run_part("core");
}

/// A `--web` folder without its npm libraries: the page must say so, not stay blank.
#[test]
fn viewer_core_without_libraries() {
    let web = tempfile::tempdir().expect("temp dir");
    let src = repo_root().join("web");
    std::fs::copy(src.join("index.html"), web.path().join("index.html")).expect("copy index.html");
    std::fs::create_dir(web.path().join("viewer")).expect("viewer dir");
    for entry in std::fs::read_dir(src.join("viewer")).expect("web/viewer") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), web.path().join("viewer").join(entry.file_name())).expect("copy viewer file");
    }
    run_part_with("nolibs", &["--web", web.path().to_str().expect("utf-8 temp path")]);
}

#[test]
fn viewer_scenario_map_needs_tiles() {
    run_part("map");
}

#[test]
fn viewer_query_tools_needs_queries() {
    run_part("query");
}

#[test]
fn viewer_3d_city_needs_3d_tiles() {
    run_part("3d");
}
