//! Diagnose: the verdicts that need no network.
//!
//! For each link, in this order: `data:` URIs and non-HTTP schemes are
//! `skipped`; a URL that does not parse is `broken` with the parser's
//! error; a relative URL with no base is `unresolvable`; excluded URLs are
//! `skipped`; signs of truncation ([`truncation`]) make it `truncated`.
//! Whatever survives is `unchecked` until the HTTP checker sees it.
//!
//! Then, over the document as a whole: runs of one-character links are
//! folded into one exploded-URL finding per URL they spell, with the
//! rebuilt URL as a repair ([`exploded`]), and repeated URLs are marked as
//! duplicates. The finding alone carries the rebuilt URL, its repairs and
//! its message; each member link only points at it (`finding`), so a run
//! costs the report one URL, not one per character.
//!
//! # The rules, where real corpora left a choice
//!
//! Each is written in full where it is applied; this is the index.
//!
//! Truncation ([`truncation`]):
//! - A query or fragment after the path means the path was written whole:
//!   `…/0?wx_fmt=jpeg` is not cut, however short its last segment.
//! - A one-character last segment is a cut only when it is not an ASCII
//!   digit: one digit is a numeric id (WeChat `…/0`, `/p/3`), left to the
//!   network. The segment is percent-decoded first, so `…/%E6%A0%A1` (one
//!   CJK character) is a cut.
//! - `cut_percent_escape` also covers escapes that decode to UTF-8 except
//!   for an incomplete last character (`…/%E6%A0%A1%E5`); escapes that are
//!   not UTF-8 before the end are GBK, an encoding, not a cut; `%` before a
//!   non-hex character is a percent sign.
//! - `!style` suffixes (`a.jpg!thumb`) are not cut extensions.
//!
//! Exploded URLs ([`exploded`], [`exploded::spell`]):
//! - A link equal to the page (Python `urljoin` of `?`, `#`, ` `) or to
//!   `page?` / `page#` (WHATWG) is one character of the run. `page?` and
//!   `page#` say which; the page itself is `?` before `key=value` (or a
//!   keyless CDN directive such as `imageView2/…`), a space inside a file
//!   name that goes on to a media extension, `#` otherwise.
//! - A spelled URL never starts with a page link and never ends in `/`,
//!   `.`, `?` or `#`: navigation links beside a run (`[首页](/)`,
//!   `[返回列表](./)`, `[返回顶部](#)`) and the page itself stay out. The
//!   document's source link is never part of a run. When the document
//!   names its page (source link or header), only that URL is the page in
//!   its folder; otherwise the page is inferred, and every page link
//!   inside one run must be the same URL (query and fragment aside: a
//!   page with a query, `content.jsp?id=…`, is still the page).
//! - A run is cut where a second URL starts: `http://`/`https://` (unless
//!   right after `=`, a URL in a query value), or `//` or `/` right after a
//!   media file name (for `/`, only when another media name follows; a
//!   page link between the two is an ordinary link and is skipped).
//!   Each URL is rebuilt on its own; the reading direction is chosen for
//!   the whole run.
//! - When the page is at the site root, `.` and `/` are one link: `.`
//!   between labels of a host (until a top-level domain is followed by a
//!   label that is not one, a dotted quad is complete, or a port starts)
//!   and before a known file extension, `/` elsewhere.
//! - A spelled URL needs a URL-like score (a scheme, `//` and a host, or a
//!   media extension) and `links.min_exploded_run` links; numbered links
//!   (`/notes/1` … `/notes/9`) spell nothing and stay as they are.
//! - Every pass is linear in the run's length.
//!
//! Online, the network has the last word (`check`): a statically
//! suspected link that is not part of an exploded run is fetched; a valid
//! body makes it `ok`, a 404/410 `broken`, with the static reason kept in
//! `static_reason`; when the check cannot decide, it stays `truncated`.

pub mod exploded;
pub mod truncation;

use std::collections::HashMap;

use crate::config::{LinksConfig, Regexes};
use crate::model::{Finding, Link, Status, Suggestion};
use crate::resolve::{resolve, Resolution};
use crate::vocab::{FindingKind, Reason, SuggestionReason};

/// The include/exclude URL patterns, compiled when the configuration was
/// parsed (so building a filter cannot fail or drop a pattern).
pub struct UrlFilter {
    include: Regexes,
    exclude: Regexes,
}

impl UrlFilter {
    pub fn new(config: &LinksConfig) -> UrlFilter {
        UrlFilter {
            include: config.include.clone(),
            exclude: config.exclude.clone(),
        }
    }

    fn verdict(&self, url: &str) -> Option<(Reason, &'static str)> {
        if self.exclude.is_match(url) {
            Some((Reason::Excluded, "matches a `links.exclude` pattern"))
        } else if !self.include.is_empty() && !self.include.is_match(url) {
            Some((Reason::NotIncluded, "matches no `links.include` pattern"))
        } else {
            None
        }
    }
}

/// Resolves and classifies every link of one document against `base`.
///
/// A link that repeats an earlier one (same URL as written, same kind)
/// gets that one's verdict copied instead of being parsed again: the
/// verdict depends on nothing else, and in the seed-mix corpus 45 % of
/// links repeat one of their document (the characters of an exploded
/// URL: every `e`, `.` and `/` is the same link), while parsing a URL
/// was the largest cost of this stage (issue 11).
pub fn classify_links(links: &mut [Link], base: Option<&url::Url>, filter: &UrlFilter, hint: &str) {
    let mut first: HashMap<u64, usize, KeyIsHash> =
        HashMap::with_capacity_and_hasher(links.len(), KeyIsHash);
    for i in 0..links.len() {
        let key = repeat_key(&links[i].url, links[i].kind);
        if let Some(&j) = first.get(&key) {
            // A hash is only a hint: the URL and kind are compared.
            if links[j].url == links[i].url && links[j].kind == links[i].kind {
                let (earlier, later) = links.split_at_mut(i);
                let (from, to) = (&earlier[j], &mut later[0]);
                to.resolved.clone_from(&from.resolved);
                to.status = from.status;
                to.reason = from.reason;
                to.message.clone_from(&from.message);
                continue;
            }
        }
        let link = &mut links[i];
        classify(link, resolve(&link.url, base), filter, hint);
        first.entry(key).or_insert(i);
    }
}

/// The FNV-1a prime, for [`repeat_key`] and [`KeyHasher`].
const PRIME: u64 = 0x0000_0100_0000_01b3;

/// A cheap hash of a link's URL and kind for [`classify_links`]: only a
/// hint, since a match is confirmed by comparing the two (FNV-1a over
/// 8-byte words; SipHash was a tenth of the stage).
fn repeat_key(url: &str, kind: crate::extract::LinkKind) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325 ^ kind as u64;
    let mut words = url.as_bytes().chunks_exact(8);
    for word in &mut words {
        let word = u64::from_le_bytes(word.try_into().unwrap_or_default());
        hash = (hash ^ word).wrapping_mul(PRIME).rotate_left(23);
    }
    for &b in words.remainder() {
        hash = (hash ^ u64::from(b)).wrapping_mul(PRIME);
    }
    hash ^ url.len() as u64
}

/// A map keyed by [`repeat_key`] hashes nothing again.
#[derive(Default, Clone, Copy)]
struct KeyIsHash;

impl std::hash::BuildHasher for KeyIsHash {
    type Hasher = KeyHasher;
    fn build_hasher(&self) -> KeyHasher {
        KeyHasher(0)
    }
}

#[derive(Default)]
struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(PRIME);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Sets a link's status from how it resolved. `base_hint` is shown in the
/// message of unresolvable links. The resolution is taken by value: the
/// parsed URL's serialization becomes `resolved` without a copy.
pub fn classify(link: &mut Link, resolution: Resolution, filter: &UrlFilter, base_hint: &str) {
    let verdict = match resolution {
        Resolution::Malformed(error) => Some((
            Status::Broken,
            Reason::MalformedUrl,
            format!("not a valid URL: {error}"),
        )),
        Resolution::NoBase => Some((
            Status::Unresolvable,
            Reason::NoBaseUrl,
            format!(
                "`{}` is relative and the document has no base URL; {base_hint}",
                link.url
            ),
        )),
        Resolution::Absolute(url) => {
            let verdict = absolute_verdict(link, &url, filter);
            link.resolved = Some(url.into());
            verdict
        }
    };
    match verdict {
        Some((status, reason, message)) => {
            link.status = status;
            link.reason = Some(reason);
            link.message = Some(message);
        }
        None => link.status = Status::Unchecked,
    }
}

/// The verdict on a link that resolved to `url`; `None`: to be checked.
fn absolute_verdict(
    link: &Link,
    url: &url::Url,
    filter: &UrlFilter,
) -> Option<(Status, Reason, String)> {
    match url.scheme() {
        "http" | "https" => {}
        "data" => {
            return Some((
                Status::Skipped,
                Reason::DataUri,
                format!(
                    "inline data: URI ({} bytes); reported, not fetched",
                    link.url.len()
                ),
            ))
        }
        other => {
            return Some((
                Status::Skipped,
                Reason::UnsupportedScheme,
                format!("`{other}:` links are not checked"),
            ))
        }
    }
    if let Some((reason, why)) = filter.verdict(url.as_str()) {
        return Some((Status::Skipped, reason, format!("URL {why}")));
    }
    truncation::truncation(&link.url, url, link.kind)
        .map(|t| (Status::Truncated, t.reason, t.message))
}

/// Folds exploded-URL runs and marks duplicates among one document's
/// links. Finding ids start at `next_id`.
/// `page` is the document's page URL (its source), when known.
pub fn document_findings(
    links: &mut [Link],
    config: &LinksConfig,
    page: Option<&str>,
    next_id: usize,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    let candidates: Vec<exploded::Candidate> = links
        .iter()
        .map(|l| exploded::Candidate {
            raw: &l.url,
            resolved: l.resolved.as_deref(),
            is_source: l.kind == crate::extract::LinkKind::Source,
        })
        .collect();
    let runs = exploded::find_runs(&candidates, config.min_exploded_run, page);
    for run in runs {
        let id = next_id + findings.len();
        let suggestion = Suggestion {
            url: run.rebuilt.clone(),
            reason: SuggestionReason::RebuiltExplodedUrl,
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
            link.reason = Some(Reason::ExplodedUrl);
            // The rebuilt URL, its repairs and the message live once, in
            // the finding the member points at (schema 2.0.0): a copy on
            // each of a run's n links made the report grow with the
            // characters of the corpus, not with its findings.
            link.message = None;
            link.finding = Some(id);
            link.suggestions = Vec::new();
        }
        let (first, last) = (
            &links[run.members[0]],
            &links[*run.members.last().unwrap_or(&0)],
        );
        findings.push(Finding {
            id,
            document: first.document,
            kind: FindingKind::ExplodedUrl,
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
    // Found with the URLs borrowed, then marked: no copy of each URL.
    let mut first_seen: HashMap<&str, usize> = HashMap::new();
    let mut repeats: HashMap<usize, Vec<usize>> = HashMap::new();
    for (i, link) in links.iter().enumerate() {
        // A header and a body both naming the source is agreement, not noise.
        let (Some(url), None) = (link.resolved.as_deref(), link.finding) else {
            continue;
        };
        if link.kind == crate::extract::LinkKind::Source {
            continue;
        }
        match first_seen.get(url) {
            Some(&first) => repeats.entry(first).or_default().push(i),
            None => {
                first_seen.insert(url, i);
            }
        }
    }
    drop(first_seen);
    for (&first, others) in &repeats {
        for &i in others {
            links[i].duplicate_of = Some(links[first].id);
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
            kind: FindingKind::Duplicate,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::LinkKind;

    #[test]
    fn a_repeated_link_gets_the_verdict_it_would_get_alone() {
        let config = LinksConfig::default();
        let filter = UrlFilter::new(&config);
        let base = url::Url::parse("http://a.cn/x/page.html").unwrap();
        let urls = [
            "g",
            "g",
            "http://a.cn/x/",
            "%E6",
            "g",
            "a.jpg",
            "%E6",
            "a.jpg",
        ];
        let kinds = [LinkKind::Image, LinkKind::Page];
        let mut links: Vec<Link> = urls
            .iter()
            .enumerate()
            .map(|(i, u)| {
                let mut l = crate::report::fixtures::link(Status::Unchecked, u, None);
                l.resolved = None;
                l.kind = kinds[i % 2];
                l
            })
            .collect();
        let mut alone = links.clone();
        classify_links(&mut links, Some(&base), &filter, "hint");
        for link in &mut alone {
            classify(link, resolve(&link.url, Some(&base)), &filter, "hint");
        }
        let verdicts = |v: &[Link]| -> Vec<_> {
            v.iter()
                .map(|l| (l.resolved.clone(), l.status, l.reason, l.message.clone()))
                .collect()
        };
        assert_eq!(verdicts(&links), verdicts(&alone));
        // The same URL as another kind is judged as that kind.
        assert_eq!(links[0].status, Status::Truncated);
        assert_eq!(links[1].status, Status::Unchecked);
        assert_eq!(links[4].status, Status::Truncated);
    }
}
