//! The 3D city: OGC 3D Tiles 1.1 of a building layer as LoD1 solids (footprint extruded from its
//! base to its height) with the building's attributes attached for picking.
//!
//! Owns: reading heights from the canonical fields (`building`), earcut triangulation and
//! extrusion into earth-centred coordinates (`extrude`, `geodesy`), the GLB writer with
//! EXT_mesh_features / EXT_structural_metadata (`glb`), the quadtree of tiles with content at
//! every level and its tile ids (`tiling`), tileset.json (`tileset`), writing a whole tileset to
//! files (`export`), the keys of the byte-budgeted response cache (`cache`, over the shared
//! [`crate::cache`]) and the memo of recent tile trees. Reads layers only through [`LayerData`]
//! snapshots; never touches the store, HTTP or axum.
//!
//! Placement: every tile's GLB holds float32 positions relative to its own centre, which sits in
//! the glTF node translation (float64), both in glTF's y-up axes; the client's y-up→z-up rotation
//! turns them back into earth-centred, earth-fixed (ECEF) metres. Tiles carry no `transform`, so
//! their `region` volumes (radians, ellipsoidal heights) are exact.

mod building;
mod cache;
mod export;
mod extrude;
pub mod geodesy;
mod glb;
mod tileset;
mod tiling;

use std::sync::Arc;

use crate::feature::Value;
use crate::index::{LayerData, Members};
use crate::scenarios::{BoundFilter, ThreeD};

pub use building::HeightStats;
pub use cache::{response_cache, CacheKey, ResponseCache, TreeMemo, GZIP_LEVEL};
pub use export::{export_tileset, ExportOptions, ExportSummary};
pub use tiling::{Node, TileId, Tree};

/// Why a 3D tileset or tile cannot be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum City3dError {
    #[error("layer '{0}' has no polygons; 3D buildings need footprints (a POLYGON or MULTIPOLYGON layer)")]
    NotPolygons(String),
    #[error("layer '{layer}' has neither a height_m nor a floors field, nor z_min/z_max (kept by import from a source with Z), so its buildings have no height (fields: {fields}); map a height column with --map SRC=height_m when importing")]
    NoHeights { layer: String, fields: String },
    #[error("bad tile id '{0}': tile ids are 'r' followed by quadrant digits 0-3, as listed in tileset.json")]
    BadTileId(String),
    #[error("no tile '{0}' in this tileset; tileset.json lists the tiles with content")]
    NoSuchTile(String),
    #[error("scenario 3D settings do not fit layer '{layer}': {reason}")]
    BadStyle { layer: String, reason: String },
    #[error("cannot write {path}: {reason}")]
    Write { path: String, reason: String },
}

/// Knobs of LoD1 generation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct City3dOptions {
    /// Height of one storey when only `floors` is known.
    pub storey_height_m: f64,
    /// Height of a building whose height is missing, negative or absurd.
    pub default_height_m: f64,
    /// Most buildings one tile holds: a cell with more keeps this many of its biggest and hands
    /// the rest to its four children.
    pub max_per_tile: usize,
}

impl Default for City3dOptions {
    fn default() -> Self {
        City3dOptions {
            storey_height_m: 3.3,
            default_height_m: 3.3,
            max_per_tile: 1000,
        }
    }
}

/// Heights above this are data errors, not buildings (the tallest tower is 828 m).
pub const MAX_PLAUSIBLE_HEIGHT_M: f64 = 1000.0;

/// An RGB colour as glTF wants it: linear, 0..1.
pub type LinearRgb = [f32; 3];

/// Which buildings are drawn and how they are coloured: the whole layer in one colour, or a
/// scenario's `[three_d]` filter and colour rules bound to the layer's fields.
#[derive(Debug, Clone)]
pub struct Styling {
    filter: Option<BoundFilter>,
    rules: Vec<(BoundFilter, LinearRgb)>,
    default_color: LinearRgb,
}

/// Light grey, the colour of an unstyled layer.
const PLAIN_COLOR: &str = "#d9d9d9";

impl Styling {
    pub fn plain() -> Styling {
        Styling {
            filter: None,
            rules: Vec::new(),
            default_color: parse_color(PLAIN_COLOR).unwrap_or([0.7, 0.7, 0.7]),
        }
    }

    /// Binds a scenario's `[three_d]` to the layer it names.
    pub fn of_scenario(three_d: &ThreeD, layer: &LayerData) -> Result<Styling, City3dError> {
        let bad = |reason: String| City3dError::BadStyle {
            layer: layer.meta.name.clone(),
            reason,
        };
        let filter = if three_d.filter.is_empty() {
            None
        } else {
            Some(three_d.filter.bind(&layer.meta).map_err(bad)?)
        };
        let mut rules = Vec::with_capacity(three_d.colors.len());
        for rule in &three_d.colors {
            let color = parse_color(&rule.color).ok_or_else(|| bad(format!("colour '{}' is not #rrggbb", rule.color)))?;
            rules.push((rule.filter.bind(&layer.meta).map_err(bad)?, color));
        }
        let default_color = match &three_d.default_color {
            Some(c) => parse_color(c).ok_or_else(|| bad(format!("default_color '{c}' is not #rrggbb")))?,
            None => Styling::plain().default_color,
        };
        Ok(Styling {
            filter,
            rules,
            default_color,
        })
    }

    fn includes(&self, feature: &crate::feature::Feature) -> bool {
        self.filter.as_ref().is_none_or(|f| f.matches(feature))
    }

    /// The palette: the rules' colours, then the default one.
    fn palette(&self) -> Vec<LinearRgb> {
        self.rules
            .iter()
            .map(|(_, c)| *c)
            .chain(std::iter::once(self.default_color))
            .collect()
    }

    /// Index into [`Styling::palette`] of the first matching rule, else of the default colour.
    fn color_index(&self, feature: &crate::feature::Feature) -> usize {
        self.rules.iter().position(|(f, _)| f.matches(feature)).unwrap_or(self.rules.len())
    }
}

/// `#rrggbb` (sRGB) to linear RGB.
fn parse_color(hex: &str) -> Option<LinearRgb> {
    let digits = hex.strip_prefix('#').filter(|d| d.len() == 6 && d.is_ascii())?;
    let channel = |i: usize| {
        u8::from_str_radix(&digits[i..i + 2], 16)
            .ok()
            .map(|v| srgb_to_linear(v as f32 / 255.0))
    };
    Some([channel(0)?, channel(2)?, channel(4)?])
}

fn srgb_to_linear(c: f32) -> f32 {
    if c <= 0.04045 {
        c / 12.92
    } else {
        ((c + 0.055) / 1.055).powf(2.4)
    }
}

/// A building layer ready to be tiled: the layer snapshot, the styling and the options.
#[derive(Clone)]
pub struct City3d {
    layer: Arc<LayerData>,
    styling: Styling,
    options: City3dOptions,
    fields: building::HeightFields,
    /// Indices of the fields written to property tables (all unless [`City3d::showing`] says).
    shown: Vec<usize>,
    /// Only these buildings are drawn (a scoped view's area); `None`: all.
    members: Option<Arc<Members>>,
}

impl City3d {
    /// Checks that the layer can make buildings: polygons, and a height or floors field.
    pub fn new(layer: Arc<LayerData>, styling: Styling, options: City3dOptions) -> Result<City3d, City3dError> {
        if !layer.meta.geometry_type.is_polygonal() {
            return Err(City3dError::NotPolygons(layer.meta.name.clone()));
        }
        let fields = building::HeightFields::of(&layer.meta).ok_or_else(|| City3dError::NoHeights {
            layer: layer.meta.name.clone(),
            fields: layer.meta.fields.iter().map(|f| f.name.as_str()).collect::<Vec<_>>().join(", "),
        })?;
        let shown = (0..layer.meta.fields.len()).collect();
        Ok(City3d {
            layer,
            styling,
            options,
            fields,
            shown,
            members: None,
        })
    }

    /// Draws only the buildings in `members` (a scoped reader's area).
    pub fn within(mut self, members: Option<Arc<Members>>) -> City3d {
        self.members = members;
        self
    }

    /// Whether building `index` is drawn: in the area (if any) and matching the scenario's filter.
    pub(crate) fn includes(&self, index: u32) -> bool {
        let in_area = self.members.as_ref().is_none_or(|m| m.contains(index));
        in_area && self.layer.features.get(index as usize).is_some_and(|f| self.styling.includes(f))
    }

    /// Writes only these fields (indices into the layer's) to the property tables: what a
    /// reader's view of the layer shows. Heights still come from every field.
    pub fn showing(mut self, fields: Vec<usize>) -> City3d {
        self.shown = fields;
        self
    }

    /// The fields written to property tables.
    pub fn shown_fields(&self) -> &[usize] {
        &self.shown
    }

    pub fn layer(&self) -> &LayerData {
        &self.layer
    }

    /// The tile tree of the whole layer (one pass over its buildings and a Morton sort).
    pub fn tree(&self) -> Tree {
        Tree::build(self)
    }

    /// tileset.json of `tree` (this layer's), with content URIs `tiles/{id}.glb` relative to it.
    pub fn tileset_json(&self, tree: &Tree) -> Vec<u8> {
        tileset::to_json(tree, &self.layer.meta.name)
    }

    /// The GLB of tile `id` of `tree` (this layer's).
    pub fn tile_glb(&self, tree: &Tree, id: &str) -> Result<Vec<u8>, City3dError> {
        let node = tree.tile(TileId::parse(id)?)?;
        Ok(self.node_glb(node))
    }

    fn node_glb(&self, node: &Node) -> Vec<u8> {
        let buildings: Vec<_> = node
            .buildings
            .iter()
            .filter_map(|&index| self.prepare(index).map(|p| (index, p)))
            .collect();
        glb::tile(self, &buildings)
    }

    fn prepare(&self, index: u32) -> Option<building::Prepared> {
        if !self.includes(index) {
            return None;
        }
        building::prepare(&self.layer.features[index as usize], &self.fields, &self.options)
    }

    /// An attribute of a building; Null where the feature has fewer properties than the layer fields.
    fn property(&self, index: u32, field: usize) -> &Value {
        const NULL: &Value = &Value::Null;
        self.layer
            .features
            .get(index as usize)
            .and_then(|f| f.properties.get(field))
            .unwrap_or(NULL)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_are_parsed_as_srgb_and_rejected_when_malformed() {
        let red = parse_color("#ff0000").unwrap();
        assert_eq!(red, [1.0, 0.0, 0.0]);
        let grey = parse_color("#808080").unwrap()[0];
        assert!((grey - 0.2158).abs() < 1e-3, "{grey}");
        assert!(parse_color("ff0000").is_none() && parse_color("#ff00").is_none() && parse_color("#gg0000").is_none());
    }
}
