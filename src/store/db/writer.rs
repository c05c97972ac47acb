//! The state database's writer thread: it owns the writing connection,
//! takes the writes [`super::StateDb`] sends, and commits them in batches
//! (what arrives within 20 ms, up to 2048 writes, in one transaction), which is what keeps a run's thousands
//! of small records cheap. A batch that fails (a row on a corrupt page, a
//! dropped table, a full disk) is retried one write per transaction, so
//! the writes that can land still do; each that fails again is counted in
//! the store's [`Faults`] and reported by the run.

use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use rusqlite::{params, Connection, OptionalExtension};

use super::CheckRecord;
use crate::store::faults::Faults;

/// Writes the writer thread performs.
pub(super) enum Write {
    Check(Box<CheckRecord>),
    /// Replaces a document's references: (url, line) pairs.
    Refs {
        document: String,
        at: i64,
        refs: Vec<(String, usize)>,
    },
    /// Marks URLs whose object was corrupt for download.
    Redownload(String),
    /// Forgets objects (gc) and their versions.
    DropObjects(Vec<String>),
    /// Hosts' pauses: (host, until, unix seconds).
    Pauses(Vec<(String, i64)>),
    /// A web-archive lookup's answer (`None`: the archive has none).
    ArchiveLookup {
        url: String,
        near: String,
        at: i64,
        capture: Option<String>,
    },
    /// Commit everything so far, then answer.
    Flush(mpsc::SyncSender<()>),
}

/// Writes in one transaction, at most.
const MAX_BATCH: usize = 2048;

/// How long the writer gathers writes after the first before it commits
/// them (unless a flush is asked for). Taking only what had queued made
/// transactions of a few writes each when the writer kept up: every one
/// rewrote whole pages into the WAL (≈ 16 KB per link checked) and
/// checkpointed, with its fsyncs, every few hundred links.
const GATHER: Duration = Duration::from_millis(20);

pub(super) fn writer_loop(mut conn: Connection, rx: Receiver<Write>, faults: &Faults) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        gather(&rx, &mut batch);
        let mut replies = Vec::new();
        let writes: Vec<Write> = batch
            .into_iter()
            .filter_map(|w| match w {
                Write::Flush(reply) => {
                    replies.push(reply);
                    None
                }
                w => Some(w),
            })
            .collect();
        if let Err(e) = commit(&mut conn, &writes) {
            // One bad write (a row on a corrupt page, a dropped table)
            // must not take the batch's good ones with it: each alone.
            let mut failed = 0;
            for w in &writes {
                if let Err(e) = commit(&mut conn, std::slice::from_ref(w)) {
                    failed += 1;
                    faults.database(format!("{}: {e}", w.what()));
                }
            }
            tracing::error!(
                "state database: {failed} of {} writes failed ({e})",
                writes.len()
            );
        }
        for r in replies {
            let _ = r.send(());
        }
    }
}

/// How often the writer looks for more writes while it gathers.
const POLL: Duration = Duration::from_millis(2);

/// Adds to `batch` what arrives within [`GATHER`] of its first write, up
/// to [`MAX_BATCH`], and stops at a flush. It polls, sleeping between
/// looks, rather than waiting on the channel: a receiver blocked in
/// `recv` is woken by every send, a futex wake and two context switches
/// per link checked (wake-ups and scheduling were a fifth of the CPU of
/// checking 10,000 one-link documents; polling cut that run's CPU by
/// about 8 %, issue 11). A sleeping receiver costs a sender nothing.
fn gather(rx: &Receiver<Write>, batch: &mut Vec<Write>) {
    let until = Instant::now() + GATHER;
    let flushing = |b: &[Write]| matches!(b.last(), Some(Write::Flush(_)));
    while batch.len() < MAX_BATCH && !flushing(batch) {
        match rx.try_recv() {
            Ok(more) => batch.push(more),
            Err(mpsc::TryRecvError::Empty) => {
                let now = Instant::now();
                if now >= until {
                    return;
                }
                std::thread::sleep(POLL.min(until - now));
            }
            // Every sender is gone: commit what there is.
            Err(mpsc::TryRecvError::Disconnected) => return,
        }
    }
}

impl Write {
    /// What the write was for, in a fault's message.
    fn what(&self) -> String {
        match self {
            Write::Check(r) => format!("record the check of {}", r.url),
            Write::Refs { document, .. } => format!("record the links of {document}"),
            Write::Redownload(sha) => format!("mark {sha} for download"),
            Write::DropObjects(list) => format!("forget {} collected objects", list.len()),
            Write::Pauses(list) => format!("remember the pauses of {} hosts", list.len()),
            Write::ArchiveLookup { url, .. } => format!("remember the archive lookup of {url}"),
            Write::Flush(_) => "flush".into(),
        }
    }
}

/// Commits `writes` in one transaction: all of them or none.
fn commit(conn: &mut Connection, writes: &[Write]) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    for w in writes {
        match w {
            Write::Check(r) => write_check(&tx, r)?,
            Write::Refs { document, at, refs } => {
                tx.prepare_cached("DELETE FROM refs WHERE document = ?1")?
                    .execute([document])?;
                let mut stmt = tx.prepare_cached(
                    "INSERT OR REPLACE INTO refs (url, document, line, seen_at) VALUES (?1, ?2, ?3, ?4)",
                )?;
                for (url, line) in refs {
                    stmt.execute(params![url, document, *line as i64, at])?;
                }
            }
            Write::Redownload(sha) => {
                tx.execute(
                    "UPDATE urls SET needs_download = 1, sha256 = NULL WHERE sha256 = ?1",
                    [sha],
                )?;
                tx.execute("DELETE FROM objects WHERE sha256 = ?1", [sha])?;
            }
            Write::DropObjects(list) => {
                for sha in list {
                    tx.execute("DELETE FROM objects WHERE sha256 = ?1", [sha])?;
                    tx.execute("DELETE FROM versions WHERE sha256 = ?1", [sha])?;
                    tx.execute("UPDATE urls SET sha256 = NULL WHERE sha256 = ?1", [sha])?;
                }
            }
            Write::Pauses(pauses) => {
                let mut stmt = tx.prepare_cached(
                    "INSERT OR REPLACE INTO host_pauses (host, until) VALUES (?1, ?2)",
                )?;
                for (host, until) in pauses {
                    stmt.execute(params![host, until])?;
                }
            }
            Write::ArchiveLookup {
                url,
                near,
                at,
                capture,
            } => {
                tx.execute(
                    "INSERT OR REPLACE INTO archive_lookups (url, near, asked_at, capture) VALUES (?1, ?2, ?3, ?4)",
                    params![url, near, at, capture],
                )?;
            }
            Write::Flush(_) => {}
        }
    }
    tx.commit()
}

fn write_check(tx: &rusqlite::Transaction, r: &CheckRecord) -> rusqlite::Result<()> {
    let status = r.status;
    // Compared by SQLite, so a stored word this version does not know
    // counts as a change instead of failing the whole batch.
    let unchanged: Option<bool> = tx
        .prepare_cached("SELECT status IS ?2 FROM urls WHERE url = ?1")?
        .query_row(params![r.url, status], |row| row.get(0))
        .optional()?;
    let changed = unchanged != Some(true);
    tx.prepare_cached(
        "INSERT INTO urls (url, first_seen, last_seen, checked_at, status, reason, status_since, http_code, etag,
                           last_modified, content_type, content_length, http_json)
         VALUES (?1, ?2, ?2, ?2, ?3, ?4, ?2, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT(url) DO UPDATE SET
            last_seen = ?2, checked_at = ?2, status = ?3, reason = ?4,
            status_since = CASE WHEN urls.status IS ?3 THEN urls.status_since ELSE ?2 END,
            http_code = ?5, etag = COALESCE(?6, urls.etag), last_modified = COALESCE(?7, urls.last_modified),
            content_type = COALESCE(?8, urls.content_type), content_length = COALESCE(?9, urls.content_length),
            http_json = ?10",
    )?
    .execute(
        params![
            r.url,
            r.at,
            status,
            r.reason,
            r.http_code,
            r.etag,
            r.last_modified,
            r.content_type,
            r.content_length.map(|l| l as i64),
            r.http_json
        ],
    )?;
    if changed {
        tx.prepare_cached("INSERT INTO history (url, at, status, reason) VALUES (?1, ?2, ?3, ?4)")?
            .execute(params![r.url, r.at, status, r.reason])?;
    }
    if let Some((sha, size)) = &r.object {
        tx.prepare_cached(
            "INSERT INTO objects (sha256, size, content_type, first_seen, last_referenced) VALUES (?1, ?2, ?3, ?4, ?4)
             ON CONFLICT(sha256) DO UPDATE SET last_referenced = ?4",
        )?
        .execute(
            params![sha, *size as i64, r.content_type, r.at],
        )?;
        tx.prepare_cached(
            "INSERT OR IGNORE INTO versions (url, sha256, stored_at) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![r.url, sha, r.at])?;
        tx.prepare_cached("UPDATE urls SET sha256 = ?2, needs_download = 0 WHERE url = ?1")?
            .execute(params![r.url, sha])?;
    }
    Ok(())
}
