//! The store's maintenance commands: `verify`, `gc`, `export`, `stats`.
//!
//! Each opens the store (taking its lock, so a running check cannot write
//! underneath), does its work, and returns what it found for `main.rs` to
//! print. None of them touches the network.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use serde::Serialize;

use crate::config::StoreConfig;
use crate::store::Store;

/// What `archive verify` found.
#[derive(Debug, Default, Serialize)]
pub struct VerifyOutcome {
    pub checked: usize,
    /// Objects whose bytes no longer match their name, now in quarantine/.
    pub corrupt: Vec<String>,
    /// Objects the database lists but the store lacks.
    pub missing: Vec<String>,
}

/// Re-hashes every object; quarantines the corrupt ones and marks their
/// URLs for download at the next check.
pub fn verify(config: &StoreConfig) -> Result<VerifyOutcome, String> {
    let store = Store::open(config)?;
    let mut out = VerifyOutcome::default();
    for (sha, _, _) in store.objects.objects() {
        out.checked += 1;
        match store.objects.verify(&sha) {
            Ok(true) => {}
            Ok(false) | Err(_) => {
                let moved = store
                    .objects
                    .quarantine(&sha)
                    .map_err(|e| format!("cannot quarantine {sha}: {e}"))?;
                tracing::warn!(sha256 = %sha, to = %moved.display(), "corrupt object quarantined");
                store.db.mark_redownload(&sha);
                out.corrupt.push(sha);
            }
        }
    }
    let listed: Vec<(String, i64)> = store
        .db
        .read(|c| {
            let mut stmt = c.prepare("SELECT sha256, size FROM objects ORDER BY sha256")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })
        .map_err(|e| format!("cannot read the state database: {e}"))?;
    for (sha, size) in listed {
        if !out.corrupt.contains(&sha) && !store.objects.contains(&sha, size as u64) {
            store.db.mark_redownload(&sha);
            out.missing.push(sha);
        }
    }
    store.db.flush();
    Ok(out)
}

/// What `archive gc` found (and, with `force`, deleted).
#[derive(Debug, Default, Serialize)]
pub struct GcOutcome {
    pub deleted: bool,
    pub objects: Vec<String>,
    pub bytes: u64,
}

/// Objects no current document needs and that no check has referenced for
/// `store.gc_after_days`. Deletes them only with `force`.
pub fn gc(config: &StoreConfig, force: bool) -> Result<GcOutcome, String> {
    let store = Store::open(config)?;
    let cutoff = chrono::Utc::now().timestamp() - (config.gc_after_days as i64) * 86_400;
    let candidates: Vec<(String, i64)> = store
        .db
        .read(|c| {
            let mut stmt = c.prepare(
                "SELECT o.sha256, o.size FROM objects o
                 WHERE o.last_referenced < ?1
                   AND o.sha256 NOT IN (
                       SELECT u.sha256 FROM urls u JOIN refs r ON r.url = u.url WHERE u.sha256 IS NOT NULL
                       UNION
                       SELECT v.sha256 FROM versions v JOIN refs r ON r.url = v.url)
                 ORDER BY o.sha256",
            )?;
            let rows = stmt.query_map([cutoff], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })
        .map_err(|e| format!("cannot read the state database: {e}"))?;
    let mut out = GcOutcome {
        deleted: force,
        ..GcOutcome::default()
    };
    for (sha, size) in candidates {
        if force {
            if let Err(e) = store.objects.remove(&sha) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    return Err(format!("cannot delete object {sha}: {e}"));
                }
            }
        }
        out.bytes += size as u64;
        out.objects.push(sha);
    }
    if force {
        store.db.drop_objects(out.objects.clone());
        store.db.flush();
    }
    Ok(out)
}

/// `archive stats`.
#[derive(Debug, Default, Serialize)]
pub struct Stats {
    pub objects: u64,
    pub bytes: u64,
    /// URLs that map to an object.
    pub archived_urls: u64,
    /// Bytes the archived URLs would take without deduplication.
    pub logical_bytes: u64,
    /// logical_bytes / bytes (1.0 means no duplicates).
    pub dedup_ratio: f64,
    pub by_host: BTreeMap<String, HostStats>,
}

#[derive(Debug, Default, Serialize)]
pub struct HostStats {
    pub urls: u64,
    pub bytes: u64,
}

pub fn stats(config: &StoreConfig) -> Result<Stats, String> {
    let store = Store::open(config)?;
    let (objects, bytes) = store.db.totals();
    let rows: Vec<(String, i64)> = store
        .db
        .read(|c| {
            let mut stmt = c.prepare(
                "SELECT u.url, o.size FROM urls u JOIN objects o ON o.sha256 = u.sha256",
            )?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })
        .map_err(|e| format!("cannot read the state database: {e}"))?;
    let mut out = Stats {
        objects,
        bytes,
        ..Stats::default()
    };
    for (url, size) in rows {
        let host = url::Url::parse(&url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_default();
        let entry = out.by_host.entry(host).or_default();
        entry.urls += 1;
        entry.bytes += size as u64;
        out.archived_urls += 1;
        out.logical_bytes += size as u64;
    }
    out.dedup_ratio = if bytes == 0 {
        1.0
    } else {
        out.logical_bytes as f64 / bytes as f64
    };
    Ok(out)
}

/// One row of the export manifest.
#[derive(Debug, Serialize)]
pub struct ManifestRow {
    pub url: String,
    pub sha256: String,
    pub size: u64,
    pub content_type: Option<String>,
    /// When this URL's object was first stored (RFC 3339).
    pub first_seen: String,
    /// Path of the object relative to the store folder.
    pub path: String,
}

/// Writes the manifest of archived URLs as JSON lines or CSV.
pub fn export(config: &StoreConfig, csv: bool, out: &mut dyn Write) -> Result<usize, String> {
    let store = Store::open(config)?;
    let rows: Vec<(String, String, i64, Option<String>, i64)> = store
        .db
        .read(|c| {
            let mut stmt = c.prepare(
                "SELECT v.url, v.sha256, o.size, o.content_type, v.stored_at
                 FROM versions v JOIN objects o ON o.sha256 = v.sha256 ORDER BY v.url, v.stored_at",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?;
            rows.collect()
        })
        .map_err(|e| format!("cannot read the state database: {e}"))?;
    let write_err = |e: std::io::Error| format!("cannot write the manifest: {e}");
    if csv {
        writeln!(out, "url,sha256,size,content_type,first_seen,path").map_err(write_err)?;
    }
    let count = rows.len();
    for (url, sha256, size, content_type, stored_at) in rows {
        let path = store
            .objects
            .object_path(&sha256)
            .and_then(|p| p.strip_prefix(store.root()).ok().map(Path::to_path_buf))
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let row = ManifestRow {
            url,
            sha256,
            size: size as u64,
            content_type,
            first_seen: chrono::DateTime::from_timestamp(stored_at, 0)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                .unwrap_or_default(),
            path,
        };
        if csv {
            let field = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
            writeln!(
                out,
                "{},{},{},{},{},{}",
                field(&row.url),
                row.sha256,
                row.size,
                field(row.content_type.as_deref().unwrap_or("")),
                row.first_seen,
                row.path
            )
            .map_err(write_err)?;
        } else {
            serde_json::to_writer(&mut *out, &row)
                .map_err(|e| format!("cannot write the manifest: {e}"))?;
            writeln!(out).map_err(write_err)?;
        }
    }
    Ok(count)
}
