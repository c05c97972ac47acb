//! The dashboard: one HTML page for people, rendered from the last run's
//! [`Digest`] (built while the run went, never from the report file): the
//! summary, the broken and truncated links grouped by document with their
//! repairs, and thumbnails of recently archived images. The digest is
//! bounded, and a page renders only its [`PAGE_SIZE`] documents, so
//! rendering takes time in proportion to what is shown. No scripts;
//! every value from a run is escaped.

use std::fmt::Write as _;

use super::LastRun;
use crate::report::digest::{Digest, Problem, Repair};

/// Problem documents per page (`/?page=N`, from 1).
pub const PAGE_SIZE: usize = 50;
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

/// Renders page `page` (from 1) of the dashboard; `None` before the
/// first run finishes.
pub fn render(last: Option<&LastRun>, page: usize) -> String {
    let mut html = format!("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>archive</title><style>{STYLE}</style></head><body><h1>archive</h1>");
    let Some(run) = last else {
        html.push_str("<p id=\"waiting\">The first run has not finished yet.</p></body></html>");
        return html;
    };
    let digest = &run.digest;
    let _ = write!(
        html,
        "<p id=\"generated\">Report of {} ({} mode).</p><h2>Summary</h2><table id=\"summary\"><tr><th>documents</th><td>{}</td></tr><tr><th>links</th><td>{}</td></tr>",
        escape(&digest.generated_at),
        escape(&digest.mode),
        digest.documents,
        digest.links,
    );
    for (status, n) in &digest.by_status {
        let _ = write!(
            html,
            "<tr><th>{}</th><td class=\"{0}\">{}</td></tr>",
            escape(status),
            n
        );
    }
    let or_dash = |n: Option<u64>| n.map_or_else(|| "-".to_string(), |n| n.to_string());
    let _ = write!(
        html,
        "<tr><th>objects stored</th><td>{}</td></tr><tr><th>bytes stored</th><td>{}</td></tr><tr><th>object store</th><td id=\"store-backend\">{}</td></tr></table>",
        or_dash(digest.store_objects),
        or_dash(digest.store_bytes),
        escape(digest.store_backend.as_deref().unwrap_or("-"))
    );
    render_problems(&mut html, digest, page.max(1));
    render_thumbnails(&mut html, digest);
    html.push_str("</body></html>");
    html
}

fn render_problems(html: &mut String, digest: &Digest, page: usize) {
    html.push_str("<h2>Broken and truncated</h2>");
    if digest.problem_documents == 0 {
        html.push_str("<p>None.</p>");
        return;
    }
    let pages = digest.problems.len().div_ceil(PAGE_SIZE).max(1);
    let page = page.min(pages);
    let first = (page - 1) * PAGE_SIZE;
    for doc in digest.problems.iter().skip(first).take(PAGE_SIZE) {
        let _ = write!(html, "<h3>{}</h3><ul>", escape(&doc.path));
        for problem in &doc.problems {
            match problem {
                Problem::Exploded { message, repairs } => {
                    let _ = write!(html, "<li class=\"truncated\">{}", escape(message));
                    render_repairs(html, repairs);
                }
                Problem::Link {
                    status,
                    line,
                    url,
                    reason,
                    message,
                    repairs,
                } => {
                    let _ = write!(
                        html,
                        "<li class=\"{}\">line {line}: <code>{}</code> {}: {}",
                        escape(status),
                        escape(url),
                        escape(reason),
                        escape(message)
                    );
                    render_repairs(html, repairs);
                }
            }
            html.push_str("</li>");
        }
        if doc.more > 0 {
            let _ = write!(html, "<li>and {} more</li>", doc.more);
        }
        html.push_str("</ul>");
    }
    let _ = write!(html, "<p id=\"pages\">Page {page} of {pages}");
    if page > 1 {
        let _ = write!(html, " <a href=\"/?page={}\">previous</a>", page - 1);
    }
    if page < pages {
        let _ = write!(html, " <a href=\"/?page={}\">next</a>", page + 1);
    }
    let hidden = digest.problem_documents - digest.problems.len();
    if hidden > 0 {
        let _ = write!(
            html,
            "; {hidden} more documents with problems are in <a href=\"/report.json\">the report</a>"
        );
    }
    html.push_str(".</p>");
}

fn render_repairs(html: &mut String, repairs: &[Repair]) {
    for r in repairs {
        let _ = write!(
            html,
            "<br>repair: <code>{}</code> ({})",
            escape(&r.url),
            escape(r.status)
        );
    }
}

fn render_thumbnails(html: &mut String, digest: &Digest) {
    html.push_str("<h2>Recently archived images</h2><div class=\"thumbs\" id=\"thumbs\">");
    // Newest first. A digest names the file: no escaping can be needed,
    // but it costs nothing to be sure.
    for t in digest.thumbnails.iter().rev() {
        let sha = escape(&t.sha256);
        let url = escape(&t.url);
        let _ = write!(
            html,
            "<a href=\"/objects/{sha}\"><img src=\"/objects/{sha}\" alt=\"{url}\" title=\"{url}\"></a>"
        );
    }
    if digest.thumbnails.is_empty() {
        html.push_str("<p>No images archived yet.</p>");
    }
    html.push_str("</div>");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Status;
    use crate::report::fixtures::{document, link};
    use crate::report::{RunInfo, Summary};
    use crate::source::DocumentStatus;

    #[test]
    fn escapes_hostile_report_values() {
        let mut bad = link(Status::Broken, "javascript:alert(1)", None);
        bad.reason = Some(crate::vocab::Reason::NotFound);
        bad.message = Some("<b>".into());
        let doc = document(
            "a\"><img src=x onerror=alert(1)>.md",
            DocumentStatus::Ok,
            vec![bad],
        );
        let mut digest = Digest::default();
        digest.add(&doc);
        let mut summary = Summary::default();
        summary.add(&doc);
        digest.finish(
            &summary,
            &RunInfo {
                generated_at: "<script>alert(1)</script>".into(),
                mode: "online",
                config_path: None,
                config_sha256: String::new(),
            },
        );
        let run = LastRun {
            report: Default::default(),
            digest,
            metrics: String::new(),
            times: Default::default(),
        };
        let html = render(Some(&run), 1);
        assert!(!html.contains("<script>alert"));
        assert!(!html.contains("<img src=x"));
        assert!(html.contains("&lt;b&gt;"));
    }

    #[test]
    fn pages_through_the_problem_documents() {
        let mut digest = Digest::default();
        for i in 0..PAGE_SIZE + 1 {
            let l = link(Status::Broken, &format!("http://a.test/{i}.jpg"), None);
            digest.add(&document(
                &format!("doc{i}.md"),
                DocumentStatus::Ok,
                vec![l],
            ));
        }
        let run = LastRun {
            report: Default::default(),
            digest,
            metrics: String::new(),
            times: Default::default(),
        };
        let first = render(Some(&run), 1);
        assert!(first.contains("doc0.md") && !first.contains(&format!("doc{PAGE_SIZE}.md")));
        assert!(first.contains("href=\"/?page=2\""));
        let second = render(Some(&run), 2);
        assert!(second.contains(&format!("doc{PAGE_SIZE}.md")) && !second.contains("doc0.md"));
        assert_eq!(
            render(Some(&run), 99),
            second,
            "past the end: the last page"
        );
    }
}
