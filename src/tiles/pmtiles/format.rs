//! The PMTiles v3 byte format: the 127-byte header, directories of varint-packed entries, and
//! Hilbert tile ids. Everything decoded here comes from a file someone else may have written:
//! counts are checked against the bytes that back them before anything is allocated, and
//! offsets and ids are added with checked arithmetic.

use super::{PmtilesError, TileId};

pub(super) const HEADER_LEN: usize = 127;
pub(super) const COMPRESSION_NONE: u8 = 1;
pub(super) const COMPRESSION_GZIP: u8 = 2;
pub(super) const TILE_TYPE_MVT: u8 = 1;

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

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Entry {
    pub tile_id: u64,
    pub offset: u64,
    pub length: u32,
    /// 0 marks a pointer to a leaf directory.
    pub run_length: u32,
}

pub(super) fn serialize_directory(entries: &[Entry]) -> Vec<u8> {
    let mut b = Vec::with_capacity(entries.len() * 6 + 8);
    let put = super::super::mvt::put_varint;
    put(&mut b, entries.len() as u64);
    let mut last = 0;
    for e in entries {
        put(&mut b, e.tile_id - last);
        last = e.tile_id;
    }
    for e in entries {
        put(&mut b, e.run_length as u64);
    }
    for e in entries {
        put(&mut b, e.length as u64);
    }
    for (i, e) in entries.iter().enumerate() {
        let contiguous = i > 0 && e.offset == entries[i - 1].offset + entries[i - 1].length as u64;
        put(&mut b, if contiguous { 0 } else { e.offset + 1 });
    }
    b
}

/// Reads the varint at `at` (at most ten bytes, the last one holding the 64th bit only).
#[deny(clippy::arithmetic_side_effects)]
fn read_varint(bytes: &[u8], at: &mut usize) -> Result<u64, PmtilesError> {
    let mut v = 0u64;
    let rest = bytes.get(*at..).unwrap_or_default();
    for (i, &b) in rest.iter().take(10).enumerate() {
        let low = u64::from(b & 0x7f);
        let shift = u32::try_from(i).unwrap_or(u32::MAX).saturating_mul(7);
        let part = low
            .checked_shl(shift)
            .filter(|p| p.checked_shr(shift) == Some(low))
            .ok_or(PmtilesError::BadDirectory("a number in the directory does not fit 64 bits"))?;
        v |= part;
        if b < 0x80 {
            *at = at.saturating_add(i).saturating_add(1);
            return Ok(v);
        }
    }
    Err(PmtilesError::BadDirectory(if rest.len() < 10 {
        "the directory ends inside a number"
    } else {
        "a number in the directory is longer than ten bytes"
    }))
}

fn read_u32(bytes: &[u8], at: &mut usize, what: &'static str) -> Result<u32, PmtilesError> {
    u32::try_from(read_varint(bytes, at)?).map_err(|_| PmtilesError::BadDirectory(what))
}

/// Decodes a directory. Each entry takes at least four bytes (one per varint), so a count the
/// bytes cannot back is refused before the entries are allocated.
#[deny(clippy::arithmetic_side_effects)]
pub(super) fn deserialize_directory(bytes: &[u8]) -> Result<Vec<Entry>, PmtilesError> {
    let mut at = 0;
    let n = read_varint(bytes, &mut at)?;
    let n = usize::try_from(n)
        .ok()
        .filter(|n| n.checked_mul(4).is_some_and(|b| b <= bytes.len()))
        .ok_or(PmtilesError::BadDirectory("the directory claims more entries than it has bytes"))?;
    let mut entries = vec![Entry::default(); n];
    let mut last = 0u64;
    for e in entries.iter_mut() {
        last = last
            .checked_add(read_varint(bytes, &mut at)?)
            .ok_or(PmtilesError::BadDirectory("tile ids past 2^64"))?;
        e.tile_id = last;
    }
    for e in entries.iter_mut() {
        e.run_length = read_u32(bytes, &mut at, "a run length past 2^32")?;
    }
    for e in entries.iter_mut() {
        e.length = read_u32(bytes, &mut at, "a length past 2^32")?;
    }
    let mut end_of_previous = None;
    for e in entries.iter_mut() {
        e.offset = match (read_varint(bytes, &mut at)?, end_of_previous) {
            (0, Some(end)) => end,
            (v, _) => v.saturating_sub(1),
        };
        end_of_previous = Some(
            e.offset
                .checked_add(u64::from(e.length))
                .ok_or(PmtilesError::BadDirectory("an offset past 2^64"))?,
        );
    }
    Ok(entries)
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

/// A section of the archive: offset from the start of the file, and length.
pub(super) type Section = (u64, u64);

#[derive(Debug, Clone)]
pub(super) struct Header {
    pub root: Section,
    pub metadata: Section,
    pub leaves: Section,
    pub data: Section,
    pub counts: [u64; 3],
    pub internal_compression: u8,
    pub tile_compression: u8,
    pub tile_type: u8,
    pub extent: Extent,
}

fn e7(v: f64) -> i32 {
    (v * 1e7).round() as i32
}

impl Header {
    pub fn to_bytes(&self) -> Vec<u8> {
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

    /// Parses and checks a header: the sections must lie within an archive of `size` bytes,
    /// the compressions and tile type must be ones bando serves.
    #[deny(clippy::arithmetic_side_effects)]
    pub fn parse(b: &[u8], size: u64) -> Result<Header, PmtilesError> {
        if b.len() < HEADER_LEN || b.get(..7) != Some(b"PMTiles") || b.get(7) != Some(&3) {
            return Err(PmtilesError::NotPmtiles);
        }
        let field = |i: usize, n: usize| b.get(i..).and_then(|s| s.get(..n)).unwrap_or_default();
        let u64_at = |i: usize| field(i, 8).try_into().map_or(0, u64::from_le_bytes);
        let degrees_at = |i: usize| f64::from(field(i, 4).try_into().map_or(0, i32::from_le_bytes)) / 1e7;
        let byte_at = |i: usize| b.get(i).copied().unwrap_or_default();
        let header = Header {
            root: (u64_at(8), u64_at(16)),
            metadata: (u64_at(24), u64_at(32)),
            leaves: (u64_at(40), u64_at(48)),
            data: (u64_at(56), u64_at(64)),
            counts: [u64_at(72), u64_at(80), u64_at(88)],
            internal_compression: byte_at(97),
            tile_compression: byte_at(98),
            tile_type: byte_at(99),
            extent: Extent {
                minzoom: byte_at(100),
                maxzoom: byte_at(101),
                bounds: [degrees_at(102), degrees_at(106), degrees_at(110), degrees_at(114)],
                center: [degrees_at(119), degrees_at(123), f64::from(byte_at(118))],
            },
        };
        for (name, (offset, length)) in [
            ("root directory", header.root),
            ("metadata", header.metadata),
            ("leaf directories", header.leaves),
            ("tile data", header.data),
        ] {
            if offset.checked_add(length).is_none_or(|end| end > size) {
                return Err(PmtilesError::OutOfBounds {
                    what: name,
                    offset,
                    length,
                    size,
                });
            }
        }
        for (what, code) in [("directory", header.internal_compression), ("tile", header.tile_compression)] {
            if code != COMPRESSION_NONE && code != COMPRESSION_GZIP {
                return Err(PmtilesError::Compression { what, code });
            }
        }
        if header.tile_type != TILE_TYPE_MVT {
            return Err(PmtilesError::TileType(header.tile_type));
        }
        let Extent { minzoom, maxzoom, .. } = header.extent;
        if minzoom > maxzoom {
            return Err(PmtilesError::ZoomRange { minzoom, maxzoom });
        }
        Ok(header)
    }
}
