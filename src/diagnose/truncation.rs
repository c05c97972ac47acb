//! Static signs that a URL was cut short or never pointed at a file.
//!
//! None of these needs the network: a picture whose address is the site
//! root, a folder, a one-character file name, a half percent-escape or a
//! host that stops at a dot was broken the day it was scraped.
//!
//! A URL is cut at its end, so most rules look at how the URL ends. The
//! rules, in the order they are tried (the first that fires is the reason):
//!
//! * `cut_percent_escape` (any kind): the URL ends in `%` or `%X`; or its
//!   escapes decode to valid UTF-8 except for an incomplete multi-byte
//!   sequence at the very end (`…/%E6%A0%A1%E5`); or a `%` anywhere is
//!   followed by exactly one hex digit (`photo%2.jpg`). A `%` before a
//!   non-hex character (`50%-off.jpg`) is a percent sign, not an escape,
//!   and escapes that are not UTF-8 before the end (GBK, as legacy Chinese
//!   sites write `%D0%A3`) are an encoding, not a cut. A GBK name whose
//!   bytes happen to read as UTF-8 up to an incomplete last character is
//!   indistinguishable and is flagged (about 2% of two-character GB2312
//!   words and 9% of single, mostly rare, GB2312 characters; 0.3% of
//!   three-character words), but only when it ends the URL.
//! * `cut_host` (any kind): a domain name that ends in `.` or `-`, or has no
//!   dot at all (other than `localhost`); IP addresses are whole.
//!
//! Only image and media links go on, and only when the URL ends in its
//! path: a query or fragment after the path (`/0?wx_fmt=jpeg`, `/?id=3`,
//! `/g#top`) shows the path was written whole, however short it is.
//!
//! * `site_root`, `folder_as_media`: the path is `/`, or ends in `/`.
//! * `single_char_segment`: the last segment, percent-decoded, is one
//!   character that is not an ASCII digit (`…/25/g`, `…/%E6%A0%A1`). One
//!   digit is a numeric id as dynamic image services write them (WeChat and
//!   QQ `…/0`, `/p/3`), left to the network; a letter is the first letter
//!   of a cut file name. Runs of one-character links are
//!   [`super::exploded`]'s, which overrides this reason.
//! * `cut_extension`: the file name ends at a dot, or in the start of a
//!   media extension (`.jp`, `.pn`, `.gi`, …). A `!style` suffix
//!   (`a.jpg!thumb`, Weibo and upyun) is not an extension.

use url::Url;

use crate::extract::{extension_of, LinkKind};
use crate::vocab::Reason;

/// A reason a URL is truncated, and the sentence that explains it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Truncation {
    pub reason: Reason,
    pub message: String,
}

fn found(reason: Reason, message: String) -> Option<Truncation> {
    Some(Truncation { reason, message })
}

/// Checks `raw` (as written) and `url` (resolved) of a link of `kind`.
pub fn truncation(raw: &str, url: &Url, kind: LinkKind) -> Option<Truncation> {
    if let Some(t) = cut_escape(raw) {
        return Some(t);
    }
    if let Some(host) = url.host_str() {
        let is_ip = url
            .host()
            .is_some_and(|h| !matches!(h, url::Host::Domain(_)));
        if !is_ip
            && (host.ends_with('.')
                || host.ends_with('-')
                || (!host.contains('.') && host != "localhost"))
        {
            return found(
                Reason::CutHost,
                format!("the host name `{host}` is incomplete (no top-level domain)"),
            );
        }
    }
    // Text after the path means the path was written whole.
    if !kind.is_media() || url.query().is_some() || url.fragment().is_some() {
        return None;
    }
    let path = url.path();
    if path.is_empty() || path == "/" {
        return found(
            Reason::SiteRoot,
            format!(
                "an {} link that points at the site root, not at a file",
                kind.as_str()
            ),
        );
    }
    let last = path.rsplit('/').next().unwrap_or("");
    if last.is_empty() {
        return found(
            Reason::FolderAsMedia,
            format!(
                "an {} link that points at a folder (`{path}`), not at a file",
                kind.as_str()
            ),
        );
    }
    // Without a `%` the name is its own decoding: nothing to build.
    let name: std::borrow::Cow<str> = if last.contains('%') {
        String::from_utf8_lossy(&percent_decode(last))
            .into_owned()
            .into()
    } else {
        last.into()
    };
    let mut chars = name.chars();
    if let (Some(only), None) = (chars.next(), chars.next()) {
        if !only.is_ascii_digit() {
            return found(
                Reason::SingleCharSegment,
                format!("the file name is the single character `{name}`: the URL was cut short"),
            );
        }
    }
    if last.ends_with('.') {
        return found(
            Reason::CutExtension,
            format!("the file name `{last}` ends at a dot"),
        );
    }
    if let Some(ext) = extension_of(path) {
        const PREFIXES: &[&str] = &["jp", "pn", "gi", "we", "web", "av", "sv", "mp", "bm", "ti"];
        if PREFIXES.contains(&ext.as_str()) {
            return found(
                Reason::CutExtension,
                format!("the file name `{last}` ends in `.{ext}`, the start of a media extension"),
            );
        }
    }
    None
}

/// The URL ends inside a percent-escape, or inside a character whose
/// UTF-8 bytes are percent-escaped (see the module doc for GBK).
fn cut_escape(raw: &str) -> Option<Truncation> {
    let raw = raw.trim_end();
    let b = raw.as_bytes();
    let position = |byte: usize| raw.get(..byte).unwrap_or(raw).chars().count() + 1;
    let n = b.len();
    // `…%` at the end, or `%` and one hex digit (`…%E`, `photo%2.jpg`);
    // `%` before a non-hex character (`50%-off`) is a percent sign.
    let half = (0..n).find(|&i| {
        b[i] == b'%'
            && (i + 1 == n
                || (b[i + 1].is_ascii_hexdigit()
                    && !b.get(i + 2).is_some_and(u8::is_ascii_hexdigit)))
    });
    if let Some(at) = half {
        return found(
            Reason::CutPercentEscape,
            format!(
                "the URL is cut inside a percent-escape at character {}",
                position(at)
            ),
        );
    }
    if !(n >= 3 && is_escape(b, n - 3)) {
        return None;
    }
    let bytes = percent_decode(raw);
    let err = std::str::from_utf8(&bytes).err()?;
    // `error_len() == None`: valid up to a sequence the end interrupts.
    if err.error_len().is_some() {
        return None;
    }
    // Those last bytes all came from escapes of three characters each.
    let missing = bytes.len() - err.valid_up_to();
    let at = n.saturating_sub(3 * missing);
    found(
        Reason::CutPercentEscape,
        format!(
            "the URL is cut inside a percent-encoded UTF-8 character at character {} (`{}`)",
            position(at),
            raw.get(at..).unwrap_or(raw)
        ),
    )
}

fn is_escape(b: &[u8], i: usize) -> bool {
    b.get(i) == Some(&b'%')
        && b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
        && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
}

/// The bytes `s` stands for: complete `%XX` escapes decoded, everything
/// else (a stray `%` too) as written.
fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if is_escape(b, i) {
            let hex = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
            out.push(hex(b[i + 1]) << 4 | hex(b[i + 2]));
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(raw: &str, kind: LinkKind) -> Option<&'static str> {
        truncation(raw, &Url::parse(raw).unwrap(), kind).map(|t| t.reason.as_str())
    }

    #[test]
    fn reasons() {
        assert_eq!(reason("http://a.cn/", LinkKind::Image), Some("site_root"));
        assert_eq!(
            reason("http://a.cn/x/", LinkKind::Image),
            Some("folder_as_media")
        );
        assert_eq!(
            reason("http://a.cn/x/g", LinkKind::Image),
            Some("single_char_segment")
        );
        assert_eq!(
            reason("http://a.cn/x/a%2", LinkKind::Page),
            Some("cut_percent_escape")
        );
        assert_eq!(
            reason("http://newsnankai/x.jpg", LinkKind::Image),
            Some("cut_host")
        );
        assert_eq!(
            reason("http://news-/x.jpg", LinkKind::Image),
            Some("cut_host")
        );
        assert_eq!(
            reason("http://a.cn/x/photo.jp", LinkKind::Image),
            Some("cut_extension")
        );
        assert_eq!(reason("http://a.cn/x/photo.jpg", LinkKind::Image), None);
        assert_eq!(reason("http://a.cn/", LinkKind::Page), None);
        assert_eq!(reason("http://127.0.0.1:8080/a.jpg", LinkKind::Image), None);
    }

    #[test]
    fn a_query_or_fragment_means_the_path_is_whole() {
        for url in [
            "https://mmbiz.qpic.cn/mmbiz_jpg/Ah0VibJ3kZ1cKUicx2aB/0?wx_fmt=jpeg",
            "https://mmbiz.qpic.cn/mmbiz_png/Ah0VibJ3kZ1cKUicx2aB/0?wx_fmt=png&tp=webp&wxfrom=5",
            "https://q.qlogo.cn/g?b=qq&nk=10001&s=100",
            "https://img.example.com/?id=3",
            "https://img.example.com/api/image/?id=3",
            "https://img.example.com/x/photo.jp?v=2",
            "https://img.example.com/x/g#top",
        ] {
            assert_eq!(reason(url, LinkKind::Image), None, "{url}");
        }
    }

    #[test]
    fn one_digit_is_an_id_one_letter_is_a_cut() {
        assert_eq!(reason("https://pic.example.net/p/3", LinkKind::Image), None);
        assert_eq!(
            reason(
                "http://inews.gtimg.com/newsapp_match/0/1234567/0",
                LinkKind::Image
            ),
            None
        );
        assert_eq!(
            reason("https://pic.example.net/p/q", LinkKind::Image),
            Some("single_char_segment")
        );
        // 校, written raw or escaped: the first character of 校园风光.jpg.
        assert_eq!(
            reason("https://news.example.cn/pic/校", LinkKind::Image),
            Some("single_char_segment")
        );
        assert_eq!(
            reason("https://news.example.cn/pic/%E6%A0%A1", LinkKind::Image),
            Some("single_char_segment")
        );
        assert_eq!(reason("https://a.cn/x/g", LinkKind::Page), None);
    }

    #[test]
    fn style_suffixes_and_iiif_are_whole() {
        for url in [
            "https://wx1.sinaimg.cn/large/006Xp1bAly1h2abc.jpg!thumb",
            "http://img.example.b0.upaiyun.com/2019/a.jpg!w500",
            "https://iiif.example.org/iiif/2/abc/full/!200,200/0/default.jpg",
            "https://iiif.example.org/iiif/3/abc/full/max/0/default.jpg",
            "https://cdn.example.com/logo@1x.png",
            "https://i0.hdslb.com/bfs/archive/a1b2.jpg@672w_378h_1c.webp",
        ] {
            assert_eq!(reason(url, LinkKind::Image), None, "{url}");
        }
    }

    #[test]
    fn cut_inside_an_escaped_utf8_character() {
        // 校园 is E6 A0 A1 E5 9B AD: cut after the fourth byte.
        let cut = "https://news.example.cn/pic/%E6%A0%A1%E5";
        assert_eq!(reason(cut, LinkKind::Image), Some("cut_percent_escape"));
        let t = truncation(cut, &Url::parse(cut).unwrap(), LinkKind::Image).unwrap();
        assert!(t.message.contains("character 38"), "{}", t.message);
        assert_eq!(
            reason(
                "https://news.example.cn/s?q=%E6%A0%A1%E5%9B",
                LinkKind::Page
            ),
            Some("cut_percent_escape")
        );
        assert_eq!(
            reason(
                "https://news.example.cn/pic/%E6%A0%A1%E5%9B%AD",
                LinkKind::Image
            ),
            None
        );
    }

    #[test]
    fn gbk_escapes_and_stray_percent_signs_are_not_cuts() {
        for (url, kind) in [
            // 南开 and 校园 in GBK: not UTF-8, or UTF-8 by coincidence.
            ("http://www.example.cn/s?wd=%C4%CF%BF%AA", LinkKind::Page),
            (
                "http://www.example.cn/upload/%D0%A3%D4%B0.jpg",
                LinkKind::Image,
            ),
            (
                "http://www.example.cn/list.asp?key=%D0%A3%D4%B0",
                LinkKind::Page,
            ),
            // A GBK byte pair that reads as a UTF-8 prefix, then a name.
            ("http://www.example.cn/upload/%E4%B8.jpg", LinkKind::Image),
            ("https://www.example.com/sale-50%-off.jpg", LinkKind::Image),
            ("https://www.example.com/100%25.png", LinkKind::Image),
        ] {
            assert_eq!(reason(url, kind), None, "{url}");
        }
        for broken in [
            "https://www.example.com/a%",
            "https://www.example.com/a%E",
            "https://www.example.com/photo%2.jpg",
        ] {
            assert_eq!(
                reason(broken, LinkKind::Page),
                Some("cut_percent_escape"),
                "{broken}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics(tail in "[%0-9a-fA-F校园./?#!g]{0,12}") {
            let raw = format!("https://news.example.cn/pic/{tail}");
            if let Ok(url) = Url::parse(&raw) {
                for kind in LinkKind::ALL {
                    let _ = truncation(&raw, &url, kind);
                }
            }
        }
    }
}
