//! The store's maintenance commands: `verify`, `gc`, `export`, `stats`.
//!
//! Each opens the store (taking its lock, so a running check cannot write
//! underneath), does its work, and returns what it found for `main.rs` to
//! print. None of them touches the network.
//!
//! Failures are [`MaintenanceError`]s, worded for the operator and
//! keeping their cause as `source()`: a manifest written into a closed
//! pipe ends in an `io::Error` of kind `BrokenPipe` that the caller can
//! find, which a message string could not carry.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::StoreConfig;
use crate::store::objects::{is_unavailable, relative_object_path};
use crate::store::{Store, StoreError};
use crate::vocab::Reason;

/// Why a maintenance command stopped.
#[derive(Debug, thiserror::Error)]
pub enum MaintenanceError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "cannot read the state database: {0} (check that state.db in the store folder is readable)"
    )]
    ReadDatabase(#[source] rusqlite::Error),
    #[error(
        "cannot quarantine {sha}: {source} (check that the store's quarantine/ folder is writable)"
    )]
    Quarantine { sha: String, source: std::io::Error },
    #[error(
        "cannot {what} the objects at {location}: {source} (check store.url, that the object service answers and its credentials; nothing was changed for the objects not reached)"
    )]
    Objects {
        what: &'static str,
        location: String,
        source: std::io::Error,
    },
    #[error("cannot delete object {sha}: {source} (check that the store folder is writable)")]
    Delete { sha: String, source: std::io::Error },
    #[error(
        "gc refused: the last full check could not reach the network ({marker}), so it proved nothing about which links are alive; run `archive --check` again once the network is back, then gc"
    )]
    Outage { marker: String },
    #[error("cannot write the manifest: {0}")]
    WriteManifest(#[source] std::io::Error),
    #[error("cannot write {}: {source} (check that the output folder is writable)", path.display())]
    WriteDocument {
        path: PathBuf,
        source: std::io::Error,
    },
}

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
pub fn verify(config: &StoreConfig) -> Result<VerifyOutcome, MaintenanceError> {
    let store = Store::open(config)?;
    let mut out = VerifyOutcome::default();
    let unreachable = |what, source| MaintenanceError::Objects {
        what,
        location: store.objects.location(),
        source,
    };
    let objects = store.objects.list().map_err(|e| unreachable("list", e))?;
    for (sha, _) in objects {
        out.checked += 1;
        match store.objects.verify(&sha) {
            Ok(true) => {}
            // A service that did not answer proved nothing about the bytes.
            Err(e) if is_unavailable(&e) => return Err(unreachable("read", e)),
            Ok(false) | Err(_) => {
                let moved = store.objects.quarantine(&sha).map_err(|source| {
                    MaintenanceError::Quarantine {
                        sha: sha.clone(),
                        source,
                    }
                })?;
                tracing::warn!(sha256 = %sha, to = %moved, "corrupt object quarantined");
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
        .map_err(MaintenanceError::ReadDatabase)?;
    for (sha, size) in listed {
        if out.corrupt.contains(&sha) {
            continue;
        }
        let present = store
            .objects
            .contains(&sha, size as u64)
            .map_err(|e| unreachable("read", e))?;
        if !present {
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
pub fn gc(config: &StoreConfig, force: bool) -> Result<GcOutcome, MaintenanceError> {
    let store = Store::open(config)?;
    // Under the store's lock, so no check can clear or set it meanwhile.
    if let Some(marker) = crate::store::marker::outage(store.root()) {
        return Err(MaintenanceError::Outage { marker });
    }
    // Saturating: a huge `gc_after_days` (bounded when parsed, but the
    // struct is public) must mean "nothing is that old", never wrap to a
    // cutoff in the future that offers just-referenced objects.
    let age = i64::try_from(config.gc_after_days)
        .unwrap_or(i64::MAX)
        .saturating_mul(86_400);
    let cutoff = chrono::Utc::now().timestamp().saturating_sub(age);
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
        .map_err(MaintenanceError::ReadDatabase)?;
    if store.objects.bucket().is_some() {
        return gc_bucket(&store, candidates, cutoff, force);
    }
    let mut out = GcOutcome {
        deleted: force,
        ..GcOutcome::default()
    };
    for (sha, size) in candidates {
        if force {
            if let Err(e) = store.objects.delete(&sha) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    return Err(MaintenanceError::Delete { sha, source: e });
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

/// `gc` on a bucket shared by several nodes ([`crate::store::manifest`]):
/// this node gives up its own `candidates` and (with `force`) publishes
/// what it still references, then deletes what no node's manifest names
/// and the bucket last wrote before `cutoff`.
fn gc_bucket(
    store: &Store,
    candidates: Vec<(String, i64)>,
    cutoff: i64,
    force: bool,
) -> Result<GcOutcome, MaintenanceError> {
    let given_up: Vec<String> = candidates.into_iter().map(|(sha, _)| sha).collect();
    let doomed =
        crate::store::manifest::plan_gc(store, &given_up, cutoff, force).map_err(|source| {
            MaintenanceError::Objects {
                what: "collect garbage in",
                location: store.objects.location(),
                source,
            }
        })?;
    let mut out = GcOutcome {
        deleted: force,
        ..GcOutcome::default()
    };
    for (sha, size) in doomed {
        if force {
            store
                .objects
                .delete(&sha)
                .map_err(|source| MaintenanceError::Delete {
                    sha: sha.clone(),
                    source,
                })?;
        }
        out.bytes += size;
        out.objects.push(sha);
    }
    if force {
        store.db.drop_objects(given_up);
        store.db.flush();
    }
    Ok(out)
}

/// `archive stats`.
#[derive(Debug, Default, Serialize)]
pub struct Stats {
    /// Where the objects live: `local` or `s3`.
    pub backend: String,
    /// The objects' folder, or `s3://bucket/prefix`.
    pub location: String,
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

pub fn stats(config: &StoreConfig) -> Result<Stats, MaintenanceError> {
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
        .map_err(MaintenanceError::ReadDatabase)?;
    let mut out = Stats {
        backend: store.objects.kind().to_string(),
        location: store.objects.location(),
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
pub fn export(
    config: &StoreConfig,
    csv: bool,
    out: &mut dyn Write,
) -> Result<usize, MaintenanceError> {
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
        .map_err(MaintenanceError::ReadDatabase)?;
    let write_err = MaintenanceError::WriteManifest;
    if csv {
        writeln!(out, "url,sha256,size,content_type,first_seen,path").map_err(write_err)?;
    }
    let count = rows.len();
    for (url, sha256, size, content_type, stored_at) in rows {
        let path = relative_object_path(&sha256)
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
            // serde_json gives back the writer's io::Error (a closed pipe
            // stays a closed pipe).
            serde_json::to_writer(&mut *out, &row)
                .map_err(|e| write_err(std::io::Error::from(e)))?;
            writeln!(out).map_err(write_err)?;
        }
    }
    Ok(count)
}

/// What `archive export --rewrite` wrote.
#[derive(Debug, Default, Serialize)]
pub struct RewriteOutcome {
    pub documents: usize,
    /// Links now pointing at archived objects.
    pub rewritten: usize,
    /// Lines of exploded-URL runs removed (their repair replaced the run).
    pub removed_lines: usize,
}

/// Copies the corpus to `out_dir` with media links pointing at the archived
/// objects (relative paths) and repaired links replaced by their working,
/// archived URL, so the archive can be browsed offline. Documents are
/// written as UTF-8 whatever their original encoding.
pub fn rewrite(
    config: &crate::config::Config,
    out_dir: &Path,
) -> Result<RewriteOutcome, MaintenanceError> {
    use crate::pipeline::scan_corpus;
    use crate::source::corpus::CorpusSource;

    let store = Store::open(&config.store)?;
    // Local objects are linked where they are; objects in a bucket are
    // copied (streamed) beside the documents, under `objects/`.
    let (objects_root, copy_objects) = match store.objects.local_root() {
        Some(root) => (root.to_path_buf(), false),
        None => (out_dir.join("objects"), true),
    };
    if copy_objects {
        std::fs::create_dir_all(&objects_root).map_err(|source| {
            MaintenanceError::WriteDocument {
                path: objects_root.clone(),
                source,
            }
        })?;
    }
    let store_root = std::fs::canonicalize(&objects_root).map_err(|source| StoreError::Folder {
        root: objects_root.clone(),
        what: "resolve its path",
        source,
    })?;
    let object_of = |url: &str| -> Option<PathBuf> {
        let state = match store.db.url_state(url) {
            Ok(state) => state?,
            Err(e) => {
                // The link keeps its URL; the rewrite goes on.
                tracing::warn!("state database: cannot read what is known about {url}: {e}");
                return None;
            }
        };
        let (sha, size) = state.sha256.zip(state.size)?;
        match store.objects.contains(&sha, size) {
            Ok(true) => {}
            Ok(false) => return None,
            Err(e) => {
                tracing::warn!("cannot reach the object of {url}: {e}; the link keeps its URL");
                return None;
            }
        }
        let path = store_root.join(relative_object_path(&sha)?);
        if copy_objects && !path.exists() {
            if let Err(e) = crate::store::objects::copy_out(store.objects.as_ref(), &sha, &path) {
                tracing::warn!("cannot copy object {sha} of {url}: {e}; the link keeps its URL");
                return None;
            }
        }
        Some(path)
    };
    let mut outcome = RewriteOutcome::default();
    let mut failure = None;
    let roots = config.corpus.paths.clone();
    let mut source = CorpusSource::new(&roots, &config.corpus);
    scan_corpus(&mut source, config, None, |scanned| {
        if failure.is_some() || scanned.document.status != crate::source::DocumentStatus::Ok {
            return;
        }
        let doc_path = PathBuf::from(&scanned.document.path);
        let Ok(bytes) = std::fs::read(&doc_path) else {
            return;
        };
        let text = crate::source::decode::decode(&bytes).text;
        let relative = roots
            .iter()
            .find_map(|r| {
                doc_path
                    .strip_prefix(r)
                    .ok()
                    .map(Path::to_path_buf)
                    .filter(|p| !p.as_os_str().is_empty())
            })
            .unwrap_or_else(|| PathBuf::from(doc_path.file_name().unwrap_or_default()));
        let target = out_dir.join(relative);
        let target_dir = target.parent().unwrap_or(out_dir).to_path_buf();
        // (line, column, text as written, replacement)
        let mut edits: Vec<(usize, usize, &str, String)> = Vec::new();
        let mut drop_lines: Vec<usize> = Vec::new();
        for link in &scanned.links {
            // A repair that was archived wins over the link as written
            // (being in the store means it was checked good).
            let via_run = link.finding.is_some() && link.reason == Some(Reason::ExplodedUrl);
            // A character of an exploded run has its repairs on the
            // finding it points at (schema 2.0.0), not on itself.
            let run_repairs = link
                .finding
                .filter(|_| via_run)
                .and_then(|f| scanned.findings.iter().find(|x| x.id == f))
                .map_or(&[][..], |f| &f.suggestions[..]);
            let candidates = link
                .suggestions
                .iter()
                .chain(run_repairs)
                .map(|s| s.url.as_str())
                .chain(link.resolved.as_deref());
            let Some(object) = candidates.filter_map(object_of).next() else {
                continue;
            };
            if via_run
                && scanned
                    .links
                    .iter()
                    .any(|l| l.finding == link.finding && l.id < link.id)
            {
                // Later characters of an exploded run: the first carries the repair.
                drop_lines.push(link.line);
                continue;
            }
            let local = relative_path(&target_dir, &object);
            edits.push((
                link.line,
                link.column,
                &link.url,
                local.display().to_string(),
            ));
        }
        let mut out = String::with_capacity(text.len());
        for (i, line) in text.split_inclusive('\n').enumerate() {
            let number = i + 1;
            if drop_lines.contains(&number)
                && line.trim_start().starts_with("![")
                && line.trim_end().ends_with(')')
            {
                outcome.removed_lines += 1;
                continue;
            }
            let mut line = line.to_string();
            // Apply this line's edits right to left so columns stay valid.
            let mut here: Vec<_> = edits.iter().filter(|e| e.0 == number).collect();
            here.sort_by_key(|e| std::cmp::Reverse(e.1));
            for (_, column, from, to) in here {
                let at = line.char_indices().nth(column - 1).map(|(b, _)| b);
                if let Some(at) = at.filter(|&b| line[b..].starts_with(from)) {
                    line.replace_range(at..at + from.len(), to);
                    outcome.rewritten += 1;
                }
            }
            out.push_str(&line);
        }
        let written =
            std::fs::create_dir_all(&target_dir).and_then(|_| std::fs::write(&target, out));
        match written {
            Ok(()) => outcome.documents += 1,
            Err(source) => {
                failure = Some(MaintenanceError::WriteDocument {
                    path: target.clone(),
                    source,
                })
            }
        }
    });
    match failure {
        Some(e) => Err(e),
        None => Ok(outcome),
    }
}

/// `to` relative to the folder `from` (both absolute or both relative).
fn relative_path(from: &Path, to: &Path) -> PathBuf {
    let from = std::fs::canonicalize(from).unwrap_or_else(|_| from.to_path_buf());
    let from: Vec<_> = from.components().collect();
    let to_parts: Vec<_> = to.components().collect();
    let common = from
        .iter()
        .zip(&to_parts)
        .take_while(|(a, b)| a == b)
        .count();
    let mut out = PathBuf::new();
    for _ in common..from.len() {
        out.push("..");
    }
    for part in &to_parts[common..] {
        out.push(part);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that went away (`archive export | head`).
    struct ClosedPipe;

    impl Write for ClosedPipe {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_closed_pipe_stays_a_closed_pipe() {
        let dir = tempfile::tempdir().unwrap();
        let config = StoreConfig {
            path: dir.path().to_path_buf(),
            ..StoreConfig::default()
        };
        let err = export(&config, true, &mut ClosedPipe).expect_err("the write fails");
        assert!(
            err.to_string().starts_with("cannot write the manifest"),
            "{err}"
        );
        assert!(crate::error::RunError::from(err).is_broken_pipe());
    }
}
