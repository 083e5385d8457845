//! The CSV form of a report: one row per figure (`section, subject, unit_id, unit_code,
//! unit_name, figure, value, status`), the values written with the digits of the query answers.

use serde_json::Value as Json;

use super::{figure, Report};
use crate::error::Error;

const HEADER: [&str; 8] = [
    "section",
    "subject",
    "unit_id",
    "unit_code",
    "unit_name",
    "figure",
    "value",
    "status",
];

/// A value as a CSV cell: its digits, or empty for none.
fn value(v: &Json) -> String {
    match v {
        Json::Null => String::new(),
        other => figure(other),
    }
}

/// The rows of the figures `keys` of each unit in `answer["units"]`, and of `total` when given.
fn rows(section: &str, subject: &str, answer: &Json, keys: &[&str], status: bool) -> Vec<[String; 8]> {
    let mut out = Vec::new();
    let mut unit_rows = |row: &Json, names: [String; 3]| {
        for key in keys.iter().filter(|k| row.get(**k).is_some()) {
            let state = if status { value(&row["status"]) } else { String::new() };
            let [id, code, name] = names.clone();
            out.push([
                section.to_string(),
                subject.to_string(),
                id,
                code,
                name,
                key.to_string(),
                value(&row[*key]),
                state,
            ]);
        }
    };
    for row in answer["units"].as_array().into_iter().flatten() {
        unit_rows(row, [value(&row["id"]), value(&row["code"]), value(&row["name"])]);
    }
    if let Some(total) = answer.get("total") {
        unit_rows(total, [String::new(), String::new(), "total".to_string()]);
    }
    out
}

pub(super) fn csv(report: &Report) -> Result<Vec<u8>, Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let mut lines = vec![HEADER.map(str::to_string)];
    for indicator in &report.indicators {
        let subject = value(&indicator["id"]);
        lines.extend(rows("indicator", &subject, indicator, &["value", "features", "matching"], true));
    }
    for stats in &report.statistics {
        let subject = format!("{} by {}", value(&stats["layer"]), value(&stats["by"]));
        lines.extend(rows(
            "statistics",
            &subject,
            stats,
            &["count", "sum", "area_m2", "length_m", "suppressed"],
            false,
        ));
    }
    for source in &report.sources {
        let meta = [
            ("source_file", &source.source_file),
            ("source_crs", &source.source_crs),
            ("imported_at", &source.imported_at),
        ];
        for (key, text) in meta {
            let row = ["source", &source.layer, "", "", "", key, text, ""];
            lines.push(row.map(str::to_string));
        }
    }
    let failed = |e: &dyn std::fmt::Display| Error::Internal(format!("the report's CSV cannot be written: {e}"));
    for line in lines {
        writer.write_record(&line).map_err(|e| failed(&e))?;
    }
    writer.into_inner().map_err(|e| failed(&e))
}
