//! The alert message on `{prefix}/alerts/{site}` (docs/payload-contract.md, "Alert
//! messages"): one JSON object per alert state change, built by [`AlertMessage`] for every
//! path that publishes one (rule-engine transitions and delivery's lifecycle events), and
//! the evidence object the `alerts` table stores.
//!
//! Pure: building a message does no I/O; publishing it is the caller's business.

use std::borrow::Cow;

use serde::Serialize;

use crate::delivery::{DeliveryEvent, DeliveryEventKind};
use crate::event::{AlertEvent, EventKind};

/// One alert state change, as gateways' and supervisors' subscribers receive it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertMessage<'a> {
    pub alert_id: &'a str,
    pub rule: &'a str,
    /// 1 (I, most severe) .. 4 (IV).
    pub level: u8,
    pub level_name: &'static str,
    pub colour: &'static str,
    /// `pending`, `firing`, `resolved`, or a delivery state (`escalated`, `acknowledged`,
    /// `resolved_manually`).
    pub state: &'static str,
    /// What changed: the rule event (`pending`, `firing`, `level_changed`, `resolved`) or
    /// the delivery event (`escalated`, `acknowledged`, `resolved_manually`).
    pub change: &'static str,
    pub site: &'a str,
    pub device: &'a str,
    pub subject: Option<&'a str>,
    pub grid: String,
    pub started_at: String,
    pub ts: String,
    /// Why, in English (for delivery events, the action in English).
    pub reason: Cow<'a, str>,
    pub summary: Bilingual<&'a str>,
    /// Evidence values by name (`{"value": 0.2, "limit": 0.3}`).
    pub evidence: serde_json::Map<String, serde_json::Value>,
    /// Delivery events only: who did what (`{"by": ..., "note": ...}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<serde_json::Value>,
    /// Delivery events only: the action in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action_text: Option<Bilingual<String>>,
}

/// A text in Chinese and English.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bilingual<T> {
    pub zh: T,
    pub en: T,
}

impl<'a> AlertMessage<'a> {
    /// The message of a rule-engine transition.
    pub fn of_event(event: &'a AlertEvent) -> Self {
        let state = match event.kind {
            EventKind::Resolved => "resolved",
            EventKind::Pending => "pending",
            EventKind::Firing | EventKind::LevelChanged => "firing",
        };
        Self::base(
            event,
            state,
            event.kind.as_str(),
            Cow::Borrowed(&event.reason),
            event.ts,
        )
    }

    /// The message of a delivery lifecycle event about `alert` (its latest rule-engine
    /// event); `None` for delivery events that are not published (acknowledgements cleared,
    /// silences).
    pub fn of_delivery(event: &'a DeliveryEvent, alert: &'a AlertEvent) -> Option<Self> {
        let (change, action, zh, en) = match &event.kind {
            DeliveryEventKind::Escalated {
                from,
                to,
                supervisors,
            } => (
                "escalated",
                serde_json::json!({ "from": from, "to": to, "supervisors": supervisors }),
                format!("逾期未确认，已由{}级升级至{}级处理", from.zh(), to.zh()),
                format!(
                    "not acknowledged in time: escalated from the {from} tier to the {to} tier"
                ),
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
        let mut message = Self::base(
            alert,
            event.kind.state(),
            change,
            Cow::Owned(en.clone()),
            event.ts,
        );
        message.alert_id = &event.alert_id;
        message.site = &event.site;
        message.action = Some(action);
        message.action_text = Some(Bilingual { zh, en });
        Some(message)
    }

    fn base(
        event: &'a AlertEvent,
        state: &'static str,
        change: &'static str,
        reason: Cow<'a, str>,
        ts: crate::model::Timestamp,
    ) -> Self {
        AlertMessage {
            alert_id: &event.alert_id,
            rule: &event.rule,
            level: event.level.number(),
            level_name: event.level.name_en(),
            colour: event.level.colour(),
            state,
            change,
            site: &event.site,
            device: &event.device,
            subject: event.subject.as_deref(),
            grid: event.grid.to_string(),
            started_at: event.started_at.to_string(),
            ts: ts.to_string(),
            reason,
            summary: Bilingual {
                zh: &event.summary_zh,
                en: &event.summary_en,
            },
            evidence: evidence_map(event),
            action: None,
            action_text: None,
        }
    }

    /// The topic the message goes to.
    pub fn topic(&self, topic_prefix: &str) -> String {
        format!("{topic_prefix}/alerts/{}", self.site)
    }

    /// The JSON payload.
    pub fn to_json(&self) -> String {
        // Serializing borrowed strings, numbers and JSON values cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The evidence of an event as a JSON object (`{"value": 0.2, "limit": 0.3, ...}`): the
/// `evidence` of [`AlertMessage`] and of the `alerts` table.
pub fn evidence_json(event: &AlertEvent) -> serde_json::Value {
    serde_json::Value::Object(evidence_map(event))
}

fn evidence_map(event: &AlertEvent) -> serde_json::Map<String, serde_json::Value> {
    event
        .evidence
        .iter()
        .map(|e| {
            (
                e.name.clone(),
                serde_json::to_value(&e.value).unwrap_or_default(),
            )
        })
        .collect()
}
