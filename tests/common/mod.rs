//! Helpers shared by the integration tests: run the real binary, read its
//! JSON report.
#![allow(dead_code)]

pub mod config;
pub mod moto;
pub mod server;
pub mod warc;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// A free port on 127.0.0.1 (bound, then released for a child process to
/// take).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path)
}

/// Runs `archive` with `args` (an empty config unless one is given) and
/// returns its output.
pub fn archive(args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_archive"));
    if !args.contains(&"--config") {
        cmd.args(["--config", "/dev/null"]);
    }
    cmd.args(args)
        .env("RUST_LOG", "error")
        .output()
        .expect("run archive")
}

/// Runs an offline check of `paths` and returns (exit code, report).
pub fn check_json(paths: &[&Path]) -> (i32, Value) {
    let mut args = vec!["--check", "--offline", "--format", "json"];
    let owned: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    args.extend(owned.iter().map(String::as_str));
    let out = archive(&args);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}); stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().expect("exit code"), report)
}

/// Runs an online `run_check` in-process with the configuration `toml`,
/// writing the report to `dir/report.json`; returns (exit code, report).
pub fn run_online(toml: &str, dir: &Path, no_cache: bool, crawl: Vec<url::Url>) -> (i32, Value) {
    use archive::config::{Config, LoadedConfig};
    use archive::run::{run_check, CheckOptions, OutputFormat};
    let loaded = LoadedConfig {
        config: Config::parse(toml, Path::new("test.toml")).expect("test config"),
        path: None,
        digest: "0".repeat(64),
    };
    let report = dir.join("report.json");
    let options = CheckOptions {
        paths: Vec::new(),
        offline: false,
        no_cache,
        crawl,
        report: Some(report.clone()),
        prom_file: None,
        format: OutputFormat::Json,
    };
    let outcome = run_check(&loaded, &options).expect("run_check");
    let json = serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap();
    (outcome.exit_code as i32, json)
}

/// Every file under `dir`, recursively (none if it does not exist).
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.file_type().unwrap().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

/// The report's document whose path ends with `name`.
pub fn document<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["documents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["path"].as_str().unwrap().ends_with(name))
        .unwrap_or_else(|| panic!("no document {name}"))
}

/// The links of the document whose path ends with `name`.
pub fn links_of<'a>(report: &'a Value, name: &str) -> Vec<&'a Value> {
    let id = document(report, name)["id"].clone();
    report["links"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["document"] == id)
        .collect()
}

/// The repairs offered for `link`: its own, or, for a character of an
/// exploded URL, its finding's (schema 2.0.0 keeps the rebuilt URL there
/// once instead of on every character).
pub fn repairs<'a>(report: &'a Value, link: &'a Value) -> &'a Value {
    match link["finding"].as_u64() {
        Some(f) if link["reason"] == "exploded_url" => {
            assert!(
                link["suggestions"].as_array().unwrap().is_empty(),
                "a character carries no copy: {link}"
            );
            &report["findings"][f as usize]["suggestions"]
        }
        _ => &link["suggestions"],
    }
}

/// A test that needs a tool this machine lacks: under `CI=true` (which
/// `.ci/run` sets, and which installs the tools) that is a failure, so a
/// CI image without the tool cannot pass by skipping; elsewhere the test
/// says so on stderr and passes.
pub fn tool_missing(message: &str) {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{message}; CI=true, so this is a failure, not a skip");
    }
    eprintln!("SKIPPED: {message}");
}

/// Asserts that `report` validates against docs/report.schema.json,
/// listing every violation with its path.
pub fn assert_schema(report: &Value) {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/report.schema.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let v = jsonschema::draft202012::new(&schema).unwrap();
    let errors: Vec<String> = v
        .iter_errors(report)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

/// Runs `archive --check --offline` with `text` as its config on an empty
/// folder; returns the exit code and stderr.
pub fn check_with_config(dir: &Path, text: &str) -> (Option<i32>, String) {
    let cfg = dir.join("c.toml");
    std::fs::write(&cfg, text).unwrap();
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_archive"))
        .args(["--check", "--offline", "--config"])
        .arg(&cfg)
        .arg(&empty)
        .current_dir(dir)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
