//! `/reports/{scenario}.pdf|csv|json[?unit=LAYER:CODE]`: the meeting report of a scenario for
//! the request's view (whole province without `unit`), made by [`crate::render::report`] and
//! sent through `respond`.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, Request, State};
use axum::response::Response;

use super::error::ApiResult;
use super::respond::respond;
use super::tiles::path_of;
use super::AppState;
use crate::error::Error;
use crate::policy::View;
use crate::render::report::{ReportFile, ReportFormat};

/// `land_management.pdf`: the scenario and the form.
fn parse_file(file: &str) -> Result<(&str, ReportFormat), Error> {
    file.rsplit_once('.')
        .and_then(|(id, ext)| Some((id, ReportFormat::from_extension(ext)?)))
        .ok_or_else(|| {
            Error::not_found(format!(
                "'{}' is not a report: use /reports/{{scenario}}.pdf (or .csv, .json)",
                file.escape_default()
            ))
        })
}

/// `unit=LAYER:CODE`, the one parameter a report takes.
fn unit_of(query: Option<&str>) -> Result<Option<String>, Error> {
    let mut unit = None;
    for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match key.as_ref() {
            "unit" if !value.trim().is_empty() => unit = Some(value.trim().to_string()),
            "unit" => {}
            other => {
                return Err(Error::bad_request(format!(
                    "unknown parameter '{}'; a report takes only unit=<admin layer>:<code>",
                    other.escape_default()
                )))
            }
        }
    }
    Ok(unit)
}

#[utoipa::path(
    get,
    path = "/reports/{file}",
    tag = "scenarios",
    summary = "the meeting report of a scenario: map, indicators, statistics per unit, data sources",
    params(
        ("file" = String, Path, description = "SCENARIO.pdf, SCENARIO.csv or SCENARIO.json"),
        ("unit" = Option<String>, Query, description = "<admin layer>:<code> of the unit (default: the whole province)")
    ),
    responses((status = 200, description = "the report", content(("application/pdf"), ("text/csv"), ("application/json"))))
)]
pub async fn report(
    State(state): State<AppState>,
    view: View,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
    request: Request,
) -> ApiResult<Response> {
    let file = path_of(path)?;
    let (scenario, format) = parse_file(&file)?;
    let report = ReportFile {
        catalog: state.catalog.clone(),
        scenarios: state.scenarios.current(),
        view,
        limits: state.config.query_limits,
        renderer: state.render.clone(),
        scenario: scenario.to_string(),
        unit: unit_of(query.as_deref())?,
        format,
    };
    respond(report, request.headers()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_files_and_parameters_are_read_or_refused() {
        assert_eq!(parse_file("land.pdf").unwrap(), ("land", ReportFormat::Pdf));
        assert_eq!(parse_file("a.b.csv").unwrap(), ("a.b", ReportFormat::Csv));
        assert!(parse_file("land.docx").is_err() && parse_file("land").is_err());
        assert_eq!(unit_of(Some("unit=wards%3A19900")).unwrap().as_deref(), Some("wards:19900"));
        assert_eq!(unit_of(None).unwrap(), None);
        assert!(unit_of(Some("ward=1")).is_err());
    }
}
