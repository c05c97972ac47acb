//! WARC output: every capture the store keeps is also written as WARC
//! records (ISO 28500), so that web-archive tools (warcio, pywb,
//! ReplayWeb.page, WACZ) can read `archive`'s archive.
//!
//! A capture is a body that was just stored (a media file, or a source
//! page with `store.archive_source_pages`): the checker sends its
//! [`Capture`] (the URL as the document writes it, the URL fetched, the
//! response's status line and headers, and the object's digest) to the
//! writer thread ([`writer`]), which owns the current file and streams the
//! payload from the object store's backend (the object file, or the
//! bucket's object read back), so no body is held in memory for it. A
//! capture that cannot be written is a store fault of the run
//! ([`crate::store::faults`]: `summary.store_error.warc`, exit 3).
//! The WARC files themselves are always local, under `store.path`, even
//! when the objects are in a bucket. The
//! first capture of a payload is a `response` record; a later one (another
//! URL, the same bytes) is a `revisit` pointing at the first, so the
//! store's deduplication survives into the WARC.
//!
//! Files are `<store>/warc/archive-<timestamp>-<serial>.warc.gz`, one gzip
//! member per record, a new file when one passes `store.warc_max_size`
//! and at each start, each with a CDXJ index ([`cdxj`]) beside it.
//! Opening ([`Warc::open`]) first repairs what a killed process left
//! ([`recover`]).
//!
//! Records embed their payloads: the choice, against assembling WARCs
//! from the objects at export time, is argued in
//! `docs/BENCHMARKS-history.md` ("WARC output"); its cost, measured
//! again by every `bench/all.sh` run, is in `docs/BENCHMARKS.md`.

pub mod cdxj;
pub mod record;
pub mod recover;
pub mod wacz;
mod writer;
mod zip;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::store::faults::Faults;
use crate::store::objects::ObjectBackend;
pub use record::ResponseHead;
use writer::{Firsts, Job, Writer};

/// One stored body, to be written as WARC records.
#[derive(Debug, Clone)]
pub struct Capture {
    /// The URL as the document writes it (`WARC-Target-URI`).
    pub target_uri: String,
    /// The URL fetched: after `[remap]` and redirects.
    pub transport_uri: String,
    pub date: chrono::DateTime<chrono::Utc>,
    /// The object holding the payload.
    pub sha256: String,
    pub size: u64,
    pub head: ResponseHead,
}

impl Capture {
    /// The capture a check made, if it stored a body just now (not a
    /// cached result, not a 304 that confirmed an earlier copy).
    /// `url` is the URL as the document writes it.
    pub fn of(url: &str, checked: &crate::check::Checked) -> Option<Capture> {
        let copy = checked.stored()?;
        let http = &checked.http;
        if copy.not_modified || http.from_cache {
            return None;
        }
        Some(Capture {
            target_uri: url.to_string(),
            transport_uri: http.final_url.clone().unwrap_or_else(|| http.url.clone()),
            date: chrono::Utc::now(),
            sha256: copy.sha256.clone(),
            size: copy.size,
            head: http.response_head.as_deref()?.clone(),
        })
    }
}

/// Why WARC output cannot start.
#[derive(Debug, thiserror::Error)]
#[error("WARC folder {}: cannot {what}: {source} (check that the store folder is writable)", dir.display())]
pub struct WarcError {
    dir: PathBuf,
    what: &'static str,
    source: io::Error,
}

/// The sending side of the WARC writer; dropping it closes the current
/// file and waits for the writer to finish.
pub struct Warc {
    tx: Option<mpsc::SyncSender<Job>>,
    thread: Option<JoinHandle<()>>,
    dir: PathBuf,
    faults: Arc<Faults>,
}

impl Warc {
    /// Starts WARC output under `<store>/warc` (`store` is the local
    /// `store.path`), after repairing the files a killed process left.
    /// Payloads are read from `objects`; failed writes are counted in
    /// `faults`. `max_size` is `store.warc_max_size`.
    pub fn open(
        store: &Path,
        objects: Arc<dyn ObjectBackend>,
        faults: Arc<Faults>,
        max_size: u64,
        user_agent: &str,
    ) -> Result<Warc, WarcError> {
        let dir = store.join("warc");
        let fail = |what, source| WarcError {
            dir: dir.clone(),
            what,
            source,
        };
        std::fs::create_dir_all(&dir).map_err(|e| fail("create it", e))?;
        let mut firsts = Firsts::new();
        for file in writer::warc_files(&dir).map_err(|e| fail("list it", e))? {
            match recover::recover(&file) {
                Ok(r) if r.cut > 0 || r.indexed > 0 => tracing::warn!(
                    file = %file.display(),
                    cut = r.cut,
                    indexed = r.indexed,
                    "WARC file left by an interrupted run repaired: partial record cut, complete ones indexed"
                ),
                Ok(_) => {}
                Err(e) => return Err(fail("repair a WARC file left by an interrupted run", e)),
            }
            load_firsts(&recover::index_path(&file), &mut firsts);
        }
        let writer = Writer {
            dir: dir.clone(),
            objects,
            faults: faults.clone(),
            max_size: max_size.max(1),
            user_agent: user_agent.to_string(),
            firsts,
            open: None,
            serial: 0,
        };
        // Room for a burst of captures; a full channel makes the checker
        // wait for the disk, which bounds memory.
        let (tx, rx) = mpsc::sync_channel(256);
        let thread = std::thread::Builder::new()
            .name("warc-writer".into())
            .spawn(move || writer::run(writer, rx))
            .map_err(|e| fail("start its writer thread", e))?;
        Ok(Warc {
            tx: Some(tx),
            thread: Some(thread),
            dir,
            faults,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Queues a capture (waits while the writer is 256 behind).
    pub fn record(&self, capture: Capture) {
        if let Some(tx) = &self.tx {
            if let Err(mpsc::SendError(job)) = tx.send(Job::Capture(Box::new(capture))) {
                let url = match job {
                    Job::Capture(c) => c.target_uri,
                    Job::Flush(_) => String::new(),
                };
                let message =
                    format!("WARC writer has stopped; the capture of {url} was not written");
                tracing::error!("{message}");
                self.faults.warc(message);
            }
        }
    }

    /// Waits until every capture queued so far is written and synced.
    pub fn flush(&self) {
        let (reply, done) = mpsc::sync_channel(1);
        if let Some(tx) = &self.tx {
            if tx.send(Job::Flush(reply)).is_ok() {
                let _ = done.recv();
            }
        }
    }
}

impl Drop for Warc {
    fn drop(&mut self) {
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The first `response` of each payload in an index, for revisits.
fn load_firsts(index: &Path, firsts: &mut Firsts) {
    let Ok(text) = std::fs::read_to_string(index) else {
        return;
    };
    for (ts, e) in text.lines().filter_map(cdxj::parse_line) {
        let Some(sha) = e.digest.strip_prefix("sha256:") else {
            continue;
        };
        if e.mime == "warc/revisit" || firsts.contains_key(sha) {
            continue;
        }
        if let Some(date) = cdxj::warc_date(&ts) {
            firsts.insert(sha.to_string(), (e.url, date));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::local::LocalObjects;

    fn head() -> ResponseHead {
        ResponseHead {
            version: "HTTP/1.1".into(),
            status: 200,
            reason: "OK".into(),
            headers: vec![("Content-Type".into(), "image/png".into())],
        }
    }

    /// A store with one object; returns its digest and size.
    fn store_with(dir: &Path, bytes: &[u8]) -> (Arc<dyn ObjectBackend>, String, u64) {
        let store = LocalObjects::open(dir).unwrap();
        let mut p = store.begin().unwrap();
        p.write(bytes).unwrap();
        let o = store.commit(p).unwrap();
        (Arc::new(store), o.sha256, o.size)
    }

    fn open(dir: &Path, objects: &Arc<dyn ObjectBackend>, max_size: u64) -> Warc {
        Warc::open(dir, objects.clone(), Arc::default(), max_size, "ua").unwrap()
    }

    fn capture(url: &str, sha256: &str, size: u64) -> Capture {
        Capture {
            target_uri: url.into(),
            transport_uri: url.into(),
            date: chrono::Utc::now(),
            sha256: sha256.into(),
            size,
            head: head(),
        }
    }

    fn index_lines(dir: &Path) -> Vec<cdxj::Entry> {
        let mut all = Vec::new();
        for f in writer::warc_files(&dir.join("warc")).unwrap() {
            let text = std::fs::read_to_string(recover::index_path(&f)).unwrap();
            all.extend(text.lines().map(|l| cdxj::parse_line(l).unwrap().1));
        }
        all
    }

    #[test]
    fn same_bytes_again_is_a_revisit_even_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let (store, sha, size) = store_with(dir.path(), b"\x89PNG one image");
        {
            let w = open(dir.path(), &store, 1 << 30);
            w.record(capture("http://a.test/1.png", &sha, size));
            w.record(capture("http://a.test/2.png", &sha, size));
        }
        {
            let w = open(dir.path(), &store, 1 << 30);
            w.record(capture("http://a.test/3.png", &sha, size));
        }
        let mimes: Vec<_> = index_lines(dir.path())
            .into_iter()
            .map(|e| (e.url, e.mime))
            .collect();
        assert_eq!(
            mimes,
            [
                ("http://a.test/1.png".to_string(), "image/png".to_string()),
                ("http://a.test/2.png".into(), "warc/revisit".into()),
                ("http://a.test/3.png".into(), "warc/revisit".into()),
            ]
        );
    }

    #[test]
    fn a_capture_not_written_is_a_store_fault() {
        let dir = tempfile::tempdir().unwrap();
        let (store, sha, size) = store_with(dir.path(), b"kept");
        let faults: Arc<Faults> = Arc::default();
        let w = Warc::open(dir.path(), store.clone(), faults.clone(), 1 << 30, "ua").unwrap();
        // A payload the backend cannot give back (here: no such object).
        let missing = "0".repeat(64);
        w.record(capture("http://a.test/gone.png", &missing, 4));
        w.record(capture("http://a.test/kept.png", &sha, size));
        w.flush();
        let s = faults
            .summary(Path::new("state.db"))
            .expect("a store fault");
        assert_eq!((s.objects, s.database, s.warc), (0, 0, 1));
        assert!(
            s.message.contains("http://a.test/gone.png"),
            "{}",
            s.message
        );
        drop(w);
        // The failed capture left nothing behind; the next one is whole.
        let urls: Vec<_> = index_lines(dir.path()).into_iter().map(|e| e.url).collect();
        assert_eq!(urls, ["http://a.test/kept.png"]);
    }

    #[test]
    fn files_rotate_by_size() {
        let dir = tempfile::tempdir().unwrap();
        let (store, sha, size) = store_with(dir.path(), &[7u8; 5000]);
        {
            let w = open(dir.path(), &store, 100);
            for i in 0..3 {
                w.record(capture(&format!("http://a.test/{i}"), &sha, size));
            }
        }
        assert_eq!(
            writer::warc_files(&dir.path().join("warc")).unwrap().len(),
            3
        );
    }

    #[test]
    fn a_partial_record_is_cut_and_unindexed_whole_ones_indexed() {
        let dir = tempfile::tempdir().unwrap();
        let (store, sha, size) = store_with(dir.path(), &[9u8; 20000]);
        {
            let w = open(dir.path(), &store, 1 << 30);
            w.record(capture("http://a.test/1", &sha, size));
            w.record(capture("http://a.test/2", &sha, size));
        }
        let warc = writer::warc_files(&dir.path().join("warc")).unwrap()[0].clone();
        let index = recover::index_path(&warc);
        let whole = std::fs::read(&warc).unwrap();
        let lines = std::fs::read_to_string(&index).unwrap();
        // As if killed after the second record but before its index
        // line, in the middle of a third record.
        let first_line = lines.lines().next().unwrap();
        std::fs::write(&index, format!("{first_line}\n{{\"torn")).unwrap();
        let second = cdxj::parse_line(lines.lines().nth(1).unwrap()).unwrap().1;
        let (off, len) = (
            second.offset.parse::<usize>().unwrap(),
            second.length.parse::<usize>().unwrap(),
        );
        let mut cut = whole.clone();
        cut.extend_from_slice(&whole[off..off + len / 2]);
        std::fs::write(&warc, &cut).unwrap();
        let r = recover::recover(&warc).unwrap();
        assert_eq!(r.indexed, 1);
        assert_eq!(r.cut, (len / 2) as u64);
        assert_eq!(std::fs::read(&warc).unwrap(), whole);
        assert_eq!(std::fs::read_to_string(&index).unwrap(), lines);
        // A clean file is left alone.
        assert_eq!(
            recover::recover(&warc).unwrap(),
            recover::Recovered::default()
        );
    }
}

/// Embedding payloads against assembling WARCs from the objects at
/// export: disk and time of each, for docs/BENCHMARKS.md. Run with
/// `cargo test --lib warc::cost -- --ignored --nocapture`.
#[cfg(test)]
mod cost {
    use super::*;
    use crate::store::local::LocalObjects;
    use std::time::Instant;

    fn du(dir: &Path) -> u64 {
        walkdir::WalkDir::new(dir)
            .into_iter()
            .flatten()
            .filter_map(|e| e.metadata().ok().filter(|m| m.is_file()))
            .map(|m| m.len())
            .sum()
    }

    #[test]
    #[ignore]
    fn embed_or_assemble() {
        let n: usize = std::env::var("WARC_COST_N")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(400);
        let size = 250_000;
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn ObjectBackend> = Arc::new(LocalObjects::open(dir.path()).unwrap());
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut digests = Vec::new();
        for _ in 0..n {
            // Media is already compressed: random bytes are its fair model.
            let body: Vec<u8> = (0..size)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            let mut p = store.begin().unwrap();
            p.write(&body).unwrap();
            digests.push(store.commit(p).unwrap().sha256);
        }
        let objects = du(&dir.path().join("sha256"));
        let head = ResponseHead {
            version: "HTTP/1.1".into(),
            status: 200,
            reason: "OK".into(),
            headers: vec![
                ("Content-Type".into(), "image/jpeg".into()),
                ("Date".into(), "Sat, 05 Dec 2026 14:00:00 GMT".into()),
                ("ETag".into(), "\"5f3a-1b2c\"".into()),
            ],
        };
        let captures = |base: &str| -> Vec<Capture> {
            digests
                .iter()
                .enumerate()
                .map(|(i, sha)| Capture {
                    target_uri: format!("http://{base}/pic/{i}.jpg"),
                    transport_uri: format!("http://{base}/pic/{i}.jpg"),
                    date: chrono::Utc::now(),
                    sha256: sha.clone(),
                    size: size as u64,
                    head: head.clone(),
                })
                .collect()
        };
        // A: records embed payloads, written at capture time.
        let t = Instant::now();
        {
            let w = Warc::open(
                dir.path(),
                store.clone(),
                Arc::default(),
                1 << 30,
                "archive",
            )
            .unwrap();
            for c in captures("a.test") {
                w.record(c);
            }
            w.flush();
        }
        let embed_time = t.elapsed();
        let embed_disk = du(&dir.path().join("warc"));
        // B: at capture time only what the objects lack (request and
        // response heads), as header-only records; the payloads are read
        // from the objects at export, which writes A's bytes then.
        let journal = dir.path().join("journal.warc.gz");
        let t = Instant::now();
        {
            let mut out = io::BufWriter::new(std::fs::File::create(&journal).unwrap());
            for c in captures("b.test") {
                let block = c.head.http_block(c.size);
                let h = record::header(
                    &[
                        ("WARC-Type", "metadata"),
                        ("WARC-Target-URI", &c.target_uri),
                        ("WARC-Payload-Digest", &format!("sha256:{}", c.sha256)),
                    ],
                    block.len() as u64,
                );
                out = record::write_member(out, &h, &block, None).unwrap();
            }
            io::Write::flush(&mut out).unwrap();
            out.get_ref().sync_data().unwrap();
        }
        let journal_time = t.elapsed();
        let journal_disk = std::fs::metadata(&journal).unwrap().len();
        let export = tempfile::tempdir().unwrap();
        let t = Instant::now();
        {
            // The export reads the objects where they are.
            std::fs::create_dir_all(export.path().join("warc")).unwrap();
            let mut writer = Writer {
                dir: export.path().join("warc"),
                objects: store.clone(),
                faults: Arc::default(),
                max_size: 1 << 30,
                user_agent: "archive".into(),
                firsts: Firsts::new(),
                open: None,
                serial: 0,
            };
            for c in captures("b.test") {
                writer.capture_for_bench(&c);
            }
            writer.sync_for_bench();
        }
        let assemble_time = t.elapsed();
        let mb = |b: u64| b as f64 / 1e6;
        // A Markdown table on stdout: bench/all.sh puts it in BENCHMARKS.md.
        println!(
            "{n} objects of {size} B of random bytes, {:.1} MB of objects\n",
            mb(objects)
        );
        println!("| | extra disk MB | time at capture s | time at export s |");
        println!("|---|---:|---:|---|");
        println!(
            "| A, embed (gzip level 1) | +{:.1} | {:.2} | none (copy the files) |",
            mb(embed_disk),
            embed_time.as_secs_f64()
        );
        println!(
            "| B, assemble | +{:.3} | {:.3} | {:.2} (writes {:.1} MB) |",
            mb(journal_disk),
            journal_time.as_secs_f64(),
            assemble_time.as_secs_f64(),
            mb(du(&export.path().join("warc"))),
        );
    }
}
