//! Rules as data: the raw TOML shape ([`config`]), the compiled typed rules ([`compiled`]) and
//! load errors ([`error`]). Loading a pack (`load.rs`) compiles each rule (`compile.rs`; the
//! waste and sterilizer kinds in `waste.rs` and `sterilization.rs`, which also compiles the
//! `[sterilization]` section; the stuck-sensor watch lists in `stuck.rs`) and checks every number's provenance (`numbers.rs`).

mod compile;
pub mod compiled;
pub mod config;
pub mod error;
mod load;
pub(crate) mod numbers;
pub(crate) mod pack_test;
mod risk;
mod sterilization;
mod stuck;
mod waste;

pub use compiled::{
    Condition, DurationOverride, LimitCase, Magnitude, MagnitudeEscalation, MetricSel, Rule,
    RulePack, Selector, StuckWatch, Threshold, DEFAULT_PACK_TOML,
};
pub use error::{ConfigError, LoadError};
