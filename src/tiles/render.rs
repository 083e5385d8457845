//! Rendering one tile of a [`TileSource`]: pick the features the zoom draws (the layer's
//! [`Ladder`]), filter, shape and encode them, and keep the tile under [`TILE_BUDGET`].
//! Per-zoom attributes: a scenario layer may list the attributes each zoom carries
//! (`zoom_fields`); at zooms it does not, a dense tile (over [`DENSE_FEATURES`] features of a
//! layer) carries only the layer's categorical attributes (what styles colour by), and a client
//! gets the rest on click at a deeper zoom. A layer that would still overflow first loses its near-unique attributes in
//! this tile, then its smallest features, and the thinning is logged. CPU-bound and synchronous:
//! callers run it off the async threads.

use std::cell::RefCell;

use geo::BoundingRect;

use super::ladder::Ladder;
use super::math::{TileId, TileProjection, BUFFER};
use super::mvt::LayerEncoder;
use super::shape::Shaper;
use super::source::{SourceLayer, TileSource};

/// Largest encoded tile (uncompressed MVT bytes).
pub const TILE_BUDGET: usize = 500 * 1000;
/// Above this many features a layer's tile is dense: it carries only categorical attributes.
const DENSE_FEATURES: usize = 4096;
/// Douglas-Peucker tolerance: half a tile unit at every zoom, as PostGIS's `ST_AsMVTGeom`. At a
/// quarter pixel (2 units), detailed ward and building outlines lost up to 2-9% of their tile area.
const SIMPLIFY_UNITS: f64 = 0.5;

thread_local! {
    /// Per-thread scratch: the shaper's buffers and the candidate list, reused tile after tile.
    static SCRATCH: RefCell<(Shaper, Vec<u32>)> = RefCell::new((Shaper::default(), Vec::new()));
}

/// Encodes `tile` of `source`: the bytes (empty when no layer has anything to draw there) and
/// the number of features they hold (what the audit records as returned). `ladder_of` gives
/// each layer's generalisation ladder.
pub fn render(source: &TileSource, tile: TileId, ladder_of: &dyn Fn(&SourceLayer) -> std::sync::Arc<Ladder>) -> (Vec<u8>, u64) {
    SCRATCH.with(|scratch| {
        let (shaper, candidates) = &mut *scratch.borrow_mut();
        let projection = TileProjection::new(tile);
        let bbox = tile.bounds(BUFFER);
        let mut out = Vec::new();
        let mut features = 0;
        for layer in &source.layers {
            if tile.z < layer.minzoom || tile.z > layer.maxzoom {
                continue;
            }
            candidates.clear();
            let ladder = ladder_of(layer);
            ladder.candidates(&layer.data, tile.z, &bbox, candidates);
            if let Some(filter) = &layer.filter {
                candidates.retain(|&i| filter.matches(&layer.data.features[i as usize]));
            }
            if let Some(members) = &layer.members {
                candidates.retain(|&i| members.contains(i));
            }
            candidates.sort_unstable();
            let remaining = TILE_BUDGET.saturating_sub(out.len());
            let (chosen, explicit) = layer.fields_at(tile.z);
            let fields: Vec<usize> = if !explicit && candidates.len() > DENSE_FEATURES {
                chosen
                    .iter()
                    .copied()
                    .filter(|&f| ladder.categorical.get(f).copied().unwrap_or(false))
                    .collect()
            } else {
                chosen.to_vec()
            };
            features += encode_within_budget(layer, fields, candidates, &projection, shaper, remaining, tile, &mut out);
        }
        (out, features)
    })
}

/// Encodes one layer into `out`, thinning it until it fits `budget` bytes; returns the number
/// of features encoded.
#[allow(clippy::too_many_arguments)]
fn encode_within_budget(
    layer: &SourceLayer,
    mut fields: Vec<usize>,
    candidates: &mut Vec<u32>,
    projection: &TileProjection,
    shaper: &mut Shaper,
    budget: usize,
    tile: TileId,
    out: &mut Vec<u8>,
) -> u64 {
    let start = out.len();
    let mut attempt = 0;
    loop {
        out.truncate(start);
        let (written, distinct, encoded) = encode_layer(layer, &fields, candidates, projection, shaper, out);
        if written <= budget || candidates.is_empty() || attempt > 6 {
            if attempt > 0 {
                tracing::warn!(%tile, layer = %layer.name, bytes = written, features = candidates.len(), attributes = fields.len(), "tile over budget was thinned");
            }
            return encoded;
        }
        attempt += 1;
        // First drop the attributes that are nearly unique per feature, then the smallest features.
        let unique_limit = (candidates.len() / 8).max(16);
        let kept: Vec<usize> = fields
            .iter()
            .zip(&distinct)
            .filter(|(_, d)| **d <= unique_limit)
            .map(|(f, _)| *f)
            .collect();
        if kept.len() < fields.len() {
            fields = kept;
            continue;
        }
        let keep = ((candidates.len() as f64) * (budget as f64 / written as f64) * 0.9) as usize;
        let features = &layer.data.features;
        let extent = |i: u32| {
            features[i as usize]
                .geometry
                .bounding_rect()
                .map_or(0.0, |r| r.width().max(r.height()))
        };
        let mut ranked: Vec<(f64, u32)> = candidates.iter().map(|&i| (extent(i), i)).collect();
        ranked.sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        ranked.truncate(keep);
        candidates.clear();
        candidates.extend(ranked.into_iter().map(|(_, i)| i));
        candidates.sort_unstable();
    }
}

/// Encodes the layer once; returns the bytes written, per carried field its distinct values, and
/// the number of features encoded.
fn encode_layer(
    layer: &SourceLayer,
    fields: &[usize],
    candidates: &[u32],
    projection: &TileProjection,
    shaper: &mut Shaper,
    out: &mut Vec<u8>,
) -> (usize, Vec<usize>, u64) {
    let keys: Vec<&str> = fields.iter().map(|&i| layer.data.meta.fields[i].name.as_str()).collect();
    let mut encoder = LayerEncoder::new(&layer.name, &keys);
    let tolerance = SIMPLIFY_UNITS;
    let mut encoded = 0;
    for &i in candidates {
        let feature = &layer.data.features[i as usize];
        if let Some(kind) = shaper.shape(&feature.geometry, projection, tolerance) {
            let attributes = fields.iter().enumerate().map(|(k, &f)| (k as u32, &feature.properties[f]));
            encoder.add(feature.id, attributes, kind, shaper);
            encoded += 1;
        }
    }
    if encoder.is_empty() {
        return (0, Vec::new(), 0);
    }
    let distinct = encoder.distinct_per_key().to_vec();
    (encoder.finish_into(out), distinct, encoded)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use geo_types::polygon;

    use super::*;
    use crate::feature::{Feature, FieldDef, FieldType, GeometryKind, LayerKind, Value};
    use crate::index::LayerData;
    use crate::store::LayerMeta;
    use crate::tiles::source::SourceLayer;

    /// `n` overlapping 100 m squares around (107.58, 16.46), each with a long unique note and
    /// a three-valued class.
    fn squares(n: i64) -> Arc<LayerData> {
        let d = 100.0 / 111_000.0;
        let features: Vec<Feature> = (0..n)
            .map(|i| {
                let (x, y) = (107.58 + (i % 173) as f64 * 1e-5, 16.46 + (i / 173) as f64 * 1e-5);
                let g = polygon![(x: x, y: y), (x: x + d, y: y), (x: x + d, y: y + d), (x: x, y: y + d)];
                let note = format!("ghi chú số {i} về thửa đất này, đủ dài để vượt ngân sách của một ô bản đồ");
                Feature {
                    id: i + 1,
                    geometry: g.into(),
                    properties: vec![Value::Text(note.into()), Value::Int(i % 3)],
                }
            })
            .collect();
        let meta = LayerMeta {
            name: "dense".into(),
            kind: LayerKind::Cadastral,
            geometry_type: GeometryKind::Polygon,
            feature_count: n as u64,
            bbox: None,
            fields: vec![FieldDef::new("note", FieldType::Text), FieldDef::new("class", FieldType::Int)],
            source_file: String::new(),
            source_sha256: String::new(),
            source_crs: String::new(),
            imported_at: String::new(),
            import_id: 1,
        };
        Arc::new(LayerData::build(meta, features))
    }

    fn source_of(data: &Arc<LayerData>, zoom_fields: Vec<(u8, Vec<usize>)>) -> TileSource {
        let layer = SourceLayer {
            name: "dense".into(),
            ladder_key: "dense".into(),
            data: data.clone(),
            filter: None,
            members: None,
            fields: vec![0, 1],
            zoom_fields,
            minzoom: 0,
            maxzoom: 22,
        };
        TileSource {
            layers: vec![layer],
            key: "test".into(),
            live: false,
        }
    }

    /// The z14 tile and its z13 parent holding (107.58, 16.46), where all the squares lie.
    const Z14: TileId = TileId { z: 14, x: 13088, y: 7432 };
    const Z13: TileId = TileId { z: 13, x: 6544, y: 3716 };

    fn has(bytes: &[u8], text: &[u8]) -> bool {
        bytes.windows(text.len()).any(|w| w == text)
    }

    #[test]
    fn an_overfull_tile_is_thinned_under_the_budget() {
        // 30,000 squares with long unique text: megabytes if drawn naively.
        let data = squares(30_000);
        let source = source_of(&data, Vec::new());
        let ladder = Arc::new(Ladder::build(&data, None));
        let (bytes, features) = render(&source, Z14, &|_| ladder.clone());
        assert!(!bytes.is_empty(), "something is drawn");
        assert!(bytes.len() <= TILE_BUDGET, "{} bytes", bytes.len());
        assert!(!has(&bytes, "ghi ch".as_bytes()), "the near-unique notes were dropped first");
        assert!(has(&bytes, b"class"), "the categorical attribute stays");
        assert!(features > 0 && features < 30_000, "the count is of the thinned tile: {features}");
    }

    #[test]
    fn a_zoom_list_chooses_the_attributes_up_to_its_zoom() {
        let data = squares(200);
        let source = source_of(&data, vec![(13, vec![1])]);
        let ladder = Arc::new(Ladder::build(&data, None));
        let (shallow, _) = render(&source, Z13, &|_| ladder.clone());
        assert!(has(&shallow, b"class") && !has(&shallow, b"note"), "z13 carries only the z13 list");
        let (deep, _) = render(&source, Z14, &|_| ladder.clone());
        assert!(has(&deep, b"class") && has(&deep, b"note"), "past the list's zoom, every field");
    }
}
