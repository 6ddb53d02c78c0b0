//! MQTT: notices to supervisors' MQTT channels ([`MqttNotifier`]) and the alert message
//! (docs/payload-contract.md) for delivery lifecycle events ([`delivery_event_message`]).
//!
//! Both are pure payload builders; publishing is the pipeline's job (its broker client).
//! [`MqttNotifier`] takes the publishing function, so it can sit with the other notifiers
//! behind [`super::Notifier`].
//!
//! # Delivery events on `{prefix}/alerts/{site}`
//!
//! The rule engine's events are published by `crate::alerts::notification_json` with
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

use alerting::delivery::{ChannelKind, DeliveryEvent, DeliveryEventKind};
use alerting::AlertEvent;

use super::{render, Delivery, Notifier, NotifyError};

/// Publishes `payload` to `topic` (QoS 1, not retained, is what the pipeline should use).
/// An `Err` is a transient failure (client queue full, disconnected).
pub type PublishFn = dyn Fn(&str, Vec<u8>) -> Result<(), String> + Send + Sync;

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
        (self.publish)(&topic, payload).map_err(|reason| NotifyError::Publish { topic, reason })
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
    let (change, action, zh, en) = match &event.kind {
        DeliveryEventKind::Escalated {
            from,
            to,
            supervisors,
        } => (
            "escalated",
            serde_json::json!({ "from": from, "to": to, "supervisors": supervisors }),
            format!("逾期未确认，已由{}级升级至{}级处理", from.zh(), to.zh()),
            format!("not acknowledged in time: escalated from the {from} tier to the {to} tier"),
        ),
        DeliveryEventKind::Acknowledged { by, note } => (
            "acknowledged",
            serde_json::json!({ "by": by, "note": note }),
            format!("已由 {by} 确认：{note}"),
            format!("acknowledged by {by}: {note}"),
        ),
        DeliveryEventKind::ResolvedManually { by, reason } => (
            "resolved_manually",
            serde_json::json!({ "by": by, "reason": reason }),
            format!("已由 {by} 手动解除：{reason}"),
            format!("resolved manually by {by}: {reason}"),
        ),
        DeliveryEventKind::AcknowledgementCleared { .. }
        | DeliveryEventKind::Silenced { .. }
        | DeliveryEventKind::SilenceEnded { .. } => return None,
    };
    let payload = serde_json::json!({
        "alert_id": event.alert_id,
        "rule": alert.rule,
        "level": alert.level.number(),
        "level_name": alert.level.name_en(),
        "colour": alert.level.colour(),
        "state": event.kind.state(),
        "change": change,
        "site": event.site,
        "device": alert.device,
        "subject": alert.subject,
        "grid": alert.grid.to_string(),
        "started_at": alert.started_at.to_string(),
        "ts": event.ts.to_string(),
        "reason": en,
        "summary": { "zh": alert.summary_zh, "en": alert.summary_en },
        "evidence": crate::alerts::evidence_json(alert),
        "action": action,
        "action_text": { "zh": zh, "en": en },
    });
    Some((
        format!("{topic_prefix}/alerts/{}", event.site),
        payload.to_string().into_bytes(),
    ))
}
