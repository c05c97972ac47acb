//! The report's closed vocabularies: why a link has its status
//! ([`Reason`]), the construct it was written in ([`Syntax`]), what a
//! finding is about ([`FindingKind`]) and where a suggestion came from
//! ([`SuggestionReason`]).
//!
//! Each word is spelled once, next to its variant, by [`vocabulary!`]:
//! the JSON report, the text report and the state database all write
//! [`as_str`](Reason::as_str), so the spelling cannot drift between them,
//! and code decides by matching variants, never by comparing text. The
//! report's schema (`docs/report.schema.json`) lists the reasons and the
//! finding kinds; the tests below hold the two lists equal, so a new
//! variant cannot ship undocumented.

use std::fmt;

/// A word that is not in a vocabulary (read back from the state database
/// or a hand-edited file).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {vocabulary} `{word}`")]
pub struct UnknownWord {
    pub vocabulary: &'static str,
    pub word: String,
}

/// Declares a vocabulary: a `Copy` enum whose variants serialize as the
/// given words, with `ALL`, `as_str`, `Display` and `FromStr`.
macro_rules! vocabulary {
    (
        $(#[$meta:meta])*
        pub enum $name:ident ($what:literal) {
            $($(#[$vmeta:meta])* $variant:ident = $word:literal,)*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
        }

        impl $name {
            /// Every word, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// The word as the report spells it.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $word,)*
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = UnknownWord;

            fn from_str(word: &str) -> Result<$name, UnknownWord> {
                match word {
                    $($word => Ok($name::$variant),)*
                    _ => Err(UnknownWord {
                        vocabulary: $what,
                        word: word.to_string(),
                    }),
                }
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<$name, D::Error> {
                let word = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                word.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

vocabulary! {
    /// Why a link (or a check) has its status: the report's `reason` and
    /// `static_reason`. The first group is decided without the network,
    /// the second by a check.
    pub enum Reason ("reason") {
        // Static.
        ExplodedUrl = "exploded_url",
        SingleCharSegment = "single_char_segment",
        FolderAsMedia = "folder_as_media",
        SiteRoot = "site_root",
        CutPercentEscape = "cut_percent_escape",
        CutHost = "cut_host",
        CutExtension = "cut_extension",
        MalformedUrl = "malformed_url",
        NoBaseUrl = "no_base_url",
        DataUri = "data_uri",
        UnsupportedScheme = "unsupported_scheme",
        Excluded = "excluded",
        NotIncluded = "not_included",
        // HTTP.
        NotFound = "not_found",
        Gone = "gone",
        Forbidden = "forbidden",
        ClientError = "client_error",
        ServerError = "server_error",
        RateLimited = "rate_limited",
        Timeout = "timeout",
        BodyTimeout = "body_timeout",
        ConnectionRefused = "connection_refused",
        ConnectionClosed = "connection_closed",
        NetworkError = "network_error",
        DnsError = "dns_error",
        TlsError = "tls_error",
        PrivateAddress = "private_address",
        ResolvePortMismatch = "resolve_port_mismatch",
        HostWaitExceeded = "host_wait_exceeded",
        /// The check failed at the transport level in a run that could
        /// reach nothing ([`crate::check::outage`]): not the link's fault.
        NetworkUnavailable = "network_unavailable",
        RedirectLoop = "redirect_loop",
        TooManyRedirects = "too_many_redirects",
        RedirectWithoutLocation = "redirect_without_location",
        BadRedirect = "bad_redirect",
        TooLarge = "too_large",
        EmptyBody = "empty_body",
        Soft404 = "soft_404",
        WrongType = "wrong_type",
        ShortBody = "short_body",
        JpegNoEndMarker = "jpeg_no_end_marker",
        PngNoIend = "png_no_iend",
        GifNoTrailer = "gif_no_trailer",
        /// A `Content-Encoding` archive does not decode (only gzip, deflate).
        UnsupportedEncoding = "unsupported_encoding",
        /// A gzip or deflate body that does not decode.
        BadEncoding = "bad_encoding",
        // Store.
        /// A valid body the object service (S3) did not take, after its
        /// retries: on a link's `store`, never its `reason`.
        StoreUnavailable = "store_unavailable",
    }
}

vocabulary! {
    /// The construct a link was written in: the report's `syntax`.
    pub enum Syntax ("syntax") {
        MarkdownImage = "markdown_image",
        MarkdownLink = "markdown_link",
        MarkdownReferenceImage = "markdown_reference_image",
        MarkdownReferenceLink = "markdown_reference_link",
        MarkdownAutolink = "markdown_autolink",
        HtmlA = "html_a",
        HtmlImg = "html_img",
        HtmlImgLazy = "html_img_lazy",
        HtmlSrcset = "html_srcset",
        HtmlPictureSource = "html_picture_source",
        HtmlMediaSource = "html_media_source",
        HtmlMedia = "html_media",
        HtmlPoster = "html_poster",
        HtmlEmbed = "html_embed",
        HtmlIframe = "html_iframe",
        HtmlLink = "html_link",
        HtmlMeta = "html_meta",
        HtmlBackground = "html_background",
        CssUrl = "css_url",
        BareUrl = "bare_url",
        BareFileName = "bare_file_name",
        FrontMatter = "front_matter",
    }
}

vocabulary! {
    /// What a finding is about: the report's `findings[].kind`.
    pub enum FindingKind ("finding kind") {
        ExplodedUrl = "exploded_url",
        Duplicate = "duplicate",
    }
}

vocabulary! {
    /// Where a suggested replacement URL comes from.
    pub enum SuggestionReason ("suggestion reason") {
        /// The characters of an exploded URL, put back together.
        RebuiltExplodedUrl = "rebuilt_exploded_url",
        /// An image of the document's source page that matches a broken one.
        FoundOnSource = "found_on_source",
        /// A copy of a dead link in a web archive (the Wayback Machine,
        /// a Memento TimeGate), near the document's date.
        ArchivedCopy = "archived_copy",
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    const SCHEMA: &str = include_str!("../docs/report.schema.json");

    fn link_property(schema: &serde_json::Value, name: &str) -> serde_json::Value {
        schema["properties"]["links"]["items"]["properties"][name].clone()
    }

    /// The words a schema description lists after `label`, up to the
    /// sentence's end: "Static: a, b, c. HTTP: d, e." gives a, b, c.
    fn listed(description: &str, label: &str) -> Vec<String> {
        let Some((_, rest)) = description.split_once(label) else {
            return Vec::new();
        };
        let list = rest.split(". ").next().unwrap_or(rest);
        list.trim_end_matches('.')
            .split(',')
            .map(|w| w.trim().to_string())
            .collect()
    }

    #[test]
    fn reasons_are_the_schemas() {
        let schema: serde_json::Value = serde_json::from_str(SCHEMA).expect("schema parses");
        let description = link_property(&schema, "reason")["description"]
            .as_str()
            .expect("reason has a description")
            .to_string();
        let mut documented: Vec<String> = listed(&description, "Static:");
        documented.extend(listed(&description, "HTTP:"));
        documented.extend(listed(&description, "Store:"));
        assert!(documented.len() > 30, "parsed {documented:?}");
        let documented: BTreeSet<String> = documented.into_iter().collect();
        let ours: BTreeSet<String> = Reason::ALL.iter().map(|r| r.to_string()).collect();
        let undocumented: Vec<_> = ours.difference(&documented).collect();
        let unknown: Vec<_> = documented.difference(&ours).collect();
        assert!(
            undocumented.is_empty() && unknown.is_empty(),
            "not in the schema: {undocumented:?}; in the schema only: {unknown:?}"
        );
    }

    #[test]
    fn static_reasons_in_the_schema_are_reasons() {
        let schema: serde_json::Value = serde_json::from_str(SCHEMA).expect("schema parses");
        let description = link_property(&schema, "static_reason")["description"]
            .as_str()
            .expect("static_reason has a description")
            .to_string();
        let inside = description
            .split_once('(')
            .and_then(|(_, r)| r.split_once(')'))
            .map_or("", |(list, _)| list);
        for word in inside.split(',').map(str::trim) {
            assert!(word.parse::<Reason>().is_ok(), "{word}");
        }
    }

    #[test]
    fn finding_kinds_are_the_schemas() {
        let schema: serde_json::Value = serde_json::from_str(SCHEMA).expect("schema parses");
        let listed: Vec<&str> = schema["properties"]["findings"]["items"]["properties"]["kind"]
            ["enum"]
            .as_array()
            .expect("kind is an enum")
            .iter()
            .filter_map(|v| v.as_str())
            .collect();
        let ours: Vec<&str> = FindingKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(ours, listed);
    }

    #[test]
    fn suggestion_reasons_are_in_the_schema() {
        let schema: serde_json::Value = serde_json::from_str(SCHEMA).expect("schema parses");
        let description = schema["$defs"]["suggestion"]["properties"]["reason"]["description"]
            .as_str()
            .expect("suggestion reason has a description");
        for r in SuggestionReason::ALL {
            assert!(
                description.contains(&format!("`{r}`")),
                "{r}: {description}"
            );
        }
    }

    #[test]
    fn words_round_trip() {
        for r in Reason::ALL {
            assert_eq!(r.as_str().parse::<Reason>(), Ok(*r));
            assert_eq!(serde_json::to_value(r).ok(), Some(r.as_str().into()));
        }
        for s in Syntax::ALL {
            assert_eq!(s.as_str().parse::<Syntax>(), Ok(*s));
        }
        let err = "nope".parse::<Reason>().expect_err("not a reason");
        assert_eq!(err.to_string(), "unknown reason `nope`");
    }
}
