//! One process per spool: an advisory exclusive lock (`flock`) on `<dir>/weijian.lock`, held
//! for as long as the spool is open and released by the kernel when the process dies (even by
//! `kill -9`). The file names its holder (pid and since when), so a second process refuses to
//! start with an error that says who has the spool.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use rustix::fs::{flock, FlockOperation};

use super::error::SpoolError;

/// Name of the lock file in the spool directory.
pub(crate) const LOCK_FILE: &str = "weijian.lock";

/// How long an open waits for a lock held by *this* process: a spool closed a moment ago
/// whose last handle (a finishing background task) is still being dropped.
const SAME_PROCESS_WAIT: Duration = Duration::from_secs(3);

/// The held lock; dropping it releases the lock.
#[derive(Debug)]
pub(crate) struct SpoolLock {
    _file: File,
}

/// Takes the lock on `dir` (created if missing), or says who holds it.
pub(crate) fn acquire(dir: &Path) -> Result<SpoolLock, SpoolError> {
    fs::create_dir_all(dir).map_err(|e| SpoolError::io(dir, e))?;
    let path = dir.join(LOCK_FILE);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| SpoolError::io(&path, e))?;
    let started = Instant::now();
    loop {
        match flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => break,
            Err(errno) if errno == rustix::io::Errno::WOULDBLOCK => {
                let holder = read_holder(&mut file);
                let ours = holder.starts_with(&format!("pid {},", std::process::id()));
                if ours && started.elapsed() < SAME_PROCESS_WAIT {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
                return Err(SpoolError::Locked {
                    dir: dir.to_path_buf(),
                    holder,
                });
            }
            Err(errno) => return Err(SpoolError::io(&path, errno.into())),
        }
    }
    let holder = format!(
        "pid {}, since {}",
        std::process::id(),
        chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    file.set_len(0)
        .and_then(|()| file.seek(SeekFrom::Start(0)))
        .and_then(|_| file.write_all(format!("{holder}\n").as_bytes()))
        .map_err(|e| SpoolError::io(&path, e))?;
    Ok(SpoolLock { _file: file })
}

fn read_holder(file: &mut File) -> String {
    let mut text = String::new();
    let _ = file
        .seek(SeekFrom::Start(0))
        .and_then(|_| file.read_to_string(&mut text));
    let text = text.trim();
    if text.is_empty() {
        "a process that has not written its pid yet".to_string()
    } else {
        text.to_string()
    }
}
