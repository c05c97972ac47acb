//! The daemon's HTTP endpoint (axum), bound to 127.0.0.1 by default:
//!
//! * `GET /healthz`: the process is alive (never needs the token),
//! * `GET /readyz`: a run has finished and the store is writable,
//! * `GET /report.json`: the last complete report, streamed from the
//!   file the run wrote (an atomic rename, so always a whole one),
//! * `GET /metrics`: Prometheus text, accumulated during that run, plus
//!   the live metrics (run in progress, requests in flight, runs so far),
//! * `GET /` (`?page=N`): the dashboard for people, from the run's digest,
//! * `GET /objects/<sha256>`: an archived object, streamed from the store
//!   with its sniffed type, `X-Content-Type-Options: nosniff` and a
//!   sandboxing CSP.
//!
//! Files are served by `tower-http`'s `ServeFile`: streamed in chunks
//! (a 200 MB object costs a buffer, not 200 MB), with Range and
//! conditional requests (`If-Modified-Since`, `If-Range`) for free. No
//! handler reads the report into memory.
//!
//! With `daemon.token` set, everything but `/healthz` needs
//! `Authorization: Bearer <token>`.
//!
//! Connections are accepted by [`serve_connections`], not `axum::serve`:
//! a header-read timeout (`daemon.header_timeout_secs`) and a cap on
//! connections served at once (`daemon.max_connections`), so half-open
//! connections (slowloris) cannot exhaust the daemon's file descriptors;
//! at the cap a new connection takes the slot of the oldest one with no
//! request in flight ([`super::slots`]), so reconnecting attackers cannot
//! keep `/healthz` out either. A suffix range longer than a file is
//! answered with the whole file ([`super::range`]).

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::io::AsyncReadExt as _;
use tower_http::services::ServeFile;

use super::{dashboard, Shared};
use crate::check::sniff::{sniff, SNIFF_LEN};
use crate::store::objects::{relative_object_path, ObjectBackend};

/// What the handlers need: the last run, where the store is, the token.
#[derive(Clone)]
pub struct AppState {
    pub shared: Arc<Shared>,
    pub store: PathBuf,
    /// Where the objects live, when not (only) files under `store`.
    pub objects: Option<Arc<dyn ObjectBackend>>,
    pub token: Option<String>,
}

/// The daemon's routes.
pub fn router(state: AppState) -> Router {
    let protected = Router::new()
        .route("/readyz", get(readyz))
        .route("/report.json", get(report))
        .route("/metrics", get(metrics))
        .route("/", get(index))
        .route("/objects/{sha256}", get(object))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .merge(protected)
        .with_state(state)
}

async fn require_token(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if let Some(token) = &state.token {
        let given = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        // Constant-time comparison (`subtle`) so timing says nothing of the
        // token. Both sides are hashed first: `ct_eq` on slices returns
        // early on a length mismatch, and fixed-size digests keep the
        // token's length out of the timing too.
        let ok = given.is_some_and(|g| {
            use sha2::{Digest, Sha256};
            use subtle::ConstantTimeEq;
            let (g, t) = (
                Sha256::digest(g.as_bytes()),
                Sha256::digest(token.as_bytes()),
            );
            bool::from(g.as_slice().ct_eq(t.as_slice()))
        });
        if !ok {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                "token required\n",
            )
                .into_response();
        }
    }
    next.run(request).await
}

async fn readyz(State(state): State<AppState>) -> Response {
    if state.shared.last().is_none() {
        return (StatusCode::SERVICE_UNAVAILABLE, "no run has finished yet\n").into_response();
    }
    let probe = tempfile::tempfile_in(state.store.join("tmp"));
    match probe {
        Ok(_) => (StatusCode::OK, "ready\n").into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("store not writable: {e}\n"),
        )
            .into_response(),
    }
}

async fn report(State(state): State<AppState>, request: Request) -> Response {
    let Some(run) = state.shared.last() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "no run has finished yet\n").into_response();
    };
    let mut response = serve_file(&run.report, request).await;
    if response.status().is_success() {
        // Whatever the configured file is called, it is JSON.
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    response
}

/// Streams the file at `path` as `request` asks (whole, a range, or 304).
async fn serve_file(path: &std::path::Path, mut request: Request) -> Response {
    // A suffix range longer than the file is the whole file (RFC 9110),
    // where ServeFile would answer 416.
    let asked = request
        .headers()
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok());
    if let Some(asked) = asked {
        if let Ok(meta) = tokio::fs::metadata(path).await {
            match super::range::fit_suffix_ranges(asked, meta.len()) {
                // An empty file has no byte to start a range at: all of it.
                Some(_) if meta.len() == 0 => {
                    request.headers_mut().remove(header::RANGE);
                }
                Some(fitted) => {
                    if let Ok(v) = HeaderValue::from_str(&fitted) {
                        request.headers_mut().insert(header::RANGE, v);
                    }
                }
                None => {}
            }
        }
    }
    match ServeFile::new(path).try_call(request).await {
        Ok(response) => response.map(Body::new),
        Err(e) => {
            tracing::warn!(path = %path.display(), "cannot serve: {e}");
            (StatusCode::INTERNAL_SERVER_ERROR, "cannot read the file\n").into_response()
        }
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    let mut text = state
        .shared
        .last()
        .map(|r| r.metrics.clone())
        .unwrap_or_default();
    text.push_str(&state.shared.live.render());
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

/// The dashboard's query string.
#[derive(serde::Deserialize)]
struct Page {
    page: Option<usize>,
}

async fn index(
    State(state): State<AppState>,
    query: Result<Query<Page>, QueryRejection>,
) -> Html<String> {
    // A malformed `?page=` shows the first page rather than an error.
    let page = query.ok().and_then(|Query(p)| p.page).unwrap_or(1);
    Html(dashboard::render(state.shared.last().as_deref(), page))
}

async fn object(
    State(state): State<AppState>,
    Path(sha256): Path<String>,
    request: Request,
) -> Response {
    // Only a digest can name a file: no path is built from the request.
    let Some(relative) = relative_object_path(&sha256) else {
        return (StatusCode::BAD_REQUEST, "not a sha256 digest\n").into_response();
    };
    let remote = state.objects.as_ref().filter(|o| o.local_root().is_none());
    let mut response = match remote {
        Some(objects) => stream_object(objects.as_ref(), &sha256).await,
        None => {
            let path = state.store.join(relative);
            // The type comes from the first bytes, whatever part is asked for.
            let mut head = Vec::with_capacity(SNIFF_LEN);
            let read = match tokio::fs::File::open(&path).await {
                Ok(file) => file.take(SNIFF_LEN as u64).read_to_end(&mut head).await,
                Err(e) => Err(e),
            };
            if read.is_err() {
                return (StatusCode::NOT_FOUND, "no such object\n").into_response();
            }
            let kind = sniff(&head);
            let mut response = serve_file(&path, request).await;
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(kind.as_str()),
            );
            response
        }
    };
    if response.status() == StatusCode::NOT_FOUND || response.status().is_server_error() {
        // Never cached as immutable.
        return response;
    }
    let headers = response.headers_mut();
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    response
}

/// An object from a bucket, streamed as it arrives (never held whole);
/// its type sniffed from the first chunk. Whole objects only: a `Range`
/// request gets all of it, which HTTP allows.
async fn stream_object(objects: &dyn ObjectBackend, sha256: &str) -> Response {
    use futures_util::StreamExt;
    let unavailable = |e: std::io::Error| {
        tracing::warn!(sha256, "cannot read the object: {e}");
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "the object store did not answer; try again later\n",
        )
            .into_response()
    };
    let (size, mut stream) = match objects.stream(sha256).await {
        Ok(Some(found)) => found,
        Ok(None) => return (StatusCode::NOT_FOUND, "no such object\n").into_response(),
        Err(e) => return unavailable(e),
    };
    // The first chunk, for the type; then it and the rest, as they come.
    let first = match stream.next().await {
        Some(Ok(chunk)) => chunk,
        Some(Err(e)) => return unavailable(e),
        None => bytes::Bytes::new(),
    };
    let kind = sniff(&first[..first.len().min(SNIFF_LEN)]);
    let body =
        futures_util::stream::once(async move { Ok::<_, std::io::Error>(first) }).chain(stream);
    let mut response = Body::from_stream(body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(kind.as_str()),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    response
}

/// Limits on each connection [`serve_connections`] serves (their number
/// is bounded by its [`super::slots::Slots`]).
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Time a client gets to send a request's headers
    /// (`daemon.header_timeout_secs`).
    pub header_timeout: std::time::Duration,
}

/// How many header timeouts a write may wait on a client that is not
/// reading: long enough for a slow but moving reader (a write completes
/// only once the kernel has freed a good part of the send buffer), short
/// enough that clients which stopped reading give their slots back.
const STALL_FACTOR: u32 = 6;

/// Serves `app` on `listener` until `stop` fires, then lets the requests
/// in flight finish (their connections close after their response).
///
/// `axum::serve` has no way to bound a connection: a client that opens a
/// connection and sends half a request line (slowloris) held it, and its
/// file descriptor, forever; at 20,000 of them the daemon ran out of
/// descriptors and `/healthz` failed. So connections are served here with
/// hyper's HTTP/1 builder directly:
///
/// * **header-read timeout**: hyper closes a connection whose request
///   headers are not complete within `header_timeout`. The timer starts
///   whenever hyper waits for a request head, so it also closes an idle
///   kept-alive connection and one that never sends a byte;
/// * **connection cap** ([`super::slots`]): at most `max_connections`
///   are served at once. At the cap, a new connection takes the slot of
///   the oldest one with no request in flight (half-sent headers, or idle
///   between requests), so clients that reconnect as fast as they are
///   closed cannot keep `/healthz` out; with every slot serving a
///   request, new connections wait in the kernel's backlog (not refused)
///   and are accepted as slots free.
///
/// HTTP/1 only: `axum::serve` also spoke cleartext HTTP/2 (prior
/// knowledge), which nothing here needs, and whose preface detection
/// would wait for a silent client with no timeout.
pub async fn serve_connections(
    listener: tokio::net::TcpListener,
    app: Router,
    limits: ConnectionLimits,
    slots: Arc<super::slots::Slots>,
    stop: tokio_util::sync::CancellationToken,
) {
    let connections = tokio_util::task::TaskTracker::new();
    loop {
        // Accept only when the newcomer can be served: a slot is free or
        // held by a connection that may be evicted.
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = slots.room() => {}
        }
        let stream = tokio::select! {
            _ = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of descriptors or a connection reset before it
                    // was accepted: wait a little instead of spinning.
                    tracing::warn!("cannot accept an HTTP connection: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        // Usually at once; waits only if the idle connection seen by
        // `room` took a request meanwhile.
        let slot = tokio::select! {
            _ = stop.cancelled() => break,
            slot = slots.take() => slot,
        };
        let service = counted_service(app.clone(), slot.activity());
        let stop = stop.clone();
        connections.spawn(async move {
            let evicted = slot.evicted();
            let _slot = slot;
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(limits.header_timeout);
            // A client that stops reading our answers is closed too.
            let stream =
                super::stall::StallGuard::new(stream, limits.header_timeout * STALL_FACTOR);
            let conn = builder.serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            tokio::pin!(conn);
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!("HTTP connection closed: {e}");
                    }
                }
                // A newcomer took the slot of this idle connection.
                _ = evicted.cancelled() => {}
                _ = stop.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
        // Let the connections run between accepts: a burst of newcomers
        // must not evict one that has its request ready to be read.
        tokio::task::yield_now().await;
    }
    connections.close();
    connections.wait().await;
}

/// `app` as a hyper service that counts its requests in flight on the
/// connection's `activity`, from the call until the response body is
/// dropped, so the connection is not evicted while it serves one.
fn counted_service(
    app: Router,
    activity: super::slots::Activity,
) -> impl hyper::service::Service<
    hyper::Request<hyper::body::Incoming>,
    Response = Response,
    Error = std::convert::Infallible,
    Future = impl std::future::Future<Output = Result<Response, std::convert::Infallible>> + Send,
> + Clone {
    let inner = hyper_util::service::TowerToHyperService::new(app);
    hyper::service::service_fn(move |request| {
        let busy = activity.enter();
        let answer = hyper::service::Service::call(&inner, request);
        async move {
            let response = answer.await?;
            Ok(response.map(|body| Body::new(CountedBody { body, _busy: busy })))
        }
    })
}

/// A response body that keeps its request counted until it is dropped.
struct CountedBody {
    body: Body,
    _busy: super::slots::Busy,
}

impl http_body::Body for CountedBody {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        std::pin::Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}
