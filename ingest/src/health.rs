//! What the ingestion path reports about itself: shared flags the readiness check, the
//! metrics and the demo's status line read, and the durability state of every store
//! ([`StorageHealth`]).

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

pub use crate::durability::StorageHealth;

/// Shared flags the HTTP readiness check and the demo status line read.
#[derive(Debug, Default)]
pub struct Health {
    pub mqtt_connected: AtomicBool,
    pub questdb_up: AtomicBool,
    pub spool_full: AtomicBool,
    /// Whether the spool, the outbox and the rule snapshot can write (disk full, I/O errors).
    pub storage: Arc<StorageHealth>,
}
