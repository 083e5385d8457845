//! WGS84 geodetic (lon, lat, ellipsoidal height) to earth-centred, earth-fixed (ECEF) metres, and
//! the local east/north/up frame at a point. Pure maths, exact to the ellipsoid formulas: all
//! placement of 3D buildings goes through here, never through a flat-earth approximation.

/// WGS84 semi-major axis (m).
pub const A: f64 = 6_378_137.0;
/// WGS84 first eccentricity squared.
pub const E2: f64 = 6.694_379_990_141_33e-3;

/// A point on the ellipsoid surface with its local frame: `up` is the ellipsoid normal, so the
/// point at height `h` is exactly `surface + h * up`.
#[derive(Debug, Clone, Copy)]
pub struct Frame {
    pub surface: [f64; 3],
    pub east: [f64; 3],
    pub north: [f64; 3],
    pub up: [f64; 3],
}

impl Frame {
    pub fn at(lon_deg: f64, lat_deg: f64) -> Frame {
        let (sin_lat, cos_lat) = lat_deg.to_radians().sin_cos();
        let (sin_lon, cos_lon) = lon_deg.to_radians().sin_cos();
        let n = A / (1.0 - E2 * sin_lat * sin_lat).sqrt();
        Frame {
            surface: [n * cos_lat * cos_lon, n * cos_lat * sin_lon, n * (1.0 - E2) * sin_lat],
            east: [-sin_lon, cos_lon, 0.0],
            north: [-sin_lat * cos_lon, -sin_lat * sin_lon, cos_lat],
            up: [cos_lat * cos_lon, cos_lat * sin_lon, sin_lat],
        }
    }

    /// ECEF of the point `h` metres above the ellipsoid.
    pub fn at_height(&self, h: f64) -> [f64; 3] {
        [
            self.surface[0] + h * self.up[0],
            self.surface[1] + h * self.up[1],
            self.surface[2] + h * self.up[2],
        ]
    }
}

/// ECEF of a geodetic position.
pub fn to_ecef(lon_deg: f64, lat_deg: f64, h: f64) -> [f64; 3] {
    Frame::at(lon_deg, lat_deg).at_height(h)
}

/// ECEF (z-up) to glTF's y-up axes: the inverse of the y-up→z-up rotation 3D Tiles clients apply
/// to glTF content, (x, y, z) ↦ (x, −z, y).
pub fn ecef_to_gltf(p: [f64; 3]) -> [f64; 3] {
    [p[0], p[2], -p[1]]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_points_land_where_the_ellipsoid_says() {
        let p = to_ecef(0.0, 0.0, 0.0);
        assert!((p[0] - A).abs() < 1e-6 && p[1].abs() < 1e-6 && p[2].abs() < 1e-6);
        // The pole is at the semi-minor axis b = a·sqrt(1 − e²) = 6,356,752.3142 m.
        let pole = to_ecef(0.0, 90.0, 0.0);
        assert!((pole[2] - 6_356_752.314_2).abs() < 1e-3, "{pole:?}");
        let up = Frame::at(107.6, 16.46);
        let dot = up.east[0] * up.north[0] + up.east[1] * up.north[1] + up.east[2] * up.north[2];
        assert!(dot.abs() < 1e-12);
    }
}
