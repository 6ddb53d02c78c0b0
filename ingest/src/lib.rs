//! # weijian ingest
//!
//! The ingestion side of weijian: MQTT in, a durable local spool, decoded and validated
//! readings, QuestDB out, rules evaluated by the `alerting` crate, HTTP for operators, and the
//! `weijian` binary's commands (run, check-config, demo, simulate, decode).
//!
//! # Layout
//!
//! - [`config`]: the TOML configuration, validated at load, and the site/device registry.
//! - [`topic`]: the topic grammar (`{prefix}/{site}/{device}/{channel}`).
//! - [`source`]: the MQTT connection (rumqttc, MQTT 5 or 3.1.1, manual acks).
//! - [`message`]: a received message as stored in the spool.
//! - [`spool`]: the durable append-only spool that acknowledgements wait for.
//! - [`decode`]: payload decoders (JSON, HJ 212) -> samples and events; the `decode` tool.
//! - [`reject`]: rejection reasons with stable codes (the quarantine contract).
//! - [`validate`]: a spooled message -> rows, rule-engine inputs, HJ 212 replies, quarantine.
//! - [`alerts`]: the rule engine in the pipeline (feeding, timers, snapshots, notifications).
//! - [`sink`]: the QuestDB schema, rows and their ILP encoding, the writer.
//! - [`notify`]: alert notifiers (webhook, DingTalk, WeCom, MQTT payloads) and the retry policy
//!   for the delivery outbox.
//! - [`supervision`]: alert delivery in the service: the alert desk the API uses, journaled
//!   supervisor requests, delivery in the drain, and the durable notice outbox.
//! - [`drain`]: spool -> validate -> rules -> QuestDB -> commit, with a degraded mode.
//! - [`pipeline`]: starting and stopping the tasks, and how they hand work over.
//! - [`http`]: `/metrics`, `/healthz`, `/readyz`.
//! - [`api`]: the supervisors' HTTP API under `/api/v1` (alerts, acknowledge, resolve,
//!   silences, site status; OpenAPI document), over the alert desk.
//! - [`risk`]: the site risk index (alert-day ledger, daily `site_risk` rows) and the 双随机
//!   draw in the service; `weijian risk` commands.
//! - [`telemetry`]: Prometheus metrics and logging set-up.
//! - [`simulate`]: the simulated fleet (demo, `weijian simulate`).
//! - [`demo`]: `weijian demo` (embedded broker + fleet + pipeline).
//! - [`bench`](mod@bench): `weijian loadgen` and `weijian bench` (load generator, bare-limit subscriber,
//!   ILP sink, private Mosquitto, side-by-side throughput, alert latency and memory).
#![forbid(unsafe_code)]

pub mod alerts;
pub mod api;
pub mod bench;
pub mod config;
pub mod decode;
pub mod demo;
pub mod drain;
pub mod http;
pub mod message;
pub mod notify;
pub mod pipeline;
pub mod reject;
pub mod risk;
pub mod simulate;
pub mod sink;
pub mod source;
pub mod spool;
pub mod supervision;
pub mod telemetry;
pub mod topic;
pub mod validate;
