//! The quadtree of tiles, with content at every level. Each building is assigned to one cell by
//! the centre of its footprint box, quantised to a 2^24 × 2^24 grid over the layer's R-tree
//! envelope. A cell holding more than N buildings keeps the N biggest (footprint area × height)
//! as its own content and hands the rest to its four children; refinement is ADD, so no building
//! is in two tiles, and a whole-area view already shows the biggest buildings. Tile ids name cells
//! by path from the root (`r`, `r0`, `r03`, ...).
//!
//! A tile's geometric error is what a client misses by not refining it: the size of the biggest
//! building its descendants hold (0 at a leaf). Because a tile's content depends on what its
//! ancestors took, a tile is looked up in the built tree, which the server memoises per tileset
//! variant (`cache`).
//!
//! Volumes are computed from the buildings (every footprint point and the true base and top
//! heights), not from cells, so they are tight and nest (a parent covers its own buildings and
//! its children).

use super::building::{HeightStats, Prepared, M_PER_DEG};
use super::{City3d, City3dError};
use rayon::prelude::*;

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

    /// Size of the grid in metres (its diagonal), for geometric errors.
    fn diagonal_m(&self) -> f64 {
        let lat = (self.south + self.height / 2.0).to_radians();
        let w = self.width * M_PER_DEG * lat.cos();
        let h = self.height * M_PER_DEG;
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

/// Ranks buildings for the upper tiles: footprint area × height, the volume a viewer sees.
fn bulk(p: &Prepared) -> f64 {
    p.footprint_m2 * (p.top_m - p.base_m)
}

/// A building's size in metres: the larger of its footprint box's diagonal and its height.
fn size_m(p: &Prepared) -> f64 {
    let lat = ((p.bbox[1] + p.bbox[3]) / 2.0).to_radians();
    let diagonal = ((p.bbox[2] - p.bbox[0]) * M_PER_DEG * lat.cos()).hypot((p.bbox[3] - p.bbox[1]) * M_PER_DEG);
    diagonal.max(p.top_m - p.base_m)
}

/// A tile: its own buildings (never none) and the children that hold the rest of its cell.
#[derive(Debug, Clone)]
pub struct Node {
    pub id: TileId,
    pub region: Region,
    pub geometric_error: f64,
    pub children: Vec<Node>,
    /// Feature indices of this tile's own buildings, sorted.
    pub buildings: Vec<u32>,
}

impl Node {
    /// Every tile of the subtree, depth first.
    pub fn tiles(&self) -> Vec<&Node> {
        let mut out = Vec::new();
        let mut stack = vec![self];
        while let Some(n) = stack.pop() {
            out.push(n);
            stack.extend(n.children.iter());
        }
        out
    }

    /// The tile `id` in this subtree: one step down per level of the id's path.
    pub fn find(&self, id: TileId) -> Option<&Node> {
        let mut node = self;
        for level in self.id.level + 1..=id.level {
            let shift = id.level - level;
            let step = TileId {
                level,
                x: id.x >> shift,
                y: id.y >> shift,
            };
            node = node.children.iter().find(|c| c.id == step)?;
        }
        (node.id == id).then_some(node)
    }
}

/// The whole tileset's tree, None when no building survives the filter.
pub struct Tree {
    pub root: Option<Node>,
    pub stats: HeightStats,
    /// Diagonal of the layer's area (m): the error of drawing nothing at all.
    pub diagonal_m: f64,
}

/// A building's place on the Morton curve: (code, position in the tree's building list). Sorting
/// these 16-byte keys, not the buildings' facts, keeps the sort cache-friendly.
type Key = (u64, u32);

impl Tree {
    pub fn build(city: &City3d) -> Tree {
        let started = std::time::Instant::now();
        let Some(grid) = Grid::of(city) else {
            return Tree {
                root: None,
                stats: HeightStats::default(),
                diagonal_m: 0.0,
            };
        };
        let count = city.layer().features.len() as u32;
        let buildings: Vec<(u32, Prepared)> = (0..count)
            .into_par_iter()
            .filter_map(|index| city.prepare(index).map(|p| (index, p)))
            .collect();
        let mut keys: Vec<Key> = buildings
            .iter()
            .enumerate()
            .map(|(position, (_, p))| (morton(grid.quantize(p.center())), position as u32))
            .collect();
        keys.par_sort_unstable();
        let included = (0..count).into_par_iter().filter(|&i| city.includes(i)).count() as u64;
        let stats = HeightStats {
            buildings: keys.len() as u64,
            defaulted_height: buildings.iter().filter(|(_, p)| p.defaulted).count() as u64,
            height_from_z: buildings.iter().filter(|(_, p)| p.from_z).count() as u64,
            skipped_degenerate: included - keys.len() as u64,
        };
        let splitter = Splitter {
            buildings: &buildings,
            max: city.options.max_per_tile.max(1),
        };
        let root = (!keys.is_empty()).then(|| splitter.split(&keys, TileId::ROOT).0);
        tracing::info!(
            layer = %city.layer().meta.name,
            buildings = stats.buildings,
            defaulted_height = stats.defaulted_height,
            height_from_z = stats.height_from_z,
            skipped_degenerate = stats.skipped_degenerate,
            ms = started.elapsed().as_millis() as u64,
            "3D tile tree built"
        );
        Tree {
            root,
            stats,
            diagonal_m: grid.diagonal_m(),
        }
    }

    /// The tile `id`, or NoSuchTile.
    pub fn tile(&self, id: TileId) -> Result<&Node, City3dError> {
        self.root
            .as_ref()
            .and_then(|root| root.find(id))
            .ok_or_else(|| City3dError::NoSuchTile(id.name()))
    }
}

/// Splits Morton-sorted keys into tiles of at most `max` buildings (more only in a cell of the
/// deepest level: duplicates that no split separates).
struct Splitter<'a> {
    /// (feature index, facts) in feature order; keys point into it.
    buildings: &'a [(u32, Prepared)],
    max: usize,
}

impl Splitter<'_> {
    fn building(&self, position: u32) -> &Prepared {
        &self.buildings[position as usize].1
    }

    /// The tile of cell `id` holding `keys`, and the size of the biggest building in its subtree.
    fn split(&self, keys: &[Key], id: TileId) -> (Node, f64) {
        if keys.len() <= self.max || id.level == MAX_LEVEL {
            return self.node(id, keys.iter().map(|k| k.1).collect(), Vec::new());
        }
        let (own, rest) = self.take_biggest(keys);
        let shift = 2 * (MAX_LEVEL - id.level - 1) as u32;
        let digit = |k: &Key| ((k.0 >> shift) & 3) as u8;
        let mut parts = Vec::with_capacity(4);
        let mut tail = &rest[..];
        for d in 0..4u8 {
            let (part, after) = tail.split_at(tail.partition_point(|k| digit(k) <= d));
            tail = after;
            if !part.is_empty() {
                parts.push((d, part));
            }
        }
        let children = parts.into_par_iter().map(|(d, part)| self.split(part, id.child(d))).collect();
        self.node(id, own, children)
    }

    /// The positions of the `max` biggest buildings of a cell (ties to the lower feature index),
    /// and the other keys, still in Morton order.
    fn take_biggest(&self, keys: &[Key]) -> (Vec<u32>, Vec<Key>) {
        // (bulk, position, index into keys), gathered once so the selection reads contiguous memory.
        let mut ranked: Vec<(f64, u32, u32)> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| (bulk(self.building(k.1)), k.1, i as u32))
            .collect();
        ranked.select_nth_unstable_by(self.max - 1, |a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let mut taken = vec![false; keys.len()];
        let own = ranked[..self.max]
            .iter()
            .map(|&(_, position, i)| {
                taken[i as usize] = true;
                position
            })
            .collect();
        let rest = keys.iter().zip(&taken).filter(|(_, t)| !**t).map(|(k, _)| *k).collect();
        (own, rest)
    }

    /// A tile of the buildings at `positions`: its volume covers them and its children; its
    /// error is the size of the biggest building below it.
    fn node(&self, id: TileId, mut positions: Vec<u32>, children: Vec<(Node, f64)>) -> (Node, f64) {
        positions.sort_unstable();
        let geometric_error = children.iter().map(|c| c.1).fold(0.0, f64::max);
        let biggest_own = positions.iter().map(|&p| size_m(self.building(p))).fold(0.0, f64::max);
        let children: Vec<Node> = children.into_iter().map(|c| c.0).collect();
        let region = positions
            .iter()
            .map(|&p| region_of(self.building(p)))
            .chain(children.iter().map(|c| c.region))
            .reduce(union)
            .unwrap_or_default();
        let node = Node {
            id,
            region,
            geometric_error,
            children,
            buildings: positions.iter().map(|&p| self.buildings[p as usize].0).collect(),
        };
        (node, biggest_own.max(geometric_error))
    }
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

    /// 40 houses on a grid plus 6 stacked on one spot (more than a tile holds, never separable),
    /// each taller than the one before.
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
            fields: vec![FieldDef::new("height_m", FieldType::Float)],
            source_file: String::new(),
            source_sha256: String::new(),
            source_crs: String::new(),
            imported_at: String::new(),
            import_id: 1,
        };
        let options = City3dOptions {
            max_per_tile: 4,
            ..City3dOptions::default()
        };
        City3d::new(std::sync::Arc::new(LayerData::build(meta, features)), Styling::plain(), options).unwrap()
    }

    #[test]
    fn every_tile_holds_the_biggest_of_its_cell_and_no_building_is_in_two_tiles() {
        let city = town();
        let tree = city.tree();
        let root = tree.root.as_ref().unwrap();
        // Heights grow with the index and footprints are equal, so the root holds the 4 tallest.
        assert_eq!(root.buildings, vec![42, 43, 44, 45]);
        let mut seen: Vec<u32> = root.tiles().iter().flat_map(|t| t.buildings.iter().copied()).collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..46).collect::<Vec<u32>>(), "every building once");
        let facts = |i: u32| city.prepare(i).unwrap();
        for node in root.tiles() {
            assert!(!node.buildings.is_empty() && (node.buildings.len() <= 4 || node.id.level == MAX_LEVEL));
            assert_eq!(tree.tile(node.id).unwrap().buildings, node.buildings, "{}", node.id.name());
            let below: Vec<u32> = node
                .children
                .iter()
                .flat_map(|c| c.tiles())
                .flat_map(|t| t.buildings.clone())
                .collect();
            let smallest_own = node.buildings.iter().map(|&i| bulk(&facts(i))).fold(f64::INFINITY, f64::min);
            assert!(below.iter().all(|&i| bulk(&facts(i)) <= smallest_own), "{}", node.id.name());
            let biggest_below = below.iter().map(|&i| size_m(&facts(i))).fold(0.0, f64::max);
            assert_eq!(node.geometric_error, biggest_below, "{}", node.id.name());
            for child in &node.children {
                let (c, p) = (child.region, node.region);
                assert!(c[0] >= p[0] && c[1] >= p[1] && c[2] <= p[2] && c[3] <= p[3] && c[4] >= p[4] && c[5] <= p[5]);
            }
        }
        assert!(tree.diagonal_m > root.geometric_error && root.geometric_error > 0.0);
        // Cells no tile covers: below a leaf, and ids deeper than the tree.
        let leaf = root.tiles().into_iter().find(|t| t.children.is_empty()).unwrap();
        assert_eq!(leaf.geometric_error, 0.0);
        assert!(matches!(tree.tile(leaf.id.child(0)), Err(City3dError::NoSuchTile(_))));
        assert!(matches!(
            tree.tile(TileId::parse("r3333333333").unwrap()),
            Err(City3dError::NoSuchTile(_))
        ));
    }

    #[test]
    fn morton_codes_nest_cells() {
        let q = (0x00ab_cdef, 0x0012_3456);
        let code = morton(q);
        let mut t = TileId::ROOT;
        for level in 0..MAX_LEVEL {
            let digit = ((code >> (2 * (MAX_LEVEL - level - 1) as u32)) & 3) as u8;
            t = t.child(digit);
            let shift = MAX_LEVEL - t.level;
            assert_eq!((q.0 >> shift, q.1 >> shift), (t.x, t.y));
        }
        assert_eq!((t.x, t.y), q);
    }
}
