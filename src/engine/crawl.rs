//! The crawl driver: start from seed URLs, fetch each page (HTML), run it
//! through the same extract → resolve → diagnose → check stages as a
//! corpus file, and follow its links within scope.
//!
//! Scope is the seeds' hosts by default (`crawl.same_host`), bounded by
//! `crawl.max_depth` and `crawl.max_pages`. `robots.txt` is fetched once per
//! origin ([`crate::source::robots`]) and obeyed unless `crawl.robots =
//! false`; an unreachable or failing robots.txt means "stay away" for that
//! origin, a missing one means "go". Every request goes through the
//! checker, so rate limits, the address guard and the `User-Agent` apply
//! to pages exactly as to links.
//!
//! Concurrency streams, as for a corpus: up to [`PAGES_IN_FLIGHT`] pages
//! are fetched or checked at once and a new one starts as soon as one
//! finishes (no batch barrier waiting on the slowest page). Order stays
//! deterministic: pages are numbered as they leave the frontier, the
//! links a page discovers join the frontier in that order (a reorder
//! buffer holds a fast page's discoveries until the pages before it have
//! given theirs), and checked pages are emitted in frontier order, so the
//! report is the same however the pages finish.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::sync::OnceCell;
use url::Url;

use crate::check::Checker;
use crate::config::Config;
use crate::diagnose::UrlFilter;
use crate::extract::LinkKind;
use crate::model::Status;
use crate::pipeline::{scan_document, CorpusTotals, Scanned};
use crate::source::robots::Robots;
use crate::source::{Document, DocumentStatus, Format};
use crate::vocab::Reason;

/// Pages fetched or checked at once.
const PAGES_IN_FLIGHT: usize = 8;

/// Pages taken from the frontier but not yet emitted, at most: a slow page
/// holds back this many finished ones, no more.
const WINDOW: usize = 4 * PAGES_IN_FLIGHT;

/// A page's progress through the crawl.
enum Step {
    /// Fetched and scanned (`None`: robots.txt said no), with the in-scope
    /// links it discovered.
    Scanned {
        seq: usize,
        page: Option<Box<Scanned>>,
        discovered: Vec<Url>,
        depth: usize,
    },
    /// Checked: ready to emit.
    Checked { seq: usize, page: Box<Scanned> },
}

type Task<'a> = Pin<Box<dyn Future<Output = Step> + Send + 'a>>;

/// What every page task reads.
struct Crawl<'a> {
    checker: &'a Checker,
    config: &'a Config,
    filter: UrlFilter,
    hosts: HashSet<String>,
    robots: Mutex<HashMap<String, Arc<OnceCell<Robots>>>>,
}

/// Crawls from `seeds`, calling `emit` with each checked page, in
/// frontier order with global ids.
pub async fn crawl(
    checker: &Checker,
    config: &Config,
    seeds: &[Url],
    mut emit: impl FnMut(Scanned),
) -> CorpusTotals {
    let limits = &config.crawl;
    let crawl = Crawl {
        checker,
        config,
        filter: UrlFilter::new(&config.links),
        hosts: seeds
            .iter()
            .filter_map(|u| u.host_str().map(str::to_string))
            .collect(),
        robots: Mutex::new(HashMap::new()),
    };
    let crawl = &crawl;
    let mut frontier: VecDeque<(Url, usize)> = seeds.iter().map(|u| (u.clone(), 0)).collect();
    let mut seen: HashSet<String> = seeds.iter().map(key).collect();
    let mut tasks: FuturesUnordered<Task<'_>> = FuturesUnordered::new();
    // Discoveries and checked pages wait here for the pages before them.
    let mut discovered: BTreeMap<usize, Vec<(Url, usize)>> = BTreeMap::new();
    let mut checked: BTreeMap<usize, Option<Scanned>> = BTreeMap::new();
    let (mut taken, mut merged, mut emitted) = (0usize, 0usize, 0usize);
    // Pages fetched or being fetched; a page robots.txt refuses gives its
    // place back, as it was never fetched.
    let mut budget = 0usize;
    let mut totals = CorpusTotals::default();
    loop {
        while tasks.len() < PAGES_IN_FLIGHT && taken - emitted < WINDOW && budget < limits.max_pages
        {
            let Some((url, depth)) = frontier.pop_front() else {
                break;
            };
            let seq = taken;
            taken += 1;
            budget += 1;
            tasks.push(Box::pin(crawl.fetch_and_scan(seq, url, depth)));
        }
        let Some(step) = tasks.next().await else {
            break;
        };
        match step {
            Step::Scanned {
                seq,
                page,
                discovered: links,
                depth,
            } => {
                discovered.insert(seq, links.into_iter().map(|u| (u, depth + 1)).collect());
                match page {
                    Some(page) => tasks.push(Box::pin(async move {
                        Step::Checked {
                            seq,
                            page: Box::new(crawl.checker.check_document(*page).await),
                        }
                    })),
                    None => {
                        budget -= 1;
                        checked.insert(seq, None);
                    }
                }
                while let Some(links) = discovered.remove(&merged) {
                    merged += 1;
                    for (url, depth) in links {
                        if seen.insert(key(&url)) {
                            frontier.push_back((url, depth));
                        }
                    }
                }
            }
            Step::Checked { seq, page } => {
                checked.insert(seq, Some(*page));
            }
        }
        while let Some(page) = checked.remove(&emitted) {
            emitted += 1;
            if let Some(mut page) = page {
                totals.number(&mut page);
                emit(page);
            }
        }
    }
    totals
}

impl Crawl<'_> {
    /// Fetches and scans one page, and lists the in-scope links it names.
    async fn fetch_and_scan(&self, seq: usize, url: Url, depth: usize) -> Step {
        if self.config.crawl.robots && !self.robots_allow(&url).await {
            tracing::info!(%url, "robots.txt disallows this page; not fetched");
            return Step::Scanned {
                seq,
                page: None,
                discovered: Vec::new(),
                depth,
            };
        }
        let doc = match self.checker.fetch_page(url.as_str()).await {
            Ok((final_url, body)) => {
                let mut doc = Document::from_bytes(url.to_string(), &body);
                doc.format = Format::Html;
                doc.header.source_url = Some(final_url);
                doc
            }
            Err(failed) => Document::failed(
                url.to_string(),
                DocumentStatus::Error,
                format!(
                    "cannot fetch page: {}",
                    failed.message.unwrap_or_else(|| failed
                        .reason
                        .map_or("error", Reason::as_str)
                        .to_string())
                ),
            ),
        };
        let scanned = scan_document(doc, self.config, &self.filter);
        let discovered = if depth < self.config.crawl.max_depth {
            self.in_scope(&scanned)
        } else {
            Vec::new()
        };
        Step::Scanned {
            seq,
            page: Some(Box::new(scanned)),
            discovered,
            depth,
        }
    }

    /// The page and source links of `scanned` that the crawl may follow.
    fn in_scope(&self, scanned: &Scanned) -> Vec<Url> {
        scanned
            .links
            .iter()
            .filter(|l| matches!(l.kind, LinkKind::Page | LinkKind::Source))
            .filter(|l| l.status == Status::Unchecked)
            .filter_map(|l| l.resolved.as_deref().and_then(|u| Url::parse(u).ok()))
            .filter(|next| {
                matches!(next.scheme(), "http" | "https")
                    && (!self.config.crawl.same_host
                        || next.host_str().is_some_and(|h| self.hosts.contains(h)))
            })
            .collect()
    }

    /// Whether robots.txt lets us fetch `url`; fetched once per origin,
    /// however many pages ask at once.
    async fn robots_allow(&self, url: &Url) -> bool {
        let origin = url.origin().ascii_serialization();
        let cell = self
            .robots
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(origin.clone())
            .or_default()
            .clone();
        let rules = cell
            .get_or_init(|| async {
                let user_agent = &self.config.check.user_agent;
                match self
                    .checker
                    .fetch_page(&format!("{origin}/robots.txt"))
                    .await
                {
                    Ok((_, body)) => {
                        let token = user_agent.split('/').next().unwrap_or("archive");
                        Robots::parse(&String::from_utf8_lossy(&body), token)
                    }
                    Err(failed) if matches!(failed.http.status_code, Some(400..=499)) => {
                        Robots::allow_all()
                    }
                    Err(_) => Robots::deny_all(),
                }
            })
            .await;
        let path = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        };
        rules.allows(&path)
    }
}

/// A URL without its fragment, for the visited set.
fn key(url: &Url) -> String {
    let mut u = url.clone();
    u.set_fragment(None);
    u.to_string()
}
