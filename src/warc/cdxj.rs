//! The CDXJ index of the WARC files: one line per `response` or `revisit`
//! record, `<SURT key> <14-digit timestamp> {json}`, the format pywb and
//! WACZ read. Each WARC file has its own `.cdxj` beside it, appended as
//! records are written; `archive export --wacz` merges and sorts them.
//!
//! The SURT key is the URL with its host reversed (`cn,edu,nankai,news)`
//! for `news.nankai.edu.cn`), lower-cased, `www.` dropped and query
//! arguments sorted, as the `surt` library pywb uses makes it for
//! ordinary URLs; replay tools look URLs up by it.

use serde::{Deserialize, Serialize};

/// One index line's JSON part (pywb's field names; numbers as strings,
/// as pywb writes them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub url: String,
    pub mime: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    pub digest: String,
    pub length: String,
    pub offset: String,
    pub filename: String,
}

/// The SURT form of `url`; the URL itself when it does not parse.
pub fn surt(url: &str) -> String {
    let Ok(u) = url::Url::parse(url) else {
        return url.to_ascii_lowercase();
    };
    let host = u.host_str().unwrap_or("").to_ascii_lowercase();
    let host = host.trim_start_matches("www.");
    let mut key = if u.host().is_some_and(|h| matches!(h, url::Host::Domain(_))) {
        host.split('.').rev().collect::<Vec<_>>().join(",")
    } else {
        host.to_string()
    };
    if let Some(port) = u.port() {
        key.push_str(&format!(":{port}"));
    }
    key.push(')');
    key.push_str(&u.path().to_ascii_lowercase());
    if let Some(q) = u.query() {
        let mut args: Vec<&str> = q.split('&').collect();
        args.sort_unstable();
        key.push('?');
        key.push_str(&args.join("&").to_ascii_lowercase());
    }
    key
}

/// `2026-01-02T03:04:05Z` as `20260102030405`.
pub fn timestamp(warc_date: &str) -> String {
    warc_date
        .chars()
        .filter(char::is_ascii_digit)
        .take(14)
        .collect()
}

/// `20260102030405` as `2026-01-02T03:04:05Z`; `None` for anything else.
pub fn warc_date(timestamp: &str) -> Option<String> {
    let t = timestamp.as_bytes();
    (t.len() == 14 && t.iter().all(u8::is_ascii_digit)).then(|| {
        format!(
            "{}-{}-{}T{}:{}:{}Z",
            &timestamp[0..4],
            &timestamp[4..6],
            &timestamp[6..8],
            &timestamp[8..10],
            &timestamp[10..12],
            &timestamp[12..14]
        )
    })
}

/// The index line (with its newline) of a record.
pub fn line(date: &str, entry: &Entry) -> String {
    format!(
        "{} {} {}\n",
        surt(&entry.url),
        timestamp(date),
        serde_json::to_string(entry).unwrap_or_else(|_| "{}".into())
    )
}

/// A line's timestamp and entry; `None` for a line that is not one.
pub fn parse_line(line: &str) -> Option<(String, Entry)> {
    let mut parts = line.splitn(3, ' ');
    let _key = parts.next()?;
    let ts = parts.next()?;
    let entry = serde_json::from_str(parts.next()?).ok()?;
    Some((ts.to_string(), entry))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn surt_keys() {
        assert_eq!(
            surt("http://news.nankai.edu.cn/pic/A.jpg"),
            "cn,edu,nankai,news)/pic/a.jpg"
        );
        assert_eq!(
            surt("https://www.Example.com:8080/x?b=2&a=1"),
            "com,example:8080)/x?a=1&b=2"
        );
        assert_eq!(surt("http://127.0.0.1/x"), "127.0.0.1)/x");
    }

    #[test]
    fn lines_round_trip() {
        let e = Entry {
            url: "http://a.test/x.png".into(),
            mime: "image/png".into(),
            status: Some("200".into()),
            digest: "sha256:ab".into(),
            length: "10".into(),
            offset: "0".into(),
            filename: "archive-1-00000.warc.gz".into(),
        };
        let l = line("2026-01-02T03:04:05Z", &e);
        assert!(l.starts_with("test,a)/x.png 20260102030405 {"), "{l}");
        let (ts, back) = parse_line(l.trim_end()).unwrap();
        assert_eq!(back, e);
        assert_eq!(warc_date(&ts).unwrap(), "2026-01-02T03:04:05Z");
    }
}
