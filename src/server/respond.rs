//! The one response path for every served file (live tiles, archive tiles, 3D Tiles files):
//! a cache hit answered on the async thread (304 when its ETag matches), a 304 on an ETag known
//! without work, else the file made on the blocking pool; then gzip when the client takes it,
//! 204 for an empty file, ETag, Vary, Cache-Control and `X-Cache` alike on every route, and the
//! file's feature count handed to the audit record (a 304 returns none, so names none).

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::error::ApiResult;
use crate::delivery::{Encoded, FileSource, Freshness};
use crate::error::Error;

/// Answers `file` for a request with `headers`.
pub async fn respond<F: FileSource>(file: F, headers: &HeaderMap) -> ApiResult<Response> {
    let gzip_ok = accepts_gzip(headers);
    let (media_type, freshness) = (file.media_type(), file.freshness());
    let shared = !headers.contains_key(header::AUTHORIZATION);
    if let Some(hit) = file.cached(gzip_ok) {
        if etag_matches(headers, &hit.etag) {
            return Ok(not_modified(&hit.etag));
        }
        return Ok(send(&hit, gzip_ok, media_type, (freshness, shared), "hit"));
    }
    if let Some(etag) = file.etag().filter(|e| etag_matches(headers, e)) {
        return Ok(not_modified(&etag));
    }
    let made = tokio::task::spawn_blocking(move || file.produce(gzip_ok))
        .await
        .map_err(|e| Error::Internal(format!("file task failed: {e}")))??;
    Ok(send(&made, gzip_ok, media_type, (freshness, shared), "miss"))
}

/// Whether the client takes `Content-Encoding: gzip` (`gzip` or `*`, not refused with `q=0`).
pub fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';').map(str::trim);
            let coding = parts.next().unwrap_or("");
            let refused = parts.any(|p| p.strip_prefix("q=").is_some_and(|q| q.parse::<f32>().is_ok_and(|q| q == 0.0)));
            (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
        })
}

fn etag_matches(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == etag || t == "*")
}

fn not_modified(etag: &str) -> Response {
    let mut r = StatusCode::NOT_MODIFIED.into_response();
    if let Ok(v) = HeaderValue::from_str(etag) {
        r.headers_mut().insert(header::ETAG, v);
    }
    r
}

/// `public` lets shared caches keep the file; an answer to a request with an `Authorization`
/// header is `private`, because `public` would override the rule that a shared cache never
/// stores such an answer (RFC 9111 §3.5), and a proxy would hand an officer's tiles to anyone.
/// (`?access_token=` answers need no such care: a proxy keys them on the URL, token included.)
fn cache_control(freshness: Freshness, shared: bool) -> HeaderValue {
    HeaderValue::from_static(match (freshness, shared) {
        (Freshness::Second, true) => "public, max-age=1",
        (Freshness::Second, false) => "private, max-age=1",
        (Freshness::Minute, true) => "public, max-age=60",
        (Freshness::Day, true) => "public, max-age=86400",
        (Freshness::Minute, false) => "private, max-age=60",
        (Freshness::Day, false) => "private, max-age=86400",
    })
}

/// The HTTP form of a finished file: 204 when empty, gzip when the client takes it.
fn send(file: &Encoded, gzip_ok: bool, media_type: &'static str, (freshness, shared): (Freshness, bool), cache: &'static str) -> Response {
    let mut response = if file.is_empty() {
        StatusCode::NO_CONTENT.into_response()
    } else {
        let (body, gzipped) = match (&file.gzip, gzip_ok) {
            (Some(gz), true) => (gz.clone(), true),
            _ => (file.raw.clone(), false),
        };
        let mut r = Response::new(Body::from(body));
        r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(media_type));
        if gzipped {
            r.headers_mut().insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        r
    };
    let h = response.headers_mut();
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    h.insert(header::CACHE_CONTROL, cache_control(freshness, shared));
    if let Some(v) = (!file.etag.is_empty()).then(|| HeaderValue::from_str(&file.etag).ok()).flatten() {
        h.insert(header::ETAG, v);
    }
    h.insert("x-cache", HeaderValue::from_static(cache));
    if let Some(features) = file.features {
        super::audit::mark_returned(&mut response, features);
    }
    response
}
