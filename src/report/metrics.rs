//! Prometheus text exposition of a run, for the daemon's `/metrics` and
//! for `--prom-file` (node_exporter's textfile collector).
//!
//! [`Metrics`] is fed each document as the run emits it (the same
//! [`Scanned`] values the JSON report is written from) and renders with
//! the run's [`Summary`] at the end, so the metrics and the report cannot
//! disagree and nothing reads the report file back. What it keeps is
//! bounded by the vocabulary and the hosts, not by the corpus: a count
//! per (status, kind) and per (host, outcome), and the latency
//! histogram's buckets.
//!
//! A hand accumulator rather than `prometheus-client`: these are per-run
//! gauges rendered once per run, with label sets (every status and kind,
//! zero included) and number formatting that existing dashboards and
//! alerts read; a registry of live counters would add a dependency and a
//! second formatting to keep identical, for no gain here. Live daemon
//! metrics (in-flight requests, run counters) would be the case for it.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{http_facts, Summary};
use crate::extract::LinkKind;
use crate::model::Status;
use crate::pipeline::Scanned;

/// Run timing the report alone does not carry.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunTimes {
    /// Unix seconds.
    pub started: f64,
    pub finished: f64,
    /// The last run that completed without an internal error.
    pub last_success: f64,
}

/// The time now, as Unix seconds with milliseconds, as metrics want it.
pub fn unix_now() -> f64 {
    chrono::Utc::now().timestamp_millis() as f64 / 1000.0
}

/// Request latency buckets, in seconds.
const BUCKETS: [f64; 10] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Label values of `archive_links`, every pair present even at zero so
/// dashboards see a stable series set.
const LINK_STATUSES: [&str; 7] = [
    "ok",
    "broken",
    "truncated",
    "unresolvable",
    "unchecked",
    "skipped",
    "error",
];
const LINK_KINDS: [&str; 4] = ["image", "media", "page", "source"];

/// The metrics of one run, accumulated document by document.
#[derive(Debug, Clone)]
pub struct Metrics {
    /// Links by (status, kind).
    links: BTreeMap<(&'static str, &'static str), u64>,
    /// HTTP checks by (host, outcome).
    checks: BTreeMap<(String, &'static str), u64>,
    /// Requests per latency bucket (not cumulative), and the count and
    /// sum of all of them (seconds); answers from the cache are left out.
    buckets: [u64; BUCKETS.len()],
    latency_count: u64,
    latency_sum: f64,
}

impl Default for Metrics {
    fn default() -> Metrics {
        let links = LINK_STATUSES
            .iter()
            .flat_map(|s| LINK_KINDS.iter().map(move |k| ((*s, *k), 0)))
            .collect();
        Metrics {
            links,
            checks: BTreeMap::new(),
            buckets: [0; BUCKETS.len()],
            latency_count: 0,
            latency_sum: 0.0,
        }
    }
}

impl Metrics {
    /// Counts one emitted document.
    pub fn add(&mut self, scanned: &Scanned) {
        let counts = super::LinkTally::of(&scanned.links);
        for status in Status::ALL {
            for kind in LinkKind::ALL {
                let n = counts.get(status, kind);
                if n > 0 {
                    *self
                        .links
                        .entry((status.as_str(), kind.as_str()))
                        .or_default() += n as u64;
                }
            }
        }
        for link in &scanned.links {
            let status = link.status.as_str();
            let Some(http) = http_facts(link) else {
                continue;
            };
            let host = link
                .resolved
                .as_deref()
                .and_then(|r| url::Url::parse(r).ok())
                .and_then(|u| u.host_str().map(str::to_string))
                .unwrap_or_default();
            *self.checks.entry((host, status)).or_default() += 1;
            if !http.from_cache {
                let seconds = http.elapsed_ms / 1000.0;
                if let Some(i) = BUCKETS.iter().position(|&bound| seconds <= bound) {
                    self.buckets[i] += 1;
                }
                self.latency_count += 1;
                self.latency_sum += seconds;
            }
        }
    }

    /// Renders the run's metrics, given its summary and timing.
    pub fn render(&self, summary: &Summary, times: RunTimes) -> String {
        let mut out = String::new();
        header(
            &mut out,
            "archive_links",
            "gauge",
            "Links in the last report, by status and kind.",
        );
        for ((status, kind), n) in &self.links {
            let _ = writeln!(
                out,
                "archive_links{{status=\"{}\",kind=\"{}\"}} {n}",
                escape(status),
                escape(kind)
            );
        }

        header(
            &mut out,
            "archive_documents",
            "gauge",
            "Documents in the last report, by status.",
        );
        let docs = &summary.documents;
        for (status, n) in [
            ("ok", docs.ok),
            ("skipped", docs.skipped),
            ("error", docs.error),
        ] {
            let _ = writeln!(out, "archive_documents{{status=\"{status}\"}} {n}");
        }

        header(
            &mut out,
            "archive_findings",
            "gauge",
            "Multi-link findings in the last report, by kind.",
        );
        for (kind, n) in &summary.findings {
            let _ = writeln!(out, "archive_findings{{kind=\"{}\"}} {n}", escape(kind));
        }

        let store = summary.store.as_ref();
        let stored = |f: fn(&crate::store::StoreSummary) -> u64| store.map_or(0, f);
        for (name, value, help) in [
            (
                "archive_store_objects",
                stored(|s| s.objects_total),
                "Objects in the media store.",
            ),
            (
                "archive_store_bytes",
                stored(|s| s.bytes_total),
                "Bytes in the media store.",
            ),
            (
                "archive_store_objects_stored_last_run",
                stored(|s| s.objects_stored),
                "Objects stored for the first time by the last run.",
            ),
            (
                "archive_store_bytes_stored_last_run",
                stored(|s| s.bytes_stored),
                "Bytes stored for the first time by the last run.",
            ),
        ] {
            header(&mut out, name, "gauge", help);
            let _ = writeln!(out, "{name} {value}");
        }

        if let Some(s) = store {
            header(
                &mut out,
                "archive_store_backend",
                "gauge",
                "Where the media store keeps its objects (always 1; the labels say).",
            );
            let _ = writeln!(
                out,
                "archive_store_backend{{backend=\"{}\",location=\"{}\"}} 1",
                escape(&s.backend),
                escape(&s.location)
            );
        }

        header(
            &mut out,
            "archive_store_errors",
            "gauge",
            "Store operations that failed in the last run (object: a valid body not archived; database: a state database read or write; warc: a stored body not written as WARC records), by kind.",
        );
        let errors = summary.store_error.as_ref();
        for (kind, n) in [
            ("object", errors.map_or(0, |e| e.objects)),
            ("database", errors.map_or(0, |e| e.database)),
            ("warc", errors.map_or(0, |e| e.warc)),
        ] {
            let _ = writeln!(out, "archive_store_errors{{kind=\"{kind}\"}} {n}");
        }

        header(
            &mut out,
            "archive_checks",
            "gauge",
            "HTTP checks in the last run, by host and outcome.",
        );
        for ((host, outcome), n) in &self.checks {
            let _ = writeln!(
                out,
                "archive_checks{{host=\"{}\",outcome=\"{}\"}} {n}",
                escape(host),
                escape(outcome)
            );
        }

        header(
            &mut out,
            "archive_request_duration_seconds",
            "histogram",
            "Time to check a link over HTTP (retries included), last run.",
        );
        let mut cumulative = 0;
        for (bound, n) in BUCKETS.iter().zip(self.buckets) {
            cumulative += n;
            let _ = writeln!(
                out,
                "archive_request_duration_seconds_bucket{{le=\"{bound}\"}} {cumulative}"
            );
        }
        let count = self.latency_count;
        let _ = writeln!(
            out,
            "archive_request_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            out,
            "archive_request_duration_seconds_sum {}",
            self.latency_sum
        );
        let _ = writeln!(out, "archive_request_duration_seconds_count {count}");

        header(
            &mut out,
            "archive_rate_limit_wait_seconds",
            "gauge",
            "Time requests waited for per-host rate limits in the last run.",
        );
        let _ = writeln!(
            out,
            "archive_rate_limit_wait_seconds {}",
            summary.rate_limit_wait_ms.unwrap_or(0) as f64 / 1000.0
        );

        // Online runs only: offline, nothing was asked of the network.
        if let Some(network) = &summary.network {
            header(
                &mut out,
                "archive_network_up",
                "gauge",
                "1 if the last run could reach the network; 0 if no host answered (its transport failures are `error`, network_unavailable, not `broken`).",
            );
            let _ = writeln!(out, "archive_network_up {}", u8::from(network.up));
        }

        for (name, value, help) in [
            (
                "archive_last_run_start_timestamp_seconds",
                times.started,
                "When the last run started.",
            ),
            (
                "archive_last_run_end_timestamp_seconds",
                times.finished,
                "When the last run ended.",
            ),
            (
                "archive_last_run_duration_seconds",
                summary.duration_ms as f64 / 1000.0,
                "How long the last run took.",
            ),
            (
                "archive_last_success_timestamp_seconds",
                times.last_success,
                "When a run last completed.",
            ),
        ] {
            header(&mut out, name, "gauge", help);
            let _ = writeln!(out, "{name} {value}");
        }
        out
    }
}

/// Writes `text` to `path` atomically (temp file in the same folder, then
/// rename), as node_exporter's textfile collector expects.
pub fn write_atomically(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    super::write_file_atomically(path, |w| w.write_all(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Status;
    use crate::report::fixtures::{document, link};
    use crate::source::DocumentStatus;

    #[test]
    fn counts_match_the_report() {
        let http = |ms: u64| {
            Some(crate::check::HttpInfo {
                elapsed_ms: ms,
                from_cache: false,
                ..Default::default()
            })
        };
        let mut truncated = link(Status::Truncated, "x.jpg", None);
        truncated.resolved = None;
        let docs = [
            document(
                "a.md",
                DocumentStatus::Ok,
                vec![
                    link(Status::Ok, "http://a.cn/x.jpg", http(20)),
                    link(Status::Broken, "http://a.cn/y.jpg", http(3000)),
                ],
            ),
            document("b.md", DocumentStatus::Ok, vec![truncated]),
            document("c.md", DocumentStatus::Error, Vec::new()),
        ];
        let (mut metrics, mut summary) = (Metrics::default(), Summary::default());
        for doc in &docs {
            metrics.add(doc);
            summary.add(doc);
        }
        summary.findings.insert("exploded_url", 1);
        summary.duration_ms = 1500;
        summary.store = Some(crate::store::StoreSummary {
            path: String::new(),
            backend: "s3".into(),
            location: "s3://media/a".into(),
            objects_stored: 0,
            bytes_stored: 0,
            objects_total: 3,
            bytes_total: 99,
            error: None,
        });
        let text = metrics.render(&summary, RunTimes::default());
        assert!(text.contains("archive_links{status=\"ok\",kind=\"image\"} 1\n"));
        assert!(text.contains("archive_links{status=\"truncated\",kind=\"image\"} 1\n"));
        assert!(text.contains("archive_links{status=\"ok\",kind=\"media\"} 0\n"));
        assert!(text.contains("archive_documents{status=\"error\"} 1\n"));
        assert!(text.contains("archive_checks{host=\"a.cn\",outcome=\"broken\"} 1\n"));
        assert!(text.contains("archive_request_duration_seconds_bucket{le=\"0.025\"} 1\n"));
        assert!(text.contains("archive_request_duration_seconds_count 2\n"));
        assert!(text.contains("archive_store_objects 3\n"));
        assert!(
            text.contains("archive_store_backend{backend=\"s3\",location=\"s3://media/a\"} 1\n")
        );
        assert!(text.contains("archive_last_run_duration_seconds 1.5\n"));
        assert!(!text.contains("archive_network_up"), "offline: not known");
        summary.network = Some(crate::report::NetworkSummary {
            up: false,
            evidence: Some("no host answered".into()),
        });
        let text = metrics.render(&summary, RunTimes::default());
        assert!(text.contains("archive_network_up 0\n"));
        assert!(text.contains("archive_store_errors{kind=\"object\"} 0\n"));
        summary.store_error = Some(crate::store::StoreErrorSummary {
            objects: 2,
            database: 5,
            warc: 0,
            message: String::new(),
        });
        let text = metrics.render(&summary, RunTimes::default());
        assert!(text.contains("archive_store_errors{kind=\"object\"} 2\n"));
        assert!(text.contains("archive_store_errors{kind=\"database\"} 5\n"));
    }
}
