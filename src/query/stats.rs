//! Figures per administrative unit: how many features of a layer fall in each unit (optionally
//! per value of a field, and only inside a given area), the sum of a numeric field, and their area
//! or length on the ellipsoid.
//!
//! A feature belongs to the unit containing its centroid (boundary included; a centroid on a
//! shared boundary goes to the unit with the lowest id), so every feature is counted once and the
//! units' figures add up to the layer's. Area and length are the whole feature's.

use std::collections::BTreeMap;
use std::sync::Arc;

use geo::Centroid;
use geo_types::{Coord, Geometry, MultiPolygon};
use rayon::prelude::*;
use serde::Serialize;

use super::geodesy::{area_m2, length_m};
use super::region::{Position, Region, Relation};
use super::{admin_unit, counted_layer, layer, parse_polygon, Answer, Context, LayerData, Params, QueryError};
use crate::feature::{GeometryKind, Value};
use crate::index::{Catalog, Members};
use crate::policy::View;

/// The polygons of a geometry, if it has any.
pub(crate) fn polygons_of(g: &Geometry<f64>) -> Option<MultiPolygon<f64>> {
    match g {
        Geometry::Polygon(p) => Some(MultiPolygon(vec![p.clone()])),
        Geometry::MultiPolygon(mp) => Some(mp.clone()),
        Geometry::Rect(r) => Some(MultiPolygon(vec![r.to_polygon()])),
        Geometry::Triangle(t) => Some(MultiPolygon(vec![t.to_polygon()])),
        _ => None,
    }
}

/// The units of an administrative layer, each prepared as a [`Region`].
pub(crate) struct Units {
    pub layer: Arc<LayerData>,
    regions: Vec<Option<Region>>,
    code: Option<usize>,
    name: Option<usize>,
    /// The units a scoped view sees (`None`: all); the others are not listed.
    shown: Option<Arc<Members>>,
}

/// How a unit is named in answers.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct UnitName {
    pub id: i64,
    pub code: Option<String>,
    pub name: Option<String>,
}

impl Units {
    /// The units of `layer`, named by the `code` and `name` fields `view` sees.
    pub fn new(layer: Arc<LayerData>, view: &View) -> Result<Units, QueryError> {
        let regions: Vec<Option<Region>> = layer
            .features
            .par_iter()
            .map(|f| polygons_of(&f.geometry).and_then(Region::new))
            .collect();
        if regions.iter().all(Option::is_none) {
            return Err(QueryError::BadParameter(format!(
                "layer '{}' has no polygons, so it cannot group by unit",
                layer.meta.name
            )));
        }
        let code = view.field_index(&layer.meta, "code");
        let name = view.field_index(&layer.meta, "name");
        Ok(Units {
            layer,
            regions,
            code,
            name,
            shown: None,
        })
    }

    /// The units of layer `name` as the request's view sees them: a layer outside it is
    /// unknown, and a scoped view lists only the units of its area.
    pub fn of(ctx: &Context, name: &str) -> Result<Units, QueryError> {
        let mut units = Units::new(layer(ctx, name)?, ctx.view)?;
        units.shown = ctx.view.members(ctx.catalog, &units.layer);
        Ok(units)
    }

    /// The unit containing `p`: the lowest id among those whose boundary or interior holds it.
    pub fn unit_of(&self, p: Coord<f64>) -> Option<u32> {
        self.layer
            .tree
            .locate_all_at_point(&[p.x, p.y])
            .map(|e| e.index)
            .filter(|&i| self.regions[i as usize].as_ref().is_some_and(|r| r.locate(p) != Position::Outside))
            .min()
    }

    pub fn name(&self, unit: u32) -> UnitName {
        let f = &self.layer.features[unit as usize];
        let text = |i: Option<usize>| i.map(|i| f.properties[i].to_string());
        UnitName {
            id: f.id,
            code: text(self.code),
            name: text(self.name),
        }
    }

    /// The units in id order, only those meeting `area` when one is given (and those the view
    /// sees).
    pub fn listed(&self, area: Option<&Region>) -> Vec<u32> {
        let relater = area.map(Region::relater);
        (0..self.regions.len() as u32)
            .filter(|&u| self.shown.as_ref().is_none_or(|m| m.contains(u)))
            .filter(|&u| match (&self.regions[u as usize], &relater) {
                (None, _) => false,
                (Some(unit), Some(r)) => r.relate(&self.layer.features[u as usize].geometry, &unit.bbox) != Relation::Disjoint,
                (Some(_), None) => true,
            })
            .collect()
    }
}

/// The features of `data` that belong to one of `units` (`LAYER:CODE`) by the statistics' rule:
/// the unit holding the feature's centroid (lowest id on a shared boundary). Units of a layer
/// that is missing or cannot hold units select nothing.
pub fn members_in_units(catalog: &Catalog, data: &LayerData, units: &[String]) -> Members {
    let mut codes: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for unit in units {
        if let Some((layer, code)) = unit.split_once(':') {
            codes.entry(layer).or_default().push(code);
        }
    }
    let mut chosen: Vec<(Units, Vec<bool>)> = Vec::new();
    for (layer, wanted) in codes {
        let Some(units) = catalog.get(layer).and_then(|l| Units::new(l, &View::open()).ok()) else {
            continue;
        };
        let Some(code) = units.code else { continue };
        let picked = units
            .layer
            .features
            .iter()
            .map(|f| wanted.contains(&f.properties[code].to_string().as_str()))
            .collect();
        chosen.push((units, picked));
    }
    let inside: Vec<bool> = data
        .features
        .par_iter()
        .map(|f| {
            let Some(c) = f.geometry.centroid() else { return false };
            chosen
                .iter()
                .any(|(units, picked)| units.unit_of(c.0).is_some_and(|u| picked[u as usize]))
        })
        .collect();
    Members::of(inside.len(), |i| inside[i])
}

/// One unit's tally: how many features it holds and, per summed field, their total.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UnitTally {
    pub count: u64,
    pub sums: Vec<f64>,
}

/// Per feature of `units` (by index), the features of `data` it holds by the statistics' rule,
/// counting only those of `members` (when given) that `counted` accepts, with the totals of the
/// fields `sums`. What aggregate-only layers are drawn from.
pub fn tally_per_unit(
    units: Arc<LayerData>,
    data: &LayerData,
    members: Option<&Members>,
    counted: impl Fn(&crate::feature::Feature) -> bool,
    sums: &[usize],
) -> Result<Vec<UnitTally>, QueryError> {
    let units = Units::new(units, &View::open())?;
    let empty = UnitTally {
        count: 0,
        sums: vec![0.0; sums.len()],
    };
    let mut tally = vec![empty; units.layer.features.len()];
    for (unit, i) in assign(data, &units, None, members).pairs {
        let feature = &data.features[i as usize];
        if !counted(feature) {
            continue;
        }
        let t = &mut tally[unit as usize];
        t.count += 1;
        for (total, &field) in t.sums.iter_mut().zip(sums) {
            *total += feature.properties[field].as_f64().unwrap_or(0.0);
        }
    }
    Ok(tally)
}

/// Features of a layer sorted into units.
pub(crate) struct Assignment {
    /// (unit, feature index) in feature order.
    pub pairs: Vec<(u32, u32)>,
    /// Features considered (in the area, when one is given) whose centroid lies in no unit.
    pub unassigned: usize,
}

/// Puts every feature of `data` whose centroid is in `area` (when given), and that is one of
/// `members` (a scoped view's; when given), into the unit holding its centroid. Uses the
/// layer's R-tree when an area narrows it.
pub(crate) fn assign(data: &LayerData, units: &Units, area: Option<&Region>, members: Option<&Members>) -> Assignment {
    let candidates: Vec<u32> = match area {
        Some(a) => {
            let mut v: Vec<u32> = data
                .tree
                .locate_in_envelope_intersecting(&crate::index::aabb(&a.bbox))
                .map(|e| e.index)
                .collect();
            v.sort_unstable();
            v
        }
        None => (0..data.features.len() as u32).collect(),
    };
    let candidates: Vec<u32> = match members {
        Some(m) => candidates.into_iter().filter(|&i| m.contains(i)).collect(),
        None => candidates,
    };
    let considered: Vec<(Option<u32>, u32)> = candidates
        .into_par_iter()
        .filter_map(|i| {
            let c = data.features[i as usize].geometry.centroid()?.0;
            if area.is_some_and(|a| a.locate(c) == Position::Outside) {
                return None;
            }
            Some((units.unit_of(c), i))
        })
        .collect();
    let pairs: Vec<(u32, u32)> = considered.iter().filter_map(|&(u, i)| u.map(|u| (u, i))).collect();
    Assignment {
        unassigned: considered.len() - pairs.len(),
        pairs,
    }
}

#[derive(Debug, Default, Clone, Serialize)]
struct Figures {
    count: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    sum: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    area_m2: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    length_m: Option<f64>,
}

/// Figures as answered: in place of those counting fewer features than an aggregate-only
/// layer's least count, `"suppressed": true`, so nobody is singled out.
#[derive(Serialize)]
#[serde(untagged)]
enum Shown {
    Figures(Figures),
    Suppressed { suppressed: bool },
}

impl Shown {
    fn of(figures: Figures, least: Option<u32>) -> Shown {
        match least.is_some_and(|least| figures.count < u64::from(least)) {
            true => Shown::Suppressed { suppressed: true },
            false => Shown::Figures(figures.rounded()),
        }
    }
}

#[derive(Serialize)]
struct Group {
    value: serde_json::Value,
    #[serde(flatten)]
    figures: Shown,
}

#[derive(Serialize)]
struct UnitFigures {
    #[serde(flatten)]
    unit: UnitName,
    #[serde(flatten)]
    figures: Shown,
    #[serde(skip_serializing_if = "Option::is_none")]
    groups: Option<Vec<Group>>,
}

/// One feature's contribution, measured once (in parallel) whichever groups it adds to.
#[derive(Clone, Copy)]
struct Sample {
    sum: f64,
    area_m2: f64,
    length_m: f64,
}

impl Sample {
    fn of(g: &Geometry<f64>, properties: &[Value], m: Measures) -> Sample {
        Sample {
            sum: m.sum.and_then(|i| properties[i].as_f64()).unwrap_or(0.0),
            area_m2: if m.area { area_m2(g) } else { 0.0 },
            length_m: if m.length { length_m(g) } else { 0.0 },
        }
    }
}

/// Which measures a layer gets.
#[derive(Clone, Copy)]
struct Measures {
    sum: Option<usize>,
    area: bool,
    length: bool,
}

impl Figures {
    fn empty(m: Measures) -> Figures {
        Figures {
            count: 0,
            sum: m.sum.map(|_| 0.0),
            area_m2: m.area.then_some(0.0),
            length_m: m.length.then_some(0.0),
        }
    }

    fn add(&mut self, sample: Sample) {
        self.count += 1;
        for (total, value) in [
            (&mut self.sum, sample.sum),
            (&mut self.area_m2, sample.area_m2),
            (&mut self.length_m, sample.length_m),
        ] {
            if let Some(t) = total.as_mut() {
                *t += value;
            }
        }
    }

    /// Adds `other`'s figures (the measures both have) to these.
    fn merge(&mut self, other: &Figures) {
        self.count += other.count;
        self.sum = self.sum.zip(other.sum).map(|(a, b)| a + b);
        self.area_m2 = self.area_m2.zip(other.area_m2).map(|(a, b)| a + b);
        self.length_m = self.length_m.zip(other.length_m).map(|(a, b)| a + b);
    }

    fn rounded(mut self) -> Figures {
        let r = |v: Option<f64>| v.map(|x| (x * 1000.0).round() / 1000.0);
        self.sum = r(self.sum);
        self.area_m2 = r(self.area_m2);
        self.length_m = r(self.length_m);
        self
    }
}

fn json_value(v: &Value) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

/// The `within=` area: `<admin layer>:<code>` or a GeoJSON polygon.
fn within(ctx: &Context, params: &Params) -> Result<Option<Region>, QueryError> {
    match params.get("within") {
        None => Ok(None),
        Some(text) if text.starts_with('{') => Region::new(parse_polygon(text.as_bytes(), ctx.limits.max_vertices)?)
            .map(Some)
            .ok_or_else(|| QueryError::InvalidGeometry("the polygon is empty".into())),
        Some(spec) => admin_unit(ctx, spec).map(Some),
    }
}

/// `layer, by, within, group_by, sum`.
pub fn stats(ctx: &Context, params: &Params) -> crate::Result<Answer> {
    let (data, least) = counted_layer(ctx, params.required("layer")?)?;
    let units = Units::of(ctx, params.required("by")?)?;
    let area = within(ctx, params)?;
    let field = |key: &str| -> Result<Option<usize>, QueryError> {
        params
            .get(key)
            .map(|name| {
                ctx.view
                    .field_index(&data.meta, name)
                    .ok_or_else(|| QueryError::BadParameter(format!("layer '{}' has no field '{name}' ({key}=)", data.meta.name)))
            })
            .transpose()
    };
    let group_by = field("group_by")?;
    let kind = data.meta.geometry_type;
    let measures = Measures {
        sum: field("sum")?,
        area: kind.is_polygonal(),
        length: matches!(kind, GeometryKind::LineString | GeometryKind::MultiLineString),
    };

    let members = ctx.view.area_members(ctx.catalog, &data);
    let assigned = assign(&data, &units, area.as_ref(), members.as_deref());
    // Per unit, per group key (the group's value as JSON text, which orders and compares).
    let mut table: BTreeMap<u32, BTreeMap<String, (serde_json::Value, Figures)>> = BTreeMap::new();
    let mut total = Figures::empty(measures);
    let samples: Vec<Sample> = assigned
        .pairs
        .par_iter()
        .map(|&(_, i)| {
            let f = &data.features[i as usize];
            Sample::of(&f.geometry, &f.properties, measures)
        })
        .collect();
    for (&(unit, i), &sample) in assigned.pairs.iter().zip(&samples) {
        let f = &data.features[i as usize];
        let group = group_by.map_or(serde_json::Value::Null, |g| json_value(&f.properties[g]));
        let entry = table
            .entry(unit)
            .or_default()
            .entry(group.to_string())
            .or_insert_with(|| (group, Figures::empty(measures)));
        entry.1.add(sample);
        total.add(sample);
    }
    let mut shown_total = Figures::empty(measures);
    let rows: Vec<UnitFigures> = units
        .listed(area.as_ref())
        .into_iter()
        .map(|u| {
            let groups = table.remove(&u).unwrap_or_default();
            let mut figures = Figures::empty(measures);
            groups.values().for_each(|(_, g)| figures.merge(g));
            let suppressed = least.is_some_and(|least| figures.count < u64::from(least));
            if least.is_some() && !suppressed {
                shown_total.merge(&figures);
            }
            let groups = group_by.filter(|_| !suppressed).map(|_| {
                groups
                    .into_values()
                    .map(|(value, f)| Group {
                        value,
                        figures: Shown::of(f, least),
                    })
                    .collect()
            });
            UnitFigures {
                unit: units.name(u),
                figures: Shown::of(figures, least),
                groups,
            }
        })
        .collect();
    // Of an aggregate-only layer, the total of the units shown: the whole layer's total would
    // give the suppressed units' figures away by subtraction.
    let total = if least.is_some() { shown_total } else { total };
    let unassigned = Some(assigned.unassigned).filter(|&n| least.is_none_or(|least| n == 0 || n >= least as usize));
    let body = serde_json::json!({
        "layer": data.meta.name,
        "by": units.layer.meta.name,
        "within": params.get("within"),
        "group_by": params.get("group_by"),
        "sum_field": params.get("sum"),
        "units": rows,
        "total": total.rounded(),
        // Features in the area whose centroid lies in no unit (null when too few to show).
        "unassigned": unassigned,
    });
    Ok(Answer {
        content_type: "application/json",
        body: serde_json::to_vec(&body).map_err(|e| crate::Error::Internal(e.to_string()))?,
        features: None,
    })
}
