//! Markdown, parsed by `pulldown-cmark` (CommonMark, with tables and
//! footnotes): inline and reference-style images and links, autolinks,
//! inline and block HTML (handed to the HTML extractor) and bare URLs and
//! file names in text (handed to the text scanner). Code spans and code
//! blocks are skipped: a URL in a code sample is not a link.
//!
//! Text is scanned a run at a time, not an event at a time: pulldown-cmark
//! cuts text wherever inline syntax could start (`File:Name_(2019).jpg`
//! arrives as `File:Name`, `_`, `(2019).jpg`), so adjacent text events are
//! joined first. Any other event ends a run: emphasis, a code span, a
//! link, inline HTML, a line break. Escapes and entities are decoded in the
//! scanned text (`a\_b.jpg` is `a_b.jpg`); a URL is placed at its first
//! character in the source.

use std::ops::Range;

use pulldown_cmark::{Event, LinkType, Options, Parser, Tag, TagEnd};

use super::html::extract_html_fragment;
use super::text::scan_text;
use super::{
    kind_by_extension, kind_of_hyperlink, Extracted, Extractor, LineIndex, LinkKind, RawLink,
};
use crate::vocab::Syntax;

/// Extractor for Markdown bodies.
pub struct MarkdownExtractor;

/// An image or link whose text is still being read.
struct Open {
    url: String,
    is_image: bool,
    link_type: LinkType,
    line: usize,
    column: usize,
    text: String,
}

impl Extractor for MarkdownExtractor {
    fn extract(&self, body: &str, first_line: usize) -> Extracted {
        let index = LineIndex::new(body, first_line);
        let mut out = Extracted::default();
        let mut open: Vec<Open> = Vec::new();
        let mut in_code_block = false;
        // An inline `<a href>` whose text arrives as Markdown text events
        // until its `</a>`: (index in out.links, text so far).
        let mut html_anchor: Option<(usize, String)> = None;
        let options =
            Options::ENABLE_TABLES | Options::ENABLE_FOOTNOTES | Options::ENABLE_STRIKETHROUGH;
        let mut run = TextRun::default();
        for (event, range) in Parser::new_ext(body, options).into_offset_iter() {
            if !matches!(event, Event::Text(_)) || in_code_block || !open.is_empty() {
                run.flush(body, &index, &mut out.links);
            }
            match event {
                Event::Start(Tag::Image {
                    link_type,
                    dest_url,
                    ..
                })
                | Event::Start(Tag::Link {
                    link_type,
                    dest_url,
                    ..
                }) => {
                    let is_image = matches!(body.get(range.start..range.start + 1), Some("!"));
                    // Point at the URL itself when it is written inline.
                    let source = &body[range.clone()];
                    let at =
                        last_occurrence(source, &dest_url).map_or(range.start, |i| range.start + i);
                    let (line, column) = index.locate(at);
                    open.push(Open {
                        // Not `to_string`: that goes through `Display` and
                        // the formatting machinery (0.7 % of a check).
                        url: dest_url.into_string(),
                        is_image,
                        link_type,
                        line,
                        column,
                        text: String::new(),
                    });
                }
                Event::End(TagEnd::Image) | Event::End(TagEnd::Link) => {
                    if let Some(o) = open.pop() {
                        if let Some(parent) = open.last_mut() {
                            parent.text.push_str(&o.text);
                        }
                        out.links.push(finish(o));
                    }
                }
                Event::Start(Tag::CodeBlock(_)) => in_code_block = true,
                Event::End(TagEnd::CodeBlock) => in_code_block = false,
                Event::Text(text) if !in_code_block => {
                    if let Some((_, anchor_text)) = &mut html_anchor {
                        anchor_text.push_str(&text);
                    }
                    if let Some(o) = open.last_mut() {
                        o.text.push_str(&text);
                    } else if !run.push(body, &text, range.clone()) {
                        run.flush(body, &index, &mut out.links);
                        run.push(body, &text, range);
                    }
                }
                Event::Code(code) => {
                    if let Some(o) = open.last_mut() {
                        o.text.push_str(&code);
                    }
                }
                Event::Html(html) | Event::InlineHtml(html) => {
                    let (line, column) = index.locate(range.start);
                    let fragment = extract_html_fragment(&html, line, column);
                    let closes_anchor = html.contains("</a");
                    if closes_anchor {
                        if let Some((i, text)) = html_anchor.take() {
                            let link = &mut out.links[i];
                            link.kind = kind_of_hyperlink(&link.url, &text);
                            link.text = Some(text.trim().to_string()).filter(|t| !t.is_empty());
                        }
                    }
                    let opens_anchor = fragment
                        .links
                        .last()
                        .is_some_and(|l| l.syntax == Syntax::HtmlA)
                        && !closes_anchor;
                    out.links.extend(fragment.links);
                    if opens_anchor {
                        html_anchor = Some((out.links.len() - 1, String::new()));
                    }
                    out.base_href = out.base_href.or(fragment.base_href);
                }
                _ => {}
            }
        }
        run.flush(body, &index, &mut out.links);
        out.links.sort_by_key(|l| (l.line, l.column));
        out
    }
}

/// Text events that follow each other with no other event between, joined:
/// pulldown-cmark splits a text run wherever inline syntax could start
/// (`_`, `*`, `[`, `~`, an escape, an entity), and a bare URL such as
/// `…/File:Name_(2019).jpg` must be scanned whole.
#[derive(Default)]
struct TextRun {
    /// The decoded text of the events.
    text: String,
    /// Each event's start in `text`, length there and source range.
    pieces: Vec<(usize, usize, Range<usize>)>,
}

impl TextRun {
    /// Appends an event's text if it continues the run: it starts where the
    /// last one ended, or one backslash later (the `\` of an escape has no
    /// event of its own). False if it does not.
    fn push(&mut self, body: &str, text: &str, range: Range<usize>) -> bool {
        if let Some((_, _, last)) = self.pieces.last() {
            if !matches!(body.get(last.end..range.start), Some("" | "\\")) {
                return false;
            }
        }
        self.pieces.push((self.text.len(), text.len(), range));
        self.text.push_str(text);
        true
    }

    /// Scans the run for bare URLs and file names, with positions in the
    /// source, and empties it.
    fn flush(&mut self, body: &str, index: &LineIndex, out: &mut Vec<RawLink>) {
        let (Some(first), Some(last)) = (self.pieces.first(), self.pieces.last()) else {
            return;
        };
        let source = &body[first.2.start..last.2.end];
        if source == self.text {
            scan_text(source, first.2.start, index, out);
        } else {
            self.scan_decoded(body, index, out);
        }
        self.text.clear();
        self.pieces.clear();
    }

    /// Scans a run whose text differs from its source (escapes, entities):
    /// the decoded text is scanned, so `a\_b` reads `a_b`, and each find is
    /// placed at its source offset, or at the start of the escape or
    /// entity it begins in.
    fn scan_decoded(&self, body: &str, index: &LineIndex, out: &mut Vec<RawLink>) {
        let local = LineIndex::new(&self.text, 1);
        let mut found = Vec::new();
        scan_text(&self.text, 0, &local, &mut found);
        // `found` is in text order: walk the text and the pieces once.
        let (mut at, mut line, mut column, mut piece) = (0, 1, 1, 0);
        for mut link in found {
            while (line, column) < (link.line, link.column) {
                let Some(c) = self.text[at..].chars().next() else {
                    break;
                };
                at += c.len_utf8();
                (line, column) = if c == '\n' {
                    (line + 1, 1)
                } else {
                    (line, column + 1)
                };
            }
            while self.pieces.get(piece + 1).is_some_and(|p| p.0 <= at) {
                piece += 1;
            }
            let (start, len, range) = &self.pieces[piece];
            let verbatim = body.get(range.clone()) == self.text.get(*start..start + len);
            let offset = if verbatim {
                range.start + (at - start)
            } else {
                range.start
            };
            (link.line, link.column) = index.locate(offset);
            out.push(link);
        }
    }
}

/// Byte offset of the last occurrence of `url` in a link's `source`, or
/// `None` if it is absent or empty. An inline link's URL nearly always
/// ends the source or sits just before its closing `)`, so those two
/// places (the last two where it can start) are tried first; only if
/// neither holds it is the source searched, where building the
/// searcher for a long URL alone cost 1.4 % of an offline check.
fn last_occurrence(source: &str, url: &str) -> Option<usize> {
    if url.is_empty() {
        return None;
    }
    let latest = source.len().checked_sub(url.len())?;
    (0..=1)
        .filter_map(|back| latest.checked_sub(back))
        .find(|&start| source.as_bytes()[start..].starts_with(url.as_bytes()))
        .or_else(|| source.rfind(url))
}

fn finish(o: Open) -> RawLink {
    let reference = matches!(
        o.link_type,
        LinkType::Reference | LinkType::Collapsed | LinkType::Shortcut
    );
    let (syntax, kind) = match (o.is_image, o.link_type) {
        (_, LinkType::Autolink) => (
            Syntax::MarkdownAutolink,
            kind_by_extension(&o.url).unwrap_or(LinkKind::Page),
        ),
        (_, LinkType::Email) => (Syntax::MarkdownAutolink, LinkKind::Page),
        (true, _) => (
            if reference {
                Syntax::MarkdownReferenceImage
            } else {
                Syntax::MarkdownImage
            },
            kind_by_extension(&o.url)
                .filter(|k| *k == LinkKind::Media)
                .unwrap_or(LinkKind::Image),
        ),
        (false, _) => (
            if reference {
                Syntax::MarkdownReferenceLink
            } else {
                Syntax::MarkdownLink
            },
            kind_of_hyperlink(&o.url, &o.text),
        ),
    };
    let url = if o.link_type == LinkType::Email && !o.url.starts_with("mailto:") {
        format!("mailto:{}", o.url)
    } else {
        o.url
    };
    RawLink {
        url,
        kind,
        syntax,
        line: o.line,
        column: o.column,
        text: Some(o.text).filter(|t| !t.is_empty()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_links_references() {
        let md = "intro\n\n![图](http://a.cn/1.jpg)\n\n[原文链接](http://a.cn/p.html)\n\n![ref][pic] and [home]\n\n[pic]: /img/2.png\n[home]: http://a.cn/\n\n<http://a.cn/auto> `http://a.cn/code`\n";
        let links = MarkdownExtractor.extract(md, 10).links;
        let got: Vec<_> = links
            .iter()
            .map(|l| (l.url.as_str(), l.kind, l.syntax.as_str(), l.line, l.column))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "http://a.cn/1.jpg",
                    LinkKind::Image,
                    "markdown_image",
                    12,
                    6
                ),
                (
                    "http://a.cn/p.html",
                    LinkKind::Source,
                    "markdown_link",
                    14,
                    8
                ),
                (
                    "/img/2.png",
                    LinkKind::Image,
                    "markdown_reference_image",
                    16,
                    1
                ),
                (
                    "http://a.cn/",
                    LinkKind::Page,
                    "markdown_reference_link",
                    16,
                    17
                ),
                (
                    "http://a.cn/auto",
                    LinkKind::Page,
                    "markdown_autolink",
                    21,
                    2
                ),
            ]
        );
    }

    #[test]
    fn last_occurrence_is_rfind() {
        for (source, url) in [
            ("[a](x.jpg)", "x.jpg"),
            ("[x.jpg](x.jpg)", "x.jpg"),
            ("[a](aa)", "a"),
            ("[a](a \"a\")", "a"),
            ("[a](<x.jpg>)", "x.jpg"),
            ("[t][ref]", "http://a.cn/"),
            ("x", "xyz"),
            ("[图](图)", "图"),
            ("))", ")"),
            ("[a]()", ""),
        ] {
            let want = source.rfind(url).filter(|_| !url.is_empty());
            assert_eq!(last_occurrence(source, url), want, "{url} in {source}");
        }
    }

    #[test]
    fn inline_html_anchor_text_makes_a_source() {
        let md = "正文 <a href=\"http://a.cn/o.html\">原文链接</a> 完\n";
        let links = MarkdownExtractor.extract(md, 1).links;
        assert_eq!(links.len(), 1);
        assert_eq!(links[0].kind, LinkKind::Source);
        assert_eq!(links[0].text.as_deref(), Some("原文链接"));
    }

    #[test]
    fn inline_html_is_extracted() {
        let md = "text <img src=\"a.png\"> more\n\n<div style=\"background:url(b.jpg)\"></div>\n";
        let urls: Vec<_> = MarkdownExtractor
            .extract(md, 1)
            .links
            .into_iter()
            .map(|l| (l.url, l.line))
            .collect();
        assert_eq!(
            urls,
            vec![("a.png".to_string(), 1), ("b.jpg".to_string(), 3)]
        );
    }
}
