//! A CQL2 filter bound to one collection as the request's view sees it: property names resolved
//! to field indices once (a hidden or unknown name is refused like an unknown queryable), every
//! comparison type-checked against the field's type, geometry literals put in CRS84 and
//! prepared, `BETWEEN` and `IN` rewritten as the comparisons they stand for. Evaluation per
//! feature is then index lookups and no allocation; unknowns (null values) follow SQL's
//! three-valued logic, and a feature is selected only when the filter is true.
//!
//! Owns the meaning of a filter against a layer, and [`Filter::envelope`]: the boxes the
//! feature's envelope must meet for the filter to hold, which `items` asks of the R-tree so a
//! filter with a spatial part never scans the layer. Knows no syntax (`ogc::cql2`) and no HTTP.

use std::cmp::Ordering;

use geo::{Intersects, PreparedGeometry, Relate};
use geo_types::{Coord, Geometry};

use super::cql2::{Comparison, Expr, Operand, SpatialOp};
use super::queryables::GEOMETRY;
use super::{datetime, OgcError};
use crate::feature::{Bbox, Feature, FieldType, Value};
use crate::policy::View;
use crate::store::LayerMeta;

/// A filter ready to test the features of one layer.
pub struct Filter {
    root: Node,
    envelope: Option<Vec<Bbox>>,
}

impl Filter {
    /// Binds `expr` to the collection `meta` as `view` sees it; `to_crs84` takes a position of
    /// the filter's CRS (`filter-crs`) to lon/lat, `None` when it has no place there.
    pub fn bind(
        expr: &Expr,
        meta: &LayerMeta,
        view: &View,
        to_crs84: &dyn Fn(Coord<f64>) -> Option<Coord<f64>>,
    ) -> Result<Filter, OgcError> {
        let binder = Binder { meta, view, to_crs84 };
        let root = binder.node(expr).map_err(|reason| OgcError::bad("filter", reason))?;
        let envelope = root.envelope();
        Ok(Filter { root, envelope })
    }

    /// The filter that holds where both `self` and `other` do.
    pub fn and(self, other: Filter) -> Filter {
        let root = Node::And(vec![self.root, other.root]);
        let envelope = root.envelope();
        Filter { root, envelope }
    }

    /// Whether the filter is true of `feature`.
    pub fn matches(&self, feature: &Feature) -> bool {
        self.root.eval(feature) == Some(true)
    }

    /// Lon/lat boxes of which a feature's envelope must meet one for the filter to hold; `None`
    /// when the filter has no spatial part that bounds it (then every feature is a candidate).
    pub fn envelope(&self) -> Option<&[Bbox]> {
        self.envelope.as_deref()
    }
}

enum Node {
    Known(Option<bool>),
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    Compare(Comparison, Term, Term),
    Like(usize, Pattern),
    IsNull(usize),
    Spatial(Box<Spatial>),
}

/// One side of a comparison.
#[derive(Debug, Clone)]
enum Term {
    Field(usize),
    /// A text field read as a date-time (compared with a `DATE` or `TIMESTAMP`).
    FieldInstant(usize),
    Number(f64),
    Text(Box<str>),
    Bool(bool),
    Instant(i128),
}

/// What a term is worth for one feature.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Scalar<'a> {
    Number(f64),
    Text(&'a str),
    Bool(bool),
    Instant(i128),
}

impl Scalar<'_> {
    fn compare(&self, other: &Scalar) -> Option<Ordering> {
        match (self, other) {
            (Scalar::Number(a), Scalar::Number(b)) => a.partial_cmp(b),
            (Scalar::Text(a), Scalar::Text(b)) => Some(a.cmp(b)),
            (Scalar::Bool(a), Scalar::Bool(b)) => Some(a.cmp(b)),
            (Scalar::Instant(a), Scalar::Instant(b)) => Some(a.cmp(b)),
            _ => None,
        }
    }
}

impl Term {
    /// The term's value for `feature`; `None` for a null (or a date-time that does not parse).
    fn value<'a>(&'a self, feature: &'a Feature) -> Option<Scalar<'a>> {
        Some(match self {
            Term::Field(i) => match &feature.properties[*i] {
                Value::Null => return None,
                Value::Bool(b) => Scalar::Bool(*b),
                Value::Int(v) => Scalar::Number(*v as f64),
                Value::Float(v) => Scalar::Number(*v),
                Value::Text(t) => Scalar::Text(t),
            },
            Term::FieldInstant(i) => match &feature.properties[*i] {
                Value::Text(t) => Scalar::Instant(datetime::instant(t)?),
                _ => return None,
            },
            Term::Number(v) => Scalar::Number(*v),
            Term::Text(t) => Scalar::Text(t),
            Term::Bool(b) => Scalar::Bool(*b),
            Term::Instant(t) => Scalar::Instant(*t),
        })
    }
}

impl Node {
    /// Three-valued: `None` is unknown.
    fn eval(&self, feature: &Feature) -> Option<bool> {
        match self {
            Node::Known(v) => *v,
            Node::And(parts) => {
                let mut unknown = false;
                for p in parts {
                    match p.eval(feature) {
                        Some(false) => return Some(false),
                        None => unknown = true,
                        Some(true) => {}
                    }
                }
                if unknown {
                    None
                } else {
                    Some(true)
                }
            }
            Node::Or(parts) => {
                let mut unknown = false;
                for p in parts {
                    match p.eval(feature) {
                        Some(true) => return Some(true),
                        None => unknown = true,
                        Some(false) => {}
                    }
                }
                if unknown {
                    None
                } else {
                    Some(false)
                }
            }
            Node::Not(inner) => inner.eval(feature).map(|b| !b),
            Node::Compare(op, a, b) => {
                let ordering = a.value(feature)?.compare(&b.value(feature)?)?;
                Some(op.holds(ordering))
            }
            Node::Like(i, pattern) => match &feature.properties[*i] {
                Value::Text(t) => Some(pattern.matches(t)),
                _ => None,
            },
            Node::IsNull(i) => Some(feature.properties[*i] == Value::Null),
            Node::Spatial(s) => Some(s.holds(&feature.geometry)),
        }
    }

    fn envelope(&self) -> Option<Vec<Bbox>> {
        match self {
            Node::Spatial(s) if s.op != SpatialOp::Disjoint => Some(vec![s.bbox]),
            Node::Not(inner) => match inner.as_ref() {
                Node::Spatial(s) if s.op == SpatialOp::Disjoint => Some(vec![s.bbox]),
                _ => None,
            },
            Node::Known(Some(false)) | Node::Known(None) => Some(Vec::new()),
            // Every part must hold: the tightest part's boxes bound the whole.
            Node::And(parts) => parts.iter().filter_map(Node::envelope).min_by(|a, b| area(a).total_cmp(&area(b))),
            // One part must hold: the filter is bounded only if every part is.
            Node::Or(parts) => parts
                .iter()
                .map(Node::envelope)
                .collect::<Option<Vec<_>>>()
                .map(|boxes| boxes.concat()),
            _ => None,
        }
    }
}

fn area(boxes: &[Bbox]) -> f64 {
    boxes.iter().map(|b| (b.east - b.west) * (b.north - b.south)).sum()
}

/// A spatial function of the feature's geometry and a literal.
struct Spatial {
    op: SpatialOp,
    literal: Geometry<f64>,
    /// The literal's DE-9IM graph, built once for every feature tested against it.
    prepared: PreparedGeometry<'static, Geometry<f64>>,
    bbox: Bbox,
}

impl Spatial {
    fn holds(&self, geometry: &Geometry<f64>) -> bool {
        let near = Bbox::of(geometry).is_some_and(|b| b.intersects(&self.bbox));
        match self.op {
            SpatialOp::Intersects => near && geometry.intersects(&self.literal),
            SpatialOp::Disjoint => !near || !geometry.intersects(&self.literal),
            op => {
                if !near {
                    return false;
                }
                let m = geometry.relate(&self.prepared);
                match op {
                    SpatialOp::Equals => m.is_equal_topo(),
                    SpatialOp::Touches => m.is_touches(),
                    SpatialOp::Within => m.is_within(),
                    SpatialOp::Overlaps => m.is_overlaps(),
                    SpatialOp::Crosses => m.is_crosses(),
                    _ => m.is_contains(),
                }
            }
        }
    }
}

/// A `LIKE` pattern: `%` any run of characters, `_` one character, `\` escapes the next.
#[derive(Debug, PartialEq)]
struct Pattern(Vec<Piece>);

#[derive(Debug, Clone, Copy, PartialEq)]
enum Piece {
    Any,
    One,
    Char(char),
}

impl Pattern {
    fn new(text: &str) -> Pattern {
        let mut pieces = Vec::new();
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            pieces.push(match c {
                '%' => Piece::Any,
                '_' => Piece::One,
                '\\' => Piece::Char(chars.next().unwrap_or('\\')),
                c => Piece::Char(c),
            });
        }
        Pattern(pieces)
    }

    /// Whether the whole of `text` matches: the greedy wildcard match, backtracking only to the
    /// last `%` (linear in practice, never exponential).
    fn matches(&self, text: &str) -> bool {
        let pieces = &self.0;
        let (mut p, mut t) = (0usize, 0usize);
        let mut resume: Option<(usize, usize)> = None;
        loop {
            let step = match pieces.get(p) {
                Some(Piece::Any) => {
                    resume = Some((p + 1, t));
                    p += 1;
                    continue;
                }
                Some(Piece::One) => text[t..].chars().next().map(char::len_utf8),
                Some(Piece::Char(c)) => text[t..].starts_with(*c).then(|| c.len_utf8()),
                None if t == text.len() => return true,
                None => None,
            };
            if let Some(len) = step {
                p += 1;
                t += len;
                continue;
            }
            // Let the last % take one more character and try again from after it.
            let Some((after, from)) = resume else { return false };
            let Some(c) = text[from..].chars().next() else { return false };
            resume = Some((after, from + c.len_utf8()));
            (p, t) = (after, from + c.len_utf8());
        }
    }
}

/// What a term holds, for type checks and messages.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Number,
    Text,
    Bool,
    Instant,
}

impl Kind {
    fn of(ty: FieldType) -> Kind {
        match ty {
            FieldType::Int | FieldType::Float => Kind::Number,
            FieldType::Text => Kind::Text,
            FieldType::Bool => Kind::Bool,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Number => "a number",
            Kind::Text => "a string",
            Kind::Bool => "a boolean",
            Kind::Instant => "a DATE or TIMESTAMP",
        }
    }
}

struct Binder<'a> {
    meta: &'a LayerMeta,
    view: &'a View,
    to_crs84: &'a dyn Fn(Coord<f64>) -> Option<Coord<f64>>,
}

impl Binder<'_> {
    fn node(&self, expr: &Expr) -> Result<Node, String> {
        Ok(match expr {
            Expr::Literal(b) => Node::Known(Some(*b)),
            Expr::And(parts) => Node::And(parts.iter().map(|p| self.node(p)).collect::<Result<_, _>>()?),
            Expr::Or(parts) => Node::Or(parts.iter().map(|p| self.node(p)).collect::<Result<_, _>>()?),
            Expr::Not(inner) => Node::Not(Box::new(self.node(inner)?)),
            Expr::Compare(op, a, b) => self.compare(*op, a, b)?,
            Expr::Between(v, low, high) => Node::And(vec![self.compare(Comparison::Ge, v, low)?, self.compare(Comparison::Le, v, high)?]),
            Expr::In(v, list) => Node::Or(
                list.iter()
                    .map(|item| self.compare(Comparison::Eq, v, item))
                    .collect::<Result<_, _>>()?,
            ),
            Expr::Like(v, pattern) => {
                let Operand::Text(pattern) = pattern else {
                    return Err("LIKE takes a string pattern such as 'Lê%'".into());
                };
                let field = self.field(v, "LIKE")?;
                if self.meta.fields[field].ty != FieldType::Text {
                    return Err(format!(
                        "LIKE needs a text property; '{}' is {}",
                        self.meta.fields[field].name,
                        Kind::of(self.meta.fields[field].ty).name()
                    ));
                }
                Node::Like(field, Pattern::new(pattern))
            }
            Expr::IsNull(v) => match v {
                Operand::Property(name) if name == GEOMETRY => Node::Known(Some(false)),
                Operand::Property(_) => Node::IsNull(self.field(v, "IS NULL")?),
                _ => Node::Known(Some(false)),
            },
            Expr::Spatial(op, a, b) => self.spatial(*op, a, b)?,
        })
    }

    /// The field index of the property `operand`, which `what` needs.
    fn field(&self, operand: &Operand, what: &str) -> Result<usize, String> {
        match operand {
            Operand::Property(name) => self.view.field_index(self.meta, name).ok_or_else(|| self.unknown(name)),
            _ => Err(format!("{what} takes a property first")),
        }
    }

    fn unknown(&self, name: &str) -> String {
        format!(
            "'{name}' is not a queryable of collection '{}'; GET /ogc/collections/{}/queryables lists them",
            self.meta.name, self.meta.name
        )
    }

    fn term(&self, operand: &Operand) -> Result<(Term, Kind), String> {
        Ok(match operand {
            Operand::Property(name) if name == GEOMETRY => {
                return Err(format!(
                    "'{GEOMETRY}' is compared by the spatial functions (S_INTERSECTS, S_WITHIN, ...), not by =, <, LIKE, BETWEEN or IN"
                ))
            }
            Operand::Property(name) => {
                let i = self.view.field_index(self.meta, name).ok_or_else(|| self.unknown(name))?;
                (Term::Field(i), Kind::of(self.meta.fields[i].ty))
            }
            Operand::Number(v) => (Term::Number(*v), Kind::Number),
            Operand::Text(t) => (Term::Text(t.as_str().into()), Kind::Text),
            Operand::Bool(b) => (Term::Bool(*b), Kind::Bool),
            Operand::Date(d) => (Term::Instant(date(d)?), Kind::Instant),
            Operand::Timestamp(t) => (Term::Instant(timestamp(t)?), Kind::Instant),
            Operand::Geometry(_) => return Err("a geometry is compared by the spatial functions, not by =, <, BETWEEN or IN".into()),
        })
    }

    fn compare(&self, op: Comparison, a: &Operand, b: &Operand) -> Result<Node, String> {
        let (mut a_term, a_kind) = self.term(a)?;
        let (mut b_term, b_kind) = self.term(b)?;
        // A text field compared with a DATE or TIMESTAMP is read as a date-time.
        let as_instant = |term: &mut Term, kind: Kind, other: Kind| match (&*term, kind, other) {
            (Term::Field(i), Kind::Text, Kind::Instant) => {
                *term = Term::FieldInstant(*i);
                Kind::Instant
            }
            _ => kind,
        };
        let a_kind2 = as_instant(&mut a_term, a_kind, b_kind);
        let b_kind2 = as_instant(&mut b_term, b_kind, a_kind);
        if a_kind2 != b_kind2 {
            let name = |o: &Operand| match o {
                Operand::Property(n) => format!("property '{n}'"),
                _ => "the literal".to_string(),
            };
            return Err(format!(
                "{} is {} but {} is {}: compare values of one type",
                name(a),
                a_kind.name(),
                name(b),
                b_kind.name()
            ));
        }
        if let (Some(x), Some(y)) = (literal(&a_term), literal(&b_term)) {
            return Ok(Node::Known(x.compare(&y).map(|o| op.holds(o))));
        }
        Ok(Node::Compare(op, a_term, b_term))
    }

    fn spatial(&self, op: SpatialOp, a: &Operand, b: &Operand) -> Result<Node, String> {
        let is_geometry = |o: &Operand| matches!(o, Operand::Property(n) if n == GEOMETRY);
        let (op, literal) = match (a, b) {
            (p, Operand::Geometry(g)) if is_geometry(p) => (op, g),
            (Operand::Geometry(g), p) if is_geometry(p) => (op.converse(), g),
            (Operand::Property(name), _) | (_, Operand::Property(name)) if !is_geometry(&Operand::Property(name.clone())) => {
                return Err(format!(
                    "a spatial function compares the property '{GEOMETRY}' with a geometry literal; '{name}' is not a geometry"
                ))
            }
            _ => {
                return Err(format!(
                    "a spatial function compares the property '{GEOMETRY}' with one geometry literal"
                ))
            }
        };
        let literal = self.in_crs84(literal)?;
        let bbox = Bbox::of(&literal).ok_or("the geometry literal is empty")?;
        let prepared = PreparedGeometry::from(literal.clone());
        Ok(Node::Spatial(Box::new(Spatial {
            op,
            literal,
            prepared,
            bbox,
        })))
    }

    /// The literal with each position taken to lon/lat, and checked to lie there.
    fn in_crs84(&self, literal: &Geometry<f64>) -> Result<Geometry<f64>, String> {
        use geo::MapCoords;
        literal.try_map_coords(|c| {
            (self.to_crs84)(c)
                .filter(|p| (-180.0..=180.0).contains(&p.x) && (-90.0..=90.0).contains(&p.y))
                .ok_or_else(|| {
                    format!(
                        "the position ({} {}) of a geometry literal is not on the globe in filter-crs (CRS84 is longitude, latitude; EPSG:4326 is latitude, longitude)",
                        c.x, c.y
                    )
                })
        })
    }
}

/// The term's value when it is a literal (the same for every feature).
fn literal(term: &Term) -> Option<Scalar<'_>> {
    match term {
        Term::Field(_) | Term::FieldInstant(_) => None,
        Term::Number(v) => Some(Scalar::Number(*v)),
        Term::Text(t) => Some(Scalar::Text(t)),
        Term::Bool(b) => Some(Scalar::Bool(*b)),
        Term::Instant(t) => Some(Scalar::Instant(*t)),
    }
}

fn date(text: &str) -> Result<i128, String> {
    datetime::date(text).ok_or_else(|| format!("DATE('{text}') is not a date such as 2024-05-01"))
}

fn timestamp(text: &str) -> Result<i128, String> {
    datetime::timestamp(text).ok_or_else(|| format!("TIMESTAMP('{text}') is not an RFC 3339 date-time such as 2024-05-01T10:00:00Z"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ogc::cql2::{self, Lang};
    use crate::ogc::test_layer;
    use geo_types::polygon;

    fn feature(floors: Option<i64>, use_: &str, seen: &str, x: f64) -> Feature {
        Feature {
            id: 1,
            geometry: Geometry::Polygon(
                polygon![(x: x, y: 0.0), (x: x + 1.0, y: 0.0), (x: x + 1.0, y: 1.0), (x: x, y: 1.0), (x: x, y: 0.0)],
            ),
            properties: vec![
                floors.map_or(Value::Null, Value::Int),
                Value::Text(use_.into()),
                Value::Text(seen.into()),
                Value::Bool(true),
            ],
        }
    }

    fn bind(text: &str) -> Result<Filter, OgcError> {
        Filter::bind(&cql2::parse(text, Lang::Text)?, &test_layer(), &View::open(), &Some)
    }

    fn holds(text: &str, f: &Feature) -> bool {
        bind(text).unwrap().matches(f)
    }

    #[test]
    fn comparisons_follow_field_types_and_three_valued_logic() {
        let f = feature(Some(3), "shop", "2024-05-01T10:00:00Z", 0.0);
        let null = feature(None, "shop", "not a time", 0.0);
        assert!(holds("floors = 3 AND floors BETWEEN 2.5 AND 3 AND use IN ('home', 'shop')", &f));
        assert!(holds("open = TRUE AND use <> 'home' AND use > 'sho'", &f));
        assert!(holds(
            "seen_at > TIMESTAMP('2024-05-01T09:59:59Z') AND seen_at < DATE('2024-05-02')",
            &f
        ));
        assert!(!holds("floors = 3", &null) && !holds("NOT floors = 3", &null));
        assert!(holds("floors IS NULL AND NOT (floors = 3 AND FALSE) ", &null));
        assert!(holds("floors = 3 OR TRUE", &null) && !holds("seen_at > DATE('2000-01-01')", &null));
        assert!(holds("1 = 1", &f) && !holds("'a' > 'b'", &f));
    }

    #[test]
    fn type_mistakes_hidden_and_unknown_names_are_refused() {
        for (filter, says) in [
            ("floors = 'three'", "property 'floors' is a number but the literal is a string"),
            ("colour = 'red'", "'colour' is not a queryable of collection 'b'"),
            ("use LIKE 3", "string pattern"),
            ("floors LIKE '3%'", "LIKE needs a text property"),
            ("geometry = 3", "spatial functions"),
            ("S_INTERSECTS(use, POINT(0 0))", "'use' is not a geometry"),
            ("S_INTERSECTS(geometry, POINT(200 0))", "not on the globe"),
            ("seen_at > DATE('May')", "is not a date"),
        ] {
            let e = bind(filter).err().unwrap().to_string();
            assert!(e.starts_with("parameter 'filter'") && e.contains(says), "{filter}: {e}");
        }
    }

    #[test]
    fn like_patterns() {
        for (pattern, text, want) in [
            ("Lê%", "Lê Lợi", true),
            ("%Lợi", "Lê Lợi", true),
            ("L_ L%i", "Lê Lợi", true),
            ("%ê%ợ%", "Lê Lợi", true),
            ("Lê", "Lê Lợi", false),
            ("%x%", "Lê Lợi", false),
            ("100\\%", "100%", true),
            ("100\\%", "1000", false),
            ("a%b%c", "abxbc", true),
            ("", "", true),
            ("%", "", true),
        ] {
            assert_eq!(Pattern::new(pattern).matches(text), want, "{pattern} {text}");
        }
    }

    #[test]
    fn spatial_functions_and_their_envelope() {
        let f = feature(Some(1), "a", "", 0.0);
        assert!(holds("S_INTERSECTS(geometry, POINT(0.5 0.5))", &f));
        assert!(holds(
            "S_CONTAINS(geometry, POINT(0.5 0.5)) AND S_WITHIN(POINT(0.5 0.5), geometry)",
            &f
        ));
        assert!(holds(
            "S_WITHIN(geometry, BBOX(-1, -1, 2, 2)) AND S_DISJOINT(geometry, POINT(5 5))",
            &f
        ));
        assert!(holds(
            "S_TOUCHES(geometry, LINESTRING(1 0, 2 0)) AND S_OVERLAPS(geometry, BBOX(0.5, 0.5, 2, 2))",
            &f
        ));
        assert!(holds(
            "S_CROSSES(geometry, LINESTRING(-1 0.5, 0.5 0.5)) AND S_EQUALS(geometry, BBOX(0, 0, 1, 1))",
            &f
        ));
        assert!(!holds("S_INTERSECTS(geometry, POINT(1.5 0.5))", &f));
        let boxes = |text: &str| {
            bind(text)
                .unwrap()
                .envelope()
                .map(|b| b.iter().map(|b| b.to_array()).collect::<Vec<_>>())
        };
        assert_eq!(
            boxes("S_INTERSECTS(geometry, POINT(1 2)) AND floors = 1"),
            Some(vec![[1.0, 2.0, 1.0, 2.0]])
        );
        assert_eq!(
            boxes("S_WITHIN(geometry, BBOX(0,0,1,1)) OR NOT S_DISJOINT(geometry, POINT(5 5))").map(|b| b.len()),
            Some(2)
        );
        assert_eq!(boxes("S_INTERSECTS(geometry, POINT(1 2)) OR floors = 1"), None);
        assert_eq!(boxes("S_DISJOINT(geometry, POINT(1 2))"), None);
        assert_eq!(boxes("FALSE"), Some(vec![]));
        // filter-crs EPSG:4326: latitude first.
        let swap = |c: Coord<f64>| Some(Coord { x: c.y, y: c.x });
        let lat_lon = Filter::bind(
            &cql2::parse("S_INTERSECTS(geometry, POINT(0.5 0.25))", Lang::Text).unwrap(),
            &test_layer(),
            &View::open(),
            &swap,
        )
        .unwrap();
        assert_eq!(lat_lon.envelope().unwrap()[0].to_array(), [0.25, 0.5, 0.25, 0.5]);
    }
}
