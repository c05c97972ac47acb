//! Crawled pages as a source: start from seed URLs, fetch each page (HTML),
//! run it through the same extract → resolve → diagnose → check stages as
//! a corpus file, and follow its links within scope.
//!
//! Scope is the seeds' hosts by default (`crawl.same_host`), bounded by
//! `crawl.max_depth` and `crawl.max_pages`. `robots.txt` is fetched once per
//! host and obeyed unless `crawl.robots = false`; an unreachable or failing
//! robots.txt means "stay away" for that host, a missing one means "go".
//! Every request goes through the checker, so rate limits, the address
//! guard and the `User-Agent` apply to pages exactly as to links.

use std::collections::{HashMap, HashSet, VecDeque};

use futures_util::future::join_all;
use url::Url;

use super::robots::Robots;
use super::{Document, DocumentStatus, Format};
use crate::check::Checker;
use crate::config::Config;
use crate::diagnose::UrlFilter;
use crate::extract::LinkKind;
use crate::model::Status;
use crate::pipeline::{scan_document, CorpusTotals, Scanned};
use crate::vocab::Reason;

/// Pages fetched at once.
const PAGES_IN_FLIGHT: usize = 8;

/// Crawls from `seeds`, calling `emit` with each checked page.
pub async fn crawl(
    checker: &Checker,
    config: &Config,
    seeds: &[Url],
    mut emit: impl FnMut(Scanned),
) -> CorpusTotals {
    let crawl = &config.crawl;
    let filter = UrlFilter::new(&config.links);
    let hosts: HashSet<String> = seeds
        .iter()
        .filter_map(|u| u.host_str().map(str::to_string))
        .collect();
    let mut queue: VecDeque<(Url, usize)> = seeds.iter().map(|u| (u.clone(), 0)).collect();
    let mut seen: HashSet<String> = seeds.iter().map(key).collect();
    let mut robots: HashMap<String, Robots> = HashMap::new();
    let mut totals = CorpusTotals::default();
    let mut fetched = 0;
    while !queue.is_empty() && fetched < crawl.max_pages {
        let mut batch = Vec::new();
        while batch.len() < PAGES_IN_FLIGHT && fetched + batch.len() < crawl.max_pages {
            let Some((url, depth)) = queue.pop_front() else {
                break;
            };
            if crawl.robots
                && !robots_allow(checker, &mut robots, &url, &config.check.user_agent).await
            {
                tracing::info!(%url, "robots.txt disallows this page; not fetched");
                continue;
            }
            batch.push((url, depth));
        }
        fetched += batch.len();
        let pages = join_all(
            batch
                .iter()
                .map(|(url, _)| checker.fetch_page(url.as_str())),
        )
        .await;
        let mut scanned_pages = Vec::new();
        for ((url, depth), page) in batch.into_iter().zip(pages) {
            let doc = match page {
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
            let scanned = scan_document(doc, config, &filter);
            if depth < crawl.max_depth {
                for link in scanned
                    .links
                    .iter()
                    .filter(|l| matches!(l.kind, LinkKind::Page | LinkKind::Source))
                {
                    let Some(next) = link.resolved.as_deref().and_then(|u| Url::parse(u).ok())
                    else {
                        continue;
                    };
                    let in_scope = matches!(next.scheme(), "http" | "https")
                        && (!crawl.same_host || next.host_str().is_some_and(|h| hosts.contains(h)))
                        && link.status == Status::Unchecked;
                    if in_scope && seen.insert(key(&next)) {
                        queue.push_back((next, depth + 1));
                    }
                }
            }
            scanned_pages.push(scanned);
        }
        let checked = join_all(scanned_pages.into_iter().map(|s| checker.check_document(s))).await;
        for mut page in checked {
            totals.number(&mut page);
            emit(page);
        }
    }
    totals
}

/// A URL without its fragment, for the visited set.
fn key(url: &Url) -> String {
    let mut u = url.clone();
    u.set_fragment(None);
    u.to_string()
}

async fn robots_allow(
    checker: &Checker,
    cache: &mut HashMap<String, Robots>,
    url: &Url,
    user_agent: &str,
) -> bool {
    let origin = url.origin().ascii_serialization();
    if !cache.contains_key(&origin) {
        let rules = match checker.fetch_page(&format!("{origin}/robots.txt")).await {
            Ok((_, body)) => {
                let token = user_agent.split('/').next().unwrap_or("archive");
                Robots::parse(&String::from_utf8_lossy(&body), token)
            }
            Err(failed) if matches!(failed.http.status_code, Some(400..=499)) => {
                Robots::allow_all()
            }
            Err(_) => Robots::deny_all(),
        };
        cache.insert(origin.clone(), rules);
    }
    let path = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    };
    cache.get(&origin).is_none_or(|r| r.allows(&path))
}
