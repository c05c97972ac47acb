//! Recovery of WARC files a killed process left behind.
//!
//! Records are appended one gzip member at a time and each file's CDXJ
//! index line is appended after its record, so after a `kill -9` a file
//! can end in (a) complete records the index does not list yet and (b)
//! one partial member. On the next start every file whose length is not
//! the end of its last indexed record is scanned from that end: each
//! complete member found is kept (and indexed, when it is a response or a
//! revisit), and the file is cut at the first member that does not
//! decode to its end. A torn last index line is cut too. Files are
//! never appended to after a restart (each run starts a new one), so
//! recovery is the only writer of an old file.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::Path;

use flate2::bufread::GzDecoder;

use super::cdxj::{self, Entry};
use super::record;

/// Counts the bytes a `BufRead` consumer takes, so the end of each gzip
/// member is known exactly (`bufread::GzDecoder` consumes no further).
struct Counting<R> {
    inner: R,
    pos: u64,
}

impl<R: BufRead> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Counting<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }
    fn consume(&mut self, amt: usize) {
        self.inner.consume(amt);
        self.pos += amt as u64;
    }
}

/// What recovery did to one file.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Recovered {
    /// Complete records found past the index and indexed now.
    pub indexed: usize,
    /// Bytes of a partial record cut away.
    pub cut: u64,
}

/// The index file of WARC file `warc` (`x.warc.gz` -> `x.cdxj`).
pub fn index_path(warc: &Path) -> std::path::PathBuf {
    let name = warc.file_name().unwrap_or_default().to_string_lossy();
    warc.with_file_name(format!(
        "{}.cdxj",
        name.strip_suffix(".warc.gz").unwrap_or(&name)
    ))
}

/// Brings `warc` and its index back to a state of complete records.
pub fn recover(warc: &Path) -> io::Result<Recovered> {
    let index = index_path(warc);
    let end = indexed_end(&index)?;
    let len = fs::metadata(warc)?.len();
    if len == end {
        return Ok(Recovered::default());
    }
    let mut file = File::open(warc)?;
    // An index that claims more than the file holds is not to be trusted
    // past the file: scan it all again.
    let (start, mut lines) = if end > len {
        fs::write(&index, "")?;
        (0, Vec::new())
    } else {
        (end, Vec::new())
    };
    file.seek(SeekFrom::Start(start))?;
    let filename = warc
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .to_string();
    let mut reader = Counting {
        inner: BufReader::with_capacity(256 * 1024, file),
        pos: start,
    };
    let mut good = start;
    let mut indexed = 0;
    while !reader.fill_buf()?.is_empty() {
        let at = reader.pos;
        let Some(parsed) = read_member(&mut reader) else {
            break;
        };
        good = reader.pos;
        if let Some((date, entry)) = parsed.and_then(|p| entry_of(p, at, good - at, &filename)) {
            lines.push(cdxj::line(&date, &entry));
            indexed += 1;
        }
    }
    drop(reader);
    let mut index_file = OpenOptions::new().append(true).create(true).open(&index)?;
    index_file.write_all(lines.concat().as_bytes())?;
    index_file.sync_all()?;
    let cut = len - good;
    if cut > 0 {
        let f = OpenOptions::new().write(true).open(warc)?;
        f.set_len(good)?;
        f.sync_all()?;
    }
    Ok(Recovered { indexed, cut })
}

/// Reads one gzip member to its end: `None` when it does not decode
/// whole; `Some(None)` for a member that is not a WARC record's start.
fn read_member<R: BufRead>(reader: &mut R) -> Option<Option<record::Parsed>> {
    let mut gz = GzDecoder::new(reader);
    let mut head = Vec::new();
    (&mut gz).take(64 * 1024).read_to_end(&mut head).ok()?;
    io::copy(&mut gz, &mut io::sink()).ok()?;
    Some(record::parse(&head))
}

fn entry_of(
    p: record::Parsed,
    offset: u64,
    length: u64,
    filename: &str,
) -> Option<(String, Entry)> {
    let mime = match p.warc_type.as_str() {
        "response" => p.mime.unwrap_or_else(|| "unk".into()),
        "revisit" => "warc/revisit".into(),
        _ => return None,
    };
    Some((
        p.date,
        Entry {
            url: p.target_uri,
            mime,
            status: p.http_status.map(|s| s.to_string()),
            digest: p.payload_digest,
            length: length.to_string(),
            offset: offset.to_string(),
            filename: filename.to_string(),
        },
    ))
}

/// The end of the last record `index` lists (0 without one); a torn last
/// line is cut away first.
fn indexed_end(index: &Path) -> io::Result<u64> {
    let text = match fs::read_to_string(index) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let whole = text.rfind('\n').map_or(0, |i| i + 1);
    if whole < text.len() {
        let f = OpenOptions::new().write(true).open(index)?;
        f.set_len(whole as u64)?;
    }
    Ok(text[..whole]
        .lines()
        .filter_map(cdxj::parse_line)
        .filter_map(|(_, e)| Some(e.offset.parse::<u64>().ok()? + e.length.parse::<u64>().ok()?))
        .max()
        .unwrap_or(0))
}
