//! Cancelling a run (a [`CancellationToken`], what the daemon
//! does when its grace period runs out): `run_check_until` returns within
//! a second whatever the run is waiting on (a 20 s body, a 30 s
//! `Retry-After`), writes no report, and leaves neither an object nor a
//! temporary file in the store.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use archive::config::{Config, LoadedConfig};
use archive::engine::CancellationToken;
use archive::run::{run_check_until, CheckOptions, OutputFormat};
use common::server::{jpeg, twenty_second_jpeg, Reply, TestServer};
use common::walk;

/// Runs a corpus of one article linking `path` on `server`, cancels once
/// the server has seen the request (and `settle` more), and returns how
/// long `run_check_until` took to return after the cancel.
fn cancel_during(server: &TestServer, path: &str, check: &str, settle: Duration) -> Duration {
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus");
    std::fs::create_dir_all(&corpus).unwrap();
    std::fs::write(
        corpus.join("a.md"),
        format!("---\ntitle: a\n---\n![x](http://img.test{path})\n"),
    )
    .unwrap();
    let store = dir.path().join("store");
    let report = dir.path().join("report.json");
    let toml = format!(
        "[corpus]\npaths = [\"{}\"]\n[check]\nallow_private = true\nrate_limit = 1000.0\nburst = 100\n{check}\n[store]\npath = \"{}\"\nmin_free_bytes = 0\n[resolve]\n\"img.test\" = \"127.0.0.1:{}\"\n",
        corpus.display(),
        store.display(),
        server.addr.port()
    );
    let loaded = LoadedConfig {
        config: Config::parse(&toml, Path::new("test.toml")).expect("test config"),
        path: None,
        digest: "0".repeat(64),
    };
    let options = CheckOptions {
        paths: Vec::new(),
        offline: false,
        no_cache: false,
        crawl: Vec::new(),
        report: Some(report.clone()),
        prom_file: None,
        format: OutputFormat::Json,
    };
    let cancel = CancellationToken::new();
    let run = {
        let cancel = cancel.clone();
        std::thread::spawn(move || run_check_until(&loaded, &options, &cancel))
    };
    let started = Instant::now();
    while server.hits_on(path).is_empty() {
        assert!(started.elapsed() < Duration::from_secs(20), "no request");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(settle);
    assert!(!run.is_finished(), "the run ended before the cancel");
    let cancelled = Instant::now();
    cancel.cancel();
    while !run.is_finished() {
        assert!(
            cancelled.elapsed() < Duration::from_secs(10),
            "the run ignores its cancel"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let took = cancelled.elapsed();
    let outcome = run.join().expect("no panic").expect("no error");
    assert!(outcome.is_none(), "a cancelled run reports no outcome");
    assert!(!report.exists(), "a cancelled run writes no report");
    assert!(walk(&store.join("sha256")).is_empty(), "no partial object");
    assert!(walk(&store.join("tmp")).is_empty(), "no temporary left");
    took
}

#[test]
fn cancel_stops_a_twenty_second_download() {
    let s = TestServer::start();
    // About 20 s to send.
    let (slow, len) = twenty_second_jpeg(5);
    s.route("/slow.jpg", slow);
    let took = cancel_during(&s, "/slow.jpg", "", Duration::from_millis(500));
    assert!(took <= Duration::from_secs(1), "took {took:?}");
    assert!(s.body_bytes_sent() < len, "the body was sent whole");
}

#[test]
fn cancel_stops_a_retry_after_wait() {
    let s = TestServer::start();
    s.route(
        "/busy.jpg",
        Reply::FailFirst {
            n: 5,
            status: 429,
            retry_after: Some("30"),
            then: Box::new(Reply::Ok("image/jpeg", jpeg(6))),
        },
    );
    let took = cancel_during(
        &s,
        "/busy.jpg",
        "max_tries = 3\nretry_max_time = 120.0",
        Duration::from_millis(300),
    );
    assert!(took <= Duration::from_secs(1), "took {took:?}");
    assert_eq!(s.hits_on("/busy.jpg").len(), 1, "no retry after the cancel");
}

/// Ctrl-C in the CLI is the same cancel: SIGINT during a 20 s download
/// ends `archive --check` with exit 130 about a second later, with no
/// report, no object and no temporary file.
#[test]
fn sigint_stops_the_cli_during_a_download() {
    let s = TestServer::start();
    let (slow, len) = twenty_second_jpeg(7);
    s.route("/slow.jpg", slow);
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus");
    std::fs::create_dir_all(&corpus).unwrap();
    std::fs::write(corpus.join("a.md"), "![x](http://img.test/slow.jpg)\n").unwrap();
    let store = dir.path().join("store");
    let report = dir.path().join("report.json");
    let mut child = start_cli_until_slow_request(
        &s,
        dir.path(),
        &["--format", "json"],
        &report,
        &corpus,
        std::process::Stdio::piped(),
    );
    std::thread::sleep(Duration::from_millis(500));
    let sent = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let interrupted = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            interrupted.elapsed() < Duration::from_secs(10),
            "the CLI ignores Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(
        interrupted.elapsed() <= Duration::from_secs(2),
        "{:?}",
        interrupted.elapsed()
    );
    assert!(s.body_bytes_sent() < len, "the body was sent whole");
    assert!(!report.exists(), "an interrupted run writes no report");
    assert!(walk(&store.join("sha256")).is_empty(), "no partial object");
    assert!(walk(&store.join("tmp")).is_empty(), "no temporary left");
}

/// `kill -9` in the middle of a run: the report being written has no name
/// yet (it streams into an anonymous file in the report's folder), so the
/// previous report stands, whole, and nothing is left beside it.
#[test]
fn kill_9_during_a_run_leaves_the_previous_report_whole_and_nothing_beside_it() {
    let s = TestServer::start();
    let (slow, _) = twenty_second_jpeg(9);
    s.route("/slow.jpg", slow);
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus");
    std::fs::create_dir_all(&corpus).unwrap();
    // Links that finish first, so the report has started to grow.
    for i in 0..40 {
        s.route(&format!("/f{i}.jpg"), Reply::Ok("image/jpeg", jpeg(i)));
        std::fs::write(
            corpus.join(format!("a{i:02}.md")),
            format!("![x](http://img.test/f{i}.jpg)\n"),
        )
        .unwrap();
    }
    std::fs::write(corpus.join("z.md"), "![x](http://img.test/slow.jpg)\n").unwrap();
    let reports = dir.path().join("reports");
    std::fs::create_dir_all(&reports).unwrap();
    let report = reports.join("report.json");
    std::fs::write(&report, "{\"the previous\": \"report\"}\n").unwrap();
    let mut child = start_cli_until_slow_request(
        &s,
        dir.path(),
        &[],
        &report,
        &corpus,
        std::process::Stdio::null(),
    );
    // The run is under way and its report file open in `reports/`.
    let open_in_reports = std::fs::read_dir(format!("/proc/{}/fd", child.id()))
        .unwrap()
        .filter_map(|fd| std::fs::read_link(fd.unwrap().path()).ok())
        .any(|target| target.starts_with(&reports));
    assert!(
        open_in_reports,
        "the run writes no file in the report's folder"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        std::fs::read_to_string(&report).unwrap(),
        "{\"the previous\": \"report\"}\n"
    );
    assert_eq!(
        walk(&reports),
        [report],
        "something was left beside the report"
    );
}

/// Starts `archive --check ARGS --report REPORT CORPUS` with a store in
/// `dir` and `img.test` on `server`, and returns once the server has seen
/// the request for `/slow.jpg`: the run is then under way.
fn start_cli_until_slow_request(
    server: &TestServer,
    dir: &Path,
    args: &[&str],
    report: &Path,
    corpus: &Path,
    stderr: std::process::Stdio,
) -> std::process::Child {
    let config = dir.join("c.toml");
    std::fs::write(
        &config,
        format!(
            "[check]\nallow_private = true\n[store]\npath = \"{}\"\nmin_free_bytes = 0\n[resolve]\n\"img.test\" = \"127.0.0.1:{}\"\n",
            dir.join("store").display(),
            server.addr.port()
        ),
    )
    .unwrap();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_archive"))
        .arg("--check")
        .args(args)
        .arg("--config")
        .arg(&config)
        .arg("--report")
        .arg(report)
        .arg(corpus)
        .stdout(std::process::Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let started = Instant::now();
    while server.hits_on("/slow.jpg").is_empty() {
        assert!(started.elapsed() < Duration::from_secs(20), "no request");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}
