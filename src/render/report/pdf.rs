//! The PDF form of a report: A4 portrait pages laid out top to bottom (title, unit, dates, the
//! map, indicator tables, statistics tables, data sources, a page footer), written by krilla
//! with Noto Sans embedded as subsets (text stays extractable: `pdftotext` reads it back,
//! Vietnamese included). Lays out first (measured with ab_glyph), then writes the pages.

use ab_glyph::{Font as _, FontArc};
use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Rect, Size, Transform};
use krilla::image::Image;
use krilla::metadata::Metadata;
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::Fill;
use krilla::surface::Surface;
use krilla::text::{Font, TextDirection};
use krilla::Document;
use serde_json::Value as Json;
use tiny_skia::Pixmap;

use super::super::text::Fonts;
use super::super::RenderError;
use super::{figure, Report};

/// The map picture's size in CSS pixels (drawn at twice the pixels, a page wide).
pub(super) const MAP_SIZE: (u32, u32) = (760, 470);
/// A4 in points.
const PAGE: (f32, f32) = (595.28, 841.89);
const MARGIN: f32 = 42.0;
const WIDTH: f32 = PAGE.0 - 2.0 * MARGIN;
/// Room kept at the bottom of a page for its footer.
const FOOTER: f32 = 16.0;
/// Line height in ems.
const LEAD: f32 = 1.4;
const REGULAR: &str = "Noto Sans Regular";
const BOLD: &str = "Noto Sans Bold";

type Rgb = (u8, u8, u8);
const INK: Rgb = (30, 30, 30);
const GREY: Rgb = (105, 105, 105);
const RED: Rgb = (185, 28, 28);

#[derive(Debug, Clone, Copy, PartialEq)]
enum Weight {
    Regular,
    Bold,
}

/// One thing drawn on a page.
enum Op {
    Text {
        x: f32,
        baseline: f32,
        size: f32,
        weight: Weight,
        colour: Rgb,
        text: String,
    },
    Image {
        y: f32,
        height: f32,
    },
    Rule {
        y: f32,
    },
}

/// A font as krilla embeds it and as ab_glyph measures it.
#[derive(Clone)]
struct Face {
    pdf: Font,
    metrics: FontArc,
}

struct Faces {
    regular: Face,
    bold: Face,
}

impl Faces {
    fn load(fonts: &Fonts) -> Result<Faces, RenderError> {
        let face = |name: &str| -> Option<Face> {
            let bytes = std::fs::read(fonts.file(name)?).ok()?;
            Some(Face {
                pdf: Font::new(bytes.clone().into(), 0)?,
                metrics: FontArc::try_from_vec(bytes).ok()?,
            })
        };
        let regular = face(REGULAR).ok_or_else(|| RenderError::NoFont(REGULAR.to_string()))?;
        let bold = face(BOLD).unwrap_or_else(|| regular.clone());
        Ok(Faces { regular, bold })
    }

    fn get(&self, weight: Weight) -> &Face {
        match weight {
            Weight::Regular => &self.regular,
            Weight::Bold => &self.bold,
        }
    }

    /// The advance width of `text` in points.
    fn width(&self, weight: Weight, size: f32, text: &str) -> f32 {
        let font = &self.get(weight).metrics;
        let per_unit = size / font.units_per_em().unwrap_or(1000.0);
        text.chars().map(|c| font.h_advance_unscaled(font.glyph_id(c))).sum::<f32>() * per_unit
    }

    /// `text` cut (with `…`) to fit `width`.
    fn fitted(&self, weight: Weight, size: f32, text: &str, width: f32) -> String {
        if self.width(weight, size, text) <= width {
            return text.to_string();
        }
        let mut kept: Vec<char> = text.chars().collect();
        while !kept.is_empty() {
            kept.pop();
            let candidate: String = kept.iter().chain(std::iter::once(&'…')).collect();
            if self.width(weight, size, &candidate) <= width {
                return candidate;
            }
        }
        String::new()
    }
}

/// A table column: its width in points and whether its cells are right-aligned (figures).
#[derive(Clone, Copy)]
struct Column {
    width: f32,
    right: bool,
}

const fn col(width: f32, right: bool) -> Column {
    Column { width, right }
}

/// A cell's text and colour.
type Cell = (String, Rgb, Weight);

fn cell(text: impl Into<String>) -> Cell {
    (text.into(), INK, Weight::Regular)
}

/// The pages being laid out, and the cursor (top of the next line, in points from the top).
struct Layout<'a> {
    faces: &'a Faces,
    pages: Vec<Vec<Op>>,
    y: f32,
}

impl Layout<'_> {
    /// Starts a new page when `height` more points do not fit on this one.
    fn room(&mut self, height: f32) {
        if self.y + height > PAGE.1 - MARGIN - FOOTER {
            self.pages.push(Vec::new());
            self.y = MARGIN;
        }
    }

    fn push(&mut self, op: Op) {
        if let Some(page) = self.pages.last_mut() {
            page.push(op);
        }
    }

    /// A paragraph, wrapped at the text width.
    fn paragraph(&mut self, text: &str, size: f32, weight: Weight, colour: Rgb) {
        let mut line = String::new();
        let mut lines = Vec::new();
        for word in text.split_whitespace() {
            let longer = if line.is_empty() {
                word.to_string()
            } else {
                format!("{line} {word}")
            };
            if !line.is_empty() && self.faces.width(weight, size, &longer) > WIDTH {
                lines.push(std::mem::replace(&mut line, word.to_string()));
            } else {
                line = longer;
            }
        }
        lines.extend((!line.is_empty()).then_some(line));
        for text in lines {
            self.room(size * LEAD);
            let baseline = self.y + size;
            self.push(Op::Text {
                x: MARGIN,
                baseline,
                size,
                weight,
                colour,
                text: self.faces.fitted(weight, size, &text, WIDTH),
            });
            self.y += size * LEAD;
        }
    }

    fn heading(&mut self, text: &str, size: f32) {
        // Keep a heading with at least three lines under it.
        self.room(size * LEAD + 4.0 * 9.0 * LEAD);
        self.y += size * 0.5;
        self.paragraph(text, size, Weight::Bold, INK);
    }

    /// One table row: each cell cut to its column.
    fn row(&mut self, columns: &[Column], cells: &[Cell], size: f32) {
        self.room(size * LEAD);
        let baseline = self.y + size;
        let mut x = MARGIN;
        for (column, (text, colour, weight)) in columns.iter().zip(cells) {
            let text = self.faces.fitted(*weight, size, text, column.width - 6.0);
            let at = if column.right {
                x + column.width - 4.0 - self.faces.width(*weight, size, &text)
            } else {
                x
            };
            self.push(Op::Text {
                x: at,
                baseline,
                size,
                weight: *weight,
                colour: *colour,
                text,
            });
            x += column.width;
        }
        self.y += size * LEAD;
    }

    /// A table: a bold header row, a rule, the rows.
    fn table(&mut self, columns: &[Column], header: &[&str], rows: Vec<Vec<Cell>>) {
        let head: Vec<Cell> = header.iter().map(|h| (h.to_string(), GREY, Weight::Bold)).collect();
        self.row(columns, &head, 8.5);
        let y = self.y;
        self.push(Op::Rule { y });
        self.y += 2.0;
        for row in rows {
            self.row(columns, &row, 9.0);
        }
        self.y += 4.0;
    }
}

fn text_of(value: &Json) -> String {
    value.as_str().map_or_else(|| figure(value), str::to_string)
}

/// The status of an indicator row as the report shows it (below target in red).
fn status(row: &Json) -> Cell {
    match row["status"].as_str().unwrap_or("") {
        "ok" => cell("đạt"),
        "below_target" => ("CHƯA ĐẠT".to_string(), RED, Weight::Bold),
        "suppressed" => ("ẩn (quá ít)".to_string(), GREY, Weight::Regular),
        _ => ("không có dữ liệu".to_string(), GREY, Weight::Regular),
    }
}

fn target(indicator: &Json) -> String {
    let unit = indicator["unit"].as_str().map_or(String::new(), |u| format!(" {u}"));
    let (min, max) = (&indicator["target"]["min"], &indicator["target"]["max"]);
    match (min.is_number(), max.is_number()) {
        (true, true) => format!("từ {} đến {}{unit}", figure(min), figure(max)),
        // Words, not ≥ / ≤: Noto Sans has no glyphs for them.
        (true, false) => format!("tối thiểu {}{unit}", figure(min)),
        (false, true) => format!("tối đa {}{unit}", figure(max)),
        (false, false) => "—".to_string(),
    }
}

fn unit_cells(row: &Json) -> [Cell; 2] {
    [cell(text_of(&row["code"])), cell(text_of(&row["name"]))]
}

fn indicators(layout: &mut Layout, report: &Report) {
    layout.heading("Chỉ tiêu", 13.0);
    if report.indicators.is_empty() {
        layout.paragraph("Kịch bản không có chỉ tiêu.", 10.0, Weight::Regular, GREY);
    }
    const COLUMNS: [Column; 6] = [
        col(60.0, false),
        col(170.0, false),
        col(105.0, true),
        col(55.0, true),
        col(50.0, true),
        col(WIDTH - 440.0, false),
    ];
    for indicator in &report.indicators {
        layout.heading(&text_of(&indicator["title"]), 11.0);
        let about = format!(
            "{} · lớp {} theo {} · đo: {} · mục tiêu {} · {} đơn vị chưa đạt",
            text_of(&indicator["id"]),
            text_of(&indicator["layer"]),
            text_of(&indicator["by"]),
            text_of(&indicator["measure"]),
            target(indicator),
            figure(&indicator["below_target"]),
        );
        layout.paragraph(&about, 9.0, Weight::Regular, GREY);
        let rows = indicator["units"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|row| {
                let mut cells = unit_cells(row).to_vec();
                cells.extend([
                    cell(figure(&row["value"])),
                    cell(figure(&row["features"])),
                    cell(figure(&row["matching"])),
                ]);
                cells.push(status(row));
                cells
            })
            .collect();
        layout.table(&COLUMNS, &["Mã", "Đơn vị", "Giá trị", "Đối tượng", "Khớp", "Trạng thái"], rows);
    }
}

/// The measures a statistics answer has, with their column titles.
fn measures(stats: &Json) -> Vec<(&'static str, String)> {
    let total = &stats["total"];
    let sum = format!("Tổng {}", text_of(&stats["sum_field"]));
    [
        ("count", "Số lượng".to_string()),
        ("sum", sum),
        ("area_m2", "Diện tích (m²)".to_string()),
        ("length_m", "Chiều dài (m)".to_string()),
    ]
    .into_iter()
    .filter(|(key, _)| total.get(*key).is_some())
    .collect()
}

fn statistics(layout: &mut Layout, report: &Report) {
    layout.heading("Thống kê theo đơn vị", 13.0);
    if report.statistics.is_empty() {
        layout.paragraph("Không có lớp dữ liệu nào để thống kê.", 10.0, Weight::Regular, GREY);
    }
    for stats in &report.statistics {
        layout.heading(&format!("{} theo {}", text_of(&stats["layer"]), text_of(&stats["by"])), 11.0);
        let measures = measures(stats);
        let each = (WIDTH - 230.0) / measures.len().max(1) as f32;
        let mut columns = vec![col(60.0, false), col(170.0, false)];
        columns.extend(measures.iter().map(|_| col(each, true)));
        let mut header = vec!["Mã", "Đơn vị"];
        header.extend(measures.iter().map(|(_, title)| title.as_str()));
        let figures = |row: &Json| -> Vec<Cell> {
            let suppressed = row["suppressed"] == true;
            measures
                .iter()
                .map(|(key, _)| match suppressed {
                    true => ("ẩn".to_string(), GREY, Weight::Regular),
                    false => cell(figure(&row[*key])),
                })
                .collect()
        };
        let mut rows: Vec<Vec<Cell>> = stats["units"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|row| unit_cells(row).into_iter().chain(figures(row)).collect())
            .collect();
        let total = [cell(""), (String::from("Tổng cộng"), INK, Weight::Bold)];
        rows.push(total.into_iter().chain(figures(&stats["total"])).collect());
        layout.table(&columns, &header, rows);
        if let Some(n) = stats["unassigned"].as_u64().filter(|&n| n > 0) {
            layout.paragraph(&format!("Không thuộc đơn vị nào: {n}"), 9.0, Weight::Regular, GREY);
        }
    }
}

fn sources(layout: &mut Layout, report: &Report) {
    layout.heading("Nguồn dữ liệu", 13.0);
    const COLUMNS: [Column; 4] = [col(110.0, false), col(120.0, false), col(110.0, false), col(WIDTH - 340.0, false)];
    let rows = report
        .sources
        .iter()
        .map(|s| vec![cell(&s.layer), cell(&s.source_file), cell(&s.source_crs), cell(&s.imported_at)])
        .collect();
    layout.table(&COLUMNS, &["Lớp", "Tệp nguồn", "Hệ toạ độ", "Ngày nhập"], rows);
}

/// Lays the report out: every page's drawing operations.
fn lay_out(report: &Report, faces: &Faces, map: Option<&Pixmap>) -> Vec<Vec<Op>> {
    let mut layout = Layout {
        faces,
        pages: vec![Vec::new()],
        y: MARGIN,
    };
    layout.paragraph(&format!("Báo cáo: {}", report.title), 18.0, Weight::Bold, INK);
    layout.paragraph(&report.description, 10.0, Weight::Regular, GREY);
    layout.y += 4.0;
    let unit = match &report.unit {
        Some(u) => format!("Đơn vị: {} ({}:{})", u.name.as_deref().unwrap_or(&u.code), u.layer, u.code),
        None => "Phạm vi: toàn tỉnh".to_string(),
    };
    layout.paragraph(&unit, 10.5, Weight::Bold, INK);
    layout.paragraph(&format!("Ngày lập: {}", report.generated_at), 10.0, Weight::Regular, INK);
    let as_of = report.data_as_of.as_deref().unwrap_or("—");
    layout.paragraph(&format!("Dữ liệu cập nhật đến: {as_of}"), 10.0, Weight::Regular, INK);
    layout.y += 6.0;
    match map {
        Some(picture) => {
            let height = WIDTH * picture.height() as f32 / picture.width() as f32;
            layout.room(height);
            let y = layout.y;
            layout.push(Op::Image { y, height });
            layout.y += height + 6.0;
        }
        None => layout.paragraph(
            "(Không có bản đồ: kịch bản không có kiểu hiển thị hoặc dữ liệu.)",
            9.0,
            Weight::Regular,
            GREY,
        ),
    }
    indicators(&mut layout, report);
    statistics(&mut layout, report);
    sources(&mut layout, report);
    let mut pages = layout.pages;
    let count = pages.len();
    for (i, page) in pages.iter_mut().enumerate() {
        page.push(Op::Text {
            x: MARGIN,
            baseline: PAGE.1 - MARGIN + 4.0,
            size: 8.0,
            weight: Weight::Regular,
            colour: GREY,
            text: format!("bando · {} · trang {}/{count}", report.scenario, i + 1),
        });
    }
    pages
}

fn fill(surface: &mut Surface, (r, g, b): Rgb) {
    surface.set_fill(Some(Fill {
        paint: rgb::Color::new(r, g, b).into(),
        opacity: NormalizedF32::ONE,
        rule: Default::default(),
    }));
}

/// The straight (not premultiplied) RGBA bytes of a picture.
fn straight_rgba(picture: &Pixmap) -> Vec<u8> {
    picture
        .pixels()
        .iter()
        .flat_map(|p| {
            let c = p.demultiply();
            [c.red(), c.green(), c.blue(), c.alpha()]
        })
        .collect()
}

fn draw(surface: &mut Surface, op: Op, faces: &Faces, image: Option<&Image>) {
    match op {
        Op::Text {
            x,
            baseline,
            size,
            weight,
            colour,
            text,
        } => {
            fill(surface, colour);
            let font = faces.get(weight).pdf.clone();
            surface.draw_text(Point::from_xy(x, baseline), font, size, &text, false, TextDirection::Auto);
        }
        Op::Image { y, height } => {
            if let (Some(image), Some(size)) = (image, Size::from_wh(WIDTH, height)) {
                surface.push_transform(&Transform::from_translate(MARGIN, y));
                surface.draw_image(image.clone(), size);
                surface.pop();
            }
        }
        Op::Rule { y } => {
            let mut path = PathBuilder::new();
            if let Some(rect) = Rect::from_xywh(MARGIN, y, WIDTH, 0.6) {
                path.push_rect(rect);
            }
            if let Some(path) = path.finish() {
                fill(surface, GREY);
                surface.draw_path(&path);
            }
        }
    }
}

/// The report as a PDF document.
pub(super) fn write(report: &Report, map: Option<&Pixmap>, fonts: &Fonts) -> Result<Vec<u8>, RenderError> {
    let faces = Faces::load(fonts)?;
    let pages = lay_out(report, &faces, map);
    let image = map.map(|p| Image::from_rgba8(straight_rgba(p), p.width(), p.height()));
    let settings = PageSettings::from_wh(PAGE.0, PAGE.1).ok_or_else(|| RenderError::BadPicture("an A4 page cannot be made".into()))?;
    let mut document = Document::new();
    let title = format!("Báo cáo: {}", report.title);
    document.set_metadata(Metadata::new().title(title).creator("bando".into()).language("vi".into()));
    for ops in pages {
        let mut page = document.start_page_with(settings.clone());
        let mut surface = page.surface();
        for op in ops {
            draw(&mut surface, op, &faces, image.as_ref());
        }
        surface.finish();
        page.finish();
    }
    document.finish().map_err(|source| RenderError::Pdf { source })
}
