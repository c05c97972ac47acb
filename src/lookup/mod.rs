//! Web-archive lookups: for a dead link with no working repair, ask an
//! archive for a copy made near the document's date, and offer it as a
//! suggestion (reason `archived_copy`) that is then checked, and archived,
//! like every other ([`crate::check::Checker`] does both).
//!
//! Two APIs ([`ArchiveApi`]): the Wayback Machine's availability API
//! ([`wayback`], the default) and any Memento TimeGate (the URL appended
//! to `check.archive_endpoint`, `Accept-Datetime` sent; the TimeGate's
//! redirect names the memento).
//!
//! The archive is one more host, and a hostile one as far as the code is
//! concerned: requests go through the checker's [`Fetcher`], so through
//! the same per-host gates (rate limit, concurrency, 429 pauses), the
//! address guard, bounded redirects and bounded bodies (a huge answer is
//! cut at 8 MiB and then fails to parse) as every link. The capture URL
//! it answers is checked as a suggestion, through the address guard too.
//! On top of that, the lookups have their own bounds: each one at most
//! `check.archive_timeout` seconds (retries included), at most
//! `check.archive_max_lookups` per run, and after one failure that says
//! the archive is unwell (a timeout, 429, 5xx, no connection) none more
//! in the same run: a slow archive costs a run one timeout per lookup in
//! flight, not one per dead link.
//!
//! Answers, "none" included, are remembered in the state database for
//! [`ANSWER_TTL`] seconds, keyed by URL and day; a failure is not an
//! answer and is asked again next run.

pub mod wayback;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::OnceCell;

use crate::check::fetch::{FetchOptions, Fetcher, Want};
use crate::config::CheckConfig;
use crate::model::Status;
use crate::store::db::StateDb;
use crate::vocab::Reason;

/// How long a remembered answer is trusted: 30 days.
pub const ANSWER_TTL: i64 = 30 * 86_400;

/// This run's answers, by (URL, day): each asked once, however many
/// links wait for it.
type Answers = HashMap<(String, String), Arc<OnceCell<Option<String>>>>;

/// Which API `check.archive_endpoint` speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ArchiveApi {
    Wayback,
    Memento,
}

/// Lookups for one checker: its settings, this run's budget, and the
/// answers already given this run.
pub struct ArchiveLookup {
    api: ArchiveApi,
    endpoint: String,
    timeout: Duration,
    max_lookups: usize,
    asked: AtomicUsize,
    unwell: AtomicBool,
    answers: Mutex<Answers>,
}

/// Why a lookup gave no answer.
enum Failure {
    /// The archive is unwell: ask it nothing more this run.
    Unwell(String),
    /// This answer was bad (malformed); others may be fine.
    Bad(String),
}

impl ArchiveLookup {
    /// Lookups as `check` configures them; `None` when they are off.
    pub fn new(check: &CheckConfig) -> Option<ArchiveLookup> {
        (check.archive_lookup && !check.offline).then(|| ArchiveLookup {
            api: check.archive_api,
            endpoint: check.archive_endpoint.clone(),
            timeout: Duration::from_secs_f64(check.archive_timeout),
            max_lookups: check.archive_max_lookups,
            asked: AtomicUsize::new(0),
            unwell: AtomicBool::new(false),
            answers: Mutex::new(HashMap::new()),
        })
    }

    /// A new run: a new budget, the archive given another chance.
    pub fn begin_run(&self) {
        self.asked.store(0, Ordering::SeqCst);
        self.unwell.store(false, Ordering::SeqCst);
        self.answers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// A capture of `url` near `near` (`YYYYMMDD`, or empty for the
    /// latest): the URL to suggest, for `media` the one of the original
    /// bytes. `None` when there is none or the archive could not say.
    pub async fn find(
        &self,
        fetcher: &Fetcher,
        db: Option<&StateDb>,
        url: &str,
        near: &str,
        media: bool,
    ) -> Option<String> {
        let cell = {
            let mut answers = self.answers.lock().unwrap_or_else(|e| e.into_inner());
            answers
                .entry((url.to_string(), near.to_string()))
                .or_default()
                .clone()
        };
        let capture = cell
            .get_or_init(|| self.answer(fetcher, db, url, near))
            .await
            .clone()?;
        Some(match (self.api, media) {
            (ArchiveApi::Wayback, true) => wayback::original_bytes(&capture),
            _ => capture,
        })
    }

    async fn answer(
        &self,
        fetcher: &Fetcher,
        db: Option<&StateDb>,
        url: &str,
        near: &str,
    ) -> Option<String> {
        let now = chrono::Utc::now().timestamp();
        if let Some(known) = db.and_then(|d| d.archive_lookup(url, near)) {
            if now - known.asked_at <= ANSWER_TTL {
                return known.capture;
            }
        }
        if self.unwell.load(Ordering::SeqCst)
            || self.asked.fetch_add(1, Ordering::SeqCst) >= self.max_lookups
        {
            return None;
        }
        let asked = tokio::time::timeout(self.timeout, self.ask(fetcher, url, near)).await;
        let failure = match asked {
            Ok(Ok(capture)) => {
                if let Some(d) = db {
                    d.record_archive_lookup(url, near, now, capture.clone());
                }
                return capture;
            }
            Ok(Err(f)) => f,
            Err(_) => Failure::Unwell(format!(
                "no answer within {:.1}s (check.archive_timeout)",
                self.timeout.as_secs_f64()
            )),
        };
        match failure {
            Failure::Unwell(why) => {
                if !self.unwell.swap(true, Ordering::SeqCst) {
                    tracing::warn!(
                        endpoint = %self.endpoint,
                        "web archive lookup for {url} failed: {why}; no more lookups this run"
                    );
                }
            }
            Failure::Bad(why) => {
                tracing::warn!(endpoint = %self.endpoint, "web archive lookup for {url}: {why}");
            }
        }
        None
    }

    async fn ask(
        &self,
        fetcher: &Fetcher,
        url: &str,
        near: &str,
    ) -> Result<Option<String>, Failure> {
        match self.api {
            ArchiveApi::Wayback => {
                let query = wayback::query(&self.endpoint, url, near).map_err(Failure::Bad)?;
                let (checked, body) = fetcher
                    .check(&query, Want::Html, FetchOptions::default())
                    .await;
                if checked.status != Status::Ok {
                    return Err(Failure::Unwell(describe(&checked)));
                }
                wayback::parse(&body.unwrap_or_default()).map_err(Failure::Bad)
            }
            ArchiveApi::Memento => {
                let timegate = format!("{}{url}", self.endpoint);
                let date = accept_datetime(near);
                let options = FetchOptions {
                    accept_datetime: Some(&date),
                    ..FetchOptions::default()
                };
                let (checked, _) = fetcher.check(&timegate, Want::Page, options).await;
                match (checked.status, checked.reason) {
                    (Status::Ok, _) => Ok(checked
                        .http
                        .final_url
                        .filter(|_| !checked.http.redirects.is_empty())
                        .map(|u| fetcher.as_written(&u))),
                    (Status::Broken, Some(Reason::NotFound | Reason::Gone)) => Ok(None),
                    _ => Err(Failure::Unwell(describe(&checked))),
                }
            }
        }
    }
}

fn describe(checked: &crate::check::Checked) -> String {
    format!(
        "{} ({})",
        checked.message.as_deref().unwrap_or("failed"),
        checked.reason.map_or("no reason", Reason::as_str)
    )
}

/// `Accept-Datetime` for `near` (`YYYYMMDD`), noon UTC; now without one.
fn accept_datetime(near: &str) -> String {
    let at = chrono::NaiveDate::parse_from_str(near, "%Y%m%d")
        .ok()
        .and_then(|d| d.and_hms_opt(12, 0, 0))
        .map(|t| t.and_utc())
        .unwrap_or_else(chrono::Utc::now);
    at.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// The day to look near, `YYYYMMDD`: the document's date (its first
/// eight digits, when they make a date), else the day `first_seen`
/// (unix seconds), else empty (the latest capture).
pub fn near_date(document_date: Option<&str>, first_seen: Option<i64>) -> String {
    let from_doc = document_date.and_then(|d| {
        let digits: String = d.chars().filter(char::is_ascii_digit).take(8).collect();
        chrono::NaiveDate::parse_from_str(&digits, "%Y%m%d")
            .ok()
            .map(|_| digits)
    });
    from_doc
        .or_else(|| {
            first_seen
                .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
                .map(|t| t.format("%Y%m%d").to_string())
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_dates() {
        assert_eq!(near_date(Some("2022-03-25 10:00"), None), "20220325");
        assert_eq!(near_date(Some("2022年3月25日"), Some(0)), "19700101");
        assert_eq!(near_date(None, Some(1_700_000_000)), "20231114");
        assert_eq!(near_date(Some("someday"), None), "");
        assert_eq!(accept_datetime("20220325"), "Fri, 25 Mar 2022 12:00:00 GMT");
    }
}
