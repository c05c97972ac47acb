//! The dashboard's digest of a run: what the daemon's page shows, built
//! document by document as the run emits them, so the page never needs
//! the report (which grows with the corpus) in memory or on disk.
//!
//! It keeps the summary's counters, the first [`PROBLEM_DOCUMENTS`]
//! documents that have broken or truncated links (each with at most
//! [`PROBLEMS_PER_DOCUMENT`] of them, with their repairs) and the last
//! [`THUMBNAILS`] distinct archived images. Those bounds make its size
//! independent of the corpus; what does not fit is counted, and the page
//! points at `/report.json` for the rest. Values are kept raw: escaping
//! is the renderer's job (`daemon::dashboard`), at the one place HTML is
//! written.

use std::collections::VecDeque;

use super::{stored_sha256, RunInfo, Summary};
use crate::extract::LinkKind;
use crate::model::{Status, Suggestion};
use crate::pipeline::Scanned;
use crate::vocab::{FindingKind, Reason};

/// Problem documents kept (the first ones in report order).
pub const PROBLEM_DOCUMENTS: usize = 200;
/// Problems kept per document.
pub const PROBLEMS_PER_DOCUMENT: usize = 50;
/// Archived images kept for thumbnails (the most recent ones).
pub const THUMBNAILS: usize = 48;

/// A repair proposed for a problem: the URL and its own check status.
#[derive(Debug, Clone, PartialEq)]
pub struct Repair {
    pub url: String,
    /// `unchecked` when the suggestion was not checked (offline).
    pub status: &'static str,
}

/// One line of a problem document.
#[derive(Debug, Clone, PartialEq)]
pub enum Problem {
    /// An exploded URL: one finding for the run of links it split into.
    Exploded {
        message: String,
        repairs: Vec<Repair>,
    },
    /// A broken or truncated link that is not part of a finding.
    Link {
        status: &'static str,
        line: usize,
        url: String,
        reason: String,
        message: String,
        repairs: Vec<Repair>,
    },
}

/// A document with broken or truncated links.
#[derive(Debug, Clone, PartialEq)]
pub struct ProblemDocument {
    pub path: String,
    pub problems: Vec<Problem>,
    /// Problems of this document beyond [`PROBLEMS_PER_DOCUMENT`].
    pub more: usize,
}

/// An archived image, for a thumbnail.
#[derive(Debug, Clone, PartialEq)]
pub struct Thumbnail {
    pub sha256: String,
    pub url: String,
}

/// The dashboard's view of one run; see the module doc.
#[derive(Debug, Clone, Default)]
pub struct Digest {
    /// From the run's [`RunInfo`], set by [`Digest::finish`].
    pub generated_at: String,
    pub mode: String,
    pub documents: usize,
    pub links: usize,
    /// Links by status, every status present.
    pub by_status: Vec<(&'static str, usize)>,
    /// The media store's totals, for online runs.
    pub store_objects: Option<u64>,
    pub store_bytes: Option<u64>,
    /// Where the objects live, e.g. `s3 (s3://media/archive)`.
    pub store_backend: Option<String>,
    /// The first problem documents, in report order.
    pub problems: Vec<ProblemDocument>,
    /// All problem documents of the run, kept or not.
    pub problem_documents: usize,
    /// The most recently emitted archived images, oldest first.
    pub thumbnails: VecDeque<Thumbnail>,
}

fn repairs(suggestions: &[Suggestion]) -> Vec<Repair> {
    suggestions
        .iter()
        .map(|s| Repair {
            url: s.url.clone(),
            status: s.status.map_or("unchecked", Status::as_str),
        })
        .collect()
}

fn is_problem(status: Status) -> bool {
    matches!(status, Status::Broken | Status::Truncated)
}

impl Digest {
    /// Takes what the page shows from one emitted document.
    pub fn add(&mut self, scanned: &Scanned) {
        for link in &scanned.links {
            let Some(sha) = stored_sha256(link) else {
                continue;
            };
            if link.kind != LinkKind::Image {
                continue;
            }
            // Seen again: it moves to the most recent end.
            if let Some(i) = self.thumbnails.iter().position(|t| t.sha256 == sha) {
                self.thumbnails.remove(i);
            } else if self.thumbnails.len() >= THUMBNAILS {
                self.thumbnails.pop_front();
            }
            self.thumbnails.push_back(Thumbnail {
                sha256: sha.to_string(),
                url: link.url.clone(),
            });
        }
        if !scanned.links.iter().any(|l| is_problem(l.status)) {
            return;
        }
        self.problem_documents += 1;
        if self.problems.len() >= PROBLEM_DOCUMENTS {
            return;
        }
        let exploded = scanned
            .findings
            .iter()
            .filter(|f| f.kind == FindingKind::ExplodedUrl)
            .map(|f| Problem::Exploded {
                message: f.message.clone(),
                repairs: repairs(&f.suggestions),
            });
        let links = scanned
            .links
            .iter()
            .filter(|l| is_problem(l.status) && l.finding.is_none())
            .map(|l| Problem::Link {
                status: l.status.as_str(),
                line: l.line,
                url: l.url.clone(),
                reason: l.reason.map_or("", Reason::as_str).to_string(),
                message: l.message.clone().unwrap_or_default(),
                repairs: repairs(&l.suggestions),
            });
        let mut all = exploded.chain(links);
        let problems: Vec<Problem> = all.by_ref().take(PROBLEMS_PER_DOCUMENT).collect();
        self.problems.push(ProblemDocument {
            path: scanned.document.path.clone(),
            problems,
            more: all.count(),
        });
    }

    /// Takes the run's summary and facts once the last document is in.
    pub fn finish(&mut self, summary: &Summary, info: &RunInfo) {
        self.generated_at = info.generated_at.clone();
        self.mode = info.mode.to_string();
        self.documents = summary.documents.scanned;
        self.links = summary.links.total;
        self.by_status = summary
            .links
            .by_status
            .iter()
            .map(|(s, n)| (*s, *n))
            .collect();
        self.store_objects = summary.store.as_ref().map(|s| s.objects_total);
        self.store_bytes = summary.store.as_ref().map(|s| s.bytes_total);
        self.store_backend = summary
            .store
            .as_ref()
            .map(|s| format!("{} ({})", s.backend, s.location));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures::{document, link};
    use crate::source::DocumentStatus;

    fn stored(mut l: crate::model::Link, sha: &str) -> crate::model::Link {
        l.store = Some(Box::new(crate::check::StoreOutcome::Stored(
            crate::check::StoredCopy {
                content_type: None,
                new: true,
                not_modified: false,
                path: String::new(),
                sha256: sha.to_string(),
                size: 1,
                stored_at: String::new(),
            },
        )));
        l
    }

    #[test]
    fn keeps_within_its_bounds() {
        let mut digest = Digest::default();
        for i in 0..PROBLEM_DOCUMENTS + 5 {
            let links = (0..PROBLEMS_PER_DOCUMENT + 3)
                .map(|j| link(Status::Broken, &format!("http://a.test/{i}/{j}.jpg"), None))
                .collect();
            digest.add(&document(&format!("{i}.md"), DocumentStatus::Ok, links));
        }
        for i in 0..THUMBNAILS + 10 {
            let l = stored(
                link(Status::Ok, "http://a.test/x.jpg", None),
                &format!("{i}"),
            );
            digest.add(&document("ok.md", DocumentStatus::Ok, vec![l]));
        }
        assert_eq!(digest.problems.len(), PROBLEM_DOCUMENTS);
        assert_eq!(digest.problem_documents, PROBLEM_DOCUMENTS + 5);
        assert_eq!(digest.problems[0].path, "0.md");
        assert_eq!(digest.problems[0].problems.len(), PROBLEMS_PER_DOCUMENT);
        assert_eq!(digest.problems[0].more, 3);
        assert_eq!(digest.thumbnails.len(), THUMBNAILS);
        assert_eq!(
            digest.thumbnails.back().map(|t| t.sha256.as_str()),
            Some(format!("{}", THUMBNAILS + 9).as_str())
        );
    }

    #[test]
    fn a_seen_image_moves_to_the_recent_end_once() {
        let mut digest = Digest::default();
        for sha in ["a", "b", "a"] {
            let l = stored(link(Status::Ok, "http://a.test/x.jpg", None), sha);
            digest.add(&document("ok.md", DocumentStatus::Ok, vec![l]));
        }
        let shas: Vec<&str> = digest
            .thumbnails
            .iter()
            .map(|t| t.sha256.as_str())
            .collect();
        assert_eq!(shas, ["b", "a"]);
    }
}
