//! Writing an archive for `bando export pmtiles`: tiles in tile-id order into a side file, identical
//! tiles stored once, then header, directories (leaves only when the root would not fit in
//! 16 KiB) and metadata, written beside the target and renamed over it.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::format::{serialize_directory, Entry, Extent, Header, COMPRESSION_GZIP, HEADER_LEN, TILE_TYPE_MVT};
use super::{tile_id, TileError, TileId};
use crate::cache::gzip;

/// The root directory must fit in the first 16 KiB together with the header.
const ROOT_MAX: usize = 16384 - HEADER_LEN;

fn io_error(path: &Path, e: std::io::Error) -> TileError {
    TileError::Io {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

/// Writes an archive: tiles are added in increasing tile-id order, then [`PmtilesWriter::finish`].
pub struct PmtilesWriter {
    path: PathBuf,
    data_path: PathBuf,
    data: BufWriter<File>,
    written: u64,
    entries: Vec<Entry>,
    by_hash: HashMap<[u8; 32], (u64, u32)>,
    addressed: u64,
}

impl PmtilesWriter {
    pub fn create(path: &Path) -> Result<PmtilesWriter, TileError> {
        let data_path = path.with_extension("pmtiles.data.tmp");
        let file = File::create(&data_path).map_err(|e| io_error(&data_path, e))?;
        Ok(PmtilesWriter {
            path: path.to_path_buf(),
            data_path,
            data: BufWriter::new(file),
            written: 0,
            entries: Vec::new(),
            by_hash: HashMap::new(),
            addressed: 0,
        })
    }

    /// Adds one gzipped tile. Tiles must come in increasing [`tile_id`] order.
    pub fn add(&mut self, tile: TileId, gzipped: &[u8]) -> Result<(), TileError> {
        let id = tile_id(tile);
        if self.entries.last().is_some_and(|last| id < last.tile_id + last.run_length as u64) {
            return Err(TileError::BadTile(format!("tile {tile} added out of order")));
        }
        self.addressed += 1;
        let hash: [u8; 32] = Sha256::digest(gzipped).into();
        if let Some(&(offset, length)) = self.by_hash.get(&hash) {
            if let Some(last) = self.entries.last_mut() {
                if last.offset == offset && last.tile_id + last.run_length as u64 == id {
                    last.run_length += 1;
                    return Ok(());
                }
            }
            self.entries.push(Entry {
                tile_id: id,
                offset,
                length,
                run_length: 1,
            });
            return Ok(());
        }
        self.data.write_all(gzipped).map_err(|e| io_error(&self.data_path, e))?;
        let entry = Entry {
            tile_id: id,
            offset: self.written,
            length: gzipped.len() as u32,
            run_length: 1,
        };
        self.by_hash.insert(hash, (entry.offset, entry.length));
        self.written += gzipped.len() as u64;
        self.entries.push(entry);
        Ok(())
    }

    /// Root and leaf directories: leaves only when the root alone would not fit in 16 KiB.
    fn directories(&self) -> (Vec<u8>, Vec<u8>) {
        let root = gzip(&serialize_directory(&self.entries), 6);
        if root.len() <= ROOT_MAX {
            return (root, Vec::new());
        }
        let mut leaf_size = 4096;
        loop {
            let (mut leaves, mut pointers) = (Vec::new(), Vec::new());
            for chunk in self.entries.chunks(leaf_size) {
                let bytes = gzip(&serialize_directory(chunk), 6);
                pointers.push(Entry {
                    tile_id: chunk[0].tile_id,
                    offset: leaves.len() as u64,
                    length: bytes.len() as u32,
                    run_length: 0,
                });
                leaves.extend_from_slice(&bytes);
            }
            let root = gzip(&serialize_directory(&pointers), 6);
            if root.len() <= ROOT_MAX {
                return (root, leaves);
            }
            leaf_size *= 2;
        }
    }

    /// Writes header, directories and metadata, then the tile data; returns (tiles addressed, bytes).
    pub fn finish(mut self, extent: Extent, metadata: &serde_json::Value) -> Result<(u64, u64), TileError> {
        self.data.flush().map_err(|e| io_error(&self.data_path, e))?;
        let (root, leaves) = self.directories();
        let metadata = gzip(metadata.to_string().as_bytes(), 6);
        let root_at = HEADER_LEN as u64;
        let metadata_at = root_at + root.len() as u64;
        let leaves_at = metadata_at + metadata.len() as u64;
        let data_at = leaves_at + leaves.len() as u64;
        let header = Header {
            root: (root_at, root.len() as u64),
            metadata: (metadata_at, metadata.len() as u64),
            leaves: (leaves_at, leaves.len() as u64),
            data: (data_at, self.written),
            counts: [self.addressed, self.entries.len() as u64, self.by_hash.len() as u64],
            internal_compression: COMPRESSION_GZIP,
            tile_compression: COMPRESSION_GZIP,
            tile_type: TILE_TYPE_MVT,
            extent,
        };
        // Written beside the target and renamed over it: a server serving the old archive keeps
        // reading the old file, and never sees a half-written one.
        let partial = self.path.with_extension("pmtiles.partial");
        let mut out = BufWriter::new(File::create(&partial).map_err(|e| io_error(&partial, e))?);
        for part in [&header.to_bytes()[..], &root, &metadata, &leaves] {
            out.write_all(part).map_err(|e| io_error(&partial, e))?;
        }
        let mut data = File::open(&self.data_path).map_err(|e| io_error(&self.data_path, e))?;
        std::io::copy(&mut data, &mut out).map_err(|e| io_error(&partial, e))?;
        out.flush().map_err(|e| io_error(&partial, e))?;
        std::fs::rename(&partial, &self.path).map_err(|e| io_error(&self.path, e))?;
        let _ = std::fs::remove_file(&self.data_path);
        Ok((self.addressed, data_at + self.written))
    }
}
