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
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{oneshot, watch};
use tracing::{error, info, warn};

use super::error::SpoolError;
use super::format::{self, SEGMENT_HEADER_LEN};
use super::segment;
use super::state::{now_ms, Pending, SegMeta, Shared};
use super::{Position, SpoolStats};

/// A batch is cut at this many bytes even if more is queued (bounds the write buffer).
const MAX_BATCH_BYTES: u64 = 8 << 20;
/// A batch is cut at this many records even if more is queued.
const MAX_BATCH_RECORDS: usize = 16_384;
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
    /// [`SpoolError::Closed`] after shutdown, [`SpoolError::Failed`] after a write or fsync
    /// failure (the spool must be reopened).
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
            if let Some(reason) = &st.failed {
                return Err(SpoolError::Failed(reason.clone()));
            }
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
}

impl WriterThread {
    fn run(mut self) {
        while let Some(batch) = self.take_batch() {
            let error = match self.write_batch(&batch) {
                Ok(first) => {
                    for (i, p) in batch.into_iter().enumerate() {
                        let _ = p.done.send(Ok(Position(first + i as u64)));
                    }
                    continue;
                }
                Err(error) => error,
            };
            // What reached the disk is unknown (an fsync error may have dropped dirty pages),
            // so stop here; reopening runs recovery, which re-establishes the durable prefix.
            error!(%error, "Spool write failed; refusing further appends until reopened.");
            let reason = error.to_string();
            let rest: Vec<Pending> = {
                let mut st = self.shared.lock();
                st.failed = Some(reason.clone());
                st.pending_bytes = 0;
                st.pending.drain(..).collect()
            };
            for p in batch.into_iter().chain(rest) {
                let _ = p.done.send(Err(SpoolError::Failed(reason.clone())));
            }
            return;
        }
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
            let deadline = match self.last_fsync_start {
                Some(last) => (oldest + delay).max(last + interval),
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
            return Some(batch);
        }
    }

    /// Writes and fsyncs one batch and publishes it as durable. Returns the first record's
    /// sequence number; the caller resolves the futures.
    fn write_batch(&mut self, batch: &VecDeque<Pending>) -> Result<u64, SpoolError> {
        let shared = Arc::clone(&self.shared);
        let cfg = &shared.config;
        let started = Instant::now();
        self.last_fsync_start = Some(started);
        let mut buf = Vec::with_capacity(batch.iter().map(|p| p.data.len() + 32).sum());
        let mut touched: Vec<(u64, SegMeta)> = Vec::new();
        let mut added_bytes = 0u64;
        let mut seq = self.next_seq;

        for p in batch {
            let frame = format::frame_len(p.data.len());
            let roll = match &self.active {
                None => true,
                Some(a) => a.len + frame > cfg.segment_bytes && a.len > SEGMENT_HEADER_LEN,
            };
            if roll {
                if let Some(a) = self.active.as_mut() {
                    flush(a, &mut buf)?;
                    touched.push((
                        a.base,
                        SegMeta {
                            path: a.path.clone(),
                            len: a.len,
                            end_seq: seq,
                        },
                    ));
                }
                let (file, path) = segment::create_segment(&cfg.dir, seq)?;
                added_bytes += SEGMENT_HEADER_LEN;
                self.active = Some(Active {
                    base: seq,
                    file,
                    path,
                    len: SEGMENT_HEADER_LEN,
                });
            }
            format::encode_frame(&mut buf, seq, p.appended_at_ms, &p.data);
            if let Some(a) = self.active.as_mut() {
                a.len += frame;
            }
            added_bytes += frame;
            seq += 1;
        }
        if let Some(a) = self.active.as_mut() {
            flush(a, &mut buf)?;
            touched.push((
                a.base,
                SegMeta {
                    path: a.path.clone(),
                    len: a.len,
                    end_seq: seq,
                },
            ));
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
}

/// Writes the buffered frames to the active segment and fsyncs it (data and size).
fn flush(active: &mut Active, buf: &mut Vec<u8>) -> Result<(), SpoolError> {
    if !buf.is_empty() {
        active
            .file
            .write_all(buf)
            .map_err(|e| SpoolError::io(&active.path, e))?;
        buf.clear();
    }
    active
        .file
        .sync_data()
        .map_err(|e| SpoolError::io(&active.path, e))
}
