//! Outage: telling "this host is dead" from "we cannot reach anything".
//!
//! A machine that lost its uplink or its resolver sees every link fail,
//! and a link checker that believes it reports the whole archive as rot,
//! writes a false `broken` row into every URL's history and leaves `gc`
//! looking at a run that proved nothing. This module holds the run's
//! evidence and the rule that judges it; the checker feeds it, the engine
//! asks for the verdict once the corpus pass is over.
//!
//! # Evidence
//!
//! Every check made over the network is one of ([`Reach`]):
//!
//! * **answered**: a server spoke, whatever it said: any HTTP status (a
//!   404 is a host that works), a body cut short, a TLS handshake that
//!   failed (a TCP connection was made), a connection refused (a RST came
//!   back from the host's address: a machine without network gets
//!   resolver failures, no route or timeouts, never a refusal). The
//!   network works; a host that refuses is dead, and its links `broken`.
//! * **unreachable**: the request never reached a server: the system
//!   resolver failed, the connection timed out, no route, a reset before
//!   any answer. Either that host is dead or we are cut off; one failure
//!   alone cannot tell.
//! * **local**: nothing was learnt about the network: a cached result, the
//!   address guard, a malformed URL, a name that cannot exist
//!   (`.invalid`, or one that resolves to no address).
//!
//! # The rule
//!
//! Judged once, after the corpus pass ([`decide`]), on the hosts seen:
//!
//! 1. A host answered: the network is **up**. Hosts that failed at the
//!    transport level while another answered are dead, and their links
//!    `broken` as ever.
//! 2. Nothing failed at the transport level: **up** (nothing to explain).
//! 3. `check.canary` is set: its URLs are checked now. One answers: **up**
//!    (the failing hosts are really dead). None answers: **down**.
//! 4. No canary, and two or more hosts failed at the transport level with
//!    none answering: **down**.
//! 5. Otherwise (one host failed, none answered, no canary): **up**, and
//!    the log says how to tell the two apart.
//!
//! The verdict depends only on what the checks returned, never on when
//! they finished, so it is the same however the run was scheduled, and
//! [`decide`] is a pure function the tests call directly.
//!
//! # Limits
//!
//! * A corpus on one host, without a canary, cannot tell an outage from
//!   that host dying (rule 5); set `check.canary` to a URL on another
//!   network (`["https://example.org/"]`).
//! * The system resolver's errors do not say, by type, whether a DNS
//!   server answered "no such name" or nobody answered at all (Rust's
//!   `lookup_host` keeps only the message), so every failed lookup counts
//!   as unreachable. A corpus whose several domains all expired, with no
//!   canary, is judged an outage: its links are `error`, not `broken`,
//!   until a canary or one live host says otherwise.
//! * A local firewall that refuses only some hosts is not an outage: the
//!   others answer.
//!
//! # While the verdict is pending
//!
//! A transport failure must not reach the state database before the
//! verdict: in an outage its row would be a false `broken` in the URL's
//! history. [`Judge::settle`] holds such records until a host answers
//! (then they are written at once: from then on an outage is ruled out)
//! or the run ends ([`Judge::conclude`]: written when up, dropped when
//! down, so the URL keeps its last known status and "broken since").
//! Held records cost memory only in a run where nothing has answered.
//!
//! They are bounded: past [`MAX_HELD`] (about 1 KB each; a document of
//! 200,000 links on dead hosts held 200 MB), the check that finds too
//! many held asks the canaries at once (once a run; checks wait for that
//! answer rather than pile up more) and applies the rule to the evidence
//! so far ([`Judge::relieve`]). A canary answering proves the network
//! up: the held records are written, and so is every later one. One host
//! failing with no canary configured is blamed on the host (rule 5):
//! written. Otherwise (the rule says down) the held records are dropped:
//! those URLs keep their last known status, as in an outage, even if a
//! host answers later in the run; their report is unchanged, and the next
//! run records them. At worst a true `broken` row a run late.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use super::Checked;
use crate::model::Status;
use crate::store::db::{CheckRecord, UrlState};

/// What one check says about the network (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Reach {
    /// Nothing learnt about the network.
    #[default]
    Local,
    /// A server spoke.
    Answered,
    /// No server was reached.
    Unreachable,
}

/// The network as the run found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Network {
    Up,
    /// Nothing could be reached; why, for people.
    Down {
        evidence: String,
    },
}

impl Network {
    pub fn is_up(&self) -> bool {
        matches!(self, Network::Up)
    }
}

/// What the configured canaries said, when they were asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Canary {
    /// `check.canary` is empty.
    NotConfigured,
    /// This canary URL answered.
    Answered(String),
    /// None answered; the last one's URL and why.
    Failed { url: String, why: String },
}

/// The run's evidence so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Evidence {
    /// Hosts that answered at least once.
    pub answered: BTreeSet<String>,
    /// Hosts that failed at the transport level at least once.
    pub unreachable: BTreeSet<String>,
}

impl Evidence {
    /// Whether the canaries must be asked: nothing answered and something
    /// could not be reached (rule 3 of the module doc).
    pub fn suspicious(&self) -> bool {
        self.answered.is_empty() && !self.unreachable.is_empty()
    }
}

/// The rule of the module doc.
pub fn decide(evidence: &Evidence, canary: &Canary) -> Network {
    if !evidence.suspicious() {
        return Network::Up;
    }
    let hosts = &evidence.unreachable;
    let named: Vec<&str> = hosts.iter().take(3).map(String::as_str).collect();
    let more = hosts.len().saturating_sub(named.len());
    let list = if more > 0 {
        format!("{} and {more} more", named.join(", "))
    } else {
        named.join(", ")
    };
    match canary {
        Canary::Answered(_) => Network::Up,
        Canary::Failed { url, why } => Network::Down {
            evidence: format!(
                "no host answered ({list} failed at the transport level) and the canary {url} failed too ({why})"
            ),
        },
        Canary::NotConfigured if hosts.len() >= 2 => Network::Down {
            evidence: format!(
                "no host answered: all {} hosts checked failed at the transport level ({list})",
                hosts.len()
            ),
        },
        Canary::NotConfigured => Network::Up,
    }
}

/// A URL's status before this run, shown beside a `network_unavailable`
/// error: the report's `last_known`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LastKnown {
    pub status: Status,
    /// Since when it has had that status (RFC 3339).
    pub since: Option<String>,
    /// When it was last checked (RFC 3339).
    pub checked_at: Option<String>,
}

impl LastKnown {
    /// What the state database knew, if it knew a status.
    pub fn of(state: &UrlState) -> Option<LastKnown> {
        let time = |t: Option<i64>| {
            t.and_then(|t| chrono::DateTime::from_timestamp(t, 0))
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        };
        Some(LastKnown {
            status: state.status?,
            since: time(state.status_since),
            checked_at: time(state.checked_at),
        })
    }
}

/// Records held back at most while nothing has answered (see the module
/// doc); past this, the canaries are asked at once.
pub const MAX_HELD: usize = 1024;

/// The run's evidence and the records held back until the verdict.
#[derive(Default)]
pub struct Judge {
    state: Mutex<JudgeState>,
    /// The canaries' answer when too many records were held; asked once
    /// a run, the checks that need it wait for it.
    early: Mutex<Arc<tokio::sync::OnceCell<Canary>>>,
}

#[derive(Default)]
struct JudgeState {
    evidence: Evidence,
    held: Vec<CheckRecord>,
    /// Records dropped unwritten because too many were held.
    dropped: usize,
    /// A canary that answered when asked early: the network is up.
    canary_up: Option<String>,
    /// Set by [`Judge::conclude`]; later checks of the run read it.
    verdict: Option<Network>,
}

impl Judge {
    fn lock(&self) -> std::sync::MutexGuard<'_, JudgeState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts a run: no evidence, no verdict, nothing held.
    pub fn begin_run(&self) {
        *self.lock() = JudgeState::default();
        *self.early.lock().unwrap_or_else(|e| e.into_inner()) = Arc::default();
    }

    /// Records held back now.
    pub fn held(&self) -> usize {
        self.lock().held.len()
    }

    /// Whether more than [`MAX_HELD`] records are held.
    pub fn over_cap(&self) -> bool {
        self.held() > MAX_HELD
    }

    /// Relieves a judge holding more than [`MAX_HELD`] records: the rule
    /// ([`decide`]) is applied now to the evidence so far and what the
    /// canaries said. Up (a canary answered, or one host failed and no
    /// canary is configured, which the rule blames on the host): the held
    /// records are returned to be written; after a canary answered, later
    /// ones are not held. Down: they are dropped. Does nothing under the
    /// cap.
    pub fn relieve(&self, canary: &Canary) -> Vec<CheckRecord> {
        let mut state = self.lock();
        if state.held.len() <= MAX_HELD {
            return Vec::new();
        }
        if let Canary::Answered(url) = canary {
            state.canary_up = Some(url.clone());
        }
        if decide(&state.evidence, canary).is_up() {
            return std::mem::take(&mut state.held);
        }
        state.dropped += state.held.len();
        state.held = Vec::new();
        Vec::new()
    }

    /// Records dropped unwritten this run ([`Judge::relieve`]).
    pub fn dropped(&self) -> usize {
        self.lock().dropped
    }

    /// Counts one check of `host` and returns the state-database records
    /// to write now: `record` (this check's, if it has one) unless it is
    /// a transport failure while nothing has answered, plus the records
    /// held so far once a host answers.
    pub fn settle(
        &self,
        host: &str,
        reach: Reach,
        record: Option<CheckRecord>,
    ) -> Vec<CheckRecord> {
        let mut state = self.lock();
        if state.verdict.is_none() {
            match reach {
                Reach::Answered => {
                    state.evidence.answered.insert(host.to_string());
                }
                Reach::Unreachable => {
                    state.evidence.unreachable.insert(host.to_string());
                }
                Reach::Local => {}
            }
        }
        let up_for_sure = !state.evidence.answered.is_empty() || state.canary_up.is_some();
        let mut out = if up_for_sure {
            std::mem::take(&mut state.held)
        } else {
            Vec::new()
        };
        if let Some(r) = record {
            match (reach, &state.verdict) {
                // Cut off: the URL keeps its last known status.
                (Reach::Unreachable, Some(Network::Down { .. })) => {}
                (Reach::Unreachable, None) if !up_for_sure => state.held.push(r),
                _ => out.push(r),
            }
        }
        out
    }

    /// The evidence so far.
    pub fn evidence(&self) -> Evidence {
        self.lock().evidence.clone()
    }

    /// Records the verdict and returns the held records to write: all of
    /// them when the network was up, none when it was down.
    pub fn conclude(&self, network: Network) -> Vec<CheckRecord> {
        let mut state = self.lock();
        let held = std::mem::take(&mut state.held);
        let out = if network.is_up() { held } else { Vec::new() };
        state.verdict = Some(network);
        out
    }

    /// The verdict, once concluded.
    pub fn verdict(&self) -> Option<Network> {
        self.lock().verdict.clone()
    }

    /// Whether a host has answered this run: the network is up, whatever
    /// else fails.
    pub fn known_up(&self) -> bool {
        let state = self.lock();
        !state.evidence.answered.is_empty()
            || state.canary_up.is_some()
            || matches!(state.verdict, Some(Network::Up))
    }

    /// The canary that answered when asked early, if one did.
    fn canary_up(&self) -> Option<String> {
        self.lock().canary_up.clone()
    }

    /// Whether the run was concluded to be cut off.
    pub fn is_down(&self) -> bool {
        matches!(self.lock().verdict, Some(Network::Down { .. }))
    }
}

impl super::Checker {
    /// Whether this run already knows the network is up (a host answered).
    pub fn network_known_up(&self) -> bool {
        self.network.known_up()
    }

    /// Counts one check of `url` for the verdict and writes the records
    /// that need not wait for it ([`Judge::settle`]). With too many held
    /// back, asks the canaries now (once a run) and writes or drops them
    /// ([`Judge::relieve`]).
    pub(super) async fn observe(&self, url: &str, reach: Reach, record: Option<CheckRecord>) {
        let host = url::Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(super::hosts::host_key))
            .unwrap_or_default();
        let write = self.network.settle(&host, reach, record);
        self.write_records(write);
        if self.network.over_cap() {
            let early = self
                .network
                .early
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            let canary = early
                .get_or_init(|| async {
                    let canary = self.ask_canaries().await;
                    let held = self.network.held();
                    match &canary {
                        Canary::Answered(url) => tracing::info!(
                            "{held} transport failures and no host answered yet; the canary {url} answers, so the network is up and they are recorded"
                        ),
                        _ => tracing::warn!(
                            "{held} transport failures and no host answered yet, and no canary answers: their results are not recorded in the state database (those URLs keep their last known status; the next run records them)"
                        ),
                    }
                    canary
                })
                .await;
            self.write_records(self.network.relieve(canary));
        }
    }

    fn write_records(&self, records: Vec<CheckRecord>) {
        if let Some(store) = &self.store {
            records.into_iter().for_each(|r| store.db.record_check(r));
        }
    }

    /// Judges the run's network once the corpus pass is over: asks the
    /// canaries when the evidence is suspicious, decides, and writes or
    /// drops the held records. Later checks of the run (the engine's
    /// second pass) see the verdict through [`super::Checker::check_url`].
    pub async fn settle_network(&self) -> Network {
        if let Some(done) = self.network.verdict() {
            return done;
        }
        let evidence = self.network.evidence();
        let canary = match self.network.canary_up() {
            // A canary answered early: the network is up, ask no more.
            Some(url) => Canary::Answered(url),
            None if evidence.suspicious() => self.ask_canaries().await,
            None => Canary::NotConfigured,
        };
        let network = decide(&evidence, &canary);
        match (&network, &canary) {
            (Network::Down { evidence }, _) => {
                tracing::warn!("the network is unavailable: {evidence}; links that could not be reached are `error` (network_unavailable) and keep their last known status");
            }
            (Network::Up, Canary::NotConfigured) if evidence.suspicious() => {
                tracing::info!(
                    "no host answered, but only one was asked ({}): its links are `broken`; if this machine is offline, set check.canary so that archive can tell",
                    evidence.unreachable.iter().next().map_or("", String::as_str)
                );
            }
            _ => {}
        }
        let write = self.network.conclude(network.clone());
        self.write_records(write);
        let dropped = self.network.dropped();
        if dropped > 0 && network.is_up() {
            tracing::warn!("{dropped} results of unreachable URLs were not recorded in the state database: they failed while no host had answered and too many were waiting for the verdict; they keep their last known status until the next run");
        }
        network
    }

    /// What the first canary that says anything says.
    async fn ask_canaries(&self) -> Canary {
        let mut heard = Canary::NotConfigured;
        for url in &self.canaries {
            let (checked, _) = self
                .fetcher
                .check(url, super::fetch::Want::Page, Default::default())
                .await;
            let why = checked
                .reason
                .map_or("no answer", crate::vocab::Reason::as_str);
            // A canary host that asked us to pause (its pause outlasts the
            // run's budget, so it was not asked now) answered us before:
            // it is reachable, and the network with it.
            if checked.reason == Some(crate::vocab::Reason::HostWaitExceeded) {
                return Canary::Answered(url.clone());
            }
            match checked.reach {
                Reach::Answered => return Canary::Answered(url.clone()),
                Reach::Unreachable => {
                    heard = Canary::Failed {
                        url: url.clone(),
                        why: why.to_string(),
                    }
                }
                // The guard or a name that cannot exist: a canary that
                // proves nothing either way.
                Reach::Local => tracing::warn!(
                    "check.canary {url} cannot be used ({why}: {}); fix it in config.toml",
                    checked.message.as_deref().unwrap_or("")
                ),
            }
        }
        heard
    }

    /// `checked` as the run reports it: in a run that could reach
    /// nothing, a transport failure is `error` (`network_unavailable`)
    /// with the URL's last known status beside it.
    pub(super) fn as_judged(&self, url: &str, mut checked: Checked) -> Checked {
        if checked.reach != Reach::Unreachable || !self.network.is_down() {
            return checked;
        }
        let known = self
            .store
            .as_ref()
            .and_then(|s| s.db.url_state(url).ok().flatten())
            .and_then(|k| LastKnown::of(&k));
        let was = checked
            .reason
            .map_or("no answer", crate::vocab::Reason::as_str);
        let kept = match &known {
            Some(k) => format!("its last known status, {}, is kept", k.status.as_str()),
            None => "no earlier status is known".to_string(),
        };
        checked.message = Some(format!(
            "not checked: the network was unavailable during this run ({was}: {}); {kept}",
            checked.message.as_deref().unwrap_or("")
        ));
        checked.status = Status::Error;
        checked.reason = Some(crate::vocab::Reason::NetworkUnavailable);
        checked.last_known = known;
        checked
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn evidence(answered: &[&str], unreachable: &[&str]) -> Evidence {
        Evidence {
            answered: answered.iter().map(|s| s.to_string()).collect(),
            unreachable: unreachable.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn failed() -> Canary {
        Canary::Failed {
            url: "https://example.org/".into(),
            why: "timeout".into(),
        }
    }

    #[test]
    fn the_rule() {
        let none = Canary::NotConfigured;
        let up = |e: &Evidence, c: &Canary| decide(e, c).is_up();
        // One host answered: the others are dead, not us.
        assert!(up(&evidence(&["a"], &["b", "c", "d"]), &none));
        assert!(up(&evidence(&["a"], &["b"]), &failed()));
        // Nothing failed at the transport level.
        assert!(up(&evidence(&[], &[]), &none));
        // One host dead, nothing else asked, no canary: its fault.
        assert!(up(&evidence(&[], &["a"]), &none));
        // The same with a failed canary: cut off.
        assert!(!up(&evidence(&[], &["a"]), &failed()));
        // Several hosts, none answering: cut off, unless a canary answers.
        assert!(!up(&evidence(&[], &["a", "b"]), &none));
        assert!(up(
            &evidence(&[], &["a", "b"]),
            &Canary::Answered("https://example.org/".into())
        ));
        let Network::Down { evidence: why } = decide(&evidence(&[], &["a", "b", "c", "d"]), &none)
        else {
            panic!("down")
        };
        assert!(why.contains("a, b, c and 1 more"), "{why}");
    }

    fn record(url: &str) -> CheckRecord {
        CheckRecord {
            url: url.into(),
            at: 1,
            status: Status::Broken,
            reason: None,
            http_code: None,
            etag: None,
            last_modified: None,
            content_type: None,
            content_length: None,
            object: None,
            http_json: None,
        }
    }

    fn urls(records: Vec<CheckRecord>) -> Vec<String> {
        records.into_iter().map(|r| r.url).collect()
    }

    #[test]
    fn transport_failures_wait_for_the_verdict() {
        let judge = Judge::default();
        let held = judge.settle("a", Reach::Unreachable, Some(record("http://a/1")));
        assert!(held.is_empty(), "held while nothing answered");
        assert!(judge
            .settle("b", Reach::Unreachable, Some(record("http://b/1")))
            .is_empty());
        // A local result is written at once and proves nothing.
        assert_eq!(
            urls(judge.settle("c", Reach::Local, Some(record("http://c/1")))),
            ["http://c/1"]
        );
        // Down: the held records are dropped, later ones too.
        assert!(judge
            .conclude(decide(&judge.evidence(), &Canary::NotConfigured))
            .is_empty());
        assert!(judge.is_down());
        assert!(judge
            .settle("d", Reach::Unreachable, Some(record("http://d/1")))
            .is_empty());

        // A host answering releases what was held, and later failures
        // are written at once.
        judge.begin_run();
        judge.settle("a", Reach::Unreachable, Some(record("http://a/1")));
        assert_eq!(
            urls(judge.settle("b", Reach::Answered, Some(record("http://b/1")))),
            ["http://a/1", "http://b/1"]
        );
        assert_eq!(
            urls(judge.settle("a", Reach::Unreachable, Some(record("http://a/2")))),
            ["http://a/2"]
        );
        assert!(judge
            .conclude(decide(&judge.evidence(), &Canary::NotConfigured))
            .is_empty());
        assert!(!judge.is_down());

        // Up at the end (one dead host): what was held is written.
        judge.begin_run();
        judge.settle("a", Reach::Unreachable, Some(record("http://a/1")));
        assert_eq!(
            urls(judge.conclude(decide(&judge.evidence(), &Canary::NotConfigured))),
            ["http://a/1"]
        );
    }

    /// Held records are bounded: a huge document on dead hosts, checked
    /// while nothing answers, once held a record per link (200,000 links:
    /// 200 MB). Past the cap they are dropped when no canary answers, and
    /// written when one does (the network is then up: later failures are
    /// written at once).
    #[test]
    fn held_records_stay_under_the_cap() {
        let judge = Judge::default();
        let mut written = 0;
        for i in 0..10 * MAX_HELD {
            let host = format!("h{}", i % 7);
            written += judge
                .settle(
                    &host,
                    Reach::Unreachable,
                    Some(record(&format!("http://{host}/{i}"))),
                )
                .len();
            if judge.over_cap() {
                written += judge.relieve(&Canary::NotConfigured).len();
            }
            assert!(judge.held() <= MAX_HELD + 1, "{} held", judge.held());
        }
        assert_eq!(written, 0, "nothing written while nothing answered");
        assert!(judge.dropped() >= 9 * MAX_HELD, "{}", judge.dropped());
        // A canary answering: what is held is written, later ones too.
        for i in 0..=MAX_HELD {
            judge.settle(
                "h",
                Reach::Unreachable,
                Some(record(&format!("http://h/x{i}"))),
            );
        }
        let canary = Canary::Answered("https://example.org/".into());
        let held = judge.held();
        assert!(held > MAX_HELD);
        assert_eq!(judge.relieve(&canary).len(), held);
        assert!(judge.known_up());
        assert_eq!(
            urls(judge.settle("h", Reach::Unreachable, Some(record("http://h/late")))),
            ["http://h/late"]
        );
        assert_eq!(judge.held(), 0);
        // Under the cap, relieving does nothing.
        judge.begin_run();
        judge.settle("h", Reach::Unreachable, Some(record("http://h/1")));
        assert!(judge.relieve(&Canary::NotConfigured).is_empty());
        assert_eq!(judge.held(), 1);
        assert_eq!(judge.dropped(), 0);
        // One host failing, no canary: the rule blames the host, so what
        // is held is written (as it would be at the end), not dropped.
        for i in 0..MAX_HELD {
            judge.settle(
                "h",
                Reach::Unreachable,
                Some(record(&format!("http://h/{i}"))),
            );
        }
        assert_eq!(judge.relieve(&Canary::NotConfigured).len(), MAX_HELD + 1);
        assert_eq!(judge.held(), 0);
        assert_eq!(judge.dropped(), 0);
    }
}
