//! Attribute filters of scenario layers, indicators and 3D colour rules:
//! `where = [{ field = "status", op = "eq", value = "working" }, ...]`, all conditions must hold.
//! A filter is resolved against a layer's field list once ([`Filter::bind`]) so evaluating it per
//! feature is an index lookup and a comparison, with no string matching on field names.

use serde::{Deserialize, Serialize};

use crate::feature::{Feature, Value};
use crate::store::LayerMeta;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// `value` is an array; matches when the attribute equals any element.
    In,
    /// The attribute is present (not null).
    Exists,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    pub field: String,
    pub op: Op,
    #[serde(default)]
    pub value: Option<serde_json::Value>,
}

/// All conditions must hold; an empty filter matches everything.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Filter(pub Vec<Condition>);

/// A filter resolved against one layer's fields.
#[derive(Debug, Clone)]
pub struct BoundFilter {
    conditions: Vec<(Option<usize>, Op, Vec<serde_json::Value>)>,
}

impl Filter {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Resolves field names against `layer`; an unknown field is an error naming the fields.
    pub fn bind(&self, layer: &LayerMeta) -> Result<BoundFilter, String> {
        let mut conditions = Vec::with_capacity(self.0.len());
        for c in &self.0 {
            let index = layer.field_index(&c.field);
            if index.is_none() && c.field != "id" {
                let known: Vec<&str> = layer.fields.iter().map(|f| f.name.as_str()).collect();
                return Err(format!(
                    "layer '{}' has no field '{}' (fields: {})",
                    layer.name,
                    c.field,
                    known.join(", ")
                ));
            }
            let values = match (&c.op, &c.value) {
                (Op::Exists, _) => vec![],
                (Op::In, Some(serde_json::Value::Array(items))) => items.clone(),
                (Op::In, _) => return Err(format!("condition on '{}': op \"in\" needs an array value", c.field)),
                (_, Some(v)) => vec![v.clone()],
                (_, None) => return Err(format!("condition on '{}' needs a value", c.field)),
            };
            conditions.push((index, c.op, values));
        }
        Ok(BoundFilter { conditions })
    }
}

fn compare(a: &Value, b: &serde_json::Value) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Value::Null, _) => None,
        (Value::Text(t), serde_json::Value::String(s)) => Some(t.as_ref().cmp(s.as_str())),
        (Value::Bool(x), serde_json::Value::Bool(y)) => Some(x.cmp(y)),
        (_, serde_json::Value::Bool(y)) => a.as_bool().map(|x| x.cmp(y)),
        (_, serde_json::Value::Number(n)) => a.as_f64().zip(n.as_f64()).and_then(|(x, y)| x.partial_cmp(&y)),
        (_, serde_json::Value::String(s)) => Some(a.to_string().as_str().cmp(s.as_str())),
        _ => None,
    }
}

impl BoundFilter {
    pub fn matches(&self, feature: &Feature) -> bool {
        use std::cmp::Ordering::*;
        self.conditions.iter().all(|(index, op, values)| {
            let id_value;
            let value = match index {
                Some(i) => &feature.properties[*i],
                None => {
                    id_value = Value::Int(feature.id);
                    &id_value
                }
            };
            match op {
                Op::Exists => !value.is_null(),
                Op::In => values.iter().any(|v| compare(value, v) == Some(Equal)),
                _ => {
                    let ord = compare(value, &values[0]);
                    match op {
                        Op::Eq => ord == Some(Equal),
                        Op::Ne => ord != Some(Equal),
                        Op::Lt => ord == Some(Less),
                        Op::Le => matches!(ord, Some(Less | Equal)),
                        Op::Gt => ord == Some(Greater),
                        Op::Ge => matches!(ord, Some(Greater | Equal)),
                        Op::In | Op::Exists => unreachable!("handled above"),
                    }
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feature::{FieldDef, FieldType, GeometryKind, LayerKind};
    use geo_types::point;

    fn meta() -> LayerMeta {
        LayerMeta::new(
            "lights",
            LayerKind::Infrastructure,
            GeometryKind::Point,
            vec![FieldDef::new("status", FieldType::Text), FieldDef::new("power_w", FieldType::Int)],
        )
    }

    fn light(status: &str, power: i64) -> Feature {
        Feature {
            id: 1,
            geometry: point!(x: 0.0, y: 0.0).into(),
            properties: vec![Value::Text(status.into()), Value::Int(power)],
        }
    }

    #[test]
    fn conditions_compare_text_numbers_and_sets() {
        let f: Filter =
            serde_json::from_str(r#"[{"field":"status","op":"in","value":["broken","off"]},{"field":"power_w","op":"ge","value":150}]"#)
                .unwrap();
        let bound = f.bind(&meta()).unwrap();
        assert!(bound.matches(&light("broken", 250)));
        assert!(!bound.matches(&light("working", 250)));
        assert!(!bound.matches(&light("off", 100)));
        assert!(Filter::default().bind(&meta()).unwrap().matches(&light("x", 0)));
    }

    #[test]
    fn unknown_fields_are_named() {
        let f: Filter = serde_json::from_str(r#"[{"field":"colour","op":"eq","value":"red"}]"#).unwrap();
        let err = f.bind(&meta()).unwrap_err();
        assert!(err.contains("no field 'colour'") && err.contains("status, power_w"), "{err}");
    }
}
