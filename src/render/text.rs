//! Label text: fonts by MapLibre font name (the TrueType files bando's glyph ranges are made
//! from, e.g. Debian's Noto Sans with every Vietnamese letter), line breaking at
//! `text-max-width`, anchors and offsets, glyph outlines filled by tiny-skia with the halo
//! stroked under them, and collision avoidance (a label is drawn only where it overlaps no
//! label already placed, with `symbol-padding` around each).
//!
//! Owns text layout and placement. Knows nothing of styles' JSON or tiles: the renderer hands
//! it a [`LabelSpec`] and an anchor in device pixels.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use ab_glyph::{Font, FontArc, OutlineCurve};
use tiny_skia::{FillRule, LineJoin, PathBuilder, Pixmap, Stroke, Transform};

use super::canvas::paint_of;
use super::expr::Color;

/// MapLibre's line height, in ems.
const LINE_HEIGHT: f32 = 1.2;
/// Where the baseline sits below the middle of its line, in ems (centres capitals and
/// lower-case letters the way MapLibre's glyph metrics do).
const BASELINE_BELOW_MIDDLE: f32 = 0.32;

/// Finds the file of a font name.
pub type FontLocator = Box<dyn Fn(&str) -> Option<PathBuf> + Send + Sync>;

/// The fonts of label text, loaded on first use by font name (`Noto Sans Bold`).
pub struct Fonts {
    locate: FontLocator,
    loaded: Mutex<HashMap<String, Option<FontArc>>>,
}

impl Fonts {
    /// `locate` finds the file of a font name (the glyph ranges' index of installed fonts).
    pub fn new(locate: FontLocator) -> Fonts {
        Fonts {
            locate,
            loaded: Mutex::new(HashMap::new()),
        }
    }

    /// The file of font `name` (`Noto Sans Bold`), if this machine has it.
    pub fn file(&self, name: &str) -> Option<PathBuf> {
        (self.locate)(name)
    }

    /// The first font of `stack` that is installed (and loads).
    pub fn font(&self, stack: &[String]) -> Option<FontArc> {
        let mut loaded = self.loaded.lock().unwrap_or_else(|e| e.into_inner());
        stack.iter().find_map(|name| {
            loaded
                .entry(name.clone())
                .or_insert_with(|| {
                    let path = (self.locate)(name)?;
                    let bytes = std::fs::read(&path).ok()?;
                    FontArc::try_from_vec(bytes)
                        .inspect_err(
                            |e| tracing::warn!(font = %path.display(), error = %e, "font cannot be read; labels in it are left out"),
                        )
                        .ok()
                })
                .clone()
        })
    }
}

/// Where the anchor is on the label (`text-anchor`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    Center,
    Top,
    Bottom,
    Left,
    Right,
    TopLeft,
    TopRight,
    BottomLeft,
    BottomRight,
}

impl Anchor {
    pub fn parse(text: Option<&str>) -> Anchor {
        match text {
            Some("top") => Anchor::Top,
            Some("bottom") => Anchor::Bottom,
            Some("left") => Anchor::Left,
            Some("right") => Anchor::Right,
            Some("top-left") => Anchor::TopLeft,
            Some("top-right") => Anchor::TopRight,
            Some("bottom-left") => Anchor::BottomLeft,
            Some("bottom-right") => Anchor::BottomRight,
            _ => Anchor::Center,
        }
    }

    /// The label's top-left corner relative to the anchor, for a block of `w`×`h`.
    fn offset(self, w: f32, h: f32) -> (f32, f32) {
        let x = match self {
            Anchor::Left | Anchor::TopLeft | Anchor::BottomLeft => 0.0,
            Anchor::Right | Anchor::TopRight | Anchor::BottomRight => -w,
            _ => -w / 2.0,
        };
        let y = match self {
            Anchor::Top | Anchor::TopLeft | Anchor::TopRight => 0.0,
            Anchor::Bottom | Anchor::BottomLeft | Anchor::BottomRight => -h,
            _ => -h / 2.0,
        };
        (x, y)
    }
}

/// One label to place: its text, font and paint in device pixels.
pub struct LabelSpec {
    pub text: String,
    pub font: FontArc,
    /// Font size in device pixels.
    pub size: f32,
    pub color: Color,
    pub halo_color: Color,
    pub halo_width: f32,
    pub anchor: Anchor,
    /// `text-offset` in device pixels.
    pub offset: (f32, f32),
    /// `text-max-width` in device pixels (0: no wrapping).
    pub max_width: f32,
    /// `symbol-padding` in device pixels.
    pub padding: f32,
}

/// A laid-out label: glyph paths in label space (top-left of the block at 0,0) and its size.
struct Layout {
    path: tiny_skia::Path,
    width: f32,
    height: f32,
}

/// Axis-aligned box: x0, y0, x1, y1.
type Box4 = [f32; 4];

fn overlaps(a: &Box4, b: &Box4) -> bool {
    a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3]
}

/// Places labels on one picture, first come first served.
#[derive(Default)]
pub struct Labeler {
    placed: Vec<Box4>,
}

impl Labeler {
    /// Reserves an area (a legend, a marker) that labels must keep clear of.
    pub fn reserve(&mut self, area: Box4) {
        self.placed.push(area);
    }

    /// Places a horizontal label at `at` (device pixels) unless it would collide; draws it.
    pub fn place_point(&mut self, canvas: &mut Pixmap, spec: &LabelSpec, at: (f32, f32)) -> bool {
        let Some(layout) = lay_out(spec) else { return false };
        let (dx, dy) = spec.anchor.offset(layout.width, layout.height);
        let (x, y) = (at.0 + dx + spec.offset.0, at.1 + dy + spec.offset.1);
        let p = spec.padding;
        let area = [x - p, y - p, x + layout.width + p, y + layout.height + p];
        if self.placed.iter().any(|b| overlaps(b, &area)) {
            return false;
        }
        self.placed.push(area);
        draw(canvas, spec, &layout, Transform::from_translate(x, y));
        true
    }

    /// Places a label centred on `at` along a line at `angle` (radians, kept upright).
    pub fn place_along(&mut self, canvas: &mut Pixmap, spec: &LabelSpec, at: (f32, f32), angle: f32) -> bool {
        let Some(layout) = lay_out(spec) else { return false };
        let upright = if angle.abs() > std::f32::consts::FRAC_PI_2 {
            angle - std::f32::consts::PI.copysign(angle)
        } else {
            angle
        };
        let (cos, sin) = (upright.cos(), upright.sin());
        // Collision boxes: squares of the label's height along its baseline direction.
        let step = layout.height.max(1.0);
        let count = (layout.width / step).ceil().max(1.0) as usize;
        let half = step / 2.0 + spec.padding;
        let boxes: Vec<Box4> = (0..count)
            .map(|i| {
                let along = -layout.width / 2.0 + step * (i as f32 + 0.5);
                let (cx, cy) = (at.0 + along * cos, at.1 + along * sin);
                [cx - half, cy - half, cx + half, cy + half]
            })
            .collect();
        if boxes.iter().any(|b| self.placed.iter().any(|p| overlaps(p, b))) {
            return false;
        }
        self.placed.extend(boxes);
        let transform = Transform::from_translate(-layout.width / 2.0, -layout.height / 2.0)
            .post_rotate(upright.to_degrees())
            .post_translate(at.0, at.1);
        draw(canvas, spec, &layout, transform);
        true
    }
}

/// The size in device pixels a label would take (legends and scale bars lay out around it).
pub fn measure(spec: &LabelSpec) -> Option<(f32, f32)> {
    lay_out(spec).map(|l| (l.width, l.height))
}

/// Draws a label with its block's top-left corner at `at`, with no collision test (legends,
/// scale bars, which [`Labeler::reserve`] their area first).
pub fn draw_at(canvas: &mut Pixmap, spec: &LabelSpec, at: (f32, f32)) {
    if let Some(layout) = lay_out(spec) {
        draw(canvas, spec, &layout, Transform::from_translate(at.0, at.1));
    }
}

fn draw(canvas: &mut Pixmap, spec: &LabelSpec, layout: &Layout, transform: Transform) {
    if spec.halo_width > 0.0 && spec.halo_color.a > 0.0 {
        let halo = Stroke {
            width: spec.halo_width * 2.0,
            line_join: LineJoin::Round,
            ..Stroke::default()
        };
        canvas.stroke_path(&layout.path, &paint_of(spec.halo_color), &halo, transform, None);
    }
    canvas.fill_path(&layout.path, &paint_of(spec.color), FillRule::Winding, transform, None);
}

/// Breaks `text` into lines: at `\n`, and greedily between words past `max_width`.
fn break_lines(text: &str, max_width: f32, width_of: &dyn Fn(&str) -> f32) -> Vec<String> {
    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        let mut line = String::new();
        for word in paragraph.split(' ').filter(|w| !w.is_empty()) {
            let candidate = if line.is_empty() {
                word.to_string()
            } else {
                format!("{line} {word}")
            };
            if !line.is_empty() && max_width > 0.0 && width_of(&candidate) > max_width {
                lines.push(std::mem::replace(&mut line, word.to_string()));
            } else {
                line = candidate;
            }
        }
        lines.push(line);
    }
    lines
}

fn lay_out(spec: &LabelSpec) -> Option<Layout> {
    let font = &spec.font;
    let scale = spec.size / font.units_per_em().unwrap_or(1000.0);
    let width_of = |line: &str| -> f32 {
        let mut previous = None;
        line.chars()
            .map(|c| {
                let id = font.glyph_id(c);
                let kern = previous.map_or(0.0, |p| font.kern_unscaled(p, id));
                previous = Some(id);
                (font.h_advance_unscaled(id) + kern) * scale
            })
            .sum()
    };
    let lines = break_lines(spec.text.trim(), spec.max_width, &width_of);
    let widths: Vec<f32> = lines.iter().map(|l| width_of(l)).collect();
    let width = widths.iter().copied().fold(0.0, f32::max);
    if width <= 0.0 {
        return None;
    }
    let line_height = spec.size * LINE_HEIGHT;
    let mut pb = PathBuilder::new();
    for (i, (line, line_width)) in lines.iter().zip(&widths).enumerate() {
        let baseline = line_height * (i as f32 + 0.5) + spec.size * BASELINE_BELOW_MIDDLE;
        let mut pen = (width - line_width) / 2.0;
        let mut previous = None;
        for c in line.chars() {
            let id = font.glyph_id(c);
            pen += previous.map_or(0.0, |p| font.kern_unscaled(p, id)) * scale;
            previous = Some(id);
            if let Some(outline) = font.outline(id) {
                trace_outline(&mut pb, &outline.curves, |p| (pen + p.x * scale, baseline - p.y * scale));
            }
            pen += font.h_advance_unscaled(id) * scale;
        }
    }
    Some(Layout {
        path: pb.finish()?,
        width,
        height: line_height * lines.len() as f32,
    })
}

/// Adds a glyph's contours to `pb`, mapping font units through `to`.
fn trace_outline(pb: &mut PathBuilder, curves: &[OutlineCurve], to: impl Fn(ab_glyph::Point) -> (f32, f32)) {
    let mut last: Option<ab_glyph::Point> = None;
    let start = |pb: &mut PathBuilder, p: ab_glyph::Point, last: &mut Option<ab_glyph::Point>| {
        if last.is_none_or(|l| l != p) {
            if last.is_some() {
                pb.close();
            }
            let (x, y) = to(p);
            pb.move_to(x, y);
        }
    };
    for curve in curves {
        match *curve {
            OutlineCurve::Line(a, b) => {
                start(pb, a, &mut last);
                let (x, y) = to(b);
                pb.line_to(x, y);
                last = Some(b);
            }
            OutlineCurve::Quad(a, c, b) => {
                start(pb, a, &mut last);
                let ((cx, cy), (x, y)) = (to(c), to(b));
                pb.quad_to(cx, cy, x, y);
                last = Some(b);
            }
            OutlineCurve::Cubic(a, c1, c2, b) => {
                start(pb, a, &mut last);
                let ((x1, y1), (x2, y2), (x, y)) = (to(c1), to(c2), to(b));
                pb.cubic_to(x1, y1, x2, y2, x, y);
                last = Some(b);
            }
        }
    }
    if last.is_some() {
        pb.close();
    }
}

/// Installed fonts shared by tests of the renderer.
#[cfg(test)]
pub fn test_fonts() -> std::sync::Arc<Fonts> {
    let glyphs = crate::tiles::glyphs::Glyphs::new(false);
    std::sync::Arc::new(Fonts::new(Box::new(move |name| glyphs.font_file(name))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(text: &str, fonts: &Fonts) -> LabelSpec {
        LabelSpec {
            text: text.into(),
            font: fonts
                .font(&["Noto Sans Regular".into()])
                .expect("Noto Sans is installed (fonts-noto-core)"),
            size: 16.0,
            color: Color::BLACK,
            halo_color: Color {
                r: 1.0,
                g: 1.0,
                b: 1.0,
                a: 1.0,
            },
            halo_width: 1.0,
            anchor: Anchor::Center,
            offset: (0.0, 0.0),
            max_width: 160.0,
            padding: 2.0,
        }
    }

    fn dark_pixels(canvas: &Pixmap) -> usize {
        canvas.pixels().iter().filter(|p| p.alpha() > 0 && p.red() < 100).count()
    }

    #[test]
    fn vietnamese_text_draws_and_a_colliding_label_is_left_out() {
        let fonts = test_fonts();
        let mut canvas = Pixmap::new(300, 100).unwrap();
        let mut labeler = Labeler::default();
        assert!(labeler.place_point(&mut canvas, &spec("Phường Thuận Hòa", &fonts), (150.0, 50.0)));
        let inked = dark_pixels(&canvas);
        assert!(inked > 100, "the text is inked ({inked} dark pixels)");
        assert!(
            !labeler.place_point(&mut canvas, &spec("Đông Ba", &fonts), (155.0, 52.0)),
            "it would overlap the first"
        );
        assert_eq!(dark_pixels(&canvas), inked, "a refused label draws nothing");
        assert!(
            labeler.place_point(&mut canvas, &spec("Vỹ Dạ", &fonts), (40.0, 85.0)),
            "a clear spot takes a label"
        );
        assert!(
            labeler.place_along(&mut canvas, &spec("Lê Lợi", &fonts), (260.0, 20.0), 3.0),
            "upside-down lines are flipped upright"
        );
    }

    #[test]
    fn long_text_wraps_at_the_maximum_width() {
        let width = |s: &str| s.chars().count() as f32 * 10.0;
        assert_eq!(break_lines("một hai ba bốn", 75.0, &width), vec!["một hai", "ba bốn"]);
        assert_eq!(break_lines("tên\n12 người", 0.0, &width), vec!["tên", "12 người"]);
    }
}
