//! What delivery produces: [`Notice`]s for the outbox (who to tell, through which channels,
//! what to say) and [`DeliveryEvent`]s, the lifecycle records (escalated, acknowledged, ...)
//! the caller writes to QuestDB and publishes (docs/payload-contract.md, alert messages).

use crate::text::catalogue::{self, Texts};
use serde::{Deserialize, Serialize};

use super::config::{Channel, SupervisorId};
use super::grid::Tier;
use crate::level::Level;
use crate::model::{GridPath, Timestamp};

/// Why a notice is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    /// New alert(s): a firing burst of one site, or alerts held by a silence that ended.
    New,
    /// An announced alert changed level.
    LevelChanged,
    /// Still open and unacknowledged: the level's repeat interval passed, or a silence ended.
    Repeat,
    /// Not acknowledged by the deadline: sent to the next tier up.
    Escalated,
    /// Closed (by the rule engine or manually).
    Resolved,
    /// Someone acknowledged it.
    Acknowledged,
}

impl NoticeKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::LevelChanged => "level_changed",
            Self::Repeat => "repeat",
            Self::Escalated => "escalated",
            Self::Resolved => "resolved",
            Self::Acknowledged => "acknowledged",
        }
    }

    /// Why the notice is sent, in Chinese and English (from the text catalogue).
    pub const fn texts(self) -> Texts {
        match self {
            Self::New => catalogue::NOTICE_NEW,
            Self::LevelChanged => catalogue::NOTICE_LEVEL_CHANGED,
            Self::Repeat => catalogue::NOTICE_REPEAT,
            Self::Escalated => catalogue::NOTICE_ESCALATED,
            Self::Resolved => catalogue::NOTICE_RESOLVED,
            Self::Acknowledged => catalogue::NOTICE_ACKNOWLEDGED,
        }
    }
}

/// One supervisor to reach, with their channels (copied from the config at notice time).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recipient {
    pub supervisor: SupervisorId,
    pub name: String,
    pub tier: Tier,
    pub channels: Vec<Channel>,
    /// Mobile number for @mentions in group robots (DingTalk), if configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mobile: Option<String>,
}

/// One message to deliver to every recipient on each of their channels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// Stable and unique: `n{seq}/{kind}/{site}/{created_at µs}`; `seq` is part of the
    /// engine's snapshot, so a replay from the same snapshot and inputs yields the same ids
    /// (the outbox deduplicates on it).
    pub id: String,
    pub kind: NoticeKind,
    /// The tier the notice is addressed to (for escalations: the new tier).
    pub tier: Tier,
    pub recipients: Vec<Recipient>,
    /// The alerts it is about (a grouped burst has several), sorted.
    pub alerts: Vec<String>,
    pub site: String,
    pub site_name: String,
    pub grid: GridPath,
    /// The most severe level among `alerts`.
    pub level: Level,
    /// Chinese text: what, where, how bad, since when, evidence, what to do.
    pub text_zh: String,
    /// The same in English.
    pub text_en: String,
    pub created_at: Timestamp,
    /// The console page of each alert, in the order the texts list them (empty when
    /// `http.public_url` is not configured).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<String>,
}

impl Notice {
    /// Whether `supervisor` is among the recipients.
    pub fn is_for(&self, supervisor: &str) -> bool {
        self.recipients.iter().any(|r| r.supervisor == supervisor)
    }
}

/// A lifecycle transition owned by delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DeliveryEventKind {
    /// Not acknowledged by the deadline: handed to the next tier up that has supervisors.
    Escalated {
        from: Tier,
        to: Tier,
        supervisors: Vec<SupervisorId>,
    },
    /// Acknowledged: escalation and repeats stop; the alert stays open.
    Acknowledged { by: SupervisorId, note: String },
    /// The alert's level became more severe after it was acknowledged, so it needs a fresh
    /// acknowledgement (and its deadline runs again).
    AcknowledgementCleared { from: Level, to: Level },
    /// Closed by a supervisor (see `DeliveryEngine::resolve_manually`).
    ResolvedManually { by: SupervisorId, reason: String },
    /// A silence now covers the alert: notices are suppressed, the record is not.
    Silenced {
        silence_id: String,
        by: SupervisorId,
        reason: String,
        until: Timestamp,
    },
    /// The silence covering the alert ended: expired (`by` = None) or lifted by `by`.
    SilenceEnded {
        silence_id: String,
        by: Option<SupervisorId>,
    },
}

impl DeliveryEventKind {
    /// The `state` of the alert message (docs/payload-contract.md) for this transition.
    pub const fn state(&self) -> &'static str {
        match self {
            Self::Escalated { .. } => "escalated",
            Self::Acknowledged { .. } => "acknowledged",
            Self::AcknowledgementCleared { .. } => "acknowledgement_cleared",
            Self::ResolvedManually { .. } => "resolved",
            Self::Silenced { .. } => "silenced",
            Self::SilenceEnded { .. } => "silence_ended",
        }
    }
}

/// A lifecycle record for one alert: store it next to the rule engine's events and publish it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryEvent {
    pub alert_id: String,
    pub site: String,
    pub kind: DeliveryEventKind,
    pub ts: Timestamp,
}

/// What one call produced. Hand `notices` to the outbox and `events` to storage/publishing.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Outcome {
    pub notices: Vec<Notice>,
    pub events: Vec<DeliveryEvent>,
}

impl Outcome {
    pub fn is_empty(&self) -> bool {
        self.notices.is_empty() && self.events.is_empty()
    }
    pub(crate) fn extend(&mut self, other: Outcome) {
        self.notices.extend(other.notices);
        self.events.extend(other.events);
    }
}

/// Why a supervisor's action was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// No such alert (never seen, or resolved so long ago it was forgotten).
    #[error("alert {0} not found")]
    NotFound(String),
    /// The alert's (or silence's) site is outside the supervisor's grid subtree.
    #[error("supervisor {supervisor} may not act on site {site}: outside their grid cell")]
    Forbidden { supervisor: String, site: String },
    /// The alert is already closed.
    #[error("alert {0} is already resolved")]
    AlreadyResolved(String),
    #[error("unknown supervisor {0}")]
    UnknownSupervisor(String),
    #[error("unknown site {0}")]
    UnknownSite(String),
    #[error("silence {0} not found")]
    SilenceNotFound(String),
    #[error("silence {0} already exists")]
    DuplicateSilence(String),
    /// A silence must end in the future and say why.
    #[error("invalid silence: {0}")]
    InvalidSilence(String),
    #[error("delivery snapshot version {found} is not supported (expected {expected})")]
    SnapshotVersion { found: u32, expected: u32 },
}
