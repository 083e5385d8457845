//! The GLB (binary glTF 2.0) of one tile, written by hand: one primitive per colour with
//! POSITION, NORMAL and `_FEATURE_ID_0` (FLOAT), an EXT_mesh_features feature-id set pointing at
//! an EXT_structural_metadata property table that holds every building's attributes (so a click in
//! CesiumJS shows them). The tile centre sits in the node translation (see the module doc of
//! `city3d`). Knows nothing of tiling or HTTP.

use serde_json::{json, Map, Value as Json};

use super::building::Prepared;
use super::extrude::Mesh;
use super::geodesy::{ecef_to_gltf, to_ecef};
use super::City3d;
use crate::feature::{FieldType, Value};

const ARRAY_BUFFER: u32 = 34962;
const ELEMENT_ARRAY_BUFFER: u32 = 34963;
const FLOAT: u32 = 5126;
const UNSIGNED_SHORT: u32 = 5123;
const UNSIGNED_INT: u32 = 5125;

/// The binary chunk and the buffer views cut from it. Views start on 8-byte boundaries, as
/// EXT_structural_metadata requires of property-table views (and harmless for the others).
#[derive(Default)]
struct Bin {
    data: Vec<u8>,
    views: Vec<Json>,
}

impl Bin {
    fn view(&mut self, bytes: &[u8], target: Option<u32>) -> usize {
        while !self.data.len().is_multiple_of(8) {
            self.data.push(0);
        }
        let mut view = json!({ "buffer": 0, "byteOffset": self.data.len(), "byteLength": bytes.len() });
        if let Some(t) = target {
            view["target"] = json!(t);
        }
        self.data.extend_from_slice(bytes);
        self.views.push(view);
        self.views.len() - 1
    }
}

fn bytes_of<T: Copy, const N: usize>(items: &[T], to_le: impl Fn(T) -> [u8; N]) -> Vec<u8> {
    let mut out = Vec::with_capacity(items.len() * N);
    for &item in items {
        out.extend_from_slice(&to_le(item));
    }
    out
}

fn vec3_bytes(v: &[[f32; 3]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.len() * 12);
    for p in v {
        for c in p {
            out.extend_from_slice(&c.to_le_bytes());
        }
    }
    out
}

/// glTF accessors and the primitive of one colour group.
fn primitive(mesh: &Mesh, material: usize, bin: &mut Bin, accessors: &mut Vec<Json>) -> Json {
    let mut min = [f32::INFINITY; 3];
    let mut max = [f32::NEG_INFINITY; 3];
    for p in &mesh.positions {
        for k in 0..3 {
            min[k] = min[k].min(p[k]);
            max[k] = max[k].max(p[k]);
        }
    }
    let count = mesh.positions.len();
    let mut accessor = |view: usize, component: u32, ty: &str, count: usize, extra: Option<(Json, Json)>| {
        let mut a = json!({ "bufferView": view, "componentType": component, "count": count, "type": ty });
        if let Some((lo, hi)) = extra {
            a["min"] = lo;
            a["max"] = hi;
        }
        accessors.push(a);
        accessors.len() - 1
    };
    let position = accessor(
        bin.view(&vec3_bytes(&mesh.positions), Some(ARRAY_BUFFER)),
        FLOAT,
        "VEC3",
        count,
        Some((json!(min), json!(max))),
    );
    let normal = accessor(bin.view(&vec3_bytes(&mesh.normals), Some(ARRAY_BUFFER)), FLOAT, "VEC3", count, None);
    let feature_id = accessor(
        bin.view(&bytes_of(&mesh.feature_ids, f32::to_le_bytes), Some(ARRAY_BUFFER)),
        FLOAT,
        "SCALAR",
        count,
        None,
    );
    // 65535 is the primitive-restart value, so 16-bit indices need fewer vertices than that.
    let indices = if count < u16::MAX as usize {
        let view = bin.view(&bytes_of(&mesh.indices, |i| (i as u16).to_le_bytes()), Some(ELEMENT_ARRAY_BUFFER));
        accessor(view, UNSIGNED_SHORT, "SCALAR", mesh.indices.len(), None)
    } else {
        let view = bin.view(&bytes_of(&mesh.indices, u32::to_le_bytes), Some(ELEMENT_ARRAY_BUFFER));
        accessor(view, UNSIGNED_INT, "SCALAR", mesh.indices.len(), None)
    };
    json!({
        "attributes": { "POSITION": position, "NORMAL": normal, "_FEATURE_ID_0": feature_id },
        "indices": indices,
        "material": material,
        "mode": 4,
        "extensions": { "EXT_mesh_features": { "featureIds": [
            { "featureCount": mesh.features, "attribute": 0, "propertyTable": 0 }
        ] } }
    })
}

/// Metadata property ids must match `^[a-zA-Z_][a-zA-Z0-9_]*$`.
fn property_id(field: &str) -> String {
    let mut id: String = field
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' })
        .collect();
    if !id.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        id.insert(0, '_');
    }
    id
}

/// Sentinels for missing values (EXT_structural_metadata `noData`). A stored integer equal to
/// `i64::MIN` reads as missing too; survey data has none.
const NO_INT: i64 = i64::MIN;
const NO_FLOAT: f64 = f64::MIN;

/// The class entry of a layer field: the same in every tile, whatever the tile holds, so a client
/// sees one schema. No property is `required`, so a tile may leave any of them out of its table.
fn class_property(ty: FieldType) -> Json {
    match ty {
        FieldType::Int => json!({ "type": "SCALAR", "componentType": "INT64", "noData": NO_INT }),
        FieldType::Float => json!({ "type": "SCALAR", "componentType": "FLOAT64", "noData": NO_FLOAT }),
        FieldType::Bool => json!({ "type": "BOOLEAN" }),
        FieldType::Text => json!({ "type": "STRING", "noData": "" }),
    }
}

/// An integer as stored: exact for `Int` (all 64 bits), rounded for numbers read from text.
fn int_of(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        other => other
            .as_f64()
            .filter(|f| f.is_finite() && f.abs() < i64::MAX as f64)
            .map(|f| f.round() as i64),
    }
}

fn float_of(v: &Value) -> Option<f64> {
    v.as_f64().filter(|f| f.is_finite())
}

/// Missing values as the sentinel, or None when every value is missing.
fn with_sentinel<T: Copy>(values: Vec<Option<T>>, missing: T) -> Option<Vec<T>> {
    values
        .iter()
        .any(Option::is_some)
        .then(|| values.iter().map(|v| v.unwrap_or(missing)).collect())
}

/// The property-table entry of a column: where its values are in the binary chunk. None when no
/// building of the tile has a value (null, or empty text): the column is left out of this tile's
/// table rather than written as a zero-length buffer view, which glTF forbids.
fn table_property(ty: FieldType, values: &[&Value], bin: &mut Bin) -> Option<Json> {
    let view = match ty {
        FieldType::Int => {
            let v = with_sentinel(values.iter().map(|v| int_of(v)).collect(), NO_INT)?;
            bin.view(&bytes_of(&v, i64::to_le_bytes), None)
        }
        FieldType::Float => {
            let v = with_sentinel(values.iter().map(|v| float_of(v)).collect(), NO_FLOAT)?;
            bin.view(&bytes_of(&v, f64::to_le_bytes), None)
        }
        FieldType::Bool => {
            let v = with_sentinel(values.iter().map(|v| v.as_bool()).collect(), false)?;
            // A bitstream, least significant bit first; a missing value reads as false.
            let mut bits = vec![0u8; v.len().div_ceil(8)];
            for (i, _) in v.iter().enumerate().filter(|(_, b)| **b) {
                bits[i / 8] |= 1 << (i % 8);
            }
            bin.view(&bits, None)
        }
        FieldType::Text => return text_property(values, bin),
    };
    Some(json!({ "values": view }))
}

/// UTF-8 strings end to end with UINT32 offsets (a tile may hold more than 64 kB of text).
fn text_property(values: &[&Value], bin: &mut Bin) -> Option<Json> {
    let mut text = Vec::new();
    let mut offsets: Vec<u32> = Vec::with_capacity(values.len() + 1);
    offsets.push(0);
    for v in values {
        if let Value::Text(t) = v {
            text.extend_from_slice(t.as_bytes());
        } else if !v.is_null() {
            text.extend_from_slice(v.to_string().as_bytes());
        }
        // A tile is far below 4 GiB, so its text offsets fit.
        offsets.push(text.len() as u32);
    }
    if text.is_empty() {
        return None;
    }
    let values = bin.view(&text, None);
    let offsets = bin.view(&bytes_of(&offsets, u32::to_le_bytes), None);
    Some(json!({ "values": values, "stringOffsets": offsets, "stringOffsetType": "UINT32" }))
}

/// Schema and property table of the tile's buildings, `rows` in property-table order (at least one).
fn property_table(city: &City3d, rows: &[u32], bin: &mut Bin) -> Json {
    let features = &city.layer().features;
    let mut class_properties = Map::new();
    let mut table_properties = Map::new();
    let ids: Vec<i64> = rows.iter().map(|&r| features[r as usize].id).collect();
    class_properties.insert(
        "fid".into(),
        json!({ "type": "SCALAR", "componentType": "INT64", "required": true, "description": "feature id in the store" }),
    );
    table_properties.insert("fid".into(), json!({ "values": bin.view(&bytes_of(&ids, i64::to_le_bytes), None) }));
    for &field_index in city.shown_fields() {
        let field = &city.layer().meta.fields[field_index];
        let id = property_id(&field.name);
        if class_properties.contains_key(&id) {
            continue;
        }
        let mut class = class_property(field.ty);
        if id != field.name {
            class["name"] = json!(field.name);
        }
        class_properties.insert(id.clone(), class);
        let values: Vec<&Value> = rows.iter().map(|&r| city.property(r, field_index)).collect();
        if let Some(table) = table_property(field.ty, &values, bin) {
            table_properties.insert(id, table);
        }
    }
    json!({
        "schema": { "id": "bando", "classes": { "building": { "name": city.layer().meta.name, "properties": class_properties } } },
        "propertyTables": [ { "class": "building", "count": rows.len(), "properties": table_properties } ]
    })
}

/// The GLB of a tile holding `buildings` (sorted by feature index).
pub fn tile(city: &City3d, buildings: &[(u32, Prepared)]) -> Vec<u8> {
    let (mut west, mut south, mut east, mut north) = (f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY);
    for (_, p) in buildings {
        west = west.min(p.bbox[0]);
        south = south.min(p.bbox[1]);
        east = east.max(p.bbox[2]);
        north = north.max(p.bbox[3]);
    }
    let center = if buildings.is_empty() {
        [0.0; 3]
    } else {
        to_ecef((west + east) / 2.0, (south + north) / 2.0, 0.0)
    };

    let palette = city.styling.palette();
    let mut meshes: Vec<Mesh> = vec![Mesh::default(); palette.len()];
    for (row, (index, p)) in buildings.iter().enumerate() {
        let feature = &city.layer().features[*index as usize];
        meshes[city.styling.color_index(feature)].extrude(feature, p.base_m, p.top_m, center, row as u32);
    }

    let mut bin = Bin::default();
    let mut accessors = Vec::new();
    let mut materials = Vec::new();
    let mut primitives = Vec::new();
    for (mesh, color) in meshes.iter().zip(&palette) {
        if mesh.indices.is_empty() {
            continue;
        }
        materials.push(json!({ "pbrMetallicRoughness": { "baseColorFactor": [color[0], color[1], color[2], 1.0], "metallicFactor": 0.0, "roughnessFactor": 1.0 } }));
        primitives.push(primitive(mesh, materials.len() - 1, &mut bin, &mut accessors));
    }
    let rows: Vec<u32> = buildings.iter().map(|b| b.0).collect();
    let metadata = property_table(city, &rows, &mut bin);

    let mut node = json!({ "translation": ecef_to_gltf(center) });
    let mut gltf = json!({
        "asset": { "version": "2.0", "generator": "bando" },
        "extensionsUsed": ["EXT_mesh_features", "EXT_structural_metadata"],
        "extensions": { "EXT_structural_metadata": metadata },
        "scene": 0,
        "scenes": [ { "nodes": [0] } ],
        "buffers": [ { "byteLength": 0 } ],
    });
    if !primitives.is_empty() {
        node["mesh"] = json!(0);
        gltf["meshes"] = json!([ { "primitives": primitives } ]);
        gltf["materials"] = json!(materials);
        gltf["accessors"] = json!(accessors);
    }
    gltf["nodes"] = json!([node]);
    while bin.data.len() % 4 != 0 {
        bin.data.push(0);
    }
    gltf["buffers"][0]["byteLength"] = json!(bin.data.len());
    gltf["bufferViews"] = json!(bin.views);
    assemble(&gltf, &bin.data)
}

/// GLB container: 12-byte header, JSON chunk padded with spaces, BIN chunk padded with zeros.
fn assemble(gltf: &Json, bin: &[u8]) -> Vec<u8> {
    let mut text = gltf.to_string().into_bytes();
    while !text.len().is_multiple_of(4) {
        text.push(b' ');
    }
    let total = 12 + 8 + text.len() + 8 + bin.len();
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(b"glTF");
    out.extend_from_slice(&2u32.to_le_bytes());
    out.extend_from_slice(&(total as u32).to_le_bytes());
    out.extend_from_slice(&(text.len() as u32).to_le_bytes());
    out.extend_from_slice(b"JSON");
    out.extend_from_slice(&text);
    out.extend_from_slice(&(bin.len() as u32).to_le_bytes());
    out.extend_from_slice(b"BIN\0");
    out.extend_from_slice(bin);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn property_ids_are_valid_identifiers() {
        assert_eq!(property_id("height_m"), "height_m");
        assert_eq!(property_id("2nd floor"), "_2nd_floor");
        assert_eq!(property_id("số_tầng"), "s__t_ng");
    }

    #[test]
    fn columns_without_a_value_in_the_tile_are_left_out_and_big_integers_stay_exact() {
        let (null, empty) = (Value::Null, Value::Text("".into()));
        let mut bin = Bin::default();
        for ty in [FieldType::Int, FieldType::Float, FieldType::Bool, FieldType::Text] {
            assert!(table_property(ty, &[&null, &null], &mut bin).is_none(), "{ty:?}");
        }
        assert!(table_property(FieldType::Text, &[&empty, &null, &empty], &mut bin).is_none());
        assert!(bin.views.is_empty(), "no view for a column left out");

        let big = Value::Int(9_007_199_254_740_993); // 2^53 + 1: not a float64
        let entry = table_property(FieldType::Int, &[&big, &null], &mut bin).unwrap();
        let view = &bin.views[entry["values"].as_u64().unwrap() as usize];
        let start = view["byteOffset"].as_u64().unwrap() as usize;
        let read = |i: usize| i64::from_le_bytes(bin.data[start + 8 * i..start + 8 * i + 8].try_into().unwrap());
        assert_eq!((read(0), read(1)), (9_007_199_254_740_993, NO_INT));

        let text = table_property(FieldType::Text, &[&empty, &Value::Text("Huế".into())], &mut bin).unwrap();
        let view = &bin.views[text["values"].as_u64().unwrap() as usize];
        assert_eq!(view["byteLength"], "Huế".len());
        assert_eq!(view["byteOffset"].as_u64().unwrap() % 8, 0);
    }
}
