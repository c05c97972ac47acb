//! Bare URLs in Chinese prose: they stop at CJK and full-width punctuation,
//! at whitespace and at CJK text glued after them, start right after CJK
//! text, keep balanced parentheses and lose trailing ASCII punctuation.
//! Fixtures in UTF-8 and GBK run through the whole static pipeline; a
//! property test glues random URLs into random Chinese sentences.

use archive::config::Config;
use archive::diagnose::UrlFilter;
use archive::extract::text::TextExtractor;
use archive::extract::Extractor;
use archive::pipeline::scan_document;
use archive::source::{Document, DocumentStatus};
use proptest::prelude::*;

fn fixture_bytes(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/extract/cjk/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// (url, line, column) of the links with `syntax` that the pipeline finds
/// in fixture `name`, and the decoded document text.
fn scan_fixture(name: &str, syntax: &str) -> (Vec<(String, usize, usize)>, String) {
    let config = Config::default();
    let filter = UrlFilter::new(&config.links);
    let doc = Document::from_bytes(name.to_string(), &fixture_bytes(name));
    assert_eq!(doc.status, DocumentStatus::Ok, "{name}: {:?}", doc.error);
    let scanned = scan_document(doc, &config, &filter);
    let links = scanned
        .links
        .iter()
        .filter(|l| l.syntax.as_str() == syntax)
        .map(|l| (l.url.clone(), l.line, l.column))
        .collect();
    // The whole file's text, header included, so lines count from 1.
    let text = String::from_utf8(fixture_bytes(name))
        .unwrap_or_else(|_| encoding_rs::GBK.decode(&fixture_bytes(name)).0.into_owned());
    (links, text)
}

/// Expected (url, line, column): each URL is looked for on its line after
/// the previous one, and its column counted in characters.
fn expect(text: &str, urls: &[(&str, usize)]) -> Vec<(String, usize, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut from = (0, 0);
    for &(url, line) in urls {
        let l = lines[line - 1];
        let start = if from.0 == line { from.1 } else { 0 };
        let at = start
            + l[start..]
                .find(url)
                .unwrap_or_else(|| panic!("{url} not on line {line}"));
        out.push((url.to_string(), line, l[..at].chars().count() + 1));
        from = (line, at + url.len());
    }
    out
}

#[test]
fn utf8_text_article() {
    let (got, text) = scan_fixture("article.txt", "bare_url");
    let want = expect(
        &text,
        &[
            ("https://news.example.cn/x.jpg", 4),
            ("https://news.example.cn/y.html", 4),
            ("https://news.example.cn/files/议程.pdf", 5),
            ("https://news.example.cn/form.doc", 5),
            ("https://img.example.cn/a/1.png", 6),
            ("https://v.example.cn/v/2.mp4", 6),
            ("https://news.example.cn/brief?id=12&page=3", 7),
            ("https://news.example.cn/q", 7),
            ("https://news.example.cn/r", 7),
            ("https://news.example.cn/s", 7),
            ("https://news.example.cn/t.html", 8),
            ("https://news.example.cn/u.html", 8),
            ("https://news.example.cn/v.html", 9),
            ("https://news.example.cn/w.html", 9),
            ("https://news.example.cn/faq?x=1", 10),
            ("https://news.example.cn/ans", 10),
            ("https://news.example.cn/z.jpg", 11),
            ("https://news.example.cn/zz.jpg", 11),
            (
                "https://commons.wikimedia.org/wiki/File:Nankai_(2019).jpg",
                12,
            ),
            ("https://news.example.cn/p.jpg", 12),
            ("https://news.example.cn/end.html", 13),
            ("https://news.example.cn/end2.html", 13),
            ("https://news.example.cn/q.html", 13),
            ("https://zh.wikipedia.org/wiki/南开大学", 14),
            ("https://www.example.cn/", 14),
        ],
    );
    assert_eq!(got, want);
    let (names, _) = scan_fixture("article.txt", "bare_file_name");
    assert_eq!(names, expect(&text, &[("微信图片_20231109112859.png", 15)]));
}

#[test]
fn gbk_text_article() {
    let doc = Document::from_bytes("article_gbk.txt".into(), &fixture_bytes("article_gbk.txt"));
    assert!(
        matches!(doc.encoding, "GBK" | "gb18030"),
        "decoded as {}",
        doc.encoding
    );
    let (got, text) = scan_fixture("article_gbk.txt", "bare_url");
    assert!(text.starts_with("标题: 校园新闻（GBK）"));
    let want = expect(
        &text,
        &[
            ("http://www.example.edu.cn/pic/2023/a1.jpg", 5),
            ("http://www.example.edu.cn/news/2023/1109_full.shtml", 6),
            ("http://www.example.edu.cn/news/b.htm", 6),
            ("http://v.example.edu.cn/2023/1109.mp4", 7),
            ("http://www.example.edu.cn/album?id=7&p=2", 7),
            ("http://www.example.edu.cn/notice/12.htm", 8),
            ("http://www.example.edu.cn/c.htm", 8),
            ("http://zh.wikipedia.org/wiki/File:Campus_(2019).jpg", 9),
            ("http://www.example.edu.cn/d.jpg", 9),
            ("http://www.example.edu.cn/e.htm", 10),
            ("http://www.example.edu.cn/f.htm", 10),
            ("http://www.example.edu.cn/g.htm", 10),
        ],
    );
    assert_eq!(got, want);
    let (names, _) = scan_fixture("article_gbk.txt", "bare_file_name");
    assert_eq!(names, expect(&text, &[("微信图片_20231109112859.png", 11)]));
    let (source, _) = scan_fixture("article_gbk.txt", "front_matter");
    assert_eq!(
        source,
        [(
            "http://www.example.edu.cn/news/2023/1109.shtml".to_string(),
            3,
            1
        )]
    );
}

/// The same scanner reads the text of Markdown and HTML documents.
///
/// The Markdown fixture writes `File:Nankai(2019).jpg` without the `_`:
/// pulldown-cmark splits a text run at `_(` (a possible emphasis closer)
/// and the Markdown extractor scans each text event on its own, so a bare
/// `…_(2019).jpg` in Markdown is cut at the `_` (a Markdown extractor
/// matter, not the text scanner's).
#[test]
fn markdown_and_html_text() {
    for (name, first, wiki) in [
        ("article.md", 5, "File:Nankai(2019).jpg"),
        ("article.html", 4, "File:Nankai_(2019).jpg"),
    ] {
        let (got, text) = scan_fixture(name, "bare_url");
        let urls: Vec<&str> = got.iter().map(|(u, _, _)| u.as_str()).collect();
        let wiki = format!("https://commons.wikimedia.org/wiki/{wiki}");
        assert_eq!(
            urls,
            [
                "https://news.example.cn/x.jpg",
                "https://news.example.cn/y.html",
                "https://news.example.cn/z.jpg",
                &wiki,
                "https://zh.wikipedia.org/wiki/南开大学",
                "https://news.example.cn/p.jpg",
            ],
            "{name}"
        );
        let step = if name.ends_with(".md") { 2 } else { 1 };
        let lines: Vec<usize> = got.iter().map(|l| l.1).collect();
        assert_eq!(
            lines,
            [
                first,
                first,
                first + step,
                first + step,
                first + step + 1,
                first + step + 1
            ],
            "{name}"
        );
        if name.ends_with(".md") {
            // Markdown text keeps exact columns.
            let at: Vec<(&str, usize)> = got.iter().map(|(u, l, _)| (u.as_str(), *l)).collect();
            assert_eq!(got, expect(&text, &at));
        }
    }
}

/// Chinese prose pieces a URL is glued to.
const PROSE: &[&str] = &[
    "照片",
    "摄影张三",
    "详情见",
    "南开大学新闻网讯",
    "学校召开专项巡视情况汇报会",
    "了解更多",
    "图",
    "年",
    "第二届",
    "原文链接",
    "ファイル",
    "사진",
];

/// What may stand right before a URL.
const BEFORE: &[&str] = &[
    "", "：", "，", "。", "（", "【", "《", "「", "『", "〈", "“", "‘", " ", "\u{3000}", "\n", "(",
    "(see ", "、", "；", "—", "…", "·", "～", "！", "？",
];

/// What may stand right after a URL (or nothing: CJK text glued to it,
/// when [`may_glue`] allows).
const AFTER: &[&str] = &[
    "。", "，", "、", "；", "：", "？", "！", "）", "】", "》", "」", "』", "〉", "”", "’", "…",
    "——", "～", "·", " ", "\u{3000}", "\n", ".", ",", ";", "!", "?", ". ", ", ", ": ", "! ", "\"",
    "'", ")", "）。", ".\n", "（", "【", "《", "１２", "〇",
];

/// A path segment: ASCII, percent-encoded CJK, balanced parentheses,
/// short numeric ids.
fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9]([a-zA-Z0-9_.~-]{0,10}[a-zA-Z0-9])?",
        "[0-9]{1,3}",
        prop::sample::select(PROSE)
            .prop_map(|p| p.bytes().map(|b| format!("%{b:02X}")).collect::<String>()),
        "[A-Za-z]{1,8}_\\([0-9]{4}\\)",
        "File:[A-Za-z]{1,8}_\\([a-z]{1,5}\\)",
    ]
}

/// A raw CJK segment: only ever followed by `/` and more path, so the run
/// of CJK is never what ends the URL (where prose would join it).
fn raw_segment() -> impl Strategy<Value = String> {
    prop::sample::select(&PROSE[..10]).prop_map(str::to_string)
}

prop_compose! {
    fn url()(
        scheme in prop::sample::select(&["http://", "https://", "HTTPS://"][..]),
        host in prop::sample::select(&[
            "news.example.cn", "mmbiz.qpic.cn", "www.nankai.edu.cn", "wx1.sinaimg.cn",
            "a.cn", "127.0.0.1:8080", "cdn.example.com:443", "[::1]", "user@host.example.org",
        ][..]),
        segments in prop::collection::vec((segment(), prop::option::of(raw_segment())), 0..6),
        last in prop::option::of(prop_oneof![
            "[a-z0-9_-]{0,8}[a-z0-9]\\.(jpg|png|gif|webp|jpeg|pdf|mp4|html|shtml|htm)",
            "[0-9]",
            Just(String::new()),
        ]),
        query in prop::option::of("[a-z]{1,6}=[a-zA-Z0-9_%]{1,8}(&[a-z]{1,6}=[a-zA-Z0-9]([a-zA-Z0-9.]{0,6}[a-zA-Z0-9])?){0,2}"),
        fragment in prop::option::of("[a-zA-Z][a-zA-Z0-9_-]{0,6}[a-zA-Z0-9]"),
    ) -> String {
        let mut url = format!("{scheme}{host}");
        for (segment, raw) in &segments {
            if let Some(raw) = raw {
                url.push('/');
                url.push_str(raw);
            }
            url.push('/');
            url.push_str(segment);
        }
        if let Some(last) = last {
            url.push('/');
            url.push_str(&last);
        }
        if let Some(q) = query {
            url.push('?');
            url.push_str(&q);
        }
        if let Some(f) = fragment {
            url.push('#');
            url.push_str(&f);
        }
        url
    }
}

/// CJK text may follow a URL directly only when the URL does not end in a
/// character that opens a new URL part (`/`, `=`, `_`, `-`, `:`, `#`,
/// `(`, `+`, `~`): after those a CJK run is read as a raw IRI segment.
fn may_glue(url: &str) -> bool {
    !url.ends_with(['/', '=', '_', '-', ':', '#', '(', '+', '~'])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    #[test]
    fn urls_in_chinese_sentences_round_trip(
        pieces in prop::collection::vec(
            (
                prop::sample::select(PROSE),
                prop::sample::select(BEFORE),
                url(),
                prop::sample::select(AFTER),
                any::<bool>(),
            ),
            1..8,
        ),
        tail in prop::sample::select(PROSE),
    ) {
        let mut text = String::new();
        let mut want = Vec::new();
        for (prose, before, url, after, glue) in &pieces {
            text.push_str(prose);
            text.push_str(before);
            // `(see URL)`: the opener before asks for the closer after.
            let after = match *before {
                "(" | "(see " => ")",
                _ if *glue && may_glue(url) => "",
                _ => after,
            };
            let line = text.matches('\n').count() + 1;
            let column = text[text.rfind('\n').map_or(0, |i| i + 1)..].chars().count() + 1;
            want.push((url.clone(), line, column));
            text.push_str(url);
            text.push_str(after);
        }
        text.push_str(tail);
        let got: Vec<(String, usize, usize)> = TextExtractor
            .extract(&text, 1)
            .links
            .into_iter()
            .map(|l| (l.url, l.line, l.column))
            .collect();
        prop_assert_eq!(got, want, "in {:?}", text);
    }
}
