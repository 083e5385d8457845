//! MapLibre styles of scenario maps: read from the styles folder and made absolute. Style files
//! name bando's own resources by path (`/scenarios/basemap.json`, `/fonts/{fontstack}/{range}.pbf`)
//! so one file works behind any host or proxy; serving prefixes them with the public base URL.
//!
//! Owns reading and rewriting style documents; does not check them against the style spec
//! (the test suite does that with MapLibre's own validator).

use std::path::Path;

use serde_json::Value as Json;

use super::TileError;

/// Reads `dir/file` and makes its source, tile, glyph and sprite URLs absolute under `base`.
pub fn load(dir: &Path, file: &str, base: &str) -> Result<Json, TileError> {
    if file.is_empty() || file.contains("..") || file.contains('/') || file.contains('\\') {
        return Err(TileError::BadStyle {
            file: file.into(),
            reason: "a style is a plain file name inside the styles folder".into(),
        });
    }
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).map_err(|e| TileError::BadStyle {
        file: path.display().to_string(),
        reason: e.to_string(),
    })?;
    let mut style: Json = serde_json::from_str(&text).map_err(|e| TileError::BadStyle {
        file: path.display().to_string(),
        reason: e.to_string(),
    })?;
    let absolute = |v: &mut Json| {
        if let Some(s) = v.as_str().filter(|s| s.starts_with('/')) {
            *v = Json::from(format!("{base}{s}"));
        }
    };
    for key in ["glyphs", "sprite"] {
        if let Some(v) = style.get_mut(key) {
            absolute(v);
        }
    }
    if let Some(sources) = style.get_mut("sources").and_then(Json::as_object_mut) {
        for source in sources.values_mut() {
            if let Some(url) = source.get_mut("url") {
                absolute(url);
            }
            if let Some(tiles) = source.get_mut("tiles").and_then(Json::as_array_mut) {
                tiles.iter_mut().for_each(absolute);
            }
        }
    }
    Ok(style)
}
