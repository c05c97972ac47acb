//! Configuration: what `config.toml` may say, and the defaults used when it
//! says nothing.
//!
//! Every struct here denies unknown fields, so a typo such as `rate_limt`
//! is an error naming the key and its line instead of a silently ignored
//! setting. Every numeric key has a range (see [`bounds`]): a negative,
//! NaN, infinite or absurd number is an error naming the key and its line,
//! never a panic later. Pattern lists (regexes and globs) are compiled
//! while parsing too (see [`patterns`]): the configuration holds the
//! compiled sets, so a bad pattern is an error naming the key and its line,
//! and nothing downstream compiles them again. The defaults in this file are the ones documented, key by key,
//! in the top-level `config.toml`; keep the two in step.
//!
//! The file is looked up in this order: `--config FILE`, `./config.toml`,
//! `/etc/archive/config.toml`. No file at all is fine: the defaults apply.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::ConfigError;

mod bounds;
mod patterns;
pub mod resolve;
pub mod s3;

pub use patterns::{Globs, Regexes};
pub use resolve::ResolveTable;
pub use s3::S3Config;

/// The whole configuration, one section per pipeline stage.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub corpus: CorpusConfig,
    pub links: LinksConfig,
    pub check: CheckConfig,
    pub store: StoreConfig,
    pub crawl: CrawlConfig,
    pub daemon: DaemonConfig,
    pub report: ReportConfig,
    /// Host name → IP address (optionally `ip:port`), used instead of DNS.
    pub resolve: ResolveTable,
    /// URL prefix → URL prefix, applied before a URL is fetched.
    pub remap: BTreeMap<String, String>,
}

/// Where the articles are and which files count as articles.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CorpusConfig {
    /// Files or folders scanned when no paths are given on the command line.
    pub paths: Vec<PathBuf>,
    /// Glob patterns (relative to each scanned folder) a file must match.
    #[serde(deserialize_with = "patterns::corpus_include")]
    pub include: Globs,
    /// Glob patterns that remove a file even if it matched `include`.
    #[serde(deserialize_with = "patterns::corpus_exclude")]
    pub exclude: Globs,
    /// Files larger than this many bytes are skipped with a note.
    #[serde(deserialize_with = "bounds::max_file_size")]
    pub max_file_size: u64,
    /// Read symbolic links whose target is outside the scanned roots.
    pub follow_symlinks: bool,
    /// Base URLs for folders whose articles carry no source address.
    pub base: Vec<FolderBase>,
}

/// A base URL for every document under `path`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FolderBase {
    pub path: PathBuf,
    pub url: String,
}

/// Which links are considered, and the static diagnosis knobs.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LinksConfig {
    /// If not empty, only URLs matching one of these regexes are checked.
    #[serde(deserialize_with = "patterns::links_include")]
    pub include: Regexes,
    /// URLs matching any of these regexes are reported as `skipped`.
    #[serde(deserialize_with = "patterns::links_exclude")]
    pub exclude: Regexes,
    /// Shortest run of one-character links treated as an exploded URL.
    #[serde(deserialize_with = "bounds::min_exploded_run")]
    pub min_exploded_run: usize,
}

/// HTTP checking (used when not `--offline`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CheckConfig {
    /// Never touch the network; every link that needs it is `unchecked`.
    pub offline: bool,
    /// Requests per second to any one host.
    #[serde(deserialize_with = "bounds::rate_limit")]
    pub rate_limit: f64,
    /// Requests a host may receive at once before the rate applies.
    #[serde(deserialize_with = "bounds::burst")]
    pub burst: u32,
    /// Requests in flight over all hosts.
    #[serde(deserialize_with = "bounds::concurrency")]
    pub concurrency: usize,
    /// Requests in flight to any one host.
    #[serde(deserialize_with = "bounds::per_host_concurrency")]
    pub per_host_concurrency: usize,
    /// Per-host overrides of `rate_limit` and `burst`.
    pub hosts: BTreeMap<String, HostLimit>,
    /// Seconds to wait for a connection.
    #[serde(deserialize_with = "bounds::connect_timeout")]
    pub connect_timeout: f64,
    /// Seconds to wait for a whole response.
    #[serde(deserialize_with = "bounds::timeout")]
    pub timeout: f64,
    /// Redirects followed before a link is `broken` (reason `too_many_redirects`).
    #[serde(deserialize_with = "bounds::max_redirects")]
    pub max_redirects: usize,
    /// Tries per link for transient failures (timeouts, 5xx, 429).
    #[serde(deserialize_with = "bounds::max_tries")]
    pub max_tries: u32,
    /// Seconds before the first retry; doubled each time, with jitter.
    #[serde(deserialize_with = "bounds::retry_backoff")]
    pub retry_backoff: f64,
    /// Seconds after which a link is not retried any more.
    #[serde(deserialize_with = "bounds::retry_max_time")]
    pub retry_max_time: f64,
    /// Seconds one host may keep a run waiting with 429/503 pauses; past
    /// that its remaining links are `error` (`host_wait_exceeded`).
    #[serde(deserialize_with = "bounds::max_host_wait")]
    pub max_host_wait: f64,
    /// Largest body read, in bytes; larger declared bodies are not downloaded.
    #[serde(deserialize_with = "bounds::max_body_size")]
    pub max_body_size: u64,
    /// Try HEAD before GET.
    pub use_head: bool,
    /// Allow loopback, private and link-local addresses (tests, intranets).
    pub allow_private: bool,
    /// Sent with every request; name the tool and a contact URL.
    pub user_agent: String,
    /// Seconds a cached result stays valid.
    #[serde(deserialize_with = "bounds::cache_max_age")]
    pub cache_max_age: u64,
    /// URLs on other networks, asked when no host answered a run: one
    /// answering means the failing hosts are dead, none answering that
    /// this machine is cut off ([`crate::check::outage`]).
    #[serde(deserialize_with = "canary_urls")]
    pub canary: Vec<String>,
    /// Ask a web archive for a copy of a dead link ([`crate::lookup`]).
    pub archive_lookup: bool,
    /// The archive's API: `wayback` (an availability API) or `memento`
    /// (a TimeGate, the URL appended).
    pub archive_api: crate::lookup::ArchiveApi,
    /// The availability API or TimeGate to ask.
    #[serde(deserialize_with = "archive_endpoint")]
    pub archive_endpoint: String,
    /// Seconds one lookup may take, retries included.
    #[serde(deserialize_with = "bounds::archive_timeout")]
    pub archive_timeout: f64,
    /// Lookups one run may make.
    #[serde(deserialize_with = "bounds::archive_max_lookups")]
    pub archive_max_lookups: usize,
}

/// `check.archive_endpoint`: an http(s) URL with a host.
fn archive_endpoint<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    use serde::de::Error as _;
    let u = String::deserialize(d)?;
    let ok = url::Url::parse(&u)
        .is_ok_and(|p| matches!(p.scheme(), "http" | "https") && p.host_str().is_some());
    if !ok {
        return Err(D::Error::custom(format!(
            "`check.archive_endpoint`: `{u}` is not an http(s) URL; write e.g. archive_endpoint = \"https://archive.org/wayback/available\""
        )));
    }
    Ok(u)
}

/// `check.canary`: http(s) URLs with a host, at most 16.
fn canary_urls<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    use serde::de::Error as _;
    let urls = Vec::<String>::deserialize(d)?;
    if urls.len() > 16 {
        return Err(D::Error::custom(format!(
            "`check.canary` lists {} URLs; one or two on other networks are enough (at most 16)",
            urls.len()
        )));
    }
    for u in &urls {
        let ok = url::Url::parse(u)
            .is_ok_and(|p| matches!(p.scheme(), "http" | "https") && p.host_str().is_some());
        if !ok {
            return Err(D::Error::custom(format!(
                "`check.canary`: `{u}` is not an http(s) URL; write e.g. canary = [\"https://example.org/\"]"
            )));
        }
    }
    Ok(urls)
}

/// A per-host rate override.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HostLimit {
    #[serde(deserialize_with = "bounds::host_rate_limit")]
    pub rate_limit: f64,
    #[serde(default = "default_burst", deserialize_with = "bounds::host_burst")]
    pub burst: u32,
}

fn default_burst() -> u32 {
    4
}

/// `archive daemon`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DaemonConfig {
    /// Address of the HTTP endpoint.
    pub listen: String,
    /// Seconds between scheduled runs.
    #[serde(deserialize_with = "bounds::interval_secs")]
    pub interval_secs: f64,
    /// Run again soon after corpus files change.
    pub watch: bool,
    /// Milliseconds to let a burst of file changes settle.
    #[serde(deserialize_with = "bounds::debounce_ms")]
    pub debounce_ms: u64,
    /// Seconds a run in progress gets to finish on SIGTERM.
    #[serde(deserialize_with = "bounds::grace_secs")]
    pub grace_secs: f64,
    /// Bearer token for everything but /healthz; empty means none.
    pub token: String,
    /// Seconds a client gets to send a request's headers.
    #[serde(deserialize_with = "bounds::header_timeout_secs")]
    pub header_timeout_secs: f64,
    /// HTTP connections served at once.
    #[serde(deserialize_with = "bounds::max_connections")]
    pub max_connections: usize,
    /// MiB of scanned documents kept between runs.
    #[serde(deserialize_with = "bounds::document_cache_mb")]
    pub document_cache_mb: u64,
}

impl Default for DaemonConfig {
    fn default() -> Self {
        DaemonConfig {
            listen: "127.0.0.1:9477".into(),
            interval_secs: 3600.0,
            watch: true,
            debounce_ms: 2000,
            grace_secs: 10.0,
            token: String::new(),
            header_timeout_secs: 10.0,
            max_connections: 512,
            document_cache_mb: 32,
        }
    }
}

/// Crawl mode (`--crawl URL…`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CrawlConfig {
    /// Links followed from a seed page: 0 fetches the seeds only.
    #[serde(deserialize_with = "bounds::max_depth")]
    pub max_depth: usize,
    /// Pages fetched at most, over all seeds.
    #[serde(deserialize_with = "bounds::max_pages")]
    pub max_pages: usize,
    /// Follow only links to the seeds' own hosts.
    pub same_host: bool,
    /// Obey robots.txt.
    pub robots: bool,
}

impl Default for CrawlConfig {
    fn default() -> Self {
        CrawlConfig {
            max_depth: 2,
            max_pages: 200,
            same_host: true,
            robots: true,
        }
    }
}

/// The content-addressed store and the state database.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// Folder of the state database, of bodies being staged and, unless
    /// `url` says otherwise, of the objects.
    pub path: PathBuf,
    /// Where the objects live: empty for `path`; a folder (`file:///…` or
    /// a bare path); or `s3://bucket/prefix` (see `[store.s3]`).
    pub url: String,
    /// How to reach the object service of an `s3://` url.
    pub s3: S3Config,
    /// This node's name in a shared bucket's reference manifests; empty
    /// for one generated once and kept in the state database.
    pub node_id: String,
    /// Below this many free bytes, downloads stop (checks go on).
    #[serde(deserialize_with = "bounds::min_free_bytes")]
    pub min_free_bytes: u64,
    /// Archive fetched source pages too, not only images and media.
    pub archive_source_pages: bool,
    /// Days after which `archive gc` may delete an object no current
    /// document references.
    #[serde(deserialize_with = "bounds::gc_after_days")]
    pub gc_after_days: u64,
    /// Write every capture as WARC records under `<store>/warc/`.
    pub warc: bool,
    /// A WARC file grows to about this many bytes, then the next starts.
    #[serde(deserialize_with = "bounds::warc_max_size")]
    pub warc_max_size: u64,
}

/// Where and how the report is written.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReportConfig {
    /// JSON report written after every run; an empty string means none.
    pub path: PathBuf,
}

const DEFAULT_CORPUS_INCLUDE: &[&str] = &[
    "**/*.md",
    "**/*.markdown",
    "**/*.html",
    "**/*.htm",
    "**/*.txt",
];
const DEFAULT_CORPUS_EXCLUDE: &[&str] = &["**/.git/**", "**/node_modules/**", "**/target/**"];

impl Default for CorpusConfig {
    fn default() -> Self {
        CorpusConfig {
            paths: vec![PathBuf::from(".")],
            // Constants that compile (`default_globs_compile` checks), so
            // the fallback to an empty set is never taken.
            include: Globs::new("corpus.include", DEFAULT_CORPUS_INCLUDE).unwrap_or_default(),
            exclude: Globs::new("corpus.exclude", DEFAULT_CORPUS_EXCLUDE).unwrap_or_default(),
            max_file_size: 16 * 1024 * 1024,
            follow_symlinks: false,
            base: Vec::new(),
        }
    }
}

impl Default for LinksConfig {
    fn default() -> Self {
        LinksConfig {
            include: Regexes::default(),
            exclude: Regexes::default(),
            min_exploded_run: 6,
        }
    }
}

impl Default for CheckConfig {
    fn default() -> Self {
        CheckConfig {
            offline: false,
            rate_limit: 2.0,
            burst: 4,
            concurrency: 32,
            per_host_concurrency: 4,
            hosts: BTreeMap::new(),
            connect_timeout: 10.0,
            timeout: 30.0,
            max_redirects: 10,
            max_tries: 3,
            retry_backoff: 1.0,
            retry_max_time: 120.0,
            max_host_wait: 300.0,
            max_body_size: 200 * 1024 * 1024,
            use_head: true,
            allow_private: false,
            user_agent: concat!(
                "archive/",
                env!("CARGO_PKG_VERSION"),
                " (+https://github.com/archive-tool/archive)"
            )
            .to_string(),
            cache_max_age: 24 * 3600,
            canary: Vec::new(),
            // Off unless a config turns it on (the shipped one does): a
            // config of defaults (`--config /dev/null`, tests) never asks
            // a host it did not name.
            archive_lookup: false,
            archive_api: crate::lookup::ArchiveApi::Wayback,
            archive_endpoint: "https://archive.org/wayback/available".to_string(),
            archive_timeout: 20.0,
            archive_max_lookups: 200,
        }
    }
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            path: PathBuf::from("archive-store"),
            url: String::new(),
            s3: S3Config::default(),
            node_id: String::new(),
            min_free_bytes: 1024 * 1024 * 1024,
            archive_source_pages: false,
            gc_after_days: 30,
            warc: true,
            warc_max_size: 1024 * 1024 * 1024,
        }
    }
}

impl Default for ReportConfig {
    fn default() -> Self {
        ReportConfig {
            path: PathBuf::from("archive-report.json"),
        }
    }
}

/// A parsed configuration with where it came from.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    pub config: Config,
    /// The file read, or `None` when the defaults were used.
    pub path: Option<PathBuf>,
    /// sha256 of the file's bytes (or of the empty string for defaults), so a
    /// report says which configuration produced it.
    pub digest: String,
}

impl Config {
    /// Parses configuration text; `origin` names the file in errors.
    pub fn parse(text: &str, origin: &Path) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Invalid {
            path: origin.to_path_buf(),
            message: e.to_string(),
        })?;
        config.validate(text, origin)?;
        Ok(config)
    }

    /// Checks what serde does not: base URLs parse. (Numbers are bounded
    /// and patterns compiled while parsing, see [`bounds`] and
    /// [`patterns`], so their errors carry a line.)
    fn validate(&self, text: &str, origin: &Path) -> Result<(), ConfigError> {
        let invalid = |key: &str, message: String| ConfigError::Invalid {
            path: origin.to_path_buf(),
            message: format!("key `{key}`: {message}"),
        };
        for base in &self.corpus.base {
            url::Url::parse(&base.url)
                .map_err(|e| invalid("corpus.base.url", format!("`{}`: {e}", base.url)))?;
        }
        if !self.check.allow_private {
            for canary in &self.check.canary {
                if let Some(address) = private_canary(canary, &self.resolve) {
                    let line = line_of(text, "canary")
                        .map_or_else(String::new, |n| format!(" (line {n})"));
                    return Err(invalid(
                        "check.canary",
                        format!(
                            "`{canary}`{line} is on a loopback, private or link-local address ({address}), which is never fetched while `check.allow_private = false`, so it could never tell an outage from dead hosts; use a canary on the public internet (e.g. canary = [\"https://example.org/\"]) or set check.allow_private = true (tests, intranets)"
                        ),
                    ));
                }
            }
        }
        crate::store::location::ObjectsAt::parse(&self.store)
            .map_err(|e| invalid("store.url", e))?;
        let node = &self.store.node_id;
        if !node.is_empty() && !crate::store::manifest::valid_node_id(node) {
            return Err(invalid(
                "store.node_id",
                format!("`{node}`: use 1 to 64 of A-Z a-z 0-9 . _ - (not starting with a dot)"),
            ));
        }
        Ok(())
    }

    /// Loads the configuration: the explicit file if given (it must exist),
    /// else the first of `./config.toml` and `/etc/archive/config.toml`
    /// that exists, else the defaults.
    pub fn load(explicit: Option<&Path>) -> Result<LoadedConfig, ConfigError> {
        let candidates: Vec<PathBuf> = match explicit {
            Some(p) => vec![p.to_path_buf()],
            None => vec!["config.toml".into(), "/etc/archive/config.toml".into()],
        };
        for path in candidates {
            match std::fs::read(&path) {
                Ok(bytes) => {
                    let text =
                        String::from_utf8(bytes.clone()).map_err(|e| ConfigError::Invalid {
                            path: path.clone(),
                            message: format!("not UTF-8 (byte {})", e.utf8_error().valid_up_to()),
                        })?;
                    let config = Config::parse(&text, &path)?;
                    return Ok(LoadedConfig {
                        config,
                        digest: hex_sha256(&bytes),
                        path: Some(path),
                    });
                }
                Err(e) if explicit.is_none() && e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(ConfigError::Read { path, source: e }),
            }
        }
        Ok(LoadedConfig {
            config: Config::default(),
            path: None,
            digest: hex_sha256(b""),
        })
    }
}

/// The address that makes `canary` private, if it is: an IP literal, a
/// `localhost` name, or a `[resolve]` entry, in loopback, private or
/// link-local space. (Other names are resolved only at run time.)
fn private_canary(canary: &str, resolve: &ResolveTable) -> Option<String> {
    let url = url::Url::parse(canary).ok()?;
    let ip = match url.host()? {
        url::Host::Ipv4(ip) => std::net::IpAddr::V4(ip),
        url::Host::Ipv6(ip) => std::net::IpAddr::V6(ip),
        url::Host::Domain(name) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            if name == "localhost" || name.ends_with(".localhost") {
                return Some(format!("{name} is loopback"));
            }
            resolve.entries().get(&name)?.ip()
        }
    };
    crate::check::net::is_private(ip).then(|| ip.to_string())
}

/// The 1-based number of the first line whose key is `key`.
fn line_of(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            l.trim_start()
                .strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .map(|i| i + 1)
}

/// Lower-case hex sha256 of `bytes`.
pub fn hex_sha256(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A canary the address guard would refuse proves nothing: refused
    /// at load, naming the key and its line and what to do (the
    /// hostile-user pass found it accepted, only warned about at run time).
    #[test]
    fn a_private_canary_is_refused_unless_private_addresses_are_allowed() {
        for (canary, resolve) in [
            ("http://127.0.0.1/", ""),
            ("http://[::1]:8080/", ""),
            ("http://169.254.169.254/", ""),
            ("https://10.1.2.3/", ""),
            ("http://localhost/", ""),
            (
                "http://canary.test/",
                "[resolve]\n\"canary.test\" = \"192.168.1.1:80\"\n",
            ),
        ] {
            let text = format!("[check]\nburst = 2\ncanary = [\"{canary}\"]\n{resolve}");
            let err = Config::parse(&text, Path::new("c.toml"))
                .unwrap_err()
                .to_string();
            assert!(err.contains("check.canary"), "{canary}: {err}");
            assert!(err.contains("line 3"), "{canary}: {err}");
            assert!(err.contains("allow_private"), "{canary}: {err}");
            assert!(err.contains("c.toml"), "{err}");
            // Allowed when private addresses are.
            let allowed = text.replace("burst = 2", "allow_private = true");
            Config::parse(&allowed, Path::new("c.toml")).expect(canary);
        }
        // A public address, or a name resolved at run time, is fine.
        for canary in ["https://example.org/", "http://93.184.216.34/"] {
            let text = format!("[check]\ncanary = [\"{canary}\"]\n");
            Config::parse(&text, Path::new("c.toml")).expect(canary);
        }
    }

    #[test]
    fn unknown_key_names_key_and_line() {
        let err = Config::parse(
            "[check]\nrate_limit = 1.0\nrate_limt = 2\n",
            Path::new("c.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("rate_limt"), "{err}");
        assert!(err.contains("line 3"), "{err}");
        assert!(err.contains("c.toml"), "{err}");
    }

    #[test]
    fn wrong_type_is_an_error() {
        let err = Config::parse("[check]\nburst = \"four\"\n", Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn bad_regex_names_key() {
        let err = Config::parse("[links]\nexclude = [\"(\"]\n", Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("links.exclude"), "{err}");
    }

    #[test]
    fn bad_patterns_name_key_and_line() {
        let err = Config::parse(
            "[links]\ninclude = [\"^https://\"]\nexclude = [\"ok\", \"(\"]\n",
            Path::new("c.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("`links.exclude`"), "{err}");
        assert!(err.contains("line 3"), "{err}");
        let err = Config::parse(
            "[corpus]\n\ninclude = [\"**/*.{md\"]\n",
            Path::new("c.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("`corpus.include`"), "{err}");
        assert!(err.contains("line 3"), "{err}");
    }

    #[test]
    fn patterns_are_held_compiled_and_serialize_as_written() {
        let c = Config::parse(
            "[links]\nexclude = [\"tracker\\\\.\"]\n[corpus]\ninclude = [\"*.md\"]\n",
            Path::new("c.toml"),
        )
        .unwrap();
        assert!(c.links.exclude.is_match("https://tracker.example/"));
        assert!(c.corpus.include.is_match("a.md"));
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["links"]["exclude"], serde_json::json!(["tracker\\."]));
        assert_eq!(json["corpus"]["include"], serde_json::json!(["*.md"]));
    }

    #[test]
    fn default_globs_compile() {
        let c = CorpusConfig::default();
        assert_eq!(c.include.patterns(), DEFAULT_CORPUS_INCLUDE);
        assert_eq!(c.exclude.patterns(), DEFAULT_CORPUS_EXCLUDE);
        assert!(c.include.is_match("a/b.md") && c.exclude.is_match("x/.git/config"));
    }

    #[test]
    fn negative_timeout_names_key_and_line() {
        // Issue 9: this used to pass parsing and panic in the HTTP client.
        let err = Config::parse(
            "[check]\nburst = 2\nconnect_timeout = -1.0\n",
            Path::new("c.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("`check.connect_timeout`"), "{err}");
        assert!(err.contains("line 3"), "{err}");
    }

    #[test]
    fn integers_stay_exact_and_floats_take_integers() {
        let c = Config::parse(
            "[store]\nmin_free_bytes = 18446744073709551615\n[check]\ntimeout = 5\n",
            Path::new("c.toml"),
        )
        .unwrap();
        assert_eq!(c.store.min_free_bytes, u64::MAX);
        assert_eq!(c.check.timeout, 5.0);
    }

    #[test]
    fn empty_file_gives_defaults() {
        let c = Config::parse("", Path::new("c.toml")).unwrap();
        assert_eq!(c.check.burst, 4);
        assert_eq!(c.links.min_exploded_run, 6);
    }
}
