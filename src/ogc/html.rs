//! The HTML form of every OGC document (the conformance class `html`), for people browsing the
//! API: made from the same JSON the machines get, so the two cannot differ. A page shows the
//! document's title, its links, and its content as lists or tables; every text is escaped.

use std::fmt::Write;

use serde_json::Value;

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A JSON value as table-cell text: strings bare, anything else as JSON.
fn cell(v: &Value) -> String {
    match v {
        Value::String(s) => escape(s),
        Value::Null => String::new(),
        other => escape(&other.to_string()),
    }
}

fn anchor(href: &str, text: &str) -> String {
    format!("<a href=\"{}\">{}</a>", escape(href), escape(text))
}

fn links(out: &mut String, doc: &Value) {
    let Some(list) = doc["links"].as_array() else { return };
    out.push_str("<h2>Links</h2><ul>");
    for l in list {
        let href = l["href"].as_str().unwrap_or("");
        let title = l["title"].as_str().unwrap_or(href);
        let _ = write!(
            out,
            "<li>{} <small>({} {})</small></li>",
            anchor(href, title),
            cell(&l["rel"]),
            cell(&l["type"])
        );
    }
    out.push_str("</ul>");
}

/// The `html` alternate of a link list: the link whose type is text/html, else the first.
fn html_href(doc: &Value, rel: &str) -> Option<String> {
    let list = doc["links"].as_array()?;
    let of_rel = || list.iter().filter(|l| l["rel"] == rel);
    of_rel()
        .find(|l| l["type"] == "text/html")
        .or_else(|| of_rel().next())
        .and_then(|l| l["href"].as_str().map(str::to_string))
}

fn feature_table(out: &mut String, features: &[Value]) {
    let mut columns: Vec<&str> = Vec::new();
    for f in features {
        for key in f["properties"].as_object().into_iter().flat_map(|o| o.keys()) {
            if !columns.contains(&key.as_str()) {
                columns.push(key);
            }
        }
    }
    out.push_str("<table><tr><th>id</th><th>geometry</th>");
    for c in &columns {
        let _ = write!(out, "<th>{}</th>", escape(c));
    }
    out.push_str("</tr>");
    for f in features {
        let _ = write!(out, "<tr><td>{}</td><td>{}</td>", cell(&f["id"]), cell(&f["geometry"]["type"]));
        for c in &columns {
            let _ = write!(out, "<td>{}</td>", cell(&f["properties"][c]));
        }
        out.push_str("</tr>");
    }
    out.push_str("</table>");
}

fn body(out: &mut String, doc: &Value) {
    if let Some(features) = doc["features"].as_array() {
        let _ = write!(
            out,
            "<p>{} of {} matched features.</p>",
            cell(&doc["numberReturned"]),
            cell(&doc["numberMatched"])
        );
        feature_table(out, features);
    } else if doc["type"] == "Feature" {
        out.push_str("<table>");
        let _ = write!(out, "<tr><th>id</th><td>{}</td></tr>", cell(&doc["id"]));
        for (k, v) in doc["properties"].as_object().into_iter().flatten() {
            let _ = write!(out, "<tr><th>{}</th><td>{}</td></tr>", escape(k), cell(v));
        }
        out.push_str("</table>");
    } else if let Some(list) = doc["collections"].as_array() {
        out.push_str("<ul>");
        for c in list {
            let name = c["id"].as_str().unwrap_or("");
            let href = html_href(c, "self").unwrap_or_default();
            let _ = write!(out, "<li>{}: {}</li>", anchor(&href, name), cell(&c["description"]));
        }
        out.push_str("</ul>");
    } else if let Some(list) = doc["conformsTo"].as_array() {
        out.push_str("<ul>");
        for c in list {
            let _ = write!(out, "<li>{}</li>", cell(c));
        }
        out.push_str("</ul>");
    } else if let Some(d) = doc["description"].as_str() {
        let _ = write!(out, "<p>{}</p>", escape(d));
    }
}

/// The page of `doc` titled `title` (the document's own title or id, if it has one).
pub fn page(doc: &Value, title: &str) -> String {
    let title = doc["title"].as_str().or(doc["id"].as_str()).unwrap_or(title);
    let mut out = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{0}</title></head><body><h1>{0}</h1>",
        escape(title)
    );
    body(&mut out, doc);
    links(&mut out, doc);
    out.push_str("</body></html>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_features_tabled() {
        let doc = serde_json::json!({
            "type": "FeatureCollection", "numberMatched": 1, "numberReturned": 1,
            "features": [{"type": "Feature", "id": 7, "geometry": {"type": "Point"}, "properties": {"name": "<b>Huế</b>"}}],
            "links": [{"href": "http://h/x?a=1&b=2", "rel": "self", "type": "text/html", "title": "t"}],
        });
        let html = page(&doc, "items");
        assert!(html.contains("&lt;b&gt;Huế&lt;/b&gt;") && !html.contains("<b>Huế"), "{html}");
        assert!(html.contains("href=\"http://h/x?a=1&amp;b=2\""), "{html}");
        assert!(html.contains("<td>7</td><td>Point</td>"), "{html}");
    }
}
