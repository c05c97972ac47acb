//! Plain text: bare URLs (found by `linkify`, which knows where a URL ends
//! in running prose) and bare media file names such as
//! `微信图片_20231109112859.png` that scrapers leave when they drop the
//! `<img>` around a picture.
//!
//! The same scanner serves the text nodes of Markdown and HTML.

use std::sync::OnceLock;

use linkify::{LinkFinder, LinkKind as LinkifyKind};
use regex::Regex;

use super::{is_media_extension, kind_by_extension, Extracted, Extractor, LineIndex, RawLink};
use crate::extract::LinkKind;

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

/// Full-width punctuation that follows a URL in Chinese prose.
const CJK_CLOSERS: &[char] = &[
    '。', '，', '、', '；', '：', '！', '？', '）', '」', '』', '】', '》', '〉', '”', '’', '…',
];

/// Finds bare URLs and media file names in `text`, which starts at byte
/// `offset` of the text `index` was built on, and appends them to `out`.
pub fn scan_text(text: &str, offset: usize, index: &LineIndex, out: &mut Vec<RawLink>) {
    let mut finder = LinkFinder::new();
    finder.kinds(&[LinkifyKind::Url]);
    let mut taken: Vec<(usize, usize)> = Vec::new();
    for link in finder.links(text) {
        // linkify keeps CJK punctuation that ends a sentence; a URL never does.
        let url = link.as_str().trim_end_matches(CJK_CLOSERS);
        let (line, column) = index.locate(offset + link.start());
        taken.push((link.start(), link.start() + url.len()));
        out.push(RawLink {
            url: url.to_string(),
            kind: kind_by_extension(url).unwrap_or(LinkKind::Page),
            syntax: "bare_url",
            line,
            column,
            text: None,
        });
    }
    for m in file_name_pattern().captures_iter(text) {
        let (whole, ext) = (m.get(0).expect("group 0"), m.get(1).expect("group 1"));
        if !is_media_extension(ext.as_str())
            || taken
                .iter()
                .any(|&(s, e)| whole.start() < e && s < whole.end())
            || text[whole.end()..].starts_with(|c: char| c.is_ascii_alphanumeric())
            || text[..whole.start()].ends_with(['@', ':', '/'])
        {
            continue;
        }
        // A leading `.` or `/` run belongs to the sentence, not the name,
        // unless it is a relative path such as `./a.jpg` or `/img/a.jpg`.
        let name = whole.as_str().trim_start_matches('.');
        let start = whole.end() - name.len();
        let (line, column) = index.locate(offset + start);
        out.push(RawLink {
            url: name.to_string(),
            kind: kind_by_extension(name).unwrap_or(LinkKind::Media),
            syntax: "bare_file_name",
            line,
            column,
            text: None,
        });
    }
    out.sort_by_key(|l| (l.line, l.column));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(text: &str) -> Vec<(String, &'static str, usize, usize)> {
        TextExtractor
            .extract(text, 1)
            .links
            .into_iter()
            .map(|l| (l.url, l.syntax, l.line, l.column))
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
    fn name_followed_by_cjk_is_found() {
        let got = urls("图片a013bc.jpg学校");
        assert_eq!(got.len(), 1);
        assert!(got[0].0.ends_with("a013bc.jpg"));
    }
}
