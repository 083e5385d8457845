//! One building's LoD1 facts read from a feature: its footprint box, base and top heights from
//! the canonical fields (`height_m`, `floors` × storey height, `base_height_m`), with the
//! fallbacks for missing or implausible values (the Z extent `z_max - z_min` import keeps from a
//! source with Z, then the default) and the test that drops degenerate footprints.
//! Knows nothing of meshes or tiles.

use geo_types::{Geometry, LineString, Polygon};

use super::{City3dOptions, MAX_PLAUSIBLE_HEIGHT_M};
use crate::feature::{Feature, Value};
use crate::store::LayerMeta;

/// Positions of the height fields in a layer's property list.
#[derive(Debug, Clone, Copy)]
pub struct HeightFields {
    height: Option<usize>,
    floors: Option<usize>,
    base: Option<usize>,
    /// The lowest and highest vertex Z, kept by import from a source with Z.
    z: Option<(usize, usize)>,
}

impl HeightFields {
    /// None when the layer has neither `height_m`, `floors` nor `z_min` and `z_max`.
    pub fn of(meta: &LayerMeta) -> Option<HeightFields> {
        let fields = HeightFields {
            height: meta.field_index("height_m"),
            floors: meta.field_index("floors"),
            base: meta.field_index("base_height_m"),
            z: meta.field_index("z_min").zip(meta.field_index("z_max")),
        };
        (fields.height.is_some() || fields.floors.is_some() || fields.z.is_some()).then_some(fields)
    }
}

/// What tiling needs of a building; the mesh is made later, only for the tile it lands in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prepared {
    /// Footprint box in degrees: west, south, east, north. Every vertex lies inside it.
    pub bbox: [f64; 4],
    pub base_m: f64,
    pub top_m: f64,
    /// Area of the footprint's outer rings (m²), to rank buildings by size.
    pub footprint_m2: f64,
    /// The height fell back to the default.
    pub defaulted: bool,
    /// The height fell back to the Z extent (`z_max - z_min`).
    pub from_z: bool,
}

impl Prepared {
    pub fn center(&self) -> (f64, f64) {
        ((self.bbox[0] + self.bbox[2]) / 2.0, (self.bbox[1] + self.bbox[3]) / 2.0)
    }
}

/// Counts logged after a tileset is built, so bad survey data is visible.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HeightStats {
    pub buildings: u64,
    pub defaulted_height: u64,
    /// Heights taken from `z_max - z_min` (no usable `height_m` or `floors`).
    pub height_from_z: u64,
    pub skipped_degenerate: u64,
}

/// Footprints smaller than this (m²) are slivers or points, not buildings.
pub const MIN_FOOTPRINT_M2: f64 = 0.01;

/// Metres per degree of latitude (mean); good enough for areas and triangulation, never for
/// placement, which goes through [`super::geodesy`].
pub const M_PER_DEG: f64 = 111_320.0;

fn plausible(h: f64) -> Option<f64> {
    (h.is_finite() && h > 0.0 && h <= MAX_PLAUSIBLE_HEIGHT_M).then_some(h)
}

fn number(feature: &Feature, index: Option<usize>) -> Option<f64> {
    index.and_then(|i| feature.properties.get(i)).and_then(Value::as_f64)
}

/// Where a building's top height came from.
#[derive(Debug, Clone, Copy, PartialEq)]
enum HeightFrom {
    Fields,
    Z,
    Default,
}

/// Top height: `height_m`, else `floors` × storey height, else the Z extent, else the default.
fn top_height(feature: &Feature, fields: &HeightFields, options: &City3dOptions) -> (f64, HeightFrom) {
    let z_extent = || {
        let (low, high) = fields.z?;
        plausible(number(feature, Some(high))? - number(feature, Some(low))?)
    };
    number(feature, fields.height)
        .and_then(plausible)
        .or_else(|| number(feature, fields.floors).and_then(|f| plausible(f * options.storey_height_m)))
        .map(|h| (h, HeightFrom::Fields))
        .or_else(|| z_extent().map(|h| (h, HeightFrom::Z)))
        .unwrap_or((options.default_height_m, HeightFrom::Default))
}

/// The polygons of a footprint; other geometry kinds make no building.
pub fn polygons(geometry: &Geometry<f64>) -> &[Polygon<f64>] {
    match geometry {
        Geometry::Polygon(p) => std::slice::from_ref(p),
        Geometry::MultiPolygon(mp) => &mp.0,
        _ => &[],
    }
}

/// Area of a ring in m², by the shoelace formula on degrees scaled at the ring's latitude.
pub fn ring_area_m2(ring: &LineString<f64>) -> f64 {
    let Some(first) = ring.0.first() else { return 0.0 };
    let kx = M_PER_DEG * first.y.to_radians().cos();
    let twice: f64 = ring
        .0
        .windows(2)
        .map(|w| {
            ((w[0].x - first.x) * kx) * ((w[1].y - first.y) * M_PER_DEG) - ((w[1].x - first.x) * kx) * ((w[0].y - first.y) * M_PER_DEG)
        })
        .sum();
    (twice / 2.0).abs()
}

/// None for a building to skip: no polygon, or every polygon degenerate.
pub fn prepare(feature: &Feature, fields: &HeightFields, options: &City3dOptions) -> Option<Prepared> {
    let mut bbox = [f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY];
    let mut footprint_m2 = 0.0;
    for polygon in polygons(&feature.geometry) {
        let area = ring_area_m2(polygon.exterior());
        if area < MIN_FOOTPRINT_M2 {
            continue;
        }
        footprint_m2 += area;
        for c in &polygon.exterior().0 {
            bbox = [bbox[0].min(c.x), bbox[1].min(c.y), bbox[2].max(c.x), bbox[3].max(c.y)];
        }
    }
    if footprint_m2 == 0.0 || !bbox.iter().all(|v| v.is_finite()) {
        return None;
    }
    let (top_m, from) = top_height(feature, fields, options);
    // A base at or above the top is a data error: stand the building on the ground.
    let base_m = number(feature, fields.base)
        .filter(|b| b.is_finite() && *b >= 0.0 && *b < top_m)
        .unwrap_or(0.0);
    Some(Prepared {
        bbox,
        base_m,
        top_m,
        footprint_m2,
        defaulted: from == HeightFrom::Default,
        from_z: from == HeightFrom::Z,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feature::{FieldDef, FieldType, GeometryKind, LayerKind};
    use geo_types::polygon;

    fn meta() -> LayerMeta {
        let f = |n: &str, ty| FieldDef::new(n, ty);
        LayerMeta {
            name: "b".into(),
            kind: LayerKind::Building,
            geometry_type: GeometryKind::Polygon,
            feature_count: 0,
            bbox: None,
            fields: vec![
                f("floors", FieldType::Int),
                f("height_m", FieldType::Float),
                f("base_height_m", FieldType::Float),
            ],
            source_file: String::new(),
            source_sha256: String::new(),
            source_crs: String::new(),
            imported_at: String::new(),
            import_id: 1,
        }
    }

    fn house(floors: Value, height: Value, base: Value) -> Feature {
        let p = polygon![(x: 107.0, y: 16.0), (x: 107.0001, y: 16.0), (x: 107.0001, y: 16.0001), (x: 107.0, y: 16.0001)];
        Feature {
            id: 1,
            geometry: p.into(),
            properties: vec![floors, height, base],
        }
    }

    #[test]
    fn heights_come_from_height_then_floors_then_the_default() {
        let fields = HeightFields::of(&meta()).unwrap();
        let o = City3dOptions::default();
        let p = prepare(&house(Value::Int(3), Value::Float(12.0), Value::Float(2.0)), &fields, &o).unwrap();
        assert_eq!((p.base_m, p.top_m, p.defaulted), (2.0, 12.0, false));
        let p = prepare(&house(Value::Int(3), Value::Null, Value::Null), &fields, &o).unwrap();
        assert!((p.top_m - 9.9).abs() < 1e-9 && !p.defaulted);
        for absurd in [Value::Float(-5.0), Value::Float(5000.0), Value::Null] {
            let p = prepare(&house(Value::Null, absurd, Value::Float(50.0)), &fields, &o).unwrap();
            assert_eq!((p.base_m, p.top_m, p.defaulted), (0.0, 3.3, true));
        }
    }

    #[test]
    fn the_z_extent_stands_in_for_missing_heights_and_floors() {
        let mut m = meta();
        m.fields.extend(["z_min", "z_max"].map(|n| FieldDef::new(n, FieldType::Float)));
        let fields = HeightFields::of(&m).unwrap();
        let o = City3dOptions::default();
        let with_z = |height: Value, low: f64, high: f64| {
            let mut h = house(Value::Null, height, Value::Null);
            h.properties.extend([Value::Float(low), Value::Float(high)]);
            prepare(&h, &fields, &o).unwrap()
        };
        let p = with_z(Value::Null, 5.0, 17.0);
        assert_eq!((p.top_m, p.from_z, p.defaulted), (12.0, true, false));
        let p = with_z(Value::Float(20.0), 5.0, 17.0);
        assert_eq!((p.top_m, p.from_z), (20.0, false));
        let p = with_z(Value::Null, 8.0, 8.0);
        assert_eq!((p.top_m, p.from_z, p.defaulted), (3.3, false, true));
        m.fields.retain(|f| f.name.starts_with('z'));
        assert!(HeightFields::of(&m).is_some(), "z_min and z_max alone give heights");
    }

    #[test]
    fn slivers_and_points_are_not_buildings() {
        let fields = HeightFields::of(&meta()).unwrap();
        let mut sliver = house(Value::Int(1), Value::Null, Value::Null);
        sliver.geometry = polygon![(x: 107.0, y: 16.0), (x: 107.001, y: 16.0), (x: 107.002, y: 16.0)].into();
        assert!(prepare(&sliver, &fields, &City3dOptions::default()).is_none());
        sliver.geometry = geo_types::point!(x: 107.0, y: 16.0).into();
        assert!(prepare(&sliver, &fields, &City3dOptions::default()).is_none());
    }
}
