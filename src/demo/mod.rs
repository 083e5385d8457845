//! The demo province: a synthetic but realistic province laid on real ground around Huế, built
//! deterministically (same parcels every time for the same size) so a new user sees every
//! scenario map with no data of their own, and benchmarks can make a million parcels.
//!
//! Owns: the synthetic layers and their attributes. Writes through the `Store` trait like an
//! import does; knows nothing about serving.

pub mod rng;

use geo_types::{Coord, Geometry, LineString, MultiPolygon, Point, Polygon};

use crate::feature::{FieldDef, FieldType, LayerKind, Value};
use crate::store::{LayerMeta, NewLayer, Provenance, Store, StoreError};
use rng::SplitMix;

/// Centre of the demo: the Huế citadel area.
const LON0: f64 = 107.585;
const LAT0: f64 = 16.463;
const METRES_PER_DEG_LAT: f64 = 110_760.0;
/// Parcels per block side between roads.
const BLOCK: usize = 10;
const PARCEL_W_M: f64 = 20.0;
const PARCEL_H_M: f64 = 25.0;
const ROAD_M: f64 = 12.0;

const LAND_USE: [(&str, u32); 10] = [
    ("ODT", 34), // urban residential
    ("ONT", 14), // rural residential
    ("LUC", 12), // rice
    ("CLN", 10), // perennial crops
    ("BHK", 5),  // annual crops
    ("TMD", 8),  // commerce and services
    ("SKC", 5),  // industrial
    ("DGD", 3),  // education
    ("DYT", 2),  // health
    ("NTS", 7),  // aquaculture
];

const WARD_NAMES: [&str; 16] = [
    "Phú Xuân",
    "Kim Long",
    "Hương An",
    "Thuận Hóa",
    "Vỹ Dạ",
    "An Cựu",
    "Thủy Xuân",
    "Thủy Biều",
    "Hương Thủy",
    "Phú Bài",
    "Thuận An",
    "Dương Nỗ",
    "Hóa Châu",
    "Hương Trà",
    "Phong Điền",
    "Phú Vang",
];
const STREETS: [&str; 12] = [
    "Lê Lợi",
    "Trần Hưng Đạo",
    "Hùng Vương",
    "Nguyễn Huệ",
    "Điện Biên Phủ",
    "Lý Thường Kiệt",
    "Bà Triệu",
    "Nguyễn Trãi",
    "Đinh Tiên Hoàng",
    "Phan Đình Phùng",
    "Hà Nội",
    "Trường Chinh",
];

#[derive(Debug, Clone, Copy)]
pub struct DemoOptions {
    pub parcels: usize,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions { parcels: 20_000 }
    }
}

/// Metres-to-degrees frame at the demo centre (good to well under a metre over 30 km).
#[derive(Clone, Copy)]
struct Frame {
    m_per_deg_lon: f64,
}

impl Frame {
    fn new() -> Frame {
        Frame {
            m_per_deg_lon: METRES_PER_DEG_LAT * LAT0.to_radians().cos(),
        }
    }
    fn at(&self, x_m: f64, y_m: f64) -> Coord<f64> {
        Coord {
            x: LON0 + x_m / self.m_per_deg_lon,
            y: LAT0 + y_m / METRES_PER_DEG_LAT,
        }
    }
    fn ring(&self, pts: &[(f64, f64)]) -> LineString<f64> {
        let mut coords: Vec<Coord<f64>> = pts.iter().map(|&(x, y)| self.at(x, y)).collect();
        coords.push(coords[0]);
        LineString(coords)
    }
}

/// The grid of parcels: `side` x `side` cells with a road after every BLOCK cells.
struct Layout {
    side: usize,
    frame: Frame,
    half_w: f64,
    half_h: f64,
}

impl Layout {
    fn new(parcels: usize) -> Layout {
        let side = (parcels as f64).sqrt().ceil().max(1.0) as usize;
        let roads = (side / BLOCK) as f64;
        let width = side as f64 * PARCEL_W_M + roads * ROAD_M;
        let height = side as f64 * PARCEL_H_M + roads * ROAD_M;
        Layout {
            side,
            frame: Frame::new(),
            half_w: width / 2.0,
            half_h: height / 2.0,
        }
    }
    /// South-west corner of cell (col, row), in metres from the centre.
    fn cell_origin(&self, col: usize, row: usize) -> (f64, f64) {
        let x = col as f64 * PARCEL_W_M + (col / BLOCK) as f64 * ROAD_M - self.half_w;
        let y = row as f64 * PARCEL_H_M + (row / BLOCK) as f64 * ROAD_M - self.half_h;
        (x, y)
    }
    /// The area the wards cover: the parcel grid plus a margin.
    fn extent_m(&self) -> (f64, f64, f64, f64) {
        let m = 400.0;
        (-self.half_w - m, -self.half_h - m, self.half_w + m, self.half_h + m)
    }
}

fn pick<'a, T>(rng: &mut SplitMix, items: &'a [(T, u32)]) -> &'a T {
    let total: u32 = items.iter().map(|(_, w)| w).sum();
    let mut r = rng.below(total as u64) as u32;
    for (item, w) in items {
        if r < *w {
            return item;
        }
        r -= w;
    }
    &items[0].0
}

fn text(s: impl Into<String>) -> Value {
    Value::Text(s.into().into_boxed_str())
}

fn field(name: &str, ty: FieldType) -> FieldDef {
    FieldDef::new(name, ty)
}

/// A field of personal data (marked so in the catalog, as `personal = [...]` marks an import's).
fn personal(name: &str) -> FieldDef {
    FieldDef {
        personal: true,
        ..FieldDef::new(name, FieldType::Text)
    }
}

struct LayerBuilder<'s> {
    store: &'s dyn Store,
    built: Vec<LayerMeta>,
}

impl LayerBuilder<'_> {
    fn layer(
        &mut self,
        name: &str,
        kind: LayerKind,
        fields: Vec<FieldDef>,
        fill: impl FnOnce(&mut dyn FnMut(Geometry<f64>, Vec<Value>) -> Result<(), StoreError>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let started = std::time::Instant::now();
        let mut writer = self.store.begin_layer(NewLayer {
            name: name.into(),
            kind,
            fields,
            replace: true,
        })?;
        let mut count = 0u64;
        fill(&mut |g, props| {
            count += 1;
            writer.write(&g, &props).map(|_| ())
        })?;
        let meta = writer.commit(Provenance {
            source_file: "bando demo".into(),
            source_sha256: String::new(),
            source_crs: "EPSG:4326 (WGS 84)".into(),
            read: count,
            seconds: started.elapsed().as_secs_f64(),
            ..Provenance::default()
        })?;
        self.built.push(meta);
        Ok(())
    }
}

/// Ward polygons: a 4 x 4 grid over the extent whose inner corners are jittered, so wards tile
/// the province exactly (shared edges, no gaps) but do not look like a chessboard.
fn ward_polygons(layout: &Layout, rng: &mut SplitMix) -> Vec<Polygon<f64>> {
    let (x0, y0, x1, y1) = layout.extent_m();
    let n = 4;
    let (dx, dy) = ((x1 - x0) / n as f64, (y1 - y0) / n as f64);
    let mut corners = vec![vec![(0.0, 0.0); n + 1]; n + 1];
    for (j, row) in corners.iter_mut().enumerate() {
        for (i, c) in row.iter_mut().enumerate() {
            let inner = i > 0 && i < n && j > 0 && j < n;
            let jx = if inner { rng.range(-0.2, 0.2) * dx } else { 0.0 };
            let jy = if inner { rng.range(-0.2, 0.2) * dy } else { 0.0 };
            *c = (x0 + i as f64 * dx + jx, y0 + j as f64 * dy + jy);
        }
    }
    let mut wards = Vec::new();
    for j in 0..n {
        for i in 0..n {
            let ring = [corners[j][i], corners[j][i + 1], corners[j + 1][i + 1], corners[j + 1][i]];
            wards.push(Polygon::new(layout.frame.ring(&ring), vec![]));
        }
    }
    wards
}

/// What every layer of the demo is laid out on: the parcel grid, the wards over it and the
/// province's extent (metres from the centre).
struct Ground {
    options: DemoOptions,
    layout: Layout,
    frame: Frame,
    wards: Vec<Polygon<f64>>,
    extent: (f64, f64, f64, f64),
}

impl Ground {
    fn new(options: DemoOptions) -> Ground {
        let layout = Layout::new(options.parcels);
        let wards = ward_polygons(&layout, &mut SplitMix::new(2025));
        Ground {
            options,
            frame: layout.frame,
            extent: layout.extent_m(),
            layout,
            wards,
        }
    }

    /// The river's centre line at `t` (0 at the west edge, 1 at the east), in metres.
    fn river_centre(&self, t: f64) -> (f64, f64) {
        let (x0, y0, x1, y1) = self.extent;
        (x0 + t * (x1 - x0), y0 * 0.3 + t * (y1 - y0) * 0.5 + 350.0 * (t * 9.0).sin())
    }
}

/// Builds every demo layer into `store` (replacing layers of the same names). Each layer draws
/// from its own seeded generator, so one layer's change leaves the others as they were.
pub fn build(store: &dyn Store, options: DemoOptions) -> Result<Vec<LayerMeta>, StoreError> {
    let ground = Ground::new(options);
    let mut b = LayerBuilder { store, built: Vec::new() };
    admin_units(&mut b, &ground)?;
    let built_parcels = parcels(&mut b, &ground)?;
    buildings(&mut b, &ground, &built_parcels)?;
    housing(&mut b, &ground, &built_parcels)?;
    roads(&mut b, &ground)?;
    water(&mut b, &ground)?;
    points_of_interest(&mut b, &ground)?;
    street_lights(&mut b, &ground)?;
    industrial_park(&mut b, &ground)?;
    water_level_sensors(&mut b, &ground)?;
    planning_zones(&mut b, &ground)?;
    sea(&mut b)?;
    Ok(b.built)
}

/// A parcel that carries a building: its grid cell and its land use.
type BuiltParcel = (usize, usize, &'static str);

/// The province outline and its wards.
fn admin_units(b: &mut LayerBuilder, g: &Ground) -> Result<(), StoreError> {
    let (frame, wards) = (g.frame, &g.wards);
    let (ex0, ey0, ex1, ey1) = g.extent;
    b.layer(
        "province",
        LayerKind::Admin,
        vec![
            field("code", FieldType::Text),
            field("name", FieldType::Text),
            field("level", FieldType::Text),
        ],
        |put| {
            let outline = frame.ring(&[(ex0, ey0), (ex1, ey0), (ex1, ey1), (ex0, ey1)]);
            put(
                Polygon::new(outline, vec![]).into(),
                vec![text("46"), text("Thành phố Huế (demo)"), text("province")],
            )
        },
    )?;

    b.layer(
        "wards",
        LayerKind::Admin,
        vec![
            field("code", FieldType::Text),
            field("name", FieldType::Text),
            field("level", FieldType::Text),
            field("population", FieldType::Int),
        ],
        |put| {
            for (i, ward) in wards.iter().enumerate() {
                let name = WARD_NAMES[i % WARD_NAMES.len()];
                let level = if i % 5 == 4 { "xã" } else { "phường" };
                let population = 8_000 + (i as i64 * 3_517) % 25_000;
                put(
                    ward.clone().into(),
                    vec![text(format!("{}", 19_900 + i * 3)), text(name), text(level), Value::Int(population)],
                )?;
            }
            Ok(())
        },
    )
}

/// The cadastral parcels; returns those that carry a building.
fn parcels(b: &mut LayerBuilder, g: &Ground) -> Result<Vec<BuiltParcel>, StoreError> {
    let (frame, layout, options) = (g.frame, &g.layout, g.options);
    let cadastral_fields = vec![
        field("sheet_no", FieldType::Int),
        field("parcel_no", FieldType::Int),
        field("land_use", FieldType::Text),
        field("area_m2", FieldType::Float),
        field("address", FieldType::Text),
    ];
    // Buildings and houses sit on residential and commercial parcels; remember them per parcel.
    let mut built_parcels: Vec<BuiltParcel> = Vec::new();
    b.layer("parcels", LayerKind::Cadastral, cadastral_fields, |put| {
        let mut rng = SplitMix::new(7);
        for i in 0..options.parcels {
            let (row, col) = (i / layout.side, i % layout.side);
            let (x, y) = layout.cell_origin(col, row);
            let mut j = || rng.range(-0.12, 0.12);
            let pts = [
                (x + j() * PARCEL_W_M, y + j() * PARCEL_H_M),
                (x + (1.0 + j()) * PARCEL_W_M, y + j() * PARCEL_H_M),
                (x + (1.0 + j()) * PARCEL_W_M, y + (1.0 + j()) * PARCEL_H_M),
                (x + j() * PARCEL_W_M, y + (1.0 + j()) * PARCEL_H_M),
            ];
            let area = shoelace(&pts);
            let land_use = *pick(&mut rng, &LAND_USE);
            if matches!(land_use, "ODT" | "ONT" | "TMD") {
                built_parcels.push((col, row, land_use));
            }
            let street = STREETS[(row / BLOCK + col / BLOCK) % STREETS.len()];
            let props = vec![
                Value::Int((i / 500 + 1) as i64),
                Value::Int((i % 500 + 1) as i64),
                text(land_use),
                Value::Float((area * 10.0).round() / 10.0),
                text(format!("{} {}, {}", i % 300 + 1, street, "Huế")),
            ];
            put(Polygon::new(frame.ring(&pts), vec![]).into(), props)?;
        }
        Ok(())
    })?;
    Ok(built_parcels)
}

/// The buildings on built parcels, taller near the centre.
fn buildings(b: &mut LayerBuilder, g: &Ground, built_parcels: &[BuiltParcel]) -> Result<(), StoreError> {
    let (frame, layout) = (g.frame, &g.layout);
    let building_fields = vec![
        field("floors", FieldType::Int),
        field("height_m", FieldType::Float),
        field("base_height_m", FieldType::Float),
        field("temporary_house", FieldType::Bool),
        field("use", FieldType::Text),
    ];
    let max_radius = layout.half_w.max(layout.half_h);
    b.layer("buildings", LayerKind::Building, building_fields, |put| {
        let mut rng = SplitMix::new(11);
        for &(col, row, land_use) in built_parcels {
            let (x, y) = layout.cell_origin(col, row);
            let (cx, cy) = (x + PARCEL_W_M / 2.0, y + PARCEL_H_M / 2.0);
            // Taller near the centre, low-rise at the edges.
            let centrality = 1.0 - ((cx * cx + cy * cy).sqrt() / max_radius).min(1.0);
            let temporary = land_use == "ONT" && rng.below(100) < 12;
            let floors = if temporary {
                1
            } else {
                1 + (rng.range(0.0, 1.0) * (2.0 + 14.0 * centrality * centrality)) as i64
            };
            let height = floors as f64 * 3.3 + rng.range(0.0, 1.5);
            let (w, h) = (rng.range(8.0, 14.0), rng.range(10.0, 18.0));
            let (bx, by) = (cx - w / 2.0, cy - h / 2.0);
            let mut outer = vec![(bx, by), (bx + w, by), (bx + w, by + h), (bx, by + h)];
            let courtyard = floors >= 6 && rng.below(4) == 0;
            let interiors = if courtyard {
                let (ix, iy) = (bx + w * 0.35, by + h * 0.35);
                vec![frame.ring(&[(ix, iy), (ix, iy + h * 0.3), (ix + w * 0.3, iy + h * 0.3), (ix + w * 0.3, iy)])]
            } else {
                vec![]
            };
            if !courtyard && rng.below(3) == 0 {
                // An L-shaped house: cut the north-east corner.
                outer = vec![
                    (bx, by),
                    (bx + w, by),
                    (bx + w, by + h * 0.6),
                    (bx + w * 0.6, by + h * 0.6),
                    (bx + w * 0.6, by + h),
                    (bx, by + h),
                ];
            }
            let props = vec![
                Value::Int(floors),
                Value::Float((height * 10.0).round() / 10.0),
                Value::Float(0.0),
                Value::Bool(temporary),
                text(if land_use == "TMD" { "commercial" } else { "residential" }),
            ];
            put(Polygon::new(frame.ring(&outer), interiors).into(), props)?;
        }
        Ok(())
    })
}

/// The households of residential parcels, with (synthetic) personal data.
fn housing(b: &mut LayerBuilder, g: &Ground, built_parcels: &[BuiltParcel]) -> Result<(), StoreError> {
    let (frame, layout) = (g.frame, &g.layout);
    let housing_fields = vec![
        field("address", FieldType::Text),
        field("household_size", FieldType::Int),
        field("poor_household", FieldType::Bool),
        field("near_poor_household", FieldType::Bool),
        field("temporary_house", FieldType::Bool),
        // Obviously synthetic personal data, marked personal: only roles with personal_data see it.
        personal("household_head"),
        personal("citizen_id"),
        personal("phone"),
    ];
    b.layer("housing", LayerKind::Housing, housing_fields, |put| {
        let mut rng = SplitMix::new(13);
        for (n, &(col, row, land_use)) in built_parcels.iter().enumerate() {
            if land_use == "TMD" {
                continue;
            }
            let (x, y) = layout.cell_origin(col, row);
            let poor = rng.below(100) < 4;
            let near_poor = !poor && rng.below(100) < 6;
            let temporary = land_use == "ONT" && rng.below(100) < 12;
            let street = STREETS[(row / BLOCK + col / BLOCK) % STREETS.len()];
            let props = vec![
                text(format!("{} {}, Huế", n % 300 + 1, street)),
                Value::Int(1 + rng.below(7) as i64),
                Value::Bool(poor),
                Value::Bool(near_poor),
                Value::Bool(temporary),
                text(format!("Chủ hộ Mẫu {} (dữ liệu giả)", n + 1)),
                text(format!("DEMO{:08}", n + 1)),
                text(format!("0999 {:06} (giả)", n + 1)),
            ];
            put(Point(frame.at(x + PARCEL_W_M / 2.0, y + PARCEL_H_M / 2.0)).into(), props)?;
        }
        Ok(())
    })
}

/// The roads between blocks, north-south and east-west.
fn roads(b: &mut LayerBuilder, g: &Ground) -> Result<(), StoreError> {
    let (frame, layout) = (g.frame, &g.layout);
    let blocks = layout.side.div_ceil(BLOCK);
    b.layer(
        "roads",
        LayerKind::Infrastructure,
        vec![
            field("asset_type", FieldType::Text),
            field("name", FieldType::Text),
            field("status", FieldType::Text),
            field("lanes", FieldType::Int),
        ],
        |put| {
            let mut rng = SplitMix::new(17);
            for k in 1..blocks {
                let (x, _) = layout.cell_origin(k * BLOCK, 0);
                let (_, y) = layout.cell_origin(0, k * BLOCK);
                let (rx, ry) = (x - ROAD_M / 2.0, y - ROAD_M / 2.0);
                let class = if k % 4 == 0 {
                    "primary"
                } else if k % 2 == 0 {
                    "secondary"
                } else {
                    "residential"
                };
                let status = if rng.below(10) == 0 { "needs_repair" } else { "good" };
                let lanes = if class == "primary" { 4 } else { 2 };
                let ns = LineString(vec![frame.at(rx, -layout.half_h), frame.at(rx, layout.half_h)]);
                put(
                    ns.into(),
                    vec![text("road"), text(STREETS[k % STREETS.len()]), text(status), Value::Int(lanes)],
                )?;
                let ew = LineString(vec![frame.at(-layout.half_w, ry), frame.at(layout.half_w, ry)]);
                let name = format!("Đường số {k}");
                put(
                    ew.into(),
                    vec![
                        text(if class == "residential" { "road" } else { class }),
                        text(name),
                        text(status),
                        Value::Int(lanes),
                    ],
                )?;
            }
            Ok(())
        },
    )
}

fn water(b: &mut LayerBuilder, g: &Ground) -> Result<(), StoreError> {
    let frame = g.frame;
    // The Perfume River (sông Hương) crossing the province from south-west to north-east.
    b.layer(
        "water",
        LayerKind::Infrastructure,
        vec![field("asset_type", FieldType::Text), field("name", FieldType::Text)],
        |put| {
            let mut left = Vec::new();
            let mut right = Vec::new();
            let steps = 40;
            for s in 0..=steps {
                let (x, y) = g.river_centre(s as f64 / steps as f64);
                left.push((x, y - 60.0));
                right.push((x, y + 60.0));
            }
            right.reverse();
            left.extend(right);
            put(
                Polygon::new(frame.ring(&left), vec![]).into(),
                vec![text("river"), text("Sông Hương")],
            )
        },
    )
}

/// Schools, health stations and named places.
fn points_of_interest(b: &mut LayerBuilder, g: &Ground) -> Result<(), StoreError> {
    let (frame, layout, options, wards) = (g.frame, &g.layout, g.options, &g.wards);
    let poi_fields = vec![
        field("name", FieldType::Text),
        field("category", FieldType::Text),
        field("capacity", FieldType::Int),
        field("has_fire_alarm", FieldType::Bool),
    ];
    b.layer("schools", LayerKind::Poi, poi_fields.clone(), |put| {
        let mut rng = SplitMix::new(19);
        let count = (options.parcels / 800).clamp(6, 400);
        for i in 0..count {
            let p = frame.at(rng.range(-layout.half_w, layout.half_w), rng.range(-layout.half_h, layout.half_h));
            let level = ["Tiểu học", "THCS", "THPT", "Mầm non"][i % 4];
            let props = vec![
                text(format!("Trường {level} {}", WARD_NAMES[i % WARD_NAMES.len()])),
                text("school"),
                Value::Int(200 + rng.below(1200) as i64),
                Value::Bool(rng.below(10) < 8),
            ];
            put(Point(p).into(), props)?;
        }
        Ok(())
    })?;
    b.layer("health_stations", LayerKind::Poi, poi_fields.clone(), |put| {
        let mut rng = SplitMix::new(23);
        for (i, ward) in wards.iter().enumerate() {
            let c = centroid(ward);
            let p = Coord {
                x: c.x + rng.range(-0.002, 0.002),
                y: c.y + rng.range(-0.002, 0.002),
            };
            let props = vec![
                text(format!("Trạm y tế {}", WARD_NAMES[i % WARD_NAMES.len()])),
                text("health_station"),
                Value::Int(10 + rng.below(30) as i64),
                Value::Bool(rng.below(10) < 7),
            ];
            put(Point(p).into(), props)?;
        }
        Ok(())
    })?;
    b.layer(
        "places",
        LayerKind::Poi,
        vec![field("name", FieldType::Text), field("category", FieldType::Text)],
        |put| {
            for (i, ward) in wards.iter().enumerate() {
                put(
                    Point(centroid(ward)).into(),
                    vec![text(WARD_NAMES[i % WARD_NAMES.len()]), text("ward")],
                )?;
            }
            put(Point(frame.at(0.0, 0.0)).into(), vec![text("Kinh thành Huế"), text("landmark")])
        },
    )
}

/// Street lights along the north-south roads, every 40 m.
fn street_lights(b: &mut LayerBuilder, g: &Ground) -> Result<(), StoreError> {
    let (frame, layout) = (g.frame, &g.layout);
    let blocks = layout.side.div_ceil(BLOCK);
    b.layer(
        "street_lights",
        LayerKind::Infrastructure,
        vec![
            field("asset_type", FieldType::Text),
            field("status", FieldType::Text),
            field("power_w", FieldType::Int),
            field("energy_kwh_month", FieldType::Float),
        ],
        |put| {
            let mut rng = SplitMix::new(29);
            for k in 1..blocks {
                let (x, _) = layout.cell_origin(k * BLOCK, 0);
                let rx = x - ROAD_M / 2.0;
                let mut y = -layout.half_h;
                while y < layout.half_h {
                    let status = match rng.below(100) {
                        0..=89 => "working",
                        90..=96 => "broken",
                        _ => "off",
                    };
                    let power = [100, 150, 250][rng.below(3) as usize];
                    let energy = if status == "working" {
                        power as f64 * 11.0 * 30.0 / 1000.0
                    } else {
                        0.0
                    };
                    put(
                        Point(frame.at(rx + 5.0, y)).into(),
                        vec![text("street_light"), text(status), Value::Int(power), Value::Float(energy)],
                    )?;
                    y += 40.0;
                }
            }
            Ok(())
        },
    )
}

/// The industrial park with its air and water quality sensors.
fn industrial_park(b: &mut LayerBuilder, g: &Ground) -> Result<(), StoreError> {
    let (frame, layout) = (g.frame, &g.layout);
    // In the south-east of the province.
    let park = (layout.half_w * 0.5, -layout.half_h * 0.7);
    b.layer(
        "industrial_parks",
        LayerKind::Planning,
        vec![
            field("zone_code", FieldType::Text),
            field("land_use_function", FieldType::Text),
            field("decision_no", FieldType::Text),
            field("name", FieldType::Text),
        ],
        |put| {
            let (px, py) = park;
            let ring = frame.ring(&[
                (px - 600.0, py - 400.0),
                (px + 600.0, py - 400.0),
                (px + 600.0, py + 400.0),
                (px - 600.0, py + 400.0),
            ]);
            put(
                Polygon::new(ring, vec![]).into(),
                vec![text("KCN-PB"), text("SKK"), text("1234/QĐ-UBND"), text("Khu công nghiệp Phú Bài")],
            )
        },
    )?;
    b.layer(
        "env_sensors",
        LayerKind::Iot,
        vec![
            field("device_type", FieldType::Text),
            field("status", FieldType::Text),
            field("value", FieldType::Float),
            field("limit", FieldType::Float),
            field("unit", FieldType::Text),
            field("violation", FieldType::Bool),
        ],
        |put| {
            let mut rng = SplitMix::new(31);
            for i in 0..24 {
                let (px, py) = park;
                let p = frame.at(px + rng.range(-700.0, 700.0), py + rng.range(-500.0, 500.0));
                let (kind, limit, unit) = if i % 2 == 0 {
                    ("pm25", 50.0, "µg/m³")
                } else {
                    ("cod", 75.0, "mg/L")
                };
                let value = (rng.range(0.3, 1.4) * limit * 10.0).round() / 10.0;
                put(
                    Point(p).into(),
                    vec![
                        text(kind),
                        text(if rng.below(12) == 0 { "offline" } else { "online" }),
                        Value::Float(value),
                        Value::Float(limit),
                        text(unit),
                        Value::Bool(value > limit),
                    ],
                )?;
            }
            Ok(())
        },
    )
}

/// The water-level gauges along the river's north bank.
fn water_level_sensors(b: &mut LayerBuilder, g: &Ground) -> Result<(), StoreError> {
    let frame = g.frame;
    b.layer(
        "water_level_sensors",
        LayerKind::Iot,
        vec![
            field("device_type", FieldType::Text),
            field("status", FieldType::Text),
            field("value", FieldType::Float),
            field("alert_level", FieldType::Float),
            field("unit", FieldType::Text),
        ],
        |put| {
            let mut rng = SplitMix::new(37);
            for s in 0..12 {
                let (x, y) = g.river_centre((s as f64 + 0.5) / 12.0);
                put(
                    Point(frame.at(x, y + 70.0)).into(),
                    vec![
                        text("water_level"),
                        text("online"),
                        Value::Float((rng.range(0.5, 3.5) * 100.0).round() / 100.0),
                        Value::Float(3.0),
                        text("m"),
                    ],
                )?;
            }
            Ok(())
        },
    )
}

fn planning_zones(b: &mut LayerBuilder, g: &Ground) -> Result<(), StoreError> {
    let frame = g.frame;
    let (ex0, ey0, ex1, ey1) = g.extent;
    let planning_fields = vec![
        field("zone_code", FieldType::Text),
        field("land_use_function", FieldType::Text),
        field("decision_no", FieldType::Text),
        field("max_floors", FieldType::Int),
    ];
    b.layer("planning_zones", LayerKind::Planning, planning_fields, |put| {
        let functions = [("ODT", 9), ("TMD", 15), ("CXKN", 0), ("DGD", 4), ("ONT", 4), ("SKC", 5)];
        let n = 3;
        let (w, h) = ((ex1 - ex0) / n as f64, (ey1 - ey0) / n as f64);
        for j in 0..n {
            for i in 0..n {
                let (x, y) = (ex0 + i as f64 * w, ey0 + j as f64 * h);
                let (func, max_floors) = functions[(i + j * n) % functions.len()];
                let ring = frame.ring(&[
                    (x + 50.0, y + 50.0),
                    (x + w - 50.0, y + 50.0),
                    (x + w - 50.0, y + h - 50.0),
                    (x + 50.0, y + h - 50.0),
                ]);
                put(
                    Polygon::new(ring, vec![]).into(),
                    vec![
                        text(format!("QH-{}{}", (b'A' + j as u8) as char, i + 1)),
                        text(func),
                        text("2159/QĐ-UBND"),
                        Value::Int(max_floors),
                    ],
                )?;
            }
        }
        Ok(())
    })
}

fn sea(b: &mut LayerBuilder) -> Result<(), StoreError> {
    // The sea off Thuận An: permitted fishing zones and vessels, some of them outside.
    let zone = |x0: f64, y0: f64, x1: f64, y1: f64| -> Polygon<f64> {
        let c = |lon: f64, lat: f64| Coord { x: lon, y: lat };
        Polygon::new(LineString(vec![c(x0, y0), c(x1, y0), c(x1, y1), c(x0, y1), c(x0, y0)]), vec![])
    };
    let zones = [zone(107.70, 16.62, 107.95, 16.80), zone(107.85, 16.80, 108.20, 17.05)];
    b.layer(
        "fishing_zones",
        LayerKind::Planning,
        vec![
            field("zone_code", FieldType::Text),
            field("name", FieldType::Text),
            field("permitted", FieldType::Bool),
        ],
        |put| {
            put(
                zones[0].clone().into(),
                vec![text("VB-1"), text("Vùng lộng Thuận An"), Value::Bool(true)],
            )?;
            put(
                MultiPolygon(vec![zones[1].clone()]).into(),
                vec![text("VK-2"), text("Vùng khơi Huế"), Value::Bool(true)],
            )
        },
    )?;
    b.layer(
        "vessels",
        LayerKind::Iot,
        vec![
            field("vessel_id", FieldType::Text),
            field("status", FieldType::Text),
            field("speed_kn", FieldType::Float),
            field("signal_lost", FieldType::Bool),
            field("in_permitted_zone", FieldType::Bool),
        ],
        |put| {
            let mut rng = SplitMix::new(41);
            for i in 0..60 {
                let (lon, lat) = (rng.range(107.68, 108.3), rng.range(16.6, 17.1));
                let inside = zones.iter().any(|z| {
                    lon >= z.exterior().0[0].x && lon <= z.exterior().0[1].x && lat >= z.exterior().0[0].y && lat <= z.exterior().0[2].y
                });
                let lost = rng.below(15) == 0;
                put(
                    Point::new(lon, lat).into(),
                    vec![
                        text(format!("TTH-{:05}-TS", 90_000 + i * 37)),
                        text(if lost { "signal_lost" } else { "fishing" }),
                        Value::Float((rng.range(0.0, 12.0) * 10.0).round() / 10.0),
                        Value::Bool(lost),
                        Value::Bool(inside),
                    ],
                )?;
            }
            Ok(())
        },
    )
}

fn shoelace(pts: &[(f64, f64)]) -> f64 {
    let n = pts.len();
    (0..n)
        .map(|i| pts[i].0 * pts[(i + 1) % n].1 - pts[(i + 1) % n].0 * pts[i].1)
        .sum::<f64>()
        .abs()
        / 2.0
}

fn centroid(p: &Polygon<f64>) -> Coord<f64> {
    let ring = &p.exterior().0[..p.exterior().0.len() - 1];
    let n = ring.len() as f64;
    Coord {
        x: ring.iter().map(|c| c.x).sum::<f64>() / n,
        y: ring.iter().map(|c| c.y).sum::<f64>() / n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::gpkg::GpkgStore;

    #[test]
    fn the_demo_is_deterministic_and_inside_vietnam() {
        let dir = tempfile::tempdir().unwrap();
        let a = GpkgStore::open(&dir.path().join("a.gpkg")).unwrap();
        let b = GpkgStore::open(&dir.path().join("b.gpkg")).unwrap();
        let la = build(&a, DemoOptions { parcels: 500 }).unwrap();
        let lb = build(&b, DemoOptions { parcels: 500 }).unwrap();
        let vn = crate::crs::Region::vietnam();
        for (x, y) in la.iter().zip(&lb) {
            assert_eq!(x.name, y.name);
            assert_eq!(x.feature_count, y.feature_count);
            assert_eq!(x.bbox, y.bbox);
            assert!(vn.contains(&x.bbox.unwrap()), "{} outside Vietnam", x.name);
        }
        let parcels = la.iter().find(|l| l.name == "parcels").unwrap();
        assert_eq!(parcels.feature_count, 500);
    }
}
