//! Opening survey files with GDAL: which driver, which open options (CSV coordinate columns,
//! Shapefile code pages), zipped Shapefiles, and the legacy-encoding check.

use std::path::{Path, PathBuf};

use gdal::{Dataset, DatasetOptions, GdalOpenFlags};

use super::ImportError;

/// Extensions bando imports, and what it calls them in messages.
const FORMATS: &[(&str, &str)] = &[
    ("shp", "Shapefile"),
    ("zip", "zipped Shapefile"),
    ("gpkg", "GeoPackage"),
    ("geojson", "GeoJSON"),
    ("json", "GeoJSON"),
    ("geojsons", "GeoJSON Sequence"),
    ("geojsonl", "GeoJSON Sequence"),
    ("fgb", "FlatGeobuf"),
    ("kml", "KML"),
    ("gml", "GML"),
    ("dxf", "DXF"),
    ("dgn", "DGN"),
    ("csv", "CSV"),
    ("pbf", "OSM PBF"),
    ("osm", "OSM XML"),
];

fn extension(path: &Path) -> String {
    path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase()
}

/// A Shapefile's .dbf declares its code page in a .cpg file or in byte 29 (the language driver id).
fn shapefile_declares_encoding(shp: &Path) -> bool {
    let cpg = ["cpg", "CPG"].iter().any(|e| shp.with_extension(e).exists());
    if cpg {
        return true;
    }
    let dbf = ["dbf", "DBF"].iter().map(|e| shp.with_extension(e)).find(|p| p.exists());
    match dbf.and_then(|p| std::fs::read(p).ok()) {
        Some(bytes) => bytes.get(29).is_some_and(|ldid| *ldid != 0),
        None => true,
    }
}

/// How attribute bytes become text.
#[derive(Clone, Copy)]
pub enum TextDecoding {
    /// GDAL delivers UTF-8 (it recoded a declared code page, or the format is UTF-8): anything
    /// else means the file lied or declared nothing, and the user must name the encoding.
    Utf8,
    /// GDAL delivers raw bytes and bando decodes them. Used for `--encoding` on Shapefiles:
    /// GDAL's iconv path drops the last character of stateful code pages such as CP1258
    /// (Windows Vietnamese), which encoding_rs decodes correctly.
    Legacy(&'static encoding_rs::Encoding),
}

impl TextDecoding {
    /// Decodes a C string from GDAL; `None` when it is not valid in the expected encoding.
    pub fn decode(self, raw: &[u8]) -> Option<std::borrow::Cow<'_, str>> {
        match self {
            TextDecoding::Utf8 => std::str::from_utf8(raw).ok().map(std::borrow::Cow::Borrowed),
            TextDecoding::Legacy(enc) => {
                let (text, had_errors) = enc.decode_without_bom_handling(raw);
                (!had_errors).then_some(text)
            }
        }
    }
}

/// Opens `file` for reading. A .dbf with no .cpg and no code page mark is read undecoded, so that
/// the importer's UTF-8 check catches legacy encodings instead of GDAL guessing Latin-1.
pub fn open(file: &Path, encoding: Option<&str>) -> Result<(Dataset, TextDecoding), ImportError> {
    if !file.exists() {
        return Err(ImportError::Missing(file.to_path_buf()));
    }
    let ext = extension(file);
    let format = FORMATS
        .iter()
        .find(|(e, _)| *e == ext)
        .map(|(_, f)| *f)
        .ok_or_else(|| ImportError::Unsupported {
            file: file.to_path_buf(),
            extension: ext.clone(),
        })?;
    let gdal_path: PathBuf = if ext == "zip" {
        PathBuf::from(format!("/vsizip/{}", file.display()))
    } else {
        file.to_path_buf()
    };

    let mut options: Vec<String> = Vec::new();
    let mut decoding = TextDecoding::Utf8;
    let legacy = encoding.and_then(|e| encoding_rs::Encoding::for_label(e.trim().as_bytes()));
    match ext.as_str() {
        "csv" => options.extend(
            [
                "X_POSSIBLE_NAMES=lon,lng,long,longitude,x,kinh_do,kinhdo",
                "Y_POSSIBLE_NAMES=lat,latitude,y,vi_do,vido",
                "GEOM_POSSIBLE_NAMES=wkt,geom,geometry,the_geom,WKT",
                "KEEP_GEOM_COLUMNS=NO",
                "AUTODETECT_TYPE=YES",
            ]
            .map(String::from),
        ),
        "shp" | "zip" => match (encoding, legacy) {
            (Some(_), Some(enc)) => {
                options.push("ENCODING=".into());
                decoding = TextDecoding::Legacy(enc);
            }
            (Some(enc), None) => options.push(format!("ENCODING={enc}")),
            (None, _) if ext == "shp" && !shapefile_declares_encoding(file) => {
                options.push("ENCODING=".into());
            }
            (None, _) => {}
        },
        "dxf" | "dgn" => {
            // The drivers linearise arcs themselves: with the step every other curve gets.
            gdal::config::set_config_option("OGR_ARC_STEPSIZE", &super::geometry::MAX_ARC_STEP_DEG.to_string()).ok();
            if let Some(enc) = encoding {
                gdal::config::set_config_option("DXF_ENCODING", enc).ok();
            }
        }
        _ => {}
    }
    let option_refs: Vec<&str> = options.iter().map(String::as_str).collect();
    Dataset::open_ex(
        &gdal_path,
        DatasetOptions {
            open_flags: GdalOpenFlags::GDAL_OF_VECTOR | GdalOpenFlags::GDAL_OF_READONLY,
            open_options: if option_refs.is_empty() { None } else { Some(&option_refs) },
            ..Default::default()
        },
    )
    .map(|dataset| (dataset, decoding))
    .map_err(|e| ImportError::Unreadable {
        file: file.to_path_buf(),
        format,
        reason: e.to_string(),
    })
}

/// GDAL reports read errors (a truncated .shp, a broken record) through its error state rather
/// than by ending iteration with an error: take and clear it.
pub fn take_gdal_error() -> Option<String> {
    // SAFETY: plain calls into GDAL's thread-local error state.
    unsafe {
        let level = gdal_sys::CPLGetLastErrorType();
        if level == gdal_sys::CPLErr::CE_Failure || level == gdal_sys::CPLErr::CE_Fatal {
            let msg = std::ffi::CStr::from_ptr(gdal_sys::CPLGetLastErrorMsg())
                .to_string_lossy()
                .into_owned();
            gdal_sys::CPLErrorReset();
            return Some(msg);
        }
        gdal_sys::CPLErrorReset();
    }
    None
}

/// GDAL prints warnings (unclosed rings, odd OSM relations) to stderr by default; send them to
/// the log instead. Failures still reach the importer through GDAL's error state.
pub fn route_gdal_messages_to_log() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        gdal::config::set_error_handler(|class, number, message| {
            tracing::debug!(target: "gdal", ?class, number, "{message}");
        });
    });
}

pub fn reset_gdal_error() {
    // SAFETY: plain call into GDAL's thread-local error state.
    unsafe { gdal_sys::CPLErrorReset() }
}
