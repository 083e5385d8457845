//! Writes a whole tileset to a folder for static hosting: `tileset.json` and `tiles/{id}.glb`,
//! the same bytes the server sends. With gzip the files keep their names and hold gzip data (the
//! host must send `Content-Encoding: gzip`). Tiles are made in parallel (rayon) with a progress
//! bar on stderr.

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::{City3d, City3dError, HeightStats};

#[derive(Debug, Clone, Copy, Default)]
pub struct ExportOptions {
    pub gzip: bool,
    pub progress: bool,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ExportSummary {
    pub tiles: u64,
    pub buildings: u64,
    pub defaulted_height: u64,
    pub height_from_z: u64,
    pub skipped_degenerate: u64,
    /// Uncompressed GLB bytes of all tiles.
    pub glb_bytes: u64,
    pub seconds: f64,
}

fn write_file(path: &Path, bytes: &[u8], gzip: bool) -> Result<(), City3dError> {
    let failed = |e: std::io::Error| City3dError::Write {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    if gzip {
        std::fs::write(path, crate::cache::gzip(bytes, super::GZIP_LEVEL)).map_err(failed)
    } else {
        std::fs::write(path, bytes).map_err(failed)
    }
}

pub fn export_tileset(city: &City3d, out_dir: &Path, options: ExportOptions) -> Result<ExportSummary, City3dError> {
    let started = std::time::Instant::now();
    let tiles_dir: PathBuf = out_dir.join("tiles");
    std::fs::create_dir_all(&tiles_dir).map_err(|e| City3dError::Write {
        path: tiles_dir.display().to_string(),
        reason: e.to_string(),
    })?;
    let tree = city.tree();
    let HeightStats {
        buildings,
        defaulted_height,
        height_from_z,
        skipped_degenerate,
    } = tree.stats;
    let tiles = tree.root.as_ref().map(|r| r.tiles()).unwrap_or_default();
    let bar = if options.progress {
        let bar = indicatif::ProgressBar::new(tiles.len() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} 3D tiles [{bar:40}] {human_pos}/{human_len} {per_sec} eta {eta}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let glb_bytes = tiles
        .par_iter()
        .map(|tile| {
            let bytes = city.node_glb(tile);
            write_file(&tiles_dir.join(format!("{}.glb", tile.id.name())), &bytes, options.gzip)?;
            bar.inc(1);
            Ok(bytes.len() as u64)
        })
        .sum::<Result<u64, City3dError>>()?;
    write_file(
        &out_dir.join("tileset.json"),
        &super::tileset::to_json(&tree, &city.layer().meta.name),
        options.gzip,
    )?;
    bar.finish_and_clear();
    Ok(ExportSummary {
        tiles: tiles.len() as u64,
        buildings,
        defaulted_height,
        height_from_z,
        skipped_degenerate,
        glb_bytes,
        seconds: started.elapsed().as_secs_f64(),
    })
}
