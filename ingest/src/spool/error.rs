//! `SpoolError`: everything the spool can fail with, classified by cause.

use std::io;
use std::path::{Path, PathBuf};

/// An error from the spool.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// A file-system operation failed. `path` names the file or directory involved.
    #[error("spool I/O error on {path}: {source}")]
    Io {
        /// The file or directory the operation was about.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The configuration cannot work (e.g. `max_bytes` below two segments).
    #[error("invalid spool configuration: {0}")]
    InvalidConfig(String),
    /// The record is larger than a segment can hold.
    #[error("record of {len} bytes exceeds the spool's maximum record size of {max} bytes")]
    RecordTooLarge {
        /// Payload length of the refused record.
        len: usize,
        /// The largest payload this spool accepts.
        max: u64,
    },
    /// `commit` named a position the reader has not returned yet.
    #[error("cannot commit position {requested}: the reader has only returned records before {read_next}")]
    CommitBeyondRead {
        /// The sequence number passed to `commit`.
        requested: u64,
        /// One past the last sequence number the reader returned.
        read_next: u64,
    },
    /// A record that was durable no longer checks out when read back (disk corruption while
    /// running). Restarting runs recovery, which truncates the damaged segment.
    #[error("corrupt spool record in {path} at offset {offset}: {reason}")]
    Corrupt {
        /// The segment file.
        path: PathBuf,
        /// Byte offset of the damaged frame.
        offset: u64,
        /// What was wrong.
        reason: &'static str,
    },
    /// The record could not be made durable: the spool was shut down while its writes were
    /// failing (disk full...), or an internal task failed. Never acknowledged.
    #[error("spool could not make the record durable: {0}")]
    Failed(String),
    /// Another process has the spool directory (one process per spool).
    #[error("the spool directory {dir} is in use by another weijian process ({holder}); only one process may use a spool directory: stop it or give this one another spool.dir")]
    Locked {
        /// The spool directory.
        dir: PathBuf,
        /// Who holds it, as its lock file says (pid and since when).
        holder: String,
    },
    /// The spool was shut down (or its writer thread is gone).
    #[error("spool is closed")]
    Closed,
}

impl SpoolError {
    pub(crate) fn io(path: impl AsRef<Path>, source: io::Error) -> Self {
        SpoolError::Io {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }

    /// Whether retrying the same operation later may succeed without restarting.
    ///
    /// I/O errors that come from a temporary condition (interrupted, timed out, disk full) are
    /// transient; corruption, invalid configuration, a failed append and a closed or locked spool
    /// are not.
    pub fn is_transient(&self) -> bool {
        match self {
            SpoolError::Io { source, .. } => matches!(
                source.kind(),
                io::ErrorKind::Interrupted
                    | io::ErrorKind::WouldBlock
                    | io::ErrorKind::TimedOut
                    | io::ErrorKind::StorageFull
                    | io::ErrorKind::OutOfMemory
                    | io::ErrorKind::ResourceBusy
            ),
            SpoolError::InvalidConfig(_)
            | SpoolError::RecordTooLarge { .. }
            | SpoolError::CommitBeyondRead { .. }
            | SpoolError::Corrupt { .. }
            | SpoolError::Failed(_)
            | SpoolError::Locked { .. }
            | SpoolError::Closed => false,
        }
    }
}
