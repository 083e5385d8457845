//! Spatial queries over the in-memory layers: by point, radius, boundary (a drawn polygon or an
//! administrative unit), box and nearest; statistics per administrative unit; and scenario
//! indicators against their targets. Distances are metres on the WGS84 ellipsoid ([`geodesy`]);
//! topological predicates are planar in lon/lat, like PostGIS `geometry` and GEOS.
//!
//! Owns: parameter checking, the query algorithms (always through the layers' R-trees), result
//! order and paging, and writing answers as GeoJSON, CSV or JSON bytes. Does not know HTTP (the
//! server hands it parameters and a body and gets bytes back), does not read the store, and does
//! not change scenarios: it reads their indicators.

pub mod geodesy;
mod indicators;
mod input;
pub(crate) mod output;
mod params;
pub(crate) mod region;
mod search;
pub(crate) mod stats;

use std::sync::Arc;

use crate::index::{Catalog, LayerData};
use crate::policy::View;
use crate::scenarios::Scenarios;

pub use input::parse_polygon;
pub use output::Format;
pub use params::Params;
pub use region::{Position, Region, Relation};
pub use search::{bbox_hits, boundary_hits, nearest_hits, point_hits, radius_hits, Hit, Matches, Predicate};
pub use stats::{members_in_units, tally_per_unit, UnitTally};

/// Most results one page may hold, and the page size when none is asked for.
pub const MAX_LIMIT: usize = 10_000;
pub const DEFAULT_LIMIT: usize = 1_000;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// A parameter that is missing, malformed or out of range; the message names it.
    #[error("{0}")]
    BadParameter(String),
    #[error("no layer named '{0}'; GET /layers lists the layers")]
    UnknownLayer(String),
    #[error("layer '{layer}' has no unit with code '{code}'")]
    UnknownUnit { layer: String, code: String },
    #[error("invalid query polygon: {0}")]
    InvalidGeometry(String),
    #[error("the query polygon has more than {max} vertices; simplify it or split the query")]
    TooManyVertices { max: usize },
    /// Checking the polygon for self-intersections would take more work than any real polygon
    /// needs (its edges' extents overlap each other en masse).
    #[error(
        "the query polygon is too intricate to check (more than {max_tests} edge tests for {edges} edges); simplify it or split the query"
    )]
    TooComplex { edges: usize, max_tests: usize },
}

/// Bounds on the work one request may ask for.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest radius (m) for `/query/radius` and the `tolerance_m` of point queries.
    pub max_radius_m: f64,
    /// Largest query polygon, in vertices.
    pub max_vertices: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_radius_m: 50_000.0,
            max_vertices: 100_000,
        }
    }
}

/// What a query reads: layers, scenarios, limits, and what the request may see of them (a layer
/// outside the view is unknown, a hidden field is neither written nor accepted as a parameter).
pub struct Context<'a> {
    pub catalog: &'a Catalog,
    pub scenarios: &'a Scenarios,
    pub limits: Limits,
    pub view: &'a View,
}

/// The operations a client can ask for.
pub enum Operation<'a> {
    Point,
    Radius,
    Bbox,
    Nearest,
    /// A drawn polygon in the body, or `admin=<layer>:<code>` in the parameters.
    Boundary {
        body: Option<&'a [u8]>,
    },
    Stats,
    Indicators {
        scenario: &'a str,
    },
}

/// An answer ready to send: its media type, bytes and, for a search, the number of features
/// it holds (for the audit record; figures per unit are not features, so `None`).
pub struct Answer {
    pub content_type: &'static str,
    pub body: Vec<u8>,
    pub features: Option<u64>,
}

/// Runs one operation. CPU-bound: call it off the async runtime's threads.
pub fn run(ctx: &Context, operation: Operation, params: &Params) -> crate::Result<Answer> {
    match operation {
        Operation::Point => search::point(ctx, params),
        Operation::Radius => search::radius(ctx, params),
        Operation::Bbox => search::bbox(ctx, params),
        Operation::Nearest => search::nearest(ctx, params),
        Operation::Boundary { body } => search::boundary(ctx, params, body),
        Operation::Stats => stats::stats(ctx, params),
        Operation::Indicators { scenario } => indicators::indicators(ctx, scenario, params),
    }
}

/// Looks a layer up by name as the view sees it (an aggregate-only layer as its figures per
/// unit); one outside the view is unknown.
fn layer(ctx: &Context, name: &str) -> Result<Arc<LayerData>, QueryError> {
    ctx.view
        .layer(ctx.catalog, name)
        .ok_or_else(|| QueryError::UnknownLayer(name.to_string()))
}

/// A layer whose features statistics and indicators count: the store's layer (one outside the
/// view is unknown) and, when the view gets it only as figures, the least count a figure may
/// show (smaller ones are suppressed, as the figures layer leaves their units out).
fn counted_layer(ctx: &Context, name: &str) -> Result<(Arc<LayerData>, Option<u32>), QueryError> {
    let data = ctx
        .catalog
        .get(name)
        .filter(|_| ctx.view.may_read(name))
        .ok_or_else(|| QueryError::UnknownLayer(name.to_string()))?;
    Ok((data, ctx.view.aggregate(name).map(|a| a.min_count)))
}

/// The unit `<admin layer>:<code>` as the view sees it: its layer and the index of the feature
/// whose `code` field equals `code`.
pub fn admin_feature(ctx: &Context, spec: &str) -> Result<(Arc<LayerData>, usize), QueryError> {
    let (layer_name, code) = spec
        .split_once(':')
        .ok_or_else(|| QueryError::BadParameter(format!("'{spec}' is not <admin layer>:<code>, e.g. wards:19900")))?;
    let data = layer(ctx, layer_name)?;
    let field = ctx.view.field_index(&data.meta, "code").ok_or_else(|| {
        QueryError::BadParameter(format!(
            "layer '{layer_name}' has no 'code' field, so it cannot name administrative units"
        ))
    })?;
    // Admin layers hold tens to thousands of units and no index on codes; one pass is cheap.
    let index = data
        .features
        .iter()
        .position(|f| f.properties[field].to_string() == code)
        .ok_or_else(|| QueryError::UnknownUnit {
            layer: layer_name.to_string(),
            code: code.to_string(),
        })?;
    Ok((data, index))
}

/// The feature of an administrative layer whose `code` field equals `code`, as a region.
fn admin_unit(ctx: &Context, spec: &str) -> Result<Region, QueryError> {
    let (data, index) = admin_feature(ctx, spec)?;
    let unknown = || QueryError::UnknownUnit {
        layer: data.meta.name.clone(),
        code: spec.split_once(':').map_or("", |(_, c)| c).to_string(),
    };
    let shape = stats::polygons_of(&data.features[index].geometry)
        .ok_or_else(|| QueryError::BadParameter(format!("unit '{spec}' is not a polygon, so it cannot bound a query")))?;
    Region::new(shape).ok_or_else(unknown)
}
