//! An outage is not link rot: a run that can reach nothing says so
//! (`error`, `network_unavailable`, exit 4, `archive_network_up 0`),
//! keeps every URL's last known status and history, and makes `gc`
//! refuse; the next run with the network back is green. A host that is
//! dead while another answers is still `broken`.
//!
//! "Nothing reachable" is reproduced on 127.0.0.1 only: `[resolve]` points
//! every host, the canary's too, at a black hole (a listener whose backlog
//! is full, so SYNs are dropped and connects time out), as on a machine
//! whose uplink is gone. A port where nothing listens is not that: it
//! refuses (a RST came back), which is a dead host on a working network.

mod common;

use std::path::{Path, PathBuf};

use archive::config::{Config, LoadedConfig};
use archive::run::{run_check, CheckOptions, OutputFormat};
use common::server::{jpeg, nankai, Reply, TestServer};
use common::{assert_schema, fixture, links_of, repairs};
use serde_json::Value;

/// A port on 127.0.0.1 where nothing listens: connections are refused.
fn dead_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A port on 127.0.0.1 where connections are neither accepted nor
/// refused: a listener that never accepts, its backlog filled, so further
/// SYNs are dropped and connects hang until their timeout, as behind a
/// dead uplink or a firewall that drops. Lives as long as the value.
struct BlackHole {
    port: u16,
    _listener: std::net::TcpListener,
    _filled: Vec<std::net::TcpStream>,
}

impl BlackHole {
    fn new() -> BlackHole {
        // std's listeners have a backlog of 128; this one has the smallest.
        let listener = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async {
                let socket = tokio::net::TcpSocket::new_v4().unwrap();
                socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
                socket.listen(0).unwrap().into_std().unwrap()
            });
        let port = listener.local_addr().unwrap().port();
        let filled = (0..8)
            .filter_map(|_| {
                std::net::TcpStream::connect_timeout(
                    &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
                    std::time::Duration::from_millis(100),
                )
                .ok()
            })
            .collect();
        BlackHole {
            port,
            _listener: listener,
            _filled: filled,
        }
    }
}

/// A corpus, a store and a config in a temp folder.
struct Setup {
    dir: tempfile::TempDir,
    corpus: PathBuf,
}

/// One run's results.
struct Run {
    code: i32,
    report: Value,
    metrics: String,
}

impl Setup {
    /// The seeds, copied.
    fn seeds() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let corpus = dir.path().join("corpus");
        std::fs::create_dir(&corpus).unwrap();
        for e in std::fs::read_dir(fixture("seeds")).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), corpus.join(e.file_name())).unwrap();
        }
        Setup { dir, corpus }
    }

    fn with_file(name: &str, text: &str) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let corpus = dir.path().join("corpus");
        std::fs::create_dir(&corpus).unwrap();
        std::fs::write(corpus.join(name), text).unwrap();
        Setup { dir, corpus }
    }

    fn store(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    /// The configuration with `hosts` resolved to their ports, written to
    /// `config.toml` (for `archive gc`) and returned.
    fn config(&self, extra: &str, hosts: &[(&str, u16)]) -> String {
        let resolve: String = hosts
            .iter()
            .map(|(h, p)| format!("\"{h}\" = \"127.0.0.1:{p}\"\n"))
            .collect();
        let text = format!(
            "[corpus]\npaths = [\"{}\"]\n[check]\nallow_private = true\nrate_limit = 1000.0\nburst = 100\n\
             retry_backoff = 0.05\nconnect_timeout = 0.5\n{extra}\n[store]\npath = \"{}\"\nmin_free_bytes = 0\n\
             [resolve]\n{resolve}",
            self.corpus.display(),
            self.store().display(),
        );
        std::fs::write(self.dir.path().join("config.toml"), &text).unwrap();
        text
    }

    /// An online check of the whole corpus, no cache (every URL asked).
    fn run(&self, toml: &str) -> Run {
        let loaded = LoadedConfig {
            config: Config::parse(toml, Path::new("test.toml")).expect("test config"),
            path: None,
            digest: "0".repeat(64),
        };
        let report = self.dir.path().join("report.json");
        let prom = self.dir.path().join("archive.prom");
        let options = CheckOptions {
            paths: Vec::new(),
            offline: false,
            no_cache: true,
            crawl: Vec::new(),
            report: Some(report.clone()),
            prom_file: Some(prom.clone()),
            format: OutputFormat::Json,
        };
        let outcome = run_check(&loaded, &options).expect("run_check");
        Run {
            code: outcome.exit_code as i32,
            report: serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap(),
            metrics: std::fs::read_to_string(prom).unwrap(),
        }
    }

    /// Every URL's (url, status, status_since, checked_at) in the state database.
    fn statuses(&self) -> Vec<(String, String, i64, i64)> {
        let db = rusqlite::Connection::open(self.store().join("state.db")).unwrap();
        let mut stmt = db
            .prepare("SELECT url, status, status_since, checked_at FROM urls ORDER BY url")
            .unwrap();
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap();
        rows.map(Result::unwrap).collect()
    }

    /// Every history row's status.
    fn history(&self) -> Vec<String> {
        let db = rusqlite::Connection::open(self.store().join("state.db")).unwrap();
        let mut stmt = db.prepare("SELECT status FROM history").unwrap();
        let rows = stmt.query_map([], |r| r.get(0)).unwrap();
        rows.map(Result::unwrap).collect()
    }

    /// `archive gc` on the written config: (exit code, stderr).
    fn gc(&self) -> (i32, String) {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_archive"))
            .args(["gc", "--config"])
            .arg(self.dir.path().join("config.toml"))
            .env("RUST_LOG", "error")
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    }
}

fn links(report: &Value) -> &Vec<Value> {
    report["links"].as_array().unwrap()
}

fn count(report: &Value, status: &str) -> u64 {
    report["summary"]["links"]["by_status"][status]
        .as_u64()
        .unwrap()
}

const CANARY: &str = "canary = [\"http://canary.test/\"]";

/// [`CANARY`], trying a black-holed connection once, not three times.
const CANARY_ONE_TRY: &str = "canary = [\"http://canary.test/\"]\nmax_tries = 1";

#[test]
fn an_outage_is_not_link_rot_and_the_network_coming_back_is_green() {
    let s = nankai();
    let setup = Setup::seeds();
    let live = setup.config(
        CANARY,
        &[
            ("news.nankai.edu.cn", s.addr.port()),
            ("canary.test", s.addr.port()),
        ],
    );
    let good = setup.run(&live);
    assert_eq!(good.code, 1, "the exploded URL is truncated statically");
    assert_eq!(count(&good.report, "broken"), 0);
    assert_eq!(good.report["summary"]["network"]["up"], true);
    assert!(good.metrics.contains("archive_network_up 1\n"));
    let before = setup.statuses();
    assert!(before.len() >= 5, "{before:?}");
    assert!(before.iter().all(|(_, st, _, _)| st == "ok"), "{before:?}");
    let history_before = setup.history();

    // The uplink goes: nothing, the canary neither, can be reached.
    let hole = BlackHole::new();
    let cut_off = setup.config(
        CANARY_ONE_TRY,
        &[
            ("news.nankai.edu.cn", hole.port),
            ("canary.test", hole.port),
        ],
    );
    let out = setup.run(&cut_off);
    assert_eq!(out.code, 4, "could not check");
    assert_schema(&out.report);
    assert_eq!(count(&out.report, "broken"), 0, "an outage is not rot");
    assert_eq!(out.report["summary"]["network"]["up"], false);
    let evidence = out.report["summary"]["network"]["evidence"]
        .as_str()
        .unwrap();
    assert!(evidence.contains("canary.test"), "{evidence}");
    let unavailable: Vec<&Value> = links(&out.report)
        .iter()
        .filter(|l| l["reason"] == "network_unavailable")
        .collect();
    // The three images of 001 and the two source links.
    assert_eq!(unavailable.len(), 5, "{unavailable:#?}");
    for l in &unavailable {
        assert_eq!(l["status"], "error", "{l}");
        assert_eq!(l["last_known"]["status"], "ok", "{l}");
        assert!(l["last_known"]["since"].is_string(), "{l}");
    }
    assert!(
        links(&out.report)
            .iter()
            .filter(|l| l["reason"] != "network_unavailable")
            .all(|l| l.get("last_known").is_none()),
        "last_known only beside network_unavailable"
    );
    // The rebuilt URL of the exploded run could not be checked either.
    for l in links_of(&out.report, "000_9f14297dde64cb40.txt") {
        if l["reason"] == "exploded_url" {
            assert_eq!(repairs(&out.report, l)[0]["status"], "error", "{l}");
        }
    }
    assert!(
        out.metrics.contains("archive_network_up 0\n"),
        "{}",
        out.metrics
    );
    assert!(out
        .metrics
        .contains("archive_links{status=\"broken\",kind=\"image\"} 0\n"));
    assert!(out
        .metrics
        .contains("archive_links{status=\"error\",kind=\"image\"} 3\n"));
    assert_eq!(
        setup.statuses(),
        before,
        "the state database keeps what it knew"
    );
    assert_eq!(setup.history(), history_before, "no history row");

    // gc will not trust this run's references.
    let (code, err) = setup.gc();
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains("gc refused") && err.contains("--check"),
        "{err}"
    );

    // The network comes back: green again, and history shows no rot.
    let back = setup.config(
        CANARY,
        &[
            ("news.nankai.edu.cn", s.addr.port()),
            ("canary.test", s.addr.port()),
        ],
    );
    let again = setup.run(&back);
    assert_eq!(again.code, good.code);
    assert_eq!(count(&again.report, "broken"), 0);
    assert_eq!(count(&again.report, "error"), 0);
    assert_eq!(again.report["summary"]["network"]["up"], true);
    assert!(again.metrics.contains("archive_network_up 1\n"));
    let after = setup.statuses();
    assert!(after.iter().all(|(_, st, _, _)| st == "ok"), "{after:?}");
    let since = |rows: &[(String, String, i64, i64)]| -> Vec<(String, i64)> {
        rows.iter()
            .map(|(u, _, since, _)| (u.clone(), *since))
            .collect()
    };
    assert_eq!(since(&after), since(&before), "ok since the first run");
    assert!(setup.history().iter().all(|st| st == "ok"));
    let (code, err) = setup.gc();
    assert_eq!(code, 0, "{err}");
}

#[test]
fn one_dead_host_while_another_answers_is_broken() {
    let s = TestServer::start();
    s.route("/a.jpg", Reply::Ok("image/jpeg", jpeg(1)));
    let setup = Setup::with_file(
        "a.md",
        "![a](http://live.test/a.jpg)\n\n![b](http://dead.test/b.jpg)\n",
    );
    let toml = setup.config(
        CANARY,
        &[
            ("live.test", s.addr.port()),
            ("dead.test", dead_port()),
            ("canary.test", dead_port()),
        ],
    );
    let out = setup.run(&toml);
    assert_eq!(out.code, 1);
    let dead = links(&out.report)
        .iter()
        .find(|l| l["url"] == "http://dead.test/b.jpg")
        .unwrap();
    assert_eq!(dead["status"], "broken", "{dead}");
    assert_eq!(dead["reason"], "connection_refused");
    assert_eq!(out.report["summary"]["network"]["up"], true);
    assert!(out.metrics.contains("archive_network_up 1\n"));
    let rows = setup.statuses();
    assert!(
        rows.iter()
            .any(|(u, st, _, _)| u == "http://dead.test/b.jpg" && st == "broken"),
        "{rows:?}"
    );
    assert_eq!(setup.gc().0, 0);
}

#[test]
fn without_a_canary_one_dead_host_is_broken() {
    // One host, nothing else asked: a dead host and a dead network look
    // the same, and the host gets the blame, as before.
    let setup = Setup::seeds();
    let out = setup.run(&setup.config("", &[("news.nankai.edu.cn", dead_port())]));
    assert_eq!(out.code, 1);
    assert!(count(&out.report, "broken") >= 5);
    assert_eq!(out.report["summary"]["network"]["up"], true);
}

/// A refused connection is a RST from the host's address: something
/// answered, so the network works and the hosts are dead. Two refusing
/// hosts and no canary are `broken` (exit 1), not an outage (exit 4);
/// found by the hostile-user pass. (Two hosts that cannot be reached at
/// all are an outage: `a_black_holed_network_is_an_outage_whatever_the_timeouts`.)
#[test]
fn two_refusing_hosts_without_a_canary_are_broken_not_an_outage() {
    let setup = Setup::with_file(
        "a.md",
        "![a](http://one.test/a.jpg)\n\n![b](http://two.test/b.jpg)\n",
    );
    let dead = dead_port();
    let out = setup.run(&setup.config("", &[("one.test", dead), ("two.test", dead)]));
    assert_eq!(out.code, 1, "{}", out.report["summary"]);
    assert_eq!(count(&out.report, "broken"), 2);
    assert_eq!(count(&out.report, "error"), 0);
    for l in links(&out.report) {
        assert_eq!(l["reason"], "connection_refused", "{l}");
        assert!(l.get("last_known").is_none(), "{l}");
    }
    assert_eq!(out.report["summary"]["network"]["up"], true);
    assert!(out.metrics.contains("archive_network_up 1\n"));
    let rows = setup.statuses();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(rows.iter().all(|(_, st, _, _)| st == "broken"), "{rows:?}");
}

/// A corpus folder under `dir` with one image on a.test and one on
/// b.test: two hosts, for the rule that needs more than one.
fn two_host_corpus(dir: &Path) -> PathBuf {
    let corpus = dir.join("corpus");
    std::fs::create_dir_all(&corpus).unwrap();
    std::fs::write(
        corpus.join("a.md"),
        "![a](http://a.test/1.jpg)\n\n![b](http://b.test/2.jpg)\n",
    )
    .unwrap();
    corpus
}

/// A black-holed network (connections neither accepted nor refused: the
/// SYNs are dropped) with a whole-request timeout shorter than the
/// connect timeout is still an outage: the connect timeout is capped
/// below `check.timeout`, so the failure is a connect failure, not a slow
/// server. Found by the hostile-user pass (every link was `broken`,
/// `timeout`, exit 1, and history got a `broken` row per URL).
#[test]
fn a_black_holed_network_is_an_outage_whatever_the_timeouts() {
    let hole = BlackHole::new();
    let port = hole.port;
    let dir = tempfile::tempdir().unwrap();
    let corpus = two_host_corpus(dir.path());
    let toml = format!(
        "[corpus]\npaths = [\"{}\"]\n[check]\nallow_private = true\nconnect_timeout = 10.0\ntimeout = 1.0\nmax_tries = 1\n[store]\npath = \"{}\"\n[resolve]\n\"a.test\" = \"127.0.0.1:{port}\"\n\"b.test\" = \"127.0.0.1:{port}\"\n",
        corpus.display(),
        dir.path().join("store").display(),
    );
    let (code, report) = common::run_online(&toml, dir.path(), true, Vec::new());
    for l in report["links"].as_array().unwrap() {
        assert_eq!(l["status"], "error", "{l}");
        assert_eq!(l["reason"], "network_unavailable", "{l}");
    }
    assert_eq!(code, 4, "{}", report["summary"]);
    assert!(
        !dir.path().join("store/state.db").exists() || {
            let db = rusqlite::Connection::open(dir.path().join("store/state.db")).unwrap();
            db.query_row("SELECT COUNT(*) FROM urls", [], |r| r.get::<_, i64>(0))
                .unwrap()
                == 0
        },
        "nothing recorded as broken"
    );
    drop(hole);
}

/// A canary whose host asked an earlier run to pause (longer than
/// `max_host_wait`, so it is not asked now) answered us then: it counts as
/// reachable, and two dead hosts beside it are `broken`, not an outage.
/// Found by the hostile-user pass (the run was called an outage).
#[test]
fn a_paused_canary_is_reachable_so_dead_hosts_are_broken() {
    let s = TestServer::start();
    s.route_on(
        "canary.test",
        "/",
        Reply::FailFirst {
            n: 1000,
            status: 429,
            retry_after: Some("600"),
            then: Box::new(Reply::Status(200)),
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus");
    std::fs::create_dir_all(&corpus).unwrap();
    // Unreachable, not refusing (a refusal alone proves the network up).
    let hole = BlackHole::new();
    let dead = hole.port;
    let toml = |paths: &str| {
        format!(
            "[corpus]\npaths = [\"{}\"]\n[check]\nallow_private = true\nmax_tries = 1\nconnect_timeout = 0.5\nmax_host_wait = 5.0\ncanary = [\"http://canary.test/\"]\n[store]\npath = \"{}\"\n[resolve]\n\"canary.test\" = \"127.0.0.1:{}\"\n\"a.test\" = \"127.0.0.1:{dead}\"\n\"b.test\" = \"127.0.0.1:{dead}\"\n",
            corpus.join(paths).display(),
            dir.path().join("store").display(),
            s.addr.port()
        )
    };
    // First run: the canary's host asks for a 600 s pause.
    std::fs::create_dir_all(corpus.join("one")).unwrap();
    std::fs::write(corpus.join("one/a.md"), "[c](http://canary.test/)\n").unwrap();
    common::run_online(&toml("one"), dir.path(), true, Vec::new());
    assert_eq!(s.hits().len(), 1);
    // Second run: two dead hosts.
    std::fs::create_dir_all(corpus.join("two")).unwrap();
    std::fs::write(
        corpus.join("two/b.md"),
        "![a](http://a.test/1.jpg)\n\n![b](http://b.test/2.jpg)\n",
    )
    .unwrap();
    let (code, report) = common::run_online(&toml("two"), dir.path(), true, Vec::new());
    assert_eq!(s.hits().len(), 1, "the paused canary was not asked again");
    for l in report["links"].as_array().unwrap() {
        assert_eq!(l["status"], "broken", "{l}");
    }
    assert_eq!(code, 1, "{}", report["summary"]);
}

/// The text report (the default output, for a person) never shows a link
/// `broken` that the verdict calls `network_unavailable`: until a host
/// answers, documents are held back, and a run where nothing answered
/// writes only the judged pass.
#[test]
fn the_text_report_of_an_outage_never_says_broken() {
    let hole = BlackHole::new();
    let dead = hole.port;
    let dir = tempfile::tempdir().unwrap();
    let corpus = two_host_corpus(dir.path());
    let config = dir.path().join("c.toml");
    std::fs::write(
        &config,
        format!(
            "[corpus]\npaths = [\"{}\"]\n[check]\nallow_private = true\nmax_tries = 1\nconnect_timeout = 0.5\n[store]\npath = \"{}\"\n[report]\npath = \"{}\"\n[resolve]\n\"a.test\" = \"127.0.0.1:{dead}\"\n\"b.test\" = \"127.0.0.1:{dead}\"\n",
            corpus.display(),
            dir.path().join("store").display(),
            dir.path().join("report.json").display(),
        ),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_archive"))
        .args(["--check", "--config"])
        .arg(&config)
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{text}");
    assert_eq!(
        text.matches("network_unavailable  http://").count(),
        2,
        "{text}"
    );
    assert!(
        !text.contains(" broken "),
        "a person read `broken` first: {text}"
    );
}
