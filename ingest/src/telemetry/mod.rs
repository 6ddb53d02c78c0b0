//! Operator-facing telemetry: Prometheus metrics and tracing set-up.

pub mod logging;
pub mod metrics;
pub mod process;
