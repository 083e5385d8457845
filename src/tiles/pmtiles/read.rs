//! Serving an archive: header and root directory read once, leaf directories and tiles read by
//! range on demand. Every section, leaf and tile named by the archive is checked to lie inside
//! the archive (and inside its section) before it is read, and inflating is capped.

use std::borrow::Cow;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::format::{deserialize_directory, Entry, Extent, Header, Section, COMPRESSION_GZIP, HEADER_LEN};
use super::{tile_id, PmtilesError, TileError, TileId};
use crate::cache::gunzip;

/// Largest read of one directory or tile: an archive cannot make the server allocate more.
const MAX_READ: u64 = 64 << 20;
/// Largest inflated directory or metadata: four million entries, far more than a leaf holds.
const MAX_INFLATED: usize = 16 << 20;
/// Leaf directories below the root; the spec's writers use one level.
const MAX_LEAF_DEPTH: usize = 3;

/// Where an archive's bytes come from: its file, read by range, or bytes in memory.
pub trait ArchiveBytes: Send + Sync {
    fn size(&self) -> u64;
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()>;
}

struct FileBytes {
    file: File,
    size: u64,
}

impl ArchiveBytes for FileBytes {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
        self.file.read_exact_at(buf, offset)
    }
}

impl ArchiveBytes for Vec<u8> {
    fn size(&self) -> u64 {
        self.len() as u64
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
        let bytes = usize::try_from(offset)
            .ok()
            .and_then(|start| self.get(start..))
            .and_then(|rest| rest.get(..buf.len()))
            .ok_or(std::io::ErrorKind::UnexpectedEof)?;
        buf.copy_from_slice(bytes);
        Ok(())
    }
}

/// An archive opened for serving: header and root directory in memory, the rest read on demand.
pub struct PmtilesArchive {
    pub name: String,
    bytes: Box<dyn ArchiveBytes>,
    header: Header,
    root: Vec<Entry>,
    pub metadata: serde_json::Value,
    /// Changes when the file is replaced; part of every tile's ETag.
    pub version: String,
}

impl PmtilesArchive {
    pub fn open(path: &Path) -> Result<PmtilesArchive, TileError> {
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
        let bytes = FileBytes { file, size: meta.len() };
        PmtilesArchive::from_bytes(name, Box::new(bytes), format!("{:x}-{mtime:x}", meta.len()))
    }

    /// Opens an archive from any byte source; `version` goes into every tile's ETag.
    pub fn from_bytes(name: &str, bytes: Box<dyn ArchiveBytes>, version: String) -> Result<PmtilesArchive, TileError> {
        let damaged = |source| TileError::BadArchive {
            name: name.to_string(),
            source,
        };
        let mut head = vec![0u8; HEADER_LEN];
        if bytes.size() < HEADER_LEN as u64 {
            return Err(damaged(PmtilesError::NotPmtiles));
        }
        bytes.read_exact_at(&mut head, 0).map_err(|e| damaged(PmtilesError::Read(e)))?;
        let header = Header::parse(&head, bytes.size()).map_err(damaged)?;
        let mut archive = PmtilesArchive {
            name: name.to_string(),
            bytes,
            root: Vec::new(),
            metadata: serde_json::Value::Null,
            version,
            header,
        };
        archive.root = archive.directory(archive.header.root).map_err(damaged)?;
        let metadata = archive.read_internal("metadata", archive.header.metadata).map_err(damaged)?;
        archive.metadata = serde_json::from_slice(&metadata).unwrap_or(serde_json::Value::Null);
        Ok(archive)
    }

    /// Reads `length` bytes at `offset` of the file, once they are known to lie inside it.
    fn read_at(&self, what: &'static str, (offset, length): Section) -> Result<Vec<u8>, PmtilesError> {
        let size = self.bytes.size();
        let out_of_bounds = PmtilesError::OutOfBounds {
            what,
            offset,
            length,
            size,
        };
        if offset.checked_add(length).is_none_or(|end| end > size) {
            return Err(out_of_bounds);
        }
        if length > MAX_READ {
            return Err(PmtilesError::TooLarge { what, length });
        }
        let mut buf = vec![0u8; usize::try_from(length).map_err(|_| out_of_bounds)?];
        self.bytes.read_exact_at(&mut buf, offset).map_err(PmtilesError::Read)?;
        Ok(buf)
    }

    fn read_internal(&self, what: &'static str, section: Section) -> Result<Vec<u8>, PmtilesError> {
        let raw = self.read_at(what, section)?;
        if self.header.internal_compression == COMPRESSION_GZIP {
            gunzip(&raw, MAX_INFLATED).map_err(|source| PmtilesError::Inflate { what, source })
        } else {
            Ok(raw)
        }
    }

    fn directory(&self, section: Section) -> Result<Vec<Entry>, PmtilesError> {
        deserialize_directory(&self.read_internal("directory", section)?)
    }

    pub fn extent(&self) -> Extent {
        self.header.extent
    }

    /// Whether stored tiles are gzip-compressed (else uncompressed).
    pub fn tiles_gzipped(&self) -> bool {
        self.header.tile_compression == COMPRESSION_GZIP
    }

    /// The tile as stored (see [`Self::tiles_gzipped`]), or None when the archive has none there.
    pub fn get(&self, tile: TileId) -> Result<Option<Vec<u8>>, TileError> {
        self.find(tile_id(tile)).map_err(|source| TileError::BadArchive {
            name: self.name.clone(),
            source,
        })
    }

    #[deny(clippy::arithmetic_side_effects)]
    fn find(&self, id: u64) -> Result<Option<Vec<u8>>, PmtilesError> {
        let mut directory = Cow::Borrowed(&self.root);
        for _ in 0..=MAX_LEAF_DEPTH {
            // The last entry at or before `id`.
            let i = match directory.binary_search_by_key(&id, |e| e.tile_id) {
                Ok(i) => i,
                Err(after) => match after.checked_sub(1) {
                    Some(i) => i,
                    None => return Ok(None),
                },
            };
            let Some(&e) = directory.get(i) else { return Ok(None) };
            if e.run_length == 0 {
                let leaf = within("leaf directory", self.header.leaves, e)?;
                directory = Cow::Owned(self.directory(leaf)?);
                continue;
            }
            if id >= e.tile_id.saturating_add(u64::from(e.run_length)) {
                return Ok(None);
            }
            return self.read_at("tile", within("tile", self.header.data, e)?).map(Some);
        }
        Err(PmtilesError::TooDeep)
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
