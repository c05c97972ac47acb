//! The fast reading of HTML: `html5gum`'s tokenizer (the one lychee uses)
//! drives the same [`State`] as the `html5ever` reading, without a tendril
//! per character run, an atom per name or a `Vec` of attributes per tag: on
//! the seed-mix corpus the `html5ever` tokenizer was ~13 % of a default
//! offline run's instructions (issue 11).
//!
//! The output must be the `html5ever` reading's, byte for byte, and that
//! one depends on two things of `html5ever`'s own: the line it gives each
//! token (newlines consumed so far) and how it cuts text into character
//! tokens, since each chunk is scanned for bare URLs on its own. Lines are
//! counted here the same way. Text is passed on only where the chunks are
//! known to be the same:
//! - a plain run between two pieces of markup (no character reference, no
//!   stray `<`): `html5ever`'s SIMD data-state path takes it whole after
//!   any leading newlines and reports the line of its end;
//! - a `<style>` body without `<`: `html5ever` reads RAWTEXT a line at a
//!   time;
//! - text that is only joined (a title, an anchor's text) or ignored.
//!
//! Anything else (a carriage return or NUL anywhere, a leading BOM, a
//! character reference or stray `<` in text that may hold a URL) makes
//! [`extract`] return `None`, and the caller reads the document with
//! `html5ever`. A unit test reads tricky documents both ways.

use std::mem::take;

use html5gum::{Emitter, Error, State as GumState, Tokenizer};

use super::{Capture, RawText, State, TagAttrs};
use crate::extract::Extracted;

/// Links of `html` read with `html5gum`, or `None` when the document needs
/// the `html5ever` reading to come out the same.
pub(super) fn extract(html: &str, line: usize, column: usize) -> Option<Extracted> {
    if memchr::memchr2(b'\r', 0, html.as_bytes()).is_some() || html.starts_with('\u{feff}') {
        return None;
    }
    let mut reader = Reader {
        state: State::new(html, line, column),
        src: html,
        pos: 0,
        counted_to: 0,
        newlines: 0,
        tag: TagBuf::default(),
        last_start_tag: Vec::new(),
        text: Vec::new(),
        text_start: 0,
        text_end: 0,
        unsure: false,
    };
    let mut tokenizer = Tokenizer::new_with_emitter(html, Events(&mut reader));
    // The emitter yields a token only to stop early, when unsure.
    let stopped = tokenizer.next().is_some();
    drop(tokenizer);
    if stopped || reader.unsure {
        return None;
    }
    Some(reader.state.finish())
}

/// The tag being read; buffers are reused from tag to tag.
#[derive(Default)]
struct TagBuf {
    name: Vec<u8>,
    is_start: bool,
    self_closing: bool,
    /// `attrs[..len]` are this tag's (name, value) pairs.
    attrs: Vec<(Vec<u8>, Vec<u8>)>,
    len: usize,
}

impl TagAttrs for TagBuf {
    fn get(&self, name: &str) -> Option<&str> {
        let (_, value) = self.attrs[..self.len]
            .iter()
            .find(|(n, _)| n == name.as_bytes())?;
        // Pieces of a value are cut at ASCII bytes of a `&str` or are
        // decoded references, so the whole is UTF-8.
        std::str::from_utf8(value).ok()
    }
}

struct Reader<'a> {
    state: State<'a>,
    src: &'a str,
    /// Byte offset of the tokenizer in `src` (its `move_position` calls).
    pos: usize,
    /// `newlines` counts the `\n` in `src[..counted_to]`.
    counted_to: usize,
    newlines: usize,
    tag: TagBuf,
    last_start_tag: Vec<u8>,
    /// Text since the last piece of markup, and where its first and last
    /// pieces were read.
    text: Vec<u8>,
    text_start: usize,
    text_end: usize,
    unsure: bool,
}

impl Reader<'_> {
    /// File line of byte `pos`: the first line plus the newlines before it,
    /// which is how `html5ever` numbers a token emitted there.
    fn line_at(&mut self, pos: usize) -> usize {
        let bytes = self.src.as_bytes();
        let pos = pos.min(bytes.len());
        if pos >= self.counted_to {
            self.newlines += memchr::memchr_iter(b'\n', &bytes[self.counted_to..pos]).count();
        } else {
            self.newlines -= memchr::memchr_iter(b'\n', &bytes[pos..self.counted_to]).count();
        }
        self.counted_to = pos;
        self.state.first_line() + self.newlines
    }

    fn flush_text(&mut self) {
        if self.text.is_empty() {
            return;
        }
        let mut text = take(&mut self.text);
        if !self.unsure {
            self.pass_text(&text);
        }
        text.clear();
        self.text = text;
    }

    /// Hands text read since the last markup to the state in the chunks
    /// `html5ever` would have cut it into, or marks the reading unsure.
    fn pass_text(&mut self, text: &[u8]) {
        // A plain run is a slice of the source, so it needs no UTF-8 check
        // (validating every paragraph cost 1.3 % of a run, issue 11).
        let plain = || {
            is_plain_run(self.src, text, self.text_start, self.text_end)
                .then(|| self.src.get(self.text_start..self.text_end))
                .flatten()
        };
        let capture = self.state.capture();
        let joined =
            capture == Capture::Title || capture == Capture::None && self.state.in_anchor();
        match capture {
            Capture::Ignore => {}
            // Joined: chunks and lines do not matter.
            _ if joined => match std::str::from_utf8(text) {
                Ok(s) => self.state.characters(s, 0),
                Err(_) => self.unsure = true,
            },
            // Without a '.' no chunk holds a URL.
            Capture::None if memchr::memchr(b'.', text).is_none() => {}
            Capture::None => match plain() {
                Some(s) => {
                    let line = self.line_at(self.text_end);
                    self.state.characters(s.trim_start_matches('\n'), line);
                }
                None => self.unsure = true,
            },
            // (A title was joined above.)
            Capture::Style | Capture::Title => match plain() {
                Some(s) => {
                    let first = self.line_at(self.text_start);
                    for (i, piece) in s.split('\n').enumerate() {
                        self.state.characters(piece, first + i);
                    }
                }
                None => self.unsure = true,
            },
        }
    }
}

/// Whether `text` is exactly `src[start..end]`, begins after markup, ends
/// before markup and holds no `&` or `<`: then `html5ever` read it as one
/// run as well (no character reference, no stray `<` cut it).
fn is_plain_run(src: &str, text: &[u8], start: usize, end: usize) -> bool {
    let bytes = src.as_bytes();
    start <= end
        && bytes.get(start..end) == Some(text)
        && (start == 0 || bytes[start - 1] == b'>')
        && (end == bytes.len() || bytes[end] == b'<')
        && memchr::memchr2(b'&', b'<', text).is_none()
}

/// The `html5gum` emitter over a [`Reader`].
struct Events<'r, 'a>(&'r mut Reader<'a>);

impl Events<'_, '_> {
    /// A new tag begins: the text before it is done.
    fn init_tag(&mut self, is_start: bool) {
        self.0.flush_text();
        let tag = &mut self.0.tag;
        tag.name.clear();
        tag.is_start = is_start;
        tag.self_closing = false;
        tag.len = 0;
    }
}

impl Emitter for Events<'_, '_> {
    type Token = ();

    fn set_last_start_tag(&mut self, last_start_tag: Option<&[u8]>) {
        self.0.last_start_tag.clear();
        self.0
            .last_start_tag
            .extend_from_slice(last_start_tag.unwrap_or_default());
    }

    fn emit_eof(&mut self) {
        self.0.flush_text();
    }

    fn emit_error(&mut self, _error: Error) {}

    fn should_emit_errors(&mut self) -> bool {
        false
    }

    fn pop_token(&mut self) -> Option<()> {
        self.0.unsure.then_some(())
    }

    fn emit_string(&mut self, s: &[u8]) {
        let r = &mut *self.0;
        if r.text.is_empty() {
            r.text_start = r.pos.saturating_sub(s.len());
        }
        r.text.extend_from_slice(s);
        r.text_end = r.pos;
    }

    fn init_start_tag(&mut self) {
        self.init_tag(true);
    }

    fn init_end_tag(&mut self) {
        self.init_tag(false);
    }

    fn init_comment(&mut self) {
        self.0.flush_text();
    }

    fn emit_current_tag(&mut self) -> Option<GumState> {
        let r = &mut *self.0;
        if r.unsure {
            return None;
        }
        let Ok(name) = std::str::from_utf8(&r.tag.name) else {
            r.unsure = true;
            return None;
        };
        if !r.tag.is_start {
            r.state.end_tag(name);
            return None;
        }
        // A start tag is emitted on its `>`; a position anywhere else
        // would give a wrong line.
        if r.pos == 0 || r.src.as_bytes().get(r.pos - 1) != Some(&b'>') {
            r.unsure = true;
            return None;
        }
        r.last_start_tag.clear();
        r.last_start_tag.extend_from_slice(&r.tag.name);
        let pos = r.pos;
        let line = r.line_at(pos);
        // `name` borrows `r.tag`; read it again past the `&mut` above.
        let name = std::str::from_utf8(&r.tag.name).unwrap_or_default();
        match r.state.start_tag(name, &r.tag, r.tag.self_closing, line) {
            None => None,
            Some(RawText::Rcdata) => Some(GumState::RcData),
            Some(RawText::Rawtext) => Some(GumState::RawText),
            Some(RawText::Script) => Some(GumState::ScriptData),
        }
    }

    fn emit_current_comment(&mut self) {}

    fn emit_current_doctype(&mut self) {}

    fn set_self_closing(&mut self) {
        if self.0.tag.is_start {
            self.0.tag.self_closing = true;
        }
    }

    fn set_force_quirks(&mut self) {}

    fn push_tag_name(&mut self, s: &[u8]) {
        self.0.tag.name.extend_from_slice(s);
    }

    fn push_comment(&mut self, _s: &[u8]) {}

    fn push_doctype_name(&mut self, _s: &[u8]) {}

    fn init_doctype(&mut self) {
        self.0.flush_text();
    }

    fn init_attribute(&mut self) {
        let tag = &mut self.0.tag;
        if tag.len == tag.attrs.len() {
            tag.attrs.push(Default::default());
        }
        let (name, value) = &mut tag.attrs[tag.len];
        name.clear();
        value.clear();
        tag.len += 1;
    }

    fn push_attribute_name(&mut self, s: &[u8]) {
        let tag = &mut self.0.tag;
        if let Some((name, _)) = tag.len.checked_sub(1).map(|i| &mut tag.attrs[i]) {
            name.extend_from_slice(s);
        }
    }

    fn push_attribute_value(&mut self, s: &[u8]) {
        let tag = &mut self.0.tag;
        if let Some((_, value)) = tag.len.checked_sub(1).map(|i| &mut tag.attrs[i]) {
            value.extend_from_slice(s);
        }
    }

    fn set_doctype_public_identifier(&mut self, _value: &[u8]) {}

    fn set_doctype_system_identifier(&mut self, _value: &[u8]) {}

    fn push_doctype_public_identifier(&mut self, _s: &[u8]) {}

    fn push_doctype_system_identifier(&mut self, _s: &[u8]) {}

    fn current_is_appropriate_end_tag_token(&mut self) -> bool {
        let r = &*self.0;
        !r.tag.is_start && !r.last_start_tag.is_empty() && r.tag.name == r.last_start_tag
    }

    fn move_position(&mut self, offset: isize) {
        self.0.pos = self.0.pos.saturating_add_signed(offset);
    }
}

#[cfg(test)]
mod tests {
    use super::super::extract_with_html5ever;
    use super::*;

    /// Both readings of `html` (from line 3, column 5, as for HTML inside
    /// Markdown), with whether the fast one kept it.
    fn both(html: &str) -> (String, String, bool) {
        let slow = extract_with_html5ever(html, 3, 5);
        let fast = extract(html, 3, 5);
        let kept = fast.is_some();
        let fast = super::super::extract_html_fragment(html, 3, 5);
        let mut slow_sorted = slow;
        slow_sorted.links.sort_by_key(|l| (l.line, l.column));
        (format!("{fast:?}"), format!("{slow_sorted:?}"), kept)
    }

    #[test]
    fn plain_documents_are_read_by_html5gum_as_html5ever_reads_them() {
        let docs = [
            "<html><head><title> A &amp; B\n </title><base href=\"http://b.cn/\">\n\
             <meta property=og:image content='http://a.cn/og.jpg'><meta name=date content=2019-07-05>\n\
             <link rel=\"Canonical icon\" href=\"http://a.cn/p.html\"><style>\n.x{background:url(bg.png)}\n\n\
             .y{background:url( 'y.png' )}</style></head>\n<body>\n\n\n see http://a.cn/x.png and a.jpg\n\
             more http://a.cn/y.png\n<picture><source srcset=\"a.webp 1x,\n a2.webp 2x\"><img\n src=\"a.jpg\"\n\
             data-src=\"lazy.jpg\" SRC=dup.jpg></picture><video poster=\"p.jpg\"><source src=\"v.mp4\"></video>\n\
             <a href=\"http://a.cn/o.html?a=1&amp;b=2\">原文 <b>链接</b>\n http://a.cn/in-anchor.png</a>\n\
             <div style=\"background-image:url('d.gif')\">图片.png 和 http://a.cn/中文.png</div>\n\
             <script>var u=\"http://no.cn/x.jpg\"; if (a<b) {}</script><textarea>http://no.cn/t.png</textarea>\n\
             <!-- http://no.cn/c.png --><IMG SRC=\"upper.png\"/><a href=#top>top</a><area href=\"m.html\">\n\
             <iframe src=\"http://a.cn/f.html\"></iframe><embed src=e.swf><object data=o.pdf></object>\n\
             <title>second</title><p>end http://a.cn/end.png",
            "",
            "plain text http://a.cn/only.png",
            "<img src=a.png><img src=a.png>\n<img src=a.png>",
            "<p>unterminated <img src=\"x.png",
            "<style>a{background:url(s.png)}",
            "<a href=x.html>no end",
        ];
        for doc in docs {
            let (fast, slow, kept) = both(doc);
            assert!(kept, "html5gum handed back {doc:?}");
            assert_eq!(fast, slow, "{doc:?}");
        }
    }

    #[test]
    fn documents_html5gum_cannot_chunk_alike_go_to_html5ever() {
        let docs = [
            "<p>a http://a.cn/x.png?a=1&b=2.png c</p>",
            "<p>x &lt; http://a.cn/y.png &#46; z.png</p>",
            "<p>a < b http://a.cn/x.png\nc.png</p>",
            "<p>line\r\nhttp://a.cn/cr.png\r</p>",
            "<p>nul\0 http://a.cn/nul.png</p>",
            "\u{feff}<img src=bom.png>",
            "<style>a{background:url(s.png)} a<b {x:url(t.png)}</style>",
        ];
        for doc in docs {
            let (fast, slow, kept) = both(doc);
            assert!(!kept, "html5gum kept {doc:?}");
            assert_eq!(fast, slow, "{doc:?}");
        }
    }

    #[test]
    fn malformed_documents_agree_or_go_to_html5ever() {
        let docs = [
            "<",
            "<<<>>>",
            "</",
            "<a href",
            "<a href=\"",
            "<!--",
            "<!DOCTYPE",
            "<![CDATA[ http://a.cn/c.png ]]>",
            "<title>",
            "<script>",
            "<img src='a.png' src=b.png srcset=', ,, 2x'>",
            "<p x=\"&#0;&#x110000;&#xD800;&notin;&notit;&amp\" style=\"url(\">",
            "<svg><img src=s.png /></svg></p></p>",
            "<a href=a.html><a href=b.html>b</a></a>",
            "<video><audio><source src=m.mp3></video></audio><source src=p.jpg>",
        ];
        for doc in docs {
            let (fast, slow, _) = both(doc);
            assert_eq!(fast, slow, "{doc:?}");
        }
    }
}
