//! Recovery at open: validate every segment, truncate torn or corrupt data, drop segments that
//! were already committed, and rebuild the in-memory index.
//!
//! Damage is never fatal, and loses only the damaged records:
//!
//! - **Damage inside a segment** (a frame that fails its checksum, an impossible length, a
//!   sequence number going backwards) is skipped: recovery searches the following bytes for
//!   the next valid frame and resumes there. A resynchronisation point must pass the frame's
//!   checksum, carry a sequence number above every record kept so far (so nothing is read
//!   twice or out of order) and no further ahead than the skipped bytes could hold (each
//!   frame takes at least 24 bytes), and be followed by another valid frame or the end of the
//!   segment. The damaged bytes are moved to `<segment>.at-<offset>.damaged` beside the
//!   segment (for inspection; no longer spool data), the segment is rewritten without them
//!   (temporary file, fsync, rename), and the records lost are estimated from the sequence
//!   numbers on either side: logged at ERROR and counted
//!   (`weijian_spool_records_lost_total`).
//! - **Damage with no valid frame after it** in the last segment is the expected torn tail of
//!   a crash (records being written were never acknowledged, so the broker still has them):
//!   cut off, logged at WARN. In an earlier segment it is acknowledged data damaged on disk:
//!   the bytes are moved aside as above, the segment truncated, logged at ERROR; the records
//!   lost are those up to the next segment's first one.
//! - A segment whose header is unreadable is renamed to `*.corrupt` (kept for inspection, no
//!   longer counted as spool data), except a header-less *last* segment, which is a segment
//!   creation torn by a crash and is deleted.
//!
//! Sequence numbers then have gaps, which readers tolerate. Every event is counted in
//! [`RecoveryReport`] and in `weijian_spool_corruption_events_total`.

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
    /// Records lost in the damage, estimated from the sequence numbers on either side (`None`
    /// for a torn tail, whose records were never acknowledged, or when unknown).
    pub records_lost: Option<u64>,
    /// Where the damaged bytes were moved (`None` when they were cut off: a torn tail).
    pub moved_to: Option<PathBuf>,
    /// The sequence number reading resumed at after the damage (`None`: the segment ends).
    pub resumed_at_seq: Option<u64>,
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
    let next_bases: Vec<Option<u64>> = listed
        .iter()
        .skip(1)
        .map(|(b, _)| Some(*b))
        .chain([None])
        .collect();
    let mut segments = BTreeMap::new();
    let mut ts_index: VecDeque<(u64, u64)> = VecDeque::new();
    let mut total_bytes = 0;
    let mut prev_end: Option<u64> = None;
    for (i, (base, path)) in listed.into_iter().enumerate() {
        let last = i + 1 == count;
        let scan = Scan {
            base,
            path: &path,
            last,
            next_base: next_bases[i],
            max_payload,
        };
        let Some(meta) = scan_segment(&scan, &mut ts_index, &mut report)? else {
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
    metrics.records_lost.inc_by(
        report
            .corruption
            .iter()
            .filter_map(|e| e.records_lost)
            .sum(),
    );
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
                records_lost: None,
                moved_to: None,
                resumed_at_seq: None,
            });
            Ok(None)
        }
    }
}

/// One segment to scan, and what recovery knows around it.
struct Scan<'a> {
    base: u64,
    path: &'a Path,
    last: bool,
    /// The next segment's first sequence number (`None` for the last segment).
    next_base: Option<u64>,
    max_payload: u64,
}

/// A stretch of damaged bytes inside a segment, and where reading resumed after it.
struct Damage {
    start: usize,
    end: usize,
    reason: &'static str,
    /// `(sequence number resumed at, records skipped)`; `None` when nothing valid follows.
    resumed: Option<(u64, u64)>,
}

/// Validates one segment: damage is skipped up to the next valid frame (set aside, segment
/// rewritten without it), a damaged end is cut off. Returns `None` when the segment was
/// removed or set aside whole.
fn scan_segment(
    scan: &Scan<'_>,
    ts_index: &mut VecDeque<(u64, u64)>,
    report: &mut RecoveryReport,
) -> Result<Option<SegMeta>, SpoolError> {
    let (base, path, last) = (scan.base, scan.path, scan.last);
    let buf = fs::read(path).map_err(|e| SpoolError::io(path, e))?;
    let header = match format::decode_segment_header(&buf) {
        Ok(b) if b == base => Ok(()),
        Ok(_) => Err("segment header names another base sequence"),
        Err(HeaderError::Short) => Err("segment header is incomplete"),
        Err(HeaderError::Invalid(reason)) => Err(reason),
    };
    if let Err(reason) = header {
        set_aside_unreadable(path, &buf, last, reason, report)?;
        return Ok(None);
    }

    let mut off = SEGMENT_HEADER_LEN as usize;
    let mut expected = base;
    let mut kept_records = 0u64;
    let mut damages: Vec<Damage> = Vec::new();
    while off < buf.len() {
        let reason = match format::decode_frame(&buf[off..], scan.max_payload) {
            // A forward jump is a gap an earlier recovery left (records moved aside).
            Decoded::Frame(frame) if frame.seq >= expected => {
                let due = match ts_index.back() {
                    None => true,
                    Some(&(_, t)) => {
                        frame.appended_at_ms >= t.saturating_add(TS_INDEX_RESOLUTION_MS)
                    }
                };
                if due {
                    ts_index.push_back((frame.seq, frame.appended_at_ms));
                }
                expected = frame.seq + 1;
                kept_records += 1;
                off += frame.len() as usize;
                continue;
            }
            Decoded::Frame(_) => "record sequence number goes backwards",
            Decoded::Incomplete { .. } => "record truncated (torn write)",
            Decoded::Corrupt(reason) => reason,
        };
        match resync(&buf, off, expected, scan.max_payload) {
            Some((next_off, next_seq)) => {
                damages.push(Damage {
                    start: off,
                    end: next_off,
                    reason,
                    resumed: Some((next_seq, next_seq - expected)),
                });
                off = next_off;
            }
            None => {
                damages.push(Damage {
                    start: off,
                    end: buf.len(),
                    reason,
                    resumed: None,
                });
                break;
            }
        }
    }
    report.records += kept_records;
    let kept_len = (buf.len() - damages.iter().map(|d| d.end - d.start).sum::<usize>()) as u64;
    if damages.is_empty() {
        return Ok(Some(SegMeta {
            path: path.to_path_buf(),
            len: kept_len,
            end_seq: expected,
        }));
    }

    let dir = path.parent().unwrap_or(Path::new("."));
    let mut events = Vec::new();
    for d in &damages {
        let torn_tail = last && d.resumed.is_none();
        let moved_to = if torn_tail {
            None
        } else {
            Some(move_aside(path, d.start, &buf[d.start..d.end])?)
        };
        let records_lost = match d.resumed {
            Some((_, skipped)) => Some(skipped),
            None if last => None,
            None => scan.next_base.map(|next| next.saturating_sub(expected)),
        };
        let resumed_at_seq = d.resumed.map(|(seq, _)| seq);
        let dropped = (d.end - d.start) as u64;
        if torn_tail {
            warn!(path = %path.display(), offset = d.start, dropped_bytes = dropped, error = d.reason, "Truncated a torn spool tail.");
        } else {
            error!(
                path = %path.display(),
                offset = d.start,
                end_offset = d.end,
                dropped_bytes = dropped,
                records_lost = ?records_lost,
                resumed_at_seq = ?resumed_at_seq,
                moved_to = %moved_to.as_deref().map_or(String::new(), |p| p.display().to_string()),
                error = d.reason,
                "Damaged spool data set aside; the records in it are lost, everything after it is kept."
            );
        }
        events.push(CorruptionEvent {
            path: path.to_path_buf(),
            offset: d.start as u64,
            dropped_bytes: dropped,
            reason: d.reason.to_string(),
            in_last_segment: last,
            records_lost,
            moved_to,
            resumed_at_seq,
        });
    }

    if damages.iter().all(|d| d.resumed.is_none()) {
        // Only the end is damaged: cut it off.
        let f = OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|e| SpoolError::io(path, e))?;
        f.set_len(kept_len)
            .and_then(|()| f.sync_all())
            .map_err(|e| SpoolError::io(path, e))?;
    } else {
        rewrite_without(path, &buf, &damages)?;
    }
    segment::fsync_dir(dir)?;
    report.corruption.extend(events);
    Ok(Some(SegMeta {
        path: path.to_path_buf(),
        len: kept_len,
        end_seq: expected,
    }))
}

/// Finds the next valid frame after damage at `from` (see the module doc for what counts):
/// its offset and sequence number.
fn resync(buf: &[u8], from: usize, expected: u64, max_payload: u64) -> Option<(usize, u64)> {
    let header = format::FRAME_HEADER_LEN;
    let mut at = from + 1;
    while at + header <= buf.len() {
        let seq = u64::from_le_bytes(buf[at + 8..at + 16].try_into().ok()?);
        // Cheap plausibility first: each skipped record took at least a frame header.
        let plausible =
            seq >= expected && (seq - expected).saturating_mul(header as u64) <= (at - from) as u64;
        if plausible {
            if let Decoded::Frame(frame) = format::decode_frame(&buf[at..], max_payload) {
                let next = at + frame.len() as usize;
                let confirmed = next == buf.len()
                    || matches!(
                        format::decode_frame(&buf[next..], max_payload),
                        Decoded::Frame(f) if f.seq > frame.seq
                    );
                if confirmed {
                    return Some((at, frame.seq));
                }
            }
        }
        at += 1;
    }
    None
}

/// Writes damaged bytes to `<segment>.at-<offset>.damaged` beside the segment (fsynced) and
/// returns its path.
fn move_aside(path: &Path, offset: usize, bytes: &[u8]) -> Result<PathBuf, SpoolError> {
    let name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let aside = path.with_file_name(format!("{name}.at-{offset}.damaged"));
    let mut f = File::create(&aside).map_err(|e| SpoolError::io(&aside, e))?;
    std::io::Write::write_all(&mut f, bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| SpoolError::io(&aside, e))?;
    Ok(aside)
}

/// Replaces the segment by its bytes without the damaged stretches (temporary file, fsync,
/// rename); a crash meanwhile leaves the original, and the next open does it again.
fn rewrite_without(path: &Path, buf: &[u8], damages: &[Damage]) -> Result<(), SpoolError> {
    let tmp = path.with_extension("wjs.rewrite");
    let mut kept = Vec::with_capacity(buf.len());
    let mut from = 0;
    for d in damages {
        kept.extend_from_slice(&buf[from..d.start]);
        from = d.end;
    }
    kept.extend_from_slice(&buf[from..]);
    let mut f = File::create(&tmp).map_err(|e| SpoolError::io(&tmp, e))?;
    std::io::Write::write_all(&mut f, &kept)
        .and_then(|()| f.sync_all())
        .map_err(|e| SpoolError::io(&tmp, e))?;
    drop(f);
    fs::rename(&tmp, path).map_err(|e| SpoolError::io(path, e))
}

/// A segment whose header cannot be read: a torn creation (last segment, shorter than a
/// header) is deleted, anything else renamed to `*.corrupt`.
fn set_aside_unreadable(
    path: &Path,
    buf: &[u8],
    last: bool,
    reason: &'static str,
    report: &mut RecoveryReport,
) -> Result<(), SpoolError> {
    let mut event = CorruptionEvent {
        path: path.to_path_buf(),
        offset: 0,
        dropped_bytes: buf.len() as u64,
        reason: reason.to_string(),
        in_last_segment: last,
        records_lost: None,
        moved_to: None,
        resumed_at_seq: None,
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
        event.moved_to = Some(aside);
    }
    if let Some(dir) = path.parent() {
        segment::fsync_dir(dir)?;
    }
    report.corruption.push(event);
    Ok(())
}
