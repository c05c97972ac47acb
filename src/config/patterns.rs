//! The pattern-list keys of `config.toml`, compiled while the file is
//! parsed: `links.include`/`links.exclude` (regexes, matched against the
//! resolved URL) and `corpus.include`/`corpus.exclude` (globs, matched
//! against the path relative to a scanned folder).
//!
//! The configuration holds the compiled forms ([`Regexes`], [`Globs`]), not
//! strings, so there is exactly one place a pattern is compiled and one
//! place its error is reported: here, through serde, which is how the
//! error gets the line and column of the bad value (as a typo, a wrong
//! type or an out-of-range number does, see [`super::bounds`]) and the
//! message names the key. Everything downstream (`UrlFilter`,
//! `CorpusSource`) takes the compiled sets as they are and cannot fail on
//! configuration; before this, each compiled the strings a second time and
//! quietly dropped a pattern that did not compile.
//!
//! Both types serialize back to the list of strings the file held, so
//! `Config` still round-trips (tests/config_numbers.rs walks its
//! serialized defaults).

use std::fmt;

use globset::{Glob, GlobSet, GlobSetBuilder};
use regex::RegexSet;
use serde::de::{self, Deserialize, Deserializer};
use serde::{Serialize, Serializer};

/// A list of regexes, compiled into one set.
#[derive(Clone)]
pub struct Regexes {
    patterns: Vec<String>,
    set: RegexSet,
}

impl Regexes {
    /// Compiles `patterns`; the error names `key` and the pattern.
    pub fn new<S: AsRef<str>>(key: &str, patterns: &[S]) -> Result<Regexes, String> {
        let patterns: Vec<String> = patterns.iter().map(|p| p.as_ref().to_string()).collect();
        // Compiled one by one first so the error says which pattern failed;
        // the set is then built from patterns known to compile.
        for p in &patterns {
            regex::Regex::new(p).map_err(|e| format!("`{key}`: pattern `{p}`: {e}"))?;
        }
        let set = RegexSet::new(&patterns).map_err(|e| format!("`{key}`: {e}"))?;
        Ok(Regexes { patterns, set })
    }

    /// The patterns as written.
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether any pattern matches somewhere in `text`.
    pub fn is_match(&self, text: &str) -> bool {
        self.set.is_match(text)
    }
}

impl Default for Regexes {
    fn default() -> Self {
        Regexes {
            patterns: Vec::new(),
            set: RegexSet::empty(),
        }
    }
}

/// A list of globs, compiled into one set.
#[derive(Clone)]
pub struct Globs {
    patterns: Vec<String>,
    set: GlobSet,
}

impl Globs {
    /// Compiles `patterns`; the error names `key` and the pattern.
    pub fn new<S: AsRef<str>>(key: &str, patterns: &[S]) -> Result<Globs, String> {
        let mut builder = GlobSetBuilder::new();
        let mut kept = Vec::with_capacity(patterns.len());
        for p in patterns {
            let p = p.as_ref();
            builder.add(Glob::new(p).map_err(|e| format!("`{key}`: {e}"))?);
            kept.push(p.to_string());
        }
        let set = builder.build().map_err(|e| format!("`{key}`: {e}"))?;
        Ok(Globs {
            patterns: kept,
            set,
        })
    }

    /// The patterns as written.
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }

    /// Whether any glob matches `path`.
    pub fn is_match(&self, path: impl AsRef<std::path::Path>) -> bool {
        self.set.is_match(path)
    }
}

impl Default for Globs {
    fn default() -> Self {
        Globs {
            patterns: Vec::new(),
            set: GlobSet::empty(),
        }
    }
}

// Debug and equality go by the patterns as written: the compiled sets
// print as automata and have no equality of their own.
impl fmt::Debug for Regexes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Regexes").field(&self.patterns).finish()
    }
}

impl fmt::Debug for Globs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Globs").field(&self.patterns).finish()
    }
}

impl PartialEq for Regexes {
    fn eq(&self, other: &Self) -> bool {
        self.patterns == other.patterns
    }
}

impl PartialEq for Globs {
    fn eq(&self, other: &Self) -> bool {
        self.patterns == other.patterns
    }
}

impl Serialize for Regexes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.patterns.serialize(s)
    }
}

impl Serialize for Globs {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.patterns.serialize(s)
    }
}

/// Reads a list of strings for `key`, then compiles it with `compile`.
fn read<'de, D: Deserializer<'de>, T>(
    d: D,
    key: &str,
    compile: fn(&str, &[String]) -> Result<T, String>,
) -> Result<T, D::Error> {
    let patterns = Vec::<String>::deserialize(d)?;
    compile(key, &patterns).map_err(de::Error::custom)
}

/// Declares one `deserialize_with` function per key, so the key's name is
/// in the message (serde does not tell a field's deserializer its name).
macro_rules! keys {
    ($($name:ident: $ty:ident = $key:literal;)*) => {
        $(
            pub(super) fn $name<'de, D: Deserializer<'de>>(d: D) -> Result<$ty, D::Error> {
                read(d, $key, $ty::new::<String>)
            }
        )*
    };
}

keys! {
    links_include: Regexes = "links.include";
    links_exclude: Regexes = "links.exclude";
    corpus_include: Globs = "corpus.include";
    corpus_exclude: Globs = "corpus.exclude";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regexes_match_anywhere_and_name_the_bad_pattern() {
        let r = Regexes::new("links.exclude", &["tracker\\.", "^https://ads"]).unwrap();
        assert!(r.is_match("https://x.tracker.example/p"));
        assert!(r.is_match("https://ads.example/"));
        assert!(!r.is_match("https://example.org/ads"));
        let err = Regexes::new("links.exclude", &["ok", "("]).unwrap_err();
        assert!(
            err.contains("`links.exclude`") && err.contains("`(`"),
            "{err}"
        );
        assert!(!Regexes::default().is_match("anything"));
    }

    #[test]
    fn globs_match_relative_paths_and_name_the_bad_pattern() {
        let g = Globs::new("corpus.include", &["**/*.md"]).unwrap();
        assert!(g.is_match("a/b/c.md"));
        assert!(!g.is_match("a/b/c.html"));
        let err = Globs::new("corpus.exclude", &["a/[b"]).unwrap_err();
        assert!(
            err.contains("`corpus.exclude`") && err.contains("a/[b"),
            "{err}"
        );
        assert!(!Globs::default().is_match("x.md"));
    }
}
