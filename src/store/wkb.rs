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

/// The envelope of a GeoPackage blob: from its header when present, else computed from the
/// geometry; `None` for empty geometries and blobs that are not GeoPackage geometries.
pub fn envelope(blob: &[u8]) -> Option<Envelope> {
    if blob.len() < 8 || &blob[0..2] != b"GP" || blob[3] & 0b0001_0000 != 0 {
        return None;
    }
    let le = blob[3] & 1 == 1;
    if (blob[3] >> 1) & 0b111 != 0 && blob.len() >= 40 {
        let read = |i: usize| {
            let b: [u8; 8] = blob[8 + i * 8..16 + i * 8].try_into().expect("8 bytes");
            if le {
                f64::from_le_bytes(b)
            } else {
                f64::from_be_bytes(b)
            }
        };
        return Some(Envelope {
            min_x: read(0),
            max_x: read(1),
            min_y: read(2),
            max_y: read(3),
        });
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

/// Decodes a GeoPackage blob; `Ok(None)` for an empty geometry.
pub fn decode_gpkg(blob: &[u8]) -> Result<Option<Geometry<f64>>, String> {
    if blob.len() < 8 || &blob[0..2] != b"GP" {
        return Err("not a GeoPackage geometry blob (missing 'GP' magic)".into());
    }
    let flags = blob[3];
    if flags & 0b0001_0000 != 0 {
        return Ok(None);
    }
    let envelope_len = match (flags >> 1) & 0b111 {
        0 => 0,
        1 => 32,
        2 | 3 => 48,
        4 => 64,
        other => return Err(format!("invalid envelope indicator {other}")),
    };
    let start = 8 + envelope_len;
    if blob.len() < start {
        return Err("truncated header".into());
    }
    let mut reader = WkbReader {
        buf: &blob[start..],
        pos: 0,
    };
    reader.geometry().map(Some)
}

struct WkbReader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl WkbReader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let bytes = self.buf.get(self.pos..self.pos + N).ok_or("truncated WKB")?;
        self.pos += N;
        Ok(bytes.try_into().expect("slice has length N"))
    }

    fn u32(&mut self, le: bool) -> Result<u32, String> {
        let b = self.take::<4>()?;
        Ok(if le { u32::from_le_bytes(b) } else { u32::from_be_bytes(b) })
    }

    fn f64(&mut self, le: bool) -> Result<f64, String> {
        let b = self.take::<8>()?;
        Ok(if le { f64::from_le_bytes(b) } else { f64::from_be_bytes(b) })
    }

    /// Reads a coordinate, skipping z and m; `dims` is 2, 3 or 4.
    fn coord(&mut self, le: bool, dims: usize) -> Result<Coord<f64>, String> {
        let x = self.f64(le)?;
        let y = self.f64(le)?;
        for _ in 2..dims {
            self.f64(le)?;
        }
        Ok(Coord { x, y })
    }

    fn count(&mut self, le: bool) -> Result<usize, String> {
        let n = self.u32(le)? as usize;
        // Each element takes at least 16 bytes: refuse counts the buffer cannot hold.
        if n > self.buf.len() {
            return Err("WKB element count exceeds the blob".into());
        }
        Ok(n)
    }

    fn line(&mut self, le: bool, dims: usize) -> Result<LineString<f64>, String> {
        let n = self.count(le)?;
        let mut coords = Vec::with_capacity(n);
        for _ in 0..n {
            coords.push(self.coord(le, dims)?);
        }
        Ok(LineString(coords))
    }

    fn polygon(&mut self, le: bool, dims: usize) -> Result<Polygon<f64>, String> {
        let rings = self.count(le)?;
        if rings == 0 {
            return Ok(Polygon::new(LineString(vec![]), vec![]));
        }
        let exterior = self.line(le, dims)?;
        let mut interiors = Vec::with_capacity(rings - 1);
        for _ in 1..rings {
            interiors.push(self.line(le, dims)?);
        }
        Ok(Polygon::new(exterior, interiors))
    }

    /// The members of a multi-geometry or collection, each checked to be of the expected type.
    fn members<T>(&mut self, le: bool, what: &str, extract: impl Fn(Geometry<f64>) -> Option<T>) -> Result<Vec<T>, String> {
        let n = self.count(le)?;
        let mut members = Vec::with_capacity(n);
        for _ in 0..n {
            members.push(extract(self.geometry()?).ok_or_else(|| format!("member of a multi-geometry is not a {what}"))?);
        }
        Ok(members)
    }

    fn geometry(&mut self) -> Result<Geometry<f64>, String> {
        let le = self.take::<1>()?[0] == 1;
        let raw = self.u32(le)?;
        // ISO WKB encodes z/m as +1000/+2000/+3000; EWKB-style high bits are also accepted.
        let (base, dims) = match raw {
            t if t & 0x8000_0000 != 0 || t & 0x4000_0000 != 0 => {
                let extra = (t & 0x8000_0000 != 0) as usize + (t & 0x4000_0000 != 0) as usize;
                (t & 0xFFFF, 2 + extra)
            }
            t => (t % 1000, 2 + [0, 1, 1, 2][(t / 1000) as usize % 4]),
        };
        Ok(match base {
            WKB_POINT => Geometry::Point(Point(self.coord(le, dims)?)),
            WKB_LINESTRING => Geometry::LineString(self.line(le, dims)?),
            WKB_POLYGON => Geometry::Polygon(self.polygon(le, dims)?),
            WKB_MULTIPOINT => Geometry::MultiPoint(MultiPoint(self.members(le, "point", |g| match g {
                Geometry::Point(p) => Some(p),
                _ => None,
            })?)),
            WKB_MULTILINESTRING => Geometry::MultiLineString(MultiLineString(self.members(le, "linestring", |g| match g {
                Geometry::LineString(l) => Some(l),
                _ => None,
            })?)),
            WKB_MULTIPOLYGON => Geometry::MultiPolygon(MultiPolygon(self.members(le, "polygon", |g| match g {
                Geometry::Polygon(p) => Some(p),
                _ => None,
            })?)),
            WKB_COLLECTION => Geometry::GeometryCollection(geo_types::GeometryCollection(self.members(le, "geometry", Some)?)),
            other => return Err(format!("unsupported WKB geometry type {other}")),
        })
    }
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

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(decode_gpkg(b"GP\0\x03\xe6\x10\0\0").is_err());
        assert!(decode_gpkg(b"nonsense").is_err());
        let mut blob = b"GP\0\x01\xe6\x10\0\0\x01\x03\0\0\0".to_vec();
        blob.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode_gpkg(&blob).is_err());
    }
}
