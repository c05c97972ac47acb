//! The records that flow through the pipeline and into the report: a
//! [`Link`] per URL occurrence, a [`Finding`] per problem that spans
//! several links (an exploded URL, a duplicate), and the [`Status`]
//! vocabulary that monitoring relies on.
//!
//! These types serialize straight into the JSON report; their field names
//! are the schema in `docs/report.schema.json`. Change both together and
//! bump [`crate::report::SCHEMA_VERSION`].

use serde::{Deserialize, Serialize};

use crate::check::outage::LastKnown;
use crate::check::{HttpInfo, StoreOutcome};
use crate::extract::LinkKind;
use crate::vocab::{FindingKind, Reason, SuggestionReason, Syntax, UnknownWord};

/// A link's verdict. The order is severity, worst last, so sorting by
/// status puts the worst findings where people look first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    Skipped,
    Unchecked,
    Unresolvable,
    Error,
    Truncated,
    Broken,
}

impl Status {
    pub const ALL: [Status; 7] = [
        Status::Ok,
        Status::Broken,
        Status::Truncated,
        Status::Unresolvable,
        Status::Unchecked,
        Status::Skipped,
        Status::Error,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Broken => "broken",
            Status::Truncated => "truncated",
            Status::Unresolvable => "unresolvable",
            Status::Unchecked => "unchecked",
            Status::Skipped => "skipped",
            Status::Error => "error",
        }
    }

    /// The status spelled `word` (as [`Status::as_str`] writes it).
    pub fn from_word(word: &str) -> Result<Status, UnknownWord> {
        Status::ALL
            .into_iter()
            .find(|s| s.as_str() == word)
            .ok_or_else(|| UnknownWord {
                vocabulary: "status",
                word: word.to_string(),
            })
    }

    /// Statuses that make `archive --check` exit with code 1.
    pub fn fails_check(self) -> bool {
        matches!(self, Status::Broken | Status::Truncated)
    }
}

/// A proposed replacement URL and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Suggestion {
    pub url: String,
    /// Machine-readable origin, e.g. `rebuilt_exploded_url`.
    pub reason: SuggestionReason,
    /// The suggestion's own check result, once checked (`null` offline).
    pub status: Option<Status>,
}

/// One occurrence of a URL in a document, and its verdict.
#[derive(Debug, Clone, Serialize)]
pub struct Link {
    pub id: usize,
    /// Index into the report's `documents`.
    pub document: usize,
    /// The URL exactly as written.
    pub url: String,
    /// The absolute URL after resolution, if it could be resolved.
    pub resolved: Option<String>,
    pub kind: LinkKind,
    pub status: Status,
    /// Machine-readable reason, e.g. `single_char_segment`, `no_base_url`.
    pub reason: Option<Reason>,
    /// The same, for people. `None` on the characters of an exploded
    /// run: their finding says it once.
    pub message: Option<String>,
    /// Online only: the static pass's reason for a link it suspected
    /// (`truncated`, not part of an exploded run) and that was fetched
    /// anyway, e.g. `cut_extension`. When the server decided (a valid
    /// body: `ok`; 404 or 410: `broken`), `reason` is the network's and
    /// this keeps the suspicion; when it could not, the link stays
    /// `truncated` and both are the same. Absent otherwise (schema
    /// 2.1.0; `null` before): it is absent on every link of an offline
    /// run, and writing `"static_reason":null` 180,000 times was 5 % of
    /// the report of the seed-mix corpus (issue 11).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub static_reason: Option<Reason>,
    pub line: usize,
    pub column: usize,
    /// The syntax it was written in, e.g. `markdown_image`, `html_srcset`.
    pub syntax: Syntax,
    /// Link or alt text.
    pub text: Option<String>,
    /// The finding this link is part of (an exploded URL run), which
    /// carries the run's rebuilt URL, repairs and message.
    pub finding: Option<usize>,
    /// The earlier link in the same document with the same resolved URL.
    pub duplicate_of: Option<usize>,
    /// Repairs for this link alone; empty on the characters of an
    /// exploded run, whose repairs are their finding's (schema 2.0.0).
    pub suggestions: Vec<Suggestion>,
    /// Filled by the HTTP checker; `null` when not checked. This and the
    /// next two are boxed (serialized the same): they are filled only
    /// online, and inline they made every link 656 bytes instead of 216,
    /// moved, sorted and freed by the hundred thousand (an offline check
    /// of the seed-mix corpus, 6 % of its time; issue 11).
    pub http: Option<Box<HttpInfo>>,
    /// Filled by the media store; `null` when not stored.
    pub store: Option<Box<StoreOutcome>>,
    /// Only on a `network_unavailable` error: the URL's status before the
    /// run, which the run kept (schema 1.4.0; absent otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_known: Option<Box<LastKnown>>,
}

/// A problem that concerns several links at once.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub id: usize,
    pub document: usize,
    /// `exploded_url` or `duplicate`.
    pub kind: FindingKind,
    pub status: Status,
    pub line: usize,
    pub end_line: usize,
    /// Ids of the links involved, in document order.
    pub links: Vec<usize>,
    pub message: String,
    pub suggestions: Vec<Suggestion>,
}
