//! Payload decoders: bytes from a topic -> timestamped samples and events, not yet validated
//! against the registry.
//!
//! - [`json`]: telemetry, events, status (docs/payload-contract.md); `scan`: the usual
//!   telemetry payload without serde, the hot path of arrays of readings; `rfc3339`: its
//!   timestamps.
//! - [`hj212`]: HJ 212-2017 and HJ/T 212-2005 frames (docs/payload-contract.md, HJ 212).

pub mod hj212;
pub mod json;
pub mod report;
mod rfc3339;
mod scan;

use alerting::model::{DataFlag, Metric, Period, Stat, Timestamp};

/// One timestamped group of values from one device: a JSON telemetry object or the data of
/// one HJ 212 frame for one statistic.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Event time from the device.
    pub ts: Timestamp,
    /// The gateway's per-device sequence number.
    pub seq: Option<u64>,
    /// Autoclave only: the sterilization cycle the sample belongs to.
    pub cycle_id: Option<String>,
    pub period: Period,
    pub stat: Stat,
    pub values: Vec<SampleValue>,
}

/// One value of a sample.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleValue {
    /// The catalogue metric, or the raw name/code when it maps to none (validation rejects it
    /// with `unknown_metric`).
    pub metric: MetricRef,
    pub value: f64,
    pub flag: DataFlag,
}

/// A metric name as it arrived: resolved against the catalogue, or not.
#[derive(Debug, Clone, PartialEq)]
pub enum MetricRef {
    Known(Metric),
    Unknown(String),
}

impl MetricRef {
    pub fn name(&self) -> &str {
        match self {
            Self::Known(m) => m.name(),
            Self::Unknown(s) => s,
        }
    }
}
