//! Resolve: one base URL per document, and every link made absolute
//! against it with the `url` crate (WHATWG URL rules, as browsers do).
//!
//! The base comes from, in order of trust: the document's `<base href>`,
//! its header (`url:`/`source:`/`canonical:` front matter, `来源:`), its
//! own source link (`[原文链接](…)`, `<link rel=canonical>`), and finally
//! a base configured for its folder in `config.toml`. A relative link with
//! no base is not guessed at: it is `unresolvable`, and the report says
//! which of those would fix it.

use std::path::Path;

use serde::Serialize;
use url::Url;

use crate::config::FolderBase;
use crate::extract::{Extracted, LinkKind};
use crate::source::Header;

/// Where a document's base URL came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BaseOrigin {
    BaseHref,
    Header,
    SourceLink,
    Config,
}

/// A document's base URL.
#[derive(Debug, Clone)]
pub struct Base {
    pub url: Url,
    pub origin: BaseOrigin,
}

/// The outcome of resolving one URL.
#[derive(Debug, Clone, PartialEq)]
pub enum Resolution {
    /// An absolute URL.
    Absolute(Url),
    /// A relative reference and no base to resolve it against.
    NoBase,
    /// Not a URL at all; the parse error.
    Malformed(String),
}

/// Chooses the document's base URL. `source_url` is the header's, and the
/// extracted links supply `<base href>` and any source link.
pub fn document_base(
    path: &str,
    header: &Header,
    extracted: &Extracted,
    folder_bases: &[FolderBase],
) -> Option<Base> {
    let absolute = |s: &str| {
        Url::parse(s)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
    };
    let source_link = extracted
        .links
        .iter()
        .filter(|l| l.kind == LinkKind::Source)
        .find_map(|l| absolute(&l.url));
    let header_url = header.source_url.as_deref().and_then(absolute);
    let page_url = header_url
        .clone()
        .map(|u| (u, BaseOrigin::Header))
        .or_else(|| source_link.map(|u| (u, BaseOrigin::SourceLink)))
        .or_else(|| folder_base(path, folder_bases).map(|u| (u, BaseOrigin::Config)));
    // `<base href>` may itself be relative to the page's address.
    if let Some(href) = &extracted.base_href {
        let resolved = Url::parse(href)
            .ok()
            .or_else(|| page_url.as_ref().and_then(|(p, _)| p.join(href).ok()));
        if let Some(url) = resolved.filter(|u| matches!(u.scheme(), "http" | "https")) {
            return Some(Base {
                url,
                origin: BaseOrigin::BaseHref,
            });
        }
    }
    page_url.map(|(url, origin)| Base { url, origin })
}

/// The configured base of the deepest folder containing `path`.
fn folder_base(path: &str, bases: &[FolderBase]) -> Option<Url> {
    let path = Path::new(path);
    bases
        .iter()
        .filter(|b| path.starts_with(&b.path))
        .max_by_key(|b| b.path.components().count())
        .and_then(|b| Url::parse(&b.url).ok())
}

/// Resolves `raw` against `base`.
pub fn resolve(raw: &str, base: Option<&Url>) -> Resolution {
    match Url::parse(raw) {
        Ok(url) => Resolution::Absolute(url),
        Err(url::ParseError::RelativeUrlWithoutBase) => match base {
            Some(base) => match base.join(raw) {
                Ok(url) => Resolution::Absolute(url),
                Err(e) => Resolution::Malformed(e.to_string()),
            },
            None => Resolution::NoBase,
        },
        Err(e) => Resolution::Malformed(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_needs_base() {
        let base = Url::parse("http://a.cn/x/y/page.shtml").unwrap();
        assert_eq!(
            resolve("g", Some(&base)),
            Resolution::Absolute(Url::parse("http://a.cn/x/y/g").unwrap())
        );
        assert_eq!(
            resolve(".", Some(&base)),
            Resolution::Absolute(Url::parse("http://a.cn/x/y/").unwrap())
        );
        assert_eq!(resolve("a.jpg", None), Resolution::NoBase);
        assert!(matches!(
            resolve("http://[::1/a.jpg", None),
            Resolution::Malformed(_)
        ));
    }
}
