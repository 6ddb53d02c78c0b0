//! The store side: the QuestDB schema, rows and their ILP encoding, and the writer.
//!
//! - [`schema`]: every table weijian writes, with its columns and dedup keys (the types and the
//!   DDL in `table.rs`).
//! - [`rows`]: rows and their ILP encoding.
//! - [`ilp`]: a request body: reading rows written directly, the others through questdb-rs.
//! - [`cycles`]: the `sterilization_cycles` table and its rows.
//! - [`http`]: QuestDB's HTTP API (`/write`, `/exec`), every answer classified by status.
//! - [`questdb`]: the writer (DDL at start, requests bounded by bytes, refused rows isolated
//!   and quarantined).
//! - [`store`]: the [`store::Store`] seam the drain writes through (QuestDB, or fakes in tests).

pub mod cycles;
pub mod http;
pub mod ilp;
pub mod questdb;
pub mod risk;
pub mod rows;
pub mod schema;
pub mod store;
mod table;
pub mod waste;
