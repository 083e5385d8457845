//! The one OGR → geo conversion of import: every geometry type GDAL reads becomes the 2D
//! geometry bando stores (EPSG:4326, XY only).
//!
//! - Z, M, ZM and 25D variants are taken as XY. The Z range of a feature is read from the source
//!   geometry, before reprojection, so building layers can keep it as `z_min` / `z_max`.
//! - Curves (CircularString, CompoundCurve, CurvePolygon, MultiCurve, MultiSurface) are
//!   linearised by GDAL (`OGR_G_GetLinearGeometry`) in the source CRS with at most
//!   [`MAX_ARC_STEP_DEG`] = 1° of arc per segment: a chord leaves its arc by at most
//!   r·(1 − cos 0.5°) ≈ 3.8·10⁻⁵·r (0.4 mm on a 10 m radius, 4 cm on 1 km) and a circle's area is
//!   short by 0.005%. DXF and DGN arcs are linearised by their drivers with the same step
//!   (`OGR_ARC_STEPSIZE`, set in `source`).
//! - PolyhedralSurface, TIN and MultiPatch (a Shapefile MultiPatch reaches us as a 3D
//!   MultiPolygon of faces) become their footprint: the union of the faces projected to XY, with
//!   vertical and collapsed faces dropped.
//! - A GeometryCollection of one kind becomes that kind (one part) or its Multi* (several); a
//!   collection mixing kinds is refused unless the import splits collections, which keeps the
//!   part of the source layer's declared kind, or else the highest-dimension part (areas over
//!   lines over points).
//!
//! Owns geometry types only: knows nothing of fields, validity rules, which CRS to use or the store.

use std::ffi::CStr;

use gdal::spatial_ref::CoordTransform;
use gdal::vector::Geometry as OgrGeometry;
use gdal_sys::{OGRGeometryH, OGRwkbGeometryType as Wkb};
use geo::{Area, Euclidean, Length};
use geo_types::{Coord, Geometry, LineString, MultiLineString, MultiPoint, MultiPolygon, Point, Polygon};

/// Largest arc, in degrees, that one segment of a linearised curve stands for.
pub const MAX_ARC_STEP_DEG: f64 = 1.0;

/// A face whose projected area is under this share of its perimeter squared stands on edge
/// (a wall) or has collapsed: it covers no ground.
const FLAT_FACE_RATIO: f64 = 1e-9;

/// Why a source geometry cannot become a stored one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GeometryError {
    #[error("a GEOMETRYCOLLECTION mixing {kinds}; pass --split-collections to keep one kind")]
    MixedCollection { kinds: String },
    #[error("GDAL could not linearise its {0}")]
    Linearise(String),
    #[error("{0}")]
    Transform(String),
    #[error("a {0}, which is not a geometry GDAL converts")]
    UnknownType(String),
}

/// The dimension of a geometry's parts, ordered lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Dimension {
    Points,
    Lines,
    Areas,
}

impl Dimension {
    /// The kind a layer declares (`OGR_L_GetGeomType`), if it declares one.
    pub fn of_type(ty: Wkb::Type) -> Option<Dimension> {
        match gdal::vector::geometry_type_flatten(ty) {
            Wkb::wkbPoint | Wkb::wkbMultiPoint => Some(Dimension::Points),
            Wkb::wkbLineString | Wkb::wkbMultiLineString | Wkb::wkbCircularString | Wkb::wkbCompoundCurve | Wkb::wkbMultiCurve => {
                Some(Dimension::Lines)
            }
            Wkb::wkbPolygon
            | Wkb::wkbMultiPolygon
            | Wkb::wkbCurvePolygon
            | Wkb::wkbMultiSurface
            | Wkb::wkbPolyhedralSurface
            | Wkb::wkbTIN
            | Wkb::wkbTriangle => Some(Dimension::Areas),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Dimension::Points => "points",
            Dimension::Lines => "lines",
            Dimension::Areas => "polygons",
        }
    }
}

/// How a source's geometries are read; fixed per import.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    /// The source is a Shapefile MultiPatch: its 3D MultiPolygons are faces of solids.
    pub multipatch: bool,
    /// Mixed collections are split (kept as one kind) instead of refused.
    pub split_collections: bool,
    /// The kind the source layer declares; a split keeps it when the collection has it.
    pub declared: Option<Dimension>,
}

impl Rules {
    /// The rules for a source layer of `driver` (GDAL's short name) declaring `layer_type`.
    pub fn of_source(driver: &str, layer_type: Wkb::Type, split_collections: bool) -> Rules {
        Rules {
            // GDAL declares no type for Shapefile MultiPatch layers alone.
            multipatch: driver == "ESRI Shapefile" && layer_type == Wkb::wkbUnknown,
            split_collections,
            declared: Dimension::of_type(layer_type),
        }
    }
}

/// Whether a source layer has Z: its declared type says so, or, when it declares no type, its
/// first geometry has Z.
pub fn has_z(layer: &mut gdal::vector::Layer<'_>, layer_type: Wkb::Type) -> bool {
    use gdal::vector::LayerAccess;
    if gdal::vector::geometry_type_has_z(layer_type) {
        return true;
    }
    if gdal::vector::geometry_type_flatten(layer_type) != Wkb::wkbUnknown {
        return false;
    }
    // SAFETY: the geometry handle is the feature's own, read while the feature lives.
    let first = layer
        .features()
        .find_map(|f| f.geometry().map(|g| unsafe { gdal_sys::OGR_G_Is3D(g.c_geometry()) } != 0));
    layer.reset_feature_reading();
    first.unwrap_or(false)
}

/// One source geometry as bando stores it.
#[derive(Debug)]
pub struct Converted {
    pub geometry: Geometry<f64>,
    /// Lowest and highest vertex Z in the source CRS, when the source geometry has Z.
    pub z_range: Option<(f64, f64)>,
    /// A mixed collection lost the parts of its other kinds.
    pub split: bool,
}

/// A geometry GDAL made for us (linearised, reprojected copy), destroyed with us.
struct Owned(OGRGeometryH);

impl Drop for Owned {
    fn drop(&mut self) {
        // SAFETY: the handle came from GDAL as a new geometry that nothing else owns.
        unsafe { gdal_sys::OGR_G_DestroyGeometry(self.0) }
    }
}

/// Converts one source geometry (in the source CRS) to the stored 2D geometry.
pub fn convert(source: &OgrGeometry, transform: Option<&CoordTransform>, rules: &Rules) -> Result<Converted, GeometryError> {
    // SAFETY: `source` holds a valid handle for the duration of this call; every handle derived
    // from it is used before it is dropped.
    unsafe {
        let h = source.c_geometry();
        let z_range = z_range(h);
        let mut owned: Option<Owned> = None;
        if gdal_sys::OGR_G_HasCurveGeometry(h, 0) != 0 {
            let linear = gdal_sys::OGR_G_GetLinearGeometry(h, MAX_ARC_STEP_DEG, std::ptr::null_mut());
            if linear.is_null() {
                return Err(GeometryError::Linearise(type_name(h)));
            }
            owned = Some(Owned(linear));
        }
        if let Some(t) = transform {
            let copy = owned.take().unwrap_or_else(|| Owned(gdal_sys::OGR_G_Clone(h)));
            if gdal_sys::OGR_G_Transform(copy.0, t.to_c_hct()) != gdal_sys::OGRErr::OGRERR_NONE {
                return Err(GeometryError::Transform(last_gdal_message()));
            }
            owned = Some(copy);
        }
        let planar = owned.as_ref().map_or(h, |o| o.0);
        let (geometry, split) = to_geo(planar, rules)?;
        Ok(Converted { geometry, z_range, split })
    }
}

/// The source geometry's Z range, None without Z.
unsafe fn z_range(h: OGRGeometryH) -> Option<(f64, f64)> {
    if gdal_sys::OGR_G_Is3D(h) == 0 {
        return None;
    }
    let mut envelope = std::mem::MaybeUninit::<gdal_sys::OGREnvelope3D>::zeroed();
    gdal_sys::OGR_G_GetEnvelope3D(h, envelope.as_mut_ptr());
    let e = envelope.assume_init();
    (e.MinZ.is_finite() && e.MaxZ.is_finite()).then_some((e.MinZ, e.MaxZ))
}

unsafe fn type_name(h: OGRGeometryH) -> String {
    CStr::from_ptr(gdal_sys::OGR_G_GetGeometryName(h)).to_string_lossy().into_owned()
}

unsafe fn last_gdal_message() -> String {
    let message = CStr::from_ptr(gdal_sys::CPLGetLastErrorMsg()).to_string_lossy().into_owned();
    if message.is_empty() {
        "PROJ could not transform its coordinates".to_string()
    } else {
        message
    }
}

unsafe fn members(h: OGRGeometryH) -> impl Iterator<Item = OGRGeometryH> {
    (0..gdal_sys::OGR_G_GetGeometryCount(h)).map(move |i| gdal_sys::OGR_G_GetGeometryRef(h, i))
}

/// Converts a linear (curve-free) geometry; the bool says a mixed collection was split.
unsafe fn to_geo(h: OGRGeometryH, rules: &Rules) -> Result<(Geometry<f64>, bool), GeometryError> {
    let simple = match gdal::vector::geometry_type_flatten(gdal_sys::OGR_G_GetGeometryType(h)) {
        Wkb::wkbPoint => Geometry::Point(read_point(h)),
        Wkb::wkbLineString | Wkb::wkbLinearRing => Geometry::LineString(read_line(h)),
        Wkb::wkbPolygon | Wkb::wkbTriangle => Geometry::Polygon(read_polygon(h)),
        Wkb::wkbMultiPoint => Geometry::MultiPoint(MultiPoint(members(h).map(|m| read_point(m)).collect())),
        Wkb::wkbMultiLineString => Geometry::MultiLineString(MultiLineString(members(h).map(|m| read_line(m)).collect())),
        Wkb::wkbMultiPolygon if rules.multipatch && gdal_sys::OGR_G_Is3D(h) != 0 => footprint(h),
        Wkb::wkbMultiPolygon => Geometry::MultiPolygon(MultiPolygon(members(h).map(|m| read_polygon(m)).collect())),
        Wkb::wkbPolyhedralSurface | Wkb::wkbTIN => footprint(h),
        Wkb::wkbGeometryCollection => return collection(h, rules),
        _ => return Err(GeometryError::UnknownType(type_name(h))),
    };
    Ok((simple, false))
}

unsafe fn read_point(h: OGRGeometryH) -> Point<f64> {
    Point::new(gdal_sys::OGR_G_GetX(h, 0), gdal_sys::OGR_G_GetY(h, 0))
}

/// A line's or ring's vertices, read straight into an XY buffer (Z and M are not copied).
unsafe fn read_line(h: OGRGeometryH) -> LineString<f64> {
    let n = gdal_sys::OGR_G_GetPointCount(h).max(0) as usize;
    let mut xy = vec![[0.0f64; 2]; n];
    if n > 0 {
        let base = xy.as_mut_ptr().cast::<f64>();
        let stride = std::mem::size_of::<[f64; 2]>() as i32;
        gdal_sys::OGR_G_GetPoints(h, base.cast(), stride, base.add(1).cast(), stride, std::ptr::null_mut(), 0);
    }
    LineString(xy.into_iter().map(|[x, y]| Coord { x, y }).collect())
}

unsafe fn read_polygon(h: OGRGeometryH) -> Polygon<f64> {
    let mut rings = members(h).map(|r| read_line(r));
    let exterior = rings.next().unwrap_or_else(|| LineString(Vec::new()));
    Polygon::new(exterior, rings.collect())
}

/// The ground a surface covers: its faces projected to XY, edge-on faces dropped, unioned.
unsafe fn footprint(h: OGRGeometryH) -> Geometry<f64> {
    let faces: Vec<Polygon<f64>> = members(h).map(|f| read_polygon(f)).filter(covers_ground).collect();
    let union = geo::unary_union(&faces);
    match union.0.len() {
        1 => Geometry::Polygon(union.0.into_iter().next().expect("one part")),
        _ => Geometry::MultiPolygon(union),
    }
}

fn covers_ground(face: &Polygon<f64>) -> bool {
    let perimeter = Euclidean.length(face.exterior());
    face.unsigned_area() > FLAT_FACE_RATIO * perimeter * perimeter
}

/// The parts of a collection by dimension (nested collections and Multi* members flattened).
#[derive(Default)]
struct Parts {
    points: Vec<Point<f64>>,
    lines: Vec<LineString<f64>>,
    polygons: Vec<Polygon<f64>>,
}

impl Parts {
    fn add(&mut self, g: Geometry<f64>) {
        match g {
            Geometry::Point(p) => self.points.push(p),
            Geometry::MultiPoint(mp) => self.points.extend(mp.0),
            Geometry::LineString(l) => self.lines.push(l),
            Geometry::MultiLineString(ml) => self.lines.extend(ml.0),
            Geometry::Polygon(p) => self.polygons.push(p),
            Geometry::MultiPolygon(mp) => self.polygons.extend(mp.0),
            Geometry::GeometryCollection(gc) => gc.0.into_iter().for_each(|m| self.add(m)),
            Geometry::Line(l) => self.lines.push(l.into()),
            Geometry::Rect(r) => self.polygons.push(r.to_polygon()),
            Geometry::Triangle(t) => self.polygons.push(t.to_polygon()),
        }
    }

    fn present(&self) -> Vec<Dimension> {
        [
            (Dimension::Points, self.points.is_empty()),
            (Dimension::Lines, self.lines.is_empty()),
            (Dimension::Areas, self.polygons.is_empty()),
        ]
        .into_iter()
        .filter_map(|(d, empty)| (!empty).then_some(d))
        .collect()
    }

    /// The parts of one dimension: a single part alone, several as their Multi*.
    fn take(self, dimension: Dimension) -> Geometry<f64> {
        fn one_or_many<T, G>(mut parts: Vec<T>, one: fn(T) -> Geometry<f64>, many: fn(Vec<T>) -> G) -> Geometry<f64>
        where
            G: Into<Geometry<f64>>,
        {
            match parts.len() {
                1 => one(parts.pop().expect("one part")),
                _ => many(parts).into(),
            }
        }
        match dimension {
            Dimension::Points => one_or_many(self.points, Geometry::Point, MultiPoint),
            Dimension::Lines => one_or_many(self.lines, Geometry::LineString, MultiLineString),
            Dimension::Areas => one_or_many(self.polygons, Geometry::Polygon, MultiPolygon),
        }
    }
}

unsafe fn collection(h: OGRGeometryH, rules: &Rules) -> Result<(Geometry<f64>, bool), GeometryError> {
    let mut parts = Parts::default();
    for member in members(h) {
        parts.add(to_geo(member, rules)?.0);
    }
    let present = parts.present();
    match present.as_slice() {
        [] => Ok((Geometry::GeometryCollection(Default::default()), false)),
        [one] => Ok((parts.take(*one), false)),
        mixed if rules.split_collections => {
            let keep = rules
                .declared
                .filter(|d| mixed.contains(d))
                .or_else(|| mixed.iter().max().copied())
                .expect("a mixed collection has parts");
            Ok((parts.take(keep), true))
        }
        mixed => Err(GeometryError::MixedCollection {
            kinds: mixed.iter().map(|d| d.name()).collect::<Vec<_>>().join(" and "),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo_types::polygon;

    fn rules(split: bool, declared: Option<Dimension>) -> Rules {
        Rules {
            multipatch: false,
            split_collections: split,
            declared,
        }
    }

    fn wkt(text: &str, rules: &Rules) -> Result<Converted, GeometryError> {
        convert(&OgrGeometry::from_wkt(text).unwrap(), None, rules)
    }

    #[test]
    fn z_and_m_are_dropped_and_the_z_range_kept() {
        let c = wkt("POLYGON ZM ((0 0 5 1,1 0 7 1,1 1 9 1,0 0 5 1))", &rules(false, None)).unwrap();
        assert_eq!(
            c.geometry,
            Geometry::Polygon(polygon![(x: 0.0, y: 0.0), (x: 1.0, y: 0.0), (x: 1.0, y: 1.0)])
        );
        assert_eq!(c.z_range, Some((5.0, 9.0)));
        assert_eq!(wkt("LINESTRING M (0 0 3,1 1 4)", &rules(false, None)).unwrap().z_range, None);
    }

    #[test]
    fn a_circle_is_linearised_within_the_stated_step() {
        let c = wkt("CURVEPOLYGON (CIRCULARSTRING (0 0,2 0,0 0))", &rules(false, None)).unwrap();
        let Geometry::Polygon(p) = c.geometry else {
            panic!("{:?}", c.geometry)
        };
        assert!(p.exterior().0.len() >= 360, "{} vertices", p.exterior().0.len());
        let exact = std::f64::consts::PI;
        assert!((p.unsigned_area() - exact).abs() / exact < 1e-4, "{}", p.unsigned_area());
    }

    #[test]
    fn a_closed_solid_has_its_base_as_footprint() {
        let cube = "POLYHEDRALSURFACE Z (((0 0 0,0 1 0,1 1 0,1 0 0,0 0 0)),((0 0 0,0 0 1,0 1 1,0 1 0,0 0 0)),((0 0 0,1 0 0,1 0 1,0 0 1,0 0 0)),((1 1 1,1 0 1,0 0 1,0 1 1,1 1 1)),((1 1 1,0 1 1,0 1 0,1 1 0,1 1 1)),((1 1 1,1 1 0,1 0 0,1 0 1,1 1 1)))";
        let c = wkt(cube, &rules(false, None)).unwrap();
        assert_eq!(c.z_range, Some((0.0, 1.0)));
        let Geometry::Polygon(p) = c.geometry else {
            panic!("{:?}", c.geometry)
        };
        assert!((p.unsigned_area() - 1.0).abs() < 1e-12 && p.interiors().is_empty());
        let tin = wkt(
            "TIN Z (((0 0 0,0 1 0,1 1 1,0 0 0)),((0 0 0,1 1 1,1 0 0,0 0 0)))",
            &rules(false, None),
        )
        .unwrap();
        assert!((tin.geometry.unsigned_area() - 1.0).abs() < 1e-12, "{:?}", tin.geometry);
    }

    #[test]
    fn collections_of_one_kind_become_multi_and_mixed_ones_are_refused_or_split() {
        let c = wkt("GEOMETRYCOLLECTION (POINT (1 2),MULTIPOINT ((3 4)))", &rules(false, None)).unwrap();
        assert!(matches!(c.geometry, Geometry::MultiPoint(ref mp) if mp.0.len() == 2) && !c.split);
        let mixed = "GEOMETRYCOLLECTION (POINT (1 2),LINESTRING (0 0,1 1),POLYGON ((0 0,1 0,1 1,0 0)))";
        let err = wkt(mixed, &rules(false, None)).unwrap_err();
        assert!(
            matches!(err, GeometryError::MixedCollection { ref kinds } if kinds == "points and lines and polygons"),
            "{err}"
        );
        assert!(matches!(wkt(mixed, &rules(true, None)).unwrap().geometry, Geometry::Polygon(_)));
        let declared = wkt(mixed, &rules(true, Some(Dimension::Lines))).unwrap();
        assert!(matches!(declared.geometry, Geometry::LineString(_)) && declared.split);
        let curved = wkt(
            "GEOMETRYCOLLECTION (CIRCULARSTRING (0 0,1 1,2 0),LINESTRING (2 0,3 0))",
            &rules(false, None),
        )
        .unwrap();
        assert!(
            matches!(curved.geometry, Geometry::MultiLineString(ref ml) if ml.0[0].0.len() > 90),
            "{:?}",
            curved.geometry
        );
    }
}
