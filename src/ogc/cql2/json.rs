//! CQL2 JSON: `{"op": ..., "args": [...]}` expressions, `{"property": ...}`, `{"date": ...}`,
//! `{"timestamp": ...}`, `{"bbox": [...]}` and GeoJSON geometries. Operator names are matched
//! without regard to case (`isNull`, `s_intersects`). Errors name the operator or member at fault.

use geo_types::{Coord, Geometry, GeometryCollection, LineString, MultiLineString, MultiPoint, MultiPolygon, Point, Polygon};
use serde_json::Value as Json;

use super::geometry::{self, Budget};
use super::{Comparison, Expr, Operand, SpatialOp, MAX_DEPTH, SPATIAL_FUNCTIONS};

/// Reads a CQL2 JSON filter.
pub fn parse(text: &str) -> Result<Expr, String> {
    let json: Json = serde_json::from_str(text).map_err(|e| format!("not CQL2 JSON: {e}"))?;
    Reader {
        depth: 0,
        budget: Budget::default(),
    }
    .expr(&json)
}

struct Reader {
    depth: usize,
    budget: Budget,
}

fn kind(j: &Json) -> &'static str {
    match j {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

impl Reader {
    fn nested<T>(&mut self, f: impl FnOnce(&mut Reader) -> Result<T, String>) -> Result<T, String> {
        if self.depth >= MAX_DEPTH {
            return Err(format!("the filter nests deeper than {MAX_DEPTH} levels; write it flatter"));
        }
        self.depth += 1;
        let result = f(self);
        self.depth -= 1;
        result
    }

    fn expr(&mut self, j: &Json) -> Result<Expr, String> {
        self.nested(|r| r.expr_here(j))
    }

    fn expr_here(&mut self, j: &Json) -> Result<Expr, String> {
        let (op, args) = match j {
            Json::Bool(b) => return Ok(Expr::Literal(*b)),
            Json::Object(o) => match (o.get("op").and_then(Json::as_str), o.get("args")) {
                (Some(op), Some(Json::Array(args))) => (op, args),
                (Some(op), _) => return Err(format!("operator '{op}' has no \"args\" array")),
                (None, _) => return Err(format!("expected an expression {{\"op\": ..., \"args\": [...]}}, found {j}")),
            },
            other => {
                return Err(format!(
                    "expected an expression {{\"op\": ..., \"args\": [...]}} or a boolean, found {}",
                    kind(other)
                ))
            }
        };
        let arity = |n: usize| {
            if args.len() == n {
                Ok(())
            } else {
                Err(format!("operator '{op}' takes {n} argument(s), not {}", args.len()))
            }
        };
        let lower = op.to_ascii_lowercase();
        if let Some(cmp) = Comparison::from_symbol(op) {
            arity(2)?;
            return Ok(Expr::Compare(cmp, self.operand(&args[0])?, self.operand(&args[1])?));
        }
        if let Some(spatial) = SpatialOp::from_name(op) {
            arity(2)?;
            return Ok(Expr::Spatial(spatial, self.operand(&args[0])?, self.operand(&args[1])?));
        }
        Ok(match lower.as_str() {
            "and" | "or" => {
                if args.len() < 2 {
                    return Err(format!("operator '{op}' takes at least 2 arguments"));
                }
                let parts = args.iter().map(|a| self.expr(a)).collect::<Result<Vec<_>, _>>()?;
                if lower == "and" {
                    Expr::And(parts)
                } else {
                    Expr::Or(parts)
                }
            }
            "not" => {
                arity(1)?;
                Expr::Not(Box::new(self.expr(&args[0])?))
            }
            "like" => {
                arity(2)?;
                Expr::Like(self.operand(&args[0])?, self.operand(&args[1])?)
            }
            "between" => {
                arity(3)?;
                Expr::Between(self.operand(&args[0])?, self.operand(&args[1])?, self.operand(&args[2])?)
            }
            "in" => {
                arity(2)?;
                let Json::Array(list) = &args[1] else {
                    return Err("operator 'in' takes a value and an array of values".into());
                };
                if list.is_empty() {
                    return Err("operator 'in' has an empty list".into());
                }
                let list = list.iter().map(|v| self.operand(v)).collect::<Result<_, _>>()?;
                Expr::In(self.operand(&args[0])?, list)
            }
            "isnull" => {
                arity(1)?;
                Expr::IsNull(self.operand(&args[0])?)
            }
            _ => {
                return Err(format!(
                "unknown operator '{op}': this server's filters take and, or, not, =, <>, <, <=, >, >=, like, between, in, isNull and {}",
                SPATIAL_FUNCTIONS.to_ascii_lowercase()
            ))
            }
        })
    }

    fn operand(&mut self, j: &Json) -> Result<Operand, String> {
        let text = |key: &str, v: &Json| {
            v.as_str()
                .map(str::to_string)
                .ok_or_else(|| format!("\"{key}\" takes a string, not {}", kind(v)))
        };
        Ok(match j {
            Json::String(s) => Operand::Text(s.clone()),
            Json::Bool(b) => Operand::Bool(*b),
            Json::Number(n) => Operand::Number(n.as_f64().filter(|v| v.is_finite()).ok_or("a number is out of range")?),
            Json::Object(o) => {
                if let Some(v) = o.get("property") {
                    Operand::Property(text("property", v)?)
                } else if let Some(v) = o.get("date") {
                    Operand::Date(text("date", v)?)
                } else if let Some(v) = o.get("timestamp") {
                    Operand::Timestamp(text("timestamp", v)?)
                } else if let Some(v) = o.get("bbox") {
                    let numbers = self.numbers(v)?;
                    Operand::Geometry(geometry::bbox(&numbers, &mut self.budget)?)
                } else if o.contains_key("type") {
                    Operand::Geometry(self.nested(|r| r.geometry(j))?)
                } else if let Some(op) = o.get("op") {
                    return Err(format!("{op} stands where a property or a literal is expected"));
                } else {
                    return Err(format!("expected a property, a literal or a geometry, found {j}"));
                }
            }
            other => return Err(format!("expected a property, a literal or a geometry, found {}", kind(other))),
        })
    }

    fn numbers(&mut self, j: &Json) -> Result<Vec<f64>, String> {
        match j {
            Json::Array(items) => items
                .iter()
                .map(|v| v.as_f64().ok_or_else(|| format!("expected a number, found {}", kind(v))))
                .collect(),
            other => Err(format!("expected an array of numbers, found {}", kind(other))),
        }
    }

    fn position(&mut self, j: &Json) -> Result<Coord<f64>, String> {
        let numbers = self.numbers(j)?;
        geometry::position(&numbers, &mut self.budget)
    }

    /// `j` as an array, each item read by `item`.
    fn each<T>(&mut self, j: &Json, mut item: impl FnMut(&mut Reader, &Json) -> Result<T, String>) -> Result<Vec<T>, String> {
        match j {
            Json::Array(items) => items.iter().map(|i| item(self, i)).collect(),
            other => Err(format!("expected an array of coordinates, found {}", kind(other))),
        }
    }

    fn line(&mut self, j: &Json) -> Result<LineString<f64>, String> {
        let coords = self.each(j, Reader::position)?;
        geometry::line(coords)
    }

    fn polygon(&mut self, j: &Json) -> Result<Polygon<f64>, String> {
        let rings = self.each(j, |r, ring| geometry::ring(r.each(ring, Reader::position)?))?;
        geometry::polygon(rings)
    }

    /// A GeoJSON geometry object.
    fn geometry(&mut self, j: &Json) -> Result<Geometry<f64>, String> {
        let kind = j.get("type").and_then(Json::as_str).unwrap_or("");
        if kind == "GeometryCollection" {
            let parts = j.get("geometries").ok_or("a GeometryCollection has no \"geometries\"")?;
            let parts = self.each(parts, |r, g| r.nested(|r| r.geometry(g)))?;
            return Ok(Geometry::GeometryCollection(GeometryCollection(parts)));
        }
        let c = j
            .get("coordinates")
            .ok_or_else(|| format!("the {kind} geometry has no \"coordinates\""))?;
        Ok(match kind {
            "Point" => Geometry::Point(Point(self.position(c)?)),
            "LineString" => Geometry::LineString(self.line(c)?),
            "Polygon" => Geometry::Polygon(self.polygon(c)?),
            "MultiPoint" => Geometry::MultiPoint(MultiPoint(self.each(c, |r, p| Ok(Point(r.position(p)?)))?)),
            "MultiLineString" => Geometry::MultiLineString(MultiLineString(self.each(c, Reader::line)?)),
            "MultiPolygon" => Geometry::MultiPolygon(MultiPolygon(self.each(c, Reader::polygon)?)),
            other => {
                return Err(format!(
                    "'{other}' is not a GeoJSON geometry type (Point, LineString, Polygon, MultiPoint, MultiLineString, MultiPolygon, GeometryCollection)"
                ))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geojson_geometries_and_errors() {
        let e = parse(r#"{"op":"s_intersects","args":[{"property":"geometry"},{"type":"GeometryCollection","geometries":[{"type":"MultiPolygon","coordinates":[[[[0,0],[1,0],[1,1],[0,0]]]]},{"type":"MultiPoint","coordinates":[[0,0]]}]}]}"#).unwrap();
        assert!(matches!(
            e,
            Expr::Spatial(SpatialOp::Intersects, _, Operand::Geometry(Geometry::GeometryCollection(_)))
        ));
        for (filter, says) in [
            ("{", "not CQL2 JSON"),
            (r#"{"op":"="}"#, "no \"args\""),
            (r#"{"op":"=","args":[1]}"#, "takes 2 argument(s), not 1"),
            (r#"{"op":"casei","args":[1]}"#, "unknown operator 'casei'"),
            (r#"{"op":"in","args":[{"property":"a"},1]}"#, "an array of values"),
            (r#"{"op":"=","args":[{"property":"a"},null]}"#, "found null"),
            (r#"{"op":"=","args":[{"property":"a"},{"op":"+","args":[1,2]}]}"#, "stands where"),
            (
                r#"{"op":"s_within","args":[{"property":"geometry"},{"type":"Polygon","coordinates":[[[0,0],[1,0],[0,0]]]}]}"#,
                "at least 4 positions",
            ),
            (
                r#"{"op":"s_within","args":[{"property":"geometry"},{"type":"Circle","coordinates":[0,0]}]}"#,
                "'Circle' is not",
            ),
            (
                r#"{"op":"s_within","args":[{"property":"geometry"},{"bbox":[0,0,1]}]}"#,
                "3 numbers",
            ),
            (r#"[1]"#, "found an array"),
        ] {
            let e = parse(filter).unwrap_err();
            assert!(e.contains(says), "{filter}: {e}");
        }
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = format!("{}true{}", r#"{"op":"not","args":["#.repeat(100), "]}".repeat(100));
        let e = parse(&deep).unwrap_err();
        assert!(e.contains("nests deeper") || e.contains("recursion"), "{e}");
    }
}
