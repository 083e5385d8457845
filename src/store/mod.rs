//! Persistent storage of layers: the catalog (what was imported, from where, when) and the
//! features themselves. [`Store`] is the seam; [`gpkg::GpkgStore`] is the embedded default, one
//! OGC GeoPackage file that ogrinfo and QGIS open as an ordinary GeoPackage;
//! [`postgis::PostgisStore`] keeps the same layers as plain PostGIS tables for deployments that
//! share one database. [`open`] decides from the `--store` string which one it is.
//! [`copy`] moves a whole store to another (and `bando backup` / `bando restore` are copies to
//! and from a GeoPackage snapshot with a manifest), through [`Store::snapshot`] and
//! [`LayerWriter::commit_copied`], the same on both backends; [`digest`] is what it verifies.
//!
//! Owns: table layout, transactions, the catalog and import history. Does not know about file
//! formats of survey data (that is `import`), coordinate systems (everything stored is EPSG:4326),
//! spatial indexes in memory (`index`) or HTTP.

pub mod backup;
mod catalog_row;
pub mod copy;
pub mod digest;
pub mod gpkg;
mod gpkg_audit;
mod gpkg_live;
mod gpkg_rtree;
mod gpkg_tokens;
pub mod postgis;
mod postgis_audit;
mod postgis_listen;
mod postgis_tokens;
pub mod wkb;

use std::path::PathBuf;

use serde::Serialize;

use crate::feature::{Bbox, Feature, FieldDef, GeometryKind, LayerKind};

/// What went wrong in the store; each variant says how to fix it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("store {path} is not a GeoPackage bando can use ({reason}); restore it from a backup or point --store at another file")]
    Corrupt { path: PathBuf, reason: String },
    #[error("store {path} is read-only; make it writable (chmod u+w) or choose another --store")]
    ReadOnly { path: PathBuf },
    #[error("layer '{0}' already exists; pass --replace to swap it in one transaction, or choose another --layer")]
    LayerExists(String),
    #[error("no layer named '{0}'; GET /layers lists the layers in the store")]
    NoSuchLayer(String),
    #[error("invalid layer name '{0}': use 1-63 characters a-z, 0-9 and _, starting with a letter")]
    BadLayerName(String),
    #[error("geometry of feature {fid} in layer '{layer}' cannot be decoded: {source}; re-import the layer")]
    BadGeometry {
        layer: String,
        fid: i64,
        #[source]
        source: wkb::WkbError,
    },
    #[error("cannot reach PostgreSQL at {target} ({source}); check that the server runs and listens there, and the host and port in the --store URL")]
    Unreachable {
        target: String,
        #[source]
        source: BackendError,
    },
    #[error("PostgreSQL at {target} refused the user or password; fix them in the --store URL (postgresql://user:password@host:port/db)")]
    WrongLogin { target: String },
    #[error("database {target} has no PostGIS; run `CREATE EXTENSION postgis;` in it as a superuser, or point --store at a database that has it")]
    NoPostgis { target: String },
    #[error("--store {url} is not a PostgreSQL URL bando can use ({reason}); write postgresql://user:password@host:port/db[?schema=NAME]")]
    BadUrl { url: String, reason: String },
    /// Any other failure of the database behind the store (SQLite or PostgreSQL).
    #[error("store database error: {0}")]
    Database(#[source] BackendError),
    #[error("store I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("no token with id {0}; `bando token list` shows the tokens")]
    NoSuchToken(i64),
    /// Something this kind of store does not keep yet; the message says what to use instead.
    #[error("{0}")]
    Unsupported(String),
    #[error("feature id {id} of layer '{layer}' does not follow id {last}: a copy writes ids in increasing order; the source store is damaged, restore it from a backup")]
    IdOrder { layer: String, id: i64, last: i64 },
    #[error("PostgreSQL at {target}: imports kept creating layers (the last '{layer}') while a snapshot was being taken; try again when they are done")]
    Busy { target: String, layer: String },
    #[error("layer '{layer}' copied from another store has no import history; the source store is damaged, restore it from a backup")]
    NoHistory { layer: String },
}

/// The cause of a [`StoreError::Database`] or [`StoreError::Unreachable`], whichever backend raised it.
pub type BackendError = Box<dyn std::error::Error + Send + Sync>;

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> StoreError {
        StoreError::Database(Box::new(e))
    }
}

/// A layer as the catalog describes it.
#[derive(Debug, Clone, Serialize)]
pub struct LayerMeta {
    pub name: String,
    pub kind: LayerKind,
    pub geometry_type: GeometryKind,
    pub feature_count: u64,
    pub bbox: Option<Bbox>,
    pub fields: Vec<FieldDef>,
    pub source_file: String,
    pub source_sha256: String,
    pub source_crs: String,
    pub imported_at: String,
    /// Id of the import that wrote the layer's current contents; changes on every re-import.
    pub import_id: i64,
}

/// What a layer write found while writing: what its catalog entry learns only at the end.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Written {
    pub geometry_type: GeometryKind,
    pub feature_count: u64,
    pub bbox: Option<Bbox>,
}

impl LayerMeta {
    /// The catalog entry of a layer just committed: what it declared, what was written, and the
    /// import (`import_id`, with its provenance) that wrote it.
    pub(crate) fn written(spec: &NewLayer, written: Written, import: ImportRecord, import_id: i64) -> LayerMeta {
        LayerMeta {
            name: spec.name.clone(),
            kind: spec.kind,
            geometry_type: written.geometry_type,
            feature_count: written.feature_count,
            bbox: written.bbox,
            fields: spec.fields.clone(),
            source_file: import.source_file,
            source_sha256: import.source_sha256,
            source_crs: import.source_crs,
            imported_at: import.imported_at,
            import_id,
        }
    }

    /// A catalog entry with no provenance yet (for layers built in memory: tests, benchmarks).
    pub fn new(name: &str, kind: LayerKind, geometry_type: GeometryKind, fields: Vec<FieldDef>) -> LayerMeta {
        LayerMeta {
            name: name.to_string(),
            kind,
            geometry_type,
            feature_count: 0,
            bbox: None,
            fields,
            source_file: String::new(),
            source_sha256: String::new(),
            source_crs: String::new(),
            imported_at: String::new(),
            import_id: 0,
        }
    }

    pub fn field_index(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| f.name == name)
    }
}

/// One row of a layer's import history.
#[derive(Debug, Clone, Serialize)]
pub struct ImportRecord {
    pub id: i64,
    pub layer: String,
    pub source_file: String,
    pub source_sha256: String,
    pub source_crs: String,
    pub imported_at: String,
    pub read: u64,
    pub written: u64,
    pub skipped: u64,
    pub repaired: u64,
    pub seconds: f64,
    pub replaced: bool,
}

/// What an import declares before its first feature.
#[derive(Debug, Clone)]
pub struct NewLayer {
    pub name: String,
    pub kind: LayerKind,
    pub fields: Vec<FieldDef>,
    pub replace: bool,
}

/// Where the features of a layer came from; recorded with the commit.
#[derive(Debug, Clone, Default)]
pub struct Provenance {
    pub source_file: String,
    pub source_sha256: String,
    pub source_crs: String,
    pub read: u64,
    pub skipped: u64,
    pub repaired: u64,
    pub seconds: f64,
}

/// The persistent store. Implementations must make each layer write one transaction: readers see
/// the old layer or the new one, never a mix, and a crash leaves the old one.
pub trait Store: Send + Sync {
    /// Every layer in the catalog, by name.
    fn layers(&self) -> Result<Vec<LayerMeta>, StoreError>;

    fn layer(&self, name: &str) -> Result<LayerMeta, StoreError> {
        self.layers()?
            .into_iter()
            .find(|l| l.name == name)
            .ok_or_else(|| StoreError::NoSuchLayer(name.to_string()))
    }

    /// Import history of a layer, oldest first.
    fn history(&self, layer: &str) -> Result<Vec<ImportRecord>, StoreError>;

    /// Streams all features of a layer in id order.
    fn for_each_feature(&self, layer: &LayerMeta, visit: &mut dyn FnMut(Feature)) -> Result<(), StoreError>;

    /// Starts writing a layer; nothing is visible until [`LayerWriter::commit`].
    fn begin_layer(&self, spec: NewLayer) -> Result<Box<dyn LayerWriter>, StoreError>;

    /// A number that changes whenever any layer changes: servers poll it to pick up imports made
    /// by other processes.
    fn generation(&self) -> Result<i64, StoreError>;

    /// Human-readable location, for logs.
    fn describe(&self) -> String;

    /// Announcements of committed layer changes on a connection of their own, for stores that
    /// send them (PostGIS: `LISTEN`); `None` for a store that is only polled ([`Store::generation`]).
    fn changes(&self) -> Option<Result<Box<dyn ChangeFeed>, StoreError>> {
        None
    }

    /// Records a new API token (only its hash) and returns its row.
    fn add_token(&self, token: &NewToken) -> Result<TokenRecord, StoreError>;

    /// Every token ever created, revoked ones too, by id.
    fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError>;

    /// Marks a token revoked (from now on); revoking it again keeps the first time.
    fn revoke_token(&self, id: i64) -> Result<TokenRecord, StoreError>;

    /// A number that changes whenever a token is created or revoked: servers poll it to refresh
    /// their token cache.
    fn token_generation(&self) -> Result<i64, StoreError>;

    /// Appends audit records to the chain, in one transaction (`crate::audit`).
    fn append_audit(&self, entries: &[crate::audit::AuditEntry]) -> Result<(), StoreError>;

    /// Every audit row, by id.
    fn audit_rows(&self) -> Result<Vec<crate::audit::AuditRow>, StoreError>;

    /// A consistent read view of the whole store, on a connection of its own: what it reads is
    /// the store as one moment left it, whatever commits meanwhile (a read transaction on the
    /// GeoPackage, a REPEATABLE READ transaction on PostGIS).
    fn snapshot(&self) -> Result<Box<dyn StoreSnapshot>, StoreError>;

    /// Carries tokens of another store over, in one transaction: a token whose hash is new is
    /// added (with its own id when that id is free here), one already here keeps its row but
    /// takes the earlier revocation (a revocation is never undone).
    fn restore_tokens(&self, tokens: &[TokenRecord]) -> Result<(), StoreError>;

    /// Appends another store's audit rows verbatim (ids and hashes), in one transaction, when
    /// this store's log is empty; returns false and writes nothing when it has rows of its own
    /// (a chain cannot take another chain's rows).
    fn restore_audit(&self, rows: &[crate::audit::AuditRow]) -> Result<bool, StoreError>;

    /// Live layers (`crate::live`): appends reports (history, and each device's newest) and
    /// alert changes, in one transaction.
    fn append_live(&self, _batch: &crate::live::LiveBatch) -> Result<(), StoreError> {
        Err(live_unsupported(&self.describe()))
    }

    /// The newest report of every device of every live layer.
    fn live_latest(&self) -> Result<Vec<crate::live::StoredPosition>, StoreError> {
        Err(live_unsupported(&self.describe()))
    }

    /// Active alerts, and those opened after `closed_since` (epoch seconds), by id.
    fn live_alerts(&self, _closed_since: f64) -> Result<Vec<crate::live::alerts::Alert>, StoreError> {
        Err(live_unsupported(&self.describe()))
    }

    /// One device's reports between two times (epoch seconds), oldest first.
    fn live_track(&self, _layer: &str, _device: &str, _from: f64, _to: f64) -> Result<Vec<crate::live::StoredPosition>, StoreError> {
        Err(live_unsupported(&self.describe()))
    }

    /// Deletes reports older than `before` (epoch seconds); returns how many.
    fn prune_live(&self, _before: f64) -> Result<u64, StoreError> {
        Err(live_unsupported(&self.describe()))
    }
}

/// A consistent read view of a store ([`Store::snapshot`]); dropping it ends its transaction.
pub trait StoreSnapshot {
    /// Every layer in the catalog, by name.
    fn layers(&mut self) -> Result<Vec<LayerMeta>, StoreError>;
    /// Import history of a layer, oldest first.
    fn history(&mut self, layer: &str) -> Result<Vec<ImportRecord>, StoreError>;
    /// Streams all features of a layer in id order.
    fn for_each_feature(&mut self, layer: &LayerMeta, visit: &mut dyn FnMut(Feature)) -> Result<(), StoreError>;
    /// Every token, by id.
    fn tokens(&mut self) -> Result<Vec<TokenRecord>, StoreError>;
    /// Every audit row, by id.
    fn audit_rows(&mut self) -> Result<Vec<crate::audit::AuditRow>, StoreError>;
}

fn live_unsupported(store: &str) -> StoreError {
    StoreError::Unsupported(format!(
        "{store} does not keep live layers yet; serve [live] from a GeoPackage store (--store file.gpkg)"
    ))
}

/// A stream of change announcements ([`Store::changes`]).
pub trait ChangeFeed: Send {
    /// Waits up to `timeout` for announcements and returns the layers they name (empty when
    /// none came). An error means the feed's connection is gone: open a new one, and compare the
    /// generation, since announcements sent in between are lost.
    fn wait(&mut self, timeout: std::time::Duration) -> Result<Vec<String>, StoreError>;
}

/// An API token to record: the SHA-256 of the secret, never the secret itself.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub hash: [u8; 32],
    pub role: String,
    /// Administrative units (`LAYER:CODE`) a scoped role is limited to.
    pub scope: Vec<String>,
    /// Unix seconds after which the token is refused; `None` never expires.
    pub expires_unix: Option<i64>,
    pub note: String,
}

/// One stored API token. Times are Unix seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenRecord {
    pub id: i64,
    pub hash: [u8; 32],
    pub role: String,
    pub scope: Vec<String>,
    pub created_unix: i64,
    pub expires_unix: Option<i64>,
    pub note: String,
    pub revoked_unix: Option<i64>,
}

/// An open layer write. Dropping it without `commit` rolls everything back.
pub trait LayerWriter: Send {
    /// Writes one feature; its id is assigned by the store (1, 2, 3 ... in write order).
    fn write(&mut self, geometry: &geo_types::Geometry<f64>, properties: &[crate::feature::Value]) -> Result<i64, StoreError>;

    /// Writes one feature under the id it has in another store (a copy keeps the ids, which
    /// are MVT ids); ids must increase.
    fn write_with_id(
        &mut self,
        id: i64,
        geometry: &geo_types::Geometry<f64>,
        properties: &[crate::feature::Value],
    ) -> Result<(), StoreError>;

    /// Makes the layer visible, with its catalog entry and a history row, in one transaction.
    fn commit(self: Box<Self>, provenance: Provenance) -> Result<LayerMeta, StoreError>;

    /// Makes a layer copied from another store visible, in one transaction, with that store's
    /// history of it (oldest first, the last row the current import): the layer's earlier
    /// history here is replaced, the rows get this store's ids.
    fn commit_copied(self: Box<Self>, history: Vec<ImportRecord>) -> Result<LayerMeta, StoreError>;
}

/// What a layer write adds to the import history when it commits.
enum History {
    /// A new import: one row.
    Import(Provenance),
    /// A copy: the source's rows, replacing this store's rows of the layer.
    Copied(Vec<ImportRecord>),
}

impl History {
    /// The rows to insert, oldest first, with `written` and `replaced` of a new import filled in.
    fn rows(&self, layer: &str, written: u64, replaced: bool, imported_at: &str) -> Vec<ImportRecord> {
        match self {
            History::Import(p) => vec![ImportRecord {
                id: 0,
                layer: layer.to_string(),
                source_file: p.source_file.clone(),
                source_sha256: p.source_sha256.clone(),
                source_crs: p.source_crs.clone(),
                imported_at: imported_at.to_string(),
                read: p.read,
                written,
                skipped: p.skipped,
                repaired: p.repaired,
                seconds: p.seconds,
                replaced,
            }],
            History::Copied(rows) => rows.clone(),
        }
    }

    fn replaces_history(&self) -> bool {
        matches!(self, History::Copied(_))
    }
}

/// The next id of a layer write: `id` when it follows `last`, else the copy is out of order.
fn next_id(layer: &str, last: i64, id: i64) -> Result<i64, StoreError> {
    if id > last {
        Ok(id)
    } else {
        Err(StoreError::IdOrder {
            layer: layer.to_string(),
            id,
            last,
        })
    }
}

/// Opens the store a `--store` value names: a `postgresql://` (or `postgres://`) URL is a PostGIS
/// store, anything else a GeoPackage path.
pub fn open(store: &str) -> Result<Box<dyn Store>, StoreError> {
    if postgis::is_url(store) {
        Ok(Box::new(postgis::PostgisStore::open(store)?))
    } else {
        Ok(Box::new(gpkg::GpkgStore::open(std::path::Path::new(store))?))
    }
}

/// The time of a commit, as the catalog records it (RFC 3339, UTC).
fn now_iso() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| String::from("1970-01-01T00:00:00Z"))
}

/// Layer names become table names: keep them portable and injection-free.
pub fn check_layer_name(name: &str) -> Result<(), StoreError> {
    let ok = (1..=63).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !name.starts_with("gpkg")
        && !name.starts_with("bando_")
        && !name.starts_with("rtree_")
        && !name.starts_with("sqlite");
    if ok {
        Ok(())
    } else {
        Err(StoreError::BadLayerName(name.to_string()))
    }
}
