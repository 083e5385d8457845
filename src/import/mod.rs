//! Import of survey datasets into the store: read with GDAL (Shapefile, GeoPackage, GeoJSON,
//! FlatGeobuf, KML, GML, DXF, CSV, OSM PBF), reproject to WGS84 with PROJ, check the data lands
//! in the region, validate (and with `--repair` mend) geometries, map field names through an
//! import profile, normalise text to Unicode NFC, and stream everything into one store
//! transaction.
//!
//! Owns: file formats, field mapping, validation. Does not know table layouts (that is `store`)
//! nor anything about serving.

mod geometry;
pub mod profile;
mod reading;
mod source;

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

use gdal::cpl::CslStringList;
use gdal::spatial_ref::CoordTransform;
use gdal::vector::{LayerAccess, OGRFieldType, ToGdal};
use geo::Validation;
use geo_types::Geometry;
use sha2::{Digest, Sha256};
use unicode_normalization::{is_nfc, UnicodeNormalization};

use crate::crs::{self, CrsError, Region};
use crate::feature::{Bbox, FieldDef, FieldType, LayerKind, UnknownKind, Value};
use crate::store::{LayerMeta, NewLayer, Provenance, Store, StoreError};
pub use profile::Profile;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    #[error("file {0} does not exist; check the path")]
    Missing(PathBuf),
    #[error("{file}: '.{extension}' is not a format bando imports; use Shapefile (.shp or .zip), GeoPackage, GeoJSON, FlatGeobuf, KML, GML, DXF, DGN, CSV or OSM PBF, or convert it with ogr2ogr")]
    Unsupported { file: PathBuf, extension: String },
    #[error("cannot read {file} as {format}: {reason}; check that the file is complete and really is {format}")]
    Unreadable {
        file: PathBuf,
        format: &'static str,
        reason: String,
    },
    #[error("reading {file} failed after {after} features: {reason}; the file is probably truncated or damaged (for a Shapefile, check that .shp, .shx and .dbf are complete)")]
    ReadFailed { file: PathBuf, after: u64, reason: String },
    #[error("{file} has no layer '{wanted}'; its layers are: {available}")]
    NoSuchSourceLayer { file: PathBuf, wanted: String, available: String },
    #[error("{file} has no vector layer")]
    NoLayer { file: PathBuf },
    #[error("{file} does not say which coordinate system it uses; pass --src-crs, e.g. --src-crs EPSG:4326 for lon/lat degrees, --src-crs VN2000:TM3:107.75 for VN-2000 TM-3 metres, or --src-crs VN2000:<province>")]
    NoCrs { file: PathBuf },
    #[error(transparent)]
    Crs(#[from] CrsError),
    #[error("feature {fid} of {file} lands at {bbox} (lon/lat) after reprojection from {crs}, outside {region}: the CRS is probably wrong (VN-2000 metres declared as degrees, or degrees as metres?); pass the right --src-crs, or --region w,s,e,n for data elsewhere")]
    OutsideRegion {
        file: PathBuf,
        fid: i64,
        bbox: Bbox,
        crs: String,
        region: String,
    },
    #[error("feature {fid} of {file} cannot be reprojected from {crs}: {reason}; the CRS is probably wrong, pass the right --src-crs")]
    Transform {
        file: PathBuf,
        fid: i64,
        crs: String,
        reason: String,
    },
    #[error("feature {fid} of {file} is a GEOMETRYCOLLECTION mixing {kinds}; bando stores one kind of geometry per feature: pass --split-collections to keep the part of the layer's declared kind (else its polygons over its lines over its points), or split the collections at the source")]
    MixedCollection { file: PathBuf, fid: i64, kinds: String },
    #[error("{count} invalid geometries in {file}:\n{listing}\nfix them at the source, or pass --repair to make them valid")]
    Invalid { file: PathBuf, count: usize, listing: String },
    #[error("text in field '{field}' of feature {fid} in {file} is not UTF-8 and the .dbf declares no code page (no .cpg file); pass --encoding, e.g. --encoding CP1258 for Windows Vietnamese")]
    Encoding { file: PathBuf, field: String, fid: i64 },
    #[error("import profile {path}: {reason}")]
    Profile { path: PathBuf, reason: String },
    #[error("--map '{0}' is not SRC=FIELD, e.g. --map SoThua=parcel_no")]
    BadMap(String),
    #[error("--personal names '{field}', which this import has no field of; its fields are: {fields}")]
    UnknownPersonal { field: String, fields: String },
    #[error("{0}")]
    BadRegion(String),
    #[error("the profile is for kind '{profile}' but --kind is '{kind}'; drop one of them or make them agree")]
    KindMismatch { profile: LayerKind, kind: LayerKind },
    #[error(transparent)]
    Kind(#[from] UnknownKind),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot read {file}: {source}")]
    Io { file: PathBuf, source: std::io::Error },
}

/// Everything `bando import` accepts.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub file: PathBuf,
    pub layer: String,
    pub kind: Option<LayerKind>,
    pub source_layer: Option<String>,
    pub src_crs: Option<String>,
    pub encoding: Option<String>,
    pub replace: bool,
    pub repair: bool,
    /// Keep one kind of each mixed GeometryCollection instead of refusing the import.
    pub split_collections: bool,
    pub profile: Option<PathBuf>,
    pub maps: Vec<String>,
    /// Fields to mark as personal data (`--personal`), besides the profile's `personal` list:
    /// target names, or the source's names of them.
    pub personal: Vec<String>,
    pub region: Region,
    pub progress: bool,
}

impl ImportOptions {
    pub fn new(file: impl Into<PathBuf>, layer: impl Into<String>) -> ImportOptions {
        ImportOptions {
            file: file.into(),
            layer: layer.into(),
            kind: None,
            source_layer: None,
            src_crs: None,
            encoding: None,
            replace: false,
            repair: false,
            split_collections: false,
            profile: None,
            maps: Vec::new(),
            personal: Vec::new(),
            region: Region::vietnam(),
            progress: false,
        }
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ImportSummary {
    pub layer: LayerMeta,
    pub read: u64,
    pub written: u64,
    pub skipped: u64,
    pub repaired: u64,
    /// Mixed collections imported as one of their kinds (`--split-collections`).
    pub split: u64,
    pub seconds: f64,
    pub source_layer: String,
}

impl ImportSummary {
    pub fn features_per_second(&self) -> f64 {
        self.written as f64 / self.seconds.max(1e-9)
    }
}

/// How each source column lands in the store.
struct FieldPlan {
    source_index: usize,
    source_name: String,
    target: FieldDef,
}

fn ogr_field_type(ty: OGRFieldType::Type, subtype: gdal_sys::OGRFieldSubType::Type) -> FieldType {
    match ty {
        OGRFieldType::OFTInteger if subtype == gdal_sys::OGRFieldSubType::OFSTBoolean => FieldType::Bool,
        OGRFieldType::OFTInteger | OGRFieldType::OFTInteger64 => FieldType::Int,
        OGRFieldType::OFTReal => FieldType::Float,
        _ => FieldType::Text,
    }
}

fn nfc(s: &str) -> Box<str> {
    if s.is_ascii() || is_nfc(s) {
        s.into()
    } else {
        s.nfc().collect::<String>().into()
    }
}

fn parse_maps(maps: &[String]) -> Result<Vec<(String, String)>, ImportError> {
    maps.iter()
        .map(|m| match m.split_once('=') {
            Some((src, dst)) if !src.trim().is_empty() && !dst.trim().is_empty() => Ok((src.trim().to_string(), dst.trim().to_string())),
            _ => Err(ImportError::BadMap(m.clone())),
        })
        .collect()
}

/// Picks the kind whose default profile recognises most of the source's field names.
fn guess_kind(source_names: &[String]) -> LayerKind {
    LayerKind::ALL
        .into_iter()
        .map(|kind| {
            let profile = Profile::default_for(kind);
            (source_names.iter().filter(|n| profile.canonical(n).is_some()).count(), kind)
        })
        .filter(|(hits, _)| *hits > 0)
        .max_by_key(|(hits, _)| *hits)
        .map_or(LayerKind::Poi, |(_, kind)| kind)
}

/// Names bando gives its own columns; a source field of the same name is kept as `src_<name>`.
const RESERVED: &[&str] = &["fid", "geom"];
/// The columns a building layer gets from a source with Z: lowest and highest vertex Z.
const Z_FIELDS: [&str; 2] = ["z_min", "z_max"];

fn plan_fields(source: &[(String, FieldType)], profile: &Profile, maps: &[(String, String)], reserved: &[&str]) -> Vec<FieldPlan> {
    let mut used: HashSet<String> = HashSet::new();
    let mut plans = Vec::with_capacity(source.len());
    for (i, (name, ty)) in source.iter().enumerate() {
        let explicit = maps
            .iter()
            .find(|(src, _)| src == name || profile::match_key(src) == profile::match_key(name));
        let (target_name, target_ty) = match explicit {
            Some((_, dst)) => {
                let ty = profile.canonical_type(dst).map_or(*ty, |c| c.resolve(*ty));
                (dst.clone(), ty)
            }
            None => match profile.canonical(name) {
                Some((canonical, cty)) if !used.contains(canonical) => (canonical.to_string(), cty.resolve(*ty)),
                _ => (nfc(name).into_string(), *ty),
            },
        };
        let mut target_name = target_name;
        if reserved.iter().any(|r| target_name.eq_ignore_ascii_case(r)) {
            target_name = format!("src_{target_name}");
        }
        while used.contains(&target_name) {
            target_name.push('_');
        }
        used.insert(target_name.clone());
        plans.push(FieldPlan {
            source_index: i,
            source_name: name.clone(),
            target: FieldDef::new(target_name, target_ty),
        });
    }
    plans
}

/// Marks as personal the fields the profile lists (those this source has) and every field
/// `--personal` names (each must exist, by its target or its source name).
fn mark_personal(plans: &mut [FieldPlan], profile: &[String], asked: &[String]) -> Result<(), ImportError> {
    for name in profile {
        plans
            .iter_mut()
            .filter(|p| p.target.name == *name)
            .for_each(|p| p.target.personal = true);
    }
    for name in asked {
        let named = |p: &FieldPlan| p.target.name == *name || p.source_name == *name;
        let Some(plan) = plans.iter_mut().find(|p| named(p)) else {
            let fields: Vec<&str> = plans.iter().map(|p| p.target.name.as_str()).collect();
            return Err(ImportError::UnknownPersonal {
                field: name.clone(),
                fields: fields.join(", "),
            });
        };
        plan.target.personal = true;
    }
    Ok(())
}

fn sha256_of(path: &Path) -> Result<String, std::io::Error> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Reads one attribute as bando's value; `Err(())` when the bytes are not text in `decoding`.
fn read_value(
    feature: &gdal::vector::Feature<'_>,
    index: usize,
    ty: OGRFieldType::Type,
    decoding: source::TextDecoding,
) -> Result<Value, ()> {
    let i = index as i32;
    // SAFETY: `feature` owns a valid handle and `i` is a field index of its definition.
    unsafe {
        let h = feature.c_feature();
        if gdal_sys::OGR_F_IsFieldSetAndNotNull(h, i) == 0 {
            return Ok(Value::Null);
        }
        Ok(match ty {
            OGRFieldType::OFTInteger | OGRFieldType::OFTInteger64 => Value::Int(gdal_sys::OGR_F_GetFieldAsInteger64(h, i)),
            OGRFieldType::OFTReal => Value::Float(gdal_sys::OGR_F_GetFieldAsDouble(h, i)),
            _ => {
                let raw = std::ffi::CStr::from_ptr(gdal_sys::OGR_F_GetFieldAsString(h, i));
                let text = decoding.decode(raw.to_bytes()).ok_or(())?;
                if text.is_empty() {
                    Value::Null
                } else {
                    Value::Text(nfc(&text))
                }
            }
        })
    }
}

/// What `--repair` made of an invalid geometry.
enum Repaired {
    Mended(Geometry<f64>),
    /// A polygon with no area left (it collapsed to lines, points or nothing): empty for its layer.
    Collapsed,
    Failed,
}

/// GEOS MakeValid, read back through the import's one conversion keeping the original's kind
/// (MakeValid may add stray lines to a polygon).
fn repair(g: &Geometry<f64>) -> Repaired {
    let polygonal = geometry_is_polygonal(g);
    let cleaned = if polygonal { without_degenerate_rings(g) } else { g.clone() };
    let mended = cleaned
        .to_gdal()
        .ok()
        .and_then(|o| o.make_valid(&CslStringList::new()).ok())
        .filter(|m| m.is_valid());
    let collapsed = polygonal && geo::Area::unsigned_area(&cleaned) == 0.0;
    let Some(mended) = mended else {
        return if collapsed { Repaired::Collapsed } else { Repaired::Failed };
    };
    let keep_kind = geometry::Rules {
        multipatch: false,
        split_collections: true,
        declared: polygonal.then_some(geometry::Dimension::Areas),
    };
    match geometry::convert(&mended, None, &keep_kind) {
        Ok(c) if Bbox::of(&c.geometry).is_none() => Repaired::Collapsed,
        Ok(c) if !polygonal || geometry_is_polygonal(&c.geometry) => Repaired::Mended(c.geometry),
        Ok(_) => Repaired::Collapsed,
        Err(_) if collapsed => Repaired::Collapsed,
        Err(_) => Repaired::Failed,
    }
}

/// A ring of fewer than three distinct points encloses nothing, and GEOS cannot even read it
/// (OSM relations have such rings): drop it, and a polygon whose exterior it is.
fn without_degenerate_rings(g: &Geometry<f64>) -> Geometry<f64> {
    fn encloses(ring: &geo_types::LineString<f64>) -> bool {
        let mut points: Vec<(f64, f64)> = ring.0.iter().map(|c| (c.x, c.y)).collect();
        points.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
        points.dedup();
        points.len() >= 3
    }
    let clean = |p: &geo_types::Polygon<f64>| {
        encloses(p.exterior()).then(|| {
            geo_types::Polygon::new(
                p.exterior().clone(),
                p.interiors().iter().filter(|r| encloses(r)).cloned().collect(),
            )
        })
    };
    match g {
        Geometry::Polygon(p) => clean(p).map_or_else(|| Geometry::MultiPolygon(geo_types::MultiPolygon(Vec::new())), Geometry::Polygon),
        Geometry::MultiPolygon(mp) => Geometry::MultiPolygon(mp.0.iter().filter_map(clean).collect()),
        other => other.clone(),
    }
}

/// Why `g` cannot be stored as it is, if it cannot. GEOS (the validity PostGIS and QGIS use)
/// decides, on the geometry as stored, and runs first because it is n log n: geo's check is
/// quadratic (a 4,500-vertex ward took 30 ms, 85% of a ward import). A geometry GEOS refuses is
/// refused only if geo's check agrees, whose message then names the reason; without a GEOS
/// answer geo's check decides alone.
fn validation_error(g: &Geometry<f64>) -> Option<String> {
    match g {
        Geometry::Point(_) | Geometry::MultiPoint(_) | Geometry::Line(_) | Geometry::LineString(_) | Geometry::MultiLineString(_) => {
            let finite = geo::CoordsIter::coords_iter(g).all(|c| c.x.is_finite() && c.y.is_finite());
            (!finite).then(|| "non-finite coordinate".to_string())
        }
        _ if g.to_gdal().is_ok_and(|stored| stored.is_valid()) => None,
        _ => g.check_validation().err().map(|e| e.to_string()),
    }
}

/// Imports a file as a layer. On any error the store is left exactly as it was.
pub fn import(store: &dyn Store, opts: &ImportOptions) -> Result<ImportSummary, ImportError> {
    let started = Instant::now();
    crate::store::check_layer_name(&opts.layer)?;
    let maps = parse_maps(&opts.maps)?;
    source::route_gdal_messages_to_log();
    let (dataset, decoding) = source::open(&opts.file, opts.encoding.as_deref())?;
    let mut layer = source_layer(&dataset, opts)?;
    let source_layer = layer.name();
    let source_fields = source_fields(&layer, decoding);
    let profile = choose_profile(opts, &source_fields)?;
    let kind = profile.kind;
    let layer_type = layer
        .defn()
        .geom_fields()
        .next()
        .map_or(gdal_sys::OGRwkbGeometryType::wkbUnknown, |g| g.field_type());
    let geometry_rules = geometry::Rules::of_source(&dataset.driver().short_name(), layer_type, opts.split_collections);
    // Z tells a building's base and roof: keep its range as fields (the store itself is 2D).
    let keeps_z = kind == LayerKind::Building && geometry::has_z(&mut layer, layer_type);
    let reserved: Vec<&str> = RESERVED.iter().copied().chain(Z_FIELDS.into_iter().filter(|_| keeps_z)).collect();
    let typed: Vec<(String, FieldType)> = source_fields.iter().map(|f| (f.name.clone(), f.ty)).collect();
    let mut plans = plan_fields(&typed, &profile, &maps, &reserved);
    mark_personal(&mut plans, &profile.personal, &opts.personal)?;
    let ogr_types: Vec<OGRFieldType::Type> = source_fields.iter().map(|f| f.ogr_type).collect();
    let (crs_name, transform) = source_crs(opts, &layer)?;

    let writer = store.begin_layer(new_layer(opts, kind, &plans, keeps_z))?;
    let rules = reading::RowRules {
        opts,
        transform: transform.as_ref(),
        geometry: &geometry_rules,
        plans: &plans,
        ogr_types: &ogr_types,
        decoding,
        keeps_z,
        crs_name: &crs_name,
    };
    let progress = progress_bar(opts, layer.try_feature_count());
    let reading::Streamed {
        read,
        skipped,
        repaired,
        split,
        sha,
        writer,
    } = reading::stream(&mut layer, &rules, writer, &progress)?;

    let seconds = started.elapsed().as_secs_f64();
    let file = &opts.file;
    let meta = writer.commit(Provenance {
        source_file: file
            .file_name()
            .map_or_else(|| file.display().to_string(), |n| n.to_string_lossy().into_owned()),
        source_sha256: sha,
        source_crs: crs_name,
        read,
        skipped,
        repaired,
        seconds,
    })?;
    let seconds = started.elapsed().as_secs_f64(); // including the commit
    Ok(ImportSummary {
        written: meta.feature_count,
        layer: meta,
        read,
        skipped,
        repaired,
        split,
        seconds,
        source_layer,
    })
}

/// The source layer asked for with `--source-layer`, else the file's first.
fn source_layer<'d>(dataset: &'d gdal::Dataset, opts: &ImportOptions) -> Result<gdal::vector::Layer<'d>, ImportError> {
    let file = &opts.file;
    match &opts.source_layer {
        Some(name) => dataset.layer_by_name(name).map_err(|_| ImportError::NoSuchSourceLayer {
            file: file.clone(),
            wanted: name.clone(),
            available: dataset.layers().map(|l| l.name()).collect::<Vec<_>>().join(", "),
        }),
        None => dataset.layer(0).map_err(|_| ImportError::NoLayer { file: file.clone() }),
    }
}

/// One column of the source, its name decoded from the source's encoding.
struct SourceField {
    name: String,
    ty: FieldType,
    ogr_type: OGRFieldType::Type,
}

fn source_fields(layer: &gdal::vector::Layer<'_>, decoding: source::TextDecoding) -> Vec<SourceField> {
    layer
        .defn()
        .fields()
        .enumerate()
        .map(|(i, f)| {
            // SAFETY: reading field `i` of the layer's own definition.
            let (subtype, raw_name) = unsafe {
                let defn = gdal_sys::OGR_FD_GetFieldDefn(layer.defn().c_defn(), i as i32);
                (
                    gdal_sys::OGR_Fld_GetSubType(defn),
                    std::ffi::CStr::from_ptr(gdal_sys::OGR_Fld_GetNameRef(defn)).to_bytes().to_vec(),
                )
            };
            let name = decoding.decode(&raw_name).map_or_else(|| f.name(), |n| nfc(&n).into_string());
            SourceField {
                name,
                ty: ogr_field_type(f.field_type(), subtype),
                ogr_type: f.field_type(),
            }
        })
        .collect()
}

/// The `--profile` file (whose kind must agree with `--kind`), else the default profile of the
/// kind asked for or guessed from the field names.
fn choose_profile(opts: &ImportOptions, fields: &[SourceField]) -> Result<Profile, ImportError> {
    match &opts.profile {
        Some(path) => {
            let p = Profile::load(path)?;
            if let Some(kind) = opts.kind.filter(|k| *k != p.kind) {
                return Err(ImportError::KindMismatch { profile: p.kind, kind });
            }
            Ok(p)
        }
        None => {
            let names: Vec<String> = fields.iter().map(|f| f.name.clone()).collect();
            Ok(Profile::default_for(opts.kind.unwrap_or_else(|| guess_kind(&names))))
        }
    }
}

/// The source CRS (`--src-crs`, else the file's) by name, and the transform to WGS84 unless it
/// is WGS84 already.
fn source_crs(opts: &ImportOptions, layer: &gdal::vector::Layer<'_>) -> Result<(String, Option<CoordTransform>), ImportError> {
    let source_srs = match &opts.src_crs {
        Some(def) => crs::parse(def)?,
        None => match layer.spatial_ref() {
            Some(srs) => crs::from_file(srs),
            None => return Err(ImportError::NoCrs { file: opts.file.clone() }),
        },
    };
    let transform = if crs::is_wgs84_lonlat(&source_srs) {
        None
    } else {
        Some(crs::to_wgs84(&source_srs)?)
    };
    Ok((crs::describe(&source_srs), transform))
}

fn new_layer(opts: &ImportOptions, kind: LayerKind, plans: &[FieldPlan], keeps_z: bool) -> NewLayer {
    let z_fields = Z_FIELDS
        .into_iter()
        .filter(|_| keeps_z)
        .map(|name| FieldDef::new(name.to_string(), FieldType::Float));
    NewLayer {
        name: opts.layer.clone(),
        kind,
        fields: plans.iter().map(|p| p.target.clone()).chain(z_fields).collect(),
        replace: opts.replace,
    }
}

fn progress_bar(opts: &ImportOptions, total: Option<u64>) -> indicatif::ProgressBar {
    if !opts.progress {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total.unwrap_or(0));
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {msg} [{bar:40}] {human_pos}/{human_len} {per_sec} eta {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_message(format!("importing {}", opts.layer));
    bar
}

fn geometry_is_polygonal(g: &Geometry<f64>) -> bool {
    matches!(g, Geometry::Polygon(_) | Geometry::MultiPolygon(_))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_map_through_profile_and_explicit_maps() {
        let profile = Profile::default_for(LayerKind::Cadastral);
        let source = vec![
            ("SoThua".to_string(), FieldType::Int),
            ("LoaiDat".to_string(), FieldType::Text),
            ("ChuSuDung".to_string(), FieldType::Text),
            ("fid".to_string(), FieldType::Int),
        ];
        let plans = plan_fields(&source, &profile, &[("ChuSuDung".into(), "owner".into())], RESERVED);
        let names: Vec<&str> = plans.iter().map(|p| p.target.name.as_str()).collect();
        assert_eq!(names, ["parcel_no", "land_use", "owner", "src_fid"]);
        assert_eq!(plans[0].target.ty, FieldType::Int);
    }

    #[test]
    fn kind_is_guessed_from_field_names() {
        let names = ["SoTo", "SoThua", "LoaiDat"].map(String::from);
        assert_eq!(guess_kind(&names), LayerKind::Cadastral);
        let names = ["so_tang", "chieu_cao"].map(String::from);
        assert_eq!(guess_kind(&names), LayerKind::Building);
        assert_eq!(guess_kind(&["foo".to_string()]), LayerKind::Poi);
    }

    #[test]
    fn bad_maps_are_refused() {
        assert!(parse_maps(&["SoThua".into()]).is_err());
        assert_eq!(parse_maps(&["a=b".into()]).unwrap(), vec![("a".into(), "b".into())]);
    }
}
