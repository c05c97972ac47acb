//! Static signs that a URL was cut short or never pointed at a file.
//!
//! None of these needs the network: a picture whose address is the site
//! root, a folder, a one-character file name, a half percent-escape or a
//! host that stops at a dot was broken the day it was scraped.

use url::Url;

use crate::extract::{extension_of, LinkKind};

/// A reason a URL is truncated, and the sentence that explains it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Truncation {
    pub reason: &'static str,
    pub message: String,
}

fn found(reason: &'static str, message: String) -> Option<Truncation> {
    Some(Truncation { reason, message })
}

/// Checks `raw` (as written) and `url` (resolved) of a link of `kind`.
pub fn truncation(raw: &str, url: &Url, kind: LinkKind) -> Option<Truncation> {
    if let Some(at) = cut_percent_escape(raw) {
        return found(
            "cut_percent_escape",
            format!(
                "the URL is cut inside a percent-escape at character {}",
                at + 1
            ),
        );
    }
    if let Some(host) = url.host_str() {
        let is_ip = url
            .host()
            .is_some_and(|h| !matches!(h, url::Host::Domain(_)));
        if !is_ip
            && (host.ends_with('.')
                || host.ends_with('-')
                || (!host.contains('.') && host != "localhost"))
        {
            return found(
                "cut_host",
                format!("the host name `{host}` is incomplete (no top-level domain)"),
            );
        }
    }
    if !kind.is_media() {
        return None;
    }
    let path = url.path();
    if path.is_empty() || path == "/" {
        return found(
            "site_root",
            format!(
                "an {} link that points at the site root, not at a file",
                kind.as_str()
            ),
        );
    }
    let last = path.rsplit('/').next().unwrap_or("");
    if last.is_empty() {
        return found(
            "folder_as_media",
            format!(
                "an {} link that points at a folder (`{path}`), not at a file",
                kind.as_str()
            ),
        );
    }
    if last.chars().count() == 1 {
        return found(
            "single_char_segment",
            format!("the file name is the single character `{last}`: the URL was cut short"),
        );
    }
    if last.ends_with('.') {
        return found(
            "cut_extension",
            format!("the file name `{last}` ends at a dot"),
        );
    }
    if let Some(ext) = extension_of(path) {
        const PREFIXES: &[&str] = &["jp", "pn", "gi", "we", "web", "av", "sv", "mp", "bm", "ti"];
        if url.query().is_none() && PREFIXES.contains(&ext.as_str()) {
            return found(
                "cut_extension",
                format!("the file name `{last}` ends in `.{ext}`, the start of a media extension"),
            );
        }
    }
    None
}

/// The byte index of a `%` not followed by two hex digits, if any.
fn cut_percent_escape(raw: &str) -> Option<usize> {
    let bytes = raw.as_bytes();
    bytes.iter().enumerate().find_map(|(i, &b)| {
        let complete = bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
            && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
        (b == b'%' && !complete).then_some(i)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(raw: &str, kind: LinkKind) -> Option<&'static str> {
        truncation(raw, &Url::parse(raw).unwrap(), kind).map(|t| t.reason)
    }

    #[test]
    fn reasons() {
        assert_eq!(reason("http://a.cn/", LinkKind::Image), Some("site_root"));
        assert_eq!(
            reason("http://a.cn/x/", LinkKind::Image),
            Some("folder_as_media")
        );
        assert_eq!(
            reason("http://a.cn/x/g", LinkKind::Image),
            Some("single_char_segment")
        );
        assert_eq!(
            reason("http://a.cn/x/a%2", LinkKind::Page),
            Some("cut_percent_escape")
        );
        assert_eq!(
            reason("http://newsnankai/x.jpg", LinkKind::Image),
            Some("cut_host")
        );
        assert_eq!(
            reason("http://news-/x.jpg", LinkKind::Image),
            Some("cut_host")
        );
        assert_eq!(
            reason("http://a.cn/x/photo.jp", LinkKind::Image),
            Some("cut_extension")
        );
        assert_eq!(reason("http://a.cn/x/photo.jpg", LinkKind::Image), None);
        assert_eq!(reason("http://a.cn/", LinkKind::Page), None);
        assert_eq!(reason("http://127.0.0.1:8080/a.jpg", LinkKind::Image), None);
    }
}
