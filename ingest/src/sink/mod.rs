//! The store side: the QuestDB schema, rows and their ILP encoding, and the writer.
//!
//! - [`schema`]: tables, columns, dedup keys, DDL.
//! - [`rows`]: rows and their ILP encoding.
//! - [`cycles`]: the `sterilization_cycles` table and its rows.
//! - [`questdb`]: the writer (DDL at start, batched flushes over ILP/HTTP, retry).
//! - [`store`]: the [`store::Store`] seam the drain writes through (QuestDB, or fakes in tests).

pub mod cycles;
pub mod questdb;
pub mod risk;
pub mod rows;
pub mod schema;
pub mod store;
pub mod waste;
