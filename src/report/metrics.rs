//! Prometheus text exposition of a report, for the daemon's `/metrics`
//! and for `--prom-file` (node_exporter's textfile collector).
//!
//! Every number is computed from the finished JSON report, so the metrics
//! and the report can never disagree.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

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

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or(0.0)
}

/// Renders the metrics of `report` (a parsed JSON report).
pub fn render(report: &Value, times: RunTimes) -> String {
    let mut out = String::new();
    let summary = &report["summary"];

    header(
        &mut out,
        "archive_links",
        "gauge",
        "Links in the last report, by status and kind.",
    );
    let mut by: BTreeMap<(String, String), u64> = BTreeMap::new();
    for status in [
        "ok",
        "broken",
        "truncated",
        "unresolvable",
        "unchecked",
        "skipped",
        "error",
    ] {
        for kind in ["image", "media", "page", "source"] {
            by.insert((status.into(), kind.into()), 0);
        }
    }
    let links = report["links"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    for l in links {
        let key = (
            l["status"].as_str().unwrap_or("").to_string(),
            l["kind"].as_str().unwrap_or("").to_string(),
        );
        *by.entry(key).or_default() += 1;
    }
    for ((status, kind), n) in &by {
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
    for status in ["ok", "skipped", "error"] {
        let _ = writeln!(
            out,
            "archive_documents{{status=\"{status}\"}} {}",
            num(&summary["documents"][status])
        );
    }

    header(
        &mut out,
        "archive_findings",
        "gauge",
        "Multi-link findings in the last report, by kind.",
    );
    if let Some(findings) = summary["findings"].as_object() {
        for (kind, n) in findings {
            let _ = writeln!(
                out,
                "archive_findings{{kind=\"{}\"}} {}",
                escape(kind),
                num(n)
            );
        }
    }

    let store = &summary["store"];
    for (name, key, help) in [
        (
            "archive_store_objects",
            "objects_total",
            "Objects in the media store.",
        ),
        (
            "archive_store_bytes",
            "bytes_total",
            "Bytes in the media store.",
        ),
        (
            "archive_store_objects_stored_last_run",
            "objects_stored",
            "Objects stored for the first time by the last run.",
        ),
        (
            "archive_store_bytes_stored_last_run",
            "bytes_stored",
            "Bytes stored for the first time by the last run.",
        ),
    ] {
        header(&mut out, name, "gauge", help);
        let _ = writeln!(out, "{name} {}", num(&store[key]));
    }

    header(
        &mut out,
        "archive_checks",
        "gauge",
        "HTTP checks in the last run, by host and outcome.",
    );
    let mut checks: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut latencies: Vec<f64> = Vec::new();
    for l in links.iter().filter(|l| l["http"].is_object()) {
        let host = url::Url::parse(l["resolved"].as_str().unwrap_or(""))
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_default();
        *checks
            .entry((host, l["status"].as_str().unwrap_or("").to_string()))
            .or_default() += 1;
        if l["http"]["from_cache"] != true {
            latencies.push(num(&l["http"]["elapsed_ms"]) / 1000.0);
        }
    }
    for ((host, outcome), n) in &checks {
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
    for bound in BUCKETS {
        let n = latencies.iter().filter(|&&s| s <= bound).count();
        let _ = writeln!(
            out,
            "archive_request_duration_seconds_bucket{{le=\"{bound}\"}} {n}"
        );
    }
    let _ = writeln!(
        out,
        "archive_request_duration_seconds_bucket{{le=\"+Inf\"}} {}",
        latencies.len()
    );
    let _ = writeln!(
        out,
        "archive_request_duration_seconds_sum {}",
        latencies.iter().sum::<f64>()
    );
    let _ = writeln!(
        out,
        "archive_request_duration_seconds_count {}",
        latencies.len()
    );

    header(
        &mut out,
        "archive_rate_limit_wait_seconds",
        "gauge",
        "Time requests waited for per-host rate limits in the last run.",
    );
    let _ = writeln!(
        out,
        "archive_rate_limit_wait_seconds {}",
        num(&summary["rate_limit_wait_ms"]) / 1000.0
    );

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
            num(&summary["duration_ms"]) / 1000.0,
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

/// Writes `text` to `path` atomically (temp file in the same folder, then
/// rename), as node_exporter's textfile collector expects.
pub fn write_atomically(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    super::write_file_atomically(path, |w| w.write_all(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_match_the_report() {
        let report = serde_json::json!({
            "summary": {"documents": {"ok": 2, "skipped": 0, "error": 1}, "findings": {"exploded_url": 1},
                        "duration_ms": 1500, "store": {"objects_total": 3, "bytes_total": 99}},
            "links": [
                {"status": "ok", "kind": "image", "resolved": "http://a.cn/x.jpg", "http": {"elapsed_ms": 20, "from_cache": false}},
                {"status": "broken", "kind": "image", "resolved": "http://a.cn/y.jpg", "http": {"elapsed_ms": 3000, "from_cache": false}},
                {"status": "truncated", "kind": "image", "resolved": null, "http": null}
            ]
        });
        let text = render(&report, RunTimes::default());
        assert!(text.contains("archive_links{status=\"ok\",kind=\"image\"} 1\n"));
        assert!(text.contains("archive_links{status=\"truncated\",kind=\"image\"} 1\n"));
        assert!(text.contains("archive_links{status=\"ok\",kind=\"media\"} 0\n"));
        assert!(text.contains("archive_documents{status=\"error\"} 1\n"));
        assert!(text.contains("archive_checks{host=\"a.cn\",outcome=\"broken\"} 1\n"));
        assert!(text.contains("archive_request_duration_seconds_bucket{le=\"0.025\"} 1\n"));
        assert!(text.contains("archive_request_duration_seconds_count 2\n"));
        assert!(text.contains("archive_store_objects 3\n"));
        assert!(text.contains("archive_last_run_duration_seconds 1.5\n"));
    }
}
