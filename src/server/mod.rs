//! The HTTP layer (axum on tokio): routes, shared state, the store-watching task that picks up
//! imports made by other processes, graceful shutdown. Handlers are thin: they parse the
//! request, run the core on a blocking thread when the work is CPU-bound, and map errors in one
//! place (`error`). Nothing outside this module imports axum.

mod audit;
mod auth;
pub mod city3d;
pub mod cors;
mod edge;
pub mod error;
mod layers;
pub mod live;
pub mod metrics;
mod ogc;
mod openapi;
mod query;
mod raster;
mod replica;
mod report;
mod respond;
mod scenarios;
mod static_map;
mod tiles;
pub mod tls;
mod view;
mod viewer;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;

use crate::index::Catalog;
use crate::policy::{Reload, Security, Vocabulary};
use crate::scenarios::ScenarioFolder;
use crate::store::Store;
use crate::tiles::TileService;

pub use replica::Readiness;

/// Settings of a running server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub addr: SocketAddr,
    /// How often the store (imports made by other processes) and the scenario folder are polled.
    pub watch_interval: Duration,
    /// The URL clients reach this server at (behind a proxy); else taken from the request's
    /// Host / X-Forwarded-Host / X-Forwarded-Proto.
    pub public_url: Option<String>,
    /// Byte budget of in-memory response caches; 0 switches every cache off (cold-path benchmarks).
    pub cache_bytes: u64,
    /// Where scenario files (`*.toml`) and PMTiles archives live.
    pub tilesets_dir: PathBuf,
    /// Where MapLibre styles live.
    pub styles_dir: PathBuf,
    /// The web viewer's folder (`web/`: index.html, viewer/, node_modules/ for MapLibre and Cesium).
    pub web_dir: PathBuf,
    /// Bounds on spatial queries (largest radius, largest query polygon).
    pub query_limits: crate::query::Limits,
    /// Logs a line for every request at info level (with the JSON log format).
    pub access_log: bool,
    /// The web origins whose pages may read the answers.
    pub cors: cors::Cors,
}

/// What every handler can reach, behind one `Arc`: axum clones the state for every request.
pub type AppState = Arc<App>;

pub struct App {
    pub store: Arc<dyn Store>,
    pub catalog: Arc<Catalog>,
    /// The scenario maps of `tilesets/`, reloaded when their files change.
    pub scenarios: Arc<ScenarioFolder>,
    pub config: Arc<ServerConfig>,
    /// 3D Tiles options and response cache.
    pub city3d: Arc<city3d::City3dState>,
    /// The server-side renderer of scenario styles (raster tiles, static images) and its cache.
    pub render: Arc<crate::render::Renderer>,
    /// Tile making: generalisation ladders, the tile cache, PMTiles archives, glyphs.
    pub tiles: Arc<TileService>,
    /// The access policy (reloaded when its file changes) and the API tokens.
    pub security: Arc<Security>,
    /// Whether the store is reachable, for `GET /ready`.
    pub readiness: replica::Readiness,
    /// The counters of `GET /metrics` (one set per process, living as long as it).
    pub metrics: &'static metrics::Metrics,
    /// Live layers and alerts (`[live]` in bando.toml); `None` without them.
    pub live: Option<Arc<live::LiveState>>,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(viewer::routes(&state.config.web_dir))
        .route("/api", get(openapi::api))
        .route("/health", get(layers::health))
        .route("/ready", get(replica::ready))
        .route("/metrics", get(metrics::metrics))
        .route("/whoami", get(auth::whoami))
        .route("/layers", get(layers::list))
        .route("/layers/{name}", get(layers::detail))
        .route("/3d/{layer}/tileset.json", get(city3d::layer_tileset))
        .route("/3d/{layer}/tiles/{file}", get(city3d::layer_tile))
        .route("/scenarios/{id}/3d/tileset.json", get(city3d::scenario_tileset))
        .route("/scenarios/{id}/3d/tiles/{file}", get(city3d::scenario_tile))
        .route("/query/point", get(query::point))
        .route("/query/radius", get(query::radius))
        .route("/query/bbox", get(query::bbox))
        .route("/query/nearest", get(query::nearest))
        .route("/query/boundary", get(query::boundary_by_admin).post(query::boundary_by_polygon))
        .route("/stats", get(query::stats))
        .route("/scenarios/{id}/indicators", get(query::indicators))
        .route("/tiles/{layers}/{z}/{x}/{y}", get(tiles::layer_tile))
        .route("/tiles/{file}", get(tiles::layer_tilejson))
        .route("/fonts/{fontstack}/{range}", get(tiles::glyphs))
        .route("/ogc", get(ogc::landing))
        .route("/ogc/", get(ogc::landing))
        .route("/ogc/conformance", get(ogc::conformance))
        .route("/ogc/collections", get(ogc::collections))
        .route("/ogc/collections/{id}", get(ogc::collection))
        .route("/ogc/collections/{id}/items", get(ogc::items))
        .route("/ogc/collections/{id}/queryables", get(ogc::queryables))
        .route("/ogc/collections/{id}/items/{feature_id}", get(ogc::item))
        .route("/ogc/tileMatrixSets", get(ogc::tile_matrix_sets))
        .route("/ogc/tileMatrixSets/{id}", get(ogc::tile_matrix_set))
        .route("/ogc/collections/{id}/tiles", get(ogc::collection_tilesets))
        .route("/ogc/collections/{id}/tiles/{tms}", get(ogc::collection_tileset))
        .route("/ogc/collections/{id}/tiles/{tms}/{z}/{row}/{col}", get(ogc::collection_tile))
        .route("/ogc/tiles", get(ogc::dataset_tilesets))
        .route("/ogc/tiles/{tms}", get(ogc::dataset_tileset))
        .route("/ogc/tiles/{tms}/{z}/{row}/{col}", get(ogc::dataset_tile))
        .route("/live/{layer}", post(live::ingest))
        .route("/live/{layer}/events", get(live::position_stream))
        .route("/live/{layer}/track", get(live::track))
        .route("/alerts", get(live::list_alerts))
        .route("/alerts/stream", get(live::alert_stream))
        .route("/alerts/{id}/ack", post(live::acknowledge))
        .route("/scenarios", get(scenarios::list))
        .route("/scenarios/{id}", get(scenarios::detail))
        .route("/scenarios/{id}/style.json", get(scenarios::style_json))
        .route("/scenarios/{id}/raster.json", get(raster::tilejson))
        .route("/scenarios/{id}/raster/{z}/{x}/{y}", get(raster::tile))
        .route("/scenarios/{id}/static/{place}/{size}", get(static_map::picture))
        .route("/reports/{file}", get(report::report))
        .route("/scenarios/{id}/{z}/{x}/{y}", get(scenarios::tile))
        .fallback(|| async { error::json_error(StatusCode::NOT_FOUND, "no such route; see GET /layers and the README for the API") })
        .with_state(state)
}

/// Polls the store and the tilesets folder, and looks at once when `wake` says the store
/// announced a change: swaps in re-imported layers, edited scenario files and new or replaced
/// PMTiles archives. Requests keep using the old snapshot until the new one is complete, so none
/// fails during the swap, nor while the store is unreachable.
fn spawn_store_watch(state: AppState, wake: Arc<tokio::sync::Notify>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(state.config.watch_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = wake.notified() => {}
            }
            let watched = state.clone();
            let looked = tokio::task::spawn_blocking(move || {
                let layers = watched.catalog.refresh(watched.store.as_ref());
                let archives = watched.tiles.archives.reload_if_changed();
                let scenarios = watched.scenarios.reload_if_changed();
                let names_changed = layers.as_ref().is_ok_and(|l| !l.is_empty()) || !scenarios.is_empty();
                reload_policy(&watched, names_changed);
                if layers.is_ok() {
                    refresh_tokens(&watched);
                }
                (layers, scenarios, archives)
            })
            .await;
            let (layers, scenarios, archives) = match looked {
                Ok(looked) => looked,
                Err(e) => {
                    tracing::warn!(error = %e, "store and tilesets watch task failed");
                    continue;
                }
            };
            let layers = match layers {
                Ok(changed) => {
                    state.readiness.store_up();
                    changed
                }
                Err(e) => {
                    tracing::debug!(error = %e, "store refresh failed; serving the previous state");
                    state.readiness.store_down(&e);
                    Vec::new()
                }
            };
            if !layers.is_empty() {
                let lag = pickup_lag(&state.catalog, &layers);
                tracing::info!(changed = ?layers, lag_ms = lag.map(|l| l.as_millis() as u64), "store changed; layers reloaded");
                state.metrics.reloaded(layers.len(), lag);
                state.tiles.forget_layers(&layers);
                state.render.forget_layers(&layers);
            }
            if !scenarios.is_empty() {
                tracing::info!(changed = ?scenarios, "scenario files changed; scenarios reloaded");
            }
            if !archives.is_empty() {
                tracing::info!(changed = ?archives, "PMTiles archives added, replaced or removed");
            }
            if !layers.is_empty() || !scenarios.is_empty() {
                // Rebuild the changed generalisation now, not on the first tile request.
                let (tiles, catalog, folder) = (state.tiles.clone(), state.catalog.clone(), state.scenarios.clone());
                tokio::task::spawn_blocking(move || tiles.warm(&catalog, &folder.current()));
            }
        }
    });
}

/// How long after its commit the latest of the `changed` layers is served (from the catalog's
/// `imported_at`; None for a dropped layer or a time the catalog cannot parse).
fn pickup_lag(catalog: &Catalog, changed: &[String]) -> Option<Duration> {
    let rfc3339 = &time::format_description::well_known::Rfc3339;
    let now = time::OffsetDateTime::now_utc();
    changed
        .iter()
        .filter_map(|name| catalog.get(name))
        .filter_map(|layer| time::OffsetDateTime::parse(&layer.meta.imported_at, rfc3339).ok())
        .map(|committed| (now - committed).try_into().unwrap_or(Duration::ZERO))
        .min()
}

/// Re-reads the policy file if it changed, or re-checks it if the layers or scenarios it names
/// changed; a refused policy keeps the previous one in force.
fn reload_policy(state: &App, names_changed: bool) {
    let Some(file) = state.security.policy_file() else { return };
    let known = || Vocabulary::of(&state.catalog, &state.scenarios.current());
    let outcome = if names_changed {
        file.reload(&known())
    } else {
        file.reload_if_changed(known)
    };
    report_policy_reload(&state.security, file, outcome);
}

/// Logs a reload and records it in the audit (status 200 applied, 400 refused).
fn report_policy_reload(security: &Security, file: &crate::policy::PolicyFile, outcome: Reload) {
    let status = match outcome {
        Reload::Unchanged => return,
        Reload::Applied => {
            tracing::info!(file = %file.path().display(), "security policy reloaded");
            200
        }
        Reload::Refused(why) => {
            tracing::warn!(error = %why, "security policy refused; the previous policy stays in force");
            400
        }
    };
    if let Some(auditor) = security.audit() {
        auditor.record(crate::audit::AuditEntry {
            time: crate::audit::now(),
            action: crate::audit::POLICY_RELOAD.into(),
            identity: "server".into(),
            route: file.path().display().to_string(),
            status,
            ..Default::default()
        });
    }
}

fn refresh_tokens(state: &App) {
    match state.security.tokens().refresh(state.store.as_ref()) {
        Ok(true) => tracing::info!(tokens = state.security.tokens().len(), "API tokens changed; reloaded"),
        Ok(false) => {}
        Err(e) => tracing::warn!(error = %e, "API tokens cannot be read; keeping the previous ones"),
    }
    match state.security.refresh_jwt_keys() {
        Ok(true) => tracing::info!("JWKS changed; JWT keys reloaded"),
        Ok(false) => {}
        Err(e) => tracing::warn!(error = %e, "JWKS cannot be read; keeping the previous keys"),
    }
}

/// On SIGHUP, re-reads the policy file whether or not its stamp changed.
fn spawn_reload_on_hangup(state: AppState) {
    let Ok(mut hangups) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
        tracing::warn!("cannot listen for SIGHUP; the policy file is still reloaded when it changes");
        return;
    };
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            let state = state.clone();
            let _ = tokio::task::spawn_blocking(move || {
                if let Some(file) = state.security.policy_file() {
                    let known = Vocabulary::of(&state.catalog, &state.scenarios.current());
                    report_policy_reload(&state.security, file, file.reload(&known));
                }
            })
            .await;
        }
    });
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
    tracing::info!("shutdown signal received; finishing open requests");
}

/// Listens on `addr` at once (HTTPS with `tls`) and answers `starting` while `load` builds the
/// server's state on a blocking thread (the layers are loaded there), then serves it until
/// SIGINT/SIGTERM. A failed load stops the server with its error.
pub async fn serve<E>(
    addr: SocketAddr,
    tls: Option<tokio_rustls::TlsAcceptor>,
    load: impl FnOnce() -> Result<AppState, E> + Send + 'static,
) -> Result<(), E>
where
    E: From<std::io::Error> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(addr = %listener.local_addr()?, https = tls.is_some(), "bando listening; loading the store");
    let loaded = Arc::new(std::sync::OnceLock::new());
    let live = Arc::new(std::sync::OnceLock::<Arc<live::LiveState>>::new());
    let failure = Arc::new(std::sync::Mutex::new(None));
    let (failed, on_failure) = tokio::sync::oneshot::channel::<()>();
    let (cell, failure_slot, live_cell) = (loaded.clone(), failure.clone(), live.clone());
    tokio::spawn(async move {
        let outcome = tokio::task::spawn_blocking(load)
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(format!("loading the store failed: {e}")).into()));
        match outcome {
            Ok(state) => {
                if let Some(l) = &state.live {
                    let _ = live_cell.set(l.clone());
                }
                let _ = cell.set(start(state));
            }
            Err(e) => {
                *failure_slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                let _ = failed.send(());
            }
        }
    });
    let streams = live.clone();
    let stop = async move {
        tokio::select! {
            _ = shutdown_signal() => {}
            // The sender is dropped unused once the state is loaded: then only a signal stops.
            Ok(()) = on_failure => {}
        }
        // Event streams never end by themselves; the graceful shutdown waits for them.
        if let Some(l) = streams.get() {
            l.close_streams();
        }
    };
    let app = Switch {
        serving: None,
        starting: tower::Layer::layer(&edge::EdgeLayer::default(), replica::starting_router()),
        loaded: loaded.clone(),
    };
    // With the peer address in every request: the rate limit of requests without a token is per IP.
    let app = axum::ServiceExt::<axum::extract::Request>::into_make_service_with_connect_info::<SocketAddr>(app);
    match tls {
        None => axum::serve(listener, app).with_graceful_shutdown(stop).await?,
        Some(acceptor) => {
            // axum passes the peer address (ConnectInfo) of a listener of its own only through `tap_io`.
            let listener = axum::serve::ListenerExt::tap_io(tls::TlsListener::new(listener, acceptor)?, |_| ());
            axum::serve(listener, app).with_graceful_shutdown(stop).await?
        }
    }
    if let Some(auditor) = loaded.get().and_then(edge::Edge::auditor) {
        auditor.flush();
    }
    if let Some(l) = live.get().cloned() {
        // Reports and alert changes still queued reach the store before the process ends.
        let _ = tokio::task::spawn_blocking(move || l.live.finish()).await;
    }
    let failed = failure.lock().unwrap_or_else(|p| p.into_inner()).take();
    failed.map_or(Ok(()), Err)
}

/// Starts the background work of a loaded server and returns its service: the router inside the
/// edge, which wraps it once, outside (`Router::layer` would wrap, and box, every route).
fn start(state: AppState) -> edge::Edge<Router> {
    tracing::info!(layers = state.catalog.snapshot().len(), store = %state.store.describe(), "store loaded; ready");
    let wake = Arc::new(tokio::sync::Notify::new());
    spawn_store_watch(state.clone(), wake.clone());
    replica::spawn_follower(state.clone(), wake);
    spawn_reload_on_hangup(state.clone());
    let (tiles, catalog, folder) = (state.tiles.clone(), state.catalog.clone(), state.scenarios.clone());
    tokio::task::spawn_blocking(move || tiles.warm(&catalog, &folder.current()));
    let edge = edge::EdgeLayer {
        security: Some(state.security.clone()),
        metrics: Some(state.metrics),
        access_log: state.config.access_log,
        cors: state.config.cors.clone(),
    };
    tower::Layer::layer(&edge, router(state))
}

/// The service of one connection: the `starting` answers until the state is loaded, then the
/// loaded server's (looked up once per connection and request until found, then kept).
#[derive(Clone)]
struct Switch {
    serving: Option<edge::Edge<Router>>,
    starting: edge::Edge<Router>,
    loaded: Arc<std::sync::OnceLock<edge::Edge<Router>>>,
}

impl tower::Service<axum::extract::Request> for Switch {
    type Response = axum::response::Response;
    type Error = std::convert::Infallible;
    type Future = <edge::Edge<Router> as tower::Service<axum::extract::Request>>::Future;

    fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
        // Both sides are routers, always ready.
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: axum::extract::Request) -> Self::Future {
        if self.serving.is_none() {
            self.serving = self.loaded.get().cloned();
        }
        match &mut self.serving {
            Some(app) => app.call(request),
            None => self.starting.call(request),
        }
    }
}
