//! The dashboard: one HTML page for people, rendered from the last report.
//! The summary, the broken and truncated links grouped by document with
//! their repairs, and thumbnails of recently archived images. No scripts;
//! every value from a report is escaped.

use std::fmt::Write as _;

use serde_json::Value;

use super::LastRun;

/// HTML-escapes text for element content and quoted attributes.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse}\
td,th{padding:.2em .8em;border-bottom:1px solid #ddd;text-align:left}.broken{color:#b00}.truncated{color:#a60}\
.thumbs img{height:96px;margin:4px;border:1px solid #ccc}code{font-size:12px;word-break:break-all}";

/// Renders the page; `None` before the first run finishes.
pub fn render(last: Option<&LastRun>) -> String {
    let mut html = format!("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>archive</title><style>{STYLE}</style></head><body><h1>archive</h1>");
    let Some(run) = last else {
        html.push_str("<p id=\"waiting\">The first run has not finished yet.</p></body></html>");
        return html;
    };
    let report = &run.value;
    let summary = &report["summary"];
    let _ = write!(
        html,
        "<p id=\"generated\">Report of {} ({} mode).</p><h2>Summary</h2><table id=\"summary\"><tr><th>documents</th><td>{}</td></tr><tr><th>links</th><td>{}</td></tr>",
        escape(report["generated_at"].as_str().unwrap_or("")),
        escape(report["mode"].as_str().unwrap_or("")),
        summary["documents"]["scanned"],
        summary["links"]["total"],
    );
    if let Some(by) = summary["links"]["by_status"].as_object() {
        for (status, n) in by {
            let _ = write!(
                html,
                "<tr><th>{}</th><td class=\"{0}\">{}</td></tr>",
                escape(status),
                n
            );
        }
    }
    let _ = write!(
        html,
        "<tr><th>objects stored</th><td>{}</td></tr><tr><th>bytes stored</th><td>{}</td></tr></table>",
        summary["store"]["objects_total"], summary["store"]["bytes_total"]
    );
    render_problems(&mut html, report);
    render_thumbnails(&mut html, report);
    html.push_str("</body></html>");
    html
}

fn render_problems(html: &mut String, report: &Value) {
    html.push_str("<h2>Broken and truncated</h2>");
    let empty = Vec::new();
    let links = report["links"].as_array().unwrap_or(&empty);
    let docs = report["documents"].as_array().unwrap_or(&empty);
    let findings = report["findings"].as_array().unwrap_or(&empty);
    let mut any = false;
    for doc in docs {
        let id = &doc["id"];
        let bad: Vec<&Value> = links
            .iter()
            .filter(|l| {
                &l["document"] == id && matches!(l["status"].as_str(), Some("broken" | "truncated"))
            })
            .collect();
        if bad.is_empty() {
            continue;
        }
        any = true;
        let _ = write!(
            html,
            "<h3>{}</h3><ul>",
            escape(doc["path"].as_str().unwrap_or(""))
        );
        for f in findings
            .iter()
            .filter(|f| &f["document"] == id && f["kind"] == "exploded_url")
        {
            let _ = write!(
                html,
                "<li class=\"truncated\">{}",
                escape(f["message"].as_str().unwrap_or(""))
            );
            repairs(html, &f["suggestions"]);
            html.push_str("</li>");
        }
        for l in bad.iter().filter(|l| l["finding"].is_null()) {
            let _ = write!(
                html,
                "<li class=\"{}\">line {}: <code>{}</code> {}: {}",
                escape(l["status"].as_str().unwrap_or("")),
                l["line"],
                escape(l["url"].as_str().unwrap_or("")),
                escape(l["reason"].as_str().unwrap_or("")),
                escape(l["message"].as_str().unwrap_or(""))
            );
            repairs(html, &l["suggestions"]);
            html.push_str("</li>");
        }
        html.push_str("</ul>");
    }
    if !any {
        html.push_str("<p>None.</p>");
    }
}

fn repairs(html: &mut String, suggestions: &Value) {
    for s in suggestions.as_array().into_iter().flatten() {
        let _ = write!(
            html,
            "<br>repair: <code>{}</code> ({})",
            escape(s["url"].as_str().unwrap_or("")),
            escape(s["status"].as_str().unwrap_or("unchecked"))
        );
    }
}

fn render_thumbnails(html: &mut String, report: &Value) {
    html.push_str("<h2>Recently archived images</h2><div class=\"thumbs\" id=\"thumbs\">");
    let mut shown: Vec<&str> = Vec::new();
    for l in report["links"].as_array().into_iter().flatten() {
        let Some(sha) = l["store"]["sha256"].as_str() else {
            continue;
        };
        if l["kind"] != "image" || shown.contains(&sha) || shown.len() >= 48 {
            continue;
        }
        shown.push(sha);
        let _ = write!(
            html,
            "<a href=\"/objects/{sha}\"><img src=\"/objects/{sha}\" alt=\"{}\" title=\"{}\"></a>",
            escape(l["url"].as_str().unwrap_or("")),
            escape(l["url"].as_str().unwrap_or(""))
        );
    }
    if shown.is_empty() {
        html.push_str("<p>No images archived yet.</p>");
    }
    html.push_str("</div>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_hostile_report_values() {
        let value = serde_json::json!({
            "generated_at": "<script>alert(1)</script>", "mode": "online",
            "summary": {"documents": {"scanned": 1}, "links": {"total": 1, "by_status": {"broken": 1}}, "store": {}},
            "documents": [{"id": 0, "path": "a\"><img src=x onerror=alert(1)>.md"}],
            "links": [{"document": 0, "status": "broken", "url": "javascript:alert(1)", "finding": null, "line": 1,
                       "reason": "not_found", "message": "<b>", "suggestions": [], "kind": "image", "store": null}],
            "findings": []
        });
        let run = LastRun {
            report: Vec::new(),
            value,
            metrics: String::new(),
            times: Default::default(),
        };
        let html = render(Some(&run));
        assert!(!html.contains("<script>alert"));
        assert!(!html.contains("<img src=x"));
        assert!(html.contains("&lt;b&gt;"));
    }
}
