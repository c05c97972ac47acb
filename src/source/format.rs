//! Format detection and headers.
//!
//! Archived articles rarely have honest extensions (the seeds are all
//! `.txt`), so the format is read from the content first and the extension
//! only breaks ties. A document is one of three body formats (Markdown,
//! HTML, plain text) with one of these headers:
//!
//! * YAML front matter between `---` lines (Hugo, Hexo, Jekyll),
//! * TOML front matter between `+++` lines (Hugo),
//! * a `key: value` block such as `标题:` / `发布日期:` / `正文内容:`,
//! * a bare first line that reads like a title,
//! * none.
//!
//! The header gives the title, the date and, when present, the article's
//! original address (`url`, `source`, `canonical`, `来源`, …), which the
//! resolve stage uses as the base URL.

mod guard;
mod simple_yaml;

use serde::Serialize;
use yaml_rust2::{Yaml, YamlLoader};

/// The body's markup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Markdown,
    Html,
    Text,
    Unknown,
}

/// The header style found at the top of the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum HeaderStyle {
    Yaml,
    Toml,
    KeyValue,
    FirstLine,
    Html,
    #[default]
    None,
}

/// What the header says about the article.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Header {
    pub style: HeaderStyle,
    pub title: Option<String>,
    pub date: Option<String>,
    /// The article's original address, if the header gives an absolute one.
    pub source_url: Option<String>,
    /// 1-based line of the source address in the file.
    pub source_line: Option<usize>,
}

/// The result of [`parse`].
#[derive(Debug)]
pub struct Parsed {
    pub format: Format,
    pub header: Header,
    /// Byte offset where the body starts.
    pub body_start: usize,
    /// 1-based line number of the body's first line.
    pub body_line: usize,
    pub notes: Vec<String>,
    /// Why the document cannot be scanned at all (hostile front matter).
    pub error: Option<String>,
}

/// Keys whose value is the article's original address.
const SOURCE_KEYS: &[&str] = &[
    "url",
    "source",
    "source_url",
    "canonical",
    "canonical_url",
    "original",
    "original_url",
    "link",
    "来源",
    "原文链接",
    "原文地址",
    "链接",
];
const TITLE_KEYS: &[&str] = &["title", "标题", "题目"];
const DATE_KEYS: &[&str] = &[
    "date",
    "published",
    "pubdate",
    "发布日期",
    "日期",
    "发布时间",
    "时间",
];
/// A key-value line that ends the header and starts the body.
const BODY_KEYS: &[&str] = &["正文内容", "正文", "content", "body"];

/// Detects the format and splits the header from the body.
pub fn parse(text: &str, extension: &str) -> Parsed {
    let mut notes = Vec::new();
    let trimmed_start = text.len() - text.trim_start_matches(['\u{feff}', '\n', '\r']).len();
    let head = &text[trimmed_start..];
    for (fence, style) in [("---", HeaderStyle::Yaml), ("+++", HeaderStyle::Toml)] {
        if let Some((raw, end)) = fenced_block(head, fence) {
            let first_line = line_of(text, trimmed_start) + 1;
            let mut error = None;
            let mut header = match style {
                HeaderStyle::Yaml => match simple_yaml::entries(raw) {
                    // The common shape, read without yaml_rust2 (see
                    // `simple_yaml`); the same entries the loader gives.
                    Some(entries) => yaml_entries_header(entries, raw, first_line),
                    None => match guard::check(raw) {
                        Ok(()) => yaml_header(raw, first_line, &mut notes),
                        Err(r) => {
                            // `first_line` is the first line of `raw`, below the opening `---`.
                            error = Some(format!(
                            "{} (front matter opened at line {}, refused at line {}); not scanned",
                            r.reason,
                            first_line - 1,
                            first_line - 1 + r.line
                        ));
                            Header::default()
                        }
                    },
                },
                _ => toml_header(raw, first_line, &mut notes),
            };
            header.style = style;
            let body_start = trimmed_start + end;
            let format = body_format(&text[body_start..], extension, Format::Markdown);
            return Parsed {
                format,
                header,
                body_start,
                body_line: line_of(text, body_start),
                notes,
                error,
            };
        }
    }
    if looks_html(head, extension) {
        return Parsed {
            format: Format::Html,
            header: Header {
                style: HeaderStyle::Html,
                ..Header::default()
            },
            body_start: 0,
            body_line: 1,
            notes,
            error: None,
        };
    }
    if let Some((header, body_start)) = key_value_header(text) {
        return Parsed {
            format: body_format(&text[body_start..], extension, Format::Text),
            header,
            body_start,
            body_line: line_of(text, body_start),
            notes,
            error: None,
        };
    }
    let header = first_line_title(text);
    Parsed {
        format: body_format(text, extension, Format::Text),
        header,
        body_start: 0,
        body_line: 1,
        notes,
        error: None,
    }
}

/// 1-based line number of byte `offset`.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// If `text` opens with a `fence` line, the block's content and the byte
/// offset just past the closing fence line.
fn fenced_block<'a>(text: &'a str, fence: &str) -> Option<(&'a str, usize)> {
    let first_end = text.find('\n')?;
    if text[..first_end].trim_end() != fence {
        return None;
    }
    let mut pos = first_end + 1;
    while pos <= text.len() {
        let end = text[pos..].find('\n').map_or(text.len(), |i| pos + i);
        let line = text[pos..end].trim_end();
        if line == fence || (fence == "---" && line == "...") {
            return Some((&text[first_end + 1..pos], (end + 1).min(text.len())));
        }
        if end == text.len() {
            break;
        }
        pos = end + 1;
    }
    None
}

fn body_format(body: &str, extension: &str, default: Format) -> Format {
    match extension {
        "md" | "markdown" | "mdown" => return Format::Markdown,
        "html" | "htm" | "xhtml" => return Format::Html,
        _ => {}
    }
    if default == Format::Markdown {
        return Format::Markdown;
    }
    // Markdown link or image syntax anywhere makes it Markdown; plain text
    // parsed as Markdown loses nothing the text extractor would find.
    // So does HTML markup (`<img src>`, `<a href>`): the Markdown parser
    // hands it to the HTML extractor, which plain text would not.
    if has_markup(body) {
        Format::Markdown
    } else {
        Format::Text
    }
}

/// True when `body` holds `](`, `]: `, `<http` or one of the HTML tags
/// below. One pass over the body that stops only at `]` and `<` (with
/// `memchr`), where nine `contains` calls read the whole body nine times
/// (1.6 % of an offline check's instructions).
fn has_markup(body: &str) -> bool {
    const AFTER_LT: [&[u8]; 7] = [
        b"http", b"img ", b"a ", b"picture", b"video", b"source ", b"link ",
    ];
    let bytes = body.as_bytes();
    memchr::memchr2_iter(b']', b'<', bytes).any(|i| {
        let rest = &bytes[i + 1..];
        if bytes[i] == b']' {
            rest.starts_with(b"(") || rest.starts_with(b": ")
        } else {
            AFTER_LT.iter().any(|t| rest.starts_with(t))
        }
    })
}

fn looks_html(head: &str, extension: &str) -> bool {
    if matches!(extension, "html" | "htm" | "xhtml") {
        return true;
    }
    // Within the first 512 characters, after leading white space, without
    // copying them to lower-case first (that copy was 1.9 % of an offline
    // check).
    const WINDOW: usize = 512;
    let rest = head.trim_start();
    let space = head[..head.len() - rest.len()].chars().count();
    ["<!doctype html", "<html", "<head"].iter().any(|tag| {
        space + tag.len() <= WINDOW
            && rest
                .as_bytes()
                .get(..tag.len())
                .is_some_and(|b| b.eq_ignore_ascii_case(tag.as_bytes()))
    })
}

fn yaml_header(raw: &str, first_line: usize, notes: &mut Vec<String>) -> Header {
    let docs = match YamlLoader::load_from_str(raw) {
        Ok(docs) => docs,
        Err(e) => {
            let m = e.marker();
            notes.push(format!(
                "front matter is not valid YAML at line {}: {}",
                (first_line + m.line()).saturating_sub(1),
                e.info()
            ));
            return Header::default();
        }
    };
    let Some(Yaml::Hash(map)) = docs.into_iter().next() else {
        return Header::default();
    };
    let entries = map
        .into_iter()
        .filter_map(|(key, value)| Some((key.into_string()?, value)));
    yaml_entries_header(entries, raw, first_line)
}

/// The header of a YAML mapping's entries (string keys), in order.
fn yaml_entries_header<K: AsRef<str>>(
    entries: impl IntoIterator<Item = (K, Yaml)>,
    raw: &str,
    first_line: usize,
) -> Header {
    let mut header = Header::default();
    for (key, value) in entries {
        if let Some(value) = yaml_scalar(&value) {
            assign(&mut header, key.as_ref(), value, raw, first_line);
        }
    }
    header
}

fn yaml_scalar(value: &Yaml) -> Option<String> {
    match value {
        Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        _ => None,
    }
}

fn toml_header(raw: &str, first_line: usize, notes: &mut Vec<String>) -> Header {
    let table: toml::Table = match raw.parse() {
        Ok(t) => t,
        Err(e) => {
            notes.push(format!(
                "front matter is not valid TOML (it starts at line {first_line}): {e}"
            ));
            return Header::default();
        }
    };
    let mut header = Header::default();
    for (key, value) in table {
        let value = match value {
            toml::Value::String(s) => s,
            toml::Value::Datetime(d) => d.to_string(),
            _ => continue,
        };
        assign(&mut header, &key, value, raw, first_line);
    }
    header
}

/// Stores one header field if `key` is one we understand.
fn assign(header: &mut Header, key: &str, value: String, raw: &str, first_line: usize) {
    let key_lc = key.trim().to_lowercase();
    let value = value.trim().to_string();
    if value.is_empty() {
        return;
    }
    if TITLE_KEYS.contains(&key_lc.as_str()) && header.title.is_none() {
        header.title = Some(value);
    } else if DATE_KEYS.contains(&key_lc.as_str()) && header.date.is_none() {
        header.date = Some(clean_date(&value));
    } else if SOURCE_KEYS.contains(&key_lc.as_str())
        && header.source_url.is_none()
        && is_absolute_http(&value)
    {
        header.source_line = raw
            .lines()
            .position(|l| l.contains(&value))
            .map(|i| first_line + i);
        header.source_url = Some(value);
    }
}

fn is_absolute_http(value: &str) -> bool {
    url::Url::parse(value).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
}

/// Strips labels such as `日期：` that scrapers left inside date values,
/// keeping the date and time as written.
pub fn clean_date(value: &str) -> String {
    let start = value.find(|c: char| c.is_ascii_digit()).unwrap_or(0);
    value[start..].trim().to_string()
}

/// Parses a `key: value` header (`标题: …`, `发布日期: …`, `正文内容:`).
/// Returns the header and the byte offset where the body starts, or `None`
/// if the document does not open with such a block.
fn key_value_header(text: &str) -> Option<(Header, usize)> {
    let mut header = Header {
        style: HeaderStyle::KeyValue,
        ..Header::default()
    };
    let mut known = 0;
    let mut pos = 0;
    let mut line_no = 0;
    for line in text.split_inclusive('\n') {
        line_no += 1;
        let content = line.trim_end();
        let Some((key, value)) = split_key_value(content) else {
            break;
        };
        let key_lc = key.to_lowercase();
        if BODY_KEYS.contains(&key_lc.as_str()) {
            // The body starts right after the label, on the same line.
            let label_end = pos + line.find(value).unwrap_or(line.len());
            if known == 0 {
                return None;
            }
            return Some((
                header,
                if value.is_empty() {
                    pos + line.len()
                } else {
                    label_end
                },
            ));
        }
        if TITLE_KEYS.contains(&key_lc.as_str())
            || DATE_KEYS.contains(&key_lc.as_str())
            || SOURCE_KEYS.contains(&key_lc.as_str())
        {
            known += 1;
        }
        assign(&mut header, key, value.to_string(), content, line_no);
        pos += line.len();
    }
    (known >= 2).then_some((header, pos))
}

/// `key: value` or `key：value` with a short key and no spaces in it.
fn split_key_value(line: &str) -> Option<(&str, &str)> {
    let idx = line.find([':', '：'])?;
    let key = line[..idx].trim();
    let sep_len = line[idx..].chars().next()?.len_utf8();
    let value = line[idx + sep_len..].trim();
    let short = !key.is_empty() && key.chars().count() <= 20 && !key.contains(char::is_whitespace);
    // `http://…` is a URL, not a key.
    (short && !value.starts_with("//")).then_some((key, value))
}

/// A plain-text article whose first line is short and unpunctuated is
/// taken to be titled by it.
fn first_line_title(text: &str) -> Header {
    let first = text.lines().map(str::trim).find(|l| !l.is_empty());
    let title = first.filter(|l| {
        let n = l.chars().count();
        (2..=120).contains(&n)
            && !l.ends_with(['。', '.', '；', ';', '，'])
            && !l.contains("://")
            && !l.starts_with(['<', '#', '!', '['])
    });
    Header {
        style: if title.is_some() {
            HeaderStyle::FirstLine
        } else {
            HeaderStyle::None
        },
        title: title.map(str::to_string),
        ..Header::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_front_matter() {
        let t = "---\ntitle: Hello\ndate: 2022-04-01 01:22:33\nurl: https://example.org/a.html\ntags:\n- x\n---\nbody ![](a.jpg)\n";
        let p = parse(t, "txt");
        assert_eq!(p.format, Format::Markdown);
        assert_eq!(p.header.title.as_deref(), Some("Hello"));
        assert_eq!(p.header.date.as_deref(), Some("2022-04-01 01:22:33"));
        assert_eq!(
            p.header.source_url.as_deref(),
            Some("https://example.org/a.html")
        );
        assert_eq!(p.header.source_line, Some(4));
        assert_eq!(p.body_line, 8);
        assert!(t[p.body_start..].starts_with("body"));
    }

    #[test]
    fn toml_front_matter() {
        let t = "+++\ntitle = \"T\"\ndate = 2020-01-02\n+++\ntext\n";
        let p = parse(t, "md");
        assert_eq!(p.header.style, HeaderStyle::Toml);
        assert_eq!(p.header.title.as_deref(), Some("T"));
        assert_eq!(p.header.date.as_deref(), Some("2020-01-02"));
    }

    #[test]
    fn key_value_header_with_body_label() {
        let t = "标题: 会议召开\n发布日期: 日期：2021-09-18 22:24\n浏览次数: 2961\n正文内容: 第一段\n第二段\n";
        let p = parse(t, "txt");
        assert_eq!(p.header.style, HeaderStyle::KeyValue);
        assert_eq!(p.header.title.as_deref(), Some("会议召开"));
        assert_eq!(p.header.date.as_deref(), Some("2021-09-18 22:24"));
        assert!(t[p.body_start..].starts_with("第一段"));
        assert_eq!(p.body_line, 4);
        assert_eq!(p.format, Format::Text);
    }

    #[test]
    fn broken_yaml_is_a_note_not_a_failure() {
        let p = parse("---\ntitle: [unclosed\n---\nbody\n", "md");
        assert_eq!(p.format, Format::Markdown);
        assert!(p.notes[0].contains("not valid YAML"), "{:?}", p.notes);
    }

    #[test]
    fn markup_is_found_as_by_nine_searches() {
        let old = |body: &str| {
            let tags = ["<img ", "<a ", "<picture", "<video", "<source ", "<link "];
            body.contains("](")
                || body.contains("]: ")
                || body.contains("<http")
                || tags.iter().any(|t| body.contains(t))
        };
        for body in [
            "plain text",
            "[a](b)",
            "[a]: http://x",
            "[a]:x",
            "a ] ( b",
            "see <http://a.cn>",
            "<img src=x>",
            "<a href=x>",
            "<abbr>",
            "<picture>",
            "<video src=x>",
            "<source src=x>",
            "<sourcex",
            "<link rel=x>",
            "<linked",
            "中文]",
            "中文<",
            "]",
            "<",
        ] {
            assert_eq!(has_markup(body), old(body), "{body:?}");
        }
    }

    #[test]
    fn html_is_known_by_its_first_512_characters() {
        let old = |head: &str| {
            let start: String = head.chars().take(512).collect::<String>();
            let start = start.to_ascii_lowercase();
            let start = start.trim_start();
            start.starts_with("<!doctype html")
                || start.starts_with("<html")
                || start.starts_with("<head")
        };
        let pad = |n: usize, s: &str| format!("{}{s}", "\u{3000}".repeat(n));
        for head in [
            "<!DOCTYPE HTML><html>".to_string(),
            " \n\t<Html lang=zh>".to_string(),
            "<HEAD>".to_string(),
            "<header>".to_string(),
            "<h".to_string(),
            "text <html>".to_string(),
            pad(507, "<html>"),
            pad(508, "<html>"),
            pad(498, "<!doctype html>"),
            pad(499, "<!doctype html>"),
            pad(600, "<html>"),
        ] {
            assert_eq!(looks_html(&head, "txt"), old(&head), "{head:?}");
        }
    }

    #[test]
    fn html_by_content() {
        let p = parse("<!DOCTYPE html><html><body></body></html>", "txt");
        assert_eq!(p.format, Format::Html);
    }
}
