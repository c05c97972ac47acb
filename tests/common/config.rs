//! The `config.toml` the end-to-end tests write: a corpus, the store and
//! the report in the test's temp folder, loopback allowed, no rate limit
//! to speak of, and the test hosts resolved to the test's server. Each
//! test file adds its own lines through [`ConfigParts`].

use std::path::{Path, PathBuf};

/// What a test file adds to the shared config.
#[derive(Default)]
pub struct ConfigParts<'a> {
    /// The folder under the temp dir that is `store.path` (default `store`).
    pub state: &'a str,
    /// More lines in `[check]`.
    pub check: &'a str,
    /// More lines in `[store]`.
    pub store: &'a str,
    /// Tables that follow `[store]`, such as `[store.s3]`.
    pub tables: &'a str,
    /// Host names resolved to the server (default: the seeds' host and
    /// `img.test`).
    pub hosts: &'a [&'a str],
}

impl ConfigParts<'_> {
    /// `store.path` for a config written in `dir`.
    pub fn state_dir(&self, dir: &Path) -> PathBuf {
        dir.join(if self.state.is_empty() {
            "store"
        } else {
            self.state
        })
    }
}

/// Writes `dir/config.toml` for `corpus` and a server on `port`; returns
/// its path. The report goes to `dir/report.json`.
pub fn write_config(dir: &Path, corpus: &Path, port: u16, parts: &ConfigParts) -> PathBuf {
    let hosts: &[&str] = if parts.hosts.is_empty() {
        &["news.nankai.edu.cn", "img.test"]
    } else {
        parts.hosts
    };
    let resolve: String = hosts
        .iter()
        .map(|h| format!("\"{h}\" = \"127.0.0.1:{port}\"\n"))
        .collect();
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[corpus]\npaths = [\"{}\"]\n[check]\nallow_private = true\nrate_limit = 1000.0\nburst = 100\nretry_backoff = 0.05\n{}\n[store]\npath = \"{}\"\nmin_free_bytes = 0\n{}\n{}\n[report]\npath = \"{}\"\n[resolve]\n{resolve}",
            corpus.display(),
            parts.check,
            parts.state_dir(dir).display(),
            parts.store,
            parts.tables,
            dir.join("report.json").display(),
        ),
    )
    .unwrap();
    config
}

/// `archive ARGS --config CONFIG`, quiet on stderr but for errors.
pub fn archive_command(config: &Path, args: &[&str]) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_archive"));
    cmd.args(args)
        .arg("--config")
        .arg(config)
        .env("RUST_LOG", "error");
    cmd
}
