//! The quadtree of tiles. Each building is assigned to one cell by the centre of its footprint box,
//! quantised to a 2^24 × 2^24 grid over the layer's R-tree envelope; a cell holding more than N
//! buildings splits into four. Tile ids name cells by path from the root (`r`, `r0`, `r03`, ...),
//! so a tile's buildings can be found from its id through the R-tree alone, without building the
//! whole tree: a leaf request costs its own buildings, not the layer's.
//!
//! Volumes are computed from the buildings (every footprint point and the true base and top
//! heights), not from cells, so they are tight and nest (a parent is the union of its children).

use rayon::prelude::*;
use rstar::AABB;

use super::building::{HeightStats, Prepared};
use super::{City3d, City3dError};

/// Depth of the quantisation grid and so the deepest level; a cell there is ~1 cm across a
/// province, so more than N buildings sharing one are duplicates and stay together.
pub const MAX_LEVEL: u8 = 24;

/// A cell of the quadtree: level and column/row from the south-west, each in 0..2^level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TileId {
    pub level: u8,
    pub x: u32,
    pub y: u32,
}

impl TileId {
    pub const ROOT: TileId = TileId { level: 0, x: 0, y: 0 };

    /// `r` then one quadrant digit per level: bit 0 = east half, bit 1 = north half.
    pub fn parse(id: &str) -> Result<TileId, City3dError> {
        let bad = || City3dError::BadTileId(id.chars().take(64).collect());
        let digits = id.strip_prefix('r').ok_or_else(bad)?;
        if digits.len() > MAX_LEVEL as usize {
            return Err(bad());
        }
        digits.bytes().try_fold(TileId::ROOT, |t, d| match d {
            b'0'..=b'3' => Ok(t.child(d - b'0')),
            _ => Err(bad()),
        })
    }

    pub fn name(&self) -> String {
        let mut s = String::with_capacity(1 + self.level as usize);
        s.push('r');
        for l in (0..self.level).rev() {
            let digit = ((self.x >> l) & 1) | (((self.y >> l) & 1) << 1);
            s.push(char::from(b'0' + digit as u8));
        }
        s
    }

    pub fn child(&self, digit: u8) -> TileId {
        TileId {
            level: self.level + 1,
            x: self.x * 2 + (digit & 1) as u32,
            y: self.y * 2 + (digit >> 1) as u32,
        }
    }

    fn parent(&self) -> Option<TileId> {
        (self.level > 0).then(|| TileId {
            level: self.level - 1,
            x: self.x / 2,
            y: self.y / 2,
        })
    }

    fn contains(&self, q: (u32, u32)) -> bool {
        let shift = MAX_LEVEL - self.level;
        q.0 >> shift == self.x && q.1 >> shift == self.y
    }
}

/// The quantisation grid: the layer's envelope (all features, whatever the filter, so ids are the
/// same in every variant).
#[derive(Debug, Clone, Copy)]
struct Grid {
    west: f64,
    south: f64,
    width: f64,
    height: f64,
}

const GRID_CELLS: f64 = (1u64 << MAX_LEVEL) as f64;

impl Grid {
    fn of(city: &City3d) -> Option<Grid> {
        let tree = &city.layer().tree;
        if tree.size() == 0 {
            return None;
        }
        let env = tree.root().envelope();
        let (lo, hi) = (env.lower(), env.upper());
        Some(Grid {
            west: lo[0],
            south: lo[1],
            width: (hi[0] - lo[0]).max(1e-9),
            height: (hi[1] - lo[1]).max(1e-9),
        })
    }

    fn quantize(&self, (x, y): (f64, f64)) -> (u32, u32) {
        let q = |v: f64| (v * GRID_CELLS).floor().clamp(0.0, GRID_CELLS - 1.0) as u32;
        (q((x - self.west) / self.width), q((y - self.south) / self.height))
    }

    /// A cell's box in degrees, widened by a hair so boundary rounding never loses a building.
    fn cell_envelope(&self, id: TileId) -> AABB<[f64; 2]> {
        let n = (1u64 << id.level) as f64;
        let (w, h) = (self.width / n, self.height / n);
        let (x0, y0) = (self.west + id.x as f64 * w, self.south + id.y as f64 * h);
        let eps = 1e-9;
        AABB::from_corners([x0 - eps, y0 - eps], [x0 + w + eps, y0 + h + eps])
    }

    /// Size of the grid in metres (its diagonal), for geometric errors.
    fn diagonal_m(&self) -> f64 {
        let lat = (self.south + self.height / 2.0).to_radians();
        let w = self.width * super::building::M_PER_DEG * lat.cos();
        let h = self.height * super::building::M_PER_DEG;
        w.hypot(h)
    }
}

fn morton(q: (u32, u32)) -> u64 {
    fn spread(v: u32) -> u64 {
        let mut x = v as u64 & 0xffff_ffff;
        x = (x | (x << 16)) & 0x0000_ffff_0000_ffff;
        x = (x | (x << 8)) & 0x00ff_00ff_00ff_00ff;
        x = (x | (x << 4)) & 0x0f0f_0f0f_0f0f_0f0f;
        x = (x | (x << 2)) & 0x3333_3333_3333_3333;
        x = (x | (x << 1)) & 0x5555_5555_5555_5555;
        x
    }
    spread(q.0) | (spread(q.1) << 1)
}

/// Bounding region in degrees and metres: west, south, east, north, min height, max height.
pub type Region = [f64; 6];

fn union(a: Region, b: Region) -> Region {
    [
        a[0].min(b[0]),
        a[1].min(b[1]),
        a[2].max(b[2]),
        a[3].max(b[3]),
        a[4].min(b[4]),
        a[5].max(b[5]),
    ]
}

fn region_of(p: &Prepared) -> Region {
    [p.bbox[0], p.bbox[1], p.bbox[2], p.bbox[3], p.base_m, p.top_m]
}

/// A tile: content (its buildings) only at leaves; refinement is ADD, so nothing is drawn twice.
#[derive(Debug, Clone)]
pub struct Node {
    pub id: TileId,
    pub region: Region,
    pub geometric_error: f64,
    pub children: Vec<Node>,
    /// Feature indices and facts, sorted by index; empty for inner tiles.
    pub buildings: Vec<(u32, Prepared)>,
}

impl Node {
    pub fn has_content(&self) -> bool {
        !self.buildings.is_empty()
    }

    /// Every tile with content, depth first.
    pub fn leaves(&self) -> Vec<&Node> {
        let mut out = Vec::new();
        let mut stack = vec![self];
        while let Some(n) = stack.pop() {
            if n.has_content() {
                out.push(n);
            }
            stack.extend(n.children.iter());
        }
        out
    }
}

/// The whole tileset's tree, None when no building survives the filter.
pub struct Tree {
    pub root: Option<Node>,
    pub stats: HeightStats,
}

/// A building's place on the Morton curve: (code, feature index). Sorting these 16-byte keys, not
/// the buildings' facts, keeps the sort cache-friendly.
type Key = (u64, u32);

impl Tree {
    pub fn build(city: &City3d) -> Tree {
        let started = std::time::Instant::now();
        let Some(grid) = Grid::of(city) else {
            return Tree {
                root: None,
                stats: HeightStats::default(),
            };
        };
        let count = city.layer().features.len() as u32;
        let prepared: Vec<Option<Prepared>> = (0..count).into_par_iter().map(|index| city.prepare(index)).collect();
        let mut keys: Vec<Key> = prepared
            .iter()
            .enumerate()
            .filter_map(|(index, p)| p.as_ref().map(|p| (morton(grid.quantize(p.center())), index as u32)))
            .collect();
        keys.par_sort_unstable();
        let included = city.layer().features.par_iter().filter(|f| city.styling.includes(f)).count() as u64;
        let stats = HeightStats {
            buildings: keys.len() as u64,
            defaulted_height: prepared.iter().flatten().filter(|p| p.defaulted).count() as u64,
            height_from_z: prepared.iter().flatten().filter(|p| p.from_z).count() as u64,
            skipped_degenerate: included - keys.len() as u64,
        };
        let root_error = grid.diagonal_m() / ROOT_ERROR_DIVISOR;
        let max = city.options.max_buildings_per_tile.max(1);
        let root = (!keys.is_empty()).then(|| split(&keys, &prepared, TileId::ROOT, root_error, max));
        tracing::info!(
            layer = %city.layer().meta.name,
            buildings = stats.buildings,
            defaulted_height = stats.defaulted_height,
            height_from_z = stats.height_from_z,
            skipped_degenerate = stats.skipped_degenerate,
            ms = started.elapsed().as_millis() as u64,
            "3D tile tree built"
        );
        Tree { root, stats }
    }
}

/// Root geometric error = grid diagonal / this: leaves load when the camera is within roughly ten
/// leaf widths, which keeps a province-wide view light and a street view complete.
const ROOT_ERROR_DIVISOR: f64 = 10.0;

/// `keys` are sorted; `prepared` is indexed by feature and is Some for every key.
fn split(keys: &[Key], prepared: &[Option<Prepared>], id: TileId, error: f64, max: usize) -> Node {
    if keys.len() <= max || id.level == MAX_LEVEL {
        let mut buildings: Vec<(u32, Prepared)> = keys
            .iter()
            .filter_map(|&(_, index)| prepared[index as usize].map(|p| (index, p)))
            .collect();
        buildings.sort_unstable_by_key(|b| b.0);
        let region = buildings.iter().map(|(_, p)| region_of(p)).reduce(union).unwrap_or_default();
        return Node {
            id,
            region,
            geometric_error: error,
            children: Vec::new(),
            buildings,
        };
    }
    let shift = 2 * (MAX_LEVEL - id.level - 1) as u32;
    let digit = |k: &Key| ((k.0 >> shift) & 3) as u8;
    let mut children = Vec::with_capacity(4);
    let mut rest = keys;
    for d in 0..4u8 {
        let end = rest.partition_point(|k| digit(k) <= d);
        let (part, tail) = rest.split_at(end);
        rest = tail;
        if !part.is_empty() {
            children.push(split(part, prepared, id.child(d), error / 2.0, max));
        }
    }
    let region = children.iter().map(|c| c.region).reduce(union).unwrap_or_default();
    Node {
        id,
        region,
        geometric_error: error,
        children,
        buildings: Vec::new(),
    }
}

/// The buildings of content tile `id`, found through the R-tree. Only leaves exist: a cell with
/// more than N buildings is an inner tile, and a cell whose parent holds at most N is not a tile.
pub fn tile_buildings(city: &City3d, id: TileId) -> Result<Vec<(u32, Prepared)>, City3dError> {
    let missing = || City3dError::NoSuchTile(id.name());
    let grid = Grid::of(city).ok_or_else(missing)?;
    let max = city.options.max_buildings_per_tile.max(1);
    let in_cell = |cell: TileId, limit: usize| -> Vec<(u32, Prepared)> {
        city.layer()
            .tree
            .locate_in_envelope_intersecting(&grid.cell_envelope(cell))
            .filter_map(|e| city.prepare(e.index).map(|p| (e.index, p)))
            .filter(|(_, p)| cell.contains(grid.quantize(p.center())))
            .take(limit)
            .collect()
    };
    // More than N in a cell above the deepest level means an inner tile: stop counting there, so
    // asking for `r.glb` of a big layer costs N+1 buildings, not the layer.
    let limit = if id.level == MAX_LEVEL { usize::MAX } else { max + 1 };
    let mut buildings = in_cell(id, limit);
    if buildings.is_empty() || (buildings.len() > max && id.level < MAX_LEVEL) {
        return Err(missing());
    }
    if let Some(parent) = id.parent() {
        if in_cell(parent, max + 1).len() <= max {
            return Err(missing());
        }
    }
    buildings.sort_unstable_by_key(|b| b.0);
    Ok(buildings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tile_ids_round_trip_and_reject_garbage() {
        for name in ["r", "r0", "r3", "r0123", "r333333"] {
            assert_eq!(TileId::parse(name).unwrap().name(), name);
        }
        let t = TileId::parse("r12").unwrap();
        assert_eq!((t.level, t.x, t.y), (2, 2, 1));
        for bad in ["", "0", "r4", "rx", "r0.glb", &format!("r{}", "0".repeat(25))] {
            assert!(TileId::parse(bad).is_err(), "{bad}");
        }
    }

    use crate::city3d::{City3dOptions, Styling};
    use crate::feature::{Feature, FieldDef, FieldType, GeometryKind, LayerKind, Value};
    use crate::index::LayerData;
    use crate::store::LayerMeta;
    use geo_types::polygon;

    /// 40 houses on a grid plus 6 stacked on one spot (more than a tile holds, never separable).
    fn town() -> City3d {
        let house = |x: f64, y: f64| polygon![(x: x, y: y), (x: x + 0.0001, y: y), (x: x + 0.0001, y: y + 0.0001), (x: x, y: y + 0.0001)];
        let mut footprints: Vec<_> = (0..40)
            .map(|i| house(107.5 + (i % 8) as f64 * 0.001, 16.4 + (i / 8) as f64 * 0.001))
            .collect();
        footprints.extend((0..6).map(|_| house(107.5031, 16.4021)));
        let features = footprints
            .into_iter()
            .enumerate()
            .map(|(i, p)| Feature {
                id: i as i64 + 1,
                geometry: p.into(),
                properties: vec![Value::Float(6.0 + i as f64)],
            })
            .collect();
        let meta = LayerMeta {
            name: "town".into(),
            kind: LayerKind::Building,
            geometry_type: GeometryKind::Polygon,
            feature_count: 46,
            bbox: None,
            fields: vec![FieldDef {
                name: "height_m".into(),
                ty: FieldType::Float,
            }],
            source_file: String::new(),
            source_sha256: String::new(),
            source_crs: String::new(),
            imported_at: String::new(),
            import_id: 1,
        };
        let options = City3dOptions {
            max_buildings_per_tile: 4,
            ..City3dOptions::default()
        };
        City3d::new(std::sync::Arc::new(LayerData::build(meta, features)), Styling::plain(), options).unwrap()
    }

    fn all_nodes(n: &Node) -> Vec<&Node> {
        std::iter::once(n).chain(n.children.iter().flat_map(all_nodes)).collect()
    }

    #[test]
    fn the_r_tree_finds_exactly_the_leaves_of_the_tree() {
        let city = town();
        let tree = city.tree();
        let root = tree.root.as_ref().unwrap();
        let leaves = root.leaves();
        assert_eq!(leaves.iter().map(|l| l.buildings.len()).sum::<usize>(), 46);
        let stacked = leaves.iter().find(|l| l.buildings.len() == 6).expect("the stack stays in one tile");
        assert_eq!(stacked.id.level, MAX_LEVEL);
        for node in all_nodes(root) {
            let found = tile_buildings(&city, node.id);
            if node.has_content() {
                assert_eq!(found.unwrap(), node.buildings, "{}", node.id.name());
                assert!(node.buildings.len() <= 4 || node.id.level == MAX_LEVEL);
            } else {
                assert!(
                    matches!(found, Err(City3dError::NoSuchTile(_))),
                    "inner tile {} has content",
                    node.id.name()
                );
            }
            for child in &node.children {
                assert!(child.geometric_error < node.geometric_error);
                let (c, p) = (child.region, node.region);
                assert!(c[0] >= p[0] && c[1] >= p[1] && c[2] <= p[2] && c[3] <= p[3] && c[4] >= p[4] && c[5] <= p[5]);
            }
        }
        // Cells no tile covers: below a leaf, and empty quadrants.
        let below = leaves.iter().find(|l| l.id.level < MAX_LEVEL).unwrap().id.child(0);
        assert!(matches!(tile_buildings(&city, below), Err(City3dError::NoSuchTile(_))));
    }

    #[test]
    fn morton_codes_nest_cells() {
        let q = (0x00ab_cdef, 0x0012_3456);
        let code = morton(q);
        let mut t = TileId::ROOT;
        for level in 0..MAX_LEVEL {
            let digit = ((code >> (2 * (MAX_LEVEL - level - 1) as u32)) & 3) as u8;
            t = t.child(digit);
            assert!(t.contains(q));
        }
        assert_eq!((t.x, t.y), q);
    }
}
