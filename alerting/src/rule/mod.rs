//! Rules as data: the raw TOML shape ([`config`]), the compiled typed rules ([`compiled`]) and
//! load errors ([`error`]).

pub mod compiled;
pub mod config;
pub mod error;

pub use compiled::{
    Condition, Confidence, DurationOverride, LimitCase, Magnitude, MagnitudeEscalation, MetricSel,
    NumberNote, Provenance, Rule, RulePack, Selector, Threshold, DEFAULT_PACK_TOML,
};
pub use error::{ConfigError, LoadError};
