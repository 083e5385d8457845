//! What a static map or a report's map carries over the style: an `overlay` (GeoJSON: a query
//! result, a drawn area; simplestyle properties `stroke`, `stroke-width`, `fill`,
//! `fill-opacity`, `marker-color` honoured), markers (pins whose tip is on the point), a scale
//! bar (a round ground distance at the picture's centre), a north arrow and a legend of the
//! style's layers.
//!
//! Owns the reading of overlays and markers and the look of the map furniture. Knows nothing of
//! HTTP (the server passes the query's text) or of tiles.

use geo_types::{Coord, Geometry, LineString, Polygon};
use tiny_skia::{FillRule, PathBuilder, Pixmap, Stroke, Transform};

use super::canvas::{paint_of, Frame};
use super::expr::{Color, NoFeature};
use super::style::{LayerType, Style};
use super::text::{self, Anchor, Fonts, LabelSpec, Labeler};
use super::{RenderError, Sources};

/// Most vertices an overlay may carry (it arrives in a URL or a report request).
const MAX_OVERLAY_VERTICES: usize = 100_000;
/// Most markers on one picture.
const MAX_MARKERS: usize = 100;
/// Overlay colour when a feature sets none: a blue that no scenario style uses.
const OVERLAY_BLUE: Color = Color {
    r: 0.0,
    g: 0.4,
    b: 1.0,
    a: 1.0,
};
/// Most legend rows (the rest are summarised as "…").
const MAX_LEGEND_ROWS: usize = 14;

/// One drawn overlay feature with its paint.
#[derive(Debug)]
pub struct OverlayFeature {
    geometry: Geometry<f64>,
    stroke: Color,
    stroke_width: f32,
    fill: Color,
}

impl OverlayFeature {
    /// A geometry in the default overlay look (blue outline, light blue fill).
    pub fn plain(geometry: Geometry<f64>) -> OverlayFeature {
        OverlayFeature {
            geometry,
            stroke: OVERLAY_BLUE,
            stroke_width: 3.0,
            fill: OVERLAY_BLUE.fade(0.25),
        }
    }
}

/// A pin at a lon/lat.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Marker {
    pub lon: f64,
    pub lat: f64,
    pub color: Color,
}

/// The furniture asked for.
#[derive(Default)]
pub struct Decor {
    pub overlay: Vec<OverlayFeature>,
    pub markers: Vec<Marker>,
    pub scale_bar: bool,
    pub north_arrow: bool,
    pub legend: bool,
}

fn bad(message: String) -> RenderError {
    RenderError::BadPicture(message)
}

/// Reads an overlay: a GeoJSON geometry, Feature or FeatureCollection in lon/lat.
pub fn parse_overlay(text: &str) -> Result<Vec<OverlayFeature>, RenderError> {
    let json: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        bad(format!(
            "overlay is not JSON ({e}); give a GeoJSON geometry, Feature or FeatureCollection"
        ))
    })?;
    let mut features = Vec::new();
    let mut vertices = 0;
    collect_features(&json, &mut features, &mut vertices)?;
    Ok(features)
}

fn collect_features(json: &serde_json::Value, out: &mut Vec<OverlayFeature>, vertices: &mut usize) -> Result<(), RenderError> {
    match json.get("type").and_then(|t| t.as_str()) {
        Some("FeatureCollection") => {
            let list = json
                .get("features")
                .and_then(|f| f.as_array())
                .ok_or_else(|| bad("overlay FeatureCollection has no \"features\" array".into()))?;
            list.iter().try_for_each(|f| collect_features(f, out, vertices))
        }
        Some("Feature") => {
            let props = json.get("properties").cloned().unwrap_or_default();
            let colour = |k: &str| props.get(k).and_then(|v| v.as_str()).and_then(Color::parse);
            let number = |k: &str| props.get(k).and_then(|v| v.as_f64());
            let geometry = geometry_of(json.get("geometry").unwrap_or(&serde_json::Value::Null), vertices)?;
            let stroke = colour("stroke").or_else(|| colour("marker-color")).unwrap_or(OVERLAY_BLUE);
            out.push(OverlayFeature {
                stroke: stroke.fade(number("stroke-opacity").unwrap_or(1.0) as f32),
                stroke_width: number("stroke-width").unwrap_or(3.0) as f32,
                fill: colour("fill").unwrap_or(stroke).fade(number("fill-opacity").unwrap_or(0.25) as f32),
                geometry,
            });
            Ok(())
        }
        Some(_) => {
            out.push(OverlayFeature::plain(geometry_of(json, vertices)?));
            Ok(())
        }
        None => Err(bad("overlay has no GeoJSON \"type\"".into())),
    }
}

fn geometry_of(json: &serde_json::Value, vertices: &mut usize) -> Result<Geometry<f64>, RenderError> {
    let kind = json.get("type").and_then(|t| t.as_str()).unwrap_or("");
    if kind == "GeometryCollection" {
        let parts = json
            .get("geometries")
            .and_then(|g| g.as_array())
            .ok_or_else(|| bad("overlay GeometryCollection has no \"geometries\"".into()))?;
        let geometries = parts.iter().map(|g| geometry_of(g, vertices)).collect::<Result<Vec<_>, _>>()?;
        return Ok(Geometry::GeometryCollection(geo_types::GeometryCollection(geometries)));
    }
    let coords = json
        .get("coordinates")
        .ok_or_else(|| bad(format!("overlay {kind:?} has no \"coordinates\"")))?;
    let mut position = |v: &serde_json::Value| -> Result<Coord<f64>, RenderError> {
        *vertices += 1;
        if *vertices > MAX_OVERLAY_VERTICES {
            return Err(RenderError::TooLarge(format!(
                "overlay has over {MAX_OVERLAY_VERTICES} vertices; simplify it"
            )));
        }
        let (x, y) = (v.get(0).and_then(|x| x.as_f64()), v.get(1).and_then(|y| y.as_f64()));
        match (x, y) {
            (Some(x), Some(y)) if (-180.0..=180.0).contains(&x) && (-90.0..=90.0).contains(&y) => Ok(Coord { x, y }),
            _ => Err(bad(format!("overlay position {v} is not [longitude, latitude] in degrees"))),
        }
    };
    let list = |v: &serde_json::Value| {
        v.as_array()
            .cloned()
            .ok_or_else(|| bad(format!("overlay {kind:?} coordinates are not nested arrays")))
    };
    let mut line = |v: &serde_json::Value| -> Result<LineString<f64>, RenderError> {
        Ok(LineString(list(v)?.iter().map(&mut position).collect::<Result<_, _>>()?))
    };
    Ok(match kind {
        "Point" => Geometry::Point(position_point(coords, vertices)?),
        "MultiPoint" => Geometry::MultiPoint(geo_types::MultiPoint(
            list(coords)?
                .iter()
                .map(|c| position_point(c, vertices))
                .collect::<Result<Vec<_>, _>>()?,
        )),
        "LineString" => Geometry::LineString(line(coords)?),
        "MultiLineString" => Geometry::MultiLineString(geo_types::MultiLineString(
            list(coords)?.iter().map(&mut line).collect::<Result<Vec<_>, _>>()?,
        )),
        "Polygon" => Geometry::Polygon(polygon_of(&list(coords)?, &mut line)?),
        "MultiPolygon" => Geometry::MultiPolygon(geo_types::MultiPolygon(
            list(coords)?
                .iter()
                .map(|p| polygon_of(&list(p)?, &mut line))
                .collect::<Result<Vec<_>, _>>()?,
        )),
        other => return Err(bad(format!("overlay geometry type {other:?} is not GeoJSON"))),
    })
}

fn position_point(v: &serde_json::Value, vertices: &mut usize) -> Result<geo_types::Point<f64>, RenderError> {
    *vertices += 1;
    match (v.get(0).and_then(|x| x.as_f64()), v.get(1).and_then(|y| y.as_f64())) {
        (Some(x), Some(y)) if (-180.0..=180.0).contains(&x) && (-90.0..=90.0).contains(&y) => Ok(geo_types::Point::new(x, y)),
        _ => Err(bad(format!("overlay position {v} is not [longitude, latitude] in degrees"))),
    }
}

fn polygon_of(
    rings: &[serde_json::Value],
    line: &mut dyn FnMut(&serde_json::Value) -> Result<LineString<f64>, RenderError>,
) -> Result<Polygon<f64>, RenderError> {
    let mut rings = rings.iter().map(line).collect::<Result<Vec<_>, _>>()?.into_iter();
    let outer = rings.next().ok_or_else(|| bad("overlay polygon has no rings".into()))?;
    Ok(Polygon::new(outer, rings.collect()))
}

/// Reads markers: `lon,lat[,RRGGBB]` separated by `;` or `|`.
pub fn parse_markers(text: &str) -> Result<Vec<Marker>, RenderError> {
    let markers = text
        .split([';', '|'])
        .filter(|m| !m.trim().is_empty())
        .map(|m| {
            let parts: Vec<&str> = m.split(',').map(str::trim).collect();
            let number = |i: usize| parts.get(i).and_then(|p| p.parse::<f64>().ok());
            let (lon, lat) = match (number(0), number(1)) {
                (Some(lon), Some(lat)) if (-180.0..=180.0).contains(&lon) && (-90.0..=90.0).contains(&lat) => (lon, lat),
                _ => return Err(bad(format!("marker '{}' is not lon,lat[,RRGGBB]", m.escape_default()))),
            };
            let color = match parts.get(2) {
                None => Color {
                    r: 0.85,
                    g: 0.1,
                    b: 0.1,
                    a: 1.0,
                },
                Some(hex) => Color::parse(&format!("#{}", hex.trim_start_matches('#')))
                    .ok_or_else(|| bad(format!("marker colour '{}' is not RRGGBB", hex.escape_default())))?,
            };
            Ok(Marker { lon, lat, color })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if markers.len() > MAX_MARKERS {
        return Err(RenderError::TooLarge(format!("{} markers; at most {MAX_MARKERS}", markers.len())));
    }
    Ok(markers)
}

/// Draws the furniture over a rendered picture.
pub fn draw(canvas: &mut Pixmap, frame: &Frame, decor: &Decor, legend: Option<(&Style, &Sources)>, fonts: &Fonts, labeler: &mut Labeler) {
    for feature in &decor.overlay {
        draw_geometry(canvas, frame, feature, &feature.geometry);
    }
    for marker in &decor.markers {
        draw_marker(canvas, frame, marker);
    }
    let Some(font) = fonts.font(&["Noto Sans Regular".to_string(), "Open Sans Regular".to_string()]) else {
        return;
    };
    let label = |text: String, size: f32| LabelSpec {
        text,
        font: font.clone(),
        size: size * frame.ratio,
        color: Color {
            r: 0.13,
            g: 0.13,
            b: 0.13,
            a: 1.0,
        },
        halo_color: Color {
            r: 1.0,
            g: 1.0,
            b: 1.0,
            a: 0.9,
        },
        halo_width: 1.5 * frame.ratio,
        anchor: Anchor::Center,
        offset: (0.0, 0.0),
        max_width: 0.0,
        padding: 0.0,
    };
    if decor.scale_bar {
        scale_bar(canvas, frame, &label, labeler);
    }
    if decor.north_arrow {
        north_arrow(canvas, frame, &label, labeler);
    }
    if let (true, Some((style, sources))) = (decor.legend, legend) {
        draw_legend(canvas, frame, style, sources, &label, labeler);
    }
}

fn draw_geometry(canvas: &mut Pixmap, frame: &Frame, feature: &OverlayFeature, geometry: &Geometry<f64>) {
    let ratio = frame.ratio;
    let ring_path = |pb: &mut PathBuilder, line: &LineString<f64>, close: bool| {
        for (i, c) in line.0.iter().enumerate() {
            let (x, y) = frame.lonlat_to_device(c.x, c.y);
            if i == 0 {
                pb.move_to(x, y)
            } else {
                pb.line_to(x, y)
            }
        }
        if close {
            pb.close();
        }
    };
    let stroke = Stroke {
        width: feature.stroke_width * ratio,
        line_join: tiny_skia::LineJoin::Round,
        line_cap: tiny_skia::LineCap::Round,
        ..Stroke::default()
    };
    let outline = |canvas: &mut Pixmap, pb: PathBuilder, fill: bool| {
        if let Some(path) = pb.finish() {
            if fill {
                canvas.fill_path(&path, &paint_of(feature.fill), FillRule::EvenOdd, Transform::identity(), None);
            }
            canvas.stroke_path(&path, &paint_of(feature.stroke), &stroke, Transform::identity(), None);
        }
    };
    let polygon = |pb: &mut PathBuilder, p: &Polygon<f64>| {
        ring_path(pb, p.exterior(), true);
        p.interiors().iter().for_each(|r| ring_path(pb, r, true));
    };
    match geometry {
        Geometry::Point(p) => draw_dot(canvas, frame.lonlat_to_device(p.x(), p.y()), feature.stroke, ratio),
        Geometry::MultiPoint(ps) => ps
            .iter()
            .for_each(|p| draw_dot(canvas, frame.lonlat_to_device(p.x(), p.y()), feature.stroke, ratio)),
        Geometry::LineString(l) => {
            let mut pb = PathBuilder::new();
            ring_path(&mut pb, l, false);
            outline(canvas, pb, false);
        }
        Geometry::MultiLineString(ls) => {
            let mut pb = PathBuilder::new();
            ls.iter().for_each(|l| ring_path(&mut pb, l, false));
            outline(canvas, pb, false);
        }
        Geometry::Polygon(p) => {
            let mut pb = PathBuilder::new();
            polygon(&mut pb, p);
            outline(canvas, pb, true);
        }
        Geometry::MultiPolygon(ps) => {
            let mut pb = PathBuilder::new();
            ps.iter().for_each(|p| polygon(&mut pb, p));
            outline(canvas, pb, true);
        }
        Geometry::GeometryCollection(gs) => gs.iter().for_each(|g| draw_geometry(canvas, frame, feature, g)),
        _ => {}
    }
}

fn draw_dot(canvas: &mut Pixmap, (x, y): (f32, f32), color: Color, ratio: f32) {
    if let Some(dot) = PathBuilder::from_circle(x, y, 6.0 * ratio) {
        canvas.fill_path(&dot, &paint_of(color), FillRule::Winding, Transform::identity(), None);
        let white = Stroke {
            width: 2.0 * ratio,
            ..Stroke::default()
        };
        canvas.stroke_path(
            &dot,
            &paint_of(Color {
                r: 1.0,
                g: 1.0,
                b: 1.0,
                a: 1.0,
            }),
            &white,
            Transform::identity(),
            None,
        );
    }
}

/// A pin: a round head above a point whose tip is exactly on the marker's position.
fn draw_marker(canvas: &mut Pixmap, frame: &Frame, marker: &Marker) {
    let r = frame.ratio;
    let (x, y) = frame.lonlat_to_device(marker.lon, marker.lat);
    let (head_r, head_y) = (8.0 * r, y - 20.0 * r);
    let mut pb = PathBuilder::new();
    pb.move_to(x, y);
    pb.line_to(x - head_r * 0.8, head_y + head_r * 0.6);
    pb.line_to(x + head_r * 0.8, head_y + head_r * 0.6);
    pb.close();
    pb.push_circle(x, head_y, head_r);
    if let Some(pin) = pb.finish() {
        canvas.fill_path(&pin, &paint_of(marker.color), FillRule::Winding, Transform::identity(), None);
        let edge = Stroke {
            width: 1.5 * r,
            ..Stroke::default()
        };
        canvas.stroke_path(&pin, &paint_of(Color::BLACK.fade(0.5)), &edge, Transform::identity(), None);
    }
    if let Some(eye) = PathBuilder::from_circle(x, head_y, head_r * 0.35) {
        canvas.fill_path(
            &eye,
            &paint_of(Color {
                r: 1.0,
                g: 1.0,
                b: 1.0,
                a: 1.0,
            }),
            FillRule::Winding,
            Transform::identity(),
            None,
        );
    }
}

/// The longest round distance (1, 2 or 5 × 10ⁿ metres) that fits in `max_px` CSS pixels.
pub fn scale_distance(metres_per_px: f64, max_px: f64) -> f64 {
    let most = metres_per_px * max_px;
    let power = 10f64.powf(most.log10().floor());
    [5.0, 2.0, 1.0].iter().map(|m| m * power).find(|d| *d <= most).unwrap_or(power)
}

fn distance_text(metres: f64) -> String {
    if metres >= 1000.0 {
        format!("{} km", metres / 1000.0)
    } else {
        format!("{metres} m")
    }
}

fn scale_bar(canvas: &mut Pixmap, frame: &Frame, label: &dyn Fn(String, f32) -> LabelSpec, labeler: &mut Labeler) {
    let r = frame.ratio;
    let metres = scale_distance(frame.metres_per_css_pixel(), 120.0);
    let length = (metres / frame.metres_per_css_pixel()) as f32 * r;
    let (_, h) = frame.device_size();
    let (x0, y) = (12.0 * r, h as f32 - 14.0 * r);
    let mut pb = PathBuilder::new();
    pb.move_to(x0, y - 6.0 * r);
    pb.line_to(x0, y);
    pb.line_to(x0 + length, y);
    pb.line_to(x0 + length, y - 6.0 * r);
    let spec = label(distance_text(metres), 12.0);
    let text_size = text::measure(&spec).unwrap_or((0.0, 0.0));
    let top = y - 8.0 * r - text_size.1;
    labeler.reserve([x0 - 4.0 * r, top, x0 + length.max(text_size.0) + 4.0 * r, y + 4.0 * r]);
    if let Some(path) = pb.finish() {
        let white = Stroke {
            width: 4.0 * r,
            ..Stroke::default()
        };
        canvas.stroke_path(
            &path,
            &paint_of(Color {
                r: 1.0,
                g: 1.0,
                b: 1.0,
                a: 0.9,
            }),
            &white,
            Transform::identity(),
            None,
        );
        let black = Stroke {
            width: 2.0 * r,
            ..Stroke::default()
        };
        canvas.stroke_path(&path, &paint_of(Color::BLACK), &black, Transform::identity(), None);
    }
    text::draw_at(canvas, &spec, (x0 + (length - text_size.0) / 2.0, top));
}

fn north_arrow(canvas: &mut Pixmap, frame: &Frame, label: &dyn Fn(String, f32) -> LabelSpec, labeler: &mut Labeler) {
    let r = frame.ratio;
    let (w, _) = frame.device_size();
    let (cx, top) = (w as f32 - 24.0 * r, 10.0 * r);
    let spec = label("N".into(), 13.0);
    let (tw, th) = text::measure(&spec).unwrap_or((0.0, 0.0));
    text::draw_at(canvas, &spec, (cx - tw / 2.0, top));
    let tip = top + th + 2.0 * r;
    let mut left = PathBuilder::new();
    left.move_to(cx, tip);
    left.line_to(cx - 8.0 * r, tip + 24.0 * r);
    left.line_to(cx, tip + 18.0 * r);
    left.close();
    let mut right = PathBuilder::new();
    right.move_to(cx, tip);
    right.line_to(cx + 8.0 * r, tip + 24.0 * r);
    right.line_to(cx, tip + 18.0 * r);
    right.close();
    let edge = Stroke {
        width: 1.0 * r,
        ..Stroke::default()
    };
    for (half, fill) in [
        (left, Color::BLACK),
        (
            right,
            Color {
                r: 1.0,
                g: 1.0,
                b: 1.0,
                a: 1.0,
            },
        ),
    ] {
        if let Some(path) = half.finish() {
            canvas.fill_path(&path, &paint_of(fill), FillRule::Winding, Transform::identity(), None);
            canvas.stroke_path(&path, &paint_of(Color::BLACK), &edge, Transform::identity(), None);
        }
    }
    labeler.reserve([cx - 12.0 * r, top, cx + 12.0 * r, tip + 26.0 * r]);
}

/// The legend's rows: per drawn layer (outside the request's view: none), its categories.
pub fn legend_rows(style: &Style, sources: &Sources, zoom: f64) -> Vec<(String, Color, LayerType)> {
    let mut rows = Vec::new();
    for layer in style.layers.iter().filter(|l| l.shows_at(zoom)) {
        let Some(source) = layer.source.as_deref() else { continue };
        if sources.get(source).is_none() {
            continue;
        }
        let colour_property = match layer.kind {
            LayerType::Fill => "fill-color",
            LayerType::Line => "line-color",
            LayerType::Circle => "circle-color",
            LayerType::FillExtrusion => "fill-extrusion-color",
            _ => continue,
        };
        let name = layer.source_layer.clone().unwrap_or_else(|| layer.id.clone());
        let entries = match layer.property(colour_property) {
            Some(e) => e.legend(zoom),
            None => vec![(None, layer.color(colour_property, zoom, &NoFeature, Color::BLACK))],
        };
        for (category, color) in entries {
            let text = match category {
                Some(c) => format!("{name}: {c}"),
                None => name.clone(),
            };
            if !rows.iter().any(|(t, _, _): &(String, Color, LayerType)| *t == text) {
                rows.push((text, color, layer.kind));
            }
        }
    }
    rows
}

fn draw_legend(
    canvas: &mut Pixmap,
    frame: &Frame,
    style: &Style,
    sources: &Sources,
    label: &dyn Fn(String, f32) -> LabelSpec,
    labeler: &mut Labeler,
) {
    let r = frame.ratio;
    let mut rows = legend_rows(style, sources, frame.zoom);
    if rows.is_empty() {
        return;
    }
    if rows.len() > MAX_LEGEND_ROWS {
        rows.truncate(MAX_LEGEND_ROWS - 1);
        rows.push(("…".into(), Color::TRANSPARENT, LayerType::Background));
    }
    let specs: Vec<LabelSpec> = rows.iter().map(|(t, _, _)| label(t.clone(), 11.0)).collect();
    let sizes: Vec<(f32, f32)> = specs.iter().map(|s| text::measure(s).unwrap_or((0.0, 0.0))).collect();
    let row_h = sizes.iter().map(|s| s.1).fold(14.0 * r, f32::max);
    let swatch = 12.0 * r;
    let width = sizes.iter().map(|s| s.0).fold(0.0, f32::max) + swatch + 18.0 * r;
    let height = row_h * rows.len() as f32 + 10.0 * r;
    let (w, h) = frame.device_size();
    let (x0, y0) = (w as f32 - width - 10.0 * r, h as f32 - height - 10.0 * r);
    if let Some(panel) = tiny_skia::Rect::from_xywh(x0, y0, width, height) {
        canvas.fill_rect(
            panel,
            &paint_of(Color {
                r: 1.0,
                g: 1.0,
                b: 1.0,
                a: 0.9,
            }),
            Transform::identity(),
            None,
        );
    }
    labeler.reserve([x0, y0, x0 + width, y0 + height]);
    for (i, ((_, color, kind), spec)) in rows.iter().zip(&specs).enumerate() {
        let y = y0 + 5.0 * r + row_h * i as f32;
        let (sx, sy) = (x0 + 6.0 * r, y + (row_h - swatch) / 2.0);
        match kind {
            LayerType::Circle => {
                if let Some(dot) = PathBuilder::from_circle(sx + swatch / 2.0, sy + swatch / 2.0, swatch / 2.5) {
                    canvas.fill_path(&dot, &paint_of(*color), FillRule::Winding, Transform::identity(), None);
                }
            }
            LayerType::Line => {
                if let Some(bar) = tiny_skia::Rect::from_xywh(sx, sy + swatch / 2.0 - r, swatch, 2.5 * r) {
                    canvas.fill_rect(bar, &paint_of(*color), Transform::identity(), None);
                }
            }
            LayerType::Background => {}
            _ => {
                if let Some(square) = tiny_skia::Rect::from_xywh(sx, sy, swatch, swatch) {
                    canvas.fill_rect(square, &paint_of(*color), Transform::identity(), None);
                }
            }
        }
        text::draw_at(canvas, spec, (sx + swatch + 6.0 * r, y));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_bars_take_round_distances() {
        assert_eq!(scale_distance(10.0, 120.0), 1000.0);
        assert_eq!(scale_distance(3.0, 120.0), 200.0);
        assert_eq!(scale_distance(0.5, 120.0), 50.0);
        assert_eq!(distance_text(2000.0), "2 km");
        assert_eq!(distance_text(500.0), "500 m");
    }

    #[test]
    fn overlays_and_markers_are_read_or_refused_by_name() {
        let square = r##"{"type":"Feature","properties":{"fill":"#00ff00"},"geometry":{"type":"Polygon","coordinates":[[[107.5,16.4],[107.6,16.4],[107.6,16.5],[107.5,16.4]]]}}"##;
        let features = parse_overlay(square).unwrap();
        assert_eq!(features.len(), 1);
        assert_eq!(features[0].fill, Color::parse("#00ff00").unwrap().fade(0.25));
        assert!(parse_overlay(r#"{"type":"Point","coordinates":[200,10]}"#)
            .unwrap_err()
            .to_string()
            .contains("longitude"));
        assert!(parse_overlay("not json").is_err());
        assert!(parse_overlay(r#"{"type":"Blob","coordinates":[1,2]}"#).is_err());
        let markers = parse_markers("107.58,16.46;107.6,16.47,00ff00").unwrap();
        assert_eq!(markers.len(), 2);
        assert_eq!(markers[1].color, Color::parse("#00ff00").unwrap());
        assert!(parse_markers("107.58").is_err());
        assert!(parse_markers("1,2,zz").is_err());
    }
}
