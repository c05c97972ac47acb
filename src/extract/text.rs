//! Plain text: bare URLs and bare media file names such as
//! `微信图片_20231109112859.png` that scrapers leave when they drop the
//! `<img>` around a picture.
//!
//! The same scanner serves the text nodes of Markdown and HTML.
//!
//! Bare URLs are found by a small scanner of our own (linear in the text)
//! rather than `linkify`, because Chinese prose glues URLs to the sentence:
//! `照片：https://host/x.jpg，摄影：张三；详情见https://host/y.html。`
//! holds two URLs. The rules, in order:
//!
//! - A URL starts at `scheme://` with an ASCII scheme; the character before
//!   the scheme may be anything that is not a scheme character, CJK text
//!   included (`详情见https://…`). A scheme ending in `http`/`https` glued
//!   to a longer ASCII word (`URLhttps://`) starts at the `http`; any other
//!   scheme longer than 32 characters is not one.
//! - A URL ends at whitespace (U+3000 ideographic space included), at
//!   control characters, at ASCII `<`, `>`, `"`, `` ` ``, `|`, at CJK and
//!   full-width punctuation and symbols (all of U+3000–U+303F and
//!   U+FF00–U+FFEF, full-width letters and digits too, and any other
//!   non-ASCII character that is not a letter or digit: `·`, `—`, `…`,
//!   `“”‘’`, zero-width space), and at a closing `)`, `]` or `}` with no
//!   opener in the URL (`(see https://a.cn/x.jpg)`); balanced ones are kept
//!   (`File:Name_(2019).jpg`).
//! - Letters of scripts written without spaces (CJK ideographs, kana,
//!   bopomofo, hangul) never belong to the host (`https://a.cn了解` is
//!   `https://a.cn`). In the path, query and fragment a run of them is kept
//!   only when it starts right after one of `/ = _ - : # ( + ~`, i.e. at the
//!   start of a segment, a query value or a name part: raw IRIs such as
//!   `https://zh.wikipedia.org/wiki/南开大学` or `…/微信图片_2023.png`. Glued
//!   after any other character (`…/y.html了解更多`, `…/x.jpg摄影`,
//!   `…/2019年`, and after a finished file name even `index.html:欢迎` or
//!   `x.jpg(来源`) they are the sentence going on, unless the name goes on
//!   to a known file extension (`…/附件/2021年工作要点.html`): then it is a
//!   raw IRI whose CJK part follows a digit.
//! - Exception: such a run that is the whole first path segment and ends
//!   the URL (`https://a.cn/了解更多`) is prose too: a site's root rarely
//!   holds a page named in raw CJK, while "visit https://a.cn/ then…"
//!   without a space is common. It is kept when more URL follows
//!   (`https://a.cn/校园风光.jpg`). Deeper in the path a run after `/` is
//!   kept even at the end: `…/wiki/南开大学。` and `…/news/了解更多` cannot be
//!   told apart, and the first is a real link, the second sloppy prose.
//! - Other non-ASCII letters and digits (Latin with accents, Cyrillic,
//!   Greek, …) belong to the URL wherever they stand (`…/wiki/Köln`): those
//!   scripts separate words with spaces.
//! - Trailing ASCII `.,;:!?'"*` and unclosed `([{` are trimmed, as
//!   linkify-style extractors do.

use std::sync::OnceLock;

use regex::Regex;

use super::{is_media_extension, kind_by_extension, Extracted, Extractor, LineIndex, RawLink};
use crate::extract::LinkKind;
use crate::vocab::Syntax;

/// Extractor for plain-text bodies.
pub struct TextExtractor;

impl Extractor for TextExtractor {
    fn extract(&self, body: &str, first_line: usize) -> Extracted {
        let index = LineIndex::new(body, first_line);
        let mut links = Vec::new();
        scan_text(body, 0, &index, &mut links);
        Extracted {
            links,
            ..Extracted::default()
        }
    }
}

/// A token that ends in a media extension: letters of any script, digits
/// and the usual file-name punctuation, with an optional relative path.
fn file_name_pattern() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"[\p{L}\p{N}_\-~+%./]*[\p{L}\p{N}_\-~+%]\.([A-Za-z0-9]{2,5})")
            .expect("static regex")
    })
}

/// Finds bare URLs and media file names in `text`, which starts at byte
/// `offset` of the text `index` was built on, and appends them to `out`.
pub fn scan_text(text: &str, offset: usize, index: &LineIndex, out: &mut Vec<RawLink>) {
    let first_new = out.len();
    let taken = bare_urls(text);
    let mut at = Cursor::new(text, offset, index);
    for &(start, end) in &taken {
        let url = &text[start..end];
        let (line, column) = at.locate(start);
        out.push(RawLink {
            url: url.to_string(),
            kind: kind_by_extension(url).unwrap_or(LinkKind::Page),
            syntax: Syntax::BareUrl,
            line,
            column,
            text: None,
        });
    }
    let mut at = Cursor::new(text, offset, index);
    for whole in file_name_matches(text) {
        let name = &text[whole.clone()];
        // The extension (the pattern's group) is what follows the match's
        // last `.`: it holds none. Asking the regex for the group made it
        // run a capturing engine over every match (3 % of an offline check).
        let ext = &name[name.rfind('.').map_or(0, |i| i + 1)..];
        // `taken` is sorted and disjoint: only the first URL ending after
        // the match's start can overlap it.
        let next = taken.partition_point(|&(_, e)| e <= whole.start);
        if !is_media_extension(ext)
            || taken.get(next).is_some_and(|&(s, _)| s < whole.end)
            || text[whole.end..].starts_with(|c: char| c.is_ascii_alphanumeric())
            || text[..whole.start].ends_with(['@', ':', '/'])
        {
            continue;
        }
        // A leading `.` or `/` run belongs to the sentence, not the name,
        // unless it is a relative path such as `./a.jpg` or `/img/a.jpg`.
        let name = name.trim_start_matches('.');
        let start = whole.end - name.len();
        let (line, column) = at.locate(start);
        out.push(RawLink {
            url: name.to_string(),
            kind: kind_by_extension(name).unwrap_or(LinkKind::Media),
            syntax: Syntax::BareFileName,
            line,
            column,
            text: None,
        });
    }
    // Sort what this call added; the whole list only when the new links
    // go before earlier ones, so many calls on one body stay linear.
    let key = |l: &RawLink| (l.line, l.column);
    out[first_new..].sort_by_key(key);
    if first_new > 0 && out.len() > first_new && key(&out[first_new]) < key(&out[first_new - 1]) {
        out.sort_by_key(key);
    }
}

/// Byte ranges of the matches of [`file_name_pattern`] in `text`, as
/// `find_iter` over the whole text gives them, but with the regex run only
/// where a match can be. Every match ends in `.` and an ASCII letter or
/// digit, and lies inside one token: a run of characters of the pattern's
/// classes. So the regex runs on the tokens that hold such a `.`, cut at
/// characters that are in no class (a superset of the classes is used for
/// the cut, which can only make a token longer, never split a match). Most
/// text (a Chinese paragraph, a caption) has no such `.`, and the regex's
/// leading Unicode classes made it walk every letter of the rest: it was
/// 3-4 % of an offline check run on whole texts.
fn file_name_matches(text: &str) -> Vec<std::ops::Range<usize>> {
    let in_token =
        |c: char| c.is_alphanumeric() || matches!(c, '_' | '-' | '~' | '+' | '%' | '.' | '/');
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    // End of the last token searched.
    let mut done = 0;
    for dot in memchr::memchr_iter(b'.', bytes) {
        if dot < done || !bytes.get(dot + 1).is_some_and(u8::is_ascii_alphanumeric) {
            continue;
        }
        let start = text[..dot]
            .char_indices()
            .rev()
            .find(|&(_, c)| !in_token(c))
            .map_or(0, |(i, c)| i + c.len_utf8());
        let end = text[dot..]
            .char_indices()
            .find(|&(_, c)| !in_token(c))
            .map_or(text.len(), |(i, _)| dot + i);
        let token = &text[start..end];
        found.extend(
            file_name_pattern()
                .find_iter(token)
                .map(|m| start + m.start()..start + m.end()),
        );
        done = end;
    }
    found
}

/// Turns increasing byte offsets of `text` into (line, column) by walking
/// forwards from the last answer: linear in the text, where asking
/// [`LineIndex::locate`] each time costs the length of the line, and a
/// single line of many thousand URLs made extraction quadratic.
struct Cursor<'a> {
    text: &'a str,
    offset: usize,
    index: &'a LineIndex<'a>,
    /// Byte offset in `text` of the last answer, and that answer.
    last: Option<(usize, usize, usize)>,
}

impl<'a> Cursor<'a> {
    fn new(text: &'a str, offset: usize, index: &'a LineIndex<'a>) -> Cursor<'a> {
        Cursor {
            text,
            offset,
            index,
            last: None,
        }
    }

    fn locate(&mut self, at: usize) -> (usize, usize) {
        let (line, column) = match self.last {
            Some((from, line, column)) if from <= at => {
                let step = &self.text[from..at];
                match step.rfind('\n') {
                    None => (line, column + step.chars().count()),
                    Some(nl) => (
                        line + step.bytes().filter(|&b| b == b'\n').count(),
                        step[nl + 1..].chars().count() + 1,
                    ),
                }
            }
            _ => self.index.locate(self.offset + at),
        };
        self.last = Some((at, line, column));
        (line, column)
    }
}

/// Longest scheme looked for before `://`; bounds the backward scan.
const MAX_SCHEME: usize = 32;

/// Characters after which a run of CJK letters starts a new part of a URL
/// (a path segment, a query value, a name part) rather than continuing the
/// sentence the URL sits in.
const RUN_OPENERS: &[char] = &['/', '=', '_', '-', ':', '#', '(', '+', '~'];

/// ASCII characters a URL does not end with when written in prose.
const TRAILING: &[char] = &['.', ',', ';', ':', '!', '?', '\'', '"', '*', '(', '[', '{'];

/// Byte ranges `(start, end)` of the bare URLs in `text`, in order and
/// disjoint. Linear in the text: `://` is searched forwards once, the
/// scheme scan back is bounded and each URL is walked once.
pub fn bare_urls(text: &str) -> Vec<(usize, usize)> {
    let mut found = Vec::new();
    let (mut from, mut floor) = (0, 0);
    // `://` is found by its `:` with `memchr`: a substring search
    // (`str::find`) walked every byte with the slower Two-Way searcher
    // (2 % of an offline check), and an ASCII `:` is rare in CJK prose.
    let bytes = text.as_bytes();
    let separators =
        memchr::memchr_iter(b':', bytes).filter(|&i| bytes[i + 1..].starts_with(b"//"));
    for sep in separators {
        if sep < from {
            continue;
        }
        from = sep + 3;
        let Some(start) = scheme_start(text.as_bytes(), floor, sep) else {
            continue;
        };
        let Some(end) = url_end(text, sep + 3) else {
            continue;
        };
        found.push((start, end));
        floor = end;
        from = from.max(end);
    }
    found
}

/// Where the scheme ending at `sep` (the `:` of `://`) starts, not before
/// `floor` (the end of the previous URL).
fn scheme_start(bytes: &[u8], floor: usize, sep: usize) -> Option<usize> {
    let is_scheme = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.');
    let mut start = sep;
    while start > floor && sep - start < MAX_SCHEME && is_scheme(bytes[start - 1]) {
        start -= 1;
    }
    let capped = start > floor && is_scheme(bytes[start - 1]);
    // A scheme starts with a letter; digits and `.-+` before it separate.
    while start < sep && !bytes[start].is_ascii_alphabetic() {
        start += 1;
    }
    let scheme = &bytes[start..sep];
    // `URLhttps://`, `见官网http://`: a word glued to the common schemes.
    for known in [&b"https"[..], b"http"] {
        if scheme.len() >= known.len()
            && scheme[scheme.len() - known.len()..].eq_ignore_ascii_case(known)
        {
            return Some(sep - known.len());
        }
    }
    (!scheme.is_empty() && !capped).then_some(start)
}

/// CJK ideographs, kana, bopomofo and hangul: scripts written without
/// spaces, so such a letter glued to a URL is usually the sentence.
fn is_wide_letter(c: char) -> bool {
    matches!(c as u32,
        0x1100..=0x11FF       // Hangul Jamo
        | 0x2E80..=0x2FDF     // CJK radicals, Kangxi radicals
        | 0x3040..=0x31FF     // kana, bopomofo, Hangul compatibility jamo
        | 0x3400..=0x4DBF     // CJK extension A
        | 0x4E00..=0x9FFF     // CJK unified ideographs
        | 0xA960..=0xA97F     // Hangul Jamo extended A
        | 0xAC00..=0xD7FF     // Hangul syllables, Jamo extended B
        | 0xF900..=0xFAFF     // CJK compatibility ideographs
        | 0x20000..=0x3FFFF) // CJK extensions B and later
}

/// A non-ASCII character that may be part of a URL: a letter or digit
/// outside the CJK symbols and full-width forms blocks.
fn is_iri_letter(c: char) -> bool {
    c.is_alphanumeric() && !matches!(c as u32, 0x3000..=0x303F | 0xFF00..=0xFFEF)
}

/// Where the URL whose part after `://` starts at byte `body` ends, after
/// trimming; `None` if nothing is left. The module doc gives the rules.
fn url_end(text: &str, body: usize) -> Option<usize> {
    // Open `(`, `[`, `{` not yet closed.
    let mut depth = [0usize; 3];
    // The `/`, `?` or `#` that ends the host part.
    let mut path_start: Option<usize> = None;
    // A CJK run that opens the first path segment: (start, end).
    let mut first_run: Option<(usize, usize)> = None;
    let mut prev = '/';
    // The current path segment has a `.` (a file name with an extension).
    let mut segment_has_dot = false;
    let mut end = body;
    for (off, c) in text[body..].char_indices() {
        let i = body + off;
        if c.is_ascii() {
            match c {
                '/' => segment_has_dot = false,
                '.' => segment_has_dot = true,
                _ => {}
            }
            match c {
                c if c.is_ascii_whitespace() || c.is_ascii_control() => break,
                '<' | '>' | '"' | '`' | '|' => break,
                '(' | '[' | '{' => depth[bracket(c)] += 1,
                ')' | ']' | '}' => {
                    let d = &mut depth[bracket(c)];
                    if *d == 0 {
                        break;
                    }
                    *d -= 1;
                }
                '/' | '?' | '#' if path_start.is_none() => path_start = Some(i),
                _ => {}
            }
        } else if !is_iri_letter(c) {
            break;
        } else if is_wide_letter(c) {
            let Some(path) = path_start else { break };
            if !is_wide_letter(prev) {
                let opens = RUN_OPENERS.contains(&prev)
                    // After a finished file name (`index.html:欢迎`,
                    // `x.jpg(来源`) only `/`, `=` and `#` open a new part.
                    && (!segment_has_dot || matches!(prev, '/' | '=' | '#'));
                if !opens && !name_reaches_extension(&text[i..]) {
                    break;
                }
                if i == path + 1 && text.as_bytes()[path] == b'/' {
                    first_run = Some((i, i));
                }
            }
            if let Some((_, e)) = &mut first_run {
                if *e == i {
                    *e = i + c.len_utf8();
                }
            }
        }
        prev = c;
        end = i + c.len_utf8();
    }
    let mut end = body + text[body..end].trim_end_matches(TRAILING).len();
    if let Some((s, e)) = first_run {
        if e == end {
            end = s;
        }
    }
    (end > body).then_some(end)
}

/// True when `rest` (starting at a CJK letter glued to a URL) is a file
/// name that goes on to a known extension before the URL could end:
/// `2021年工作要点.html` is a raw IRI, `2019年的工作` is prose. Bounded
/// lookahead, so the scan stays linear.
fn name_reaches_extension(rest: &str) -> bool {
    const DOCUMENTS: &[&str] = &[
        "html", "htm", "shtml", "php", "asp", "aspx", "jsp", "doc", "docx", "xls", "xlsx", "ppt",
        "pptx", "txt", "zip", "rar",
    ];
    let name_len = rest
        .char_indices()
        .take(256)
        .find(|&(_, c)| !(is_wide_letter(c) || c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .map(|(i, _)| i);
    let Some(dot) = name_len.filter(|&i| rest[i..].starts_with('.')) else {
        return false;
    };
    let after = &rest[dot + 1..];
    let ext_len = after
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(after.len());
    let ext = after[..ext_len].to_ascii_lowercase();
    let ends = after[ext_len..]
        .chars()
        .next()
        .is_none_or(|c| !(c.is_ascii_alphanumeric() || is_wide_letter(c) || c == '.'));
    ends && (is_media_extension(&ext) || DOCUMENTS.contains(&ext.as_str()))
}

fn bracket(c: char) -> usize {
    match c {
        '(' | ')' => 0,
        '[' | ']' => 1,
        _ => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(text: &str) -> Vec<(String, &'static str, usize, usize)> {
        TextExtractor
            .extract(text, 1)
            .links
            .into_iter()
            .map(|l| (l.url, l.syntax.as_str(), l.line, l.column))
            .collect()
    }

    #[test]
    fn bare_urls_and_names() {
        let got = urls("见 https://a.cn/x.jpg。\n\n微信图片_2023.png\n文件 report.pdf 和 v2.0 版本 example.com");
        assert_eq!(
            got,
            vec![
                ("https://a.cn/x.jpg".to_string(), "bare_url", 1, 3),
                ("微信图片_2023.png".to_string(), "bare_file_name", 3, 1),
                ("report.pdf".to_string(), "bare_file_name", 4, 4),
            ]
        );
    }

    #[test]
    fn matches_and_extensions_are_those_of_the_captures() {
        let text = "见 a.b.jpg、./img/微信图片_2023.PNG 和 v2.0.tar.gz, x..png 1.2.3.4 report.pdf.";
        let re = file_name_pattern();
        let found: Vec<_> = re
            .find_iter(text)
            .map(|m| (m.range(), &m.as_str()[m.as_str().rfind('.').unwrap() + 1..]))
            .collect();
        let captured: Vec<_> = re
            .captures_iter(text)
            .map(|c| (c.get(0).unwrap().range(), c.get(1).unwrap().as_str()))
            .collect();
        assert_eq!(found, captured);
        assert_eq!(found.len(), 4, "{found:?}");
    }

    #[test]
    fn token_search_finds_what_the_whole_text_search_finds() {
        let re = file_name_pattern();
        for text in [
            "见 a.b.jpg、./img/微信图片_2023.PNG 和 v2.0.tar.gz, x..png 1.2.3.4 report.pdf.",
            "学校召开会议微信图片_20231109112859.png摄影：张三",
            "https://a.cn/p/x.jpg，见/uploads/校园风光.jpg与 ../a/b.webp 完",
            "no dots here 中文",
            ".png .. .a ...jpg a.",
            "Köln_Dom.JPG ① ²x.png x\u{301}y.gif 𝟙.png",
            "a.png.b.gif~c+d%e.mp4",
        ] {
            let whole: Vec<_> = re.find_iter(text).map(|m| m.range()).collect();
            assert_eq!(file_name_matches(text), whole, "in {text:?}");
        }
    }

    #[test]
    fn name_followed_by_cjk_is_found() {
        let got = urls("图片a013bc.jpg学校");
        assert_eq!(got.len(), 1);
        assert!(got[0].0.ends_with("a013bc.jpg"));
    }

    fn bare(text: &str) -> Vec<&str> {
        bare_urls(text)
            .into_iter()
            .map(|(s, e)| &text[s..e])
            .collect()
    }

    #[test]
    fn issue_sentence_yields_two_urls() {
        assert_eq!(
            bare("照片：https://host/x.jpg，摄影：张三；详情见https://host/y.html。"),
            ["https://host/x.jpg", "https://host/y.html"]
        );
    }

    #[test]
    fn every_cjk_closer_and_space_ends_a_url() {
        for sep in [
            "。", "，", "、", "；", "：", "？", "！", "（", "）", "【", "】", "《", "》", "「",
            "」", "『", "』", "〈", "〉", "“", "”", "‘", "’", "…", "—", "～", "·", "\u{3000}", " ",
            "\t", "\n", "\u{a0}", "．", "＂", "＃", "｜", "〇", "々", "\u{200b}",
        ] {
            let text = format!("见https://a.cn/p/x.jpg{sep}说明");
            assert_eq!(bare(&text), ["https://a.cn/p/x.jpg"], "separator {sep:?}");
        }
    }

    #[test]
    fn cjk_right_before_a_url() {
        assert_eq!(bare("详情见https://a.cn/y.html"), ["https://a.cn/y.html"]);
        assert_eq!(bare("网址URLhttps://a.cn/"), ["https://a.cn/"]);
        assert_eq!(
            bare("ftp://a.cn/f.pdf与sftp://b.cn/"),
            ["ftp://a.cn/f.pdf", "sftp://b.cn/"]
        );
    }

    #[test]
    fn parentheses_and_trailing_punctuation() {
        let cases = [
            (
                "https://commons.wikimedia.org/wiki/File:Name_(2019).jpg",
                "https://commons.wikimedia.org/wiki/File:Name_(2019).jpg",
            ),
            ("(see https://a.cn/x.jpg)", "https://a.cn/x.jpg"),
            ("(see https://a.cn/x.jpg).", "https://a.cn/x.jpg"),
            (
                "(https://en.wikipedia.org/wiki/Foo_(bar))",
                "https://en.wikipedia.org/wiki/Foo_(bar)",
            ),
            ("[https://a.cn/x]", "https://a.cn/x"),
            ("{https://a.cn/x}", "https://a.cn/x"),
            ("see https://a.cn/x.jpg.", "https://a.cn/x.jpg"),
            ("see https://a.cn/x.jpg?!", "https://a.cn/x.jpg"),
            ("'https://a.cn/x.jpg'", "https://a.cn/x.jpg"),
            ("\"https://a.cn/x.jpg\",", "https://a.cn/x.jpg"),
            ("<https://a.cn/x.jpg>", "https://a.cn/x.jpg"),
            ("https://a.cn/q?a=b&c=d#top;", "https://a.cn/q?a=b&c=d#top"),
            ("https://a.cn/x_(", "https://a.cn/x_"),
            ("http://[::1]:8080/a.png", "http://[::1]:8080/a.png"),
            ("（见https://a.cn/x.jpg）", "https://a.cn/x.jpg"),
            ("https://a.cn/x.jpg.。", "https://a.cn/x.jpg"),
        ];
        for (text, want) in cases {
            assert_eq!(bare(text), [want], "in {text:?}");
        }
    }

    #[test]
    fn raw_cjk_in_urls() {
        let cases = [
            // After `/` deeper in the path: an IRI, kept to the end.
            (
                "见https://zh.wikipedia.org/wiki/南开大学。",
                "https://zh.wikipedia.org/wiki/南开大学",
            ),
            (
                "https://a.cn/uploads/校园风光.jpg摄影",
                "https://a.cn/uploads/校园风光.jpg",
            ),
            (
                "https://a.cn/微信图片_20231109112859.png",
                "https://a.cn/微信图片_20231109112859.png",
            ),
            (
                "https://a.cn/p/photo_校园.jpg",
                "https://a.cn/p/photo_校园.jpg",
            ),
            ("https://a.cn/s?q=南开&n=1", "https://a.cn/s?q=南开&n=1"),
            (
                "https://zh.wikipedia.org/wiki/File:南开.jpg",
                "https://zh.wikipedia.org/wiki/File:南开.jpg",
            ),
            // After a digit, a name that reaches an extension: an IRI.
            (
                "见https://www.example.cn/附件/2021年工作要点.html。",
                "https://www.example.cn/附件/2021年工作要点.html",
            ),
            ("https://a.cn/n/2019年的报告", "https://a.cn/n/2019"),
            // After a finished file name, `:` and `(` do not open a part.
            (
                "网址https://a.cn/index.html:欢迎访问",
                "https://a.cn/index.html",
            ),
            ("图片https://a.cn/x.jpg(来源:新华社)", "https://a.cn/x.jpg"),
            // Glued after other characters: the sentence.
            ("https://a.cn/y.html了解更多", "https://a.cn/y.html"),
            ("https://a.cn/news/2019年", "https://a.cn/news/2019"),
            ("https://a.cn了解", "https://a.cn"),
            // The whole first segment, ending the URL: prose.
            ("访问https://a.cn/了解更多", "https://a.cn/"),
            ("访问https://a.cn/了解更多。", "https://a.cn/"),
            ("https://a.cn/校园风光.jpg", "https://a.cn/校园风光.jpg"),
            // Other scripts are written with spaces: glued letters are the URL.
            (
                "https://de.wikipedia.org/wiki/Köln ok",
                "https://de.wikipedia.org/wiki/Köln",
            ),
            (
                "https://ru.wikipedia.org/wiki/Москва",
                "https://ru.wikipedia.org/wiki/Москва",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(bare(text), [want], "in {text:?}");
        }
    }

    #[test]
    fn schemes() {
        assert_eq!(bare("seehttps://a.cn/x"), ["https://a.cn/x"]);
        assert_eq!(bare("-HTTP://a.cn/x"), ["HTTP://a.cn/x"]);
        assert_eq!(bare("git+ssh://a.cn/r"), ["git+ssh://a.cn/r"]);
        let long = format!("{}://a.cn/x", "a".repeat(40));
        assert!(bare(&long).is_empty());
        // A `://` inside a URL starts no second one.
        assert_eq!(
            bare("https://a.cn/r?to=http://b.cn/y 和 http://c.cn"),
            ["https://a.cn/r?to=http://b.cn/y", "http://c.cn"]
        );
        assert_eq!(bare("https://bücher.de/ü"), ["https://bücher.de/ü"]);
    }

    #[test]
    fn later_calls_keep_the_list_sorted() {
        let text = "https://a.cn/1\nhttps://a.cn/2 x.png";
        let index = LineIndex::new(text, 1);
        let mut out = Vec::new();
        scan_text(&text[15..], 15, &index, &mut out);
        scan_text(&text[..14], 0, &index, &mut out);
        let got: Vec<_> = out
            .iter()
            .map(|l| (l.url.as_str(), l.line, l.column))
            .collect();
        assert_eq!(
            got,
            [
                ("https://a.cn/1", 1, 1),
                ("https://a.cn/2", 2, 1),
                ("x.png", 2, 16)
            ]
        );
    }

    #[test]
    fn not_urls() {
        for text in [
            "https://",
            "https://。",
            "://a.cn",
            "见://a.cn",
            "https://.,",
            "1://a",
        ] {
            assert!(bare(text).is_empty(), "{text:?} gave {:?}", bare(text));
        }
    }

    #[test]
    fn cursor_agrees_with_line_index() {
        let text = "a\r\n中文 https://a.cn/x.jpg，\n\n  b https://b.cn/ 和 c.png\n见https://c.cn";
        let index = LineIndex::new(text, 7);
        let mut cursor = Cursor::new(&text[2..], 2, &index);
        for at in (0..text.len() - 2).filter(|&i| text.is_char_boundary(i + 2)) {
            assert_eq!(cursor.locate(at), index.locate(at + 2), "at {at}");
        }
    }

    #[test]
    fn positions_in_chars() {
        let got = urls("照片：https://host/x.jpg，摄影：张三；\n详情见https://host/y.html。");
        assert_eq!(
            got,
            vec![
                ("https://host/x.jpg".to_string(), "bare_url", 1, 4),
                ("https://host/y.html".to_string(), "bare_url", 2, 4),
            ]
        );
    }

    #[test]
    fn long_line_of_urls() {
        // Must finish quickly (it was quadratic); no timing is asserted.
        let line: String = (0..100_000)
            .map(|i| format!("https://a.cn/p/{i}.jpg，"))
            .collect();
        let links = TextExtractor.extract(&line, 1).links;
        assert_eq!(links.len(), 100_000);
        assert_eq!(links[99_999].url, "https://a.cn/p/99999.jpg");
        assert_eq!(
            links[1].column,
            "https://a.cn/p/0.jpg，".chars().count() + 1
        );
    }
}
