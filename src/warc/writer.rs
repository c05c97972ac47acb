//! The WARC writer thread: it owns the open WARC file and its index, takes
//! captures from a channel ([`super::Warc`] is the sending side) and
//! writes each as a `request` record and a `response` record (or a
//! `revisit`, when the payload was written before), then its index line.
//!
//! One owner means no locking around the file and records never
//! interleave. Each capture reaches the kernel (the buffers are flushed)
//! before the next is taken, so a `kill -9` loses at most the record being
//! written, which [`super::recover`] cuts away on the next start; a flush
//! request and closing a file also `fsync` it, against power loss.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::Arc;

use super::cdxj::{self, Entry};
use super::record::{self, IDENTICAL_PAYLOAD};
use super::recover::index_path;
use super::Capture;
use crate::store::faults::Faults;
use crate::store::objects::{is_hex_digest, ObjectBackend};

/// What the writer thread is asked to do.
pub(super) enum Job {
    Capture(Box<Capture>),
    /// Make everything so far durable, then answer.
    Flush(SyncSender<()>),
}

/// The first capture of each payload: (target URI, WARC-Date).
pub(super) type Firsts = HashMap<String, (String, String)>;

/// The writer's state: the file being written and what it knows.
pub(super) struct Writer {
    /// `<store>/warc`.
    pub(super) dir: PathBuf,
    /// Where the payloads are read from: the store's object backend (a
    /// local folder, or a bucket read back through its blocking reader).
    pub(super) objects: Arc<dyn ObjectBackend>,
    /// A capture not written is a store fault of the run (exit 3).
    pub(super) faults: Arc<Faults>,
    pub(super) max_size: u64,
    pub(super) user_agent: String,
    pub(super) firsts: Firsts,
    pub(super) open: Option<OpenFile>,
    pub(super) serial: u32,
}

pub(super) struct OpenFile {
    name: String,
    warc: BufWriter<File>,
    index: BufWriter<File>,
    /// Bytes in the WARC file (the next record's offset).
    len: u64,
}

pub(super) fn run(mut writer: Writer, rx: Receiver<Job>) {
    while let Ok(job) = rx.recv() {
        match job {
            Job::Capture(c) => {
                if let Err(e) = writer.capture(&c) {
                    let message = format!(
                        "WARC: cannot write the capture of {} to {}: {e} (the object stays in the store)",
                        c.target_uri,
                        writer.dir.display()
                    );
                    tracing::error!("{message}");
                    writer.faults.warc(message);
                }
            }
            Job::Flush(reply) => {
                if let Err(e) = writer.sync() {
                    let message = format!("WARC: cannot sync {}: {e}", writer.dir.display());
                    tracing::error!("{message}");
                    writer.faults.warc(message);
                }
                let _ = reply.send(());
            }
        }
    }
    if let Err(e) = writer.close() {
        tracing::error!("WARC: cannot close {}: {e}", writer.dir.display());
    }
}

/// `2026-01-02T03:04:05Z`.
pub(super) fn warc_date(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

impl Writer {
    fn capture(&mut self, c: &Capture) -> io::Result<()> {
        if !is_hex_digest(&c.sha256) {
            return Err(io::Error::other("not a sha256 digest"));
        }
        if self.open.is_none() {
            self.open = Some(self.new_file()?);
        }
        let Some(open) = self.open.as_mut() else {
            return Ok(());
        };
        let date = warc_date(c.date);
        let digest = format!("sha256:{}", c.sha256);
        let response_id = record::record_id();
        let first = self.firsts.get(&c.sha256).cloned();
        let start = open.len;
        let written = (|| -> io::Result<(u64, Entry)> {
            // The request first: the response, last, is what the index
            // lists, so a clean file ends where its index says.
            let url = url::Url::parse(&c.transport_uri)
                .or_else(|_| url::Url::parse(&c.target_uri))
                .map_err(io::Error::other)?;
            let request = record::request_block(&url, &self.user_agent);
            let request_id = record::record_id();
            let header = record::header(
                &[
                    ("WARC-Type", "request"),
                    ("WARC-Record-ID", &request_id),
                    ("WARC-Date", &date),
                    ("WARC-Target-URI", &c.target_uri),
                    ("WARC-Concurrent-To", &response_id),
                    ("WARC-Block-Digest", &record::block_digest(&[&request])),
                    ("Content-Type", "application/http; msgtype=request"),
                ],
                request.len() as u64,
            );
            open.append(&header, &request, None)?;
            let block = c.head.http_block(c.size);
            let at = open.len;
            let mime = match &first {
                None => {
                    let header = record::header(
                        &[
                            ("WARC-Type", "response"),
                            ("WARC-Record-ID", &response_id),
                            ("WARC-Date", &date),
                            ("WARC-Target-URI", &c.target_uri),
                            ("X-Archive-Transport-URI", &c.transport_uri),
                            ("WARC-Payload-Digest", &digest),
                            ("Content-Type", "application/http; msgtype=response"),
                        ],
                        block.len() as u64 + c.size,
                    );
                    let mut payload = self.objects.read(&c.sha256)?;
                    open.append(&header, &block, Some((&mut payload, c.size)))?;
                    c.head.content_type().unwrap_or("unk").to_string()
                }
                Some((first_uri, first_date)) => {
                    let header = record::header(
                        &[
                            ("WARC-Type", "revisit"),
                            ("WARC-Record-ID", &response_id),
                            ("WARC-Date", &date),
                            ("WARC-Target-URI", &c.target_uri),
                            ("X-Archive-Transport-URI", &c.transport_uri),
                            ("WARC-Profile", IDENTICAL_PAYLOAD),
                            ("WARC-Refers-To-Target-URI", first_uri),
                            ("WARC-Refers-To-Date", first_date),
                            ("WARC-Payload-Digest", &digest),
                            ("WARC-Block-Digest", &record::block_digest(&[&block])),
                            ("Content-Type", "application/http; msgtype=response"),
                        ],
                        block.len() as u64,
                    );
                    open.append(&header, &block, None)?;
                    "warc/revisit".to_string()
                }
            };
            Ok((
                at,
                Entry {
                    url: c.target_uri.clone(),
                    mime,
                    status: Some(c.head.status.to_string()),
                    digest: digest.clone(),
                    length: (open.len - at).to_string(),
                    offset: at.to_string(),
                    filename: open.name.clone(),
                },
            ))
        })();
        let (_, entry) = match written {
            Ok(w) => w,
            Err(e) => {
                // Cut what was written of this capture: the file keeps
                // only whole records.
                open.cut(start)?;
                return Err(e);
            }
        };
        open.warc.flush()?;
        open.index.write_all(cdxj::line(&date, &entry).as_bytes())?;
        open.index.flush()?;
        if first.is_none() {
            self.firsts
                .insert(c.sha256.clone(), (c.target_uri.clone(), date));
        }
        if open.len >= self.max_size {
            self.close()?;
        }
        Ok(())
    }

    /// A new file, `archive-<timestamp>-<serial>.warc.gz`, that no earlier
    /// run wrote, opened with its `warcinfo` record.
    fn new_file(&mut self) -> io::Result<OpenFile> {
        let stamp = chrono::Utc::now().format("%Y%m%d%H%M%S");
        loop {
            let name = format!("archive-{stamp}-{:05}.warc.gz", self.serial);
            self.serial += 1;
            let path = self.dir.join(&name);
            let file = match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            };
            let index = File::create(index_path(&path))?;
            File::open(&self.dir)?.sync_all()?;
            let mut open = OpenFile {
                name: name.clone(),
                warc: BufWriter::with_capacity(256 * 1024, file),
                index: BufWriter::new(index),
                len: 0,
            };
            let info = format!(
                "software: archive/{}\r\nformat: WARC File Format 1.1\r\nconformsTo: http://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/\r\n",
                env!("CARGO_PKG_VERSION")
            );
            let header = record::header(
                &[
                    ("WARC-Type", "warcinfo"),
                    ("WARC-Record-ID", &record::record_id()),
                    ("WARC-Date", &warc_date(chrono::Utc::now())),
                    ("WARC-Filename", &name),
                    (
                        "WARC-Block-Digest",
                        &record::block_digest(&[info.as_bytes()]),
                    ),
                    ("Content-Type", "application/warc-fields"),
                ],
                info.len() as u64,
            );
            open.append(&header, info.as_bytes(), None)?;
            open.warc.flush()?;
            return Ok(open);
        }
    }

    #[cfg(test)]
    pub(super) fn capture_for_bench(&mut self, c: &Capture) {
        self.capture(c).unwrap();
    }

    #[cfg(test)]
    pub(super) fn sync_for_bench(&mut self) {
        self.sync().unwrap();
    }

    fn sync(&mut self) -> io::Result<()> {
        if let Some(open) = &mut self.open {
            open.warc.flush()?;
            open.index.flush()?;
            open.warc.get_ref().sync_data()?;
            open.index.get_ref().sync_data()?;
        }
        Ok(())
    }

    fn close(&mut self) -> io::Result<()> {
        self.sync()?;
        self.open = None;
        Ok(())
    }
}

impl OpenFile {
    fn append(
        &mut self,
        header: &[u8],
        block_head: &[u8],
        payload: Option<(&mut dyn io::Read, u64)>,
    ) -> io::Result<()> {
        let counted = record::write_member(
            Counted {
                inner: &mut self.warc,
                n: 0,
            },
            header,
            block_head,
            payload,
        )?;
        self.len += counted.n;
        Ok(())
    }

    /// Cuts the file back to `len` bytes.
    fn cut(&mut self, len: u64) -> io::Result<()> {
        // The buffer's bytes belong to the failed record: drop them
        // unwritten (a flush that failed would otherwise retry them
        // later), then cut what reached the file.
        let file = self.warc.get_ref().try_clone()?;
        let failed = std::mem::replace(&mut self.warc, BufWriter::with_capacity(256 * 1024, file));
        drop(failed.into_parts());
        let file = self.warc.get_mut();
        file.set_len(len)?;
        file.seek(SeekFrom::Start(len))?;
        self.len = len;
        Ok(())
    }
}

/// Counts the bytes written through it.
struct Counted<W> {
    inner: W,
    n: u64,
}

impl<W: Write> Write for Counted<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.n += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The WARC files under `dir`, oldest name first.
pub(super) fn warc_files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("archive-") && n.ends_with(".warc.gz"))
        })
        .collect();
    files.sort();
    Ok(files)
}
