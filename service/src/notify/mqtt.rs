//! MQTT: notices to supervisors' MQTT channels ([`MqttNotifier`]) and the alert message
//! (docs/payload-contract.md) for delivery lifecycle events ([`delivery_event_message`]).
//!
//! Both are pure payload builders; publishing is the pipeline's job (its broker client).
//! [`MqttNotifier`] takes the publishing function, so it can sit with the other notifiers
//! behind [`super::Notifier`].
//!
//! # Delivery events on `{prefix}/alerts/{site}`
//!
//! Both kinds of message are built by [`alerting::wire::AlertMessage`]. Rule-engine events have
//! `state` `firing` / `resolved`. Delivery adds three states, in the same schema (same field
//! names, so one consumer reads both):
//!
//! | `DeliveryEventKind` | `state`        | `change`            | `action`                              |
//! |---------------------|----------------|---------------------|---------------------------------------|
//! | `Escalated`         | `escalated`    | `escalated`         | `{from, to, supervisors}`             |
//! | `Acknowledged`      | `acknowledged` | `acknowledged`      | `{by, note}`                          |
//! | `ResolvedManually`  | `resolved`     | `resolved_manually` | `{by, reason}`                        |
//!
//! Fields: `alert_id`, `rule`, `level` (1-4), `level_name`, `colour`, `state`, `change`,
//! `site`, `device`, `subject`, `grid`, `started_at`, `ts` (the delivery event's time),
//! `reason` (English, for operators), `summary` `{zh, en}` (the alert's latest summary),
//! `evidence` (the alert's latest), plus `action` (above) and `action_text` `{zh, en}`
//! ("已升级至街道级处理" ...). The other delivery events (`acknowledgement_cleared`,
//! `silenced`, `silence_ended`) are not alert state changes in the protocol's sense and are
//! not published here (the rule engine's `level_changed` event already moves the state
//! back to `firing` when an acknowledgement is cleared); they are stored with the others.

use std::fmt;
use std::sync::Arc;

use alerting::delivery::{ChannelKind, DeliveryEvent};
use alerting::wire::AlertMessage;

use alerting::AlertEvent;
use weijian_ingest::source::mqtt::MqttError;

use super::{render, Delivery, Notifier, NotifyError};

/// Publishes `payload` to `topic` (QoS 1, not retained, is what the pipeline should use).
/// An `Err` is a transient failure (client queue full, disconnected).
pub type PublishFn = dyn Fn(&str, Vec<u8>) -> Result<(), MqttError> + Send + Sync;

/// Sends notices to supervisors' `mqtt` channels (target = topic) as the notice JSON
/// ([`render::notice_json`], the webhook's body).
#[derive(Clone)]
pub struct MqttNotifier {
    publish: Arc<PublishFn>,
}

impl fmt::Debug for MqttNotifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MqttNotifier").finish_non_exhaustive()
    }
}

impl MqttNotifier {
    pub fn new(publish: Arc<PublishFn>) -> Self {
        Self { publish }
    }

    /// `(topic, payload)` of a delivery to an `mqtt` channel.
    pub fn notice_message(delivery: &Delivery) -> Result<(String, Vec<u8>), NotifyError> {
        let topic = &delivery.channel.target;
        if topic.is_empty() || topic.contains(['+', '#', '\0']) {
            return Err(NotifyError::InvalidTarget {
                channel: "mqtt",
                target: topic.clone(),
                reason: "an MQTT topic to publish to must be non-empty, without wildcards"
                    .to_owned(),
            });
        }
        Ok((
            topic.clone(),
            render::notice_json(delivery).to_string().into_bytes(),
        ))
    }
}

impl Notifier for MqttNotifier {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Mqtt
    }

    fn send(&self, delivery: &Delivery) -> Result<(), NotifyError> {
        let (topic, payload) = Self::notice_message(delivery)?;
        (self.publish)(&topic, payload).map_err(|error| NotifyError::Publish { topic, error })
    }
}

/// The `{topic_prefix}/alerts/{site}` message for a delivery event, given the alert's latest
/// rule-engine event (`DeliveryEngine::alert(id)` -> `TrackedAlert::event`); `None` for
/// events that are not published (see the module docs). For a manual resolution, take the
/// event *before* calling `resolve_manually`, which stops tracking the alert.
pub fn delivery_event_message(
    topic_prefix: &str,
    event: &DeliveryEvent,
    alert: &AlertEvent,
) -> Option<(String, Vec<u8>)> {
    let message = AlertMessage::of_delivery(event, alert)?;
    Some((message.topic(topic_prefix), message.to_json().into_bytes()))
}
