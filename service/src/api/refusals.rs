//! Refused API requests (401 no or unknown token, 403 a read outside the caller's subtree, 413
//! a body too large, 414 a target too long): answered at once, counted, logged at debug, and
//! audited **at most once per remote address per interval** (`api.refusal_audit_interval_secs`).
//!
//! Each audit row is a journaled request (see `crate::supervision::request`), so before this a
//! flood of bad tokens was a flood of spool records: 4,225 requests with 60,000-character paths
//! filled a 256 MiB spool during a QuestDB outage and froze MQTT acknowledgements. Now:
//!
//! - the first refusal of a remote address in an interval is audited as before, its path and
//!   reason clipped ([`MAX_AUDIT_PATH_CHARS`], [`MAX_AUDIT_REASON_CHARS`]; bodies are never
//!   stored);
//! - the others of the interval are only counted; when the interval ends, one row per remote
//!   says how many there were and what the last one was;
//! - at most `api.refusal_audit_remotes` addresses get rows of their own per interval; the rest
//!   share the remote `other`, so many addresses cannot grow the spool either;
//! - each interval with refusals ends with one info log line (how many, from how many
//!   addresses, by status); each refusal is a debug line.
//!
//! A flood therefore costs at most (`refusal_audit_remotes` + 1) x 2 small rows per interval.
//! The address is the TCP peer's IP (the port changes with every connection): behind a reverse
//! proxy every client is the proxy, which only makes the rows fewer.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use alerting::model::Timestamp;
use axum::http::StatusCode;
use prometheus::{IntCounter, IntCounterVec, Opts, Registry};
use tokio::time::Instant;

use super::caller::Origin;
use crate::supervision::Desk;

/// Longest path kept in an audit row (characters); the rest is replaced by its length.
pub const MAX_AUDIT_PATH_CHARS: usize = 200;
/// Longest refusal reason kept in an audit row (characters).
pub const MAX_AUDIT_REASON_CHARS: usize = 300;
/// The remote of refusals from addresses beyond `api.refusal_audit_remotes` in an interval.
pub const OTHER_REMOTES: &str = "other";
/// The remote of requests without a peer address (the router called in-process).
const UNKNOWN_REMOTE: &str = "unknown";

/// The API's metrics.
#[derive(Debug, Clone)]
pub struct ApiMetrics {
    /// Refused requests by status (401, 403, 413, 414), audited or not.
    pub refused: IntCounterVec,
    /// Refused requests counted into a summary row instead of a row of their own.
    pub refusals_unaudited: IntCounter,
}

impl ApiMetrics {
    /// Creates and registers the metrics.
    ///
    /// # Errors
    /// A name registered twice.
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let m = Self::unregistered()?;
        registry.register(Box::new(m.refused.clone()))?;
        registry.register(Box::new(m.refusals_unaudited.clone()))?;
        Ok(m)
    }

    /// The metrics, registered nowhere (tests).
    ///
    /// # Errors
    /// Invalid metric options (a bug).
    pub fn unregistered() -> Result<Self, prometheus::Error> {
        Ok(Self {
            refused: IntCounterVec::new(
                Opts::new(
                    "weijian_api_refused_total",
                    "API requests refused before reaching the engines, by status (401, 403, 413, 414).",
                ),
                &["status"],
            )?,
            refusals_unaudited: IntCounter::new(
                "weijian_api_refusals_unaudited_total",
                "Refused API requests counted into a per-remote summary audit row instead of a row of their own.",
            )?,
        })
    }
}

/// What is known of one remote's refusals in the current interval.
#[derive(Debug)]
struct Tally {
    /// Refusals after the audited first one.
    unaudited: u64,
    /// The latest of those: status, method, clipped path, clipped reason.
    last: Option<(u16, String, String, String)>,
}

/// The current interval.
#[derive(Debug)]
struct Window {
    started: Instant,
    started_at: Timestamp,
    remotes: HashMap<String, Tally>,
    by_status: BTreeMap<u16, u64>,
}

/// A summary row to journal when an interval ends.
#[derive(Debug)]
struct Summary {
    remote: String,
    status: u16,
    method: String,
    path: String,
    reason: String,
}

/// The refusal auditor (one per router).
#[derive(Debug)]
pub(crate) struct Refusals {
    desk: Desk,
    metrics: ApiMetrics,
    interval: Duration,
    max_remotes: usize,
    window: Mutex<Window>,
}

impl Refusals {
    /// An auditor journaling through `desk`, with its `[api]` limits. Spawns the task that
    /// closes intervals when no refusal comes to do it (it ends when the auditor is dropped).
    pub fn start(desk: Desk, metrics: ApiMetrics) -> Arc<Refusals> {
        let limits = desk.limits();
        let refusals = Arc::new(Refusals {
            interval: limits.refusal_audit_interval,
            max_remotes: limits.refusal_audit_remotes,
            window: Mutex::new(Window {
                started: Instant::now(),
                started_at: desk.now(),
                remotes: HashMap::new(),
                by_status: BTreeMap::new(),
            }),
            desk,
            metrics,
        });
        tokio::spawn(close_intervals(Arc::downgrade(&refusals)));
        refusals
    }

    /// Counts, logs and (once per remote and interval) audits a refusal. A journal failure
    /// is logged; the client gets its refusal regardless.
    pub async fn refused(
        &self,
        origin: &Origin,
        supervisor: Option<&str>,
        status: StatusCode,
        reason: &str,
    ) {
        let path = clip(&origin.path, MAX_AUDIT_PATH_CHARS);
        let reason = clip(reason, MAX_AUDIT_REASON_CHARS);
        tracing::debug!(
            remote = origin.remote.as_deref().unwrap_or(UNKNOWN_REMOTE),
            method = %origin.method,
            %path,
            status = status.as_u16(),
            %reason,
            "Refused an API request."
        );
        self.metrics
            .refused
            .with_label_values(&[status.as_str()])
            .inc();
        let (summaries, audit_as) = {
            let mut w = self.window();
            let summaries = self.close_if_due(&mut w);
            *w.by_status.entry(status.as_u16()).or_default() += 1;
            let mut key = remote_key(origin.remote.as_deref());
            if !w.remotes.contains_key(&key) && w.remotes.len() >= self.max_remotes {
                key = OTHER_REMOTES.to_owned();
            }
            let audit_as = match w.remotes.get_mut(&key) {
                Some(tally) => {
                    tally.unaudited += 1;
                    tally.last = Some((
                        status.as_u16(),
                        origin.method.clone(),
                        path.clone(),
                        reason.clone(),
                    ));
                    None
                }
                None => {
                    let remote = if key == OTHER_REMOTES {
                        OTHER_REMOTES.to_owned()
                    } else {
                        origin.remote.clone().unwrap_or_default()
                    };
                    w.remotes.insert(
                        key,
                        Tally {
                            unaudited: 0,
                            last: None,
                        },
                    );
                    Some(remote)
                }
            };
            (summaries, audit_as)
        };
        if audit_as.is_none() {
            self.metrics.refusals_unaudited.inc();
        }
        self.journal_summaries(summaries).await;
        if let Some(remote) = audit_as {
            self.journal(
                supervisor,
                remote,
                &origin.method,
                &path,
                status.as_u16(),
                &reason,
            )
            .await;
        }
    }

    /// Closes the interval if it is over (the background task's turn).
    async fn close_due(&self) {
        let summaries = {
            let mut w = self.window();
            self.close_if_due(&mut w)
        };
        self.journal_summaries(summaries).await;
    }

    /// Ends the interval if it is over: its info line, and the summary rows to journal.
    fn close_if_due(&self, w: &mut Window) -> Vec<Summary> {
        if w.started.elapsed() < self.interval {
            return Vec::new();
        }
        let now = self.desk.now();
        let total: u64 = w.by_status.values().sum();
        if total > 0 {
            let by_status: Vec<String> = w
                .by_status
                .iter()
                .map(|(status, n)| format!("{status}: {n}"))
                .collect();
            tracing::info!(
                refused = total,
                remotes = w.remotes.len(),
                "Refused {total} API requests from {} remote addresses since {} ({}); each address's first is audited, the rest are counted in one audit row per address.",
                w.remotes.len(),
                w.started_at,
                by_status.join(", ")
            );
        }
        let since = w.started_at;
        let summaries = w
            .remotes
            .drain()
            .filter_map(|(remote, tally)| {
                let (status, method, path, reason) = tally.last?;
                Some(Summary {
                    remote,
                    status,
                    method,
                    path,
                    reason: format!(
                        "{} more refused requests from this address between {since} and {now}, \
                         not audited one by one; the last: {reason}",
                        tally.unaudited
                    ),
                })
            })
            .collect();
        w.started = Instant::now();
        w.started_at = now;
        w.by_status.clear();
        summaries
    }

    async fn journal_summaries(&self, summaries: Vec<Summary>) {
        for s in summaries {
            self.journal(None, s.remote, &s.method, &s.path, s.status, &s.reason)
                .await;
        }
    }

    async fn journal(
        &self,
        supervisor: Option<&str>,
        remote: String,
        method: &str,
        path: &str,
        status: u16,
        reason: &str,
    ) {
        let result = self
            .desk
            .audit_denied(supervisor, Some(remote), method, path, status, reason)
            .await;
        if let Err(error) = result {
            tracing::error!(%error, %method, %path, status,
                "Cannot journal a refused API request; it is missing from the audit trail.");
        }
    }

    fn window(&self) -> MutexGuard<'_, Window> {
        self.window
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Closes intervals nobody else closes (a flood that stopped), until the auditor is gone.
async fn close_intervals(refusals: Weak<Refusals>) {
    let every = match refusals.upgrade() {
        Some(r) => r.interval,
        None => return,
    };
    loop {
        tokio::time::sleep(every).await;
        match refusals.upgrade() {
            Some(r) => r.close_due().await,
            None => return,
        }
    }
}

/// The address a refusal is counted under: the peer's IP without its port.
fn remote_key(remote: Option<&str>) -> String {
    match remote {
        None => UNKNOWN_REMOTE.to_owned(),
        Some(r) => r
            .parse::<SocketAddr>()
            .map_or_else(|_| r.to_owned(), |a| a.ip().to_string()),
    }
}

/// `text` cut to `max` characters, the cut part replaced by its size.
pub fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_owned(),
        Some((at, _)) => format!("{}... ({} bytes in all)", &text[..at], text.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_is_clipped_on_a_character_boundary_with_its_size() {
        assert_eq!(clip("短文本", 10), "短文本");
        assert_eq!(clip("检修检修检修", 2), "检修... (18 bytes in all)");
    }

    #[test]
    fn remotes_are_counted_by_ip_not_by_port() {
        assert_eq!(remote_key(Some("10.0.0.7:50123")), "10.0.0.7");
        assert_eq!(remote_key(Some("[::1]:8080")), "::1");
        assert_eq!(remote_key(None), "unknown");
    }
}
