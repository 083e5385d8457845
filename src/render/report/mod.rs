//! The meeting report of a scenario (`/reports/{scenario}.pdf|csv|json[?unit=LAYER:CODE]`):
//! title, unit, date and data timestamps, the map, the scenario's indicators with the units
//! below target marked, statistics per unit and the data sources with their import dates.
//!
//! The figures are not computed here: they are the answers of [`crate::query::run`] for
//! `/scenarios/{id}/indicators` and `/stats` (kept as their JSON values and written out with
//! the same digits), so a report equals those routes to the last digit and obeys the same
//! [`View`]. The map is a [`StaticMap`] of the scenario's style. `pdf` lays the report out on A4
//! pages with embedded fonts (krilla), `table` writes the CSV form. Knows no HTTP.

mod pdf;
mod table;

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value as Json;

use super::decor::{Decor, OverlayFeature};
use super::encode::Format;
use super::still::{Place, StaticMap};
use super::Renderer;
use crate::delivery::{Encoded, FileSource, Freshness};
use crate::error::Error;
use crate::feature::Bbox;
use crate::index::Catalog;
use crate::policy::View;
use crate::query::{self, Context, Limits, Operation, Params};
use crate::scenarios::{Scenario, Scenarios};

/// The forms a report is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    Pdf,
    Csv,
    Json,
}

impl ReportFormat {
    /// `pdf`, `csv` or `json`.
    pub fn from_extension(ext: &str) -> Option<ReportFormat> {
        match ext {
            "pdf" => Some(ReportFormat::Pdf),
            "csv" => Some(ReportFormat::Csv),
            "json" => Some(ReportFormat::Json),
            _ => None,
        }
    }

    fn media_type(self) -> &'static str {
        match self {
            ReportFormat::Pdf => "application/pdf",
            ReportFormat::Csv => "text/csv; charset=utf-8",
            ReportFormat::Json => "application/json",
        }
    }
}

/// The unit a report is about.
#[derive(Debug, Serialize)]
pub struct ReportUnit {
    pub layer: String,
    pub code: String,
    pub name: Option<String>,
}

/// Where a layer the report draws on came from.
#[derive(Debug, Serialize)]
pub struct DataSource {
    pub layer: String,
    pub source_file: String,
    pub source_crs: String,
    pub imported_at: String,
}

/// Everything a report shows, in every form.
#[derive(Debug, Serialize)]
pub struct Report {
    pub scenario: String,
    pub title: String,
    pub description: String,
    /// `None`: the whole province.
    pub unit: Option<ReportUnit>,
    pub generated_at: String,
    /// The latest import among the data sources.
    pub data_as_of: Option<String>,
    /// `/scenarios/{id}/indicators` answers, each limited to the unit's rows.
    pub indicators: Vec<Json>,
    /// `/stats?layer=L&by=B[&within=unit]` answers, one per indicator's layer and units.
    pub statistics: Vec<Json>,
    pub sources: Vec<DataSource>,
    /// What the map shows, and the unit's outline on it.
    #[serde(skip)]
    map_area: Option<Bbox>,
    #[serde(skip)]
    outline: Option<geo_types::Geometry<f64>>,
}

/// One query answer as JSON.
fn answer(ctx: &Context, operation: Operation, params: &[(&str, &str)]) -> Result<Json, Error> {
    let params: HashMap<String, String> = params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let answer = query::run(ctx, operation, &Params(&params))?;
    serde_json::from_slice(&answer.body).map_err(|e| Error::Internal(format!("a query answer is not JSON: {e}")))
}

/// Keeps the rows of `answer["units"]` that `keep` accepts.
fn keep_units(answer: &mut Json, keep: impl Fn(&Json) -> bool) {
    if let Some(units) = answer.get_mut("units").and_then(Json::as_array_mut) {
        units.retain(keep);
    }
}

/// The unit's code in a row of `units`.
fn code_of(row: &Json) -> Option<&str> {
    row.get("code").and_then(Json::as_str)
}

impl Report {
    /// Gathers the report of scenario `id` (for `unit`, `<admin layer>:<code>`, or the whole
    /// province) as `ctx.view` sees it.
    pub fn gather(ctx: &Context, id: &str, unit: Option<&str>) -> Result<Report, Error> {
        let scenario = ctx.view.scenario_shown(ctx.view.scenario(ctx.scenarios, id)?, ctx.catalog);
        let (unit, outline) = match unit {
            Some(spec) => {
                let (data, index) = query::admin_feature(ctx, spec)?;
                let field = |name: &str| {
                    ctx.view
                        .field_index(&data.meta, name)
                        .map(|i| data.features[index].properties[i].to_string())
                };
                let shown = ReportUnit {
                    layer: data.meta.name.clone(),
                    code: spec.split_once(':').map_or("", |(_, c)| c).to_string(),
                    name: field("name"),
                };
                (Some(shown), Some(data.features[index].geometry.clone()))
            }
            None => (None, None),
        };
        let statistics = statistics(ctx, &scenario, unit.as_ref())?;
        let mut indicators = match answer(ctx, Operation::Indicators { scenario: id }, &[])? {
            Json::Object(mut body) => match body.remove("indicators") {
                Some(Json::Array(list)) => list,
                _ => Vec::new(),
            },
            _ => Vec::new(),
        };
        if let Some(unit) = &unit {
            for indicator in &mut indicators {
                limit_to_unit(indicator, unit, &statistics);
            }
        }
        let sources = sources(ctx.catalog, ctx.view, &scenario);
        let map_area = match &outline {
            Some(g) => Bbox::of(g),
            None => sources
                .iter()
                .filter_map(|s| ctx.catalog.get(&s.layer).and_then(|l| l.meta.bbox))
                .reduce(Bbox::union),
        };
        Ok(Report {
            scenario: scenario.id.clone(),
            title: scenario.title.clone(),
            description: scenario.description.clone(),
            unit,
            generated_at: now(),
            data_as_of: sources.iter().map(|s| s.imported_at.clone()).filter(|t| !t.is_empty()).max(),
            indicators,
            statistics,
            sources,
            map_area,
            outline,
        })
    }

    /// The map of the report: the scenario's style over the unit (or everything), with the
    /// unit outlined, legend, scale bar and north arrow. `None` when the scenario has no style
    /// or there is nothing to show.
    fn map(&self, renderer: &Arc<Renderer>, ctx: &Context, size: (u32, u32)) -> Result<Option<tiny_skia::Pixmap>, Error> {
        let (Some(area), Some(file)) = (self.map_area, ctx.view.scenario(ctx.scenarios, &self.scenario)?.style.clone()) else {
            return Ok(None);
        };
        // A margin around the unit, so its outline is not on the picture's edge.
        let (dx, dy) = ((area.east - area.west) * 0.06, (area.north - area.south) * 0.06);
        let padded = Bbox {
            west: (area.west - dx).max(-180.0),
            south: (area.south - dy).max(-85.0),
            east: (area.east + dx).min(180.0),
            north: (area.north + dy).min(85.0),
        };
        if padded.west >= padded.east || padded.south >= padded.north {
            return Ok(None);
        }
        let style = renderer.style(&file)?;
        let sources = renderer.sources(&style.style, ctx.catalog, ctx.scenarios, ctx.view);
        let picture = StaticMap {
            renderer: renderer.clone(),
            style,
            sources,
            place: Place::Bounds(padded),
            size,
            ratio: 2,
            format: Format::Png,
            decor: Decor {
                overlay: self.outline.clone().map(OverlayFeature::plain).into_iter().collect(),
                markers: Vec::new(),
                scale_bar: true,
                north_arrow: true,
                legend: true,
            },
        };
        Ok(Some(picture.draw()?))
    }
}

/// Per distinct (layer, units) of the scenario's indicators, `/stats` over the unit (when
/// given); of the unit's own layer only the unit's row is kept.
fn statistics(ctx: &Context, scenario: &Scenario, unit: Option<&ReportUnit>) -> Result<Vec<Json>, Error> {
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    for i in &scenario.indicators {
        if !pairs.contains(&(i.layer.as_str(), i.by.as_str())) {
            pairs.push((&i.layer, &i.by));
        }
    }
    let within = unit.map(|u| format!("{}:{}", u.layer, u.code));
    pairs
        .into_iter()
        .map(|(layer, by)| {
            let mut params = vec![("layer", layer), ("by", by)];
            params.extend(within.as_deref().map(|w| ("within", w)));
            let mut stats = answer(ctx, Operation::Stats, &params)?;
            if let Some(unit) = unit.filter(|u| u.layer == by) {
                keep_units(&mut stats, |row| code_of(row) == Some(unit.code.as_str()));
            }
            Ok(stats)
        })
        .collect()
}

/// Keeps an indicator's rows of the unit: the unit itself when the indicator counts by its
/// layer, else the units the statistics over the unit list (those meeting it).
fn limit_to_unit(indicator: &mut Json, unit: &ReportUnit, statistics: &[Json]) {
    let (layer, by) = (indicator["layer"].clone(), indicator["by"].clone());
    if by.as_str() == Some(unit.layer.as_str()) {
        keep_units(indicator, |row| code_of(row) == Some(unit.code.as_str()));
    } else {
        let listed: Vec<&Json> = statistics
            .iter()
            .filter(|s| s["layer"] == layer && s["by"] == by)
            .flat_map(|s| s["units"].as_array().into_iter().flatten())
            .map(|row| &row["id"])
            .collect();
        keep_units(indicator, |row| listed.contains(&&row["id"]));
    }
    let below = indicator["units"]
        .as_array()
        .map_or(0, |rows| rows.iter().filter(|r| r["status"] == "below_target").count());
    indicator["below_target"] = below.into();
}

/// The scenario's layers and its indicators' layers and units, as the view may read them,
/// with their import provenance.
fn sources(catalog: &Catalog, view: &View, scenario: &Scenario) -> Vec<DataSource> {
    let mut names: Vec<&str> = scenario.layers.iter().map(|l| l.layer.as_str()).collect();
    for i in &scenario.indicators {
        for name in [i.layer.as_str(), i.by.as_str()] {
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    names
        .into_iter()
        .filter(|n| view.may_read(n))
        .filter_map(|n| catalog.get(n))
        .map(|data| {
            let meta = &data.meta;
            let file = std::path::Path::new(&meta.source_file)
                .file_name()
                .map_or(meta.source_file.clone(), |f| f.to_string_lossy().into_owned());
            DataSource {
                layer: meta.name.clone(),
                source_file: file,
                source_crs: meta.source_crs.clone(),
                imported_at: meta.imported_at.clone(),
            }
        })
        .collect()
}

fn now() -> String {
    time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or_else(|_| time::OffsetDateTime::now_utc())
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// A figure as the query answers write it: the same digits (`—` for none).
pub(crate) fn figure(value: &Json) -> String {
    match value {
        Json::Null => "—".to_string(),
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// One report request for one view, answered through the response path (never cached: it
/// names the moment it was made).
pub struct ReportFile {
    pub catalog: Arc<Catalog>,
    pub scenarios: Arc<Scenarios>,
    pub view: View,
    pub limits: Limits,
    pub renderer: Arc<Renderer>,
    pub scenario: String,
    pub unit: Option<String>,
    pub format: ReportFormat,
}

impl ReportFile {
    /// The report's bytes in its format.
    pub fn write(&self) -> Result<Vec<u8>, Error> {
        let ctx = Context {
            catalog: &self.catalog,
            scenarios: &self.scenarios,
            limits: self.limits,
            view: &self.view,
        };
        let report = Report::gather(&ctx, &self.scenario, self.unit.as_deref())?;
        match self.format {
            ReportFormat::Json => serde_json::to_vec(&report).map_err(|e| Error::Internal(e.to_string())),
            ReportFormat::Csv => table::csv(&report),
            ReportFormat::Pdf => {
                let map = report.map(&self.renderer, &ctx, pdf::MAP_SIZE)?;
                Ok(pdf::write(&report, map.as_ref(), &self.renderer.fonts)?)
            }
        }
    }
}

impl FileSource for ReportFile {
    fn media_type(&self) -> &'static str {
        self.format.media_type()
    }

    fn freshness(&self) -> Freshness {
        Freshness::Second
    }

    fn cached(&self, _want_gzip: bool) -> Option<Arc<Encoded>> {
        None
    }

    fn etag(&self) -> Option<String> {
        None
    }

    fn produce(self, _want_gzip: bool) -> Result<Arc<Encoded>, Error> {
        Ok(Arc::new(Encoded::new(self.write()?, String::new(), None)))
    }
}
