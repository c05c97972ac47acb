//! Exploded URLs: a scraper that walked a URL string one character at a
//! time and resolved each character against the page (`urljoin(page, c)`)
//! leaves a run of links like `…/25/g`, `…/25/p`, `…/25/j`, `…/25/` (the
//! `.`), `http://host/` (the `/`) and the page itself (a `?`, `#` or
//! space). Read in order, or backwards, the characters spell the URL the
//! scraper should have kept.
//!
//! This module finds such runs among a document's links; [`spell`] reads
//! them. Each link becomes a `Piece`:
//!
//! * a one-character last path segment is that character,
//! * the page's folder (a path ending in `/`) is `.`,
//! * the site root is `/` (or either, when the folder *is* the root),
//! * `page?` and `page#` (WHATWG `urljoin`) are `?` and `#`; any other
//!   link in the run's folder with a longer name is taken for the page
//!   itself (Python's `urljoin` of `?`, `#` and ` `), provided every such
//!   link in the run is the same URL,
//! * a link written as one character (not yet resolved) is that character.
//!
//! Consecutive pieces resolved against the same folder form a run; a run
//! neither starts nor ends with a page link (those are the ordinary links
//! around it, such as the article's source link). [`spell::read`] cuts the
//! run where a second URL starts and picks the reading direction; each URL
//! of at least `links.min_exploded_run` links that spells something
//! URL-like is one finding. The source link of a document is never a
//! piece.

pub mod spell;

use std::borrow::Cow;

use url::Url;

use spell::{PageHint, Token, MIN_URL_SCORE};

/// One link seen as a possible character of an exploded URL. Its URLs
/// are slices of the link's resolved URL: most links of a document are
/// pieces, and a string of their own for each was most of this pass's
/// cost (issue 11).
#[derive(Debug, Clone, PartialEq)]
enum Piece<'a> {
    /// A character, and the folder it was resolved in (if resolved).
    Char(char, Option<&'a str>),
    /// The page's folder: the character `.`.
    Folder(&'a str),
    /// The site root: the character `/`; the origin it belongs to.
    Root(Cow<'a, str>),
    /// The page itself (`?`, `#` or a space), its URL and folder.
    Page {
        url: &'a str,
        folder: &'a str,
        hint: PageHint,
    },
}

/// What a link offers to the detector: how it was written and resolved.
pub struct Candidate<'a> {
    pub raw: &'a str,
    pub resolved: Option<&'a str>,
    /// The document's source link: never a character of a run.
    pub is_source: bool,
}

/// A URL found spelled by a run of links.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// Indices into the candidate slice, in document order.
    pub members: Vec<usize>,
    /// The characters read in the winning direction.
    pub spelled: String,
    /// `spelled` made absolute (against the folder or page), if possible.
    pub rebuilt: String,
    pub backwards: bool,
}

/// The folder of a URL (everything up to its last `/`).
fn folder_of(url: &str) -> &str {
    url.rfind('/').map_or(url, |i| &url[..=i])
}

/// The page as a key: without its query and fragment.
fn page_key(url: &Url) -> String {
    let mut key = url.clone();
    key.set_query(None);
    key.set_fragment(None);
    key.to_string()
}

/// `c` as a piece; `resolved` is its resolved URL as the `url` crate
/// serializes it (see [`reparse`]).
fn piece<'a>(c: &Candidate, resolved: Option<&'a str>, page: Option<&str>) -> Option<Piece<'a>> {
    if c.is_source {
        return None;
    }
    let Some(serialized) = resolved else {
        // No base to resolve against: a link written as one character is
        // that character, but `#` and `?` alone are "top of this page".
        let mut chars = c.raw.trim().chars();
        return match (chars.next(), chars.next()) {
            (Some(ch), None) if ch != '#' && ch != '?' => Some(Piece::Char(ch, None)),
            _ => None,
        };
    };
    let url = HttpParts::split(serialized)?;
    let hint = match (url.query, url.fragment) {
        (_, Some("")) => PageHint::Fragment,
        (Some(""), None) => PageHint::Query,
        (_, None) => PageHint::Any,
        _ => return None,
    };
    let as_page = |hint| {
        let key = url.page_key;
        // A known page decides which links of its folder are the page; in
        // another folder the scraper's page was another one, inferred.
        match page {
            Some(p) if folder_of(p) == folder_of(key) && p != key => None,
            _ => Some(page_piece(key, hint)),
        }
    };
    if hint != PageHint::Any || url.query.is_some() {
        return as_page(hint);
    }
    // No query and no fragment from here on: the URL is its page key.
    if url.path == "/" {
        return Some(Piece::Root(url.origin()));
    }
    if url.path.ends_with('/') {
        return Some(Piece::Folder(url.page_key));
    }
    let slash = url.page_key.rfind('/')?;
    let (folder, last) = url.page_key.split_at(slash + 1);
    match single_char(last) {
        Some(ch) => Some(Piece::Char(ch, Some(folder))),
        None => as_page(PageHint::Any),
    }
}

/// A candidate's resolved URL parsed again, when it is not already
/// written the way the `url` crate writes an http(s) URL; `None` when
/// it is (nearly always: `resolved` is a `Url`'s serialization, see
/// `diagnose::classify`). Such a URL is split where the parser put its
/// delimiters ([`HttpParts`]) instead of being parsed again: re-parsing
/// every link of every document was 7 % of an offline check (issue 11).
fn reparse(c: &Candidate) -> Option<String> {
    let resolved = c.resolved?;
    if resolved.starts_with("http://") || resolved.starts_with("https://") {
        return None;
    }
    Url::parse(resolved).ok().map(String::from)
}

/// An http(s) URL as the `url` crate serializes it, cut at its
/// delimiters: `scheme://[userinfo@]host[:port]/path[?query][#fragment]`.
/// In a serialization a `#` always starts the fragment and the first `?`
/// before it the query (both are escaped anywhere else), and the path
/// of an http(s) URL always starts with `/`.
struct HttpParts<'a> {
    /// `scheme://authority`.
    scheme_authority: &'a str,
    /// Length of `scheme://`.
    scheme_end: usize,
    /// Where the host starts in `scheme_authority` (after any userinfo).
    host_at: usize,
    path: &'a str,
    query: Option<&'a str>,
    fragment: Option<&'a str>,
    /// The URL without its query and fragment (`page_key` of it).
    page_key: &'a str,
}

impl<'a> HttpParts<'a> {
    fn split(s: &'a str) -> Option<HttpParts<'a>> {
        let scheme_end = if s.starts_with("http://") {
            7
        } else if s.starts_with("https://") {
            8
        } else {
            return None;
        };
        let (before_fragment, fragment) = match s.split_once('#') {
            Some((b, f)) => (b, Some(f)),
            None => (s, None),
        };
        // Byte searches: the delimiters are ASCII, and a `[char]` pattern
        // decodes every character it passes.
        let authority_end = scheme_end
            + before_fragment.as_bytes()[scheme_end..]
                .iter()
                .position(|&b| b == b'/' || b == b'?')
                .unwrap_or(before_fragment.len() - scheme_end);
        let query_at = before_fragment.as_bytes()[authority_end..]
            .iter()
            .position(|&b| b == b'?');
        let (page_key, query) = match query_at {
            Some(q) => (
                &before_fragment[..authority_end + q],
                Some(&before_fragment[authority_end + q + 1..]),
            ),
            None => (before_fragment, None),
        };
        let scheme_authority = &s[..authority_end];
        let host_at = scheme_authority[scheme_end..]
            .rfind('@')
            .map_or(scheme_end, |at| scheme_end + at + 1);
        Some(HttpParts {
            scheme_authority,
            scheme_end,
            host_at,
            path: &page_key[authority_end..],
            query,
            fragment,
            page_key,
        })
    }

    /// `Url::origin().ascii_serialization()`: scheme, host and a port
    /// other than the default (a serialization already leaves that out).
    fn origin(&self) -> Cow<'a, str> {
        if self.host_at == self.scheme_end {
            return Cow::Borrowed(self.scheme_authority);
        }
        let scheme = &self.scheme_authority[..self.scheme_end];
        Cow::Owned(format!(
            "{scheme}{}",
            &self.scheme_authority[self.host_at..]
        ))
    }
}

fn page_piece(url: &str, hint: PageHint) -> Piece<'_> {
    Piece::Page {
        url,
        folder: folder_of(url),
        hint,
    }
}

/// The one character `name` stands for once percent-decoded, if it is
/// one. Without a `%` the name is its own decoding, and nothing is built.
fn single_char(name: &str) -> Option<char> {
    let decoded;
    let name = if name.contains('%') {
        decoded = percent_decode(name);
        decoded.as_str()
    } else {
        name
    };
    let mut chars = name.chars();
    match (chars.next(), chars.next()) {
        (Some(ch), None) => Some(ch),
        _ => None,
    }
}

/// Decodes `%XX` escapes (a name like `%E6%A0%A1` is one character).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: Option<&u8>| b.and_then(|b| (*b as char).to_digit(16));
        match (bytes[i], hex(bytes.get(i + 1)), hex(bytes.get(i + 2))) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The folder, origin and page every piece of a run must share.
#[derive(Default, Clone)]
struct Frame<'a> {
    folder: Option<&'a str>,
    origin: Option<Cow<'a, str>>,
    page: Option<&'a str>,
}

impl<'a> Frame<'a> {
    /// Adds `p` if it fits; false if it belongs to another page.
    fn admit(&mut self, p: &Piece<'a>) -> bool {
        let (folder, origin): (Option<&'a str>, Option<&Cow<'a, str>>) = match p {
            Piece::Char(_, None) => return true,
            Piece::Char(_, Some(f)) | Piece::Folder(f) => (Some(*f), None),
            Piece::Root(o) => (None, Some(o)),
            Piece::Page { url, folder, .. } => {
                if self.page.is_some_and(|cur| cur != *url) {
                    return false;
                }
                (Some(*folder), None)
            }
        };
        if let Some(f) = folder {
            if self.folder.is_some_and(|cur| cur != f)
                || self.origin.as_ref().is_some_and(|o| !f.starts_with(&**o))
            {
                return false;
            }
            if self.folder.is_none() {
                self.folder = Some(f);
            }
        }
        if let Some(o) = origin {
            if self.origin.as_ref().is_some_and(|cur| cur != o)
                || self.folder.is_some_and(|f| !f.starts_with(&**o))
            {
                return false;
            }
            if self.origin.is_none() {
                self.origin = Some(o.clone());
            }
        }
        if let Piece::Page { url, .. } = p {
            if self.page.is_none() {
                self.page = Some(url);
            }
        }
        true
    }

    /// True when the root and the folder are the same link.
    fn root_is_folder(&self) -> bool {
        match (&self.folder, &self.origin) {
            (Some(f), Some(o)) => f.trim_end_matches('/') == o,
            _ => false,
        }
    }
}

/// Finds exploded-URL runs of at least `min_run` links. Linear in the
/// number of candidates.
/// `page` is the document's page URL (its source), when known.
pub fn find_runs(candidates: &[Candidate], min_run: usize, page: Option<&str>) -> Vec<Run> {
    let page = page.and_then(|p| Url::parse(p).ok()).map(|p| page_key(&p));
    let reparsed: Vec<Option<String>> = candidates.iter().map(reparse).collect();
    let pieces: Vec<Option<Piece>> = candidates
        .iter()
        .zip(&reparsed)
        .map(|(c, again)| piece(c, again.as_deref().or(c.resolved), page.as_deref()))
        .collect();
    let is_page = |k: usize| matches!(pieces[k], Some(Piece::Page { .. }));
    let mut runs = Vec::new();
    let mut i = 0;
    while i < pieces.len() {
        if pieces[i].is_none() || is_page(i) {
            i += 1;
            continue;
        }
        let mut frame = Frame::default();
        let mut j = i;
        while j < pieces.len() && pieces[j].as_ref().is_some_and(|p| frame.admit(p)) {
            j += 1;
        }
        if j - i >= min_run {
            let tokens: Vec<Token> = pieces[i..j]
                .iter()
                .flatten()
                .map(|p| token(p, frame.root_is_folder()))
                .collect();
            runs.extend(rebuild(i, &tokens, &frame, min_run));
        }
        i = j;
    }
    runs
}

fn token(p: &Piece, root_is_folder: bool) -> Token {
    match p {
        Piece::Char(c, _) => Token::Char(*c),
        Piece::Folder(_) | Piece::Root(_) if root_is_folder => Token::DotOrSlash,
        Piece::Folder(_) => Token::Dot,
        Piece::Root(_) => Token::Slash,
        Piece::Page { hint, .. } => Token::Page(*hint),
    }
}

/// Reads the run's tokens and makes each URL they spell absolute.
fn rebuild(first: usize, tokens: &[Token], frame: &Frame, min_run: usize) -> Vec<Run> {
    let (urls, backwards) = spell::read(tokens);
    let base = frame
        .folder
        .or(frame.origin.as_deref())
        .and_then(|s| Url::parse(s).ok());
    urls.into_iter()
        // Numbered links (`/notes/1` … `/notes/9`) also end in one
        // character; only a run that spells a URL is an exploded one.
        .filter(|s| {
            s.positions.len() >= min_run
                && s.chars * 2 >= s.positions.len()
                && s.score >= MIN_URL_SCORE
        })
        .map(|s| {
            let rebuilt = match (Url::parse(&s.text), &base) {
                (Ok(u), _) => u.to_string(),
                (Err(_), Some(base)) => {
                    base.join(&s.text).map_or(s.text.clone(), |u| u.to_string())
                }
                _ => s.text.clone(),
            };
            Run {
                members: s.positions.iter().map(|p| first + p).collect(),
                spelled: s.text,
                rebuilt,
                backwards,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exploded(url: &str, folder: &str, root: &str) -> Vec<String> {
        url.chars()
            .map(|c| match c {
                '/' => root.to_string(),
                '.' => folder.to_string(),
                c => format!("{folder}{c}"),
            })
            .collect()
    }

    fn candidates(v: &[String]) -> Vec<Candidate<'_>> {
        v.iter()
            .map(|s| Candidate {
                raw: s,
                resolved: Some(s),
                is_source: false,
            })
            .collect()
    }

    #[test]
    fn backward_run_is_rebuilt() {
        let target = "http://news.nankai.edu.cn/pic/003/a_1.jpg";
        let mut links = exploded(target, "http://h.cn/a/b/", "http://h.cn/");
        links.reverse();
        let runs = find_runs(&candidates(&links), 6, None);
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].rebuilt, target);
        assert!(runs[0].backwards);
        assert_eq!(runs[0].members.len(), target.len());
    }

    #[test]
    fn forward_relative_run_resolves_against_folder() {
        let links = exploded("/img/photo.png", "https://h.cn/news/", "https://h.cn/");
        let runs = find_runs(&candidates(&links), 6, None);
        assert_eq!(runs[0].rebuilt, "https://h.cn/img/photo.png");
        assert!(!runs[0].backwards);
    }

    #[test]
    fn page_at_root_decides_dots_and_slashes() {
        let links = exploded("http://x.org/p/q.gif", "http://h.cn/", "http://h.cn/");
        let runs = find_runs(&candidates(&links), 6, None);
        assert_eq!(runs[0].rebuilt, "http://x.org/p/q.gif");
    }

    #[test]
    fn ordinary_images_are_not_a_run() {
        let links: Vec<String> = (0..10)
            .map(|i| format!("http://h.cn/img/{i}{i}.jpg"))
            .collect();
        assert!(find_runs(&candidates(&links), 6, None).is_empty());
    }

    #[test]
    fn numbered_links_are_not_an_exploded_url() {
        let links: Vec<String> = (0..10).map(|i| format!("http://h.cn/notes/{i}")).collect();
        assert!(find_runs(&candidates(&links), 6, None).is_empty());
        let letters: Vec<String> = "abcdefgh"
            .chars()
            .map(|c| format!("http://h.cn/p/{c}"))
            .collect();
        assert!(find_runs(&candidates(&letters), 6, None).is_empty());
    }

    #[test]
    fn other_pages_break_the_run() {
        let mut links = exploded("http://a.cn/b.jpg", "http://h.cn/a/", "http://h.cn/");
        links.insert(5, "http://other.cn/z/q".into());
        let runs = find_runs(&candidates(&links), 6, None);
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].members.len(), links.len() - 6);
    }

    /// `HttpParts` cuts a serialization where `Url` has its parts, so a
    /// piece reads the same as from the parsed URL it replaced.
    #[test]
    fn http_parts_agree_with_the_parsed_url() {
        for written in [
            "http://a.cn/x/y/g",
            "https://a.cn:8443/x/",
            "http://a.cn:80/x/page.shtml?",
            "http://user:p%40ss@a.cn/x/y.htm#",
            "http://a.cn/x/y.htm?q=1&r=/s?t#frag?x",
            "http://[::1]:8080/",
            "HTTP://A.CN/%E6%A0%A1",
            "http://a.cn",
            "http://a.cn?q",
            "http://a.cn#f",
        ] {
            let url = Url::parse(written).unwrap();
            let parts = HttpParts::split(url.as_str()).expect(written);
            assert_eq!(
                parts.origin(),
                url.origin().ascii_serialization(),
                "{written}"
            );
            assert_eq!(parts.path, url.path(), "{written}");
            assert_eq!(parts.query, url.query(), "{written}");
            assert_eq!(parts.fragment, url.fragment(), "{written}");
            assert_eq!(parts.page_key, page_key(&url), "{written}");
        }
        assert!(HttpParts::split("ftp://a.cn/x").is_none());
    }
}
