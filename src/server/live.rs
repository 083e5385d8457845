//! The routes of live layers: `POST /live/{layer}` (ingest), `GET /live/{layer}/events` (SSE of
//! positions, current state first, then what moved, at most every publication interval),
//! `GET /live/{layer}/track` (one device's stored reports), `GET /alerts`, `POST
//! /alerts/{id}/ack` and `GET /alerts/stream` (SSE, `event: alert`, active alerts first).
//!
//! Thin: the work is `crate::live`'s; this file reads requests, asks the request's view (a live
//! layer outside it is unknown) and, with a policy in force, wants a token for every write.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::{Extension, Json};
use futures_util::stream::{self, Stream, StreamExt};
use serde_json::{json, Value as Json_};
use tokio::sync::broadcast;

use super::error::{ApiError, ApiResult, ErrorBody};
use super::tiles::path_of;
use super::AppState;
use crate::error::Error;
use crate::feature::{Feature, Value};
use crate::live::alerts::{Alert, AlertQuery};
use crate::live::layer::LiveLayer;
use crate::live::{Live, LiveError};
use crate::policy::{Identity, View};
use crate::tiles::TileService;

/// Alert changes a slow subscriber may fall behind by before it is told to resync.
const STREAM_BACKLOG: usize = 4096;

/// The live side of a server: the core's [`Live`] and the fan-out of its alerts to streams.
pub struct LiveState {
    pub live: Arc<Live>,
    alerts: broadcast::Sender<Arc<Alert>>,
    /// How often position streams look for moves.
    every: Duration,
    /// Set at shutdown: every stream ends.
    closing: tokio::sync::watch::Sender<bool>,
}

impl LiveState {
    /// Wires `live` to the server: its alerts to the streams, its publications to the tile cache.
    pub fn new(live: Arc<Live>, tiles: Arc<TileService>, every: Duration) -> LiveState {
        let (alerts, _) = broadcast::channel(STREAM_BACKLOG);
        let sender = alerts.clone();
        live.alerts.set_listener(Box::new(move |a| {
            let _ = sender.send(Arc::new(a.clone()));
        }));
        live.on_publish(Box::new(move |layers| tiles.forget_layers(layers)));
        LiveState {
            live,
            alerts,
            every,
            closing: tokio::sync::watch::channel(false).0,
        }
    }

    /// Ends every event stream (at shutdown, which waits for open connections).
    pub fn close_streams(&self) {
        self.closing.send_replace(true);
    }

    /// A future that is ready once the streams are to close.
    fn closed(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut closing = self.closing.subscribe();
        async move {
            let _ = closing.wait_for(|c| *c).await;
        }
    }
}

/// Starts the live layers `section` declares (`None` when it declares none), wired to the
/// server's tile cache. `config` is the file the section came from, for line numbers.
pub fn start(
    section: &crate::live::LiveSection,
    config: Option<&std::path::Path>,
    store: Arc<dyn crate::store::Store>,
    catalog: Arc<crate::index::Catalog>,
    tiles: Arc<TileService>,
) -> Result<Option<Arc<LiveState>>, Error> {
    if section.is_empty() {
        return Ok(None);
    }
    let path = config.unwrap_or(std::path::Path::new("bando.toml"));
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let source = crate::config::Source { path, text: &text };
    let live = Live::start(section, &source, store, catalog)?;
    Ok(Some(Arc::new(LiveState::new(live, tiles, section.publish_every()))))
}

fn live_of(state: &AppState) -> ApiResult<&LiveState> {
    state.live.as_deref().ok_or_else(|| {
        ApiError(Error::not_found(
            "this server has no live layers; declare them in [live] of bando.toml",
        ))
    })
}

/// The live layer `name`, if the view may read it (else it is unknown, like a missing one).
fn visible<'a>(live: &'a LiveState, view: &View, name: &str) -> ApiResult<&'a Arc<LiveLayer>> {
    if !view.may_read(name) {
        return Err(LiveError::UnknownLayer(name.escape_default().to_string()).into());
    }
    Ok(live.live.layer(name)?)
}

/// With a policy in force, a write needs an authenticated identity.
fn require_token(identity: Option<&Extension<Identity>>, what: &'static str) -> ApiResult<()> {
    match identity {
        Some(Extension(i)) if !i.is_authenticated() => Err(LiveError::NeedsToken(what).into()),
        _ => Ok(()),
    }
}

/// `POST /live/{layer}`: a GeoJSON Feature, a FeatureCollection, or NDJSON lines.
#[utoipa::path(
    post,
    path = "/live/{layer}",
    tag = "live",
    summary = "device reports into a live layer: a GeoJSON Feature, a FeatureCollection or NDJSON lines",
    params(("layer" = String, Path, description = "a live layer declared in [live] of bando.toml")),
    request_body(content = String, content_type = "application/geo+json", description = "Feature, FeatureCollection, or NDJSON (application/x-ndjson)"),
    responses((status = 200, description = "how many reports were taken and why the others were refused", content_type = "application/json", body = Object))
)]
pub async fn ingest(
    State(state): State<AppState>,
    view: View,
    identity: Option<Extension<Identity>>,
    path: Result<Path<String>, axum::extract::rejection::PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Json_>> {
    let name = path_of(path)?;
    require_token(identity.as_ref(), "POST /live/{layer}")?;
    let live = live_of(&state)?;
    visible(live, &view, &name)?;
    let body = body.map_err(|e| Error::bad_request(format!("cannot read the body: {}", e.body_text())))?;
    let core = live.live.clone();
    let report = tokio::task::spawn_blocking(move || core.ingest_body(&name, &body))
        .await
        .map_err(|e| Error::Internal(format!("ingest task failed: {e}")))??;
    Ok(Json(json!(report)))
}

/// `GET /alerts?state&layer&rule&since`.
#[utoipa::path(
    get,
    path = "/alerts",
    tag = "live",
    summary = "alerts of the live rules, newest first",
    params(("state" = Option<String>, Query, description = "open, acknowledged or closed"), ("layer" = Option<String>, Query), ("rule" = Option<String>, Query), ("since" = Option<String>, Query, description = "RFC 3339 or epoch seconds")),
    responses((status = 200, description = "{\"alerts\": [{id, rule, layer, device, state, opened_at, lon, lat, zone, unit}]}", content_type = "application/json", body = Object))
)]
pub async fn list_alerts(
    State(state): State<AppState>,
    view: View,
    params: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> ApiResult<Json<Json_>> {
    let Query(params) = params.map_err(|e| Error::bad_request(format!("cannot read the query string: {}", e.body_text())))?;
    let query = AlertQuery::parse(&params)?;
    let live = live_of(&state)?;
    let alerts: Vec<Alert> = live
        .live
        .alerts
        .list(&query)
        .into_iter()
        .filter(|a| view.may_read(&a.layer))
        .collect();
    Ok(Json(json!({ "alerts": alerts })))
}

/// `POST /alerts/{id}/ack`.
#[utoipa::path(
    post,
    path = "/alerts/{id}/ack",
    tag = "live",
    summary = "acknowledge an open alert",
    params(("id" = String, Path, description = "the alert's id, from GET /alerts")),
    responses((status = 200, description = "the acknowledged alert", content_type = "application/json", body = Object), (status = 409, description = "the alert is closed", content_type = "application/json", body = ErrorBody))
)]
pub async fn acknowledge(
    State(state): State<AppState>,
    view: View,
    identity: Option<Extension<Identity>>,
    path: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> ApiResult<Json<Json_>> {
    let raw = path_of(path)?;
    require_token(identity.as_ref(), "POST /alerts/{id}/ack")?;
    let live = live_of(&state)?;
    let id: i64 = raw.parse().map_err(|_| {
        Error::bad_request(format!(
            "'{}' is not an alert id (a number, from GET /alerts)",
            raw.escape_default()
        ))
    })?;
    let layer = live
        .live
        .alerts
        .list(&AlertQuery::default())
        .into_iter()
        .find(|a| a.id == id)
        .map(|a| a.layer);
    if layer.is_some_and(|l| !view.may_read(&l)) {
        return Err(LiveError::NoSuchAlert(id).into());
    }
    let alert = live.live.alerts.acknowledge(id)?;
    Ok(Json(json!(alert)))
}

/// `GET /alerts/stream`: the active alerts, then every change, as `event: alert`.
#[utoipa::path(
    get,
    path = "/alerts/stream",
    tag = "live",
    summary = "Server-Sent Events: the active alerts, then every change (event: alert)",
    responses((status = 200, description = "an event stream", content_type = "text/event-stream"))
)]
pub async fn alert_stream(State(state): State<AppState>, view: View) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let live = live_of(&state)?;
    // Subscribed before the snapshot is taken, so nothing falls between them.
    let changes = live.alerts.subscribe();
    let first: Vec<Alert> = live.live.alerts.active().into_iter().filter(|a| view.may_read(&a.layer)).collect();
    let mut sent: HashMap<i64, Alert> = first.iter().map(|a| (a.id, a.clone())).collect();
    let head = stream::iter(first.into_iter().map(|a| Ok(alert_event(&a))));
    let tail = stream::unfold(changes, |mut changes| async move {
        let next = match changes.recv().await {
            Ok(alert) => Some(alert),
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                let event = Event::default().event("resync").data(json!({ "missed": missed }).to_string());
                return Some((Some(Err(event)), changes));
            }
            Err(broadcast::error::RecvError::Closed) => return None,
        };
        Some((next.map(Ok), changes))
    })
    .filter_map(move |item| {
        let event = match item {
            Some(Ok(alert)) if !view.may_read(&alert.layer) => None,
            // The snapshot already carried this very state.
            Some(Ok(alert)) if sent.remove(&alert.id).as_ref() == Some(&*alert) => None,
            Some(Ok(alert)) => Some(alert_event(&alert)),
            Some(Err(resync)) => Some(resync),
            None => None,
        };
        std::future::ready(event.map(Ok))
    });
    Ok(Sse::new(head.chain(tail).take_until(live.closed())).keep_alive(KeepAlive::default()))
}

fn alert_event(alert: &Alert) -> Event {
    Event::default()
        .event("alert")
        .id(alert.id.to_string())
        .data(serde_json::to_string(alert).unwrap_or_default())
}

/// `GET /live/{layer}/events`: every device's latest position, then the devices that moved,
/// at most once per publication interval (what a map can draw), as `event: positions`.
#[utoipa::path(
    get,
    path = "/live/{layer}/events",
    tag = "live",
    summary = "Server-Sent Events: every device's latest position, then the devices that moved (event: positions)",
    params(("layer" = String, Path)),
    responses((status = 200, description = "an event stream", content_type = "text/event-stream"))
)]
pub async fn position_stream(
    State(state): State<AppState>,
    view: View,
    path: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let name = path_of(path)?;
    let live = live_of(&state)?;
    let layer = visible(live, &view, &name)?.clone();
    let every = live.every;
    let fields: Vec<(usize, String)> = {
        let meta = crate::store::LayerMeta::new(
            &name,
            crate::feature::LayerKind::Iot,
            crate::feature::GeometryKind::Point,
            layer.fields(),
        );
        view.fields(&meta).into_iter().map(|i| (i, meta.fields[i].name.clone())).collect()
    };
    let stream = stream::unfold((layer, 0u64, true), move |(layer, seq, first)| {
        let fields = fields.clone();
        async move {
            loop {
                if !first {
                    tokio::time::sleep(every).await;
                }
                let (moved, now) = layer.moved_since(seq);
                if moved.is_empty() && !first {
                    continue;
                }
                let positions: Vec<Json_> = moved.iter().map(|f| position_json(f, &fields)).collect();
                let data = json!({ "layer": layer.name, "positions": positions }).to_string();
                let event = Event::default().event("positions").data(data);
                return Some((Ok(event), (layer, now, false)));
            }
        }
    });
    Ok(Sse::new(stream.take_until(live.closed())).keep_alive(KeepAlive::default()))
}

/// One device's position as the stream sends it: id, lon, lat and the fields the view sees.
fn position_json(feature: &Feature, fields: &[(usize, String)]) -> Json_ {
    let mut out = serde_json::Map::new();
    out.insert("id".into(), json!(feature.id));
    if let geo_types::Geometry::Point(p) = feature.geometry {
        out.insert("lon".into(), json!(p.x()));
        out.insert("lat".into(), json!(p.y()));
    }
    for (i, name) in fields {
        let value = feature.properties.get(*i).unwrap_or(&Value::Null);
        out.insert(name.clone(), serde_json::to_value(value).unwrap_or_default());
    }
    Json_::Object(out)
}

/// `GET /live/{layer}/track?device=ID&from=T&to=T`: the device's stored reports between two
/// times (RFC 3339 or epoch seconds; default the last hour), oldest first, as GeoJSON points.
#[utoipa::path(
    get,
    path = "/live/{layer}/track",
    tag = "live",
    summary = "one device's stored reports between two times, oldest first, as GeoJSON points",
    params(("layer" = String, Path), ("device" = String, Query), ("from" = Option<String>, Query, description = "RFC 3339 or epoch seconds (default an hour ago)"), ("to" = Option<String>, Query)),
    responses((status = 200, description = "a GeoJSON FeatureCollection", content_type = "application/geo+json", body = Object))
)]
pub async fn track(
    State(state): State<AppState>,
    view: View,
    path: Result<Path<String>, axum::extract::rejection::PathRejection>,
    params: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> ApiResult<Json<Json_>> {
    let name = path_of(path)?;
    let Query(params) = params.map_err(|e| Error::bad_request(format!("cannot read the query string: {}", e.body_text())))?;
    let live = live_of(&state)?;
    visible(live, &view, &name)?;
    let (device, from, to) = track_params(&params)?;
    let core = live.live.clone();
    let (layer, who) = (name.clone(), device.clone());
    let reports = tokio::task::spawn_blocking(move || core.track(&layer, &who, from, to))
        .await
        .map_err(|e| Error::Internal(format!("track task failed: {e}")))??;
    let features: Vec<Json_> = reports
        .iter()
        .map(|r| {
            let values: Json_ = serde_json::from_str(&r.values).unwrap_or_else(|_| json!({}));
            json!({
                "type": "Feature",
                "geometry": { "type": "Point", "coordinates": [r.lon, r.lat] },
                "properties": { "device": r.device, "time": crate::live::alerts::rfc3339(r.time), "values": values },
            })
        })
        .collect();
    Ok(Json(
        json!({ "type": "FeatureCollection", "layer": name, "device": device, "features": features }),
    ))
}

fn track_params(params: &HashMap<String, String>) -> ApiResult<(String, f64, f64)> {
    let time = |key: &str, default: f64| -> ApiResult<f64> {
        match params.get(key) {
            None => Ok(default),
            Some(v) => crate::live::message::epoch_seconds(&Json_::String(v.clone()))
                .ok_or_else(|| ApiError(Error::bad_request(format!("{key}={v}: give RFC 3339 or epoch seconds")))),
        }
    };
    if let Some(other) = params.keys().find(|k| !["device", "from", "to"].contains(&k.as_str())) {
        return Err(ApiError(Error::bad_request(format!(
            "unknown parameter '{}'; the track takes device, from and to",
            other.escape_default()
        ))));
    }
    let device = params
        .get("device")
        .filter(|d| !d.is_empty())
        .ok_or_else(|| ApiError(Error::bad_request("device=ID is required (a device of the layer)")))?;
    let now = crate::live::alerts::now_unix();
    let to = time("to", now)?;
    let from = time("from", to - 3600.0)?;
    if from > to {
        return Err(ApiError(Error::bad_request("from must not be after to")));
    }
    Ok((device.clone(), from, to))
}
