//! HTML, read by a WHATWG tokenizer, so attribute quoting, entities,
//! comments and `<script>` bodies are handled the way browsers handle them.
//! `html5ever`'s (the Servo project's) defines the output; [`gum`] reads
//! most documents with `html5gum` instead, several times cheaper, and hands
//! back those it could not read to the same output (see its doc comment).
//!
//! What counts as a link: `img src`, lazy-loading `data-src` /
//! `data-original`, every `srcset` candidate, `picture > source`,
//! `video`/`audio` `src` and `poster` and their `source`s, `embed`/`object`,
//! `a href`, `link href` (`rel=canonical` is the article's source),
//! `meta` `og:image` / `og:url`, `iframe src`, CSS `url(…)` in `style`
//! attributes and `<style>` elements, and bare URLs in text.
//!
//! The tokenizer reports a line per token; the column is found by looking
//! for the value in the source from that line, so positions are exact for
//! values written without entities (or whose only entities come after an
//! `&`, as in `?a=1&amp;b=2`: the part before it is looked for) and
//! line-exact otherwise.

use std::cell::RefCell;

use html5ever::tendril::StrTendril;
mod gum;

use html5ever::tokenizer::states::RawKind;
use html5ever::tokenizer::{
    BufferQueue, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts,
};
use html5ever::Attribute;

use super::css::{css_urls, srcset_urls};
use super::position::floor_char_boundary;
use super::source_date_key;
use super::text::scan_text;
use super::{
    kind_by_extension, kind_of_hyperlink, Extracted, Extractor, LineIndex, LinkKind, RawLink,
};
use crate::vocab::Syntax;

/// Extractor for HTML bodies.
pub struct HtmlExtractor;

impl Extractor for HtmlExtractor {
    fn extract(&self, body: &str, first_line: usize) -> Extracted {
        extract_html_fragment(body, first_line, 1)
    }
}

/// Extracts from HTML that starts at (`line`, `column`) of its file; used
/// for whole pages and for HTML embedded in Markdown.
pub fn extract_html_fragment(html: &str, line: usize, column: usize) -> Extracted {
    let mut out = gum::extract(html, line, column)
        .unwrap_or_else(|| extract_with_html5ever(html, line, column));
    out.links.sort_by_key(|l| (l.line, l.column));
    out
}

/// The reference reading: `html5ever`'s tokenizer, whose token lines and
/// character chunks define the output. [`gum`] gives the same output
/// faster and hands documents it cannot read the same way back to this.
fn extract_with_html5ever(html: &str, line: usize, column: usize) -> Extracted {
    let sink = Sink {
        state: RefCell::new(State::new(html, line, column)),
    };
    let tokenizer = Tokenizer::new(sink, TokenizerOpts::default());
    let input = BufferQueue::default();
    input.push_back(StrTendril::from_slice(html));
    // Only a tree builder ever asks the tokenizer to pause for a script.
    while let html5ever::TokenizerResult::Script(_) = tokenizer.feed(&input) {}
    tokenizer.end();
    tokenizer.sink.state.into_inner().finish()
}

/// How far past the cursor a value is looked for once the miss budget is
/// spent. A value spelled with entities the prefix search cannot see
/// (`&#47;`) is not found and its search reads the rest of the line: on a
/// line of many thousand such values that was quadratic. After misses have
/// read twice the document, searches stop this far past the cursor; values
/// further on are placed at the start of their line.
const EXHAUSTED_WINDOW: usize = 4096;

/// Where `value` is written in `window`: (offset, length of the match).
/// Values come decoded, so one with an `&` is looked for by its part
/// before the first `&`: written as `&amp;` it is found all the same, and
/// the part cannot lie past the value's real position, so the cursor never
/// skips one. (Looking for the whole value first would read the rest of
/// the line each time it is written with entities.)
fn find_value(window: &str, value: &str) -> Option<(usize, usize)> {
    // A byte scan: the five are ASCII, so the byte index is a char
    // boundary, and `str::find` with a char array decoded and compared
    // every char five times (half of `locate`'s own cost, issue 11).
    let cut = value
        .bytes()
        .position(|b| matches!(b, b'&' | b'<' | b'>' | b'"' | b'\''))
        .unwrap_or(value.len());
    let prefix = &value[..cut];
    if prefix.is_empty() {
        return find_str(window, value)
            .filter(|_| !value.is_empty())
            .map(|i| (i, value.len()));
    }
    let i = find_str(window, prefix)?;
    let len = if window[i..].starts_with(value) {
        value.len()
    } else {
        prefix.len()
    };
    Some((i, len))
}

/// `window.find(needle)`. Most windows are the rest of a tag's line, where
/// setting up `str::find`'s two-way searcher (it reads the needle twice
/// first) cost more than the search: 2.8 % of a default offline run's CPU
/// on the seed-mix corpus (issue 11). Small searches scan for the first
/// byte and compare; `window.len() × needle.len()` bounds their cost, so a
/// hostile long line still goes to the two-way searcher.
fn find_str(window: &str, needle: &str) -> Option<usize> {
    const NAIVE_WORK: usize = 1 << 16;
    let (hay, pat) = (window.as_bytes(), needle.as_bytes());
    let Some(&first) = pat.first() else {
        return Some(0);
    };
    if hay.len().saturating_mul(pat.len()) > NAIVE_WORK {
        return window.find(needle);
    }
    let mut from = 0;
    while let Some(i) = memchr::memchr(first, &hay[from..]) {
        let at = from + i;
        if hay[at..].starts_with(pat) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// `text.split_whitespace().collect::<Vec<_>>().join(" ")` without the
/// vector: anchor texts and titles.
fn collapse_whitespace(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// The raw-text states a start tag can switch the tokenizer to.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum RawText {
    Rcdata,
    Rawtext,
    Script,
}

/// A start tag's attributes, whichever tokenizer read them. The first of
/// duplicate attributes counts, as in the HTML spec.
pub(super) trait TagAttrs {
    fn get(&self, name: &str) -> Option<&str>;
}

impl TagAttrs for &[Attribute] {
    fn get(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|a| &*a.name.local == name)
            .map(|a| &*a.value)
    }
}

struct Sink<'a> {
    state: RefCell<State<'a>>,
}

/// Raw-text element whose content we collect.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Capture {
    None,
    Title,
    Style,
    /// Script or other raw text whose content is not prose.
    Ignore,
}

pub(super) struct State<'a> {
    src: &'a str,
    index: LineIndex<'a>,
    first_line: usize,
    first_column: usize,
    /// Byte offset past the last value located, so repeated values map to
    /// successive occurrences.
    cursor: usize,
    /// Bytes that searches for values not written as decoded may still
    /// read; see [`EXHAUSTED_WINDOW`].
    miss_budget: usize,
    out: Extracted,
    picture_depth: usize,
    media_depth: usize,
    /// An `<a>` whose text is still being read.
    anchor: Option<RawLink>,
    capture: Capture,
    captured: String,
}

impl TokenSink for Sink<'_> {
    type Handle = ();

    fn process_token(&self, token: Token, line: u64) -> TokenSinkResult<()> {
        let mut state = self.state.borrow_mut();
        let line = state.first_line + line.saturating_sub(1) as usize;
        match token {
            Token::TagToken(tag) => match tag.kind {
                TagKind::StartTag => {
                    let attrs = tag.attrs.as_slice();
                    return match state.start_tag(&tag.name, &attrs, tag.self_closing, line) {
                        None => TokenSinkResult::Continue,
                        Some(RawText::Rcdata) => TokenSinkResult::RawData(RawKind::Rcdata),
                        Some(RawText::Rawtext) => TokenSinkResult::RawData(RawKind::Rawtext),
                        Some(RawText::Script) => TokenSinkResult::RawData(RawKind::ScriptData),
                    };
                }
                TagKind::EndTag => state.end_tag(&tag.name),
            },
            Token::CharacterTokens(text) => state.characters(&text, line),
            _ => {}
        }
        TokenSinkResult::Continue
    }
}

impl<'a> State<'a> {
    pub(super) fn new(html: &'a str, line: usize, column: usize) -> State<'a> {
        State {
            src: html,
            index: LineIndex::new(html, line),
            first_line: line,
            first_column: column,
            cursor: 0,
            miss_budget: 2 * html.len() + EXHAUSTED_WINDOW,
            out: Extracted::default(),
            picture_depth: 0,
            media_depth: 0,
            anchor: None,
            capture: Capture::None,
            captured: String::new(),
        }
    }

    /// Line of the document's first line in its file.
    pub(super) fn first_line(&self) -> usize {
        self.first_line
    }

    /// What the text of the element being read is used for.
    pub(super) fn capture(&self) -> Capture {
        self.capture
    }

    /// Whether an `<a>`'s text is being read (chunks are joined).
    pub(super) fn in_anchor(&self) -> bool {
        self.anchor.is_some()
    }

    /// (line, column) of `value` in the source, searched from the cursor up
    /// to the end of `line`; falls back to the start of `line`.
    fn locate(&mut self, value: &str, line: usize) -> (usize, usize) {
        let end = self.index.line_start(line + 1).max(self.cursor);
        let mut end = if end <= self.cursor {
            self.src.len()
        } else {
            end
        };
        if self.miss_budget == 0 {
            end = floor_char_boundary(self.src, end.min(self.cursor + EXHAUSTED_WINDOW));
        }
        let window = self.src.get(self.cursor..end).unwrap_or("");
        let (line_found, column) = match find_value(window, value) {
            Some((i, len)) => {
                let at = self.cursor + i;
                self.cursor = at + len;
                self.index.locate(at)
            }
            None => {
                self.miss_budget = self.miss_budget.saturating_sub(window.len());
                (line, 1)
            }
        };
        if line_found == self.first_line {
            (line_found, column + self.first_column - 1)
        } else {
            (line_found, column)
        }
    }

    fn push(&mut self, url: &str, kind: LinkKind, syntax: Syntax, line: usize) {
        let url = url.trim();
        if url.is_empty() {
            return;
        }
        let (line, column) = self.locate(url, line);
        self.out.links.push(RawLink {
            url: url.to_string(),
            kind,
            syntax,
            line,
            column,
            text: None,
        });
    }

    /// A start tag; `Some` names the raw-text state its content is read in.
    pub(super) fn start_tag(
        &mut self,
        name: &str,
        attrs: &impl TagAttrs,
        self_closing: bool,
        line: usize,
    ) -> Option<RawText> {
        // Values are borrowed from the token: most are only searched for
        // and copied once, by `push`.
        let attr = |name: &str| attrs.get(name);
        let in_media = self.media_depth > 0;
        match name {
            "base" => {
                if let (None, Some(href)) = (&self.out.base_href, attr("href")) {
                    self.out.base_href = Some(href.trim().to_string());
                }
            }
            "img" => {
                for key in ["src", "data-src", "data-original", "data-lazy-src"] {
                    if let Some(v) = attr(key) {
                        let syntax = if key == "src" {
                            Syntax::HtmlImg
                        } else {
                            Syntax::HtmlImgLazy
                        };
                        self.push(v, LinkKind::Image, syntax, line);
                    }
                }
                self.srcset(attr("srcset"), LinkKind::Image, line);
            }
            "source" => {
                let kind = if in_media {
                    LinkKind::Media
                } else {
                    LinkKind::Image
                };
                let syntax = if in_media {
                    Syntax::HtmlMediaSource
                } else {
                    Syntax::HtmlPictureSource
                };
                if let Some(v) = attr("src") {
                    self.push(v, kind, syntax, line);
                }
                self.srcset(attr("srcset"), kind, line);
            }
            "video" | "audio" => {
                if let Some(v) = attr("poster") {
                    self.push(v, LinkKind::Image, Syntax::HtmlPoster, line);
                }
                if let Some(v) = attr("src") {
                    self.push(v, LinkKind::Media, Syntax::HtmlMedia, line);
                }
                if !self_closing {
                    self.media_depth += 1;
                }
            }
            "picture" if !self_closing => self.picture_depth += 1,
            "embed" | "object" => {
                if let Some(v) = attr("src").or_else(|| attr("data")) {
                    self.push(
                        v,
                        kind_by_extension(v).unwrap_or(LinkKind::Media),
                        Syntax::HtmlEmbed,
                        line,
                    );
                }
            }
            "iframe" => {
                if let Some(v) = attr("src") {
                    self.push(v, LinkKind::Page, Syntax::HtmlIframe, line);
                }
            }
            "a" | "area" => {
                self.finish_anchor();
                if let Some(href) = attr("href") {
                    let href = href.trim();
                    if !href.is_empty() && !href.starts_with('#') {
                        let href = href.to_string();
                        let (l, c) = self.locate(&href, line);
                        self.anchor = Some(RawLink {
                            url: href,
                            kind: LinkKind::Page,
                            syntax: Syntax::HtmlA,
                            line: l,
                            column: c,
                            text: Some(String::new()),
                        });
                        if name == "area" || self_closing {
                            self.finish_anchor();
                        }
                    }
                }
            }
            "link" => {
                if let Some(href) = attr("href") {
                    let rel = attr("rel").unwrap_or_default().to_ascii_lowercase();
                    let kind = if rel.split_whitespace().any(|r| r == "canonical") {
                        LinkKind::Source
                    } else if rel.contains("icon")
                        || rel == "image_src"
                        || attr("as") == Some("image")
                    {
                        LinkKind::Image
                    } else {
                        LinkKind::Page
                    };
                    self.push(href, kind, Syntax::HtmlLink, line);
                }
            }
            "meta" => self.meta(
                attr("property")
                    .or_else(|| attr("name"))
                    .or_else(|| attr("itemprop")),
                attr("content"),
                line,
            ),
            "title" => {
                self.capture = Capture::Title;
                self.captured.clear();
                return Some(RawText::Rcdata);
            }
            "style" => {
                self.capture = Capture::Style;
                self.captured.clear();
                return Some(RawText::Rawtext);
            }
            "script" => {
                self.capture = Capture::Ignore;
                return Some(RawText::Script);
            }
            "textarea" => {
                self.capture = Capture::Ignore;
                return Some(RawText::Rcdata);
            }
            "xmp" | "noembed" | "noframes" => {
                self.capture = Capture::Ignore;
                return Some(RawText::Rawtext);
            }
            _ => {}
        }
        if let Some(v) = attr("background") {
            self.push(v, LinkKind::Image, Syntax::HtmlBackground, line);
        }
        if let Some(style) = attr("style") {
            for (_, url) in css_urls(style) {
                self.push(&url, LinkKind::Image, Syntax::CssUrl, line);
            }
        }
        None
    }

    fn srcset(&mut self, srcset: Option<&str>, kind: LinkKind, line: usize) {
        for (_, url) in srcset_urls(srcset.unwrap_or_default()) {
            self.push(&url, kind, Syntax::HtmlSrcset, line);
        }
    }

    fn meta(&mut self, key: Option<&str>, content: Option<&str>, line: usize) {
        let (Some(key), Some(content)) = (key, content) else {
            return;
        };
        let key = key.to_ascii_lowercase();
        match key.as_str() {
            "og:image" | "og:image:url" | "twitter:image" | "image" | "thumbnailurl" => {
                self.push(content, LinkKind::Image, Syntax::HtmlMeta, line)
            }
            "og:url" => self.push(content, LinkKind::Source, Syntax::HtmlMeta, line),
            k if source_date_key(k) && self.out.date.is_none() => {
                self.out.date = Some(crate::source::format::clean_date(content));
            }
            _ => {}
        }
    }

    pub(super) fn end_tag(&mut self, name: &str) {
        match name {
            "a" | "area" => self.finish_anchor(),
            "picture" => self.picture_depth = self.picture_depth.saturating_sub(1),
            "video" | "audio" => self.media_depth = self.media_depth.saturating_sub(1),
            "script" | "textarea" | "xmp" | "noembed" | "noframes" => self.capture = Capture::None,
            "title" | "style" => {
                let text = std::mem::take(&mut self.captured);
                if self.capture == Capture::Title && self.out.title.is_none() {
                    let title = collapse_whitespace(&text);
                    self.out.title = Some(title).filter(|t| !t.is_empty());
                }
                self.capture = Capture::None;
            }
            _ => {}
        }
    }

    pub(super) fn characters(&mut self, text: &str, line: usize) {
        match self.capture {
            Capture::Title => return self.captured.push_str(text),
            Capture::Style => {
                for (_, url) in css_urls(text) {
                    self.push(&url, LinkKind::Image, Syntax::CssUrl, line);
                }
                return;
            }
            Capture::Ignore => return,
            Capture::None => {}
        }
        if let Some(anchor) = &mut self.anchor {
            anchor.text.get_or_insert_with(String::new).push_str(text);
            return;
        }
        if !text.contains('.') {
            return;
        }
        let mut found = Vec::new();
        scan_text(text, 0, &LineIndex::new(text, line), &mut found);
        for link in found {
            self.push(&link.url, link.kind, link.syntax, line);
        }
    }

    fn finish_anchor(&mut self) {
        if let Some(mut a) = self.anchor.take() {
            let text = a.text.take().unwrap_or_default();
            let text = collapse_whitespace(&text);
            a.kind = kind_of_hyperlink(&a.url, &text);
            a.text = Some(text).filter(|t| !t.is_empty());
            self.out.links.push(a);
        }
    }

    pub(super) fn finish(mut self) -> Extracted {
        self.finish_anchor();
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_str_finds_what_str_find_finds() {
        let long = "a".repeat(70_000) + "ab";
        let cases = [
            ("", ""),
            ("abc", ""),
            ("", "a"),
            ("aaab", "ab"),
            ("x 图片.png y 图片.png", "图片.png"),
            ("src=\"a.png\" srcset=\"a.png 2x\"", "a.png 2x"),
            ("abcabd", "abd"),
            ("abc", "abcd"),
            (long.as_str(), "ab"),
            (long.as_str(), "ba"),
        ];
        for (window, needle) in cases {
            assert_eq!(find_str(window, needle), window.find(needle), "{needle:?}");
        }
    }

    fn links(html: &str) -> Vec<(String, LinkKind, &'static str, usize)> {
        HtmlExtractor
            .extract(html, 1)
            .links
            .into_iter()
            .map(|l| (l.url, l.kind, l.syntax.as_str(), l.line))
            .collect()
    }

    #[test]
    fn picture_video_srcset_css() {
        let html = r#"<html><head><title> T </title><link rel="canonical" href="http://a.cn/p.html">
<style>.x{background:url(bg.png)}</style></head><body>
<picture><source srcset="a.webp 1x, a2.webp 2x"><img src="a.jpg" data-src="lazy.jpg"></picture>
<video poster="p.jpg"><source src="v.mp4"></video>
<div style="background-image:url('d.gif')">see http://a.cn/x.png</div>
<a href="http://a.cn/o.html">原文链接</a><script>var u="http://no.cn/x.jpg";</script>
</body></html>"#;
        let got = links(html);
        let want = vec![
            ("http://a.cn/p.html", LinkKind::Source, "html_link", 1),
            ("bg.png", LinkKind::Image, "css_url", 2),
            ("a.webp", LinkKind::Image, "html_srcset", 3),
            ("a2.webp", LinkKind::Image, "html_srcset", 3),
            ("a.jpg", LinkKind::Image, "html_img", 3),
            ("lazy.jpg", LinkKind::Image, "html_img_lazy", 3),
            ("p.jpg", LinkKind::Image, "html_poster", 4),
            ("v.mp4", LinkKind::Media, "html_media_source", 4),
            ("d.gif", LinkKind::Image, "css_url", 5),
            ("http://a.cn/x.png", LinkKind::Image, "bare_url", 5),
            ("http://a.cn/o.html", LinkKind::Source, "html_a", 6),
        ];
        let got: Vec<_> = got
            .iter()
            .map(|(u, k, s, l)| (u.as_str(), *k, *s, *l))
            .collect();
        assert_eq!(got, want);
        assert_eq!(HtmlExtractor.extract(html, 1).title.as_deref(), Some("T"));
    }

    #[test]
    fn columns_point_at_values() {
        let got = HtmlExtractor
            .extract("<p>\n  <img alt=x src=\"b.png\"></p>", 5)
            .links;
        assert_eq!((got[0].line, got[0].column), (6, 19));
    }
}
