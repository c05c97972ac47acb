//! Diagnose: the verdicts that need no network.
//!
//! For each link, in this order: `data:` URIs and non-HTTP schemes are
//! `skipped`; a URL that does not parse is `broken` with the parser's
//! error; a relative URL with no base is `unresolvable`; excluded URLs are
//! `skipped`; signs of truncation ([`truncation`]) make it `truncated`.
//! Whatever survives is `unchecked` until the HTTP checker sees it.
//!
//! Then, over the document as a whole: runs of one-character links are
//! folded into one exploded-URL finding with the rebuilt URL as a repair
//! ([`exploded`]), and repeated URLs are marked as duplicates.

pub mod exploded;
pub mod truncation;

use std::collections::HashMap;

use regex::RegexSet;

use crate::config::LinksConfig;
use crate::model::{Finding, Link, Status, Suggestion};
use crate::resolve::Resolution;

/// Compiled include/exclude URL patterns.
pub struct UrlFilter {
    include: RegexSet,
    exclude: RegexSet,
}

impl UrlFilter {
    /// Compiles the patterns; they were validated with the configuration.
    pub fn new(config: &LinksConfig) -> UrlFilter {
        UrlFilter {
            include: RegexSet::new(&config.include).unwrap_or_else(|_| RegexSet::empty()),
            exclude: RegexSet::new(&config.exclude).unwrap_or_else(|_| RegexSet::empty()),
        }
    }

    fn verdict(&self, url: &str) -> Option<(&'static str, &'static str)> {
        if self.exclude.is_match(url) {
            Some(("excluded", "matches a `links.exclude` pattern"))
        } else if !self.include.is_empty() && !self.include.is_match(url) {
            Some(("not_included", "matches no `links.include` pattern"))
        } else {
            None
        }
    }
}

/// Sets a link's status from how it resolved. `base_hint` is shown in the
/// message of unresolvable links.
pub fn classify(link: &mut Link, resolution: &Resolution, filter: &UrlFilter, base_hint: &str) {
    let mut set = |status, reason, message: String| {
        link.status = status;
        link.reason = Some(reason);
        link.message = Some(message);
    };
    match resolution {
        Resolution::Malformed(error) => {
            set(
                Status::Broken,
                "malformed_url",
                format!("not a valid URL: {error}"),
            );
        }
        Resolution::NoBase => set(
            Status::Unresolvable,
            "no_base_url",
            format!(
                "`{}` is relative and the document has no base URL; {base_hint}",
                link.url
            ),
        ),
        Resolution::Absolute(url) => {
            link.resolved = Some(url.to_string());
            match url.scheme() {
                "http" | "https" => {}
                "data" => {
                    return set(
                        Status::Skipped,
                        "data_uri",
                        format!(
                            "inline data: URI ({} bytes); reported, not fetched",
                            link.url.len()
                        ),
                    )
                }
                other => {
                    return set(
                        Status::Skipped,
                        "unsupported_scheme",
                        format!("`{other}:` links are not checked"),
                    )
                }
            }
            if let Some((reason, why)) = filter.verdict(url.as_str()) {
                return set(Status::Skipped, reason, format!("URL {why}"));
            }
            match truncation::truncation(&link.url, url, link.kind) {
                Some(t) => set(Status::Truncated, t.reason, t.message),
                None => link.status = Status::Unchecked,
            }
        }
    }
}

/// Folds exploded-URL runs and marks duplicates among one document's
/// links. Finding ids start at `next_id`.
pub fn document_findings(links: &mut [Link], config: &LinksConfig, next_id: usize) -> Vec<Finding> {
    let mut findings = Vec::new();
    let candidates: Vec<exploded::Candidate> = links
        .iter()
        .map(|l| exploded::Candidate {
            raw: &l.url,
            resolved: l.resolved.as_deref(),
            is_source: l.kind == crate::extract::LinkKind::Source,
        })
        .collect();
    let runs = exploded::find_runs(&candidates, config.min_exploded_run);
    for run in runs {
        let id = next_id + findings.len();
        let suggestion = Suggestion {
            url: run.rebuilt.clone(),
            reason: "rebuilt_exploded_url",
            status: None,
        };
        let direction = if run.backwards {
            "backwards"
        } else {
            "forwards"
        };
        for &m in &run.members {
            let link = &mut links[m];
            link.status = Status::Truncated;
            link.reason = Some("exploded_url");
            link.message = Some(format!(
                "one character of an exploded URL; the whole URL is {}",
                run.rebuilt
            ));
            link.finding = Some(id);
            link.suggestions = vec![suggestion.clone()];
        }
        let (first, last) = (
            &links[run.members[0]],
            &links[*run.members.last().unwrap_or(&0)],
        );
        findings.push(Finding {
            id,
            document: first.document,
            kind: "exploded_url",
            status: Status::Truncated,
            line: first.line.min(last.line),
            end_line: first.line.max(last.line),
            links: run.members.iter().map(|&m| links[m].id).collect(),
            message: format!(
                "{} links are the characters of one URL, spelled {direction}: {}",
                run.members.len(),
                run.rebuilt
            ),
            suggestions: vec![suggestion],
        });
    }
    let mut first_seen: HashMap<String, usize> = HashMap::new();
    let mut repeats: HashMap<usize, Vec<usize>> = HashMap::new();
    for i in 0..links.len() {
        // A header and a body both naming the source is agreement, not noise.
        let (Some(url), None) = (links[i].resolved.clone(), links[i].finding) else {
            continue;
        };
        if links[i].kind == crate::extract::LinkKind::Source {
            continue;
        }
        match first_seen.get(&url) {
            Some(&first) => {
                links[i].duplicate_of = Some(links[first].id);
                repeats.entry(first).or_default().push(i);
            }
            None => {
                first_seen.insert(url, i);
            }
        }
    }
    let mut repeated: Vec<_> = repeats.into_iter().collect();
    repeated.sort();
    for (first, others) in repeated {
        let id = next_id + findings.len();
        let all: Vec<usize> = std::iter::once(first).chain(others).collect();
        let head = &links[first];
        findings.push(Finding {
            id,
            document: head.document,
            kind: "duplicate",
            status: head.status,
            line: head.line,
            end_line: links[*all.last().unwrap_or(&first)].line,
            links: all.iter().map(|&i| links[i].id).collect(),
            message: format!(
                "{} appears {} times (lines {})",
                head.resolved.as_deref().unwrap_or(&head.url),
                all.len(),
                all.iter()
                    .map(|&i| links[i].line.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            suggestions: Vec::new(),
        });
    }
    findings
}
