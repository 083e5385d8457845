//! The PMTiles reader (`tiles::pmtiles::PmtilesArchive` over bytes in memory): archives from
//! `bando export pmtiles` and from the protomaps Python writer (leaf directories), mutated in
//! bytes and in structure: header fields, directory entries (re-packed, so they get past the
//! gzip layer), uncompressed directories, and gzip bombs as a directory or a tile. Each tile it
//! finds is inflated as a client without gzip would get it.

use std::sync::OnceLock;

use bando::cache::gzip;
use bando::delivery::Encoded;
use bando::tiles::pmtiles::{ArchiveBytes, DirectoryCache, Extent, PmtilesArchive};
use bando::tiles::TileId;

use crate::engine::{Pool, Rng, Target};
use crate::mutate::{self, BOUNDARY_U64};

pub const TARGET: Target = Target {
    name: "pmtiles",
    run,
    mutate: mutate_archive,
    // Archives are read by range, not loaded; the fuzzer keeps them in memory.
    max_input: 1 << 26,
    seed_dirs: &[],
};

fn run(input: &[u8]) -> String {
    let archive = match PmtilesArchive::from_bytes("fuzz", ArchiveBytes::from_vec(input.to_vec()), String::new(), directories()) {
        Ok(a) => a,
        Err(e) => return words(&e.to_string()),
    };
    let extent = archive.extent();
    assert!(extent.minzoom <= extent.maxzoom, "an opened archive has an ordered zoom range");
    let mut found = 0;
    for tile in probes(&extent) {
        match archive.get(tile) {
            Ok(Some(stored)) => {
                found += 1;
                if archive.tiles_gzipped() {
                    if let Err(e) = Encoded::from_gzip(stored, String::new(), true) {
                        return format!("tile does not inflate: {}", words(&e.to_string()));
                    }
                }
            }
            Ok(None) => {}
            Err(e) => return format!("tile: {}", words(&e.to_string())),
        }
    }
    format!("ok, {} tiles found", found.min(4))
}

/// One directory cache for the whole run, as a server has (a small budget, so eviction runs too).
fn directories() -> &'static DirectoryCache {
    static CACHE: OnceLock<DirectoryCache> = OnceLock::new();
    CACHE.get_or_init(|| DirectoryCache::new(1 << 20))
}

/// An error's words without its numbers (offsets and sizes differ for every input).
fn words(message: &str) -> String {
    message.chars().filter(|c| !c.is_ascii_digit()).collect()
}

/// Tiles to ask for: at each zoom of the archive (up to bando's deepest), the tile under its
/// centre and the next one east.
fn probes(extent: &Extent) -> Vec<TileId> {
    let lon = extent.center[0].clamp(-180.0, 180.0);
    let lat = extent.center[1].clamp(-85.0, 85.0).to_radians();
    (extent.minzoom..=extent.maxzoom.min(bando::tiles::math::MAX_ZOOM))
        .flat_map(|z| {
            let n = f64::from(1u32 << z);
            let x = ((lon + 180.0) / 360.0 * n).clamp(0.0, n - 1.0) as u64;
            let y = ((1.0 - lat.tan().asinh() / std::f64::consts::PI) / 2.0 * n).clamp(0.0, n - 1.0) as u64;
            let east = (x + 1).min(n as u64 - 1);
            [TileId::new(u32::from(z), x, y), TileId::new(u32::from(z), east, y)]
        })
        .filter_map(Result::ok)
        .collect()
}

const HEADER_LEN: usize = 127;

/// An archive taken apart: the header and its four sections as stored (directories inflated
/// when gzipped, so their entries can be changed and packed again).
struct Parts {
    header: Vec<u8>,
    root: Vec<u8>,
    metadata: Vec<u8>,
    leaves: Vec<u8>,
    data: Vec<u8>,
    gzipped_directories: bool,
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

fn section(b: &[u8], at: usize) -> Option<Vec<u8>> {
    let (offset, length) = (usize::try_from(u64_at(b, at)).ok()?, usize::try_from(u64_at(b, at + 8)).ok()?);
    b.get(offset..offset.checked_add(length)?).map(<[u8]>::to_vec)
}

fn take_apart(b: &[u8]) -> Option<Parts> {
    if b.len() < HEADER_LEN || &b[..7] != b"PMTiles" {
        return None;
    }
    let gzipped_directories = b[97] == 2;
    let stored_root = section(b, 8)?;
    let root = if gzipped_directories {
        bando::cache::gunzip(&stored_root, 1 << 24).ok()?
    } else {
        stored_root
    };
    Some(Parts {
        header: b[..HEADER_LEN].to_vec(),
        root,
        metadata: section(b, 24)?,
        leaves: section(b, 40)?,
        data: section(b, 56)?,
        gzipped_directories,
    })
}

fn put_together(parts: &Parts) -> Vec<u8> {
    let root = if parts.gzipped_directories {
        gzip(&parts.root, 1)
    } else {
        parts.root.clone()
    };
    let mut header = parts.header.clone();
    header[97] = if parts.gzipped_directories { 2 } else { 1 };
    let mut at = HEADER_LEN as u64;
    for (field, bytes) in [(8, &root), (24, &parts.metadata), (40, &parts.leaves), (56, &parts.data)] {
        header[field..field + 8].copy_from_slice(&at.to_le_bytes());
        header[field + 8..field + 16].copy_from_slice(&(bytes.len() as u64).to_le_bytes());
        at += bytes.len() as u64;
    }
    [&header[..], &root, &parts.metadata, &parts.leaves, &parts.data].concat()
}

fn varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

/// The directory's varints in order (count first), or None when it does not parse as varints.
fn varints(bytes: &[u8]) -> Option<Vec<u64>> {
    let (mut out, mut v, mut shift) = (Vec::new(), 0u64, 0u32);
    for &b in bytes {
        v |= u64::from(b & 0x7f).checked_shl(shift)?;
        if b < 0x80 {
            out.push(v);
            (v, shift) = (0, 0);
        } else {
            shift += 7;
        }
    }
    Some(out)
}

/// A directory's varint at random set to a boundary value, a neighbour of the file's size, or
/// an off-by-one of itself; sometimes the entry count instead.
fn mutate_directory(rng: &mut Rng, directory: &[u8], file_len: u64) -> Option<Vec<u8>> {
    let mut values = varints(directory)?;
    if values.is_empty() {
        return None;
    }
    let i = if rng.below(8) == 0 {
        0
    } else {
        rng.below(values.len() as u64) as usize
    };
    let old = values[i];
    values[i] = match rng.below(4) {
        0 => BOUNDARY_U64[rng.below(BOUNDARY_U64.len() as u64) as usize],
        1 => file_len.wrapping_add(rng.below(3)).wrapping_sub(1),
        2 => old.wrapping_add(1),
        _ => old.wrapping_sub(1),
    };
    let mut out = Vec::with_capacity(directory.len() + 16);
    for v in values {
        varint(&mut out, v);
    }
    Some(out)
}

/// 40 MiB of zeros in about 40 kB of gzip: past every inflate cap.
fn bomb() -> &'static [u8] {
    static BOMB: OnceLock<Vec<u8>> = OnceLock::new();
    BOMB.get_or_init(|| gzip(&vec![0u8; 40 << 20], 9))
}

/// A root directory of one entry: tile 0 (z0), a run of one, `length` bytes at data offset 0.
fn single_entry(length: usize) -> Vec<u8> {
    let mut d = Vec::new();
    for v in [1, 0, 1, length as u64, 1] {
        varint(&mut d, v);
    }
    d
}

fn mutate_archive(rng: &mut Rng, input: &[u8], pool: &Pool) -> Vec<u8> {
    let Some(mut parts) = take_apart(input) else {
        return mutate::bytes(rng, input, pool);
    };
    match rng.below(10) {
        0 => {
            // A header offset, length or count: boundary values and neighbours of the file size.
            let field = 8 + 8 * rng.below(11) as usize;
            let value = match rng.below(2) {
                0 => BOUNDARY_U64[rng.below(BOUNDARY_U64.len() as u64) as usize],
                _ => (input.len() as u64).wrapping_add(rng.below(5)).wrapping_sub(2),
            };
            let mut out = input.to_vec();
            out[field..field + 8].copy_from_slice(&value.to_le_bytes());
            return out;
        }
        1 => {
            // Compressions, tile type, zooms, centre zoom.
            let mut out = input.to_vec();
            let field = [96, 97, 98, 99, 100, 101, 118][rng.below(7) as usize];
            out[field] = [0, 1, 2, 3, 4, 22, 23, 255][rng.below(8) as usize];
            return out;
        }
        2..=4 => match mutate_directory(rng, &parts.root, input.len() as u64) {
            Some(root) => parts.root = root,
            None => return mutate::bytes(rng, input, pool),
        },
        5 => {
            // Leave the directories uncompressed, so byte mutations reach the varint reader.
            parts.gzipped_directories = false;
            parts.root = mutate::bytes(rng, &parts.root, pool);
        }
        6 if !parts.leaves.is_empty() && parts.gzipped_directories => {
            // Re-pack one leaf directory: the first one, which the root's first pointer names.
            let Ok(leaf) = bando::cache::gunzip(&parts.leaves, 1 << 24) else {
                return mutate::bytes(rng, input, pool);
            };
            let Some(changed) = mutate_directory(rng, &leaf, input.len() as u64) else {
                return mutate::bytes(rng, input, pool);
            };
            parts.leaves = gzip(&changed, 1);
        }
        7 if rng.below(16) == 0 => {
            // A gzip bomb: as the one tile of the archive, or as its root directory.
            if rng.below(2) == 0 {
                parts.data = bomb().to_vec();
                parts.root = single_entry(parts.data.len());
                parts.gzipped_directories = true;
                parts.header[98] = 2;
            } else {
                let mut out = put_together(&parts);
                out[97] = 2;
                let at = out.len() as u64;
                out[8..16].copy_from_slice(&at.to_le_bytes());
                out[16..24].copy_from_slice(&(bomb().len() as u64).to_le_bytes());
                out.extend_from_slice(bomb());
                return out;
            }
        }
        _ => return mutate::bytes(rng, input, pool),
    }
    put_together(&parts)
}
