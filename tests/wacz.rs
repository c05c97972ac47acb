//! `archive export --wacz`: the WACZ of a checked seed corpus passes the
//! reference validator (`wacz validate`, pip package `wacz`), its WARCs,
//! index and pages are what the store holds, and pywb, loading it,
//! replays an archived image by its original URL, byte for byte.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::fixture;
use common::server::{nankai, TestServer};

fn tool(name: &str, install: &str) -> bool {
    let ok = Command::new(name)
        .arg("--help")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        common::tool_missing(&format!("{name} is not installed ({install})"));
    }
    ok
}

/// Checks the seeds against `server` with a store in `dir`; returns the
/// config's path.
fn checked_seeds(server: &TestServer, dir: &Path) -> PathBuf {
    let port = server.addr.port();
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[corpus]\npaths = [\"{}\"]\n[check]\nallow_private = true\nrate_limit = 1000.0\nburst = 100\n[store]\npath = \"{}\"\nmin_free_bytes = 0\narchive_source_pages = true\n[report]\npath = \"{}\"\n[resolve]\n\"news.nankai.edu.cn\" = \"127.0.0.1:{port}\"\n",
            fixture("seeds").display(),
            dir.join("store").display(),
            dir.join("report.json").display(),
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_archive"))
        .args(["--check", "--format", "text", "--config"])
        .arg(&config)
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    assert!(matches!(out.status.code(), Some(0 | 1)), "{out:?}");
    config
}

fn export_wacz(config: &Path, file: &Path) {
    let out = Command::new(env!("CARGO_BIN_EXE_archive"))
        .args(["export", "--config"])
        .arg(config)
        .arg("--wacz")
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_exported_wacz_passes_wacz_validate() {
    if !tool("wacz", "pip install wacz") {
        return;
    }
    let s = nankai();
    let dir = tempfile::tempdir().unwrap();
    let config = checked_seeds(&s, dir.path());
    let file = dir.path().join("seeds.wacz");
    export_wacz(&config, &file);
    let out = Command::new("wacz")
        .args(["validate", "-f"])
        .arg(&file)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{said}");
    assert!(said.contains("Validation succeeded"), "{said}");
    // What is inside: python's zipfile reads it; the pages are the seed
    // documents that name their source page.
    let list = Command::new("python3")
        .args([
            "-c",
            "import sys,zipfile,json; z=zipfile.ZipFile(sys.argv[1]); print(json.dumps({i.filename: i.compress_type for i in z.infolist()})); print(z.read('pages/pages.jsonl').decode())",
        ])
        .arg(&file)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&list.stdout);
    let mut lines = text.lines();
    let entries: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    let names: Vec<&String> = entries.as_object().unwrap().keys().collect();
    assert!(names
        .iter()
        .any(|n| n.starts_with("archive/") && n.ends_with(".warc.gz")));
    assert!(names.iter().any(|n| *n == "indexes/index.cdx"));
    assert!(
        entries.as_object().unwrap().values().all(|t| t == 0),
        "stored"
    );
    let pages: Vec<serde_json::Value> = lines
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(pages[0]["format"], "json-pages-1.0");
    assert!(
        pages[1..]
            .iter()
            .any(|p| p["url"] == "http://news.nankai.edu.cn/ywsd/system/2019/11/13/030036368.shtml"),
        "{pages:#?}"
    );
}

/// GET `path` from 127.0.0.1:`port` over HTTP/1.0: (status, body).
fn http_get(port: u16, path: &str) -> Option<(u16, Vec<u8>)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n").ok()?;
    let mut all = Vec::new();
    s.read_to_end(&mut all).ok()?;
    let split = all.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&all[..split]).to_string();
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some((status, all[split + 4..].to_vec()))
}

/// Kills the child when the test ends, however it ends.
struct Reaper(std::process::Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn pywb_replays_an_archived_image_by_its_original_url() {
    if !tool("wb-manager", "pip install pywb") || !tool("wayback", "pip install pywb") {
        return;
    }
    let s = nankai();
    let dir = tempfile::tempdir().unwrap();
    let config = checked_seeds(&s, dir.path());
    let file = dir.path().join("seeds.wacz");
    export_wacz(&config, &file);
    let web = dir.path().join("pywb");
    std::fs::create_dir(&web).unwrap();
    for args in [
        vec!["init", "seeds"],
        vec!["add", "--unpack-wacz", "seeds", file.to_str().unwrap()],
    ] {
        let out = Command::new("wb-manager")
            .args(&args)
            .current_dir(&web)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "wb-manager {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let port = common::free_port();
    let _server = Reaper(
        Command::new("wayback")
            .args(["-p", &port.to_string(), "-b", "127.0.0.1"])
            .current_dir(&web)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let image = format!(
        "http://news.nankai.edu.cn{}",
        common::server::NANKAI_IMAGES_001[1]
    );
    let path = format!("/seeds/20991231000000id_/{image}");
    let mut got = None;
    for _ in 0..300 {
        got = http_get(port, &path);
        if got.is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let (status, body) = got.expect("pywb answers");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(
        body,
        common::server::jpeg(1),
        "the original bytes, replayed"
    );
}
