//! Silences and maintenance windows: who, why, until when, for a site or one device of a site.
//!
//! A silence suppresses notices (never the alert record) for alerts in its scope until it
//! expires by itself (`until`) or is lifted. When it ends, the still-open unacknowledged alerts
//! of its scope are notified (delivery's `tick`/`expire_silence`).

use serde::{Deserialize, Serialize};

use super::config::SupervisorId;
use crate::event::AlertEvent;
use crate::model::Timestamp;

/// What a silence covers.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SilenceScope {
    /// Every alert of the site, site-wide ones included.
    Site { site: String },
    /// Alerts of one device. The site is part of the scope because device ids are only
    /// unique within a site (`weijian/v1/{site}/{device}`) and because it decides who may set
    /// the silence (subtree rule).
    Device { site: String, device: String },
}

impl SilenceScope {
    /// The site this scope is in.
    pub fn site(&self) -> &str {
        match self {
            Self::Site { site } | Self::Device { site, .. } => site,
        }
    }

    /// Whether an alert falls in this scope.
    pub fn covers(&self, site: &str, device: &str) -> bool {
        match self {
            Self::Site { site: s } => s == site,
            Self::Device { site: s, device: d } => s == site && d == device,
        }
    }

    /// Whether an event's alert falls in this scope.
    pub fn covers_event(&self, e: &AlertEvent) -> bool {
        self.covers(&e.site, &e.device)
    }
}

/// A silence or maintenance window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Silence {
    /// Caller-chosen unique id.
    pub id: String,
    pub scope: SilenceScope,
    /// The supervisor who set it.
    pub by: SupervisorId,
    /// Why (required), e.g. `设备检修` / `scheduled maintenance`.
    pub reason: String,
    /// When it ends by itself (exclusive: at `until` it no longer applies).
    pub until: Timestamp,
}

impl Silence {
    /// Whether it applies at `now`.
    pub fn is_active(&self, now: Timestamp) -> bool {
        now < self.until
    }
}
