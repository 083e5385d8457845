//! Meeting reports (issue 15 §4), read from outside bando: poppler's `pdfinfo` opens the PDF
//! (A4, title), `pdffonts` shows its fonts embedded, and `pdftotext` reads back figures equal to
//! those of `/stats` and `/scenarios/{id}/indicators` digit for digit, with the Vietnamese unit
//! names; the CSV and JSON forms carry the same figures; the access policy applies.

mod common;

use common::{run_checker, Server};
use serde_json::Value;
use unicode_normalization::UnicodeNormalization;

/// Runs a poppler tool on `pdf` (saved to a temp file) and returns its output in NFC.
fn poppler(tool: &str, pdf: &[u8], args: &[&str]) -> String {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), pdf).unwrap();
    let mut all: Vec<&str> = args.to_vec();
    all.push(file.path().to_str().unwrap());
    if tool == "pdftotext" {
        all.push("-");
    }
    run_checker(tool, &all).nfc().collect()
}

/// A value as the report prints it (`—` for none).
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.nfc().collect(),
        Value::Null => "—".to_string(),
        other => other.to_string(),
    }
}

fn pdf_of(server: &Server, path: &str) -> Vec<u8> {
    let (status, pdf, content_type) = server.get(path);
    assert_eq!(
        (status, content_type.as_str()),
        (200, "application/pdf"),
        "{path}: {}",
        String::from_utf8_lossy(&pdf)
    );
    pdf
}

/// The unit row of `answer["units"]` with `code`.
fn row_of<'a>(answer: &'a Value, code: &str) -> &'a Value {
    answer["units"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["code"] == code)
        .unwrap_or_else(|| panic!("no unit {code} in {answer}"))
}

/// A line of `pdf_text` holding every one of `parts`.
fn line_with<'a>(pdf_text: &'a str, parts: &[String]) -> Option<&'a str> {
    pdf_text.lines().find(|line| parts.iter().all(|p| line.contains(p.as_str())))
}

#[test]
fn a_ward_report_carries_the_figures_of_stats_and_indicators_to_the_digit() {
    let store = common::demo_store(2000);
    let server = Server::start(&store, &[]);
    let (status, answer) = server.get_json("/scenarios/land_management/indicators");
    assert_eq!(status, 200);
    let indicators = answer["indicators"].as_array().unwrap();
    // A ward with parcels, below target on some indicator, so the mark is checked too.
    let units = indicators[0]["units"].as_array().unwrap();
    let below = |code: &Value| {
        indicators
            .iter()
            .any(|i| row_of(i, code.as_str().unwrap())["status"] == "below_target")
    };
    // A name with Vietnamese letters (not every demo ward has one: "Kim Long"), so extraction
    // of diacritics is checked.
    let with_parcels: Vec<&Value> = units
        .iter()
        .filter(|u| u["features"].as_u64().unwrap_or(0) > 0 && !text(&u["name"]).is_ascii())
        .collect();
    assert!(
        !with_parcels.is_empty(),
        "the demo has parcels in wards with Vietnamese names: {answer}"
    );
    let chosen = with_parcels.iter().find(|u| below(&u["code"])).unwrap_or(&with_parcels[0]);
    let (code, name) = (chosen["code"].as_str().unwrap().to_string(), text(&chosen["name"]));
    assert!(!name.is_ascii(), "demo ward names are Vietnamese: {name}");

    let pdf = pdf_of(&server, &format!("/reports/land_management.pdf?unit=wards:{code}"));
    let info = poppler("pdfinfo", &pdf, &[]);
    assert!(info.contains("595.28 x 841.89 pts (A4)"), "{info}");
    assert!(info.contains("Báo cáo: Quản lý đất đai"), "the title is the document's: {info}");
    let fonts = poppler("pdffonts", &pdf, &[]);
    let font_rows: Vec<&str> = fonts.lines().skip(2).filter(|l| !l.trim().is_empty()).collect();
    assert!(!font_rows.is_empty() && fonts.contains("NotoSans"), "{fonts}");
    for row in &font_rows {
        let cols: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(
            cols[cols.len() - 5..cols.len() - 2],
            ["yes", "yes", "yes"],
            "embedded, subset, ToUnicode: {fonts}"
        );
    }

    // The map: one picture of the page's width at twice its CSS pixels (760 × 470).
    let images = poppler("pdfimages", &pdf, &["-list"]);
    let map = images.lines().skip(2).find(|l| l.split_whitespace().count() > 4);
    let cols: Vec<&str> = map
        .unwrap_or_else(|| panic!("the report has no map picture: {images}"))
        .split_whitespace()
        .collect();
    assert_eq!((cols[2], cols[3], cols[4]), ("image", "1520", "940"), "{images}");

    let page = poppler("pdftotext", &pdf, &["-layout"]);
    assert!(
        page.contains("Báo cáo: Quản lý đất đai") && page.contains(&format!("Đơn vị: {name} (wards:{code})")),
        "{page}"
    );
    for indicator in indicators {
        let row = row_of(indicator, &code);
        let mut parts = vec![
            code.clone(),
            name.clone(),
            text(&row["value"]),
            text(&row["features"]),
            text(&row["matching"]),
        ];
        if row["status"] == "below_target" {
            parts.push("CHƯA ĐẠT".into());
        }
        assert!(
            line_with(&page, &parts).is_some(),
            "{}: no line with {parts:?} in:\n{page}",
            indicator["id"]
        );
        assert!(page.contains(&text(&indicator["title"])), "{page}");
    }
    let (status, stats) = server.get_json(&format!("/stats?layer=parcels&by=wards&within=wards:{code}"));
    assert_eq!(status, 200);
    let figures = row_of(&stats, &code);
    let parts = vec![code.clone(), name.clone(), text(&figures["count"]), text(&figures["area_m2"])];
    assert!(line_with(&page, &parts).is_some(), "no statistics line with {parts:?} in:\n{page}");
    for layer in ["parcels", "wards", "planning_zones"] {
        assert!(page.contains(layer), "data source {layer} is listed:\n{page}");
    }

    // JSON and CSV: the same rows.
    let (status, report) = server.get_json(&format!("/reports/land_management.json?unit=wards:{code}"));
    assert_eq!(status, 200);
    for (got, want) in report["indicators"].as_array().unwrap().iter().zip(indicators) {
        assert_eq!(got["units"], serde_json::json!([row_of(want, &code)]), "{}", want["id"]);
    }
    assert_eq!(&report["statistics"][0]["units"][0], figures);
    assert!(report["generated_at"].is_string() && report["data_as_of"].is_string(), "{report}");
    let (status, csv, content_type) = server.get(&format!("/reports/land_management.csv?unit=wards:{code}"));
    assert_eq!(
        (status, content_type.as_str()),
        (200, "text/csv"),
        "the client reads the media type without its charset"
    );
    let csv: String = String::from_utf8(csv).unwrap().nfc().collect();
    let row = row_of(&indicators[0], &code);
    let line = format!(
        "indicator,{},{},{code},{name},value,{},{}",
        text(&indicators[0]["id"]),
        row["id"],
        text(&row["value"]),
        text(&row["status"])
    );
    assert!(csv.lines().any(|l| l == line), "no '{line}' in:\n{csv}");
    let count = format!(
        "statistics,parcels by wards,{},{code},{name},count,{},",
        text(&figures["id"]),
        text(&figures["count"])
    );
    assert!(
        csv.lines().any(|l| l == count),
        "no {count:?} (no status: empty last cell) in:\n{csv}"
    );
}

#[test]
fn a_province_report_lists_every_unit_of_its_indicators() {
    let store = common::demo_store(2000);
    let server = Server::start(&store, &[]);
    let (_, answer) = server.get_json("/scenarios/land_management/indicators");
    let page = poppler("pdftotext", &pdf_of(&server, "/reports/land_management.pdf"), &["-layout"]);
    assert!(page.contains("Phạm vi: toàn tỉnh"), "{page}");
    for indicator in answer["indicators"].as_array().unwrap() {
        for row in indicator["units"].as_array().unwrap() {
            let parts = vec![text(&row["code"]), text(&row["name"]), text(&row["value"])];
            assert!(line_with(&page, &parts).is_some(), "{}: no line with {parts:?}", indicator["id"]);
        }
    }
}

#[test]
fn reports_follow_the_policy_and_refuse_bad_requests() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bando.toml");
    // The public sees the land scenario's parcels without their area, and no planning zones.
    std::fs::write(
        &config,
        "[security]\nanonymous_role = \"public\"\n\n[[security.roles]]\nname = \"public\"\n\
         layers = [\"land_management\", \"wards\", \"parcels\"]\nhidden_fields = { parcels = [\"area_m2\"] }\n",
    )
    .unwrap();
    let store = common::demo_store(2000);
    let server = Server::start(&store, &["--config", config.to_str().unwrap()]);
    let (status, report) = server.get_json("/reports/land_management.json");
    assert_eq!(status, 200, "{report}");
    let sources: Vec<&str> = report["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["layer"].as_str().unwrap())
        .collect();
    assert_eq!(sources, ["parcels", "wards"], "a hidden layer is no source: {report}");
    let ids: Vec<&str> = report["indicators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["residential_share"],
        "the indicator summing a hidden field is left out: {report}"
    );
    let page = poppler("pdftotext", &pdf_of(&server, "/reports/land_management.pdf"), &["-layout"]);
    assert!(!page.contains("planning_zones") && !page.contains("rice_land_area"), "{page}");
    server.assert_json_errors(&[
        ("/reports/social_welfare.pdf", 404),
        ("/reports/land_management.docx", 404),
        ("/reports/nowhere.json", 404),
        ("/reports/land_management.pdf?unit=wards:nope", 404),
        ("/reports/land_management.pdf?unit=wards", 400),
        ("/reports/land_management.pdf?unit=planning_zones:1", 404),
        ("/reports/land_management.pdf?ward=1", 400),
    ]);
}
