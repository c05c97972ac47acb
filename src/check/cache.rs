//! Check results kept between runs, so a second `--check` within
//! `check.cache_max_age` sends no request for a link already known good.
//!
//! Only `ok` results are cached: a broken link is worth asking about again
//! every run. The cache is a JSON-lines file in the store folder
//! (`<store>/check-cache.jsonl`), read once at start and rewritten
//! atomically at the end; the state database of the store replaces it.

use std::collections::HashMap;
use std::io::{BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::fetch::HttpInfo;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    url: String,
    /// Unix seconds.
    checked_at: i64,
    http: HttpInfo,
}

/// Known-good URLs and when they were checked.
#[derive(Debug, Default)]
pub struct Cache {
    path: Option<PathBuf>,
    entries: HashMap<String, Entry>,
    max_age: i64,
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

impl Cache {
    /// A cache that remembers nothing (`--no-cache`).
    pub fn disabled() -> Cache {
        Cache::default()
    }

    /// Loads `<store>/check-cache.jsonl`; unreadable lines are skipped.
    pub fn load(store: &Path, max_age: u64) -> Cache {
        let path = store.join("check-cache.jsonl");
        let mut entries = HashMap::new();
        if let Ok(file) = std::fs::File::open(&path) {
            for line in std::io::BufReader::new(file).lines().map_while(Result::ok) {
                if let Ok(e) = serde_json::from_str::<Entry>(&line) {
                    entries.insert(e.url.clone(), e);
                }
            }
        }
        Cache {
            path: Some(path),
            entries,
            max_age: max_age as i64,
        }
    }

    /// The cached `ok` result for `url`, if fresh.
    pub fn fresh(&self, url: &str) -> Option<HttpInfo> {
        let e = self.entries.get(url)?;
        (now() - e.checked_at <= self.max_age).then(|| {
            let mut http = e.http.clone();
            http.from_cache = true;
            http
        })
    }

    /// Remembers a good result.
    pub fn remember(&mut self, url: &str, http: &HttpInfo) {
        if self.path.is_some() && !http.from_cache {
            self.entries.insert(
                url.to_string(),
                Entry {
                    url: url.to_string(),
                    checked_at: now(),
                    http: http.clone(),
                },
            );
        }
    }

    /// Forgets a URL that is no longer good.
    pub fn forget(&mut self, url: &str) {
        self.entries.remove(url);
    }

    /// Writes the cache back (temp file + rename); stale entries dropped.
    pub fn save(&self) -> std::io::Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        {
            let mut w = BufWriter::new(tmp.as_file_mut());
            let limit = now() - self.max_age;
            for e in self.entries.values().filter(|e| e.checked_at >= limit) {
                serde_json::to_writer(&mut w, e)?;
                w.write_all(b"\n")?;
            }
            w.flush()?;
        }
        tmp.as_file().sync_all()?;
        tmp.persist(path).map_err(|e| e.error)?;
        Ok(())
    }
}
