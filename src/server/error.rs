//! The one mapping from bando's errors to HTTP: status from [`ErrorKind`], body
//! `{"error": {"status": N, "message": "..."}}`, the `WWW-Authenticate` challenge of a
//! refused credential and the `Retry-After` of a rate-limited request. Every handler (and the identity check) returns [`ApiError`].

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::error::{Error, ErrorKind};
use crate::policy::AuthError;

pub struct ApiError(pub Error);

impl<E: Into<Error>> From<E> for ApiError {
    fn from(e: E) -> Self {
        ApiError(e.into())
    }
}

pub fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::BadRequest => StatusCode::BAD_REQUEST,
        ErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorKind::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The body of every error but the OGC routes': `{"error": {"message": "...", "status": N}}`.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody<'a> {
    pub error: ErrorDetail<'a>,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorDetail<'a> {
    /// What went wrong and how to fix it.
    pub message: &'a str,
    /// The HTTP status, repeated.
    pub status: u16,
}

/// A JSON error body with the given status (also used for axum's own rejections).
pub fn json_error(status: StatusCode, message: &str) -> Response {
    let body = ErrorBody {
        error: ErrorDetail {
            message,
            status: status.as_u16(),
        },
    };
    (status, Json(body)).into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = status_of(self.0.kind());
        if status.is_server_error() {
            tracing::error!(error = %self.0, "request failed");
        }
        let message = self.0.to_string();
        let mut response = json_error(status, &message);
        match &self.0 {
            Error::Auth(AuthError::TooManyRequests { retry_after_secs }) => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            }
            Error::Auth(e) => {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, challenge(e.code(), &message));
            }
            _ => {}
        }
        response
    }
}

/// An RFC 6750 Bearer challenge; the description loses the characters a quoted string cannot hold.
fn challenge(code: &str, description: &str) -> HeaderValue {
    let description: String = description
        .chars()
        .filter(|c| (' '..='~').contains(c) && *c != '"' && *c != '\\')
        .collect();
    HeaderValue::from_str(&format!(
        "Bearer realm=\"bando\", error=\"{code}\", error_description=\"{description}\""
    ))
    .unwrap_or(HeaderValue::from_static("Bearer realm=\"bando\", error=\"invalid_token\""))
}

pub type ApiResult<T> = Result<T, ApiError>;

/// An error of an `/ogc` route: the same status as [`ApiError`], with the body of an OGC API
/// exception (`{"code", "description"}`, OGC API Common's `exception.yaml`) plus bando's `status`.
pub struct OgcException(pub Error);

impl<E: Into<Error>> From<E> for OgcException {
    fn from(e: E) -> Self {
        OgcException(e.into())
    }
}

/// The body of an `/ogc` error (OGC API Common's exception).
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct OgcExceptionBody<'a> {
    /// `NotFound`, `InvalidParameterValue` or `NoApplicableCode`.
    pub code: &'a str,
    /// What went wrong and how to fix it.
    pub description: &'a str,
    /// The HTTP status, repeated.
    pub status: u16,
}

impl IntoResponse for OgcException {
    fn into_response(self) -> Response {
        let status = status_of(self.0.kind());
        if status.is_server_error() {
            tracing::error!(error = %self.0, "request failed");
        }
        let code = match status {
            StatusCode::NOT_FOUND => "NotFound",
            s if s.is_client_error() => "InvalidParameterValue",
            _ => "NoApplicableCode",
        };
        let description = self.0.to_string();
        let body = OgcExceptionBody {
            code,
            description: &description,
            status: status.as_u16(),
        };
        (status, Json(body)).into_response()
    }
}

/// Whether `response` is an error answered in something other than JSON: axum's own rejections
/// (a malformed path segment, a bad query string, a wrong method) are plain text.
pub fn needs_json_body(response: &Response) -> bool {
    let status = response.status();
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    (status.is_client_error() || status.is_server_error()) && !is_json
}

/// Rewrites a non-JSON error response as bando's JSON error with the same status and text.
pub async fn json_rejection(response: Response) -> Response {
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 64 * 1024).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&body);
    let message = if text.trim().is_empty() {
        status.canonical_reason().unwrap_or("error").to_string()
    } else {
        text.trim().to_string()
    };
    json_error(status, &message)
}

/// Last line of defence: a panic in a handler becomes a logged 500 JSON error, not a dropped
/// connection. Every known bad input is answered with a 4xx before it can get here.
pub fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    tracing::error!(detail, "handler panicked");
    json_error(StatusCode::INTERNAL_SERVER_ERROR, "internal error; the server log has the details")
}
