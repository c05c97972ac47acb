//! Bytes to text: UTF-8 when it is, otherwise the encoding the bytes say
//! (a BOM) or the one `chardetng` guesses (GBK/GB18030, Big5, Shift_JIS,
//! windows-1252, …), decoded with `encoding_rs`.
//!
//! Chinese archives scraped years ago are often GBK; failing on them, or
//! decoding them as Latin-1 and reporting mojibake URLs, would be worse
//! than useless.
//!
//! Detection is sampled. `chardetng` runs every byte through some twenty
//! candidate decoders and scorers; fed whole GBK articles it was 40 % of
//! the CPU of an offline check of the benchmark corpus (one file in six
//! GBK; issue 11), more than extraction and diagnosis together. A few
//! hundred non-ASCII bytes are as decisive as a whole file (they are
//! scores of CJK characters), so the detector sees the file up to
//! [`DETECT_NON_ASCII`] non-ASCII bytes, as a prefix (`last = false`: a
//! sample cut inside a multi-byte character must not count as a
//! truncated sequence). The guess is then checked by decoding the whole
//! file: if the rest of the file is not valid in the guessed encoding,
//! the sample misled and the detector is run again on every byte. What
//! a sample can still get differently from the whole file is a file whose
//! encoding changes after its first few KB, where every guess is wrong
//! somewhere; it is read as its beginning says, as browsers do (they
//! detect from a prefix too).

//!
//! Before detection comes what the file says of itself: an HTML page's
//! `<meta charset>` (or `http-equiv` `content="…; charset=…"`) in its
//! first 1024 bytes, read the way a browser's prescan reads it. It is
//! taken only when it names a multi-byte encoding (GBK, gb18030, Big5,
//! Shift_JIS, EUC-JP, EUC-KR) and the whole file decodes in it without
//! an error, which text in another encoding practically never does; a
//! single-byte declaration (windows-1252, …) decodes any bytes, so it
//! proves nothing and detection decides as before. This spares the
//! detector the declared pages (a sixth of the non-UTF-8 files of the
//! seed-mix corpus).

use std::borrow::Cow;

/// Text decoded from bytes, and how.
#[derive(Debug)]
pub struct Decoded {
    pub text: String,
    pub encoding: &'static str,
    /// Some bytes could not be decoded and were replaced.
    pub lossy: bool,
}

/// True when the bytes look like a binary file (NUL in the first 8 KiB)
/// rather than text. UTF-16 text has NULs too, so a UTF-16 BOM wins.
pub fn looks_binary(bytes: &[u8]) -> bool {
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return false;
    }
    // The `memchr` crate's search is vectorised (`<[u8]>::contains` is
    // the standard library's word-at-a-time one, 0.8 % of an offline check).
    memchr::memchr(0, &bytes[..bytes.len().min(8192)]).is_some()
}

/// Decodes `bytes` to text. Never fails; see [`Decoded::lossy`].
pub fn decode(bytes: &[u8]) -> Decoded {
    decode_cow(Cow::Borrowed(bytes))
}

/// [`decode`], taking the bytes: UTF-8 (most files) becomes the text
/// without a copy.
pub fn decode_owned(bytes: Vec<u8>) -> Decoded {
    decode_cow(Cow::Owned(bytes))
}

fn decode_cow(owned: Cow<'_, [u8]>) -> Decoded {
    let bytes: &[u8] = &owned;
    if let Some((encoding, bom_len)) = encoding_rs::Encoding::for_bom(bytes) {
        let (text, had_errors) = encoding.decode_without_bom_handling(&bytes[bom_len..]);
        return Decoded {
            text: text.into_owned(),
            encoding: encoding.name(),
            lossy: had_errors,
        };
    }
    let utf8 = |text| Decoded {
        text,
        encoding: "UTF-8",
        lossy: false,
    };
    // Validation with `simdutf8` (SIMD, several times faster than the
    // standard library's on CJK text, where std's ASCII fast path never
    // applies; std's `from_utf8` was 5 % of an offline check's
    // instructions). It answers only valid or not, which is all we need.
    let owned = match owned {
        Cow::Owned(vec) if simdutf8::basic::from_utf8(&vec).is_ok() => {
            // SAFETY: `simdutf8` has just validated these very bytes as UTF-8.
            return utf8(unsafe { String::from_utf8_unchecked(vec) });
        }
        Cow::Borrowed(b) => match simdutf8::basic::from_utf8(b) {
            Ok(text) => return utf8(text.to_string()),
            Err(_) => Cow::Borrowed(b),
        },
        not_utf8 => not_utf8,
    };
    let bytes: &[u8] = &owned;
    if let Some(encoding) = declared_multibyte(bytes) {
        let (text, had_errors) = encoding.decode_without_bom_handling(bytes);
        if !had_errors {
            return Decoded {
                text: text.into_owned(),
                encoding: encoding.name(),
                lossy: false,
            };
        }
    }
    let sample = detect_sample(bytes);
    let encoding = guess(&bytes[..sample], sample == bytes.len());
    let (text, had_errors) = encoding.decode_without_bom_handling(bytes);
    if had_errors && sample < bytes.len() {
        // The sample's guess does not fit the whole file: ask again with
        // all of it (what detection did before it was sampled).
        let full = guess(bytes, true);
        if full != encoding {
            let (text, had_errors) = full.decode_without_bom_handling(bytes);
            return Decoded {
                text: text.into_owned(),
                encoding: full.name(),
                lossy: had_errors,
            };
        }
    }
    Decoded {
        text: text.into_owned(),
        encoding: encoding.name(),
        lossy: had_errors,
    }
}

/// The multi-byte encoding an HTML page declares in a `<meta>` within its
/// first 1024 bytes (where browsers look), if any. Only the first
/// `charset=` counts; a page that declares something else first is left
/// to detection.
fn declared_multibyte(bytes: &[u8]) -> Option<&'static encoding_rs::Encoding> {
    const PRESCAN: usize = 1024;
    const NEEDLE: &[u8] = b"charset";
    let head = &bytes[..bytes.len().min(PRESCAN)];
    let at = head
        .windows(NEEDLE.len())
        .position(|w| w.eq_ignore_ascii_case(NEEDLE))?;
    // Only inside a tag that is a <meta>: the last `<` before it opens one.
    let tag = head[..at].iter().rposition(|&b| b == b'<')?;
    let name = head.get(tag + 1..tag + 5)?;
    if !name.eq_ignore_ascii_case(b"meta") || head[tag..at].contains(&b'>') {
        return None;
    }
    let rest = &head[at + NEEDLE.len()..];
    let rest = rest
        .trim_ascii_start()
        .strip_prefix(b"=")?
        .trim_ascii_start();
    let rest = rest
        .strip_prefix(b"\"")
        .or(rest.strip_prefix(b"'"))
        .unwrap_or(rest);
    let end = rest
        .iter()
        .position(|&b| !(b.is_ascii_alphanumeric() || b"-_.:".contains(&b)))
        .unwrap_or(rest.len());
    let encoding = encoding_rs::Encoding::for_label(&rest[..end])?;
    let multibyte = [
        encoding_rs::GBK,
        encoding_rs::GB18030,
        encoding_rs::BIG5,
        encoding_rs::SHIFT_JIS,
        encoding_rs::EUC_JP,
        encoding_rs::EUC_KR,
    ];
    multibyte.contains(&encoding).then_some(encoding)
}

/// Non-ASCII bytes the encoding detector is shown before it guesses: about
/// 32 CJK characters in a double-byte encoding, or some 60 letters of
/// Cyrillic, Greek or accented Latin text. The detector's cost is per
/// byte fed, through some twenty candidates (~1,500 instructions a byte),
/// so this bounds it per file: at 512 it was 20 % of the CPU of an
/// offline check of the seed-mix corpus, at 160 still 14 % (issue 11).
///
/// 64 was chosen by measuring, not guessed: 3,296 generated articles
/// (front matter or an HTML head, then text and image links) in GBK,
/// Big5, Shift_JIS, EUC-JP, EUC-KR and eight single-byte encodings, from
/// the seeds, Python's CJK codec test texts and translated messages in
/// twelve languages. Sampled to the 64th non-ASCII byte, with the check
/// below, the guess was the whole file's guess for 3,253 of them, as many
/// as with a sample of 160 (the misses are EUC-KR and Hebrew files the
/// detector also gets wrong whole), and it named the true encoding as
/// often or more in every encoding.
pub const DETECT_NON_ASCII: usize = 64;

/// Length of the prefix of `bytes` that ends with its
/// [`DETECT_NON_ASCII`]th non-ASCII byte (all of `bytes` if it has fewer).
fn detect_sample(bytes: &[u8]) -> usize {
    let mut seen = 0;
    // Counted a chunk at a time so the loop vectorises, then byte by byte
    // in the chunk that reaches the budget: the detector costs ~1,500
    // instructions a byte, so the cut is exact.
    for (i, chunk) in bytes.chunks(64).enumerate() {
        let here = chunk.iter().filter(|&&b| b >= 0x80).count();
        if seen + here >= DETECT_NON_ASCII {
            let mut left = DETECT_NON_ASCII - seen;
            for (j, &b) in chunk.iter().enumerate() {
                if b >= 0x80 {
                    left -= 1;
                    if left == 0 {
                        return i * 64 + j + 1;
                    }
                }
            }
        }
        seen += here;
    }
    bytes.len()
}

/// `chardetng`'s guess for `bytes`; `whole` when they are the entire file.
fn guess(bytes: &[u8], whole: bool) -> &'static encoding_rs::Encoding {
    let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    detector.feed(bytes, whole);
    // `tld: None` and `Utf8Detection::Deny`: we already know it is not UTF-8.
    detector.guess(None, chardetng::Utf8Detection::Deny)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gbk_is_detected_and_decoded() {
        let text = "南开大学新闻网讯，学校召开会议。图片：微信图片_2023.png 原文链接";
        let (bytes, _, _) = encoding_rs::GBK.encode(text);
        let d = decode(&bytes);
        assert_eq!(d.text, text);
        assert!(
            d.encoding == "GBK" || d.encoding == "gb18030",
            "{}",
            d.encoding
        );
        assert!(!d.lossy);
    }

    #[test]
    fn a_long_gbk_file_is_detected_from_its_sample() {
        let text = "南开大学新闻网讯，学校召开会议，落实党中央决策部署。".repeat(400);
        let (bytes, _, _) = encoding_rs::GBK.encode(&text);
        assert!(detect_sample(&bytes) < bytes.len());
        let d = decode(&bytes);
        assert_eq!(d.text, text);
        assert!(!d.lossy);
    }

    #[test]
    fn the_sample_ends_at_the_budget_th_non_ascii_byte() {
        // Across a chunk boundary: 100 ASCII bytes, then non-ASCII ones.
        let mut bytes = vec![b'a'; 100];
        bytes.extend(std::iter::repeat_n(0xB0, 200));
        assert_eq!(detect_sample(&bytes), 100 + DETECT_NON_ASCII);
        // Interleaved with ASCII.
        let mixed: Vec<u8> = (0..400)
            .map(|i| if i % 3 == 0 { 0xC4 } else { b'x' })
            .collect();
        assert_eq!(detect_sample(&mixed), 3 * (DETECT_NON_ASCII - 1) + 1);
        // Fewer than the budget: all of it.
        let few = [b'a', 0xC4, b'b', 0xE9];
        assert_eq!(detect_sample(&few), few.len());
    }

    #[test]
    fn a_declared_multibyte_charset_is_read() {
        let html = "<html><head><meta charset=\"gbk\"><title>南开大学</title></head><body>新闻网讯</body></html>";
        let (bytes, _, _) = encoding_rs::GBK.encode(html);
        assert_eq!(declared_multibyte(&bytes), Some(encoding_rs::GBK));
        let d = decode(&bytes);
        assert_eq!((d.text.as_str(), d.encoding, d.lossy), (html, "GBK", false));
        let equiv = b"<META HTTP-EQUIV='Content-Type' CONTENT='text/html; charset=Big5'>";
        assert_eq!(declared_multibyte(equiv), Some(encoding_rs::BIG5));
    }

    #[test]
    fn a_declaration_that_proves_nothing_is_left_to_detection() {
        // Single-byte: any bytes decode, so it is not taken.
        assert_eq!(declared_multibyte(b"<meta charset=windows-1252>"), None);
        // Not in a <meta>.
        assert_eq!(declared_multibyte(b"<p>charset=gbk</p>"), None);
        // A wrong declaration: GBK text declared Shift_JIS does not decode
        // cleanly, so detection still reads it as GBK.
        let text = "<meta charset=shift_jis>南开大学新闻网讯，学校召开会议，落实党中央决策部署。";
        let (bytes, _, _) = encoding_rs::GBK.encode(text);
        let d = decode(&bytes);
        assert_eq!(d.text, text);
        assert!(!d.lossy);
    }

    #[test]
    fn owned_and_borrowed_decode_alike() {
        for bytes in [
            &b"plain"[..],
            "中文".as_bytes(),
            b"\xEF\xBB\xBFhi",
            b"caf\xe9",
        ] {
            let (a, b) = (decode(bytes), decode_owned(bytes.to_vec()));
            assert_eq!((a.text, a.encoding, a.lossy), (b.text, b.encoding, b.lossy));
        }
    }

    #[test]
    fn utf8_bom_is_stripped() {
        let d = decode(b"\xEF\xBB\xBFhello");
        assert_eq!(d.text, "hello");
        assert_eq!(d.encoding, "UTF-8");
    }

    #[test]
    fn nul_means_binary() {
        assert!(looks_binary(b"\x89PNG\r\n\x1a\n\0\0\0"));
        assert!(!looks_binary("中文".as_bytes()));
    }
}
