//! Request parameters as text key/value pairs, turned into checked values: every malformed,
//! non-finite or out-of-range value becomes a [`QueryError::BadParameter`] naming the parameter
//! and the accepted range, so no bad number reaches the algorithms.

use std::collections::HashMap;
use std::sync::Arc;

use geo_types::Coord;

use super::{Catalog, LayerData, QueryError, DEFAULT_LIMIT, MAX_LIMIT};
use crate::feature::Bbox;
use crate::policy::View;

fn bad(msg: impl Into<String>) -> QueryError {
    QueryError::BadParameter(msg.into())
}

pub struct Params<'a>(pub &'a HashMap<String, String>);

/// One page of a result list.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub limit: usize,
    pub offset: usize,
}

impl Params<'_> {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(|s| s.trim()).filter(|s| !s.is_empty())
    }

    pub fn required(&self, key: &str) -> Result<&str, QueryError> {
        self.get(key).ok_or_else(|| bad(format!("parameter '{key}' is required")))
    }

    /// A finite number, if present.
    pub fn number(&self, key: &str) -> Result<Option<f64>, QueryError> {
        let Some(text) = self.get(key) else { return Ok(None) };
        match text.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(Some(v)),
            _ => Err(bad(format!("parameter '{key}' must be a finite number, not '{text}'"))),
        }
    }

    fn count(&self, key: &str, default: usize, max: usize) -> Result<usize, QueryError> {
        let Some(text) = self.get(key) else { return Ok(default) };
        match text.parse::<usize>() {
            Ok(v) if v <= max => Ok(v),
            Ok(_) => Err(bad(format!("parameter '{key}' is at most {max}"))),
            Err(_) => Err(bad(format!("parameter '{key}' must be a whole number 0..{max}, not '{text}'"))),
        }
    }

    /// `lon` and `lat` in degrees (WGS84).
    pub fn lon_lat(&self) -> Result<Coord<f64>, QueryError> {
        let lon = self.number("lon")?.ok_or_else(|| bad("parameter 'lon' is required"))?;
        let lat = self.number("lat")?.ok_or_else(|| bad("parameter 'lat' is required"))?;
        if !(-180.0..=180.0).contains(&lon) {
            return Err(bad(format!("lon {lon} is outside -180..180")));
        }
        if !(-90.0..=90.0).contains(&lat) {
            return Err(bad(format!("lat {lat} is outside -90..90")));
        }
        Ok(Coord { x: lon, y: lat })
    }

    /// A distance in metres: positive and at most `max`.
    pub fn metres(&self, key: &str, default: Option<f64>, max: f64) -> Result<f64, QueryError> {
        let value = self
            .number(key)?
            .or(default)
            .ok_or_else(|| bad(format!("parameter '{key}' (metres) is required")))?;
        if value <= 0.0 || value > max {
            return Err(bad(format!("{key} {value} must be more than 0 and at most {max} m")));
        }
        Ok(value)
    }

    pub fn page(&self) -> Result<Page, QueryError> {
        Ok(Page {
            limit: self.count("limit", DEFAULT_LIMIT, MAX_LIMIT)?,
            offset: self.count("offset", 0, usize::MAX)?,
        })
    }

    /// A whole number in 1..=max (e.g. `k`).
    pub fn positive(&self, key: &str, default: usize, max: usize) -> Result<usize, QueryError> {
        match self.count(key, default, max)? {
            0 => Err(bad(format!("parameter '{key}' must be at least 1"))),
            v => Ok(v),
        }
    }

    /// `bbox=west,south,east,north` in degrees.
    pub fn bbox(&self) -> Result<Bbox, QueryError> {
        let text = self.required("bbox")?;
        let v: Vec<f64> = text
            .split(',')
            .map(|s| s.trim().parse::<f64>())
            .collect::<Result<_, _>>()
            .map_err(|_| bad(format!("bbox '{text}' is not four numbers")))?;
        let [west, south, east, north] = v[..] else {
            return Err(bad(format!("bbox '{text}' must be west,south,east,north")));
        };
        let ok_lon = |x: f64| (-180.0..=180.0).contains(&x);
        let ok_lat = |y: f64| (-90.0..=90.0).contains(&y);
        if !(ok_lon(west) && ok_lon(east) && ok_lat(south) && ok_lat(north)) || west > east || south > north {
            return Err(bad(format!(
                "bbox '{text}' must satisfy -180 <= west <= east <= 180 and -90 <= south <= north <= 90"
            )));
        }
        Ok(Bbox { west, south, east, north })
    }

    /// `layers=a,b`: the named layers in that order (duplicates dropped), or every layer `view`
    /// may read, each as the view sees it (an aggregate-only layer as its figures per unit, so
    /// a search finds units with counts, never features); a named layer outside it is unknown.
    pub fn layers(&self, catalog: &Catalog, view: &View) -> Result<Vec<Arc<LayerData>>, QueryError> {
        let Some(names) = self.get("layers") else {
            return Ok(view.layers(catalog));
        };
        let mut layers: Vec<Arc<LayerData>> = Vec::new();
        for name in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            if !layers.iter().any(|l| l.meta.name == name) {
                let layer = view
                    .layer(catalog, name)
                    .ok_or_else(|| QueryError::UnknownLayer(name.to_string()))?;
                layers.push(layer);
            }
        }
        if layers.len() > u16::MAX as usize {
            return Err(bad("too many layers in one query"));
        }
        Ok(layers)
    }

    /// `fields=a,b`: the properties to return; each must exist, and not be hidden by `view`, in
    /// at least one queried layer.
    pub fn fields(&self, layers: &[Arc<LayerData>], view: &View) -> Result<Option<Vec<String>>, QueryError> {
        let Some(text) = self.get("fields") else { return Ok(None) };
        let fields: Vec<String> = text.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
        for f in &fields {
            if !layers.iter().any(|l| view.field_index(&l.meta, f).is_some()) {
                return Err(bad(format!("no queried layer has a field '{f}'")));
            }
        }
        Ok(Some(fields))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn numbers_are_checked() {
        for (lon, lat) in [("NaN", "16"), ("107", "inf"), ("181", "16"), ("107", "-91"), ("abc", "16")] {
            let map = params(&[("lon", lon), ("lat", lat)]);
            assert!(Params(&map).lon_lat().is_err(), "{lon},{lat}");
        }
        let map = params(&[("radius_m", "-5"), ("limit", "10001"), ("bbox", "108,16,107,17")]);
        let p = Params(&map);
        assert!(p.metres("radius_m", None, 50_000.0).is_err());
        assert!(p.page().is_err());
        assert!(p.bbox().is_err());
        let map = params(&[("radius_m", "0")]);
        assert!(Params(&map).metres("radius_m", None, 50_000.0).is_err());
        let map = params(&[("radius_m", "60000")]);
        assert!(Params(&map).metres("radius_m", None, 50_000.0).is_err());
    }
}
