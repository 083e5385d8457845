//! Checksums of what a store holds, the same whichever backend holds it: per layer its
//! features' geometry, its features' attributes and its catalog entry with the import history;
//! the tokens; the audit chain. `store copy`, `backup` and `restore` compare them, and a backup
//! keeps them as its manifest.
//!
//! Owns the canonical form each checksum hashes. Reads nothing itself (it is fed features and
//! rows) and writes nothing.

use geo_types::Geometry;
use sha2::{Digest as _, Sha256};

use super::{wkb, ImportRecord, LayerMeta, StoreError, StoreSnapshot, TokenRecord};
use crate::audit::AuditRow;
use crate::feature::{Feature, Value};

/// One checksum: what it covers, how many things, and their SHA-256 (hex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// `layer/<name>/geometry`, `layer/<name>/attributes`, `layer/<name>/catalog`, `tokens`, `audit`.
    pub item: String,
    pub count: u64,
    pub sha256: String,
}

/// A field of a hash, length-prefixed so that no two different sequences hash alike.
fn field(h: &mut Sha256, bytes: &[u8]) {
    h.update((bytes.len() as u64).to_le_bytes());
    h.update(bytes);
}

fn finish(item: String, count: u64, h: Sha256) -> Entry {
    Entry {
        item,
        count,
        sha256: hex::encode(h.finalize()),
    }
}

/// The geometry a checksum hashes: a multi-geometry of one member is that member, because a
/// PostGIS column of a MULTI type holds every single one as a multi of one (the MVT encoding
/// of both is the same).
fn canonical(geometry: &Geometry<f64>) -> std::borrow::Cow<'_, Geometry<f64>> {
    use std::borrow::Cow;
    match geometry {
        Geometry::MultiPolygon(m) if m.0.len() == 1 => Cow::Owned(Geometry::Polygon(m.0[0].clone())),
        Geometry::MultiLineString(m) if m.0.len() == 1 => Cow::Owned(Geometry::LineString(m.0[0].clone())),
        Geometry::MultiPoint(m) if m.0.len() == 1 => Cow::Owned(Geometry::Point(m.0[0])),
        _ => Cow::Borrowed(geometry),
    }
}

fn value(h: &mut Sha256, v: &Value) {
    match v {
        Value::Null => field(h, b"n"),
        Value::Bool(b) => field(h, if *b { b"t" } else { b"f" }),
        Value::Int(i) => {
            field(h, b"i");
            field(h, &i.to_le_bytes());
        }
        Value::Float(f) => {
            field(h, b"d");
            field(h, &f.to_bits().to_le_bytes());
        }
        Value::Text(t) => {
            field(h, b"s");
            field(h, t.as_bytes());
        }
    }
}

/// The checksums of one layer, fed its features in id order.
pub struct LayerDigest {
    name: String,
    features: u64,
    geometry: Sha256,
    attributes: Sha256,
    catalog: Entry,
    wkb: Vec<u8>,
}

impl LayerDigest {
    /// Starts the checksums of `meta`; its catalog entry and `history` are hashed at once.
    pub fn new(meta: &LayerMeta, history: &[ImportRecord]) -> LayerDigest {
        LayerDigest {
            name: meta.name.clone(),
            features: 0,
            geometry: Sha256::new(),
            attributes: Sha256::new(),
            catalog: catalog(meta, history),
            wkb: Vec::with_capacity(256),
        }
    }

    pub fn add(&mut self, feature: &Feature) {
        self.features += 1;
        let id = feature.id.to_le_bytes();
        self.wkb.clear();
        wkb::encode_wkb(&canonical(&feature.geometry), &mut self.wkb);
        field(&mut self.geometry, &id);
        field(&mut self.geometry, &self.wkb);
        field(&mut self.attributes, &id);
        for v in &feature.properties {
            value(&mut self.attributes, v);
        }
    }

    pub fn finish(self) -> [Entry; 3] {
        let item = |what: &str| format!("layer/{}/{what}", self.name);
        [
            finish(item("geometry"), self.features, self.geometry),
            finish(item("attributes"), self.features, self.attributes),
            self.catalog,
        ]
    }
}

/// The catalog entry and the history, without the ids a store assigns (a copy gets new ones).
fn catalog(meta: &LayerMeta, history: &[ImportRecord]) -> Entry {
    let mut h = Sha256::new();
    field(&mut h, meta.name.as_bytes());
    field(&mut h, meta.kind.as_str().as_bytes());
    field(&mut h, meta.geometry_type.as_str().as_bytes());
    field(&mut h, &meta.feature_count.to_le_bytes());
    match meta.bbox {
        Some(b) => [b.west, b.south, b.east, b.north]
            .iter()
            .for_each(|v| field(&mut h, &v.to_bits().to_le_bytes())),
        None => field(&mut h, b"no bbox"),
    }
    field(&mut h, serde_json::to_string(&meta.fields).unwrap_or_default().as_bytes());
    for r in history {
        for text in [&r.source_file, &r.source_sha256, &r.source_crs, &r.imported_at] {
            field(&mut h, text.as_bytes());
        }
        for n in [r.read, r.written, r.skipped, r.repaired] {
            field(&mut h, &n.to_le_bytes());
        }
        field(&mut h, &r.seconds.to_bits().to_le_bytes());
        field(&mut h, &[u8::from(r.replaced)]);
    }
    finish(format!("layer/{}/catalog", meta.name), history.len() as u64, h)
}

/// The tokens, by id, every column.
pub fn tokens(tokens: &[TokenRecord]) -> Entry {
    let mut h = Sha256::new();
    for t in tokens {
        field(&mut h, &t.id.to_le_bytes());
        field(&mut h, &t.hash);
        field(&mut h, t.role.as_bytes());
        field(&mut h, t.scope.join(",").as_bytes());
        field(&mut h, &t.created_unix.to_le_bytes());
        for time in [t.expires_unix, t.revoked_unix] {
            field(&mut h, &time.map_or(i64::MIN, |t| t).to_le_bytes());
        }
        field(&mut h, t.note.as_bytes());
    }
    finish("tokens".into(), tokens.len() as u64, h)
}

/// The audit chain: each row's id and hash (the hash covers the row, `audit::verify` checks that).
pub fn audit(rows: &[AuditRow]) -> Entry {
    let mut h = Sha256::new();
    for r in rows {
        field(&mut h, &r.id.to_le_bytes());
        field(&mut h, r.prev_hash.as_bytes());
        field(&mut h, r.hash.as_bytes());
    }
    finish("audit".into(), rows.len() as u64, h)
}

/// The checksums of one layer as a snapshot holds it.
pub fn layer(snapshot: &mut dyn StoreSnapshot, meta: &LayerMeta) -> Result<[Entry; 3], StoreError> {
    let history = snapshot.history(&meta.name)?;
    let mut digest = LayerDigest::new(meta, &history);
    snapshot.for_each_feature(meta, &mut |f| digest.add(&f))?;
    Ok(digest.finish())
}

/// Every checksum of a snapshot: each layer's, then the tokens' and the audit chain's.
pub fn store(snapshot: &mut dyn StoreSnapshot) -> Result<Vec<Entry>, StoreError> {
    let mut entries = Vec::new();
    for meta in snapshot.layers()? {
        entries.extend(layer(snapshot, &meta)?);
    }
    entries.push(tokens(&snapshot.tokens()?));
    entries.push(audit(&snapshot.audit_rows()?));
    Ok(entries)
}

/// The entries of `expected` that `found` lacks or holds otherwise, as "what: why" lines.
pub fn differences(expected: &[Entry], found: &[Entry]) -> Vec<String> {
    let mut out = Vec::new();
    for e in expected {
        match found.iter().find(|f| f.item == e.item) {
            None => out.push(format!("{}: missing", e.item)),
            Some(f) if f.count != e.count => out.push(format!("{}: {} instead of {}", e.item, f.count, e.count)),
            Some(f) if f.sha256 != e.sha256 => out.push(format!("{}: checksum {} instead of {}", e.item, &f.sha256[..12], &e.sha256[..12])),
            Some(_) => {}
        }
    }
    for f in found.iter().filter(|f| !expected.iter().any(|e| e.item == f.item)) {
        out.push(format!("{}: not expected", f.item));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feature::{FieldDef, FieldType, GeometryKind, LayerKind};
    use geo_types::{point, polygon, MultiPolygon};

    fn meta() -> LayerMeta {
        LayerMeta::new(
            "parcels",
            LayerKind::Cadastral,
            GeometryKind::MultiPolygon,
            vec![FieldDef::new("use", FieldType::Text)],
        )
    }

    fn entries(features: &[Feature]) -> [Entry; 3] {
        let mut d = LayerDigest::new(&meta(), &[]);
        features.iter().for_each(|f| d.add(f));
        d.finish()
    }

    #[test]
    fn a_single_polygon_and_a_multipolygon_of_it_hash_alike_and_any_change_shows() {
        let poly = polygon![(x: 107.5, y: 16.4), (x: 107.6, y: 16.4), (x: 107.6, y: 16.5), (x: 107.5, y: 16.4)];
        let feature = |geometry: Geometry<f64>, text: &str| Feature {
            id: 1,
            geometry,
            properties: vec![Value::Text(text.into())],
        };
        let single = entries(&[feature(poly.clone().into(), "ODT")]);
        let multi = entries(&[feature(MultiPolygon(vec![poly.clone()]).into(), "ODT")]);
        assert_eq!(single, multi);
        let other_text = entries(&[feature(poly.clone().into(), "ONT")]);
        assert_eq!(single[0], other_text[0], "geometry unchanged");
        assert_ne!(single[1], other_text[1], "attributes changed");
        let moved = entries(&[feature(point!(x: 107.5, y: 16.4).into(), "ODT")]);
        assert_ne!(single[0], moved[0]);
        assert_eq!(differences(&single, &single), Vec::<String>::new());
        let diff = differences(&single, &other_text);
        assert_eq!(diff.len(), 1, "{diff:?}");
        assert!(diff[0].starts_with("layer/parcels/attributes: checksum"), "{diff:?}");
    }

    #[test]
    fn null_text_and_empty_text_differ() {
        let f = |v: Value| Feature {
            id: 1,
            geometry: point!(x: 1.0, y: 2.0).into(),
            properties: vec![v],
        };
        assert_ne!(entries(&[f(Value::Null)])[1], entries(&[f(Value::Text("".into()))])[1]);
    }
}
