//! The five seed articles (copied from ../shared/seeds into
//! tests/fixtures/seeds) through the whole offline pipeline.

mod common;

use common::{check_json, document, fixture, links_of};
use serde_json::Value;

fn seeds() -> (i32, Value) {
    check_json(&[&fixture("seeds")])
}

#[test]
fn seed_001_has_three_images_with_lines_and_a_source() {
    let (_, report) = seeds();
    let links = links_of(&report, "001_2f62085cd5636d82.txt");
    let images: Vec<(&str, u64)> = links
        .iter()
        .filter(|l| l["kind"] == "image")
        .map(|l| (l["url"].as_str().unwrap(), l["line"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        images,
        vec![
            (
                "http://news.nankai.edu.cn/pic/003/000/281/00300028124_be763227.jpg",
                33
            ),
            (
                "http://news.nankai.edu.cn/pic/003/000/281/00300028123_a14c06f8.jpg",
                35
            ),
            (
                "http://news.nankai.edu.cn/pic/003/000/281/00300028122_dd2682a4.jpg",
                37
            ),
        ]
    );
    let source: Vec<_> = links.iter().filter(|l| l["kind"] == "source").collect();
    assert_eq!(source.len(), 1);
    assert_eq!(
        source[0]["url"],
        "http://news.nankai.edu.cn/ywsd/system/2019/11/13/030036368.shtml"
    );
    assert_eq!(source[0]["line"], 39);
    for l in &links {
        assert_eq!(l["status"], "unchecked", "{l}");
    }
}

#[test]
fn seed_000_exploded_run_is_one_finding_with_the_rebuilt_url() {
    let (code, report) = seeds();
    assert_eq!(code, 1, "truncated links make the check fail");
    let links = links_of(&report, "000_9f14297dde64cb40.txt");
    let run: Vec<_> = links
        .iter()
        .filter(|l| l["reason"] == "exploded_url")
        .collect();
    assert_eq!(run.len(), 66);
    assert!(run
        .iter()
        .all(|l| l["status"] == "truncated" && l["kind"] == "image"));
    let findings: Vec<_> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "exploded_url")
        .collect();
    assert_eq!(findings.len(), 1, "66 links, one finding");
    let f = findings[0];
    assert_eq!(f["links"].as_array().unwrap().len(), 66);
    assert_eq!(
        f["suggestions"][0]["url"],
        "http://news.nankai.edu.cn/pic/003/000/452/00300045245_41d76565.jpg"
    );
    assert_eq!(
        (f["line"].as_u64(), f["end_line"].as_u64()),
        (Some(26), Some(156))
    );
    let source: Vec<_> = links.iter().filter(|l| l["kind"] == "source").collect();
    assert_eq!(source.len(), 1);
    assert_eq!(source[0]["text"], "转入文章首发地址");
    assert_eq!(
        document(&report, "000_9f14297dde64cb40.txt")["source_url"],
        "http://news.nankai.edu.cn/ywsd/system/2022/03/25/030050717.shtml"
    );
}

#[test]
fn seed_003_bare_file_names_are_unresolvable() {
    let (_, report) = seeds();
    let links = links_of(&report, "003_0591dc163804ff0a.txt");
    let got: Vec<(&str, &str, &str)> = links
        .iter()
        .map(|l| {
            (
                l["url"].as_str().unwrap(),
                l["status"].as_str().unwrap(),
                l["reason"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "a013bc05497d4dd994bbaafcb3ba4b09.jpg",
                "unresolvable",
                "no_base_url"
            ),
            ("微信图片_20231109112859.png", "unresolvable", "no_base_url"),
        ]
    );
    assert!(links[0]["message"]
        .as_str()
        .unwrap()
        .contains("[[corpus.base]]"));
}

#[test]
fn seeds_002_and_004_have_no_links_and_a_title() {
    let (_, report) = seeds();
    for name in ["002_8b2fe90dae822813.txt", "004_6dbe0efcfa5c5b23.txt"] {
        assert!(links_of(&report, name).is_empty(), "{name}");
        assert_eq!(document(&report, name)["status"], "ok");
    }
    let d2 = document(&report, "002_8b2fe90dae822813.txt");
    assert_eq!(d2["title"], "学校召开深化巡视整改工作推进会议");
    assert_eq!(d2["header"], "first_line");
    assert_eq!(d2["date"], Value::Null, "002 states no date with a year");
    let d4 = document(&report, "004_6dbe0efcfa5c5b23.txt");
    assert_eq!(
        d4["title"],
        "西安交通大学党委落实中央巡视整改任务工作动员部署会召开"
    );
    assert_eq!(d4["date"], "2021-09-18 22:24");
    assert_eq!(d4["header"], "key_value");
    let d0 = document(&report, "000_9f14297dde64cb40.txt");
    assert_eq!(d0["date"], "2022-04-01 01:22:33.003604");
    assert_eq!(d0["header"], "yaml");
}

#[test]
fn summary_counts_match_links() {
    let (_, report) = seeds();
    let s = &report["summary"];
    assert_eq!(s["documents"]["scanned"], 5);
    assert_eq!(
        s["links"]["total"],
        report["links"].as_array().unwrap().len()
    );
    assert_eq!(s["links"]["by_status"]["truncated"], 66);
    assert_eq!(s["links"]["by_status"]["unresolvable"], 2);
    assert_eq!(s["links"]["by_kind"]["source"], 2);
    assert_eq!(s["findings"]["exploded_url"], 1);
}
