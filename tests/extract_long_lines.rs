//! Markdown text that pulldown-cmark cuts into pieces (`_(`, `*`, `[`,
//! `~`, escapes, entities) is scanned whole for bare URLs, with exact
//! positions, and code stays out. Long single lines of links (generated
//! and minified files) get every position right; they used to take time
//! quadratic in the line length, which these tests do not time but keep
//! small enough to stay fast in a debug build.

use archive::config::Config;
use archive::diagnose::UrlFilter;
use archive::extract::html::HtmlExtractor;
use archive::extract::markdown::MarkdownExtractor;
use archive::extract::{Extractor, RawLink};
use archive::pipeline::scan_document;
use archive::source::{Document, DocumentStatus};

fn fixture_text(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/extract/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// (url, syntax, line, column) of every link the pipeline finds in fixture
/// `name`.
fn scan_fixture(name: &str) -> Vec<(String, &'static str, usize, usize)> {
    let config = Config::default();
    let filter = UrlFilter::new(&config.links);
    let doc = Document::from_bytes(name.to_string(), fixture_text(name).as_bytes());
    assert_eq!(doc.status, DocumentStatus::Ok, "{name}: {:?}", doc.error);
    scan_document(doc, &config, &filter)
        .links
        .iter()
        .map(|l| (l.url.clone(), l.syntax.as_str(), l.line, l.column))
        .collect()
}

/// Expected (url, syntax, line, column): `written` is how the URL is spelled
/// in the file (escapes and entities included), looked for on its line after
/// the previous one; the column is counted in characters.
fn expect(
    text: &str,
    want: &[(&str, &str, &'static str, usize)],
) -> Vec<(String, &'static str, usize, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut from = (0, 0);
    want.iter()
        .map(|&(url, written, syntax, line)| {
            let l = lines[line - 1];
            let start = if from.0 == line { from.1 } else { 0 };
            let at = start
                + l[start..]
                    .find(written)
                    .unwrap_or_else(|| panic!("{written} not on line {line}"));
            from = (line, at + written.len());
            (url.to_string(), syntax, line, l[..at].chars().count() + 1)
        })
        .collect()
}

#[test]
fn markdown_text_cut_by_inline_syntax_is_scanned_whole() {
    let text = fixture_text("md_text_runs.md");
    let same = |url: &'static str, line| (url, url, "bare_url", line);
    let want = expect(
        &text,
        &[
            same("https://a.cn/File:Name_(2019).jpg", 7),
            same("https://commons.wikimedia.org/wiki/File:Name_(2019).jpg", 7),
            same("https://a.cn/p/a*b.jpg", 9),
            same("https://en.wikipedia.org/wiki/Foo_(bar)_baz", 9),
            same("https://a.cn/p/x_y_z.png", 9),
            // Escapes and entities are decoded; the column is the source's.
            (
                "https://a.cn/p/c_d.jpg",
                "https://a.cn/p/c\\_d.jpg",
                "bare_url",
                11,
            ),
            (
                "https://a.cn/s?a=1&b=2",
                "https://a.cn/s?a=1&amp;b=2",
                "bare_url",
                11,
            ),
            same("https://a.cn/t_(1).jpg", 11),
            same("https://a.cn/list[1].jpg", 13),
            same("https://a.cn/~user/p_(1).png", 13),
            ("校园_风光_2.jpg", "校园_风光_2.jpg", "bare_file_name", 13),
            // The code span before it is skipped, the text after is not.
            same("https://after.cn/q_(3).jpg", 15),
            // Emphasis is an event between texts: the URL ends before it,
            // as a renderer's autolinker would end it, and the text after
            // it is a text of its own.
            ("https://a.cn/e/a", "https://a.cn/e/a", "bare_url", 23),
            ("c.jpg", "c.jpg", "bare_file_name", 23),
            same("https://a.cn/t/File:T_(2020).jpg", 27),
        ],
    );
    let got = scan_fixture("md_text_runs.md");
    assert_eq!(got, want);
    for (url, ..) in &got {
        assert!(
            !["code.cn", "block.cn", "fence.cn"]
                .iter()
                .any(|h| url.contains(h)),
            "code was scanned: {url}"
        );
    }
}

#[test]
fn issue_sentence_in_markdown() {
    let md = "前言\n\n照片：https://a.cn/File:Name_(2019).jpg，摄影：张三；详情见https://host/y_(z).html。\n";
    let got: Vec<_> = MarkdownExtractor
        .extract(md, 5)
        .links
        .into_iter()
        .map(|l| (l.url, l.line, l.column))
        .collect();
    let second = "照片：https://a.cn/File:Name_(2019).jpg，摄影：张三；详情见"
        .chars()
        .count()
        + 1;
    assert_eq!(
        got,
        [
            ("https://a.cn/File:Name_(2019).jpg".to_string(), 7, 4),
            ("https://host/y_(z).html".to_string(), 7, second),
        ]
    );
}

/// Builds one line from `pieces` and the links it should yield: each piece
/// is (text, Some((url, syntax, offset of the URL in the text))) or plain.
struct Line {
    text: String,
    chars: usize,
    want: Vec<(String, &'static str, usize, usize)>,
}

impl Line {
    fn new() -> Line {
        Line {
            text: String::new(),
            chars: 0,
            want: Vec::new(),
        }
    }

    /// Appends `before`, then `url` (a link of `syntax`) and `after`.
    fn push(&mut self, before: &str, url: &str, syntax: &'static str, after: &str) {
        self.plain(before);
        self.want.push((url.to_string(), syntax, 1, self.chars + 1));
        self.plain(url);
        self.plain(after);
    }

    fn plain(&mut self, s: &str) {
        self.text.push_str(s);
        self.chars += s.chars().count();
    }
}

fn positions(links: Vec<RawLink>) -> Vec<(String, &'static str, usize, usize)> {
    links
        .into_iter()
        .map(|l| (l.url, l.syntax.as_str(), l.line, l.column))
        .collect()
}

const N: usize = 20_000;

#[test]
fn long_markdown_line_of_images() {
    let mut line = Line::new();
    for i in 0..N {
        line.push(
            "![](",
            &format!("http://a.cn/{i}.jpg"),
            "markdown_image",
            ")",
        );
    }
    let got = positions(MarkdownExtractor.extract(&line.text, 1).links);
    assert_eq!(got.len(), N);
    assert_eq!(got[0], line.want[0]);
    assert_eq!(got[N - 1], line.want[N - 1]);
    assert_eq!(got, line.want);
}

#[test]
fn long_markdown_line_of_images_text_urls_and_names() {
    // A file name before a bare URL in the same text makes the scanner's
    // second pass step back; CJK text makes bytes and columns differ.
    let mut line = Line::new();
    for i in 0..N / 2 {
        line.push(
            "![图](",
            &format!("http://a.cn/{i}.jpg"),
            "markdown_image",
            ") ",
        );
        line.push("", &format!("f_{i}.gif"), "bare_file_name", " 见");
        line.push("", &format!("https://b.cn/w_({i}).png"), "bare_url", "，");
    }
    let got = positions(MarkdownExtractor.extract(&line.text, 3).links);
    let want: Vec<_> = line
        .want
        .into_iter()
        .map(|(u, s, _, c)| (u, s, 3, c))
        .collect();
    assert_eq!(got.len(), want.len());
    assert_eq!(got.last(), want.last());
    assert_eq!(got, want);
}

#[test]
fn long_html_line_of_images() {
    let mut line = Line::new();
    for i in 0..N {
        line.push(
            "<img src=\"",
            &format!("http://a.cn/{i}.jpg"),
            "html_img",
            "\">",
        );
    }
    let got = positions(HtmlExtractor.extract(&line.text, 1).links);
    assert_eq!(got.len(), N);
    assert_eq!(got[N - 1], line.want[N - 1]);
    assert_eq!(got, line.want);
}

#[test]
fn long_html_line_with_entities_and_text() {
    // `&amp;` in a value: found by the part before the `&`, so the column
    // is exact. Bare URLs in text nodes between the tags, after CJK text.
    let mut line = Line::new();
    let mut want = Vec::new();
    for i in 0..N / 2 {
        let before = line.chars;
        line.plain(&format!("<img src=\"http://a.cn/{i}.jpg?w=1&amp;h=2\">图"));
        want.push((
            format!("http://a.cn/{i}.jpg?w=1&h=2"),
            "html_img",
            1,
            before + "<img src=\"".len() + 1,
        ));
        line.push("见", &format!("https://b.cn/{i}.png"), "bare_url", "。");
    }
    let mut all = want;
    all.extend(line.want);
    all.sort_by_key(|l| l.3);
    let got = positions(HtmlExtractor.extract(&line.text, 1).links);
    assert_eq!(got, all);
}

#[test]
fn long_html_line_of_values_never_found_in_the_source() {
    // `&#47;` spells `/`: the decoded value is nowhere in the source. Every
    // link is still reported, on its line; the search budget keeps this
    // from reading the rest of the line for each one.
    let text: String = (0..N)
        .map(|i| format!("<img src=\"http:&#47;&#47;a.cn&#47;{i}.jpg\">"))
        .collect();
    let got = positions(HtmlExtractor.extract(&text, 1).links);
    assert_eq!(got.len(), N);
    assert_eq!(got[N - 1].0, format!("http://a.cn/{}.jpg", N - 1));
    assert!(got.iter().all(|l| l.2 == 1));
}
