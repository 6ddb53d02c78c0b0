//! State shared by the writer thread, the `SpoolWriter` handles and the `SpoolReader`.
//!
//! One `std::sync::Mutex` guards it. It is only ever locked for short, non-blocking sections
//! (no I/O, never across an `.await`); file I/O happens outside the lock.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::{oneshot, watch};

use super::error::SpoolError;
use super::metrics::SpoolMetrics;
use super::{Position, SpoolConfig, SpoolStats};

/// The timestamp index keeps one `(seq, appended_at_ms)` entry per this many milliseconds of
/// appends, so the oldest-unwritten age is exact to within this bound at O(seconds) memory.
pub(crate) const TS_INDEX_RESOLUTION_MS: u64 = 1000;

/// What the spool knows about one segment file.
#[derive(Debug, Clone)]
pub(crate) struct SegMeta {
    pub(crate) path: PathBuf,
    /// Durable length in bytes, header included. Readers never read past it.
    pub(crate) len: u64,
    /// One past the sequence number of the segment's last durable record.
    pub(crate) end_seq: u64,
}

/// An append waiting for the writer thread.
#[derive(Debug)]
pub(crate) struct Pending {
    pub(crate) data: Vec<u8>,
    pub(crate) enqueued_at: Instant,
    pub(crate) appended_at_ms: u64,
    pub(crate) done: oneshot::Sender<Result<Position, SpoolError>>,
}

#[derive(Debug)]
pub(crate) struct State {
    /// Appends in call order, not yet written.
    pub(crate) pending: VecDeque<Pending>,
    pub(crate) pending_bytes: u64,
    /// Set by `SpoolWriter::shutdown` or when the last `SpoolWriter` is dropped.
    pub(crate) writers_closed: bool,
    /// Set when the `SpoolReader` is dropped.
    pub(crate) reader_closed: bool,
    /// The error of the last write attempt while writes fail (disk full...); `None` once a
    /// write succeeds again. Appends wait meanwhile.
    pub(crate) write_error: Option<String>,
    /// Segment files by base sequence number; the last one is the one being appended to.
    pub(crate) segments: BTreeMap<u64, SegMeta>,
    /// Sum of the segment files' durable lengths.
    pub(crate) total_bytes: u64,
    /// One past the last durable sequence number.
    pub(crate) durable_next: u64,
    /// First sequence number not yet committed (accepted downstream).
    pub(crate) committed_next: u64,
    /// Sparse `(seq, appended_at_ms)` index; the front entry is at or before `committed_next`.
    pub(crate) ts_index: VecDeque<(u64, u64)>,
    /// Number of group commits (batches written and fsynced).
    pub(crate) group_commits: u64,
    /// Records made durable since open.
    pub(crate) appended_records: u64,
    /// Whether appends are waiting for space.
    pub(crate) full: bool,
}

impl State {
    /// Notes the append time of a newly durable record in the sparse index.
    pub(crate) fn index_timestamp(&mut self, seq: u64, appended_at_ms: u64) {
        let due = match self.ts_index.back() {
            None => true,
            Some(&(_, last)) => appended_at_ms >= last.saturating_add(TS_INDEX_RESOLUTION_MS),
        };
        if due {
            self.ts_index.push_back((seq, appended_at_ms));
        }
    }

    /// Drops index entries that are wholly before the committed position.
    pub(crate) fn prune_index(&mut self) {
        while self.ts_index.len() >= 2 && self.ts_index[1].0 <= self.committed_next {
            self.ts_index.pop_front();
        }
    }

    pub(crate) fn records_unwritten(&self) -> u64 {
        self.durable_next.saturating_sub(self.committed_next)
    }

    pub(crate) fn oldest_unwritten_appended_at(&self) -> Option<SystemTime> {
        if self.records_unwritten() == 0 {
            return None;
        }
        self.ts_index
            .front()
            .map(|&(_, ms)| UNIX_EPOCH + Duration::from_millis(ms))
    }

    pub(crate) fn stats(&self) -> SpoolStats {
        SpoolStats {
            bytes: self.total_bytes,
            records_unwritten: self.records_unwritten(),
            segments: self.segments.len(),
            full: self.full,
            oldest_unwritten_appended_at: self.oldest_unwritten_appended_at(),
            committed: self.committed_next.checked_sub(1).map(Position),
            durable_next: self.durable_next,
            group_commits: self.group_commits,
            appended_records: self.appended_records,
        }
    }

    /// Copies the state into the gauges.
    pub(crate) fn publish_gauges(&self, metrics: &SpoolMetrics) {
        metrics
            .bytes
            .set(i64::try_from(self.total_bytes).unwrap_or(i64::MAX));
        metrics
            .records
            .set(i64::try_from(self.records_unwritten()).unwrap_or(i64::MAX));
        metrics
            .segments
            .set(i64::try_from(self.segments.len()).unwrap_or(i64::MAX));
        metrics.full.set(i64::from(self.full));
        let age = self
            .oldest_unwritten_appended_at()
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .map_or(0.0, |d| d.as_secs_f64());
        metrics.oldest_unwritten_age_seconds.set(age);
    }
}

/// Everything the spool's parts share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: SpoolConfig,
    /// Largest payload accepted (fits one frame in one segment).
    pub(crate) max_payload: u64,
    pub(crate) state: Mutex<State>,
    /// Serialises commits (held by the blocking commit task for its whole duration, never
    /// across an `.await`).
    pub(crate) commit_lock: Mutex<()>,
    /// Wakes the writer thread: new appends, freed space, shutdown.
    pub(crate) wake_writer: Condvar,
    /// Publishes `durable_next` after every group commit; the reader waits on it.
    pub(crate) durable_tx: watch::Sender<u64>,
    /// Becomes `true` when the writer thread has exited.
    pub(crate) writer_done: watch::Receiver<bool>,
    pub(crate) metrics: SpoolMetrics,
    /// The seam every write goes through.
    pub(crate) faults: std::sync::Arc<dyn crate::disk::DiskFaults>,
    /// Where failing and recovering writes are reported.
    pub(crate) storage: crate::durability::StorageReporter,
    /// The directory's lock, released when the last handle goes.
    pub(crate) _lock: super::lock::SpoolLock,
}

impl Shared {
    /// Locks the state. Poisoning is ignored: no code panics while holding the lock, and the
    /// state stays consistent between statements anyway.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn wait_timeout<'a>(
        &self,
        guard: MutexGuard<'a, State>,
        timeout: Duration,
    ) -> MutexGuard<'a, State> {
        match self.wake_writer.wait_timeout(guard, timeout) {
            Ok((g, _)) => g,
            Err(poisoned) => poisoned.into_inner().0,
        }
    }
}

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
