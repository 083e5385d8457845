//! The PMTiles archives a server serves by name (file stem): every `*.pmtiles` in the tilesets
//! folder and each file given with `--pmtiles`. An archive added, replaced or removed while the
//! server runs is picked up by [`Archives::reload_if_changed`]; one that does not open (a copy
//! still being written) is skipped, or keeps its previous version, until it does.
//!
//! Owns which archives are served; reading one is `pmtiles`. Knows nothing of HTTP.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;

use super::pmtiles::{DirectoryCache, PmtilesArchive};
use super::TileError;
use crate::watch::{changed_names, files_with_extension, FileStamps};

type ByName = BTreeMap<String, Arc<PmtilesArchive>>;

pub struct Archives {
    served: ArcSwap<ByName>,
    /// The leaf directories of every served archive, under one budget.
    directories: DirectoryCache,
    /// The folder and the named files, and how they looked when last opened.
    sources: Mutex<(PathBuf, Vec<PathBuf>, FileStamps)>,
}

/// Every archive file to serve: the folder's, then the named ones.
fn archive_files(dir: &Path, named: &[PathBuf]) -> Vec<PathBuf> {
    let mut paths = files_with_extension(dir, "pmtiles").unwrap_or_default();
    paths.extend(named.iter().cloned());
    paths
}

impl Archives {
    /// No archives; leaf directories will be cached within `directory_budget` bytes (0 = off).
    pub fn none(directory_budget: u64) -> Archives {
        Archives {
            served: ArcSwap::from_pointee(BTreeMap::new()),
            directories: DirectoryCache::new(directory_budget),
            sources: Mutex::new((PathBuf::new(), Vec::new(), FileStamps::default())),
        }
    }

    /// Opens every archive of `dir` and `named`; at start-up one that does not open is an error.
    pub fn open(dir: &Path, named: &[PathBuf], directory_budget: u64) -> Result<Archives, TileError> {
        let paths = archive_files(dir, named);
        let stamps = FileStamps::of(&paths);
        let directories = DirectoryCache::new(directory_budget);
        let mut served = BTreeMap::new();
        for path in &paths {
            let archive = PmtilesArchive::open(path, &directories)?;
            tracing::info!(name = %archive.name, path = %path.display(), "serving PMTiles archive");
            served.insert(archive.name.clone(), Arc::new(archive));
        }
        Ok(Archives {
            served: ArcSwap::from_pointee(served),
            directories,
            sources: Mutex::new((dir.to_path_buf(), named.to_vec(), stamps)),
        })
    }

    pub fn get(&self, name: &str) -> Option<Arc<PmtilesArchive>> {
        self.served.load().get(name).cloned()
    }

    /// Reopens the archives if a file was added, replaced or removed since the last look, and
    /// returns the names that were added, changed or removed.
    pub fn reload_if_changed(&self) -> Vec<String> {
        let mut sources = self.sources.lock().unwrap_or_else(|e| e.into_inner());
        let paths = archive_files(&sources.0, &sources.1);
        let stamps = FileStamps::of(&paths);
        if stamps == sources.2 {
            return Vec::new();
        }
        sources.2 = stamps;
        let previous = self.served.load_full();
        let mut next = BTreeMap::new();
        for path in &paths {
            match PmtilesArchive::open(path, &self.directories) {
                Ok(archive) => {
                    next.insert(archive.name.clone(), Arc::new(archive));
                }
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "PMTiles archive does not open (yet); not served until it does");
                    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
                    if let Some(old) = previous.get(stem) {
                        next.insert(old.name.clone(), old.clone());
                    }
                }
            }
        }
        let changed = changed_names(&previous, &next, |a| a.version.clone());
        self.served.store(Arc::new(next));
        changed
    }
}
