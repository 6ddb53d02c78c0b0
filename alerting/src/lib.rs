//! # alerting
//!
//! weijian's rule engine and alert lifecycle, as a pure library: no MQTT, no QuestDB, no
//! network. It turns validated readings and events into risk-graded alert transitions,
//! deterministically on event time, and decides who should hear about them.
//!
//! # Layout
//!
//! - [`model`]: the shared domain vocabulary (device kinds, metric catalogue, readings, sites).
#![forbid(unsafe_code)]

pub mod model;
