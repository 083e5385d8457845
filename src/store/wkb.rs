//! GeoPackage binary geometry (GeoPackage 1.3 §2.1.3): a small header with the envelope, then
//! ISO WKB. Hand-written because the server decodes every stored geometry at start-up (a million
//! parcels must load in seconds) and this is a straight copy loop.

use geo_types::{Coord, Geometry, LineString, MultiLineString, MultiPoint, MultiPolygon, Point, Polygon};

use crate::feature::Bbox;

const WKB_POINT: u32 = 1;
const WKB_LINESTRING: u32 = 2;
const WKB_POLYGON: u32 = 3;
const WKB_MULTIPOINT: u32 = 4;
const WKB_MULTILINESTRING: u32 = 5;
const WKB_MULTIPOLYGON: u32 = 6;
const WKB_COLLECTION: u32 = 7;

/// Appends the GeoPackage blob of `geometry` (SRS 4326, little endian, xy envelope) to `out`.
pub fn encode_gpkg(geometry: &Geometry<f64>, bbox: Option<Bbox>, out: &mut Vec<u8>) {
    out.extend_from_slice(b"GP");
    out.push(0); // version 1
    match bbox {
        // flags: little endian (bit 0), envelope [minx, maxx, miny, maxy] (indicator 1 in bits 1-3)
        Some(b) => {
            out.push(0b0000_0011);
            out.extend_from_slice(&4326i32.to_le_bytes());
            for v in [b.west, b.east, b.south, b.north] {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        // empty geometry flag (bit 4), no envelope
        None => {
            out.push(0b0001_0001);
            out.extend_from_slice(&4326i32.to_le_bytes());
        }
    }
    write_wkb(geometry, out);
}

/// Appends `geometry` as ISO WKB (little endian, xy), the form checksums of stored geometry hash.
pub fn encode_wkb(geometry: &Geometry<f64>, out: &mut Vec<u8>) {
    write_wkb(geometry, out);
}

/// Appends `geometry` as PostGIS EWKB with SRID 4326 (little endian), the binary form a
/// `geometry(..., 4326)` column takes in `COPY ... (FORMAT binary)`.
pub fn encode_ewkb_4326(geometry: &Geometry<f64>, out: &mut Vec<u8>) {
    const EWKB_SRID: u32 = 0x2000_0000;
    let start = out.len();
    write_wkb(geometry, out);
    // The top-level header is byte order then type: flag the SRID and put it after the type.
    let type_at = start + 1..start + 5;
    let ty = u32::from_le_bytes([out[start + 1], out[start + 2], out[start + 3], out[start + 4]]) | EWKB_SRID;
    out[type_at].copy_from_slice(&ty.to_le_bytes());
    out.splice(start + 5..start + 5, 4326u32.to_le_bytes());
}

fn write_header(out: &mut Vec<u8>, ty: u32) {
    out.push(1);
    out.extend_from_slice(&ty.to_le_bytes());
}

fn write_coords(out: &mut Vec<u8>, line: &LineString<f64>) {
    out.extend_from_slice(&(line.0.len() as u32).to_le_bytes());
    for c in &line.0 {
        out.extend_from_slice(&c.x.to_le_bytes());
        out.extend_from_slice(&c.y.to_le_bytes());
    }
}

fn write_polygon_body(out: &mut Vec<u8>, p: &Polygon<f64>) {
    let rings = if p.exterior().0.is_empty() { 0 } else { 1 + p.interiors().len() };
    out.extend_from_slice(&(rings as u32).to_le_bytes());
    if rings > 0 {
        write_coords(out, p.exterior());
        for ring in p.interiors() {
            write_coords(out, ring);
        }
    }
}

fn write_wkb(geometry: &Geometry<f64>, out: &mut Vec<u8>) {
    match geometry {
        Geometry::Point(p) => {
            write_header(out, WKB_POINT);
            out.extend_from_slice(&p.x().to_le_bytes());
            out.extend_from_slice(&p.y().to_le_bytes());
        }
        Geometry::LineString(l) => {
            write_header(out, WKB_LINESTRING);
            write_coords(out, l);
        }
        Geometry::Polygon(p) => {
            write_header(out, WKB_POLYGON);
            write_polygon_body(out, p);
        }
        Geometry::MultiPoint(mp) => {
            write_header(out, WKB_MULTIPOINT);
            out.extend_from_slice(&(mp.0.len() as u32).to_le_bytes());
            for p in &mp.0 {
                write_wkb(&Geometry::Point(*p), out);
            }
        }
        Geometry::MultiLineString(ml) => {
            write_header(out, WKB_MULTILINESTRING);
            out.extend_from_slice(&(ml.0.len() as u32).to_le_bytes());
            for l in &ml.0 {
                write_header(out, WKB_LINESTRING);
                write_coords(out, l);
            }
        }
        Geometry::MultiPolygon(mp) => {
            write_header(out, WKB_MULTIPOLYGON);
            out.extend_from_slice(&(mp.0.len() as u32).to_le_bytes());
            for p in &mp.0 {
                write_header(out, WKB_POLYGON);
                write_polygon_body(out, p);
            }
        }
        Geometry::GeometryCollection(gc) => {
            write_header(out, WKB_COLLECTION);
            out.extend_from_slice(&(gc.0.len() as u32).to_le_bytes());
            for g in &gc.0 {
                write_wkb(g, out);
            }
        }
        Geometry::Line(l) => write_wkb(&Geometry::LineString(LineString::from(vec![l.start, l.end])), out),
        Geometry::Rect(r) => write_wkb(&Geometry::Polygon(r.to_polygon()), out),
        Geometry::Triangle(t) => write_wkb(&Geometry::Polygon(t.to_polygon()), out),
    }
}

/// The bounding box a GeoPackage blob carries in its header.
pub struct Envelope {
    pub min_x: f64,
    pub max_x: f64,
    pub min_y: f64,
    pub max_y: f64,
}

/// The envelope of a GeoPackage blob: from its header when present and finite, else computed
/// from the geometry; `None` for empty geometries and blobs that do not decode.
#[deny(clippy::arithmetic_side_effects)]
pub fn envelope(blob: &[u8]) -> Option<Envelope> {
    wkb_of(blob).ok()??;
    let flags = *blob.get(3)?;
    if let Some(envelope) = header_envelope(blob, flags).filter(|_| (flags >> 1) & 0b111 != 0) {
        return Some(envelope);
    }
    let geometry = decode_gpkg(blob).ok()??;
    let b = Bbox::of(&geometry)?;
    Some(Envelope {
        min_x: b.west,
        max_x: b.east,
        min_y: b.south,
        max_y: b.north,
    })
}

/// The x and y range at the start of the header's envelope, when all four are finite.
fn header_envelope(blob: &[u8], flags: u8) -> Option<Envelope> {
    let value = |bytes: &[u8]| {
        let b: [u8; 8] = bytes.try_into().ok()?;
        let v = if flags & 1 == 1 {
            f64::from_le_bytes(b)
        } else {
            f64::from_be_bytes(b)
        };
        v.is_finite().then_some(v)
    };
    let values: Vec<f64> = blob.get(8..40)?.chunks_exact(8).map(value).collect::<Option<_>>()?;
    let [min_x, max_x, min_y, max_y] = <[f64; 4]>::try_from(values).ok()?;
    Some(Envelope {
        min_x,
        max_x,
        min_y,
        max_y,
    })
}

/// Why a GeoPackage blob cannot be decoded; `at` is a byte offset into the WKB after the header.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum WkbError {
    #[error("not a GeoPackage geometry blob (missing 'GP' magic)")]
    NotGeoPackage,
    #[error("invalid GeoPackage envelope indicator {0} (0-4 are defined)")]
    BadEnvelope(u8),
    #[error("the GeoPackage header is cut short")]
    TruncatedHeader,
    #[error("the WKB ends inside a value at byte {at}")]
    Truncated { at: usize },
    #[error("invalid WKB byte order marker {marker} at byte {at} (0 or 1)")]
    BadByteOrder { marker: u8, at: usize },
    #[error("unsupported WKB geometry type {0} (points, lines, polygons, their multi forms and collections, in 2D, Z, M or ZM)")]
    UnsupportedType(u32),
    #[error("WKB count {count} at byte {at} is more than the {remaining} bytes left can hold")]
    CountTooLarge { count: u32, at: usize, remaining: usize },
    #[error("WKB collections nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
    #[error("a member of a WKB multi-geometry is not a {0}")]
    WrongMember(&'static str),
    #[error("WKB coordinate at byte {at} is not a finite number")]
    NonFinite { at: usize },
}

/// Deepest nesting of collections a blob may have: real data nests two or three levels, and a
/// crafted blob must not exhaust the stack.
pub const MAX_DEPTH: usize = 32;

/// Smallest encoding of a member geometry (byte order, type, an empty count) and of a ring (its
/// count): what a count is checked against before anything is allocated.
const MIN_MEMBER_BYTES: usize = 9;
const MIN_RING_BYTES: usize = 4;

/// Decodes a GeoPackage blob; `Ok(None)` for an empty geometry (the header's empty flag, or a
/// point whose coordinates are both NaN, as GeoPackage writes an empty point).
#[deny(clippy::arithmetic_side_effects)]
pub fn decode_gpkg(blob: &[u8]) -> Result<Option<Geometry<f64>>, WkbError> {
    let wkb = wkb_of(blob)?;
    let Some(wkb) = wkb else { return Ok(None) };
    decode_wkb(wkb)
}

/// Decodes plain ISO WKB (what PostGIS `ST_AsBinary` returns); `Ok(None)` for an empty geometry.
#[deny(clippy::arithmetic_side_effects)]
pub fn decode_wkb(wkb: &[u8]) -> Result<Option<Geometry<f64>>, WkbError> {
    WkbReader { buf: wkb, pos: 0 }.geometry(0)
}

/// The WKB after the GeoPackage header; `None` when the header flags the geometry empty.
#[deny(clippy::arithmetic_side_effects)]
fn wkb_of(blob: &[u8]) -> Result<Option<&[u8]>, WkbError> {
    if blob.len() < 8 || &blob[0..2] != b"GP" {
        return Err(WkbError::NotGeoPackage);
    }
    let flags = blob[3];
    if flags & 0b0001_0000 != 0 {
        return Ok(None);
    }
    // 8 bytes of magic, version, flags and SRS id, then the envelope.
    let header_len = match (flags >> 1) & 0b111 {
        0 => 8,
        1 => 40,
        2 | 3 => 56,
        4 => 72,
        other => return Err(WkbError::BadEnvelope(other)),
    };
    blob.get(header_len..).map(Some).ok_or(WkbError::TruncatedHeader)
}

struct WkbReader<'a> {
    buf: &'a [u8],
    pos: usize,
}

#[deny(clippy::arithmetic_side_effects)]
impl WkbReader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], WkbError> {
        let truncated = WkbError::Truncated { at: self.pos };
        let end = self.pos.checked_add(N).ok_or(truncated.clone())?;
        let bytes: [u8; N] = self.buf.get(self.pos..end).and_then(|b| b.try_into().ok()).ok_or(truncated)?;
        self.pos = end;
        Ok(bytes)
    }

    fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    fn u32(&mut self, le: bool) -> Result<u32, WkbError> {
        let b = self.take::<4>()?;
        Ok(if le { u32::from_le_bytes(b) } else { u32::from_be_bytes(b) })
    }

    fn f64(&mut self, le: bool) -> Result<f64, WkbError> {
        let b = self.take::<8>()?;
        Ok(if le { f64::from_le_bytes(b) } else { f64::from_be_bytes(b) })
    }

    /// Reads a coordinate, skipping z and m (not checked: the store keeps x and y only).
    fn coord(&mut self, le: bool, dims: usize) -> Result<Coord<f64>, WkbError> {
        let x = self.f64(le)?;
        let y = self.f64(le)?;
        for _ in 2..dims {
            self.f64(le)?;
        }
        Ok(Coord { x, y })
    }

    /// A coordinate of a line or ring: both values finite.
    fn finite_coord(&mut self, le: bool, dims: usize) -> Result<Coord<f64>, WkbError> {
        let at = self.pos;
        let c = self.coord(le, dims)?;
        if c.x.is_finite() && c.y.is_finite() {
            Ok(c)
        } else {
            Err(WkbError::NonFinite { at })
        }
    }

    /// A count of elements of at least `min_bytes` each, refused when the bytes left cannot
    /// hold them (so a crafted count never reserves memory the blob does not back).
    fn count(&mut self, le: bool, min_bytes: usize) -> Result<usize, WkbError> {
        let at = self.pos;
        let count = self.u32(le)?;
        let n = usize::try_from(count).unwrap_or(usize::MAX);
        let remaining = self.remaining();
        match n.checked_mul(min_bytes) {
            Some(needed) if needed <= remaining => Ok(n),
            _ => Err(WkbError::CountTooLarge { count, at, remaining }),
        }
    }

    fn line(&mut self, le: bool, dims: usize) -> Result<LineString<f64>, WkbError> {
        let n = self.count(le, dims.saturating_mul(8))?;
        let mut coords = Vec::with_capacity(n);
        for _ in 0..n {
            coords.push(self.finite_coord(le, dims)?);
        }
        Ok(LineString(coords))
    }

    fn polygon(&mut self, le: bool, dims: usize) -> Result<Polygon<f64>, WkbError> {
        let rings = self.count(le, MIN_RING_BYTES)?;
        if rings == 0 {
            return Ok(Polygon::new(LineString(vec![]), vec![]));
        }
        let exterior = self.line(le, dims)?;
        let mut interiors = Vec::with_capacity(rings.saturating_sub(1));
        for _ in 1..rings {
            interiors.push(self.line(le, dims)?);
        }
        Ok(Polygon::new(exterior, interiors))
    }

    /// The members of a multi-geometry or collection, each checked to be of the expected type;
    /// empty points are left out.
    fn members<T>(
        &mut self,
        le: bool,
        depth: usize,
        what: &'static str,
        extract: impl Fn(Geometry<f64>) -> Option<T>,
    ) -> Result<Vec<T>, WkbError> {
        let n = self.count(le, MIN_MEMBER_BYTES)?;
        let mut members = Vec::with_capacity(n);
        for _ in 0..n {
            if let Some(member) = self.geometry(depth.saturating_add(1))? {
                members.push(extract(member).ok_or(WkbError::WrongMember(what))?);
            }
        }
        Ok(members)
    }

    fn byte_order(&mut self) -> Result<bool, WkbError> {
        let at = self.pos;
        match self.take::<1>()?[0] {
            0 => Ok(false),
            1 => Ok(true),
            marker => Err(WkbError::BadByteOrder { marker, at }),
        }
    }

    /// One geometry at nesting `depth`; `None` for an empty point.
    fn geometry(&mut self, depth: usize) -> Result<Option<Geometry<f64>>, WkbError> {
        if depth > MAX_DEPTH {
            return Err(WkbError::TooDeep);
        }
        let le = self.byte_order()?;
        let (base, dims) = geometry_type(self.u32(le)?)?;
        Ok(Some(match base {
            Base::Point => {
                let at = self.pos;
                let c = self.coord(le, dims)?;
                if c.x.is_nan() && c.y.is_nan() {
                    return Ok(None);
                }
                if !(c.x.is_finite() && c.y.is_finite()) {
                    return Err(WkbError::NonFinite { at });
                }
                Geometry::Point(Point(c))
            }
            Base::LineString => Geometry::LineString(self.line(le, dims)?),
            Base::Polygon => Geometry::Polygon(self.polygon(le, dims)?),
            Base::MultiPoint => Geometry::MultiPoint(MultiPoint(self.members(le, depth, "point", |g| match g {
                Geometry::Point(p) => Some(p),
                _ => None,
            })?)),
            Base::MultiLineString => Geometry::MultiLineString(MultiLineString(self.members(le, depth, "linestring", |g| match g {
                Geometry::LineString(l) => Some(l),
                _ => None,
            })?)),
            Base::MultiPolygon => Geometry::MultiPolygon(MultiPolygon(self.members(le, depth, "polygon", |g| match g {
                Geometry::Polygon(p) => Some(p),
                _ => None,
            })?)),
            Base::Collection => Geometry::GeometryCollection(geo_types::GeometryCollection(self.members(le, depth, "geometry", Some)?)),
        }))
    }
}

/// The seven WKB base types.
enum Base {
    Point,
    LineString,
    Polygon,
    MultiPoint,
    MultiLineString,
    MultiPolygon,
    Collection,
}

/// The base type and the number of values per coordinate of a WKB type code. ISO WKB adds 1000
/// (Z), 2000 (M) or 3000 (ZM); EWKB sets the high bits 0x8000_0000 (Z) and 0x4000_0000 (M).
#[deny(clippy::arithmetic_side_effects)]
fn geometry_type(raw: u32) -> Result<(Base, usize), WkbError> {
    const EWKB_Z: u32 = 0x8000_0000;
    const EWKB_M: u32 = 0x4000_0000;
    let ewkb = (raw & EWKB_Z != 0, raw & EWKB_M != 0);
    let iso = raw & !(EWKB_Z | EWKB_M);
    let (z, m) = match (iso / 1000, ewkb) {
        (0, zm) => zm,
        (1, (false, false)) => (true, false),
        (2, (false, false)) => (false, true),
        (3, (false, false)) => (true, true),
        _ => return Err(WkbError::UnsupportedType(raw)),
    };
    let base = match iso % 1000 {
        WKB_POINT => Base::Point,
        WKB_LINESTRING => Base::LineString,
        WKB_POLYGON => Base::Polygon,
        WKB_MULTIPOINT => Base::MultiPoint,
        WKB_MULTILINESTRING => Base::MultiLineString,
        WKB_MULTIPOLYGON => Base::MultiPolygon,
        WKB_COLLECTION => Base::Collection,
        _ => return Err(WkbError::UnsupportedType(raw)),
    };
    let dims = match (z, m) {
        (false, false) => 2,
        (true, true) => 4,
        _ => 3,
    };
    Ok((base, dims))
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo_types::{line_string, polygon};

    #[test]
    fn every_geometry_type_round_trips() {
        let poly = polygon!(
            exterior: [(x: 0., y: 0.), (x: 4., y: 0.), (x: 4., y: 4.), (x: 0., y: 0.)],
            interiors: [[(x: 1., y: 1.), (x: 2., y: 1.), (x: 2., y: 2.), (x: 1., y: 1.)]],
        );
        let geometries: Vec<Geometry<f64>> = vec![
            Point::new(107.5, 16.4).into(),
            line_string![(x: 1., y: 2.), (x: 3., y: 4.)].into(),
            poly.clone().into(),
            MultiPoint(vec![Point::new(1., 2.), Point::new(3., 4.)]).into(),
            MultiLineString(vec![line_string![(x: 1., y: 2.), (x: 3., y: 4.)]]).into(),
            MultiPolygon(vec![poly.clone(), poly]).into(),
        ];
        for g in geometries {
            let mut blob = Vec::new();
            encode_gpkg(&g, Bbox::of(&g), &mut blob);
            assert_eq!(decode_gpkg(&blob).unwrap(), Some(g));
        }
    }

    /// A GeoPackage header without envelope, then `wkb`.
    fn blob(wkb: &[u8]) -> Vec<u8> {
        let mut b = b"GP\0\x01\xe6\x10\0\0".to_vec();
        b.extend_from_slice(wkb);
        b
    }

    fn wkb_point(x: f64, y: f64) -> Vec<u8> {
        let mut w = vec![1, 1, 0, 0, 0];
        w.extend_from_slice(&x.to_le_bytes());
        w.extend_from_slice(&y.to_le_bytes());
        w
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert_eq!(decode_gpkg(b"GP\0\x0b\xe6\x10\0\0"), Err(WkbError::BadEnvelope(5)));
        assert_eq!(decode_gpkg(b"GP\0\x03\xe6\x10\0\0"), Err(WkbError::TruncatedHeader));
        assert_eq!(decode_gpkg(b"nonsense"), Err(WkbError::NotGeoPackage));
        let mut huge_count = blob(&[1, 3, 0, 0, 0]);
        huge_count.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            decode_gpkg(&huge_count),
            Err(WkbError::CountTooLarge { count: u32::MAX, .. })
        ));
        assert_eq!(
            decode_gpkg(&blob(&[2, 1, 0, 0, 0])),
            Err(WkbError::BadByteOrder { marker: 2, at: 0 })
        );
        // 5001 is no ISO dimension, and ISO and EWKB dimension flags together are contradictory.
        for ty in [5001u32, 0x8000_03E9, 8, 0] {
            let mut w = vec![1];
            w.extend_from_slice(&ty.to_le_bytes());
            assert_eq!(decode_gpkg(&blob(&w)), Err(WkbError::UnsupportedType(ty)));
        }
    }

    #[test]
    fn z_m_and_big_endian_coordinates_read_as_xy() {
        let mut zm = vec![0, 0, 0, 0x0B, 0xB9]; // big endian, 3001 = Point ZM
        for v in [1.0f64, 2.0, 3.0, 4.0] {
            zm.extend_from_slice(&v.to_be_bytes());
        }
        assert_eq!(decode_gpkg(&blob(&zm)), Ok(Some(Point::new(1.0, 2.0).into())));
        let mut ewkb_z = vec![1];
        ewkb_z.extend_from_slice(&0x8000_0001u32.to_le_bytes());
        for v in [5.0f64, 6.0, 7.0] {
            ewkb_z.extend_from_slice(&v.to_le_bytes());
        }
        assert_eq!(decode_gpkg(&blob(&ewkb_z)), Ok(Some(Point::new(5.0, 6.0).into())));
    }

    #[test]
    fn non_finite_coordinates_are_refused_and_nan_points_are_empty() {
        assert_eq!(decode_gpkg(&blob(&wkb_point(f64::NAN, f64::NAN))), Ok(None));
        assert_eq!(
            decode_gpkg(&blob(&wkb_point(f64::INFINITY, 1.0))),
            Err(WkbError::NonFinite { at: 5 })
        );
        assert_eq!(decode_gpkg(&blob(&wkb_point(1.0, f64::NAN))), Err(WkbError::NonFinite { at: 5 }));
        let mut line = vec![1, 2, 0, 0, 0, 2, 0, 0, 0];
        line.extend_from_slice(&wkb_point(0.0, 0.0)[5..]);
        line.extend_from_slice(&wkb_point(f64::NEG_INFINITY, 0.0)[5..]);
        assert_eq!(decode_gpkg(&blob(&line)), Err(WkbError::NonFinite { at: 25 }));
        let mut multi = vec![1, 4, 0, 0, 0, 2, 0, 0, 0];
        multi.extend_from_slice(&wkb_point(f64::NAN, f64::NAN));
        multi.extend_from_slice(&wkb_point(3.0, 4.0));
        assert_eq!(
            decode_gpkg(&blob(&multi)),
            Ok(Some(MultiPoint(vec![Point::new(3.0, 4.0)]).into())),
            "an empty member point is left out"
        );
    }

    #[test]
    fn collections_nest_up_to_the_depth_limit() {
        let nested = |levels: usize| {
            let mut w = Vec::new();
            for _ in 0..levels {
                w.extend_from_slice(&[1, 7, 0, 0, 0, 1, 0, 0, 0]);
            }
            w.extend_from_slice(&wkb_point(1.0, 2.0));
            blob(&w)
        };
        assert!(decode_gpkg(&nested(MAX_DEPTH)).unwrap().is_some());
        assert_eq!(decode_gpkg(&nested(MAX_DEPTH + 1)), Err(WkbError::TooDeep));
        // Far past any stack: refused at the limit, not by overflowing.
        assert_eq!(decode_gpkg(&nested(100_000)), Err(WkbError::TooDeep));
    }

    #[test]
    fn envelopes_come_from_the_header_unless_it_is_not_finite() {
        let point = Geometry::Point(Point::new(107.5, 16.4));
        let mut b = Vec::new();
        encode_gpkg(&point, Bbox::of(&point), &mut b);
        assert_eq!(envelope(&b).map(|e| (e.min_x, e.max_y)), Some((107.5, 16.4)));
        b[8..16].copy_from_slice(&f64::NAN.to_le_bytes());
        assert_eq!(envelope(&b).map(|e| e.min_x), Some(107.5), "computed from the geometry");
        assert!(envelope(b"GP\0\x11\xe6\x10\0\0").is_none(), "empty");
    }
}
