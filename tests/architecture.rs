//! Architecture invariants of docs/ARCHITECTURE.md, checked on the source text so they cannot
//! drift: every module says what it owns, and the core never sees the web framework.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn sources() -> Vec<PathBuf> {
    let mut files = Vec::new();
    rust_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut files);
    files.sort();
    files
}

#[test]
fn every_module_file_starts_with_a_module_doc() {
    let missing: Vec<String> = sources()
        .into_iter()
        .filter(|p| !std::fs::read_to_string(p).unwrap().trim_start().starts_with("//!"))
        .map(|p| p.display().to_string())
        .collect();
    assert!(missing.is_empty(), "these files lack a `//!` doc saying what they own: {missing:?}");
}

#[test]
fn the_core_never_imports_the_web_framework() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let offenders: Vec<String> = sources()
        .into_iter()
        .filter(|p| {
            let rel = p.strip_prefix(&src).unwrap();
            !(rel.starts_with("server") || rel == Path::new("main.rs"))
        })
        .filter(|p| {
            let text = std::fs::read_to_string(p).unwrap();
            text.contains("axum::") || text.contains("use axum") || text.contains("tower_http")
        })
        .map(|p| p.display().to_string())
        .collect();
    assert!(offenders.is_empty(), "core modules must not use axum/tower-http: {offenders:?}");
}

#[test]
fn the_architecture_document_names_every_top_level_module() {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/ARCHITECTURE.md")).unwrap();
    let lib = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap();
    let missing: Vec<&str> = lib
        .lines()
        .filter_map(|l| l.strip_prefix("pub mod ").and_then(|m| m.strip_suffix(';')))
        .filter(|m| !doc.contains(&format!("src/{m}")))
        .collect();
    assert!(missing.is_empty(), "docs/ARCHITECTURE.md's code map lacks: {missing:?}");
}

/// CI runs exactly README's test command (the second of its two commands), so what a new user
/// runs is what CI judges, formatting and lints included.
#[test]
fn ci_runs_exactly_the_readme_test_command() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let read = |p: &str| std::fs::read_to_string(root.join(p)).unwrap();
    let readme = read("README.md");
    let test_command = readme
        .lines()
        .skip_while(|l| !l.contains("run the whole test suite"))
        .nth(1)
        .expect("README names the test command under '# 2. run the whole test suite'");
    let ci = read(".ci/run");
    assert_eq!(
        ci.lines().last().map(str::trim),
        Some(test_command.trim()),
        ".ci/run's last line must be README's test command"
    );
    for needed in ["cargo fmt --check", "cargo clippy", "-D warnings", "cargo test --release"] {
        assert!(test_command.contains(needed), "the test command lacks {needed}");
    }
}
