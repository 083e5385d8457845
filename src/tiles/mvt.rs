//! Mapbox Vector Tile 2.1 encoding, written by hand: a few protobuf primitives and a layer
//! encoder that interns keys and values and writes command-encoded geometry from a [`Shaper`].
//! Hand-rolled because the generic encoders neither fix ring orientation nor let us write a
//! feature straight from borrowed attributes without building an intermediate tree.
//!
//! Owns the byte layout of tiles (and the protobuf helpers the glyph encoder shares). Does not
//! decide which features or attributes go into a tile.

use std::collections::HashMap;

use foldhash::fast::RandomState;

use crate::feature::Value;

use super::math::EXTENT;
use super::shape::{ShapeKind, Shaper};

const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;

pub fn put_varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

pub fn put_key(buf: &mut Vec<u8>, field: u32, wire: u8) {
    put_varint(buf, ((field as u64) << 3) | wire as u64);
}

pub fn put_uint_field(buf: &mut Vec<u8>, field: u32, v: u64) {
    put_key(buf, field, VARINT);
    put_varint(buf, v);
}

pub fn put_sint_field(buf: &mut Vec<u8>, field: u32, v: i64) {
    put_uint_field(buf, field, zigzag(v));
}

pub fn put_bytes_field(buf: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    put_key(buf, field, LEN);
    put_varint(buf, bytes.len() as u64);
    buf.extend_from_slice(bytes);
}

fn put_packed(buf: &mut Vec<u8>, field: u32, values: &[u32]) {
    let len: usize = values.iter().map(|&v| varint_len(v as u64)).sum();
    put_key(buf, field, LEN);
    put_varint(buf, len as u64);
    for &v in values {
        put_varint(buf, v as u64);
    }
}

fn varint_len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// A value as the interning table sees it (floats by their bits, so equal floats share an entry).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueKey<'a> {
    Text(&'a str),
    Float(u64),
    Int(i64),
    Bool(bool),
}

impl<'a> ValueKey<'a> {
    /// None for nulls, which tiles leave out.
    pub fn of(value: &'a Value) -> Option<ValueKey<'a>> {
        Some(match value {
            Value::Null => return None,
            Value::Text(t) => ValueKey::Text(t),
            Value::Float(f) => ValueKey::Float(f.to_bits()),
            Value::Int(i) => ValueKey::Int(*i),
            Value::Bool(b) => ValueKey::Bool(*b),
        })
    }
}

/// Builds one MVT layer. Attribute values borrow from the features for the layer's lifetime.
pub struct LayerEncoder<'a> {
    name: &'a str,
    keys: &'a [&'a str],
    values: HashMap<ValueKey<'a>, u32, RandomState>,
    value_bytes: Vec<u8>,
    features: Vec<u8>,
    feature: Vec<u8>,
    tags: Vec<u32>,
    commands: Vec<u32>,
    count: usize,
    /// New values each key brought into the table: how close to unique its values are.
    distinct: Vec<usize>,
}

impl<'a> LayerEncoder<'a> {
    pub fn new(name: &'a str, keys: &'a [&'a str]) -> LayerEncoder<'a> {
        LayerEncoder {
            name,
            keys,
            values: HashMap::with_hasher(RandomState::default()),
            value_bytes: Vec::new(),
            features: Vec::new(),
            feature: Vec::new(),
            tags: Vec::new(),
            commands: Vec::new(),
            count: 0,
            distinct: vec![0; keys.len()],
        }
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn distinct_per_key(&self) -> &[usize] {
        &self.distinct
    }

    fn intern(&mut self, key_index: u32, value: &'a Value) -> Option<u32> {
        let key = ValueKey::of(value)?;
        let next = self.values.len() as u32;
        let index = *self.values.entry(key).or_insert(next);
        if index == next {
            if let Some(d) = self.distinct.get_mut(key_index as usize) {
                *d += 1;
            }
            let mut v = Vec::with_capacity(12);
            match key {
                ValueKey::Text(t) => put_bytes_field(&mut v, 1, t.as_bytes()),
                ValueKey::Float(bits) => {
                    put_key(&mut v, 3, FIXED64);
                    v.extend_from_slice(&bits.to_le_bytes());
                }
                ValueKey::Int(i) if i >= 0 => put_uint_field(&mut v, 5, i as u64),
                ValueKey::Int(i) => put_sint_field(&mut v, 6, i),
                ValueKey::Bool(b) => put_uint_field(&mut v, 7, b as u64),
            }
            put_bytes_field(&mut self.value_bytes, 4, &v);
        }
        Some(index)
    }

    /// Adds a feature: its id, `(key index, value)` attributes (nulls are left out) and the
    /// geometry currently held by `shape`.
    pub fn add(&mut self, id: i64, attributes: impl Iterator<Item = (u32, &'a Value)>, kind: ShapeKind, shape: &Shaper) {
        self.tags.clear();
        for (key, value) in attributes {
            if let Some(v) = self.intern(key, value) {
                self.tags.push(key);
                self.tags.push(v);
            }
        }
        self.commands.clear();
        let mut cursor = [0i32; 2];
        let mut start = 0;
        let delta = |cursor: &mut [i32; 2], p: [i32; 2]| -> [u32; 2] {
            let d = [p[0] - cursor[0], p[1] - cursor[1]];
            *cursor = p;
            [zigzag(d[0] as i64) as u32, zigzag(d[1] as i64) as u32]
        };
        for &end in &shape.parts {
            let part = &shape.points[start..end];
            start = end;
            match kind {
                ShapeKind::Point => {
                    self.commands.push(command(1, part.len()));
                    for &p in part {
                        self.commands.extend(delta(&mut cursor, p));
                    }
                }
                ShapeKind::Line | ShapeKind::Polygon => {
                    self.commands.push(command(1, 1));
                    self.commands.extend(delta(&mut cursor, part[0]));
                    self.commands.push(command(2, part.len() - 1));
                    for &p in &part[1..] {
                        self.commands.extend(delta(&mut cursor, p));
                    }
                    if kind == ShapeKind::Polygon {
                        self.commands.push(command(7, 1));
                    }
                }
            }
        }
        self.feature.clear();
        if id >= 0 {
            put_uint_field(&mut self.feature, 1, id as u64);
        }
        if !self.tags.is_empty() {
            put_packed(&mut self.feature, 2, &self.tags);
        }
        put_uint_field(&mut self.feature, 3, kind as u64);
        put_packed(&mut self.feature, 4, &self.commands);
        put_bytes_field(&mut self.features, 2, &self.feature);
        self.count += 1;
    }

    /// Appends the finished layer (as field 3 of the Tile message) to `tile`; returns the bytes added.
    pub fn finish_into(self, tile: &mut Vec<u8>) -> usize {
        let before = tile.len();
        let mut layer = Vec::with_capacity(self.features.len() + self.value_bytes.len() + 64);
        put_bytes_field(&mut layer, 1, self.name.as_bytes());
        layer.extend_from_slice(&self.features);
        for k in self.keys {
            put_bytes_field(&mut layer, 3, k.as_bytes());
        }
        layer.extend_from_slice(&self.value_bytes);
        put_uint_field(&mut layer, 5, EXTENT as u64);
        put_uint_field(&mut layer, 15, 2);
        put_bytes_field(tile, 3, &layer);
        tile.len() - before
    }
}

fn command(id: u32, count: usize) -> u32 {
    (id & 7) | ((count as u32) << 3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_zigzag_match_the_protobuf_spec() {
        let mut b = Vec::new();
        put_varint(&mut b, 300);
        assert_eq!(b, [0xac, 0x02]);
        assert_eq!(zigzag(-1), 1);
        assert_eq!(zigzag(1), 2);
        assert_eq!(varint_len(0), 1);
        assert_eq!(varint_len(300), 2);
        assert_eq!(command(1, 1), 9);
        assert_eq!(command(7, 1), 15);
    }
}
