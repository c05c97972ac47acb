//! A reader that stops early (`archive --check --format json | head -c 10`)
//! ends the run quietly with exit 0, as ripgrep does, instead of an
//! "internal error" about writable folders (issue 9, item 7). Exit 0 even
//! when the report has broken links (which alone gives exit 1): the run was
//! cut short, and `head` got what it asked for.
//!
//! Rust ignores SIGPIPE, so the write after the reader left fails with
//! EPIPE. For the failure to be certain, not a race, the cut report is far
//! larger than a pipe's buffer (64 KiB on Linux): the seed articles copied
//! enough times to make it over 1 MiB, which the control test checks.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};

const SEEDS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/seeds");

/// Copies of the seed articles, enough for a report over 1 MiB.
fn big_corpus(dir: &Path) -> std::path::PathBuf {
    let corpus = dir.join("corpus");
    // 45 copies: about 1.4 MiB of report since schema 2.0.0 (an exploded
    // run no longer repeats its URL on every character).
    for copy in 0..45 {
        let into = corpus.join(format!("copy{copy}"));
        std::fs::create_dir_all(&into).unwrap();
        for entry in std::fs::read_dir(SEEDS).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), into.join(entry.file_name())).unwrap();
        }
    }
    corpus
}

fn spawn(dir: &Path, args: &[&str], corpus: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_archive"))
        .args(args)
        .arg(corpus)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

const CHECK: &[&str] = &[
    "--check",
    "--offline",
    "--format",
    "json",
    "--config",
    "/dev/null",
];

#[test]
fn control_the_uncut_report_is_bigger_than_a_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = big_corpus(dir.path());
    let out = spawn(dir.path(), CHECK, &corpus)
        .wait_with_output()
        .unwrap();
    // 1: the seeds have links that are broken offline too.
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.len() > 1 << 20, "{} bytes", out.stdout.len());
    assert!(out.stdout.starts_with(b"{"));
}

#[test]
fn head_c_10_on_the_json_report_exits_0_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = big_corpus(dir.path());
    let mut child = spawn(dir.path(), CHECK, &corpus);
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 10];
    stdout.read_exact(&mut first).unwrap();
    assert_eq!(&first[..1], b"{");
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.is_empty(), "expected no message, got: {err}");
}

#[test]
fn a_reader_gone_before_the_first_byte_exits_0_quietly() {
    // The command of the issue on the seeds as they are: the pipe is
    // closed before the report is written, so the first write fails.
    let dir = tempfile::tempdir().unwrap();
    let mut child = spawn(dir.path(), CHECK, Path::new(SEEDS));
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.is_empty(), "expected no message, got: {err}");
}

#[test]
fn store_commands_survive_a_closed_pipe() {
    // `stats` used `println!`, which panics (exit 101) on a closed pipe.
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, "[store]\npath = \"store\"\n").unwrap();
    for command in ["stats", "verify", "gc"] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_archive"))
            .args([command, "--config"])
            .arg(&cfg)
            .current_dir(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{command}: {err}");
        assert!(!err.contains("panicked"), "{command}: {err}");
    }
}
