//! `/query/*`, `/stats`, `/scenarios/{id}/indicators`: parameters and body handed to
//! [`crate::query::run`] on a blocking thread (queries are CPU work), bytes handed back.

use std::collections::HashMap;

use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::error::{json_error, ApiResult};
use super::AppState;
use crate::error::Error;
use crate::policy::View;
use crate::query::{self, Context, Operation, Params};

/// What a handler hands over: the operation (with its owned inputs) and the parameters.
enum Job {
    Point,
    Radius,
    Bbox,
    Nearest,
    Boundary(Option<Bytes>),
    Stats,
    Indicators(String),
}

type RawParams = Result<Query<HashMap<String, String>>, QueryRejection>;

async fn run(state: AppState, view: View, params: RawParams, job: Job) -> ApiResult<Response> {
    let Query(params) = params.map_err(|e| Error::bad_request(format!("cannot read the query string: {}", e.body_text())))?;
    let answer = tokio::task::spawn_blocking(move || {
        let scenarios = state.scenarios.current();
        let ctx = Context {
            catalog: &state.catalog,
            scenarios: &scenarios,
            limits: state.config.query_limits,
            view: &view,
        };
        let operation = match &job {
            Job::Point => Operation::Point,
            Job::Radius => Operation::Radius,
            Job::Bbox => Operation::Bbox,
            Job::Nearest => Operation::Nearest,
            Job::Boundary(body) => Operation::Boundary { body: body.as_deref() },
            Job::Stats => Operation::Stats,
            Job::Indicators(id) => Operation::Indicators { scenario: id },
        };
        query::run(&ctx, operation, &Params(&params))
    })
    .await
    .map_err(|e| Error::Internal(format!("query task failed: {e}")))??;
    Ok(([(CONTENT_TYPE, answer.content_type)], answer.body).into_response())
}

pub async fn point(State(s): State<AppState>, view: View, p: RawParams) -> ApiResult<Response> {
    run(s, view, p, Job::Point).await
}

pub async fn radius(State(s): State<AppState>, view: View, p: RawParams) -> ApiResult<Response> {
    run(s, view, p, Job::Radius).await
}

pub async fn bbox(State(s): State<AppState>, view: View, p: RawParams) -> ApiResult<Response> {
    run(s, view, p, Job::Bbox).await
}

pub async fn nearest(State(s): State<AppState>, view: View, p: RawParams) -> ApiResult<Response> {
    run(s, view, p, Job::Nearest).await
}

pub async fn boundary_by_admin(State(s): State<AppState>, view: View, p: RawParams) -> ApiResult<Response> {
    run(s, view, p, Job::Boundary(None)).await
}

pub async fn boundary_by_polygon(State(s): State<AppState>, view: View, p: RawParams, body: Body) -> Response {
    match read_limited(body, MAX_BODY_BYTES).await {
        Ok(body) => run(s, view, p, Job::Boundary(Some(body))).await.into_response(),
        Err(refusal) => refusal,
    }
}

/// How much of an over-limit body is still read (and dropped) before the 413 goes out. Most
/// HTTP/1.1 clients write their whole body before reading the answer; closing the connection on
/// them mid-body shows them a reset connection instead of the error that says what to fix.
const DRAIN_BYTES: usize = 4 * MAX_BODY_BYTES;

/// The whole body if it is at most `limit` bytes, else a JSON 413 (after draining what is left,
/// up to [`DRAIN_BYTES`]).
async fn read_limited(mut body: Body, limit: usize) -> Result<Bytes, Response> {
    use http_body_util::BodyExt;
    let too_large = || {
        json_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("request body over {limit} bytes; send a simpler polygon (at most 100,000 vertices)"),
        )
    };
    if http_body::Body::size_hint(&body).lower() > (limit + DRAIN_BYTES) as u64 {
        return Err(too_large());
    }
    let mut kept = bytes::BytesMut::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| json_error(StatusCode::BAD_REQUEST, &format!("cannot read the request body: {e}")))?;
        let Ok(data) = frame.into_data() else { continue };
        seen += data.len();
        if seen <= limit {
            kept.extend_from_slice(&data);
        } else if seen > limit + DRAIN_BYTES {
            break;
        } else if !kept.is_empty() {
            kept = bytes::BytesMut::new();
        }
    }
    if seen > limit {
        return Err(too_large());
    }
    Ok(kept.freeze())
}

pub async fn stats(State(s): State<AppState>, view: View, p: RawParams) -> ApiResult<Response> {
    run(s, view, p, Job::Stats).await
}

pub async fn indicators(State(s): State<AppState>, view: View, Path(id): Path<String>, p: RawParams) -> ApiResult<Response> {
    run(s, view, p, Job::Indicators(id)).await
}

/// Largest accepted query polygon body: 100,000 vertices written out generously.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
