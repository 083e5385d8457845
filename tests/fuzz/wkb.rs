//! The GeoPackage geometry decoder (`store::wkb`): blobs from the demo store and GDAL (XYZ, XYM,
//! XYZM, collections), mutated in bytes and in structure (type codes, header flags, nesting).
//! Whatever decodes must re-encode to the same geometry.

use bando::feature::Bbox;
use bando::store::wkb::{decode_gpkg, encode_gpkg, envelope, MAX_DEPTH};
use geo::CoordsIter;
use geo_types::Geometry;

use crate::engine::{Pool, Rng, Target};
use crate::mutate;

pub const TARGET: Target = Target {
    name: "wkb",
    run,
    mutate: mutate_blob,
    // A feature geometry is one SQLite blob; real ones stay far below this.
    max_input: 1 << 24,
    seed_dirs: &[],
};

fn run(input: &[u8]) -> String {
    let header_box = envelope(input);
    match decode_gpkg(input) {
        Ok(None) => "empty".into(),
        Ok(Some(geometry)) => {
            assert!(
                header_box.is_some() || Bbox::of(&geometry).is_none(),
                "a decoded geometry with points has an envelope"
            );
            assert!(
                geometry.coords_iter().all(|c| c.x.is_finite() && c.y.is_finite()),
                "coordinates are finite"
            );
            if let Some(bbox) = Bbox::of(&geometry) {
                let mut again = Vec::new();
                encode_gpkg(&geometry, Some(bbox), &mut again);
                assert_eq!(
                    decode_gpkg(&again),
                    Ok(Some(geometry.clone())),
                    "a decoded geometry re-encodes to itself"
                );
            }
            format!(
                "{} with {} coordinates",
                kind(&geometry),
                geometry.coords_count().next_power_of_two()
            )
        }
        Err(e) => {
            let debug = format!("{e:?}");
            debug.split(|c: char| !c.is_alphanumeric()).next().unwrap_or_default().to_string()
        }
    }
}

fn kind(g: &Geometry<f64>) -> String {
    match g {
        Geometry::GeometryCollection(c) => format!("collection[{}]", c.0.iter().map(kind).collect::<Vec<_>>().join(",")),
        other => format!("{other:?}").split('(').next().unwrap_or_default().to_string(),
    }
}

/// Type codes: the seven in 2D, ISO Z/M/ZM and EWKB flags, and invalid neighbours.
const TYPE_CODES: [u32; 16] = [1, 2, 3, 4, 5, 6, 7, 0, 8, 17, 1003, 2006, 3007, 4001, 0x8000_0007, 0x4000_0003];

/// Where the WKB starts after the GeoPackage header of `blob` (8 bytes when it is unreadable).
fn wkb_start(blob: &[u8]) -> usize {
    let indicator = blob.get(3).map_or(0, |f| (f >> 1) & 0b111);
    8 + [0, 32, 48, 48, 64].get(indicator as usize).copied().unwrap_or(0)
}

fn mutate_blob(rng: &mut Rng, input: &[u8], pool: &Pool) -> Vec<u8> {
    let start = wkb_start(input).min(input.len());
    let mut out = input.to_vec();
    match rng.below(8) {
        0 => {
            // Wrap the geometry in collections, sometimes past the depth limit.
            let depth = 1 + rng.below(MAX_DEPTH as u64 + 8) as usize;
            let wrapper = [1u8, 7, 0, 0, 0, 1, 0, 0, 0];
            out.splice(start..start, wrapper.iter().copied().cycle().take(wrapper.len() * depth));
        }
        1 if out.len() >= start + 5 => {
            let code = TYPE_CODES[rng.below(TYPE_CODES.len() as u64) as usize];
            let raw = if out[start] == 0 { code.to_be_bytes() } else { code.to_le_bytes() };
            out[start + 1..start + 5].copy_from_slice(&raw);
        }
        2 if out.len() > 3 => out[3] = rng.below(256) as u8,
        _ => return mutate::bytes(rng, input, pool),
    }
    out
}
