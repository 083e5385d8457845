//! Where a picture is and how geometry lands on it: a [`Frame`] (centre, zoom, size, pixel
//! ratio) in MapLibre's conventions (a world of 512·2^zoom CSS pixels), the transform of one
//! vector tile onto it, and the painting of fills, lines, circles and the background with
//! tiny-skia.
//!
//! Owns pixel geometry and the paint rules of each layer type (MapLibre's defaults, widths in
//! CSS pixels times the ratio). Knows nothing of styles' JSON, fonts or image formats.

use tiny_skia::{FillRule, LineCap, LineJoin, Mask, Paint, PathBuilder, Pixmap, Stroke, StrokeDash, Transform};

use super::expr::{Color, Feature};
use super::style::StyleLayer;
use crate::feature::Bbox;
use crate::tiles::math::{lat_to_world, lon_to_world, world_to_lat, world_to_lon, MAX_ZOOM};
use crate::tiles::TileId;

/// CSS pixels across the world at zoom 0 (MapLibre's 512-pixel tiles).
pub const WORLD_PX: f64 = 512.0;

/// One picture of the map: what ground it shows and at what pixel density.
#[derive(Debug, Clone, Copy)]
pub struct Frame {
    /// Web Mercator world coordinates (0..1) of the picture's centre.
    pub center: (f64, f64),
    /// The style zoom (MapLibre's: 512-pixel tiles).
    pub zoom: f64,
    /// Size in CSS pixels.
    pub width: u32,
    pub height: u32,
    /// Device pixels per CSS pixel (2 for `@2x`).
    pub ratio: f32,
}

impl Frame {
    /// The picture of one raster tile `size` CSS pixels across (256 or 512).
    pub fn for_tile(tile: TileId, size: u32, ratio: f32) -> Frame {
        let n = (1u64 << tile.z) as f64;
        Frame {
            center: ((tile.x as f64 + 0.5) / n, (tile.y as f64 + 0.5) / n),
            zoom: tile.z as f64 + (size as f64 / WORLD_PX).log2(),
            width: size,
            height: size,
            ratio,
        }
    }

    /// A picture centred on a lon/lat.
    pub fn around(lon: f64, lat: f64, zoom: f64, width: u32, height: u32, ratio: f32) -> Frame {
        Frame {
            center: (lon_to_world(lon), lat_to_world(lat)),
            zoom,
            width,
            height,
            ratio,
        }
    }

    /// The deepest picture of `width`×`height` CSS pixels that shows all of `bbox`.
    pub fn fitting(bbox: &Bbox, width: u32, height: u32, ratio: f32) -> Frame {
        let (x0, x1) = (lon_to_world(bbox.west), lon_to_world(bbox.east));
        let (y0, y1) = (lat_to_world(bbox.north), lat_to_world(bbox.south));
        let span = |world: f64, px: u32| (px as f64 / WORLD_PX / world.max(1e-12)).log2();
        let zoom = span(x1 - x0, width).min(span(y1 - y0, height)).clamp(0.0, MAX_ZOOM as f64);
        Frame {
            center: ((x0 + x1) / 2.0, (y0 + y1) / 2.0),
            zoom,
            width,
            height,
            ratio,
        }
    }

    /// Device pixels per world unit.
    fn scale(&self) -> f64 {
        WORLD_PX * self.zoom.exp2() * self.ratio as f64
    }

    pub fn device_size(&self) -> (u32, u32) {
        let d = |v: u32| ((v as f32 * self.ratio).round() as u32).max(1);
        (d(self.width), d(self.height))
    }

    /// Device pixel of a world coordinate.
    pub fn world_to_device(&self, wx: f64, wy: f64) -> (f32, f32) {
        let (w, h) = self.device_size();
        let s = self.scale();
        (
            ((wx - self.center.0) * s + w as f64 / 2.0) as f32,
            ((wy - self.center.1) * s + h as f64 / 2.0) as f32,
        )
    }

    pub fn lonlat_to_device(&self, lon: f64, lat: f64) -> (f32, f32) {
        self.world_to_device(lon_to_world(lon), lat_to_world(lat))
    }

    /// The lon/lat of a device pixel.
    pub fn device_to_lonlat(&self, x: f32, y: f32) -> (f64, f64) {
        let (w, h) = self.device_size();
        let s = self.scale();
        let wx = (x as f64 - w as f64 / 2.0) / s + self.center.0;
        let wy = (y as f64 - h as f64 / 2.0) / s + self.center.1;
        (world_to_lon(wx), world_to_lat(wy))
    }

    /// Ground metres per CSS pixel at the picture's centre (Web Mercator's scale at its latitude).
    pub fn metres_per_css_pixel(&self) -> f64 {
        let lat = world_to_lat(self.center.1).to_radians();
        40_075_016.686 * lat.cos() / (WORLD_PX * self.zoom.exp2())
    }

    /// The vector tiles at zoom `z` that the picture touches.
    pub fn tiles_at(&self, z: u8) -> Vec<TileId> {
        let (w, h) = self.device_size();
        let s = self.scale();
        let n = (1u64 << z) as f64;
        let (half_w, half_h) = (w as f64 / 2.0 / s, h as f64 / 2.0 / s);
        let index = |world: f64| ((world * n).floor().max(0.0) as u64).min((n as u64).saturating_sub(1)) as u32;
        let (x0, x1) = (index(self.center.0 - half_w), index(self.center.0 + half_w - 1e-12));
        let (y0, y1) = (index(self.center.1 - half_h), index(self.center.1 + half_h - 1e-12));
        (y0..=y1).flat_map(|y| (x0..=x1).map(move |x| TileId { z, x, y })).collect()
    }

    /// Where tile units of `tile` (extent `extent`) land in device pixels.
    pub fn tile_transform(&self, tile: TileId, extent: f64) -> TileTransform {
        let n = (1u64 << tile.z) as f64;
        let (tx, ty) = self.world_to_device(tile.x as f64 / n, tile.y as f64 / n);
        TileTransform {
            scale: (self.scale() / n / extent) as f32,
            tx,
            ty,
            extent,
        }
    }
}

/// Tile units to device pixels: `p · scale + t`.
#[derive(Debug, Clone, Copy)]
pub struct TileTransform {
    pub scale: f32,
    pub tx: f32,
    pub ty: f32,
    pub extent: f64,
}

impl TileTransform {
    pub fn apply(&self, (x, y): (f64, f64)) -> (f32, f32) {
        (x as f32 * self.scale + self.tx, y as f32 * self.scale + self.ty)
    }

    /// Whether a point in tile units lies in the tile proper (not its buffer): each point is
    /// drawn by exactly one tile when its neighbours are drawn too.
    pub fn owns(&self, (x, y): (f64, f64)) -> bool {
        (0.0..self.extent).contains(&x) && (0.0..self.extent).contains(&y)
    }

    /// The mask that keeps a tile's buffer from being drawn twice; `None` when the tile covers
    /// the whole picture anyway.
    pub fn clip(&self, width: u32, height: u32) -> Option<Mask> {
        let size = self.extent as f32 * self.scale;
        let covers = self.tx <= 0.0 && self.ty <= 0.0 && self.tx + size >= width as f32 && self.ty + size >= height as f32;
        if covers {
            return None;
        }
        let rect = tiny_skia::Rect::from_xywh(self.tx, self.ty, size, size)?;
        let mut mask = Mask::new(width, height)?;
        mask.fill_path(&PathBuilder::from_rect(rect), FillRule::Winding, false, Transform::identity());
        Some(mask)
    }
}

pub fn paint_of(color: Color) -> Paint<'static> {
    let mut paint = Paint {
        anti_alias: true,
        ..Paint::default()
    };
    let c = tiny_skia::Color::from_rgba(
        color.r.clamp(0.0, 1.0),
        color.g.clamp(0.0, 1.0),
        color.b.clamp(0.0, 1.0),
        color.a.clamp(0.0, 1.0),
    );
    paint.set_color(c.unwrap_or(tiny_skia::Color::BLACK));
    paint
}

/// The feature's parts as one device-pixel path (rings closed when `close`).
fn path_of(parts: &[Vec<(f64, f64)>], xf: &TileTransform, close: bool) -> Option<tiny_skia::Path> {
    let mut pb = PathBuilder::new();
    for part in parts.iter().filter(|p| p.len() >= 2) {
        let (x, y) = xf.apply(part[0]);
        pb.move_to(x, y);
        for &p in &part[1..] {
            let (x, y) = xf.apply(p);
            pb.line_to(x, y);
        }
        if close {
            pb.close();
        }
    }
    pb.finish()
}

/// What painting one layer's features needs besides the feature.
pub struct Brush<'a> {
    pub layer: &'a StyleLayer,
    pub zoom: f64,
    pub ratio: f32,
    pub clip: Option<&'a Mask>,
}

/// `background-color` × `background-opacity` over the whole picture.
pub fn background(canvas: &mut Pixmap, layer: &StyleLayer, zoom: f64) {
    let f = super::expr::NoFeature;
    let color = layer
        .color("background-color", zoom, &f, Color::BLACK)
        .fade(layer.number("background-opacity", zoom, &f, 1.0) as f32);
    let rect = tiny_skia::Rect::from_xywh(0.0, 0.0, canvas.width() as f32, canvas.height() as f32);
    if let Some(rect) = rect {
        canvas.fill_rect(rect, &paint_of(color), Transform::identity(), None);
    }
}

/// A polygon of a fill (or flat fill-extrusion) layer, with its outline.
pub fn fill(canvas: &mut Pixmap, brush: &Brush, feature: &dyn Feature, parts: &[Vec<(f64, f64)>], xf: &TileTransform) {
    let Some(path) = path_of(parts, xf, true) else { return };
    let (layer, z) = (brush.layer, brush.zoom);
    let (color, opacity) = match layer.kind {
        super::style::LayerType::FillExtrusion => (
            layer.color("fill-extrusion-color", z, feature, Color::BLACK),
            layer.number("fill-extrusion-opacity", z, feature, 1.0),
        ),
        _ => (
            layer.color("fill-color", z, feature, Color::BLACK),
            layer.number("fill-opacity", z, feature, 1.0),
        ),
    };
    let color = color.fade(opacity as f32);
    canvas.fill_path(&path, &paint_of(color), FillRule::EvenOdd, Transform::identity(), brush.clip);
    if let Some(outline) = layer.property("fill-outline-color").and_then(|e| e.eval(z, feature).as_color()) {
        let stroke = Stroke {
            width: brush.ratio,
            ..Stroke::default()
        };
        canvas.stroke_path(
            &path,
            &paint_of(outline.fade(opacity as f32)),
            &stroke,
            Transform::identity(),
            brush.clip,
        );
    }
}

/// A line with MapLibre's width, opacity, dashes (in line widths), cap and join.
pub fn line(canvas: &mut Pixmap, brush: &Brush, feature: &dyn Feature, parts: &[Vec<(f64, f64)>], xf: &TileTransform, closed: bool) {
    let (layer, z) = (brush.layer, brush.zoom);
    let width = layer.number("line-width", z, feature, 1.0) as f32 * brush.ratio;
    if width <= 0.0 {
        return;
    }
    let Some(path) = path_of(parts, xf, closed) else { return };
    let color = layer
        .color("line-color", z, feature, Color::BLACK)
        .fade(layer.number("line-opacity", z, feature, 1.0) as f32);
    let cap = match layer.text("line-cap", z, feature).as_deref() {
        Some("round") => LineCap::Round,
        Some("square") => LineCap::Square,
        _ => LineCap::Butt,
    };
    let join = match layer.text("line-join", z, feature).as_deref() {
        Some("round") => LineJoin::Round,
        Some("bevel") => LineJoin::Bevel,
        _ => LineJoin::Miter,
    };
    let dashes: Vec<f32> = layer
        .numbers("line-dasharray", z, feature)
        .iter()
        .map(|d| (*d as f32 * width).max(0.01))
        .collect();
    let dash = (dashes.len() >= 2).then(|| {
        let even = if dashes.len().is_multiple_of(2) {
            dashes.clone()
        } else {
            [dashes.clone(), dashes].concat()
        };
        StrokeDash::new(even, 0.0)
    });
    let stroke = Stroke {
        width,
        line_cap: cap,
        line_join: join,
        miter_limit: 2.0,
        dash: dash.flatten(),
    };
    canvas.stroke_path(&path, &paint_of(color), &stroke, Transform::identity(), brush.clip);
}

/// A circle: the fill out to `circle-radius`, the stroke outside it.
pub fn circle(canvas: &mut Pixmap, brush: &Brush, feature: &dyn Feature, at: (f32, f32)) {
    let (layer, z, ratio) = (brush.layer, brush.zoom, brush.ratio);
    let radius = layer.number("circle-radius", z, feature, 5.0) as f32 * ratio;
    let opacity = layer.number("circle-opacity", z, feature, 1.0) as f32;
    let color = layer.color("circle-color", z, feature, Color::BLACK).fade(opacity);
    let stroke_width = layer.number("circle-stroke-width", z, feature, 0.0) as f32 * ratio;
    if let Some(path) = PathBuilder::from_circle(at.0, at.1, radius.max(0.01)) {
        canvas.fill_path(&path, &paint_of(color), FillRule::Winding, Transform::identity(), None);
    }
    if stroke_width > 0.0 {
        let stroke_color =
            layer
                .color("circle-stroke-color", z, feature, Color::BLACK)
                .fade(layer.number("circle-stroke-opacity", z, feature, 1.0) as f32);
        if let Some(ring) = PathBuilder::from_circle(at.0, at.1, radius + stroke_width / 2.0) {
            let stroke = Stroke {
                width: stroke_width,
                ..Stroke::default()
            };
            canvas.stroke_path(&ring, &paint_of(stroke_color), &stroke, Transform::identity(), None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_512_tile_frame_maps_its_tile_onto_the_whole_picture() {
        let tile = TileId { z: 14, x: 13088, y: 7432 };
        let frame = Frame::for_tile(tile, 512, 1.0);
        assert_eq!(frame.zoom, 14.0);
        assert_eq!(frame.tiles_at(14), vec![tile]);
        let xf = frame.tile_transform(tile, 4096.0);
        let (x0, y0) = xf.apply((0.0, 0.0));
        let (x1, y1) = xf.apply((4096.0, 4096.0));
        assert!(x0.abs() < 1e-3 && y0.abs() < 1e-3 && (x1 - 512.0).abs() < 1e-3 && (y1 - 512.0).abs() < 1e-3);
        assert!(xf.clip(512, 512).is_none(), "a tile covering the picture needs no mask");
        let half = Frame::for_tile(tile, 256, 2.0);
        assert_eq!((half.zoom, half.device_size()), (13.0, (512, 512)));
        assert_eq!(half.tiles_at(13), vec![TileId { z: 13, x: 6544, y: 3716 }]);
    }

    #[test]
    fn a_fitted_frame_shows_its_box_and_lonlat_round_trips() {
        let bbox = Bbox {
            west: 107.5,
            south: 16.4,
            east: 107.7,
            north: 16.5,
        };
        let frame = Frame::fitting(&bbox, 800, 600, 1.0);
        let (x0, y0) = frame.lonlat_to_device(bbox.west, bbox.north);
        let (x1, y1) = frame.lonlat_to_device(bbox.east, bbox.south);
        assert!(x0 >= -0.5 && y0 >= -0.5 && x1 <= 800.5 && y1 <= 600.5, "{x0} {y0} {x1} {y1}");
        assert!(
            (x1 - x0 - 800.0).abs() < 1.0 || (y1 - y0 - 600.0).abs() < 1.0,
            "one side fills the picture"
        );
        let (lon, lat) = frame.device_to_lonlat(400.0, 300.0);
        assert!((lon - 107.6).abs() < 1e-9 && (lat - 16.45).abs() < 1e-3);
    }
}
