//! The files of the 2D map as [`FileSource`]s: a live tile of a layer list or scenario (rendered
//! from the in-memory index, cached by [`TileService`]), a tile of a PMTiles archive (read by
//! range from the file) and a range of label glyphs. The server answers them, and 3D files, with
//! one response helper.
//!
//! Owns only the mapping to the trait; rendering is `render`, the archive format `pmtiles`.

use std::sync::Arc;

use super::pmtiles::{self, PmtilesArchive};
use super::{TileError, TileId, TileService, TileSource};
use crate::delivery::{Encoded, FileSource, Freshness};
use crate::error::Error;

pub const MVT_TYPE: &str = "application/vnd.mapbox-vector-tile";

/// One tile of a layer list or a scenario.
pub struct LiveTile {
    pub service: Arc<TileService>,
    pub source: Arc<TileSource>,
    pub tile: TileId,
}

impl FileSource for LiveTile {
    fn media_type(&self) -> &'static str {
        MVT_TYPE
    }

    fn freshness(&self) -> Freshness {
        if self.source.live {
            Freshness::Second
        } else {
            Freshness::Minute
        }
    }

    fn cached(&self, _want_gzip: bool) -> Option<Arc<Encoded>> {
        self.service.cached(&self.source, self.tile)
    }

    fn etag(&self) -> Option<String> {
        Some(self.source.etag(self.tile))
    }

    fn produce(self, want_gzip: bool) -> Result<Arc<Encoded>, Error> {
        Ok(self.service.tile(&self.source, self.tile, want_gzip))
    }
}

/// One tile of a PMTiles archive.
pub struct ArchiveTile {
    pub archive: Arc<PmtilesArchive>,
    pub tile: TileId,
}

impl FileSource for ArchiveTile {
    fn media_type(&self) -> &'static str {
        MVT_TYPE
    }

    fn cached(&self, _want_gzip: bool) -> Option<Arc<Encoded>> {
        None
    }

    /// The archive's version (its file's modification time) and the tile: a replaced archive
    /// changes every ETag.
    fn etag(&self) -> Option<String> {
        Some(format!("\"{}-{}\"", self.archive.version, pmtiles::tile_id(self.tile)))
    }

    fn produce(self, want_gzip: bool) -> Result<Arc<Encoded>, Error> {
        let etag = self.etag().unwrap_or_default();
        let archive = &self.archive;
        let damaged = |source| TileError::BadArchive {
            name: archive.name.clone(),
            source: pmtiles::PmtilesError::Inflate { what: "tile", source },
        };
        let encoded = match archive.get(self.tile)? {
            None => Encoded::new(Vec::new(), etag, None),
            Some(stored) if archive.tiles_gzipped() => Encoded::from_gzip(stored, etag, !want_gzip).map_err(damaged)?,
            Some(stored) => Encoded::new(stored.to_vec(), etag, None),
        };
        Ok(Arc::new(encoded))
    }
}

/// One range of SDF glyphs of a font stack (`/fonts/{fontstack}/{range}.pbf`). Glyphs change only
/// with the installed fonts, so clients keep them for a day; there is no ETag.
pub struct GlyphRange {
    pub service: Arc<TileService>,
    pub fontstack: String,
    pub range: String,
}

impl FileSource for GlyphRange {
    fn media_type(&self) -> &'static str {
        "application/x-protobuf"
    }

    fn freshness(&self) -> Freshness {
        Freshness::Day
    }

    fn cached(&self, _want_gzip: bool) -> Option<Arc<Encoded>> {
        None
    }

    fn etag(&self) -> Option<String> {
        None
    }

    fn produce(self, _want_gzip: bool) -> Result<Arc<Encoded>, Error> {
        let raw = self.service.glyphs.range(&self.fontstack, &self.range)?;
        Ok(Arc::new(Encoded {
            raw,
            gzip: None,
            etag: String::new(),
            features: None,
        }))
    }
}
