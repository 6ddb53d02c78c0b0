//! Alert lifecycle events: what the engine emits, what is written to QuestDB and published.
//!
//! One open alert per identity (rule, site, device[, subject]); each transition of it is one
//! [`AlertEvent`] with a reason, evidence and bilingual summaries (Chinese first).

use serde::{Deserialize, Serialize};

use crate::level::Level;
use crate::model::{GridPath, Timestamp};

/// The device field of site-scoped alerts (compositions such as W5, which combine alerts of
/// possibly different devices at one site).
pub const SITE_SCOPE_DEVICE: &str = "*";

/// The transition an event records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// The condition holds but has not yet held for the rule's pending duration.
    Pending,
    /// The alert is open (new). Announced once per alert.
    Firing,
    /// The open alert moved up or down a level.
    LevelChanged,
    /// The alert closed: its clear condition held for the clear duration, or a pending
    /// condition went away before it matured.
    Resolved,
}

impl EventKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Firing => "firing",
            Self::LevelChanged => "level_changed",
            Self::Resolved => "resolved",
        }
    }

    /// Parses the snake_case name.
    pub fn parse(s: &str) -> Option<EventKind> {
        [
            Self::Pending,
            Self::Firing,
            Self::LevelChanged,
            Self::Resolved,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// An evidence value: a number (measured value, limit) or text (metric name, time, detail).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum EvidenceValue {
    Number(f64),
    Text(String),
}

/// One named piece of evidence, e.g. `value = 1.42`, `limit = 1`, `since = 2026-..Z`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub name: String,
    pub value: EvidenceValue,
}

impl Evidence {
    /// Numeric evidence.
    pub fn number(name: &str, value: f64) -> Self {
        Self {
            name: name.to_owned(),
            value: EvidenceValue::Number(value),
        }
    }
    /// Text evidence.
    pub fn text(name: &str, value: impl Into<String>) -> Self {
        Self {
            name: name.to_owned(),
            value: EvidenceValue::Text(value.into()),
        }
    }
}

/// One alert transition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertEvent {
    /// Stable id of the alert: identity plus start time, the same on every event of one alert.
    pub alert_id: String,
    /// Rule id from the pack, e.g. `W2`.
    pub rule: String,
    /// The alert's level after this transition.
    pub level: Level,
    pub kind: EventKind,
    pub site: String,
    /// Device id, or [`SITE_SCOPE_DEVICE`] for site-scoped rules.
    pub device: String,
    /// Distinguishes alerts of one rule on one device, e.g. the metric for G2/G3.
    pub subject: Option<String>,
    pub grid: GridPath,
    /// When the condition started (first breaching evidence).
    pub started_at: Timestamp,
    /// Event time of this transition.
    pub ts: Timestamp,
    /// Why this transition happened, in English, for operators and logs.
    pub reason: String,
    pub evidence: Vec<Evidence>,
    /// What, where, how bad, since when, in Chinese.
    pub summary_zh: String,
    /// The same in English.
    pub summary_en: String,
}
