//! Hostile YAML front matter (alias expansion, size, nesting) makes an
//! `error` document with a message naming the file and line; it neither
//! crashes the run nor costs the rest of the corpus.

mod common;

use std::time::{Duration, Instant};

use common::{check_json, document, fixture, links_of};
use serde_json::Value;

const SEED: &str = "000_9f14297dde64cb40.txt";

/// Nine levels of nine aliases each: 9^9 (387 million) leaves once expanded.
fn billion_laughs() -> String {
    let mut y = String::from("---\ntitle: lol\na: &a [l,l,l,l,l,l,l,l,l]\n");
    for (prev, name) in "abcdefgh".chars().zip("bcdefghi".chars()) {
        let refs = vec![format!("*{prev}"); 9].join(",");
        y.push_str(&format!("{name}: &{name} [{refs}]\n"));
    }
    y.push_str("---\nbody ![](http://example.org/x.jpg)\n");
    y
}

fn urls(report: &Value, name: &str) -> Vec<String> {
    let mut v: Vec<String> = links_of(report, name)
        .iter()
        .map(|l| format!("{} {} {}", l["kind"], l["url"], l["line"]))
        .collect();
    v.sort();
    v
}

#[test]
fn hostile_front_matter_is_an_error_document() {
    let laughs = billion_laughs();
    assert!(laughs.len() < 400, "{} bytes", laughs.len());
    let huge = format!(
        "---\ntitle: big\ndescription: {}\n---\nbody\n",
        "x".repeat(70 * 1024)
    );
    let deep_flow = format!(
        "---\ntitle: deep\nk: {}{}\n---\nbody\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    // Under the size bound: only the nesting bound stops it.
    let deep_flow_small = format!(
        "---\ntitle: deep\nk: {}{}\n---\nbody\n",
        "[".repeat(20_000),
        "]".repeat(20_000)
    );
    let deep_block = format!(
        "---\ntitle: deep\nk:\n{}x\n---\nbody\n",
        "- ".repeat(20_000)
    );
    let hostile = [
        ("laughs.md", laughs.as_str(), "aliases", 7),
        ("huge.md", huge.as_str(), "bytes", 2),
        // 200 kB: the size bound stops it before the parser sees it.
        ("deep_flow.md", deep_flow.as_str(), "bytes", 2),
        ("deep_flow_small.md", deep_flow_small.as_str(), "nests", 3),
        ("deep_block.md", deep_block.as_str(), "nests", 4),
    ];

    let dir = tempfile::tempdir().unwrap();
    for (name, text, _, _) in &hostile {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let seed = std::fs::read(fixture("seeds").join(SEED)).unwrap();
    std::fs::write(dir.path().join(SEED), &seed).unwrap();
    let alone = tempfile::tempdir().unwrap();
    std::fs::write(alone.path().join(SEED), &seed).unwrap();

    let started = Instant::now();
    let (code, report) = check_json(&[dir.path()]);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(code == 0 || code == 1, "exit code {code}");

    for (name, _, what, line) in &hostile {
        let doc = document(&report, name);
        assert_eq!(doc["status"], "error", "{name}: {doc}");
        let error = doc["error"].as_str().unwrap_or_else(|| panic!("{doc}"));
        assert!(error.contains(name), "{error}");
        assert!(error.contains(what), "{error}");
        assert!(error.contains("line 1,"), "{error}");
        assert!(
            error.contains(&format!("refused at line {line}")),
            "{name}: {error}"
        );
        assert!(links_of(&report, name).is_empty(), "{name}");
    }

    // The seed is scanned as if it were alone.
    let (_, alone_report) = check_json(&[alone.path()]);
    assert_eq!(document(&report, SEED)["status"], "ok");
    let seed_links = urls(&report, SEED);
    assert!(!seed_links.is_empty());
    assert_eq!(seed_links, urls(&alone_report, SEED));
}
