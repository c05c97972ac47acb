//! One URL, checked: HEAD or GET, redirects followed by hand (so every hop
//! passes the address guard and loops are caught), transient failures
//! retried with exponential backoff and jitter, and the body judged by
//! what it is, not only by the status code.
//!
//! What to read depends on what the link is for ([`Want`]): a page link is
//! checked with HEAD (GET when HEAD is refused) and no body; an image or
//! media link is read to the end, once, streaming, to sniff its type and
//! catch truncation; a source page is read (bounded) so its images can be
//! extracted. Bodies are read, decoded and judged in [`super::body`].

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::header::{CONTENT_TYPE, ETAG, LAST_MODIFIED, LOCATION, RETRY_AFTER};
use reqwest::{Client, Method, StatusCode};
use url::Url;

use super::body::BodyRead;
use super::hosts::Hosts;
use super::net::{refuse_ip_literal, PortPins, Remap};
use super::verdict::{
    classify_error, parse_retry_after, transient, verdict, verdict_ok, Checked, HttpInfo,
    StoreOutcome, StoredCopy, Transient,
};
use crate::config::CheckConfig;
use crate::model::Status;
use crate::store::db::UrlState;
use crate::store::objects::ObjectBackend;
use crate::vocab::Reason;

/// What the caller needs from a URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// Is it there? (HEAD, or GET without reading the body.)
    Page,
    /// Is it a whole, real media file? (GET, read to the end.)
    Media { image: bool },
    /// The HTML of a source page, to extract its images.
    Html,
}

/// What a fetch may do beyond checking.
#[derive(Default, Clone, Copy)]
pub struct FetchOptions<'a> {
    /// What is known of the stored copy: ask only for changes (its
    /// `ETag` and `Last-Modified`), and on 304 the result names the copy.
    pub conditional: Option<&'a UrlState>,
    /// Stream a media body into this store as it is read.
    pub store: Option<&'a Arc<dyn ObjectBackend>>,
    /// `Accept-Datetime` to send (a Memento TimeGate's question).
    pub accept_datetime: Option<&'a str>,
}

/// Largest source page read for image extraction.
const MAX_HTML: u64 = 8 * 1024 * 1024;

/// Checks URLs with one shared client, politely.
pub struct Fetcher {
    client: Client,
    hosts: Arc<Hosts>,
    remap: Remap,
    /// Ports the `[resolve]` entries pin, checked at every hop.
    pins: PortPins,
    config: CheckConfig,
    /// Hosts that refused HEAD once: GET from then on.
    head_refused: Mutex<HashSet<String>>,
}

impl Fetcher {
    pub fn new(
        client: Client,
        hosts: Arc<Hosts>,
        remap: Remap,
        pins: PortPins,
        config: &CheckConfig,
    ) -> Fetcher {
        Fetcher {
            client,
            hosts,
            remap,
            pins,
            config: config.clone(),
            head_refused: Mutex::new(HashSet::new()),
        }
    }

    pub fn hosts(&self) -> &Hosts {
        &self.hosts
    }

    /// The host gates, shared, for a checker that outlives this fetcher.
    pub fn hosts_arc(&self) -> Arc<Hosts> {
        self.hosts.clone()
    }

    /// The host whose gate a request for `url` passes: the host it is
    /// fetched from, after `[remap]`.
    fn gate_host(&self, url: &str) -> String {
        Url::parse(&self.remap.apply(url))
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_default()
    }

    /// `url` (one the server answered with) as the documents write it:
    /// `[remap]` undone.
    pub fn as_written(&self, url: &str) -> String {
        self.remap.unapply(url)
    }

    /// Checks `url`, retrying transient failures within the configured
    /// bounds. Never panics, never fails: every outcome is a result, with
    /// the page's body for [`Want::Html`].
    pub async fn check(
        &self,
        url: &str,
        want: Want,
        options: FetchOptions<'_>,
    ) -> (Checked, Option<Vec<u8>>) {
        let host = Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_default();
        let span = tracing::info_span!("host", host = %host);
        tracing::Instrument::instrument(self.check_in_span(url, want, options), span).await
    }

    async fn check_in_span(
        &self,
        url: &str,
        want: Want,
        options: FetchOptions<'_>,
    ) -> (Checked, Option<Vec<u8>>) {
        let started = Instant::now();
        let budget = Duration::from_secs_f64(self.config.retry_max_time);
        let mut tries = 0;
        loop {
            tries += 1;
            // The body is a by-product of a successful attempt only.
            let mut body = None;
            let result = self.attempt(url, want, options, &mut body).await;
            let (mut checked, retry) = match result {
                Ok(c) => (c, None),
                Err(t) => {
                    let delay = t.retry_after.unwrap_or_else(|| self.backoff(tries));
                    (t.checked, Some(delay))
                }
            };
            checked.http.tries = tries;
            checked.http.elapsed_ms = started.elapsed().as_millis() as u64;
            // A host that has kept this run waiting long enough is not
            // waited for again, not even by a retry's own sleep.
            if retry.is_some() {
                if let Err(exceeded) = self.hosts.check_budget(&self.gate_host(url)) {
                    checked.status = Status::Error;
                    checked.reason = Some(Reason::HostWaitExceeded);
                    checked.message = Some(exceeded.to_string());
                    return (checked, body);
                }
            }
            match retry {
                Some(delay)
                    if tries < self.config.max_tries && started.elapsed() + delay < budget =>
                {
                    tracing::debug!(url, tries, delay_ms = delay.as_millis() as u64, "retrying");
                    tokio::time::sleep(delay).await;
                }
                _ => return (checked, body),
            }
        }
    }

    /// `retry_backoff * 2^(tries-1)`, scaled by a jitter in [0.5, 1).
    /// The jitter comes from the thread's RNG, not the clock: retries that
    /// fail together (one host going down under many requests) would read
    /// nearly the same clock and retry together again.
    fn backoff(&self, tries: u32) -> Duration {
        let jitter: f64 = rand::random_range(0.5..1.0);
        let exp = 2f64.powi(tries.saturating_sub(1).min(16) as i32);
        Duration::from_secs_f64(self.config.retry_backoff * exp * jitter)
    }

    async fn attempt(
        &self,
        url: &str,
        want: Want,
        options: FetchOptions<'_>,
        body: &mut Option<Vec<u8>>,
    ) -> Result<Checked, Box<Transient>> {
        let fetch_url = self.remap.apply(url);
        let mut info = HttpInfo {
            url: fetch_url.clone(),
            ..HttpInfo::default()
        };
        let mut current = match Url::parse(&fetch_url) {
            Ok(u) => u,
            Err(e) => {
                return Ok(verdict(
                    Status::Broken,
                    Reason::MalformedUrl,
                    format!("cannot fetch: {e}"),
                    info,
                ))
            }
        };
        let mut seen = HashSet::from([current.to_string()]);
        let mut force_get = false;
        let mut hops = 0;
        loop {
            if !matches!(current.scheme(), "http" | "https") {
                let msg = format!("redirected to unsupported scheme `{}:`", current.scheme());
                return Ok(verdict(
                    Status::Broken,
                    Reason::UnsupportedScheme,
                    msg,
                    info,
                ));
            }
            if let Some(msg) = refuse_ip_literal(&current, self.config.allow_private) {
                return Ok(verdict(Status::Skipped, Reason::PrivateAddress, msg, info));
            }
            if let Some(msg) = self.pins.refuse(&current) {
                return Ok(verdict(
                    Status::Skipped,
                    Reason::ResolvePortMismatch,
                    msg,
                    info,
                ));
            }
            let host = current.host_str().unwrap_or("").to_string();
            let use_head = want == Want::Page
                && self.config.use_head
                && !force_get
                && !self
                    .head_refused
                    .lock()
                    .map(|s| s.contains(&host))
                    .unwrap_or(false);
            let method = if use_head { Method::HEAD } else { Method::GET };
            info.method = method.to_string();
            let permit = match self.hosts.acquire(&host).await {
                Ok(permit) => permit,
                Err(exceeded) => {
                    let msg = exceeded.to_string();
                    return Ok(verdict(Status::Error, Reason::HostWaitExceeded, msg, info));
                }
            };
            let first_byte = Duration::from_secs_f64(self.config.timeout);
            let sent =
                tokio::time::timeout(first_byte, self.request(method, &current, options).send())
                    .await;
            let response = match sent {
                Err(_) => {
                    let msg = format!("no response within {:.1}s", first_byte.as_secs_f64());
                    return Err(transient(
                        verdict(Status::Broken, Reason::Timeout, msg, info),
                        None,
                    ));
                }
                Ok(Err(e)) => return classify_error(&e, info),
                Ok(Ok(r)) => r,
            };
            let status = response.status();
            info.status_code = Some(status.as_u16());
            info.final_url = Some(current.to_string());
            if let (StatusCode::NOT_MODIFIED, Some(known)) = (status, options.conditional) {
                let copy = known
                    .sha256
                    .as_deref()
                    .zip(known.size)
                    .and_then(|(sha, size)| {
                        StoredCopy::new(sha, size, info.content_type.clone(), None)
                    });
                let mut v = verdict_ok(info);
                v.store = copy.map(|copy| {
                    StoreOutcome::Stored(StoredCopy {
                        not_modified: true,
                        ..copy
                    })
                });
                return Ok(v);
            }
            if status.is_redirection() {
                let Some(location) = response
                    .headers()
                    .get(LOCATION)
                    .and_then(|v| v.to_str().ok())
                else {
                    return Ok(verdict(
                        Status::Broken,
                        Reason::RedirectWithoutLocation,
                        format!("HTTP {status} without a Location header"),
                        info,
                    ));
                };
                let next = match current.join(location) {
                    Ok(n) => n,
                    Err(e) => {
                        return Ok(verdict(
                            Status::Broken,
                            Reason::BadRedirect,
                            format!("redirect to `{location}`: {e}"),
                            info,
                        ))
                    }
                };
                info.redirects.push(next.to_string());
                if !seen.insert(next.to_string()) {
                    return Ok(verdict(
                        Status::Broken,
                        Reason::RedirectLoop,
                        format!("redirect loop back to {next}"),
                        info,
                    ));
                }
                hops += 1;
                if hops > self.config.max_redirects {
                    let msg = format!("more than {} redirects", self.config.max_redirects);
                    return Ok(verdict(Status::Broken, Reason::TooManyRedirects, msg, info));
                }
                drop(permit);
                current = next;
                continue;
            }
            if use_head && matches!(status.as_u16(), 400 | 403 | 404 | 405 | 501) {
                // Many servers refuse or mishandle HEAD; ask again with GET.
                if matches!(status.as_u16(), 405 | 501) {
                    if let Ok(mut s) = self.head_refused.lock() {
                        s.insert(host.clone());
                    }
                }
                force_get = true;
                drop(permit);
                continue;
            }
            return self.judge(response, want, &host, info, options, body).await;
        }
    }

    async fn judge(
        &self,
        response: reqwest::Response,
        want: Want,
        host: &str,
        mut info: HttpInfo,
        options: FetchOptions<'_>,
        body: &mut Option<Vec<u8>>,
    ) -> Result<Checked, Box<Transient>> {
        let status = response.status();
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
                .map(str::to_string)
        };
        info.content_type = header(CONTENT_TYPE);
        info.etag = header(ETAG);
        info.last_modified = header(LAST_MODIFIED);
        info.content_length = response.content_length();
        if want != Want::Page {
            info.response_head = Some(Arc::new(response_head(&response)));
        }
        if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE {
            let wait = header(RETRY_AFTER).and_then(|v| parse_retry_after(&v));
            if let Some(d) = wait {
                self.hosts.pause(host, d);
            }
            let reason = if status == StatusCode::TOO_MANY_REQUESTS {
                Reason::RateLimited
            } else {
                Reason::ServerError
            };
            return Err(transient(
                verdict(Status::Broken, reason, format!("HTTP {status}"), info),
                wait,
            ));
        }
        if status.is_server_error() {
            return Err(transient(
                verdict(
                    Status::Broken,
                    Reason::ServerError,
                    format!("HTTP {status}"),
                    info,
                ),
                None,
            ));
        }
        if !status.is_success() {
            let reason = match status.as_u16() {
                404 => Reason::NotFound,
                410 => Reason::Gone,
                401 | 403 => Reason::Forbidden,
                _ => Reason::ClientError,
            };
            return Ok(verdict(
                Status::Broken,
                reason,
                format!("HTTP {status}"),
                info,
            ));
        }
        let limit = match want {
            Want::Html => MAX_HTML.min(self.config.max_body_size),
            _ => self.config.max_body_size,
        };
        if let Some(len) = info.content_length.filter(|&l| l > limit) {
            let msg = format!("declares {len} bytes, over the {limit}-byte limit (check.max_body_size); not downloaded");
            return Ok(verdict(Status::Skipped, Reason::TooLarge, msg, info));
        }
        let timeout = Duration::from_secs_f64(self.config.timeout);
        match want {
            Want::Page => Ok(verdict_ok(info)),
            Want::Media { image } => match BodyRead::new(response, limit, timeout, info) {
                Ok(read) => read.media(image, options.store).await,
                Err(refused) => Ok(*refused),
            },
            Want::Html => match BodyRead::new(response, limit, timeout, info) {
                Ok(read) => {
                    let (checked, page) = read.html().await?;
                    *body = page;
                    Ok(checked)
                }
                Err(refused) => Ok(*refused),
            },
        }
    }

    /// A request with the headers the options call for.
    fn request(
        &self,
        method: Method,
        url: &Url,
        options: FetchOptions<'_>,
    ) -> reqwest::RequestBuilder {
        let mut req = self.client.request(method.clone(), url.clone());
        if let Some(at) = options.accept_datetime {
            req = req.header("Accept-Datetime", at);
        }
        if let (Method::GET, Some(known)) = (method, options.conditional) {
            if let Some(etag) = &known.etag {
                req = req.header(reqwest::header::IF_NONE_MATCH, etag);
            }
            if let Some(modified) = &known.last_modified {
                req = req.header(reqwest::header::IF_MODIFIED_SINCE, modified);
            }
        }
        req
    }
}

/// A response's status line and headers, for its WARC record.
fn response_head(response: &reqwest::Response) -> crate::warc::ResponseHead {
    crate::warc::ResponseHead {
        version: format!("{:?}", response.version()),
        status: response.status().as_u16(),
        reason: response
            .status()
            .canonical_reason()
            .unwrap_or("")
            .to_string(),
        headers: response
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
    }
}
