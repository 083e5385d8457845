//! Change detection for the folders a running server serves files from (`tilesets/`: scenario
//! files and PMTiles archives): the files with an extension, and a stamp of them (path, modified
//! time, length) that differs once a file is added, removed or rewritten. Polled by the server's
//! watch task; cheap enough for every tick (one `stat` per file).
//!
//! Knows nothing of what the files hold; `scenarios` and `tiles` decide what a change means.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// The files of `dir` named `*.{extension}`, sorted; a missing folder has none.
pub fn files_with_extension(dir: &Path, extension: &str) -> std::io::Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == extension))
        .collect();
    paths.sort();
    Ok(paths)
}

/// What a set of files looked like: each one's path, modification time and length.
#[derive(Debug, Default, PartialEq)]
pub struct FileStamps(Vec<(PathBuf, Option<SystemTime>, u64)>);

impl FileStamps {
    pub fn of(paths: &[PathBuf]) -> FileStamps {
        FileStamps(
            paths
                .iter()
                .map(|path| {
                    let meta = std::fs::metadata(path).ok();
                    let modified = meta.as_ref().and_then(|m| m.modified().ok());
                    (path.clone(), modified, meta.map_or(0, |m| m.len()))
                })
                .collect(),
        )
    }
}

/// The names added to, removed from, or changed between two loads of a folder, where `version`
/// tells whether an entry changed.
pub fn changed_names<T, V: PartialEq>(
    previous: &BTreeMap<String, T>,
    next: &BTreeMap<String, T>,
    version: impl Fn(&T) -> V,
) -> Vec<String> {
    let mut changed: Vec<String> = next
        .iter()
        .filter(|(name, entry)| previous.get(*name).is_none_or(|p| version(p) != version(entry)))
        .map(|(name, _)| name.clone())
        .collect();
    changed.extend(previous.keys().filter(|name| !next.contains_key(*name)).cloned());
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_change_when_a_file_is_added_rewritten_or_removed() {
        let dir = tempfile::tempdir().unwrap();
        let look = || FileStamps::of(&files_with_extension(dir.path(), "toml").unwrap());
        let empty = look();
        std::fs::write(dir.path().join("a.toml"), "x = 1").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "not watched").unwrap();
        let one = look();
        assert_ne!(one, empty);
        assert_eq!(look(), one, "nothing changed");
        std::fs::write(dir.path().join("a.toml"), "x = 12").unwrap();
        assert_ne!(look(), one);
        std::fs::remove_file(dir.path().join("a.toml")).unwrap();
        assert_eq!(look(), empty);
        assert!(files_with_extension(&dir.path().join("missing"), "toml").unwrap().is_empty());
    }
}
