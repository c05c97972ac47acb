//! What a body really is, read from its first bytes, and whether it is
//! whole, read from its last ones.
//!
//! A server's `Content-Type` is a claim; the magic bytes are evidence. An
//! image link answered with `200 OK` and an HTML page is a soft 404, and a
//! JPEG without its end-of-image marker was cut in transfer or on the
//! server's disk. Status codes say neither.

use crate::vocab::Reason;

/// A media type recognised from magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniffed {
    Jpeg,
    Png,
    Gif,
    Webp,
    Avif,
    Heic,
    Svg,
    Bmp,
    Ico,
    Tiff,
    Mp4,
    Webm,
    Mp3,
    Ogg,
    Wav,
    Flac,
    Pdf,
    Html,
    Unknown,
}

impl Sniffed {
    pub fn as_str(self) -> &'static str {
        match self {
            Sniffed::Jpeg => "image/jpeg",
            Sniffed::Png => "image/png",
            Sniffed::Gif => "image/gif",
            Sniffed::Webp => "image/webp",
            Sniffed::Avif => "image/avif",
            Sniffed::Heic => "image/heic",
            Sniffed::Svg => "image/svg+xml",
            Sniffed::Bmp => "image/bmp",
            Sniffed::Ico => "image/x-icon",
            Sniffed::Tiff => "image/tiff",
            Sniffed::Mp4 => "video/mp4",
            Sniffed::Webm => "video/webm",
            Sniffed::Mp3 => "audio/mpeg",
            Sniffed::Ogg => "audio/ogg",
            Sniffed::Wav => "audio/wav",
            Sniffed::Flac => "audio/flac",
            Sniffed::Pdf => "application/pdf",
            Sniffed::Html => "text/html",
            Sniffed::Unknown => "application/octet-stream",
        }
    }

    pub fn is_image(self) -> bool {
        matches!(
            self,
            Sniffed::Jpeg
                | Sniffed::Png
                | Sniffed::Gif
                | Sniffed::Webp
                | Sniffed::Avif
                | Sniffed::Heic
                | Sniffed::Svg
                | Sniffed::Bmp
                | Sniffed::Ico
                | Sniffed::Tiff
        )
    }

    pub fn is_media(self) -> bool {
        self.is_image()
            || matches!(
                self,
                Sniffed::Mp4
                    | Sniffed::Webm
                    | Sniffed::Mp3
                    | Sniffed::Ogg
                    | Sniffed::Wav
                    | Sniffed::Flac
                    | Sniffed::Pdf
            )
    }
}

/// Bytes needed to sniff reliably.
pub const SNIFF_LEN: usize = 512;

/// Recognises the type of a body from its first bytes.
pub fn sniff(head: &[u8]) -> Sniffed {
    let starts = |magic: &[u8]| head.starts_with(magic);
    let at = |offset: usize, magic: &[u8]| head.get(offset..offset + magic.len()) == Some(magic);
    if starts(&[0xFF, 0xD8, 0xFF]) {
        return Sniffed::Jpeg;
    }
    if starts(b"\x89PNG\r\n\x1a\n") {
        return Sniffed::Png;
    }
    if starts(b"GIF87a") || starts(b"GIF89a") {
        return Sniffed::Gif;
    }
    if starts(b"RIFF") && at(8, b"WEBP") {
        return Sniffed::Webp;
    }
    if starts(b"RIFF") && at(8, b"WAVE") {
        return Sniffed::Wav;
    }
    if at(4, b"ftyp") {
        let brand = head.get(8..12).unwrap_or(b"");
        return match brand {
            b"avif" | b"avis" => Sniffed::Avif,
            b"heic" | b"heix" | b"mif1" | b"msf1" => Sniffed::Heic,
            _ => Sniffed::Mp4,
        };
    }
    if starts(&[0x1A, 0x45, 0xDF, 0xA3]) {
        return Sniffed::Webm;
    }
    if starts(b"%PDF-") {
        return Sniffed::Pdf;
    }
    if starts(b"ID3") || starts(&[0xFF, 0xFB]) || starts(&[0xFF, 0xF3]) {
        return Sniffed::Mp3;
    }
    if starts(b"OggS") {
        return Sniffed::Ogg;
    }
    if starts(b"fLaC") {
        return Sniffed::Flac;
    }
    if starts(b"BM") && head.len() > 14 {
        return Sniffed::Bmp;
    }
    if starts(&[0, 0, 1, 0]) {
        return Sniffed::Ico;
    }
    if starts(b"II*\0") || starts(b"MM\0*") {
        return Sniffed::Tiff;
    }
    let text = String::from_utf8_lossy(&head[..head.len().min(SNIFF_LEN)]).to_ascii_lowercase();
    let text = text.trim_start_matches('\u{feff}').trim_start();
    if text.starts_with("<svg") || (text.starts_with("<?xml") && text.contains("<svg")) {
        return Sniffed::Svg;
    }
    if text.starts_with("<!doctype html")
        || text.starts_with("<html")
        || text.starts_with("<head")
        || text.starts_with("<body")
        || text.contains("<html")
        || (text.starts_with('<') && (text.contains("<title") || text.contains("<div")))
    {
        return Sniffed::Html;
    }
    Sniffed::Unknown
}

/// Why a complete-looking body is in fact cut short, judged from its type
/// and its last bytes.
pub fn truncation(kind: Sniffed, tail: &[u8]) -> Option<Reason> {
    // Trailing NULs and whitespace after the end marker are harmless padding.
    let end = tail
        .iter()
        .rposition(|&b| b != 0 && !b.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    let tail = &tail[..end];
    match kind {
        Sniffed::Jpeg if !tail.ends_with(&[0xFF, 0xD9]) => Some(Reason::JpegNoEndMarker),
        Sniffed::Png if !png_has_iend(tail) => Some(Reason::PngNoIend),
        Sniffed::Gif if !tail.ends_with(&[0x3B]) => Some(Reason::GifNoTrailer),
        _ => None,
    }
}

fn png_has_iend(tail: &[u8]) -> bool {
    // IEND is a zero-length chunk: length 0, "IEND", 4 bytes of CRC.
    tail.len() >= 12 && &tail[tail.len() - 8..tail.len() - 4] == b"IEND"
}

/// Keeps the last `N` bytes of a stream.
#[derive(Debug, Default)]
pub struct Tail {
    buf: Vec<u8>,
}

impl Tail {
    const N: usize = 64;

    pub fn push(&mut self, chunk: &[u8]) {
        if chunk.len() >= Self::N {
            self.buf.clear();
            self.buf.extend_from_slice(&chunk[chunk.len() - Self::N..]);
        } else {
            self.buf.extend_from_slice(chunk);
            if self.buf.len() > Self::N {
                self.buf.drain(..self.buf.len() - Self::N);
            }
        }
    }

    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic() {
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Sniffed::Jpeg);
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Sniffed::Png);
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Sniffed::Webp);
        assert_eq!(sniff(b"\0\0\0\x20ftypavif"), Sniffed::Avif);
        assert_eq!(sniff(b"\0\0\0\x20ftypisom"), Sniffed::Mp4);
        assert_eq!(sniff(b"  <!DOCTYPE html><html>"), Sniffed::Html);
        assert_eq!(sniff(b"<?xml version=\"1.0\"?><svg></svg>"), Sniffed::Svg);
        assert_eq!(sniff(b"hello"), Sniffed::Unknown);
    }

    #[test]
    fn end_markers() {
        assert_eq!(truncation(Sniffed::Jpeg, &[1, 2, 0xFF, 0xD9]), None);
        assert_eq!(truncation(Sniffed::Jpeg, &[1, 2, 0xFF, 0xD9, 0, 0]), None);
        assert_eq!(
            truncation(Sniffed::Jpeg, &[1, 2, 3]),
            Some(Reason::JpegNoEndMarker)
        );
        let mut png = b"xxxx".to_vec();
        png.extend_from_slice(&[0, 0, 0, 0]);
        png.extend_from_slice(b"IEND");
        png.extend_from_slice(&[0xAE, 0x42, 0x60, 0x82]);
        assert_eq!(truncation(Sniffed::Png, &png), None);
        assert_eq!(
            truncation(Sniffed::Png, &png[..10]),
            Some(Reason::PngNoIend)
        );
    }

    #[test]
    fn tail_keeps_the_end() {
        let mut t = Tail::default();
        for i in 0..200u8 {
            t.push(&[i]);
        }
        assert_eq!(t.bytes().len(), 64);
        assert_eq!(*t.bytes().last().unwrap(), 199);
        t.push(&[7u8; 100]);
        assert_eq!(t.bytes(), &[7u8; 64][..]);
    }
}
