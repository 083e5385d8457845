//! What the audit records of a request, read from its HTTP form: who (the identity the edge put
//! in it), from where (the peer address), the route (method, path and query: `access_token` is
//! already cut out), the layers it names and the area it asks for. The edge completes the record
//! with the status and the number of features the route said it returned ([`mark_returned`]:
//! a response extension) and queues it (`crate::audit::Auditor`). Requests by an authenticated
//! identity are always recorded; anonymous ones only when they are denied (`is_denied`: 401,
//! 403, 429, or a 404 for a layer outside the anonymous role), so public traffic that is served
//! costs only a kept URI here.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request};
use axum::http::{Method, StatusCode, Uri};
use axum::response::Response;

use crate::audit::{now, AuditEntry, Returned, REQUEST};
use crate::policy::{Identity, LayerGrant, Role};

/// What the edge keeps of a request for its record until the response says its status.
pub enum Draft {
    /// An authenticated request: recorded whatever its answer.
    Identified(AuditEntry),
    /// An anonymous one: recorded only if denied.
    Anonymous(Asked),
}

/// What an anonymous request asked for, kept cheaply (the URI is reference-counted).
pub struct Asked {
    method: Method,
    uri: Uri,
    client: Option<IpAddr>,
    role: Arc<Role>,
}

/// The draft record of an identified request; `None` without a policy in force (no identity).
pub fn draft(request: &Request) -> Option<Draft> {
    let identity = request.extensions().get::<Identity>()?;
    let (method, uri, client) = (request.method(), request.uri(), client_of(request));
    if !identity.is_authenticated() {
        return Some(Draft::Anonymous(Asked {
            method: method.clone(),
            uri: uri.clone(),
            client,
            role: identity.role.clone(),
        }));
    }
    let mut entry = entry_of(method, uri, client);
    entry.identity = identity.name();
    entry.role = identity.role.name.clone();
    if identity.role.scoped && entry.area.is_empty() {
        entry.area = identity.scope().join(",");
    }
    Some(Draft::Identified(entry))
}

/// The record `draft` makes with `response`, if it is recorded.
pub fn finish(draft: Draft, response: &Response) -> Option<AuditEntry> {
    match draft {
        Draft::Identified(mut entry) => {
            complete(&mut entry, response);
            Some(entry)
        }
        Draft::Anonymous(asked) => {
            // Served answers (nearly all) are dismissed before anything is allocated.
            let status = response.status();
            if !status.is_client_error() {
                return None;
            }
            let mut entry = entry_of(&asked.method, &asked.uri, asked.client);
            if !is_denied(status, &asked.role.layers, &entry.layers) {
                return None;
            }
            entry.identity = "anonymous".into();
            entry.role = asked.role.name.clone();
            complete(&mut entry, response);
            Some(entry)
        }
    }
}

/// Whether an anonymous request naming `layers` and answered `status` was denied: refused
/// credentials (401), a forbidden route (403), the rate limit (429), or a 404 for a layer or
/// scenario outside the role's `grant` (it answers like an unknown name, but the policy refused it).
fn is_denied(status: StatusCode, grant: &LayerGrant, layers: &str) -> bool {
    match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::TOO_MANY_REQUESTS => true,
        StatusCode::NOT_FOUND => layers.split(',').any(|name| !name.is_empty() && !grant.allows(name)),
        _ => false,
    }
}

/// Says, for the audit record, that `response` holds `features` features (tiles, query hits,
/// OGC items).
pub fn mark_returned(response: &mut Response, features: u64) {
    response.extensions_mut().insert(Returned(features));
}

/// Completes `entry` with what `response` says: its status and the features it returned (left
/// unknown where the route did not count them).
fn complete(entry: &mut AuditEntry, response: &Response) {
    entry.status = i64::from(response.status().as_u16());
    entry.features = response
        .extensions()
        .get::<Returned>()
        .map(|r| i64::try_from(r.0).unwrap_or(i64::MAX));
}

/// The record of a request refused before routing (401, 429): its credential named no one.
pub fn refused(request: &Request, status: u16) -> AuditEntry {
    let mut entry = entry_of(request.method(), request.uri(), client_of(request));
    entry.identity = "refused".into();
    entry.status = i64::from(status);
    entry
}

fn client_of(request: &Request) -> Option<IpAddr> {
    request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip())
}

/// A record of a request to `uri`, without who sent it or what it was answered.
fn entry_of(method: &Method, uri: &Uri, client: Option<IpAddr>) -> AuditEntry {
    let route = match uri.query() {
        Some(q) => format!("{method} {}?{q}", uri.path()),
        None => format!("{method} {}", uri.path()),
    };
    let (layers, area) = names_and_area(uri.path(), uri.query().unwrap_or(""));
    AuditEntry {
        time: now(),
        action: REQUEST.into(),
        client_ip: client.map(|ip| ip.to_string()).unwrap_or_default(),
        route,
        layers,
        area,
        ..AuditEntry::default()
    }
}

/// The layers (or scenario) a request names and the area it asks for, from its path and query.
fn names_and_area(path: &str, query: &str) -> (String, String) {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let param = |name: &str| {
        query
            .split('&')
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.replace("%2C", ",").replace("%2c", ","))
    };
    let layers = match parts.as_slice() {
        ["tiles", layers, _, _, _] | ["3d", layers, ..] | ["scenarios", layers, _, ..] => layers.to_string(),
        ["tiles", file] => file.trim_end_matches(".json").to_string(),
        ["layers", name] | ["scenarios", name] | ["ogc", "collections", name, ..] => name.to_string(),
        _ => param("layer").or_else(|| param("layers")).unwrap_or_default(),
    };
    let area = match parts.as_slice() {
        ["tiles", _, z, x, y] | ["scenarios", _, z, x, y] => {
            let y = y.split_once('.').map_or(*y, |(y, _)| y);
            format!("tile {z}/{x}/{y}")
        }
        _ => match (param("bbox"), param("lon"), param("lat")) {
            (Some(bbox), _, _) => format!("bbox {bbox}"),
            (None, Some(lon), Some(lat)) => match param("radius_m") {
                Some(r) => format!("point {lon},{lat} radius {r} m"),
                None => format!("point {lon},{lat}"),
            },
            _ => ["admin", "unit", "within", "code"]
                .iter()
                .find_map(|k| param(k).map(|v| format!("{k} {v}")))
                .unwrap_or_default(),
        },
    };
    (layers, area)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_and_area_are_read_from_each_route_family() {
        let t = |path: &str, query: &str| names_and_area(path, query);
        assert_eq!(
            t("/tiles/wards,parcels/14/13000/7000.mvt", ""),
            ("wards,parcels".into(), "tile 14/13000/7000".into())
        );
        assert_eq!(t("/tiles/wards.json", ""), ("wards".into(), String::new()));
        assert_eq!(
            t("/scenarios/social_welfare/12/3258/1873", ""),
            ("social_welfare".into(), "tile 12/3258/1873".into())
        );
        assert_eq!(
            t("/query/radius", "layer=parcels&lon=107.58&lat=16.46&radius_m=500"),
            ("parcels".into(), "point 107.58,16.46 radius 500 m".into())
        );
        assert_eq!(
            t("/query/bbox", "layer=parcels&bbox=1%2C2%2C3%2C4"),
            ("parcels".into(), "bbox 1,2,3,4".into())
        );
        assert_eq!(t("/layers", ""), (String::new(), String::new()));
        assert_eq!(t("/layers/roads", ""), ("roads".into(), String::new()));
        assert_eq!(
            t("/ogc/collections/roads/items", "bbox=1,2,3,4"),
            ("roads".into(), "bbox 1,2,3,4".into())
        );
    }

    #[test]
    fn an_anonymous_request_is_denied_by_its_refusal_or_a_layer_outside_its_role() {
        let public = LayerGrant::Named(["wards".to_string(), "parcels".to_string()].into());
        for status in [StatusCode::UNAUTHORIZED, StatusCode::FORBIDDEN, StatusCode::TOO_MANY_REQUESTS] {
            assert!(is_denied(status, &public, ""), "{status}");
        }
        assert!(
            is_denied(StatusCode::NOT_FOUND, &public, "wards,roads"),
            "one hidden layer is enough"
        );
        assert!(
            !is_denied(StatusCode::NOT_FOUND, &public, "wards"),
            "a granted layer's 404 is no denial"
        );
        assert!(!is_denied(StatusCode::NOT_FOUND, &public, ""), "an unknown route names no layer");
        assert!(!is_denied(StatusCode::NOT_FOUND, &LayerGrant::All, "no_such_layer"));
        assert!(!is_denied(StatusCode::BAD_REQUEST, &public, "roads"));
        assert!(!is_denied(StatusCode::OK, &public, "wards"));
    }
}
