//! What makes a server one replica among several over a shared store: its readiness for a load
//! balancer (`GET /ready`) and the follower thread that waits on the store's change feed
//! (PostGIS `LISTEN`) and wakes the watch task the moment an import commits anywhere.
//!
//! Owns the readiness state and the follower's reconnect loop; the watch task in `mod.rs` does
//! the reloading itself, so a notification and a poll change the catalog the same way. Knows
//! nothing of SQL: the feed is the store's.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use tokio::sync::Notify;

use super::AppState;
use crate::store::StoreError;

/// Whether the store answered the last time the server looked (the watch task's poll or the
/// follower's connection), and if not, why.
#[derive(Default)]
pub struct Readiness {
    down: AtomicBool,
    problem: Mutex<Option<String>>,
}

impl Readiness {
    pub fn store_up(&self) {
        if self.down.swap(false, Ordering::AcqRel) {
            tracing::info!("store reachable again; ready");
        }
    }

    pub fn store_down(&self, e: &StoreError) {
        *self.problem.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.to_string());
        if !self.down.swap(true, Ordering::AcqRel) {
            tracing::warn!(error = %e, "store unreachable; serving the layers in memory, degraded");
        }
    }

    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::Acquire)
    }

    fn problem(&self) -> String {
        self.problem.lock().unwrap_or_else(|p| p.into_inner()).clone().unwrap_or_default()
    }
}

/// `GET /ready`: 200 while the layers are loaded and the store is reachable, 503 `degraded`
/// while it is not (tiles and queries are still answered from memory). The server answers
/// `starting` itself until its layers are loaded.
#[utoipa::path(
    get,
    path = "/ready",
    tag = "service",
    summary = "readiness for a load balancer",
    responses((status = 200, description = "ready", content_type = "application/json", body = Object), (status = 503, description = "starting or degraded", content_type = "application/json", body = Object))
)]
pub async fn ready(State(state): State<AppState>) -> Response {
    let ready = &state.readiness;
    if ready.is_down() {
        let body = json!({ "status": "degraded", "reason": ready.problem() });
        return (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
    }
    let body = json!({ "status": "ready", "layers": state.catalog.snapshot().len(), "generation": state.catalog.generation() });
    Json(body).into_response()
}

/// What the server answers while it loads its layers: `/health` 200 and `/ready` 503, both
/// `starting`; anything else 503 with a Retry-After.
pub fn starting_router() -> axum::Router {
    let starting = |status: StatusCode| move || async move { (status, Json(json!({ "status": "starting" }))) };
    axum::Router::new()
        .route("/health", axum::routing::get(starting(StatusCode::OK)))
        .route("/ready", axum::routing::get(starting(StatusCode::SERVICE_UNAVAILABLE)))
        .fallback(|| async {
            let mut response = super::error::json_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the server is starting (loading its layers); retry in a moment",
            );
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(1));
            response
        })
}

/// The longest wait on the feed before its connection is checked (an outage is seen within it).
const FEED_WAIT: Duration = Duration::from_secs(1);

/// Reconnect delays of the follower: from 100 ms, doubling, at most 5 s.
struct Backoff(Duration);

impl Backoff {
    const FIRST: Duration = Duration::from_millis(100);
    const MOST: Duration = Duration::from_secs(5);

    fn next(&mut self) -> Duration {
        let now = self.0;
        self.0 = (self.0 * 2).min(Self::MOST);
        now
    }
}

/// Starts the follower thread when the store announces changes. `wake` is the watch task's:
/// woken on every announcement, and after every (re)connect, because the generation counter
/// then tells whether announcements were missed while the feed was away.
pub fn spawn_follower(state: AppState, wake: Arc<Notify>) {
    let spawned = std::thread::Builder::new()
        .name("store changes".into())
        .spawn(move || follow(&state, &wake));
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot start the store change follower; imports are picked up by polling");
    }
}

/// The follower thread (the store's client blocks): returns at once for a store without a feed.
fn follow(state: &AppState, wake: &Notify) {
    let mut backoff = Backoff(Backoff::FIRST);
    loop {
        let mut feed = match state.store.changes() {
            Some(Ok(feed)) => feed,
            Some(Err(e)) => {
                state.readiness.store_down(&e);
                std::thread::sleep(backoff.next());
                continue;
            }
            None => return,
        };
        backoff = Backoff(Backoff::FIRST);
        tracing::info!("listening for store changes");
        wake.notify_one();
        loop {
            match feed.wait(state.config.watch_interval.min(FEED_WAIT)) {
                Ok(layers) if layers.is_empty() => {}
                Ok(layers) => {
                    tracing::debug!(?layers, "store change announced");
                    state.metrics.notified(layers.len());
                    wake.notify_one();
                }
                Err(e) => {
                    state.readiness.store_down(&e);
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconnects_back_off_from_a_tenth_of_a_second_to_five_seconds() {
        let mut b = Backoff(Backoff::FIRST);
        let delays: Vec<u128> = (0..8).map(|_| b.next().as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1600, 3200, 5000, 5000]);
    }
}
