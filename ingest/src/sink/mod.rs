//! The store side: the QuestDB schema, rows and their ILP encoding, and the writer.
//!
//! - [`schema`]: tables, columns, dedup keys, DDL.
//! - [`rows`]: rows and their ILP encoding.
//! - [`cycles`]: the `sterilization_cycles` table and its rows.
//! - [`questdb`]: the writer (DDL at start, batched flushes over ILP/HTTP, retry).

pub mod cycles;
pub mod questdb;
pub mod rows;
pub mod schema;
