//! `GET /metrics` in the Prometheus text format (version 0.0.4): requests by route family and
//! status with latency histograms, refused requests by reason, the response caches, the layers
//! served, the store (reachable, generation, notifications, reloads, pick-up lag).
//!
//! Owns the counters the edge and the watch task bump, and their rendering. Every counter is a
//! relaxed atomic in a fixed table (no lock, no allocation, no map lookup per request); gauges are
//! read from their owners (catalog, caches, readiness) when scraped.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::policy::AuthError;

/// What a request asked for, by its path's first segment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Family {
    Tiles,
    Scenarios,
    ThreeD,
    Query,
    Stats,
    Layers,
    Fonts,
    Health,
    Ready,
    Metrics,
    Whoami,
    Viewer,
    /// OGC API Features and Tiles (`/ogc/...`).
    Ogc,
    /// The OpenAPI description (`/api`).
    Api,
    /// Live layers: HTTP ingest, event streams, tracks (`/live/...`).
    Live,
    Alerts,
    /// Orthophoto and other raster layers (`/raster/...`).
    Raster,
    Reports,
    Other,
}

const FAMILIES: [Family; 19] = [
    Family::Tiles,
    Family::Scenarios,
    Family::ThreeD,
    Family::Query,
    Family::Stats,
    Family::Layers,
    Family::Fonts,
    Family::Health,
    Family::Ready,
    Family::Metrics,
    Family::Whoami,
    Family::Viewer,
    Family::Ogc,
    Family::Api,
    Family::Live,
    Family::Alerts,
    Family::Raster,
    Family::Reports,
    Family::Other,
];

impl Family {
    /// The family whose name is the path's first segment; the viewer's files also live at `/`.
    pub fn of(path: &str) -> Family {
        let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
        if matches!(first, "" | "index.html" | "vendor") {
            return Family::Viewer;
        }
        FAMILIES.into_iter().find(|f| f.name() == first).unwrap_or(Family::Other)
    }

    fn name(self) -> &'static str {
        match self {
            Family::Tiles => "tiles",
            Family::Scenarios => "scenarios",
            Family::ThreeD => "3d",
            Family::Query => "query",
            Family::Stats => "stats",
            Family::Layers => "layers",
            Family::Fonts => "fonts",
            Family::Health => "health",
            Family::Ready => "ready",
            Family::Metrics => "metrics",
            Family::Whoami => "whoami",
            Family::Viewer => "viewer",
            Family::Ogc => "ogc",
            Family::Api => "api",
            Family::Live => "live",
            Family::Alerts => "alerts",
            Family::Raster => "raster",
            Family::Reports => "reports",
            Family::Other => "other",
        }
    }
}

/// The statuses counted one by one; any other is counted under its class (`2xx` ... `5xx`).
const STATUSES: [u16; 16] = [200, 204, 206, 304, 400, 401, 403, 404, 405, 406, 413, 414, 422, 429, 500, 503];
const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];
const STATUS_SLOTS: usize = STATUSES.len() + CLASSES.len();

fn status_slot(status: u16) -> usize {
    match STATUSES.iter().position(|s| *s == status) {
        Some(i) => i,
        None => STATUSES.len() + usize::from(status / 100).clamp(1, 5) - 1,
    }
}

fn status_label(slot: usize) -> String {
    match STATUSES.get(slot) {
        Some(s) => s.to_string(),
        None => CLASSES[slot - STATUSES.len()].to_string(),
    }
}

/// Upper bounds of the latency buckets, in microseconds (100 µs to 10 s).
const BUCKETS_MICROS: [u64; 16] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000, 5_000_000, 10_000_000,
];

/// Why a request was refused before routing.
const REASONS: [&str; 9] = [
    "unknown_token",
    "expired",
    "revoked",
    "unknown_role",
    "not_bearer",
    "rate_limited",
    "bad_jwt",
    "jwt_without_role",
    "jwt_without_scope",
];

fn reason_slot(e: &AuthError) -> usize {
    match e {
        AuthError::UnknownToken => 0,
        AuthError::Expired { .. } => 1,
        AuthError::Revoked { .. } => 2,
        AuthError::UnknownRole { .. } => 3,
        AuthError::NotBearer => 4,
        AuthError::TooManyRequests { .. } => 5,
        AuthError::Jwt(_) => 6,
        AuthError::NoJwtRole { .. } => 7,
        AuthError::NoJwtScope { .. } => 8,
    }
}

struct Latency {
    /// Not cumulative: each request counts in its own bucket; rendering adds them up.
    buckets: [AtomicU64; BUCKETS_MICROS.len() + 1],
    sum_micros: AtomicU64,
}

impl Latency {
    fn new() -> Latency {
        Latency {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_micros: AtomicU64::new(0),
        }
    }
}

/// The server's counters, one table per kind.
pub struct Metrics {
    requests: [[AtomicU64; STATUS_SLOTS]; FAMILIES.len()],
    latency: [Latency; FAMILIES.len()],
    rejected: [AtomicU64; REASONS.len()],
    notifications: AtomicU64,
    reloads: AtomicU64,
    /// The last pick-up's lag (commit to served), in microseconds; `u64::MAX` before any.
    pickup_lag_micros: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics {
            requests: std::array::from_fn(|_| std::array::from_fn(|_| AtomicU64::new(0))),
            latency: std::array::from_fn(|_| Latency::new()),
            rejected: std::array::from_fn(|_| AtomicU64::new(0)),
            notifications: AtomicU64::new(0),
            reloads: AtomicU64::new(0),
            pickup_lag_micros: AtomicU64::new(u64::MAX),
        }
    }
}

impl Metrics {
    /// One answered request (called by the edge for every response).
    pub fn request(&self, family: Family, status: u16, took: Duration) {
        let f = family as usize;
        self.requests[f][status_slot(status)].fetch_add(1, Ordering::Relaxed);
        let micros = took.as_micros().min(u128::from(u64::MAX)) as u64;
        let bucket = BUCKETS_MICROS.iter().position(|b| micros <= *b).unwrap_or(BUCKETS_MICROS.len());
        self.latency[f].buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.latency[f].sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// A request refused before routing (its 401 or 429 is counted by [`Metrics::request`] too).
    pub fn rejected(&self, why: &AuthError) {
        self.rejected[reason_slot(why)].fetch_add(1, Ordering::Relaxed);
    }

    /// `n` change announcements received.
    pub fn notified(&self, n: usize) {
        self.notifications.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Layers swapped in after an import, and how long after its commit the last one was.
    pub fn reloaded(&self, layers: usize, lag: Option<Duration>) {
        self.reloads.fetch_add(layers as u64, Ordering::Relaxed);
        if let Some(lag) = lag {
            self.pickup_lag_micros.store(lag.as_micros() as u64, Ordering::Relaxed);
        }
    }

    fn render_requests(&self, out: &mut String) {
        head(
            out,
            "bando_http_requests_total",
            "counter",
            "HTTP requests answered, by route family and status.",
        );
        for family in FAMILIES {
            for (slot, count) in self.requests[family as usize].iter().enumerate() {
                let n = count.load(Ordering::Relaxed);
                if n > 0 {
                    let _ = writeln!(
                        out,
                        "bando_http_requests_total{{family=\"{}\",status=\"{}\"}} {n}",
                        family.name(),
                        status_label(slot)
                    );
                }
            }
        }
        let name = "bando_http_request_duration_seconds";
        head(
            out,
            name,
            "histogram",
            "Time from a request's arrival to its response's head, by route family.",
        );
        for family in FAMILIES {
            let latency = &self.latency[family as usize];
            let counts: Vec<u64> = latency.buckets.iter().map(|b| b.load(Ordering::Relaxed)).collect();
            let total: u64 = counts.iter().sum();
            if total == 0 {
                continue;
            }
            let label = family.name();
            let mut cumulative = 0;
            for (bound, count) in BUCKETS_MICROS.iter().zip(&counts) {
                cumulative += count;
                let _ = writeln!(
                    out,
                    "{name}_bucket{{family=\"{label}\",le=\"{}\"}} {cumulative}",
                    *bound as f64 / 1e6
                );
            }
            let _ = writeln!(out, "{name}_bucket{{family=\"{label}\",le=\"+Inf\"}} {total}");
            let sum = latency.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
            let _ = writeln!(out, "{name}_sum{{family=\"{label}\"}} {sum}");
            let _ = writeln!(out, "{name}_count{{family=\"{label}\"}} {total}");
        }
        head(
            out,
            "bando_rejected_requests_total",
            "counter",
            "Requests refused before routing, by reason.",
        );
        for (reason, count) in REASONS.iter().zip(&self.rejected) {
            let _ = writeln!(
                out,
                "bando_rejected_requests_total{{reason=\"{reason}\"}} {}",
                count.load(Ordering::Relaxed)
            );
        }
    }
}

fn head(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn gauge(out: &mut String, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
    head(out, name, kind, help);
    let _ = writeln!(out, "{name} {value}");
}

/// One cache series: name, type, help, and its value in a cache's stats.
type CacheSeries = (&'static str, &'static str, &'static str, fn(&crate::cache::CacheStats) -> u64);

fn render_caches(state: &AppState, out: &mut String) {
    let caches = [("tiles", state.tiles.cache_stats()), ("3d", state.city3d.cache.stats())];
    let series: [CacheSeries; 4] = [
        ("bando_cache_hits_total", "counter", "Responses answered from a cache.", |s| s.hits),
        (
            "bando_cache_misses_total",
            "counter",
            "Responses made because no cache held them.",
            |s| s.misses,
        ),
        ("bando_cache_bytes", "gauge", "Bytes a cache holds.", |s| s.bytes),
        ("bando_cache_entries", "gauge", "Entries a cache holds.", |s| s.entries),
    ];
    for (name, kind, help, value) in series {
        head(out, name, kind, help);
        for (cache, stats) in &caches {
            let _ = writeln!(out, "{name}{{cache=\"{cache}\"}} {}", value(stats));
        }
    }
}

fn render_layers(state: &AppState, out: &mut String) {
    let layers = state.catalog.snapshot();
    gauge(out, "bando_layers", "gauge", "Layers loaded.", layers.len());
    head(out, "bando_layer_features", "gauge", "Features of each loaded layer.");
    for (name, layer) in layers.iter() {
        let _ = writeln!(out, "bando_layer_features{{layer=\"{name}\"}} {}", layer.features.len());
    }
    head(out, "bando_layer_import_id", "gauge", "The import each loaded layer comes from.");
    for (name, layer) in layers.iter() {
        let _ = writeln!(out, "bando_layer_import_id{{layer=\"{name}\"}} {}", layer.meta.import_id);
    }
}

fn render_store(state: &AppState, out: &mut String) {
    let m = &state.metrics;
    let reachable = u8::from(!state.readiness.is_down());
    gauge(
        out,
        "bando_store_reachable",
        "gauge",
        "1 while the store answers, 0 while it is unreachable (degraded).",
        reachable,
    );
    gauge(
        out,
        "bando_store_generation",
        "gauge",
        "The store generation the layers were last loaded at.",
        state.catalog.generation(),
    );
    let notifications = m.notifications.load(Ordering::Relaxed);
    gauge(
        out,
        "bando_store_notifications_total",
        "counter",
        "Change announcements received from the store (PostGIS NOTIFY).",
        notifications,
    );
    let reloads = m.reloads.load(Ordering::Relaxed);
    gauge(
        out,
        "bando_layer_reloads_total",
        "counter",
        "Layers swapped in (or dropped) after a change in the store.",
        reloads,
    );
    let lag = m.pickup_lag_micros.load(Ordering::Relaxed);
    if lag != u64::MAX {
        let help = "Seconds from the commit of the last import picked up to its layer being served.";
        gauge(out, "bando_replica_pickup_lag_seconds", "gauge", help, lag as f64 / 1e6);
    }
}

/// The whole exposition.
pub fn render(state: &AppState) -> String {
    let mut out = String::with_capacity(8 * 1024);
    state.metrics.render_requests(&mut out);
    render_caches(state, &mut out);
    render_layers(state, &mut out);
    render_store(state, &mut out);
    render_live(state, &mut out);
    out
}

/// One MQTT source series: name, type, help, and its value in a source's status.
type SourceSeries = (
    &'static str,
    &'static str,
    &'static str,
    fn(&crate::live::mqtt::SourceStatus) -> u64,
);

/// The live layers (when the server has them): messages accepted, late and refused by reason,
/// devices, the MQTT sources' connections, the store writer.
fn render_live(state: &AppState, out: &mut String) {
    let Some(live) = &state.live else { return };
    let live = &live.live;
    render_live_messages(live, out);
    render_live_sources(live, out);
    render_live_writes(live, out);
}

/// Messages by layer and outcome, and devices by layer.
fn render_live_messages(live: &crate::live::Live, out: &mut String) {
    head(
        out,
        "bando_live_messages_total",
        "counter",
        "Live messages accepted (newest of their device), late (history only) or refused, by reason.",
    );
    for layer in live.layers() {
        let c = &layer.counters;
        let name = &layer.name;
        let _ = writeln!(
            out,
            "bando_live_messages_total{{layer=\"{name}\",outcome=\"accepted\"}} {}",
            c.accepted.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "bando_live_messages_total{{layer=\"{name}\",outcome=\"late\"}} {}",
            c.late.load(Ordering::Relaxed)
        );
        for why in crate::live::message::BadMessage::ALL {
            let n = c.rejected[why.index()].load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "bando_live_messages_total{{layer=\"{name}\",outcome=\"rejected\",reason=\"{}\"}} {n}",
                why.as_str()
            );
        }
    }
    head(out, "bando_live_devices", "gauge", "Devices of each live layer.");
    for layer in live.layers() {
        let _ = writeln!(out, "bando_live_devices{{layer=\"{}\"}} {}", layer.name, layer.device_count());
    }
}

/// The state of each MQTT source.
fn render_live_sources(live: &crate::live::Live, out: &mut String) {
    let series: [SourceSeries; 4] = [
        (
            "bando_live_source_connected",
            "gauge",
            "1 while the MQTT source is connected.",
            |s| u64::from(s.connected.load(Ordering::Relaxed)),
        ),
        (
            "bando_live_source_connections_total",
            "counter",
            "Connections of the MQTT source (each one subscribes).",
            |s| s.connections.load(Ordering::Relaxed),
        ),
        (
            "bando_live_source_subscriptions_total",
            "counter",
            "Subscriptions the broker acknowledged.",
            |s| s.subscriptions.load(Ordering::Relaxed),
        ),
        (
            "bando_live_source_errors_total",
            "counter",
            "Connection errors of the MQTT source (each followed by a back-off).",
            |s| s.errors.load(Ordering::Relaxed),
        ),
    ];
    for (name, kind, help, value) in series {
        head(out, name, kind, help);
        for (i, s) in live.sources().iter().enumerate() {
            let _ = writeln!(out, "{name}{{layer=\"{}\",source=\"{i}\"}} {}", s.layer, value(s));
        }
    }
}

/// What the live writer stored, and the alerts open.
fn render_live_writes(live: &crate::live::Live, out: &mut String) {
    let (written, failed) = live.written();
    gauge(
        out,
        "bando_live_written_total",
        "counter",
        "Reports and alert changes written to the store.",
        written,
    );
    gauge(
        out,
        "bando_live_write_failures_total",
        "counter",
        "Batches the store refused after every retry.",
        failed,
    );
    gauge(
        out,
        "bando_live_alerts_active",
        "gauge",
        "Open and acknowledged alerts.",
        live.alerts.active().len(),
    );
}

/// `GET /metrics`.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "service",
    summary = "Prometheus metrics",
    responses((status = 200, description = "Prometheus text format 0.0.4", content_type = "text/plain; version=0.0.4; charset=utf-8"))
)]
pub async fn metrics(State(state): State<AppState>) -> Response {
    let body = tokio::task::spawn_blocking(move || render(&state)).await.unwrap_or_default();
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_fall_into_their_families() {
        let cases = [
            ("/tiles/parcels/14/1/2.mvt", Family::Tiles),
            ("/scenarios/land/3d/tileset.json", Family::Scenarios),
            ("/3d/buildings/tiles/0.glb", Family::ThreeD),
            ("/query/radius", Family::Query),
            ("/", Family::Viewer),
            ("/vendor/cesium/x.js", Family::Viewer),
            ("/metrics", Family::Metrics),
            ("/index.html", Family::Viewer),
            ("/ogc", Family::Ogc),
            ("/ogc/collections/parcels/items", Family::Ogc),
            ("/ogc/tiles/WebMercatorQuad/14/7000/13000", Family::Ogc),
            ("/ogcx", Family::Other),
            ("/api", Family::Api),
            ("/live/vessels_live/events", Family::Live),
            ("/alerts/stream", Family::Alerts),
            ("/raster/ortho_2025/14/1/2.png", Family::Raster),
            ("/reports/land.pdf", Family::Reports),
            ("/viewer/app.js", Family::Viewer),
            ("/nope", Family::Other),
        ];
        for (path, family) in cases {
            assert_eq!(Family::of(path), family, "{path}");
        }
    }

    #[test]
    fn requests_are_counted_by_status_and_latency_buckets_add_up() {
        let m = Metrics::default();
        m.request(Family::Tiles, 200, Duration::from_micros(80));
        m.request(Family::Tiles, 200, Duration::from_millis(3));
        m.request(Family::Tiles, 418, Duration::from_secs(20));
        let mut out = String::new();
        m.render_requests(&mut out);
        assert!(
            out.contains("bando_http_requests_total{family=\"tiles\",status=\"200\"} 2\n"),
            "{out}"
        );
        assert!(
            out.contains("bando_http_requests_total{family=\"tiles\",status=\"4xx\"} 1\n"),
            "{out}"
        );
        assert!(
            out.contains("bando_http_request_duration_seconds_bucket{family=\"tiles\",le=\"0.0001\"} 1\n"),
            "{out}"
        );
        assert!(
            out.contains("bando_http_request_duration_seconds_bucket{family=\"tiles\",le=\"0.005\"} 2\n"),
            "{out}"
        );
        assert!(
            out.contains("bando_http_request_duration_seconds_bucket{family=\"tiles\",le=\"10\"} 2\n"),
            "{out}"
        );
        assert!(
            out.contains("bando_http_request_duration_seconds_bucket{family=\"tiles\",le=\"+Inf\"} 3\n"),
            "{out}"
        );
        assert!(
            out.contains("bando_http_request_duration_seconds_count{family=\"tiles\"} 3\n"),
            "{out}"
        );
        assert!(!out.contains("family=\"query\""), "families without requests are left out: {out}");
    }
}
