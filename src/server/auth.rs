//! Who sends a request, decided once for every route: the edge calls [`admit`] before routing.
//! The credential is `Authorization: Bearer TOKEN` (an API token or a JWT), or
//! `?access_token=TOKEN` for clients that cannot set headers (map tiles, the viewer); `access_token` is cut out of the request's URI
//! here, so no handler, log line or cache key ever sees it. A refused credential is answered
//! 401 with a `WWW-Authenticate` challenge through the one error mapping (`error`); an admitted
//! request carries its [`Identity`] as a request extension.
//!
//! Knows HTTP only: who a credential is, and what a role may do, is `crate::policy`'s.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::uri::PathAndQuery;
use axum::http::{header, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::{json, Value as Json_};

use super::error::ApiError;
use super::AppState;
use crate::error::Error;
use crate::policy::{AuthError, Identity, Security};

const ACCESS_TOKEN: &str = "access_token";

/// Identifies `request` (and strips `access_token` from it), or says why it may not proceed.
pub fn admit(security: &Security, request: &mut Request) -> Result<(), AuthError> {
    let from_query = take_access_token(request);
    let from_header = match request.headers().get(header::AUTHORIZATION) {
        Some(value) => Some(bearer(value.as_bytes())?),
        None => None,
    };
    let address = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    if let Some(identity) = security.identify(from_header.or(from_query.as_deref()), address)? {
        request.extensions_mut().insert(identity);
    }
    Ok(())
}

/// The 401 (or 429) answer to a refused request.
pub fn refusal(e: AuthError) -> Response {
    ApiError(Error::Auth(e)).into_response()
}

/// The token of an `Authorization: Bearer TOKEN` header (the scheme is case-insensitive).
fn bearer(value: &[u8]) -> Result<&str, AuthError> {
    let text = std::str::from_utf8(value).map_err(|_| AuthError::NotBearer)?;
    let (scheme, token) = text.split_once(' ').ok_or(AuthError::NotBearer)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(AuthError::NotBearer);
    }
    Ok(token.trim())
}

/// Removes every `access_token` parameter from the URI; returns the first one's value.
fn take_access_token(request: &mut Request) -> Option<String> {
    let query = request.uri().query()?;
    if !query.contains(ACCESS_TOKEN) {
        return None;
    }
    let mut token = None;
    let mut kept = Vec::new();
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some((ACCESS_TOKEN, value)) => {
                token.get_or_insert_with(|| value.to_string());
            }
            _ if pair == ACCESS_TOKEN => {}
            _ => kept.push(pair),
        }
    }
    let path = request.uri().path();
    let rest = if kept.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{}", kept.join("&"))
    };
    let mut parts = request.uri().clone().into_parts();
    parts.path_and_query = PathAndQuery::try_from(rest).ok();
    if let Ok(uri) = Uri::from_parts(parts) {
        *request.uri_mut() = uri;
    }
    token
}

/// `GET /whoami`: the identity the server gives this request (the viewer's token login, scripts).
#[utoipa::path(
    get,
    path = "/whoami",
    tag = "service",
    summary = "the identity the server gives the request",
    responses((status = 200, description = "role, token id, scope", content_type = "application/json", body = Object))
)]
pub async fn whoami(State(state): State<AppState>, identity: Option<Extension<Identity>>) -> Json<Json_> {
    let policy = state.security.policy_file().and_then(|f| f.current()).is_some();
    let Some(Extension(identity)) = identity else {
        return Json(json!({ "policy": policy, "role": null, "authenticated": false }));
    };
    let token = identity.token.as_ref();
    let jwt = identity.jwt.as_ref();
    let expires = token.and_then(|t| t.expires_unix).or(jwt.map(|j| j.expires_unix));
    Json(json!({
        "policy": policy,
        "role": identity.role.name,
        "admin": identity.role.admin,
        "personal_data": identity.role.personal_data,
        "authenticated": identity.is_authenticated(),
        "token": token.map(|t| t.id),
        "subject": jwt.map(|j| j.subject.clone()),
        "issuer": jwt.map(|j| j.issuer.clone()),
        "scope": identity.scope(),
        "expires": expires.map(crate::policy::tokens::rfc3339),
    }))
}

/// The policy part of `/health`: its file, whether a policy is in force, and why the file's
/// latest content was refused. The reason names roles and layers, so with a policy in force
/// only an admin reads it; others learn that there is one (the log has it too).
pub fn policy_health(state: &AppState, identity: Option<&Identity>) -> Json_ {
    let Some(file) = state.security.policy_file() else {
        return json!({ "file": null, "in_force": false, "reload_error": null });
    };
    let in_force = file.current().is_some();
    let may_read = !in_force || identity.is_some_and(|i| i.role.admin);
    let reload_error = file.problem().map(|why| {
        if may_read {
            why
        } else {
            "the policy file changed but was refused; the previous policy stays in force (the server log, or /health with an admin token, says why)".to_string()
        }
    });
    json!({ "file": file.path().display().to_string(), "in_force": in_force, "reload_error": reload_error })
}

#[cfg(test)]
mod tests {
    use axum::body::Body;

    use super::*;

    fn request(uri: &str) -> Request {
        Request::builder().uri(uri).body(Body::empty()).unwrap()
    }

    #[test]
    fn access_token_is_cut_out_of_the_uri() {
        let mut r = request("/query/point?lon=1&access_token=bnd_abc&lat=2");
        assert_eq!(take_access_token(&mut r).as_deref(), Some("bnd_abc"));
        assert_eq!(r.uri().to_string(), "/query/point?lon=1&lat=2");
        let mut r = request("/tiles/wards/1/2/3.mvt?access_token=bnd_x");
        assert_eq!(take_access_token(&mut r).as_deref(), Some("bnd_x"));
        assert_eq!(r.uri().to_string(), "/tiles/wards/1/2/3.mvt");
        let mut r = request("/layers?my_access_token_note=1");
        assert_eq!(take_access_token(&mut r), None);
        assert_eq!(r.uri().to_string(), "/layers?my_access_token_note=1");
    }

    #[test]
    fn only_bearer_credentials_are_read() {
        assert_eq!(bearer(b"Bearer bnd_1"), Ok("bnd_1"));
        assert_eq!(bearer(b"bearer  bnd_1 "), Ok("bnd_1"));
        assert_eq!(bearer(b"Basic dXNlcjpwYXNz"), Err(AuthError::NotBearer));
        assert_eq!(bearer(b"Bearer "), Err(AuthError::NotBearer));
    }
}
