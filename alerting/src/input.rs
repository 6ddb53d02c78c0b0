//! What the rule engine consumes: validated readings, device events and timer ticks.
//!
//! Every input carries event time (the device's clock, or for [`Input::Tick`] the caller's
//! clock in the same UTC microseconds), so evaluation is deterministic and replayable.

use crate::model::{DataFlag, Id, Metric, Period, Reading, Stat, Timestamp};
use crate::sterilization::SterilizerEvent;

/// One input to [`crate::Engine::process`]. Non-exhaustive: sterilizer events
/// (cycle_start, ...) will join as variants.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Input {
    /// A validated value. Only [`Reading::is_quality_evidence`] values feed quality rules;
    /// flagged values drive the monitor-status rule (W6).
    Reading(Reading),
    /// The values of one sample (one device, one event time): the same as one
    /// [`Input::Reading`] per value, in order, built without a copy of the ids per value.
    Readings(Readings),
    /// A water `maintenance` event: `active = true` starts a maintenance window, `false` ends it.
    Maintenance {
        site: Id,
        device: Id,
        ts: Timestamp,
        active: bool,
        reason: String,
    },
    /// The device's retained birth (`online = true`) or last-will (`online = false`) message.
    /// While the last will stands, the device's quality rules start no new alerts.
    Status {
        site: Id,
        device: Id,
        ts: Timestamp,
        online: bool,
    },
    /// A value outside the metric's physical range, quarantined by ingest: drives G3.
    SensorFault {
        site: Id,
        device: Id,
        ts: Timestamp,
        metric: Metric,
        value: f64,
    },
    /// A device timestamp more than 5 min in the future, rejected by ingest: drives G4.
    /// `ts` is the time ingest saw it (its own clock), not the bogus device time.
    ClockFault {
        site: Id,
        device: Id,
        ts: Timestamp,
        detail: String,
    },
    /// weijian received a message from the device at `ts`: the receive time stored with the
    /// spooled message (weijian's clock, like [`Input::Tick`]), not the readings' event time.
    /// G1 judges liveness by the later of this and the latest data's event time, so a gateway
    /// uploading a backlog of backdated readings is not taken for offline while it drains.
    /// Ingest sends one per message after its other inputs; never for status messages (the
    /// broker publishes a last will on the device's behalf).
    Heard { site: Id, device: Id, ts: Timestamp },
    /// A medical-waste `bag_in` (rules M1-M4 through the store's ledger).
    BagIn(crate::waste::BagIn),
    /// A medical-waste `handover` to the disposal company (M2, M3, M4).
    Handover(crate::waste::Handover),
    /// A waste-store `disinfection` record (M7).
    Disinfection(crate::waste::Disinfection),
    /// Timer: advances event time for absence (G1), pending durations that mature without new
    /// samples, and escalation by persistence. The caller sends one every minute or so.
    Tick(Timestamp),
    /// A dental sterilizer event: cycle start and end, Bowie-Dick sheet, BI result (S1-S6).
    Sterilizer(SterilizerEvent),
}

impl Input {
    /// The event time of this input.
    pub fn ts(&self) -> Timestamp {
        match self {
            Self::Reading(r) => r.ts,
            Self::Readings(g) => g.ts,
            Self::Maintenance { ts, .. }
            | Self::Status { ts, .. }
            | Self::SensorFault { ts, .. }
            | Self::ClockFault { ts, .. }
            | Self::Heard { ts, .. }
            | Self::Tick(ts) => *ts,
            Self::BagIn(b) => b.ts,
            Self::Handover(h) => h.ts,
            Self::Disinfection(d) => d.ts,
            Self::Sterilizer(e) => e.ts,
        }
    }
}

/// The values of one sample: what one [`Reading`] per value would say, with the ids once.
#[derive(Debug, Clone, PartialEq)]
pub struct Readings {
    pub site: Id,
    pub device: Id,
    pub ts: Timestamp,
    pub period: Period,
    pub stat: Stat,
    /// The gateway's per-device sequence number, if it sends one.
    pub seq: Option<u64>,
    /// Metric, value and flag, in the order the device sent them.
    pub values: Vec<(Metric, f64, DataFlag)>,
}
