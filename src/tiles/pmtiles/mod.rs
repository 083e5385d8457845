//! PMTiles v3 archives: writing a clustered archive of gzipped tiles (`bando export pmtiles`)
//! and serving tiles out of one (`*.pmtiles` files, memory-mapped, looked up by the `pmtiles`
//! crate once bando's own parser has checked every directory) without loading it.
//! Layout written: 127-byte header, root directory, JSON metadata, leaf directories, tile data
//! in Hilbert tile-id order, identical tiles stored once.
//!
//! `format` is the byte format (header, directories, tile ids), `write` the writer, `read` the
//! archive a server reads from (the check, then the crate's reader and directory cache). Owns the PMTiles byte format only; which tiles to write is the
//! caller's business. An archive is untrusted input: reading one never panics, never allocates
//! more than the archive backs (64 MiB a read, 16 MiB an inflated directory) and answers damage
//! with a [`PmtilesError`].

mod format;
mod read;
mod write;

pub use format::{tile_id, Extent};
pub use read::{ArchiveBytes, DirectoryCache, PmtilesArchive};
pub use write::PmtilesWriter;

use super::math::TileId;
use super::TileError;
use crate::cache::GunzipError;

/// What is wrong with an archive that cannot be served.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PmtilesError {
    #[error("not a PMTiles v3 archive (no 'PMTiles' magic and version 3 in a 127-byte header)")]
    NotPmtiles,
    #[error("the {what} at {offset} (+{length} bytes) lies outside the {size} bytes that hold it")]
    OutOfBounds {
        what: &'static str,
        offset: u64,
        length: u64,
        size: u64,
    },
    #[error("{what} compression {code} is not supported (1: none, 2: gzip); rewrite the archive with gzip")]
    Compression { what: &'static str, code: u8 },
    #[error("tile type {0} is not served (1: Mapbox Vector Tiles)")]
    TileType(u8),
    #[error("zoom range {minzoom}..{maxzoom} is reversed")]
    ZoomRange { minzoom: u8, maxzoom: u8 },
    #[error("a directory is damaged: {0}")]
    BadDirectory(&'static str),
    #[error("leaf directories nest deeper than the PMTiles writers make them")]
    TooDeep,
    #[error("a {what} of {length} bytes is more than one read may take")]
    TooLarge { what: &'static str, length: u64 },
    #[error("the {what} does not inflate: {source}")]
    Inflate {
        what: &'static str,
        #[source]
        source: GunzipError,
    },
    #[error("the pmtiles reader refused it: {0}")]
    Crate(#[source] pmtiles::PmtError),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::{gunzip, gzip};

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
        let a = PmtilesArchive::open(&path, &DirectoryCache::new(1 << 20)).unwrap();
        assert_eq!(a.metadata["name"], "t");
        for t in [
            TileId { z: 7, x: 0, y: 0 },
            TileId { z: 7, x: 3, y: 4 },
            TileId { z: 7, x: 127, y: 127 },
        ] {
            let body = gunzip(&a.get(t).unwrap().unwrap(), 1 << 20).unwrap();
            let want = if (t.x + t.y) % 7 == 0 {
                format!("tile {t}")
            } else {
                "same".to_string()
            };
            assert_eq!(String::from_utf8(body).unwrap(), want);
        }
        assert!(a.get(TileId { z: 6, x: 0, y: 0 }).unwrap().is_none());
    }

    /// A two-tile archive (z0 and z1/0/0) and its bytes.
    fn small_archive() -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.pmtiles");
        let mut w = PmtilesWriter::create(&path).unwrap();
        w.add(TileId { z: 0, x: 0, y: 0 }, &gzip(b"zero", 1)).unwrap();
        w.add(TileId { z: 1, x: 0, y: 0 }, &gzip(b"one", 1)).unwrap();
        let extent = Extent {
            minzoom: 0,
            maxzoom: 1,
            bounds: [-180.0, -85.0, 180.0, 85.0],
            center: [0.0, 0.0, 0.0],
        };
        w.finish(extent, &serde_json::json!({})).unwrap();
        std::fs::read(&path).unwrap()
    }

    fn open_bytes(bytes: Vec<u8>) -> Result<PmtilesArchive, TileError> {
        PmtilesArchive::from_bytes("t", ArchiveBytes::from_vec(bytes), String::new(), &DirectoryCache::new(1 << 20))
    }

    fn source_of(e: TileError) -> PmtilesError {
        match e {
            TileError::BadArchive { source, .. } => source,
            other => panic!("not a damaged archive: {other}"),
        }
    }

    /// Replaces the root directory with `directory` (uncompressed) at the end of the file.
    fn with_root(mut bytes: Vec<u8>, directory: &[u8]) -> Vec<u8> {
        let at = bytes.len() as u64;
        bytes[8..16].copy_from_slice(&at.to_le_bytes());
        bytes[16..24].copy_from_slice(&(directory.len() as u64).to_le_bytes());
        bytes[97] = 1;
        bytes.extend_from_slice(directory);
        bytes
    }

    #[test]
    fn archives_read_from_memory_like_files() {
        let a = open_bytes(small_archive()).unwrap();
        let tile = a.get(TileId { z: 1, x: 0, y: 0 }).unwrap().unwrap();
        assert_eq!(gunzip(&tile, 16).unwrap(), b"one");
        assert!(a.get(TileId { z: 1, x: 1, y: 1 }).unwrap().is_none());
    }

    #[test]
    fn damaged_headers_are_named() {
        let good = small_archive();
        assert!(matches!(
            source_of(open_bytes(good[..100].to_vec()).err().unwrap()),
            PmtilesError::NotPmtiles
        ));
        let mut past_end = good.clone();
        past_end[64..72].copy_from_slice(&u64::MAX.to_le_bytes()); // data length: offset + length overflows
        let e = source_of(open_bytes(past_end).err().unwrap());
        assert!(matches!(e, PmtilesError::OutOfBounds { what: "tile data", .. }), "{e}");
        let mut brotli = good.clone();
        brotli[98] = 3;
        assert!(matches!(
            source_of(open_bytes(brotli).err().unwrap()),
            PmtilesError::Compression { code: 3, .. }
        ));
        let mut reversed = good;
        reversed[100] = 5;
        assert!(matches!(
            source_of(open_bytes(reversed).err().unwrap()),
            PmtilesError::ZoomRange { .. }
        ));
    }

    #[test]
    fn damaged_directories_are_refused_before_allocating() {
        let good = small_archive();
        // A count of 2^62 entries in a few bytes, ids that pass 2^64, a varint of eleven bytes.
        let mut huge_count = Vec::new();
        crate::tiles::mvt::put_varint(&mut huge_count, 1 << 62);
        let half = [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 1]; // 2^63
        let ids_overflow = [&[2][..], &half, &half, &[1; 6]].concat();
        let long_varint = [0xff; 11];
        for directory in [&huge_count[..], &ids_overflow, &long_varint] {
            let e = source_of(open_bytes(with_root(good.clone(), directory)).err().unwrap());
            assert!(matches!(e, PmtilesError::BadDirectory(_)), "{directory:?}: {e}");
        }
        // One entry whose tile lies past the data section: refused when the archive opens, so
        // the reader never follows it.
        let mut far = Vec::new();
        for v in [1, 0, 1, 1000, 1 << 40] {
            crate::tiles::mvt::put_varint(&mut far, v);
        }
        let e = source_of(open_bytes(with_root(good, &far)).err().unwrap());
        assert!(matches!(e, PmtilesError::OutOfBounds { what: "tile", .. }), "{e}");
    }

    #[test]
    fn a_gzip_bomb_directory_is_refused() {
        let bomb = gzip(&vec![0u8; 17 << 20], 9);
        let mut bytes = with_root(small_archive(), &bomb);
        bytes[97] = 2;
        let e = source_of(open_bytes(bytes).err().unwrap());
        assert!(
            matches!(
                e,
                PmtilesError::Inflate {
                    source: GunzipError::TooLarge { .. },
                    ..
                }
            ),
            "{e}"
        );
    }
}
