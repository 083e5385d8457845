//! `bando backup` and `bando restore`: a whole store as one GeoPackage file, and back.
//!
//! A backup is a [`copy`] of one snapshot of the store (so a layer is in it as one commit left
//! it, never half-written, whatever imports run meanwhile) into `FILE.partial`, with the
//! source's checksums as a manifest (`bando_manifest`: item, count, SHA-256; `bando_backup`:
//! where and when it was taken), verified, then closed into one file (journal mode DELETE),
//! made read-only and renamed to FILE: a FILE that exists is a complete backup. A restore checks
//! every checksum of the file against its manifest first and refuses a file that fails, then
//! copies it into the target (`--replace`: layer by layer, each in one transaction).
//!
//! Owns the manifest and the file's life. Knows no backend beyond the GeoPackage of the file.

use std::path::{Path, PathBuf};

use rusqlite::{params, OptionalExtension};

use super::copy::{self, CopyError, CopyOptions, CopyReport};
use super::digest::{self, Entry};
use super::gpkg::GpkgStore;
use super::{now_iso, Store, StoreError};

/// What can stop a backup or a restore.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(transparent)]
    Copy(#[from] CopyError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0} exists; a backup never overwrites one: choose a new file name (e.g. with the date in it)")]
    Exists(PathBuf),
    #[error("{0} does not exist; give the path of a file `bando backup` wrote")]
    NoFile(PathBuf),
    #[error("{file} cannot be read as a backup ({source}); it is damaged: restore from another backup file")]
    Unreadable {
        file: PathBuf,
        #[source]
        source: StoreError,
    },
    #[error("{0} is a GeoPackage but not a bando backup (it has no bando_manifest); give a file `bando backup` wrote, or copy a store with `bando store copy`")]
    NotABackup(PathBuf),
    #[error("{file} fails its manifest ({}); it was changed or damaged after the backup: nothing was restored, restore from another backup file", .differences.join("; "))]
    Refused { file: PathBuf, differences: Vec<String> },
}

const MANIFEST_SCHEMA: &str = "
CREATE TABLE bando_manifest (item TEXT PRIMARY KEY, count INTEGER NOT NULL, sha256 TEXT NOT NULL);
CREATE TABLE bando_backup (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO gpkg_contents (table_name, data_type, identifier, description) VALUES
  ('bando_manifest', 'attributes', 'bando_manifest', 'bando backup: checksums of every layer, the tokens and the audit log'),
  ('bando_backup', 'attributes', 'bando_backup', 'bando backup: source store, time taken, bando version');
";

/// The file a backup is written to before it is complete.
fn partial(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

/// Removes a file and the SQLite journals beside it, when there.
fn remove_with_journals(file: &Path) -> std::io::Result<()> {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut name = file.as_os_str().to_owned();
        name.push(suffix);
        match std::fs::remove_file(PathBuf::from(name)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

/// Writes a verified backup of `from` to `file`, which must not exist.
pub fn backup(from: &dyn Store, file: &Path) -> Result<CopyReport, BackupError> {
    if file.exists() {
        return Err(BackupError::Exists(file.to_path_buf()));
    }
    let partial = partial(file);
    // A partial file is what an interrupted backup left: never a backup, safe to start over.
    remove_with_journals(&partial).map_err(StoreError::from)?;
    let written = write_partial(from, &partial);
    if written.is_err() {
        let _ = remove_with_journals(&partial);
        return written;
    }
    let mut permissions = std::fs::metadata(&partial).map_err(StoreError::from)?.permissions();
    permissions.set_readonly(true);
    std::fs::set_permissions(&partial, permissions).map_err(StoreError::from)?;
    std::fs::rename(&partial, file).map_err(StoreError::from)?;
    written
}

fn write_partial(from: &dyn Store, partial: &Path) -> Result<CopyReport, BackupError> {
    let target = GpkgStore::open(partial)?;
    let report = copy::copy(from, &target, CopyOptions::default())?;
    write_manifest(&target, &report.manifest, &from.describe())?;
    std::fs::File::open(partial).and_then(|f| f.sync_all()).map_err(StoreError::from)?;
    Ok(report)
}

/// The manifest, in one transaction; then the file becomes one file (no WAL beside it).
fn write_manifest(store: &GpkgStore, manifest: &[Entry], source: &str) -> Result<(), StoreError> {
    let conn = store.reader();
    let tx = conn.unchecked_transaction()?;
    tx.execute_batch(MANIFEST_SCHEMA)?;
    for e in manifest {
        tx.execute(
            "INSERT INTO bando_manifest VALUES (?1, ?2, ?3)",
            params![e.item, e.count as i64, e.sha256],
        )?;
    }
    for (key, value) in [
        ("source", source.to_string()),
        ("taken_at", now_iso()),
        ("bando_version", env!("CARGO_PKG_VERSION").to_string()),
    ] {
        tx.execute("INSERT INTO bando_backup VALUES (?1, ?2)", params![key, value])?;
    }
    tx.commit()?;
    conn.pragma_update(None, "journal_mode", "DELETE")?;
    Ok(())
}

fn read_manifest(store: &GpkgStore, file: &Path) -> Result<Vec<Entry>, BackupError> {
    let conn = store.reader();
    let has = conn
        .query_row("SELECT 1 FROM sqlite_master WHERE name = 'bando_manifest'", [], |_| Ok(()))
        .optional()
        .map_err(StoreError::from)?;
    if has.is_none() {
        return Err(BackupError::NotABackup(file.to_path_buf()));
    }
    let mut stmt = conn
        .prepare("SELECT item, count, sha256 FROM bando_manifest")
        .map_err(StoreError::from)?;
    let rows = stmt
        .query_map([], |r| {
            Ok(Entry {
                item: r.get(0)?,
                count: r.get::<_, i64>(1)? as u64,
                sha256: r.get(2)?,
            })
        })
        .map_err(StoreError::from)?;
    Ok(rows.collect::<Result<Vec<_>, _>>().map_err(StoreError::from)?)
}

/// Restores the backup `file` into `to` after checking it against its manifest.
pub fn restore(file: &Path, to: &dyn Store, options: CopyOptions) -> Result<CopyReport, BackupError> {
    if !file.exists() {
        return Err(BackupError::NoFile(file.to_path_buf()));
    }
    let unreadable = |source: StoreError| BackupError::Unreadable {
        file: file.to_path_buf(),
        source,
    };
    let backup = GpkgStore::open(file).map_err(unreadable)?;
    if backup.describe() == to.describe() {
        return Err(CopyError::SameStore(to.describe()).into());
    }
    let manifest = read_manifest(&backup, file).map_err(|e| match e {
        BackupError::Store(source) => unreadable(source),
        other => other,
    })?;
    let mut snapshot = backup.snapshot().map_err(unreadable)?;
    let found = digest::store(snapshot.as_mut()).map_err(unreadable)?;
    let mut differences = digest::differences(&manifest, &found);
    if let Err(broken) = crate::audit::verify(snapshot.audit_rows().map_err(unreadable)?) {
        differences.push(format!("audit: {broken}"));
    }
    if !differences.is_empty() {
        return Err(BackupError::Refused {
            file: file.to_path_buf(),
            differences,
        });
    }
    Ok(copy::copy_snapshot(snapshot.as_mut(), to, options)?)
}
