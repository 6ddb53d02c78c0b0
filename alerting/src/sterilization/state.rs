//! What the engine remembers per sterilizer: the cycle in progress, the last finished cycles,
//! Bowie-Dick and BI bookkeeping and the cycles not yet covered by a negative BI. Bounded:
//! [`RECENT_MAX`] finished cycles, the recall list capped by the pack's `recall_list_max`,
//! [`SEEN_BI_MAX`] BI ids for deduplication.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::cycle::{CycleRecord, CycleRun};
use super::Program;
use crate::model::Timestamp;

/// Finished cycles kept per sterilizer (Default): duplicate detection, linking late
/// Bowie-Dick and BI results to their cycle, and the API's list of today's cycles.
pub const RECENT_MAX: usize = 48;
/// BI ids remembered for deduplication of redelivered results (Default).
pub const SEEN_BI_MAX: usize = 16;
/// Implant loads tracked for their BI per sterilizer (Default): beyond it the oldest is
/// dropped (its S5 alert, if open, stays until resolved).
pub const IMPLANTS_MAX: usize = 32;

/// The latest Bowie-Dick sheet reading.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BdReading {
    pub ts: Timestamp,
    pub cycle_id: String,
    pub pass: bool,
}

/// The latest BI result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BiReading {
    pub ts: Timestamp,
    pub bi_id: String,
    pub cycle_id: String,
    pub positive: bool,
}

/// A cycle to recall.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecallEntry {
    pub cycle_id: String,
    pub program: Program,
    pub started_at: Timestamp,
}

/// Load cycles since the last negative BI (the newest `recall_list_max` by id, and how many
/// older ones were only counted, with the start of the oldest).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unverified {
    pub cycles: VecDeque<RecallEntry>,
    /// Older cycles beyond the list, only counted.
    pub more: u32,
    /// Start of the oldest unverified cycle (listed or counted).
    pub since: Option<Timestamp>,
}

/// A recall opened by a positive BI: the cycles to recall, as listed at that moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recall {
    pub bi: BiReading,
    pub cycles: Vec<RecallEntry>,
    pub more: u32,
    pub since: Option<Timestamp>,
}

/// A Bowie-Dick test cycle of one China-Standard-Time day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BdDay {
    pub day: i64,
    pub cycle_id: String,
    /// The computed and device verdicts both pass (`None` until the verdict is final).
    pub cycle_pass: Option<bool>,
    /// The operator's sheet reading (`None` until `bd_result`).
    pub sheet_pass: Option<bool>,
}

impl BdDay {
    /// Both the cycle and the sheet passed.
    pub fn passed(&self) -> bool {
        self.cycle_pass == Some(true) && self.sheet_pass == Some(true)
    }
}

/// Everything the engine remembers about one sterilizer (snapshotted).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SterilizerState {
    /// First input of the device: the baseline of S5 when no BI was ever read.
    pub first_seen: Option<Timestamp>,
    /// Newest event time seen for the device (its inputs and ticks).
    pub latest: Option<Timestamp>,
    /// The cycle in progress, or ended and waiting for its grace period.
    pub open: Option<CycleRun>,
    /// Finished cycles, oldest first.
    pub recent: VecDeque<CycleRecord>,
    /// The latest Bowie-Dick test cycle.
    pub bd: Option<BdDay>,
    pub last_bd: Option<BdReading>,
    pub last_bi: Option<BiReading>,
    pub seen_bi: VecDeque<String>,
    /// Negative BIs in a row since the last positive one.
    pub negatives_in_row: u32,
    pub unverified: Unverified,
    /// The open recall (S4), until enough negative BIs in a row.
    pub recall: Option<Recall>,
    /// Implant loads waiting for their own BI result (cycle id, start), oldest first, at
    /// most [`IMPLANTS_MAX`].
    #[serde(default)]
    pub implants_waiting: VecDeque<(String, Timestamp)>,
}

impl SterilizerState {
    /// Whether cycle `id` is open or among the recent ones (a redelivered event).
    pub fn knows_cycle(&self, id: &str) -> bool {
        self.open.as_ref().is_some_and(|c| c.cycle_id == id)
            || self.recent.iter().any(|r| r.cycle_id == id)
    }

    /// Appends a finished cycle, dropping the oldest beyond [`RECENT_MAX`].
    pub fn push_recent(&mut self, record: CycleRecord) {
        self.recent.push_back(record);
        while self.recent.len() > RECENT_MAX {
            self.recent.pop_front();
        }
    }

    /// Adds a load cycle to the unverified list (newest `max` listed).
    pub fn add_unverified(&mut self, entry: RecallEntry, max: usize) {
        let u = &mut self.unverified;
        u.since = Some(
            u.since
                .map_or(entry.started_at, |s| s.min(entry.started_at)),
        );
        u.cycles.push_back(entry);
        while u.cycles.len() > max.max(1) {
            u.cycles.pop_front();
            u.more = u.more.saturating_add(1);
        }
    }

    /// A negative BI for cycle `cycle_id`: cycles up to and including it are verified.
    /// When the cycle is not known, nothing is dropped (recall more rather than less).
    pub fn verify_through(&mut self, cycle_id: &str) {
        let started = self
            .unverified
            .cycles
            .iter()
            .find(|c| c.cycle_id == cycle_id)
            .map(|c| c.started_at)
            .or_else(|| {
                self.recent
                    .iter()
                    .find(|r| r.cycle_id == cycle_id)
                    .map(|r| r.started_at)
            });
        let Some(started) = started else {
            return;
        };
        let u = &mut self.unverified;
        u.cycles.retain(|c| c.started_at > started);
        if u.since.is_some_and(|s| s <= started) {
            u.more = 0;
            u.since = u.cycles.front().map(|c| c.started_at);
        }
    }
}

/// A sterilizer's status for the API and site status.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SterilizerStatus {
    pub device: String,
    /// The cycle in progress: id, program, start.
    pub open_cycle: Option<(String, Program, Timestamp)>,
    /// Finished cycles kept in memory (newest last).
    pub cycles: Vec<CycleRecord>,
    pub last_bowie_dick: Option<BdReading>,
    /// The latest Bowie-Dick test cycle (its CST day, cycle and sheet results).
    pub bowie_dick: Option<BdDay>,
    pub last_bi: Option<BiReading>,
    /// The recall after a positive BI, while open.
    pub recall: Option<Recall>,
    /// Load cycles not yet covered by a negative BI.
    pub unverified: Unverified,
}

impl SterilizerStatus {
    /// Whether a passing Bowie-Dick test (cycle and sheet) is on record for the China
    /// Standard Time day of `now`.
    pub fn bowie_dick_ok(&self, now: Timestamp) -> bool {
        self.bowie_dick
            .as_ref()
            .is_some_and(|b| b.day == super::cst_day(now) && b.passed())
    }

    /// The finished cycles that started on the China Standard Time day of `now`.
    pub fn cycles_on_day_of(&self, now: Timestamp) -> impl Iterator<Item = &CycleRecord> {
        let day = super::cst_day(now);
        self.cycles
            .iter()
            .filter(move |c| super::cst_day(c.started_at) == day)
    }
}
