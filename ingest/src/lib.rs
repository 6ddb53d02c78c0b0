//! # weijian ingest
//!
//! The ingestion path of weijian: MQTT (and HJ 212) in, a durable local spool that
//! acknowledgements wait for, decoded and validated readings, rules evaluated by the
//! `alerting` crate in spool order, and QuestDB out, batched. Alert delivery, the supervisors'
//! API and the process that runs it all are in `weijian-service`; the simulator, the demo and
//! the benchmarks in `weijian-tools`; the `weijian` command in `weijian` (`cli/`).
//!
//! # Layout
//!
//! - [`config`]: the TOML configuration, validated at load, and the site/device registry;
//!   `config/endpoint.rs` parses the QuestDB configuration string once;
//!   `config/delivery.rs` holds delivery's plain settings (retry policy, SMTP relay).
//! - [`topic`]: the topic grammar (`{prefix}/{site}/{device}/{channel}`).
//! - [`source`]: the MQTT connection (rumqttc, MQTT 5 or 3.1.1, manual acks) and the
//!   [`source::mqtt::Publisher`] seam best-effort messages go through; the HJ 212 TCP listener
//!   for data loggers (`source::hj212_tcp`: frames spooled, 9014 on the connection once durable).
//! - [`message`]: a received message as stored in the spool.
//! - [`spool`]: the durable append-only spool that acknowledgements wait for.
//! - [`decode`]: payload decoders (JSON, HJ 212) -> samples and events.
//! - [`reject`]: rejection reasons with stable codes (the quarantine contract).
//! - [`validate`]: a spooled message -> rows, rule-engine inputs, HJ 212 replies, quarantine.
//! - [`alerts`]: the rule engine in the pipeline (feeding, timers, snapshots, notifications).
//! - [`delivery`]: the drain's port to alert delivery ([`delivery::AlertDelivery`],
//!   [`delivery::NoticeOutbox`]) and the work delivery hands back.
//! - [`sink`]: the QuestDB schema, rows and their ILP encoding, the writer behind the
//!   [`sink::store::Store`] seam.
//! - [`drain`]: spool -> validate -> rules -> batched QuestDB writes -> commit, with a
//!   degraded mode.
//! - [`clock`], [`health`]: the clock the pipeline runs on; the flags readiness reads.
//! - [`disk`], [`durability`]: the seam every durable write goes through (tests inject a
//!   full disk there), and the shared state of which stores can write now (`/readyz`).
//! - [`risk`]: the site risk index in the pipeline: the alert-day ledger fed by rule events,
//!   saved with the engine, the daily `site_risk` rows and the draws made (`inspection_draws`).
//! - [`telemetry`]: Prometheus metrics and logging set-up.
//!
//! Dependencies inside the crate point one way: `disk`, `durability`, `config`, `topic`,
//! `message`, `reject`, `spool` at the bottom; `decode`, `validate`, `sink` above them; `alerts`, `delivery` above
//! those; `drain` on top.
#![forbid(unsafe_code)]

pub mod alerts;
pub mod clock;
pub mod config;
pub mod decode;
pub mod delivery;
pub mod disk;
pub mod drain;
pub mod durability;
pub mod health;
pub mod message;
pub mod reject;
pub mod risk;
pub mod sink;
pub mod source;
pub mod spool;
pub mod telemetry;
pub mod topic;
pub mod validate;
