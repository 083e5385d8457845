//! A raster tile of a scenario's style as a [`FileSource`]: 256 or 512 CSS pixels, at a pixel
//! ratio (`@2x`), as PNG, JPEG or WebP. Its cache key and ETag name the style file's digest and
//! every source's key (the layers' import ids, the fields and area a view carries), so a
//! re-import or a style edit changes them, and [`Renderer::forget_layers`] drops the stale
//! tiles with the vector tiles they were drawn from.
//!
//! Owns the mapping of a raster tile request to the trait. Drawing is the renderer's.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use super::canvas::Frame;
use super::encode::{encode, Format};
use super::{picture_key, LoadedStyle, Renderer, Sources};
use crate::delivery::{Encoded, FileSource};
use crate::error::Error;
use crate::tiles::TileId;

/// What a raster tile request asks for besides the tile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TileFormat {
    /// CSS pixels across: 256 or 512.
    pub size: u32,
    /// Device pixels per CSS pixel: 1 or 2 (`@2x`).
    pub ratio: u32,
    pub format: Format,
}

/// One raster tile of a style for one request's view.
pub struct RasterTile {
    pub renderer: Arc<Renderer>,
    pub style: Arc<LoadedStyle>,
    pub sources: Sources,
    pub tile: TileId,
    pub format: TileFormat,
    key: Arc<str>,
}

impl RasterTile {
    pub fn new(renderer: Arc<Renderer>, style: Arc<LoadedStyle>, sources: Sources, tile: TileId, format: TileFormat) -> RasterTile {
        let f = format;
        let key = format!("R{}x{}.{}|{}", f.size, f.ratio, f.format.extension(), picture_key(&style, &sources)).into();
        RasterTile {
            renderer,
            style,
            sources,
            tile,
            format,
            key,
        }
    }
}

impl FileSource for RasterTile {
    fn media_type(&self) -> &'static str {
        self.format.format.media_type()
    }

    fn cached(&self, _want_gzip: bool) -> Option<Arc<Encoded>> {
        self.renderer.cache.get(&self.key, self.tile)
    }

    fn etag(&self) -> Option<String> {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        (env!("CARGO_PKG_VERSION"), &*self.key, self.tile).hash(&mut hasher);
        Some(format!("\"{:016x}\"", hasher.finish()))
    }

    fn produce(self, _want_gzip: bool) -> Result<Arc<Encoded>, Error> {
        let frame = Frame::for_tile(self.tile, self.format.size, self.format.ratio as f32);
        let (picture, _) = self.renderer.draw(&self.style.style, &self.sources, &frame)?;
        let bytes = encode(&picture, self.format.format)?;
        // Image formats are compressed already: no gzip form.
        let encoded = Arc::new(Encoded::new(bytes, self.etag().unwrap_or_default(), None));
        self.renderer.cache.insert(&self.key, self.tile, encoded.clone());
        Ok(encoded)
    }
}
