//! The query string of an OGC request, checked: each parameter given at most once, none the
//! endpoint does not know (the message lists what it takes), and every value turned into what
//! the selection needs (`limit`, `offset`, `bbox` as one or two lon/lat boxes, `datetime`,
//! property equality filters bound to field indices).

use std::collections::BTreeMap;

use geo_types::Coord;

use super::cql2::{self, Lang};
use super::datetime::{self, Interval};
use super::filter::Filter;
use super::{OgcError, CRS84, DEFAULT_LIMIT, EPSG_4326, MAX_LIMIT};
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
    /// The CQL2 `filter`, bound to the collection.
    pub filter: Option<Filter>,
}

impl ItemsQuery {
    pub fn parse(query: &Query, meta: &LayerMeta, view: &View) -> Result<ItemsQuery, OgcError> {
        let allowed = format!(
            "/items takes {} and this collection's visible fields as equality filters",
            ITEMS_PARAMS.join(", ")
        );
        query.refuse_unknown(ITEMS_PARAMS, |k| view.field_index(meta, k).is_some(), &allowed)?;
        crs84_only(query, "crs")?;
        crs84_only(query, "bbox-crs")?;
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
        Ok(ItemsQuery {
            limit: query.count("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)?,
            offset: query.count("offset", 0, 0, usize::MAX)?,
            boxes: query.get("bbox").map(bbox).transpose()?,
            datetime,
            equals,
            filter: filter(query, meta, view)?,
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
    let to_crs84: fn(Coord<f64>) -> Option<Coord<f64>> = match query.get("filter-crs").map(str::trim) {
        None => Some,
        Some(CRS84) => Some,
        Some(EPSG_4326) => |c: Coord<f64>| Some(Coord { x: c.y, y: c.x }),
        Some(other) => {
            return Err(OgcError::bad(
                "filter-crs",
                format!("'{other}' is not a CRS filters can be written in; use {CRS84} (lon/lat) or {EPSG_4326} (lat/lon)"),
            ))
        }
    };
    Filter::bind(&expr, meta, view, &to_crs84).map(Some)
}

/// Until CRS by reference is served, `crs` and `bbox-crs` may only name CRS84.
fn crs84_only(query: &Query, key: &str) -> Result<(), OgcError> {
    match query.get(key) {
        Some(uri) if uri.trim() != CRS84 => Err(OgcError::bad(key, format!("'{uri}' is not a CRS this server offers; use {CRS84}"))),
        _ => Ok(()),
    }
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

/// `bbox=w,s,e,n` or `w,s,zmin,e,n,zmax` in CRS84; a box with west > east crosses the
/// antimeridian and becomes two.
fn bbox(text: &str) -> Result<Vec<Bbox>, OgcError> {
    let numbers: Vec<f64> = text
        .split(',')
        .map(|s| s.trim().parse::<f64>().ok().filter(|v| v.is_finite()))
        .collect::<Option<_>>()
        .ok_or_else(|| OgcError::bad("bbox", format!("'{text}' is not a list of 4 or 6 numbers")))?;
    let [west, south, east, north] = match numbers[..] {
        [w, s, e, n] | [w, s, _, e, n, _] => [w, s, e, n],
        _ => {
            return Err(OgcError::bad(
                "bbox",
                format!(
                    "'{text}' has {} numbers; give west,south,east,north (or 6 with heights)",
                    numbers.len()
                ),
            ))
        }
    };
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
    use crate::feature::{FieldDef, GeometryKind, LayerKind};

    fn meta() -> LayerMeta {
        let field = |name: &str, ty| FieldDef {
            name: name.into(),
            ty,
            personal: false,
        };
        LayerMeta::new(
            "b",
            LayerKind::Building,
            GeometryKind::Polygon,
            vec![
                field("floors", FieldType::Int),
                field("use", FieldType::Text),
                field("seen_at", FieldType::Text),
            ],
        )
    }

    fn items(raw: &str) -> Result<ItemsQuery, OgcError> {
        ItemsQuery::parse(&Query::parse(raw)?, &meta(), &View::open())
    }

    #[test]
    fn boxes_cross_the_antimeridian_and_take_heights() {
        assert_eq!(bbox("170,-10,-170,10").unwrap().len(), 2);
        let six = bbox("107,16,0,108,17,100").unwrap();
        assert_eq!(six[0].to_array(), [107.0, 16.0, 108.0, 17.0]);
        for bad in ["1,2,3", "a,b,c,d", "0,10,1,5", "0,0,200,1", "0,NaN,1,1"] {
            assert!(bbox(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn parameters_are_checked_and_fields_typed() {
        let q = items("limit=5&offset=10&floors=3&use=shop&datetime=2024-01-01/..").unwrap();
        assert_eq!((q.limit, q.offset), (5, 10));
        assert_eq!(q.equals, vec![(0, Value::Int(3)), (1, Value::Text("shop".into()))]);
        assert!(q.datetime.is_some());
        assert!(items("").unwrap().limit == DEFAULT_LIMIT);
        for bad in [
            "limit=0",
            "limit=10001",
            "floors=three",
            "colour=red",
            "limit=1&limit=2",
            "crs=EPSG:4326",
            "filter=floors%20%3D%20%27x%27",
            "filter=floors%3D1&filter-lang=cql",
            "filter=floors%3D1&filter-crs=EPSG:3857",
            "filter-lang=cql2-text",
        ] {
            assert!(items(bad).is_err(), "{bad}");
        }
        let unknown = items("colour=red").err().unwrap().to_string();
        assert!(unknown.contains("colour") && unknown.contains("bbox"), "{unknown}");
    }
}
