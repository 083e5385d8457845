//! The scenario file loader (`scenarios::Scenario::parse`): the scenario maps of `tilesets/` (read
//! from there) and the corpus's past findings, mutated as text (TOML tokens, boundary numbers,
//! moved lines, deep nesting) and as trees. A file that loads is then used as a server would: bound to the layers of a small demo store,
//! its TileJSON made, a tile drawn under its centre, its 3D colour rules bound.

use std::path::Path;
use std::sync::OnceLock;

use bando::city3d::Styling;
use bando::index::Catalog;
use bando::scenarios::Scenario;
use bando::store::gpkg::GpkgStore;
use bando::tiles::{tilejson, TileId, TileService, TileSource};

use crate::common;
use crate::engine::{Pool, Rng, Target};
use crate::{json_tree, mutate};

pub const TARGET: Target = Target {
    name: "scenario",
    run,
    mutate: mutate_scenario,
    // Scenario files are read whole; a megabyte is already far past any real one.
    max_input: 1 << 20,
    seed_dirs: &["tilesets"],
};

struct Demo {
    catalog: Catalog,
    tiles: TileService,
}

/// The demo province with 100 parcels, loaded once (no tile cache: every draw renders).
fn demo() -> &'static Demo {
    static DEMO: OnceLock<Demo> = OnceLock::new();
    DEMO.get_or_init(|| {
        let store = GpkgStore::open(&common::demo_store(100)).expect("demo store opens");
        Demo {
            catalog: Catalog::load(&store).expect("demo store loads"),
            tiles: TileService::new(0),
        }
    })
}

fn run(input: &[u8]) -> String {
    let Ok(text) = std::str::from_utf8(input) else {
        return "not UTF-8".into();
    };
    let scenario = match Scenario::parse(text, Path::new("fuzz.toml")) {
        Ok(s) => s,
        // TOML errors quote the line: keep the first words only.
        Err(e) => return e.to_string().split_whitespace().take(8).collect::<Vec<_>>().join(" "),
    };
    let demo = demo();
    let source = match TileSource::from_scenario(&demo.catalog, &scenario, &bando::policy::View::open()) {
        Ok(s) => s,
        Err(e) => return format!("does not fit the store: {}", e.to_string().split(':').nth(1).unwrap_or_default()),
    };
    let doc = tilejson::for_source(
        &source,
        &scenario.id,
        &scenario.description,
        "http://h/{z}/{x}/{y}.mvt",
        scenario.center,
    );
    let center = doc["center"]
        .as_array()
        .map(|c| c.iter().all(|v| v.as_f64().is_some_and(f64::is_finite)));
    assert_ne!(center, Some(false), "TileJSON centre is three finite numbers: {}", doc["center"]);
    let [lon, lat, zoom] = scenario.center.unwrap_or([107.585, 16.463, 14.0]);
    let z = (zoom as u32).clamp(u32::from(source.minzoom()), u32::from(source.maxzoom()));
    let n = f64::from(1u32 << z);
    let x = ((lon + 180.0) / 360.0 * n).clamp(0.0, n - 1.0) as u64;
    let y = ((1.0 - lat.to_radians().tan().asinh() / std::f64::consts::PI) / 2.0 * n).clamp(0.0, n - 1.0) as u64;
    let tile = TileId::new(z, x, y).expect("zoom within range");
    let drawn = demo.tiles.tile(&source, tile, false);
    let styled = scenario.three_d.as_ref().map(|three_d| {
        demo.catalog
            .get(&three_d.layer)
            .map(|layer| Styling::of_scenario(three_d, &layer).is_ok())
    });
    format!(
        "ok: {} layers, tile {}, 3D {styled:?}",
        source.layers.len(),
        if drawn.is_empty() { "empty" } else { "drawn" }
    )
}

const TOKENS: [&str; 24] = [
    "[[layers]]\n",
    "[[indicators]]\n",
    "[three_d]\n",
    "layer = \"parcels\"\n",
    "minzoom = 23\n",
    "maxzoom = 0\n",
    "where = [{ field = \"land_use\", op = \"in\", value = [] }]\n",
    "where = [{ field = \"id\", op = \"ge\", value = 1e308 }]\n",
    "zoom_fields = [{ maxzoom = 22, fields = [] }]\n",
    "fields = []\n",
    "center = [nan, inf, -inf]\n",
    "target = { min = nan }\n",
    "colors = [{ color = \"#ẞẞẞ\" }]\n",
    "id = \"\"\n",
    "=",
    "\"",
    "'",
    "[",
    "{",
    "\n",
    "\"\"\"",
    "\\u0000",
    "1979-05-27T07:32:00Z",
    "-9223372036854775808",
];

const WORDS: [&str; 10] = [
    "parcels",
    "wards",
    "buildings",
    "roads",
    "land_use",
    "eq",
    "in",
    "exists",
    "#d7301f",
    "",
];

/// A filter value nested `depth` arrays deep, after the first layer's header.
fn deep_filter(text: &str, depth: usize) -> Option<String> {
    let at = text.find("[[layers]]\n")? + "[[layers]]\n".len();
    let value = format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
    let line = format!("where = [{{ field = \"id\", op = \"in\", value = {value} }}]\n");
    Some(format!("{}{line}{}", &text[..at], &text[at..]))
}

fn mutate_scenario(rng: &mut Rng, input: &[u8], pool: &Pool) -> Vec<u8> {
    if rng.below(32) == 0 {
        let depth = 1 + rng.below(3000) as usize;
        if let Some(deep) = std::str::from_utf8(input).ok().and_then(|t| deep_filter(t, depth)) {
            return deep.into_bytes();
        }
    }
    if rng.below(4) == 0 {
        let tree = std::str::from_utf8(input)
            .ok()
            .and_then(|t| toml::from_str::<serde_json::Value>(t).ok());
        if let Some(mut tree) = tree {
            json_tree::mutate(rng, &mut tree, &WORDS);
            if let Ok(text) = toml::to_string(&tree) {
                return text.into_bytes();
            }
        }
    }
    mutate::text(rng, input, pool, &TOKENS, ("[", "]"))
}
