//! OGC API Features Part 2, CRS by reference: the CRSs bando answers in and reads `bbox` and
//! `filter` positions in (CRS84, EPSG:4326 in its latitude-first order, EPSG:3857, and VN-2000:
//! geographic, UTM 48N/49N and the provincial TM-3 zones), their URIs, and the conversions
//! between each and CRS84, the CRS of the store.
//!
//! Owns the list of offered CRSs and the conversion of geometries and positions. PROJ (through
//! `crate::crs`, which applies the official VN-2000 shift) does the arithmetic; its objects are not
//! `Send`, so each thread keeps the transforms it built, one per CRS and direction, built on
//! first use. Knows no documents and no HTTP.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use gdal::spatial_ref::CoordTransform;
use geo::MapCoordsInPlace;
use geo_types::{Coord, Geometry};

use super::{OgcError, CRS84};

const EPSG_PREFIX: &str = "http://www.opengis.net/def/crs/EPSG/0/";

/// The EPSG codes offered beside CRS84: WGS 84 (lat/lon), Web Mercator, VN-2000 geographic,
/// VN-2000 / UTM 48N and 49N, and the VN-2000 / TM-3 zones PROJ's database has.
const EPSG_CODES: &[u32] = &[
    4326, 3857, 4756, 3405, 3406, 9205, 9206, 9207, 9208, 9209, 9210, 9211, 9212, 9213, 9214, 9215, 9216, 9217, 9218, 5897, 5898, 5899,
];

/// A CRS a request may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Crs {
    Crs84,
    Epsg(u32),
}

impl Crs {
    pub fn uri(self) -> String {
        match self {
            Crs::Crs84 => CRS84.to_string(),
            Crs::Epsg(code) => format!("{EPSG_PREFIX}{code}"),
        }
    }

    /// Every CRS offered, as URIs, CRS84 first.
    pub fn offered() -> Vec<String> {
        std::iter::once(Crs::Crs84)
            .chain(EPSG_CODES.iter().map(|&c| Crs::Epsg(c)))
            .map(Crs::uri)
            .collect()
    }

    /// The CRS the parameter `name` gives as `text`: a URI, or a safe CURIE such as
    /// `[EPSG:9214]`; `EPSG:9214` and `CRS84` are taken too.
    pub fn parse(name: &str, text: &str) -> Result<Crs, OgcError> {
        let t = text.trim();
        let t = t.strip_prefix('[').and_then(|t| t.strip_suffix(']')).unwrap_or(t);
        let code = t
            .strip_prefix(EPSG_PREFIX)
            .or_else(|| t.strip_prefix("EPSG:"))
            .and_then(|c| c.parse::<u32>().ok());
        match code {
            _ if t == CRS84 || t == "OGC:CRS84" || t == "CRS84" => Ok(Crs::Crs84),
            Some(code) if EPSG_CODES.contains(&code) => Ok(Crs::Epsg(code)),
            _ => Err(OgcError::bad(
                name,
                format!(
                    "'{text}' is not a CRS this server offers; use {CRS84} or {EPSG_PREFIX}<code> with a code of {} (GET /ogc/collections/{{id}} lists them as \"crs\")",
                    EPSG_CODES.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
                ),
            )),
        }
    }

    /// `<uri>`, the value of a `Content-Crs` header.
    pub fn header(self) -> String {
        format!("<{}>", self.uri())
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Direction {
    FromCrs84,
    ToCrs84,
}

thread_local! {
    /// The transforms this thread built, by CRS and direction.
    static TRANSFORMS: RefCell<HashMap<(u32, Direction), Rc<CoordTransform>>> = RefCell::new(HashMap::new());
}

/// This thread's transform of `code` in `direction`, built on first use.
fn transform(code: u32, direction: Direction) -> Result<Rc<CoordTransform>, OgcError> {
    if let Some(t) = TRANSFORMS.with(|m| m.borrow().get(&(code, direction)).cloned()) {
        return Ok(t);
    }
    let built = (|| {
        let other = crate::crs::epsg(code)?;
        let crs84 = crate::crs::wgs84();
        match direction {
            Direction::FromCrs84 => crate::crs::between(&crs84, &other),
            Direction::ToCrs84 => crate::crs::between(&other, &crs84),
        }
    })()
    .map_err(|e| OgcError::NoTransform {
        crs: Crs::Epsg(code).uri(),
        reason: e.to_string(),
    })?;
    let built = Rc::new(built);
    TRANSFORMS.with(|m| m.borrow_mut().insert((code, direction), built.clone()));
    Ok(built)
}

/// Converts from CRS84 to one CRS (the `crs` of an answer); CRS84 itself costs nothing.
pub struct Output {
    crs: Crs,
    transform: Option<Rc<CoordTransform>>,
}

impl Output {
    pub fn new(crs: Crs) -> Result<Output, OgcError> {
        let transform = match crs {
            Crs::Crs84 => None,
            Crs::Epsg(code) => Some(transform(code, Direction::FromCrs84)?),
        };
        Ok(Output { crs, transform })
    }

    pub fn crs(&self) -> Crs {
        self.crs
    }

    /// `geometry` (CRS84) in the answer's CRS and axis order; `None` when no conversion is needed.
    pub fn geometry(&self, geometry: &Geometry<f64>) -> Result<Option<Geometry<f64>>, OgcError> {
        let Some(t) = &self.transform else { return Ok(None) };
        // Two walks of the same traversal: one collects the positions, PROJ converts them in one
        // call, the other puts them back.
        let mut out = geometry.clone();
        let seen = RefCell::new((Vec::new(), Vec::new()));
        out.map_coords_in_place(|c| {
            let mut s = seen.borrow_mut();
            s.0.push(c.x);
            s.1.push(c.y);
            c
        });
        let (mut xs, mut ys) = seen.into_inner();
        t.transform_coords(&mut xs, &mut ys, &mut []).map_err(|e| OgcError::NoTransform {
            crs: self.crs.uri(),
            reason: e.to_string(),
        })?;
        let next = std::cell::Cell::new(0);
        out.map_coords_in_place(|_| {
            let n = next.replace(next.get() + 1);
            Coord { x: xs[n], y: ys[n] }
        });
        Ok(Some(out))
    }
}

/// A position of `crs` (in its axis order) to CRS84 lon/lat; `None` when it has no place there.
pub fn to_crs84(crs: Crs) -> Result<impl Fn(Coord<f64>) -> Option<Coord<f64>>, OgcError> {
    let t = match crs {
        Crs::Crs84 => None,
        Crs::Epsg(code) => Some(transform(code, Direction::ToCrs84)?),
    };
    Ok(move |c: Coord<f64>| match &t {
        None => Some(c),
        Some(t) => {
            let (mut x, mut y) = ([c.x], [c.y]);
            t.transform_coords(&mut x, &mut y, &mut []).ok()?;
            Some(Coord { x: x[0], y: y[0] }).filter(|c| c.x.is_finite() && c.y.is_finite())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo_types::{line_string, Point};

    #[test]
    fn uris_and_curies_are_read_and_others_refused() {
        assert_eq!(Crs::parse("crs", CRS84).unwrap(), Crs::Crs84);
        let tm3 = Crs::parse("crs", "http://www.opengis.net/def/crs/EPSG/0/9214").unwrap();
        assert_eq!(tm3, Crs::Epsg(9214));
        assert_eq!(Crs::parse("crs", "[EPSG:9214]").unwrap(), tm3);
        assert_eq!(tm3.header(), "<http://www.opengis.net/def/crs/EPSG/0/9214>");
        for bad in ["EPSG:2056", "http://www.opengis.net/def/crs/EPSG/0/x", "WGS84", ""] {
            let e = Crs::parse("bbox-crs", bad).unwrap_err().to_string();
            assert!(e.contains("bbox-crs") && e.contains("9214"), "{e}");
        }
        assert_eq!(Crs::offered().len(), 1 + EPSG_CODES.len());
    }

    #[test]
    fn every_offered_crs_goes_both_ways() {
        let hue = Coord { x: 107.5909, y: 16.4637 };
        let line = Geometry::LineString(line_string![hue, Coord { x: 107.6, y: 16.47 }]);
        for uri in Crs::offered() {
            let crs = Crs::parse("crs", &uri).unwrap();
            let out = Output::new(crs).unwrap();
            let there = out.geometry(&line).unwrap().unwrap_or(line.clone());
            let Geometry::LineString(ls) = there else {
                panic!("{uri}: not a line")
            };
            let back = to_crs84(crs).unwrap()(ls.0[0]).unwrap();
            // 1e-8 degrees is about a millimetre (the datum shift does not invert exactly).
            assert!((back.x - hue.x).abs() < 1e-8 && (back.y - hue.y).abs() < 1e-8, "{uri}: {back:?}");
        }
        let lat_lon = Output::new(Crs::Epsg(4326)).unwrap();
        let swapped = lat_lon.geometry(&Geometry::Point(Point(hue))).unwrap().unwrap();
        assert_eq!(swapped, Geometry::Point(Point(Coord { x: hue.y, y: hue.x })));
    }
}
