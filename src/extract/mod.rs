//! Extract: every URL a document mentions, with where and how it was
//! written.
//!
//! Each body format has an [`Extractor`]: Markdown ([`markdown`], on
//! `pulldown-cmark`), HTML ([`html`], on the `html5gum` tokenizer, with
//! `html5ever`'s as the reference it must agree with and the fallback) and
//! plain text ([`text`], a bare-URL scanner of its own plus a media-file-name
//! scanner).
//! Markdown hands its inline HTML to the HTML extractor and its text to the
//! text extractor, so a URL is found the same way wherever it hides.
//!
//! Extractors only report what is written: the URL exactly as in the file,
//! its 1-based line and column, the syntax around it, the link text and a
//! first guess at its [`LinkKind`]. Resolving relative URLs and judging
//! them are the next stages' work.

pub mod css;
pub mod html;
pub mod markdown;
pub mod position;
pub mod text;

use serde::Serialize;

use crate::source::{Document, Format};
use crate::vocab::Syntax;
pub use position::LineIndex;

/// What a link points at, as far as the document tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkKind {
    /// A picture shown in the article.
    Image,
    /// Video, audio or another file the article embeds or offers.
    Media,
    /// An ordinary hyperlink.
    Page,
    /// The article's own original address.
    Source,
}

impl LinkKind {
    pub const ALL: [LinkKind; 4] = [
        LinkKind::Image,
        LinkKind::Media,
        LinkKind::Page,
        LinkKind::Source,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LinkKind::Image => "image",
            LinkKind::Media => "media",
            LinkKind::Page => "page",
            LinkKind::Source => "source",
        }
    }

    /// True for kinds whose target is a file to archive.
    pub fn is_media(self) -> bool {
        matches!(self, LinkKind::Image | LinkKind::Media)
    }
}

/// A URL as written in a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawLink {
    /// Exactly as written (entities and escapes decoded by the parser).
    pub url: String,
    pub kind: LinkKind,
    /// The construct it was found in, e.g. `markdown_image`, `html_srcset`.
    pub syntax: Syntax,
    /// 1-based line and column (in characters) in the original file.
    pub line: usize,
    pub column: usize,
    /// The link text or alt text, when the syntax has one.
    pub text: Option<String>,
}

/// Everything an extractor learned from one body.
#[derive(Debug, Default)]
pub struct Extracted {
    pub links: Vec<RawLink>,
    /// `<base href>` if the document declares one.
    pub base_href: Option<String>,
    /// `<title>` or similar, for documents without a header.
    pub title: Option<String>,
    /// `<meta name=date>` or similar.
    pub date: Option<String>,
}

/// One body format's extractor.
pub trait Extractor {
    /// Extracts from `body`, whose first line is line `first_line` of the file.
    fn extract(&self, body: &str, first_line: usize) -> Extracted;
}

/// The extractor for a format.
pub fn extractor_for(format: Format) -> &'static dyn Extractor {
    match format {
        Format::Markdown => &markdown::MarkdownExtractor,
        Format::Html => &html::HtmlExtractor,
        Format::Text | Format::Unknown => &text::TextExtractor,
    }
}

/// Extracts the links of a decoded document.
pub fn extract_document(doc: &Document) -> Extracted {
    extractor_for(doc.format).extract(&doc.body, doc.body_line)
}

const IMAGE_EXTENSIONS: &[&str] = &[
    "jpg", "jpeg", "jpe", "jfif", "png", "gif", "webp", "avif", "svg", "bmp", "ico", "tif", "tiff",
    "heic", "heif",
];
const MEDIA_EXTENSIONS: &[&str] = &[
    "mp4", "m4v", "webm", "mov", "mkv", "avi", "flv", "ogv", "mp3", "m4a", "aac", "ogg", "oga",
    "opus", "wav", "flac", "pdf",
];

/// The lower-case extension of a URL's or file name's last path segment.
pub fn extension_of(url: &str) -> Option<String> {
    written_extension(url).map(str::to_ascii_lowercase)
}

/// The extension of a URL's or file name's last path segment as written:
/// after the last `.` of the last segment, before any `?` or `#`, one to
/// five bytes. Byte searches with `memchr` and no copy: this runs for
/// nearly every link, and the `str` splitting and lower-cased copy it
/// replaced were 1.2 % of an offline check.
fn written_extension(url: &str) -> Option<&str> {
    let path = &url[..memchr::memchr2(b'?', b'#', url.as_bytes()).unwrap_or(url.len())];
    let last = &path[memchr::memrchr(b'/', path.as_bytes()).map_or(0, |i| i + 1)..];
    let ext = &last[memchr::memrchr(b'.', last.as_bytes())? + 1..];
    (!ext.is_empty() && ext.len() <= 5).then_some(ext)
}

/// True when `list` (lower-case) holds `ext` in any case.
fn listed(list: &[&str], ext: &str) -> bool {
    list.iter().any(|e| e.eq_ignore_ascii_case(ext))
}

/// The kind implied by a URL's extension alone, if any.
pub fn kind_by_extension(url: &str) -> Option<LinkKind> {
    let ext = written_extension(url)?;
    if listed(IMAGE_EXTENSIONS, ext) {
        Some(LinkKind::Image)
    } else if listed(MEDIA_EXTENSIONS, ext) {
        Some(LinkKind::Media)
    } else {
        None
    }
}

/// True when an extension names an image or media file.
pub fn is_media_extension(ext: &str) -> bool {
    listed(IMAGE_EXTENSIONS, ext) || listed(MEDIA_EXTENSIONS, ext)
}

/// Link texts that mark a link as the article's original address.
const SOURCE_MARKERS: &[&str] = &[
    "转入文章首发地址",
    "文章首发地址",
    "首发地址",
    "原文链接",
    "原文地址",
    "阅读原文",
    "查看原文",
    "来源",
    "original article",
    "original source",
    "source",
    "originally published",
    "canonical",
];

/// The kind of a hyperlink, given its text: a source marker makes it the
/// article's source; a media extension makes it image or media.
pub fn kind_of_hyperlink(url: &str, text: &str) -> LinkKind {
    let text = text.trim().trim_end_matches([':', '：']).to_lowercase();
    if !text.is_empty() && SOURCE_MARKERS.iter().any(|m| text.contains(m)) {
        return LinkKind::Source;
    }
    kind_by_extension(url).unwrap_or(LinkKind::Page)
}

/// `<meta>` names that carry the publication date.
pub fn source_date_key(key: &str) -> bool {
    matches!(
        key,
        "date"
            | "pubdate"
            | "publishdate"
            | "publish_date"
            | "article:published_time"
            | "datepublished"
            | "dc.date"
            | "dc.date.issued"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert_eq!(
            kind_by_extension("http://a/b/c.JPG?x=1"),
            Some(LinkKind::Image)
        );
        assert_eq!(kind_by_extension("v.mp4"), Some(LinkKind::Media));
        assert_eq!(kind_by_extension("http://a/b.shtml"), None);
        assert_eq!(
            kind_of_hyperlink("http://a/b.shtml", "转入文章首发地址"),
            LinkKind::Source
        );
        assert_eq!(kind_of_hyperlink("http://a/b.png", "see"), LinkKind::Image);
        assert_eq!(kind_of_hyperlink("http://a/b", "home"), LinkKind::Page);
    }

    #[test]
    fn extensions_as_the_str_splitting_found_them() {
        let old = |url: &str| {
            let path = url.split(['?', '#']).next().unwrap_or(url);
            let last = path.rsplit('/').next()?;
            let (_, ext) = last.rsplit_once('.')?;
            (!ext.is_empty() && ext.len() <= 5).then(|| ext.to_ascii_lowercase())
        };
        for url in [
            "http://a/b/c.JPG?x=1",
            "http://a/b.c/d",
            "http://a/b.tar.gz#frag.png",
            "x.",
            "x.jpeg2",
            "a/.png",
            "http://a/图片.PNG",
            "http://a/b.中文",
            "http://a/b.中",
            "?q=a.png",
            "no-dot",
            "",
        ] {
            assert_eq!(extension_of(url), old(url), "{url}");
        }
        assert!(is_media_extension("JPG") && is_media_extension("pdf"));
        assert!(!is_media_extension("html") && !is_media_extension(""));
    }
}
