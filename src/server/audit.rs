//! What the audit records of a request, read from its HTTP form: who (the identity the edge put
//! in it), from where (the peer address), the route (method, path and query: `access_token` is
//! already cut out), the layers it names and the area it asks for. The edge completes the record
//! with the status and the number of features the route said it returned ([`mark_returned`]:
//! a response extension) and queues it (`crate::audit::Auditor`). Only requests by an authenticated
//! identity and refused ones are recorded, so anonymous public traffic costs nothing here.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request};
use axum::response::Response;

use crate::audit::{now, AuditEntry, Returned, REQUEST};
use crate::policy::Identity;

/// The record of an authenticated request, without its status; `None` for an anonymous one.
pub fn draft(request: &Request) -> Option<AuditEntry> {
    let identity = request.extensions().get::<Identity>().filter(|i| i.is_authenticated())?;
    let mut entry = base(request);
    entry.identity = identity.name();
    entry.role = identity.role.name.clone();
    if identity.role.scoped && entry.area.is_empty() {
        entry.area = identity.scope().join(",");
    }
    Some(entry)
}

/// Says, for the audit record, that `response` holds `features` features (tiles, query hits,
/// OGC items).
pub fn mark_returned(response: &mut Response, features: u64) {
    response.extensions_mut().insert(Returned(features));
}

/// Completes `entry` with what `response` says: its status and the features it returned (left
/// unknown where the route did not count them).
pub fn complete(entry: &mut AuditEntry, response: &Response) {
    entry.status = i64::from(response.status().as_u16());
    entry.features = response
        .extensions()
        .get::<Returned>()
        .map(|r| i64::try_from(r.0).unwrap_or(i64::MAX));
}

/// The record of a request refused before routing (401, 429): its credential named no one.
pub fn refused(request: &Request, status: u16) -> AuditEntry {
    let mut entry = base(request);
    entry.identity = "refused".into();
    entry.status = i64::from(status);
    entry
}

fn base(request: &Request) -> AuditEntry {
    let uri = request.uri();
    let route = match uri.query() {
        Some(q) => format!("{} {}?{q}", request.method(), uri.path()),
        None => format!("{} {}", request.method(), uri.path()),
    };
    let (layers, area) = names_and_area(uri.path(), uri.query().unwrap_or(""));
    AuditEntry {
        time: now(),
        action: REQUEST.into(),
        client_ip: request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_string())
            .unwrap_or_default(),
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
    }
}
