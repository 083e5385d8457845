//! Coordinate reference systems: reading what a user or a file declares (EPSG codes, PROJ
//! strings, WKT and the VN-2000 shorthands), transforming to WGS84 lon/lat with PROJ (through
//! GDAL's OSR, so the process holds one PROJ), and the "is this in Vietnam" check that catches a
//! wrong CRS before bad coordinates reach the store.
//!
//! Owns: CRS parsing and the VN-2000 datum parameters. Does not read data files or write the store.

mod region;
pub mod vn2000;

pub use region::Region;

use gdal::spatial_ref::{AxisMappingStrategy, CoordTransform, SpatialRef};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CrsError {
    #[error("unknown CRS '{input}': {reason}. Give EPSG:<code>, a PROJ string, WKT, or VN2000:UTM48, VN2000:UTM49, VN2000:TM3:<central meridian> or VN2000:<province>")]
    Unknown { input: String, reason: String },
    #[error("unknown province '{0}' in VN2000:<province>: use a province name such as VN2000:Hue, VN2000:Ha_Noi or VN2000:Quang_Ninh, or VN2000:TM3:<central meridian>")]
    UnknownProvince(String),
    #[error("cannot build a transformation from {from} to WGS84: {reason}")]
    NoTransform { from: String, reason: String },
}

/// Parses a CRS the way `--src-crs` accepts it.
pub fn parse(input: &str) -> Result<SpatialRef, CrsError> {
    let trimmed = input.trim();
    let definition = match vn2000::shorthand(trimmed)? {
        Some(proj) => proj,
        None => trimmed.to_string(),
    };
    let mut srs = SpatialRef::from_definition(&definition).map_err(|e| CrsError::Unknown {
        input: input.to_string(),
        reason: e.to_string(),
    })?;
    vn2000::apply_official_datum_shift(&mut srs);
    srs.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    Ok(srs)
}

/// Takes a CRS found in a data file, applying the official VN-2000 datum shift when it is VN-2000.
pub fn from_file(mut srs: SpatialRef) -> SpatialRef {
    vn2000::apply_official_datum_shift(&mut srs);
    srs.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    srs
}

/// WGS84 with longitude first, the order bando stores.
pub fn wgs84() -> SpatialRef {
    let mut srs = SpatialRef::from_epsg(4326).expect("PROJ knows EPSG:4326");
    srs.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    srs
}

/// A short human name for a CRS, for the catalog and messages.
pub fn describe(srs: &SpatialRef) -> String {
    let name = srs.name().unwrap_or_else(|| "unnamed CRS".into());
    match (srs.auth_name(), srs.auth_code()) {
        (Some(auth), Ok(code)) => format!("{auth}:{code} ({name})"),
        _ => match srs.to_proj4() {
            Ok(p) if !p.is_empty() => format!("{name} [{}]", p.trim()),
            _ => name,
        },
    }
}

/// True when two definitions describe the same CRS, so no transformation is needed.
pub fn is_wgs84_lonlat(srs: &SpatialRef) -> bool {
    srs.is_geographic() && srs.auth_code().ok() == Some(4326)
}

/// Transformation from `source` to WGS84 lon/lat.
pub fn to_wgs84(source: &SpatialRef) -> Result<CoordTransform, CrsError> {
    between(source, &wgs84())
}

/// Transformation from `source` to `target`, in the axis orders their mapping strategies give.
pub fn between(source: &SpatialRef, target: &SpatialRef) -> Result<CoordTransform, CrsError> {
    CoordTransform::new(source, target).map_err(|e| CrsError::NoTransform {
        from: format!("{} to {}", describe(source), describe(target)),
        reason: e.to_string(),
    })
}

/// The CRS with EPSG code `code` in the axis order EPSG gives it (latitude first for EPSG:4326,
/// easting first for the VN-2000 TM-3 zones), with the official VN-2000 shift when it is VN-2000.
pub fn epsg(code: u32) -> Result<SpatialRef, CrsError> {
    let mut srs = SpatialRef::from_epsg(code).map_err(|e| CrsError::Unknown {
        input: format!("EPSG:{code}"),
        reason: e.to_string(),
    })?;
    vn2000::apply_official_datum_shift(&mut srs);
    srs.set_axis_mapping_strategy(AxisMappingStrategy::AuthorityCompliant);
    Ok(srs)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test vector of ../shared/data/vn2000: WGS84 (16.4637 N, 107.5909 E) is
    /// E 562897.886, N 1820978.931 in VN-2000 / TM-3 107-00 (EPSG:9214).
    #[test]
    fn vn2000_tm3_matches_the_official_test_vector() {
        let src = parse("VN2000:TM3:107").unwrap();
        let t = to_wgs84(&src).unwrap();
        let mut x = [562897.886];
        let mut y = [1820978.931];
        let mut z = [0.0];
        t.transform_coords(&mut x, &mut y, &mut z).unwrap();
        let dlat_m = (y[0] - 16.4637) * 110_700.0;
        let dlon_m = (x[0] - 107.5909) * 106_700.0;
        assert!(
            dlat_m.abs() < 0.05 && dlon_m.abs() < 0.05,
            "off by {dlon_m:.3} m E, {dlat_m:.3} m N"
        );
    }

    #[test]
    fn province_shorthand_uses_the_province_meridian() {
        let by_province = parse("VN2000:Thua_Thien_Hue").unwrap().to_proj4().unwrap();
        assert!(by_province.contains("+lon_0=107"), "{by_province}");
        let hue = parse("VN2000:Huế").unwrap().to_proj4().unwrap();
        assert_eq!(hue, by_province);
        assert!(matches!(parse("VN2000:Atlantis"), Err(CrsError::UnknownProvince(_))));
    }

    #[test]
    fn epsg_vn2000_gets_the_official_shift() {
        let srs = parse("EPSG:9214").unwrap();
        let t = to_wgs84(&srs).unwrap();
        let (mut x, mut y, mut z) = ([562897.886], [1820978.931], [0.0]);
        t.transform_coords(&mut x, &mut y, &mut z).unwrap();
        assert!(((y[0] - 16.4637) * 110_700.0).abs() < 0.05);
        assert!(((x[0] - 107.5909) * 106_700.0).abs() < 0.05);
    }

    #[test]
    fn epsg_keeps_the_authority_axis_order() {
        let to_4326 = between(&wgs84(), &epsg(4326).unwrap()).unwrap();
        let (mut x, mut y, mut z) = ([107.5909], [16.4637], [0.0]);
        to_4326.transform_coords(&mut x, &mut y, &mut z).unwrap();
        assert_eq!((x[0], y[0]), (16.4637, 107.5909));
        let to_tm3 = between(&wgs84(), &epsg(9214).unwrap()).unwrap();
        let (mut x, mut y) = ([107.5909], [16.4637]);
        to_tm3.transform_coords(&mut x, &mut y, &mut []).unwrap();
        assert!((x[0] - 562897.886).abs() < 0.05 && (y[0] - 1820978.931).abs() < 0.05, "{x:?} {y:?}");
    }

    #[test]
    fn nonsense_is_a_clear_error() {
        let err = parse("EPSG:999999").unwrap_err().to_string();
        assert!(err.contains("VN2000:TM3"), "{err}");
    }
}
