//! Two URL corpora through the whole offline pipeline: healthy real-world
//! shapes that must never be called `truncated`, and cut URLs that must be,
//! each with its own reason. Both are written out as articles (Markdown,
//! HTML and, for the healthy ones, plain text) and checked by the binary.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{check_json, fixture, links_of};
use serde_json::Value;

/// The page the articles were published at: a base for relative links.
const PAGE: &str = "https://news.example.edu.cn/info/1002/12345.htm";

/// The non-comment lines of a fixture, split at tabs.
fn rows(name: &str) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(fixture(&format!("diagnose/{name}"))).unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

/// (kind, url) of the healthy corpus.
fn healthy() -> Vec<(String, String)> {
    rows("healthy_urls.txt")
        .into_iter()
        .map(|r| {
            assert_eq!(r.len(), 2, "bad line {r:?}");
            assert!(r[0] == "image" || r[0] == "page", "bad kind {r:?}");
            (r[0].clone(), r[1].clone())
        })
        .collect()
}

/// (reason, url, kind) of the truncated corpus.
fn truncated() -> Vec<(String, String, String)> {
    rows("truncated_urls.txt")
        .into_iter()
        .map(|r| {
            assert_eq!(r.len(), 3, "bad line {r:?}");
            assert!(r[2] == "image" || r[2] == "page", "bad kind {r:?}");
            (r[0].clone(), r[1].clone(), r[2].clone())
        })
        .collect()
}

fn markdown(entries: &[(String, String)]) -> String {
    let mut out = format!("---\ntitle: 图片与链接\nurl: {PAGE}\n---\n正文。\n\n");
    for (kind, url) in entries {
        if kind == "image" {
            out += &format!("![图]({url})\n\n");
        } else {
            out += &format!("[链接]({url})\n\n");
        }
    }
    out
}

fn html(entries: &[(String, String)]) -> String {
    let mut out = format!(
        "<!DOCTYPE html>\n<html>\n<head>\n<base href=\"{PAGE}\">\n<title>图片与链接</title>\n</head>\n<body>\n"
    );
    for (kind, url) in entries {
        let url = url
            .replace('&', "&amp;")
            .replace('"', "&quot;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        if kind == "image" {
            out += &format!("<p><img src=\"{url}\" alt=\"图\"></p>\n");
        } else {
            out += &format!("<p><a href=\"{url}\">链接</a></p>\n");
        }
    }
    out + "</body>\n</html>\n"
}

/// Bare URLs, one a line with spaces around, so that no extractor has to
/// decide where prose ends and the URL begins.
fn text(entries: &[(String, String)]) -> String {
    let mut out = String::from("图片与链接\n\n");
    for (_, url) in entries {
        out += &format!("  {url}  \n");
    }
    out
}

/// Writes `articles` (file name, body) to `dir` and checks them offline.
fn check(dir: &Path, articles: &[(&str, String)]) -> Value {
    for (name, body) in articles {
        std::fs::write(dir.join(name), body).unwrap();
    }
    check_json(&[dir]).1
}

/// URLs written but not found, and found but not written.
fn mismatch(expected: &[&str], links: &[&Value]) -> (Vec<String>, Vec<String>) {
    let mut count: BTreeMap<String, i64> = BTreeMap::new();
    for u in expected {
        *count.entry(u.to_string()).or_default() += 1;
    }
    for l in links {
        *count
            .entry(l["url"].as_str().unwrap().to_string())
            .or_default() -= 1;
    }
    let missing = count
        .iter()
        .filter(|(_, &n)| n > 0)
        .map(|(u, _)| u.clone())
        .collect();
    let extra = count
        .iter()
        .filter(|(_, &n)| n < 0)
        .map(|(u, _)| u.clone())
        .collect();
    (missing, extra)
}

#[test]
fn healthy_corpus_is_never_truncated() {
    let entries = healthy();
    assert!(entries.len() >= 200, "{} healthy URLs", entries.len());
    let mut seen = std::collections::HashSet::new();
    for (_, u) in &entries {
        assert!(seen.insert(u), "{u} is listed twice");
    }
    // Bare text has no syntax for a protocol-relative URL, and prose
    // cannot tell a trailing `?`, a `|` or an IPv6 `[…]` from the sentence.
    let absolute: Vec<(String, String)> = entries
        .iter()
        .filter(|(_, u)| u.starts_with("http") && !u.ends_with('?') && !u.contains(['|', '[']))
        .cloned()
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let articles = [
        ("healthy.md", markdown(&entries), &entries),
        ("healthy.html", html(&entries), &entries),
        ("healthy.txt", text(&absolute), &absolute),
    ];
    let report = check(
        dir.path(),
        &articles
            .iter()
            .map(|(n, b, _)| (*n, b.clone()))
            .collect::<Vec<_>>(),
    );
    let mut offenders = Vec::new();
    let mut exploded = Vec::new();
    for (name, _, written) in &articles {
        let links: Vec<&Value> = links_of(&report, name)
            .into_iter()
            .filter(|l| l["kind"] != "source")
            .collect();
        let expected: Vec<&str> = written.iter().map(|(_, u)| u.as_str()).collect();
        let (missing, extra) = mismatch(&expected, &links);
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{name}: {} written, {} extracted\nmissing: {missing:#?}\nextra: {extra:#?}",
            expected.len(),
            links.len()
        );
        for l in &links {
            let line = format!(
                "{name}: {} ({} {}: {})",
                l["url"].as_str().unwrap(),
                l["kind"].as_str().unwrap(),
                l["reason"].as_str().unwrap_or(""),
                l["message"].as_str().unwrap_or("")
            );
            if l["reason"] == "exploded_url" {
                exploded.push(line);
            } else if l["status"] == "truncated" {
                offenders.push(line);
            }
        }
    }
    println!(
        "{} healthy URLs in 3 articles ({} in the text one): {} called truncated",
        entries.len(),
        absolute.len(),
        offenders.len() + exploded.len()
    );
    assert!(
        offenders.is_empty(),
        "{} healthy links called truncated:\n{}",
        offenders.len(),
        offenders.join("\n")
    );
    assert!(
        exploded.is_empty(),
        "{} healthy links folded into an exploded URL:\n{}",
        exploded.len(),
        exploded.join("\n")
    );
}

#[test]
fn truncated_corpus_has_the_right_reasons() {
    let entries = truncated();
    assert!(entries.len() >= 50, "{} cut URLs", entries.len());
    for reason in [
        "cut_percent_escape",
        "cut_host",
        "site_root",
        "folder_as_media",
        "single_char_segment",
        "cut_extension",
    ] {
        let n = entries.iter().filter(|(r, _, _)| r == reason).count();
        assert!(n >= 5, "only {n} examples of {reason}");
    }
    let written: Vec<(String, String)> = entries
        .iter()
        .map(|(_, u, k)| (k.clone(), u.clone()))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let report = check(
        dir.path(),
        &[("cut.md", markdown(&written)), ("cut.html", html(&written))],
    );
    let mut wrong = Vec::new();
    for name in ["cut.md", "cut.html"] {
        let links: Vec<&Value> = links_of(&report, name)
            .into_iter()
            .filter(|l| l["kind"] != "source")
            .collect();
        let expected: Vec<&str> = entries.iter().map(|(_, u, _)| u.as_str()).collect();
        let (missing, extra) = mismatch(&expected, &links);
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{name}: missing {missing:#?}\nextra {extra:#?}"
        );
        for (reason, url, kind) in &entries {
            let l = links.iter().find(|l| l["url"] == url.as_str()).unwrap();
            if l["status"] != "truncated" || l["reason"] != reason.as_str() {
                wrong.push(format!(
                    "{name}: {url} ({kind}): want truncated/{reason}, got {}/{} ({})",
                    l["status"].as_str().unwrap_or(""),
                    l["reason"].as_str().unwrap_or(""),
                    l["message"].as_str().unwrap_or("")
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} cut links misreported:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
