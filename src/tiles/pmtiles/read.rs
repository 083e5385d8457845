//! Serving an archive: tiles are looked up by the `pmtiles` crate (stadiamaps/pmtiles-rs: its
//! reader, with a moka cache of leaf directories under one byte budget for every archive) over
//! the archive's bytes, memory-mapped. `benches/pmtiles_read.rs` shows why the crate: 1.7-2.9x
//! faster per lookup than the positioned reads bando had.
//!
//! The crate inflates directories without a cap and trusts their entries, so before it sees an
//! archive [`PmtilesArchive::from_bytes`] walks every directory once with bando's own bounded
//! parser: each must inflate under [`MAX_INFLATED`], nest at most [`MAX_LEAF_DEPTH`] deep, and
//! every entry must lie inside its section. An archive that passes gives the crate nothing to
//! trip on; one that fails is refused with a [`PmtilesError`] naming the damage.

use std::fs::File;
use std::path::Path;

use bytes::Bytes;
use pmtiles::{AsyncBackend, AsyncPmTilesReader, BackendResponse, MokaCache, PmtError, PmtResult, SharedMokaCache};

use super::format::{deserialize_directory, Entry, Extent, Header, Section, COMPRESSION_GZIP, HEADER_LEN};
use super::{tile_id, PmtilesError, TileError, TileId};
use crate::cache::gunzip;

/// Largest read of one directory or tile: an archive cannot make the server allocate more.
const MAX_READ: u64 = 64 << 20;
/// Largest inflated directory or metadata: four million entries, far more than a leaf holds.
const MAX_INFLATED: usize = 16 << 20;
/// Leaf directories below the root; the spec's writers use one level.
const MAX_LEAF_DEPTH: usize = 3;

/// An archive's bytes: a file memory-mapped, or bytes in memory (tests, the fuzzer).
#[derive(Clone)]
pub struct ArchiveBytes(Bytes);

impl ArchiveBytes {
    /// Maps the file. An archive must be replaced by renaming a new file over it (as
    /// `bando export pmtiles` does), never rewritten in place: the mapping keeps the old file.
    pub fn map(file: &File) -> std::io::Result<ArchiveBytes> {
        // SAFETY: the mapping is read-only and private to this process. It stays valid while
        // the archive's file is renamed over or deleted (the inode lives on); only truncating
        // the very file in place would break it, which is the documented way not to update one.
        let map = unsafe { memmap2::Mmap::map(file)? };
        Ok(ArchiveBytes(Bytes::from_owner(map)))
    }

    pub fn from_vec(bytes: Vec<u8>) -> ArchiveBytes {
        ArchiveBytes(Bytes::from(bytes))
    }

    fn len(&self) -> u64 {
        self.0.len() as u64
    }

    /// `length` bytes at `offset`, once they are known to lie inside the archive (zero-copy).
    fn section(&self, what: &'static str, (offset, length): Section) -> Result<Bytes, PmtilesError> {
        let out_of_bounds = || PmtilesError::OutOfBounds {
            what,
            offset,
            length,
            size: self.len(),
        };
        if length > MAX_READ {
            return Err(PmtilesError::TooLarge { what, length });
        }
        let start = usize::try_from(offset).map_err(|_| out_of_bounds())?;
        let end = usize::try_from(length)
            .ok()
            .and_then(|length| start.checked_add(length))
            .filter(|&end| end <= self.0.len())
            .ok_or_else(out_of_bounds)?;
        Ok(self.0.slice(start..end))
    }
}

impl AsyncBackend for ArchiveBytes {
    /// Ready at once: the bytes are mapped, so the crate's futures never wait.
    async fn read(&self, offset: u64, length: usize) -> PmtResult<BackendResponse> {
        let start = usize::try_from(offset).map_err(|_| PmtError::InvalidEntry)?;
        let bytes = self.0.get(start..).ok_or(PmtError::InvalidEntry)?;
        let taken = bytes.len().min(length);
        Ok(BackendResponse {
            bytes: self.0.slice(start..start.saturating_add(taken)),
            data_version_string: None,
        })
    }
}

/// The leaf-directory cache every archive's reader shares: one byte budget, 0 = off.
#[derive(Clone)]
pub struct DirectoryCache(SharedMokaCache);

impl DirectoryCache {
    pub fn new(budget_bytes: u64) -> DirectoryCache {
        DirectoryCache(SharedMokaCache::with_max_bytes(budget_bytes))
    }
}

/// An archive opened for serving: header and metadata read once, tiles found by the crate.
pub struct PmtilesArchive {
    pub name: String,
    header: Header,
    reader: AsyncPmTilesReader<ArchiveBytes, MokaCache>,
    pub metadata: serde_json::Value,
    /// Changes when the file is replaced; part of every tile's ETag.
    pub version: String,
}

impl PmtilesArchive {
    pub fn open(path: &Path, cache: &DirectoryCache) -> Result<PmtilesArchive, TileError> {
        let io_error = |e: std::io::Error| TileError::Io {
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        let file = File::open(path).map_err(io_error)?;
        let meta = file.metadata().map_err(io_error)?;
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("archive");
        let bytes = ArchiveBytes::map(&file).map_err(io_error)?;
        PmtilesArchive::from_bytes(name, bytes, format!("{:x}-{mtime:x}", meta.len()), cache)
    }

    /// Opens an archive from its bytes; `version` goes into every tile's ETag.
    pub fn from_bytes(name: &str, bytes: ArchiveBytes, version: String, cache: &DirectoryCache) -> Result<PmtilesArchive, TileError> {
        let damaged = |source| TileError::BadArchive {
            name: name.to_string(),
            source,
        };
        let head = bytes
            .section("header", (0, HEADER_LEN as u64))
            .map_err(|_| damaged(PmtilesError::NotPmtiles))?;
        let header = Header::parse(&head, bytes.len()).map_err(damaged)?;
        let walk = ArchiveWalk {
            bytes: &bytes,
            header: &header,
        };
        walk.check_directory(header.root, 0).map_err(damaged)?;
        let metadata = walk.internal("metadata", header.metadata).map_err(damaged)?;
        let reader = pollster::block_on(AsyncPmTilesReader::try_from_cached_source(bytes, cache.0.new_cache()))
            .map_err(|e| damaged(PmtilesError::Crate(e)))?;
        Ok(PmtilesArchive {
            name: name.to_string(),
            header,
            reader,
            metadata: serde_json::from_slice(&metadata).unwrap_or(serde_json::Value::Null),
            version,
        })
    }

    pub fn extent(&self) -> Extent {
        self.header.extent
    }

    /// Whether stored tiles are gzip-compressed (else uncompressed).
    pub fn tiles_gzipped(&self) -> bool {
        self.header.tile_compression == COMPRESSION_GZIP
    }

    /// The tile as stored (see [`Self::tiles_gzipped`]), or None when the archive has none there.
    pub fn get(&self, tile: TileId) -> Result<Option<Bytes>, TileError> {
        let damaged = |source| TileError::BadArchive {
            name: self.name.clone(),
            source,
        };
        let id = pmtiles::TileId::new(tile_id(tile)).map_err(|e| damaged(PmtilesError::Crate(e)))?;
        pollster::block_on(self.reader.get_tile(id)).map_err(|e| damaged(PmtilesError::Crate(e)))
    }
}

/// The check an archive passes before the crate reads it (see the module doc).
struct ArchiveWalk<'a> {
    bytes: &'a ArchiveBytes,
    header: &'a Header,
}

impl ArchiveWalk<'_> {
    /// A directory or the metadata, inflated under the cap when the archive gzips them.
    fn internal(&self, what: &'static str, section: Section) -> Result<Vec<u8>, PmtilesError> {
        let raw = self.bytes.section(what, section)?;
        if self.header.internal_compression == COMPRESSION_GZIP {
            gunzip(&raw, MAX_INFLATED).map_err(|source| PmtilesError::Inflate { what, source })
        } else {
            Ok(raw.to_vec())
        }
    }

    /// Every entry of the directory at `section`, and of each leaf below it, inside its section.
    fn check_directory(&self, section: Section, depth: usize) -> Result<(), PmtilesError> {
        if depth > MAX_LEAF_DEPTH {
            return Err(PmtilesError::TooDeep);
        }
        let entries = deserialize_directory(&self.internal("directory", section)?)?;
        for e in entries {
            if e.run_length == 0 {
                self.check_directory(within("leaf directory", self.header.leaves, e)?, depth.saturating_add(1))?;
            } else {
                within("tile", self.header.data, e)?;
            }
        }
        Ok(())
    }
}

/// Where in the file the bytes an entry points at are, checked to lie inside their section.
#[deny(clippy::arithmetic_side_effects)]
fn within(what: &'static str, (start, length): Section, e: Entry) -> Result<Section, PmtilesError> {
    let entry_length = u64::from(e.length);
    match (e.offset.checked_add(entry_length), start.checked_add(e.offset)) {
        (Some(end), Some(at)) if end <= length => Ok((at, entry_length)),
        _ => Err(PmtilesError::OutOfBounds {
            what,
            offset: e.offset,
            length: entry_length,
            size: length,
        }),
    }
}
