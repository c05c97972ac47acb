//! Reading a response body, once, streaming: through its
//! `Content-Encoding`, into the sniffer, the end-marker check and the
//! store, bounded in size and time.
//!
//! archive never asks for a compressed body (it sends no
//! `Accept-Encoding`), but servers send one anyway: a pre-compressed file
//! served as is, a misconfigured `gzip on`. Archiving those bytes as the
//! image (the hostile-user pass found exactly that) stores a `.gz` under
//! an image's name, with a sha256 of bytes nobody can display. So `gzip`
//! (and `x-gzip`) and `deflate` bodies are decoded as they stream, and
//! everything downstream sees only decoded bytes: the object stored is the
//! image and its sha256 is the decoded bytes'. Any other encoding (`br`,
//! `zstd`, a list of several) is refused as `skipped`/`unsupported_encoding`
//! rather than guessed at; a stream that does not decode is
//! `broken`/`bad_encoding`.
//!
//! `check.max_body_size` bounds both the bytes read from the network and
//! the decoded bytes: a compression bomb (a megabyte that inflates to a
//! gigabyte) stops at the limit as `skipped`/`too_large`. The decoder is
//! `flate2`'s `Write` side, which inflates at most a small buffer ahead of
//! what its sink accepts, so memory stays bounded whatever the ratio.
//! `http.bytes_read` stays the bytes read from the network, which is what
//! `Content-Length` declares; the object's `size` is the decoded size.

use std::io::{self, Write};
use std::sync::Arc;
use std::time::Duration;

use flate2::write::{GzDecoder, ZlibDecoder};
use reqwest::header::CONTENT_ENCODING;

use super::sniff::{sniff, truncation, Sniffed, Tail, SNIFF_LEN};
use super::verdict::{
    error_chain, transient, verdict, verdict_ok, Checked, HttpInfo, StoreOutcome, StoredCopy,
    Transient,
};
use crate::model::Status;
use crate::store::objects::{ObjectBackend, PendingObject, StoredObject};
use crate::vocab::Reason;

/// Where the decoded bytes go, as they come.
#[derive(Default)]
struct Decoded {
    /// The first bytes, for sniffing.
    head: Vec<u8>,
    /// The last bytes, for end markers.
    tail: Tail,
    size: u64,
    limit: u64,
    /// The object being written, or why it no longer is.
    store: Option<Result<PendingObject, String>>,
    /// The whole body, for a source page.
    keep: Option<Vec<u8>>,
}

impl Write for Decoded {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.head.len() < SNIFF_LEN {
            let take = (SNIFF_LEN - self.head.len()).min(buf.len());
            self.head.extend_from_slice(&buf[..take]);
        }
        self.tail.push(buf);
        self.size += buf.len() as u64;
        if let Some(keep) = &mut self.keep {
            keep.extend_from_slice(buf);
        }
        if let Some(Ok(pending)) = &mut self.store {
            if let Err(e) = pending.write(buf) {
                // Disk full or gone: keep checking, stop storing.
                self.store = Some(Err(format!("cannot write to the store: {e}")));
            }
        }
        if self.size > self.limit {
            // Stops the decoder too: a bomb is not inflated any further.
            return Err(io::Error::other("over check.max_body_size"));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The body's `Content-Encoding`, undone.
enum Decoder {
    Identity(Box<Decoded>),
    Gzip(Box<GzDecoder<Decoded>>),
    Deflate(Box<ZlibDecoder<Decoded>>),
}

impl Decoder {
    fn write(&mut self, chunk: &[u8]) -> io::Result<()> {
        match self {
            Decoder::Identity(d) => d.write_all(chunk),
            Decoder::Gzip(d) => d.write_all(chunk),
            Decoder::Deflate(d) => d.write_all(chunk),
        }
    }

    /// Decodes what the decoder still holds; an error when the stream
    /// ended before its end (or its checksum does not match).
    fn finish(&mut self) -> io::Result<()> {
        match self {
            Decoder::Identity(_) => Ok(()),
            Decoder::Gzip(d) => d.try_finish(),
            Decoder::Deflate(d) => d.try_finish(),
        }
    }

    fn sink(&mut self) -> &mut Decoded {
        match self {
            Decoder::Identity(d) => d.as_mut(),
            Decoder::Gzip(d) => d.get_mut(),
            Decoder::Deflate(d) => d.get_mut(),
        }
    }
}

/// How reading a body ended.
enum Ended {
    Complete,
    /// Over `check.max_body_size`, on the wire or decoded.
    OverLimit,
    Undecodable(String),
    TimedOut,
    Closed(String),
}

/// A response body about to be read.
pub(super) struct BodyRead {
    response: reqwest::Response,
    info: HttpInfo,
    timeout: Duration,
    encoding: &'static str,
    decoder: Decoder,
}

impl BodyRead {
    /// Ready to read `response`'s body, at most `limit` bytes (read and
    /// decoded) within `timeout`; a `skipped` verdict for an encoding
    /// archive does not decode.
    pub(super) fn new(
        response: reqwest::Response,
        limit: u64,
        timeout: Duration,
        info: HttpInfo,
    ) -> Result<BodyRead, Box<Checked>> {
        let sink = Decoded {
            limit,
            ..Decoded::default()
        };
        let encoding = response.headers().get(CONTENT_ENCODING).map(|v| {
            String::from_utf8_lossy(v.as_bytes())
                .trim()
                .to_ascii_lowercase()
        });
        let (encoding, decoder) = match encoding.as_deref() {
            None | Some("" | "identity") => ("", Decoder::Identity(Box::new(sink))),
            Some("gzip" | "x-gzip") => ("gzip", Decoder::Gzip(Box::new(GzDecoder::new(sink)))),
            Some("deflate") => (
                "deflate",
                Decoder::Deflate(Box::new(ZlibDecoder::new(sink))),
            ),
            Some(other) => {
                let msg = format!(
                    "the body is sent with Content-Encoding `{other}`, which archive does not decode (only gzip and deflate); not archived"
                );
                return Err(Box::new(verdict(
                    Status::Skipped,
                    Reason::UnsupportedEncoding,
                    msg,
                    info,
                )));
            }
        };
        Ok(BodyRead {
            response,
            info,
            timeout,
            encoding,
            decoder,
        })
    }

    /// Reads to the end (or the limit, the deadline, an error).
    async fn pump(&mut self) -> Ended {
        let deadline = tokio::time::Instant::now() + self.timeout;
        let limit = self.decoder.sink().limit;
        loop {
            match tokio::time::timeout_at(deadline, self.response.chunk()).await {
                Err(_) => return Ended::TimedOut,
                Ok(Err(e)) => return Ended::Closed(error_chain(&e)),
                Ok(Ok(None)) => break,
                Ok(Ok(Some(chunk))) => {
                    self.info.bytes_read += chunk.len() as u64;
                    if let Err(e) = self.decoder.write(&chunk) {
                        return self.over_limit_or(e);
                    }
                    if self.info.bytes_read > limit {
                        return Ended::OverLimit;
                    }
                }
            }
        }
        match self.decoder.finish() {
            Err(e) => self.over_limit_or(e),
            Ok(()) => Ended::Complete,
        }
    }

    fn over_limit_or(&mut self, e: io::Error) -> Ended {
        let sink = self.decoder.sink();
        if sink.size > sink.limit {
            Ended::OverLimit
        } else {
            Ended::Undecodable(format!(
                "the {}-encoded body cannot be decoded: {e}",
                self.encoding
            ))
        }
    }

    /// The message of a body over the limit.
    fn too_large(&mut self) -> String {
        let limit = self.decoder.sink().limit;
        if self.info.bytes_read > limit || self.encoding.is_empty() {
            format!("body exceeds the {limit}-byte limit (check.max_body_size); stopped reading")
        } else {
            format!(
                "the {}-encoded body inflates past the {limit}-byte limit (check.max_body_size) from {} bytes read; stopped decoding",
                self.encoding, self.info.bytes_read
            )
        }
    }

    /// Reads a media body to the end and judges it by its decoded bytes,
    /// streaming them into `store` when given.
    pub(super) async fn media(
        mut self,
        image: bool,
        store: Option<&Arc<dyn ObjectBackend>>,
    ) -> Result<Checked, Box<Transient>> {
        self.decoder.sink().store = store.map(|s| {
            s.begin()
                .map_err(|e| format!("cannot write to the store: {e}"))
        });
        let ended = self.pump().await;
        let too_large = matches!(ended, Ended::OverLimit).then(|| self.too_large());
        let timeout = self.timeout.as_secs_f64();
        let body = std::mem::take(self.decoder.sink());
        let info = self.info;
        match ended {
            Ended::Complete => judge_media(body, image, info, store).await,
            Ended::TimedOut => {
                let msg = format!(
                    "body not complete within {timeout:.1}s ({} bytes read)",
                    info.bytes_read
                );
                Err(transient(
                    verdict(Status::Broken, Reason::BodyTimeout, msg, info),
                    None,
                ))
            }
            Ended::Closed(e) => {
                let msg = format!("connection closed after {} bytes: {e}", info.bytes_read);
                let reason = if info.content_length.is_some() {
                    Reason::ShortBody
                } else {
                    Reason::ConnectionClosed
                };
                Err(transient(
                    verdict(Status::Truncated, reason, msg, info),
                    None,
                ))
            }
            Ended::OverLimit => Ok(verdict(
                Status::Skipped,
                Reason::TooLarge,
                too_large.unwrap_or_default(),
                info,
            )),
            Ended::Undecodable(msg) => Ok(verdict(Status::Broken, Reason::BadEncoding, msg, info)),
        }
    }

    /// Reads a page's HTML, decoded, up to the limit (enough to find its
    /// images: the page itself is there).
    pub(super) async fn html(mut self) -> Result<(Checked, Option<Vec<u8>>), Box<Transient>> {
        self.decoder.sink().keep = Some(Vec::new());
        let ended = self.pump().await;
        let body = self.decoder.sink().keep.take();
        let info = self.info;
        match ended {
            Ended::Complete | Ended::OverLimit => Ok((verdict_ok(info), body)),
            Ended::TimedOut => Err(transient(
                verdict(
                    Status::Broken,
                    Reason::BodyTimeout,
                    "page body too slow".into(),
                    info,
                ),
                None,
            )),
            Ended::Closed(e) => Err(transient(
                verdict(
                    Status::Broken,
                    Reason::ConnectionClosed,
                    format!("connection closed: {e}"),
                    info,
                ),
                None,
            )),
            Ended::Undecodable(msg) => Ok((
                verdict(Status::Broken, Reason::BadEncoding, msg, info),
                None,
            )),
        }
    }
}

/// Judges a whole media body by its decoded bytes, and commits it to the
/// store when it is valid.
async fn judge_media(
    body: Decoded,
    image: bool,
    mut info: HttpInfo,
    store: Option<&Arc<dyn ObjectBackend>>,
) -> Result<Checked, Box<Transient>> {
    if let Some(len) = info.content_length.filter(|&l| info.bytes_read < l) {
        let msg = format!(
            "body is {} bytes, Content-Length said {len}",
            info.bytes_read
        );
        return Ok(verdict(Status::Truncated, Reason::ShortBody, msg, info));
    }
    if body.size == 0 {
        return Ok(verdict(
            Status::Broken,
            Reason::EmptyBody,
            "the response body is empty".into(),
            info,
        ));
    }
    let kind = sniff(&body.head);
    info.sniffed_type = Some(kind.as_str().to_string());
    let declared_image = info
        .content_type
        .as_deref()
        .is_some_and(|t| t.starts_with("image/"));
    if kind == Sniffed::Html {
        let msg =
            "an HTML page answered with 200 where a media file was expected (soft 404)".to_string();
        return Ok(verdict(Status::Broken, Reason::Soft404, msg, info));
    }
    let wrong = if image {
        !(kind.is_image() || kind == Sniffed::Unknown && declared_image)
    } else {
        kind != Sniffed::Unknown && !kind.is_media()
    };
    if wrong {
        let msg = format!(
            "expected {}, got {} (declared {})",
            if image { "an image" } else { "a media file" },
            kind.as_str(),
            info.content_type.as_deref().unwrap_or("nothing")
        );
        return Ok(verdict(Status::Broken, Reason::WrongType, msg, info));
    }
    if let Some(reason) = truncation(kind, body.tail.bytes()) {
        let msg = format!(
            "the {} ends without its end marker after {} bytes",
            kind.as_str(),
            body.size
        );
        return Ok(verdict(Status::Truncated, reason, msg, info));
    }
    let mut v = verdict_ok(info);
    let committed = match body.store {
        Some(Ok(pending)) => Some(commit(pending, store).await),
        Some(Err(e)) => Some(Err((e, None))),
        None => None,
    };
    v.store = match committed {
        Some(Ok(stored)) => StoredCopy::of(&stored, &v.http).map(StoreOutcome::Stored),
        Some(Err((error, reason))) => Some(StoreOutcome::Failed { error, reason }),
        None => None,
    };
    Ok(v)
}

/// Runs blocking file-system or database work (the
/// end of a run) without stalling the runtime's other tasks, such as the
/// daemon's HTTP endpoint: in place on a multi-threaded runtime, directly
/// otherwise.
pub(crate) fn blocking<T>(work: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(work),
        _ => work(),
    }
}

/// Commits a fully validated body to the store, on a blocking thread of
/// its own: fsync and rename (or an upload) block, and all the links of a
/// document are polled by one task, so a commit done in place (even
/// `block_in_place`) stops the document's other downloads and serialises
/// the fsyncs. On their own threads the commits of the downloads in flight
/// (at most `check.concurrency`) overlap, and the disk takes their fsyncs
/// together. The result (and so the database record naming the object)
/// still comes only after the object is durable. Dropped while it runs (a
/// cancelled run), the commit finishes anyway: an object the database does
/// not name is harmless.
async fn commit(
    pending: PendingObject,
    store: Option<&Arc<dyn ObjectBackend>>,
) -> Result<StoredObject, (String, Option<Reason>)> {
    let store = store.ok_or(("no store".to_string(), None))?;
    let fail = |e: io::Error| {
        (
            format!("cannot commit the object to the store: {e}"),
            store_reason(&e),
        )
    };
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => {
            let store = Arc::clone(store);
            runtime
                .spawn_blocking(move || store.commit(pending))
                .await
                .map_err(|e| (format!("the store's commit stopped: {e}"), None))?
                .map_err(fail)
        }
        Err(_) => store.commit(pending).map_err(fail),
    }
}

/// The reason of a failed commit: `store_unavailable` when the object
/// service did not answer; none for a local failure, as before.
pub(crate) fn store_reason(e: &io::Error) -> Option<Reason> {
    crate::store::objects::is_unavailable(e).then_some(Reason::StoreUnavailable)
}
