//! Report: what a run found, for machines ([`json`], the versioned schema
//! in `docs/report.schema.json`) and for people ([`text`]).
//!
//! Both are fed one [`Scanned`] document at a time and keep only what they
//! must: the JSON writer streams links into the report file and spills
//! documents and findings to temporary files it copies in at the end
//! ([`json`]); the text report writes
//! each document that has something to say as it comes and keeps
//! nothing. The
//! [`Summary`] is counters.
//!
//! [`sinks::Sinks`] holds them all for a run. The same single pass feeds the sinks that used to re-read the written
//! report: the Prometheus [`metrics::Metrics`] accumulator and the
//! daemon's bounded dashboard [`digest::Digest`]. Nothing parses the
//! report file back: it is written for its readers, not for us, and
//! reading it back cost memory in proportion to the corpus.

pub mod digest;
pub mod json;
mod link_json;
pub mod metrics;
mod pending;
pub use pending::is_special;
pub mod progress;
pub mod sinks;
pub mod text;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::check::StoreOutcome;
use crate::extract::LinkKind;
use crate::model::{Link, Status};
use crate::pipeline::Scanned;
use crate::source::DocumentStatus;
use crate::vocab::FindingKind;

/// Version of the JSON report's schema (semver: a new optional field is a
/// minor bump, anything that breaks a reader is a major one).
pub const SCHEMA_VERSION: &str = "2.2.0";

/// Counters over a whole run.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub documents: DocumentCounts,
    pub links: LinkCounts,
    /// Findings by kind (`exploded_url`, `duplicate`).
    pub findings: BTreeMap<&'static str, usize>,
    pub bytes_scanned: u64,
    pub duration_ms: u64,
    /// The media store, for online runs.
    pub store: Option<crate::store::StoreSummary>,
    /// Milliseconds requests waited for per-host rate limits (online runs).
    pub rate_limit_wait_ms: Option<u64>,
    /// Whether the run could reach the network (online runs; absent
    /// offline). Since schema 1.4.0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<NetworkSummary>,
    /// What failed to be stored this run (a full disk, a corrupt state
    /// database); `None` when everything was (schema 1.4.0, exit code 3).
    pub store_error: Option<crate::store::StoreErrorSummary>,
}

/// The summary's `network`: whether the run could reach anything.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NetworkSummary {
    pub up: bool,
    /// Why it was judged unavailable; `None` when up.
    pub evidence: Option<String>,
}

impl NetworkSummary {
    pub fn of(network: &crate::check::outage::Network) -> NetworkSummary {
        match network {
            crate::check::outage::Network::Up => NetworkSummary {
                up: true,
                evidence: None,
            },
            crate::check::outage::Network::Down { evidence } => NetworkSummary {
                up: false,
                evidence: Some(evidence.clone()),
            },
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct DocumentCounts {
    pub scanned: usize,
    pub ok: usize,
    pub skipped: usize,
    pub error: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct LinkCounts {
    pub total: usize,
    /// Every status, zero included, so dashboards see a stable key set.
    pub by_status: BTreeMap<&'static str, usize>,
    pub by_kind: BTreeMap<&'static str, usize>,
}

impl Default for Summary {
    fn default() -> Self {
        Summary {
            documents: DocumentCounts::default(),
            links: LinkCounts {
                total: 0,
                by_status: Status::ALL.iter().map(|s| (s.as_str(), 0)).collect(),
                by_kind: LinkKind::ALL.iter().map(|k| (k.as_str(), 0)).collect(),
            },
            findings: FindingKind::ALL.iter().map(|k| (k.as_str(), 0)).collect(),
            bytes_scanned: 0,
            duration_ms: 0,
            store: None,
            rate_limit_wait_ms: None,
            network: None,
            store_error: None,
        }
    }
}

impl Summary {
    /// Counts one scanned document.
    pub fn add(&mut self, scanned: &Scanned) {
        self.documents.scanned += 1;
        match scanned.document.status {
            DocumentStatus::Ok => self.documents.ok += 1,
            DocumentStatus::Skipped => self.documents.skipped += 1,
            DocumentStatus::Error => self.documents.error += 1,
        }
        self.bytes_scanned += scanned.document.bytes;
        let counts = LinkTally::of(&scanned.links);
        self.links.total += scanned.links.len();
        for status in Status::ALL {
            let n = counts.by_status(status);
            if n > 0 {
                *self.links.by_status.entry(status.as_str()).or_default() += n;
            }
        }
        for kind in LinkKind::ALL {
            let n: usize = Status::ALL.iter().map(|&s| counts.get(s, kind)).sum();
            if n > 0 {
                *self.links.by_kind.entry(kind.as_str()).or_default() += n;
            }
        }
        for f in &scanned.findings {
            *self.findings.entry(f.kind.as_str()).or_default() += 1;
        }
    }

    /// Links whose status fails the check (exit code 1).
    pub fn failing_links(&self) -> usize {
        Status::ALL
            .iter()
            .filter(|s| s.fails_check())
            .map(|s| self.links.by_status.get(s.as_str()).copied().unwrap_or(0))
            .sum()
    }

    /// One line, e.g. for logs and `sd_notify` STATUS.
    pub fn one_line(&self) -> String {
        let statuses: Vec<String> = Status::ALL
            .iter()
            .filter_map(|s| {
                let n = self.links.by_status.get(s.as_str()).copied().unwrap_or(0);
                (n > 0).then(|| format!("{n} {}", s.as_str()))
            })
            .collect();
        let store_error = self.store_error.as_ref().map_or(String::new(), |e| {
            format!(
                "; STORE ERRORS: {} objects, {} database operations and {} WARC records failed",
                e.objects, e.database, e.warc
            )
        });
        format!(
            "{} documents ({} error, {} skipped), {} links{}{}{store_error}",
            self.documents.scanned,
            self.documents.error,
            self.documents.skipped,
            self.links.total,
            if statuses.is_empty() { "" } else { ": " },
            statuses.join(", ")
        )
    }
}

/// A document's links counted by status and kind, in an array: the
/// run's maps keyed by words are then updated once per document and
/// pair, not once per link.
pub(crate) struct LinkTally([[usize; LinkKind::ALL.len()]; Status::ALL.len()]);

impl LinkTally {
    pub(crate) fn of(links: &[Link]) -> LinkTally {
        let mut counts = [[0; LinkKind::ALL.len()]; Status::ALL.len()];
        for link in links {
            counts[link.status as usize][link.kind as usize] += 1;
        }
        LinkTally(counts)
    }

    pub(crate) fn get(&self, status: Status, kind: LinkKind) -> usize {
        self.0[status as usize][kind as usize]
    }

    fn by_status(&self, status: Status) -> usize {
        self.0[status as usize].iter().sum()
    }
}

/// Writes a file the way readers of reports need: a regular file is
/// written to an anonymous file beside it, fsynced, made world-readable
/// and renamed into place, so nobody ever reads half of it
/// ([`pending::PendingFile`]). Anything else that already exists there
/// (`/dev/null`, a FIFO, `/dev/stdout`) is written to directly: renaming
/// over a device would replace it.
pub fn write_file_atomically(
    path: &std::path::Path,
    write: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    use std::io::Write as _;
    if pending::is_special(path) {
        let mut out = std::io::BufWriter::new(std::fs::OpenOptions::new().write(true).open(path)?);
        write(&mut out)?;
        return out.flush();
    }
    let file = pending::PendingFile::create(path)?;
    let mut out = std::io::BufWriter::new(file.file());
    write(&mut out)?;
    out.flush()?;
    drop(out);
    file.commit()
}

/// Facts about the run that head the JSON report.
#[derive(Debug, Clone, Serialize)]
pub struct RunInfo {
    pub generated_at: String,
    pub mode: &'static str,
    pub config_path: Option<String>,
    pub config_sha256: String,
}

/// What the sinks need of a link's HTTP check.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HttpFacts {
    /// Time to check the link, retries included.
    pub elapsed_ms: f64,
    /// Answered from the check cache: no request was made.
    pub from_cache: bool,
}

/// The link's HTTP check, if it was checked over HTTP. The one place the
/// sinks read `Link.http`, so its type can change here alone.
pub fn http_facts(link: &Link) -> Option<HttpFacts> {
    let http = link.http.as_ref()?;
    Some(HttpFacts {
        elapsed_ms: http.elapsed_ms as f64,
        from_cache: http.from_cache,
    })
}

/// The digest of the link's archived copy, if it has one. The one place
/// the sinks read `Link.store`, so its type can change here alone.
pub fn stored_sha256(link: &Link) -> Option<&str> {
    match link.store.as_deref()? {
        StoreOutcome::Stored(copy) => Some(&copy.sha256),
        StoreOutcome::Failed { .. } => None,
    }
}

/// Documents and links to feed the sinks in unit tests.
#[cfg(test)]
pub(crate) mod fixtures {
    use crate::extract::LinkKind;
    use crate::model::{Link, Status};
    use crate::pipeline::{DocumentRecord, Scanned};
    use crate::source::format::{Format, HeaderStyle};
    use crate::source::DocumentStatus;

    pub fn document(path: &str, status: DocumentStatus, links: Vec<Link>) -> Scanned {
        Scanned {
            document: DocumentRecord {
                id: 0,
                path: path.to_string(),
                format: Format::Markdown,
                header: HeaderStyle::default(),
                encoding: "utf-8",
                status,
                error: None,
                notes: Vec::new(),
                title: None,
                date: None,
                base_url: None,
                base_origin: None,
                source_url: None,
                found_on_source: Vec::new(),
                links: links.len(),
                bytes: 0,
            },
            links,
            findings: Vec::new(),
        }
    }

    pub fn link(status: Status, url: &str, http: Option<crate::check::HttpInfo>) -> Link {
        Link {
            id: 0,
            document: 0,
            url: url.to_string(),
            resolved: url::Url::parse(url).ok().map(String::from),
            kind: LinkKind::Image,
            status,
            reason: None,
            message: None,
            static_reason: None,
            line: 1,
            column: 1,
            syntax: crate::vocab::Syntax::MarkdownImage,
            text: None,
            finding: None,
            duplicate_of: None,
            suggestions: Vec::new(),
            http: http.map(Box::new),
            store: None,
            last_known: None,
        }
    }
}
