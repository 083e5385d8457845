//! The `bando` command line: a thin edge over the library. Parses arguments, sets up logging,
//! prints summaries; all the work happens in the library.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use std::io::Write;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use bando::audit;
use bando::city3d::{City3d, City3dOptions, ExportOptions, Styling};
use bando::config::{City3dSection, ConfigFile, LogFormat};
use bando::crs::Region;
use bando::demo::{self, DemoOptions};
use bando::import::{self, ImportOptions};
use bando::index::{Catalog, LayerData};
use bando::live::{demo::DemoLive, simulate};
use bando::policy::tokens::{self, TokenCache};
use bando::policy::{PolicyFile, Role, Security, View, Vocabulary};
use bando::scenarios::{ScenarioFolder, Scenarios};
use bando::server::{self, App, ServerConfig};
use bando::store::{self, gpkg::GpkgStore, NewToken, Store, TokenRecord};
use bando::tiles::{export, TileService, TileSource};

const DEFAULT_STORE: &str = "data/bando.gpkg";
const DEMO_STORE: &str = "data/demo.gpkg";

#[derive(Parser)]
#[command(name = "bando", version, about = "Geospatial tile and 3D-city server for a provincial IOC")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Import a survey dataset (Shapefile, GeoPackage, GeoJSON, FlatGeobuf, KML, GML, DXF, CSV, OSM PBF) as a layer.
    Import(ImportArgs),
    /// Serve tiles, styles, 3D tiles and queries over HTTP.
    Serve(ServeArgs),
    /// Build the synthetic demo province into a store (for trying bando and for benchmarks).
    Demo(DemoArgs),
    /// Export layers or scenario maps to files for static hosting (PMTiles, 3D Tiles).
    #[command(subcommand)]
    Export(ExportCommand),
    /// Manage API tokens (create, list, revoke); the store keeps only their hashes.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Export the audit log (requests by identities, refused requests, admin actions), or verify its hash chain.
    Audit(AuditArgs),
    /// Copy a whole store into another (GeoPackage to PostGIS and back) and verify the copy.
    #[command(subcommand)]
    Store(StoreCommand),
    /// Write a consistent snapshot of a store, with a manifest of checksums, to a new GeoPackage file.
    Backup(BackupArgs),
    /// Restore a backup file into a store, after checking it against its manifest.
    Restore(RestoreArgs),
    /// Publish realistic live traffic around the demo province to an MQTT broker: vessels in and
    /// out of the fishing zones, some going silent, sensors drifting over their limits.
    Simulate(SimulateArgs),
}

#[derive(Args)]
struct SimulateArgs {
    /// The MQTT broker, mqtt://host:port.
    #[arg(long, default_value = "mqtt://127.0.0.1:1883")]
    broker: String,
    /// Vessels, on topics vms/{id}/position.
    #[arg(long, default_value_t = 50)]
    vessels: usize,
    /// Sensors, on env/{id}/reading (pm25, cod) and water/{id}/level (water_level_m).
    #[arg(long, default_value_t = 24)]
    sensors: usize,
    /// Messages per second, all devices together.
    #[arg(long, default_value_t = 20.0)]
    rate: f64,
    /// Simulated seconds per real second (the messages' times run ahead of the clock).
    #[arg(long, default_value_t = 1.0)]
    speedup: f64,
    /// Stop after this many seconds (default: run until interrupted).
    #[arg(long)]
    seconds: Option<f64>,
    /// The seed of the traffic (the same seed, the same traffic).
    #[arg(long, default_value_t = 14)]
    seed: u64,
    /// MQTT QoS of the messages: 0 or 1.
    #[arg(long, default_value_t = 1)]
    qos: u8,
    /// The store whose fishing_zones, env_sensors and water_level_sensors the traffic follows
    /// (default the demo province, data/demo.gpkg, built once).
    #[arg(long)]
    store: Option<String>,
}

#[derive(Subcommand)]
enum StoreCommand {
    /// Every layer, the catalog and history, tokens and audit log, from one snapshot; exits 1 if the verification fails.
    Copy(StoreCopyArgs),
}

#[derive(Args)]
struct StoreCopyArgs {
    /// The store to read (a GeoPackage file or a PostGIS URL).
    #[arg(long)]
    from: String,
    /// The store to write.
    #[arg(long)]
    to: String,
    /// Swap in layers the target already has (one transaction each) instead of refusing.
    #[arg(long)]
    replace: bool,
}

#[derive(Args)]
struct BackupArgs {
    #[command(flatten)]
    at: TokenStoreArgs,
    /// The backup file to write (a new GeoPackage; never overwritten).
    #[arg(long)]
    to: PathBuf,
}

#[derive(Args)]
struct RestoreArgs {
    /// A file `bando backup` wrote.
    file: PathBuf,
    /// The store to restore into (a GeoPackage file or a PostGIS URL).
    #[arg(long)]
    to: String,
    /// Swap in layers the store already has (one transaction each) instead of refusing.
    #[arg(long)]
    replace: bool,
}

#[derive(Args)]
struct AuditArgs {
    #[command(subcommand)]
    action: Option<AuditAction>,
    /// Only records at or after this time (RFC 3339, e.g. 2026-12-03 or 2026-12-03T10:00:00Z).
    #[arg(long)]
    since: Option<String>,
    /// Only records of this identity (token:ID, jwt:SUBJECT, anonymous, cli:USER).
    #[arg(long)]
    identity: Option<String>,
    /// csv or json.
    #[arg(long, default_value = "csv")]
    format: String,
    #[command(flatten)]
    at: TokenStoreArgs,
}

#[derive(Subcommand)]
enum AuditAction {
    /// Check every row's hash and link; names the first broken row (exit status 1).
    Verify(AuditVerifyArgs),
}

#[derive(Args)]
struct AuditVerifyArgs {
    #[command(flatten)]
    at: TokenStoreArgs,
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a token for a role and print it once on stdout (it cannot be shown again).
    Create(TokenCreateArgs),
    /// List the tokens: id, role, scope, created, expires, note, revoked (never the tokens).
    List(TokenListArgs),
    /// Revoke a token by id; running servers refuse it from their next look at the store.
    Revoke(TokenRevokeArgs),
}

/// Where the tokens are: `--store`, else `[store] location` of `--config`, else data/bando.gpkg.
#[derive(Args)]
struct TokenStoreArgs {
    /// A GeoPackage file or a PostGIS database URL.
    #[arg(long)]
    store: Option<String>,
    /// bando.toml: its [store] location, and its [security] policy to check --role against.
    #[arg(long)]
    config: Option<PathBuf>,
}

#[derive(Args)]
struct TokenCreateArgs {
    /// A role of the policy ([[security.roles]] name).
    #[arg(long)]
    role: String,
    /// Administrative units a scoped role is limited to: LAYER:CODE[,LAYER:CODE...], e.g. wards:19900.
    #[arg(long)]
    scope: Option<String>,
    /// Days until the token is refused (default: never).
    #[arg(long)]
    expires_days: Option<u32>,
    /// Who or what the token is for (shown by `token list`).
    #[arg(long, default_value = "")]
    note: String,
    #[command(flatten)]
    at: TokenStoreArgs,
}

#[derive(Args)]
struct TokenListArgs {
    /// Print the list as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    at: TokenStoreArgs,
}

#[derive(Args)]
struct TokenRevokeArgs {
    /// The token's id (from `token list`).
    id: i64,
    #[command(flatten)]
    at: TokenStoreArgs,
}

#[derive(Subcommand)]
enum ExportCommand {
    /// OGC 3D Tiles 1.1 of a building layer: OUT_DIR/tileset.json and OUT_DIR/tiles/*.glb.
    #[command(name = "3dtiles")]
    Threedtiles(ThreedtilesArgs),
    /// Write a clustered PMTiles v3 archive of vector tiles (gzip) for a scenario map or layers.
    Pmtiles(PmtilesArgs),
}

#[derive(Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["scenario", "layers"])))]
struct PmtilesArgs {
    /// The scenario map to export (its id in tilesets/).
    #[arg(long)]
    scenario: Option<String>,
    /// Comma list of store layers to export.
    #[arg(long)]
    layers: Option<String>,
    #[arg(long, default_value_t = 0)]
    minzoom: u8,
    #[arg(long, default_value_t = 14)]
    maxzoom: u8,
    /// A GeoPackage file, or a PostGIS database: postgresql://user:password@host:port/db[?schema=bando]
    /// (default: [store] location of --config, else data/bando.gpkg).
    #[arg(long)]
    store: Option<String>,
    /// Folder of scenario files (default: [server] tilesets of --config, else tilesets).
    #[arg(long)]
    tilesets: Option<PathBuf>,
    /// bando.toml: with a [security] policy, the archive holds only what --role may see.
    #[arg(long)]
    config: Option<PathBuf>,
    /// The role of the policy whose view is exported (default: its anonymous role).
    #[arg(long)]
    role: Option<String>,
    /// The units a scoped role is limited to: LAYER:CODE[,LAYER:CODE...], e.g. wards:19918.
    #[arg(long)]
    scope: Option<String>,
    /// Print the summary as JSON (and no progress bar).
    #[arg(long)]
    json: bool,
    /// The archive to write.
    out: PathBuf,
}

/// LoD1 settings shared by `serve` and `export 3dtiles` (`[city3d]` in bando.toml).
#[derive(Args)]
struct City3dArgs {
    /// Height of one storey (m) for buildings with floors but no height_m (default 3.3).
    #[arg(long)]
    storey_height: Option<f64>,
    /// Height (m) of buildings whose height is missing, negative or over 1,000 m (default 3.3).
    #[arg(long)]
    default_height: Option<f64>,
    /// Most buildings one 3D tile holds (default 1000): a tile keeps the N biggest (footprint
    /// area x height) of its cell and hands the rest to its four children, so every zoom level
    /// shows buildings. `--max-buildings-per-tile`, its earlier name, still works.
    #[arg(long, alias = "max-buildings-per-tile")]
    max_per_tile: Option<usize>,
}

impl City3dArgs {
    /// The flags, else the file's keys, else the defaults.
    fn options(&self, file: &City3dSection) -> anyhow::Result<City3dOptions> {
        let storey_height = self.storey_height.or(file.storey_height).unwrap_or(3.3);
        let default_height = self.default_height.or(file.default_height).unwrap_or(3.3);
        let max_per_tile = self.max_per_tile.or(file.max_per_tile).unwrap_or(1000);
        let valid = |h: f64| h.is_finite() && h > 0.0 && h <= bando::city3d::MAX_PLAUSIBLE_HEIGHT_M;
        anyhow::ensure!(
            valid(storey_height) && valid(default_height),
            "storey and default heights must be in (0, 1000] m"
        );
        anyhow::ensure!(max_per_tile > 0, "--max-per-tile must be at least 1");
        Ok(City3dOptions {
            storey_height_m: storey_height,
            default_height_m: default_height,
            max_per_tile,
        })
    }
}

#[derive(Args)]
struct ThreedtilesArgs {
    /// The building layer (polygons with height_m or floors).
    #[arg(long)]
    layer: String,
    /// Folder to write tileset.json and tiles/ into (created if missing).
    out_dir: PathBuf,
    /// Write every file gzip-compressed under its plain name (serve with Content-Encoding: gzip).
    #[arg(long)]
    gzip: bool,
    /// A GeoPackage file, or a PostGIS database: postgresql://user:password@host:port/db[?schema=bando].
    #[arg(long, default_value = DEFAULT_STORE)]
    store: String,
    #[command(flatten)]
    city3d: City3dArgs,
}

#[derive(Args)]
struct ImportArgs {
    /// The file to import (a .zip holding a Shapefile works too).
    file: PathBuf,
    /// Name of the layer in the store (a-z, 0-9, _).
    #[arg(long)]
    layer: String,
    /// admin, cadastral, housing, building, planning, infrastructure, poi or iot (guessed from field names when omitted).
    #[arg(long)]
    kind: Option<String>,
    /// Which layer of a multi-layer source (OSM PBF, DXF, GeoPackage) to read; default the first.
    #[arg(long)]
    source_layer: Option<String>,
    /// The source CRS when the file does not declare one or declares it wrongly: EPSG:n, PROJ, WKT,
    /// VN2000:UTM48, VN2000:UTM49, VN2000:TM3:<central meridian>, VN2000:<province>.
    #[arg(long)]
    src_crs: Option<String>,
    /// Text encoding of a Shapefile's .dbf without .cpg, e.g. CP1258.
    #[arg(long)]
    encoding: Option<String>,
    /// Replace an existing layer of the same name (in one transaction).
    #[arg(long)]
    replace: bool,
    /// Make invalid geometries valid instead of refusing the import.
    #[arg(long)]
    repair: bool,
    /// Import each GeometryCollection that mixes kinds as one kind: the source layer's declared
    /// kind, else its polygons over its lines over its points (the other parts are dropped).
    #[arg(long)]
    split_collections: bool,
    /// Import profile (TOML) mapping source fields to canonical ones, e.g. importers/cadastral.toml.
    #[arg(long)]
    profile: Option<PathBuf>,
    /// Map one source field to a target name for this import: --map SoThua=parcel_no (repeatable).
    #[arg(long = "map", value_name = "SRC=FIELD")]
    maps: Vec<String>,
    /// Mark fields as personal data (by target or source name): --personal owner_name,phone.
    /// Kept in the catalog; only roles with `personal_data = true` receive them.
    #[arg(long, value_name = "F1,F2", value_delimiter = ',')]
    personal: Vec<String>,
    /// Also accept data inside this box (west,south,east,north), for data outside Vietnam.
    #[arg(long)]
    region: Vec<String>,
    /// A GeoPackage file, or a PostGIS database: postgresql://user:password@host:port/db[?schema=bando].
    #[arg(long, default_value = DEFAULT_STORE)]
    store: String,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

/// `bando serve`: every flag has a key in bando.toml (`[server]` unless said otherwise); a flag
/// given wins over its key, a key over the default.
#[derive(Args)]
struct ServeArgs {
    /// bando.toml: server settings and the access policy ([security]); see docs/bando.example.toml.
    #[arg(long)]
    config: Option<PathBuf>,
    /// The store: a GeoPackage file, or a PostGIS database
    /// postgresql://user:password@host:port/db[?schema=bando] (default data/bando.gpkg; `[store] location`).
    #[arg(long)]
    store: Option<String>,
    /// Address to listen on (default 127.0.0.1:8080).
    #[arg(long)]
    addr: Option<SocketAddr>,
    /// Build (once) and serve the demo province in data/demo.gpkg.
    #[arg(long)]
    demo: bool,
    /// Seconds between checks of the store (imports made by other processes, tokens), the
    /// scenario folder (edited, added or removed files) and the policy file (default 1).
    #[arg(long)]
    watch_seconds: Option<f64>,
    /// The public base URL of this server (e.g. https://ioc.example.vn/bando) for tile URLs in TileJSON.
    #[arg(long)]
    public_url: Option<String>,
    /// Memory budget of the tile and 3D caches, in MiB (default 512).
    #[arg(long)]
    cache_mb: Option<u64>,
    /// Switch every cache off (for measuring the cold path).
    #[arg(long)]
    no_cache: bool,
    /// Folder of scenario files and PMTiles archives (default tilesets).
    #[arg(long)]
    tilesets: Option<PathBuf>,
    /// Folder of MapLibre styles (default styles).
    #[arg(long)]
    styles: Option<PathBuf>,
    /// `[city3d]` in bando.toml.
    #[command(flatten)]
    city3d: City3dArgs,
    /// Folder of the web viewer served at / (its libraries in DIR/node_modules, from npm ci; default web).
    #[arg(long)]
    web: Option<PathBuf>,
    /// Largest radius (m) a spatial query may ask for (default 50000).
    #[arg(long)]
    max_radius_m: Option<f64>,
    /// A PMTiles archive to serve at /tiles/{file stem}/... (repeatable; *.pmtiles in --tilesets are
    /// served too). Given on the command line, these replace the file's list.
    #[arg(long = "pmtiles", value_name = "FILE")]
    pmtiles: Vec<PathBuf>,
    /// text (default), or json: one JSON object per line, with a line for every request carrying
    /// its X-Request-Id (default: BANDO_LOG_FORMAT, else text).
    #[arg(long)]
    log_format: Option<LogFormat>,
    /// A web origin (scheme://host[:port]) whose pages may read this server (repeatable). Without
    /// it an open server allows every origin and a server with [security] none; "*" allows all.
    #[arg(long = "cors-origin", value_name = "ORIGIN")]
    cors_origins: Vec<String>,
    /// Serve HTTPS with this PEM certificate chain (with --tls-key).
    #[arg(long)]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long)]
    tls_key: Option<PathBuf>,
}

#[derive(Args)]
struct DemoArgs {
    /// Number of cadastral parcels (buildings, houses, roads and lights scale with it).
    #[arg(long, default_value_t = 20_000)]
    parcels: usize,
    /// A GeoPackage file (rebuilt), or a PostGIS database URL (the layers must not exist yet).
    #[arg(long, default_value = DEMO_STORE)]
    store: String,
}

/// The log format of BANDO_LOG_FORMAT (`json`), else text.
fn env_log_format() -> LogFormat {
    std::env::var("BANDO_LOG_FORMAT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_default()
}

fn init_logging(format: LogFormat) {
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("BANDO_LOG").unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,geo=error"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

fn main() {
    let cli = Cli::parse();
    // `serve` starts logging once it has read its configuration file (`log_format`).
    if !matches!(cli.command, Command::Serve(_)) {
        init_logging(env_log_format());
    }
    let result = match cli.command {
        Command::Import(args) => run_import(args),
        Command::Serve(args) => run_serve(args),
        Command::Demo(args) => run_demo(args),
        Command::Export(ExportCommand::Threedtiles(args)) => run_export_3dtiles(args),
        Command::Export(ExportCommand::Pmtiles(args)) => run_export_pmtiles(args),
        Command::Token(TokenCommand::Create(args)) => run_token_create(args),
        Command::Token(TokenCommand::List(args)) => run_token_list(args),
        Command::Token(TokenCommand::Revoke(args)) => run_token_revoke(args),
        Command::Audit(AuditArgs {
            action: Some(AuditAction::Verify(args)),
            ..
        }) => run_audit_verify(args),
        Command::Audit(args) => run_audit_export(args),
        Command::Store(StoreCommand::Copy(args)) => run_store_copy(args),
        Command::Backup(args) => run_backup(args),
        Command::Restore(args) => run_restore(args),
        Command::Simulate(args) => run_simulate(args),
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn run_import(args: ImportArgs) -> anyhow::Result<()> {
    let mut region = Region::vietnam();
    for r in &args.region {
        region.widen(r).map_err(anyhow::Error::msg)?;
    }
    let kind = args.kind.as_deref().map(str::parse).transpose()?;
    let options = ImportOptions {
        file: args.file.clone(),
        layer: args.layer.clone(),
        kind,
        source_layer: args.source_layer,
        src_crs: args.src_crs,
        encoding: args.encoding,
        replace: args.replace,
        repair: args.repair,
        split_collections: args.split_collections,
        profile: args.profile,
        maps: args.maps,
        personal: args.personal,
        region,
        progress: !args.json,
    };
    let store = store::open(&args.store)?;
    let summary = import::import(store.as_ref(), &options)?;
    let mut action = audit::cli_action(audit::IMPORT, format!("{} -> {}", args.file.display(), summary.layer.name), "");
    action.layers = summary.layer.name.clone();
    action.features = Some(summary.written as i64);
    store.append_audit(&[action])?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        println!(
            "imported {} as layer '{}' ({}, {}) into {}\n  read {}  written {}  skipped {}  repaired {}  split {}  in {:.2} s ({:.0} features/s)",
            args.file.display(),
            summary.layer.name,
            summary.layer.kind,
            summary.layer.geometry_type.as_str(),
            store.describe(),
            summary.read,
            summary.written,
            summary.skipped,
            summary.repaired,
            summary.split,
            summary.seconds,
            summary.features_per_second()
        );
    }
    Ok(())
}

/// Builds the demo into a temporary file and renames it into place, so an interrupted build
/// never leaves a half-made demo store behind.
fn build_demo(path: &Path, parcels: usize) -> anyhow::Result<()> {
    let tmp = path.with_extension("gpkg.building");
    let _ = std::fs::remove_file(&tmp);
    let started = std::time::Instant::now();
    {
        let store = GpkgStore::open(&tmp)?;
        let layers = demo::build(&store, DemoOptions { parcels })?;
        let features: u64 = layers.iter().map(|l| l.feature_count).sum();
        tracing::info!(
            layers = layers.len(),
            features,
            seconds = started.elapsed().as_secs_f64(),
            "demo province built"
        );
    }
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", tmp.display()));
    }
    std::fs::rename(&tmp, path).with_context(|| format!("moving the demo into {}", path.display()))?;
    Ok(())
}

fn run_demo(args: DemoArgs) -> anyhow::Result<()> {
    if store::postgis::is_url(&args.store) {
        // One transaction per layer already: a broken build leaves the layers it finished.
        let store = store::open(&args.store)?;
        demo::build(store.as_ref(), DemoOptions { parcels: args.parcels })?;
        println!("demo province with {} parcels written to {}", args.parcels, store.describe());
        return Ok(());
    }
    let path = PathBuf::from(&args.store);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    if path.exists() {
        std::fs::remove_file(&path)?;
    }
    build_demo(&path, args.parcels)?;
    println!("demo province with {} parcels written to {}", args.parcels, path.display());
    Ok(())
}

/// The store a command uses: `--store`, else `[store] location` of its bando.toml, else data/bando.gpkg.
fn store_location(flag: Option<String>, file: &ConfigFile) -> String {
    flag.or_else(|| file.store.location.as_ref().map(|p| p.display().to_string()))
        .unwrap_or_else(|| DEFAULT_STORE.into())
}

/// The configuration file of `--config`, or an empty one (every setting from flags and defaults).
fn read_config(path: Option<&Path>) -> anyhow::Result<ConfigFile> {
    Ok(match path {
        Some(path) => ConfigFile::read(path)?.0,
        None => ConfigFile::default(),
    })
}

/// The demo store, built the first time it is asked for.
fn demo_store() -> anyhow::Result<PathBuf> {
    let path = PathBuf::from(DEMO_STORE);
    let ready = path.exists() && GpkgStore::open(&path).and_then(|s| s.layer("parcels")).is_ok();
    if !ready {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        tracing::info!(path = %path.display(), "building the demo province (once)");
        build_demo(&path, DemoOptions::default().parcels)?;
    }
    Ok(path)
}

fn run_serve(args: ServeArgs) -> anyhow::Result<()> {
    let file = read_config(args.config.as_deref())?;
    let server = &file.server;
    let log_format = args.log_format.or(server.log_format).unwrap_or_else(env_log_format);
    init_logging(log_format);
    let demo = args.demo || server.demo.unwrap_or(false);
    let location = if demo {
        demo_store()?.display().to_string()
    } else {
        store_location(args.store.clone(), &file)
    };
    let max_radius_m = args.max_radius_m.or(server.max_radius_m).unwrap_or(50_000.0);
    anyhow::ensure!(
        max_radius_m.is_finite() && max_radius_m > 0.0,
        "--max-radius-m (max_radius_m) must be a positive number of metres"
    );
    let watch_seconds = args.watch_seconds.or(server.watch_seconds).unwrap_or(1.0);
    anyhow::ensure!(
        watch_seconds.is_finite() && watch_seconds > 0.0,
        "--watch-seconds (watch_seconds) must be a positive number of seconds"
    );
    let store: Arc<dyn Store> = Arc::from(store::open(&location)?);
    // The demo's live layers (a local Mosquitto and the simulator), unless [live] declares some.
    let demo_live = if demo && file.live.is_empty() {
        Some(DemoLive::start(store.as_ref())?)
    } else {
        None
    };
    let (live_section, live_config) = match &demo_live {
        Some(d) => (ConfigFile::read(&d.config_path())?.0.live, Some(d.config_path())),
        None => (file.live.clone(), args.config.clone()),
    };
    let tilesets = args.tilesets.or(server.tilesets.clone()).unwrap_or_else(|| "tilesets".into());
    let scenarios = Arc::new(ScenarioFolder::open(&tilesets)?);
    let cache_bytes = if args.no_cache || server.no_cache.unwrap_or(false) {
        0
    } else {
        args.cache_mb.or(server.cache_mb).unwrap_or(512) * 1024 * 1024
    };
    let city3d = Arc::new(server::city3d::City3dState::new(args.city3d.options(&file.city3d)?, cache_bytes));
    let config = ServerConfig {
        addr: args
            .addr
            .or(server.addr)
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
        watch_interval: Duration::from_secs_f64(watch_seconds.max(0.05)),
        public_url: args
            .public_url
            .or(server.public_url.clone())
            .map(|u| u.trim_end_matches('/').to_string()),
        cache_bytes,
        tilesets_dir: tilesets,
        styles_dir: args.styles.or(server.styles.clone()).unwrap_or_else(|| "styles".into()),
        web_dir: args.web.or(server.web.clone()).unwrap_or_else(|| "web".into()),
        query_limits: bando::query::Limits {
            max_radius_m,
            ..Default::default()
        },
        access_log: log_format == LogFormat::Json,
        cors: server::cors::Cors::new(
            if args.cors_origins.is_empty() {
                server.cors_origins.as_deref().unwrap_or_default()
            } else {
                &args.cors_origins
            },
            file.security.is_some(),
        )
        .context("--cors-origin (cors_origins)")?,
    };
    let tls = tls_files(args.tls_cert.or(server.tls_cert.clone()), args.tls_key.or(server.tls_key.clone()))?
        .map(|files| files.acceptor())
        .transpose()?;
    let pmtiles = if args.pmtiles.is_empty() {
        server.pmtiles.clone().unwrap_or_default()
    } else {
        args.pmtiles
    };
    let tiles = Arc::new(TileService::new(config.cache_bytes).with_archives(&config.tilesets_dir, &pmtiles)?);
    let addr = config.addr;
    // Everything that needs the layers happens while the server already answers `starting`.
    let load = move || -> anyhow::Result<server::AppState> {
        let started = std::time::Instant::now();
        let catalog = Arc::new(Catalog::load(store.as_ref())?);
        tracing::info!(
            layers = catalog.snapshot().len(),
            seconds = started.elapsed().as_secs_f64(),
            "layers loaded"
        );
        let policy = open_policy(args.config.as_deref(), &catalog, &scenarios)?;
        let recording = policy.is_some();
        let mut security = Security::new(policy, TokenCache::load(store.as_ref())?).caching_areas(cache_bytes > 0);
        if recording {
            // With a policy the server records who reads what (bando audit); an open server has no identities.
            let auditor = audit::Auditor::start(store.clone(), audit::queue::DEFAULT_CAPACITY);
            security = security.with_audit(Arc::new(auditor));
        }
        let security = Arc::new(security);
        let live = server::live::start(&live_section, live_config.as_deref(), store.clone(), catalog.clone(), tiles.clone())?;
        Ok(Arc::new(App {
            render: Arc::new(bando::render::Renderer::new(tiles.clone(), config.styles_dir.clone(), cache_bytes)),
            store,
            catalog,
            scenarios,
            config: Arc::new(config),
            city3d,
            tiles,
            security,
            readiness: server::Readiness::default(),
            metrics: Box::leak(Box::default()),
            live,
        }))
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(server::serve(addr, tls, load))?;
    drop(demo_live);
    Ok(())
}

fn run_simulate(args: SimulateArgs) -> anyhow::Result<()> {
    let location = match args.store {
        Some(store) => store,
        None => demo_store()?.display().to_string(),
    };
    let scene = simulate::Scene::from_store(store::open(&location)?.as_ref())?;
    let options = simulate::SimulateOptions {
        broker: args.broker,
        vessels: args.vessels,
        sensors: args.sensors,
        rate: args.rate,
        speedup: args.speedup,
        seconds: args.seconds,
        seed: args.seed,
        qos: args.qos,
    };
    let report = simulate::run(&scene, &options, &std::sync::atomic::AtomicBool::new(false))?;
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

/// The certificate and key of HTTPS: both or neither.
fn tls_files(cert: Option<PathBuf>, key: Option<PathBuf>) -> anyhow::Result<Option<server::tls::TlsFiles>> {
    match (cert, key) {
        (Some(cert), Some(key)) => Ok(Some(server::tls::TlsFiles { cert, key })),
        (None, None) => Ok(None),
        _ => anyhow::bail!("--tls-cert and --tls-key (tls_cert, tls_key) go together: give both for HTTPS, or neither"),
    }
}

/// The policy file of `serve --config`, checked against the loaded layers and scenarios.
fn open_policy(config: Option<&Path>, catalog: &Catalog, scenarios: &ScenarioFolder) -> anyhow::Result<Option<PolicyFile>> {
    let Some(path) = config else { return Ok(None) };
    let file = PolicyFile::open(path, &Vocabulary::of(catalog, &scenarios.current()))?;
    let state = if file.current().is_some() {
        "in force"
    } else {
        "none ([security] absent): open to all"
    };
    tracing::info!(file = %file.path().display(), policy = state, "configuration read");
    Ok(Some(file))
}

/// The store of a token command, and the policy its `--config` names (if it has one).
fn token_store(at: &TokenStoreArgs) -> anyhow::Result<(Box<dyn Store>, ConfigFile)> {
    let file = read_config(at.config.as_deref())?;
    let location = store_location(at.store.clone(), &file);
    Ok((store::open(&location)?, file))
}

/// The role and checked `--scope` a command line asks for under the `[security]` policy of
/// `config` (the anonymous role when `role` is `None`); no role when no policy is in force.
fn cli_grant(
    config: Option<&Path>,
    store: &dyn Store,
    scenarios: &Scenarios,
    (role, scope): (Option<&str>, Option<&str>),
) -> anyhow::Result<(Option<Arc<Role>>, Vec<String>)> {
    let known = Vocabulary::new(&store.layers()?, scenarios);
    let scope = tokens::parse_scope(store, scope.unwrap_or(""), &known)?;
    let Some(path) = config else { return Ok((None, scope)) };
    let role = match PolicyFile::open(path, &known)?.current() {
        Some(policy) => Some(policy.grant(role, &scope, path)?.clone()),
        None => None,
    };
    Ok((role, scope))
}

fn run_token_create(args: TokenCreateArgs) -> anyhow::Result<()> {
    let (store, file) = token_store(&args.at)?;
    let scenarios = Scenarios::load(file.server.tilesets.as_deref().unwrap_or(Path::new("tilesets")))?;
    let asked = (Some(args.role.as_str()), args.scope.as_deref());
    let (role, scope) = cli_grant(args.at.config.as_deref(), store.as_ref(), &scenarios, asked)?;
    if role.is_none() {
        eprintln!(
            "note: role '{}' is not checked against a policy; pass --config bando.toml to check it",
            args.role
        );
    }
    let expires_unix = match args.expires_days {
        Some(0) => anyhow::bail!("--expires-days must be at least 1 (leave it out for a token that does not expire)"),
        Some(days) => Some(time::OffsetDateTime::now_utc().unix_timestamp() + i64::from(days) * 86_400),
        None => None,
    };
    let secret = tokens::new_secret()?;
    let record = store.add_token(&NewToken {
        hash: tokens::hash_secret(&secret),
        role: args.role,
        scope,
        expires_unix,
        note: args.note,
    })?;
    let mut action = audit::cli_action(audit::TOKEN_CREATE, format!("token:{}", record.id), &record.role);
    action.area = record.scope.join(",");
    store.append_audit(&[action])?;
    println!("{secret}");
    eprintln!(
        "token {} for role '{}' created in {} (expires {}); it is shown only now, keep it secret",
        record.id,
        record.role,
        store.describe(),
        record.expires_unix.map_or("never".to_string(), tokens::rfc3339)
    );
    Ok(())
}

fn token_json(r: &TokenRecord) -> serde_json::Value {
    serde_json::json!({
        "id": r.id,
        "role": r.role,
        "scope": r.scope,
        "created": tokens::rfc3339(r.created_unix),
        "expires": r.expires_unix.map(tokens::rfc3339),
        "note": r.note,
        "revoked": r.revoked_unix.map(tokens::rfc3339),
    })
}

fn run_token_list(args: TokenListArgs) -> anyhow::Result<()> {
    let (store, _) = token_store(&args.at)?;
    let records = store.tokens()?;
    if args.json {
        let list: Vec<_> = records.iter().map(token_json).collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    println!(
        "{:>4}  {:<12} {:<24} {:<20} {:<20} {:<20} note",
        "id", "role", "scope", "created", "expires", "revoked"
    );
    let or_dash = |t: Option<i64>| t.map_or("-".to_string(), tokens::rfc3339);
    for r in &records {
        println!(
            "{:>4}  {:<12} {:<24} {:<20} {:<20} {:<20} {}",
            r.id,
            r.role,
            if r.scope.is_empty() { "-".to_string() } else { r.scope.join(",") },
            tokens::rfc3339(r.created_unix),
            or_dash(r.expires_unix),
            or_dash(r.revoked_unix),
            r.note
        );
    }
    Ok(())
}

fn run_token_revoke(args: TokenRevokeArgs) -> anyhow::Result<()> {
    let (store, _) = token_store(&args.at)?;
    let record = store.revoke_token(args.id)?;
    store.append_audit(&[audit::cli_action(audit::TOKEN_REVOKE, format!("token:{}", record.id), &record.role)])?;
    println!(
        "token {} (role '{}') revoked at {}; running servers refuse it from their next look at the store",
        record.id,
        record.role,
        record.revoked_unix.map_or("-".to_string(), tokens::rfc3339)
    );
    Ok(())
}

fn run_export_3dtiles(args: ThreedtilesArgs) -> anyhow::Result<()> {
    let options = args.city3d.options(&City3dSection::default())?;
    let store = store::open(&args.store)?;
    let meta = store.layer(&args.layer)?;
    let layer = Arc::new(LayerData::load(store.as_ref(), meta)?);
    let city = City3d::new(layer, Styling::plain(), options)?;
    let summary = bando::city3d::export_tileset(
        &city,
        &args.out_dir,
        ExportOptions {
            gzip: args.gzip,
            progress: true,
        },
    )?;
    println!(
        "wrote {} tiles of {} buildings ({} with a default height, {} with the height z_max - z_min, {} degenerate skipped) to {} in {:.2} s ({:.0} buildings/s, {:.0} GLB bytes/building)",
        summary.tiles,
        summary.buildings,
        summary.defaulted_height,
        summary.height_from_z,
        summary.skipped_degenerate,
        args.out_dir.display(),
        summary.seconds,
        summary.buildings as f64 / summary.seconds.max(1e-9),
        summary.glb_bytes as f64 / (summary.buildings.max(1) as f64)
    );
    Ok(())
}

fn run_export_pmtiles(args: PmtilesArgs) -> anyhow::Result<()> {
    let file = read_config(args.config.as_deref())?;
    let store = store::open(&store_location(args.store.clone(), &file))?;
    let tilesets = args.tilesets.clone().or(file.server.tilesets).unwrap_or_else(|| "tilesets".into());
    let scenarios = Scenarios::load(&tilesets)?;
    let asked = (args.role.as_deref(), args.scope.as_deref());
    let view = match cli_grant(args.config.as_deref(), store.as_ref(), &scenarios, asked)? {
        (Some(role), scope) => {
            eprintln!("exporting what role '{}' may see", role.name);
            View::of_role(role, &scope)
        }
        (None, _) => {
            anyhow::ensure!(
                asked == (None, None),
                "--role and --scope need --config with a [security] policy (the roles are defined there)"
            );
            View::open()
        }
    };
    let catalog = Catalog::load(store.as_ref())?;
    let (source, name, description, center) = match (&args.scenario, &args.layers) {
        (Some(id), _) => {
            let scenario = view.scenario(&scenarios, id)?;
            (
                TileSource::from_scenario(&catalog, scenario, &view)?,
                scenario.title.clone(),
                scenario.description.clone(),
                scenario.center,
            )
        }
        (None, Some(layers)) => (
            TileSource::from_layer_list(&catalog, layers, &view)?,
            layers.clone(),
            format!("bando layers {layers}"),
            None,
        ),
        (None, None) => anyhow::bail!("give --scenario or --layers"),
    };
    let service = TileService::new(0);
    let bar = indicatif::ProgressBar::new(0);
    if args.json {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} tiles {pos}/{len} [{bar:40}] {percent}% {per_sec} eta {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let progress = |done: u64, total: u64| {
        bar.set_length(total);
        bar.set_position(done);
    };
    let summary = export::export_pmtiles(
        &service,
        &source,
        &name,
        &description,
        center,
        args.minzoom,
        args.maxzoom,
        &args.out,
        &progress,
    )?;
    bar.finish_and_clear();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        println!(
            "wrote {} ({} of {} tiles non-empty, {:.1} MB) in {:.1} s",
            args.out.display(),
            summary.tiles_written,
            summary.tiles_visited,
            summary.bytes as f64 / 1e6,
            summary.seconds
        );
    }
    Ok(())
}

/// `bando audit`: the log as CSV or JSON, filtered by time and identity.
fn run_audit_export(args: AuditArgs) -> anyhow::Result<()> {
    let (store, _) = token_store(&args.at)?;
    let json = match args.format.as_str() {
        "csv" => false,
        "json" => true,
        other => anyhow::bail!("--format {other}: use csv or json"),
    };
    let since = args.since.as_deref().map(audit_time).transpose()?;
    let rows: Vec<audit::AuditRow> = store
        .audit_rows()?
        .into_iter()
        .filter(|r| since.as_ref().is_none_or(|t| r.entry.time.as_str() >= t.as_str()))
        .filter(|r| args.identity.as_ref().is_none_or(|i| &r.entry.identity == i))
        .collect();
    let mut out = std::io::stdout().lock();
    if json {
        let list: Vec<serde_json::Value> = rows.iter().map(audit::AuditRow::to_json).collect();
        serde_json::to_writer_pretty(&mut out, &list)?;
        writeln!(out)?;
        return Ok(());
    }
    let mut csv = csv::Writer::from_writer(out);
    csv.write_record(audit::AuditRow::csv_header())?;
    for r in &rows {
        csv.write_record(r.csv_record())?;
    }
    csv.flush()?;
    Ok(())
}

/// `--since` as the log's time text: a date, or an RFC 3339 time (made UTC).
fn audit_time(text: &str) -> anyhow::Result<String> {
    use time::format_description::well_known::Rfc3339;
    if let Ok(t) = time::OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(audit::time_text(t));
    }
    let is_date = text.len() == 10
        && text
            .bytes()
            .enumerate()
            .all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() });
    anyhow::ensure!(
        is_date,
        "--since {text}: give a date (2026-12-03) or an RFC 3339 time (2026-12-03T10:00:00Z)"
    );
    Ok(text.to_string())
}

/// `bando audit verify`: every hash and link of the chain, or the first row that breaks it.
fn run_audit_verify(args: AuditVerifyArgs) -> anyhow::Result<()> {
    let (store, _) = token_store(&args.at)?;
    match audit::verify(store.audit_rows()?) {
        Ok(n) => {
            println!("audit log of {}: {n} rows, chain intact", store.describe());
            Ok(())
        }
        Err(broken) => anyhow::bail!("audit log of {} is broken: {broken}", store.describe()),
    }
}

fn run_store_copy(args: StoreCopyArgs) -> anyhow::Result<()> {
    let (from, to) = (store::open(&args.from)?, store::open(&args.to)?);
    let report = store::copy::copy(from.as_ref(), to.as_ref(), store::copy::CopyOptions { replace: args.replace })?;
    println!("{report}\ncopied {} into {}", from.describe(), to.describe());
    Ok(())
}

fn run_backup(args: BackupArgs) -> anyhow::Result<()> {
    let (from, _) = token_store(&args.at)?;
    let report = store::backup::backup(from.as_ref(), &args.to)?;
    println!("{report}\nbackup of {} written to {}", from.describe(), args.to.display());
    Ok(())
}

fn run_restore(args: RestoreArgs) -> anyhow::Result<()> {
    let to = store::open(&args.to)?;
    let options = store::copy::CopyOptions { replace: args.replace };
    let report = store::backup::restore(&args.file, to.as_ref(), options)?;
    println!("{report}\nrestored {} into {}", args.file.display(), to.describe());
    Ok(())
}
