//! Archived copies as repairs: the checker's side of [`crate::lookup`].
//! After a document's links and suggestions are checked, each dead link
//! (`broken` or `truncated`) with no working suggestion is looked up in
//! the web archive near the document's date (or the link's first-seen
//! day); a capture found becomes a suggestion with reason
//! `archived_copy`, which the caller then checks like any other. A media
//! copy is stored like any media, and its WARC record names the original
//! URL ([`Checker::copy_of`]).

use futures_util::stream::{self, StreamExt};

use super::{document_refs, Checker};
use crate::lookup::near_date;
use crate::model::{Status, Suggestion};
use crate::pipeline::Scanned;
use crate::vocab::SuggestionReason;

impl Checker {
    /// Starts a run's lookups: a fresh budget and breaker, no copies yet.
    pub(super) fn begin_lookups(&self) {
        if let Some(lookup) = &self.lookup {
            lookup.begin_run();
            self.copies_of
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clear();
        }
    }

    /// The original URL of an archived copy suggested this run.
    pub(super) fn copy_of(&self, url: &str) -> Option<String> {
        self.copies_of
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(url)
            .cloned()
    }

    /// Asks the web archive for copies of the document's dead links that
    /// have no working repair, and suggests what it has. True when a
    /// suggestion was added (it is then still to be checked).
    pub(super) async fn suggest_archived_copies(&self, scanned: &mut Scanned) -> bool {
        let Some(lookup) = &self.lookup else {
            return false;
        };
        let db = self.store.as_ref().map(|s| &s.db);
        let dead: Vec<(usize, String, bool)> = scanned
            .links
            .iter()
            .enumerate()
            .filter(|(_, l)| {
                matches!(l.status, Status::Broken | Status::Truncated)
                    && l.finding.is_none()
                    && !l.suggestions.iter().any(|s| s.status == Some(Status::Ok))
            })
            .filter_map(|(i, l)| Some((i, l.resolved.clone()?, l.kind.is_media())))
            .collect();
        if dead.is_empty() {
            return false;
        }
        let date = scanned.document.date.clone();
        let in_flight = self.fetcher.hosts().config().concurrency.max(1);
        let found: Vec<Option<String>> = stream::iter(dead.iter().cloned())
            .map(|(_, url, media)| {
                let date = date.clone();
                async move {
                    let first_seen = db.and_then(|d| d.first_seen(&url));
                    let near = near_date(date.as_deref(), first_seen);
                    lookup.find(&self.fetcher, db, &url, &near, media).await
                }
            })
            .buffered(in_flight)
            .collect()
            .await;
        let mut added = false;
        for ((i, url, _), capture) in dead.into_iter().zip(found) {
            let Some(capture) = capture else { continue };
            let link = &mut scanned.links[i];
            if link.suggestions.iter().any(|s| s.url == capture) {
                continue;
            }
            self.copies_of
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(capture.clone(), url);
            link.suggestions.push(Suggestion {
                url: capture,
                reason: SuggestionReason::ArchivedCopy,
                status: None,
            });
            added = true;
        }
        if added {
            if let Some(store) = &self.store {
                // The copies are the document's too: gc keeps them.
                store.db.record_refs(
                    &scanned.document.path,
                    self.started_at(),
                    document_refs(scanned),
                );
            }
        }
        added
    }
}
