//! Raw TOML types of a rule pack, exactly as written: strict (`deny_unknown_fields`) and
//! spanned, so that [`super::compiled`] can cite the line of every problem it finds.
//!
//! Nothing here is checked beyond its TOML shape; the compiler turns these into typed rules.

use serde::Deserialize;
use toml::Spanned;

use crate::level::Level;
use crate::model::{DataFlag, Disinfectant, Metric, SiteKind, WaterPoint};

/// `[pack]`: the pack's identity.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPackMeta {
    pub name: String,
    pub version: String,
    #[serde(default)]
    pub description: Option<String>,
}

/// `[defaults]`: numbers every rule inherits unless it sets its own.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDefaults {
    pub clear_mins: Option<Spanned<RawNum>>,
    pub clear_margin_pct: Option<Spanned<RawNum>>,
}

/// A number with its provenance. Exactly one of `std` (the clause, with `conf` = `S` or `R`
/// listed in docs/standards.md) or `default = true` (a product choice) must be given.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNum {
    pub value: f64,
    /// The standard and clause, e.g. `GB 5749-2022 Table 2`.
    pub std: Option<String>,
    /// Confidence in the standard value: `S` (sourced) or `R` (to be verified).
    pub conf: Option<String>,
    /// `true` when the number is a product default of weijian.
    pub default: Option<bool>,
    /// Free text: why this number.
    pub note: Option<String>,
}

/// The kinds of condition a rule can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RawKind {
    /// A metric against limits selected by site attributes (W1-W4).
    Threshold,
    /// No data for a duration (G1), evaluated on ticks.
    Offline,
    /// The same value to full precision for a duration (G2).
    Stuck,
    /// Values outside the physical range reported by ingest (G3).
    SensorFault,
    /// Device clock in the future, or a `seq` restart or gap (G4).
    Clock,
    /// Data flags other than N, or a maintenance window, for a duration (W6).
    MonitorStatus,
    /// Other rules firing together at one site (W5).
    AllOf,
    /// M1: age of the oldest bag in a waste store (`waste/`).
    WasteStorage,
    /// M2: handover weight against the sum of its bags at intake.
    WasteReconcile,
    /// M3: a handed-over bag that never came in, or one handed over twice.
    WasteLedger,
    /// M4: bags present and no handover for a duration.
    WastePickup,
    /// M5: store door open too long or outside the collection windows.
    WasteDoor,
    /// M6: store temperature above the site's `max_temp_c` for a duration.
    WasteTemperature,
    /// M7: no disinfection for a duration.
    WasteDisinfection,
    /// S1: a sterilization cycle's computed verdict fails.
    CycleFailed,
    /// S2: the sterilizer said pass and the computed verdict fails.
    FalsePass,
    /// S3: a pre-vacuum load without a passing Bowie-Dick test earlier that day.
    NoBowieDick,
    /// S4: a positive biological indicator (recall).
    BiPositive,
    /// S5: no BI result for the site's `bi_interval_days`, evaluated on ticks.
    BiOverdue,
    /// S6: a cycle aborted, or not ended within `min_mins`.
    CycleAborted,
}

/// Where the metric of a threshold rule comes from when it is not fixed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RawMetricFrom {
    /// The residual metric of the site's disinfectant ([`Disinfectant::metric`]).
    Disinfectant,
}

/// Site-attribute selector: every given field must match. An empty selector matches all.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSelector {
    /// A site id: per-site overrides.
    pub site: Option<String>,
    pub point: Option<WaterPoint>,
    pub disinfectant: Option<Disinfectant>,
    pub small_supply: Option<bool>,
}

/// `[[rule.watch]]` of a stuck rule: metrics that vary at their sensor's resolution in normal
/// operation, and how long one value of them may last before the sensor counts as frozen.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStuckWatch {
    pub metrics: Spanned<Vec<Metric>>,
    pub min_mins: Spanned<RawNum>,
    /// Documentation only: why these metrics, why this window.
    pub note: Option<String>,
}

/// `[[rule.limit]]`: one case of limits; the first case whose `when` matches a site applies.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimit {
    pub when: Option<RawSelector>,
    /// Breach when the value is below this.
    pub low: Option<Spanned<RawNum>>,
    /// Breach when the value is above this.
    pub high: Option<Spanned<RawNum>>,
    /// Clear needs the value at or above this (default: `low` plus the clear margin).
    pub clear_low: Option<Spanned<RawNum>>,
    /// Clear needs the value at or below this (default: `high` minus the clear margin).
    pub clear_high: Option<Spanned<RawNum>>,
}

/// `[[rule.escalate]]`: a level the alert takes when it persists (`after_mins`) or worsens
/// (`above` / `below` an absolute value, or beyond `factor` times the `high` limit).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEscalate {
    pub level: Spanned<Level>,
    pub when: Option<RawSelector>,
    pub after_mins: Option<Spanned<RawNum>>,
    pub above: Option<Spanned<RawNum>>,
    pub below: Option<Spanned<RawNum>>,
    pub factor: Option<Spanned<RawNum>>,
}

/// `[[rule.site_override]]`: durations for the sites matching `when` (first match wins),
/// e.g. a longer pending time at one plant. Limits are overridden with limit cases instead.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSiteOverride {
    pub when: RawSelector,
    pub pending_mins: Option<Spanned<RawNum>>,
    pub clear_mins: Option<Spanned<RawNum>>,
}

/// `[[rule]]`: one rule. Which fields are allowed depends on `kind`; the compiler says so.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    pub id: Spanned<String>,
    pub name_zh: String,
    pub name_en: String,
    pub kind: Spanned<RawKind>,
    pub level: Spanned<Level>,
    /// Only sites of this kind (all kinds when absent).
    pub site_kind: Option<SiteKind>,
    /// Only sites matching this selector.
    pub when: Option<RawSelector>,
    pub metric: Option<Spanned<Metric>>,
    pub metric_from: Option<Spanned<RawMetricFrom>>,
    pub pending_mins: Option<Spanned<RawNum>>,
    pub clear_mins: Option<Spanned<RawNum>>,
    pub clear_margin_pct: Option<Spanned<RawNum>>,
    /// offline: the timeout is max(`interval_factor` x expected interval, `min_mins`).
    pub interval_factor: Option<Spanned<RawNum>>,
    /// offline, stuck, monitor_status: the duration the condition must last.
    pub min_mins: Option<Spanned<RawNum>>,
    /// stuck: the metrics watched, each with how long one value may last (`[[rule.watch]]`).
    #[serde(default)]
    pub watch: Vec<Spanned<RawStuckWatch>>,
    /// all_of: the component rule ids.
    pub rules: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    pub limit: Vec<Spanned<RawLimit>>,
    #[serde(default)]
    pub escalate: Vec<Spanned<RawEscalate>>,
    #[serde(default)]
    pub site_override: Vec<Spanned<RawSiteOverride>>,
    /// Documentation only.
    pub note: Option<String>,
}

/// The site of a pack test: a water site's attributes (other kinds come with their rules).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTestSite {
    pub kind: SiteKind,
    pub point: Option<WaterPoint>,
    pub disinfectant: Option<Disinfectant>,
    pub small_supply: Option<bool>,
    /// Waste stores: `max_temp_c` (M6 applies only when given).
    pub max_temp_c: Option<f64>,
    /// Waste stores: local `HH:MM-HH:MM` windows (M5).
    pub collection_windows: Option<Vec<String>>,
    /// Dental sites: `prevac` (default) or `gravity`.
    pub sterilizer: Option<crate::model::SterilizerType>,
    /// Dental sites: days between BI results (default 7).
    pub bi_interval_days: Option<u32>,
}

/// One input line of a pack test. Exactly one of: a reading (`metric` + `value`), `tick`,
/// `maintenance`, `online`, `sensor_fault` (+ `metric`, `value`), `clock_fault`, or at waste
/// stores `bag_in = "<bag id>"` (+ `weight_kg`, `category`), `handover = "<manifest id>"`
/// (+ `bag_ids`, `weight_kg`), `disinfection = "<method>"`.
/// Either `at_min`, or a series `from_min`..=`to_min` every `every_min` minutes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTestInput {
    pub at_min: Option<f64>,
    pub from_min: Option<f64>,
    pub to_min: Option<f64>,
    pub every_min: Option<f64>,
    pub metric: Option<Metric>,
    pub value: Option<f64>,
    pub flag: Option<DataFlag>,
    pub seq: Option<u64>,
    pub tick: Option<bool>,
    pub maintenance: Option<bool>,
    pub online: Option<bool>,
    pub sensor_fault: Option<bool>,
    pub clock_fault: Option<String>,
    /// Waste stores: a `bag_in` of this bag id (with `category`, `weight_kg`).
    pub bag_in: Option<String>,
    pub category: Option<crate::waste::Category>,
    pub weight_kg: Option<f64>,
    /// Waste stores: a `handover` under this manifest (with `bag_ids`, `weight_kg`).
    pub handover: Option<String>,
    pub bag_ids: Option<Vec<String>>,
    /// Waste stores: a `disinfection` with this method.
    pub disinfection: Option<String>,
    /// Sterilizer: `cycle_start` of this cycle id (with `program`, optional `implant_load`).
    pub cycle_start: Option<String>,
    pub program: Option<String>,
    pub implant_load: Option<bool>,
    /// Sterilizer: `cycle_end` of this cycle id (with `verdict` = pass | fail | aborted).
    pub cycle_end: Option<String>,
    pub verdict: Option<String>,
    /// Sterilizer: `bd_result` for this cycle id (with `result` = pass | fail).
    pub bd_result: Option<String>,
    /// Sterilizer: `bi_result` with this BI id (with `cycle` and `result` = negative | positive).
    pub bi_result: Option<String>,
    pub cycle: Option<String>,
    pub result: Option<String>,
}

/// One expected transition of a pack test.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExpect {
    pub rule: String,
    pub level: Level,
    pub kind: String,
    pub at_min: f64,
}

/// `[[tests]]`: a rule test shipped with the pack.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTest {
    pub name: String,
    pub site: RawTestSite,
    /// The device's expected reporting interval (default 60 s).
    pub interval_secs: Option<u32>,
    /// Compare only events of these rules (all rules when absent).
    pub rules: Option<Vec<String>>,
    pub inputs: Vec<Spanned<RawTestInput>>,
    #[serde(default)]
    pub expect: Vec<RawExpect>,
    /// Asserts that the inputs produce no events at all (of `rules`, when given).
    #[serde(default)]
    pub no_alerts: bool,
}

/// `[sterilization]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSterilization {
    /// During the hold, T <= set + band_k.
    pub band_k: Option<Spanned<RawNum>>,
    /// During the hold, |T - T_s(p)| <= steam_k.
    pub steam_k: Option<Spanned<RawNum>>,
    /// A gap between samples longer than this inside the hold makes the cycle unprovable.
    pub max_gap_secs: Option<Spanned<RawNum>>,
    /// A temperature and a pressure sample at most this far apart form a pair.
    pub pair_secs: Option<Spanned<RawNum>>,
    /// Telemetry up to this long (event time) after `cycle_end` still counts.
    pub grace_secs: Option<Spanned<RawNum>>,
    /// Out-of-order samples up to this far behind the newest are still sorted in.
    pub reorder_secs: Option<Spanned<RawNum>>,
    /// Cycles listed by name in a recall (S4); beyond it the recall gives their time range.
    pub recall_list_max: Option<Spanned<RawNum>>,
    /// Consecutive negative BIs after a positive one before S4 resolves.
    pub bi_negatives_to_resume: Option<Spanned<RawNum>>,
    /// An implant load without its BI result this long after its start raises S5.
    pub implant_bi_max_hours: Option<Spanned<RawNum>>,
    #[serde(default)]
    pub program: Vec<Spanned<RawProgram>>,
}

/// `[[sterilization.program]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProgram {
    pub program: Spanned<String>,
    pub set_c: Option<Spanned<RawNum>>,
    pub hold_mins: Option<Spanned<RawNum>>,
    /// Documentation only.
    pub note: Option<String>,
}
