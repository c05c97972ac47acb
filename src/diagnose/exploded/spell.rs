//! Spelling an exploded run: from the tokens its links stand for to the
//! URL (or URLs) they spell.
//!
//! A run's links say less than the characters they were made from. The
//! page's folder is `.` and the site root `/`, but when the page sits at
//! the root the two are the same link ([`Token::DotOrSlash`]); and every
//! character that `urljoin` resolves to the page itself (`?`, `#`, a
//! space) is one link ([`Token::Page`]). This module decides those
//! positions from context, cuts a run where a second URL starts, and picks
//! the reading direction. Every pass is linear in the run's length:
//! lookahead is bounded or walks each character at most a fixed number of
//! times, so a 10,000-link run costs no more than 10,000 links.

use crate::extract::is_media_extension;

/// What a `Page` link stands for, when the link itself says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageHint {
    /// `page?`: WHATWG `urljoin` of `?`.
    Query,
    /// `page#`: WHATWG `urljoin` of `#`.
    Fragment,
    /// The page itself: `?`, `#` or a space, decided by context.
    Any,
}

/// One link of a run, as a character to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Token {
    Char(char),
    /// The page's folder.
    Dot,
    /// The site root.
    Slash,
    /// The folder and the root are one link: `.` or `/`.
    DotOrSlash,
    /// The page URL: `?`, `#` or a space.
    Page(PageHint),
}

impl Token {
    fn slashy(self) -> bool {
        matches!(self, Token::Slash | Token::DotOrSlash)
    }
    fn dotty(self) -> bool {
        matches!(self, Token::Dot | Token::DotOrSlash)
    }
    fn char(self) -> Option<char> {
        match self {
            Token::Char(c) => Some(c),
            _ => None,
        }
    }
    fn alnum(self) -> bool {
        self.char().is_some_and(|c| c.is_ascii_alphanumeric())
    }
}

/// One URL read out of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Spelled {
    /// Positions in the run (document order) of the links it was read from.
    pub positions: Vec<usize>,
    pub text: String,
    pub score: i32,
    /// How many of its links were characters (not the folder, the root
    /// or the page).
    pub chars: usize,
}

/// The [`score`] a spelled URL needs: a scheme, or a path with a media
/// extension, or a host name with a path.
pub const MIN_URL_SCORE: i32 = 3;

/// Reads `tokens` (in document order) forwards and backwards and returns
/// the URLs of the better reading and whether it was backwards.
pub fn read(tokens: &[Token]) -> (Vec<Spelled>, bool) {
    let forward: Vec<usize> = (0..tokens.len()).collect();
    let backward: Vec<usize> = forward.iter().rev().copied().collect();
    let f = read_in_order(tokens, &forward);
    let b = read_in_order(tokens, &backward);
    let total = |v: &[Spelled]| -> i32 {
        v.iter()
            .filter(|s| s.score >= MIN_URL_SCORE)
            .map(|s| s.score)
            .sum()
    };
    if total(&b) > total(&f) {
        (b, true)
    } else {
        (f, false)
    }
}

fn read_in_order(tokens: &[Token], order: &[usize]) -> Vec<Spelled> {
    let seq: Vec<Token> = order.iter().map(|&i| tokens[i]).collect();
    let mut out = Vec::new();
    let mut start = 0;
    let cuts = url_starts(&seq);
    for end in cuts.into_iter().chain(std::iter::once(seq.len())) {
        let (mut a, mut b) = (start, end);
        // A URL neither starts nor ends with `?`, `#` or a space, and ends
        // in a character, not `/` or `.`: such a link at an end is an
        // ordinary link beside the run (the page, `[首页](/)`, a folder).
        while a < b && matches!(seq[a], Token::Page(_)) {
            a += 1;
        }
        while b > a && !matches!(seq[b - 1], Token::Char(c) if !matches!(c, '/' | '.' | '?' | '#'))
        {
            b -= 1;
        }
        if a < b {
            let text = settle(&decide_pages(&seq[a..b]));
            let mut positions: Vec<usize> = order[a..b].to_vec();
            positions.sort_unstable();
            out.push(Spelled {
                positions,
                score: score(&text),
                chars: seq[a..b].iter().filter(|t| t.char().is_some()).count(),
                text,
            });
        }
        start = end;
    }
    out
}

/// Where, in reading order, a second URL starts: a scheme (not a query
/// value), `//` right after a media file name, or `/` right after a media
/// file name when another media file name follows.
fn url_starts(seq: &[Token]) -> Vec<usize> {
    let n = seq.len();
    // media_later[k]: a `.ext` media name starts at or after k.
    let mut media_later = vec![false; n + 1];
    for k in (0..n).rev() {
        media_later[k] = media_later[k + 1] || media_ext_after(seq, k).is_some();
    }
    let mut cuts = Vec::new();
    for k in 1..n {
        let starts = if scheme_at(seq, k) {
            seq[k - 1].char() != Some('=')
        } else if seq[k].slashy()
            && !seq[k - 1].slashy()
            && media_name_ends_at(seq, name_end(seq, k))
        {
            let protocol_relative = seq.get(k + 1).is_some_and(|t| t.slashy())
                && seq.get(k + 2).is_some_and(|t| t.alnum());
            let segment_char = |t: &Token| {
                t.char()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || "%_-~".contains(c))
            };
            let root_relative = seq.get(k + 1).is_some_and(segment_char) && media_later[k + 1];
            protocol_relative || root_relative
        } else {
            false
        };
        if starts && cuts.last() != Some(&k) {
            cuts.push(k);
        }
    }
    cuts
}

/// Where the name before `k` ends: page links right before `k` (an
/// ordinary link between two exploded images) are skipped.
fn name_end(seq: &[Token], k: usize) -> usize {
    let pages = seq[..k]
        .iter()
        .rev()
        .take(2)
        .take_while(|t| matches!(t, Token::Page(_)))
        .count();
    k - pages
}

/// `http://` or `https://` spelled from `k`.
fn scheme_at(seq: &[Token], k: usize) -> bool {
    let letters = |word: &str| {
        word.chars().enumerate().all(|(i, c)| {
            seq.get(k + i)
                .and_then(|t| t.char())
                .is_some_and(|x| x.eq_ignore_ascii_case(&c))
        })
    };
    let tail_at = |i: usize| {
        seq.get(i).and_then(|t| t.char()) == Some(':')
            && seq.get(i + 1).is_some_and(|t| t.slashy())
            && seq.get(i + 2).is_some_and(|t| t.slashy())
    };
    (letters("https") && tail_at(k + 5)) || (letters("http") && tail_at(k + 4))
}

/// The length of a media extension written as `.ext` at `k`, if any: the
/// extension ends at a non-alphanumeric token or where a scheme starts.
fn media_ext_after(seq: &[Token], k: usize) -> Option<usize> {
    if !seq[k].dotty() {
        return None;
    }
    let ext: String = seq[k + 1..]
        .iter()
        .take(6)
        .map_while(|t| t.char().filter(char::is_ascii_alphanumeric))
        .collect();
    (2..=ext.len()).rev().find(|&len| {
        let ended = seq.get(k + 1 + len).is_none_or(|t| !t.alnum()) || scheme_at(seq, k + 1 + len);
        ended && is_media_extension(&ext[..len])
    })
}

/// True when the tokens before `k` end in `.ext`, a media extension.
fn media_name_ends_at(seq: &[Token], k: usize) -> bool {
    let ext_len = seq[..k]
        .iter()
        .rev()
        .take(6)
        .take_while(|t| t.alnum())
        .count();
    ext_len > 0 && k > ext_len && media_ext_after(seq, k - ext_len - 1) == Some(ext_len)
}

/// Processing directives some image CDNs put after `?` without `=`.
const KEYLESS_QUERIES: &[&str] = &["imageView2", "imageMogr2", "watermark/", "vframe/"];

/// Decides every page link: `?` before `key=value` (or a known keyless
/// directive), a space inside a file name that goes on to a media
/// extension, `#` otherwise. Links that said which (`page?`, `page#`)
/// are taken at their word. Returns the characters, `None` where the
/// folder and root were one link.
fn decide_pages(seq: &[Token]) -> Vec<Option<char>> {
    #[derive(PartialEq)]
    enum Part {
        Path,
        Query,
        Fragment,
    }
    let mut part = Part::Path;
    let mut out: Vec<Option<char>> = Vec::with_capacity(seq.len());
    // Where the next page link is, for each position: bounds each tail.
    let mut next_page = vec![seq.len(); seq.len() + 1];
    for k in (0..seq.len()).rev() {
        next_page[k] = if matches!(seq[k], Token::Page(_)) {
            k
        } else {
            next_page[k + 1]
        };
    }
    for (k, t) in seq.iter().enumerate() {
        let c = match *t {
            Token::Char(c) => Some(c),
            Token::Dot => Some('.'),
            Token::Slash => Some('/'),
            Token::DotOrSlash => None,
            Token::Page(PageHint::Query) => Some('?'),
            Token::Page(PageHint::Fragment) => Some('#'),
            Token::Page(PageHint::Any) => {
                let tail = &seq[k + 1..next_page[k + 1]];
                let has_equals = tail.iter().any(|t| t.char() == Some('='));
                let keyless = KEYLESS_QUERIES.iter().any(|q| {
                    let mut chars = q.chars();
                    tail.iter()
                        .take(q.len())
                        .all(|t| chars.next().is_some_and(|c| t.char() == Some(c)))
                        && tail.len() >= q.len()
                });
                let name_goes_on = !media_name_ends_at(seq, k)
                    && tail.len() > 1
                    && media_name_ends_at(tail, tail.len());
                Some(match part {
                    Part::Path if has_equals || keyless => '?',
                    Part::Path | Part::Query if name_goes_on => ' ',
                    Part::Path | Part::Query => '#',
                    Part::Fragment => ' ',
                })
            }
        };
        match c {
            Some('?') if part == Part::Path => part = Part::Query,
            Some('#') if part != Part::Fragment => part = Part::Fragment,
            _ => {}
        }
        out.push(c);
    }
    out
}

/// Top-level domains a host name ends with (besides two-letter ones).
const TLDS: &[&str] = &[
    "com", "org", "net", "edu", "gov", "info", "io", "biz", "mil", "int", "top", "xyz", "site",
    "online", "tech", "cloud", "app", "dev", "club", "shop", "vip", "wang", "ltd",
];

fn is_tld(label: &str) -> bool {
    let lower = label.to_ascii_lowercase();
    (lower.len() == 2 && lower.chars().all(|c| c.is_ascii_alphabetic()))
        || TLDS.contains(&lower.as_str())
}

/// File extensions that decide a `.` before them (media, and pages).
fn is_file_extension(ext: &str) -> bool {
    const PAGES: &[&str] = &[
        "html", "htm", "shtml", "xhtml", "php", "asp", "aspx", "jsp", "do", "cgi", "txt", "xml",
        "json", "doc", "docx", "xls", "xlsx", "ppt", "pptx", "zip", "rar",
    ];
    is_media_extension(ext) || PAGES.contains(&ext.to_ascii_lowercase().as_str())
}

/// Fills the positions where the folder and the root were one link: `.`
/// between labels of a host name (until a top-level domain is followed by
/// something that is not one, or a dotted-quad address is complete) and
/// before a file extension; `/` elsewhere.
fn settle(chars: &[Option<char>]) -> String {
    let mut out = String::with_capacity(chars.len());
    // Host tracking: a leading `//` (after the scheme) opens the host, the
    // next `/` closes it.
    let mut slashes = 0usize;
    let mut host_open = false;
    let mut host_done = false;
    let mut host_dots = 0usize;
    let mut host_numeric = true;
    let mut label = String::new();
    for (i, c) in chars.iter().enumerate() {
        let ch = c.unwrap_or_else(|| {
            let prev = out.chars().last();
            let next = chars.get(i + 1).copied().flatten();
            let in_host = host_open && !host_done;
            let ext: String = chars[i + 1..]
                .iter()
                .take(7)
                .map_while(|c| c.filter(|c| c.is_ascii_alphanumeric()))
                .collect();
            let ext_ends = chars
                .get(i + 1 + ext.len())
                .is_none_or(|c| matches!(c, Some('?' | '#' | ' ')));
            let extension_follows = ext_ends && is_file_extension(&ext);
            let between_words = prev.is_some_and(|p| p.is_alphanumeric())
                && next.is_some_and(|n| n.is_alphanumeric());
            let next_label: String = chars[i + 1..]
                .iter()
                .map_while(|c| c.filter(|c| !matches!(c, '.' | '/' | ':')))
                .take(64)
                .collect();
            let ends_host = (host_dots > 0 && is_tld(&label) && !is_tld(&next_label))
                || (host_numeric && host_dots == 3)
                || label.contains(':');
            let host_dot = in_host && between_words && !ends_host;
            if host_dot || (!in_host && extension_follows) {
                '.'
            } else {
                '/'
            }
        });
        match ch {
            '/' => {
                slashes += 1;
                if host_open {
                    host_done = true;
                } else if slashes == 2 && out.ends_with('/') {
                    host_open = true;
                }
            }
            '.' if host_open && !host_done => host_dots += 1,
            _ => {}
        }
        if host_open && !host_done && ch != '.' && ch != '/' && !ch.is_ascii_digit() {
            host_numeric = false;
        }
        if ch == '.' || ch == '/' {
            label.clear();
        } else if label.len() < 64 {
            label.push(ch);
        }
        out.push(ch);
    }
    out
}

/// How much a string looks like a URL to a file.
pub fn score(s: &str) -> i32 {
    let mut score = 0;
    let lower = s.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        score += 4;
    } else if lower.starts_with("//") {
        // Only with a real host, below.
    } else if lower.starts_with('/') {
        score += 1;
    }
    // Read the wrong way round, a URL shows its scheme reversed and its
    // percent-escapes broken (`6E%`): the other direction is the URL.
    if lower.contains("//:ptth") || lower.contains("//:sptth") {
        score -= 6;
    }
    let bytes = lower.as_bytes();
    let broken_escape = bytes.iter().enumerate().any(|(i, &b)| {
        b == b'%'
            && !(bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
    });
    if broken_escape {
        score -= 4;
    }
    let path = lower.split(['?', '#']).next().unwrap_or("");
    if let Some((_, ext)) = path.rsplit_once('.') {
        if is_media_extension(ext) {
            score += 3;
        } else if (2..=5).contains(&ext.len()) && ext.chars().all(|c| c.is_ascii_alphanumeric()) {
            score += 1;
        }
    }
    let absolute = if lower.starts_with("//") {
        format!("http:{s}")
    } else {
        s.to_string()
    };
    // A host counts when it is letters, digits and hyphens ending in a
    // top-level domain, or an address: read the wrong way round,
    // `//gepj.x_1/` is no host.
    let real_host = |u: url::Url| match u.host() {
        Some(url::Host::Domain(h)) => {
            h.rsplit_once('.').is_some_and(|(_, tld)| is_tld(tld))
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        }
        // An address counts as written: `https://38` parses as 0.0.0.38.
        Some(_) => u.host_str().is_some_and(|h| s.contains(h)),
        None => false,
    };
    if url::Url::parse(&absolute).is_ok_and(real_host) {
        // `//host` is worth less than a scheme: two navigation links
        // read the wrong way round also make a `//`.
        score += if lower.starts_with("//") { 3 } else { 2 };
    }
    score
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(s: &str) -> Vec<Token> {
        s.chars()
            .map(|c| match c {
                '/' => Token::Slash,
                '.' => Token::Dot,
                '?' | '#' | ' ' => Token::Page(PageHint::Any),
                c => Token::Char(c),
            })
            .collect()
    }

    fn spelled(s: &str) -> Vec<String> {
        read(&tokens(s)).0.into_iter().map(|s| s.text).collect()
    }

    #[test]
    fn page_links_become_query_fragment_or_space() {
        assert_eq!(
            spelled("https://mmbiz.qpic.cn/mmbiz_gif/Ab/0?wx_fmt=gif"),
            ["https://mmbiz.qpic.cn/mmbiz_gif/Ab/0?wx_fmt=gif"]
        );
        assert_eq!(spelled("http://a.cn/x.jpg#top"), ["http://a.cn/x.jpg#top"]);
        assert_eq!(
            spelled("http://a.cn/IMG 2019.jpg?w=1#s"),
            ["http://a.cn/IMG 2019.jpg?w=1#s"]
        );
        assert_eq!(
            spelled("http://a.cn/x.png?imageView2/2/w/640"),
            ["http://a.cn/x.png?imageView2/2/w/640"]
        );
    }

    #[test]
    fn back_to_back_urls_are_cut() {
        assert_eq!(
            spelled("http://a.cn/x.jpg?a=1https://b.cn/y.png//c.cn/z.gif/d/e.webp"),
            [
                "http://a.cn/x.jpg?a=1",
                "https://b.cn/y.png",
                "//c.cn/z.gif",
                "/d/e.webp"
            ]
        );
        // A URL in a query value is not a new URL.
        assert_eq!(
            spelled("http://a.cn/r.php?u=http://b.cn/y.png"),
            ["http://a.cn/r.php?u=http://b.cn/y.png"]
        );
    }

    #[test]
    fn root_page_positions_are_settled() {
        let t: Vec<Token> = "http://www.gov.cn/a/x.jpg"
            .chars()
            .map(|c| match c {
                '/' | '.' => Token::DotOrSlash,
                c => Token::Char(c),
            })
            .collect();
        assert_eq!(read(&t).0[0].text, "http://www.gov.cn/a/x.jpg");
        let t: Vec<Token> = "http://10.0.12.7/p/640?x=y.jpg"
            .chars()
            .map(|c| match c {
                '/' | '.' => Token::DotOrSlash,
                '?' => Token::Page(PageHint::Any),
                c => Token::Char(c),
            })
            .collect();
        assert_eq!(read(&t).0[0].text, "http://10.0.12.7/p/640?x=y.jpg");
    }

    #[test]
    fn long_runs_stay_cheap() {
        let s: String = "ab/".repeat(4000) + "x.jpg";
        assert_eq!(spelled(&s).len(), 1);
    }
}
