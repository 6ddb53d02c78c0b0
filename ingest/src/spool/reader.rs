//! The drain side: `SpoolReader` returns durable records in order, and `commit` records durably
//! how far QuestDB accepted them and deletes segments wholly below that.
//!
//! Reads run on tokio's blocking pool with positioned reads (`pread`), and the cursor only
//! advances when the read's result is handed back, so cancelling `next_batch` loses nothing.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use tokio::sync::watch;

use super::error::SpoolError;
use super::format::{self, Decoded, SEGMENT_HEADER_LEN};
use super::segment;
use super::state::Shared;
use super::{Position, Record, SpoolStats};

/// Bytes read from a segment per `pread`.
const READ_CHUNK: u64 = 256 << 10;
/// A batch stops growing past this many payload bytes.
const MAX_BATCH_BYTES: usize = 4 << 20;

/// Where the reader is: the next sequence number it may return, and (once located) the
/// segment and byte offset to read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cursor {
    next_seq: u64,
    at: Option<(u64, u64)>,
}

impl Cursor {
    fn at_seq(next_seq: u64) -> Self {
        Self { next_seq, at: None }
    }
}

/// The single consumer of the spool (the QuestDB writer task).
///
/// Dropping it tells the writer thread no commits will come any more.
#[derive(Debug)]
pub struct SpoolReader {
    shared: Arc<Shared>,
    durable: watch::Receiver<u64>,
    writer_done: watch::Receiver<bool>,
    cursor: Cursor,
    file: Option<(u64, Arc<File>)>,
    /// First sequence number not yet committed (mirrors the state, owned here).
    committed_next: u64,
    /// A commit running on the blocking pool ([`SpoolReader::commit_in_background`]).
    committing: Option<tokio::task::JoinHandle<Result<u64, SpoolError>>>,
}

impl Drop for SpoolReader {
    fn drop(&mut self) {
        self.shared.lock().reader_closed = true;
        self.shared.wake_writer.notify_all();
    }
}

impl SpoolReader {
    pub(crate) fn new(shared: Arc<Shared>, committed_next: u64) -> Self {
        let durable = shared.durable_tx.subscribe();
        let writer_done = shared.writer_done.clone();
        Self {
            shared,
            durable,
            writer_done,
            cursor: Cursor::at_seq(committed_next),
            file: None,
            committed_next,
            committing: None,
        }
    }

    /// Returns up to `max_records` durable records following the last one returned (or the
    /// committed position, after open or [`rewind_to_committed`](Self::rewind_to_committed)).
    ///
    /// Waits up to `max_wait` for new records and returns an empty vector if none arrived.
    /// Cancel-safe: if the future is dropped, no record is skipped.
    ///
    /// # Errors
    /// [`SpoolError::Closed`] once the writer side has shut down and every durable record has
    /// been returned; [`SpoolError::Corrupt`] if a durable record fails its checksum when read
    /// back; [`SpoolError::Io`] on read errors.
    pub async fn next_batch(
        &mut self,
        max_records: usize,
        max_wait: Duration,
    ) -> Result<Vec<Record>, SpoolError> {
        let max_records = max_records.max(1);
        let deadline = tokio::time::Instant::now() + max_wait;
        loop {
            let durable = *self.durable.borrow_and_update();
            if durable > self.cursor.next_seq {
                let batch = self.read(max_records).await?;
                if !batch.is_empty() {
                    return Ok(batch);
                }
            }
            let changed = async {
                tokio::select! {
                    r = self.durable.changed() => r.is_ok(),
                    // The writer thread has exited: nothing new will become durable.
                    _ = self.writer_done.wait_for(|done| *done) => false,
                }
            };
            match tokio::time::timeout_at(deadline, changed).await {
                Err(_elapsed) => return Ok(Vec::new()),
                Ok(true) => {}
                Ok(false) => {
                    if *self.durable.borrow_and_update() > self.cursor.next_seq {
                        let batch = self.read(max_records).await?;
                        if !batch.is_empty() {
                            return Ok(batch);
                        }
                    }
                    return Err(SpoolError::Closed);
                }
            }
        }
    }

    /// Moves the reader back to the committed position, so the next batches re-read every
    /// record not yet committed (after a failed QuestDB write).
    pub fn rewind_to_committed(&mut self) {
        // A background commit still running moves the position later: callers wait for it
        // first (`finish_commit`). The shared value can be ahead if a cancelled `commit` finished in the background.
        self.committed_next = self.committed_next.max(self.shared.lock().committed_next);
        self.cursor = Cursor::at_seq(self.committed_next);
    }

    /// Moves the reader back to the oldest record still on disk, committed ones included, and
    /// returns its sequence number (`None` when the spool holds no committed record). For
    /// rebuilding state that was lost with the records it covered (a missing rule snapshot);
    /// committing those records again is a no-op.
    pub fn rewind_to_oldest(&mut self) -> Option<u64> {
        let oldest = self.shared.lock().segments.keys().next().copied()?;
        if oldest >= self.committed_next {
            return None;
        }
        self.cursor = Cursor::at_seq(oldest);
        Some(oldest)
    }

    /// Records durably that every record up to and including `upto` was accepted downstream,
    /// then deletes segments that hold only committed records (and wakes appends waiting for
    /// space). Committing a position at or before the current committed one does nothing.
    ///
    /// # Errors
    /// [`SpoolError::CommitBeyondRead`] if `upto` was not returned by this reader yet;
    /// [`SpoolError::Io`] if the committed file cannot be written or a segment deleted (the
    /// in-memory committed position only advances once the file is durable).
    pub async fn commit(&mut self, upto: Position) -> Result<(), SpoolError> {
        // One commit at a time, in order: the one started in the background first.
        self.finish_commit().await;
        let Some(next) = self.commit_target(upto)? else {
            return Ok(());
        };
        let shared = Arc::clone(&self.shared);
        let result = tokio::task::spawn_blocking(move || commit_blocking(&shared, next))
            .await
            .map_err(|e| SpoolError::Failed(format!("spool commit task failed: {e}")))
            .and_then(|r| r);
        self.take_commit(result)
    }

    /// Starts committing up to `upto` on the blocking pool and returns at once, so the caller
    /// (the drain, which also runs the rules) never waits for the committed file's fsyncs.
    /// While a commit runs, another is not started: the caller asks again on its next pass
    /// (the position only grows). Take the outcome with [`SpoolReader::reap_commit`] or
    /// [`SpoolReader::finish_commit`]; [`SpoolReader::commit`] waits for it first.
    ///
    /// # Errors
    /// As [`SpoolReader::commit`], for a position this reader has not returned yet.
    pub async fn commit_in_background(&mut self, upto: Position) -> Result<(), SpoolError> {
        self.reap_commit().await;
        if self.committing.is_some() {
            return Ok(());
        }
        let Some(next) = self.commit_target(upto)? else {
            return Ok(());
        };
        let shared = Arc::clone(&self.shared);
        self.committing = Some(tokio::task::spawn_blocking(move || {
            commit_blocking(&shared, next)
        }));
        Ok(())
    }

    /// Takes the outcome of a background commit if it has finished (never waits for one
    /// that is still running).
    pub async fn reap_commit(&mut self) {
        if self.committing.as_ref().is_some_and(|h| h.is_finished()) {
            // Finished: awaiting it returns at once.
            self.finish_commit().await;
        }
    }

    /// Waits for a background commit, if one is running, and takes its outcome.
    pub async fn finish_commit(&mut self) {
        if let Some(handle) = self.committing.take() {
            let result = handle
                .await
                .map_err(|e| SpoolError::Failed(format!("spool commit task failed: {e}")))
                .and_then(|r| r);
            let _ = self.take_commit(result);
        }
    }

    /// Whether a commit is running in the background.
    pub fn is_committing(&self) -> bool {
        self.committing.is_some()
    }

    /// The first sequence number to commit for `upto`, or `None` when it is already committed.
    fn commit_target(&self, upto: Position) -> Result<Option<u64>, SpoolError> {
        let next = upto.0.saturating_add(1);
        if next > self.cursor.next_seq {
            return Err(SpoolError::CommitBeyondRead {
                requested: upto.0,
                read_next: self.cursor.next_seq,
            });
        }
        Ok((next > self.committed_next).then_some(next))
    }

    /// Takes a commit's outcome: the committed position, or the failure reported so
    /// `/readyz` shows it (the caller commits again on its next pass).
    fn take_commit(&mut self, result: Result<u64, SpoolError>) -> Result<(), SpoolError> {
        let storage = &self.shared.storage;
        match result {
            Ok(committed) => {
                if storage.recovered("commit") {
                    tracing::info!(
                        store = storage.store().as_str(),
                        "The committed position can be recorded again."
                    );
                }
                self.committed_next = self.committed_next.max(committed);
                Ok(())
            }
            Err(error) => {
                if storage.failed("commit", &error) {
                    tracing::warn!(store = storage.store().as_str(), %error, "Cannot record the committed position; retried on the next commit.");
                }
                // A failure after the committed file was written (deleting a segment) still
                // moved the position.
                self.committed_next = self.committed_next.max(self.shared.lock().committed_next);
                Err(error)
            }
        }
    }

    /// The last committed position, if any record was ever committed.
    pub fn committed(&self) -> Option<Position> {
        self.committed_next.checked_sub(1).map(Position)
    }

    /// Whether appends are currently waiting for space.
    pub fn is_full(&self) -> bool {
        self.shared.lock().full
    }

    /// A snapshot of the spool's size and progress.
    pub fn stats(&self) -> SpoolStats {
        self.shared.lock().stats()
    }

    async fn read(&mut self, max_records: usize) -> Result<Vec<Record>, SpoolError> {
        let shared = Arc::clone(&self.shared);
        let cursor = self.cursor;
        let file = self.file.clone();
        let (records, cursor, file) =
            tokio::task::spawn_blocking(move || read_blocking(&shared, cursor, file, max_records))
                .await
                .map_err(|e| SpoolError::Failed(format!("spool read task failed: {e}")))??;
        self.cursor = cursor;
        self.file = file;
        Ok(records)
    }
}

type ReadResult = (Vec<Record>, Cursor, Option<(u64, Arc<File>)>);

/// Reads records from `cursor` on, up to the durable end. Blocking.
fn read_blocking(
    shared: &Shared,
    mut cursor: Cursor,
    mut file: Option<(u64, Arc<File>)>,
    max_records: usize,
) -> Result<ReadResult, SpoolError> {
    // A consistent snapshot: segment lengths and `durable_next` are updated together.
    let (segs, durable_next) = {
        let st = shared.lock();
        let segs: Vec<(u64, std::path::PathBuf, u64)> = st
            .segments
            .iter()
            .map(|(&b, m)| (b, m.path.clone(), m.len))
            .collect();
        (segs, st.durable_next)
    };
    let mut out = Vec::new();
    let mut out_bytes = 0usize;
    let mut buf = Vec::new();

    'segments: loop {
        // Locate the cursor's segment.
        let idx = match cursor.at {
            Some((base, _)) => segs.iter().position(|s| s.0 == base),
            None => None,
        };
        let idx = match idx {
            Some(i) => i,
            None => {
                let Some(i) = segs
                    .iter()
                    .rposition(|s| s.0 <= cursor.next_seq)
                    .or(if segs.is_empty() { None } else { Some(0) })
                else {
                    break 'segments;
                };
                cursor.at = Some((segs[i].0, SEGMENT_HEADER_LEN));
                i
            }
        };
        let (base, path, len) = &segs[idx];
        let mut off = cursor.at.map_or(SEGMENT_HEADER_LEN, |(_, o)| o);

        while off < *len {
            if out.len() >= max_records || out_bytes >= MAX_BATCH_BYTES {
                break 'segments;
            }
            let f = match &file {
                Some((b, f)) if b == base => Arc::clone(f),
                _ => {
                    let f = Arc::new(File::open(path).map_err(|e| SpoolError::io(path, e))?);
                    file = Some((*base, Arc::clone(&f)));
                    f
                }
            };
            let want = (len - off).min(READ_CHUNK);
            read_at(&f, path, &mut buf, off, want)?;
            let mut pos = 0usize;
            loop {
                if out.len() >= max_records || out_bytes >= MAX_BATCH_BYTES {
                    break;
                }
                match format::decode_frame(&buf[pos..], shared.max_payload) {
                    Decoded::Frame(frame) => {
                        if frame.seq >= cursor.next_seq {
                            out_bytes += frame.payload.len();
                            out.push(Record {
                                pos: Position(frame.seq),
                                data: frame.payload.to_vec(),
                                appended_at: UNIX_EPOCH
                                    + Duration::from_millis(frame.appended_at_ms),
                            });
                            cursor.next_seq = frame.seq + 1;
                        }
                        pos += frame.len() as usize;
                        if pos == buf.len() {
                            break;
                        }
                    }
                    Decoded::Incomplete { needed } => {
                        if pos == 0 {
                            // A frame larger than the chunk: read exactly it.
                            if off + needed > *len {
                                shared.metrics.corruption_events.inc();
                                return Err(SpoolError::Corrupt {
                                    path: path.clone(),
                                    offset: off,
                                    reason: "record extends past the durable end",
                                });
                            }
                            read_at(&f, path, &mut buf, off, needed)?;
                            continue;
                        }
                        break;
                    }
                    Decoded::Corrupt(reason) => {
                        shared.metrics.corruption_events.inc();
                        return Err(SpoolError::Corrupt {
                            path: path.clone(),
                            offset: off + pos as u64,
                            reason,
                        });
                    }
                }
            }
            off += pos as u64;
            cursor.at = Some((*base, off));
        }

        if idx + 1 < segs.len() {
            cursor.at = Some((segs[idx + 1].0, SEGMENT_HEADER_LEN));
        } else {
            // Everything below `durable_next` has now been seen (returned, already returned,
            // or absent because recovery cut it out).
            cursor.next_seq = cursor.next_seq.max(durable_next);
            break 'segments;
        }
    }
    Ok((out, cursor, file))
}

fn read_at(
    f: &File,
    path: &std::path::Path,
    buf: &mut Vec<u8>,
    off: u64,
    len: u64,
) -> Result<(), SpoolError> {
    buf.resize(len as usize, 0);
    f.read_exact_at(buf, off)
        .map_err(|e| SpoolError::io(path, e))
}

/// Writes the committed file, then deletes segments wholly below it, and returns the committed
/// position now in force. Blocking.
///
/// Serialised by `commit_lock` and monotonic: a commit task left running by a cancelled
/// `commit` can neither interleave with the next one nor move the position backwards.
fn commit_blocking(shared: &Shared, next: u64) -> Result<u64, SpoolError> {
    let _serial = shared
        .commit_lock
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let current = shared.lock().committed_next;
    if next <= current {
        return Ok(current);
    }
    let dir = &shared.config.dir;
    segment::write_committed(shared.faults.as_ref(), dir, next)?;
    let doomed: Vec<(u64, std::path::PathBuf)> = {
        let mut st = shared.lock();
        st.committed_next = next;
        st.prune_index();
        let bases: Vec<u64> = st.segments.keys().copied().collect();
        let doomed = bases
            .windows(2)
            .filter(|w| w[1] <= next)
            .filter_map(|w| st.segments.get(&w[0]).map(|m| (w[0], m.path.clone())))
            .collect();
        st.publish_gauges(&shared.metrics);
        doomed
    };
    if doomed.is_empty() {
        return Ok(next);
    }
    let mut deleted = Vec::new();
    let mut result = Ok(());
    for (base, path) in &doomed {
        match segment::remove_segment(path) {
            Ok(()) => deleted.push(*base),
            Err(error) => {
                result = result.and(Err(error));
            }
        }
    }
    if !deleted.is_empty() {
        result = result.and(segment::fsync_dir(dir));
    }
    {
        let mut st = shared.lock();
        for base in &deleted {
            if let Some(meta) = st.segments.remove(base) {
                st.total_bytes -= meta.len;
            }
        }
        st.publish_gauges(&shared.metrics);
    }
    shared.wake_writer.notify_all();
    result.map(|()| next)
}
