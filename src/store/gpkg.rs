//! The embedded store: one OGC GeoPackage 1.3 file, written through SQLite directly.
//!
//! Layout: one feature table per layer (`fid INTEGER PRIMARY KEY`, `geom` as GeoPackage binary
//! in EPSG:4326, one column per field), registered in `gpkg_contents` and
//! `gpkg_geometry_columns` so GDAL and QGIS read it as an ordinary GeoPackage; bando's own
//! catalog lives in `bando_layers`, `bando_imports` and `bando_meta`. The file runs in WAL mode
//! so a server keeps reading while an import writes, and every layer write is one transaction.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

use super::gpkg_rtree::{self, RtreeEntry};
use super::wkb as geom_codec;
use super::{catalog_row, gpkg_audit, gpkg_live, gpkg_tokens, Written};
use super::{
    check_layer_name, next_id, now_iso, History, ImportRecord, LayerMeta, LayerWriter, NewLayer, NewToken, Provenance, Store, StoreError,
    StoreSnapshot, TokenRecord,
};
use crate::feature::{Bbox, Feature, FieldDef, GeometryKind, Value};

/// "GPKG" as a big-endian integer: the SQLite application_id of every GeoPackage.
const GPKG_APPLICATION_ID: i64 = 0x4750_4B47;
const GPKG_USER_VERSION: i64 = 10300;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS gpkg_spatial_ref_sys (
  srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY, organization TEXT NOT NULL,
  organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT);
INSERT OR IGNORE INTO gpkg_spatial_ref_sys VALUES
  ('Undefined cartesian SRS', -1, 'NONE', -1, 'undefined', 'undefined cartesian coordinate reference system'),
  ('Undefined geographic SRS', 0, 'NONE', 0, 'undefined', 'undefined geographic coordinate reference system'),
  ('WGS 84 geodetic', 4326, 'EPSG', 4326,
   'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,AUTHORITY["EPSG","7030"]],AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AXIS["Latitude",NORTH],AXIS["Longitude",EAST],AUTHORITY["EPSG","4326"]]',
   'longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid');
CREATE TABLE IF NOT EXISTS gpkg_contents (
  table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT UNIQUE,
  description TEXT DEFAULT '', last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE,
  srs_id INTEGER, CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id));
CREATE TABLE IF NOT EXISTS gpkg_geometry_columns (
  table_name TEXT NOT NULL, column_name TEXT NOT NULL, geometry_type_name TEXT NOT NULL,
  srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
  CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
  CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
  CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id));
CREATE TABLE IF NOT EXISTS gpkg_extensions (
  table_name TEXT, column_name TEXT, extension_name TEXT NOT NULL, definition TEXT NOT NULL,
  scope TEXT NOT NULL, CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name));
CREATE TABLE IF NOT EXISTS bando_layers (
  name TEXT PRIMARY KEY, kind TEXT NOT NULL, geometry_type TEXT NOT NULL,
  feature_count INTEGER NOT NULL, min_x REAL, min_y REAL, max_x REAL, max_y REAL,
  fields TEXT NOT NULL, import_id INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS bando_imports (
  id INTEGER PRIMARY KEY AUTOINCREMENT, layer TEXT NOT NULL, source_file TEXT NOT NULL,
  source_sha256 TEXT NOT NULL, source_crs TEXT NOT NULL, imported_at TEXT NOT NULL,
  read INTEGER NOT NULL, written INTEGER NOT NULL, skipped INTEGER NOT NULL,
  repaired INTEGER NOT NULL, seconds REAL NOT NULL, replaced INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS bando_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO bando_meta VALUES ('generation', 0);
INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, description) VALUES
  ('bando_layers', 'attributes', 'bando_layers', 'bando catalog: one row per layer'),
  ('bando_imports', 'attributes', 'bando_imports', 'bando import history'),
  ('bando_meta', 'attributes', 'bando_meta', 'bando store generation counter');
"#;

/// A GeoPackage file used as bando's store.
pub struct GpkgStore {
    path: PathBuf,
    reader: Mutex<Connection>,
}

impl GpkgStore {
    /// Opens the store, creating an empty GeoPackage (and its folder) when the file does not exist.
    pub fn open(path: &Path) -> Result<GpkgStore, StoreError> {
        let exists = path.exists() && std::fs::metadata(path)?.len() > 0;
        if !exists {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
        }
        let writable = !exists || !std::fs::metadata(path)?.permissions().readonly();
        let conn = if writable {
            Connection::open(path)
        } else {
            Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        }
        .map_err(|e| corrupt(path, e))?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        if exists {
            check_is_geopackage(&conn, path)?;
        }
        let has_catalog: bool = conn
            .query_row("SELECT count(*) FROM sqlite_master WHERE name = 'bando_meta'", [], |r| {
                r.get::<_, i64>(0)
            })
            .map_err(|e| corrupt(path, e))?
            > 0;
        if writable {
            conn.pragma_update(None, "journal_mode", "WAL").map_err(|e| corrupt(path, e))?;
            if !exists {
                conn.pragma_update(None, "application_id", GPKG_APPLICATION_ID)?;
                conn.pragma_update(None, "user_version", GPKG_USER_VERSION)?;
            }
            if !has_catalog {
                conn.execute_batch(&format!("BEGIN IMMEDIATE; {SCHEMA} COMMIT;"))
                    .map_err(|e| write_error(path, e))?;
            }
            gpkg_tokens::create_table(&conn).map_err(|e| write_error(path, e))?;
            gpkg_audit::create_table(&conn).map_err(|e| write_error(path, e))?;
            gpkg_live::create_tables(&conn).map_err(|e| write_error(path, e))?;
        } else if !has_catalog {
            return Err(StoreError::ReadOnly { path: path.to_path_buf() });
        }
        Ok(GpkgStore {
            path: path.to_path_buf(),
            reader: Mutex::new(conn),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn check_writable(&self) -> Result<(), StoreError> {
        if std::fs::metadata(&self.path)?.permissions().readonly() {
            return Err(StoreError::ReadOnly { path: self.path.clone() });
        }
        Ok(())
    }

    pub(super) fn reader(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite in a bad state; keep serving.
        self.reader.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn corrupt(path: &Path, e: rusqlite::Error) -> StoreError {
    StoreError::Corrupt {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

fn write_error(path: &Path, e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::ReadOnly) | Some(rusqlite::ErrorCode::CannotOpen) => StoreError::ReadOnly { path: path.to_path_buf() },
        Some(rusqlite::ErrorCode::NotADatabase) | Some(rusqlite::ErrorCode::DatabaseCorrupt) => corrupt(path, e),
        _ => e.into(),
    }
}

fn check_is_geopackage(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let app_id: i64 = conn
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .map_err(|e| corrupt(path, e))?;
    let integrity: String = conn
        .pragma_query_value(None, "quick_check", |r| r.get(0))
        .map_err(|e| corrupt(path, e))?;
    if integrity != "ok" {
        return Err(StoreError::Corrupt {
            path: path.to_path_buf(),
            reason: format!("integrity check: {integrity}"),
        });
    }
    if app_id != GPKG_APPLICATION_ID {
        return Err(StoreError::Corrupt {
            path: path.to_path_buf(),
            reason: format!("SQLite application_id is {app_id:#x}, not 'GPKG'"),
        });
    }
    Ok(())
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The catalog: every layer with the provenance of its current import.
fn read_layers(conn: &Connection) -> Result<Vec<LayerMeta>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT l.*, i.source_file, i.source_sha256, i.source_crs, i.imported_at
         FROM bando_layers l JOIN bando_imports i ON i.id = l.import_id ORDER BY l.name",
    )?;
    let rows = stmt.query_map([], |r| catalog_row::layer_meta(r))?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

fn read_history(conn: &Connection, layer: &str) -> Result<Vec<ImportRecord>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT * FROM bando_imports WHERE layer = ?1 ORDER BY id")?;
    let rows = stmt.query_map([layer], |r| catalog_row::import_record(r))?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

fn read_features(conn: &Connection, layer: &LayerMeta, visit: &mut dyn FnMut(Feature)) -> Result<(), StoreError> {
    let columns: String = layer.fields.iter().map(|f| format!(", {}", quote_ident(&f.name))).collect();
    let sql = format!("SELECT fid, geom{columns} FROM {} ORDER BY fid", quote_ident(&layer.name));
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let id: i64 = row.get(0)?;
        let blob = row.get_ref(1)?.as_blob_or_null().map_err(rusqlite::Error::from)?;
        let Some(blob) = blob else { continue };
        let geometry = geom_codec::decode_gpkg(blob).map_err(|source| StoreError::BadGeometry {
            layer: layer.name.clone(),
            fid: id,
            source,
        })?;
        let Some(geometry) = geometry else { continue };
        let mut properties = Vec::with_capacity(layer.fields.len());
        for (i, field) in layer.fields.iter().enumerate() {
            properties.push(read_value(row.get_ref(i + 2)?, field));
        }
        visit(Feature { id, geometry, properties });
    }
    Ok(())
}

/// A read transaction on a connection of its own: in WAL mode it sees the file as it was at
/// its first read, whatever imports commit meanwhile.
struct GpkgSnapshot {
    conn: Connection,
}

impl GpkgSnapshot {
    fn open(path: &Path) -> Result<GpkgSnapshot, StoreError> {
        let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
            .map_err(|e| corrupt(path, e))?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        // BEGIN is deferred: the read that follows is what fixes the snapshot.
        conn.execute_batch("BEGIN")?;
        conn.query_row("SELECT value FROM bando_meta WHERE key = 'generation'", [], |r| r.get::<_, i64>(0))?;
        Ok(GpkgSnapshot { conn })
    }
}

impl StoreSnapshot for GpkgSnapshot {
    fn layers(&mut self) -> Result<Vec<LayerMeta>, StoreError> {
        read_layers(&self.conn)
    }

    fn history(&mut self, layer: &str) -> Result<Vec<ImportRecord>, StoreError> {
        read_history(&self.conn, layer)
    }

    fn for_each_feature(&mut self, layer: &LayerMeta, visit: &mut dyn FnMut(Feature)) -> Result<(), StoreError> {
        read_features(&self.conn, layer, visit)
    }

    fn tokens(&mut self) -> Result<Vec<TokenRecord>, StoreError> {
        gpkg_tokens::list(&self.conn)
    }

    fn audit_rows(&mut self) -> Result<Vec<crate::audit::AuditRow>, StoreError> {
        gpkg_audit::rows(&self.conn)
    }
}

impl Store for GpkgStore {
    fn layers(&self) -> Result<Vec<LayerMeta>, StoreError> {
        read_layers(&self.reader())
    }

    fn history(&self, layer: &str) -> Result<Vec<ImportRecord>, StoreError> {
        read_history(&self.reader(), layer)
    }

    fn for_each_feature(&self, layer: &LayerMeta, visit: &mut dyn FnMut(Feature)) -> Result<(), StoreError> {
        read_features(&self.reader(), layer, visit)
    }

    fn begin_layer(&self, spec: NewLayer) -> Result<Box<dyn LayerWriter>, StoreError> {
        check_layer_name(&spec.name)?;
        self.check_writable()?;
        let conn = Connection::open(&self.path).map_err(|e| write_error(&self.path, e))?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        register_geometry_functions(&conn)?;
        // A bounded page cache: a big import spills to the WAL instead of growing with the input.
        conn.pragma_update(None, "cache_size", -32_768i64)?;
        conn.execute_batch("BEGIN IMMEDIATE").map_err(|e| write_error(&self.path, e))?;
        let exists: bool = conn
            .query_row(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
                [&spec.name],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        if exists {
            if !spec.replace {
                conn.execute_batch("ROLLBACK")?;
                return Err(StoreError::LayerExists(spec.name));
            }
            conn.execute(&format!("DROP TABLE {}", quote_ident(&spec.name)), [])?;
            conn.execute(&format!("DROP TABLE IF EXISTS {}", quote_ident(&rtree_name(&spec.name))), [])?;
            conn.execute("DELETE FROM gpkg_extensions WHERE table_name = ?1", [&spec.name])?;
            conn.execute("DELETE FROM gpkg_geometry_columns WHERE table_name = ?1", [&spec.name])?;
            conn.execute("DELETE FROM gpkg_contents WHERE table_name = ?1", [&spec.name])?;
            conn.execute("DELETE FROM bando_layers WHERE name = ?1", [&spec.name])?;
        }
        let columns: String = spec
            .fields
            .iter()
            .map(|f| format!(", {} {}", quote_ident(&f.name), f.ty.sql_type()))
            .collect();
        conn.execute(
            &format!(
                "CREATE TABLE {} (fid INTEGER PRIMARY KEY AUTOINCREMENT, geom GEOMETRY{columns})",
                quote_ident(&spec.name)
            ),
            [],
        )?;
        let placeholders: String = (0..spec.fields.len()).map(|i| format!(", ?{}", i + 3)).collect();
        let insert_sql = format!("INSERT INTO {} VALUES (?1, ?2{placeholders})", quote_ident(&spec.name));
        Ok(Box::new(GpkgLayerWriter {
            conn: Some(conn),
            spec,
            insert_sql,
            replaced: exists,
            count: 0,
            last_id: 0,
            bbox: None,
            geometry_kind: None,
            blob: Vec::with_capacity(256),
            rtree_entries: Vec::new(),
        }))
    }

    fn generation(&self) -> Result<i64, StoreError> {
        let conn = self.reader();
        Ok(conn.query_row("SELECT value FROM bando_meta WHERE key = 'generation'", [], |r| r.get(0))?)
    }

    fn describe(&self) -> String {
        format!("GeoPackage {}", self.path.display())
    }

    fn add_token(&self, token: &NewToken) -> Result<TokenRecord, StoreError> {
        self.check_writable()?;
        gpkg_tokens::add(&self.reader(), token)
    }

    fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        gpkg_tokens::list(&self.reader())
    }

    fn revoke_token(&self, id: i64) -> Result<TokenRecord, StoreError> {
        self.check_writable()?;
        gpkg_tokens::revoke(&self.reader(), id)
    }

    fn token_generation(&self) -> Result<i64, StoreError> {
        gpkg_tokens::generation(&self.reader())
    }

    fn append_audit(&self, entries: &[crate::audit::AuditEntry]) -> Result<(), StoreError> {
        self.check_writable()?;
        gpkg_audit::append(&self.reader(), entries)
    }

    fn audit_rows(&self) -> Result<Vec<crate::audit::AuditRow>, StoreError> {
        gpkg_audit::rows(&self.reader())
    }

    fn append_live(&self, batch: &crate::live::LiveBatch) -> Result<(), StoreError> {
        self.check_writable()?;
        gpkg_live::append(&self.reader(), batch)
    }

    fn live_latest(&self) -> Result<Vec<crate::live::StoredPosition>, StoreError> {
        gpkg_live::latest(&self.reader())
    }

    fn live_alerts(&self, closed_since: f64) -> Result<Vec<crate::live::alerts::Alert>, StoreError> {
        gpkg_live::alerts(&self.reader(), closed_since)
    }

    fn live_track(&self, layer: &str, device: &str, from: f64, to: f64) -> Result<Vec<crate::live::StoredPosition>, StoreError> {
        gpkg_live::track(&self.reader(), layer, device, from, to)
    }

    fn prune_live(&self, before: f64) -> Result<u64, StoreError> {
        self.check_writable()?;
        gpkg_live::prune(&self.reader(), before)
    }

    fn snapshot(&self) -> Result<Box<dyn StoreSnapshot>, StoreError> {
        Ok(Box::new(GpkgSnapshot::open(&self.path)?))
    }

    fn restore_tokens(&self, tokens: &[TokenRecord]) -> Result<(), StoreError> {
        self.check_writable()?;
        gpkg_tokens::restore(&self.reader(), tokens)
    }

    fn restore_audit(&self, rows: &[crate::audit::AuditRow]) -> Result<bool, StoreError> {
        self.check_writable()?;
        gpkg_audit::restore(&self.reader(), rows)
    }
}

fn rtree_name(table: &str) -> String {
    format!("rtree_{table}_geom")
}

/// The SQL functions the GeoPackage R-tree extension's triggers call (GeoPackage 1.3 §F.3),
/// read from the blob's envelope header, so bando's own connection can fill the index.
fn register_geometry_functions(conn: &Connection) -> rusqlite::Result<()> {
    use rusqlite::functions::FunctionFlags;
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    type Coordinate = fn(&geom_codec::Envelope) -> f64;
    let envelope_fns: [(&str, Coordinate); 4] = [
        ("ST_MinX", |e| e.min_x),
        ("ST_MaxX", |e| e.max_x),
        ("ST_MinY", |e| e.min_y),
        ("ST_MaxY", |e| e.max_y),
    ];
    for (name, pick) in envelope_fns {
        conn.create_scalar_function(name, 1, flags, move |ctx| {
            let blob = ctx
                .get_raw(0)
                .as_blob_or_null()
                .map_err(|e| rusqlite::Error::UserFunctionError(e.into()))?;
            Ok(blob.and_then(geom_codec::envelope).map(|e| pick(&e)))
        })?;
    }
    conn.create_scalar_function("ST_IsEmpty", 1, flags, |ctx| {
        let blob = ctx
            .get_raw(0)
            .as_blob_or_null()
            .map_err(|e| rusqlite::Error::UserFunctionError(e.into()))?;
        Ok(blob.map(|b| geom_codec::envelope(b).is_none()))
    })
}

/// The GeoPackage R-tree spatial index extension, filled in one statement after the bulk write,
/// with the standard triggers so QGIS and GDAL keep it current when they edit the layer.
fn create_spatial_index(conn: &Connection, table: &str, entries: Vec<RtreeEntry>) -> rusqlite::Result<()> {
    let t = quote_ident(table);
    let rtree = quote_ident(&rtree_name(table));
    let trigger = |suffix: &str| quote_ident(&format!("{}_{suffix}", rtree_name(table)));
    conn.execute_batch(&format!("CREATE VIRTUAL TABLE {rtree} USING rtree(id, minx, maxx, miny, maxy)"))?;
    gpkg_rtree::bulk_load(conn, &rtree_name(table), entries)?;
    let upsert = format!(
        "INSERT OR REPLACE INTO {rtree} VALUES (NEW.fid, ST_MinX(NEW.geom), ST_MaxX(NEW.geom), ST_MinY(NEW.geom), ST_MaxY(NEW.geom));"
    );
    conn.execute_batch(&format!(
        "CREATE TRIGGER {ins} AFTER INSERT ON {t} WHEN (NEW.geom NOT NULL AND NOT ST_IsEmpty(NEW.geom))
           BEGIN {upsert} END;
         CREATE TRIGGER {up1} AFTER UPDATE OF geom ON {t} WHEN OLD.fid = NEW.fid AND (NEW.geom NOTNULL AND NOT ST_IsEmpty(NEW.geom))
           BEGIN {upsert} END;
         CREATE TRIGGER {up2} AFTER UPDATE OF geom ON {t} WHEN OLD.fid = NEW.fid AND (NEW.geom ISNULL OR ST_IsEmpty(NEW.geom))
           BEGIN DELETE FROM {rtree} WHERE id = OLD.fid; END;
         CREATE TRIGGER {up3} AFTER UPDATE ON {t} WHEN OLD.fid != NEW.fid AND (NEW.geom NOTNULL AND NOT ST_IsEmpty(NEW.geom))
           BEGIN DELETE FROM {rtree} WHERE id = OLD.fid; {upsert} END;
         CREATE TRIGGER {up4} AFTER UPDATE ON {t} WHEN OLD.fid != NEW.fid AND (NEW.geom ISNULL OR ST_IsEmpty(NEW.geom))
           BEGIN DELETE FROM {rtree} WHERE id IN (OLD.fid, NEW.fid); END;
         CREATE TRIGGER {del} AFTER DELETE ON {t} WHEN OLD.geom NOT NULL
           BEGIN DELETE FROM {rtree} WHERE id = OLD.fid; END;",
        ins = trigger("insert"),
        up1 = trigger("update1"),
        up2 = trigger("update2"),
        up3 = trigger("update3"),
        up4 = trigger("update4"),
        del = trigger("delete"),
    ))?;
    conn.execute(
        "INSERT OR REPLACE INTO gpkg_extensions VALUES (?1, 'geom', 'gpkg_rtree_index', 'http://www.geopackage.org/spec120/#extension_rtree', 'write-only')",
        [table],
    )?;
    Ok(())
}

fn read_value(value: rusqlite::types::ValueRef<'_>, field: &FieldDef) -> Value {
    use rusqlite::types::ValueRef;
    let raw = match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Int(i),
        ValueRef::Real(f) => Value::Float(f),
        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into()),
        ValueRef::Blob(_) => Value::Null,
    };
    raw.coerce(field.ty)
}

struct GpkgLayerWriter {
    /// Some until commit; dropping the writer with an open transaction rolls it back.
    conn: Option<Connection>,
    spec: NewLayer,
    insert_sql: String,
    replaced: bool,
    count: u64,
    /// The id of the last feature written; the next one's must be greater.
    last_id: i64,
    bbox: Option<Bbox>,
    geometry_kind: Option<GeometryKind>,
    blob: Vec<u8>,
    /// Envelopes for the GeoPackage R-tree, packed in one go at commit (24 bytes a feature).
    rtree_entries: Vec<RtreeEntry>,
}

impl Drop for GpkgLayerWriter {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            let _ = conn.execute_batch("ROLLBACK");
        }
    }
}

fn to_sql(value: &Value) -> rusqlite::types::ToSqlOutput<'_> {
    use rusqlite::types::{ToSqlOutput, ValueRef};
    match value {
        Value::Null => ToSqlOutput::Borrowed(ValueRef::Null),
        Value::Bool(b) => ToSqlOutput::Borrowed(ValueRef::Integer(*b as i64)),
        Value::Int(i) => ToSqlOutput::Borrowed(ValueRef::Integer(*i)),
        Value::Float(f) => ToSqlOutput::Borrowed(ValueRef::Real(*f)),
        Value::Text(t) => ToSqlOutput::Borrowed(ValueRef::Text(t.as_bytes())),
    }
}

impl LayerWriter for GpkgLayerWriter {
    fn write(&mut self, geometry: &geo_types::Geometry<f64>, properties: &[Value]) -> Result<i64, StoreError> {
        let fid = self.last_id + 1;
        self.write_with_id(fid, geometry, properties)?;
        Ok(fid)
    }

    fn write_with_id(&mut self, id: i64, geometry: &geo_types::Geometry<f64>, properties: &[Value]) -> Result<(), StoreError> {
        let fid = next_id(&self.spec.name, self.last_id, id)?;
        let conn = self.conn.as_ref().expect("writer used after commit");
        let bbox = Bbox::of(geometry);
        self.blob.clear();
        geom_codec::encode_gpkg(geometry, bbox, &mut self.blob);
        let mut stmt = conn.prepare_cached(&self.insert_sql)?;
        stmt.raw_bind_parameter(1, fid)?;
        stmt.raw_bind_parameter(2, &self.blob[..])?;
        for (i, value) in properties.iter().enumerate() {
            stmt.raw_bind_parameter(i + 3, to_sql(value))?;
        }
        stmt.raw_execute()?;
        self.count += 1;
        self.last_id = fid;
        if let Some(b) = bbox {
            self.bbox = Some(self.bbox.map_or(b, |acc| acc.union(b)));
            self.rtree_entries.push(RtreeEntry::new(fid, b.west, b.east, b.south, b.north));
        }
        let kind = GeometryKind::of(geometry);
        self.geometry_kind = Some(self.geometry_kind.map_or(kind, |k| k.merge(kind)));
        Ok(())
    }

    fn commit(self: Box<Self>, provenance: Provenance) -> Result<LayerMeta, StoreError> {
        self.finish(History::Import(provenance))
    }

    fn commit_copied(self: Box<Self>, history: Vec<ImportRecord>) -> Result<LayerMeta, StoreError> {
        self.finish(History::Copied(history))
    }
}

impl GpkgLayerWriter {
    /// The commit of an import or a copy: registration, history, catalog entry, R-tree and
    /// generation, then COMMIT; any failure rolls the whole layer back.
    fn finish(mut self: Box<Self>, history: History) -> Result<LayerMeta, StoreError> {
        let conn = self.conn.take().expect("commit called twice");
        let name = self.spec.name.clone();
        let geometry_type = self.geometry_kind.unwrap_or(GeometryKind::Geometry);
        let rows = history.rows(&name, self.count, self.replaced, &now_iso());
        let Some(current) = rows.last().cloned() else {
            let _ = conn.execute_batch("ROLLBACK");
            return Err(StoreError::NoHistory { layer: name });
        };
        let (min_x, min_y, max_x, max_y) = match self.bbox {
            Some(b) => (Some(b.west), Some(b.south), Some(b.east), Some(b.north)),
            None => (None, None, None, None),
        };
        let result = (|| -> Result<i64, rusqlite::Error> {
            conn.execute(
                "INSERT INTO gpkg_contents (table_name, data_type, identifier, last_change, min_x, min_y, max_x, max_y, srs_id)
                 VALUES (?1, 'features', ?1, ?2, ?3, ?4, ?5, ?6, 4326)",
                params![name, current.imported_at, min_x, min_y, max_x, max_y],
            )?;
            conn.execute(
                "INSERT INTO gpkg_geometry_columns VALUES (?1, 'geom', ?2, 4326, 0, 0)",
                params![name, geometry_type.as_str()],
            )?;
            if history.replaces_history() {
                conn.execute("DELETE FROM bando_imports WHERE layer = ?1", [&name])?;
            }
            let mut import_id = 0;
            for r in &rows {
                conn.execute(
                    "INSERT INTO bando_imports (layer, source_file, source_sha256, source_crs, imported_at, read, written, skipped, repaired, seconds, replaced)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                    params![
                        name,
                        r.source_file,
                        r.source_sha256,
                        r.source_crs,
                        r.imported_at,
                        r.read as i64,
                        r.written as i64,
                        r.skipped as i64,
                        r.repaired as i64,
                        r.seconds,
                        r.replaced
                    ],
                )?;
                import_id = conn.last_insert_rowid();
            }
            conn.execute(
                "INSERT INTO bando_layers VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    name,
                    self.spec.kind.as_str(),
                    geometry_type.as_str(),
                    self.count as i64,
                    min_x,
                    min_y,
                    max_x,
                    max_y,
                    serde_json::to_string(&self.spec.fields).unwrap_or_else(|_| "[]".into()),
                    import_id
                ],
            )?;
            create_spatial_index(&conn, &name, std::mem::take(&mut self.rtree_entries))?;
            conn.execute("UPDATE bando_meta SET value = value + 1 WHERE key = 'generation'", [])?;
            conn.execute_batch("COMMIT")?;
            Ok(import_id)
        })();
        let import_id = match result {
            Ok(id) => id,
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                return Err(e.into());
            }
        };
        let written = Written {
            geometry_type,
            feature_count: self.count,
            bbox: self.bbox,
        };
        Ok(LayerMeta::written(&self.spec, written, current, import_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feature::{FieldType, LayerKind};
    use geo_types::{point, polygon};

    fn spec(name: &str, replace: bool) -> NewLayer {
        NewLayer {
            name: name.into(),
            kind: LayerKind::Cadastral,
            fields: vec![FieldDef::new("land_use", FieldType::Text)],
            replace,
        }
    }

    #[test]
    fn a_layer_round_trips_and_uncommitted_writes_vanish() {
        let dir = tempfile::tempdir().unwrap();
        let store = GpkgStore::open(&dir.path().join("s.gpkg")).unwrap();
        let mut w = store.begin_layer(spec("parcels", false)).unwrap();
        let poly: geo_types::Geometry<f64> =
            polygon![(x: 107.5, y: 16.4), (x: 107.6, y: 16.4), (x: 107.6, y: 16.5), (x: 107.5, y: 16.4)].into();
        assert_eq!(w.write(&poly, &[Value::Text("ODT".into())]).unwrap(), 1);
        let meta = w.commit(Provenance::default()).unwrap();
        assert_eq!(meta.feature_count, 1);

        let mut abandoned = store.begin_layer(spec("parcels", true)).unwrap();
        abandoned.write(&point!(x: 107.0, y: 16.0).into(), &[Value::Null]).unwrap();
        drop(abandoned);

        let layer = store.layer("parcels").unwrap();
        let mut seen = Vec::new();
        store.for_each_feature(&layer, &mut |f| seen.push(f)).unwrap();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].geometry, poly);
        assert_eq!(seen[0].properties, vec![Value::Text("ODT".into())]);
        assert!(matches!(store.begin_layer(spec("parcels", false)), Err(StoreError::LayerExists(_))));
        assert_eq!(store.history("parcels").unwrap().len(), 1);
        let conn = store.reader();
        let check: String = conn.query_row("SELECT rtreecheck('rtree_parcels_geom')", [], |r| r.get(0)).unwrap();
        assert_eq!(check, "ok");
        let indexed: i64 = conn
            .query_row(
                "SELECT count(*) FROM rtree_parcels_geom WHERE minx <= 107.55 AND maxx >= 107.55",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(indexed, 1);
    }

    #[test]
    fn a_file_that_is_not_a_geopackage_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.gpkg");
        std::fs::write(&path, b"this is not sqlite at all, just some text that is long enough").unwrap();
        assert!(matches!(GpkgStore::open(&path), Err(StoreError::Corrupt { .. })));
    }
}
