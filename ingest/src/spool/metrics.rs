//! Prometheus metrics of the spool, registered into an injected registry.

use prometheus::{Gauge, Histogram, HistogramOpts, IntCounter, IntGauge, Registry};

/// Metric names, in one place (`<namespace>_<name>_<unit>[_total]`).
pub mod names {
    /// Bytes on disk in segment files.
    pub const BYTES: &str = "weijian_spool_bytes";
    /// Durable records not yet committed (accepted by QuestDB).
    pub const RECORDS: &str = "weijian_spool_records";
    /// Segment files on disk.
    pub const SEGMENTS: &str = "weijian_spool_segments";
    /// 1 while appends wait for space, else 0.
    pub const FULL: &str = "weijian_spool_full";
    /// Age of the oldest durable record not yet committed.
    pub const OLDEST_UNWRITTEN_AGE_SECONDS: &str = "weijian_spool_oldest_unwritten_age_seconds";
    /// Corruption or torn-tail events found by recovery or while reading.
    pub const CORRUPTION_EVENTS_TOTAL: &str = "weijian_spool_corruption_events_total";
    /// Records lost to damage found by recovery (estimated from the sequence numbers around it).
    pub const RECORDS_LOST_TOTAL: &str = "weijian_spool_records_lost_total";
    /// Duration of one group commit (write + fsync of a batch).
    pub const COMMIT_DURATION_SECONDS: &str = "weijian_spool_commit_duration_seconds";
    /// Records made durable.
    pub const APPENDED_RECORDS_TOTAL: &str = "weijian_spool_appended_records_total";
}

/// Histogram buckets for the group-commit duration: 0.1 ms to 1 s.
pub const COMMIT_DURATION_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
];

/// The spool's metrics. Cloning shares the underlying series.
#[derive(Debug, Clone)]
pub struct SpoolMetrics {
    pub(crate) bytes: IntGauge,
    pub(crate) records: IntGauge,
    pub(crate) segments: IntGauge,
    pub(crate) full: IntGauge,
    pub(crate) oldest_unwritten_age_seconds: Gauge,
    pub(crate) corruption_events: IntCounter,
    pub(crate) records_lost: IntCounter,
    pub(crate) commit_duration: Histogram,
    pub(crate) appended_records: IntCounter,
}

impl SpoolMetrics {
    /// Creates the metrics and registers them in `registry`.
    ///
    /// # Errors
    /// Fails when a metric of the same name is already registered.
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let m = Self::build()?;
        registry.register(Box::new(m.bytes.clone()))?;
        registry.register(Box::new(m.records.clone()))?;
        registry.register(Box::new(m.segments.clone()))?;
        registry.register(Box::new(m.full.clone()))?;
        registry.register(Box::new(m.oldest_unwritten_age_seconds.clone()))?;
        registry.register(Box::new(m.corruption_events.clone()))?;
        registry.register(Box::new(m.records_lost.clone()))?;
        registry.register(Box::new(m.commit_duration.clone()))?;
        registry.register(Box::new(m.appended_records.clone()))?;
        Ok(m)
    }

    /// Metrics that are not registered anywhere (for tests and tools).
    ///
    /// # Errors
    /// Only if the constant metric definitions were invalid, which a unit test rules out.
    pub fn unregistered() -> Result<Self, prometheus::Error> {
        Self::build()
    }

    /// The group-commit duration histogram (for tools that summarise it).
    pub fn commit_duration_histogram(&self) -> Histogram {
        self.commit_duration.clone()
    }

    fn build() -> Result<Self, prometheus::Error> {
        use names::*;
        Ok(Self {
            bytes: IntGauge::new(BYTES, "Bytes on disk in spool segment files.")?,
            records: IntGauge::new(
                RECORDS,
                "Durable spool records not yet accepted by QuestDB.",
            )?,
            segments: IntGauge::new(SEGMENTS, "Spool segment files on disk.")?,
            full: IntGauge::new(FULL, "1 while the spool is full and appends wait, else 0.")?,
            oldest_unwritten_age_seconds: Gauge::new(
                OLDEST_UNWRITTEN_AGE_SECONDS,
                "Age of the oldest spool record not yet accepted by QuestDB (0 when none).",
            )?,
            corruption_events: IntCounter::new(
                CORRUPTION_EVENTS_TOTAL,
                "Torn or corrupt spool data found (and truncated) by recovery or reads.",
            )?,
            records_lost: IntCounter::new(
                RECORDS_LOST_TOTAL,
                "Acknowledged spool records lost to damage found by recovery (estimated from the sequence numbers around it; the bytes are set aside).",
            )?,
            commit_duration: Histogram::with_opts(
                HistogramOpts::new(
                    COMMIT_DURATION_SECONDS,
                    "Duration of one spool group commit (write and fsync of a batch).",
                )
                .buckets(COMMIT_DURATION_BUCKETS.to_vec()),
            )?,
            appended_records: IntCounter::new(
                APPENDED_RECORDS_TOTAL,
                "Records made durable in the spool.",
            )?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_metrics_register_under_their_documented_names() {
        let registry = Registry::new();
        let m = SpoolMetrics::register(&registry).unwrap();
        m.commit_duration.observe(0.001);
        let names: Vec<String> = registry
            .gather()
            .iter()
            .map(|f| f.name().to_string())
            .collect();
        for n in [
            names::BYTES,
            names::RECORDS,
            names::SEGMENTS,
            names::FULL,
            names::OLDEST_UNWRITTEN_AGE_SECONDS,
            names::CORRUPTION_EVENTS_TOTAL,
            names::RECORDS_LOST_TOTAL,
            names::COMMIT_DURATION_SECONDS,
            names::APPENDED_RECORDS_TOTAL,
        ] {
            assert!(names.iter().any(|x| x == n), "{n} missing from {names:?}");
        }
    }
}
