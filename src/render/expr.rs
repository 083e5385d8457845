//! MapLibre style expressions, compiled once from a style's JSON and evaluated per zoom and per
//! feature: `get`, `has`, `zoom`, `geometry-type`, `match`, `case`, `coalesce`, `interpolate`
//! (linear, exponential), `step`, comparisons, `all`/`any`/`!`, `to-string`, `to-number`,
//! `concat`, `upcase`, `downcase`, arithmetic, `literal`, legacy zoom functions (`{"stops"}`)
//! and legacy filters (`["==", "field", value]`).
//!
//! Owns the expression language and colours. Knows nothing of drawing or of tiles: a feature is
//! whatever implements [`Feature`].

use std::sync::Arc;

use super::RenderError;

/// An RGBA colour, components 0..=1, not premultiplied.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Color {
    pub r: f32,
    pub g: f32,
    pub b: f32,
    pub a: f32,
}

impl Color {
    pub const BLACK: Color = Color {
        r: 0.0,
        g: 0.0,
        b: 0.0,
        a: 1.0,
    };
    pub const TRANSPARENT: Color = Color {
        r: 0.0,
        g: 0.0,
        b: 0.0,
        a: 0.0,
    };

    /// `#rgb`, `#rgba`, `#rrggbb`, `#rrggbbaa`, `rgb(…)`, `rgba(…)`, `hsl(…)`, `hsla(…)` and a few names.
    pub fn parse(text: &str) -> Option<Color> {
        let t = text.trim();
        if let Some(hex) = t.strip_prefix('#') {
            return parse_hex(hex);
        }
        let lower = t.to_ascii_lowercase();
        if let Some((name, args)) = lower.strip_suffix(')').and_then(|s| s.split_once('(')) {
            let n: Vec<f32> = args
                .split(',')
                .map(|a| a.trim().trim_end_matches('%').parse().ok())
                .collect::<Option<_>>()?;
            let alpha = n.get(3).copied().unwrap_or(1.0);
            return match (name.trim(), n.len()) {
                ("rgb" | "rgba", 3 | 4) => Some(Color {
                    r: n[0] / 255.0,
                    g: n[1] / 255.0,
                    b: n[2] / 255.0,
                    a: alpha,
                }),
                ("hsl" | "hsla", 3 | 4) => Some(hsl(n[0], n[1] / 100.0, n[2] / 100.0, alpha)),
                _ => None,
            };
        }
        let named = match lower.as_str() {
            "black" => "000000",
            "white" => "ffffff",
            "red" => "ff0000",
            "green" => "008000",
            "blue" => "0000ff",
            "yellow" => "ffff00",
            "gray" | "grey" => "808080",
            "orange" => "ffa500",
            "transparent" => return Some(Color::TRANSPARENT),
            _ => return None,
        };
        parse_hex(named)
    }

    /// The colour with its alpha multiplied by `opacity`.
    pub fn fade(self, opacity: f32) -> Color {
        Color {
            a: self.a * opacity.clamp(0.0, 1.0),
            ..self
        }
    }

    fn mix(self, other: Color, t: f32) -> Color {
        let l = |a: f32, b: f32| a + (b - a) * t;
        Color {
            r: l(self.r, other.r),
            g: l(self.g, other.g),
            b: l(self.b, other.b),
            a: l(self.a, other.a),
        }
    }
}

fn parse_hex(hex: &str) -> Option<Color> {
    let digit = |i: usize| u8::from_str_radix(hex.get(i..i + 1)?, 16).ok().map(|v| v as f32 / 15.0);
    let pair = |i: usize| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok().map(|v| v as f32 / 255.0);
    match hex.len() {
        3 | 4 => Some(Color {
            r: digit(0)?,
            g: digit(1)?,
            b: digit(2)?,
            a: if hex.len() == 4 { digit(3)? } else { 1.0 },
        }),
        6 | 8 => Some(Color {
            r: pair(0)?,
            g: pair(2)?,
            b: pair(4)?,
            a: if hex.len() == 8 { pair(6)? } else { 1.0 },
        }),
        _ => None,
    }
}

fn hsl(h: f32, s: f32, l: f32, a: f32) -> Color {
    let c = (1.0 - (2.0 * l - 1.0).abs()) * s;
    let hp = (h.rem_euclid(360.0)) / 60.0;
    let x = c * (1.0 - (hp % 2.0 - 1.0).abs());
    let (r, g, b) = match hp as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = l - c / 2.0;
    Color {
        r: r + m,
        g: g + m,
        b: b + m,
        a,
    }
}

/// A value an expression yields.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Number(f64),
    Text(Arc<str>),
    Color(Color),
    Array(Arc<[Value]>),
}

impl Value {
    pub fn as_number(&self) -> Option<f64> {
        match self {
            Value::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// Colours, and strings that parse as colours (style JSON writes colours as strings).
    pub fn as_color(&self) -> Option<Color> {
        match self {
            Value::Color(c) => Some(*c),
            Value::Text(t) => Color::parse(t),
            _ => None,
        }
    }

    pub fn is_truthy(&self) -> bool {
        matches!(self, Value::Bool(true))
    }

    /// `to-string`: numbers as MapLibre prints them (no `.0` on integers).
    pub fn to_text(&self) -> String {
        match self {
            Value::Null => String::new(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) if n.fract() == 0.0 && n.abs() < 1e15 => format!("{}", *n as i64),
            Value::Number(n) => n.to_string(),
            Value::Text(t) => t.to_string(),
            Value::Color(c) => format!(
                "rgba({},{},{},{})",
                (c.r * 255.0).round(),
                (c.g * 255.0).round(),
                (c.b * 255.0).round(),
                c.a
            ),
            Value::Array(items) => format!("[{}]", items.iter().map(Value::to_text).collect::<Vec<_>>().join(",")),
        }
    }

    fn from_json(json: &serde_json::Value) -> Value {
        match json {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => Value::Number(n.as_f64().unwrap_or(0.0)),
            serde_json::Value::String(s) => Value::Text(s.as_str().into()),
            serde_json::Value::Array(a) => Value::Array(a.iter().map(Value::from_json).collect()),
            serde_json::Value::Object(_) => Value::Null,
        }
    }
}

/// What an expression may ask of the feature it is evaluated for.
pub trait Feature {
    fn property(&self, name: &str) -> Value;
    /// `Point`, `LineString` or `Polygon`.
    fn geometry_type(&self) -> &'static str;
}

/// Evaluation without a feature (zoom-only properties, layer-wide values).
pub struct NoFeature;

impl Feature for NoFeature {
    fn property(&self, _name: &str) -> Value {
        Value::Null
    }
    fn geometry_type(&self) -> &'static str {
        "Point"
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compare {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arith {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Min,
    Max,
}

#[derive(Debug, Clone)]
pub enum Curve {
    Linear,
    Exponential(f64),
}

/// A compiled expression.
#[derive(Debug, Clone)]
pub enum Expr {
    Literal(Value),
    Get(Arc<str>),
    Has(Arc<str>),
    Zoom,
    GeometryType,
    Match {
        input: Box<Expr>,
        arms: Vec<(Vec<Value>, Expr)>,
        default: Box<Expr>,
    },
    Case {
        arms: Vec<(Expr, Expr)>,
        default: Box<Expr>,
    },
    Coalesce(Vec<Expr>),
    Interpolate {
        curve: Curve,
        input: Box<Expr>,
        stops: Vec<(f64, Expr)>,
    },
    Step {
        input: Box<Expr>,
        base: Box<Expr>,
        stops: Vec<(f64, Expr)>,
    },
    Compare(Compare, Box<Expr>, Box<Expr>),
    All(Vec<Expr>),
    Any(Vec<Expr>),
    Not(Box<Expr>),
    In(Box<Expr>, Vec<Value>),
    ToString(Box<Expr>),
    ToNumber(Vec<Expr>),
    Concat(Vec<Expr>),
    Upcase(Box<Expr>),
    Downcase(Box<Expr>),
    Arith(Arith, Vec<Expr>),
}

/// A bad expression: the message names the operator and what is wrong.
fn bad(what: impl Into<String>) -> RenderError {
    RenderError::BadExpression(what.into())
}

impl Expr {
    /// Compiles a property value: a literal, an expression array, or a legacy `{"stops"}` function.
    pub fn compile(json: &serde_json::Value) -> Result<Expr, RenderError> {
        match json {
            serde_json::Value::Array(items) if items.first().is_some_and(|f| f.is_string()) => compile_call(items),
            serde_json::Value::Object(map) if map.contains_key("stops") => compile_function(map),
            other => Ok(Expr::Literal(Value::from_json(other))),
        }
    }

    /// Compiles a layer filter, accepting the legacy filter syntax as well as expressions.
    pub fn compile_filter(json: &serde_json::Value) -> Result<Expr, RenderError> {
        let items = json.as_array().ok_or_else(|| bad("a filter must be an array"))?;
        let op = items
            .first()
            .and_then(|o| o.as_str())
            .ok_or_else(|| bad("a filter starts with its operator"))?;
        let legacy_key = items.get(1).and_then(|k| k.as_str());
        let key = |k: &str| match k {
            "$type" => Expr::GeometryType,
            _ => Expr::Get(k.into()),
        };
        match (op, legacy_key) {
            ("==" | "!=" | "<" | "<=" | ">" | ">=", Some(k)) if items.len() == 3 => {
                let value = Expr::Literal(Value::from_json(&items[2]));
                Ok(Expr::Compare(compare_op(op)?, Box::new(key(k)), Box::new(value)))
            }
            ("in" | "!in", Some(k)) => {
                let values = items[2..].iter().map(Value::from_json).collect();
                let test = Expr::In(Box::new(key(k)), values);
                Ok(if op == "in" { test } else { Expr::Not(Box::new(test)) })
            }
            ("has", Some(k)) => Ok(Expr::Has(k.into())),
            ("!has", Some(k)) => Ok(Expr::Not(Box::new(Expr::Has(k.into())))),
            ("all" | "any" | "none", _) => {
                let parts = items[1..].iter().map(Expr::compile_filter).collect::<Result<Vec<_>, _>>()?;
                Ok(match op {
                    "all" => Expr::All(parts),
                    "any" => Expr::Any(parts),
                    _ => Expr::Not(Box::new(Expr::Any(parts))),
                })
            }
            _ => Expr::compile(json),
        }
    }

    /// Whether the value can differ between features (else it is evaluated once per layer).
    pub fn uses_feature(&self) -> bool {
        match self {
            Expr::Get(_) | Expr::Has(_) | Expr::GeometryType => true,
            Expr::Literal(_) | Expr::Zoom => false,
            Expr::Match { input, arms, default } => {
                input.uses_feature() || default.uses_feature() || arms.iter().any(|(_, e)| e.uses_feature())
            }
            Expr::Case { arms, default } => default.uses_feature() || arms.iter().any(|(c, e)| c.uses_feature() || e.uses_feature()),
            Expr::Interpolate { input, stops, .. } => input.uses_feature() || stops.iter().any(|(_, e)| e.uses_feature()),
            Expr::Step { input, base, stops } => input.uses_feature() || base.uses_feature() || stops.iter().any(|(_, e)| e.uses_feature()),
            Expr::Compare(_, a, b) => a.uses_feature() || b.uses_feature(),
            Expr::In(a, _) | Expr::Not(a) | Expr::ToString(a) | Expr::Upcase(a) | Expr::Downcase(a) => a.uses_feature(),
            Expr::All(v) | Expr::Any(v) | Expr::Coalesce(v) | Expr::ToNumber(v) | Expr::Concat(v) | Expr::Arith(_, v) => {
                v.iter().any(Expr::uses_feature)
            }
        }
    }

    /// The categories a colour expression distinguishes, for a legend: a `match`'s labels with
    /// their colours (its default last, as "other"), a `step`'s ranges; else one entry.
    pub fn legend(&self, zoom: f64) -> Vec<(Option<String>, Color)> {
        let colour = |e: &Expr| e.eval(zoom, &NoFeature).as_color();
        let entries: Vec<(Option<String>, Color)> = match self {
            Expr::Match { arms, default, .. } => arms
                .iter()
                .filter_map(|(labels, out)| {
                    let label = labels.iter().map(Value::to_text).collect::<Vec<_>>().join(", ");
                    Some((Some(label), colour(out)?))
                })
                .chain(colour(default).map(|c| (Some("other".to_string()), c)))
                .collect(),
            Expr::Step { base, stops, .. } => {
                let first = stops.first().map(|(at, _)| format!("< {}", Value::Number(*at).to_text()));
                std::iter::once((first, colour(base)))
                    .chain(
                        stops
                            .iter()
                            .map(|(at, out)| (Some(format!("≥ {}", Value::Number(*at).to_text())), colour(out))),
                    )
                    .filter_map(|(label, c)| Some((label, c?)))
                    .collect()
            }
            other => colour(other).map(|c| (None, c)).into_iter().collect(),
        };
        entries
    }

    pub fn eval(&self, zoom: f64, feature: &dyn Feature) -> Value {
        let eval = |e: &Expr| e.eval(zoom, feature);
        match self {
            Expr::Literal(v) => v.clone(),
            Expr::Get(name) => feature.property(name),
            Expr::Has(name) => Value::Bool(feature.property(name) != Value::Null),
            Expr::Zoom => Value::Number(zoom),
            Expr::GeometryType => Value::Text(feature.geometry_type().into()),
            Expr::Match { input, arms, default } => {
                let v = eval(input);
                arms.iter()
                    .find(|(labels, _)| labels.iter().any(|l| loosely_equal(l, &v)))
                    .map_or_else(|| eval(default), |(_, out)| eval(out))
            }
            Expr::Case { arms, default } => arms
                .iter()
                .find(|(cond, _)| eval(cond).is_truthy())
                .map_or_else(|| eval(default), |(_, out)| eval(out)),
            Expr::Coalesce(items) => items.iter().map(eval).find(|v| *v != Value::Null).unwrap_or(Value::Null),
            Expr::Interpolate { curve, input, stops } => match eval(input).as_number() {
                Some(x) => interpolate(curve, x, stops, &eval),
                None => Value::Null,
            },
            Expr::Step { input, base, stops } => {
                let x = eval(input).as_number().unwrap_or(f64::NEG_INFINITY);
                stops
                    .iter()
                    .rev()
                    .find(|(at, _)| x >= *at)
                    .map_or_else(|| eval(base), |(_, out)| eval(out))
            }
            Expr::Compare(op, a, b) => Value::Bool(compare(*op, &eval(a), &eval(b))),
            Expr::All(parts) => Value::Bool(parts.iter().all(|p| eval(p).is_truthy())),
            Expr::Any(parts) => Value::Bool(parts.iter().any(|p| eval(p).is_truthy())),
            Expr::Not(p) => Value::Bool(!eval(p).is_truthy()),
            Expr::In(needle, haystack) => {
                let v = eval(needle);
                Value::Bool(haystack.iter().any(|h| loosely_equal(h, &v)))
            }
            Expr::ToString(e) => Value::Text(eval(e).to_text().into()),
            Expr::ToNumber(items) => items
                .iter()
                .map(eval)
                .find_map(|v| match v {
                    Value::Number(n) => Some(n),
                    Value::Text(t) => t.trim().parse().ok(),
                    Value::Bool(b) => Some(b as u8 as f64),
                    _ => None,
                })
                .map_or(Value::Number(0.0), Value::Number),
            Expr::Concat(items) => Value::Text(items.iter().map(|e| eval(e).to_text()).collect::<String>().into()),
            Expr::Upcase(e) => Value::Text(eval(e).to_text().to_uppercase().into()),
            Expr::Downcase(e) => Value::Text(eval(e).to_text().to_lowercase().into()),
            Expr::Arith(op, items) => arithmetic(*op, items.iter().map(|e| eval(e).as_number())),
        }
    }
}

/// `match` labels and `==` compare numbers by value (an integer attribute equals `3.0`).
fn loosely_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x == y,
        _ => a == b,
    }
}

fn compare(op: Compare, a: &Value, b: &Value) -> bool {
    let ordering = match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.partial_cmp(y),
        (Value::Text(x), Value::Text(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        _ => None,
    };
    match op {
        Compare::Eq => loosely_equal(a, b),
        Compare::Ne => !loosely_equal(a, b),
        Compare::Lt => ordering.is_some_and(|o| o.is_lt()),
        Compare::Le => ordering.is_some_and(|o| o.is_le()),
        Compare::Gt => ordering.is_some_and(|o| o.is_gt()),
        Compare::Ge => ordering.is_some_and(|o| o.is_ge()),
    }
}

fn arithmetic(op: Arith, mut values: impl Iterator<Item = Option<f64>>) -> Value {
    let Some(Some(first)) = values.next() else { return Value::Null };
    let mut acc = first;
    let mut seen = 1;
    for v in values {
        let Some(v) = v else { return Value::Null };
        seen += 1;
        acc = match op {
            Arith::Add => acc + v,
            Arith::Sub => acc - v,
            Arith::Mul => acc * v,
            Arith::Div => acc / v,
            Arith::Rem => acc % v,
            Arith::Min => acc.min(v),
            Arith::Max => acc.max(v),
        };
    }
    if op == Arith::Sub && seen == 1 {
        acc = -acc;
    }
    Value::Number(acc)
}

fn interpolate(curve: &Curve, x: f64, stops: &[(f64, Expr)], eval: &dyn Fn(&Expr) -> Value) -> Value {
    let Some(upper) = stops.iter().position(|(at, _)| *at > x) else {
        return stops.last().map_or(Value::Null, |(_, e)| eval(e));
    };
    if upper == 0 {
        return eval(&stops[0].1);
    }
    let ((x0, e0), (x1, e1)) = (&stops[upper - 1], &stops[upper]);
    let t = match curve {
        Curve::Linear => (x - x0) / (x1 - x0),
        Curve::Exponential(base) if (*base - 1.0).abs() < 1e-9 => (x - x0) / (x1 - x0),
        Curve::Exponential(base) => (base.powf(x - x0) - 1.0) / (base.powf(x1 - x0) - 1.0),
    };
    let (a, b) = (eval(e0), eval(e1));
    match (&a, &b) {
        (Value::Number(p), Value::Number(q)) => Value::Number(p + (q - p) * t),
        _ => match (a.as_color(), b.as_color()) {
            (Some(p), Some(q)) => Value::Color(p.mix(q, t as f32)),
            _ => a,
        },
    }
}

fn compare_op(op: &str) -> Result<Compare, RenderError> {
    Ok(match op {
        "==" => Compare::Eq,
        "!=" => Compare::Ne,
        "<" => Compare::Lt,
        "<=" => Compare::Le,
        ">" => Compare::Gt,
        ">=" => Compare::Ge,
        _ => return Err(bad(format!("'{op}' is not a comparison"))),
    })
}

fn boxed(json: &serde_json::Value) -> Result<Box<Expr>, RenderError> {
    Expr::compile(json).map(Box::new)
}

fn all_of(items: &[serde_json::Value]) -> Result<Vec<Expr>, RenderError> {
    items.iter().map(Expr::compile).collect()
}

fn arg<'a>(op: &str, items: &'a [serde_json::Value], i: usize) -> Result<&'a serde_json::Value, RenderError> {
    items.get(i).ok_or_else(|| bad(format!("'{op}' needs an argument at position {i}")))
}

fn stop_pairs(op: &str, items: &[serde_json::Value]) -> Result<Vec<(f64, Expr)>, RenderError> {
    if !items.len().is_multiple_of(2) || items.is_empty() {
        return Err(bad(format!("'{op}' needs input/output pairs of stops")));
    }
    items
        .chunks(2)
        .map(|pair| {
            let at = pair[0].as_f64().ok_or_else(|| bad(format!("'{op}' stop inputs must be numbers")))?;
            Ok((at, Expr::compile(&pair[1])?))
        })
        .collect()
}

fn compile_call(items: &[serde_json::Value]) -> Result<Expr, RenderError> {
    let op = items[0].as_str().unwrap_or_default();
    let a = |i| arg(op, items, i);
    let name = |i| -> Result<Arc<str>, RenderError> {
        a(i)?
            .as_str()
            .map(Into::into)
            .ok_or_else(|| bad(format!("'{op}' takes a property name")))
    };
    Ok(match op {
        "literal" => Expr::Literal(Value::from_json(a(1)?)),
        "get" => Expr::Get(name(1)?),
        "has" => Expr::Has(name(1)?),
        "zoom" => Expr::Zoom,
        "geometry-type" => Expr::GeometryType,
        "match" => {
            if items.len() < 5 || items.len().is_multiple_of(2) {
                return Err(bad("'match' takes an input, label/output pairs and a default"));
            }
            let arms = items[2..items.len() - 1]
                .chunks(2)
                .map(|pair| {
                    let labels = match &pair[0] {
                        serde_json::Value::Array(many) => many.iter().map(Value::from_json).collect(),
                        one => vec![Value::from_json(one)],
                    };
                    Ok((labels, Expr::compile(&pair[1])?))
                })
                .collect::<Result<Vec<_>, RenderError>>()?;
            Expr::Match {
                input: boxed(a(1)?)?,
                arms,
                default: boxed(&items[items.len() - 1])?,
            }
        }
        "case" => {
            if items.len() < 4 || !items.len().is_multiple_of(2) {
                return Err(bad("'case' takes condition/output pairs and a default"));
            }
            let arms = items[1..items.len() - 1]
                .chunks(2)
                .map(|pair| Ok((Expr::compile(&pair[0])?, Expr::compile(&pair[1])?)))
                .collect::<Result<Vec<_>, RenderError>>()?;
            Expr::Case {
                arms,
                default: boxed(&items[items.len() - 1])?,
            }
        }
        "coalesce" => Expr::Coalesce(all_of(&items[1..])?),
        "interpolate" => {
            let kind = a(1)?.as_array().and_then(|k| k.first()).and_then(|k| k.as_str());
            let curve = match kind {
                Some("linear") => Curve::Linear,
                Some("exponential") => Curve::Exponential(a(1)?.get(1).and_then(|b| b.as_f64()).unwrap_or(1.0)),
                _ => return Err(bad("'interpolate' supports [\"linear\"] and [\"exponential\", base]")),
            };
            Expr::Interpolate {
                curve,
                input: boxed(a(2)?)?,
                stops: stop_pairs(op, &items[3..])?,
            }
        }
        "step" => Expr::Step {
            input: boxed(a(1)?)?,
            base: boxed(a(2)?)?,
            stops: stop_pairs(op, items.get(3..).unwrap_or(&[]))?,
        },
        "==" | "!=" | "<" | "<=" | ">" | ">=" => Expr::Compare(compare_op(op)?, boxed(a(1)?)?, boxed(a(2)?)?),
        "all" => Expr::All(all_of(&items[1..])?),
        "any" => Expr::Any(all_of(&items[1..])?),
        "!" => Expr::Not(boxed(a(1)?)?),
        "in" => {
            let haystack = match a(2)? {
                serde_json::Value::Array(l) if l.first().and_then(|f| f.as_str()) == Some("literal") => l
                    .get(1)
                    .and_then(|v| v.as_array())
                    .map(|v| v.iter().map(Value::from_json).collect())
                    .unwrap_or_default(),
                serde_json::Value::Array(l) => l.iter().map(Value::from_json).collect(),
                other => vec![Value::from_json(other)],
            };
            Expr::In(boxed(a(1)?)?, haystack)
        }
        "to-string" => Expr::ToString(boxed(a(1)?)?),
        "to-number" => Expr::ToNumber(all_of(&items[1..])?),
        "concat" => Expr::Concat(all_of(&items[1..])?),
        "upcase" => Expr::Upcase(boxed(a(1)?)?),
        "downcase" => Expr::Downcase(boxed(a(1)?)?),
        "+" | "-" | "*" | "/" | "%" | "min" | "max" => {
            let op = match op {
                "+" => Arith::Add,
                "-" => Arith::Sub,
                "*" => Arith::Mul,
                "/" => Arith::Div,
                "%" => Arith::Rem,
                "min" => Arith::Min,
                _ => Arith::Max,
            };
            Expr::Arith(op, all_of(&items[1..])?)
        }
        // A plain array of strings (text-font, a literal list) is a value, not a call.
        _ if items.iter().all(|i| i.is_string()) => Expr::Literal(Value::from_json(&serde_json::Value::Array(items.to_vec()))),
        other => return Err(bad(format!("the expression '{other}' is not supported by bando's renderer"))),
    })
}

/// Legacy functions: `{"stops": [[z, v], …], "base": b}` on zoom, or with `"property"` on an attribute.
fn compile_function(map: &serde_json::Map<String, serde_json::Value>) -> Result<Expr, RenderError> {
    let stops = map["stops"].as_array().ok_or_else(|| bad("'stops' must be an array"))?;
    let pairs = stops
        .iter()
        .map(|s| {
            let at = s.get(0).and_then(|v| v.as_f64()).ok_or_else(|| bad("a stop is [input, output]"))?;
            Ok((at, Expr::Literal(Value::from_json(s.get(1).unwrap_or(&serde_json::Value::Null)))))
        })
        .collect::<Result<Vec<_>, RenderError>>()?;
    let input = Box::new(match map.get("property").and_then(|p| p.as_str()) {
        Some(p) => Expr::Get(p.into()),
        None => Expr::Zoom,
    });
    let base = map.get("base").and_then(|b| b.as_f64()).unwrap_or(1.0);
    Ok(match map.get("type").and_then(|t| t.as_str()) {
        Some("interval") => Expr::Step {
            input,
            base: Box::new(Expr::Literal(Value::Null)),
            stops: pairs,
        },
        Some("categorical") => Expr::Match {
            input,
            arms: pairs.into_iter().map(|(at, out)| (vec![Value::Number(at)], out)).collect(),
            default: Box::new(Expr::Literal(Value::Null)),
        },
        _ => Expr::Interpolate {
            curve: Curve::Exponential(base),
            input,
            stops: pairs,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Props(Vec<(&'static str, Value)>);

    impl Feature for Props {
        fn property(&self, name: &str) -> Value {
            self.0.iter().find(|(k, _)| *k == name).map_or(Value::Null, |(_, v)| v.clone())
        }
        fn geometry_type(&self) -> &'static str {
            "Polygon"
        }
    }

    fn eval(json: serde_json::Value, zoom: f64, f: &Props) -> Value {
        Expr::compile(&json).unwrap().eval(zoom, f)
    }

    #[test]
    fn the_expressions_of_bandos_styles_evaluate_as_maplibre_does() {
        let f = Props(vec![
            ("land_use", Value::Text("LUC".into())),
            ("floors", Value::Number(5.0)),
            ("value", Value::Number(3.0)),
        ]);
        let m = json!(["match", ["get", "land_use"], "ODT", "#ff0000", "LUC", "#00ff00", "#e0e0e0"]);
        assert_eq!(eval(m, 14.0, &f).as_color(), Color::parse("#00ff00"));
        let w = json!(["interpolate", ["linear"], ["zoom"], 10, 0.5, 14, 3, 18, 12]);
        assert_eq!(eval(w.clone(), 16.0, &f), Value::Number(7.5));
        assert_eq!(eval(w.clone(), 9.0, &f), Value::Number(0.5), "below the first stop");
        assert_eq!(eval(w, 20.0, &f), Value::Number(12.0), "past the last stop");
        let s = json!(["step", ["get", "floors"], "#eff3ff", 4, "#6baed6", 9, "#08519c"]);
        assert_eq!(eval(s, 14.0, &f).as_color(), Color::parse("#6baed6"));
        let c = json!([
            "case",
            [">=", ["get", "value"], 4],
            "red",
            ["==", ["get", "value"], 3],
            "blue",
            "black"
        ]);
        assert_eq!(eval(c, 14.0, &f).as_color(), Color::parse("blue"));
        let t = json!([
            "concat",
            ["upcase", ["get", "land_use"]],
            " ",
            ["to-string", ["get", "floors"]],
            " tầng"
        ]);
        assert_eq!(eval(t, 14.0, &f), Value::Text("LUC 5 tầng".into()));
        assert_eq!(eval(json!(["*", ["get", "floors"], 3]), 0.0, &f), Value::Number(15.0));
    }

    #[test]
    fn colours_interpolate_and_parse_in_every_css_form() {
        let c = eval(
            json!(["interpolate", ["linear"], ["zoom"], 0, "#000000", 10, "#ffffff"]),
            5.0,
            &Props(vec![]),
        );
        let c = c.as_color().unwrap();
        assert!((c.r - 0.5).abs() < 1e-6 && (c.a - 1.0).abs() < 1e-6);
        assert_eq!(
            Color::parse("rgba(255, 0, 0, 0.5)"),
            Some(Color {
                r: 1.0,
                g: 0.0,
                b: 0.0,
                a: 0.5
            })
        );
        assert_eq!(Color::parse("#f00"), Color::parse("#ff0000"));
        let green = Color::parse("hsl(120, 100%, 50%)").unwrap();
        assert!((green.g - 1.0).abs() < 1e-6 && green.r.abs() < 1e-6);
        assert_eq!(Color::parse("#12"), None);
    }

    #[test]
    fn legacy_filters_and_zoom_functions_still_work() {
        let f = Props(vec![("class", Value::Text("primary".into()))]);
        let filter = Expr::compile_filter(&json!([
            "all",
            ["==", "class", "primary"],
            ["==", "$type", "Polygon"],
            ["!in", "class", "x", "y"]
        ]))
        .unwrap();
        assert!(filter.eval(10.0, &f).is_truthy());
        let function = Expr::compile(&json!({"base": 2, "stops": [[10, 1], [12, 5]]})).unwrap();
        let at11 = function.eval(11.0, &f).as_number().unwrap();
        assert!((at11 - (1.0 + 4.0 / 3.0)).abs() < 1e-9, "exponential base 2 halfway: {at11}");
        assert!(Expr::compile(&json!(["frobnicate", 1])).is_err(), "an unknown operator is named");
    }
}
