//! VN-2000, Vietnam's national datum: the official 7-parameter shift to WGS84 (Decision
//! 05/2007/QĐ-BTNMT, = EPSG:6960) and the TM-3 / UTM shorthands.
//!
//! The Decision writes the rotations in the Coordinate Frame convention; PROJ's `+towgs84` uses
//! Position Vector, so the three rotation signs are flipped here. Using the Decision's signs as
//! they are puts Huế about 0.65 m off.

use gdal::spatial_ref::SpatialRef;
use unicode_normalization::UnicodeNormalization;

use super::CrsError;

/// dx, dy, dz (m), rx, ry, rz (arc-seconds, Position Vector), scale (ppm).
pub const TOWGS84: [f64; 7] = [
    -191.904_414_29,
    -39.303_182_79,
    -111.450_328_35,
    0.009_288_36,
    -0.019_754_79,
    0.004_273_72,
    0.252_906_278,
];

const PROVINCES_CSV: &str = include_str!("../../importers/vn2000_provinces.csv");

/// Names people use for provinces that the table lists under another key.
const ALIASES: &[(&str, &str)] = &[
    ("HUE", "THUA_THIEN_HUE"),
    ("TT_HUE", "THUA_THIEN_HUE"),
    ("HO_CHI_MINH", "TP_HCM"),
    ("HCM", "TP_HCM"),
    ("TP_HO_CHI_MINH", "TP_HCM"),
    ("HANOI", "HA_NOI"),
    ("BAC_KAN", "BAC_CAN"),
    ("VUNG_TAU", "BA_RIA_VUNG_TAU"),
];

fn towgs84_param() -> String {
    TOWGS84.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(",")
}

/// PROJ definition of VN-2000 / TM-3 with the given central meridian (k 0.9999, x_0 500000).
pub fn tm3(central_meridian: f64) -> String {
    format!(
        "+proj=tmerc +lat_0=0 +lon_0={central_meridian} +k=0.9999 +x_0=500000 +y_0=0 +ellps=WGS84 +towgs84={} +units=m +no_defs +type=crs",
        towgs84_param()
    )
}

fn utm(zone: u32) -> String {
    format!(
        "+proj=utm +zone={zone} +ellps=WGS84 +towgs84={} +units=m +no_defs +type=crs",
        towgs84_param()
    )
}

/// Upper-case ASCII key: "Thừa Thiên Huế" and "thua-thien_hue" both become THUA_THIEN_HUE.
fn province_key(name: &str) -> String {
    let folded: String = name
        .nfd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .map(|c| match c {
            'đ' | 'Đ' => 'D',
            c if c.is_ascii_alphanumeric() => c.to_ascii_uppercase(),
            _ => '_',
        })
        .collect();
    folded.split('_').filter(|s| !s.is_empty()).collect::<Vec<_>>().join("_")
}

/// The official TM-3 central meridian of a (pre-2025) province, from importers/vn2000_provinces.csv.
pub fn province_meridian(name: &str) -> Option<f64> {
    let key = province_key(name);
    let key = ALIASES
        .iter()
        .find(|(alias, _)| *alias == key)
        .map_or(key.as_str(), |(_, real)| real);
    PROVINCES_CSV.lines().skip(1).find_map(|line| {
        let mut cols = line.split(',');
        let province = cols.next()?;
        let meridian = cols.next()?.parse().ok()?;
        (province == key).then_some(meridian)
    })
}

/// Expands a VN2000:... shorthand into a PROJ string; `Ok(None)` when `input` is not one.
pub fn shorthand(input: &str) -> Result<Option<String>, CrsError> {
    let Some(rest) = input.strip_prefix("VN2000:").or_else(|| input.strip_prefix("vn2000:")) else {
        return Ok(None);
    };
    let upper = rest.to_ascii_uppercase();
    if upper == "UTM48" {
        return Ok(Some(utm(48)));
    }
    if upper == "UTM49" {
        return Ok(Some(utm(49)));
    }
    if let Some(meridian) = upper.strip_prefix("TM3:") {
        let lon: f64 = meridian.parse().map_err(|_| CrsError::Unknown {
            input: input.to_string(),
            reason: format!("'{meridian}' is not a central meridian in degrees"),
        })?;
        if !(100.0..=120.0).contains(&lon) {
            return Err(CrsError::Unknown {
                input: input.to_string(),
                reason: format!("central meridian {lon} is outside Vietnam's 102-117 E"),
            });
        }
        return Ok(Some(tm3(lon)));
    }
    province_meridian(rest)
        .map(|m| Some(tm3(m)))
        .ok_or_else(|| CrsError::UnknownProvince(rest.to_string()))
}

fn is_vn2000(srs: &SpatialRef) -> bool {
    let datum = srs
        .get_attr_value("DATUM", 0)
        .ok()
        .flatten()
        .unwrap_or_default()
        .to_ascii_uppercase();
    datum.contains("VN-2000") || datum.contains("VN_2000") || datum.contains("VIETNAM_2000") || datum.contains("VN2000")
}

/// A VN-2000 CRS read from a file (.prj, GeoPackage, EPSG code) often carries no datum shift or
/// an older one; bando always applies the official one so all imports agree to the centimetre.
pub fn apply_official_datum_shift(srs: &mut SpatialRef) {
    if !is_vn2000(srs) {
        return;
    }
    let [dx, dy, dz, rx, ry, rz, ppm] = TOWGS84;
    // SAFETY: the handle is owned by `srs` and valid for this call.
    unsafe {
        gdal_sys::OSRSetTOWGS84(srs.to_c_hsrs(), dx, dy, dz, rx, ry, rz, ppm);
    }
}
