//! What the ingestion path reports about itself: shared flags the readiness check, the
//! metrics and the demo's status line read.

use std::sync::atomic::AtomicBool;

/// Shared flags the HTTP readiness check and the demo status line read.
#[derive(Debug, Default)]
pub struct Health {
    pub mqtt_connected: AtomicBool,
    pub questdb_up: AtomicBool,
    pub spool_full: AtomicBool,
}
