//! Repairs from the source page: the images of the page a document was
//! copied from, and which of them a broken or truncated image of the
//! document should have been.
//!
//! The page is decoded the way a browser would: a byte-order mark, else
//! the `charset` of the `Content-Type` header, else a `<meta charset>` or
//! `<meta http-equiv="Content-Type">` in the first [`META_PRESCAN`] bytes,
//! else UTF-8 when the bytes are UTF-8 and the guess of
//! [`crate::source::decode`] otherwise (Chinese archives are often GBK). A
//! declared encoding that does not decode the bytes cleanly is a mislabel:
//! the guess is used instead.
//!
//! Matching, for each broken or truncated image of the document (an
//! exploded run counts as one image), on percent-decoded file names, in
//! tiers; the first tier with a match gives every candidate in it, in page
//! order:
//! 1. the same file name in the same folder (host and path), then in any
//!    folder (names of at least 2 characters);
//! 2. a file name that the link's name is a proper prefix of (`summary.pn`
//!    → `summary.png`, `校园风` → `校园风光.jpg`), same folder first, then
//!    any folder; the prefix must be at least [`MIN_PREFIX`] characters, so
//!    one- and two-character stubs match nothing;
//! 3. otherwise, by position, when the document and the page have as many
//!    images.
//!
//! A URL cut inside a percent-escape or inside a UTF-8 sequence decodes
//! to the characters before the cut. Candidates are URLs as documents
//! write them: the page's base is its URL with `[remap]` undone, so the
//! mirror's address never reaches the report.

use std::collections::HashMap;

use url::Url;

use crate::extract::{html::extract_html_fragment, LinkKind};
use crate::model::{Status, Suggestion};
use crate::pipeline::Scanned;
use crate::vocab::{FindingKind, SuggestionReason, Syntax};

/// Shortest file-name prefix (in characters, percent-decoded) matched
/// against the page's images.
pub const MIN_PREFIX: usize = 3;

/// Bytes searched for a `<meta>` charset (the HTML prescan reads 1024;
/// old CMS pages put long scripts first, so a little more).
pub const META_PRESCAN: usize = 4096;

/// The text of a fetched page, decoded by its header, its `<meta>` or
/// its bytes (see the module doc).
pub fn page_text(body: &[u8], content_type: Option<&str>) -> String {
    if encoding_rs::Encoding::for_bom(body).is_some() {
        return crate::source::decode::decode(body).text;
    }
    let declared = content_type
        .and_then(charset_param)
        .or_else(|| meta_charset(&body[..body.len().min(META_PRESCAN)]))
        .and_then(|label| encoding_rs::Encoding::for_label(label.as_bytes()))
        .map(|e| {
            // A page cannot really be UTF-16 if its meta is readable as ASCII.
            if e == encoding_rs::UTF_16LE || e == encoding_rs::UTF_16BE {
                encoding_rs::UTF_8
            } else {
                e
            }
        });
    if let Some(encoding) = declared {
        let (text, had_errors) = encoding.decode_without_bom_handling(body);
        if !had_errors {
            return text.into_owned();
        }
    }
    crate::source::decode::decode(body).text
}

/// The `charset` parameter of a `Content-Type` value.
fn charset_param(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| v.trim().trim_matches(['"', '\'']).to_string())
            .filter(|v| !v.is_empty())
    })
}

/// The charset named by a `<meta charset>` or `<meta http-equiv>` tag.
fn meta_charset(head: &[u8]) -> Option<String> {
    // Only ASCII matters here; a lossy view is enough to find the tag.
    let text = String::from_utf8_lossy(head).to_ascii_lowercase();
    let mut rest = text.as_str();
    while let Some(at) = rest.find("<meta") {
        let tag = &rest[at..];
        let tag = &tag[..tag.find('>').unwrap_or(tag.len())];
        if let Some(c) = tag.find("charset") {
            let value = tag[c + "charset".len()..]
                .trim_start()
                .strip_prefix('=')
                .map(|v| v.trim_start().trim_start_matches(['"', '\'']))
                .unwrap_or("");
            let end = value
                .find(|ch: char| {
                    ch == '"' || ch == '\'' || ch == ';' || ch == '/' || ch.is_whitespace()
                })
                .unwrap_or(value.len());
            if end > 0 {
                return Some(value[..end].to_string());
            }
        }
        rest = &rest[at + "<meta".len()..];
    }
    None
}

/// The images of a fetched page, absolute, resolved against `page_url`
/// (the page's URL as documents write it) or its `<base href>`.
pub fn page_images(body: &[u8], content_type: Option<&str>, page_url: &str) -> Vec<String> {
    let text = page_text(body, content_type);
    let extracted = extract_html_fragment(&text, 1, 1);
    let page = Url::parse(page_url).ok();
    let base = extracted
        .base_href
        .as_deref()
        .and_then(|b| page.as_ref().map_or(Url::parse(b).ok(), |p| p.join(b).ok()))
        .or(page);
    let mut images: Vec<String> = Vec::new();
    let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
    for link in extracted
        .links
        .iter()
        .filter(|l| l.kind == LinkKind::Image && l.syntax != Syntax::HtmlMeta)
    {
        let resolved = match &base {
            Some(b) => b.join(&link.url).ok(),
            None => Url::parse(&link.url).ok(),
        };
        if let Some(u) = resolved.filter(|u| matches!(u.scheme(), "http" | "https")) {
            if seen.insert(u.to_string()) {
                images.push(u.to_string());
            }
        }
    }
    images
}

/// Percent-decodes `s`. An escape cut at the very end (`%`, `%E`) and a
/// UTF-8 sequence cut at the end are dropped: they are where the URL was
/// cut. Anything else undecodable is kept lossily.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            match (
                b.get(i + 1).and_then(|&c| hex(c)),
                b.get(i + 2).and_then(|&c| hex(c)),
            ) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 3;
                    continue;
                }
                _ if b.len() - i <= 2 && b[i + 1..].iter().all(|&c| hex(c).is_some()) => break,
                _ => {}
            }
        }
        out.push(b[i]);
        i += 1;
    }
    match String::from_utf8(out) {
        Ok(text) => text,
        Err(e) => {
            let error = e.utf8_error();
            let mut bytes = e.into_bytes();
            if error.error_len().is_none() {
                bytes.truncate(error.valid_up_to());
            }
            String::from_utf8_lossy(&bytes).into_owned()
        }
    }
}

/// A URL's folder (host, port and directory) and file name, decoded.
#[derive(Debug, PartialEq)]
struct Named {
    folder: String,
    name: String,
}

impl Named {
    fn of(url: &str) -> Option<Named> {
        let u = Url::parse(url).ok()?;
        let path = u.path();
        let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
        Some(Named {
            folder: format!(
                "{}:{}{}",
                u.host_str()?.to_ascii_lowercase(),
                u.port_or_known_default().unwrap_or(0),
                percent_decode(dir)
            ),
            name: percent_decode(name),
        })
    }
}

/// The candidates that `own` (a document's broken image) should have been,
/// by name: the first non-empty tier of the module doc.
fn by_name<'a>(own: &Named, candidates: &'a [(String, Option<Named>)]) -> Vec<&'a String> {
    let len = own.name.chars().count();
    let exact = |c: &Named| len >= 2 && c.name == own.name;
    let prefix = |c: &Named| {
        len >= MIN_PREFIX && c.name.len() > own.name.len() && c.name.starts_with(&own.name)
    };
    let same = |c: &Named| c.folder == own.folder;
    let tiers: [&dyn Fn(&Named) -> bool; 4] = [
        &|c| exact(c) && same(c),
        &|c| exact(c),
        &|c| prefix(c) && same(c),
        &|c| prefix(c),
    ];
    for tier in tiers {
        let picks: Vec<&String> = candidates
            .iter()
            .filter(|(_, n)| n.as_ref().is_some_and(tier))
            .map(|(u, _)| u)
            .collect();
        if !picks.is_empty() {
            return picks;
        }
    }
    Vec::new()
}

/// Offers images of the source page as repairs for the document's broken
/// or truncated images (see the module doc for the matching).
pub fn suggest_from_source(scanned: &mut Scanned, candidates: &[String]) {
    let mut units: Vec<Vec<usize>> = Vec::new();
    let mut runs: HashMap<usize, usize> = HashMap::new();
    // Each exploded finding's rebuilt URL: the name its unit is matched by.
    let rebuilt: HashMap<usize, String> = scanned
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::ExplodedUrl)
        .filter_map(|f| f.suggestions.first().map(|s| (f.id, s.url.clone())))
        .collect();
    for (i, l) in scanned
        .links
        .iter()
        .enumerate()
        .filter(|(_, l)| l.kind == LinkKind::Image)
    {
        match l.finding {
            Some(f) if rebuilt.contains_key(&f) => match runs.get(&f) {
                Some(&u) => units[u].push(i),
                None => {
                    runs.insert(f, units.len());
                    units.push(vec![i]);
                }
            },
            _ => units.push(vec![i]),
        }
    }
    let named: Vec<(String, Option<Named>)> = candidates
        .iter()
        .map(|c| (c.clone(), Named::of(c)))
        .collect();
    let by_position = units.len() == candidates.len();
    for (u, members) in units.iter().enumerate() {
        let first = &scanned.links[members[0]];
        if !matches!(first.status, Status::Broken | Status::Truncated) {
            continue;
        }
        let own = match first.finding.and_then(|f| rebuilt.get(&f)) {
            Some(url) => Some(url.clone()),
            None => first.resolved.clone(),
        };
        let mut picks: Vec<String> = own
            .as_deref()
            .and_then(Named::of)
            .map(|n| by_name(&n, &named).into_iter().cloned().collect())
            .unwrap_or_default();
        if picks.is_empty() && by_position {
            picks.push(candidates[u].clone());
        }
        // The link's own URL is no repair for itself.
        picks.retain(|p| own.as_deref() != Some(p.as_str()));
        let finding = first.finding;
        for pick in picks {
            let suggestion = Suggestion {
                url: pick.clone(),
                reason: SuggestionReason::FoundOnSource,
                status: None,
            };
            // An exploded run's repairs go on its finding alone (its
            // links point at it); a lone link carries its own.
            match finding.and_then(|f| scanned.findings.iter_mut().find(|x| x.id == f)) {
                Some(finding) => {
                    if !finding.suggestions.iter().any(|s| s.url == pick) {
                        finding.suggestions.push(suggestion);
                    }
                }
                None => {
                    for &m in members {
                        let link = &mut scanned.links[m];
                        if !link.suggestions.iter().any(|s| s.url == pick) {
                            link.suggestions.push(suggestion.clone());
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_cut_names() {
        assert_eq!(percent_decode("%E6%A0%A1%E5%9B%AD"), "校园");
        // Cut inside the UTF-8 sequence of 风 (E9 A3 8E), and inside an escape.
        assert_eq!(percent_decode("%E6%A0%A1%E9%A3"), "校");
        assert_eq!(percent_decode("%E6%A0%A1%E9%A"), "校");
        assert_eq!(percent_decode("a%"), "a");
        assert_eq!(percent_decode("100%zz"), "100%zz");
    }

    fn names(own: &str, cands: &[&str]) -> Vec<String> {
        let named: Vec<(String, Option<Named>)> = cands
            .iter()
            .map(|c| (c.to_string(), Named::of(c)))
            .collect();
        by_name(&Named::of(own).unwrap(), &named)
            .into_iter()
            .cloned()
            .collect()
    }

    #[test]
    fn tiers() {
        let page = [
            "http://a.cn/other/summary.png",
            "http://a.cn/pic/summary.png",
            "http://a.cn/pic/%E6%A0%A1%E5%9B%AD%E9%A3%8E%E5%85%89.jpg",
            "http://a.cn/pic/ab.jpg",
        ];
        assert_eq!(
            names("http://a.cn/pic/summary.pn", &page),
            ["http://a.cn/pic/summary.png"]
        );
        assert_eq!(
            names("http://a.cn/x/summary.pn", &page),
            [
                "http://a.cn/other/summary.png",
                "http://a.cn/pic/summary.png"
            ]
        );
        assert_eq!(
            names("http://a.cn/pic/%E6%A0%A1%E5%9B%AD%E9%A3%8E", &page),
            [page[2]]
        );
        // Exact beats prefix, even in another folder.
        assert_eq!(
            names("http://a.cn/z/summary.png", &page),
            [page[0], page[1]]
        );
        // Too short to mean anything.
        assert!(names("http://a.cn/pic/ab", &page).is_empty());
        assert!(names("http://a.cn/pic/s", &page).is_empty());
    }

    #[test]
    fn charsets() {
        let html = "<html><head><meta charset=\"gbk\"></head><body><img src=\"/校园风光.jpg\"></body></html>";
        let (gbk, _, _) = encoding_rs::GBK.encode(html);
        assert_eq!(page_text(&gbk, None), html);
        assert_eq!(page_text(&gbk, Some("text/html; charset=GBK")), html);
        let http_equiv = "<meta http-equiv=\"Content-Type\" content=\"text/html; charset=gb2312\"><p>校园风光</p>";
        let (bytes, _, _) = encoding_rs::GBK.encode(http_equiv);
        assert_eq!(page_text(&bytes, Some("text/html")), http_equiv);
        assert_eq!(
            charset_param("text/html; Charset=\"utf-8\""),
            Some("utf-8".into())
        );
        // A page labelled UTF-8 that is not: the bytes win.
        assert_eq!(page_text(&gbk, Some("text/html; charset=utf-8")), html);
        let images = page_images(&gbk, Some("text/html"), "http://a.cn/p/x.shtml");
        assert_eq!(
            images,
            ["http://a.cn/%E6%A0%A1%E5%9B%AD%E9%A3%8E%E5%85%89.jpg"]
        );
    }
}
