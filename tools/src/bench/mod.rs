//! # Benchmarks and load generation (issue 7)
//!
//! `weijian loadgen` and `weijian bench`, and the pieces they share:
//!
//! - [`registry`]: configuration TOML for `N` benchmark water monitors (`d0..` at `s0..`).
//! - [`payload`]: realistic telemetry payloads (JSON single readings or arrays, HJ 212 frames).
//! - [`loadgen`]: a publisher at a target rate or as fast as possible, with progress lines.
//! - [`hj212_tcp`]: many HJ 212 data loggers on the TCP listener (`weijian loadgen-tcp`).
//! - [`bare`]: the bare limit: the same MQTT source as weijian, acking at once, counting.
//! - [`sink`]: an in-process ILP-over-HTTP sink standing in for QuestDB (it counts lines; it
//!   is not QuestDB, so storage cost on the QuestDB side is not measured).
//! - [`webhook`]: a webhook receiver timing alert notices (publish -> notice received).
//! - [`mosquitto`]: a private Mosquitto on a free port with a temporary configuration.
//! - [`questdb`]: a real QuestDB named by `WEIJIAN_TEST_QUESTDB`, for the optional real-store runs.
//! - [`rss`]: resident memory from `/proc/<pid>/status`.
//! - [`run`]: the `weijian bench` orchestration (`run.rs`) with its throughput, latency and
//!   memory phases and its report table (`run/`).
//!
//! Measurements are made side by side in one run (bare, then weijian, on the same broker,
//! the same machine load and the same publisher), so their *ratio* is meaningful even on a
//! noisy shared machine where absolute figures move from run to run.

pub mod bare;
pub mod hj212_tcp;
pub mod loadgen;
pub mod mosquitto;
pub mod payload;
pub mod questdb;
pub mod registry;
pub mod rss;
pub mod run;
pub mod sink;
pub mod webhook;

use std::path::{Path, PathBuf};

/// Why a benchmark or the load generator could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("mosquitto: {0}")]
    Mosquitto(String),
    #[error("MQTT: {0}")]
    Mqtt(String),
    #[error("the benchmark configuration is invalid: {0}")]
    Config(String),
    #[error("weijian could not start: {0}")]
    Start(#[from] weijian_service::pipeline::RunError),
    #[error("timed out: {0}")]
    Timeout(String),
    #[error("{0}")]
    Other(String),
}

/// A temporary directory removed on drop (the binary has no `tempfile` dependency).
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates `$TMPDIR/weijian-<label>-<pid>-<nanos>`.
    ///
    /// # Errors
    /// The directory cannot be created.
    pub fn new(label: &str) -> std::io::Result<TempDir> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let path =
            std::env::temp_dir().join(format!("weijian-{label}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path)?;
        Ok(TempDir { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A free TCP port on 127.0.0.1 (bound then released).
///
/// # Errors
/// No port can be bound.
pub fn free_port() -> std::io::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}
