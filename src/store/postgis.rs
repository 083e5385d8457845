//! The shared store: layers as plain PostGIS tables in one PostgreSQL database, so that several
//! bando servers can serve one database and QGIS or ogr2ogr read the layers as ordinary tables.
//!
//! Layout, for `--store postgresql://…/db?schema=S` (default `bando`): one table `S.<layer>` per
//! layer (`fid bigint` primary key, one typed column per field, `geom geometry(<type>,4326)` with
//! a GiST index); bando's catalog, import history and generation counter in the schema `S_meta`.
//! A layer write is one transaction fed by `COPY … FROM STDIN (FORMAT binary)` on a worker thread
//! that owns the connection; `--replace` copies into a new table and swaps it in (drop, rename)
//! inside that transaction, and the commit bumps the generation and sends
//! `NOTIFY bando_layers, '<layer>'`. Reading streams `COPY … TO STDOUT (FORMAT binary)`.
//!
//! Knows nothing of GeoPackage, of survey file formats or of HTTP; it must be called off the
//! async runtime (the `postgres` client blocks).

use std::io::{BufRead, Read, Write};
use std::str::FromStr;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Mutex, MutexGuard};
use std::thread::JoinHandle;

use postgres::{Client, Config, NoTls};

use super::postgis_listen::PgChangeFeed;
use super::wkb as geom_codec;
use super::{catalog_row, postgis_audit, postgis_tokens, Written};
use super::{
    check_layer_name, next_id, now_iso, ChangeFeed, History, ImportRecord, LayerMeta, LayerWriter, NewLayer, NewToken, Provenance, Store,
    StoreError, StoreSnapshot, TokenRecord,
};
use crate::feature::{Bbox, Feature, FieldDef, FieldType, GeometryKind, LayerKind, Value};

const DEFAULT_SCHEMA: &str = "bando";
/// The channel every commit notifies, with the layer name as payload.
pub const NOTIFY_CHANNEL: &str = "bando_layers";
/// Rows are handed to the COPY thread in chunks of about this size.
const CHUNK_BYTES: usize = 256 * 1024;
/// How long a connection attempt may take unless the URL says (`connect_timeout=`).
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
const COPY_SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";

/// Whether a `--store` value names a PostgreSQL database rather than a GeoPackage file.
pub fn is_url(store: &str) -> bool {
    store.starts_with("postgresql://") || store.starts_with("postgres://")
}

/// Where a store lives: the connection settings and the two schemas.
#[derive(Clone)]
struct Location {
    config: Config,
    /// `user@host:port/db`, without the password, for messages.
    target: String,
    data: String,
    meta: String,
}

impl Location {
    fn parse(url: &str) -> Result<Location, StoreError> {
        let bad = |reason: &str| StoreError::BadUrl {
            url: redact(url),
            reason: reason.to_string(),
        };
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut schema = DEFAULT_SCHEMA.to_string();
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("schema", value)) => schema = value.to_string(),
                _ => kept.push(pair),
            }
        }
        let schema_ok = (1..=58).contains(&schema.len())
            && schema.starts_with(|c: char| c.is_ascii_lowercase())
            && schema.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !schema_ok {
            return Err(bad("schema must be 1-58 characters a-z, 0-9 and _, starting with a letter"));
        }
        let conn_url = if kept.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        let mut config = Config::from_str(&conn_url).map_err(|e| bad(&e.to_string()))?;
        if config.get_connect_timeout().is_none() {
            // An unreachable host is reported, and retried by replicas, instead of hanging.
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        let host = config
            .get_hosts()
            .first()
            .map(|h| match h {
                postgres::config::Host::Tcp(name) => name.clone(),
                postgres::config::Host::Unix(path) => path.display().to_string(),
            })
            .unwrap_or_else(|| "localhost".into());
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let target = format!(
            "{}@{host}:{port}/{}",
            config.get_user().unwrap_or(""),
            config.get_dbname().unwrap_or("")
        );
        Ok(Location {
            config,
            target,
            meta: format!("{schema}_meta"),
            data: schema,
        })
    }

    fn connect(&self) -> Result<Client, StoreError> {
        self.config.connect(NoTls).map_err(|e| self.connect_error(e))
    }

    /// Names the fix for the usual ways a connection fails.
    fn connect_error(&self, e: postgres::Error) -> StoreError {
        use postgres::error::SqlState;
        let target = self.target.clone();
        match e.code() {
            Some(c) if *c == SqlState::INVALID_PASSWORD || *c == SqlState::INVALID_AUTHORIZATION_SPECIFICATION => {
                StoreError::WrongLogin { target }
            }
            Some(_) => StoreError::Database(Box::new(e)),
            // A password the server asked for but the URL lacks is a client-side error.
            None if e.to_string().contains("password") => StoreError::WrongLogin { target },
            None => StoreError::Unreachable {
                target,
                source: Box::new(e),
            },
        }
    }

    fn table(&self, layer: &str) -> String {
        format!("{}.{}", quote_ident(&self.data), quote_ident(layer))
    }
}

/// The URL with its password replaced, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn pg_type(ty: FieldType) -> &'static str {
    match ty {
        FieldType::Bool => "boolean",
        FieldType::Int => "bigint",
        FieldType::Float => "double precision",
        FieldType::Text => "text",
    }
}

fn db_error(e: postgres::Error) -> StoreError {
    StoreError::Database(Box::new(e))
}

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> StoreError {
        db_error(e)
    }
}

/// A PostgreSQL database with PostGIS used as bando's store.
pub struct PostgisStore {
    location: Location,
    /// The connection catalog reads and layer loads share; reopened when the server dropped it.
    reader: Mutex<Option<Client>>,
}

impl PostgisStore {
    /// Connects, checks that PostGIS is there and creates bando's schemas when missing.
    pub fn open(url: &str) -> Result<PostgisStore, StoreError> {
        let location = Location::parse(url)?;
        let mut client = location.connect()?;
        let has_postgis = client
            .query_opt("SELECT 1 FROM pg_extension WHERE extname = 'postgis'", &[])?
            .is_some();
        if !has_postgis {
            return Err(StoreError::NoPostgis {
                target: location.target.clone(),
            });
        }
        create_schemas(&mut client, &location)?;
        Ok(PostgisStore {
            location,
            reader: Mutex::new(Some(client)),
        })
    }

    /// The shared connection, reconnected when the server closed it (a restart, a failover).
    fn reader(&self) -> Result<ReaderGuard<'_>, StoreError> {
        // A panic while holding the lock leaves at worst a broken connection, replaced below.
        let mut guard = self.reader.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if guard.as_ref().is_none_or(Client::is_closed) {
            *guard = Some(self.location.connect()?);
        }
        Ok(ReaderGuard(guard))
    }

    /// Runs `read` on the shared connection; when that connection turns out to have been
    /// closed under it (a database restart, a failover), once more on a new one.
    fn read<T>(&self, mut read: impl FnMut(&mut Client) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let mut reader = self.reader()?;
        match read(&mut reader) {
            Err(_) if reader.is_closed() => {
                drop(reader);
                read(&mut *self.reader()?)
            }
            done => done,
        }
    }
}

impl Drop for PostgisStore {
    /// The client's drop says goodbye to the server by blocking on its own runtime, which panics
    /// on a thread of an async runtime (a server shutting down drops its store there): drop it on
    /// a thread of its own.
    fn drop(&mut self) {
        let reader = self.reader.get_mut().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(client) = reader {
            let _ = std::thread::Builder::new().name("close store".into()).spawn(move || drop(client));
        }
    }
}

struct ReaderGuard<'a>(MutexGuard<'a, Option<Client>>);

impl std::ops::Deref for ReaderGuard<'_> {
    type Target = Client;
    fn deref(&self) -> &Client {
        self.0.as_ref().expect("connected in reader()")
    }
}

impl std::ops::DerefMut for ReaderGuard<'_> {
    fn deref_mut(&mut self) -> &mut Client {
        self.0.as_mut().expect("connected in reader()")
    }
}

/// bando's catalog tables, created once per schema; an advisory lock keeps two processes that
/// open a new store at once from racing on CREATE.
fn create_schemas(client: &mut Client, at: &Location) -> Result<(), StoreError> {
    let (data, meta) = (quote_ident(&at.data), quote_ident(&at.meta));
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&at.meta])?;
    // IF NOT EXISTS says "already exists, skipping" for every object on every open: not news.
    tx.batch_execute("SET LOCAL client_min_messages = warning")?;
    tx.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS {data};
         CREATE SCHEMA IF NOT EXISTS {meta};
         CREATE TABLE IF NOT EXISTS {meta}.imports (
           id bigserial PRIMARY KEY, layer text NOT NULL, source_file text NOT NULL,
           source_sha256 text NOT NULL, source_crs text NOT NULL, imported_at text NOT NULL,
           read bigint NOT NULL, written bigint NOT NULL, skipped bigint NOT NULL,
           repaired bigint NOT NULL, seconds double precision NOT NULL, replaced boolean NOT NULL);
         CREATE TABLE IF NOT EXISTS {meta}.layers (
           name text PRIMARY KEY, kind text NOT NULL, geometry_type text NOT NULL,
           feature_count bigint NOT NULL, min_x double precision, min_y double precision,
           max_x double precision, max_y double precision, fields text NOT NULL,
           import_id bigint NOT NULL REFERENCES {meta}.imports (id));
         CREATE TABLE IF NOT EXISTS {meta}.generation (
           one boolean PRIMARY KEY DEFAULT true CHECK (one), value bigint NOT NULL);
         INSERT INTO {meta}.generation VALUES (true, 0) ON CONFLICT DO NOTHING;
         {tokens}
         {audit}",
        tokens = postgis_tokens::schema(&meta),
        audit = postgis_audit::schema(&meta)
    ))?;
    tx.commit()?;
    Ok(())
}

/// The catalog: every layer with the provenance of its current import.
fn read_layers(c: &mut Client, at: &Location) -> Result<Vec<LayerMeta>, StoreError> {
    let meta = quote_ident(&at.meta);
    let sql = format!(
        "SELECT l.*, i.source_file, i.source_sha256, i.source_crs, i.imported_at
         FROM {meta}.layers l JOIN {meta}.imports i ON i.id = l.import_id ORDER BY l.name"
    );
    let rows = c.query(&sql, &[])?;
    Ok(rows.iter().map(catalog_row::layer_meta).collect::<Result<Vec<_>, _>>()?)
}

fn read_history(c: &mut Client, at: &Location, layer: &str) -> Result<Vec<ImportRecord>, StoreError> {
    let meta = quote_ident(&at.meta);
    let rows = c.query(&format!("SELECT * FROM {meta}.imports WHERE layer = $1 ORDER BY id"), &[&layer])?;
    Ok(rows.iter().map(catalog_row::import_record).collect::<Result<Vec<_>, _>>()?)
}

fn read_features(c: &mut Client, at: &Location, layer: &LayerMeta, visit: &mut dyn FnMut(Feature)) -> Result<(), StoreError> {
    let columns: String = layer
        .fields
        .iter()
        .map(|f| format!(", {}::{}", quote_ident(&f.name), pg_type(f.ty)))
        .collect();
    let sql = format!(
        "COPY (SELECT fid, ST_AsBinary(geom){columns} FROM {} ORDER BY fid) TO STDOUT (FORMAT binary)",
        at.table(&layer.name)
    );
    let mut copy = c.copy_out(&sql)?;
    let mut rows = CopyRows::start(&mut copy)?;
    let mut field = Vec::new();
    while rows.next_row(2 + layer.fields.len())? {
        let id = rows.field(&mut field)?.map(decode_i64).unwrap_or(0);
        let geometry = match rows.field(&mut field)? {
            Some(wkb) => geom_codec::decode_wkb(wkb).map_err(|source| StoreError::BadGeometry {
                layer: layer.name.clone(),
                fid: id,
                source,
            })?,
            None => None,
        };
        let mut properties = Vec::with_capacity(layer.fields.len());
        for f in &layer.fields {
            properties.push(rows.field(&mut field)?.map_or(Value::Null, |bytes| decode_value(bytes, f.ty)));
        }
        // As in the GeoPackage: an empty geometry is no feature to serve.
        if let Some(geometry) = geometry.filter(|g| Bbox::of(g).is_some()) {
            visit(Feature { id, geometry, properties });
        }
    }
    Ok(())
}

/// How many times a snapshot is tried while imports keep creating layers under it.
const SNAPSHOT_ATTEMPTS: usize = 5;

/// A REPEATABLE READ, READ ONLY transaction on a connection of its own. Every layer table it
/// may read is locked (ACCESS SHARE) before the snapshot is taken: PostgreSQL resolves table
/// names against the current catalog, not the snapshot, so a `--replace` committed meanwhile
/// would otherwise hand it the new table's name with rows it cannot see. The lock makes such
/// an import wait for the snapshot to end instead.
struct PgSnapshot {
    client: Client,
    location: Location,
}

impl PgSnapshot {
    fn open(at: &Location) -> Result<PgSnapshot, StoreError> {
        let mut last_missing = String::new();
        for _ in 0..SNAPSHOT_ATTEMPTS {
            let names: Vec<String> = {
                let mut probe = at.connect()?;
                read_layers(&mut probe, at)?.into_iter().map(|l| l.name).collect()
            };
            let mut client = at.connect()?;
            client.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")?;
            // LOCK takes no snapshot: the first SELECT below does, after every lock is held.
            let tables: Vec<String> = names.iter().map(|n| at.table(n)).collect();
            if !tables.is_empty() {
                client.batch_execute(&format!("LOCK TABLE {} IN ACCESS SHARE MODE", tables.join(", ")))?;
            }
            let in_snapshot = read_layers(&mut client, at)?;
            match in_snapshot.iter().find(|l| !names.contains(&l.name)) {
                // A layer created between the listing and the locks: list and lock again.
                Some(new) => last_missing = new.name.clone(),
                None => {
                    return Ok(PgSnapshot {
                        client,
                        location: at.clone(),
                    })
                }
            }
        }
        Err(StoreError::Busy {
            target: at.target.clone(),
            layer: last_missing,
        })
    }
}

impl StoreSnapshot for PgSnapshot {
    fn layers(&mut self) -> Result<Vec<LayerMeta>, StoreError> {
        read_layers(&mut self.client, &self.location)
    }

    fn history(&mut self, layer: &str) -> Result<Vec<ImportRecord>, StoreError> {
        read_history(&mut self.client, &self.location, layer)
    }

    fn for_each_feature(&mut self, layer: &LayerMeta, visit: &mut dyn FnMut(Feature)) -> Result<(), StoreError> {
        read_features(&mut self.client, &self.location, layer, visit)
    }

    fn tokens(&mut self) -> Result<Vec<TokenRecord>, StoreError> {
        postgis_tokens::list(&mut self.client, &quote_ident(&self.location.meta))
    }

    fn audit_rows(&mut self) -> Result<Vec<crate::audit::AuditRow>, StoreError> {
        postgis_audit::rows(&mut self.client, &quote_ident(&self.location.meta))
    }
}

impl Store for PostgisStore {
    fn layers(&self) -> Result<Vec<LayerMeta>, StoreError> {
        self.read(|c| read_layers(c, &self.location))
    }

    fn history(&self, layer: &str) -> Result<Vec<ImportRecord>, StoreError> {
        self.read(|c| read_history(c, &self.location, layer))
    }

    fn for_each_feature(&self, layer: &LayerMeta, visit: &mut dyn FnMut(Feature)) -> Result<(), StoreError> {
        read_features(&mut *self.reader()?, &self.location, layer, visit)
    }

    fn begin_layer(&self, spec: NewLayer) -> Result<Box<dyn LayerWriter>, StoreError> {
        check_layer_name(&spec.name)?;
        let mut client = self.location.connect()?;
        client.batch_execute("BEGIN")?;
        let exists = client
            .query_opt(
                "SELECT 1 FROM pg_tables WHERE schemaname = $1 AND tablename = $2",
                &[&self.location.data, &spec.name],
            )?
            .is_some();
        if exists && !spec.replace {
            return Err(StoreError::LayerExists(spec.name));
        }
        // A replacement is written beside the old table and swapped in at commit; the backend
        // pid makes its name unique among live sessions (and no layer can start with bando_).
        let table = if exists {
            let pid: i32 = client.query_one("SELECT pg_backend_pid()", &[])?.get(0);
            format!("bando_new_{pid}")
        } else {
            spec.name.clone()
        };
        let columns: String = spec
            .fields
            .iter()
            .map(|f| format!(", {} {}", quote_ident(&f.name), pg_type(f.ty)))
            .collect();
        let created = client.batch_execute(&format!(
            "CREATE TABLE {} (fid bigint NOT NULL, geom geometry(Geometry, 4326){columns})",
            self.location.table(&table)
        ));
        match created {
            Err(e) if e.code() == Some(&postgres::error::SqlState::DUPLICATE_TABLE) => return Err(StoreError::LayerExists(spec.name)),
            other => other?,
        }
        let names: String = spec.fields.iter().map(|f| format!(", {}", quote_ident(&f.name))).collect();
        let copy_sql = format!("COPY {} (fid, geom{names}) FROM STDIN (FORMAT binary)", self.location.table(&table));
        let (rows, received) = sync_channel(4);
        let location = self.location.clone();
        let worker = std::thread::Builder::new()
            .name(format!("copy {}", spec.name))
            .spawn(move || write_layer(client, &copy_sql, received, &location, table))?;
        let mut chunk = Vec::with_capacity(CHUNK_BYTES + 4096);
        chunk.extend_from_slice(COPY_SIGNATURE);
        chunk.extend_from_slice(&[0; 8]); // flags, header extension length
        Ok(Box::new(PostgisLayerWriter {
            rows: Some(rows),
            worker: Some(worker),
            chunk,
            spec,
            replaced: exists,
            count: 0,
            last_id: 0,
            bbox: None,
            geometry_kind: None,
        }))
    }

    fn generation(&self) -> Result<i64, StoreError> {
        let meta = quote_ident(&self.location.meta);
        let sql = format!("SELECT value FROM {meta}.generation");
        self.read(|c| Ok(c.query_one(&sql, &[])?.try_get(0)?))
    }

    fn describe(&self) -> String {
        format!("PostGIS {} schema {}", self.location.target, self.location.data)
    }

    fn changes(&self) -> Option<Result<Box<dyn ChangeFeed>, StoreError>> {
        let feed = self.location.connect().and_then(PgChangeFeed::listen);
        Some(feed.map(|f| Box::new(f) as Box<dyn ChangeFeed>))
    }

    fn add_token(&self, token: &NewToken) -> Result<TokenRecord, StoreError> {
        // Writes are not retried: a commit whose answer was lost would be made twice.
        postgis_tokens::add(&mut *self.reader()?, &quote_ident(&self.location.meta), token)
    }

    fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        let meta = quote_ident(&self.location.meta);
        self.read(|c| postgis_tokens::list(c, &meta))
    }

    fn revoke_token(&self, id: i64) -> Result<TokenRecord, StoreError> {
        postgis_tokens::revoke(&mut *self.reader()?, &quote_ident(&self.location.meta), id)
    }

    fn token_generation(&self) -> Result<i64, StoreError> {
        let meta = quote_ident(&self.location.meta);
        self.read(|c| postgis_tokens::generation(c, &meta))
    }

    fn append_audit(&self, entries: &[crate::audit::AuditEntry]) -> Result<(), StoreError> {
        // Not retried, like every write: a commit whose answer was lost would be made twice.
        postgis_audit::append(&mut *self.reader()?, &quote_ident(&self.location.meta), entries)
    }

    fn audit_rows(&self) -> Result<Vec<crate::audit::AuditRow>, StoreError> {
        let meta = quote_ident(&self.location.meta);
        self.read(|c| postgis_audit::rows(c, &meta))
    }

    fn snapshot(&self) -> Result<Box<dyn StoreSnapshot>, StoreError> {
        Ok(Box::new(PgSnapshot::open(&self.location)?))
    }

    fn restore_tokens(&self, tokens: &[TokenRecord]) -> Result<(), StoreError> {
        postgis_tokens::restore(&mut *self.reader()?, &quote_ident(&self.location.meta), tokens)
    }

    fn restore_audit(&self, rows: &[crate::audit::AuditRow]) -> Result<bool, StoreError> {
        postgis_audit::restore(&mut *self.reader()?, &quote_ident(&self.location.meta), rows)
    }
}

/// What the COPY thread receives: rows in binary COPY form, then the catalog entry to commit.
enum ToWorker {
    Rows(Vec<u8>),
    Commit(Box<Commit>),
}

struct Commit {
    layer: String,
    kind: LayerKind,
    geometry_type: GeometryKind,
    fields: Vec<FieldDef>,
    count: u64,
    bbox: Option<Bbox>,
    replaced: bool,
    history: History,
}

/// What a committed layer write returns: its import id and the history row it points at.
type Committed = (i64, ImportRecord);

/// The COPY thread: owns the connection and its open transaction. A closed channel without a
/// `Commit` (the writer was dropped, the process is dying) ends it uncommitted: the server
/// rolls everything back when the connection goes.
fn write_layer(
    mut client: Client,
    copy_sql: &str,
    received: Receiver<ToWorker>,
    at: &Location,
    table: String,
) -> Result<Committed, StoreError> {
    let commit = copy_rows(&mut client, copy_sql, received)?;
    // Still inside the transaction begin_layer opened.
    let tx = &mut client;
    finish_table(tx, at, &table, &commit)?;
    let meta = quote_ident(&at.meta);
    // The layer's row goes first: it points at the history record_history may replace.
    tx.execute(&format!("DELETE FROM {meta}.layers WHERE name = $1"), &[&commit.layer])?;
    // record_history stamps the import last, just before COMMIT, so replicas can measure how
    // long they took to pick it up.
    let (import_id, current) = record_history(tx, &meta, &commit)?;
    record_layer(tx, &meta, &commit, import_id)?;
    tx.execute(&format!("UPDATE {meta}.generation SET value = value + 1"), &[])?;
    tx.execute("SELECT pg_notify($1, $2)", &[&NOTIFY_CHANNEL, &commit.layer])?;
    tx.batch_execute("COMMIT")?;
    Ok((import_id, current))
}

/// Streams the rows the writer sends into COPY until it commits.
fn copy_rows(client: &mut Client, copy_sql: &str, received: Receiver<ToWorker>) -> Result<Commit, StoreError> {
    let mut copy = client.copy_in(copy_sql)?;
    loop {
        match received.recv() {
            Ok(ToWorker::Rows(bytes)) => copy.write_all(&bytes)?,
            Ok(ToWorker::Commit(commit)) => {
                copy.write_all(&(-1i16).to_be_bytes())?;
                copy.finish()?;
                return Ok(*commit);
            }
            Err(_) => return Err(StoreError::Io(std::io::Error::other("layer write abandoned"))),
        }
    }
}

/// Puts the written table in the layer's place, with its geometry type, key and index.
fn finish_table(tx: &mut Client, at: &Location, table: &str, commit: &Commit) -> Result<(), StoreError> {
    let target = at.table(&commit.layer);
    if commit.replaced {
        tx.batch_execute(&format!(
            "DROP TABLE {target}; ALTER TABLE {} RENAME TO {}",
            at.table(table),
            quote_ident(&commit.layer)
        ))?;
    }
    let geometry_type = commit.geometry_type.as_str();
    let to_multi = if geometry_type.starts_with("MULTI") {
        "ST_Multi(geom)"
    } else {
        "geom"
    };
    tx.batch_execute(&format!(
        "ALTER TABLE {target} ALTER COLUMN geom TYPE geometry({geometry_type}, 4326) USING {to_multi};
         ALTER TABLE {target} ADD PRIMARY KEY (fid);
         CREATE INDEX {} ON {target} USING gist (geom);",
        quote_ident(&format!("{}_geom_idx", commit.layer))
    ))?;
    Ok(())
}

/// Writes the layer's import history; returns the id and record of this import.
fn record_history(tx: &mut Client, meta: &str, commit: &Commit) -> Result<Committed, StoreError> {
    let rows = commit.history.rows(&commit.layer, commit.count, commit.replaced, &now_iso());
    if commit.history.replaces_history() {
        tx.execute(&format!("DELETE FROM {meta}.imports WHERE layer = $1"), &[&commit.layer])?;
    }
    let insert = tx.prepare(&format!(
        "INSERT INTO {meta}.imports (layer, source_file, source_sha256, source_crs, imported_at, read, written, skipped, repaired, seconds, replaced)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id"
    ))?;
    let mut current = None;
    for r in rows {
        let id: i64 = tx
            .query_one(
                &insert,
                &[
                    &commit.layer,
                    &r.source_file,
                    &r.source_sha256,
                    &r.source_crs,
                    &r.imported_at,
                    &(r.read as i64),
                    &(r.written as i64),
                    &(r.skipped as i64),
                    &(r.repaired as i64),
                    &r.seconds,
                    &r.replaced,
                ],
            )?
            .get(0);
        current = Some((id, r));
    }
    current.ok_or_else(|| StoreError::NoHistory {
        layer: commit.layer.clone(),
    })
}

/// Writes the layer's catalog row (its old one is gone), pointing at its import.
fn record_layer(tx: &mut Client, meta: &str, commit: &Commit, import_id: i64) -> Result<(), StoreError> {
    let b = commit.bbox;
    tx.execute(
        &format!("INSERT INTO {meta}.layers VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"),
        &[
            &commit.layer,
            &commit.kind.as_str(),
            &commit.geometry_type.as_str(),
            &(commit.count as i64),
            &b.map(|b| b.west),
            &b.map(|b| b.south),
            &b.map(|b| b.east),
            &b.map(|b| b.north),
            &serde_json::to_string(&commit.fields).unwrap_or_else(|_| "[]".into()),
            &import_id,
        ],
    )?;
    Ok(())
}

struct PostgisLayerWriter {
    /// Some until commit; dropping it tells the COPY thread to give up.
    rows: Option<SyncSender<ToWorker>>,
    worker: Option<JoinHandle<Result<Committed, StoreError>>>,
    chunk: Vec<u8>,
    spec: NewLayer,
    replaced: bool,
    count: u64,
    /// The id of the last feature written; the next one's must be greater.
    last_id: i64,
    bbox: Option<Bbox>,
    geometry_kind: Option<GeometryKind>,
}

impl PostgisLayerWriter {
    fn send(&mut self, message: ToWorker) -> Result<(), StoreError> {
        let sent = self.rows.as_ref().map(|rows| rows.send(message).is_ok()).unwrap_or(false);
        if sent {
            Ok(())
        } else {
            // The thread stopped early: its error says why.
            Err(self
                .join()
                .err()
                .unwrap_or_else(|| StoreError::Io(std::io::Error::other("COPY thread ended early"))))
        }
    }

    fn join(&mut self) -> Result<Committed, StoreError> {
        self.rows = None;
        match self.worker.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(StoreError::Io(std::io::Error::other("COPY thread panicked"))),
            None => Err(StoreError::Io(std::io::Error::other("layer writer already finished"))),
        }
    }
}

impl Drop for PostgisLayerWriter {
    fn drop(&mut self) {
        if self.worker.is_some() {
            // Uncommitted: close the channel and wait until the connection (and so the
            // transaction) is gone, so the caller sees the store as it was.
            let _ = self.join();
        }
    }
}

impl LayerWriter for PostgisLayerWriter {
    fn write(&mut self, geometry: &geo_types::Geometry<f64>, properties: &[Value]) -> Result<i64, StoreError> {
        let fid = self.last_id + 1;
        self.write_with_id(fid, geometry, properties)?;
        Ok(fid)
    }

    fn write_with_id(&mut self, id: i64, geometry: &geo_types::Geometry<f64>, properties: &[Value]) -> Result<(), StoreError> {
        let fid = next_id(&self.spec.name, self.last_id, id)?;
        self.count += 1;
        self.last_id = fid;
        let out = &mut self.chunk;
        out.extend_from_slice(&((2 + self.spec.fields.len()) as i16).to_be_bytes());
        out.extend_from_slice(&8i32.to_be_bytes());
        out.extend_from_slice(&fid.to_be_bytes());
        let length_at = out.len();
        out.extend_from_slice(&[0; 4]);
        geom_codec::encode_ewkb_4326(geometry, out);
        let length = (out.len() - length_at - 4) as i32;
        out[length_at..length_at + 4].copy_from_slice(&length.to_be_bytes());
        for (field, value) in self
            .spec
            .fields
            .iter()
            .zip(properties.iter().chain(std::iter::repeat(&Value::Null)))
        {
            encode_value(out, value, field.ty);
        }
        if let Some(b) = Bbox::of(geometry) {
            self.bbox = Some(self.bbox.map_or(b, |acc| acc.union(b)));
        }
        let kind = GeometryKind::of(geometry);
        self.geometry_kind = Some(self.geometry_kind.map_or(kind, |k| k.merge(kind)));
        if self.chunk.len() >= CHUNK_BYTES {
            let full = std::mem::replace(&mut self.chunk, Vec::with_capacity(CHUNK_BYTES + 4096));
            self.send(ToWorker::Rows(full))?;
        }
        Ok(())
    }

    fn commit(self: Box<Self>, provenance: Provenance) -> Result<LayerMeta, StoreError> {
        (*self).finish(History::Import(provenance))
    }

    fn commit_copied(self: Box<Self>, history: Vec<ImportRecord>) -> Result<LayerMeta, StoreError> {
        (*self).finish(History::Copied(history))
    }
}

impl PostgisLayerWriter {
    /// Sends the last rows and the catalog entry, and waits for the COPY thread's COMMIT.
    fn finish(mut self, history: History) -> Result<LayerMeta, StoreError> {
        let rest = std::mem::take(&mut self.chunk);
        self.send(ToWorker::Rows(rest))?;
        let geometry_type = self.geometry_kind.unwrap_or(GeometryKind::Geometry);
        self.send(ToWorker::Commit(Box::new(Commit {
            layer: self.spec.name.clone(),
            kind: self.spec.kind,
            geometry_type,
            fields: self.spec.fields.clone(),
            count: self.count,
            bbox: self.bbox,
            replaced: self.replaced,
            history,
        })))?;
        let (import_id, current) = self.join()?;
        let written = Written {
            geometry_type,
            feature_count: self.count,
            bbox: self.bbox,
        };
        Ok(LayerMeta::written(&self.spec, written, current, import_id))
    }
}

/// One field of a binary COPY row: length, then the value in the column type's binary form
/// (a value of another type is coerced to the field's first, as the GeoPackage reads it back).
fn encode_value(out: &mut Vec<u8>, value: &Value, ty: FieldType) {
    let coerced;
    let value = match (ty, value) {
        (FieldType::Bool, Value::Bool(_))
        | (FieldType::Int, Value::Int(_))
        | (FieldType::Float, Value::Float(_))
        | (FieldType::Text, Value::Text(_)) => value,
        _ => {
            coerced = value.clone().coerce(ty);
            &coerced
        }
    };
    let mut field = |bytes: &[u8]| {
        out.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
        out.extend_from_slice(bytes);
    };
    match (ty, value) {
        (FieldType::Bool, Value::Bool(b)) => field(&[*b as u8]),
        (FieldType::Int, Value::Int(i)) => field(&i.to_be_bytes()),
        (FieldType::Float, Value::Float(f)) => field(&f.to_be_bytes()),
        // PostgreSQL text cannot hold NUL.
        (FieldType::Text, Value::Text(t)) if t.contains('\0') => field(t.replace('\0', "").as_bytes()),
        (FieldType::Text, Value::Text(t)) => field(t.as_bytes()),
        _ => out.extend_from_slice(&(-1i32).to_be_bytes()),
    }
}

fn decode_i64(bytes: &[u8]) -> i64 {
    bytes.try_into().map(i64::from_be_bytes).unwrap_or(0)
}

fn decode_value(bytes: &[u8], ty: FieldType) -> Value {
    match ty {
        FieldType::Bool => Value::Bool(bytes.first().is_some_and(|b| *b != 0)),
        FieldType::Int => Value::Int(decode_i64(bytes)),
        FieldType::Float => bytes.try_into().map_or(Value::Null, |b| Value::Float(f64::from_be_bytes(b))),
        FieldType::Text => Value::Text(String::from_utf8_lossy(bytes).into()),
    }
}

/// A reader of `COPY … TO STDOUT (FORMAT binary)`: one row at a time, one field at a time, into
/// a buffer the caller reuses, so a layer is never held twice in memory.
struct CopyRows<'r, R: BufRead> {
    input: &'r mut R,
}

fn truncated() -> StoreError {
    StoreError::Io(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "truncated COPY stream"))
}

impl<'r, R: BufRead> CopyRows<'r, R> {
    fn start(input: &'r mut R) -> Result<Self, StoreError> {
        let mut header = [0u8; 19];
        input.read_exact(&mut header)?;
        if &header[..11] != COPY_SIGNATURE {
            return Err(truncated());
        }
        let extension = u32::from_be_bytes([header[15], header[16], header[17], header[18]]);
        std::io::copy(&mut input.by_ref().take(extension as u64), &mut std::io::sink())?;
        Ok(CopyRows { input })
    }

    /// Starts the next row: false at the end of the stream.
    fn next_row(&mut self, fields: usize) -> Result<bool, StoreError> {
        let mut count = [0u8; 2];
        self.input.read_exact(&mut count)?;
        match i16::from_be_bytes(count) {
            -1 => Ok(false),
            n if n as usize == fields => Ok(true),
            _ => Err(truncated()),
        }
    }

    /// The next field of the row, `None` for NULL.
    fn field<'b>(&mut self, buffer: &'b mut Vec<u8>) -> Result<Option<&'b [u8]>, StoreError> {
        let mut length = [0u8; 4];
        self.input.read_exact(&mut length)?;
        let length = i32::from_be_bytes(length);
        if length < 0 {
            return Ok(None);
        }
        buffer.clear();
        let read = self.input.by_ref().take(length as u64).read_to_end(buffer)?;
        if read != length as usize {
            return Err(truncated());
        }
        Ok(Some(buffer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_gives_connection_schemas_and_a_target_without_the_password() {
        let at = Location::parse("postgresql://gis:s3cret@db.local:6543/city?schema=hue&connect_timeout=5").unwrap();
        assert_eq!(at.target, "gis@db.local:6543/city");
        assert_eq!((at.data.as_str(), at.meta.as_str()), ("hue", "hue_meta"));
        assert_eq!(Location::parse("postgres://u@h/d").unwrap().data, "bando");
        // Every host of a primary and its standbys, the writable one chosen (README, failover).
        let failover = Location::parse("postgresql://u:pw@db1:5432,db2:5433/gis?target_session_attrs=read-write").unwrap();
        assert_eq!(failover.config.get_hosts().len(), 2);
        assert_eq!(
            failover.config.get_target_session_attrs(),
            postgres::config::TargetSessionAttrs::ReadWrite
        );
        let bad = Location::parse("postgresql://u:pw@h/d?schema=Bad-Name").err().unwrap().to_string();
        assert!(bad.contains("schema") && !bad.contains("pw@"), "{bad}");
    }

    #[test]
    fn copy_rows_read_back_what_the_writer_encodes() {
        let mut stream = COPY_SIGNATURE.to_vec();
        stream.extend_from_slice(&[0; 8]);
        stream.extend_from_slice(&3i16.to_be_bytes());
        for (value, ty) in [
            (Value::Int(7), FieldType::Int),
            (Value::Text("Huế".into()), FieldType::Text),
            (Value::Null, FieldType::Float),
        ] {
            encode_value(&mut stream, &value, ty);
        }
        stream.extend_from_slice(&(-1i16).to_be_bytes());
        let mut input = &stream[..];
        let mut rows = CopyRows::start(&mut input).unwrap();
        assert!(rows.next_row(3).unwrap());
        let mut buf = Vec::new();
        assert_eq!(rows.field(&mut buf).unwrap().map(decode_i64), Some(7));
        let text = rows.field(&mut buf).unwrap().map(|b| decode_value(b, FieldType::Text));
        assert_eq!(text, Some(Value::Text("Huế".into())));
        assert!(rows.field(&mut buf).unwrap().is_none());
        assert!(!rows.next_row(3).unwrap());
    }
}
