//! One fixture per extractor and the error paths: each finds what it
//! should, with lines, and one bad file never stops the scan.

mod common;

use common::{archive, check_json, document, fixture, links_of};
use serde_json::Value;

fn urls(links: &[&Value]) -> Vec<(String, String, u64)> {
    links
        .iter()
        .map(|l| {
            (
                l["url"].as_str().unwrap().to_string(),
                l["syntax"].as_str().unwrap().to_string(),
                l["line"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn has(links: &[&Value], url: &str, syntax: &str, line: u64) -> bool {
    urls(links).contains(&(url.to_string(), syntax.to_string(), line))
}

#[test]
fn reference_style_markdown() {
    let (_, r) = check_json(&[&fixture("extract/reference.md")]);
    let links = links_of(&r, "reference.md");
    assert!(has(
        &links,
        "/pic/campus.jpg",
        "markdown_reference_image",
        5
    ));
    assert!(has(
        &links,
        "https://cdn.example.org/logo.svg",
        "markdown_reference_image",
        6
    ));
    assert!(has(&links, "../gallery/", "markdown_reference_link", 6));
    assert!(has(&links, "img/inline.png", "markdown_image", 8));
    assert!(has(
        &links,
        "https://example.org/autolinked.pdf",
        "markdown_autolink",
        10
    ));
    let campus = links
        .iter()
        .find(|l| l["url"] == "/pic/campus.jpg")
        .unwrap();
    assert_eq!(
        campus["resolved"],
        "https://news.example.edu.cn/pic/campus.jpg"
    );
    assert_eq!(document(&r, "reference.md")["base_origin"], "header");
}

#[test]
fn html_picture_srcset_media_and_css() {
    let (_, r) = check_json(&[&fixture("extract/page.html")]);
    let links = links_of(&r, "page.html");
    for (url, syntax, line) in [
        ("hero-480.webp", "html_srcset", 11),
        ("hero-960.webp", "html_srcset", 11),
        ("hero.jpg", "html_img", 12),
        ("hero@2x.jpg", "html_srcset", 12),
        ("poster.jpg", "html_poster", 14),
        ("clip.mp4", "html_media_source", 15),
        ("clip.webm", "html_media_source", 16),
        ("/audio/talk.mp3", "html_media", 18),
        ("/bg/body.png", "css_url", 9),
        ("tile.gif", "css_url", 19),
        ("https://www.example.com/report.pdf", "bare_url", 20),
        ("https://www.example.com/og.jpg", "html_meta", 6),
    ] {
        assert!(
            has(&links, url, syntax, line),
            "{url} {syntax} {line} in {:#?}",
            urls(&links)
        );
    }
    let kind = |u: &str| links.iter().find(|l| l["url"] == u).unwrap()["kind"].clone();
    assert_eq!(kind("clip.mp4"), "media");
    assert_eq!(kind("hero-480.webp"), "image");
    assert_eq!(
        kind("https://www.example.com/news/2024/page.html"),
        "source"
    );
    let data = links
        .iter()
        .find(|l| l["url"].as_str().unwrap().starts_with("data:"))
        .unwrap();
    assert_eq!(
        (data["status"].as_str(), data["reason"].as_str()),
        (Some("skipped"), Some("data_uri"))
    );
    let mail = links
        .iter()
        .find(|l| l["url"] == "mailto:press@example.com")
        .unwrap();
    assert_eq!(mail["reason"], "unsupported_scheme");
    let doc = document(&r, "page.html");
    assert_eq!(doc["title"], "Picture, srcset and CSS");
    assert_eq!(doc["date"], "2024-05-06");
}

#[test]
fn gbk_text_is_decoded() {
    let (_, r) = check_json(&[&fixture("extract/gbk.txt")]);
    let doc = document(&r, "gbk.txt");
    assert_eq!(doc["encoding"], "GBK");
    assert_eq!(doc["title"], "中文编码测试");
    let links = links_of(&r, "gbk.txt");
    let name = links
        .iter()
        .find(|l| l["url"] == "photo_2020.jpg")
        .expect("bare name");
    assert_eq!(
        name["resolved"],
        "http://www.example.cn/news/2020/photo_2020.jpg"
    );
    assert_eq!(name["line"], 5);
    assert!(has(
        &links,
        "http://www.example.cn/pic/a.png",
        "bare_url",
        5
    ));
}

#[test]
fn forwards_exploded_url_in_html() {
    let (code, r) = check_json(&[&fixture("extract/exploded_forward.html")]);
    assert_eq!(code, 1);
    let f = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "exploded_url")
        .unwrap();
    assert_eq!(
        f["suggestions"][0]["url"],
        "https://img.example.org/photos/2021/campus_view.jpg"
    );
    assert!(f["message"].as_str().unwrap().contains("forwards"));
    let target = "https://img.example.org/photos/2021/campus_view.jpg";
    assert_eq!(f["links"].as_array().unwrap().len(), target.len());
}

#[test]
fn malformed_urls_carry_the_parse_error() {
    let (code, r) = check_json(&[&fixture("extract/malformed.md")]);
    assert_eq!(code, 1);
    let links = links_of(&r, "malformed.md");
    let get = |u: &str| *links.iter().find(|l| l["url"] == u).unwrap();
    let host = get("http://[::1/broken.jpg");
    assert_eq!(
        (host["status"].as_str(), host["reason"].as_str()),
        (Some("broken"), Some("malformed_url"))
    );
    assert!(
        host["message"].as_str().unwrap().contains("invalid IPv6"),
        "{host}"
    );
    assert_eq!(
        get("http://example.com:99999/x.png")["reason"],
        "malformed_url"
    );
    assert_eq!(
        get("https://site.example.net/img/photo%2.jpg")["reason"],
        "cut_percent_escape"
    );
    assert_eq!(
        get("https://site.example.net/img/ok.jpg")["status"],
        "unchecked"
    );
}

#[test]
fn unreadable_and_binary_files_do_not_stop_the_scan() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        fixture("seeds/001_2f62085cd5636d82.txt"),
        dir.path().join("a.md"),
    )
    .unwrap();
    std::os::unix::fs::symlink("/nonexistent/article.md", dir.path().join("b.md")).unwrap();
    std::fs::write(dir.path().join("c.txt"), b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR").unwrap();
    std::fs::write(
        dir.path().join("d.md"),
        b"---\ntitle: [unclosed\n---\n![x](http://a.cn/x.jpg)\n",
    )
    .unwrap();
    let (_, r) = check_json(&[dir.path()]);
    let b = document(&r, "b.md");
    assert_eq!(b["status"], "error");
    assert!(b["error"].as_str().unwrap().contains("b.md"), "{b}");
    let c = document(&r, "c.txt");
    assert_eq!(c["status"], "skipped");
    assert!(c["error"].as_str().unwrap().contains("binary"));
    let d = document(&r, "d.md");
    assert_eq!(d["status"], "ok");
    assert!(
        d["notes"][0]
            .as_str()
            .unwrap()
            .contains("not valid YAML at line"),
        "{d}"
    );
    assert_eq!(links_of(&r, "d.md").len(), 1);
    assert_eq!(
        links_of(&r, "a.md").len(),
        4,
        "the good file is still scanned"
    );
    assert_eq!(r["summary"]["documents"]["error"], 1);
}

#[test]
fn missing_path_is_an_error_document() {
    let (_, r) = check_json(&[&fixture("nope/missing.md"), &fixture("extract/gbk.txt")]);
    let d = document(&r, "missing.md");
    assert_eq!(d["status"], "error");
    assert!(d["error"].as_str().unwrap().contains("cannot read file"));
    assert_eq!(document(&r, "gbk.txt")["status"], "ok");
}

#[test]
fn bad_config_key_exits_2_naming_key_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    std::fs::write(&cfg, "[corpus]\npaths = [\"x\"]\n\n[check]\nburts = 3\n").unwrap();
    let out = archive(&["--check", "--offline", "--config", cfg.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("burts") && err.contains("line 5") && err.contains("config.toml"),
        "{err}"
    );
}

#[test]
fn text_report_shows_the_run_as_one_line_and_exit_codes_hold() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("r.json");
    let report = report.to_str().unwrap();
    let out = archive(&[
        "--check",
        "--offline",
        "--report",
        report,
        fixture("seeds").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.matches("exploded").count(), 0, "{err}");
    assert_eq!(
        err.matches("66 links are the characters of one URL")
            .count(),
        1,
        "{err}"
    );
    assert!(
        err.contains("repair: http://news.nankai.edu.cn/pic/003/000/452/00300045245_41d76565.jpg")
    );
    // Worst first: 000 (truncated) before 003 (unresolvable).
    assert!(err.find("000_9f14").unwrap() < err.find("003_0591").unwrap());
    let written: Value = serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap();
    assert_eq!(written["summary"]["links"]["by_status"]["truncated"], 66);
    let clean = archive(&[
        "--check",
        "--offline",
        "--report",
        report,
        fixture("seeds/001_2f62085cd5636d82.txt").to_str().unwrap(),
    ]);
    assert_eq!(clean.status.code(), Some(0));
    let usage = archive(&["--check", "--bogus-flag"]);
    assert_eq!(usage.status.code(), Some(2));
}

#[test]
fn default_config_file_is_valid_and_scans_the_seeds() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_archive"))
        .current_dir(root)
        .args(["--check", "--offline", "--format", "json"])
        .output()
        .unwrap();
    let r: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(r["summary"]["documents"]["scanned"], 5);
    assert_eq!(r["config"]["path"], "config.toml");
}

#[test]
fn a_report_to_a_fifo_or_device_is_written_through_not_replaced() {
    use std::os::unix::fs::FileTypeExt;
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("report.fifo");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
    };
    let out = archive(&[
        "--check",
        "--offline",
        "--report",
        fifo.to_str().unwrap(),
        fixture("seeds").to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = reader.join().unwrap();
    let report: Value = serde_json::from_str(&text).expect("the report came through the FIFO");
    assert_eq!(report["summary"]["documents"]["scanned"], 5);
    assert!(
        std::fs::metadata(&fifo).unwrap().file_type().is_fifo(),
        "the FIFO is still a FIFO"
    );
}
