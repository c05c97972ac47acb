//! Exploded URLs: a scraper that walked a URL string one character at a
//! time and resolved each character against the page leaves a run of
//! links like `…/25/g`, `…/25/p`, `…/25/j`, `…/25/` (the `.`), and
//! `http://host/` (the `/`). Read in order, or backwards, the characters
//! spell the URL the scraper should have kept.
//!
//! This module finds such runs among a document's links and rebuilds the
//! URL. Each link becomes a [`Piece`]:
//!
//! * a one-character last path segment is that character,
//! * the page's folder (a path ending in `/`) is `.`,
//! * the site root is `/` (or `.`, when the folder *is* the root, in which
//!   case the position is decided by the characters around it),
//! * a link written as one character (not yet resolved) is that character.
//!
//! Consecutive pieces resolved against the same folder form a run; a run
//! of at least `links.min_exploded_run` is one finding. Both reading
//! directions are scored (a scheme at the start, a media extension at the
//! end, a plausible host) and the better one wins.

use url::Url;

use crate::extract::is_media_extension;

/// One link seen as a possible character of an exploded URL.
#[derive(Debug, Clone, PartialEq)]
enum Piece {
    /// A character, and the folder it was resolved in (if resolved).
    Char(char, Option<String>),
    /// The page's folder: the character `.`.
    Folder(String),
    /// The site root: the character `/`; the origin it belongs to.
    Root(String),
}

/// What a link offers to the detector: how it was written and resolved.
pub struct Candidate<'a> {
    pub raw: &'a str,
    pub resolved: Option<&'a str>,
}

/// A run found, with the rebuilt URL.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// Indices into the candidate slice, in document order.
    pub members: Vec<usize>,
    /// The characters read in the winning direction.
    pub spelled: String,
    /// `spelled` made absolute (against the folder or page), if possible.
    pub rebuilt: String,
    pub backwards: bool,
}

fn piece(c: &Candidate) -> Option<Piece> {
    let raw = c.raw.trim();
    let mut chars = raw.chars();
    if let (Some(ch), None) = (chars.next(), chars.next()) {
        return Some(Piece::Char(ch, None));
    }
    let url = Url::parse(c.resolved?).ok()?;
    if !matches!(url.scheme(), "http" | "https")
        || url.fragment().is_some()
        || url.query().is_some()
    {
        return None;
    }
    let origin = url.origin().ascii_serialization();
    let path = url.path();
    if path == "/" {
        return Some(Piece::Root(origin));
    }
    if path.ends_with('/') {
        return Some(Piece::Folder(url.as_str().to_string()));
    }
    let (folder, last) = url.as_str().rsplit_once('/')?;
    let decoded = percent_decode(last);
    let mut chars = decoded.chars();
    match (chars.next(), chars.next()) {
        (Some(ch), None) => Some(Piece::Char(ch, Some(format!("{folder}/")))),
        _ => None,
    }
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| s.to_string())
}

/// The folder and origin every piece of a run must share.
#[derive(Default, Clone)]
struct Frame {
    folder: Option<String>,
    origin: Option<String>,
}

impl Frame {
    /// Adds `p` if it fits; false if it belongs to another page.
    fn admit(&mut self, p: &Piece) -> bool {
        let (folder, origin) = match p {
            Piece::Char(_, None) => return true,
            Piece::Char(_, Some(f)) | Piece::Folder(f) => (Some(f), None),
            Piece::Root(o) => (None, Some(o)),
        };
        if let Some(f) = folder {
            if self.folder.as_ref().is_some_and(|cur| cur != f)
                || self
                    .origin
                    .as_ref()
                    .is_some_and(|o| !f.starts_with(o.as_str()))
            {
                return false;
            }
            self.folder = Some(f.clone());
        }
        if let Some(o) = origin {
            if self.origin.as_ref().is_some_and(|cur| cur != o)
                || self
                    .folder
                    .as_ref()
                    .is_some_and(|f| !f.starts_with(o.as_str()))
            {
                return false;
            }
            self.origin = Some(o.clone());
        }
        true
    }
}

/// Finds exploded-URL runs of at least `min_run` links.
pub fn find_runs(candidates: &[Candidate], min_run: usize) -> Vec<Run> {
    let pieces: Vec<Option<Piece>> = candidates.iter().map(piece).collect();
    let mut runs = Vec::new();
    let mut i = 0;
    while i < pieces.len() {
        let mut frame = Frame::default();
        let mut j = i;
        while j < pieces.len() && pieces[j].as_ref().is_some_and(|p| frame.admit(p)) {
            j += 1;
        }
        let members: Vec<usize> = (i..j).collect();
        let chars = members
            .iter()
            .filter(|&&k| matches!(pieces[k], Some(Piece::Char(..))))
            .count();
        if members.len() >= min_run && chars * 2 >= members.len() {
            let run_pieces: Vec<&Piece> =
                members.iter().filter_map(|&k| pieces[k].as_ref()).collect();
            let run = rebuild(members, &run_pieces, &frame);
            // Numbered links (`/notes/1` … `/notes/9`) also end in one
            // character; only a run that spells a URL is an exploded one.
            if score(&run.spelled) >= MIN_URL_SCORE {
                runs.push(run);
            }
        }
        i = j.max(i + 1);
    }
    runs
}

/// Spells the run both ways and keeps the more URL-like reading.
fn rebuild(members: Vec<usize>, pieces: &[&Piece], frame: &Frame) -> Run {
    // The root and the folder are the same place when the page sits at the
    // root: such a position is `/` or `.`, decided after the direction.
    let root_is_folder = match (&frame.folder, &frame.origin) {
        (Some(f), Some(o)) => f.trim_end_matches('/') == o,
        _ => false,
    };
    let forward: Vec<Option<char>> = pieces
        .iter()
        .map(|p| match p {
            Piece::Char(c, _) => Some(*c),
            Piece::Folder(_) | Piece::Root(_) if root_is_folder => None,
            Piece::Folder(_) => Some('.'),
            Piece::Root(_) => Some('/'),
        })
        .collect();
    let backward: Vec<Option<char>> = forward.iter().rev().copied().collect();
    let (f, b) = (settle(&forward), settle(&backward));
    let backwards = score(&b) > score(&f);
    let spelled = if backwards { b } else { f };
    let base = frame
        .folder
        .as_deref()
        .or(frame.origin.as_deref())
        .and_then(|s| Url::parse(s).ok());
    let rebuilt = match (Url::parse(&spelled), &base) {
        (Ok(u), _) => u.to_string(),
        (Err(_), Some(base)) => base
            .join(&spelled)
            .map_or(spelled.clone(), |u| u.to_string()),
        _ => spelled.clone(),
    };
    Run {
        members,
        spelled,
        rebuilt,
        backwards,
    }
}

/// Fills undecided positions: `.` between letters of a host name or before
/// a file extension, `/` elsewhere.
fn settle(chars: &[Option<char>]) -> String {
    let mut out = String::with_capacity(chars.len());
    for (i, c) in chars.iter().enumerate() {
        let ch = c.unwrap_or_else(|| {
            let prev = out.chars().last();
            let next = chars.get(i + 1).copied().flatten();
            let in_host = out.contains("//")
                && !out
                    .split_once("//")
                    .is_some_and(|(_, rest)| rest.contains('/'));
            let rest: String = chars[i + 1..].iter().map(|c| c.unwrap_or('/')).collect();
            let extension_follows = !rest.is_empty()
                && rest.len() <= 5
                && rest.chars().all(|c| c.is_ascii_alphanumeric());
            let between_words = prev.is_some_and(|p| p.is_alphanumeric())
                && next.is_some_and(|n| n.is_alphanumeric());
            let host_dot = in_host && between_words && !ends_host(&out, &chars[i + 1..]);
            if host_dot || extension_follows {
                '.'
            } else {
                '/'
            }
        });
        out.push(ch);
    }
    out
}

/// True when the label just written is a top-level domain and the label
/// that follows is not: the host ends here (`x.org` then `/p`, not `.p`).
fn ends_host(written: &str, rest: &[Option<char>]) -> bool {
    let is_tld = |label: &str| {
        let label = label.to_ascii_lowercase();
        (label.len() == 2 && label.chars().all(|c| c.is_ascii_alphabetic()))
            || [
                "com", "org", "net", "edu", "gov", "info", "io", "biz", "mil", "int",
            ]
            .contains(&label.as_str())
    };
    let previous = written.rsplit(['.', '/']).next().unwrap_or("");
    let next: String = rest
        .iter()
        .map_while(|c| c.filter(|c| *c != '.' && *c != '/'))
        .collect();
    written.contains('.') && is_tld(previous) && !is_tld(&next)
}

/// The [`score`] a spelled run needs: a scheme, or a path with a media
/// extension, or a host name with a path.
const MIN_URL_SCORE: i32 = 3;

/// How much a string looks like a URL to a file.
fn score(s: &str) -> i32 {
    let mut score = 0;
    let lower = s.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        score += 4;
    } else if lower.starts_with("//") {
        score += 2;
    } else if lower.starts_with('/') {
        score += 1;
    }
    if let Some((_, ext)) = lower.rsplit_once('.') {
        if is_media_extension(ext) {
            score += 3;
        } else if (2..=5).contains(&ext.len()) && ext.chars().all(|c| c.is_ascii_alphanumeric()) {
            score += 1;
        }
    }
    if Url::parse(s).is_ok_and(|u| u.host_str().is_some_and(|h| h.contains('.'))) {
        score += 2;
    }
    score
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exploded(url: &str, folder: &str, root: &str) -> Vec<String> {
        url.chars()
            .map(|c| match c {
                '/' => root.to_string(),
                '.' => folder.to_string(),
                c => format!("{folder}{c}"),
            })
            .collect()
    }

    fn candidates(v: &[String]) -> Vec<Candidate<'_>> {
        v.iter()
            .map(|s| Candidate {
                raw: s,
                resolved: Some(s),
            })
            .collect()
    }

    #[test]
    fn backward_run_is_rebuilt() {
        let target = "http://news.nankai.edu.cn/pic/003/a_1.jpg";
        let mut links = exploded(target, "http://h.cn/a/b/", "http://h.cn/");
        links.reverse();
        let runs = find_runs(&candidates(&links), 6);
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].rebuilt, target);
        assert!(runs[0].backwards);
        assert_eq!(runs[0].members.len(), target.len());
    }

    #[test]
    fn forward_relative_run_resolves_against_folder() {
        let links = exploded("/img/photo.png", "https://h.cn/news/", "https://h.cn/");
        let runs = find_runs(&candidates(&links), 6);
        assert_eq!(runs[0].rebuilt, "https://h.cn/img/photo.png");
        assert!(!runs[0].backwards);
    }

    #[test]
    fn page_at_root_decides_dots_and_slashes() {
        let links = exploded("http://x.org/p/q.gif", "http://h.cn/", "http://h.cn/");
        let runs = find_runs(&candidates(&links), 6);
        assert_eq!(runs[0].rebuilt, "http://x.org/p/q.gif");
    }

    #[test]
    fn ordinary_images_are_not_a_run() {
        let links: Vec<String> = (0..10)
            .map(|i| format!("http://h.cn/img/{i}{i}.jpg"))
            .collect();
        assert!(find_runs(&candidates(&links), 6).is_empty());
    }

    #[test]
    fn numbered_links_are_not_an_exploded_url() {
        let links: Vec<String> = (0..10).map(|i| format!("http://h.cn/notes/{i}")).collect();
        assert!(find_runs(&candidates(&links), 6).is_empty());
        let letters: Vec<String> = "abcdefgh"
            .chars()
            .map(|c| format!("http://h.cn/p/{c}"))
            .collect();
        assert!(find_runs(&candidates(&letters), 6).is_empty());
    }

    #[test]
    fn other_pages_break_the_run() {
        let mut links = exploded("http://a.cn/b.jpg", "http://h.cn/a/", "http://h.cn/");
        links.insert(5, "http://other.cn/z/q".into());
        let runs = find_runs(&candidates(&links), 6);
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].members.len(), links.len() - 6);
    }
}
