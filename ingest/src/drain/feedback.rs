//! Gateway feedback on MQTT: a gateway learns why a message of one of its devices was refused
//! from `{prefix}/{site}/{device}/reply`, a JSON object per refusal
//! (docs/payload-contract.md, "Gateway feedback"):
//!
//! ```json
//! {"reason":"hj212_bad_crc","detail":"CRC expected ...","topic":"weijian/v1/s1/d1/hj212",
//!  "received_at":"2026-12-06T10:00:00.000000Z","message_seq":42,"item":0,"suppressed":0}
//! ```
//!
//! Best effort (QoS 1, not retained; dropped and counted when the client's queue is full) and
//! rate-limited per device: at most one reply per `min_interval`, the refusals in between are
//! counted in the next reply's `suppressed`. Frames that came over the TCP listener get their
//! answer on the connection instead (`source::hj212_tcp`), never here.

use std::collections::HashMap;
use std::time::Instant;

use crate::config::FeedbackSettings;
use crate::message::Message;
use crate::sink::rows::{QuarantineRow, Row};
use crate::source::mqtt::Publisher;
use crate::telemetry::metrics::Metrics;

/// Devices remembered for rate limiting; beyond it the map is cleared of entries whose
/// interval has passed (a flood of invented device names cannot grow it without bound).
const MAX_TRACKED_DEVICES: usize = 100_000;

/// The per-device rate limiter and publisher of refusal replies.
#[derive(Debug)]
pub(super) struct Feedback {
    settings: FeedbackSettings,
    prefix: String,
    /// (site/device) -> (last reply sent, refusals suppressed since).
    last: HashMap<String, (Instant, u64)>,
}

impl Feedback {
    pub(super) fn new(settings: FeedbackSettings, prefix: &str) -> Self {
        Self {
            settings,
            prefix: prefix.trim_end_matches('/').to_owned(),
            last: HashMap::new(),
        }
    }

    /// Publishes the refusals among `rows` (the quarantine rows of `msg`), rate-limited.
    pub(super) fn refused(
        &mut self,
        msg: &Message,
        rows: &[Row],
        client: &dyn Publisher,
        metrics: &Metrics,
        now: Instant,
    ) {
        if !self.settings.mqtt_replies || msg.from_hj212_tcp() {
            return;
        }
        for row in rows {
            let Row::Quarantine(q) = row else { continue };
            let (Some(site), Some(device)) = (&q.site, &q.device) else {
                continue;
            };
            let key = format!("{site}/{device}");
            let suppressed = match self.last.get_mut(&key) {
                Some((sent, suppressed))
                    if now.duration_since(*sent) < self.settings.min_interval =>
                {
                    *suppressed += 1;
                    metrics
                        .gateway_replies
                        .with_label_values(&["rate_limited"])
                        .inc();
                    continue;
                }
                Some((sent, suppressed)) => {
                    *sent = now;
                    std::mem::take(suppressed)
                }
                None => {
                    self.forget_stale(now);
                    self.last.insert(key, (now, 0));
                    0
                }
            };
            let topic = format!("{}/{site}/{device}/reply", self.prefix);
            match client.try_publish(&topic, reply_json(q, suppressed)) {
                Ok(()) => metrics.gateway_replies.with_label_values(&["sent"]).inc(),
                Err(error) => {
                    metrics
                        .gateway_replies
                        .with_label_values(&["dropped"])
                        .inc();
                    tracing::debug!(%error, %topic, "Could not publish a refusal reply (best effort).");
                }
            }
        }
    }

    fn forget_stale(&mut self, now: Instant) {
        if self.last.len() >= MAX_TRACKED_DEVICES {
            let interval = self.settings.min_interval;
            self.last
                .retain(|_, (sent, _)| now.duration_since(*sent) < interval);
            if self.last.len() >= MAX_TRACKED_DEVICES {
                self.last.clear();
            }
        }
    }
}

/// The reply payload for one quarantine row.
fn reply_json(q: &QuarantineRow, suppressed: u64) -> Vec<u8> {
    let received_at = chrono::DateTime::from_timestamp_micros(q.received_at.0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
        .unwrap_or_default();
    serde_json::json!({
        "reason": q.reason.code(),
        "detail": q.detail,
        "topic": q.topic,
        "received_at": received_at,
        "message_seq": q.message_seq,
        "item": q.item,
        "suppressed": suppressed,
    })
    .to_string()
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use std::time::Duration;

    use alerting::model::Timestamp;

    use super::*;
    use crate::reject::Reason;
    use crate::source::mqtt::MqttError;

    #[derive(Debug, Default)]
    struct Sent(Mutex<Vec<(String, Vec<u8>)>>);
    impl Publisher for Sent {
        fn try_publish(&self, topic: &str, payload: Vec<u8>) -> Result<(), MqttError> {
            self.0.lock().unwrap().push((topic.to_owned(), payload));
            Ok(())
        }
    }

    fn row(device: &str) -> Row {
        Row::Quarantine(QuarantineRow {
            received_at: Timestamp(1_700_000_000_000_000),
            message_seq: 7,
            topic: format!("p/s1/{device}/telemetry"),
            site: Some("s1".into()),
            device: Some(device.into()),
            reason: Reason::MalformedJson,
            item: 0,
            detail: "expected value at line 1".into(),
            payload: b"{".to_vec(),
        })
    }

    fn msg() -> Message {
        Message {
            received_at: Timestamp(0),
            qos: 1,
            topic: "p/s1/d1/telemetry".into(),
            payload: b"{".to_vec(),
        }
    }

    #[test]
    fn a_refusal_is_published_on_the_device_reply_topic_at_most_once_per_interval() {
        let metrics = Metrics::unregistered().unwrap();
        let sent = Sent::default();
        let mut fb = Feedback::new(
            FeedbackSettings {
                mqtt_replies: true,
                min_interval: Duration::from_secs(10),
            },
            "p/",
        );
        let t0 = Instant::now();
        fb.refused(&msg(), &[row("d1")], &sent, &metrics, t0);
        fb.refused(
            &msg(),
            &[row("d1"), row("d1")],
            &sent,
            &metrics,
            t0 + Duration::from_secs(1),
        );
        fb.refused(
            &msg(),
            &[row("d2")],
            &sent,
            &metrics,
            t0 + Duration::from_secs(1),
        );
        fb.refused(
            &msg(),
            &[row("d1")],
            &sent,
            &metrics,
            t0 + Duration::from_secs(11),
        );
        let sent = sent.0.lock().unwrap();
        let topics: Vec<&str> = sent.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(topics, ["p/s1/d1/reply", "p/s1/d2/reply", "p/s1/d1/reply"]);
        let first: serde_json::Value = serde_json::from_slice(&sent[0].1).unwrap();
        assert_eq!(first["reason"], "malformed_json");
        assert_eq!(first["detail"], "expected value at line 1");
        assert_eq!(first["topic"], "p/s1/d1/telemetry");
        assert_eq!(first["received_at"], "2023-11-14T22:13:20.000000Z");
        let last: serde_json::Value = serde_json::from_slice(&sent[2].1).unwrap();
        assert_eq!(
            last["suppressed"], 2,
            "the two refusals inside the interval"
        );
        assert_eq!(
            metrics
                .gateway_replies
                .with_label_values(&["rate_limited"])
                .get(),
            2
        );
    }

    #[test]
    fn frames_from_the_tcp_listener_and_a_disabled_feedback_publish_nothing() {
        let metrics = Metrics::unregistered().unwrap();
        let sent = Sent::default();
        let on = FeedbackSettings {
            mqtt_replies: true,
            min_interval: Duration::from_secs(10),
        };
        let mut tcp = msg();
        tcp.qos = crate::message::ORIGIN_HJ212_TCP;
        Feedback::new(on, "p").refused(&tcp, &[row("d1")], &sent, &metrics, Instant::now());
        let off = FeedbackSettings {
            mqtt_replies: false,
            ..on
        };
        Feedback::new(off, "p").refused(&msg(), &[row("d1")], &sent, &metrics, Instant::now());
        assert!(sent.0.lock().unwrap().is_empty());
    }
}
