//! # alerting
//!
//! weijian's rule engine and alert lifecycle, as a pure library: no MQTT, no QuestDB, no
//! network. It turns validated readings and events into risk-graded alert transitions,
//! deterministically on event time, and decides who should hear about them.
//!
//! ```no_run
//! use alerting::{Engine, Input, LoadError, RulePack, run_pack_tests};
//! # fn demo(sites: Vec<alerting::model::Site>, devices: Vec<alerting::model::Device>,
//! #         inputs: Vec<Input>) -> Result<(), Box<dyn std::error::Error>> {
//! let pack = RulePack::default_pack().map_err(LoadError::Invalid)?;
//! if let Some(failure) = run_pack_tests(&pack).first() {
//!     return Err(format!("pack test failed: {failure}").into());
//! }
//! let mut engine = Engine::new(pack, sites, devices);
//! for input in &inputs {
//!     for event in engine.process(input) {
//!         println!("{}", event.summary_zh);
//!     }
//! }
//! let saved = serde_json::to_string(&engine.snapshot())?;
//! # Ok(())
//! # }
//! ```
//!
//! # Layout
//!
//! Layers, bottom to top; dependencies point down (a module uses only modules listed above it):
//! model, level, provenance, index, grid at the bottom; then waste, sterilization; then input, event,
//! state; then risk (the index and the draw, whose numbers the rule pack holds); then rule; then text; then machine; then eval; on top pack_tests and snapshot, which
//! drive the engine, and delivery and wire, which use events and rule errors but not the engine.
//!
//! - [`model`]: the shared domain vocabulary (device kinds, metric catalogue, readings, sites).
//! - [`level`]: risk levels I..IV with colours and names; I is the most severe.
//! - [`grid`]: the supervision grid (区 -> 街道 -> 社区): cells, tiers, who covers what.
//! - [`provenance`]: where each number of a pack comes from (a standard clause with its
//!   confidence, or a product default).
//! - [`index`]: a compact hash index from ids to positions.
//! - [`waste`]: medical-waste stores: the bag ledger (`waste/ledger.rs`), collection windows
//!   and the conditions of M1-M7 (compiled in `rule/waste.rs`, evaluated in `eval/waste.rs`,
//!   worded in `text/waste.rs`).
//! - [`sterilization`]: dental steam sterilizers (S1-S6): saturated steam, the per-cycle
//!   verdict, Bowie-Dick and BI bookkeeping; compiled in `rule/sterilization.rs`, the engine
//!   side is `eval/sterilization.rs`, the alert texts `text/sterilization.rs`.
//! - [`input`]: what the engine consumes (readings, maintenance, status, faults, ticks).
//! - [`event`]: alert lifecycle events (pending, firing, level changed, resolved).
//! - [`state`]: per-device and per-site rule state and the snapshot types.
//! - [`rule`]: rules as data: raw TOML types (`rule/config.rs`), compiled typed rules
//!   (`rule/compiled.rs`), the loader (`rule/load.rs`), compiling one rule (`rule/compile.rs`,
//!   with the waste and sterilizer kinds in `rule/waste.rs` and `rule/sterilization.rs`),
//!   numbers and their provenance (`rule/numbers.rs`), the tests shipped with a pack
//!   (`rule/pack_test.rs`), load errors with line numbers (`rule/error.rs`).
//! - `text` (private): the catalogue of texts (`text/catalogue.rs`, public as [`catalogue`]:
//!   metric names and units, limit types, levels, kinds, Beijing time in Chinese); reasons, bilingual summaries and evidence of events (`text/mod.rs`), and
//!   the texts of waste (`text/waste.rs`) and sterilizer alerts (`text/sterilization.rs`).
//! - `machine` (private): the alert state machine (pending, firing, levels, resolve).
//! - [`eval`]: the engine: the [`Engine`] and input routing (`eval/mod.rs`), binding rules to
//!   sites (`eval/bind.rs`), observations to events (`eval/emit.rs`), rule kinds shared by
//!   several inputs (`eval/conditions.rs`), readings (`eval/reading.rs`), ticks and
//!   compositions (`eval/tick.rs`), manual resolution (`eval/close.rs`).
//! - [`pack_tests`]: runs the rule tests shipped with a pack through the engine.
//! - [`snapshot`]: restart safety (snapshot and restore).
//! - [`risk`]: the site risk index (grades A-D from the alert history, with explanations) and
//!   the seeded, reproducible risk-weighted 双随机 inspection draw (its `[risk]` section is
//!   compiled in `rule/risk.rs`).
//! - [`delivery`]: who hears about alerts: supervisors per grid cell, grouping, repeats,
//!   escalation up the grid, acknowledgement, silences (pure; notifiers live elsewhere).
//! - [`wire`]: the alert message on `{prefix}/alerts/{site}` ([`wire::AlertMessage`]), built
//!   the same way for rule transitions and delivery events, and the evidence object.
//!
//! The default pack is `config/rules/default.toml` (embedded as [`DEFAULT_PACK_TOML`]).
//!
//! # Semantics (decisions)
//!
//! - **Identity and lifecycle.** One tracker per (rule, site, device, subject). A breach opens
//!   it as *pending* (event `pending`) unless the rule has no pending duration; it becomes
//!   *firing* once the evidence has not been clear for the pending duration (event `firing`,
//!   announced once), changes level up or down (`level_changed`), and closes (`resolved`) when
//!   the clear condition has held for the clear duration. A pending tracker whose evidence
//!   stays clear for the clear duration is withdrawn with a `resolved` event. The alert id is
//!   `rule/site/device[/subject]/started_at_micros`.
//! - **Hysteresis.** Values between the clear level and the limit neither clear nor restart
//!   anything, so a value wobbling around the limit yields one alert.
//! - **Escalation.** By persistence: counted from the start of the condition (the first
//!   breaching evidence, pending time included). By magnitude: from the latest value; the
//!   level steps back down only once the value is back by the clear margin of the distance
//!   between escalation threshold and limit.
//! - **Event time.** Each tracker ignores evidence older than the last it saw. Ticks mature
//!   pending alerts and escalate open ones only while the evidence is fresh (younger than the
//!   device's offline timeout); ticks never resolve an alert (clear needs real evidence),
//!   except G1 (fresh data) and W6 (maintenance ended) which are about the device itself.
//! - **Evidence.** Only [`model::Reading::is_quality_evidence`] values outside a maintenance
//!   window feed W1-W5 and G2; non-N flags and maintenance drive W6. While a device is offline
//!   (G1 firing, or its last will standing) its quality rules start no new alert; backfilled
//!   data older than the offline timeout does not end G1.
//! - **Manual resolution.** [`Engine::close_alert`] closes a pending or firing alert by id
//!   (one `resolved` event, never another for that id). The rule starts over: evidence from
//!   before the close is ignored, a breach after it opens a new alert (new id) that goes
//!   through the pending duration again, and duration conditions (G1 offline, G2, W6) count
//!   their duration again from the close.
//! - **Compositions** (W5) are site-scoped (device [`SITE_SCOPE_DEVICE`]) and follow counts of
//!   firing component alerts at the site, so their components may come from different devices.
//! - **Cost.** A reading costs one hash lookup plus a scan of the site's few bound rules and
//!   the device's open trackers; a tick walks every device once.
#![forbid(unsafe_code)]

pub mod delivery;
pub mod eval;
pub mod event;
pub mod grid;
pub mod index;
pub mod input;
pub mod level;
pub(crate) mod machine;
pub mod model;
pub mod pack_tests;
pub mod provenance;
pub mod risk;
pub mod rule;
pub mod snapshot;
pub mod state;
pub mod sterilization;
pub(crate) mod text;
pub mod waste;
pub mod wire;

pub use eval::{DeviceActivity, Engine};
pub use event::{AlertEvent, EventKind, Evidence, EvidenceValue, SITE_SCOPE_DEVICE};
pub use input::{Input, Readings};
pub use level::Level;
pub use pack_tests::{run_pack_tests, PackTest, TestFailure};
pub use rule::{ConfigError, LoadError, RulePack, DEFAULT_PACK_TOML};
pub use state::EngineSnapshot;
pub use text::catalogue;

#[cfg(test)]
mod tests;
