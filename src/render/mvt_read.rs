//! Reads back the Mapbox Vector Tiles the tile path makes, so the renderer draws exactly what a
//! client of `/scenarios/{id}/{z}/{x}/{y}.mvt` would (same features, same policy, same
//! generalisation). Geometry stays command-encoded until a layer draws it; attributes are
//! looked up by key name for expressions.
//!
//! Owns MVT decoding. Bounded by its input: a truncated or malformed message ends decoding of
//! its part without panicking (the tiles come from bando itself, but a bug must not crash a
//! request). Knows nothing of styles or drawing.

use std::sync::Arc;

use super::expr::{self, Value};

/// One decoded layer of a tile.
pub struct TileLayer {
    pub name: String,
    pub extent: f64,
    keys: Vec<String>,
    values: Vec<Value>,
    pub features: Vec<TileFeature>,
}

/// One feature: its geometry type (1 point, 2 line, 3 polygon), tags and geometry commands.
pub struct TileFeature {
    pub kind: u8,
    tags: Vec<u32>,
    geometry: Vec<u32>,
}

/// A feature seen together with its layer (for expressions).
pub struct FeatureRef<'a> {
    pub layer: &'a TileLayer,
    pub feature: &'a TileFeature,
}

impl expr::Feature for FeatureRef<'_> {
    fn property(&self, name: &str) -> Value {
        let tags = &self.feature.tags;
        tags.chunks_exact(2)
            .find(|kv| self.layer.keys.get(kv[0] as usize).is_some_and(|k| k == name))
            .and_then(|kv| self.layer.values.get(kv[1] as usize).cloned())
            .unwrap_or(Value::Null)
    }

    fn geometry_type(&self) -> &'static str {
        match self.feature.kind {
            1 => "Point",
            2 => "LineString",
            _ => "Polygon",
        }
    }
}

impl TileFeature {
    /// The geometry as parts (rings, lines, or points), in tile units.
    pub fn parts(&self) -> Vec<Vec<(f64, f64)>> {
        let mut parts: Vec<Vec<(f64, f64)>> = Vec::new();
        let (mut x, mut y) = (0i64, 0i64);
        let mut i = 0;
        let g = &self.geometry;
        while i < g.len() {
            let (id, count) = (g[i] & 7, (g[i] >> 3) as usize);
            i += 1;
            match id {
                1 | 2 => {
                    for _ in 0..count {
                        let (Some(&dx), Some(&dy)) = (g.get(i), g.get(i + 1)) else {
                            return parts;
                        };
                        i += 2;
                        x += unzigzag(dx);
                        y += unzigzag(dy);
                        if id == 1 && self.kind != 1 {
                            parts.push(Vec::new());
                        }
                        match parts.last_mut() {
                            Some(part) if !(id == 1 && self.kind == 1) => part.push((x as f64, y as f64)),
                            _ => parts.push(vec![(x as f64, y as f64)]),
                        }
                    }
                }
                7 => {
                    if let Some(ring) = parts.last_mut() {
                        if let Some(&first) = ring.first() {
                            ring.push(first);
                        }
                    }
                }
                _ => return parts,
            }
        }
        parts
    }
}

fn unzigzag(v: u32) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// A protobuf reader over a byte slice.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes, at: 0 }
    }

    fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self.bytes.get(self.at)?;
            self.at += 1;
            v |= ((b & 0x7f) as u64) << shift;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let len = self.varint()? as usize;
        let end = self.at.checked_add(len).filter(|&e| e <= self.bytes.len())?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Some(out)
    }

    /// The next field's number and wire type, or None at the end.
    fn key(&mut self) -> Option<(u32, u8)> {
        if self.at >= self.bytes.len() {
            return None;
        }
        let k = self.varint()?;
        Some(((k >> 3) as u32, (k & 7) as u8))
    }

    fn skip(&mut self, wire: u8) -> Option<()> {
        match wire {
            0 => self.varint().map(|_| ()),
            1 => self.advance(8),
            2 => self.bytes().map(|_| ()),
            5 => self.advance(4),
            _ => None,
        }
    }

    fn advance(&mut self, n: usize) -> Option<()> {
        self.at = self.at.checked_add(n).filter(|&e| e <= self.bytes.len())?;
        Some(())
    }

    fn packed(&mut self) -> Option<Vec<u32>> {
        let mut inner = Reader::new(self.bytes()?);
        let mut out = Vec::new();
        while inner.at < inner.bytes.len() {
            out.push(inner.varint()? as u32);
        }
        Some(out)
    }
}

/// Decodes a tile's layers; a malformed part ends the decoding of that part.
pub fn decode(tile: &[u8]) -> Vec<TileLayer> {
    let mut r = Reader::new(tile);
    let mut layers = Vec::new();
    while let Some((field, wire)) = r.key() {
        if (field, wire) == (3, 2) {
            match r.bytes() {
                Some(layer) => layers.push(decode_layer(layer)),
                None => break,
            }
        } else if r.skip(wire).is_none() {
            break;
        }
    }
    layers
}

fn decode_layer(bytes: &[u8]) -> TileLayer {
    let mut layer = TileLayer {
        name: String::new(),
        extent: 4096.0,
        keys: Vec::new(),
        values: Vec::new(),
        features: Vec::new(),
    };
    let mut r = Reader::new(bytes);
    while let Some((field, wire)) = r.key() {
        let ok = match (field, wire) {
            (1, 2) => r.bytes().map(|b| layer.name = String::from_utf8_lossy(b).into_owned()),
            (2, 2) => r.bytes().map(|b| layer.features.push(decode_feature(b))),
            (3, 2) => r.bytes().map(|b| layer.keys.push(String::from_utf8_lossy(b).into_owned())),
            (4, 2) => r.bytes().map(|b| layer.values.push(decode_value(b))),
            (5, 0) => r.varint().map(|e| layer.extent = e.max(1) as f64),
            _ => r.skip(wire),
        };
        if ok.is_none() {
            break;
        }
    }
    layer
}

fn decode_feature(bytes: &[u8]) -> TileFeature {
    let mut f = TileFeature {
        kind: 0,
        tags: Vec::new(),
        geometry: Vec::new(),
    };
    let mut r = Reader::new(bytes);
    while let Some((field, wire)) = r.key() {
        let ok = match (field, wire) {
            (2, 2) => r.packed().map(|t| f.tags = t),
            (3, 0) => r.varint().map(|k| f.kind = k.min(3) as u8),
            (4, 2) => r.packed().map(|g| f.geometry = g),
            _ => r.skip(wire),
        };
        if ok.is_none() {
            break;
        }
    }
    f
}

fn decode_value(bytes: &[u8]) -> Value {
    let mut r = Reader::new(bytes);
    let mut value = Value::Null;
    while let Some((field, wire)) = r.key() {
        value = match (field, wire) {
            (1, 2) => match r.bytes() {
                Some(b) => Value::Text(Arc::from(String::from_utf8_lossy(b).as_ref())),
                None => break,
            },
            (2, 5) => match r.bytes.get(r.at..r.at + 4) {
                Some(b) => {
                    r.at += 4;
                    Value::Number(f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64)
                }
                None => break,
            },
            (3, 1) => match r.bytes.get(r.at..r.at + 8) {
                Some(b) => {
                    r.at += 8;
                    Value::Number(f64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
                }
                None => break,
            },
            (4 | 5, 0) => match r.varint() {
                Some(v) => Value::Number(v as i64 as f64),
                None => break,
            },
            (6, 0) => match r.varint() {
                Some(v) => Value::Number(unzigzag_64(v) as f64),
                None => break,
            },
            (7, 0) => match r.varint() {
                Some(v) => Value::Bool(v != 0),
                None => break,
            },
            _ => {
                if r.skip(wire).is_none() {
                    break;
                }
                value
            }
        };
    }
    value
}

fn unzigzag_64(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::expr::Feature;
    use crate::tiles::mvt::LayerEncoder;
    use crate::tiles::shape::{ShapeKind, Shaper};

    #[test]
    fn a_tile_bando_encodes_reads_back_with_its_attributes_and_rings() {
        let mut shaper = Shaper::default();
        shaper.points = vec![[0, 0], [100, 0], [100, 100], [0, 100]];
        shaper.parts = vec![4];
        let keys = ["name", "floors"];
        let values = [crate::feature::Value::Text("Phường Đông Ba".into()), crate::feature::Value::Int(-3)];
        let mut encoder = LayerEncoder::new("wards", &keys);
        encoder.add(
            7,
            values.iter().enumerate().map(|(k, v)| (k as u32, v)),
            ShapeKind::Polygon,
            &shaper,
        );
        let mut tile = Vec::new();
        encoder.finish_into(&mut tile);

        let layers = decode(&tile);
        assert_eq!(layers.len(), 1);
        let layer = &layers[0];
        assert_eq!((layer.name.as_str(), layer.extent, layer.features.len()), ("wards", 4096.0, 1));
        let f = FeatureRef {
            layer,
            feature: &layer.features[0],
        };
        assert_eq!(f.property("name"), Value::Text("Phường Đông Ba".into()));
        assert_eq!(f.property("floors"), Value::Number(-3.0));
        assert_eq!(f.geometry_type(), "Polygon");
        let parts = layer.features[0].parts();
        assert_eq!(
            parts,
            vec![vec![(0.0, 0.0), (100.0, 0.0), (100.0, 100.0), (0.0, 100.0), (0.0, 0.0)]]
        );
    }

    #[test]
    fn truncated_bytes_end_decoding_without_a_panic() {
        let mut shaper = Shaper::default();
        shaper.points = vec![[1, 1], [5, 5]];
        shaper.parts = vec![2];
        let mut encoder = LayerEncoder::new("roads", &[]);
        encoder.add(1, std::iter::empty(), ShapeKind::Line, &shaper);
        let mut tile = Vec::new();
        encoder.finish_into(&mut tile);
        for cut in 0..tile.len() {
            let _ = decode(&tile[..cut])
                .iter()
                .map(|l| l.features.iter().map(|f| f.parts().len()).sum::<usize>())
                .sum::<usize>();
        }
    }
}
