//! The state database (SQLite, WAL): what was checked when and with what
//! result, which object each URL maps to, which documents and lines
//! reference it, and the history of its status changes.
//!
//! All writes go through one writer thread that owns its connection and
//! commits in batches ([`StateDb::send`]); reads use a second connection,
//! which WAL lets run beside the writer. Migrations are numbered by
//! `PRAGMA user_version`. Besides URLs, it remembers the pauses hosts
//! asked for (`429`/`503` with `Retry-After`), so a restarted process does
//! not hammer a host that asked it to wait.
//!
//! Statuses and reasons are stored as the report spells them and read back
//! as types ([`ToSql`]/[`FromSql`] below): a word the code does not know
//! (a database written by a newer version, or edited by hand) is an error
//! when read, never a silent default.
//!
//! Ordering is what keeps the archive honest: an object is committed to
//! the object store *before* the database is told about it, so after a
//! crash the database never names an object that is not there.
//!
//! A write that fails (a corrupt page, a missing table, a full disk) is
//! not dropped quietly: a failed batch is tried again one write per
//! transaction, so the good writes in it still land, and each write that
//! fails alone is counted in the store's [`Faults`], as is a read that
//! fails for any reason but a word this version does not know. The run's
//! summary and exit code come from those counts.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSqlOutput, ValueRef};
use rusqlite::{Connection, OptionalExtension, ToSql};

use super::faults::Faults;
use super::StoreError;

mod lookups;
mod writer;
use crate::model::Status;
use crate::vocab::Reason;
use writer::{writer_loop, Write};

impl ToSql for Status {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for Status {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Status> {
        Status::from_word(value.as_str()?).map_err(|e| FromSqlError::Other(Box::new(e)))
    }
}

impl ToSql for Reason {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for Reason {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Reason> {
        value
            .as_str()?
            .parse()
            .map_err(|e| FromSqlError::Other(Box::new(e)))
    }
}

/// Migrations, in order; `user_version` counts how many ran.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE urls (
    url TEXT PRIMARY KEY,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    checked_at INTEGER,
    status TEXT,
    reason TEXT,
    status_since INTEGER,
    http_code INTEGER,
    etag TEXT,
    last_modified TEXT,
    content_type TEXT,
    content_length INTEGER,
    sha256 TEXT,
    http_json TEXT,
    needs_download INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE objects (
    sha256 TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    content_type TEXT,
    first_seen INTEGER NOT NULL,
    last_referenced INTEGER NOT NULL
);
CREATE TABLE versions (
    url TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    stored_at INTEGER NOT NULL,
    PRIMARY KEY (url, sha256)
);
CREATE TABLE refs (
    url TEXT NOT NULL,
    document TEXT NOT NULL,
    line INTEGER NOT NULL,
    seen_at INTEGER NOT NULL,
    PRIMARY KEY (url, document, line)
);
CREATE INDEX refs_document ON refs(document);
CREATE TABLE history (
    url TEXT NOT NULL,
    at INTEGER NOT NULL,
    status TEXT NOT NULL,
    reason TEXT
);
CREATE INDEX history_url ON history(url);
"#,
    r#"
CREATE TABLE host_pauses (
    host TEXT PRIMARY KEY,
    until INTEGER NOT NULL
);
"#,
    r#"
CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"#,
    // Web-archive lookups (crate::lookup): the capture found for a URL
    // near a date, or NULL when the archive has none.
    r#"
CREATE TABLE archive_lookups (
    url TEXT NOT NULL,
    near TEXT NOT NULL,
    asked_at INTEGER NOT NULL,
    capture TEXT,
    PRIMARY KEY (url, near)
);
"#,
];

/// A check result to record.
#[derive(Debug, Clone)]
pub struct CheckRecord {
    pub url: String,
    pub at: i64,
    pub status: Status,
    pub reason: Option<Reason>,
    pub http_code: Option<u16>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub content_type: Option<String>,
    pub content_length: Option<u64>,
    /// The object the URL's body is stored as (new or unchanged).
    pub object: Option<(String, u64)>,
    pub http_json: Option<String>,
}

/// What is known about a URL.
#[derive(Debug, Clone, Default)]
pub struct UrlState {
    pub checked_at: Option<i64>,
    pub status: Option<Status>,
    pub status_since: Option<i64>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub sha256: Option<String>,
    pub size: Option<u64>,
    pub http_json: Option<String>,
    pub needs_download: bool,
}

/// The state database: a writer thread and a reader connection.
pub struct StateDb {
    tx: Option<mpsc::SyncSender<Write>>,
    writer: Option<JoinHandle<()>>,
    reader: Mutex<Connection>,
    path: PathBuf,
    /// Failed reads and writes, shared with the writer thread.
    faults: Arc<Faults>,
}

fn open_connection(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Every statement of a check's record, a document's references and a
    // URL's read stays prepared (parsing them each time cost more than
    // running them).
    conn.set_prepared_statement_cache_capacity(32);
    Ok(conn)
}

fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let version: usize = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i + 1)?;
        tx.commit()?;
    }
    Ok(())
}

/// Writes waiting for the writer thread, at most.
const WRITE_QUEUE: usize = 4096;

impl StateDb {
    /// Opens (creating and migrating) `path`.
    pub fn open(path: &Path) -> Result<StateDb, StoreError> {
        let err = |source| StoreError::Database {
            path: path.to_path_buf(),
            source,
        };
        let mut writer_conn = open_connection(path).map_err(err)?;
        migrate(&mut writer_conn).map_err(err)?;
        let reader = open_connection(path).map_err(err)?;
        // Bounded: a writer that falls behind (a slow disk) slows the
        // checks down rather than holding their records in memory
        // (≈ 0.5 KB each; with this unbounded and every checked URL kept
        // in memory, a 300,000-URL run peaked 93 MB higher).
        let (tx, rx) = mpsc::sync_channel(WRITE_QUEUE);
        let faults = Arc::new(Faults::default());
        let writer_faults = faults.clone();
        let writer = std::thread::Builder::new()
            .name("state-db-writer".into())
            .spawn(move || writer_loop(writer_conn, rx, &writer_faults))
            .map_err(StoreError::Writer)?;
        Ok(StateDb {
            tx: Some(tx),
            writer: Some(writer),
            reader: Mutex::new(reader),
            path: path.to_path_buf(),
            faults,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// This database's failed operations (and the object store's, which
    /// the [`super::Store`] counts here too).
    pub fn faults(&self) -> &Arc<Faults> {
        &self.faults
    }

    /// Counts a failed read, unless it failed on a word this version does
    /// not know (a newer version's database): that one is rewritten by
    /// the next check and is not a fault of the store.
    fn read_failed(&self, what: &str, e: &rusqlite::Error) {
        if !matches!(e, rusqlite::Error::FromSqlConversionFailure(..)) {
            self.faults.database(format!("{what}: {e}"));
        }
    }

    fn send(&self, w: Write) {
        if let Some(tx) = &self.tx {
            if tx.send(w).is_err() {
                self.faults
                    .database("the state database writer has stopped".into());
                tracing::error!(
                    "the state database writer has stopped; results are not being saved"
                );
            }
        }
    }

    pub fn record_check(&self, record: CheckRecord) {
        self.send(Write::Check(Box::new(record)));
    }

    pub fn record_refs(&self, document: &str, at: i64, refs: Vec<(String, usize)>) {
        self.send(Write::Refs {
            document: document.to_string(),
            at,
            refs,
        });
    }

    /// Remembers that these hosts asked us to pause until these times
    /// (unix seconds), so a restarted process honours them too.
    pub fn record_pauses(&self, pauses: Vec<(String, i64)>) {
        if !pauses.is_empty() {
            self.send(Write::Pauses(pauses));
        }
    }

    /// Pauses still in force at `now` (unix seconds), by host.
    pub fn pauses_after(&self, now: i64) -> rusqlite::Result<Vec<(String, i64)>> {
        self.read(|c| {
            let mut stmt = c.prepare("SELECT host, until FROM host_pauses WHERE until > ?1")?;
            let rows = stmt.query_map([now], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })
    }

    pub fn mark_redownload(&self, sha256: &str) {
        self.send(Write::Redownload(sha256.to_string()));
    }

    pub fn drop_objects(&self, digests: Vec<String>) {
        self.send(Write::DropObjects(digests));
    }

    /// Waits until every write sent so far is committed.
    pub fn flush(&self) {
        let (tx, rx) = mpsc::sync_channel(1);
        self.send(Write::Flush(tx));
        let _ = rx.recv();
    }

    /// This node's name for a shared bucket's manifests: generated the
    /// first time it is asked for, then kept.
    pub fn node_id(&self) -> rusqlite::Result<String> {
        let fresh = format!("node-{:016x}", rand::random::<u64>());
        let conn = self.reader.lock().unwrap_or_else(|e| e.into_inner());
        conn.execute(
            "INSERT OR IGNORE INTO settings (key, value) VALUES ('node_id', ?1)",
            [&fresh],
        )?;
        conn.query_row(
            "SELECT value FROM settings WHERE key = 'node_id'",
            [],
            |r| r.get(0),
        )
    }

    /// The digest of every object this node's database lists.
    pub fn object_digests(&self) -> rusqlite::Result<Vec<String>> {
        self.read(|c| {
            let mut stmt = c.prepare("SELECT sha256 FROM objects ORDER BY sha256")?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            rows.collect()
        })
    }

    /// The reader connection, for queries.
    pub fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        let conn = self.reader.lock().unwrap_or_else(|e| e.into_inner());
        f(&conn)
    }

    /// What is known about `url`; an error when the database cannot be
    /// read or holds a status this version does not know.
    pub fn url_state(&self, url: &str) -> rusqlite::Result<Option<UrlState>> {
        let state = self.read(|c| {
            // Cached: one read per URL checked, a parse each time was a
            // fifth of a run's CPU.
            c.prepare_cached(
                "SELECT u.checked_at, u.status, u.status_since, u.etag, u.last_modified, u.sha256, o.size, u.http_json, u.needs_download
                 FROM urls u LEFT JOIN objects o ON o.sha256 = u.sha256 WHERE u.url = ?1",
            )?
            .query_row(
                [url],
                |r| {
                    Ok(UrlState {
                        checked_at: r.get(0)?,
                        status: r.get(1)?,
                        status_since: r.get(2)?,
                        etag: r.get(3)?,
                        last_modified: r.get(4)?,
                        sha256: r.get(5)?,
                        size: r.get::<_, Option<i64>>(6)?.map(|s| s as u64),
                        http_json: r.get(7)?,
                        needs_download: r.get::<_, i64>(8)? != 0,
                    })
                },
            )
            .optional()
        });
        if let Err(e) = &state {
            self.read_failed(&format!("read what is known about {url}"), e);
        }
        state
    }

    /// (objects, bytes) recorded in total; (0, 0), counted as a fault,
    /// when the database cannot say.
    pub fn totals(&self) -> (u64, u64) {
        self.read(|c| {
            c.query_row(
                "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM objects",
                [],
                |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
            )
        })
        .unwrap_or_else(|e| {
            self.read_failed("count the stored objects", &e);
            (0, 0)
        })
    }

    /// Deletes references not seen since `run_started` (documents or links
    /// gone from the corpus).
    pub fn prune_refs(&self, run_started: i64) {
        self.flush();
        let conn = self.reader.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = conn.execute("DELETE FROM refs WHERE seen_at < ?1", [run_started]) {
            tracing::warn!("cannot prune old references: {e}");
            self.faults
                .database(format!("prune references no document makes any more: {e}"));
        }
    }
}

impl Drop for StateDb {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(url: &str, at: i64, status: Status, object: Option<(&str, u64)>) -> CheckRecord {
        CheckRecord {
            url: url.into(),
            at,
            status,
            reason: None,
            http_code: Some(200),
            etag: Some("\"e1\"".into()),
            last_modified: None,
            content_type: Some("image/jpeg".into()),
            content_length: Some(3),
            object: object.map(|(s, n)| (s.to_string(), n)),
            http_json: None,
        }
    }

    #[test]
    fn checks_objects_history_and_migrations() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let sha = "a".repeat(64);
        {
            let db = StateDb::open(&path).unwrap();
            db.record_check(record("http://a/x.jpg", 100, Status::Ok, Some((&sha, 3))));
            db.record_check(record("http://a/x.jpg", 200, Status::Broken, None));
            db.record_check(record("http://a/x.jpg", 300, Status::Broken, None));
            db.record_refs("doc.md", 300, vec![("http://a/x.jpg".into(), 4)]);
            db.flush();
            let s = db.url_state("http://a/x.jpg").unwrap().unwrap();
            assert_eq!(s.status, Some(Status::Broken));
            assert_eq!(
                s.status_since,
                Some(200),
                "broken since the first broken check"
            );
            assert_eq!(s.sha256.as_deref(), Some(sha.as_str()));
            assert_eq!(s.etag.as_deref(), Some("\"e1\""));
            let history: i64 = db
                .read(|c| c.query_row("SELECT COUNT(*) FROM history", [], |r| r.get(0)))
                .unwrap();
            assert_eq!(history, 2, "only changes are history");
            assert_eq!(db.totals(), (1, 3));
        }
        // Reopening runs no migration twice and keeps the data.
        let db = StateDb::open(&path).unwrap();
        assert_eq!(db.totals(), (1, 3));
        db.mark_redownload(&sha);
        db.flush();
        let s = db.url_state("http://a/x.jpg").unwrap().unwrap();
        assert!(s.needs_download && s.sha256.is_none());
    }

    #[test]
    fn a_failing_write_is_counted_and_spares_its_batch() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let db = StateDb::open(&path).unwrap();
        open_connection(&path)
            .unwrap()
            .execute_batch("DROP TABLE urls")
            .unwrap();
        // One batch: a check record that cannot be written, references that can.
        db.record_check(record("http://a/x.jpg", 100, Status::Ok, None));
        db.record_refs("doc.md", 100, vec![("http://a/x.jpg".into(), 4)]);
        db.flush();
        let refs: i64 = db
            .read(|c| c.query_row("SELECT COUNT(*) FROM refs", [], |r| r.get(0)))
            .unwrap();
        assert_eq!(refs, 1, "the good write landed");
        let faults = db.faults().summary(&path).expect("counted");
        assert_eq!(faults.database, 1, "{faults:?}");
        assert!(faults
            .message
            .contains("record the check of http://a/x.jpg"));
        // A read of the missing table is a fault too; an unknown word is not.
        assert!(db.url_state("http://a/x.jpg").is_err());
        assert_eq!(db.faults().summary(&path).unwrap().database, 2);
    }

    #[test]
    fn an_unknown_stored_status_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let db = StateDb::open(&dir.path().join("state.db")).unwrap();
        db.record_check(record("http://a/x.jpg", 100, Status::Ok, None));
        db.flush();
        let conn = open_connection(&dir.path().join("state.db")).unwrap();
        conn.execute("UPDATE urls SET status = 'fine'", []).unwrap();
        let err = db.url_state("http://a/x.jpg").expect_err("unknown status");
        assert!(err.to_string().contains("unknown status `fine`"), "{err}");
        assert!(
            db.faults().summary(Path::new("x")).is_none(),
            "not a store fault"
        );
        // Writing over it still works, and counts as a change.
        db.record_check(record("http://a/x.jpg", 200, Status::Ok, None));
        db.flush();
        let s = db.url_state("http://a/x.jpg").unwrap().unwrap();
        assert_eq!((s.status, s.status_since), (Some(Status::Ok), Some(200)));
    }
}
