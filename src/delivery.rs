//! What every served file is, whatever makes it: a live vector tile, a tile of a PMTiles archive,
//! a 3D Tiles tileset.json or GLB. Each kind implements [`FileSource`] for one requested file,
//! and the server sends all of them through one response helper, so gzip negotiation, ETags,
//! 304s, 204s for empty tiles and Cache-Control are the same on every route, and a rule applied
//! there (the access policy) applies to all of them.
//!
//! Owns the finished form of a response body ([`Encoded`]) and the trait. Knows nothing of HTTP
//! (the server maps these to headers) and nothing of how tiles or GLBs are made.

use std::sync::Arc;

use bytes::Bytes;

use crate::cache::{gunzip, gzip, GunzipError};
use crate::error::Error;

/// Largest file inflated for a client that does not take gzip: 64 times the budget of a
/// rendered tile and above any GLB bando writes, far below what a gzip bomb would take.
pub const MAX_RAW_BYTES: usize = 32 << 20;

/// A finished file as served: the raw bytes, their gzip form when made, the ETag, and how
/// many features it holds when its maker counted them.
pub struct Encoded {
    pub raw: Bytes,
    pub gzip: Option<Bytes>,
    pub etag: String,
    /// Features in the file (a rendered vector tile); `None` where nobody counted (an archive
    /// tile, a GLB). Kept with a cached tile, so a hit is audited like the miss that made it.
    pub features: Option<u64>,
}

impl Encoded {
    /// Nothing to send (a tile with no features: 204).
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty() && self.gzip.is_none()
    }

    /// A file kept gzipped (a PMTiles archive, the 3D cache); the raw form is made only if needed,
    /// and refused past [`MAX_RAW_BYTES`].
    pub fn from_gzip(gzipped: Bytes, etag: String, need_raw: bool) -> Result<Encoded, GunzipError> {
        let raw = if need_raw {
            Bytes::from(gunzip(&gzipped, MAX_RAW_BYTES)?)
        } else {
            Bytes::new()
        };
        Ok(Encoded {
            raw,
            gzip: Some(gzipped),
            etag,
            features: None,
        })
    }

    /// Wraps freshly made bytes; `level` is the gzip level (None: no gzip form).
    pub fn new(raw: Vec<u8>, etag: String, level: Option<u32>) -> Encoded {
        let gzip = level.filter(|_| !raw.is_empty()).map(|l| Bytes::from(gzip(&raw, l)));
        Encoded {
            raw: Bytes::from(raw),
            gzip,
            etag,
            features: None,
        }
    }

    /// The same file, known to hold `features` features.
    pub fn with_features(self, features: u64) -> Encoded {
        Encoded {
            features: Some(features),
            ..self
        }
    }

    /// Bytes it holds, for cache budgets.
    pub fn weight(&self) -> u32 {
        (self.raw.len() + self.gzip.as_ref().map_or(0, Bytes::len) + self.etag.len() + 96).min(u32::MAX as usize) as u32
    }
}

/// How long clients and proxies may keep a file without asking again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// Tiles of live layers (`crate::live`): positions move every second, so a second.
    Second,
    /// Tiles and 3D files: data can be re-imported at any time, so a minute.
    Minute,
    /// Files that change only with a new bando (fonts).
    Day,
}

/// One requested file of some source. `cached` and `etag` are cheap (the server calls them on
/// an async thread); `produce` may render, read disk or compress, so the server calls it on a
/// blocking thread.
pub trait FileSource: Send + 'static {
    /// The media type of the file.
    fn media_type(&self) -> &'static str;

    fn freshness(&self) -> Freshness {
        Freshness::Minute
    }

    /// The finished file if a cache holds it; `want_gzip` says which form the client takes.
    fn cached(&self, want_gzip: bool) -> Option<Arc<Encoded>>;

    /// The file's ETag when it is known without producing the file (a 304 then costs nothing).
    fn etag(&self) -> Option<String>;

    /// Makes or reads the file. `want_gzip`: whether the client takes gzip (a source may make
    /// both forms anyway, to cache them).
    fn produce(self, want_gzip: bool) -> Result<Arc<Encoded>, Error>;
}
