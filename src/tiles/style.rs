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
    /// Only the tile layers (`source-layer`s) `ids`; those among `figures` carry an
    /// aggregate-only layer's figures per unit, so the style layers drawing them are redrawn
    /// as units filled by their `count` ([`as_figures`]).
    Layers { ids: Vec<String>, figures: Vec<String> },
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
                Some(Shown::Layers { ids, .. }) => layer
                    .get("source-layer")
                    .and_then(Json::as_str)
                    .is_none_or(|id| ids.iter().any(|i| i == id)),
            }
        });
        for layer in layers.iter_mut() {
            let source = layer.get("source").and_then(Json::as_str).unwrap_or("");
            let source_layer = layer.get("source-layer").and_then(Json::as_str).unwrap_or("");
            if let Some(Shown::Layers { figures, .. }) = by_source.get(source) {
                if figures.iter().any(|f| f == source_layer) {
                    as_figures(layer);
                }
            }
        }
    }
}

/// Paint properties whose plain colour a figures layer keeps, in order of preference.
const COLOUR_PAINTS: [&str; 5] = ["fill-color", "circle-color", "line-color", "icon-color", "text-color"];

/// Redraws a style layer of an aggregate-only layer for its figures: whatever it drew (circles
/// of households, their labels), it now fills the units in the layer's colour, stronger the more
/// features a unit holds. Its filter and its paint named the features' own fields, which the
/// figures do not carry, so both go.
fn as_figures(layer: &mut Json) {
    let paint = layer.get("paint");
    let colour = COLOUR_PAINTS
        .iter()
        .find_map(|p| paint.and_then(|paint| paint.get(*p)).and_then(Json::as_str))
        .unwrap_or("#888888")
        .to_string();
    let mut figures = serde_json::json!({
        "id": layer["id"],
        "type": "fill",
        "source": layer["source"],
        "source-layer": layer["source-layer"],
        "paint": {
            "fill-color": colour,
            "fill-outline-color": colour,
            "fill-opacity": ["interpolate", ["linear"], ["get", "count"], 0, 0.15, 100, 0.75],
        },
    });
    for zoom in ["minzoom", "maxzoom"] {
        if let Some(z) = layer.get(zoom) {
            figures[zoom] = z.clone();
        }
    }
    *layer = figures;
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
