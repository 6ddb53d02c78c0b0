//! The seam between the drain and the database: [`Store`] is what the drain writes rows to.
//!
//! Production uses [`super::questdb::QuestDbWriter`]; tests use in-memory fakes, so the drain's
//! batching, degraded mode and commit rules are tested without a QuestDB.

use super::questdb::{QuestDbWriter, WriteError, Written};
use super::rows::Row;

/// A blocking row store, owned by one task and called on tokio's blocking pool.
///
/// A write either succeeds from the caller's point of view (rows the store refused, which
/// retrying cannot fix, are quarantined by the store and reported in [`Written`]) or fails
/// with a [`WriteError`]; a retry rewrites the same rows, and the store deduplicates them.
pub trait Store: Send + 'static {
    /// Writes `rows` (in requests bounded by bytes; one transaction per table and request in
    /// QuestDB).
    ///
    /// # Errors
    /// The store is unavailable ([`WriteError::Unavailable`]), refuses our credentials
    /// ([`WriteError::Misconfigured`]) or a table definition ([`WriteError::Rejected`]): all
    /// retried with back-off.
    fn write(&mut self, rows: &[Row]) -> Result<Written, WriteError>;

    /// Asks the store whether it answers (a real request), creating its tables if needed.
    ///
    /// # Errors
    /// As for [`Store::write`].
    fn probe(&mut self) -> Result<(), WriteError>;
}

impl Store for QuestDbWriter {
    fn write(&mut self, rows: &[Row]) -> Result<Written, WriteError> {
        QuestDbWriter::write(self, rows)
    }

    fn probe(&mut self) -> Result<(), WriteError> {
        QuestDbWriter::probe(self)
    }
}

/// Makes a new store when the previous one was lost with a write task that died.
pub type StoreFactory = std::sync::Arc<dyn Fn() -> Box<dyn Store> + Send + Sync>;
