//! Tile arithmetic: which tiles exist, what ground a tile covers, and where a lon/lat lands in a
//! tile's 4096-unit grid (Web Mercator, y down). Pure functions; knows nothing of features.

use crate::feature::Bbox;

use super::TileError;

/// The deepest zoom served; deeper requests are refused.
pub const MAX_ZOOM: u8 = 22;
/// MVT tile extent: units across one tile.
pub const EXTENT: u32 = 4096;
/// Units drawn outside the tile edge so that strokes and labels do not end at tile seams.
pub const BUFFER: f64 = 64.0;
/// Latitude where Web Mercator's square world ends.
const MAX_LAT: f64 = 85.051_128_779_806_59;

/// One tile of the Web Mercator pyramid (XYZ scheme, y from the north).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TileId {
    pub z: u8,
    pub x: u32,
    pub y: u32,
}

impl TileId {
    /// Validates z in 0..=22 and x, y in 0..2^z.
    pub fn new(z: u32, x: u64, y: u64) -> Result<TileId, TileError> {
        if z > MAX_ZOOM as u32 {
            return Err(TileError::BadTile(format!("zoom {z} is out of range 0..={MAX_ZOOM}")));
        }
        let n = 1u64 << z;
        if x >= n || y >= n {
            return Err(TileError::BadTile(format!(
                "tile {z}/{x}/{y} does not exist: x and y must be below 2^{z} = {n}"
            )));
        }
        Ok(TileId {
            z: z as u8,
            x: x as u32,
            y: y as u32,
        })
    }

    /// Parses the three path segments of `/{z}/{x}/{y}` (decimal digits only).
    pub fn parse(z: &str, x: &str, y: &str) -> Result<TileId, TileError> {
        let number = |what: &str, s: &str| -> Result<u64, TileError> {
            if s.is_empty() || s.len() > 10 || !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(TileError::BadTile(format!(
                    "tile {what} '{}' is not a non-negative integer",
                    s.escape_default()
                )));
            }
            s.parse().map_err(|_| TileError::BadTile(format!("tile {what} '{s}' is too large")))
        };
        let z = number("zoom", z)?;
        TileId::new(z.min(u32::MAX as u64) as u32, number("x", x)?, number("y", y)?)
    }

    /// The tile's ground in lon/lat, widened by `buffer` tile units on every side.
    pub fn bounds(&self, buffer: f64) -> Bbox {
        let n = (1u64 << self.z) as f64;
        let pad = buffer / EXTENT as f64;
        let (x0, x1) = ((self.x as f64 - pad) / n, (self.x as f64 + 1.0 + pad) / n);
        let (y0, y1) = ((self.y as f64 - pad) / n, (self.y as f64 + 1.0 + pad) / n);
        Bbox {
            west: world_to_lon(x0),
            south: world_to_lat(y1),
            east: world_to_lon(x1),
            north: world_to_lat(y0),
        }
    }

    /// Tiles at zoom `z` covering `bbox` (inclusive ranges of x and y).
    pub fn covering(bbox: &Bbox, z: u8) -> (std::ops::RangeInclusive<u32>, std::ops::RangeInclusive<u32>) {
        let n = 1u64 << z;
        let clamp = |v: f64| ((v * n as f64).floor().max(0.0) as u64).min(n - 1) as u32;
        let (x0, x1) = (clamp(lon_to_world(bbox.west)), clamp(lon_to_world(bbox.east)));
        let (y0, y1) = (clamp(lat_to_world(bbox.north)), clamp(lat_to_world(bbox.south)));
        (x0..=x1, y0..=y1)
    }
}

impl std::fmt::Display for TileId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.z, self.x, self.y)
    }
}

/// Longitude to Web Mercator world x in 0..1.
pub fn lon_to_world(lon: f64) -> f64 {
    (lon + 180.0) / 360.0
}

/// Latitude to Web Mercator world y in 0..1 (0 at the north edge).
pub fn lat_to_world(lat: f64) -> f64 {
    // 1/2 - atanh(sin φ) / 2π: one sin and one ln, the cheapest exact form (this runs per vertex).
    let s = lat.clamp(-MAX_LAT, MAX_LAT).to_radians().sin();
    0.5 - ((1.0 + s) / (1.0 - s)).ln() / (4.0 * std::f64::consts::PI)
}

pub fn world_to_lon(x: f64) -> f64 {
    x * 360.0 - 180.0
}

pub fn world_to_lat(y: f64) -> f64 {
    (std::f64::consts::PI * (1.0 - 2.0 * y)).sinh().atan().to_degrees()
}

/// Maps lon/lat into one tile's unit grid (f64, before rounding).
#[derive(Debug, Clone, Copy)]
pub struct TileProjection {
    scale: f64,
    origin_x: f64,
    origin_y: f64,
}

impl TileProjection {
    pub fn new(tile: TileId) -> TileProjection {
        let scale = (1u64 << tile.z) as f64 * EXTENT as f64;
        TileProjection {
            scale,
            origin_x: tile.x as f64 * EXTENT as f64,
            origin_y: tile.y as f64 * EXTENT as f64,
        }
    }

    #[inline]
    pub fn project(&self, lon: f64, lat: f64) -> [f64; 2] {
        [
            lon_to_world(lon) * self.scale - self.origin_x,
            lat_to_world(lat) * self.scale - self.origin_y,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiles_outside_the_pyramid_are_refused() {
        assert!(TileId::parse("23", "0", "0").is_err());
        assert!(TileId::parse("2", "4", "0").is_err());
        assert!(TileId::parse("-1", "0", "0").is_err());
        assert!(TileId::parse("1", "x", "0").is_err());
        assert!(TileId::parse("99999999999999999999", "0", "0").is_err());
        assert_eq!(TileId::parse("2", "3", "1").unwrap(), TileId { z: 2, x: 3, y: 1 });
    }

    #[test]
    fn projection_round_trips_through_tile_bounds() {
        let tile = TileId { z: 14, x: 13279, y: 7492 };
        let b = tile.bounds(0.0);
        let p = TileProjection::new(tile);
        let nw = p.project(b.west, b.north);
        let se = p.project(b.east, b.south);
        assert!(nw[0].abs() < 1e-6 && nw[1].abs() < 1e-6, "{nw:?}");
        assert!((se[0] - 4096.0).abs() < 1e-6 && (se[1] - 4096.0).abs() < 1e-6, "{se:?}");
        let (xs, ys) = TileId::covering(&b, 14);
        assert!(xs.contains(&13279) && ys.contains(&7492));
    }
}
