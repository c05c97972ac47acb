//! Hostile corpora (issue 10, point 3): files that are not regular files,
//! symlinks out of the corpus, file names that are not UTF-8. Each is
//! reported as what it is; none hangs the run, leaks a file from outside
//! the corpus, or loses its name.

mod common;

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::assert_schema;
use serde_json::Value;

/// Runs `archive --check --offline --format json` on `paths` with the
/// config text `config`; a run still going after 60 s is killed and the
/// test fails (the FIFO used to hang it forever).
fn check(dir: &Path, config: &str, paths: &[&OsStr]) -> (i32, Value) {
    let cfg = dir.join("archive-test.toml");
    std::fs::write(&cfg, config).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_archive"))
        .args(["--check", "--offline", "--format", "json", "--config"])
        .arg(&cfg)
        .args(paths)
        .env("RUST_LOG", "error")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run archive");
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("archive still running after 60 s on {paths:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}); stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_schema(&report);
    (out.status.code().expect("exit code"), report)
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().expect("mkfifo");
    assert!(status.success());
}

fn documents(report: &Value) -> &Vec<Value> {
    report["documents"].as_array().unwrap()
}

fn doc<'a>(report: &'a Value, name: &str) -> &'a Value {
    documents(report)
        .iter()
        .find(|d| d["path"].as_str().unwrap().ends_with(name))
        .unwrap_or_else(|| panic!("no document {name} in {:#}", report["documents"]))
}

#[test]
fn a_fifo_on_the_command_line_is_skipped_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe.md");
    mkfifo(&fifo);
    let (code, report) = check(dir.path(), "", &[fifo.as_os_str()]);
    assert_eq!(code, 0, "{report:#}");
    let d = doc(&report, "pipe.md");
    assert_eq!(d["status"], "skipped", "{d:#}");
    let error = d["error"].as_str().unwrap();
    assert!(error.contains(&fifo.display().to_string()), "{error}");
    assert!(error.contains("FIFO"), "{error}");
}

#[test]
fn fifos_and_sockets_in_a_folder_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus");
    std::fs::create_dir(&corpus).unwrap();
    std::fs::write(corpus.join("a.md"), "![x](http://a.example/1.jpg)\n").unwrap();
    mkfifo(&corpus.join("b.md"));
    let _socket = std::os::unix::net::UnixListener::bind(corpus.join("c.md")).unwrap();
    // Not an article by its name: left out, as a regular file would be.
    mkfifo(&corpus.join("d.bin"));
    let (code, report) = check(dir.path(), "", &[corpus.as_os_str()]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(documents(&report).len(), 3, "{:#}", report["documents"]);
    assert_eq!(doc(&report, "a.md")["status"], "ok");
    for (name, kind) in [("b.md", "FIFO"), ("c.md", "socket")] {
        let d = doc(&report, name);
        assert_eq!(d["status"], "skipped", "{d:#}");
        let error = d["error"].as_str().unwrap();
        assert!(error.contains(name) && error.contains(kind), "{error}");
    }
}

#[test]
fn symlinks_out_of_the_corpus_are_not_read_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let outside = dir.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    let secret = outside.join("secret.md");
    std::fs::write(&secret, "![s](http://secret.example/leak.jpg)\n").unwrap();
    std::fs::create_dir(outside.join("folder")).unwrap();
    std::fs::write(
        outside.join("folder/more.md"),
        "![s](http://secret.example/more.jpg)\n",
    )
    .unwrap();
    let corpus = dir.path().join("corpus");
    std::fs::create_dir_all(corpus.join("sub")).unwrap();
    std::fs::write(corpus.join("sub/real.md"), "![x](http://a.example/1.jpg)\n").unwrap();
    let link = |target: &Path, name: &str| {
        std::os::unix::fs::symlink(target, corpus.join(name)).unwrap();
    };
    link(&secret, "leak.md");
    link(&outside.join("folder"), "leakdir");
    // Inside the corpus: fine.
    link(&corpus.join("sub/real.md"), "inside.md");
    link(&corpus.join("sub"), "insidedir");

    let (code, report) = check(dir.path(), "", &[corpus.as_os_str()]);
    assert_eq!(code, 0, "{report:#}");
    let text = report.to_string();
    assert!(!text.contains("secret.example"), "read outside: {report:#}");
    for name in ["leak.md", "leakdir"] {
        let d = doc(&report, name);
        assert_eq!(d["status"], "skipped", "{d:#}");
        let error = d["error"].as_str().unwrap();
        let target = std::fs::canonicalize(outside.join(if name == "leakdir" {
            "folder"
        } else {
            "secret.md"
        }))
        .unwrap();
        assert!(
            error.contains(name) && error.contains(&target.display().to_string()),
            "{error}"
        );
        assert!(error.contains("corpus.follow_symlinks"), "{error}");
    }
    for name in ["inside.md", "insidedir/real.md", "sub/real.md"] {
        assert_eq!(doc(&report, name)["status"], "ok", "{name}");
    }

    // Allowed: both links outside are read.
    let (_, report) = check(
        dir.path(),
        "[corpus]\nfollow_symlinks = true\n",
        &[corpus.as_os_str()],
    );
    assert_eq!(doc(&report, "leak.md")["status"], "ok");
    assert_eq!(doc(&report, "leakdir/more.md")["status"], "ok");
}

#[test]
fn file_names_that_are_not_utf8_keep_their_bytes() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus");
    std::fs::create_dir(&corpus).unwrap();
    let names: [&[u8]; 4] = [b"a\xff.md", b"a\xfe.md", br"a\xff.md", b"\xb2\xe2.md"];
    for (i, name) in names.iter().enumerate() {
        let body = format!("![x](http://a.example/{i}.jpg)\n");
        std::fs::write(corpus.join(OsStr::from_bytes(name)), body).unwrap();
    }
    let (code, report) = check(dir.path(), "", &[corpus.as_os_str()]);
    assert_eq!(code, 0, "{report:#}");
    let paths: Vec<&str> = documents(&report)
        .iter()
        .map(|d| d["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths.len(), 4, "{paths:?}");
    let distinct: std::collections::BTreeSet<&&str> = paths.iter().collect();
    assert_eq!(
        distinct.len(),
        4,
        "two files share a report path: {paths:?}"
    );
    let prefix = format!("{}/", corpus.display());
    let mut back: Vec<Vec<u8>> = paths
        .iter()
        .map(|p| {
            let real = archive::source::path_from_string(p).expect(p);
            assert!(real.is_file(), "{p} does not name the file");
            let name = real.strip_prefix(&prefix).unwrap().as_os_str();
            name.as_bytes().to_vec()
        })
        .collect();
    back.sort();
    let mut want: Vec<Vec<u8>> = names.iter().map(|n| n.to_vec()).collect();
    want.sort();
    assert_eq!(back, want);
    assert!(
        paths.contains(&format!(r"{prefix}a\xff.md").as_str()),
        "{paths:?}"
    );
    assert!(
        paths.contains(&format!(r"{prefix}a\\xff.md").as_str()),
        "{paths:?}"
    );
}
