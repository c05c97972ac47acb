//! The Wayback Machine's availability API: the request and its answer.
//!
//! `GET <endpoint>?url=<url>&timestamp=<YYYYMMDD>` answers
//! `{"archived_snapshots": {"closest": {"available": true, "status":
//! "200", "timestamp": "...", "url": "http://web.archive.org/web/<ts>/<url>"}}}`
//! when there is a capture, and `{"archived_snapshots": {}}` when there
//! is none. Anything else is malformed: an error, not "none".

use serde::Deserialize;

#[derive(Deserialize)]
struct Answer {
    archived_snapshots: Snapshots,
}

#[derive(Deserialize)]
struct Snapshots {
    closest: Option<Closest>,
}

#[derive(Deserialize)]
struct Closest {
    #[serde(default)]
    available: bool,
    url: String,
    #[serde(default)]
    status: Option<String>,
}

/// The query URL for `url` near `near` (`YYYYMMDD`, or empty).
pub fn query(endpoint: &str, url: &str, near: &str) -> Result<String, String> {
    let mut q = url::Url::parse(endpoint)
        .map_err(|e| format!("check.archive_endpoint `{endpoint}`: {e}"))?;
    q.query_pairs_mut().append_pair("url", url);
    if !near.is_empty() {
        q.query_pairs_mut().append_pair("timestamp", near);
    }
    Ok(q.to_string())
}

/// The capture an answer names (`None`: the archive has none), or why
/// the answer is not one.
pub fn parse(body: &[u8]) -> Result<Option<String>, String> {
    let answer: Answer = serde_json::from_slice(body)
        .map_err(|e| format!("the archive's answer is not the availability API's JSON: {e}"))?;
    Ok(answer
        .archived_snapshots
        .closest
        .filter(|c| c.available && c.status.as_deref().is_none_or(|s| s == "200"))
        .map(|c| c.url))
}

/// The capture's URL for its original bytes, not the archive's replay
/// page: `/web/<timestamp>/` becomes `/web/<timestamp>id_/`. Other URLs
/// are kept as they are.
pub fn original_bytes(capture: &str) -> String {
    let Some(at) = capture.find("/web/") else {
        return capture.to_string();
    };
    let rest = &capture[at + 5..];
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || rest.as_bytes().get(digits) != Some(&b'/') {
        return capture.to_string();
    }
    format!(
        "{}/web/{}id_{}",
        &capture[..at],
        &rest[..digits],
        &rest[digits..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers() {
        let found = br#"{"url":"x","archived_snapshots":{"closest":{"status":"200","available":true,"url":"http://web.archive.org/web/20130919044612/http://example.com/","timestamp":"20130919044612"}}}"#;
        assert_eq!(
            parse(found).unwrap().as_deref(),
            Some("http://web.archive.org/web/20130919044612/http://example.com/")
        );
        assert_eq!(parse(br#"{"archived_snapshots":{}}"#).unwrap(), None);
        let not_ok =
            br#"{"archived_snapshots":{"closest":{"status":"404","available":true,"url":"u"}}}"#;
        assert_eq!(parse(not_ok).unwrap(), None);
        assert!(parse(b"<html>").is_err());
        assert!(parse(br#"{"archived_snapshots":{"closest":{"available":true}}}"#).is_err());
    }

    #[test]
    fn queries_and_original_bytes() {
        assert_eq!(
            query("http://a.test/wayback/available", "http://b.test/x?y=1", "20220325").unwrap(),
            "http://a.test/wayback/available?url=http%3A%2F%2Fb.test%2Fx%3Fy%3D1&timestamp=20220325"
        );
        assert_eq!(
            original_bytes("http://web.archive.org/web/20130919044612/http://example.com/a.jpg"),
            "http://web.archive.org/web/20130919044612id_/http://example.com/a.jpg"
        );
        assert_eq!(original_bytes("http://x.test/other"), "http://x.test/other");
    }
}
