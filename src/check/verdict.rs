//! Verdicts: the one result type of a check ([`Checked`]: status, reason,
//! the report's `http` object and what the store did with the body), and
//! how each kind of failure is classed: permanent (a 404, a DNS failure, a TLS
//! error) or transient and worth retrying (timeouts, resets, 5xx, 429).
//!
//! A request error is classed by the types along its `source()` chain,
//! never by its message: the message contains the URL, and a host named
//! `tls-images.test` says nothing about what failed. The chain holds
//! `reqwest::Error`, `std::io::Error` (whose boxed inner error is reached
//! with `get_ref`, since `io::Error::source` skips it) and the resolver's
//! [`ResolveError`]. hyper and rustls are not dependencies this crate can
//! name, so a TLS failure is recognised by where it happens: rustls
//! reports a failed handshake (bad certificate, not TLS at all) as an
//! `io::Error` of kind `InvalidData` while connecting to an `https` URL,
//! and a server that hangs up during the handshake as `UnexpectedEof`;
//! a plain TCP connect produces neither.
//!
//! A result is made once by the fetcher, completed by the checker (page
//! images, the stored copy of a 304 or a source page) and then shared,
//! unchanged, by every link naming the URL. The report's `http` and
//! `store` fields are these types serialized, so what the report says and
//! what the code decided cannot differ.

use std::time::{Duration, SystemTime};

use std::error::Error;
use std::io::{self, ErrorKind};

use serde::{Deserialize, Serialize};

use super::net::{AddressRefused, ResolveError};
use super::outage::{LastKnown, Reach};
use crate::model::Status;
use crate::store::objects::{relative_object_path, StoredObject};
use crate::vocab::Reason;

/// What the report's `http` object says about a check.
///
/// The fields are in alphabetical order on purpose: reports before this
/// type was typed serialized it through `serde_json::Value`, whose maps
/// sort their keys, and the report must stay byte-identical
/// (`http_info_serializes_in_sorted_order` pins it).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct HttpInfo {
    pub bytes_read: u64,
    pub content_length: Option<u64>,
    pub content_type: Option<String>,
    pub elapsed_ms: u64,
    pub error: Option<String>,
    pub etag: Option<String>,
    pub final_url: Option<String>,
    pub from_cache: bool,
    /// For source pages: the absolute URLs of the images found on the page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub images: Option<Vec<String>>,
    pub last_modified: Option<String>,
    pub method: String,
    /// Where redirects led, hop by hop.
    pub redirects: Vec<String>,
    /// The status line and headers of a response whose body is read, for
    /// the WARC record of its capture; not in the report.
    #[serde(skip)]
    pub response_head: Option<std::sync::Arc<crate::warc::ResponseHead>>,
    /// The type read from the body's magic bytes.
    pub sniffed_type: Option<String>,
    pub status_code: Option<u16>,
    pub tries: u32,
    /// The URL fetched, after remapping.
    pub url: String,
}

/// The result of checking one URL, from the fetcher to every link that
/// names it: the verdict (`status`, `reason`, `message`), the `http`
/// object, and what became of the body in the store. It is the one
/// result type: the fetcher fills what it saw, the checker adds the page
/// images (`http.images`) and the stored copy, and [`super::apply`] copies
/// it into the links.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Checked {
    pub status: Status,
    pub reason: Option<Reason>,
    pub message: Option<String>,
    pub http: HttpInfo,
    /// The archived copy, or why a valid body was not archived; `None`
    /// when nothing was to be stored.
    pub store: Option<StoreOutcome>,
    /// What the check says about the network ([`super::outage`]).
    pub reach: Reach,
    /// In a run that could reach nothing: the URL's status before it
    /// (`network_unavailable` results only).
    pub last_known: Option<LastKnown>,
}

/// The report's `store` object: the archived copy, or `{"error": ...}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum StoreOutcome {
    Stored(StoredCopy),
    Failed {
        error: String,
        /// `store_unavailable` when the object service did not answer
        /// (after its retries); absent for a local failure (a full disk).
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<Reason>,
    },
}

/// An archived copy of a URL's body, as the report shows it. Fields in
/// alphabetical order, like [`HttpInfo`]'s and for the same reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredCopy {
    pub content_type: Option<String>,
    /// Stored for the first time in this run.
    pub new: bool,
    /// The server said 304 Not Modified: nothing was downloaded.
    pub not_modified: bool,
    /// Path of the object, relative to the store folder.
    pub path: String,
    pub sha256: String,
    pub size: u64,
    /// When this copy was stored (RFC 3339) or confirmed unchanged.
    pub stored_at: String,
}

impl StoredCopy {
    /// The copy of object `sha256`, `stored_at` the given time (now when
    /// `None`); `None` when `sha256` is not a valid digest.
    pub fn new(
        sha256: &str,
        size: u64,
        content_type: Option<String>,
        stored_at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Option<StoredCopy> {
        Some(StoredCopy {
            content_type,
            new: false,
            not_modified: false,
            path: relative_object_path(sha256)?.display().to_string(),
            sha256: sha256.to_string(),
            size,
            stored_at: stored_at
                .unwrap_or_else(chrono::Utc::now)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        })
    }

    /// The copy of an object this run just stored (or found already
    /// stored: `new` false), stored now.
    pub fn of(stored: &StoredObject, http: &HttpInfo) -> Option<StoredCopy> {
        let copy = StoredCopy::new(&stored.sha256, stored.size, http.content_type.clone(), None)?;
        Some(StoredCopy {
            new: stored.new,
            ..copy
        })
    }
}

impl Checked {
    /// The stored copy, when there is one.
    pub fn stored(&self) -> Option<&StoredCopy> {
        match &self.store {
            Some(StoreOutcome::Stored(copy)) => Some(copy),
            _ => None,
        }
    }
}

/// An attempt that failed in a way worth retrying, and how long the server
/// asked us to wait.
pub(super) struct Transient {
    pub(super) checked: Checked,
    pub(super) retry_after: Option<Duration>,
}

/// A verdict on what a server said, or on what was decided before asking
/// one: it answered when there is a status code.
pub(super) fn verdict(status: Status, reason: Reason, message: String, http: HttpInfo) -> Checked {
    Checked {
        status,
        reason: Some(reason),
        message: Some(message),
        reach: answered_if_coded(&http),
        http,
        store: None,
        last_known: None,
    }
}

pub(super) fn verdict_ok(http: HttpInfo) -> Checked {
    Checked {
        status: Status::Ok,
        reason: None,
        message: None,
        reach: answered_if_coded(&http),
        http,
        store: None,
        last_known: None,
    }
}

fn answered_if_coded(http: &HttpInfo) -> Reach {
    if http.status_code.is_some() {
        Reach::Answered
    } else {
        Reach::Local
    }
}

pub(super) fn transient(checked: Checked, retry_after: Option<Duration>) -> Box<Transient> {
    Box::new(Transient {
        checked,
        retry_after,
    })
}

/// The whole chain of an error, which is where reqwest keeps the cause.
pub(super) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        parts.push(s.to_string());
        source = s.source();
    }
    parts.dedup();
    parts.join(": ")
}

/// What a request error comes down to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cause {
    /// The address guard refused where the name resolves.
    PrivateAddress,
    /// The name cannot exist (`.invalid`) or resolves to no address.
    NoSuchName,
    /// The system resolver failed: no such name, or no DNS server
    /// answered; its error does not say which by type.
    Dns,
    Tls,
    Timeout,
    ConnectionRefused,
    /// Anything else: resets, closes, protocol errors.
    Network,
}

/// `e` and the errors under it, going into an `io::Error`'s boxed error
/// (which `io::Error::source` skips).
fn causes<'a>(e: &'a (dyn Error + 'static)) -> impl Iterator<Item = &'a (dyn Error + 'static)> {
    std::iter::successors(Some(e), |&e| {
        match e.downcast_ref::<io::Error>().and_then(io::Error::get_ref) {
            Some(inner) => Some(inner as &(dyn Error + 'static)),
            None => e.source(),
        }
    })
    // A cycle is not possible in safe code, but a bound costs nothing.
    .take(64)
}

/// The cause of a request error, from the types in its chain.
fn cause(e: &reqwest::Error) -> Cause {
    let tls_phase = e.is_connect() && e.url().is_some_and(|u| u.scheme() == "https");
    cause_in_chain(e, tls_phase).unwrap_or(if e.is_timeout() {
        Cause::Timeout
    } else {
        Cause::Network
    })
}

/// The cause named by a type in `e`'s chain; `tls_phase` is true while
/// connecting to an `https` URL.
fn cause_in_chain(e: &(dyn Error + 'static), tls_phase: bool) -> Option<Cause> {
    for err in causes(e) {
        if err.is::<AddressRefused>() {
            return Some(Cause::PrivateAddress);
        }
        if let Some(r) = err.downcast_ref::<ResolveError>() {
            return Some(match r {
                ResolveError::Refused(_) => Cause::PrivateAddress,
                ResolveError::NotFound { .. } => Cause::NoSuchName,
                ResolveError::Lookup { .. } => Cause::Dns,
            });
        }
        if let Some(io) = err.downcast_ref::<io::Error>() {
            match io.kind() {
                ErrorKind::ConnectionRefused => return Some(Cause::ConnectionRefused),
                ErrorKind::TimedOut => return Some(Cause::Timeout),
                // rustls's failures, and a server that hangs up on the
                // ClientHello (tokio-rustls: "tls handshake eof"), which
                // is how many old servers refuse a TLS version.
                ErrorKind::InvalidData | ErrorKind::UnexpectedEof if tls_phase => {
                    return Some(Cause::Tls)
                }
                _ => {}
            }
        }
    }
    None
}

/// Sorts a request error into permanent and transient failures.
pub(super) fn classify_error(
    e: &reqwest::Error,
    mut info: HttpInfo,
) -> Result<Checked, Box<Transient>> {
    let chain = error_chain(e);
    info.error = Some(chain.clone());
    let found = cause(e);
    let (status, reason) = match found {
        Cause::PrivateAddress => (Status::Skipped, Reason::PrivateAddress),
        Cause::NoSuchName | Cause::Dns => (Status::Broken, Reason::DnsError),
        Cause::Tls => (Status::Broken, Reason::TlsError),
        Cause::Timeout => (Status::Broken, Reason::Timeout),
        Cause::ConnectionRefused => (Status::Broken, Reason::ConnectionRefused),
        Cause::Network => (Status::Broken, Reason::NetworkError),
    };
    let mut v = verdict(status, reason, chain, info);
    v.reach = match found {
        // A TLS handshake that failed still reached a server.
        Cause::Tls => Reach::Answered,
        // A refusal is a RST from the host's address: something answered.
        // A machine without network never sees one (it gets resolver
        // failures, no route or timeouts), so the host is dead, not us.
        Cause::ConnectionRefused => Reach::Answered,
        Cause::PrivateAddress | Cause::NoSuchName => Reach::Local,
        Cause::Dns | Cause::Timeout => Reach::Unreachable,
        // No route, or a reset while connecting; one after the connection
        // was made (a close, a protocol error) came from a server.
        Cause::Network if e.is_connect() => Reach::Unreachable,
        Cause::Network => Reach::Answered,
    };
    match found {
        Cause::PrivateAddress | Cause::NoSuchName | Cause::Dns | Cause::Tls => Ok(v),
        Cause::Timeout | Cause::ConnectionRefused | Cause::Network => Err(transient(v, None)),
    }
}

/// The longest pause a host may ask of us, live (`Retry-After`) or
/// remembered from an earlier process: ten minutes.
pub const MAX_PAUSE: Duration = Duration::from_secs(600);

/// `Retry-After` as seconds or an HTTP date, capped at [`MAX_PAUSE`].
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    let d = match value.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => httpdate::parse_http_date(value)
            .ok()?
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    };
    Some(d.min(MAX_PAUSE))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reports serialized `http` and `store` through `serde_json::Value`,
    /// whose maps sort their keys: the typed fields must come out in the
    /// same order.
    #[test]
    fn http_info_serializes_in_sorted_order() {
        let info = HttpInfo {
            images: Some(vec!["http://a/x.jpg".into()]),
            ..HttpInfo::default()
        };
        let typed = serde_json::to_string(&info).unwrap();
        let sorted = serde_json::to_string(&serde_json::to_value(&info).unwrap()).unwrap();
        assert_eq!(typed, sorted);
        let copy = StoredCopy::new(&"a".repeat(64), 3, None, None).expect("a digest");
        let store = StoreOutcome::Stored(copy);
        let typed = serde_json::to_string(&store).unwrap();
        let sorted = serde_json::to_string(&serde_json::to_value(&store).unwrap()).unwrap();
        assert_eq!(typed, sorted);
        let failed = StoreOutcome::Failed {
            error: "disk full".into(),
            reason: None,
        };
        assert_eq!(
            serde_json::to_string(&failed).unwrap(),
            r#"{"error":"disk full"}"#
        );
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after("99999"), Some(Duration::from_secs(600)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    /// An error with a message of its own and a source.
    #[derive(Debug)]
    struct Wrap(&'static str, Box<dyn Error + Send + Sync>);

    impl std::fmt::Display for Wrap {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl Error for Wrap {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(&*self.1)
        }
    }

    #[test]
    fn causes_come_from_types_not_words() {
        let hostile = "tls certificate handshake dns error refused: timed out";
        let io = |kind| Wrap(hostile, Box::new(io::Error::new(kind, hostile)));
        let found = |e: &Wrap, tls| cause_in_chain(e, tls);
        assert_eq!(
            found(&io(ErrorKind::ConnectionRefused), true),
            Some(Cause::ConnectionRefused)
        );
        assert_eq!(found(&io(ErrorKind::ConnectionReset), true), None);
        assert_eq!(found(&io(ErrorKind::InvalidData), false), None);
        assert_eq!(found(&io(ErrorKind::InvalidData), true), Some(Cause::Tls));
        assert_eq!(found(&io(ErrorKind::UnexpectedEof), false), None);
        assert_eq!(found(&io(ErrorKind::TimedOut), false), Some(Cause::Timeout));
        assert_eq!(found(&Wrap(hostile, hostile.into()), true), None);
        // A resolver error boxed inside an io::Error, which io::Error's
        // own `source` would skip.
        let not_found = ResolveError::NotFound {
            host: "refused.tls".into(),
        };
        let inner = io::Error::other(not_found);
        assert_eq!(
            found(&Wrap(hostile, Box::new(inner)), true),
            Some(Cause::NoSuchName)
        );
    }
}
