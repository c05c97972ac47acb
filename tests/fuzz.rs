//! Property tests: no input, however hostile, makes extraction, resolution
//! or diagnosis panic, and positions always point inside the document.

use archive::config::Config;
use archive::diagnose::UrlFilter;
use archive::pipeline::scan_document;
use archive::source::{Document, DocumentStatus, Format};
use proptest::prelude::*;

/// Fragments that steer random input into every parser's corners.
const PIECES: &[&str] = &[
    "---\n",
    "+++\n",
    "title: x\n",
    "标题: 测试\n",
    "正文内容:",
    "![",
    "](",
    ")",
    "[",
    "]",
    "]: ",
    "<img src=\"",
    "\">",
    "<a href=",
    "</a>",
    "<picture>",
    "<source srcset=\"",
    " 2x, ",
    "<video>",
    "<style>",
    "url(",
    "</style>",
    "<script>",
    "<base href=\"",
    "http://",
    "https://a.cn/",
    "//",
    "/",
    ".",
    "%",
    "%2",
    "?",
    "#",
    "a.jpg",
    "微信图片_1.png",
    "原文链接",
    "\n",
    " ",
    "`",
    "```\n",
    "&amp;",
    "&#",
    "<!--",
    "-->",
    "\u{feff}",
    "\r\n",
    "data:,x",
    "javascript:",
    "[::1",
    ":99999",
];

fn scan(bytes: &[u8], name: &str) {
    let config = Config::default();
    let filter = UrlFilter::new(&config.links);
    let doc = Document::from_bytes(name.to_string(), bytes);
    let lines = doc.body.lines().count() + doc.body_line + 1;
    let ok = doc.status == DocumentStatus::Ok;
    let scanned = scan_document(doc, &config, &filter);
    for link in &scanned.links {
        assert!(link.line >= 1 && link.column >= 1);
        assert!(
            !ok || link.line <= lines + 64,
            "line {} beyond {}",
            link.line,
            lines
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        for name in ["a.md", "a.html", "a.txt"] {
            scan(&bytes, name);
        }
    }

    #[test]
    fn syntax_soup_never_panics(parts in proptest::collection::vec(0..PIECES.len(), 0..200)) {
        let text: String = parts.iter().map(|&i| PIECES[i]).collect();
        for name in ["a.md", "a.html", "a.txt"] {
            scan(text.as_bytes(), name);
        }
    }
}

#[test]
fn every_format_is_reachable() {
    let formats: Vec<Format> = ["# x\n![a](b.png)", "<!DOCTYPE html><p>", "plain"]
        .iter()
        .map(|t| Document::from_bytes("x.txt".into(), t.as_bytes()).format)
        .collect();
    assert_eq!(formats, [Format::Markdown, Format::Html, Format::Text]);
}
