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
        let out = run_checker(
            "python3",
            &["tests/py/aggregate_oracle.py", gpkg, "housing", "wards", "household_size"],
        );
        let figures: serde_json::Value = serde_json::from_str(&out).unwrap();
        let households = figures
            .as_object()
            .unwrap()
            .iter()
            .map(|(fid, f)| (fid.parse().unwrap(), f["count"].as_u64().unwrap()))
            .collect();
        Fixture {
            config: repo_root().join("docs/bando.example.toml"),
            dir,
            store,
            in_ward,
            households,
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

/// Checks tile layers decoded independently (`{"LAYER": {"ids", "properties", "values"}}`) as
/// `role` received them in `what`: only layers it reads, none of its withheld fields and all of
/// its shown ones, only features of its ward, and figures equal to the oracle's.
fn check_tile_layers(fixture: &Fixture, role: &Role, what: &str, layers: &serde_json::Value) {
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
        for field in role.shown(name) {
            assert!(
                properties.contains(&field),
                "{}: {what} lacks {name}.{field}: {properties:?}",
                role.name
            );
        }
        let ids = layer["ids"].as_array().unwrap().iter().map(|v| v.as_i64().unwrap());
        if role.figures && name == "housing" {
            assert_eq!(properties, FIGURES, "{}: {what} housing is figures", role.name);
            for (id, values) in layer["values"].as_object().unwrap() {
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
        check_tile_layers(&fixture, role, "the archive", &seen["layers"]);
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
