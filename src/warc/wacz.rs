//! `archive export --wacz FILE`: the store's WARC files packaged as a WACZ
//! (Web Archive Collection Zipped, 1.1.1), the format ReplayWeb.page and
//! pywb load as one file:
//!
//! - `archive/*.warc.gz`: the WARC files, as they are (after the repair a
//!   killed run may need, [`super::recover`]);
//! - `indexes/index.cdx`: their CDXJ indexes merged and sorted;
//! - `pages/pages.jsonl`: the corpus documents that name their page (a
//!   `source:` URL), from the last report (`report.path`);
//! - `datapackage.json`: every file's path, size and sha256.
//!
//! Entries are stored, not deflated ([`super::zip`]). The store is opened
//! (and so locked) while packing: no run writes WARCs meanwhile.

use std::fs::{self, File};
use std::io::{self, BufWriter, Read};
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::zip::ZipWriter;
use super::{cdxj, recover, writer};
use crate::config::Config;
use crate::store::{Store, StoreError};

/// Why a WACZ could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WaczError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "no WARC files under {}: run `archive --check` with store.warc = true (the default) first",
        .0.display()
    )]
    NoWarcs(PathBuf),
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
}

/// What went into the WACZ.
#[derive(Debug, Default)]
pub struct WaczSummary {
    pub warcs: usize,
    pub records: usize,
    pub pages: usize,
}

fn io_at(path: &Path) -> impl Fn(io::Error) -> WaczError + '_ {
    move |source| WaczError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// sha256 (hex), CRC-32 and length of a file, in one read.
fn digest_file(path: &Path) -> io::Result<(String, u32, u64)> {
    let mut f = File::open(path)?;
    let mut sha = Sha256::new();
    let mut crc = flate2::Crc::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut len = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        sha.update(&buf[..n]);
        crc.update(&buf[..n]);
        len += n as u64;
    }
    let hex = sha.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Ok((hex, crc.sum(), len))
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Writes the WACZ of `config`'s store to `out` (through a temporary file
/// beside it, renamed when complete).
pub fn export(config: &Config, out: &Path) -> Result<WaczSummary, WaczError> {
    let store = Store::open(&config.store)?;
    let dir = store.root().join("warc");
    let warcs = if dir.is_dir() {
        writer::warc_files(&dir).map_err(io_at(&dir))?
    } else {
        Vec::new()
    };
    if warcs.is_empty() {
        return Err(WaczError::NoWarcs(dir));
    }
    let mut lines = Vec::new();
    for w in &warcs {
        recover::recover(w).map_err(io_at(w))?;
        let index = recover::index_path(w);
        let text = fs::read_to_string(&index).map_err(io_at(&index))?;
        lines.extend(text.lines().map(str::to_string));
    }
    lines.sort();
    let index = lines.iter().map(|l| format!("{l}\n")).collect::<String>();
    let created = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let pages = pages_jsonl(config, &created);

    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = tempfile::NamedTempFile::new_in(parent).map_err(io_at(out))?;
    let mut zip = ZipWriter::new(BufWriter::with_capacity(
        256 * 1024,
        tmp.as_file().try_clone().map_err(io_at(out))?,
    ));
    let mut resources = Vec::new();
    let mut resource = |path: &str, sha: &str, bytes: u64| {
        resources.push(json!({
            "name": Path::new(path).file_name().map(|n| n.to_string_lossy().to_lowercase()),
            "path": path,
            "hash": format!("sha256:{sha}"),
            "bytes": bytes,
        }));
    };
    for w in &warcs {
        let name = format!(
            "archive/{}",
            w.file_name().unwrap_or_default().to_string_lossy()
        );
        let (sha, crc, len) = digest_file(w).map_err(io_at(w))?;
        let file = File::open(w).map_err(io_at(w))?;
        zip.add(&name, crc, len, file).map_err(io_at(out))?;
        resource(&name, &sha, len);
    }
    for (name, bytes) in [
        ("indexes/index.cdx", index.as_bytes()),
        ("pages/pages.jsonl", pages.0.as_bytes()),
    ] {
        zip.add_bytes(name, bytes).map_err(io_at(out))?;
        resource(name, &sha256_hex(bytes), bytes.len() as u64);
    }
    let package = json!({
        "profile": "data-package",
        "resources": resources,
        "title": "archive",
        "created": created,
        "wacz_version": "1.1.1",
        "software": format!("archive {}", env!("CARGO_PKG_VERSION")),
    });
    let package = serde_json::to_vec_pretty(&package).unwrap_or_default();
    zip.add_bytes("datapackage.json", &package)
        .map_err(io_at(out))?;
    let file = zip.finish().map_err(io_at(out))?;
    file.get_ref().sync_all().map_err(io_at(out))?;
    drop(file);
    tmp.persist(out).map_err(|e| WaczError::Io {
        path: out.to_path_buf(),
        source: e.error,
    })?;
    Ok(WaczSummary {
        warcs: warcs.len(),
        records: lines.len(),
        pages: pages.1,
    })
}

/// `pages.jsonl` (and how many pages): the documents of the last report
/// that name their page. No report yet: the header line only.
fn pages_jsonl(config: &Config, created: &str) -> (String, usize) {
    let mut out = json!({"format": "json-pages-1.0", "id": "pages", "title": "Corpus documents"})
        .to_string()
        + "\n";
    let report: Option<Value> = fs::read(&config.report.path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let mut count = 0;
    let documents = report
        .as_ref()
        .and_then(|r| r["documents"].as_array())
        .cloned()
        .unwrap_or_default();
    for (i, d) in documents.iter().enumerate() {
        let Some(url) = d["source_url"].as_str() else {
            continue;
        };
        let day = crate::lookup::near_date(d["date"].as_str(), None);
        let ts = cdxj::warc_date(&format!("{day}000000")).unwrap_or_else(|| created.to_string());
        let page = json!({
            "id": format!("doc-{i}"),
            "url": url,
            "ts": ts,
            "title": d["title"].as_str().unwrap_or(url),
        });
        out.push_str(&page.to_string());
        out.push('\n');
        count += 1;
    }
    (out, count)
}
