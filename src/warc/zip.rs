//! A minimal ZIP writer for WACZ: entries *stored* (not deflated), as the
//! WACZ spec wants for WARCs and indexes (a replay tool reads a record by
//! its offset inside the entry, so it must not be compressed again).
//!
//! Each entry's CRC-32 and size are computed before it is written (the
//! caller hashes its files anyway, for `datapackage.json`), so no data
//! descriptor is needed. No ZIP64: an entry or archive past 4 GiB is an
//! error saying so (split the WARCs smaller with `store.warc_max_size`).

use std::io::{self, Read, Write};

/// A stored entry's facts, written again in the central directory.
struct Entry {
    name: String,
    crc: u32,
    size: u32,
    offset: u32,
}

/// Writes a ZIP of stored entries to `out`.
pub struct ZipWriter<W: Write> {
    out: W,
    written: u64,
    entries: Vec<Entry>,
}

fn too_big(what: &str) -> io::Error {
    io::Error::other(format!(
        "{what} is past 4 GiB, which this WACZ writer does not support (no ZIP64); lower store.warc_max_size"
    ))
}

/// The CRC-32 and length of everything `r` yields.
pub fn crc_and_len(mut r: impl Read) -> io::Result<(u32, u64)> {
    let mut crc = flate2::Crc::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut len = 0u64;
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        crc.update(&buf[..n]);
        len += n as u64;
    }
    Ok((crc.sum(), len))
}

impl<W: Write> ZipWriter<W> {
    pub fn new(out: W) -> ZipWriter<W> {
        ZipWriter {
            out,
            written: 0,
            entries: Vec::new(),
        }
    }

    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    /// Adds entry `name` of `len` bytes with CRC-32 `crc`, read from `data`.
    pub fn add(&mut self, name: &str, crc: u32, len: u64, data: impl Read) -> io::Result<()> {
        let size = u32::try_from(len).map_err(|_| too_big(name))?;
        let offset = u32::try_from(self.written).map_err(|_| too_big("the WACZ"))?;
        let mut h = Vec::with_capacity(30 + name.len());
        h.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        h.extend_from_slice(&20u16.to_le_bytes()); // version needed
        h.extend_from_slice(&0x0800u16.to_le_bytes()); // UTF-8 names
        h.extend_from_slice(&0u16.to_le_bytes()); // stored
        h.extend_from_slice(&0u16.to_le_bytes()); // time
        h.extend_from_slice(&0x0021u16.to_le_bytes()); // date: 1980-01-01
        h.extend_from_slice(&crc.to_le_bytes());
        h.extend_from_slice(&size.to_le_bytes());
        h.extend_from_slice(&size.to_le_bytes());
        h.extend_from_slice(&(name.len() as u16).to_le_bytes());
        h.extend_from_slice(&0u16.to_le_bytes());
        h.extend_from_slice(name.as_bytes());
        self.put(&h)?;
        let copied = io::copy(&mut data.take(len), &mut self.out)?;
        self.written += copied;
        if copied != len {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{name} changed while it was being packed"),
            ));
        }
        self.entries.push(Entry {
            name: name.to_string(),
            crc,
            size,
            offset,
        });
        Ok(())
    }

    /// Adds an entry held in memory.
    pub fn add_bytes(&mut self, name: &str, data: &[u8]) -> io::Result<()> {
        let (crc, len) = crc_and_len(data)?;
        self.add(name, crc, len, data)
    }

    /// Writes the central directory; the ZIP is complete.
    pub fn finish(mut self) -> io::Result<W> {
        let start = u32::try_from(self.written).map_err(|_| too_big("the WACZ"))?;
        let entries = std::mem::take(&mut self.entries);
        for e in &entries {
            let mut h = Vec::with_capacity(46 + e.name.len());
            h.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
            h.extend_from_slice(&20u16.to_le_bytes()); // made by
            h.extend_from_slice(&20u16.to_le_bytes()); // needed
            h.extend_from_slice(&0x0800u16.to_le_bytes());
            h.extend_from_slice(&0u16.to_le_bytes());
            h.extend_from_slice(&0u16.to_le_bytes());
            h.extend_from_slice(&0x0021u16.to_le_bytes());
            h.extend_from_slice(&e.crc.to_le_bytes());
            h.extend_from_slice(&e.size.to_le_bytes());
            h.extend_from_slice(&e.size.to_le_bytes());
            h.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
            h.extend_from_slice(&[0; 8]); // extra, comment, disk, internal attrs
            h.extend_from_slice(&0u32.to_le_bytes()); // external attrs
            h.extend_from_slice(&e.offset.to_le_bytes());
            h.extend_from_slice(e.name.as_bytes());
            self.put(&h)?;
        }
        let size =
            u32::try_from(self.written - u64::from(start)).map_err(|_| too_big("the WACZ"))?;
        let count = u16::try_from(entries.len()).map_err(|_| too_big("the entry count"))?;
        let mut end = Vec::with_capacity(22);
        end.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
        end.extend_from_slice(&[0; 4]);
        end.extend_from_slice(&count.to_le_bytes());
        end.extend_from_slice(&count.to_le_bytes());
        end.extend_from_slice(&size.to_le_bytes());
        end.extend_from_slice(&start.to_le_bytes());
        end.extend_from_slice(&0u16.to_le_bytes());
        self.put(&end)?;
        self.out.flush()?;
        Ok(self.out)
    }
}
