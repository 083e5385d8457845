//! `bando export pmtiles`: renders every tile of a source over its layers' extent for a zoom
//! range, in parallel (rayon), and writes them in tile-id order into a PMTiles archive with the
//! source's TileJSON as metadata. Empty tiles are left out, as readers expect.
//!
//! Owns the export loop only; rendering is `render`, the format is `pmtiles`.

use std::path::Path;

use rayon::prelude::*;

use crate::cache::gzip;
use crate::feature::Bbox;

use super::math::{TileId, MAX_ZOOM};
use super::pmtiles::{tile_id, Extent, PmtilesWriter};
use super::source::TileSource;
use super::{render, tilejson, TileError, TileService};

/// What an export wrote.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ExportSummary {
    pub tiles_visited: u64,
    pub tiles_written: u64,
    pub bytes: u64,
    pub seconds: f64,
}

/// Tiles rendered between two writes (bounds memory; keeps both cores busy).
const BATCH: usize = 512;

#[allow(clippy::too_many_arguments)]
pub fn export_pmtiles(
    service: &TileService,
    source: &TileSource,
    name: &str,
    description: &str,
    center: Option<[f64; 3]>,
    minzoom: u8,
    maxzoom: u8,
    out: &Path,
    progress: &dyn Fn(u64, u64),
) -> Result<ExportSummary, TileError> {
    if minzoom > maxzoom || maxzoom > MAX_ZOOM {
        return Err(TileError::BadTile(format!(
            "zoom range {minzoom}..{maxzoom} must satisfy minzoom <= maxzoom <= {MAX_ZOOM}"
        )));
    }
    let started = std::time::Instant::now();
    let bounds = source
        .layers
        .iter()
        .filter_map(|l| l.data.meta.bbox)
        .reduce(Bbox::union)
        .ok_or_else(|| TileError::BadLayerList("the layers to export have no features".into()))?;
    let mut tiles: Vec<TileId> = Vec::new();
    for z in minzoom..=maxzoom {
        let (xs, ys) = TileId::covering(&bounds, z);
        for x in xs {
            tiles.extend(ys.clone().map(|y| TileId { z, x, y }));
        }
    }
    tiles.sort_by_key(|t| tile_id(*t));
    let total = tiles.len() as u64;
    let mut writer = PmtilesWriter::create(out)?;
    let mut written = 0u64;
    for (i, batch) in tiles.chunks(BATCH).enumerate() {
        let rendered: Vec<(TileId, Vec<u8>)> = batch
            .par_iter()
            .map(|&t| (t, render::render(source, t, &|layer| service.ladder(layer)).0))
            .filter(|(_, raw)| !raw.is_empty())
            .map(|(t, raw)| (t, gzip(&raw, 6)))
            .collect();
        for (t, gz) in &rendered {
            writer.add(*t, gz)?;
        }
        written += rendered.len() as u64;
        progress(((i * BATCH + batch.len()) as u64).min(total), total);
    }
    let center = center.unwrap_or([
        (bounds.west + bounds.east) / 2.0,
        (bounds.south + bounds.north) / 2.0,
        minzoom as f64,
    ]);
    let extent = Extent {
        minzoom,
        maxzoom,
        bounds: bounds.to_array(),
        center,
    };
    let mut metadata = tilejson::for_source(source, name, description, "", Some(center));
    if let Some(m) = metadata.as_object_mut() {
        m.remove("tiles");
        m.insert(
            "generator".into(),
            serde_json::Value::from(format!("bando {}", env!("CARGO_PKG_VERSION"))),
        );
        m.insert("minzoom".into(), minzoom.into());
        m.insert("maxzoom".into(), maxzoom.into());
    }
    let (_, bytes) = writer.finish(extent, &metadata)?;
    Ok(ExportSummary {
        tiles_visited: total,
        tiles_written: written,
        bytes,
        seconds: started.elapsed().as_secs_f64(),
    })
}
