//! Rules as data: the raw TOML shape ([`config`]), the compiled typed rules ([`compiled`]) and
//! load errors ([`error`]). Loading a pack (`load.rs`) compiles each rule (`compile.rs`) and
//! checks every number's provenance (`numbers.rs`).

mod compile;
pub mod compiled;
pub mod config;
pub mod error;
mod load;
pub(crate) mod numbers;
mod waste;

pub use compiled::{
    Condition, Confidence, DurationOverride, LimitCase, Magnitude, MagnitudeEscalation, MetricSel,
    NumberNote, Provenance, Rule, RulePack, Selector, Threshold, DEFAULT_PACK_TOML,
};
pub use error::{ConfigError, LoadError};
