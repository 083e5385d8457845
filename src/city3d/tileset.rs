//! tileset.json (3D Tiles 1.1) of a tile tree: explicit tiles, every one with content, `region`
//! volumes in radians with ellipsoidal heights, refine ADD at the root, content URIs
//! `tiles/{id}.glb` relative to the tileset; the tileset's own geometric error is the area's
//! diagonal (what is missed when nothing is drawn). An empty tree still makes a valid tileset (an empty root), so a scenario filter that
//! matches nothing is not an error.

use serde_json::{json, Value as Json};

use super::tiling::{Node, Tree};

fn region_radians(r: &[f64; 6]) -> Json {
    json!([
        r[0].to_radians(),
        r[1].to_radians(),
        r[2].to_radians(),
        r[3].to_radians(),
        r[4],
        r[5]
    ])
}

fn tile(node: &Node) -> Json {
    let mut t = json!({
        "boundingVolume": { "region": region_radians(&node.region) },
        "geometricError": node.geometric_error,
        "content": { "uri": format!("tiles/{}.glb", node.id.name()) },
    });
    if !node.children.is_empty() {
        t["children"] = Json::Array(node.children.iter().map(tile).collect());
    }
    t
}

pub fn to_json(tree: &Tree, layer: &str) -> Vec<u8> {
    let (root, error) = match &tree.root {
        Some(node) => (tile(node), tree.diagonal_m.max(node.geometric_error)),
        None => (
            json!({ "boundingVolume": { "region": [0.0, 0.0, 0.0, 0.0, 0.0, 0.0] }, "geometricError": 0.0 }),
            0.0,
        ),
    };
    let mut root = root;
    root["refine"] = json!("ADD");
    let tileset = json!({
        "asset": { "version": "1.1", "generator": "bando", "tilesetVersion": layer },
        "extras": { "buildings": tree.stats.buildings, "defaulted_height": tree.stats.defaulted_height, "height_from_z": tree.stats.height_from_z, "skipped_degenerate": tree.stats.skipped_degenerate },
        "geometricError": error,
        "root": root,
    });
    tileset.to_string().into_bytes()
}
