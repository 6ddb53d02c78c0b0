//! The disk seam: every durable write weijian makes (spool appends and commits, the notice
//! outbox, the rule snapshot) asks a [`DiskFaults`] first, so tests can make the disk "full"
//! deterministically, without privileges or a small file system. Production uses [`RealDisk`],
//! which never refuses anything.
//!
//! [`SimulatedDiskFull`] behaves as a full disk does: a write stops part-way with `ENOSPC`
//! (`ErrorKind::StorageFull`), creating a file fails, and everything works again once it is
//! switched back.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// A file-system operation other than writing bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiskOp {
    /// Creating a file.
    Create,
    /// `fsync` / `fdatasync` of a file or a directory.
    Sync,
    /// Renaming a file into place.
    Rename,
    /// Overwriting bytes already allocated, in place (needs no new blocks).
    Overwrite,
}

/// Asked before each durable write; the default methods allow everything.
pub trait DiskFaults: Send + Sync + std::fmt::Debug {
    /// Before `len` bytes are written to `path`. `Err((written, error))`: only the first
    /// `written` bytes reach the file, then the write fails with `error`.
    fn before_write(&self, _path: &Path, _len: usize) -> Result<(), (usize, io::Error)> {
        Ok(())
    }

    /// Before `op` on `path`.
    fn before(&self, _op: DiskOp, _path: &Path) -> io::Result<()> {
        Ok(())
    }
}

/// The real disk: nothing is injected.
#[derive(Debug, Clone, Copy, Default)]
pub struct RealDisk;

impl DiskFaults for RealDisk {}

/// The production seam, shared.
pub fn real() -> Arc<dyn DiskFaults> {
    Arc::new(RealDisk)
}

/// A disk that is full while [`SimulatedDiskFull::set_full`] is on (tests and drills).
#[derive(Debug, Default)]
pub struct SimulatedDiskFull {
    full: AtomicBool,
    refused: AtomicU64,
}

impl SimulatedDiskFull {
    /// Turns the simulated full disk on or off.
    pub fn set_full(&self, full: bool) {
        self.full.store(full, Ordering::SeqCst);
    }

    /// Operations refused so far.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::SeqCst)
    }

    fn no_space(&self) -> io::Error {
        self.refused.fetch_add(1, Ordering::SeqCst);
        io::Error::new(
            io::ErrorKind::StorageFull,
            "No space left on device (simulated)",
        )
    }
}

impl DiskFaults for SimulatedDiskFull {
    fn before_write(&self, _path: &Path, len: usize) -> Result<(), (usize, io::Error)> {
        if self.full.load(Ordering::SeqCst) {
            // A real full disk takes what fits in the blocks already allocated.
            return Err((len / 2, self.no_space()));
        }
        Ok(())
    }

    fn before(&self, op: DiskOp, _path: &Path) -> io::Result<()> {
        // fsync and rename need no new blocks on the file systems weijian runs on.
        if op == DiskOp::Create && self.full.load(Ordering::SeqCst) {
            return Err(self.no_space());
        }
        Ok(())
    }
}

/// Writes `buf` to `file` (at its append position) through the seam.
pub(crate) fn write_all(
    faults: &dyn DiskFaults,
    file: &mut File,
    path: &Path,
    buf: &[u8],
) -> io::Result<()> {
    if let Err((written, error)) = faults.before_write(path, buf.len()) {
        file.write_all(&buf[..written.min(buf.len())])?;
        return Err(error);
    }
    file.write_all(buf)
}

/// `fdatasync` through the seam.
pub(crate) fn sync_data(faults: &dyn DiskFaults, file: &File, path: &Path) -> io::Result<()> {
    faults.before(DiskOp::Sync, path)?;
    file.sync_data()
}

/// `fsync` through the seam.
pub(crate) fn sync_all(faults: &dyn DiskFaults, file: &File, path: &Path) -> io::Result<()> {
    faults.before(DiskOp::Sync, path)?;
    file.sync_all()
}

/// Makes a directory's entries durable, through the seam.
pub(crate) fn sync_dir(faults: &dyn DiskFaults, dir: &Path) -> io::Result<()> {
    faults.before(DiskOp::Sync, dir)?;
    File::open(dir)?.sync_all()
}

/// Renames `from` to `to`, through the seam.
pub(crate) fn rename(faults: &dyn DiskFaults, from: &Path, to: &Path) -> io::Result<()> {
    faults.before(DiskOp::Rename, to)?;
    std::fs::rename(from, to)
}

/// A file being written through the seam (for writers that stream, like the rule snapshot).
#[derive(Debug)]
pub(crate) struct SeamFile<'a> {
    pub(crate) file: File,
    path: &'a Path,
    faults: &'a dyn DiskFaults,
}

impl<'a> SeamFile<'a> {
    /// Creates (or truncates) `path` for writing.
    pub(crate) fn create(faults: &'a dyn DiskFaults, path: &'a Path) -> io::Result<Self> {
        faults.before(DiskOp::Create, path)?;
        Ok(Self {
            file: File::create(path)?,
            path,
            faults,
        })
    }

    /// `fsync` of the file.
    pub(crate) fn sync_all(&self) -> io::Result<()> {
        sync_all(self.faults, &self.file, self.path)
    }
}

impl Write for SeamFile<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Err((written, error)) = self.faults.before_write(self.path, buf.len()) {
            self.file.write_all(&buf[..written.min(buf.len())])?;
            return Err(error);
        }
        self.file.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_simulated_full_disk_writes_part_of_a_buffer_then_refuses_until_switched_off() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let disk = SimulatedDiskFull::default();
        let mut file = File::create(&path).unwrap();
        write_all(&disk, &mut file, &path, b"0123").unwrap();
        disk.set_full(true);
        let error = write_all(&disk, &mut file, &path, b"456789").unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::StorageFull);
        assert_eq!(std::fs::read(&path).unwrap(), b"0123456");
        assert!(SeamFile::create(&disk, &dir.path().join("g")).is_err());
        disk.set_full(false);
        write_all(&disk, &mut file, &path, b"!").unwrap();
        assert_eq!(disk.refused(), 2);
    }
}
