//! Medical-waste supervision (医疗废物): the bag ledger of each waste store and the typed
//! conditions of rules M1-M7 (docs/alert-rules.md, medical-waste stores).
//!
//! Pure: no I/O, deterministic on event time. The engine keeps one [`WasteState`] per waste
//! store (site) in its site state, so it is part of the snapshot and survives restarts; the
//! evaluation of M1-M7 against it lives in `eval/waste.rs`.
//!
//! Layout: the inputs and rule conditions here; the ledger itself in [`ledger`]; collection
//! windows (local China Standard Time) in [`windows`]. The alert texts are in `text/waste.rs`.

use serde::{Deserialize, Serialize};

use crate::level::Level;
use crate::model::{Id, Timestamp};

pub mod ledger;
pub mod windows;

pub use ledger::{BagOutcome, HandoverOutcome, Judgement, Ledger, LedgerSummary};

/// The five categories of the catalogue (医疗废物分类目录; docs/standards.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// 感染性废物.
    Infectious,
    /// 损伤性废物.
    Sharps,
    /// 病理性废物.
    Pathological,
    /// 药物性废物.
    Pharmaceutical,
    /// 化学性废物.
    Chemical,
}

impl Category {
    pub const ALL: [Category; 5] = [
        Self::Infectious,
        Self::Sharps,
        Self::Pathological,
        Self::Pharmaceutical,
        Self::Chemical,
    ];

    /// The wire name (docs/payload-contract.md, events), also the QuestDB symbol.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Infectious => "infectious",
            Self::Sharps => "sharps",
            Self::Pathological => "pathological",
            Self::Pharmaceutical => "pharmaceutical",
            Self::Chemical => "chemical",
        }
    }

    /// The Chinese name of the category.
    pub const fn name_zh(self) -> &'static str {
        match self {
            Self::Infectious => "感染性",
            Self::Sharps => "损伤性",
            Self::Pathological => "病理性",
            Self::Pharmaceutical => "药物性",
            Self::Chemical => "化学性",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<Category> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl std::fmt::Display for Category {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `bag_in` event: a bag weighed into the store.
#[derive(Debug, Clone, PartialEq)]
pub struct BagIn {
    pub site: Id,
    pub device: Id,
    pub ts: Timestamp,
    /// Unique per site.
    pub bag_id: String,
    pub category: Category,
    pub weight_kg: f64,
    pub department: Option<String>,
}

/// A `handover` event: bags handed to the disposal company under a transfer manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct Handover {
    pub site: Id,
    pub device: Id,
    pub ts: Timestamp,
    /// The transfer manifest number (危险废物转移联单).
    pub manifest_id: String,
    pub bag_ids: Vec<String>,
    /// Weighed at handover.
    pub weight_kg: f64,
    /// The disposal company.
    pub carrier: String,
}

/// A `disinfection` event of the store.
#[derive(Debug, Clone, PartialEq)]
pub struct Disinfection {
    pub site: Id,
    pub device: Id,
    pub ts: Timestamp,
    pub method: String,
    pub duration_min: Option<f64>,
}

/// The compiled condition of a medical-waste rule (one variant per rule kind).
#[derive(Debug, Clone, PartialEq)]
pub enum WasteRule {
    /// M1: the oldest bag in the store is at least `pre_secs` old; the level follows its age
    /// (`levels`: age in seconds -> level, any order).
    Storage {
        pre_secs: i64,
        levels: Vec<(i64, Level)>,
    },
    /// M2: a handover weighs more than `limit_pct` % less than the sum of its bags at intake;
    /// `escalate`: shortfall in % above which the alert takes a level.
    Reconcile {
        limit_pct: f64,
        escalate: Vec<(f64, Level)>,
    },
    /// M3: a handed-over bag that never came in (judged `grace_secs` after the handover, so a
    /// `bag_in` arriving a little late reconciles), or a bag handed over twice.
    LedgerBreak { grace_secs: i64 },
    /// M4: bags present and no handover for `max_secs`.
    Pickup { max_secs: i64 },
    /// M5: the door open longer than `max_open_secs`, or opened outside the site's
    /// collection windows.
    Door { max_open_secs: i64 },
    /// M6: the store above the site's `max_temp_c` for `min_secs` (only where configured).
    Temperature { min_secs: i64 },
    /// M7: no disinfection for `max_secs`.
    Disinfection { max_secs: i64 },
}

/// The door (M5) of one door-controller device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DoorState {
    pub device: String,
    /// Since when the door is open (`None`: closed).
    pub open_since: Option<Timestamp>,
    /// The current opening started outside the collection windows.
    pub outside_window: bool,
    /// Event time of the latest door reading.
    pub last: Timestamp,
}

/// The temperature (M6) of one probe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TempState {
    pub device: String,
    /// Start of the current run above the limit.
    pub above_since: Option<Timestamp>,
    pub value: f64,
    /// Event time of the latest value.
    pub last: Timestamp,
}

/// Everything the engine remembers about one waste store: the ledger plus the door and
/// temperature runs of its devices. Part of the engine snapshot.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WasteState {
    pub ledger: Ledger,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub doors: Vec<DoorState>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub temps: Vec<TempState>,
}

impl WasteState {
    /// The door state of `device`, created closed.
    pub fn door(&mut self, device: &str, now: Timestamp) -> &mut DoorState {
        let i = match self.doors.iter().position(|d| d.device == device) {
            Some(i) => i,
            None => {
                self.doors.push(DoorState {
                    device: device.to_owned(),
                    open_since: None,
                    outside_window: false,
                    last: now,
                });
                self.doors.len() - 1
            }
        };
        &mut self.doors[i]
    }

    /// The temperature state of `device`, created below the limit.
    pub fn temp(&mut self, device: &str, now: Timestamp, value: f64) -> &mut TempState {
        let i = match self.temps.iter().position(|d| d.device == device) {
            Some(i) => i,
            None => {
                self.temps.push(TempState {
                    device: device.to_owned(),
                    above_since: None,
                    value,
                    last: now,
                });
                self.temps.len() - 1
            }
        };
        &mut self.temps[i]
    }
}
