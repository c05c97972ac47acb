//! Verdicts: what the report's `http` object says about a check, and how
//! each kind of failure is classed: permanent (a 404, a DNS failure, a TLS
//! error) or transient and worth retrying (timeouts, resets, 5xx, 429).

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::model::Status;
use crate::store::objects::StoredObject;

/// What the report's `http` object says about a check.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct HttpInfo {
    pub status_code: Option<u16>,
    pub method: String,
    /// The URL fetched after remapping, and where redirects led.
    pub url: String,
    pub final_url: Option<String>,
    pub redirects: Vec<String>,
    pub content_type: Option<String>,
    pub content_length: Option<u64>,
    /// The type read from the body's magic bytes.
    pub sniffed_type: Option<String>,
    pub bytes_read: u64,
    pub tries: u32,
    pub elapsed_ms: u64,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub error: Option<String>,
    pub from_cache: bool,
    /// For source pages: the images found on the page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub images: Option<Vec<String>>,
}

/// The verdict on one URL.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub status: Status,
    pub reason: Option<&'static str>,
    pub message: Option<String>,
    pub http: HttpInfo,
    /// The body, for [`Want::Html`] only.
    pub body: Option<Vec<u8>>,
    /// The media body, stored while it streamed (valid bodies only).
    pub stored: Option<StoredObject>,
    /// Why a valid body was not stored (disk full, write error).
    pub store_error: Option<String>,
    /// The server answered 304 to a conditional request.
    pub not_modified: bool,
}

/// An attempt that failed in a way worth retrying, and how long the server
/// asked us to wait.
pub(super) struct Transient {
    pub(super) verdict: Verdict,
    pub(super) retry_after: Option<Duration>,
}

pub(super) fn verdict(
    status: Status,
    reason: &'static str,
    message: String,
    http: HttpInfo,
) -> Verdict {
    Verdict {
        status,
        reason: Some(reason),
        message: Some(message),
        http,
        body: None,
        stored: None,
        store_error: None,
        not_modified: false,
    }
}

pub(super) fn verdict_ok(http: HttpInfo) -> Verdict {
    Verdict {
        status: Status::Ok,
        reason: None,
        message: None,
        http,
        body: None,
        stored: None,
        store_error: None,
        not_modified: false,
    }
}

pub(super) fn transient(verdict: Verdict, retry_after: Option<Duration>) -> Box<Transient> {
    Box::new(Transient {
        verdict,
        retry_after,
    })
}

/// The whole chain of an error, which is where reqwest keeps the cause.
pub(super) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        parts.push(s.to_string());
        source = s.source();
    }
    parts.dedup();
    parts.join(": ")
}

/// Sorts a request error into permanent and transient failures.
pub(super) fn classify_error(
    e: &reqwest::Error,
    mut info: HttpInfo,
) -> Result<Verdict, Box<Transient>> {
    let chain = error_chain(e);
    info.error = Some(chain.clone());
    let lower = chain.to_ascii_lowercase();
    if lower.contains("refused: ") {
        return Ok(verdict(Status::Skipped, "private_address", chain, info));
    }
    if lower.contains("dns error")
        || lower.contains("failed to lookup")
        || lower.contains("name or service not known")
    {
        return Ok(verdict(Status::Broken, "dns_error", chain, info));
    }
    if lower.contains("certificate") || lower.contains("tls") || lower.contains("handshake") {
        return Ok(verdict(Status::Broken, "tls_error", chain, info));
    }
    if e.is_timeout() {
        return Err(transient(
            verdict(Status::Broken, "timeout", chain, info),
            None,
        ));
    }
    if lower.contains("connection refused") {
        return Err(transient(
            verdict(Status::Broken, "connection_refused", chain, info),
            None,
        ));
    }
    Err(transient(
        verdict(Status::Broken, "network_error", chain, info),
        None,
    ))
}

/// `Retry-After` as seconds or an HTTP date, capped at ten minutes.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    let d = match value.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => httpdate::parse_http_date(value)
            .ok()?
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    };
    Some(d.min(Duration::from_secs(600)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after("99999"), Some(Duration::from_secs(600)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }
}
