//! The clock the pipeline runs on: wall time in production, a shifted or simulated clock in the
//! demo and in tests.

use std::sync::Arc;

use alerting::model::Timestamp;

/// The clock the rule engine's timers run on (offline devices, durations maturing without new
/// data). The wall clock in production; the demo's simulated time while it replays history.
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// The wall clock.
pub fn wall_clock() -> Clock {
    Arc::new(now)
}

/// The device-independent clock: wall time as a [`Timestamp`].
pub fn now() -> Timestamp {
    Timestamp(chrono::Utc::now().timestamp_micros())
}
