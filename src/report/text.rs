//! The report for people: grouped by document, worst document first, one
//! line per finding. An exploded URL is one line with its repair, not 66;
//! healthy and merely unchecked links are counted, not listed.

use std::fmt::Write as _;

use crate::model::Status;
use crate::pipeline::Scanned;
use crate::source::DocumentStatus;

use super::Summary;
use crate::vocab::{FindingKind, Reason};

/// Lines kept for one document that has something to report.
struct Entry {
    worst: Status,
    order: usize,
    lines: Vec<String>,
}

/// The text report under construction.
#[derive(Default)]
pub struct TextReport {
    entries: Vec<Entry>,
}

impl TextReport {
    pub fn add(&mut self, scanned: &Scanned) {
        let doc = &scanned.document;
        let mut lines = Vec::new();
        if doc.status != DocumentStatus::Ok {
            lines.push(format!(
                "  {:<12} {}",
                match doc.status {
                    DocumentStatus::Error => "error",
                    _ => "skipped",
                },
                doc.error.as_deref().unwrap_or("")
            ));
        }
        for note in &doc.notes {
            lines.push(format!("  {:<12} {note}", "note"));
        }
        for f in scanned
            .findings
            .iter()
            .filter(|f| f.kind == FindingKind::ExplodedUrl)
        {
            lines.push(format!(
                "  L{}-{:<7} {:<12} {}\n{:>16}repair: {}",
                f.line,
                f.end_line,
                f.status.as_str(),
                f.message,
                "",
                f.suggestions.first().map_or("", |s| s.url.as_str())
            ));
        }
        let mut listed: Vec<_> = scanned
            .links
            .iter()
            .filter(|l| l.finding.is_none() && !matches!(l.status, Status::Ok | Status::Unchecked))
            .collect();
        listed.sort_by_key(|l| (std::cmp::Reverse(l.status), l.line, l.column));
        for l in listed {
            let mut line = format!(
                "  L{:<9} {:<12} {:<20} {}",
                format!("{}:{}", l.line, l.column),
                l.status.as_str(),
                l.reason.map_or("", Reason::as_str),
                l.url
            );
            if let Some(m) = &l.message {
                let _ = write!(line, "  ({m})");
            }
            lines.push(line);
        }
        for f in scanned
            .findings
            .iter()
            .filter(|f| f.kind == FindingKind::Duplicate)
        {
            lines.push(format!("  {:<12} {}", "duplicate", f.message));
        }
        if !lines.is_empty() {
            self.entries.push(Entry {
                worst: scanned.worst(),
                order: self.entries.len(),
                lines: std::iter::once(format!(
                    "{} [{} link{}{}]",
                    doc.path,
                    doc.links,
                    if doc.links == 1 { "" } else { "s" },
                    doc.title
                        .as_ref()
                        .map(|t| format!(", \"{t}\""))
                        .unwrap_or_default()
                ))
                .chain(lines)
                .collect(),
            });
        }
    }

    /// Renders the report, worst documents first, then the summary.
    pub fn render(mut self, summary: &Summary, offline: bool) -> String {
        self.entries
            .sort_by_key(|e| (std::cmp::Reverse(e.worst), e.order));
        let mut out = String::new();
        for e in &self.entries {
            for l in &e.lines {
                out.push_str(l);
                out.push('\n');
            }
            out.push('\n');
        }
        let _ = writeln!(out, "summary: {}", summary.one_line());
        if offline {
            out.push_str("offline: links that need the network are `unchecked`\n");
        }
        if let Some(evidence) = summary
            .network
            .as_ref()
            .filter(|n| !n.up)
            .and_then(|n| n.evidence.as_deref())
        {
            let _ = writeln!(
                out,
                "network unavailable: {evidence}\n  links that could not be reached are `error` (network_unavailable), not `broken`; their last known status is kept; run again once the network is back (exit 4)"
            );
        }
        out
    }
}
