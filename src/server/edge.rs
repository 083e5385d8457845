//! The server's edge: one tower layer around the whole router doing what every response needs.
//! CORS for map clients served from another origin (`cors` decides; preflights answered here,
//! before routing),
//! the identity of every request (`auth::admit`, before routing, so no route can skip it), its
//! audit record when it is authenticated or denied (`audit`, queued, never waited for),
//! JSON bodies for the error responses axum makes itself, a logged JSON 500 for a panicking
//! handler, the request id (`X-Request-Id`: the client's when it sends a sane one, else made
//! here; echoed in the response and the request line), the counters of `/metrics`, and the
//! request line (path only: never the query, which may hold a token), at info level with the
//! JSON log format, else at debug level.
//!
//! It is one hand-written layer, not four tower-http ones, because a hot cached tile is a
//! few microseconds of work: each generic layer added a future, a clock read or an allocation per
//! request, and together they cost a quarter of the throughput of a bare route (docs/benchmarks.md,
//! "one hot cached tile"). The successful path here reads the clock twice, bumps three relaxed
//! atomics and makes one small header value (the request id); it allocates nothing else unless
//! the request line is logged. Owns no routes and knows nothing of tiles or queries.

use std::convert::Infallible;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::Request;
use axum::http::{header, HeaderValue, Method};
use axum::response::Response;

use super::cors::{Allowed, Cors};
use super::metrics::{Family, Metrics};
use super::{audit, auth, error};
use crate::audit::Auditor;
use crate::policy::Security;

/// Wraps a service (the router) in [`Edge`]; without `security` every request is let through
/// unidentified (the unit tests' routers), without `metrics` nothing is counted.
#[derive(Clone, Default)]
pub struct EdgeLayer {
    pub security: Option<Arc<Security>>,
    pub metrics: Option<&'static Metrics>,
    /// Logs every request line at info level (the JSON log format), not only at debug level.
    pub access_log: bool,
    /// The origins whose pages may read the answers.
    pub cors: Cors,
}

impl<S> tower::Layer<S> for EdgeLayer {
    type Service = Edge<S>;

    fn layer(&self, inner: S) -> Edge<S> {
        Edge {
            inner,
            security: self.security.clone(),
            metrics: self.metrics,
            access_log: self.access_log,
            cors: self.cors.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Edge<S> {
    inner: S,
    security: Option<Arc<Security>>,
    metrics: Option<&'static Metrics>,
    access_log: bool,
    cors: Cors,
}

impl<S> Edge<S> {
    /// The audit writer of this server, if it records.
    pub fn auditor(&self) -> Option<&Arc<Auditor>> {
        self.security.as_ref().and_then(|s| s.audit())
    }
}

/// What the edge keeps of a request until its response: for the counters, the request id and
/// (only when it is logged) the request line.
struct Observed {
    family: Family,
    started: Instant,
    id: HeaderValue,
    metrics: Option<&'static Metrics>,
    line: Option<RequestLine>,
}

struct RequestLine {
    method: Method,
    path: String,
    info: bool,
}

const REQUEST_ID: &str = "x-request-id";

/// The client's request id when it is 1-128 visible ASCII characters, else a new one: this
/// process's random prefix and a counter.
fn request_id(headers: &axum::http::HeaderMap) -> HeaderValue {
    if let Some(id) = headers.get(REQUEST_ID) {
        let sane = (1..=128).contains(&id.len()) && id.as_bytes().iter().all(|b| b.is_ascii_graphic());
        if sane {
            return id.clone();
        }
    }
    static PREFIX: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let prefix = PREFIX.get_or_init(|| {
        let mut bytes = [0u8; 4];
        // Without randomness the ids are still unique within this process.
        let _ = getrandom::fill(&mut bytes);
        u32::from_le_bytes(bytes)
    });
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    HeaderValue::from_str(&format!("{prefix:08x}-{n:x}")).unwrap_or(HeaderValue::from_static("0"))
}

impl<S> tower::Service<Request> for Edge<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible>,
    // axum's route futures are boxed inside, so `Unpin`: no pin projection needed here.
    S::Future: Unpin + Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = EdgeFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let allowed = self.cors.allowed(request.headers());
        if request.method() == Method::OPTIONS && request.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD) {
            return EdgeFuture::done(allowed.preflight());
        }
        let logged = self.access_log || tracing::enabled!(tracing::Level::DEBUG);
        let observed = Observed {
            family: Family::of(request.uri().path()),
            started: Instant::now(),
            id: request_id(request.headers()),
            metrics: self.metrics,
            line: logged.then(|| RequestLine {
                method: request.method().clone(),
                path: request.uri().path().to_string(),
                info: self.access_log,
            }),
        };
        let mut record = None;
        if let Some(security) = &self.security {
            if let Err(refused) = auth::admit(security, &mut request) {
                if let Some(metrics) = self.metrics {
                    metrics.rejected(&refused);
                }
                let response = auth::refusal(refused);
                if let Some(auditor) = security.audit() {
                    auditor.record(audit::refused(&request, response.status().as_u16()));
                }
                return EdgeFuture {
                    state: Some(State::Ready(response)),
                    observed: Some(observed),
                    record: None,
                    allowed: Some(allowed),
                };
            }
            record = security
                .audit()
                .and_then(|auditor| audit::draft(&request).map(|e| (auditor.clone(), e)));
        }
        let state = match catch_unwind(AssertUnwindSafe(|| self.inner.call(request))) {
            Ok(inner) => State::Inner(inner),
            Err(panic) => State::Ready(error::panic_response(panic)),
        };
        EdgeFuture {
            state: Some(state),
            observed: Some(observed),
            record,
            allowed: Some(allowed),
        }
    }
}

enum State<F> {
    /// The router's future.
    Inner(F),
    /// Reading an error body axum wrote as text, to answer it as JSON.
    Rewrite(Pin<Box<dyn Future<Output = Response> + Send>>),
    Ready(Response),
}

pub struct EdgeFuture<F> {
    state: Option<State<F>>,
    observed: Option<Observed>,
    /// The draft audit record of an identified request, completed (or, for an anonymous request
    /// that was served, dropped) with its response.
    record: Option<(Arc<Auditor>, audit::Draft)>,
    /// The CORS headers of the answer (a preflight has its own).
    allowed: Option<Allowed>,
}

impl<F> EdgeFuture<F> {
    fn done(response: Response) -> EdgeFuture<F> {
        EdgeFuture {
            state: Some(State::Ready(response)),
            observed: None,
            record: None,
            allowed: None,
        }
    }

    fn finish(&mut self, mut response: Response) -> Poll<Result<Response, Infallible>> {
        if let Some(allowed) = self.allowed.take() {
            allowed.apply(response.headers_mut());
        }
        if let Some((auditor, draft)) = self.record.take() {
            if let Some(entry) = audit::finish(draft, &response) {
                auditor.record(entry);
            }
        }
        if let Some(o) = self.observed.take() {
            let (status, took) = (response.status().as_u16(), o.started.elapsed());
            if let Some(metrics) = o.metrics {
                metrics.request(o.family, status, took);
            }
            if let Some(line) = &o.line {
                log_request(line, status, took, &o.id);
            }
            response.headers_mut().insert(REQUEST_ID, o.id);
        }
        Poll::Ready(Ok(response))
    }
}

fn log_request(line: &RequestLine, status: u16, took: std::time::Duration, id: &HeaderValue) {
    let (method, path, micros) = (&line.method, &line.path, took.as_micros() as u64);
    let id = id.to_str().unwrap_or("");
    if line.info {
        tracing::info!(%method, %path, status, micros, request_id = id, "request");
    } else {
        tracing::debug!(%method, %path, status, micros, request_id = id, "request");
    }
}

impl<F> Future for EdgeFuture<F>
where
    F: Future<Output = Result<Response, Infallible>> + Unpin + Send + 'static,
{
    type Output = Result<Response, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        loop {
            match this.state.take() {
                Some(State::Inner(mut inner)) => {
                    let response = match catch_unwind(AssertUnwindSafe(|| Pin::new(&mut inner).poll(cx))) {
                        Ok(Poll::Pending) => {
                            this.state = Some(State::Inner(inner));
                            return Poll::Pending;
                        }
                        Ok(Poll::Ready(Ok(response))) => response,
                        Ok(Poll::Ready(Err(never))) => match never {},
                        Err(panic) => error::panic_response(panic),
                    };
                    if !error::needs_json_body(&response) {
                        return this.finish(response);
                    }
                    this.state = Some(State::Rewrite(Box::pin(error::json_rejection(response))));
                }
                Some(State::Rewrite(mut rewrite)) => match rewrite.as_mut().poll(cx) {
                    Poll::Pending => {
                        this.state = Some(State::Rewrite(rewrite));
                        return Poll::Pending;
                    }
                    Poll::Ready(response) => return this.finish(response),
                },
                Some(State::Ready(response)) => return this.finish(response),
                None => panic!("EdgeFuture polled after it completed"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::StatusCode;
    use axum::routing::get;
    use axum::Router;
    use tower::{Layer, ServiceExt};

    use super::*;

    async fn boom() -> &'static str {
        panic!("handler bug")
    }

    async fn call(request: Request) -> (StatusCode, axum::http::HeaderMap, String) {
        let router = Router::new()
            .route("/ok", get(|| async { "fine" }))
            .route("/boom", get(boom))
            .route(
                "/n/{n}",
                get(|axum::extract::Path(n): axum::extract::Path<u32>| async move { n.to_string() }),
            );
        let response = EdgeLayer::default().layer(router).oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
        (parts.status, parts.headers, String::from_utf8(body.to_vec()).unwrap())
    }

    fn get_request(uri: &str) -> Request {
        Request::builder().uri(uri).body(Body::empty()).unwrap()
    }

    fn error_message(body: &str) -> String {
        let v: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"));
        v["error"]["message"].as_str().unwrap().to_string()
    }

    #[tokio::test]
    async fn every_answer_allows_any_origin() {
        let (status, headers, body) = call(get_request("/ok")).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "fine"));
        assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    }

    #[tokio::test]
    async fn a_preflight_is_answered_before_routing() {
        let request = Request::builder()
            .method(Method::OPTIONS)
            .uri("/ok")
            .header(header::ORIGIN, "http://wall-display.local")
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "GET")
            .body(Body::empty())
            .unwrap();
        let (status, headers, _) = call(request).await;
        assert!(status.is_success(), "{status}");
        assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        assert!(headers[header::ACCESS_CONTROL_ALLOW_METHODS].to_str().unwrap().contains("GET"));
    }

    #[tokio::test]
    async fn a_panicking_handler_is_a_json_500() {
        let (status, headers, body) = call(get_request("/boom")).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        assert!(error_message(&body).contains("server log"), "{body}");
    }

    #[tokio::test]
    async fn axum_rejections_and_wrong_methods_become_json_errors() {
        let (status, _, body) = call(get_request("/n/minus-one")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(error_message(&body).contains("minus-one"), "{body}");
        let (status, _, body) = call(Request::builder().method(Method::DELETE).uri("/ok").body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert!(!error_message(&body).is_empty());
    }
}
