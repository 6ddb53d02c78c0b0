//! # alerting
//!
//! weijian's rule engine and alert lifecycle, as a pure library: no MQTT, no QuestDB, no
//! network. It turns validated readings and events into risk-graded alert transitions,
//! deterministically on event time, and decides who should hear about them.
//!
//! ```no_run
//! use alerting::{Engine, Input, RulePack, run_pack_tests};
//! # fn demo(sites: Vec<alerting::model::Site>, devices: Vec<alerting::model::Device>,
//! #         inputs: Vec<Input>) {
//! let pack = RulePack::default_pack().unwrap_or_else(|errs| panic!("{errs:?}"));
//! assert!(run_pack_tests(&pack).is_empty());
//! let mut engine = Engine::new(pack, sites, devices);
//! for input in &inputs {
//!     for event in engine.process(input) {
//!         println!("{}", event.summary_zh);
//!     }
//! }
//! let saved = serde_json::to_string(&engine.snapshot());
//! # }
//! ```
//!
//! # Layout
//!
//! - [`model`]: the shared domain vocabulary (device kinds, metric catalogue, readings, sites).
//! - [`level`]: risk levels I..IV with colours and names; I is the most severe.
//! - [`input`]: what the engine consumes (readings, maintenance, status, faults, ticks).
//! - [`event`]: alert lifecycle events (pending, firing, level changed, resolved).
//! - [`rule`]: rules as data: raw TOML types (`rule/config.rs`), compiled typed rules and the
//!   loader (`rule/compiled.rs`), load errors with line numbers (`rule/error.rs`).
//! - [`eval`]: the engine: binding rules to sites, the alert state machine, ticks.
//! - [`state`]: per-device and per-site rule state and the snapshot types.
//! - [`snapshot`]: restart safety (snapshot and restore).
//! - [`pack_tests`]: rule tests shipped with a pack, and their runner.
//!
//! The default pack is `config/rules/default.toml` (embedded as [`DEFAULT_PACK_TOML`]).
#![forbid(unsafe_code)]

pub mod eval;
pub mod event;
pub mod input;
pub mod level;
pub mod model;
pub mod pack_tests;
pub mod rule;
pub mod snapshot;
pub mod state;

pub use eval::Engine;
pub use event::{AlertEvent, EventKind, Evidence, EvidenceValue, SITE_SCOPE_DEVICE};
pub use input::Input;
pub use level::Level;
pub use pack_tests::{run_pack_tests, PackTest, TestFailure};
pub use rule::{ConfigError, LoadError, RulePack, DEFAULT_PACK_TOML};
pub use state::EngineSnapshot;

#[cfg(test)]
mod tests;
