//! `/query/*`, `/stats`, `/scenarios/{id}/indicators`: parameters and body handed to
//! [`crate::query::run`] on a blocking thread (queries are CPU work), bytes handed back.

use std::collections::HashMap;

use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::error::{json_error, ApiResult, ErrorBody};
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
    let mut response = ([(CONTENT_TYPE, answer.content_type)], answer.body).into_response();
    if let Some(features) = answer.features {
        super::audit::mark_returned(&mut response, features);
    }
    Ok(response)
}

#[utoipa::path(
    get,
    path = "/query/point",
    tag = "query",
    summary = "polygons containing a point, points and lines within a tolerance",
    params(("lon" = f64, Query, description = "longitude (WGS84)"), ("lat" = f64, Query, description = "latitude (WGS84)"), ("layers" = Option<String>, Query, description = "comma list of layer names (default: every visible layer)"), ("tolerance_m" = Option<f64>, Query, minimum = 0), ("fields" = Option<String>, Query, description = "comma list of the attributes to return"), ("format" = Option<String>, Query, description = "geojson (default) or csv"), ("limit" = Option<u32>, Query, minimum = 1), ("offset" = Option<u32>, Query)),
    responses((status = 200, description = "the features as GeoJSON (or CSV with format=csv)", content(("application/geo+json"), ("text/csv"))))
)]
pub async fn point(State(s): State<AppState>, view: View, p: RawParams) -> ApiResult<Response> {
    run(s, view, p, Job::Point).await
}

#[utoipa::path(
    get,
    path = "/query/radius",
    tag = "query",
    summary = "features within a radius (ellipsoidal metres), by distance",
    params(("lon" = f64, Query, description = "longitude (WGS84)"), ("lat" = f64, Query, description = "latitude (WGS84)"), ("radius_m" = f64, Query, exclusive_minimum = 0, maximum = 50000), ("layers" = Option<String>, Query, description = "comma list of layer names (default: every visible layer)"), ("fields" = Option<String>, Query, description = "comma list of the attributes to return"), ("format" = Option<String>, Query, description = "geojson (default) or csv"), ("limit" = Option<u32>, Query, minimum = 1), ("offset" = Option<u32>, Query)),
    responses((status = 200, description = "the features as GeoJSON (or CSV with format=csv)", content(("application/geo+json"), ("text/csv"))))
)]
pub async fn radius(State(s): State<AppState>, view: View, p: RawParams) -> ApiResult<Response> {
    run(s, view, p, Job::Radius).await
}

#[utoipa::path(
    get,
    path = "/query/bbox",
    tag = "query",
    summary = "features intersecting a box",
    params(("bbox" = String, Query, description = "west,south,east,north"), ("layers" = Option<String>, Query, description = "comma list of layer names (default: every visible layer)"), ("fields" = Option<String>, Query, description = "comma list of the attributes to return"), ("format" = Option<String>, Query, description = "geojson (default) or csv"), ("limit" = Option<u32>, Query, minimum = 1), ("offset" = Option<u32>, Query)),
    responses((status = 200, description = "the features as GeoJSON (or CSV with format=csv)", content(("application/geo+json"), ("text/csv"))))
)]
pub async fn bbox(State(s): State<AppState>, view: View, p: RawParams) -> ApiResult<Response> {
    run(s, view, p, Job::Bbox).await
}

#[utoipa::path(
    get,
    path = "/query/nearest",
    tag = "query",
    summary = "the k nearest features",
    params(("lon" = f64, Query, description = "longitude (WGS84)"), ("lat" = f64, Query, description = "latitude (WGS84)"), ("k" = Option<u32>, Query, minimum = 1), ("layers" = Option<String>, Query, description = "comma list of layer names (default: every visible layer)"), ("fields" = Option<String>, Query, description = "comma list of the attributes to return"), ("format" = Option<String>, Query, description = "geojson (default) or csv"), ("limit" = Option<u32>, Query, minimum = 1), ("offset" = Option<u32>, Query)),
    responses((status = 200, description = "the features as GeoJSON (or CSV with format=csv)", content(("application/geo+json"), ("text/csv"))))
)]
pub async fn nearest(State(s): State<AppState>, view: View, p: RawParams) -> ApiResult<Response> {
    run(s, view, p, Job::Nearest).await
}

#[utoipa::path(
    get,
    path = "/query/boundary",
    tag = "query",
    summary = "features intersecting (or within) an administrative unit",
    params(("admin" = String, Query, description = "layer:code of the unit"), ("predicate" = Option<String>, Query, description = "intersects (default) or within"), ("layers" = Option<String>, Query, description = "comma list of layer names (default: every visible layer)"), ("fields" = Option<String>, Query, description = "comma list of the attributes to return"), ("format" = Option<String>, Query, description = "geojson (default) or csv"), ("limit" = Option<u32>, Query, minimum = 1), ("offset" = Option<u32>, Query)),
    responses((status = 200, description = "the features as GeoJSON (or CSV with format=csv)", content(("application/geo+json"), ("text/csv"))))
)]
pub async fn boundary_by_admin(State(s): State<AppState>, view: View, p: RawParams) -> ApiResult<Response> {
    run(s, view, p, Job::Boundary(None)).await
}

#[utoipa::path(
    post,
    path = "/query/boundary",
    tag = "query",
    summary = "features intersecting (or within) a GeoJSON polygon",
    params(("predicate" = Option<String>, Query, description = "intersects (default) or within"), ("layers" = Option<String>, Query, description = "comma list of layer names (default: every visible layer)"), ("fields" = Option<String>, Query, description = "comma list of the attributes to return"), ("format" = Option<String>, Query, description = "geojson (default) or csv"), ("limit" = Option<u32>, Query, minimum = 1), ("offset" = Option<u32>, Query)),
    request_body(content = Object, description = "GeoJSON Polygon, MultiPolygon or a Feature holding one", content_type = "application/geo+json"),
    responses((status = 200, description = "the features as GeoJSON (or CSV with format=csv)", content(("application/geo+json"), ("text/csv"))), (status = 413, description = "the polygon has too many vertices", content_type = "application/json", body = ErrorBody))
)]
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

#[utoipa::path(
    get,
    path = "/stats",
    tag = "query",
    summary = "figures per administrative unit",
    params(("layer" = String, Query), ("by" = String, Query, description = "the administrative layer"), ("within" = Option<String>, Query, description = "layer:code or a GeoJSON polygon"), ("group_by" = Option<String>, Query), ("sum" = Option<String>, Query), ("format" = Option<String>, Query, description = "json (default) or csv")),
    responses((status = 200, description = "count, sum, area or length per unit", content(("application/json"), ("text/csv"))))
)]
pub async fn stats(State(s): State<AppState>, view: View, p: RawParams) -> ApiResult<Response> {
    run(s, view, p, Job::Stats).await
}

#[utoipa::path(
    get,
    path = "/scenarios/{id}/indicators",
    tag = "scenarios",
    summary = "each unit's value of a scenario's indicators, with target and status",
    params(("id" = String, Path), ("indicator" = Option<String>, Query), ("format" = Option<String>, Query, description = "json (default) or csv")),
    responses((status = 200, description = "values per unit", content(("application/json"), ("text/csv"))))
)]
pub async fn indicators(State(s): State<AppState>, view: View, Path(id): Path<String>, p: RawParams) -> ApiResult<Response> {
    run(s, view, p, Job::Indicators(id)).await
}

/// Largest accepted query polygon body: 100,000 vertices written out generously.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
