//! `archive daemon` as a child process against a local server and a temp
//! corpus: readiness, metrics that equal the report, new articles picked
//! up without a restart, SIGHUP with a broken config, SIGTERM during a
//! slow download, the token, the objects endpoint (ranges, conditional
//! requests), metrics and dashboard that never re-read the report file,
//! and the dashboard in headless Chromium when it is installed (required
//! when `CI=true`).

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::server::{jpeg, twenty_second_jpeg, Reply, TestServer};
use common::walk;
use serde_json::Value;

/// A real 16×16 red PNG, so a browser can draw the thumbnail.
const RED_PNG: [u8; 80] = [
    137, 80, 78, 71, 13, 10, 26, 10, 0, 0, 0, 13, 73, 72, 68, 82, 0, 0, 0, 16, 0, 0, 0, 16, 8, 2,
    0, 0, 0, 144, 145, 104, 54, 0, 0, 0, 23, 73, 68, 65, 84, 120, 156, 99, 248, 207, 192, 64, 18,
    34, 77, 245, 168, 134, 81, 13, 67, 74, 3, 0, 144, 249, 255, 1, 249, 225, 250, 120, 0, 0, 0, 0,
    73, 69, 78, 68, 174, 66, 96, 130,
];

struct Daemon {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
    corpus: PathBuf,
    config: PathBuf,
    token: Option<String>,
}

impl Daemon {
    fn start(server: &TestServer, extra: &str, token: Option<&str>) -> Daemon {
        Daemon::start_with(server, "", extra, token)
    }

    /// `check` goes into `[check]`, `extra` into `[daemon]`.
    fn start_with(server: &TestServer, check: &str, extra: &str, token: Option<&str>) -> Daemon {
        Daemon::start_seeded(server, check, extra, token, |_| {})
    }

    /// [`Daemon::start_with`], with `seed` filling the corpus folder
    /// before the daemon starts (so its first run sees it).
    fn start_seeded(
        server: &TestServer,
        check: &str,
        extra: &str,
        token: Option<&str>,
        seed: impl FnOnce(&Path),
    ) -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        let corpus = dir.path().join("corpus");
        std::fs::create_dir_all(&corpus).unwrap();
        seed(&corpus);
        let port = common::free_port();
        let config = dir.path().join("config.toml");
        std::fs::write(
            &config,
            format!(
                "[corpus]\npaths = [\"{}\"]\n[check]\nallow_private = true\nrate_limit = 1000.0\nburst = 100\nretry_backoff = 0.05\n{check}\n[daemon]\nlisten = \"127.0.0.1:{port}\"\ndebounce_ms = 200\ntoken = \"{}\"\n{extra}\n[store]\npath = \"{}\"\nmin_free_bytes = 0\n[report]\npath = \"{}\"\n[resolve]\n\"img.test\" = \"127.0.0.1:{}\"\n",
                corpus.display(),
                token.unwrap_or(""),
                dir.path().join("store").display(),
                dir.path().join("report.json").display(),
                server.addr.port()
            ),
        )
        .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_archive"))
            .args(["daemon", "--config", config.to_str().unwrap()])
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("daemon.log")).unwrap())
            .spawn()
            .unwrap();
        Daemon {
            child,
            port,
            dir,
            corpus,
            config,
            token: token.map(str::to_string),
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("daemon.log")).unwrap_or_default()
    }

    /// (status, headers, body) of a GET.
    fn get(&self, path: &str) -> (u16, String, Vec<u8>) {
        get(self.port, path, self.token.as_deref())
    }

    fn wait_for(&self, what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
        let started = Instant::now();
        while started.elapsed() < timeout {
            if ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("timed out waiting for {what}; daemon log:\n{}", self.log());
    }

    fn report(&self) -> Value {
        let (status, _, body) = self.get("/report.json");
        assert_eq!(status, 200);
        serde_json::from_slice(&body).unwrap()
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn get(port: u16, path: &str, token: Option<&str>) -> (u16, String, Vec<u8>) {
    get_with(port, path, token, "")
}

/// [`get`] with more request headers (`Name: value\r\n` each).
fn get_with(port: u16, path: &str, token: Option<&str>, headers: &str) -> (u16, String, Vec<u8>) {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return (0, String::new(), Vec::new());
    };
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let _ = write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\n{auth}{headers}Connection: close\r\n\r\n"
    );
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(buf.len());
    let head = String::from_utf8_lossy(&buf[..split]).to_string();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = buf.get(split + 4..).unwrap_or(&[]).to_vec();
    // Bodies may be chunked; unchunk the simple way.
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        unchunk(&body)
    } else {
        body
    };
    (status, head, body)
}

fn unchunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = data.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&data[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&data[eol + 2..eol + 2 + size]);
        data = &data[eol + 2 + size + 2..];
    }
    out
}

/// The value of a metric line `name{labels} value`.
fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| {
            l.strip_prefix(series)
                .and_then(|rest| rest.strip_prefix(' '))
        })
        .unwrap_or_else(|| panic!("no {series} in metrics"))
        .parse()
        .unwrap()
}

fn article(dir: &Path, name: &str, images: &[&str]) {
    let body: String = images
        .iter()
        .map(|i| format!("![图](http://img.test{i})\n\n"))
        .collect();
    std::fs::write(dir.join(name), format!("---\ntitle: {name}\n---\n{body}")).unwrap();
}

#[test]
fn daemon_serves_reloads_picks_up_changes_and_drains() {
    let s = TestServer::start();
    s.route("/a.jpg", Reply::Ok("image/jpeg", jpeg(1)));
    s.route("/b.png", Reply::Ok("image/png", RED_PNG.to_vec()));
    s.route("/new.jpg", Reply::Ok("image/jpeg", jpeg(2)));
    // About 20 s to send: far longer than the grace period, so only a
    // cancelled run lets the daemon exit in time.
    let (slow, slow_len) = twenty_second_jpeg(3);
    s.route("/slow.jpg", slow);
    let d = Daemon::start(&s, "interval_secs = 30\ngrace_secs = 1.0", Some("s3cret"));
    article(&d.corpus, "one.md", &["/a.jpg", "/b.png", "/missing.jpg"]);

    d.wait_for("healthz", Duration::from_secs(20), || {
        get(d.port, "/healthz", None).0 == 200
    });
    d.wait_for("readyz", Duration::from_secs(30), || {
        d.get("/readyz").0 == 200
    });

    // Token: required everywhere but /healthz.
    assert_eq!(get(d.port, "/metrics", None).0, 401);
    assert_eq!(get(d.port, "/metrics", Some("wrong")).0, 401);

    // Metrics parse and equal the report.
    d.wait_for("the article in the report", Duration::from_secs(20), || {
        d.report()["summary"]["links"]["total"].as_u64() == Some(3)
    });
    let report = d.report();
    let (status, head, metrics) = d.get("/metrics");
    assert_eq!(status, 200);
    assert!(head.to_ascii_lowercase().contains("text/plain"));
    let metrics = String::from_utf8(metrics).unwrap();
    for line in metrics.lines().filter(|l| !l.starts_with('#')) {
        let value = line.rsplit(' ').next().unwrap();
        assert!(value.parse::<f64>().is_ok(), "not Prometheus text: {line}");
    }
    let count = |status: &str, kind: &str| {
        report["links"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| l["status"] == status && l["kind"] == kind)
            .count() as f64
    };
    assert_eq!(
        metric(&metrics, "archive_links{status=\"ok\",kind=\"image\"}"),
        count("ok", "image")
    );
    assert_eq!(
        metric(&metrics, "archive_links{status=\"broken\",kind=\"image\"}"),
        count("broken", "image")
    );
    assert_eq!(count("ok", "image"), 2.0);
    assert_eq!(
        metric(&metrics, "archive_store_objects"),
        report["summary"]["store"]["objects_total"]
            .as_f64()
            .unwrap()
    );
    assert_eq!(metric(&metrics, "archive_documents{status=\"ok\"}"), 1.0);

    // Objects are served with their type and nosniff; nothing else is.
    let png = report["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["url"] == "http://img.test/b.png")
        .unwrap();
    let sha = png["store"]["sha256"].as_str().unwrap();
    let (status, head, body) = d.get(&format!("/objects/{sha}"));
    assert_eq!((status, body.as_slice()), (200, &RED_PNG[..]));
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: image/png"),
        "{head}"
    );
    assert!(head
        .to_ascii_lowercase()
        .contains("x-content-type-options: nosniff"));
    assert_eq!(d.get("/objects/..%2F..%2Fconfig.toml").0, 400);

    // A new article appears in the next report without a restart, and
    // only it is read again: the unchanged one comes from memory.
    article(&d.corpus, "two.md", &["/new.jpg"]);
    d.wait_for(
        "a run that read only the new article",
        Duration::from_secs(20),
        || d.log().contains("documents: 1 read, 1 unchanged"),
    );
    d.wait_for("the new article's image", Duration::from_secs(20), || {
        d.report()["links"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["url"] == "http://img.test/new.jpg" && l["status"] == "ok")
    });

    // SIGHUP with a broken config: refused, the daemon goes on.
    let good = std::fs::read_to_string(&d.config).unwrap();
    std::fs::write(&d.config, format!("{good}\n[bogus_key]\nx = 1\n")).unwrap();
    d.signal("-HUP");
    d.wait_for("the refusal in the log", Duration::from_secs(10), || {
        d.log().contains("reload refused")
    });
    assert!(d.log().contains("bogus_key"), "the log names the bad key");
    assert_eq!(get(d.port, "/healthz", None).0, 200);

    // SIGTERM during a 20 s download: the run is cancelled after the 1 s
    // grace period and the daemon exits 0 within grace + 1 s (+1 s for
    // signal delivery and process teardown), no partial object, nothing
    // left in tmp/, the store verifies clean.
    article(&d.corpus, "three.md", &["/slow.jpg"]);
    d.wait_for(
        "the slow download to start",
        Duration::from_secs(20),
        || !s.hits_on("/slow.jpg").is_empty(),
    );
    std::thread::sleep(Duration::from_millis(300));
    let objects_before = walk(&d.dir.path().join("store/sha256")).len();
    let mut d = d;
    d.signal("-TERM");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = d.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() <= Duration::from_secs(3),
            "did not exit within grace_secs + 1 s; log:\n{}",
            d.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0), "log:\n{}", d.log());
    assert!(
        s.body_bytes_sent() < slow_len,
        "the slow body was still sent whole: the download was not cut short"
    );
    assert!(d.log().contains("cancelling it"), "log:\n{}", d.log());
    assert_eq!(
        walk(&d.dir.path().join("store/sha256")).len(),
        objects_before,
        "no partial object"
    );
    assert!(walk(&d.dir.path().join("store/tmp")).is_empty());
    std::fs::write(&d.config, good).unwrap();
    let verify = Command::new(env!("CARGO_BIN_EXE_archive"))
        .args(["verify", "--config", d.config.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(
        verify.status.code(),
        Some(0),
        "verify: {}",
        String::from_utf8_lossy(&verify.stderr)
    );
}

#[test]
fn served_from_what_the_run_fed_never_from_the_report_file() {
    let s = TestServer::start();
    s.route("/red.png", Reply::Ok("image/png", RED_PNG.to_vec()));
    s.route("/gone.jpg", Reply::Status(404));
    // One run only (no watcher, a long interval), over an article that is
    // there before it starts.
    let d = Daemon::start_seeded(
        &s,
        "",
        "interval_secs = 3600\nwatch = false",
        Some("t0ken"),
        |corpus| article(corpus, "one.md", &["/red.png", "/gone.jpg"]),
    );
    d.wait_for("readyz", Duration::from_secs(30), || {
        d.get("/readyz").0 == 200
    });
    let on_disk = d.dir.path().join("report.json");
    let written = std::fs::read(&on_disk).unwrap();
    let report: Value = serde_json::from_slice(&written).unwrap();
    assert_eq!(report["summary"]["links"]["total"], 2);
    assert_eq!(d.get("/report.json").2, written, "the file, byte for byte");
    let (_, _, metrics) = d.get("/metrics");
    let metrics = String::from_utf8(metrics).unwrap();
    assert_eq!(
        metric(&metrics, "archive_links{status=\"broken\",kind=\"image\"}"),
        1.0
    );
    let (_, _, page) = d.get("/");
    let page = String::from_utf8(page).unwrap();
    assert!(page.contains("http://img.test/gone.jpg"), "{page}");
    assert!(page.contains("/objects/"), "a thumbnail: {page}");

    // Garbage on disk changes neither the metrics nor the dashboard:
    // nothing reads the report back. /report.json serves what is there.
    let garbage = b"not a report {{".repeat(1000);
    std::fs::write(&on_disk, &garbage).unwrap();
    // (All but the endpoint's live connection count, which moves as the
    // test's own connections come and go.)
    let settled = |m: &str| -> String {
        m.lines()
            .filter(|l| !l.starts_with("archive_http_connections "))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(
        settled(&String::from_utf8(d.get("/metrics").2).unwrap()),
        settled(&metrics)
    );
    assert_eq!(String::from_utf8(d.get("/").2).unwrap(), page);
    let (status, head, body) = d.get("/report.json");
    assert_eq!(status, 200);
    assert!(head
        .to_ascii_lowercase()
        .contains("content-type: application/json"));
    assert_eq!(body, garbage);
    assert_eq!(get(d.port, "/report.json", None).0, 401);

    // Objects stream from the store: a range, and a conditional request.
    let sha = report["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["url"] == "http://img.test/red.png")
        .and_then(|l| l["store"]["sha256"].as_str())
        .unwrap()
        .to_string();
    let object = format!("/objects/{sha}");
    let (status, head, body) = get_with(d.port, &object, Some("t0ken"), "Range: bytes=8-15\r\n");
    let head = head.to_ascii_lowercase();
    assert_eq!(status, 206, "{head}");
    assert_eq!(body, &RED_PNG[8..16]);
    assert!(head.contains("content-range: bytes 8-15/80"), "{head}");
    assert!(head.contains("content-type: image/png"), "{head}");
    assert!(head.contains("x-content-type-options: nosniff"), "{head}");
    assert!(head.contains("content-security-policy: default-src 'none'; sandbox"));
    // A suffix range longer than the object is the whole object (RFC
    // 9110), not 416; one that fits is the last bytes.
    let (status, head, body) = get_with(d.port, &object, Some("t0ken"), "Range: bytes=-1000\r\n");
    assert_eq!(status, 206, "{head}");
    assert_eq!(body, RED_PNG);
    assert!(
        head.to_ascii_lowercase()
            .contains("content-range: bytes 0-79/80"),
        "{head}"
    );
    let (status, _, body) = get_with(d.port, &object, Some("t0ken"), "Range: bytes=-8\r\n");
    assert_eq!(status, 206);
    assert_eq!(body, &RED_PNG[72..]);
    let (_, head, _) = d.get(&object);
    let modified = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .starts_with("last-modified:")
                .then(|| l["last-modified:".len()..].trim().to_string())
        })
        .unwrap_or_else(|| panic!("no Last-Modified: {head}"));
    let condition = format!("If-Modified-Since: {modified}\r\n");
    assert_eq!(get_with(d.port, &object, Some("t0ken"), &condition).0, 304);
    assert_eq!(get(d.port, &object, None).0, 401);
    assert_eq!(d.get(&format!("/objects/{}", "0".repeat(64))).0, 404);
}

#[test]
fn systemd_units_verify() {
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        common::tool_missing("systemd-analyze is not installed (apt-get install systemd)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let units = Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd");
    let mut names = Vec::new();
    for name in [
        "archive.service",
        "archive-check.service",
        "archive-check.timer",
    ] {
        // Point ExecStart at the binary under test: verify checks it exists.
        let text = std::fs::read_to_string(units.join(name))
            .unwrap()
            .replace("/usr/local/bin/archive", env!("CARGO_BIN_EXE_archive"));
        std::fs::write(dir.path().join(name), text).unwrap();
        names.push(dir.path().join(name));
    }
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .args(&names)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // Warnings about our own units count as failures too.
    assert!(!stderr.lines().any(|l| l.contains("archive")), "{stderr}");
}

#[test]
fn dashboard_renders_in_headless_chromium() {
    let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| Path::new(p).exists());
    let Some(chromium) = chromium else {
        common::tool_missing(
            "chromium is not installed (apt-get install chromium; .ci/run does this)",
        );
        return;
    };
    let s = TestServer::start();
    s.route("/red.png", Reply::Ok("image/png", RED_PNG.to_vec()));
    s.route("/gone.jpg", Reply::Status(404));
    let d = Daemon::start(&s, "interval_secs = 30", None);
    article(&d.corpus, "one.md", &["/red.png", "/gone.jpg"]);
    d.wait_for("readyz", Duration::from_secs(30), || {
        d.get("/readyz").0 == 200
    });
    d.wait_for("the article", Duration::from_secs(20), || {
        d.report()["summary"]["links"]["total"].as_u64() == Some(2)
    });
    let url = format!("http://127.0.0.1:{}/", d.port);
    let profile = tempfile::tempdir().unwrap();
    let shot = d.dir.path().join("dashboard.png");
    let flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--window-size=1000,800",
    ];
    let run = |extra: &[String]| {
        Command::new(chromium)
            .args(flags)
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(extra)
            .arg(&url)
            .output()
            .unwrap()
    };
    let dom = run(&["--dump-dom".to_string()]);
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(dom.contains("id=\"summary\""), "{dom}");
    assert!(dom.contains("/objects/"), "a thumbnail: {dom}");
    assert!(
        dom.contains("http://img.test/gone.jpg"),
        "the broken link is listed"
    );
    run(&[format!("--screenshot={}", shot.display())]);
    // Count the thumbnail's red pixels in the screenshot (decoded by a
    // small Python PNG reader: the machine has CPython, not an image crate).
    let script = r#"
import sys, zlib, struct
data = open(sys.argv[1], 'rb').read()
pos, idat, w, h, ct = 8, b'', 0, 0, 0
while pos < len(data):
    n, t = struct.unpack('>I4s', data[pos:pos+8]); body = data[pos+8:pos+8+n]; pos += 12 + n
    if t == b'IHDR': w, h, depth, ct = struct.unpack('>IIBB', body[:10])
    if t == b'IDAT': idat += body
bpp = 4 if ct == 6 else 3
raw, stride, prev, red = zlib.decompress(idat), w * bpp, bytearray(w * bpp), 0
for y in range(h):
    f, line = raw[y*(stride+1)], bytearray(raw[y*(stride+1)+1:(y+1)*(stride+1)])
    for i in range(stride):
        a = line[i-bpp] if i >= bpp else 0; b = prev[i]; c = prev[i-bpp] if i >= bpp else 0
        if f == 1: line[i] = (line[i] + a) & 255
        elif f == 2: line[i] = (line[i] + b) & 255
        elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c; pa, pb, pc = abs(p-a), abs(p-b), abs(p-c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    red += sum(1 for x in range(0, stride, bpp) if line[x] > 200 and line[x+1] < 60 and line[x+2] < 60)
    prev = line
print(red)
"#;
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&shot)
        .output()
        .unwrap();
    let red: usize = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)));
    assert!(red > 1000, "the red thumbnail is drawn ({red} red pixels)");
}

#[test]
fn soak_fifty_cycles_without_growth() {
    let s = TestServer::start();
    let mut images = Vec::new();
    for i in 0..20 {
        let path = format!("/soak/{i}.jpg");
        let reply = match i % 4 {
            0 => Reply::Ok("image/jpeg", jpeg(i as u8)),
            1 => Reply::Status(404),
            2 => Reply::FailFirst {
                n: 1_000_000,
                status: 503,
                retry_after: None,
                then: Box::new(Reply::Status(200)),
            },
            _ => Reply::Short {
                declared: 9000,
                body: jpeg(i as u8)[..500].to_vec(),
            },
        };
        s.route(&path, reply);
        images.push(path);
    }
    // Re-check every cycle (no cache), one try each, short timeouts.
    let d = Daemon::start_with(
        &s,
        "cache_max_age = 0\nmax_tries = 1\ntimeout = 1.0",
        "interval_secs = 0.05\nwatch = false",
        None,
    );
    let refs: Vec<&str> = images.iter().map(String::as_str).collect();
    article(&d.corpus, "soak.md", &refs);
    d.wait_for("readyz", Duration::from_secs(30), || {
        d.get("/readyz").0 == 200
    });
    let pid = d.child.id();
    // A cycle opens sockets and the database; sample over two cycles and
    // keep the minimum, which is what the daemon holds between runs.
    let sample = || {
        let mut best = (u64::MAX, usize::MAX);
        for _ in 0..40 {
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
            let rss: u64 = status
                .lines()
                .find(|l| l.starts_with("VmRSS:"))
                .unwrap()
                .split_whitespace()
                .nth(1)
                .unwrap()
                .parse()
                .unwrap();
            let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
                .unwrap()
                .count();
            best = (best.0.min(rss), best.1.min(fds));
            std::thread::sleep(Duration::from_millis(50));
        }
        best
    };
    let cycles = || s.hits_on("/soak/0.jpg").len();
    d.wait_for("10 cycles", Duration::from_secs(120), || cycles() >= 10);
    let (rss10, fds10) = sample();
    d.wait_for("50 cycles", Duration::from_secs(300), || cycles() >= 50);
    let (rss50, fds50) = sample();
    eprintln!("after 10 cycles: {rss10} kB, {fds10} fds; after 50: {rss50} kB, {fds50} fds");
    assert!(
        fds50 <= fds10 + 4,
        "file descriptors grew: {fds10} -> {fds50}"
    );
    assert!(
        rss50 <= rss10 + rss10 / 4 + 4096,
        "memory grew: {rss10} kB -> {rss50} kB"
    );
    assert_eq!(get(d.port, "/healthz", None).0, 200);
}
