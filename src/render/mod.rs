//! Server-side rendering of the scenario styles (MapLibre style v8) to pictures: raster tiles,
//! static images and the maps of reports, in-process and without a browser.
//!
//! The features drawn are the vector tiles the tile path makes for the request's [`View`]
//! ([`TileService::tile`], decoded by `mvt_read`), so the access policy, the generalisation and
//! the vector-tile cache apply unchanged. One concern per file: `expr` (style expressions),
//! `style` (compiled styles), `mvt_read` (tile decoding), `canvas` (frames and painting of
//! fills, lines, circles), `text` (fonts, label layout and collision), `decor` (overlays,
//! markers, scale bar, north arrow, legend), `encode` (PNG, JPEG, WebP), `still` (a static
//! picture), `tile` (a raster tile as a [`crate::delivery::FileSource`], cached like vector tiles
//! and dropped with them), `report` (the meeting report: PDF, CSV, JSON). Knows nothing of HTTP; CPU-bound, so callers run it off the async
//! threads.

pub mod canvas;
pub mod decor;
pub mod encode;
pub mod expr;
pub mod mvt_read;
pub mod report;
pub mod still;
pub mod style;
pub mod text;
pub mod tile;

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tiny_skia::{Mask, Pixmap};

use crate::index::Catalog;
use crate::policy::View;
use crate::scenarios::Scenarios;
use crate::tiles::cache::TileCache;
use crate::tiles::{TileId, TileService, TileSource};

use canvas::{Brush, Frame, TileTransform};
use expr::{Color, Feature};
use mvt_read::{FeatureRef, TileLayer};
use style::{LayerType, Style, StyleLayer};
use text::{Anchor, Fonts, LabelSpec, Labeler};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RenderError {
    #[error("bad style expression: {0}")]
    BadExpression(String),
    #[error("style {file} cannot be drawn: {reason}")]
    BadStyle { file: String, reason: String },
    #[error("style {file} cannot be read")]
    StyleFile {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    BadPicture(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("font '{0}' is not installed (Debian: fonts-noto-core)")]
    NoFont(String),
    #[error("the report's PDF cannot be written")]
    Pdf {
        #[source]
        source: krilla::error::KrillaError,
    },
    #[error("the picture cannot be encoded as {format}")]
    Encode {
        format: &'static str,
        #[source]
        source: image::ImageError,
    },
}

/// Largest picture side in CSS pixels (static images; raster tiles are 256 or 512).
pub const MAX_SIDE: u32 = 2048;
/// Default `text-font` when a style names none (MapLibre's, then what bando has).
const DEFAULT_FONTS: [&str; 2] = ["Open Sans Regular", "Noto Sans Regular"];

/// A compiled style with a digest of its file (which cache keys and ETags name).
pub struct LoadedStyle {
    pub style: Style,
    pub digest: u64,
}

/// The tile sources a style's sources resolve to for one request: `None` for a source outside
/// the request's view (its layers are not drawn) or one that is not a bando vector source.
pub struct Sources {
    by_name: Vec<(String, Option<Arc<TileSource>>)>,
}

impl Sources {
    fn get(&self, name: &str) -> Option<&Arc<TileSource>> {
        self.by_name.iter().find(|(n, _)| n == name).and_then(|(_, s)| s.as_ref())
    }

    /// What the drawn features depend on: each source's key (layers' import ids, fields, area).
    pub fn key(&self) -> String {
        let keys: Vec<&str> = self.by_name.iter().map(|(_, s)| s.as_ref().map_or("-", |s| &*s.key)).collect();
        keys.join("|")
    }
}

/// A compiled style with the modification time and length of the file it came from.
type StyleStamp = (std::time::SystemTime, u64, Arc<LoadedStyle>);

/// Draws styles: holds the fonts, the compiled styles and the raster tile cache.
pub struct Renderer {
    tiles: Arc<TileService>,
    pub fonts: Arc<Fonts>,
    styles_dir: PathBuf,
    /// Compiled styles by file, with the file's modification time and length (off with the cache).
    styles: Option<Mutex<HashMap<String, StyleStamp>>>,
    cache: TileCache,
}

/// One vector tile of a source, decoded, and where it lands on the picture.
struct PlacedTile {
    id: TileId,
    layers: Vec<TileLayer>,
    xf: TileTransform,
    clip: Option<Mask>,
}

impl Renderer {
    /// `cache_bytes == 0` switches the raster tile cache and the style memo off.
    pub fn new(tiles: Arc<TileService>, styles_dir: PathBuf, cache_bytes: u64) -> Renderer {
        let glyph_index = tiles.clone();
        Renderer {
            fonts: Arc::new(Fonts::new(Box::new(move |name| glyph_index.glyphs.font_file(name)))),
            tiles,
            styles_dir,
            styles: (cache_bytes > 0).then(|| Mutex::new(HashMap::new())),
            cache: TileCache::new(cache_bytes),
        }
    }

    /// The compiled style of a file in the styles folder (recompiled when the file changes).
    pub fn style(&self, file: &str) -> Result<Arc<LoadedStyle>, RenderError> {
        let path = self.styles_dir.join(file);
        let io = |source| RenderError::StyleFile {
            file: path.display().to_string(),
            source,
        };
        let meta = std::fs::metadata(&path).map_err(io)?;
        let stamp = (meta.modified().unwrap_or(std::time::UNIX_EPOCH), meta.len());
        if let Some(memo) = &self.styles {
            let memo = memo.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((_, _, style)) = memo.get(file).filter(|(m, l, _)| (*m, *l) == stamp) {
                return Ok(style.clone());
            }
        }
        let bytes = std::fs::read(&path).map_err(io)?;
        let json: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| RenderError::BadStyle {
            file: path.display().to_string(),
            reason: format!("not JSON: {e}"),
        })?;
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        bytes.hash(&mut hasher);
        let loaded = Arc::new(LoadedStyle {
            style: Style::parse(&json, &path.display().to_string())?,
            digest: hasher.finish(),
        });
        if let Some(memo) = &self.styles {
            let mut memo = memo.lock().unwrap_or_else(|e| e.into_inner());
            memo.insert(file.to_string(), (stamp.0, stamp.1, loaded.clone()));
        }
        Ok(loaded)
    }

    /// Resolves each source of `style` as `view` sees it: `/scenarios/{id}.json` to that
    /// scenario's tiles, `/tiles/{layers}.json` to those layers' tiles.
    pub fn sources(&self, style: &Style, catalog: &Catalog, scenarios: &Scenarios, view: &View) -> Sources {
        let memo = &self.tiles.sources;
        let by_name = style
            .sources
            .iter()
            .map(|(name, source)| {
                let url = source.url.as_deref().unwrap_or("");
                let path = url.find("/scenarios/").or_else(|| url.find("/tiles/")).map_or(url, |at| &url[at..]);
                let resolved = if let Some(id) = path.strip_prefix("/scenarios/").and_then(|u| u.strip_suffix(".json")) {
                    view.scenario(scenarios, id).ok().and_then(|s| memo.scenario(catalog, s, view).ok())
                } else if let Some(list) = path.strip_prefix("/tiles/").and_then(|u| u.strip_suffix(".json")) {
                    memo.layer_list(catalog, list, view).ok()
                } else {
                    None
                };
                (name.clone(), resolved)
            })
            .collect();
        Sources { by_name }
    }

    /// Draws `style` with the features of `sources` into a new picture of `frame`, and returns
    /// the labeler holding the labels' areas (so overlays can be added around them).
    pub fn draw(&self, style: &Style, sources: &Sources, frame: &Frame) -> Result<(Pixmap, Labeler), RenderError> {
        let (w, h) = frame.device_size();
        let mut canvas = Pixmap::new(w, h).ok_or_else(|| RenderError::BadPicture(format!("a picture of {w}×{h} pixels cannot be made")))?;
        let zoom = frame.zoom;
        let mut fetched: HashMap<&str, Vec<PlacedTile>> = HashMap::new();
        let mut symbols = Vec::new();
        for layer in style.layers.iter().filter(|l| l.shows_at(zoom)) {
            if layer.kind == LayerType::Background {
                canvas::background(&mut canvas, layer, zoom);
                continue;
            }
            let Some(source_name) = layer.source.as_deref() else { continue };
            let Some(source) = sources.get(source_name) else { continue };
            let tiles = fetched.entry(source_name).or_insert_with(|| self.fetch(source, frame));
            if layer.kind == LayerType::Symbol {
                symbols.push((layer, source_name));
                continue;
            }
            paint_layer(&mut canvas, layer, tiles, frame);
        }
        let mut labeler = Labeler::default();
        // Labels of higher layers win a contested spot, as in MapLibre.
        for (layer, source_name) in symbols.into_iter().rev() {
            if let Some(tiles) = fetched.get(source_name) {
                self.place_labels(&mut canvas, &mut labeler, layer, tiles, frame);
            }
        }
        Ok((canvas, labeler))
    }

    /// The vector tiles of `source` under `frame`, at the zoom MapLibre would load.
    fn fetch(&self, source: &TileSource, frame: &Frame) -> Vec<PlacedTile> {
        let wanted = frame.zoom.floor().max(0.0) as u8;
        if wanted < source.minzoom() {
            return Vec::new();
        }
        let z = wanted.min(source.maxzoom());
        let (w, h) = frame.device_size();
        frame
            .tiles_at(z)
            .into_iter()
            .map(|id| {
                let encoded = self.tiles.tile(source, id, false);
                let layers = mvt_read::decode(&encoded.raw);
                let extent = layers.first().map_or(4096.0, |l| l.extent);
                let xf = frame.tile_transform(id, extent);
                PlacedTile {
                    id,
                    clip: xf.clip(w, h),
                    layers,
                    xf,
                }
            })
            .collect()
    }

    fn place_labels(&self, canvas: &mut Pixmap, labeler: &mut Labeler, layer: &StyleLayer, tiles: &[PlacedTile], frame: &Frame) {
        let (zoom, ratio) = (frame.zoom, frame.ratio);
        let along_lines = layer.text("symbol-placement", zoom, &expr::NoFeature).as_deref() == Some("line");
        for tile in tiles {
            let Some(data) = tile_layer(tile, layer) else { continue };
            for feature in &data.features {
                let f = FeatureRef { layer: data, feature };
                if !layer.passes(zoom, &f) {
                    continue;
                }
                let Some(spec) = self.label_spec(layer, &f, zoom, ratio) else {
                    continue;
                };
                let parts = feature.parts();
                if along_lines && feature.kind == 2 {
                    for (at, angle) in line_anchors(&parts, &tile.xf, layer.number("symbol-spacing", zoom, &f, 250.0) as f32 * ratio) {
                        if owned(tiles, tile, at) {
                            labeler.place_along(canvas, &spec, tile.xf.apply(at), angle);
                        }
                    }
                } else if let Some(at) = point_anchor(feature.kind, &parts) {
                    if owned(tiles, tile, at) {
                        labeler.place_point(canvas, &spec, tile.xf.apply(at));
                    }
                }
            }
        }
    }

    fn label_spec(&self, layer: &StyleLayer, f: &dyn Feature, zoom: f64, ratio: f32) -> Option<LabelSpec> {
        let mut text = layer.text("text-field", zoom, f)?;
        match layer.text("text-transform", zoom, f).as_deref() {
            Some("uppercase") => text = text.to_uppercase(),
            Some("lowercase") => text = text.to_lowercase(),
            _ => {}
        }
        if text.trim().is_empty() {
            return None;
        }
        let mut stack = layer.strings("text-font", zoom, f);
        stack.extend(DEFAULT_FONTS.iter().map(|s| s.to_string()));
        let size = layer.number("text-size", zoom, f, 16.0) as f32;
        let offset = layer.numbers("text-offset", zoom, f);
        let em = size * ratio;
        Some(LabelSpec {
            text,
            font: self.fonts.font(&stack)?,
            size: em,
            color: layer
                .color("text-color", zoom, f, Color::BLACK)
                .fade(layer.number("text-opacity", zoom, f, 1.0) as f32),
            halo_color: layer.color("text-halo-color", zoom, f, Color::TRANSPARENT),
            halo_width: (layer.number("text-halo-width", zoom, f, 0.0) as f32).min(size / 4.0) * ratio,
            anchor: Anchor::parse(layer.text("text-anchor", zoom, f).as_deref()),
            offset: (
                offset.first().copied().unwrap_or(0.0) as f32 * em,
                offset.get(1).copied().unwrap_or(0.0) as f32 * em,
            ),
            max_width: layer.number("text-max-width", zoom, f, 10.0) as f32 * em,
            padding: layer.number("symbol-padding", zoom, f, 2.0) as f32 * ratio,
        })
    }

    /// Hits, misses and bytes of the raster tile cache.
    pub fn cache_stats(&self) -> crate::cache::CacheStats {
        self.cache.stats()
    }

    /// Called after a re-import: drops cached raster tiles drawn from the changed layers.
    pub fn forget_layers(&self, layers: &[String]) {
        self.cache.forget_layers(layers);
    }
}

fn tile_layer<'a>(tile: &'a PlacedTile, layer: &StyleLayer) -> Option<&'a TileLayer> {
    let name = layer.source_layer.as_deref()?;
    tile.layers.iter().find(|l| l.name == name)
}

/// Paints one fill, line, circle or flat fill-extrusion layer from every tile under the picture.
fn paint_layer(canvas: &mut Pixmap, layer: &StyleLayer, tiles: &[PlacedTile], frame: &Frame) {
    for tile in tiles {
        let Some(data) = tile_layer(tile, layer) else { continue };
        let brush = Brush {
            layer,
            zoom: frame.zoom,
            ratio: frame.ratio,
            clip: tile.clip.as_ref(),
        };
        for feature in &data.features {
            let f = FeatureRef { layer: data, feature };
            if !layer.passes(frame.zoom, &f) {
                continue;
            }
            match (layer.kind, feature.kind) {
                (LayerType::Fill | LayerType::FillExtrusion, 3) => canvas::fill(canvas, &brush, &f, &feature.parts(), &tile.xf),
                (LayerType::Line, 2 | 3) => canvas::line(canvas, &brush, &f, &feature.parts(), &tile.xf, feature.kind == 3),
                (LayerType::Circle, 1) => {
                    for part in feature.parts() {
                        for &p in part.iter().filter(|&&p| owned(tiles, tile, p)) {
                            canvas::circle(canvas, &brush, &f, tile.xf.apply(p));
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

/// Whether `tile` draws a point at `p` (tile units): when it lies in the tile proper, or in its
/// buffer over a neighbour that is not drawn (the picture's edge), so each point is drawn once.
fn owned(tiles: &[PlacedTile], tile: &PlacedTile, p: (f64, f64)) -> bool {
    if tile.xf.owns(p) {
        return true;
    }
    let step = |v: f64| (v / tile.xf.extent).floor() as i64;
    let (x, y) = (tile.id.x as i64 + step(p.0), tile.id.y as i64 + step(p.1));
    !tiles.iter().any(|t| t.id.x as i64 == x && t.id.y as i64 == y)
}

/// Where a point label goes: the point, a line's first vertex (MapLibre's point placement),
/// or inside a polygon: the middle of the widest span across its centroid's row.
fn point_anchor(kind: u8, parts: &[Vec<(f64, f64)>]) -> Option<(f64, f64)> {
    match kind {
        1 | 2 => parts.first().and_then(|p| p.first()).copied(),
        _ => polygon_anchor(parts),
    }
}

fn polygon_anchor(rings: &[Vec<(f64, f64)>]) -> Option<(f64, f64)> {
    let outer = rings.first().filter(|r| r.len() >= 4)?;
    let (mut area, mut cx, mut cy) = (0.0, 0.0, 0.0);
    for w in outer.windows(2) {
        let cross = w[0].0 * w[1].1 - w[1].0 * w[0].1;
        area += cross;
        cx += (w[0].0 + w[1].0) * cross;
        cy += (w[0].1 + w[1].1) * cross;
    }
    if area.abs() < 1e-9 {
        return outer.first().copied();
    }
    let (cx, cy) = (cx / (3.0 * area), cy / (3.0 * area));
    // Crossings of the row y = cy with every ring; the widest inside span holds the label.
    let mut xs: Vec<f64> = rings
        .iter()
        .flat_map(|r| r.windows(2))
        .filter(|w| (w[0].1 > cy) != (w[1].1 > cy))
        .map(|w| w[0].0 + (cy - w[0].1) * (w[1].0 - w[0].0) / (w[1].1 - w[0].1))
        .collect();
    xs.sort_by(f64::total_cmp);
    let widest = xs.chunks_exact(2).max_by(|a, b| (a[1] - a[0]).total_cmp(&(b[1] - b[0])));
    Some(widest.map_or((cx, cy), |s| ((s[0] + s[1]) / 2.0, cy)))
}

/// Anchors of a line label: every `spacing` device pixels along each part (the middle of a
/// shorter part), with the line's direction there; in tile units, angle in radians.
fn line_anchors(parts: &[Vec<(f64, f64)>], xf: &TileTransform, spacing: f32) -> Vec<((f64, f64), f32)> {
    let mut anchors = Vec::new();
    let scale = xf.scale as f64;
    for part in parts.iter().filter(|p| p.len() >= 2) {
        let lengths: Vec<f64> = part.windows(2).map(|w| (w[1].0 - w[0].0).hypot(w[1].1 - w[0].1) * scale).collect();
        let total: f64 = lengths.iter().sum();
        let spacing = (spacing as f64).max(1.0);
        let mut at = if total < spacing { total / 2.0 } else { spacing / 2.0 };
        while at < total {
            let (mut walked, mut i) = (0.0, 0);
            while i + 1 < lengths.len() && walked + lengths[i] < at {
                walked += lengths[i];
                i += 1;
            }
            let t = if lengths[i] > 0.0 { (at - walked) / lengths[i] } else { 0.0 };
            let (a, b) = (part[i], part[i + 1]);
            let point = (a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t);
            anchors.push((point, ((b.1 - a.1) as f32).atan2((b.0 - a.0) as f32)));
            at += spacing;
        }
    }
    anchors
}

/// A digest of what a picture depends on beyond the frame: the style file and the sources.
pub fn picture_key(style: &LoadedStyle, sources: &Sources) -> String {
    format!("{:x}|{}", style.digest, sources.key())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polygon_labels_sit_inside_even_a_u_shaped_polygon() {
        // A U: the centroid falls in the notch, the label must not.
        let u = vec![vec![
            (0.0, 0.0),
            (30.0, 0.0),
            (30.0, 100.0),
            (70.0, 100.0),
            (70.0, 0.0),
            (100.0, 0.0),
            (100.0, 120.0),
            (0.0, 120.0),
            (0.0, 0.0),
        ]];
        let (x, y) = polygon_anchor(&u).unwrap();
        assert!(y > 0.0 && y < 120.0);
        assert!(!(30.0..=70.0).contains(&x) || y > 100.0, "anchor ({x}, {y}) is in the notch");
    }

    #[test]
    fn line_anchors_repeat_at_the_spacing_and_follow_the_direction() {
        let xf = TileTransform {
            scale: 1.0,
            tx: 0.0,
            ty: 0.0,
            extent: 4096.0,
        };
        let anchors = line_anchors(&[vec![(0.0, 0.0), (0.0, 1000.0)]], &xf, 250.0);
        assert_eq!(anchors.len(), 4);
        assert_eq!(anchors[0].0, (0.0, 125.0));
        assert!((anchors[0].1 - std::f32::consts::FRAC_PI_2).abs() < 1e-6);
        let short = line_anchors(&[vec![(0.0, 0.0), (100.0, 0.0)]], &xf, 250.0);
        assert_eq!(short.len(), 1);
        assert_eq!(short[0].0, (50.0, 0.0));
    }
}
