//! The engine's persisted state: open alerts, pending groups, recent resolutions, and
//! snapshot/restore.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{Acknowledgement, DeliveryEngine};
use crate::delivery::config::{DeliveryConfig, SupervisorId};
use crate::delivery::grid::Tier;
use crate::delivery::notice::DeliveryError;
use crate::delivery::silence::Silence;
use crate::event::AlertEvent;
use crate::level::Level;
use crate::model::{GridPath, Site, Timestamp};

/// Version of [`DeliverySnapshot`]; bump on incompatible changes.
pub const SNAPSHOT_VERSION: u32 = 1;
/// Delivery's view of one open alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackedAlert {
    /// The latest rule-engine event of the alert (level, summary, evidence).
    pub event: AlertEvent,
    /// The tier currently responsible (where it was routed, or escalated to).
    pub tier: Tier,
    /// Everyone who has been sent a notice about it.
    pub notified: BTreeSet<SupervisorId>,
    /// Whether a first notice went out (false while grouped or held by a silence).
    pub announced: bool,
    pub ack: Option<Acknowledgement>,
    /// When it escalates if still unacknowledged; `None` once acknowledged, at the top tier,
    /// or before it is announced.
    pub ack_deadline: Option<Timestamp>,
    /// When the next repeat notice is due; `None` if the level does not repeat.
    pub next_repeat: Option<Timestamp>,
}

impl TrackedAlert {
    pub fn alert_id(&self) -> &str {
        &self.event.alert_id
    }
    pub fn site(&self) -> &str {
        &self.event.site
    }
    pub fn level(&self) -> Level {
        self.event.level
    }
}

/// A burst of firing alerts at one site, waiting for the group window to pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingGroup {
    pub opened_at: Timestamp,
    pub alerts: Vec<String>,
}

/// A recently resolved alert (see [`RESOLVED_RETENTION_SECS`](super::RESOLVED_RETENTION_SECS)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolvedAlert {
    pub site: String,
    pub grid: GridPath,
    pub at: Timestamp,
}

/// The engine's whole state, for restart safety: `serde_json::to_string(&engine.snapshot())`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliverySnapshot {
    pub version: u32,
    pub alerts: BTreeMap<String, TrackedAlert>,
    /// Pending groups by site.
    pub groups: BTreeMap<String, PendingGroup>,
    pub silences: BTreeMap<String, Silence>,
    pub resolved: BTreeMap<String, ResolvedAlert>,
    /// Sequence of the next notice id.
    pub next_notice: u64,
}

impl Default for DeliverySnapshot {
    fn default() -> Self {
        Self {
            version: SNAPSHOT_VERSION,
            alerts: BTreeMap::new(),
            groups: BTreeMap::new(),
            silences: BTreeMap::new(),
            resolved: BTreeMap::new(),
            next_notice: 1,
        }
    }
}

impl DeliveryEngine {
    /// The state to persist (JSON via serde).
    pub fn snapshot(&self) -> DeliverySnapshot {
        self.st.clone()
    }

    /// An engine continuing from a snapshot: deadlines, repeats, groups and silences carry on
    /// where they were (a tick after the restart catches up with whatever fell due).
    pub fn restore(
        config: DeliveryConfig,
        sites: &[Site],
        snapshot: DeliverySnapshot,
    ) -> Result<Self, DeliveryError> {
        if snapshot.version != SNAPSHOT_VERSION {
            return Err(DeliveryError::SnapshotVersion {
                found: snapshot.version,
                expected: SNAPSHOT_VERSION,
            });
        }
        let mut e = Self::new(config, sites);
        e.st = snapshot;
        Ok(e)
    }
}
