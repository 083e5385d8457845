//! CQL2 (OGC 21-065), the filter language of OGC API Features Part 3: its text and JSON
//! encodings read into one syntax tree, [`Expr`]. Covers the classes bando declares: Basic CQL2
//! (`AND`, `OR`, `NOT`, comparisons, `IS NULL`, string, number, boolean, `DATE` and `TIMESTAMP`
//! literals), Advanced Comparison Operators (`LIKE`, `BETWEEN`, `IN`) and the Spatial Functions
//! (`S_INTERSECTS`, `S_EQUALS`, `S_DISJOINT`, `S_TOUCHES`, `S_WITHIN`, `S_OVERLAPS`,
//! `S_CROSSES`, `S_CONTAINS`) over WKT / GeoJSON / `BBOX` literals.
//!
//! Owns: syntax only. Every mistake is an [`OgcError`] on the `filter` parameter saying where and
//! what was expected; nesting is bounded ([`MAX_DEPTH`]) and so is the size of geometry literals
//! ([`MAX_VERTICES`]), so no filter makes the parser recurse or allocate without bound.
//! Knows nothing of layers, fields or CRSs: `ogc::filter` binds a tree to a collection.
//!
//! Why not the `cql2` crate: its releases 0.4-0.6 need geo 0.31+, which cannot be built beside
//! bando's geo 0.30 (their i_overlay pins i_float ~1.16, geo 0.30's ~1.7, one crate version per
//! semver range); 0.3.7, the last that builds, brings 74 crates (jsonschema, fancy-regex, pest,
//! geozero, five rstar versions) and turns on serde_json's `preserve_order` for all of bando,
//! and a filter still has to be bound to typed fields and evaluated over the R-tree here.

mod geometry;
mod json;
mod text;

use geo_types::Geometry;

use super::OgcError;

/// Deepest nesting of expressions (and geometry collections) a filter may have.
pub const MAX_DEPTH: usize = 64;
/// Most coordinates all geometry literals of one filter may hold together.
pub const MAX_VERTICES: usize = 100_000;

/// A CQL2 expression, as written (names unresolved).
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Literal(bool),
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Compare(Comparison, Operand, Operand),
    Like(Operand, Operand),
    Between(Operand, Operand, Operand),
    In(Operand, Vec<Operand>),
    IsNull(Operand),
    Spatial(SpatialOp, Operand, Operand),
}

/// Something compared: a property or a literal.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Property(String),
    Text(String),
    Number(f64),
    Bool(bool),
    /// `DATE('...')` / `{"date": ...}`, as written.
    Date(String),
    /// `TIMESTAMP('...')` / `{"timestamp": ...}`, as written.
    Timestamp(String),
    /// Coordinates as written: in the filter's CRS, its axis order.
    Geometry(Geometry<f64>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Comparison {
    fn from_symbol(s: &str) -> Option<Comparison> {
        Some(match s {
            "=" => Comparison::Eq,
            "<>" => Comparison::Ne,
            "<" => Comparison::Lt,
            "<=" => Comparison::Le,
            ">" => Comparison::Gt,
            ">=" => Comparison::Ge,
            _ => return None,
        })
    }

    /// Whether `ordering` (left against right) satisfies the comparison.
    pub fn holds(self, ordering: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            Comparison::Eq => ordering == Equal,
            Comparison::Ne => ordering != Equal,
            Comparison::Lt => ordering == Less,
            Comparison::Le => ordering != Greater,
            Comparison::Gt => ordering == Greater,
            Comparison::Ge => ordering != Less,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpatialOp {
    Intersects,
    Equals,
    Disjoint,
    Touches,
    Within,
    Overlaps,
    Crosses,
    Contains,
}

impl SpatialOp {
    /// The function named `name` (`S_INTERSECTS`, any case).
    fn from_name(name: &str) -> Option<SpatialOp> {
        let name = name.to_ascii_lowercase();
        Some(match name.as_str() {
            "s_intersects" => SpatialOp::Intersects,
            "s_equals" => SpatialOp::Equals,
            "s_disjoint" => SpatialOp::Disjoint,
            "s_touches" => SpatialOp::Touches,
            "s_within" => SpatialOp::Within,
            "s_overlaps" => SpatialOp::Overlaps,
            "s_crosses" => SpatialOp::Crosses,
            "s_contains" => SpatialOp::Contains,
            _ => return None,
        })
    }

    /// The relation with its arguments swapped: `S_WITHIN(a, b)` is `S_CONTAINS(b, a)`.
    pub fn converse(self) -> SpatialOp {
        match self {
            SpatialOp::Within => SpatialOp::Contains,
            SpatialOp::Contains => SpatialOp::Within,
            symmetric => symmetric,
        }
    }
}

/// The filter languages of `filter-lang`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Text,
    Json,
}

impl Lang {
    pub fn parse(name: &str) -> Result<Lang, OgcError> {
        match name.trim() {
            "cql2-text" => Ok(Lang::Text),
            "cql2-json" => Ok(Lang::Json),
            other => Err(OgcError::bad(
                "filter-lang",
                format!("'{other}' is not a filter language of this server; use cql2-text or cql2-json"),
            )),
        }
    }
}

/// Reads a filter written in `lang`.
pub fn parse(filter: &str, lang: Lang) -> Result<Expr, OgcError> {
    match lang {
        Lang::Text => text::parse(filter).map_err(|e| {
            if filter.trim_start().starts_with('{') {
                OgcError::bad("filter", format!("{e}; a CQL2 JSON filter needs filter-lang=cql2-json"))
            } else {
                OgcError::bad("filter", e)
            }
        }),
        Lang::Json => json::parse(filter).map_err(|e| OgcError::bad("filter", e)),
    }
}

/// The spatial functions, as the messages name them.
const SPATIAL_FUNCTIONS: &str = "S_INTERSECTS, S_EQUALS, S_DISJOINT, S_TOUCHES, S_WITHIN, S_OVERLAPS, S_CROSSES, S_CONTAINS";

#[cfg(test)]
mod tests {
    use super::*;

    /// The text and JSON encodings of the same filters read into the same tree.
    #[test]
    fn text_and_json_agree() {
        let pairs = [
            (
                "floors >= 3 AND NOT use = 'shop'",
                r#"{"op":"and","args":[{"op":">=","args":[{"property":"floors"},3]},{"op":"not","args":[{"op":"=","args":[{"property":"use"},"shop"]}]}]}"#,
            ),
            (
                "name LIKE 'Lê%' OR area BETWEEN 10 AND 20.5",
                r#"{"op":"or","args":[{"op":"like","args":[{"property":"name"},"Lê%"]},{"op":"between","args":[{"property":"area"},10,20.5]}]}"#,
            ),
            (
                "kind IN ('a', 'b') AND note IS NULL",
                r#"{"op":"and","args":[{"op":"in","args":[{"property":"kind"},["a","b"]]},{"op":"isNull","args":[{"property":"note"}]}]}"#,
            ),
            (
                "S_INTERSECTS(geometry, POINT(107.5 16.4)) AND seen_at > TIMESTAMP('2024-01-01T00:00:00Z')",
                r#"{"op":"and","args":[{"op":"s_intersects","args":[{"property":"geometry"},{"type":"Point","coordinates":[107.5,16.4]}]},{"op":">","args":[{"property":"seen_at"},{"timestamp":"2024-01-01T00:00:00Z"}]}]}"#,
            ),
            (
                "S_WITHIN(geometry, BBOX(107, 16, 108, 17))",
                r#"{"op":"s_within","args":[{"property":"geometry"},{"bbox":[107,16,108,17]}]}"#,
            ),
        ];
        for (text, json) in pairs {
            assert_eq!(parse(text, Lang::Text).unwrap(), parse(json, Lang::Json).unwrap(), "{text}");
        }
    }

    #[test]
    fn a_json_filter_sent_as_text_is_told_its_language() {
        let e = parse(r#"{"op":"=","args":[{"property":"a"},1]}"#, Lang::Text)
            .unwrap_err()
            .to_string();
        assert!(e.contains("filter-lang=cql2-json"), "{e}");
        assert!(Lang::parse("cql").is_err());
    }
}
