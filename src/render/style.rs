//! A MapLibre style v8 as the renderer needs it: the sources (which bando tile URL each names)
//! and the layers in drawing order, each with its filter, zoom range and paint/layout
//! properties compiled to [`Expr`]s once, so drawing never re-reads JSON.
//!
//! Owns the reading of style documents and the defaults of the properties bando draws. Knows
//! nothing of tiles or pixels.

use std::collections::HashMap;

use super::expr::{Color, Expr, Feature, Value};
use super::RenderError;

/// What kind of layer draws (the style's `type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerType {
    Background,
    Fill,
    Line,
    Circle,
    Symbol,
    /// Drawn as a flat fill of `fill-extrusion-color`.
    FillExtrusion,
    /// A raster source's tiles (drawn when the source is a bando raster layer).
    Raster,
}

/// One style layer, compiled.
pub struct StyleLayer {
    pub id: String,
    pub kind: LayerType,
    pub source: Option<String>,
    pub source_layer: Option<String>,
    pub filter: Option<Expr>,
    pub minzoom: f64,
    pub maxzoom: f64,
    pub visible: bool,
    properties: HashMap<String, Expr>,
}

impl StyleLayer {
    pub fn shows_at(&self, zoom: f64) -> bool {
        self.visible && zoom >= self.minzoom && zoom < self.maxzoom
    }

    /// The compiled property, if the style sets it.
    pub fn property(&self, name: &str) -> Option<&Expr> {
        self.properties.get(name)
    }

    pub fn number(&self, name: &str, zoom: f64, feature: &dyn Feature, default: f64) -> f64 {
        self.property(name)
            .and_then(|e| e.eval(zoom, feature).as_number())
            .unwrap_or(default)
    }

    pub fn color(&self, name: &str, zoom: f64, feature: &dyn Feature, default: Color) -> Color {
        self.property(name)
            .and_then(|e| e.eval(zoom, feature).as_color())
            .unwrap_or(default)
    }

    pub fn text(&self, name: &str, zoom: f64, feature: &dyn Feature) -> Option<String> {
        match self.property(name)?.eval(zoom, feature) {
            Value::Null => None,
            Value::Array(items) => items.first().map(Value::to_text),
            v => Some(v.to_text()),
        }
    }

    /// A property holding a list of numbers (`line-dasharray`, `text-offset`).
    pub fn numbers(&self, name: &str, zoom: f64, feature: &dyn Feature) -> Vec<f64> {
        match self.property(name).map(|e| e.eval(zoom, feature)) {
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_number).collect(),
            _ => Vec::new(),
        }
    }

    /// A property holding a list of strings (`text-font`).
    pub fn strings(&self, name: &str, zoom: f64, feature: &dyn Feature) -> Vec<String> {
        match self.property(name).map(|e| e.eval(zoom, feature)) {
            Some(Value::Array(items)) => items.iter().map(Value::to_text).collect(),
            Some(Value::Text(t)) => vec![t.to_string()],
            _ => Vec::new(),
        }
    }

    /// Whether the feature passes the layer's filter (no filter: every feature).
    pub fn passes(&self, zoom: f64, feature: &dyn Feature) -> bool {
        self.filter.as_ref().is_none_or(|f| f.eval(zoom, feature).is_truthy())
    }
}

/// A style source: the URL of its TileJSON (a bando path such as `/scenarios/basemap.json`)
/// or its tile template, and its type.
pub struct StyleSource {
    pub kind: String,
    pub url: Option<String>,
    pub tiles: Vec<String>,
}

/// A compiled style.
pub struct Style {
    pub name: String,
    pub sources: Vec<(String, StyleSource)>,
    pub layers: Vec<StyleLayer>,
}

impl Style {
    /// Compiles a style document; `file` names it in errors.
    pub fn parse(json: &serde_json::Value, file: &str) -> Result<Style, RenderError> {
        let bad = |reason: String| RenderError::BadStyle {
            file: file.to_string(),
            reason,
        };
        let sources = json
            .get("sources")
            .and_then(|s| s.as_object())
            .map(|m| {
                m.iter()
                    .map(|(name, s)| {
                        let text = |k: &str| s.get(k).and_then(|v| v.as_str()).map(str::to_string);
                        let tiles = s
                            .get("tiles")
                            .and_then(|t| t.as_array())
                            .map(|t| t.iter().filter_map(|u| u.as_str().map(str::to_string)).collect());
                        let source = StyleSource {
                            kind: text("type").unwrap_or_default(),
                            url: text("url"),
                            tiles: tiles.unwrap_or_default(),
                        };
                        (name.clone(), source)
                    })
                    .collect()
            })
            .unwrap_or_default();
        let layers = json
            .get("layers")
            .and_then(|l| l.as_array())
            .ok_or_else(|| bad("it has no \"layers\" array".into()))?
            .iter()
            .map(|l| compile_layer(l).map_err(|e| bad(e.to_string())))
            .collect::<Result<Vec<_>, _>>()?;
        let name = json.get("name").and_then(|n| n.as_str()).unwrap_or(file).to_string();
        Ok(Style { name, sources, layers })
    }

    pub fn source(&self, name: &str) -> Option<&StyleSource> {
        self.sources.iter().find(|(n, _)| n == name).map(|(_, s)| s)
    }
}

fn compile_layer(json: &serde_json::Value) -> Result<StyleLayer, RenderError> {
    let id = json.get("id").and_then(|v| v.as_str()).unwrap_or("?").to_string();
    let in_layer = |e: RenderError| RenderError::BadExpression(format!("layer '{id}': {e}"));
    let kind = match json.get("type").and_then(|v| v.as_str()) {
        Some("background") => LayerType::Background,
        Some("fill") => LayerType::Fill,
        Some("line") => LayerType::Line,
        Some("circle") => LayerType::Circle,
        Some("symbol") => LayerType::Symbol,
        Some("fill-extrusion") => LayerType::FillExtrusion,
        Some("raster") => LayerType::Raster,
        other => {
            return Err(RenderError::BadExpression(format!(
                "layer '{id}' has an unsupported type {other:?}"
            )))
        }
    };
    let mut properties = HashMap::new();
    let mut visible = true;
    for group in ["paint", "layout"] {
        for (name, value) in json.get(group).and_then(|g| g.as_object()).into_iter().flatten() {
            if name == "visibility" {
                visible = value.as_str() != Some("none");
                continue;
            }
            properties.insert(name.clone(), Expr::compile(value).map_err(in_layer)?);
        }
    }
    let filter = json.get("filter").map(Expr::compile_filter).transpose().map_err(in_layer)?;
    let text = |k: &str| json.get(k).and_then(|v| v.as_str()).map(str::to_string);
    Ok(StyleLayer {
        kind,
        source: text("source"),
        source_layer: text("source-layer"),
        filter,
        minzoom: json.get("minzoom").and_then(|v| v.as_f64()).unwrap_or(0.0),
        maxzoom: json.get("maxzoom").and_then(|v| v.as_f64()).unwrap_or(24.0),
        visible,
        properties,
        id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::expr::NoFeature;

    #[test]
    fn every_style_bando_ships_compiles() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("styles");
        let mut count = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            let style = Style::parse(&json, &path.display().to_string()).unwrap_or_else(|e| panic!("{e}"));
            assert!(!style.layers.is_empty());
            count += 1;
        }
        assert!(count >= 9, "the scenario styles are all there");
    }

    #[test]
    fn zoom_ranges_visibility_and_defaults() {
        let json = serde_json::json!({"layers": [
            {"id": "a", "type": "line", "minzoom": 14, "maxzoom": 16, "paint": {"line-width": 2}},
            {"id": "b", "type": "fill", "layout": {"visibility": "none"}}
        ]});
        let style = Style::parse(&json, "t.json").unwrap();
        let (a, b) = (&style.layers[0], &style.layers[1]);
        assert!(!a.shows_at(13.9) && a.shows_at(14.0) && !a.shows_at(16.0));
        assert!(!b.shows_at(10.0));
        assert_eq!(a.number("line-width", 15.0, &NoFeature, 1.0), 2.0);
        assert_eq!(a.number("line-opacity", 15.0, &NoFeature, 1.0), 1.0);
        let broken = serde_json::json!({"layers": [{"id": "x", "type": "line", "paint": {"line-width": ["nope", 1]}}]});
        let e = Style::parse(&broken, "t.json").err().unwrap().to_string();
        assert!(e.contains("t.json") && e.contains("'x'") && e.contains("nope"), "{e}");
    }
}
