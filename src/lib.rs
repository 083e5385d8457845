//! bando: a geospatial tile and 3D-city server for a provincial Intelligent Operations Centre.
//!
//! Data flows one way: `import` reads survey files (GDAL), `crs` brings them to WGS84 (PROJ),
//! `store` keeps them in one GeoPackage, `index` holds every layer in memory with an R-tree, and
//! the readers (tiles, 3D tiles, queries) answer from the index. `server` is a thin HTTP layer
//! over them; `demo` makes a synthetic province to try everything on. See docs/ARCHITECTURE.md.

pub mod audit;
pub mod cache;
pub mod city3d;
pub mod config;
pub mod crs;
pub mod delivery;
pub mod demo;
pub mod error;
pub mod feature;
pub mod import;
pub mod index;
pub mod live;
pub mod ogc;
pub mod policy;
pub mod query;
pub mod render;
pub mod scenarios;
pub mod server;
pub mod store;
pub mod tiles;
pub mod watch;

pub use error::{Error, ErrorKind, Result};
