//! The durable spool: a segmented, checksummed, append-only log on local disk that MQTT
//! acknowledgements wait for, and that the QuestDB writer drains.
//!
//! # Guarantee
//!
//! - A future returned by [`SpoolWriter::append`] resolves `Ok(pos)` only after the record and
//!   every record appended before it have been written and fsynced (`fdatasync`; directory
//!   fsync when segments are created or deleted). Records are durable in the order `append` was
//!   *called* (not first polled), and the futures are completed in that order. Awaiting them in
//!   call order (e.g. a `FuturesOrdered` or a FIFO of pending acks) and acknowledging each MQTT
//!   message as its future resolves therefore sends PUBACKs in receive order without waiting on
//!   anything but durability.
//! - Appends are group-committed: a dedicated OS thread (never a tokio worker) writes all queued
//!   records with one `write` and one fsync: everything queued while the previous fsync ran
//!   shares the next one, and `group_commit_delay_ms` (default 0) can hold a batch open longer.
//!   Two fsyncs start at least `group_commit_interval_ms` apart (default 40) unless
//!   `group_commit_records` appends are waiting, or would be at the recent rate of appends:
//!   a trickle shares fsyncs, a burst never waits, and under load a pause of the senders does
//!   not hold the records before it for the whole interval.
//! - Total size is bounded by `max_bytes`. When the next record would exceed it, appends wait
//!   (asynchronously) until the reader commits and whole segments are deleted. That wait is the
//!   backpressure: no acks, so the broker stops sending once its in-flight window is used up.
//!   [`SpoolWriter::is_full`] and `weijian_spool_full` expose it; a WARN is logged when the spool
//!   becomes full and an INFO when it has room again.
//! - [`SpoolReader::next_batch`] returns only durable records, in order, each at most once per
//!   run unless [`SpoolReader::rewind_to_committed`] is called. [`SpoolReader::commit`] records
//!   the accepted position durably before any segment is deleted, and a segment is deleted only
//!   when all of its records are committed. After a restart the reader resumes at the first
//!   uncommitted record: records may be delivered twice (QuestDB dedup absorbs it), never lost.
//! - Recovery at [`open`] never fails because of damaged data: a torn tail is cut off after
//!   the last good record, damage inside a segment is skipped up to the next valid frame (the
//!   damaged bytes are moved to a file beside the segment), and every event is reported (see
//!   [`recovery`]).
//!
//! Appends waiting for space are held in memory in call order. Their number is bounded by the
//! caller: the MQTT source has at most its in-flight window (receive maximum) of unacknowledged
//! messages, so the waiting memory is at most window × record size.
//!
//! One process owns a spool directory at a time: [`open`] takes an exclusive `flock` on
//! `weijian.lock` in it (holding the owner's pid and start time), and a second process gets
//! [`SpoolError::Locked`] naming the owner. Recovery reads each segment whole, so opening a
//! full 1 GiB spool reads 1 GiB once.
//!
//! # When the disk cannot take a write
//!
//! A failed write or fsync (disk full, an I/O error) does not stop the spool: the writer cuts
//! the segment back to its last durable length (removing segments the batch had created), then
//! retries the same batch with back-off (10 ms doubling to 1 s) until it succeeds. Meanwhile
//! appends wait (so acknowledgements stop), [`SpoolWriter::write_error`] says why, and the
//! failure is reported to the [`StorageReporter`] (`/readyz`, `weijian_storage_writable`); the
//! reader goes on returning what was durable, and commits go on (the committed file is
//! overwritten in place when no new file fits, so a spool that filled its own disk can still
//! free segments). The first successful write clears it. Only a
//! shutdown gives up: the waiting appends then fail with [`SpoolError::Failed`] (never
//! acknowledged, so the broker redelivers them).
//!
//! # On-disk format (version 1, little-endian)
//!
//! The directory holds segment files `seg-<base_seq, 20 digits>.wjs` and a `committed` file.
//!
//! ```text
//! segment header (32 bytes):
//!   0  magic     "WJSPOOL\0"
//!   8  version   u32 = 1
//!   12 reserved  u32 = 0
//!   16 base_seq  u64   sequence number of the segment's first record (= the file name)
//!   24 crc32     u32   over bytes 0..24
//!   28 reserved  u32 = 0
//! record frame (24-byte header + payload), repeated:
//!   0  crc32          u32   over bytes 4..24+len (len, seq, appended_at_ms, payload)
//!   4  len            u32   payload length
//!   8  seq            u64   sequence number; base_seq, base_seq+1, ... within a segment
//!   16 appended_at_ms u64   wall-clock append time, ms since the Unix epoch
//!   24 payload        len bytes, opaque to the spool
//! committed (28 bytes; replaced atomically: committed.tmp, fsync, rename, fsync dir):
//!   0  magic     "WJCOMMIT"
//!   8  version   u32 = 1
//!   12 reserved  u32 = 0
//!   16 next_seq  u64   first sequence number not yet accepted downstream
//!   24 crc32     u32   over bytes 0..24
//! ```
//!
//! A segment rolls over when the next frame would take it past `segment_bytes`. Sequence
//! numbers are global and never reused (after every segment is deleted, numbering continues
//! from the committed position), so a [`Position`] is simply a record's sequence number.
//!
//! # Usage
//!
//! ```no_run
//! # async fn demo(registry: &prometheus::Registry) -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use weijian_ingest::spool::{self, SpoolConfig, SpoolMetrics};
//!
//! let metrics = SpoolMetrics::register(registry)?;
//! let (writer, mut reader, report) =
//!     spool::open(SpoolConfig::new("/var/lib/weijian/spool"), metrics).await?;
//! if !report.is_clean() {
//!     // Already logged and counted; surface it at startup if wanted.
//! }
//!
//! // Source side (per MQTT message, in receive order): queue now, ack when durable.
//! let durable = writer.append(b"serialized rows".to_vec());
//! let _pos = durable.await?; // then client.ack(&publish)
//!
//! // Writer side: drain, write to QuestDB, commit what QuestDB accepted.
//! loop {
//!     let batch = reader.next_batch(1000, Duration::from_millis(200)).await?;
//!     let Some(last) = batch.last() else { continue };
//!     let questdb_accepted = true; // ... write `batch` to QuestDB ...
//!     if questdb_accepted {
//!         reader.commit(last.pos).await?;
//!     } else {
//!         reader.rewind_to_committed();
//!     }
//! }
//! # }
//! ```

mod error;
mod format;
mod lock;
mod metrics;
mod reader;
pub mod recovery;
mod segment;
mod state;
mod writer;

#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::time::SystemTime;

use tokio::sync::watch;

use crate::disk::DiskFaults;
use crate::durability::{DurableStore, StorageReporter};

pub use error::SpoolError;
pub use metrics::{names as metric_names, SpoolMetrics, COMMIT_DURATION_BUCKETS};
pub use reader::SpoolReader;
pub use recovery::{CorruptionEvent, RecoveryReport};
pub use writer::SpoolWriter;

use format::{FRAME_HEADER_LEN, SEGMENT_HEADER_LEN};
use state::{Shared, State};

/// Default segment size: 64 MiB.
pub const DEFAULT_SEGMENT_BYTES: u64 = 64 << 20;
/// Default bound on the spool's total size: 1 GiB.
pub const DEFAULT_MAX_BYTES: u64 = 1 << 30;
/// Default group-commit delay: 0 ms, i.e. write as soon as the previous fsync has finished.
///
/// Appends that arrive during an fsync already share the next one, so batching happens on its
/// own under load. A fixed delay only adds latency: with an MQTT window of 20 messages, a 2 ms
/// delay cut throughput from ~28,000 to ~5,700 appends/s on the development VM (see
/// `examples/spool_bench.rs`). PostgreSQL's `commit_delay` defaults to 0 for the same reason.
/// Raise it to trade latency for fewer fsyncs on devices where fsync is expensive per call.
pub const DEFAULT_GROUP_COMMIT_DELAY_MS: u64 = 0;
/// Default least time between the starts of two fsyncs (see [`SpoolConfig`]). Product default:
/// at a steady 1,000 msg/s, 40 ms cost weijian 33-38 us of CPU per message against 44-52 us
/// at 20 ms (half the fsyncs and the wake-ups around them; BENCHMARKS.md); an acknowledgement
/// waits at most 40 ms more, and a burst is not held back (`group_commit_records`).
pub const DEFAULT_GROUP_COMMIT_INTERVAL_MS: u64 = 40;
/// Default number of waiting appends that starts an fsync at once (see [`SpoolConfig`]).
pub const DEFAULT_GROUP_COMMIT_RECORDS: usize = 32;
/// Smallest accepted `segment_bytes`.
pub const MIN_SEGMENT_BYTES: u64 = 256;

/// Spool configuration. Deserializable so the application config can embed it as a `[spool]`
/// table; only `dir` is required.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpoolConfig {
    /// Directory holding the segment files and the `committed` file; created if missing. Must be
    /// on a local file system that honours fsync.
    pub dir: PathBuf,
    #[serde(default = "default_segment_bytes")]
    /// Size at which a segment is closed and a new one started (default 64 MiB). Also bounds
    /// the largest record (`segment_bytes - 56` bytes of payload). Space is reclaimed a whole
    /// segment at a time.
    pub segment_bytes: u64,
    #[serde(default = "default_max_bytes")]
    /// Upper bound on the bytes in segment files (default 1 GiB). Appends wait when the next
    /// record would exceed it. Must be at least `2 * segment_bytes`, so that committing
    /// everything readable always frees enough room.
    pub max_bytes: u64,
    #[serde(default = "default_group_commit_delay_ms")]
    /// How long the writer thread waits after the oldest queued append before writing, so that
    /// appends arriving within that window share one fsync (default 0: write as soon as the
    /// previous fsync has finished, which batches everything that arrived meanwhile).
    pub group_commit_delay_ms: u64,
    #[serde(default = "default_group_commit_interval_ms")]
    /// The least time between the starts of two fsyncs (default 40 ms). At a steady trickle
    /// appends wait up to this long to share one fsync (at 1,000 messages/s: ~32 per fsync
    /// instead of 1: fsyncs and the thread wake-ups around them were most of the CPU a
    /// trickle costs); after a quiet spell the first append is written at once. Under load
    /// the wait is cut short: by `group_commit_records` waiting appends, and by twice the time
    /// that many take to arrive at the recent rate (at 18,000 messages/s, ~4 ms), so that
    /// records do not wait the whole interval when the senders pause.
    pub group_commit_interval_ms: u64,
    #[serde(default = "default_group_commit_records")]
    /// This many waiting appends start an fsync at once, whatever the interval (default 32),
    /// so that a burst never waits. It must stay below the broker's window of unacknowledged
    /// messages (the pipeline caps it at half of it), or every group would wait the interval.
    pub group_commit_records: usize,
}

const fn default_segment_bytes() -> u64 {
    DEFAULT_SEGMENT_BYTES
}

const fn default_max_bytes() -> u64 {
    DEFAULT_MAX_BYTES
}

const fn default_group_commit_delay_ms() -> u64 {
    DEFAULT_GROUP_COMMIT_DELAY_MS
}

const fn default_group_commit_interval_ms() -> u64 {
    DEFAULT_GROUP_COMMIT_INTERVAL_MS
}

const fn default_group_commit_records() -> usize {
    DEFAULT_GROUP_COMMIT_RECORDS
}

impl SpoolConfig {
    /// A configuration with the defaults for everything but the directory.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            segment_bytes: DEFAULT_SEGMENT_BYTES,
            max_bytes: DEFAULT_MAX_BYTES,
            group_commit_delay_ms: DEFAULT_GROUP_COMMIT_DELAY_MS,
            group_commit_interval_ms: DEFAULT_GROUP_COMMIT_INTERVAL_MS,
            group_commit_records: DEFAULT_GROUP_COMMIT_RECORDS,
        }
    }

    /// Checks the sizes against each other.
    ///
    /// # Errors
    /// [`SpoolError::InvalidConfig`] naming the offending key.
    pub fn validate(&self) -> Result<(), SpoolError> {
        if self.segment_bytes < MIN_SEGMENT_BYTES || self.segment_bytes > u64::from(u32::MAX) {
            return Err(SpoolError::InvalidConfig(format!(
                "segment_bytes = {} must be between {MIN_SEGMENT_BYTES} and {}",
                self.segment_bytes,
                u32::MAX
            )));
        }
        if self.max_bytes < self.segment_bytes.saturating_mul(2) {
            return Err(SpoolError::InvalidConfig(format!(
                "max_bytes = {} must be at least twice segment_bytes ({})",
                self.max_bytes, self.segment_bytes
            )));
        }
        Ok(())
    }

    /// The largest payload a record may have under this configuration.
    pub fn max_record_bytes(&self) -> u64 {
        self.segment_bytes - SEGMENT_HEADER_LEN - FRAME_HEADER_LEN as u64
    }
}

/// A record's place in the spool: its sequence number. Ordered; unique for the life of the
/// spool directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position(pub(crate) u64);

impl Position {
    /// The position of the record with sequence number `seq` (for committing up to a record
    /// whose sequence number was kept, e.g. in the outbox).
    pub fn at_seq(seq: u64) -> Position {
        Position(seq)
    }

    /// The record's sequence number.
    pub fn seq(self) -> u64 {
        self.0
    }
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// A durable record read back from the spool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Where it is; pass the last one of a written batch to [`SpoolReader::commit`].
    pub pos: Position,
    /// The bytes given to [`SpoolWriter::append`].
    pub data: Vec<u8>,
    /// Wall-clock time the record was appended.
    pub appended_at: SystemTime,
}

/// A snapshot of the spool's size and progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolStats {
    /// Bytes in segment files.
    pub bytes: u64,
    /// Durable records not yet committed (an upper bound if recovery cut records out).
    pub records_unwritten: u64,
    /// Segment files.
    pub segments: usize,
    /// Whether appends are waiting for space.
    pub full: bool,
    /// When the oldest record not yet committed was appended (to within 1 s, never later than
    /// the truth); `None` when everything is committed.
    pub oldest_unwritten_appended_at: Option<SystemTime>,
    /// The last committed position; `None` if nothing was ever committed.
    pub committed: Option<Position>,
    /// One past the last durable sequence number.
    pub durable_next: u64,
    /// Group commits (fsynced batches) since open.
    pub group_commits: u64,
    /// Records made durable since open.
    pub appended_records: u64,
}

/// What a spool reports into and writes through, besides its configuration.
#[derive(Debug, Clone)]
pub struct SpoolOptions {
    /// The seam every write goes through ([`crate::disk::real`] in production).
    pub faults: Arc<dyn DiskFaults>,
    /// Where failing and recovering writes are reported (`/readyz`, `weijian_storage_writable`).
    pub storage: StorageReporter,
}

impl SpoolOptions {
    /// The real disk, reporting into `storage`.
    pub fn new(storage: StorageReporter) -> Self {
        Self {
            faults: crate::disk::real(),
            storage,
        }
    }

    /// Writes through `faults` instead of the real disk (tests).
    pub fn with_faults(mut self, faults: Arc<dyn DiskFaults>) -> Self {
        self.faults = faults;
        self
    }
}

impl Default for SpoolOptions {
    /// The real disk, reporting into a health state nobody reads.
    fn default() -> Self {
        Self::new(StorageReporter::detached(DurableStore::Spool))
    }
}

/// [`open_with`] with the default options: the real disk, and write failures reported only in
/// the log and the spool's own state ([`SpoolWriter::write_error`]).
///
/// # Errors
/// As [`open_with`].
pub async fn open(
    config: SpoolConfig,
    metrics: SpoolMetrics,
) -> Result<(SpoolWriter, SpoolReader, RecoveryReport), SpoolError> {
    open_with(config, metrics, SpoolOptions::default()).await
}

/// Opens (or creates) the spool in `config.dir`, takes its lock, runs recovery, and starts the
/// writer thread.
///
/// Returns the append handle, the single reader (positioned at the committed position) and
/// what recovery found.
///
/// # Errors
/// [`SpoolError::InvalidConfig`] for inconsistent sizes; [`SpoolError::Locked`] when another
/// process has the directory; [`SpoolError::Io`] when the directory or a file cannot be read,
/// written or fsynced. Damaged data is *not* an error.
pub async fn open_with(
    config: SpoolConfig,
    metrics: SpoolMetrics,
    options: SpoolOptions,
) -> Result<(SpoolWriter, SpoolReader, RecoveryReport), SpoolError> {
    config.validate()?;
    let max_payload = config.max_record_bytes();
    let dir = config.dir.clone();
    let m = metrics.clone();
    let (lock, recovered) = tokio::task::spawn_blocking(move || {
        let lock = lock::acquire(&dir)?;
        recovery::recover(&dir, max_payload, &m).map(|r| (lock, r))
    })
    .await
    .map_err(|e| SpoolError::Failed(format!("spool recovery task failed: {e}")))??;

    let active = recovered.active.and_then(|(base, file)| {
        recovered.segments.get(&base).map(|meta| writer::Active {
            base,
            file,
            path: meta.path.clone(),
            len: meta.len,
        })
    });
    let state = State {
        pending: VecDeque::new(),
        pending_bytes: 0,
        writers_closed: false,
        reader_closed: false,
        write_error: None,
        segments: recovered.segments,
        total_bytes: recovered.total_bytes,
        durable_next: recovered.next_seq,
        committed_next: recovered.committed_next,
        ts_index: recovered.ts_index,
        group_commits: 0,
        appended_records: 0,
        full: false,
    };
    state.publish_gauges(&metrics);
    let (durable_tx, _) = watch::channel(recovered.next_seq);
    let (done_tx, done_rx) = watch::channel(false);
    let shared = Arc::new(Shared {
        config,
        max_payload,
        state: Mutex::new(state),
        commit_lock: Mutex::new(()),
        wake_writer: Condvar::new(),
        durable_tx,
        writer_done: done_rx,
        metrics,
        faults: options.faults,
        storage: options.storage,
        _lock: lock,
    });
    writer::spawn(Arc::clone(&shared), active, recovered.next_seq, done_tx)?;
    let reader = SpoolReader::new(Arc::clone(&shared), recovered.committed_next);
    Ok((SpoolWriter::new(shared), reader, recovered.report))
}
