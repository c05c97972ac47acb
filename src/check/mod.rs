//! Check: every link's real status over HTTP, and the repairs that the
//! network can confirm.
//!
//! The [`Checker`] takes a [`Scanned`] document from the static stages and
//! gives it back with its `unchecked` links judged ([`fetch`]), each
//! suggestion checked too, and, when the document names its source page,
//! the images of that page recorded as `found_on_source` and offered as
//! repairs for the document's broken images
//! ([`crate::repair::source_page`]).
//!
//! Online, the network has the last word: links the static pass suspected
//! (`truncated`) are fetched too, except the characters of an exploded
//! URL, whose rebuilt URL is checked as a suggestion instead. A valid body
//! makes such a link `ok` (and archived), a 404 or 410 `broken`; the
//! static reason stays in `static_reason`. When the check cannot decide,
//! the link stays `truncated` with the `http` object attached.
//!
//! Statuses and suggestions are about URLs as documents write them:
//! `[remap]` and `[resolve]` only change how a URL is reached, so URLs the
//! server answers with are mapped back before they reach the report.
//!
//! Politeness lives in [`hosts`], the address guard in [`net`], body
//! sniffing in [`sniff`]. With a [`Store`], a valid media body is archived
//! while it streams (one download for check and archive), results are
//! recorded in the state database, and a result younger than
//! `check.cache_max_age` is used instead of a request. A URL is fetched at
//! most once per run, however many documents mention it.

mod archived;
pub mod body;
mod capture;
pub mod fetch;
pub mod hosts;
pub mod net;
pub mod outage;
mod pauses;
mod seen;
pub mod sniff;
pub mod verdict;

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::stream::{self, StreamExt};

use crate::config::Config;
use crate::extract::LinkKind;
use crate::lookup::ArchiveLookup;
use crate::model::{Finding, Link, Status, Suggestion};
use crate::pipeline::Scanned;
use crate::repair::source_page::{page_images, suggest_from_source};
use crate::store::db::{CheckRecord, UrlState};
use crate::store::Store;
use crate::vocab::{FindingKind, Reason};
use crate::warc::Warc;
use fetch::{FetchOptions, Fetcher, Want};
use hosts::Hosts;
use net::{GuardedResolver, PortPins, Remap};
use seen::{Lookup, Seen, WantKey};
pub use verdict::{Checked, HttpInfo, StoreOutcome, StoredCopy};

/// Checks documents' links over HTTP, archiving media into the store.
pub struct Checker {
    fetcher: Fetcher,
    /// The store: objects, and the state database that is also the cache.
    store: Option<Store>,
    use_cache: bool,
    cache_max_age: i64,
    archive_source_pages: bool,
    /// WARC output of each capture (`store.warc`), with a store only.
    warc: Option<Warc>,
    /// Web-archive lookups for dead links (`check.archive_lookup`).
    lookup: Option<ArchiveLookup>,
    /// Archived copies suggested this run: capture URL -> the URL it is a
    /// copy of (their WARC records name the original).
    copies_of: Mutex<HashMap<String, String>>,
    /// When the current run started (unix seconds); see [`Checker::begin_run`].
    started_at: AtomicI64,
    /// The host gates' wait total when the current run started.
    waited_before: AtomicU64,
    seen: Seen,
    /// Whether this run can reach the network at all ([`outage`]).
    network: outage::Judge,
    /// `check.canary`: asked when nothing else answered.
    canaries: Vec<String>,
}

fn want_for(kind: LinkKind) -> (Want, WantKey) {
    match kind {
        LinkKind::Image => (Want::Media { image: true }, WantKey::Image),
        LinkKind::Media => (Want::Media { image: false }, WantKey::Media),
        LinkKind::Source => (Want::Html, WantKey::Html),
        LinkKind::Page => (Want::Page, WantKey::Page),
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

impl Checker {
    /// Builds the HTTP client and the per-host limits. With a `store`,
    /// valid media are archived and results cached in its database;
    /// `use_cache` false (`--no-cache`) checks everything again.
    pub fn new(config: &Config, use_cache: bool, store: Option<Store>) -> Result<Checker, String> {
        Checker::with_hosts(config, use_cache, store, None)
    }

    /// [`Checker::new`] that keeps the host gates of an earlier checker
    /// (rate-limit state, pauses a server asked for) when `hosts` is given
    /// and was built for the same host settings ([`Hosts::same_settings`]).
    pub fn with_hosts(
        config: &Config,
        use_cache: bool,
        store: Option<Store>,
        hosts: Option<Arc<Hosts>>,
    ) -> Result<Checker, String> {
        let check = &config.check;
        let overrides = config.resolve.entries().clone();
        let pins = PortPins::new(&overrides);
        let client = reqwest::Client::builder()
            .user_agent(check.user_agent.clone())
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(effective_connect_timeout(check))
            .dns_resolver(GuardedResolver::new(overrides, check.allow_private))
            // A proxy would resolve names itself, past the address guard.
            .no_proxy()
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        let hosts = hosts
            .filter(|h| Hosts::same_settings(h.config(), check))
            .unwrap_or_else(|| Arc::new(Hosts::new(check)));
        let warc = capture::open(config, store.as_ref())?;
        Ok(Checker {
            warc,
            lookup: ArchiveLookup::new(check),
            copies_of: Mutex::new(HashMap::new()),
            fetcher: Fetcher::new(client, hosts, Remap::new(&config.remap), pins, check),
            store,
            use_cache,
            cache_max_age: check.cache_max_age as i64,
            archive_source_pages: config.store.archive_source_pages,
            started_at: AtomicI64::new(now()),
            waited_before: AtomicU64::new(0),
            seen: Seen::default(),
            network: outage::Judge::default(),
            canaries: check.canary.clone(),
        })
    }

    /// Starts a run: URLs checked by an earlier run of this checker are
    /// checked again (through the state database's cache), and the run's
    /// clock and counters start now. The client, its connection pool and
    /// the host gates carry over: a long-lived process (the daemon) keeps
    /// its politeness from one run to the next.
    pub fn begin_run(&self) {
        self.seen.clear();
        self.started_at.store(now(), Ordering::SeqCst);
        self.network.begin_run();
        self.fetcher.hosts().begin_run();
        self.restore_pauses();
        self.waited_before
            .store(self.fetcher.hosts().waited_ms(), Ordering::SeqCst);
        self.begin_lookups();
        if let Some(store) = &self.store {
            store.begin_run();
        }
    }

    /// Milliseconds this run's requests spent waiting on rate limits and pauses.
    pub fn rate_limit_wait_ms(&self) -> u64 {
        self.fetcher
            .hosts()
            .waited_ms()
            .saturating_sub(self.waited_before.load(Ordering::SeqCst))
    }

    pub fn store(&self) -> Option<&Store> {
        self.store.as_ref()
    }

    /// The host gates, to hand to the next checker ([`Checker::with_hosts`]).
    pub fn hosts(&self) -> Arc<Hosts> {
        self.fetcher.hosts_arc()
    }

    /// Gives up the checker, keeping its store open for the next one.
    pub fn into_store(self) -> Option<Store> {
        self.store
    }

    /// When the current run started (unix seconds).
    pub fn started_at(&self) -> i64 {
        self.started_at.load(Ordering::SeqCst)
    }

    /// Fetches a page's HTML for the crawler (no cache: pages change).
    /// Returns the final URL and the body, or the failed check.
    pub async fn fetch_page(&self, url: &str) -> Result<(String, Vec<u8>), Checked> {
        let (checked, body) = self
            .fetcher
            .check(url, Want::Html, FetchOptions::default())
            .await;
        self.observe(url, checked.reach, None).await;
        match (checked.status, body) {
            (Status::Ok, Some(body)) => Ok((
                checked
                    .http
                    .final_url
                    .as_deref()
                    .map_or_else(|| url.to_string(), |u| self.fetcher.as_written(u)),
                body,
            )),
            _ => Err(checked),
        }
    }

    /// Checks `url` for `kind`, once per run, through the cache.
    pub async fn check_url(&self, url: &str, kind: LinkKind) -> Checked {
        let (want, key) = want_for(kind);
        let checked = match self.seen.lookup(url, key) {
            Lookup::Checked(checked) => *checked,
            Lookup::Checking(cell) => {
                let checked = cell.get_or_init(|| self.fetch(url, want)).await.clone();
                self.seen.done(url, key, &checked);
                checked
            }
        };
        self.as_judged(url, checked)
    }

    async fn fetch(&self, url: &str, want: Want) -> Checked {
        let media = matches!(want, Want::Media { .. });
        let store = self.store.as_ref();
        // What is known serves the cache and a media file's conditional
        // request; a page checked without the cache needs none of it.
        let known = store.filter(|_| self.use_cache || media);
        let known = known.and_then(|s| match s.db.url_state(url) {
            Ok(known) => known,
            Err(e) => {
                // Not fatal: without what was known, the URL is checked
                // afresh and its record rewritten.
                tracing::warn!("state database: cannot read what is known about {url}: {e}");
                None
            }
        });
        let has_object = |k: &UrlState| {
            !k.needs_download
                && k.sha256
                    .as_deref()
                    .zip(k.size)
                    .is_some_and(|(sha, size)| store.is_some_and(|s| s.has_object(sha, size)))
        };
        if let Some(cached) = known
            .as_ref()
            .and_then(|k| self.cached(k, want, media && !has_object(k)))
        {
            return cached;
        }
        let conditional = known.as_ref().filter(|k| media && has_object(k));
        // Only a download needs room (a `statvfs` per check otherwise).
        let room = store.filter(|_| media).map(|s| s.room_for_download());
        let options = FetchOptions {
            conditional,
            store: store
                .filter(|_| media && matches!(room, Some(Ok(()))))
                .map(|s| &s.objects),
            ..FetchOptions::default()
        };
        let (mut checked, body) = self.fetcher.check(url, want, options).await;
        if let (Some(s), Some(StoreOutcome::Failed { error, .. })) = (store, &checked.store) {
            // A valid body the store could not take (a full disk): loud.
            s.object_failed(url, error);
        }
        if let Some(body) = &body {
            // Resolve the page's images against its URL as documents
            // write it: `[remap]` is how we reach the page, not where it is.
            let page_url = checked
                .http
                .final_url
                .as_deref()
                .map_or_else(|| url.to_string(), |u| self.fetcher.as_written(u));
            checked.http.images = Some(page_images(
                body,
                checked.http.content_type.as_deref(),
                &page_url,
            ));
            if let Some(s) = store.filter(|_| self.archive_source_pages) {
                if checked.status == Status::Ok && checked.store.is_none() {
                    checked.store = Some(match store_page(s, body, &checked.http) {
                        Ok(copy) => StoreOutcome::Stored(copy),
                        Err((error, reason)) => {
                            s.object_failed(url, &error);
                            StoreOutcome::Failed { error, reason }
                        }
                    });
                }
            }
        }
        if checked.status == Status::Ok && media && store.is_some() && checked.store.is_none() {
            // A valid body that could not be archived: say why.
            if let Some(Err(e)) = room {
                checked.store = Some(StoreOutcome::Failed {
                    error: e.to_string(),
                    reason: None,
                });
            }
        }
        let record = store.map(|s| {
            let copy = checked.stored();
            if let Some(c) = copy.filter(|c| c.new) {
                s.count_new(c.size);
            }
            let http = &checked.http;
            CheckRecord {
                url: url.to_string(),
                at: now(),
                status: checked.status,
                reason: checked.reason,
                http_code: http.status_code,
                etag: http.etag.clone(),
                last_modified: http.last_modified.clone(),
                content_type: http.content_type.clone(),
                content_length: http.content_length,
                object: copy.map(|c| (c.sha256.clone(), c.size)),
                http_json: serde_json::to_string(http).ok(),
            }
        });
        self.record_capture(url, &checked);
        // A transport failure waits for the run's verdict on the network.
        self.observe(url, checked.reach, record).await;
        checked
    }

    /// A fresh `ok` result from the state database, if there is one and it
    /// has everything `want` needs (the body's object, the page's images).
    fn cached(&self, k: &UrlState, want: Want, object_missing: bool) -> Option<Checked> {
        // `cache_max_age = 0` means no cache, even within the same second.
        let fresh = k.status == Some(Status::Ok)
            && self.cache_max_age > 0
            && k.checked_at
                .is_some_and(|t| now() - t <= self.cache_max_age);
        if !self.use_cache || !fresh || object_missing {
            return None;
        }
        let mut http: HttpInfo = serde_json::from_str(k.http_json.as_deref()?).ok()?;
        if want == Want::Html && http.images.is_none() {
            return None;
        }
        http.from_cache = true;
        let stored = k.sha256.as_deref().zip(k.size).and_then(|(sha, size)| {
            let at = chrono::DateTime::from_timestamp(k.checked_at?, 0)?;
            StoredCopy::new(sha, size, http.content_type.clone(), Some(at))
        });
        Some(Checked {
            status: Status::Ok,
            reason: None,
            message: None,
            http,
            store: stored.map(StoreOutcome::Stored),
            reach: outage::Reach::Local,
            last_known: None,
        })
    }

    /// Checks `targets` with at most `in_flight` at once; results in order.
    /// Futures are made as slots free up, not all at once: a document of
    /// half a million links costs `in_flight` futures, not half a million.
    async fn check_all(&self, targets: Vec<(String, LinkKind)>, in_flight: usize) -> Vec<Checked> {
        stream::iter(targets)
            .map(|(url, kind)| async move { self.check_url(&url, kind).await })
            .buffered(in_flight)
            .collect()
            .await
    }

    /// Checks a document's links, its source page and its suggestions.
    pub async fn check_document(&self, mut scanned: Scanned) -> Scanned {
        if let Some(store) = &self.store {
            // What this document needs kept: its links and their repairs.
            // (An exploded run's repairs are on its finding, not its links.)
            store.db.record_refs(
                &scanned.document.path,
                self.started_at(),
                document_refs(&scanned),
            );
        }
        // The network has the last word on static suspicions too, except
        // for the characters of an exploded URL: their rebuilt URL is
        // checked as a suggestion, and each alone is known broken.
        let exploded: std::collections::HashSet<usize> = scanned
            .findings
            .iter()
            .filter(|f| f.kind == FindingKind::ExplodedUrl)
            .map(|f| f.id)
            .collect();
        let jobs: Vec<usize> = (0..scanned.links.len())
            .filter(|&i| {
                let l = &scanned.links[i];
                let suspected = l.status == Status::Truncated
                    && !l.finding.is_some_and(|f| exploded.contains(&f));
                (l.status == Status::Unchecked || suspected) && l.resolved.is_some()
            })
            .collect();
        let in_flight = self.fetcher.hosts().config().concurrency.max(1);
        let targets: Vec<(usize, String, LinkKind)> = jobs
            .iter()
            .map(|&i| {
                let link = &scanned.links[i];
                (i, link.resolved.clone().unwrap_or_default(), link.kind)
            })
            .collect();
        // Each result is applied to its link as it comes (in order), not
        // collected first: a document of 200,000 links would hold 200,000
        // results beside the links they are copied into.
        let mut results = stream::iter(targets)
            .map(|(i, url, kind)| async move { (i, self.check_url(&url, kind).await) })
            .buffered(in_flight);
        let mut found_on_source: Vec<String> = Vec::new();
        while let Some((i, checked)) = results.next().await {
            let link = &mut scanned.links[i];
            if link.status == Status::Truncated {
                apply_to_suspect(link, &checked);
            } else {
                apply(link, &checked);
            }
            if link.kind == LinkKind::Source {
                for img in checked.http.images.unwrap_or_default() {
                    if !found_on_source.contains(&img) {
                        found_on_source.push(img);
                    }
                }
            }
        }
        if !found_on_source.is_empty() {
            suggest_from_source(&mut scanned, &found_on_source);
        }
        scanned.document.found_on_source = found_on_source;
        self.check_suggestions(&mut scanned).await;
        if self.suggest_archived_copies(&mut scanned).await {
            self.check_suggestions(&mut scanned).await;
        }
        scanned
    }

    async fn check_suggestions(&self, scanned: &mut Scanned) {
        let mut urls: Vec<(String, LinkKind)> = Vec::new();
        // A finding's repairs are checked as what its links are (an
        // exploded video is media), found by its first link.
        let finding_kind = |f: &Finding| {
            f.links
                .first()
                .and_then(|&id| scanned.links.iter().find(|l| l.id == id))
                .map_or(LinkKind::Image, |l| l.kind)
        };
        let all = scanned
            .links
            .iter()
            .flat_map(|l| l.suggestions.iter().map(move |s| (s, l.kind)))
            .chain(scanned.findings.iter().flat_map(|f| {
                let kind = finding_kind(f);
                f.suggestions.iter().map(move |s| (s, kind))
            }));
        for (s, kind) in all {
            let kind = if kind.is_media() {
                kind
            } else {
                LinkKind::Page
            };
            if s.status.is_none() && !urls.iter().any(|(u, _)| u == &s.url) {
                urls.push((s.url.clone(), kind));
            }
        }
        let in_flight = self.fetcher.hosts().config().concurrency.max(1);
        let results = self.check_all(urls.clone(), in_flight).await;
        let status: HashMap<&str, Status> = urls
            .iter()
            .map(|(u, _)| u.as_str())
            .zip(results.iter().map(|c| c.status))
            .collect();
        let fill = |s: &mut Suggestion| {
            if let Some(st) = status.get(s.url.as_str()) {
                s.status = Some(*st);
            }
        };
        scanned
            .links
            .iter_mut()
            .flat_map(|l| l.suggestions.iter_mut())
            .for_each(fill);
        scanned
            .findings
            .iter_mut()
            .flat_map(|f| f.suggestions.iter_mut())
            .for_each(fill);
    }
}

/// What a document needs kept: its links and their repairs, by line. (An
/// exploded run's repairs are on its finding, not its links.)
fn document_refs(scanned: &Scanned) -> Vec<(String, usize)> {
    scanned
        .links
        .iter()
        .flat_map(|l| {
            let own = l.resolved.clone().map(|u| (u, l.line));
            own.into_iter()
                .chain(l.suggestions.iter().map(|s| (s.url.clone(), l.line)))
        })
        .chain(
            scanned
                .findings
                .iter()
                .flat_map(|f| f.suggestions.iter().map(|s| (s.url.clone(), f.line))),
        )
        .collect()
}

fn apply(link: &mut Link, checked: &Checked) {
    link.status = checked.status;
    link.reason = checked.reason;
    link.message = checked.message.clone();
    link.http = Some(Box::new(checked.http.clone()));
    link.store = checked.store.clone().map(Box::new);
    link.last_known = checked.last_known.clone().map(Box::new);
}

/// Applies the network's verdict to a link the static pass marked
/// `truncated`. A valid body (`ok`) or a server that says the file is not
/// there (404, 410: `broken`) decides; anything else (a network error, the
/// address guard, a body over the size limit, another HTTP error, an HTML
/// page where an image should be) leaves the static verdict standing, with
/// the check's `http` object attached and its outcome in the message.
fn apply_to_suspect(link: &mut Link, checked: &Checked) {
    let static_reason = link.reason;
    let static_message = link.message.clone().unwrap_or_default();
    let why = static_reason.map_or("truncated", Reason::as_str);
    let decided = checked.status == Status::Ok
        || (checked.status == Status::Broken
            && matches!(checked.reason, Some(Reason::NotFound | Reason::Gone)));
    if decided {
        apply(link, checked);
        link.message = Some(match checked.status {
            Status::Ok => format!(
                "statically suspected ({why}: {static_message}), but the server serves it whole"
            ),
            _ => format!(
                "{}; statically suspected too ({why}: {static_message})",
                checked.message.as_deref().unwrap_or("not found")
            ),
        });
    } else {
        link.http = Some(Box::new(checked.http.clone()));
        link.message = Some(format!(
            "{static_message}; the online check could not decide ({}: {})",
            checked.reason.map_or("no verdict", Reason::as_str),
            checked.message.as_deref().unwrap_or("")
        ));
    }
    link.static_reason = static_reason;
}

/// The connect timeout the client uses: `check.connect_timeout`, capped
/// at 90% of `check.timeout`. A connection that cannot be made must fail
/// as a connect failure, before the whole-request timeout fires; else a
/// black-holed network (packets dropped, connects hanging) reads as slow
/// servers (`timeout`, `broken`) and outage detection never sees it.
fn effective_connect_timeout(check: &crate::config::CheckConfig) -> std::time::Duration {
    std::time::Duration::from_secs_f64(check.connect_timeout.min(check.timeout * 0.9))
}

/// Archives a fetched source page's HTML (`store.archive_source_pages`).
/// The error says why it could not be (the caller counts it).
fn store_page(
    store: &Store,
    body: &[u8],
    http: &HttpInfo,
) -> Result<StoredCopy, (String, Option<Reason>)> {
    let written = store.objects.begin().and_then(|mut pending| {
        pending.write(body)?;
        crate::check::body::blocking(|| store.objects.commit(pending))
    });
    let stored = written.map_err(|e| {
        (
            format!("cannot archive the source page: {e}"),
            crate::check::body::store_reason(&e),
        )
    })?;
    StoredCopy::of(&stored, http)
        .ok_or_else(|| ("cannot archive the source page".to_string(), None))
}
