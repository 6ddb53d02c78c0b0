//! The append side: `SpoolWriter` handles and the dedicated group-commit thread.
//!
//! `append` queues the record synchronously (so call order is durability order) and returns a
//! future that resolves once the record is fsynced. One OS thread drains the queue: it waits up
//! to `group_commit_delay_ms` after the oldest queued record (or not at all if that record has
//! already waited through the previous fsync), writes every queued record that fits in
//! `max_bytes` with one `write`, fsyncs once, then resolves the futures in order. fsync never
//! runs on a tokio worker.

use std::collections::VecDeque;
use std::fs::File;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{oneshot, watch};
use tracing::{debug, error, info, warn};

use super::error::SpoolError;
use super::format::{self, SEGMENT_HEADER_LEN};
use super::segment;
use super::state::{now_ms, Pending, SegMeta, Shared};
use super::{Position, SpoolStats};
use crate::disk::{self, DiskFaults};

/// A batch is cut at this many bytes even if more is queued (bounds the write buffer).
const MAX_BATCH_BYTES: u64 = 8 << 20;
/// A batch is cut at this many records even if more is queued.
const MAX_BATCH_RECORDS: usize = 16_384;
/// First wait before a failed write is retried; doubles up to [`RETRY_MAX`]. Product default:
/// short enough that a disk freed by an operator resumes acknowledgements at once.
const RETRY_MIN: Duration = Duration::from_millis(10);
/// Longest wait between two attempts of a failing write. Product default: one attempt per
/// second costs nothing and recovers within a second of space returning.
const RETRY_MAX: Duration = Duration::from_secs(1);
/// How often an idle or blocked writer thread refreshes the gauges (the oldest-record age grows
/// with time alone).
const GAUGE_REFRESH: Duration = Duration::from_secs(1);

/// A cloneable handle for appending records. See [`SpoolWriter::append`].
///
/// When the last clone is dropped (or [`SpoolWriter::shutdown`] is called) the writer thread
/// writes what is queued and exits.
#[derive(Debug, Clone)]
pub struct SpoolWriter {
    handle: Arc<WriterHandle>,
}

#[derive(Debug)]
struct WriterHandle {
    shared: Arc<Shared>,
}

impl Drop for WriterHandle {
    fn drop(&mut self) {
        self.shared.lock().writers_closed = true;
        self.shared.wake_writer.notify_all();
    }
}

impl SpoolWriter {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self {
            handle: Arc::new(WriterHandle { shared }),
        }
    }

    /// Appends one record and returns a future that resolves with its position once the record
    /// (and every record appended before it) is durable on disk.
    ///
    /// The record is queued when `append` is *called*, not when the future is first polled, so
    /// records become durable in call order and their futures resolve in call order. Dropping
    /// the future does not withdraw the record; it is still written.
    ///
    /// When the spool is full the future waits until the reader commits and space is reclaimed;
    /// that wait is weijian's backpressure (no PUBACK, so the broker holds further messages).
    ///
    /// # Errors
    /// [`SpoolError::RecordTooLarge`] if the record cannot fit in a segment,
    /// [`SpoolError::Closed`] after shutdown, [`SpoolError::Failed`] if the spool was shut
    /// down while its writes were failing. A failing write (disk full) is retried, so the
    /// future waits meanwhile; [`SpoolWriter::write_error`] says why.
    pub fn append(
        &self,
        record: Vec<u8>,
    ) -> impl Future<Output = Result<Position, SpoolError>> + Send + 'static {
        let queued = self.enqueue(record);
        async move {
            match queued {
                Ok(rx) => rx.await.unwrap_or(Err(SpoolError::Closed)),
                Err(error) => Err(error),
            }
        }
    }

    fn enqueue(
        &self,
        record: Vec<u8>,
    ) -> Result<oneshot::Receiver<Result<Position, SpoolError>>, SpoolError> {
        let shared = &self.handle.shared;
        if record.len() as u64 > shared.max_payload {
            return Err(SpoolError::RecordTooLarge {
                len: record.len(),
                max: shared.max_payload,
            });
        }
        let (tx, rx) = oneshot::channel();
        let wake = {
            let mut st = shared.lock();
            if st.writers_closed {
                return Err(SpoolError::Closed);
            }
            st.pending_bytes += format::frame_len(record.len());
            st.pending.push_back(Pending {
                data: record,
                enqueued_at: Instant::now(),
                appended_at_ms: now_ms(),
                done: tx,
            });
            // The writer sleeps until the first append, or until the group-commit interval
            // ends: waking it for every append of a trickle would only put it back to sleep.
            let n = st.pending.len();
            n == 1
                || n >= shared.config.group_commit_records.max(1)
                || st.pending_bytes >= MAX_BATCH_BYTES
        };
        if wake {
            shared.wake_writer.notify_one();
        }
        Ok(rx)
    }

    /// Why appends are waiting for the disk (the last write error), while writes fail.
    pub fn write_error(&self) -> Option<String> {
        self.handle.shared.lock().write_error.clone()
    }

    /// Whether appends are currently waiting for space.
    pub fn is_full(&self) -> bool {
        self.handle.shared.lock().full
    }

    /// A snapshot of the spool's size and progress.
    pub fn stats(&self) -> SpoolStats {
        self.handle.shared.lock().stats()
    }

    /// Stops accepting appends (on every clone), lets the writer thread write what is queued
    /// and waits for it to exit. Queued records that do not fit because the spool is full are
    /// failed with [`SpoolError::Closed`] rather than waited for.
    pub async fn shutdown(self) {
        let mut done = self.handle.shared.writer_done.clone();
        {
            self.handle.shared.lock().writers_closed = true;
        }
        self.handle.shared.wake_writer.notify_all();
        drop(self);
        // An error means the thread is gone (its sender dropped), which is what we wait for.
        let _ = done.wait_for(|d| *d).await;
    }
}

/// The segment the writer thread appends to.
#[derive(Debug)]
pub(crate) struct Active {
    pub(crate) base: u64,
    pub(crate) file: File,
    pub(crate) path: PathBuf,
    pub(crate) len: u64,
}

/// Starts the writer thread.
pub(crate) fn spawn(
    shared: Arc<Shared>,
    active: Option<Active>,
    next_seq: u64,
    done: watch::Sender<bool>,
) -> Result<(), SpoolError> {
    let dir = shared.config.dir.clone();
    std::thread::Builder::new()
        .name("weijian-spool-writer".into())
        .spawn(move || {
            WriterThread {
                shared,
                active,
                next_seq,
                last_fsync_start: None,
                arrivals: ArrivalRate::default(),
                rollback: None,
            }
            .run();
            let _ = done.send(true);
        })
        .map(|_| ())
        .map_err(|e| SpoolError::io(dir, e))
}

struct WriterThread {
    shared: Arc<Shared>,
    active: Option<Active>,
    next_seq: u64,
    /// When the last batch started (the group-commit interval counts from it).
    last_fsync_start: Option<Instant>,
    /// The recent rate of appends: under load it shortens the group-commit interval.
    arrivals: ArrivalRate,
    /// What to undo before the next attempt, after a failed one.
    rollback: Option<Rollback>,
}

/// The recent rate of appends: exponentially weighted means of the records per batch and of
/// the time between batch starts (a ratio of means, so short batches do not bias it upwards).
#[derive(Debug, Default, Clone, Copy)]
struct ArrivalRate {
    records: f64,
    secs: f64,
}

impl ArrivalRate {
    /// Weight of the newest batch in the means. Product default: about the last five batches,
    /// so one pause of the senders does not make the writer wait the full interval next time.
    const WEIGHT: f64 = 0.2;

    fn observe(&mut self, records: usize, over: Duration) {
        let secs = over.as_secs_f64();
        if secs > 0.0 {
            self.records += Self::WEIGHT * (records as f64 - self.records);
            self.secs += Self::WEIGHT * (secs - self.secs);
        }
    }

    /// How long a group of `records` appends is held open at most: twice what they take to
    /// arrive at the recent rate (so at a steady rate the count, not this, starts the fsync),
    /// and never longer than `cap` (also before any rate is known).
    fn time_for(&self, records: usize, cap: Duration) -> Duration {
        let secs = 2.0 * records as f64 * self.secs / self.records;
        if secs.is_finite() && secs < cap.as_secs_f64() {
            Duration::from_secs_f64(secs)
        } else {
            cap
        }
    }
}

/// The files as they were before a batch that failed.
#[derive(Debug)]
struct Rollback {
    /// The segment that was active: base, path, durable length.
    active: Option<(u64, PathBuf, u64)>,
    /// Segments the failed batch created.
    created: Vec<PathBuf>,
}

impl WriterThread {
    fn run(mut self) {
        while let Some(batch) = self.take_batch() {
            let mut delay = RETRY_MIN;
            loop {
                let attempt = self.restore().and_then(|()| self.write_batch(&batch));
                let error = match attempt {
                    Ok(first) => {
                        self.writes_work_again();
                        for (i, p) in batch.into_iter().enumerate() {
                            let _ = p.done.send(Ok(Position(first + i as u64)));
                        }
                        break;
                    }
                    Err(error) => error,
                };
                // What reached the disk is unknown (an fsync error may have dropped dirty
                // pages): `restore` cuts the files back to what was durable before this
                // batch, and the same batch is written again.
                // The spool's own reason is kept before the health is reported, so whoever
                // sees the spool unwritable can already ask it why.
                let reason = error.to_string();
                self.shared.lock().write_error = Some(reason.clone());
                if self.shared.storage.failed("append", &error) {
                    warn!(%error, "Spool write failed; appends wait (no acknowledgements) and the write is retried until it succeeds.");
                } else {
                    debug!(%error, "Spool write failed again.");
                }
                let mut st = self.shared.lock();
                st.publish_gauges(&self.shared.metrics);
                if !st.writers_closed {
                    st = self.shared.wait_timeout(st, delay);
                    delay = (delay * 2).min(RETRY_MAX);
                }
                if st.writers_closed {
                    // Shutting down while the disk refuses: nothing more is made durable; the
                    // broker redelivers what was not acknowledged.
                    st.pending_bytes = 0;
                    let rest: Vec<Pending> = st.pending.drain(..).collect();
                    drop(st);
                    error!(%error, records = batch.len() + rest.len(), "Spool closed while its writes were failing; those records were not acknowledged.");
                    for p in batch.into_iter().chain(rest) {
                        let _ = p.done.send(Err(SpoolError::Failed(reason.clone())));
                    }
                    let _ = self.restore();
                    return;
                }
            }
        }
    }

    /// Clears a write failure after a successful write.
    fn writes_work_again(&mut self) {
        let was_failing = self.shared.lock().write_error.take().is_some();
        if self.shared.storage.recovered("append") || was_failing {
            info!("Spool writes succeed again; appends resume.");
        }
    }

    /// Undoes a failed batch, if one is pending: removes the segments it created and cuts
    /// the segment that was active back to its durable length. Kept pending (and retried
    /// before the next attempt) if that fails too.
    fn restore(&mut self) -> Result<(), SpoolError> {
        let Some(rollback) = self.rollback.take() else {
            return Ok(());
        };
        let result = (|| {
            let dir = &self.shared.config.dir;
            for path in &rollback.created {
                segment::remove_segment(path)?;
            }
            self.active = None;
            if let Some((base, path, len)) = &rollback.active {
                let file = std::fs::OpenOptions::new()
                    .write(true)
                    .open(path)
                    .map_err(|e| SpoolError::io(path, e))?;
                file.set_len(*len)
                    .and_then(|()| file.sync_all())
                    .map_err(|e| SpoolError::io(path, e))?;
                self.active = Some(Active {
                    base: *base,
                    file: segment::open_for_append(path)?,
                    path: path.clone(),
                    len: *len,
                });
            }
            if !rollback.created.is_empty() {
                segment::fsync_dir(dir)?;
            }
            Ok(())
        })();
        if result.is_err() {
            self.rollback = Some(rollback);
        }
        result
    }

    /// Waits for the next batch to write. `None` means: exit.
    fn take_batch(&mut self) -> Option<VecDeque<Pending>> {
        let shared = Arc::clone(&self.shared);
        let cfg = &shared.config;
        let delay = Duration::from_millis(cfg.group_commit_delay_ms);
        let interval = Duration::from_millis(cfg.group_commit_interval_ms);
        let enough = cfg.group_commit_records.max(1);
        let mut st = shared.lock();
        loop {
            let Some(oldest) = st.pending.front().map(|p| p.enqueued_at) else {
                if st.writers_closed {
                    return None;
                }
                st.publish_gauges(&shared.metrics);
                st = shared.wait_timeout(st, GAUGE_REFRESH);
                continue;
            };
            let now = Instant::now();
            // Under load `enough` appends arrive well within the interval: hold a group open
            // no longer than twice what they take at the recent rate, so that a pause of the
            // senders (or of the task that appends for them) does not hold the records before
            // it for the whole interval.
            let spacing = self.arrivals.time_for(enough, interval);
            let deadline = match self.last_fsync_start {
                Some(last) => (oldest + delay).max(last + spacing),
                None => oldest + delay,
            };
            if now < deadline
                && !st.writers_closed
                && st.pending_bytes < MAX_BATCH_BYTES
                && st.pending.len() < enough.min(MAX_BATCH_RECORDS)
            {
                st = shared.wait_timeout(st, deadline - now);
                continue;
            }

            // Admit records in order while they fit in `max_bytes`.
            let mut sim_len = self.active.as_ref().map(|a| a.len);
            let mut need = 0u64;
            let mut bytes = 0u64;
            let mut count = 0usize;
            for p in &st.pending {
                let frame = format::frame_len(p.data.len());
                let (extra, len_after) = match sim_len {
                    Some(l) if l + frame <= cfg.segment_bytes || l == SEGMENT_HEADER_LEN => {
                        (frame, l + frame)
                    }
                    _ => (SEGMENT_HEADER_LEN + frame, SEGMENT_HEADER_LEN + frame),
                };
                if st.total_bytes + need + extra > cfg.max_bytes {
                    break;
                }
                need += extra;
                bytes += frame;
                sim_len = Some(len_after);
                count += 1;
                if count >= MAX_BATCH_RECORDS || bytes >= MAX_BATCH_BYTES {
                    break;
                }
            }

            if count == 0 {
                // Nothing will free space once the reader is gone, and a shutdown does not wait
                // for it.
                if st.writers_closed || st.reader_closed {
                    let rest: Vec<Pending> = st.pending.drain(..).collect();
                    st.pending_bytes = 0;
                    drop(st);
                    warn!(
                        records = rest.len(),
                        "Spool closed while full; unwritten appends were failed."
                    );
                    for p in rest {
                        let _ = p.done.send(Err(SpoolError::Closed));
                    }
                    return None;
                }
                if !st.full {
                    st.full = true;
                    warn!(
                        bytes = st.total_bytes,
                        max_bytes = cfg.max_bytes,
                        "Spool is full; appends wait until QuestDB catches up."
                    );
                }
                st.publish_gauges(&shared.metrics);
                st = shared.wait_timeout(st, GAUGE_REFRESH);
                continue;
            }
            if st.full {
                st.full = false;
                info!(
                    bytes = st.total_bytes,
                    max_bytes = cfg.max_bytes,
                    "Spool has room again."
                );
            }
            let batch: VecDeque<Pending> = st.pending.drain(..count).collect();
            st.pending_bytes -= bytes;
            if let Some(last) = self.last_fsync_start {
                self.arrivals
                    .observe(count, now.saturating_duration_since(last));
            }
            return Some(batch);
        }
    }

    /// Writes and fsyncs one batch and publishes it as durable. Returns the first record's
    /// sequence number; the caller resolves the futures.
    fn write_batch(&mut self, batch: &VecDeque<Pending>) -> Result<u64, SpoolError> {
        let shared = Arc::clone(&self.shared);
        let started = Instant::now();
        self.last_fsync_start = Some(started);
        let mut buf = Vec::with_capacity(batch.iter().map(|p| p.data.len() + 32).sum());
        let mut touched: Vec<(u64, SegMeta)> = Vec::new();
        let mut added_bytes = 0u64;
        let mut seq = self.next_seq;
        // Until this batch is durable, a failure rolls the files back to this.
        let mut rollback = Rollback {
            active: self
                .active
                .as_ref()
                .map(|a| (a.base, a.path.clone(), a.len)),
            created: Vec::new(),
        };
        let result = self.write_frames(
            batch,
            &mut buf,
            &mut touched,
            &mut added_bytes,
            &mut seq,
            &mut rollback,
        );
        if let Err(error) = result {
            self.rollback = Some(rollback);
            return Err(error);
        }

        shared
            .metrics
            .commit_duration
            .observe(started.elapsed().as_secs_f64());

        let records = seq - self.next_seq;
        {
            let mut st = shared.lock();
            for (base, meta) in touched {
                st.segments.insert(base, meta);
            }
            st.total_bytes += added_bytes;
            st.durable_next = seq;
            for (i, p) in batch.iter().enumerate() {
                st.index_timestamp(self.next_seq + i as u64, p.appended_at_ms);
            }
            st.group_commits += 1;
            st.appended_records += records;
            st.publish_gauges(&shared.metrics);
        }
        shared.metrics.appended_records.inc_by(records);
        shared.durable_tx.send_replace(seq);
        let first = self.next_seq;
        self.next_seq = seq;
        Ok(first)
    }

    /// Frames the batch into the active segment (rolling over as needed), writes and fsyncs.
    fn write_frames(
        &mut self,
        batch: &VecDeque<Pending>,
        buf: &mut Vec<u8>,
        touched: &mut Vec<(u64, SegMeta)>,
        added_bytes: &mut u64,
        seq: &mut u64,
        rollback: &mut Rollback,
    ) -> Result<(), SpoolError> {
        let shared = Arc::clone(&self.shared);
        let cfg = &shared.config;
        let faults = shared.faults.as_ref();
        for p in batch {
            let frame = format::frame_len(p.data.len());
            let roll = match &self.active {
                None => true,
                Some(a) => a.len + frame > cfg.segment_bytes && a.len > SEGMENT_HEADER_LEN,
            };
            if roll {
                if let Some(a) = self.active.as_mut() {
                    flush(faults, a, buf)?;
                    touched.push((
                        a.base,
                        SegMeta {
                            path: a.path.clone(),
                            len: a.len,
                            end_seq: *seq,
                        },
                    ));
                }
                let path = segment::segment_path(&cfg.dir, *seq);
                rollback.created.push(path.clone());
                let file = segment::create_segment(faults, &cfg.dir, &path, *seq)?;
                *added_bytes += SEGMENT_HEADER_LEN;
                self.active = Some(Active {
                    base: *seq,
                    file,
                    path,
                    len: SEGMENT_HEADER_LEN,
                });
            }
            format::encode_frame(buf, *seq, p.appended_at_ms, &p.data);
            if let Some(a) = self.active.as_mut() {
                a.len += frame;
            }
            *added_bytes += frame;
            *seq += 1;
        }
        if let Some(a) = self.active.as_mut() {
            flush(faults, a, buf)?;
            touched.push((
                a.base,
                SegMeta {
                    path: a.path.clone(),
                    len: a.len,
                    end_seq: *seq,
                },
            ));
        }
        Ok(())
    }
}

/// Writes the buffered frames to the active segment and fsyncs it (data and size).
fn flush(
    faults: &dyn DiskFaults,
    active: &mut Active,
    buf: &mut Vec<u8>,
) -> Result<(), SpoolError> {
    if !buf.is_empty() {
        disk::write_all(faults, &mut active.file, &active.path, buf)
            .map_err(|e| SpoolError::io(&active.path, e))?;
        buf.clear();
    }
    disk::sync_data(faults, &active.file, &active.path).map_err(|e| SpoolError::io(&active.path, e))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::ArrivalRate;

    #[test]
    fn the_wait_for_enough_appends_follows_the_recent_rate_and_never_exceeds_the_interval() {
        let interval = Duration::from_millis(40);
        let mut rate = ArrivalRate::default();
        // Nothing known yet: the whole interval.
        assert_eq!(rate.time_for(32, interval), interval);
        // 18,000 appends/s: 32 take 1.8 ms; a group is held open at most twice that.
        for _ in 0..50 {
            rate.observe(36, Duration::from_millis(2));
        }
        let wait = rate.time_for(32, interval);
        assert!(
            wait > Duration::from_micros(3_400) && wait < Duration::from_micros(3_700),
            "{wait:?}"
        );
        // Batches of uneven length average as a ratio: 10 in 0.5 ms and 62 in 3.5 ms are
        // 18,000/s too.
        for _ in 0..50 {
            rate.observe(10, Duration::from_micros(500));
            rate.observe(62, Duration::from_micros(3_500));
        }
        let wait = rate.time_for(32, interval);
        assert!(
            wait > Duration::from_micros(3_000) && wait < Duration::from_micros(4_200),
            "{wait:?}"
        );
        // A trickle of 1,000/s: 32 take 32 ms; twice that is over the interval.
        for _ in 0..50 {
            rate.observe(40, Duration::from_millis(40));
        }
        assert_eq!(rate.time_for(32, interval), interval);
        // A zero-length observation changes nothing.
        let before = rate.time_for(32, interval);
        rate.observe(10, Duration::ZERO);
        assert_eq!(rate.time_for(32, interval), before);
    }
}
