//! # weijian ingest
//!
//! The ingestion side of weijian: MQTT in, decoded and validated readings, a durable local
//! spool, QuestDB out, rules evaluated by the `alerting` crate, HTTP for operators.
//!
//! # Layout
//!
//! - [`config`]: the TOML configuration, validated at load, and the site/device registry.
//! - [`reject`]: rejection reasons with stable codes (the quarantine contract).
//! - [`decode`]: payload decoders (JSON, HJ 212) -> samples and events.
//! - [`spool`]: the durable append-only spool that acknowledgements wait for.
#![forbid(unsafe_code)]

pub mod alerts;
pub mod config;
pub mod decode;
pub mod demo;
pub mod drain;
pub mod http;
pub mod message;
pub mod pipeline;
pub mod reject;
pub mod simulate;
pub mod sink;
pub mod source;
pub mod spool;
pub mod telemetry;
pub mod topic;
pub mod validate;
