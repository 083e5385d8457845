//! Which web origins may read bando's answers from a page of their own (CORS).
//!
//! An open server (no `[security]`) lets every origin read it, as map servers do, unless origins
//! are configured. With auth on, only the configured origins (`--cors-origin`, `[server]
//! cors_origins`) may: otherwise any page a signed-in officer opens could read the officer's
//! data with the officer's token. `"*"` in the list is the explicit choice of every origin.
//!
//! Owns the origin list, its validation, and the CORS headers of answers and preflights (set by
//! `edge`). Knows nothing of identities or routes.

use std::sync::Arc;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

const ANY: HeaderValue = HeaderValue::from_static("*");
const ALLOW_METHODS: HeaderValue = HeaderValue::from_static("GET, HEAD, POST, OPTIONS");
/// `*` does not cover `Authorization` (Fetch standard), which bearer-token clients send.
const ALLOW_HEADERS: HeaderValue = HeaderValue::from_static("*, Authorization");
/// Browsers may reuse a preflight answer for a day (Chromium caps it at two hours).
const PREFLIGHT_MAX_AGE: HeaderValue = HeaderValue::from_static("86400");

/// A configured origin that is not `scheme://host[:port]`.
#[derive(Debug, thiserror::Error)]
#[error(
    "'{origin}' is not a web origin: write it as scheme://host[:port] with no path, e.g. \
     https://ioc.example.vn (or \"*\" for every origin)"
)]
pub struct InvalidOrigin {
    pub origin: String,
}

/// The origins whose pages may read this server's answers.
#[derive(Clone, Debug, Default)]
pub enum Cors {
    /// Every origin (`Access-Control-Allow-Origin: *`).
    #[default]
    Any,
    /// Only these (lower-case, as browsers send them); the answer names the request's origin.
    Only(Arc<[HeaderValue]>),
}

/// The CORS headers one answer gets, decided from its request.
#[derive(Clone, Debug)]
pub struct Allowed {
    origin: Option<HeaderValue>,
    /// The answer depends on the request's `Origin` (a list, not `*`), so caches must key on it.
    varies: bool,
}

impl Cors {
    /// The policy for `origins`: with auth on (`auth`), only those; without, every origin unless
    /// some are listed.
    pub fn new(origins: &[String], auth: bool) -> Result<Cors, InvalidOrigin> {
        if origins.iter().any(|o| o == "*") || (origins.is_empty() && !auth) {
            return Ok(Cors::Any);
        }
        let list = origins.iter().map(|o| origin_value(o)).collect::<Result<Vec<_>, _>>()?;
        Ok(Cors::Only(list.into()))
    }

    /// What the answer to a request with `headers` may say.
    pub fn allowed(&self, headers: &HeaderMap) -> Allowed {
        match self {
            Cors::Any => Allowed {
                origin: Some(ANY),
                varies: false,
            },
            Cors::Only(list) => Allowed {
                origin: headers
                    .get(header::ORIGIN)
                    .and_then(|asked| list.iter().find(|o| o.as_bytes().eq_ignore_ascii_case(asked.as_bytes())))
                    .cloned(),
                varies: true,
            },
        }
    }
}

impl Allowed {
    /// Sets the headers on an answer.
    pub fn apply(self, headers: &mut HeaderMap) {
        if let Some(origin) = self.origin {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        }
        if self.varies {
            headers.append(header::VARY, HeaderValue::from_static("origin"));
        }
    }

    /// The answer to a preflight: the methods bando serves and any request header, for an
    /// allowed origin; a bare 204 (which the browser treats as a refusal) for another.
    pub fn preflight(self) -> Response {
        let mut response = StatusCode::NO_CONTENT.into_response();
        let h = response.headers_mut();
        if self.origin.is_some() {
            h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, ALLOW_METHODS);
            h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, ALLOW_HEADERS);
            h.insert(header::ACCESS_CONTROL_MAX_AGE, PREFLIGHT_MAX_AGE);
        }
        self.apply(h);
        response
    }
}

/// `origin` checked as `scheme://host[:port]` and lower-cased.
fn origin_value(origin: &str) -> Result<HeaderValue, InvalidOrigin> {
    let invalid = || InvalidOrigin {
        origin: origin.to_string(),
    };
    let (scheme, rest) = origin.split_once("://").ok_or_else(invalid)?;
    let scheme_ok = !scheme.is_empty() && scheme.bytes().all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b));
    let host_ok = !rest.is_empty() && !rest.contains(['/', '?', '#', '@', ' ']);
    if !scheme_ok || !host_ok {
        return Err(invalid());
    }
    HeaderValue::from_str(&origin.to_ascii_lowercase()).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asked(origin: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ORIGIN, HeaderValue::from_str(origin).unwrap());
        h
    }

    fn answer(cors: &Cors, origin: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        cors.allowed(&asked(origin)).apply(&mut h);
        h
    }

    #[test]
    fn an_open_server_allows_every_origin_and_auth_only_the_listed_ones() {
        assert!(matches!(Cors::new(&[], false).unwrap(), Cors::Any));
        let none = Cors::new(&[], true).unwrap();
        assert!(answer(&none, "https://evil.example")
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .is_none());
        let listed = Cors::new(&["https://IOC.example.vn".into()], true).unwrap();
        let h = answer(&listed, "https://ioc.example.vn");
        assert_eq!(h[header::ACCESS_CONTROL_ALLOW_ORIGIN], "https://ioc.example.vn");
        assert_eq!(h[header::VARY], "origin");
        assert!(answer(&listed, "https://ioc.example.vn.evil.example")
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .is_none());
        assert!(matches!(Cors::new(&["*".into()], true).unwrap(), Cors::Any));
    }

    #[test]
    fn origins_with_a_path_or_no_scheme_are_refused() {
        for bad in ["ioc.example.vn", "https://ioc.example.vn/", "https://", "https://a b", "://x"] {
            let e = Cors::new(&[bad.into()], true).unwrap_err();
            assert!(e.to_string().contains("scheme://host"), "{bad}: {e}");
        }
        assert!(Cors::new(&["http://127.0.0.1:8080".into()], true).is_ok());
    }

    #[test]
    fn a_preflight_from_another_origin_gets_no_permissions() {
        let listed = Cors::new(&["https://ioc.example.vn".into()], true).unwrap();
        let refused = listed.allowed(&asked("https://evil.example")).preflight();
        assert!(refused.headers().get(header::ACCESS_CONTROL_ALLOW_METHODS).is_none());
        let allowed = listed.allowed(&asked("https://ioc.example.vn")).preflight();
        let headers = allowed.headers()[header::ACCESS_CONTROL_ALLOW_HEADERS].to_str().unwrap();
        assert!(headers.contains("Authorization"));
    }
}
