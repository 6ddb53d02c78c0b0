//! Alert delivery in the service: the parts of issue 5 that do I/O around the pure core in
//! `alerting::delivery`.
//!
//! - [`request`]: supervisors' API writes (and refused attempts) as requests journaled in the
//!   ingest spool, so they are durable, ordered with the data, and audited.
//! - [`desk`]: [`Desk`], the shared delivery state the API reads and submits requests to.
//! - [`stage`]: [`DeliveryStage`], delivery inside the drain (events, timers, requests ->
//!   deliveries, rows, messages).
//! - [`limits`]: what a supervisor may write (printable text, bounded silences).
//! - [`outbox`]: the durable outbox and its sender: deliveries survive restarts and channel
//!   outages, are retried with back-off, and keep their order per channel target.

pub mod desk;
pub mod limits;
pub mod outbox;
pub mod request;
pub mod stage;
pub mod waste_board;

#[cfg(test)]
#[path = "tests/outbox.rs"]
mod outbox_tests;

pub use desk::{AlertRecord, Desk, DeskSnapshot, DeskState, HistoryEntry, SubmitError, Submitted};
pub use request::{Action, Request, API_TOPIC};
pub use stage::{DeliveryStage, Effects};
pub use waste_board::WasteBoard;
