//! The query string of an OGC request, checked: each parameter given at most once, none the
//! endpoint does not know (the message lists what it takes), and every value turned into what
//! the selection needs (`limit`, `offset`, `bbox` in `bbox-crs` as one or two lon/lat boxes or
//! a spatial filter, `datetime`, property equality filters bound to field indices, the CQL2
//! `filter` in `filter-crs`, and the `crs` of the answer).

use std::collections::BTreeMap;

use geo_types::{Coord, Geometry, LineString, Polygon};

use super::cql2::{self, Expr, Lang, Operand, SpatialOp};
use super::crs::{self, Crs};
use super::datetime::{self, Interval};
use super::filter::Filter;
use super::queryables::GEOMETRY;
use super::{box_corners, OgcError, DEFAULT_LIMIT, MAX_LIMIT};
use crate::feature::{parse_bool, Bbox, FieldType, Value};
use crate::policy::View;
use crate::store::LayerMeta;

/// The parameters of one request, each once.
pub struct Query(BTreeMap<String, String>);

/// The parameters of `/items` besides the layer's field names.
const ITEMS_PARAMS: &[&str] = &[
    "f",
    "limit",
    "offset",
    "bbox",
    "bbox-crs",
    "crs",
    "datetime",
    "filter",
    "filter-lang",
    "filter-crs",
];

impl Query {
    /// Parses a raw (percent-encoded) query string.
    pub fn parse(raw: &str) -> Result<Query, OgcError> {
        let mut map = BTreeMap::new();
        for (key, value) in form_urlencoded::parse(raw.as_bytes()) {
            if map.insert(key.to_string(), value.to_string()).is_some() {
                return Err(OgcError::Repeated(key.to_string()));
            }
        }
        Ok(Query(map))
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// The CRS the parameter `key` names; CRS84 when it is not given.
    pub fn crs(&self, key: &str) -> Result<Crs, OgcError> {
        self.get(key).map_or(Ok(Crs::Crs84), |text| Crs::parse(key, text))
    }

    /// Refuses any parameter but `f` on a document that takes no other.
    pub fn only_format(&self) -> Result<(), OgcError> {
        self.only(&["f"], "this document takes only f=json or f=html")
    }

    /// Refuses any parameter not in `known`; `allowed` says what the endpoint takes.
    pub fn only(&self, known: &[&str], allowed: &str) -> Result<(), OgcError> {
        self.refuse_unknown(known, |_| false, allowed)
    }

    fn refuse_unknown(&self, known: &[&str], is_field: impl Fn(&str) -> bool, allowed: &str) -> Result<(), OgcError> {
        match self.0.keys().find(|k| !known.contains(&k.as_str()) && !is_field(k)) {
            Some(name) => Err(OgcError::UnknownParameter {
                name: name.clone(),
                allowed: allowed.to_string(),
            }),
            None => Ok(()),
        }
    }

    /// The query string of the parameters that select features (everything but `f` and
    /// `offset`), for the links of a page.
    pub fn selection_string(&self) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        s.extend_pairs(self.0.iter().filter(|(k, _)| k.as_str() != "f" && k.as_str() != "offset"));
        s.finish()
    }

    fn count(&self, key: &str, default: usize, min: usize, max: usize) -> Result<usize, OgcError> {
        let Some(text) = self.get(key) else { return Ok(default) };
        match text.trim().parse::<usize>() {
            Ok(v) if (min..=max).contains(&v) => Ok(v),
            _ => Err(OgcError::bad(key, format!("'{text}' is not a whole number {min}..{max}"))),
        }
    }
}

/// What `/items` selects and which page of it.
pub struct ItemsQuery {
    pub limit: usize,
    pub offset: usize,
    /// Lon/lat boxes a feature must intersect (two when `bbox` crosses the antimeridian).
    pub boxes: Option<Vec<Bbox>>,
    /// The time field and the span it must fall in.
    pub datetime: Option<(usize, Interval)>,
    /// Field index and the value it must equal.
    pub equals: Vec<(usize, Value)>,
    /// The CQL2 `filter`, bound to the collection, with a `bbox` in a projected `bbox-crs`.
    pub filter: Option<Filter>,
    /// The CRS of the answer's geometries.
    pub crs: Crs,
}

impl ItemsQuery {
    pub fn parse(query: &Query, meta: &LayerMeta, view: &View) -> Result<ItemsQuery, OgcError> {
        let allowed = format!(
            "/items takes {} and this collection's visible fields as equality filters",
            ITEMS_PARAMS.join(", ")
        );
        query.refuse_unknown(ITEMS_PARAMS, |k| view.field_index(meta, k).is_some(), &allowed)?;
        let datetime = match query.get("datetime") {
            None => None,
            Some(text) => {
                let field = datetime::time_field(meta)
                    .filter(|&i| view.field_index(meta, &meta.fields[i].name).is_some())
                    .ok_or_else(|| OgcError::bad("datetime", format!("collection '{}' has no time field", meta.name)))?;
                Some((field, datetime::parse(text)?))
            }
        };
        let mut equals = Vec::new();
        for (name, text) in &query.0 {
            if ITEMS_PARAMS.contains(&name.as_str()) {
                continue;
            }
            if let Some(i) = view.field_index(meta, name) {
                equals.push((i, typed(name, text, meta.fields[i].ty)?));
            }
        }
        let (boxes, area) = match query.get("bbox") {
            None if query.get("bbox-crs").is_some() => return Err(OgcError::bad("bbox-crs", "is given without a bbox; add bbox=...")),
            None => (None, None),
            Some(text) => match bbox(text, query.crs("bbox-crs")?)? {
                Selection::Boxes(boxes) => (Some(boxes), None),
                Selection::Area(crs, ring) => (None, Some(area_filter(crs, ring, meta, view)?)),
            },
        };
        let filter = match (filter(query, meta, view)?, area) {
            (Some(f), Some(a)) => Some(f.and(a)),
            (f, a) => f.or(a),
        };
        Ok(ItemsQuery {
            limit: query.count("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)?,
            offset: query.count("offset", 0, 0, usize::MAX)?,
            boxes,
            datetime,
            equals,
            filter,
            crs: query.crs("crs")?,
        })
    }
}

/// `filter` in `filter-lang` (CQL2 text unless told) with its geometries in `filter-crs`.
fn filter(query: &Query, meta: &LayerMeta, view: &View) -> Result<Option<Filter>, OgcError> {
    let Some(text) = query.get("filter") else {
        for key in ["filter-lang", "filter-crs"] {
            if query.get(key).is_some() {
                return Err(OgcError::bad(key, "is given without a filter; add filter=..."));
            }
        }
        return Ok(None);
    };
    let lang = query.get("filter-lang").map(Lang::parse).transpose()?.unwrap_or(Lang::Text);
    let expr = cql2::parse(text, lang)?;
    let to_crs84 = crs::to_crs84(query.crs("filter-crs")?)?;
    Filter::bind(&expr, meta, view, &to_crs84).map(Some)
}

/// A `bbox` in a projected `bbox-crs` is a quadrilateral with curved sides in lon/lat: the filter
/// `S_INTERSECTS(geometry, ring)` with the ring's sides densified, so the R-tree picks the
/// candidates and each is tested against the box's true outline.
fn area_filter(crs: Crs, ring: Polygon<f64>, meta: &LayerMeta, view: &View) -> Result<Filter, OgcError> {
    let expr = Expr::Spatial(
        SpatialOp::Intersects,
        Operand::Property(GEOMETRY.to_string()),
        Operand::Geometry(Geometry::Polygon(ring)),
    );
    let to_crs84 = crs::to_crs84(crs)?;
    Filter::bind(&expr, meta, view, &to_crs84)
        .map_err(|_| OgcError::bad("bbox", format!("the box does not lie on the globe in {}", crs.uri())))
}

/// A filter value as the field's type, so `floors=3` matches the integer 3.
fn typed(name: &str, text: &str, ty: FieldType) -> Result<Value, OgcError> {
    let wrong = |what: &str| OgcError::bad(name, format!("'{text}' is not {what}, the type of field '{name}'"));
    Ok(match ty {
        FieldType::Text => Value::Text(text.into()),
        FieldType::Int => Value::Int(text.trim().parse().map_err(|_| wrong("an integer"))?),
        FieldType::Float => Value::Float(text.trim().parse().map_err(|_| wrong("a number"))?),
        FieldType::Bool => Value::Bool(parse_bool(text).ok_or_else(|| wrong("true or false"))?),
    })
}

/// What a `bbox` selects: lon/lat boxes, or the outline of a box of a projected CRS.
enum Selection {
    Boxes(Vec<Bbox>),
    Area(Crs, Polygon<f64>),
}

/// Points per side of a projected box's outline: a 100 km side bends less than a millimetre
/// from its chords.
const SIDE_POINTS: usize = 32;

/// `bbox=minx,miny,maxx,maxy` (or 6 numbers with heights) in `crs` and its axis order
/// (latitude first in EPSG:4326). In CRS84 or EPSG:4326 a box with west > east crosses the
/// antimeridian and becomes two; in a projected CRS it becomes the box's outline.
fn bbox(text: &str, crs: Crs) -> Result<Selection, OgcError> {
    let numbers: Vec<f64> = text
        .split(',')
        .map(|s| s.trim().parse::<f64>().ok().filter(|v| v.is_finite()))
        .collect::<Option<_>>()
        .ok_or_else(|| OgcError::bad("bbox", format!("'{text}' is not a list of 4 or 6 numbers")))?;
    let [x0, y0, x1, y1] = box_corners(&numbers).map_err(|e| OgcError::bad("bbox", format!("'{text}' {e}")))?;
    match crs {
        Crs::Crs84 => lon_lat_boxes(text, [x0, y0, x1, y1]).map(Selection::Boxes),
        Crs::Epsg(4326) => lon_lat_boxes(text, [y0, x0, y1, x1]).map(Selection::Boxes),
        _ if x0 > x1 || y0 > y1 => Err(OgcError::bad(
            "bbox",
            format!("'{text}' must have its minimum before its maximum on both axes of {}", crs.uri()),
        )),
        _ => {
            let corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)];
            let mut ring = Vec::with_capacity(4 * SIDE_POINTS + 1);
            for (i, &(ax, ay)) in corners.iter().enumerate() {
                let (bx, by) = corners[(i + 1) % 4];
                for k in 0..SIDE_POINTS {
                    let t = k as f64 / SIDE_POINTS as f64;
                    ring.push(Coord {
                        x: ax + (bx - ax) * t,
                        y: ay + (by - ay) * t,
                    });
                }
            }
            ring.push(ring[0]);
            Ok(Selection::Area(crs, Polygon::new(LineString(ring), vec![])))
        }
    }
}

/// A lon/lat box checked to lie on the globe; one with west > east crosses the antimeridian and
/// becomes two.
fn lon_lat_boxes(text: &str, [west, south, east, north]: [f64; 4]) -> Result<Vec<Bbox>, OgcError> {
    let lon = |x: f64| (-180.0..=180.0).contains(&x);
    let lat = |y: f64| (-90.0..=90.0).contains(&y);
    if !(lon(west) && lon(east) && lat(south) && lat(north)) || south > north {
        return Err(OgcError::bad(
            "bbox",
            format!("'{text}' must have longitudes in -180..180 and latitudes in -90..90 with south <= north"),
        ));
    }
    let part = |west, east| Bbox { west, south, east, north };
    Ok(if west <= east {
        vec![part(west, east)]
    } else {
        vec![part(west, 180.0), part(-180.0, east)]
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ogc::test_layer;

    fn items(raw: &str) -> Result<ItemsQuery, OgcError> {
        ItemsQuery::parse(&Query::parse(raw)?, &test_layer(), &View::open())
    }

    #[test]
    fn boxes_cross_the_antimeridian_and_take_heights() {
        let boxes = |text: &str, crs: Crs| match bbox(text, crs) {
            Ok(Selection::Boxes(b)) => Ok(b.iter().map(|b| b.to_array()).collect::<Vec<_>>()),
            Ok(Selection::Area(..)) => panic!("{text}: an area"),
            Err(e) => Err(e),
        };
        assert_eq!(boxes("170,-10,-170,10", Crs::Crs84).unwrap().len(), 2);
        let six = boxes("107,16,0,108,17,100", Crs::Crs84).unwrap();
        assert_eq!(six, vec![[107.0, 16.0, 108.0, 17.0]]);
        assert_eq!(boxes("16,107,17,108", Crs::Epsg(4326)).unwrap(), six);
        for bad in ["1,2,3", "a,b,c,d", "0,10,1,5", "0,0,200,1", "0,NaN,1,1"] {
            assert!(boxes(bad, Crs::Crs84).is_err(), "{bad}");
        }
        let Ok(Selection::Area(_, outline)) = bbox("560000,1820000,565000,1825000", Crs::Epsg(9214)) else {
            panic!("a projected box is an outline")
        };
        assert_eq!(outline.exterior().0.len(), 4 * SIDE_POINTS + 1);
        assert!(bbox("565000,1820000,560000,1825000", Crs::Epsg(9214)).is_err());
    }

    #[test]
    fn parameters_are_checked_and_fields_typed() {
        let q = items("limit=5&offset=10&floors=3&use=shop&datetime=2024-01-01/..").unwrap();
        assert_eq!((q.limit, q.offset), (5, 10));
        assert_eq!(q.equals, vec![(0, Value::Int(3)), (1, Value::Text("shop".into()))]);
        assert!(q.datetime.is_some());
        assert_eq!(q.crs, Crs::Crs84);
        let q = items("crs=http://www.opengis.net/def/crs/EPSG/0/9214&bbox=560000,1820000,565000,1825000&bbox-crs=EPSG:9214").unwrap();
        assert_eq!(q.crs, Crs::Epsg(9214));
        let envelope = q.filter.as_ref().and_then(|f| f.envelope()).unwrap()[0].to_array();
        assert!(
            (envelope[0] - 107.56).abs() < 0.01 && (envelope[1] - 16.45).abs() < 0.01,
            "{envelope:?}"
        );
        assert!(items("").unwrap().limit == DEFAULT_LIMIT);
        for bad in [
            "limit=0",
            "limit=10001",
            "floors=three",
            "colour=red",
            "limit=1&limit=2",
            "crs=EPSG:2056",
            "bbox-crs=EPSG:9214",
            "bbox=0,0,1,1&bbox-crs=EPSG:9999",
            "filter=floors%20%3D%20%27x%27",
            "filter=floors%3D1&filter-lang=cql",
            "filter=floors%3D1&filter-crs=EPSG:2056",
            "filter-lang=cql2-text",
        ] {
            assert!(items(bad).is_err(), "{bad}");
        }
        let unknown = items("colour=red").err().unwrap().to_string();
        assert!(unknown.contains("colour") && unknown.contains("bbox"), "{unknown}");
    }
}
