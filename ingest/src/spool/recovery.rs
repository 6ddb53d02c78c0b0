//! Recovery at open: validate every segment, truncate torn or corrupt data, drop segments that
//! were already committed, and rebuild the in-memory index.
//!
//! Damage is never fatal. Within a segment, everything before the first bad frame is kept and
//! the rest is truncated away, because frames carry no resynchronisation marker and guessing a
//! restart point inside garbage could resurrect bytes that only look like a record:
//!
//! - in the last segment this is the expected torn tail of a crash (records that were being
//!   written were never acknowledged, so the broker still has them): logged at WARN;
//! - in an earlier segment it means acknowledged data was damaged on disk: logged at ERROR,
//!   the segment's rest is truncated and reading continues with the next segment (sequence
//!   numbers then have a gap, which readers tolerate);
//! - a segment whose header is unreadable is renamed to `*.corrupt` (kept for inspection, no
//!   longer counted as spool data), except a header-less *last* segment, which is a segment
//!   creation torn by a crash and is deleted.
//!
//! Every such event is counted in [`RecoveryReport`] and in
//! `weijian_spool_corruption_events_total`.

use std::collections::{BTreeMap, VecDeque};
use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use tracing::{error, info, warn};

use super::error::SpoolError;
use super::format::{self, Decoded, HeaderError, SEGMENT_HEADER_LEN};
use super::metrics::SpoolMetrics;
use super::segment::{self, COMMITTED_FILE, COMMITTED_TMP_FILE};
use super::state::{SegMeta, TS_INDEX_RESOLUTION_MS};
use super::Position;

/// What recovery found and did when the spool was opened.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Segment files kept.
    pub segments: usize,
    /// Valid records found in the kept segments (committed ones included).
    pub records: u64,
    /// Durable records not yet committed; the reader starts with the first of them.
    pub records_unwritten: u64,
    /// The last committed position, if anything was ever committed.
    pub committed: Option<Position>,
    /// Torn or corrupt data found and cut away (or set aside). Empty after a clean shutdown.
    pub corruption: Vec<CorruptionEvent>,
    /// Fully committed segments that a crash left behind and recovery deleted.
    pub removed_committed_segments: usize,
}

impl RecoveryReport {
    /// Whether recovery found nothing damaged.
    pub fn is_clean(&self) -> bool {
        self.corruption.is_empty()
    }
}

/// One place where recovery found damage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorruptionEvent {
    /// The file concerned.
    pub path: PathBuf,
    /// Byte offset where the damage starts (the file now ends there).
    pub offset: u64,
    /// Bytes cut away (or set aside, for an unreadable segment).
    pub dropped_bytes: u64,
    /// What was wrong.
    pub reason: String,
    /// Whether it was the last segment (a crash's torn tail) rather than an earlier one.
    pub in_last_segment: bool,
}

/// The result of recovery: the state the spool starts from.
#[derive(Debug)]
pub(crate) struct Recovered {
    pub(crate) segments: BTreeMap<u64, SegMeta>,
    pub(crate) total_bytes: u64,
    pub(crate) next_seq: u64,
    pub(crate) committed_next: u64,
    pub(crate) ts_index: VecDeque<(u64, u64)>,
    /// The last segment opened for appending, if appending can continue in it.
    pub(crate) active: Option<(u64, File)>,
    pub(crate) report: RecoveryReport,
}

/// Runs recovery on `dir` (blocking I/O; call from a blocking context).
pub(crate) fn recover(
    dir: &Path,
    max_payload: u64,
    metrics: &SpoolMetrics,
) -> Result<Recovered, SpoolError> {
    let existed = dir.is_dir();
    fs::create_dir_all(dir).map_err(|e| SpoolError::io(dir, e))?;
    if !existed {
        // Make the new directory's own entry durable.
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            segment::fsync_dir(parent)?;
        }
    }
    let mut report = RecoveryReport::default();

    let tmp = dir.join(COMMITTED_TMP_FILE);
    match fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(SpoolError::io(&tmp, e)),
    }

    let committed = read_committed(dir, &mut report)?;

    let listed = segment::list_segments(dir)?;
    let count = listed.len();
    let mut segments = BTreeMap::new();
    let mut ts_index: VecDeque<(u64, u64)> = VecDeque::new();
    let mut total_bytes = 0;
    let mut prev_end: Option<u64> = None;
    for (i, (base, path)) in listed.into_iter().enumerate() {
        let last = i + 1 == count;
        let Some(meta) = scan_segment(base, &path, last, max_payload, &mut ts_index, &mut report)?
        else {
            continue;
        };
        if let Some(prev) = prev_end {
            if base < prev {
                warn!(
                    path = %path.display(),
                    base,
                    previous_end = prev,
                    "Spool segment overlaps the previous one; overlapping records are read once."
                );
            }
        }
        prev_end = Some(meta.end_seq);
        report.records += meta.end_seq - base;
        total_bytes += meta.len;
        segments.insert(base, meta);
    }

    // Without a committed file, replay everything that is there.
    let committed_next = committed.unwrap_or_else(|| segments.keys().next().copied().unwrap_or(0));

    // Segments wholly below the committed position were about to be deleted when the process
    // stopped: finish the job.
    let mut stale = Vec::new();
    let bases: Vec<u64> = segments.keys().copied().collect();
    for pair in bases.windows(2) {
        if pair[1] <= committed_next {
            stale.push(pair[0]);
        }
    }
    let mut stale_paths = Vec::new();
    for base in &stale {
        if let Some(meta) = segments.remove(base) {
            total_bytes -= meta.len;
            stale_paths.push(meta.path);
        }
    }
    segment::delete_segments(dir, &stale_paths)?;
    report.removed_committed_segments = stale_paths.len();

    let end = segments.values().next_back().map_or(0, |m| m.end_seq);
    let next_seq = end.max(committed_next);
    let active = match segments.iter().next_back() {
        Some((&base, meta)) if meta.end_seq == next_seq => {
            Some((base, segment::open_for_append(&meta.path)?))
        }
        _ => None,
    };

    let mut index = ts_index;
    while index.len() >= 2 && index[1].0 <= committed_next {
        index.pop_front();
    }

    report.segments = segments.len();
    report.records_unwritten = next_seq.saturating_sub(committed_next);
    report.committed = committed.and_then(|c| c.checked_sub(1)).map(Position);
    metrics
        .corruption_events
        .inc_by(report.corruption.len() as u64);
    info!(
        dir = %dir.display(),
        segments = report.segments,
        records_unwritten = report.records_unwritten,
        corruption_events = report.corruption.len(),
        "Opened spool."
    );
    Ok(Recovered {
        segments,
        total_bytes,
        next_seq,
        committed_next,
        ts_index: index,
        active,
        report,
    })
}

/// Reads the committed position (first uncommitted sequence number). A missing or unreadable
/// file means "nothing known committed": everything present is replayed.
fn read_committed(dir: &Path, report: &mut RecoveryReport) -> Result<Option<u64>, SpoolError> {
    let path = dir.join(COMMITTED_FILE);
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(SpoolError::io(&path, e)),
    };
    match format::decode_committed(&bytes) {
        Ok(next) => Ok(Some(next)),
        Err(reason) => {
            warn!(
                path = %path.display(),
                error = reason,
                "Spool committed file is unreadable; replaying all segments."
            );
            report.corruption.push(CorruptionEvent {
                path,
                offset: 0,
                dropped_bytes: bytes.len() as u64,
                reason: reason.to_string(),
                in_last_segment: false,
            });
            Ok(None)
        }
    }
}

/// Validates one segment, truncating it after its last good record. Returns `None` when the
/// segment was removed or set aside.
fn scan_segment(
    base: u64,
    path: &Path,
    last: bool,
    max_payload: u64,
    ts_index: &mut VecDeque<(u64, u64)>,
    report: &mut RecoveryReport,
) -> Result<Option<SegMeta>, SpoolError> {
    let buf = fs::read(path).map_err(|e| SpoolError::io(path, e))?;
    let header = match format::decode_segment_header(&buf) {
        Ok(b) if b == base => Ok(()),
        Ok(_) => Err("segment header names another base sequence"),
        Err(HeaderError::Short) => Err("segment header is incomplete"),
        Err(HeaderError::Invalid(reason)) => Err(reason),
    };
    if let Err(reason) = header {
        let event = CorruptionEvent {
            path: path.to_path_buf(),
            offset: 0,
            dropped_bytes: buf.len() as u64,
            reason: reason.to_string(),
            in_last_segment: last,
        };
        if last && buf.len() < SEGMENT_HEADER_LEN as usize {
            warn!(path = %path.display(), error = reason, "Deleted a spool segment whose creation was torn.");
            fs::remove_file(path).map_err(|e| SpoolError::io(path, e))?;
        } else {
            let aside = path.with_extension("wjs.corrupt");
            error!(
                path = %path.display(),
                moved_to = %aside.display(),
                error = reason,
                "Set aside a spool segment with an unreadable header."
            );
            fs::rename(path, &aside).map_err(|e| SpoolError::io(path, e))?;
        }
        if let Some(dir) = path.parent() {
            segment::fsync_dir(dir)?;
        }
        report.corruption.push(event);
        return Ok(None);
    }

    let mut off = SEGMENT_HEADER_LEN as usize;
    let mut expected = base;
    let damage: Option<&'static str> = loop {
        if off == buf.len() {
            break None;
        }
        match format::decode_frame(&buf[off..], max_payload) {
            Decoded::Frame(frame) => {
                if frame.seq != expected {
                    break Some("unexpected record sequence number");
                }
                let due = match ts_index.back() {
                    None => true,
                    Some(&(_, t)) => {
                        frame.appended_at_ms >= t.saturating_add(TS_INDEX_RESOLUTION_MS)
                    }
                };
                if due {
                    ts_index.push_back((frame.seq, frame.appended_at_ms));
                }
                expected += 1;
                off += frame.len() as usize;
            }
            Decoded::Incomplete { .. } => break Some("record truncated (torn write)"),
            Decoded::Corrupt(reason) => break Some(reason),
        }
    };

    if let Some(reason) = damage {
        let dropped = (buf.len() - off) as u64;
        if last {
            warn!(path = %path.display(), offset = off, dropped_bytes = dropped, error = reason, "Truncated a torn spool tail.");
        } else {
            error!(path = %path.display(), offset = off, dropped_bytes = dropped, error = reason, "Truncated a corrupt spool segment; records after the damage in this segment are lost.");
        }
        let f = OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|e| SpoolError::io(path, e))?;
        f.set_len(off as u64)
            .and_then(|()| f.sync_all())
            .map_err(|e| SpoolError::io(path, e))?;
        report.corruption.push(CorruptionEvent {
            path: path.to_path_buf(),
            offset: off as u64,
            dropped_bytes: dropped,
            reason: reason.to_string(),
            in_last_segment: last,
        });
    }
    Ok(Some(SegMeta {
        path: path.to_path_buf(),
        len: off as u64,
        end_seq: expected,
    }))
}
