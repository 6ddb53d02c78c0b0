//! Dental steam sterilizer supervision (docs/alert-rules.md, S1-S6): a verdict
//! for every sterilization cycle computed from the raw chamber temperature and absolute
//! pressure, Bowie-Dick and biological-indicator (BI) bookkeeping, and the recall list after
//! a positive BI.
//!
//! # Layout
//!
//! - [`steam`]: saturated steam, IAPWS-IF97 region 4 (`T_s(p)`, `p_s(T)`).
//! - [`params`]: the verdict's parameters from the pack's `[sterilization]` section (programs
//!   with set temperature and minimum hold, band, steam tolerance, gaps, grace), with their
//!   provenance; the section and the S rule kinds are compiled in `rule/sterilization.rs`.
//! - [`cycle`]: one cycle in progress: a small reorder buffer and hold statistics folded in
//!   incrementally, and the verdict with its reasons and evidence.
//! - [`state`]: what the engine remembers per sterilizer (snapshotted).
//! - `eval/sterilization.rs`: the engine side: events, samples and ticks to verdicts and
//!   S1-S6 alerts.
//!
//! # Semantics (decisions)
//!
//! - **Attribution of samples.** Telemetry carries no `cycle_id` by the time it reaches the
//!   engine, so a chamber sample belongs to the sterilizer's open cycle when its event time is
//!   at or after the cycle's `cycle_start` and (once `cycle_end` is known) at or before the
//!   cycle's `cycle_end`. Samples outside any open cycle (standby) are not evaluated.
//! - **Hold.** The hold is the longest continuous run of chamber-temperature samples at or
//!   above the program's set temperature; its length is the time from its first to its last
//!   sample. A dip below the set temperature ends a run, so a hold interrupted by a dip must
//!   be long enough on its own.
//! - **Verdict.** Pass when, over the hold: length >= the program's minimum (Std WS 310.2),
//!   every temperature <= set + band (Std WS 310.3 "+3 °C"), every temperature/pressure pair
//!   (samples at most `pair_secs` apart) within `steam_k` of `T_s(p)` (EN 285/13060 practice,
//!   [R]), no gap between temperature samples longer than `max_gap_secs` and no temperature
//!   sample whose latest pressure sample is older than that (Default: otherwise the cycle
//!   cannot be proven), and at least one pair (no pressure, no proof).
//! - **Late telemetry.** Samples up to `reorder_secs` out of order are sorted in a small
//!   buffer before they are folded into the statistics; older stragglers are counted as late
//!   and not used. After `cycle_end` the verdict waits `grace_secs` of event time (any later
//!   input of the device, or a tick) so telemetry published just before the end still counts.
//! - **Memory.** A cycle in progress costs its identity, the statistics of two runs and a
//!   reorder buffer of at most [`cycle::MAX_BUFFERED`] samples: a 2-hour cycle at 1 Hz costs
//!   the same as a 4-minute one.
//! - **Alerts.** S1 (failed) and S6 (aborted or never ended) are per cycle (subject = the
//!   cycle id) and resolve when a later cycle of the same sterilizer passes the computed
//!   verdict: the sterilizer has shown it works again; the failed load itself is the clinic's
//!   to reprocess and stays on record in `sterilization_cycles`. S2 (false pass, level I) is
//!   per cycle and resolves only by a supervisor ([`crate::Engine::close_alert`]): a device
//!   that reported a failed cycle as sterile has released an unsterile load, which no later
//!   cycle undoes. A cycle with S2 does not also raise S1 (S2 is S1 plus the false pass).
//!   S3 is per cycle and resolves when a passing Bowie-Dick (cycle and sheet) is recorded.
//!   S4 is per sterilizer, lists the cycles to recall, and resolves after
//!   `bi_negatives_to_resume` consecutive negative BIs (Std WS 310.3: use resumes after three
//!   passes). S5 is per sterilizer and resolves at the next BI result; an implant load
//!   without its own BI result `implant_bi_max_hours` after its start raises S5 for that load
//!   (subject = the cycle id), resolved by that load's BI.

pub mod cycle;
pub mod params;
pub mod state;
pub mod steam;

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::{Id, Timestamp};

pub use cycle::{CycleRecord, Reason, Verdict};
pub use params::SterilParams;
pub use state::SterilizerStatus;

/// A sterilizer program (docs/payload-contract.md, events: `cycle_start.program`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Program {
    Prevac134,
    Prevac132,
    Gravity121Instruments,
    Gravity121Textiles,
    /// The daily Bowie-Dick air-removal test (empty chamber, test pack).
    BowieDick,
    /// Vacuum leak test: no steam, no temperature verdict.
    LeakTest,
}

impl Program {
    pub const ALL: [Program; 6] = [
        Self::Prevac134,
        Self::Prevac132,
        Self::Gravity121Instruments,
        Self::Gravity121Textiles,
        Self::BowieDick,
        Self::LeakTest,
    ];

    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Prevac134 => "prevac_134",
            Self::Prevac132 => "prevac_132",
            Self::Gravity121Instruments => "gravity_121_instruments",
            Self::Gravity121Textiles => "gravity_121_textiles",
            Self::BowieDick => "bowie_dick",
            Self::LeakTest => "leak_test",
        }
    }

    /// Looks a wire name up (exact).
    pub fn parse(s: &str) -> Option<Program> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// A pre-vacuum load: needs a passing Bowie-Dick test earlier the same day (S3).
    pub const fn is_prevac_load(self) -> bool {
        matches!(self, Self::Prevac134 | Self::Prevac132)
    }

    /// A load of instruments or textiles (not a test cycle): counted for BI recall.
    pub const fn is_load(self) -> bool {
        !matches!(self, Self::BowieDick | Self::LeakTest)
    }
}

impl fmt::Display for Program {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The sterilizer's own verdict (`cycle_end.device_verdict`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceVerdict {
    Pass,
    Fail,
    Aborted,
}

impl DeviceVerdict {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::Aborted => "aborted",
        }
    }

    pub fn parse(s: &str) -> Option<DeviceVerdict> {
        [Self::Pass, Self::Fail, Self::Aborted]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// What an S rule checks (rule kinds `cycle_failed` .. `cycle_aborted`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SterilCheck {
    /// S1: the computed verdict fails.
    CycleFailed,
    /// S2: the device said pass, the computed verdict fails.
    FalsePass,
    /// S3: a pre-vacuum load without a passing Bowie-Dick test earlier the same day.
    NoBowieDick,
    /// S4: a positive BI; the recall list.
    BiPositive,
    /// S5: no BI result for the site's `bi_interval_days`.
    BiOverdue,
    /// S6: `cycle_end aborted`, or no `cycle_end` within `max_secs` of `cycle_start`.
    Aborted { max_secs: i64 },
}

/// A sterilizer event (docs/payload-contract.md, autoclave events), as the engine consumes it.
#[derive(Debug, Clone, PartialEq)]
pub struct SterilizerEvent {
    pub site: Id,
    pub device: Id,
    /// Event time (the device's clock).
    pub ts: Timestamp,
    pub kind: SterilizerEventKind,
}

/// The four autoclave event types with the fields the rules need.
#[derive(Debug, Clone, PartialEq)]
pub enum SterilizerEventKind {
    CycleStart {
        cycle_id: String,
        program: Program,
        implant_load: bool,
    },
    CycleEnd {
        cycle_id: String,
        device_verdict: DeviceVerdict,
    },
    /// The operator's reading of the Bowie-Dick test sheet of cycle `cycle_id`.
    BdResult { cycle_id: String, pass: bool },
    /// A biological indicator's result: `positive` = growth = the cycle FAILED.
    BiResult {
        bi_id: String,
        cycle_id: String,
        positive: bool,
    },
}

/// A cycle id inside an alert identity ([`crate::state::Subject::Cycle`]): stored inline so
/// subjects stay `Copy`. Ids up to [`CycleTag::CAP`] bytes are kept as they are; a longer id
/// is shortened to its first 30 bytes (at a character boundary), `~` and 8 hex digits of a
/// hash of the whole id, so distinct long ids stay distinct with overwhelming probability.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CycleTag {
    len: u8,
    bytes: [u8; CycleTag::CAP],
}

impl CycleTag {
    /// Longest id kept verbatim, in bytes.
    pub const CAP: usize = 40;

    /// The tag of cycle id `id`.
    pub fn new(id: &str) -> CycleTag {
        let mut bytes = [0u8; Self::CAP];
        let short;
        let text = if id.len() <= Self::CAP {
            id
        } else {
            let mut cut = 30;
            while !id.is_char_boundary(cut) {
                cut -= 1;
            }
            // FNV-1a, 32 bits: stable across builds and platforms.
            let hash = id.bytes().fold(0x811c_9dc5_u32, |h, b| {
                (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
            });
            short = format!("{}~{hash:08x}", id.get(..cut).unwrap_or_default());
            short.as_str()
        };
        let n = text.len().min(Self::CAP);
        if let (Some(dst), Some(src)) = (bytes.get_mut(..n), text.as_bytes().get(..n)) {
            dst.copy_from_slice(src);
        }
        CycleTag {
            len: n as u8,
            bytes,
        }
    }

    pub fn as_str(&self) -> &str {
        self.bytes
            .get(..usize::from(self.len))
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or_default()
    }
}

impl fmt::Debug for CycleTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl Serialize for CycleTag {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for CycleTag {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Ok(CycleTag::new(&s))
    }
}

/// The China Standard Time (UTC+8, no DST) day number of `ts`: days since 1970-01-01 in
/// Beijing. "Today" for the Bowie-Dick rule (S3).
pub fn cst_day(ts: Timestamp) -> i64 {
    ts.0.saturating_add(8 * 3600 * Timestamp::MICROS_PER_SEC)
        .div_euclid(86_400 * Timestamp::MICROS_PER_SEC)
}

#[cfg(test)]
mod tests;
