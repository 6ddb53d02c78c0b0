//! The drain's write side: rows waiting for their store request ([`Pending`]), and writing a
//! batch on the blocking pool ([`write_all`]) while the drain goes on validating.
//!
//! A batch is sent when it holds `batch_max_rows` rows or when its oldest row has waited
//! `flush_interval`, so a steady trickle of messages costs the store one request (one WAL
//! transaction per table) per interval, not one per fsync group. Within `flush_interval` of
//! a full batch (a burst, or a backlog being read), the rest is also sent as soon as the
//! spool has been quiet for [`QUIET_AFTER_FULL`]: it will not fill soon, and waiting out
//! `flush_interval` would only delay the burst's last rows.

use std::time::Duration;

use tokio::time::Instant;

use crate::sink::questdb::WriteError;
use crate::sink::rows::Row;
use crate::sink::store::Store;

/// How long nothing new may become durable, within `flush_interval` of a full batch, before
/// the rows left over are sent without waiting for their deadline (a product default).
/// Longer than the spool's default group-commit interval (40 ms), so a continuous stream,
/// which the spool makes durable at least that often, does not look quiet between two
/// fsyncs. At a trickle batches never fill and this never applies; after a burst it applies
/// for one flush interval, so it adds at most `flush_interval / QUIET_AFTER_FULL` (10)
/// requests per burst, and usually one.
pub(super) const QUIET_AFTER_FULL: Duration = Duration::from_millis(50);

/// Rows not yet sent, and the spool position they complete.
#[derive(Debug, Default)]
pub(super) struct Pending {
    rows: Vec<Row>,
    /// Every record up to this spool position has its rows here (or in an earlier write).
    up_to: Option<u64>,
    /// When the oldest row or position not yet sent arrived.
    since: Option<Instant>,
    /// When the last full batch was taken: until a flush interval later, rows are taken to
    /// arrive faster than batches fill.
    last_full: Option<Instant>,
}

impl Pending {
    /// Adds the rows of records up to `up_to` (`None`: no new record, e.g. alert rows of a
    /// timer).
    pub(super) fn add(&mut self, rows: Vec<Row>, up_to: Option<u64>, now: Instant) {
        if rows.is_empty() && up_to.is_none_or(|p| self.up_to.is_some_and(|u| u >= p)) {
            return;
        }
        self.since.get_or_insert(now);
        if self.rows.is_empty() {
            self.rows = rows;
        } else {
            self.rows.extend(rows);
        }
        if up_to.is_some() {
            self.up_to = up_to;
        }
    }

    pub(super) fn len(&self) -> usize {
        self.rows.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.since.is_none()
    }

    /// When the batch must be sent even if it is not full.
    fn deadline(&self, flush_interval: Duration) -> Option<Instant> {
        self.since.map(|s| s + flush_interval)
    }

    /// Whether a full batch was taken less than `flush_interval` ago.
    fn in_burst(&self, now: Instant, flush_interval: Duration) -> bool {
        self.last_full.is_some_and(|t| now < t + flush_interval)
    }

    /// How long a read for more records may wait before the batch needs looking at again:
    /// until its deadline, and in a burst no longer than [`QUIET_AFTER_FULL`] (a read that
    /// brings nothing in that time means the burst is over). `None`: nothing pending.
    pub(super) fn read_wait(&self, now: Instant, flush_interval: Duration) -> Option<Duration> {
        let until_deadline = self
            .deadline(flush_interval)?
            .saturating_duration_since(now);
        Some(if self.in_burst(now, flush_interval) {
            until_deadline.min(QUIET_AFTER_FULL)
        } else {
            until_deadline
        })
    }

    /// Whether the batch should be sent now: full, its oldest row has waited long enough, or
    /// the spool went `quiet` (a read waited and brought nothing) in a burst.
    pub(super) fn is_due(
        &self,
        now: Instant,
        flush_interval: Duration,
        max_rows: usize,
        quiet: bool,
    ) -> bool {
        self.rows.len() >= max_rows
            || self.deadline(flush_interval).is_some_and(|d| now >= d)
            || (quiet && !self.is_empty() && self.in_burst(now, flush_interval))
    }

    /// Empties the buffer: its rows and the position they complete. Remembers when a full
    /// batch (`max_rows`) was taken.
    pub(super) fn take(&mut self, max_rows: usize, now: Instant) -> (Vec<Row>, Option<u64>) {
        self.since = None;
        if self.rows.len() >= max_rows {
            self.last_full = Some(now);
        }
        (std::mem::take(&mut self.rows), self.up_to)
    }

    /// Drops the data rows (they stay in the spool and are re-read after an outage) and
    /// returns the rows that exist only in memory (alerts, actions, audit).
    pub(super) fn take_alert_rows(&mut self) -> Vec<Row> {
        self.since = None;
        self.up_to = None;
        self.last_full = None;
        std::mem::take(&mut self.rows)
            .into_iter()
            .filter(is_alert_row)
            .collect()
    }
}

/// What one successful batch did, for metrics.
#[derive(Debug, Default)]
pub(super) struct Summary {
    pub requests: u32,
    pub duration: Duration,
    /// Rows written per table name (unprefixed), in first-seen order.
    pub per_table: Vec<(&'static str, u64)>,
    /// Requests the store refused (and split).
    pub refused_requests: u32,
    /// Rows the store refused, now quarantined as `store_rejected`.
    pub quarantined: u64,
}

/// A batch that failed: the error, and the in-memory rows (alerts, actions, audit) that were
/// not written and must be held.
#[derive(Debug)]
pub(super) struct Failure {
    pub error: WriteError,
    pub unwritten_alerts: Vec<Row>,
}

/// Writes `rows` in chunks of at most `max_rows` rows (the store bounds each request by bytes
/// too, and quarantines rows it refuses). On failure the chunks already written stay written
/// (a retry rewrites them and the store deduplicates).
pub(super) fn write_all(
    store: &mut dyn Store,
    rows: &[Row],
    max_rows: usize,
) -> Result<Summary, Failure> {
    let mut summary = Summary::default();
    let max_rows = max_rows.max(1);
    for (i, chunk) in rows.chunks(max_rows).enumerate() {
        match store.write(chunk) {
            Ok(written) => {
                summary.requests += written.requests.max(1);
                summary.duration += written.duration;
                summary.refused_requests += written.refused_requests;
                summary.quarantined += written.quarantined as u64;
                let mut refused = written.refused;
                refused.sort_unstable();
                for (j, row) in chunk.iter().enumerate() {
                    if refused.binary_search(&j).is_err() {
                        count(&mut summary.per_table, row.table(), 1);
                    }
                }
                if written.quarantined > 0 {
                    count(
                        &mut summary.per_table,
                        "quarantine",
                        written.quarantined as u64,
                    );
                }
            }
            Err(error) => {
                let rest = rows.get(i * max_rows..).unwrap_or_default();
                return Err(Failure {
                    error,
                    unwritten_alerts: alert_rows(rest),
                });
            }
        }
    }
    Ok(summary)
}

/// Adds `n` rows of `table` to the per-table counts.
fn count(per_table: &mut Vec<(&'static str, u64)>, table: &'static str, n: u64) {
    match per_table.iter_mut().find(|(t, _)| *t == table) {
        Some((_, sum)) => *sum += n,
        None => per_table.push((table, n)),
    }
}

/// How often a write failure that repeats is logged (a product default): the first failure
/// of an outage at once, then one line a minute with the number of failures in between, and
/// at once whenever the kind of failure changes.
pub(super) const FAILURE_LOG_INTERVAL: Duration = Duration::from_secs(60);

/// Rate-limits the log of write failures so a long outage is visible in the log without
/// flooding it.
#[derive(Debug, Default)]
pub(super) struct FailureLog {
    /// When the last line was logged, and the kind of failure it reported.
    last: Option<(Instant, &'static str)>,
    /// Failures not logged since that line.
    unlogged: u64,
}

impl FailureLog {
    /// Records a failure and logs it if due.
    pub(super) fn failed(&mut self, error: &WriteError, now: Instant) {
        let due = self.last.is_none_or(|(at, kind)| {
            kind != error.kind() || now.saturating_duration_since(at) >= FAILURE_LOG_INTERVAL
        });
        if !due {
            self.unlogged += 1;
            return;
        }
        let unlogged = std::mem::take(&mut self.unlogged);
        self.last = Some((now, error.kind()));
        match error {
            WriteError::Unavailable(_) => {
                tracing::warn!(%error, unlogged_failures = unlogged, "QuestDB write failed; readings wait in the spool and alerts keep running (repeats are logged once a minute).")
            }
            WriteError::Misconfigured(_) => {
                tracing::error!(%error, unlogged_failures = unlogged, "QuestDB refuses weijian's requests; readings wait in the spool until an operator fixes questdb.conf (repeats are logged once a minute).")
            }
            WriteError::Rejected(_) => {
                tracing::error!(%error, unlogged_failures = unlogged, "QuestDB refused a table definition, or rows and their quarantine rows alike; readings wait in the spool (operator action needed; repeats are logged once a minute).")
            }
        }
    }

    /// Writes succeed again: the next failure is logged at once.
    pub(super) fn recovered(&mut self) {
        *self = Self::default();
    }
}

/// Rows that exist only in memory until written: the rule engine's output (alerts, cycle
/// verdicts) and delivery's (actions, audit), which re-reading the spool does not recreate
/// once the rule state has moved past their records.
fn is_alert_row(row: &Row) -> bool {
    matches!(
        row,
        Row::Alert(_)
            | Row::Action(_)
            | Row::Audit(_)
            | Row::Cycle(_)
            | Row::SiteRisk(_)
            | Row::Draw(_)
    )
}

/// Copies of the in-memory rows among `rows`.
pub(super) fn alert_rows(rows: &[Row]) -> Vec<Row> {
    rows.iter().filter(|r| is_alert_row(r)).cloned().collect()
}
