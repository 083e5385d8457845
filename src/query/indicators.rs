//! A scenario's indicators per administrative unit, against their targets: what the IOC's alert
//! panel shows. Features are sorted into units as for statistics (by centroid); each unit's value
//! is a count, a sum or a share of the features matching the indicator's filter.

use serde::Serialize;

use super::stats::{assign, UnitName, Units};
use super::{counted_layer, Answer, Context, Params, QueryError};
use crate::scenarios::{Indicator, Measure, Target};

#[derive(Serialize)]
struct UnitValue {
    #[serde(flatten)]
    unit: UnitName,
    /// `null` for a share over a unit with no features, and when suppressed.
    value: Option<f64>,
    /// Features of the layer in the unit, and how many match the filter (`null` when suppressed).
    features: Option<u64>,
    matching: Option<u64>,
    /// `ok`, `below_target` (the target is not met), `no_data`, or `suppressed` (of a layer
    /// the view gets only as figures: fewer matching features, or features, than its least
    /// count, so nobody is singled out).
    status: &'static str,
}

#[derive(Serialize)]
struct IndicatorValues<'a> {
    id: &'a str,
    title: &'a str,
    layer: &'a str,
    by: &'a str,
    measure: Measure,
    #[serde(skip_serializing_if = "Option::is_none")]
    unit: Option<&'a str>,
    target: Target,
    below_target: usize,
    units: Vec<UnitValue>,
}

fn evaluate<'a>(ctx: &Context, indicator: &'a Indicator) -> Result<IndicatorValues<'a>, QueryError> {
    let (data, least) = counted_layer(ctx, &indicator.layer)?;
    let units = Units::of(ctx, &indicator.by)?;
    let misconfigured = |reason: String| QueryError::BadParameter(format!("indicator '{}': {reason}", indicator.id));
    let filter = indicator.filter.bind(&data.meta).map_err(misconfigured)?;
    let field = match (indicator.measure, &indicator.field) {
        (Measure::Sum, Some(name)) => Some(
            data.meta
                .field_index(name)
                .ok_or_else(|| misconfigured(format!("layer '{}' has no field '{name}'", data.meta.name)))?,
        ),
        _ => None,
    };
    // Per unit: features, matching features, sum of the field over matching features.
    let mut tally = vec![(0u64, 0u64, 0.0f64); units.layer.features.len()];
    let members = ctx.view.area_members(ctx.catalog, &data);
    for (unit, i) in assign(&data, &units, None, members.as_deref()).pairs {
        let feature = &data.features[i as usize];
        let t = &mut tally[unit as usize];
        t.0 += 1;
        if filter.matches(feature) {
            t.1 += 1;
            t.2 += field.and_then(|f| feature.properties[f].as_f64()).unwrap_or(0.0);
        }
    }
    let rows: Vec<UnitValue> = units
        .listed(None)
        .into_iter()
        .map(|u| {
            let (features, matching, sum) = tally[u as usize];
            if least.is_some_and(|least| matching.min(features) < u64::from(least)) {
                return UnitValue {
                    unit: units.name(u),
                    value: None,
                    features: None,
                    matching: None,
                    status: "suppressed",
                };
            }
            let value = match indicator.measure {
                Measure::Count => Some(matching as f64),
                Measure::Sum => Some((sum * 1000.0).round() / 1000.0),
                Measure::Share => (features > 0).then(|| matching as f64 / features as f64),
            };
            let status = match value {
                None => "no_data",
                Some(v) if indicator.target.is_met(v) => "ok",
                Some(_) => "below_target",
            };
            UnitValue {
                unit: units.name(u),
                value,
                features: Some(features),
                matching: Some(matching),
                status,
            }
        })
        .collect();
    Ok(IndicatorValues {
        id: &indicator.id,
        title: &indicator.title,
        layer: &indicator.layer,
        by: &indicator.by,
        measure: indicator.measure,
        unit: indicator.unit.as_deref(),
        target: indicator.target,
        below_target: rows.iter().filter(|r| r.status == "below_target").count(),
        units: rows,
    })
}

/// Every indicator of scenario `id`, or only `indicator=<id>`.
pub fn indicators(ctx: &Context, id: &str, params: &Params) -> crate::Result<Answer> {
    let scenario = &ctx.view.scenario_shown(ctx.view.scenario(ctx.scenarios, id)?, ctx.catalog);
    let only = params.get("indicator");
    if let Some(wanted) = only {
        if !scenario.indicators.iter().any(|i| i.id == wanted) {
            return Err(crate::Error::not_found(format!("scenario '{id}' has no indicator '{wanted}'")));
        }
    }
    let values: Vec<IndicatorValues> = scenario
        .indicators
        .iter()
        .filter(|i| only.is_none_or(|w| w == i.id))
        .map(|i| evaluate(ctx, i))
        .collect::<Result<_, _>>()?;
    let body = serde_json::json!({ "scenario": scenario.id, "title": scenario.title, "indicators": values });
    Ok(Answer {
        content_type: "application/json",
        body: serde_json::to_vec(&body).map_err(|e| crate::Error::Internal(e.to_string()))?,
        features: None,
    })
}
