//! MapLibre styles of scenario maps: read from the styles folder and made absolute. Style files
//! name bando's own resources by path (`/scenarios/basemap.json`, `/fonts/{fontstack}/{range}.pbf`)
//! so one file works behind any host or proxy; serving prefixes them with the public base URL.
//!
//! Owns reading and rewriting style documents, and leaving out of them what a reader may not
//! see ([`restrict`]: the caller says, per source URL, which of it is shown); does not check
//! them against the style spec (the test suite does that with MapLibre's own validator).

use std::path::Path;

use serde_json::Value as Json;

use super::TileError;

/// What of one style source its reader may see.
pub enum Shown {
    /// Not bando's (another server's tiles): left as it is.
    Whole,
    /// Only these tile layers (`source-layer`s).
    Layers(Vec<String>),
    /// Nothing: the source and every style layer drawing from it are left out.
    Hidden,
}

/// Leaves out of `style` the sources `shown` hides and the style layers that draw from them or
/// from a tile layer their source does not show. `shown` gets each source's URL as written in
/// the style file (`/scenarios/ID.json`, `/tiles/LAYERS.json`).
pub fn restrict(style: &mut Json, shown: impl Fn(&str) -> Shown) {
    let mut by_source = std::collections::HashMap::new();
    if let Some(sources) = style.get_mut("sources").and_then(Json::as_object_mut) {
        for (name, source) in sources.iter() {
            let url = source.get("url").and_then(Json::as_str).unwrap_or("");
            by_source.insert(name.clone(), shown(url));
        }
        sources.retain(|name, _| !matches!(by_source.get(name), Some(Shown::Hidden)));
    }
    if let Some(layers) = style.get_mut("layers").and_then(Json::as_array_mut) {
        layers.retain(|layer| {
            let Some(source) = layer.get("source").and_then(Json::as_str) else {
                return true;
            };
            match by_source.get(source) {
                None | Some(Shown::Whole) => true,
                Some(Shown::Hidden) => false,
                Some(Shown::Layers(ids)) => layer
                    .get("source-layer")
                    .and_then(Json::as_str)
                    .is_none_or(|id| ids.iter().any(|i| i == id)),
            }
        });
    }
}

/// Reads `dir/file` and makes its source, tile, glyph and sprite URLs absolute under `base`.
pub fn load(dir: &Path, file: &str, base: &str, shown: impl Fn(&str) -> Shown) -> Result<Json, TileError> {
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
    restrict(&mut style, shown);
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
