//! The permission matrix: the four roles of docs/bando.example.toml (the public, a commune
//! officer scoped to one ward, a department analyst without personal data, an administrator)
//! against what bando hands out. What each role receives is read by independent decoders (the
//! `pmtiles` reader and mapbox-vector-tile) and checked against what the role may see: no hidden
//! layer, no hidden or personal field, no feature outside the officer's ward, and the public's
//! figures per ward equal to an oracle's count (shapely over the GeoPackage, not bando's code).
//! Every check is one table row per role, not a test per role.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::*;

/// The officer's ward.
const WARD: &str = "19918";
/// The demo's personal fields of `housing`.
const PERSONAL: [&str; 3] = ["household_head", "citizen_id", "phone"];
/// What a unit of an aggregate-only `housing` carries.
const FIGURES: [&str; 4] = ["code", "count", "name", "sum_household_size"];
/// The layers the public role reads (the others read every layer).
const PUBLIC_LAYERS: [&str; 4] = ["wards", "parcels", "housing", "buildings"];
/// The example policy's least count of an aggregate unit.
const MIN_COUNT: u64 = 5;

/// One role of the matrix and what the example policy says it may see.
struct Role {
    name: &'static str,
    /// The units it is limited to (its token's or export's `--scope`).
    scope: Option<&'static str>,
    /// Reads the personal fields of `housing`.
    personal: bool,
    /// Reads the `address` of `parcels` (hidden from the public).
    address: bool,
    /// Gets `housing` only as figures per ward.
    figures: bool,
    /// Reads every layer (else only [`PUBLIC_LAYERS`]).
    every_layer: bool,
}

const ROLES: [Role; 4] = [
    Role {
        name: "public",
        scope: None,
        personal: false,
        address: false,
        figures: true,
        every_layer: false,
    },
    Role {
        name: "officer",
        scope: Some("wards:19918"),
        personal: true,
        address: true,
        figures: false,
        every_layer: true,
    },
    Role {
        name: "analyst",
        scope: None,
        personal: false,
        address: true,
        figures: false,
        every_layer: true,
    },
    Role {
        name: "admin",
        scope: None,
        personal: true,
        address: true,
        figures: false,
        every_layer: true,
    },
];

impl Role {
    fn may_read(&self, layer: &str) -> bool {
        self.every_layer || PUBLIC_LAYERS.contains(&layer)
    }

    /// `--role NAME [--scope UNITS]`.
    fn cli_args(&self) -> Vec<&'static str> {
        let mut args = vec!["--role", self.name];
        args.extend(self.scope.iter().flat_map(|s| ["--scope", s]));
        args
    }

    /// The fields of store layer `layer` that must never reach this role.
    fn withheld(&self, layer: &str) -> Vec<&'static str> {
        match layer {
            "parcels" if !self.address => vec!["address"],
            "housing" if !self.personal => PERSONAL.to_vec(),
            _ => Vec::new(),
        }
    }

    /// The fields of store layer `layer` this role must receive (so that a check of what is
    /// withheld cannot pass on an empty answer).
    fn shown(&self, layer: &str) -> Vec<&'static str> {
        match layer {
            "parcels" if self.address => vec!["address", "parcel_no"],
            "parcels" => vec!["parcel_no"],
            "housing" if self.figures => FIGURES.to_vec(),
            "housing" if self.personal => [&PERSONAL[..], &["household_size"]].concat(),
            "housing" => vec!["household_size"],
            _ => Vec::new(),
        }
    }
}

/// A store of its own, the example policy, and the oracles' answers about them.
struct Fixture {
    dir: tempfile::TempDir,
    store: PathBuf,
    config: PathBuf,
    /// Per layer: the store fids inside the officer's ward (scope_oracle.py).
    in_ward: BTreeMap<&'static str, Vec<i64>>,
    /// Per ward fid: how many households it holds (aggregate_oracle.py).
    households: BTreeMap<i64, u64>,
    /// Per ward fid: how many parcels it holds.
    parcels: BTreeMap<i64, u64>,
    /// Per ward fid: how many poor households it holds.
    poor: BTreeMap<i64, u64>,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("store.gpkg");
        let out = bando(&["demo", "--parcels", "1000", "--store", store.to_str().unwrap()]);
        assert!(out.status.success(), "{}", stderr_of(&out));
        let gpkg = store.to_str().unwrap();
        let in_ward = ["parcels", "housing", "buildings"]
            .into_iter()
            .map(|layer| {
                let out = run_checker("python3", &["tests/py/scope_oracle.py", gpkg, layer, "wards", WARD]);
                let fids: Vec<i64> = serde_json::from_str(&out).unwrap();
                assert!(!fids.is_empty(), "the officer's ward holds some {layer}");
                (layer, fids)
            })
            .collect();
        Fixture {
            config: repo_root().join("docs/bando.example.toml"),
            households: per_ward(gpkg, "housing", "household_size", None),
            parcels: per_ward(gpkg, "parcels", "area_m2", None),
            poor: per_ward(gpkg, "housing", "household_size", Some("poor_household")),
            dir,
            store,
            in_ward,
        }
    }

    /// `bando export pmtiles --store S --config C ARGS OUT`.
    fn export(&self, args: &[&str], out: &Path) -> std::process::Output {
        let mut all = vec![
            "export",
            "pmtiles",
            "--store",
            self.store.to_str().unwrap(),
            "--config",
            self.config.to_str().unwrap(),
        ];
        all.extend_from_slice(args);
        all.push(out.to_str().unwrap());
        bando(&all)
    }

    /// The wards that the public's figures show: those holding at least the least count.
    fn shown_wards(&self) -> BTreeMap<i64, u64> {
        self.households
            .iter()
            .filter(|(_, &n)| n >= MIN_COUNT)
            .map(|(&fid, &n)| (fid, n))
            .collect()
    }
}

/// Per ward fid: how many of `layer`'s features (those with `flag` true, if given) it holds, by
/// the oracle (shapely over the GeoPackage).
fn per_ward(gpkg: &str, layer: &str, sum: &str, flag: Option<&str>) -> BTreeMap<i64, u64> {
    let mut args = vec!["tests/py/aggregate_oracle.py", gpkg, layer, "wards", sum];
    args.extend(flag);
    let figures: serde_json::Value = serde_json::from_str(&run_checker("python3", &args)).unwrap();
    figures
        .as_object()
        .unwrap()
        .iter()
        .map(|(fid, f)| (fid.parse().unwrap(), f["count"].as_u64().unwrap()))
        .collect()
}

/// Checks layers as `role` received them in `what`, decoded independently into
/// `{"LAYER": {"ids", "properties", "values"}}` (tiles, archives, query answers, listings): only
/// layers it reads, none of its withheld fields (and, when `whole`, all of its shown ones), only
/// features of its ward, and figures equal to the oracle's.
fn check_layers(fixture: &Fixture, role: &Role, what: &str, layers: &serde_json::Value, whole: bool) {
    let layers = layers.as_object().unwrap();
    assert!(!layers.is_empty(), "{}: {what} holds no layer", role.name);
    for (name, layer) in layers {
        assert!(role.may_read(name), "{}: {what} holds layer '{name}'", role.name);
        let properties: Vec<&str> = layer["properties"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap())
            .collect();
        for field in role.withheld(name) {
            assert!(!properties.contains(&field), "{}: {what} carries {name}.{field}", role.name);
        }
        for field in role.shown(name).into_iter().filter(|_| whole) {
            assert!(
                properties.contains(&field),
                "{}: {what} lacks {name}.{field}: {properties:?}",
                role.name
            );
        }
        let ids = layer["ids"].as_array().into_iter().flatten().map(|v| v.as_i64().unwrap());
        if role.figures && name == "housing" {
            assert_eq!(properties, FIGURES, "{}: {what} housing is figures", role.name);
            for (id, values) in layer["values"].as_object().into_iter().flatten() {
                let count = values["count"].as_u64();
                assert_eq!(count, fixture.households.get(&id.parse().unwrap()).copied(), "{what}: ward {id}");
                assert!(count >= Some(MIN_COUNT), "{what}: ward {id} is under the least count");
            }
        } else if let (Some(_), Some(inside)) = (role.scope, fixture.in_ward.get(name.as_str())) {
            for id in ids {
                assert!(inside.contains(&id), "{}: {what} holds {name} {id}, outside ward {WARD}", role.name);
            }
        }
    }
}

/// What an archive holds, read by the `pmtiles` reader and decoded by mapbox-vector-tile.
fn read_archive(archive: &Path) -> serde_json::Value {
    serde_json::from_str(&run_checker("python3", &["tests/py/pmtiles_layers.py", archive.to_str().unwrap()])).unwrap()
}

#[test]
fn a_pmtiles_export_holds_only_what_its_role_may_see() {
    let fixture = Fixture::new();
    let layers = "wards,parcels,housing,buildings";
    for role in &ROLES {
        let archive = fixture.dir.path().join(format!("{}.pmtiles", role.name));
        let mut args = vec!["--layers", layers, "--minzoom", "12", "--maxzoom", "14"];
        args.extend(role.cli_args());
        let out = fixture.export(&args, &archive);
        assert!(out.status.success(), "{}: {}", role.name, stderr_of(&out));
        let seen = read_archive(&archive);
        check_layers(&fixture, role, "the archive", &seen["layers"], true);
        // The metadata's vector_layers name no withheld field either.
        for layer in seen["vector_layers"].as_array().unwrap() {
            let name = layer["id"].as_str().unwrap();
            for field in role.withheld(name) {
                assert!(layer["fields"].get(field).is_none(), "{}: metadata names {name}.{field}", role.name);
            }
        }
        if role.figures {
            let wards: BTreeMap<i64, u64> = seen["layers"]["housing"]["values"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(id, v)| (id.parse().unwrap(), v["count"].as_u64().unwrap()))
                .collect();
            assert_eq!(wards, fixture.shown_wards(), "every ward of 5 households or more, and only those");
        }
        if role.scope.is_some() {
            assert!(
                !seen["layers"]["parcels"]["ids"].as_array().unwrap().is_empty(),
                "the officer's archive draws the ward's parcels"
            );
        }
    }

    // Without --role a config with [security] exports what the anonymous role sees.
    let default = fixture.dir.path().join("default.pmtiles");
    let out = fixture.export(&["--layers", layers, "--minzoom", "12", "--maxzoom", "14"], &default);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("role 'public'"), "{}", stderr_of(&out));
    let public = fixture.dir.path().join("public.pmtiles");
    assert_eq!(read_archive(&default), read_archive(&public), "the anonymous role is the public");

    // A layer or scenario outside the role is unknown to it; bad grants are refused.
    let refused = [
        (vec!["--layers", "roads"], "no layer named 'roads'"),
        (vec!["--scenario", "social_welfare"], "no scenario 'social_welfare'"),
        (vec!["--layers", "parcels", "--role", "mayor"], "role 'mayor' is not in the policy"),
        (
            vec!["--layers", "parcels", "--role", "officer"],
            "role 'officer' is scoped: give --scope",
        ),
        (
            vec!["--layers", "parcels", "--role", "analyst", "--scope", "wards:19918"],
            "role 'analyst' is not scoped",
        ),
    ];
    let out = fixture.dir.path().join("refused.pmtiles");
    for (args, want) in refused {
        let answer = fixture.export(&args, &out);
        assert!(!answer.status.success(), "{args:?} should be refused");
        assert!(
            stderr_of(&answer).contains(want),
            "{args:?}: want '{want}' in {}",
            stderr_of(&answer)
        );
        assert!(!out.exists(), "{args:?} wrote an archive");
    }
    let store = fixture.store.to_str().unwrap();
    let answer = bando(&[
        "export",
        "pmtiles",
        "--store",
        store,
        "--layers",
        "parcels",
        "--role",
        "public",
        out.to_str().unwrap(),
    ]);
    assert!(
        !answer.status.success() && stderr_of(&answer).contains("--role and --scope need --config"),
        "{}",
        stderr_of(&answer)
    );
}

/// A running server under the example policy, with a credential per role.
struct Matrix {
    fixture: Fixture,
    server: Server,
    /// Per role name: its `Authorization` header (the public sends none).
    authorization: BTreeMap<&'static str, Option<String>>,
}

impl Matrix {
    fn start() -> Matrix {
        let fixture = Fixture::new();
        let (store, config) = (fixture.store.to_str().unwrap(), fixture.config.to_str().unwrap());
        let authorization = ROLES
            .iter()
            .map(|role| {
                if role.name == "public" {
                    return (role.name, None);
                }
                let mut args = vec!["token", "create", "--store", store, "--config", config];
                args.extend(role.cli_args());
                let out = bando(&args);
                assert!(out.status.success(), "{args:?}: {}", stderr_of(&out));
                (role.name, Some(format!("Bearer {}", String::from_utf8(out.stdout).unwrap().trim())))
            })
            .collect();
        let server = Server::start(&fixture.store, &["--config", config]);
        Matrix {
            fixture,
            server,
            authorization,
        }
    }

    /// GET `path` as `role`: the status and body, whatever the status.
    fn get(&self, role: &Role, path: &str) -> (u16, Vec<u8>) {
        let mut request = ureq::get(&self.server.url(path));
        if let Some(value) = &self.authorization[role.name] {
            request = request.set("Authorization", value);
        }
        let response = match request.call() {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("GET {path}: {e}"),
        };
        let status = response.status();
        let mut body = Vec::new();
        std::io::Read::read_to_end(&mut response.into_reader(), &mut body).unwrap();
        (status, body)
    }

    /// GET `path` as `role`, which must answer 200 with JSON.
    fn json(&self, role: &Role, path: &str) -> serde_json::Value {
        let (status, body) = self.get(role, path);
        assert_eq!(status, 200, "{}: {path}: {}", role.name, String::from_utf8_lossy(&body));
        serde_json::from_slice(&body).unwrap()
    }

    /// The tile layers of the vector tiles at `paths` as `role` gets them, decoded by
    /// mapbox-vector-tile and merged (each layer's ids, property names and values by id).
    fn tiles(&self, role: &Role, paths: &[String]) -> serde_json::Value {
        let mut merged = serde_json::Map::new();
        for path in paths {
            let (status, tile) = self.get(role, path);
            assert!([200, 204].contains(&status), "{}: {path}: {status}", role.name);
            let file = self.fixture.dir.path().join(format!("{}.mvt", role.name));
            std::fs::write(&file, &tile).unwrap();
            let decoded: serde_json::Value = serde_json::from_str(&run_checker(
                "python3",
                &["tests/py/mvt_layers.py", "--values", file.to_str().unwrap()],
            ))
            .unwrap();
            for (name, layer) in decoded.as_object().unwrap() {
                let seen = merged
                    .entry(name.clone())
                    .or_insert_with(|| layer_json([], [], serde_json::Map::new()));
                merge(seen, layer);
            }
        }
        serde_json::Value::Object(merged)
    }
}

/// `{"ids": [...], "properties": [...], "values": {...}}`, what [`check_layers`] reads.
fn layer_json(
    ids: impl IntoIterator<Item = i64>,
    properties: impl IntoIterator<Item = String>,
    values: serde_json::Map<String, serde_json::Value>,
) -> serde_json::Value {
    let ids: std::collections::BTreeSet<i64> = ids.into_iter().collect();
    let properties: std::collections::BTreeSet<String> = properties.into_iter().collect();
    serde_json::json!({"ids": ids, "properties": properties, "values": values})
}

/// Adds layer `more` to `seen` (both as [`layer_json`] gives them).
fn merge(seen: &mut serde_json::Value, more: &serde_json::Value) {
    let strings = |v: &serde_json::Value, key: &str| -> Vec<serde_json::Value> { v[key].as_array().cloned().unwrap_or_default() };
    let ids = strings(seen, "ids")
        .into_iter()
        .chain(strings(more, "ids"))
        .map(|v| v.as_i64().unwrap());
    let properties = strings(seen, "properties")
        .into_iter()
        .chain(strings(more, "properties"))
        .map(|v| v.as_str().unwrap().to_string());
    let mut values = seen["values"].as_object().cloned().unwrap_or_default();
    values.extend(more["values"].as_object().cloned().unwrap_or_default());
    *seen = layer_json(ids.collect::<Vec<_>>(), properties.collect::<Vec<_>>(), values);
}

/// The layers of a GeoJSON answer whose features name their `layer` (queries), or of one layer
/// `only` (OGC items); a query's `distance_m` is the query's, not a field.
fn geojson_layers(answer: &serde_json::Value, only: Option<&str>) -> serde_json::Value {
    let mut layers = serde_json::Map::new();
    for feature in answer["features"].as_array().unwrap() {
        let name = only.or(feature["layer"].as_str()).unwrap();
        let mut properties = feature["properties"].as_object().cloned().unwrap_or_default();
        properties.remove("distance_m");
        let id = feature["id"].as_i64().unwrap();
        let one = layer_json(
            [id],
            properties.keys().cloned(),
            [(id.to_string(), properties.clone().into())].into_iter().collect(),
        );
        merge(
            layers
                .entry(name.to_string())
                .or_insert_with(|| layer_json([], [], Default::default())),
            &one,
        );
    }
    serde_json::Value::Object(layers)
}

/// The layers of a query's CSV answer (`layer,id,FIELDS...,wkt`): per row, the fields it fills.
fn csv_layers(text: &str) -> serde_json::Value {
    let mut rows = text.lines();
    let header: Vec<&str> = rows.next().unwrap().split(',').collect();
    let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let mut layers = serde_json::Map::new();
    for row in reader.records() {
        let row = row.unwrap();
        let (name, id) = (&row[0], row[1].parse::<i64>().unwrap());
        let properties: serde_json::Map<String, serde_json::Value> = header[2..header.len() - 1]
            .iter()
            .zip(row.iter().skip(2))
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.to_string(), serde_json::from_str(v).unwrap_or_else(|_| v.into())))
            .collect();
        let one = layer_json(
            [id],
            properties.keys().cloned(),
            [(id.to_string(), properties.clone().into())].into_iter().collect(),
        );
        merge(
            layers
                .entry(name.to_string())
                .or_insert_with(|| layer_json([], [], Default::default())),
            &one,
        );
    }
    serde_json::Value::Object(layers)
}

/// The layers a listing names with their fields (`/layers`, TileJSON `vector_layers`, OGC queryables).
fn listed_layers<'a>(entries: impl Iterator<Item = (&'a str, Vec<String>)>) -> serde_json::Value {
    let layers = entries.map(|(name, fields)| (name.to_string(), layer_json([], fields, Default::default())));
    serde_json::Value::Object(layers.collect())
}

/// Paths naming the layer `{L}` (`roads`, which the public may not read) or scenario `{S}`
/// (`social_welfare`): for the public each must answer exactly as for a name that does not exist.
const HIDDEN_NAMES: [&str; 19] = [
    "/layers/{L}",
    "/tiles/{L}.json",
    "/tiles/wards,{L}/14/13088/7432.mvt",
    "/3d/{L}/tileset.json",
    "/query/bbox?layers={L}&bbox=107,16,108,17",
    "/query/point?layers={L}&lon=107.58&lat=16.46",
    "/stats?layer={L}&by=wards",
    "/ogc/collections/{L}",
    "/ogc/collections/{L}/items",
    "/ogc/collections/{L}/queryables",
    "/scenarios/{S}",
    "/scenarios/{S}/style.json",
    "/scenarios/{S}/14/13088/7432.mvt",
    "/scenarios/{S}/indicators",
    "/scenarios/{S}/raster.json",
    "/scenarios/{S}/raster/14/13088/7432.png",
    "/scenarios/{S}/static/107.58,16.46,14/300x200.png",
    "/scenarios/construction_planning/3d/tileset.json",
    "/scenarios/{S}/3d/tileset.json",
];

/// Hidden layers and scenarios do not exist for the public; the other roles read them.
fn hidden_names_are_unknown(m: &Matrix, role: &Role) {
    for template in HIDDEN_NAMES {
        let path = template.replace("{L}", "roads").replace("{S}", "social_welfare");
        let unknown = template
            .replace("{L}", "nosuch")
            .replace("{S}", "nosuch")
            .replace("construction_planning", "nosuch");
        let (status, _) = m.get(role, &path);
        if role.every_layer {
            let not_found = status == 404 && !path.ends_with("/social_welfare/3d/tileset.json");
            assert!(!not_found, "{}: {path} is {status}", role.name);
        } else {
            assert_eq!(status, m.get(role, &unknown).0, "{}: {path} answers unlike {unknown}", role.name);
            assert_eq!(status / 100, 4, "{}: {path}", role.name);
        }
    }
    let scenarios = m.json(role, "/scenarios");
    assert_eq!(
        scenarios["scenarios"].as_array().unwrap().is_empty(),
        !role.every_layer,
        "{}: /scenarios",
        role.name
    );
}

/// `/layers`, TileJSON and OGC collections and queryables: only readable layers, no withheld field.
fn listings(m: &Matrix, role: &Role) {
    let layers = m.json(role, "/layers");
    let entries = layers["layers"].as_array().unwrap().iter().map(|l| {
        let fields = l["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["name"].as_str().unwrap().to_string());
        (l["name"].as_str().unwrap(), fields.collect())
    });
    let listed = listed_layers(entries);
    assert_eq!(
        listed.as_object().unwrap().contains_key("roads"),
        role.every_layer,
        "{}: /layers",
        role.name
    );
    check_layers(&m.fixture, role, "/layers", &listed, true);
    let tilejson = m.json(role, "/tiles/wards,parcels,housing,buildings.json");
    let entries = tilejson["vector_layers"].as_array().unwrap().iter().map(|l| {
        let fields = l["fields"].as_object().unwrap().keys().cloned().collect();
        (l["id"].as_str().unwrap(), fields)
    });
    check_layers(&m.fixture, role, "TileJSON", &listed_layers(entries), true);
    let collections = m.json(role, "/ogc/collections?f=json");
    for c in collections["collections"].as_array().unwrap() {
        // A scenario layer (`scenario.layer`) links the store layer it selects from.
        let store_layer = match c["links"].as_array().unwrap().iter().find(|l| l["rel"] == "related") {
            Some(link) => link["href"].as_str().unwrap().rsplit('/').next().unwrap(),
            None => c["id"].as_str().unwrap(),
        };
        assert!(
            role.may_read(store_layer),
            "{}: OGC collection {} (layer {store_layer})",
            role.name,
            c["id"]
        );
    }
    let queryables = ["parcels", "housing"].map(|layer| {
        let q = m.json(role, &format!("/ogc/collections/{layer}/queryables?f=json"));
        let fields = q["properties"]
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| *k != "geometry")
            .cloned()
            .collect();
        (layer, fields)
    });
    check_layers(&m.fixture, role, "OGC queryables", &listed_layers(queryables.into_iter()), true);
}

/// Vector tiles (what the viewer's popups show) and scenario tiles, decoded independently.
fn tiles(m: &Matrix, role: &Role, (lon, lat): (f64, f64)) {
    let (x, y) = tile_of(lon, lat, 14);
    let around = |prefix: &str| -> Vec<String> {
        [(0, 0), (1, 0), (0, 1), (1, 1), (-1, 0), (0, -1), (-1, -1), (1, -1), (-1, 1)]
            .iter()
            .map(|(dx, dy)| format!("{prefix}/14/{}/{}.mvt", x as i64 + dx, y as i64 + dy))
            .collect()
    };
    let seen = m.tiles(role, &around("/tiles/wards,parcels,housing,buildings"));
    check_layers(&m.fixture, role, "layer tiles", &seen, true);
    assert!(
        !seen["parcels"]["ids"].as_array().unwrap().is_empty(),
        "{}: the tiles draw parcels",
        role.name
    );
    if !role.every_layer {
        return;
    }
    // A scenario's tile layers are named by the scenario; check each as its store layer.
    let scenario = m.json(role, "/scenarios/social_welfare");
    let mut by_store = serde_json::Map::new();
    let seen = m.tiles(role, &around("/scenarios/social_welfare"));
    for layer in scenario["layers"].as_array().unwrap() {
        let store = layer["layer"].as_str().unwrap();
        let tile = layer["id"].as_str().unwrap_or(store);
        if let Some(drawn) = seen.get(tile) {
            merge(
                by_store
                    .entry(store.to_string())
                    .or_insert_with(|| layer_json([], [], Default::default())),
                drawn,
            );
        }
    }
    check_layers(&m.fixture, role, "scenario tiles", &serde_json::Value::Object(by_store), false);
}

/// Every kind of query, GeoJSON and CSV: features of readable layers, no withheld field, the
/// officer's exactly the ward's (by the oracle), the public's households as figures.
fn queries(m: &Matrix, role: &Role, (lon, lat): (f64, f64)) {
    let layers = "layers=wards,parcels,housing,buildings";
    let asked = [
        format!("/query/bbox?{layers}&bbox=107,16,108,17&limit=10000"),
        format!("/query/point?{layers}&lon={lon}&lat={lat}&tolerance_m=300"),
        format!("/query/radius?{layers}&lon={lon}&lat={lat}&radius_m=1500&limit=10000"),
        format!("/query/nearest?{layers}&lon={lon}&lat={lat}&k=50"),
        format!("/query/boundary?{layers}&admin=wards:{WARD}&limit=10000"),
        "/ogc/collections/parcels/items?limit=10000&f=json".to_string(),
        "/ogc/collections/housing/items?limit=10000&f=json".to_string(),
    ];
    for path in &asked {
        let only = path.strip_prefix("/ogc/collections/").and_then(|p| p.split('/').next());
        let seen = geojson_layers(&m.json(role, path), only);
        check_layers(&m.fixture, role, path, &seen, true);
        assert!(!seen.as_object().unwrap().is_empty(), "{}: {path} found nothing", role.name);
        if path.starts_with("/query/bbox") {
            for (layer, inside) in &m.fixture.in_ward {
                let ids: Vec<i64> = seen[*layer]["ids"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_i64().unwrap())
                    .collect();
                match (role.scope, role.figures && *layer == "housing") {
                    (Some(_), _) => assert_eq!(&ids, inside, "{}: {layer} of the ward", role.name),
                    (None, true) => assert_eq!(ids, m.fixture.shown_wards().into_keys().collect::<Vec<_>>()),
                    (None, false) => assert!(ids.len() > inside.len(), "{}: every {layer}", role.name),
                }
            }
        }
    }
    let (status, csv) = m.get(role, &format!("{}&format=csv", asked[0]));
    assert_eq!(status, 200, "{}: CSV", role.name);
    let csv = String::from_utf8(csv).unwrap();
    check_layers(&m.fixture, role, "the CSV query", &csv_layers(&csv), false);
    let header = csv.lines().next().unwrap();
    for layer in ["parcels", "housing"] {
        for field in role.withheld(layer) {
            assert!(
                !header.split(',').any(|h| h == field),
                "{}: the CSV header names {field}",
                role.name
            );
        }
    }
}

/// Statistics and indicators: per ward counts equal to the oracle's, only the officer's ward
/// for it, small units suppressed for the public's households; a group_by on a withheld field
/// refused like an unknown one.
fn statistics(m: &Matrix, role: &Role) {
    for (layer, oracle) in [("parcels", &m.fixture.parcels), ("housing", &m.fixture.households)] {
        let stats = m.json(role, &format!("/stats?layer={layer}&by=wards"));
        let units = stats["units"].as_array().unwrap();
        let listed: Vec<&str> = units.iter().map(|u| u["code"].as_str().unwrap()).collect();
        match role.scope {
            Some(_) => assert_eq!(listed, [WARD], "{}: {layer} stats list the ward only", role.name),
            None => assert_eq!(units.len(), oracle.len(), "{}: {layer} stats list every ward", role.name),
        }
        for unit in units {
            let count = oracle[&unit["id"].as_i64().unwrap()];
            match role.figures && layer == "housing" && count < MIN_COUNT {
                true => assert!(unit["suppressed"] == true && unit.get("count").is_none(), "{unit}"),
                false => assert_eq!(unit["count"].as_u64(), Some(count), "{}: {layer} {unit}", role.name),
            }
        }
    }
    let refused = m.get(role, "/stats?layer=parcels&by=wards&group_by=address").0;
    assert_eq!(refused == 400, !role.address, "{}: group_by=address is {refused}", role.name);
    if !role.every_layer {
        return;
    }
    let indicators = m.json(role, "/scenarios/social_welfare/indicators?indicator=poor_households");
    let units = indicators["indicators"][0]["units"].as_array().unwrap();
    assert!(role.scope.is_none() || units.len() == 1, "{}: {indicators}", role.name);
    for unit in units {
        assert!(role.scope.is_none() || unit["code"] == WARD, "{}: {unit}", role.name);
        let poor = m.fixture.poor[&unit["id"].as_i64().unwrap()];
        assert_eq!(unit["matching"].as_u64(), Some(poor), "{}: {unit}", role.name);
    }
}

/// The 3D tileset and its GLBs, whose property tables (EXT_structural_metadata) are read by
/// tests/py/glb_properties.py: no withheld field, the officer's buildings exactly the ward's.
fn city3d(m: &Matrix, role: &Role) {
    let tileset = m.json(role, "/3d/buildings/tileset.json");
    let mut uris = Vec::new();
    let mut stack = vec![&tileset["root"]];
    while let Some(tile) = stack.pop() {
        uris.extend(tile["content"]["uri"].as_str());
        stack.extend(tile["children"].as_array().into_iter().flatten());
    }
    let mut fids = Vec::new();
    for uri in uris {
        let (status, glb) = m.get(role, &format!("/3d/buildings/{uri}"));
        assert_eq!(status, 200, "{}: {uri}", role.name);
        let file = m.fixture.dir.path().join(format!("{}.glb", role.name));
        std::fs::write(&file, &glb).unwrap();
        let summary: serde_json::Value =
            serde_json::from_str(&run_checker("python3", &["tests/py/glb_properties.py", file.to_str().unwrap()])).unwrap();
        let columns: Vec<String> = summary["table"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_string())
            .collect();
        check_layers(&m.fixture, role, uri, &listed_layers([("buildings", columns)].into_iter()), true);
        fids.extend(summary["fids"].as_array().unwrap().iter().map(|v| v.as_i64().unwrap()));
    }
    fids.sort();
    let inside = &m.fixture.in_ward["buildings"];
    match role.scope {
        Some(_) => assert_eq!(&fids, inside, "the officer's 3D buildings are the ward's"),
        None => assert!(fids.len() > inside.len(), "{}: every building in 3D", role.name),
    }
}

/// One route family's checks of what a role receives.
type Family = dyn Fn(&Matrix, &Role);

#[test]
fn every_route_family_hands_each_role_only_what_it_may_see() {
    let m = Matrix::start();
    // A point inside the officer's ward: the first vertex of one of its parcels.
    let officer = &ROLES[1];
    let ward = m.json(officer, &format!("/query/boundary?layers=parcels&admin=wards:{WARD}&limit=1"));
    let vertex = &ward["features"][0]["geometry"]["coordinates"][0][0];
    let here = (vertex[0].as_f64().unwrap(), vertex[1].as_f64().unwrap());
    let families: [(&str, &Family); 6] = [
        ("hidden names", &hidden_names_are_unknown),
        ("listings", &listings),
        ("tiles", &move |m: &Matrix, r: &Role| tiles(m, r, here)),
        ("queries", &move |m: &Matrix, r: &Role| queries(m, r, here)),
        ("statistics", &statistics),
        ("3D", &city3d),
    ];
    for role in &ROLES {
        for (family, check) in &families {
            eprintln!("{}: {family}", role.name);
            check(&m, role);
        }
    }
}
