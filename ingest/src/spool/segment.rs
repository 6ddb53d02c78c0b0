//! Segment files and directory operations: naming, listing, creating (header + fsync + directory
//! fsync), deleting, and the atomic committed-position file.

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};

use super::error::SpoolError;
use super::format;
use crate::disk::{self, DiskFaults, DiskOp};

/// File name prefix of segment files.
const SEGMENT_PREFIX: &str = "seg-";
/// File name suffix of segment files.
const SEGMENT_SUFFIX: &str = ".wjs";
/// Name of the committed-position file.
pub(crate) const COMMITTED_FILE: &str = "committed";
/// Temporary name the committed file is written under before the atomic rename.
pub(crate) const COMMITTED_TMP_FILE: &str = "committed.tmp";

/// The path of the segment whose first record has sequence number `base_seq`.
///
/// Zero-padded so a lexical listing is also the sequence order.
pub(crate) fn segment_path(dir: &Path, base_seq: u64) -> PathBuf {
    dir.join(format!("{SEGMENT_PREFIX}{base_seq:020}{SEGMENT_SUFFIX}"))
}

/// Parses a segment file name back into its base sequence number.
pub(crate) fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name
        .strip_prefix(SEGMENT_PREFIX)?
        .strip_suffix(SEGMENT_SUFFIX)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Lists segment files in `dir` as `(base_seq, path)`, sorted by base sequence number.
pub(crate) fn list_segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>, SpoolError> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| SpoolError::io(dir, e))? {
        let entry = entry.map_err(|e| SpoolError::io(dir, e))?;
        let name = entry.file_name();
        if let Some(base) = name.to_str().and_then(parse_segment_name) {
            out.push((base, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// Makes the directory's entries (created, renamed or deleted files) durable.
pub(crate) fn fsync_dir(dir: &Path) -> Result<(), SpoolError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| SpoolError::io(dir, e))
}

/// Creates a new segment file (`path`, from [`segment_path`]) with its header, fsyncs it and
/// the directory, and returns it opened for appending. On failure the file may exist, torn:
/// the caller removes it.
pub(crate) fn create_segment(
    faults: &dyn DiskFaults,
    dir: &Path,
    path: &Path,
    base_seq: u64,
) -> Result<File, SpoolError> {
    faults
        .before(DiskOp::Create, path)
        .map_err(|e| SpoolError::io(path, e))?;
    let mut file = OpenOptions::new()
        .create_new(true)
        .append(true)
        .open(path)
        .map_err(|e| SpoolError::io(path, e))?;
    disk::write_all(
        faults,
        &mut file,
        path,
        &format::encode_segment_header(base_seq),
    )
    .and_then(|()| disk::sync_all(faults, &file, path))
    .and_then(|()| disk::sync_dir(faults, dir))
    .map_err(|e| SpoolError::io(path, e))?;
    Ok(file)
}

/// Opens an existing (recovered) segment for appending at its end.
pub(crate) fn open_for_append(path: &Path) -> Result<File, SpoolError> {
    OpenOptions::new()
        .append(true)
        .open(path)
        .map_err(|e| SpoolError::io(path, e))
}

/// Deletes one segment file (already gone counts as deleted). The caller fsyncs the directory.
pub(crate) fn remove_segment(path: &Path) -> Result<(), SpoolError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(SpoolError::io(path, e)),
    }
}

/// Deletes segment files, then fsyncs the directory once.
pub(crate) fn delete_segments(dir: &Path, paths: &[PathBuf]) -> Result<(), SpoolError> {
    if paths.is_empty() {
        return Ok(());
    }
    for p in paths {
        remove_segment(p)?;
    }
    fsync_dir(dir)
}

/// Durably replaces the committed-position file: write a temporary file, fsync it, rename it
/// over `committed`, fsync the directory. A crash leaves either the old or the new value.
///
/// On a full disk (the temporary file cannot be written) the existing file is overwritten in
/// place instead: 28 bytes in a block it already has, so no new space is needed, and the
/// commit can go on freeing segments (otherwise a spool that filled its disk could never
/// free it). A crash tearing that write leaves a file that fails its checksum, which recovery
/// treats as "nothing known committed": everything is replayed, nothing lost.
pub(crate) fn write_committed(
    faults: &dyn DiskFaults,
    dir: &Path,
    next_seq: u64,
) -> Result<(), SpoolError> {
    match replace_committed(faults, dir, next_seq) {
        Err(SpoolError::Io { path, source })
            if source.kind() == std::io::ErrorKind::StorageFull =>
        {
            let _ = fs::remove_file(dir.join(COMMITTED_TMP_FILE));
            overwrite_committed(faults, dir, next_seq).map_err(|_| SpoolError::Io { path, source })
        }
        other => other,
    }
}

/// The in-place fallback of [`write_committed`]; only over an existing file of the right size.
fn overwrite_committed(
    faults: &dyn DiskFaults,
    dir: &Path,
    next_seq: u64,
) -> Result<(), SpoolError> {
    use std::os::unix::fs::FileExt;
    let dst = dir.join(COMMITTED_FILE);
    let f = OpenOptions::new()
        .write(true)
        .open(&dst)
        .map_err(|e| SpoolError::io(&dst, e))?;
    let len = f.metadata().map_err(|e| SpoolError::io(&dst, e))?.len();
    if len != format::COMMITTED_LEN as u64 {
        return Err(SpoolError::io(
            &dst,
            std::io::Error::other("committed file has an unexpected size"),
        ));
    }
    faults
        .before(DiskOp::Overwrite, &dst)
        .and_then(|()| f.write_all_at(&format::encode_committed(next_seq), 0))
        .and_then(|()| disk::sync_data(faults, &f, &dst))
        .map_err(|e| SpoolError::io(&dst, e))
}

fn replace_committed(faults: &dyn DiskFaults, dir: &Path, next_seq: u64) -> Result<(), SpoolError> {
    let tmp = dir.join(COMMITTED_TMP_FILE);
    let dst = dir.join(COMMITTED_FILE);
    faults
        .before(DiskOp::Create, &tmp)
        .map_err(|e| SpoolError::io(&tmp, e))?;
    let mut f = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(&tmp)
        .map_err(|e| SpoolError::io(&tmp, e))?;
    disk::write_all(faults, &mut f, &tmp, &format::encode_committed(next_seq))
        .and_then(|()| disk::sync_all(faults, &f, &tmp))
        .map_err(|e| SpoolError::io(&tmp, e))?;
    drop(f);
    disk::rename(faults, &tmp, &dst).map_err(|e| SpoolError::io(&dst, e))?;
    disk::sync_dir(faults, dir).map_err(|e| SpoolError::io(dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_names_sort_in_sequence_order_and_parse_back() {
        let dir = Path::new("/x");
        let a = segment_path(dir, 9);
        let b = segment_path(dir, 10);
        assert!(a < b);
        let name = b.file_name().unwrap().to_str().unwrap();
        assert_eq!(parse_segment_name(name), Some(10));
        assert_eq!(parse_segment_name("seg-1.wjs"), None);
        assert_eq!(parse_segment_name("committed"), None);
    }
}
