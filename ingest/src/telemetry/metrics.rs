//! Prometheus metrics of the pipeline, one field per metric, registered into an injected
//! registry (no global state, so tests render and assert exact lines).
//!
//! Names follow `weijian_<what>_<unit>[_total]`; labels are low-cardinality only (stage,
//! reason, table, channel, rule, level) and never a device or site id. The metric table of
//! docs/operations.md and the dashboards use exactly these names (checked by a test).

use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry,
};

use crate::reject::Reason;
use crate::topic::Channel;

/// The `channel` label of a message whose topic has no known channel.
pub const UNKNOWN_CHANNEL: &str = "unknown";
/// The `kind` labels of `weijian_questdb_write_errors_total`.
pub const WRITE_ERROR_KINDS: [&str; 2] = ["unavailable", "rejected"];

/// The `stage` label of `weijian_drain_stage_seconds`.
pub const DRAIN_STAGES: [&str; 6] = [
    "records",
    "decode_wait",
    "outbox",
    "store_wait",
    "snapshot",
    "commit",
];

/// Every pipeline metric.
#[derive(Debug, Clone)]
pub struct Metrics {
    /// Messages received from the broker, by QoS.
    pub received: IntCounterVec,
    /// PUBACKs sent (after the message was durable in the spool).
    pub acked: IntCounter,
    /// Messages received but not yet acknowledged (waiting for the spool's fsync).
    pub pending_acks: IntGauge,
    /// Messages decoded and validated from the spool, by channel.
    pub processed: IntCounterVec,
    /// Values accepted as readings.
    pub readings: IntCounter,
    /// Rejections (quarantined), by reason code.
    pub rejected: IntCounterVec,
    /// Rows QuestDB accepted, by table.
    pub rows_written: IntCounterVec,
    /// Duration of QuestDB flushes that succeeded.
    pub flush_duration: Histogram,
    /// Failed QuestDB requests, by kind: `unavailable` (5xx, no connection), `misconfigured`
    /// (credentials refused, not QuestDB's API), `rejected` (DDL refused, or rows and their
    /// quarantine rows alike), `refused` (a write
    /// QuestDB refused, then split so every other row was written).
    pub write_errors: IntCounterVec,
    /// 1 while the last QuestDB write or DDL succeeded.
    pub questdb_up: IntGauge,
    /// 1 while connected to the broker.
    pub mqtt_connected: IntGauge,
    /// MQTT connection errors.
    pub mqtt_connection_errors: IntCounter,
    /// Reconnections where the broker had no session for us (a possible data gap).
    pub mqtt_session_lost: IntCounter,
    /// HJ 212 data acknowledgements (9014) published.
    pub hj212_replies: IntCounter,
    /// Best-effort MQTT messages (alert notifications, HJ 212 replies) not sent because the
    /// broker link was saturated or down.
    pub notifications_dropped: IntCounter,
    /// Alert lifecycle events, by rule, level and kind.
    pub alert_events: IntCounterVec,
    /// Event time lag: receive time minus device time, for accepted readings.
    pub event_lag: HistogramVec,
    /// Where the drain's time goes between two reads, by stage ([`DRAIN_STAGES`]): what a
    /// durable record (and its alert) waits for.
    pub drain_stage: HistogramVec,
    /// Always 1, labelled with the version: which build runs.
    pub build_info: IntGaugeVec,
    /// Open (firing) alerts, by level.
    pub open_alerts: IntGaugeVec,
    /// Devices offline now (last will standing, or the offline rule firing).
    pub offline_devices: IntGauge,
    /// Refusal replies to gateways on `{prefix}/{site}/{device}/reply`, by outcome: `sent`,
    /// `rate_limited` (inside the device's interval), `dropped` (the client's queue was full).
    pub gateway_replies: IntCounterVec,
}

/// The `outcome` labels of `weijian_gateway_replies_total`.
pub const GATEWAY_REPLY_OUTCOMES: [&str; 3] = ["sent", "rate_limited", "dropped"];

impl Metrics {
    /// Creates and registers every metric.
    ///
    /// # Errors
    /// A name registered twice in `registry`.
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let m = Self::unregistered()?;
        registry.register(Box::new(m.received.clone()))?;
        registry.register(Box::new(m.acked.clone()))?;
        registry.register(Box::new(m.pending_acks.clone()))?;
        registry.register(Box::new(m.processed.clone()))?;
        registry.register(Box::new(m.readings.clone()))?;
        registry.register(Box::new(m.rejected.clone()))?;
        registry.register(Box::new(m.rows_written.clone()))?;
        registry.register(Box::new(m.flush_duration.clone()))?;
        registry.register(Box::new(m.write_errors.clone()))?;
        registry.register(Box::new(m.questdb_up.clone()))?;
        registry.register(Box::new(m.mqtt_connected.clone()))?;
        registry.register(Box::new(m.mqtt_connection_errors.clone()))?;
        registry.register(Box::new(m.mqtt_session_lost.clone()))?;
        registry.register(Box::new(m.hj212_replies.clone()))?;
        registry.register(Box::new(m.notifications_dropped.clone()))?;
        registry.register(Box::new(m.alert_events.clone()))?;
        registry.register(Box::new(m.event_lag.clone()))?;
        registry.register(Box::new(m.drain_stage.clone()))?;
        registry.register(Box::new(m.build_info.clone()))?;
        registry.register(Box::new(m.open_alerts.clone()))?;
        registry.register(Box::new(m.offline_devices.clone()))?;
        registry.register(Box::new(m.gateway_replies.clone()))?;
        for outcome in GATEWAY_REPLY_OUTCOMES {
            m.gateway_replies.with_label_values(&[outcome]);
        }
        registry.register(Box::new(super::process::ProcessCollector::new()))?;
        m.build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        // Every label value known in advance appears from the start (at 0), so dashboards and
        // alerts on rates work before the first event.
        for r in Reason::ALL {
            m.rejected.with_label_values(&[r.code()]);
        }
        for qos in ["0", "1", "2"] {
            m.received.with_label_values(&[qos]);
        }
        for channel in Channel::ALL
            .map(Channel::as_str)
            .into_iter()
            .chain([UNKNOWN_CHANNEL])
        {
            m.processed.with_label_values(&[channel]);
            m.event_lag.with_label_values(&[channel]);
        }
        for stage in DRAIN_STAGES {
            m.drain_stage.with_label_values(&[stage]);
        }
        for table in crate::sink::schema::tables() {
            m.rows_written.with_label_values(&[table.name]);
        }
        for kind in WRITE_ERROR_KINDS {
            m.write_errors.with_label_values(&[kind]);
        }
        for level in alerting::Level::ALL {
            m.open_alerts.with_label_values(&[level.as_str()]);
        }
        Ok(m)
    }

    /// Shows `weijian_alert_events_total` at 0 for every rule of `pack`, at each level it can
    /// take, for every kind of event.
    pub fn prepare_alert_events(&self, pack: &alerting::RulePack) {
        use alerting::EventKind;
        let kinds = [
            EventKind::Pending,
            EventKind::Firing,
            EventKind::LevelChanged,
            EventKind::Resolved,
        ];
        for rule in &pack.rules {
            let levels = std::iter::once(rule.level).chain(rule.escalate_after.iter().map(|e| e.1));
            for level in levels {
                for kind in kinds {
                    self.alert_events.with_label_values(&[
                        rule.id.as_str(),
                        level.as_str(),
                        kind.as_str(),
                    ]);
                }
            }
        }
    }

    /// Metrics not registered anywhere (tests, tools).
    ///
    /// # Errors
    /// Never in practice: the options are constant and valid.
    pub fn unregistered() -> Result<Self, prometheus::Error> {
        Ok(Self {
            received: IntCounterVec::new(
                Opts::new(
                    "weijian_mqtt_received_messages_total",
                    "Messages received from the broker.",
                ),
                &["qos"],
            )?,
            acked: IntCounter::new(
                "weijian_mqtt_acked_messages_total",
                "PUBACKs sent after the message was durable in the spool.",
            )?,
            pending_acks: IntGauge::new(
                "weijian_mqtt_pending_acks",
                "Messages received and not yet acknowledged (waiting for the spool fsync).",
            )?,
            processed: IntCounterVec::new(
                Opts::new(
                    "weijian_processed_messages_total",
                    "Messages decoded and validated, by channel.",
                ),
                &["channel"],
            )?,
            readings: IntCounter::new(
                "weijian_accepted_readings_total",
                "Values accepted as readings.",
            )?,
            rejected: IntCounterVec::new(
                Opts::new(
                    "weijian_rejected_total",
                    "Rejections sent to the quarantine table, by reason.",
                ),
                &["reason"],
            )?,
            rows_written: IntCounterVec::new(
                Opts::new(
                    "weijian_questdb_rows_written_total",
                    "Rows QuestDB accepted, by table.",
                ),
                &["table"],
            )?,
            flush_duration: Histogram::with_opts(
                HistogramOpts::new(
                    "weijian_questdb_flush_duration_seconds",
                    "Duration of successful QuestDB flushes.",
                )
                .buckets(vec![
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                ]),
            )?,
            write_errors: IntCounterVec::new(
                Opts::new(
                    "weijian_questdb_write_errors_total",
                    "Failed QuestDB requests, by kind (unavailable, misconfigured, rejected, refused).",
                ),
                &["kind"],
            )?,
            questdb_up: IntGauge::new("weijian_questdb_up", "1 while QuestDB accepts writes.")?,
            mqtt_connected: IntGauge::new(
                "weijian_mqtt_connected",
                "1 while connected to the broker.",
            )?,
            mqtt_connection_errors: IntCounter::new(
                "weijian_mqtt_connection_errors_total",
                "MQTT connection errors (each followed by a back-off and a reconnect).",
            )?,
            mqtt_session_lost: IntCounter::new(
                "weijian_mqtt_session_lost_total",
                "Reconnections where the broker had no session for us: a possible data gap.",
            )?,
            hj212_replies: IntCounter::new(
                "weijian_hj212_replies_total",
                "HJ 212 data acknowledgements (CN 9014) published.",
            )?,
            notifications_dropped: IntCounter::new(
                "weijian_mqtt_dropped_notifications_total",
                "Alert notifications and HJ 212 replies not sent because the broker link was saturated or down.",
            )?,
            alert_events: IntCounterVec::new(
                Opts::new(
                    "weijian_alert_events_total",
                    "Alert lifecycle events, by rule, level and kind.",
                ),
                &["rule", "level", "kind"],
            )?,
            event_lag: HistogramVec::new(
                HistogramOpts::new(
                    "weijian_event_lag_seconds",
                    "Receive time minus device event time of accepted readings, by channel.",
                )
                .buckets(vec![0.1, 0.5, 1.0, 5.0, 30.0, 60.0, 300.0, 3600.0, 86400.0]),
                &["channel"],
            )?,
            drain_stage: HistogramVec::new(
                HistogramOpts::new(
                    "weijian_drain_stage_seconds",
                    "Time the drain spent per pass in each stage (records: decode, validate, rules; decode_wait: waiting for records decoded ahead on another thread; outbox: notices made durable; store_wait: waiting for a running write; snapshot: waiting for a rule snapshot save; commit: waiting for a spool commit).",
                )
                .buckets(vec![
                    0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1,
                    0.25, 1.0,
                ]),
                &["stage"],
            )?,
            build_info: IntGaugeVec::new(
                Opts::new(
                    "weijian_build_info",
                    "Always 1; the version label says which build runs.",
                ),
                &["version"],
            )?,
            open_alerts: IntGaugeVec::new(
                Opts::new("weijian_open_alerts", "Open (firing) alerts, by level."),
                &["level"],
            )?,
            offline_devices: IntGauge::new(
                "weijian_offline_devices",
                "Devices offline now (last will standing, or the offline rule G1 firing).",
            )?,
            gateway_replies: IntCounterVec::new(
                Opts::new(
                    "weijian_gateway_replies_total",
                    "Refusal replies to gateways on {prefix}/{site}/{device}/reply, by outcome (sent, rate_limited, dropped).",
                ),
                &["outcome"],
            )?,
        })
    }
}

/// The sum of a counter vector over all its label values.
pub fn total(vec: &IntCounterVec) -> u64 {
    use prometheus::core::Collector;
    vec.collect()
        .iter()
        .flat_map(|family| family.get_metric())
        .map(|m| m.get_counter().get_value() as u64)
        .sum()
}

/// Renders a registry in the Prometheus text format.
pub fn render(registry: &Registry) -> String {
    use prometheus::Encoder;
    let mut out = Vec::new();
    let encoder = prometheus::TextEncoder::new();
    if let Err(error) = encoder.encode(&registry.gather(), &mut out) {
        tracing::error!(%error, "Could not encode metrics.");
    }
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_registers_once_and_renders_with_its_help() {
        let registry = Registry::new();
        let m = Metrics::register(&registry).unwrap();
        m.acked.inc();
        m.rejected.with_label_values(&["malformed_json"]).inc();
        let text = render(&registry);
        assert!(text.contains("weijian_mqtt_acked_messages_total 1"));
        assert!(text.contains("weijian_rejected_total{reason=\"malformed_json\"} 1"));
        assert!(text.contains("weijian_rejected_total{reason=\"hj212_bad_crc\"} 0"));
        assert!(
            Metrics::register(&registry).is_err(),
            "a second registration must fail"
        );
    }

    #[test]
    fn a_fresh_registry_shows_the_build_and_every_counter_at_zero() {
        let registry = Registry::new();
        let m = Metrics::register(&registry).unwrap();
        m.prepare_alert_events(&alerting::RulePack::default_pack().unwrap());
        let text = render(&registry);
        let version = env!("CARGO_PKG_VERSION");
        assert!(
            text.contains(&format!("weijian_build_info{{version=\"{version}\"}} 1")),
            "{text}"
        );
        // Every counter family has samples, all 0, before anything happened.
        let counters: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .filter_map(|l| l.strip_suffix(" counter"))
            .collect();
        assert!(counters.len() >= 12, "{counters:?}");
        for name in counters {
            let samples: Vec<&str> = text
                .lines()
                .filter(|l| l.starts_with(name) && !l.starts_with('#'))
                .collect();
            assert!(!samples.is_empty(), "{name} has no sample at start");
            if !name.starts_with("process_") {
                assert!(samples.iter().all(|l| l.ends_with(" 0")), "{samples:?}");
            }
        }
        for expected in [
            "weijian_mqtt_received_messages_total{qos=\"1\"} 0",
            "weijian_processed_messages_total{channel=\"telemetry\"} 0",
            "weijian_questdb_rows_written_total{table=\"alerts\"} 0",
            "weijian_questdb_write_errors_total{kind=\"unavailable\"} 0",
            "weijian_alert_events_total{kind=\"firing\",level=\"III\",rule=\"W1\"} 0",
            "weijian_open_alerts{level=\"II\"} 0",
            "weijian_offline_devices 0",
            "weijian_mqtt_session_lost_total 0",
        ] {
            assert!(text.contains(expected), "{expected} in:\n{text}");
        }
    }
}
