//! Mutations of a JSON document as a tree (GeoJSON polygons, scenario files read as TOML):
//! numbers set to boundary values, array elements removed, repeated or swapped, nodes wrapped,
//! unwrapped, retyped or replaced by another part of the document.

use serde_json::Value;

use crate::engine::Rng;
use crate::mutate::BOUNDARY_F64;

/// A node of `v`: the root, or (three times in four) a node below a random child.
fn pick_node<'a>(rng: &mut Rng, v: &'a mut Value) -> &'a mut Value {
    let children = match &*v {
        Value::Array(a) => a.len(),
        Value::Object(o) => o.len(),
        _ => 0,
    };
    if children == 0 || rng.below(4) == 0 {
        return v;
    }
    let i = rng.below(children as u64) as usize;
    match v {
        Value::Array(a) => pick_node(rng, &mut a[i]),
        Value::Object(o) => pick_node(rng, o.values_mut().nth(i).expect("i is below the object's length")),
        other => other,
    }
}

/// One random change of the tree; `words` are strings worth trying (type names, field names).
pub fn mutate(rng: &mut Rng, root: &mut Value, words: &[&str]) {
    let donor = pick_node(rng, &mut root.clone()).clone();
    let node = pick_node(rng, root);
    match (rng.below(6), &mut *node) {
        (0, Value::Number(_)) => {
            let finite: Vec<f64> = BOUNDARY_F64.iter().copied().filter(|v| v.is_finite()).collect();
            let v = finite[rng.below(finite.len() as u64) as usize];
            *node = serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number);
        }
        (1, Value::Number(n)) => {
            // Nudge by an ulp or a millionth of a degree: rings that no longer close, edges that cross.
            let v = n.as_f64().unwrap_or_default();
            let nudged = if rng.below(2) == 0 {
                f64::from_bits(v.to_bits() ^ 1)
            } else {
                v + 1e-6
            };
            *node = serde_json::Number::from_f64(nudged).map_or(Value::Null, Value::Number);
        }
        (0 | 1, Value::Array(a)) if !a.is_empty() => {
            let i = rng.below(a.len() as u64) as usize;
            let copies = if rng.below(8) == 0 { 1000 } else { 1 + rng.below(3) as usize };
            // At most a megabyte more: repeating a whole ring a thousand times is no new case.
            let size = serde_json::to_vec(&a[i]).map_or(1, |b| b.len().max(1));
            let copies = copies.min((1 << 20) / size).max(1);
            let repeated = vec![a[i].clone(); copies];
            a.splice(i..i, repeated);
        }
        (2, Value::Array(a)) if !a.is_empty() => {
            let i = rng.below(a.len() as u64) as usize;
            if rng.below(2) == 0 {
                a.remove(i);
            } else {
                let j = rng.below(a.len() as u64) as usize;
                a.swap(i, j);
            }
        }
        (3, Value::Object(o)) if !o.is_empty() => {
            let key = o.keys().nth(rng.below(o.len() as u64) as usize).cloned().unwrap_or_default();
            if rng.below(2) == 0 {
                o.remove(&key);
            } else {
                o.insert(key, Value::String(words[rng.below(words.len() as u64) as usize].to_string()));
            }
        }
        (3, _) => *node = Value::String(words[rng.below(words.len() as u64) as usize].to_string()),
        (4, _) => {
            let inner = node.take();
            *node = match inner {
                Value::Array(mut a) if a.len() == 1 && rng.below(2) == 0 => a.remove(0),
                other => Value::Array(vec![other]),
            };
        }
        (_, _) => *node = donor,
    }
}
