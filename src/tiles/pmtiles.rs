//! PMTiles v3 archives: writing a clustered archive of gzipped tiles (`bando export pmtiles`)
//! and reading tiles out of one by range reads (serving `*.pmtiles` files) without loading it.
//! Layout written: 127-byte header, root directory, JSON metadata, leaf directories, tile data
//! in Hilbert tile-id order, identical tiles stored once.
//!
//! Owns the PMTiles byte format only; which tiles to write is the caller's business.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::cache::gzip;

use super::math::TileId;
use super::TileError;

const HEADER_LEN: usize = 127;
/// The root directory must fit in the first 16 KiB together with the header.
const ROOT_MAX: usize = 16384 - HEADER_LEN;
const COMPRESSION_GZIP: u8 = 2;
const TILE_TYPE_MVT: u8 = 1;

/// Hilbert tile id: tiles of lower zooms first, then along the Hilbert curve within a zoom.
pub fn tile_id(tile: TileId) -> u64 {
    let z = tile.z as u32;
    let mut acc: u64 = ((1u64 << (2 * z)) - 1) / 3;
    let (mut x, mut y) = (tile.x as u64, tile.y as u64);
    let mut s = if z == 0 { 0 } else { 1u64 << (z - 1) };
    while s > 0 {
        let rx = u64::from(x & s > 0);
        let ry = u64::from(y & s > 0);
        acc += s * s * ((3 * rx) ^ ry);
        if ry == 0 {
            if rx == 1 {
                x = s - 1 - (x & (s - 1));
                y = s - 1 - (y & (s - 1));
            }
            std::mem::swap(&mut x, &mut y);
        }
        s >>= 1;
    }
    acc
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    tile_id: u64,
    offset: u64,
    length: u32,
    /// 0 marks a pointer to a leaf directory.
    run_length: u32,
}

fn put_varint(buf: &mut Vec<u8>, v: u64) {
    super::mvt::put_varint(buf, v);
}

fn read_varint(bytes: &[u8], at: &mut usize) -> Result<u64, TileError> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *bytes.get(*at).ok_or_else(|| corrupt("directory ends inside a number"))?;
        *at += 1;
        v |= ((b & 0x7f) as u64) << shift;
        if b < 0x80 {
            return Ok(v);
        }
    }
    Err(corrupt("number too long in directory"))
}

fn corrupt(reason: &str) -> TileError {
    TileError::BadArchive(reason.to_string())
}

fn serialize_directory(entries: &[Entry]) -> Vec<u8> {
    let mut b = Vec::with_capacity(entries.len() * 6 + 8);
    put_varint(&mut b, entries.len() as u64);
    let mut last = 0;
    for e in entries {
        put_varint(&mut b, e.tile_id - last);
        last = e.tile_id;
    }
    for e in entries {
        put_varint(&mut b, e.run_length as u64);
    }
    for e in entries {
        put_varint(&mut b, e.length as u64);
    }
    for (i, e) in entries.iter().enumerate() {
        let contiguous = i > 0 && e.offset == entries[i - 1].offset + entries[i - 1].length as u64;
        put_varint(&mut b, if contiguous { 0 } else { e.offset + 1 });
    }
    b
}

fn deserialize_directory(bytes: &[u8]) -> Result<Vec<Entry>, TileError> {
    let mut at = 0;
    let n = read_varint(bytes, &mut at)? as usize;
    if n > bytes.len() {
        return Err(corrupt("directory claims more entries than it has bytes"));
    }
    let mut entries = vec![
        Entry {
            tile_id: 0,
            offset: 0,
            length: 0,
            run_length: 0
        };
        n
    ];
    let mut last = 0u64;
    for e in entries.iter_mut() {
        last += read_varint(bytes, &mut at)?;
        e.tile_id = last;
    }
    for e in entries.iter_mut() {
        e.run_length = read_varint(bytes, &mut at)? as u32;
    }
    for e in entries.iter_mut() {
        e.length = read_varint(bytes, &mut at)? as u32;
    }
    for i in 0..n {
        let v = read_varint(bytes, &mut at)?;
        entries[i].offset = if v == 0 && i > 0 {
            entries[i - 1].offset + entries[i - 1].length as u64
        } else {
            v.saturating_sub(1)
        };
    }
    Ok(entries)
}

fn gunzip(bytes: &[u8]) -> Result<Vec<u8>, TileError> {
    crate::cache::gunzip(bytes).map_err(|e| corrupt(&format!("bad gzip: {e}")))
}

/// The archive-wide facts of the header.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Extent {
    pub minzoom: u8,
    pub maxzoom: u8,
    /// west, south, east, north
    pub bounds: [f64; 4],
    /// lon, lat, zoom
    pub center: [f64; 3],
}

#[derive(Debug, Clone)]
struct Header {
    root: (u64, u64),
    metadata: (u64, u64),
    leaves: (u64, u64),
    data: (u64, u64),
    counts: [u64; 3],
    internal_compression: u8,
    tile_compression: u8,
    tile_type: u8,
    extent: Extent,
}

fn e7(v: f64) -> i32 {
    (v * 1e7).round() as i32
}

impl Header {
    fn to_bytes(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(HEADER_LEN);
        b.extend_from_slice(b"PMTiles");
        b.push(3);
        for v in [self.root, self.metadata, self.leaves, self.data]
            .iter()
            .flat_map(|(o, l)| [*o, *l])
        {
            b.extend_from_slice(&v.to_le_bytes());
        }
        for c in self.counts {
            b.extend_from_slice(&c.to_le_bytes());
        }
        b.extend_from_slice(&[
            1,
            self.internal_compression,
            self.tile_compression,
            self.tile_type,
            self.extent.minzoom,
            self.extent.maxzoom,
        ]);
        for v in self.extent.bounds {
            b.extend_from_slice(&e7(v).to_le_bytes());
        }
        b.push(self.extent.center[2].round().clamp(0.0, 255.0) as u8);
        b.extend_from_slice(&e7(self.extent.center[0]).to_le_bytes());
        b.extend_from_slice(&e7(self.extent.center[1]).to_le_bytes());
        b
    }

    fn parse(b: &[u8]) -> Result<Header, TileError> {
        if b.len() < HEADER_LEN || &b[..7] != b"PMTiles" || b[7] != 3 {
            return Err(corrupt("not a PMTiles v3 archive"));
        }
        let u64_at = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap_or([0; 8]));
        let i32_at = |i: usize| i32::from_le_bytes(b[i..i + 4].try_into().unwrap_or([0; 4])) as f64 / 1e7;
        Ok(Header {
            root: (u64_at(8), u64_at(16)),
            metadata: (u64_at(24), u64_at(32)),
            leaves: (u64_at(40), u64_at(48)),
            data: (u64_at(56), u64_at(64)),
            counts: [u64_at(72), u64_at(80), u64_at(88)],
            internal_compression: b[97],
            tile_compression: b[98],
            tile_type: b[99],
            extent: Extent {
                minzoom: b[100],
                maxzoom: b[101],
                bounds: [i32_at(102), i32_at(106), i32_at(110), i32_at(114)],
                center: [i32_at(119), i32_at(123), b[118] as f64],
            },
        })
    }
}

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

/// An archive opened for serving: header and root directory in memory, the rest read on demand.
pub struct PmtilesArchive {
    pub name: String,
    path: PathBuf,
    file: File,
    header: Header,
    root: Vec<Entry>,
    pub metadata: serde_json::Value,
    /// Changes when the file is replaced; part of every tile's ETag.
    pub version: String,
}

impl PmtilesArchive {
    pub fn open(path: &Path) -> Result<PmtilesArchive, TileError> {
        let file = File::open(path).map_err(|e| io_error(path, e))?;
        let mut head = vec![0u8; HEADER_LEN];
        file.read_exact_at(&mut head, 0).map_err(|e| io_error(path, e))?;
        let header = Header::parse(&head)?;
        if header.internal_compression != COMPRESSION_GZIP && header.internal_compression != 1 {
            return Err(corrupt("directories must be gzip-compressed or uncompressed"));
        }
        let mut archive = PmtilesArchive {
            name: path.file_stem().and_then(|s| s.to_str()).unwrap_or("archive").to_string(),
            path: path.to_path_buf(),
            file,
            root: Vec::new(),
            metadata: serde_json::Value::Null,
            version: String::new(),
            header,
        };
        archive.root = deserialize_directory(&archive.read_internal(archive.header.root)?)?;
        let metadata = archive.read_internal(archive.header.metadata)?;
        archive.metadata = serde_json::from_slice(&metadata).unwrap_or(serde_json::Value::Null);
        let meta = std::fs::metadata(path).map_err(|e| io_error(path, e))?;
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        archive.version = format!("{:x}-{:x}", meta.len(), mtime);
        Ok(archive)
    }

    fn read_at(&self, offset: u64, length: u64) -> Result<Vec<u8>, TileError> {
        if length > 64 * 1024 * 1024 {
            return Err(corrupt("a directory or tile over 64 MiB"));
        }
        let mut buf = vec![0u8; length as usize];
        self.file.read_exact_at(&mut buf, offset).map_err(|e| io_error(&self.path, e))?;
        Ok(buf)
    }

    fn read_internal(&self, (offset, length): (u64, u64)) -> Result<Vec<u8>, TileError> {
        let raw = self.read_at(offset, length)?;
        if self.header.internal_compression == COMPRESSION_GZIP {
            gunzip(&raw)
        } else {
            Ok(raw)
        }
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
        let id = tile_id(tile);
        let mut directory = std::borrow::Cow::Borrowed(&self.root);
        for _ in 0..4 {
            let i = match directory.binary_search_by_key(&id, |e| e.tile_id) {
                Ok(i) => i,
                Err(0) => return Ok(None),
                Err(i) => i - 1,
            };
            let e = directory[i];
            if e.run_length == 0 {
                let leaf = self.read_internal((self.header.leaves.0 + e.offset, e.length as u64))?;
                directory = std::borrow::Cow::Owned(deserialize_directory(&leaf)?);
                continue;
            }
            if id < e.tile_id + e.run_length as u64 {
                return self.read_at(self.header.data.0 + e.offset, e.length as u64).map(Some);
            }
            return Ok(None);
        }
        Err(corrupt("leaf directories nested too deep"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tile_ids_follow_the_pmtiles_spec() {
        // Values from the PMTiles v3 spec's reference implementation.
        assert_eq!(tile_id(TileId { z: 0, x: 0, y: 0 }), 0);
        assert_eq!(tile_id(TileId { z: 1, x: 0, y: 0 }), 1);
        assert_eq!(tile_id(TileId { z: 1, x: 0, y: 1 }), 2);
        assert_eq!(tile_id(TileId { z: 1, x: 1, y: 1 }), 3);
        assert_eq!(tile_id(TileId { z: 1, x: 1, y: 0 }), 4);
        assert_eq!(tile_id(TileId { z: 2, x: 0, y: 0 }), 5);
    }

    #[test]
    fn an_archive_round_trips_with_leaves_and_runs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.pmtiles");
        let mut w = PmtilesWriter::create(&path).unwrap();
        let mut tiles: Vec<TileId> = (0..128u32).flat_map(|x| (0..128u32).map(move |y| TileId { z: 7, x, y })).collect();
        tiles.sort_by_key(|t| tile_id(*t));
        for t in &tiles {
            // Every 7th tile unique, the rest shared: exercises runs and de-duplication.
            let body = if (t.x + t.y) % 7 == 0 {
                format!("tile {t}")
            } else {
                "same".to_string()
            };
            w.add(*t, &gzip(body.as_bytes(), 1)).unwrap();
        }
        let extent = Extent {
            minzoom: 7,
            maxzoom: 7,
            bounds: [-180.0, -85.0, 180.0, 85.0],
            center: [0.0, 0.0, 7.0],
        };
        w.finish(extent, &serde_json::json!({"name": "t"})).unwrap();
        let a = PmtilesArchive::open(&path).unwrap();
        assert_eq!(a.metadata["name"], "t");
        for t in [
            TileId { z: 7, x: 0, y: 0 },
            TileId { z: 7, x: 3, y: 4 },
            TileId { z: 7, x: 127, y: 127 },
        ] {
            let body = gunzip(&a.get(t).unwrap().unwrap()).unwrap();
            let want = if (t.x + t.y) % 7 == 0 {
                format!("tile {t}")
            } else {
                "same".to_string()
            };
            assert_eq!(String::from_utf8(body).unwrap(), want);
        }
        assert!(a.get(TileId { z: 6, x: 0, y: 0 }).unwrap().is_none());
    }
}
