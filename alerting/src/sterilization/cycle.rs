//! One sterilization cycle in progress and its verdict.
//!
//! Samples go through a small reorder buffer (sorted by event time, at most
//! [`MAX_BUFFERED`] samples or `reorder_secs` behind the newest) and are then folded, in time
//! order, into the statistics of the current run of temperatures at or above the set
//! temperature and of the longest run so far. Nothing else of the series is kept, so memory
//! does not grow with the length of the cycle.

use serde::{Deserialize, Serialize};

use super::params::SterilParams;
use super::steam::t_sat_c;
use super::{DeviceVerdict, Program};
use crate::model::{Id, Timestamp};

/// Most samples held for reordering per cycle (Default): at 1 Hz with temperature and
/// pressure that is 32 s of telemetry; older samples are folded even if `reorder_secs` is
/// longer.
pub const MAX_BUFFERED: usize = 64;

/// The computed verdict of a cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Fail,
    /// A program without a temperature verdict (leak test), or a pack without parameters
    /// for it.
    NotEvaluated,
}

impl Verdict {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::NotEvaluated => "not_evaluated",
        }
    }
}

/// Why a cycle failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum Reason {
    /// The chamber never reached the set temperature.
    NoHold { max_temp_c: Option<f64>, set_c: f64 },
    /// The longest hold was shorter than the program's minimum.
    HoldTooShort { hold_secs: f64, min_secs: i64 },
    /// A temperature above set + band during the hold.
    AboveBand { max_temp_c: f64, limit_c: f64 },
    /// Temperature and saturated-steam temperature of the pressure disagree by more than
    /// the tolerance: negative = air / non-condensable gas, positive = superheat.
    SteamMismatch { worst_dev_k: f64, limit_k: f64 },
    /// A gap longer than the limit between samples inside the hold (or pressure older than
    /// it at a temperature sample): the cycle cannot be proven.
    SamplingGap { gap_secs: f64, limit_secs: i64 },
    /// No pressure sample paired with the hold's temperatures: cannot be proven.
    NoPressure,
    /// The cycle was aborted (device) or never ended.
    Aborted,
    /// No `cycle_end` arrived (the next cycle started, or the time limit passed).
    NoEnd,
}

impl Reason {
    /// Stable code (stored in QuestDB, used in the API).
    pub const fn code(&self) -> &'static str {
        match self {
            Self::NoHold { .. } => "no_hold",
            Self::HoldTooShort { .. } => "hold_too_short",
            Self::AboveBand { .. } => "above_band",
            Self::SteamMismatch { .. } => "steam_mismatch",
            Self::SamplingGap { .. } => "sampling_gap",
            Self::NoPressure => "no_pressure",
            Self::Aborted => "aborted",
            Self::NoEnd => "no_end",
        }
    }

    /// English text with the numbers.
    pub fn text_en(&self) -> String {
        match self {
            Self::NoHold { max_temp_c, set_c } => format!(
                "never reached the set temperature {set_c} C (max {})",
                max_temp_c.map_or_else(|| "no sample".to_owned(), |t| format!("{t:.2} C"))
            ),
            Self::HoldTooShort {
                hold_secs,
                min_secs,
            } => format!("hold {hold_secs:.0} s shorter than the minimum {min_secs} s"),
            Self::AboveBand {
                max_temp_c,
                limit_c,
            } => format!("{max_temp_c:.2} C above the band limit {limit_c} C during the hold"),
            Self::SteamMismatch {
                worst_dev_k,
                limit_k,
            } => {
                let what = if *worst_dev_k < 0.0 {
                    "below T_sat(p): air in the chamber"
                } else {
                    "above T_sat(p): superheated steam"
                };
                format!("temperature {worst_dev_k:+.2} K {what} (limit {limit_k} K)")
            }
            Self::SamplingGap {
                gap_secs,
                limit_secs,
            } => format!("sampling gap {gap_secs:.0} s > {limit_secs} s in the hold: unprovable"),
            Self::NoPressure => "no chamber pressure during the hold: unprovable".to_owned(),
            Self::Aborted => "cycle aborted".to_owned(),
            Self::NoEnd => "no cycle_end".to_owned(),
        }
    }

    /// Chinese text with the numbers.
    pub fn text_zh(&self) -> String {
        match self {
            Self::NoHold { max_temp_c, set_c } => format!(
                "未达到设定温度 {set_c}℃（最高 {}）",
                max_temp_c.map_or_else(|| "无数据".to_owned(), |t| format!("{t:.2}℃"))
            ),
            Self::HoldTooShort {
                hold_secs,
                min_secs,
            } => format!("维持时间 {hold_secs:.0} 秒，短于最低 {min_secs} 秒"),
            Self::AboveBand {
                max_temp_c,
                limit_c,
            } => format!("维持期温度 {max_temp_c:.2}℃ 超过上限 {limit_c}℃"),
            Self::SteamMismatch {
                worst_dev_k,
                limit_k,
            } => {
                let what = if *worst_dev_k < 0.0 {
                    "低于饱和蒸汽温度（腔内有空气）"
                } else {
                    "高于饱和蒸汽温度（过热蒸汽）"
                };
                format!("温度偏差 {worst_dev_k:+.2} K，{what}（允许 {limit_k} K）")
            }
            Self::SamplingGap {
                gap_secs,
                limit_secs,
            } => format!("维持期采样间隔 {gap_secs:.0} 秒 > {limit_secs} 秒，无法证明灭菌合格"),
            Self::NoPressure => "维持期无腔体压力数据，无法证明灭菌合格".to_owned(),
            Self::Aborted => "灭菌周期中止".to_owned(),
            Self::NoEnd => "无周期结束记录".to_owned(),
        }
    }
}

/// The outcome of one cycle: what `sterilization_cycles` stores and the API shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CycleRecord {
    pub site: String,
    pub device: String,
    pub cycle_id: String,
    pub program: Program,
    pub implant_load: bool,
    pub started_at: Timestamp,
    /// `cycle_end` time; `None` when it never came.
    pub ended_at: Option<Timestamp>,
    pub device_verdict: Option<DeviceVerdict>,
    pub verdict: Verdict,
    pub reasons: Vec<Reason>,
    /// Set temperature and minimum hold of the program (when evaluated).
    pub set_c: Option<f64>,
    pub min_hold_secs: Option<i64>,
    /// Length of the hold (longest run at or above the set temperature), seconds.
    pub hold_secs: Option<f64>,
    pub hold_min_temp_c: Option<f64>,
    pub hold_max_temp_c: Option<f64>,
    /// Largest |T - T_s(p)| during the hold, with its sign.
    pub worst_dev_k: Option<f64>,
    /// Longest sampling gap inside the hold, seconds.
    pub max_gap_secs: Option<f64>,
    /// Samples folded into the statistics, and stragglers too late to be used.
    pub samples: u32,
    pub late_samples: u32,
    /// The Bowie-Dick sheet of this cycle, when read (`bd_result`).
    pub bd_pass: Option<bool>,
    /// The biological indicator of this cycle, when read (`bi_result`): id and positive.
    pub bi: Option<(String, bool)>,
}

impl CycleRecord {
    /// Reason codes joined with `,` (the QuestDB column).
    pub fn reason_codes(&self) -> String {
        self.reasons
            .iter()
            .map(Reason::code)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The reasons in English, `; `-separated.
    pub fn reasons_en(&self) -> String {
        self.reasons
            .iter()
            .map(Reason::text_en)
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// The reasons in Chinese, `；`-separated.
    pub fn reasons_zh(&self) -> String {
        self.reasons
            .iter()
            .map(Reason::text_zh)
            .collect::<Vec<_>>()
            .join("；")
    }
}

/// Which series a sample belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Series {
    /// Chamber temperature, C.
    Temp,
    /// Chamber pressure, kPa absolute.
    Pressure,
}

/// One buffered sample.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub ts: Timestamp,
    pub series: Series,
    pub value: f64,
}

/// The samples of one instant, judged together.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Instant {
    pub ts: Timestamp,
    pub temp: Option<f64>,
    pub pressure: Option<f64>,
}

/// Statistics of one run of temperatures at or above the set temperature.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Run {
    pub start: Timestamp,
    pub last: Timestamp,
    pub min_t: f64,
    pub max_t: f64,
    /// Deviation T - T_s(p) with the largest magnitude.
    pub worst_dev: Option<f64>,
    pub pairs: u32,
    /// Longest gap (micros) between temperature samples, or from a temperature sample back
    /// to the latest pressure sample.
    pub max_gap_us: i64,
}

impl Run {
    fn secs(&self) -> f64 {
        (self.last.0 - self.start.0) as f64 / Timestamp::MICROS_PER_SEC as f64
    }
}

/// A cycle from `cycle_start` until its verdict is final.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CycleRun {
    pub cycle_id: String,
    pub program: Program,
    pub implant_load: bool,
    pub started_at: Timestamp,
    /// `cycle_end` time and verdict once it arrived.
    pub ended: Option<(Timestamp, DeviceVerdict)>,
    /// Set when S6 fired for a cycle with no end after the time limit.
    #[serde(default)]
    pub overdue_reported: bool,
    /// The Bowie-Dick sheet of this cycle, if read before the verdict was final.
    #[serde(default)]
    pub bd_pass: Option<bool>,
    /// The BI of this cycle (id, positive), if read before the verdict was final.
    #[serde(default)]
    pub bi: Option<(String, bool)>,
    /// Samples not yet folded, sorted by time.
    buffer: Vec<Sample>,
    /// The instant being folded (its samples so far).
    #[serde(default)]
    instant: Option<Instant>,
    /// Samples at or before this time were folded; older arrivals are late.
    folded_to: Option<Timestamp>,
    late: u32,
    samples: u32,
    last_t: Option<(Timestamp, f64)>,
    last_p: Option<(Timestamp, f64)>,
    max_t: Option<f64>,
    run: Option<Run>,
    best: Option<Run>,
}

impl CycleRun {
    pub fn new(cycle_id: String, program: Program, implant_load: bool, at: Timestamp) -> Self {
        CycleRun {
            cycle_id,
            program,
            implant_load,
            started_at: at,
            ended: None,
            overdue_reported: false,
            bd_pass: None,
            bi: None,
            buffer: Vec::new(),
            instant: None,
            folded_to: None,
            late: 0,
            samples: 0,
            last_t: None,
            last_p: None,
            max_t: None,
            run: None,
            best: None,
        }
    }

    /// Whether a sample at `ts` belongs to this cycle.
    pub fn covers(&self, ts: Timestamp) -> bool {
        ts >= self.started_at && self.ended.is_none_or(|(end, _)| ts <= end)
    }

    /// Adds a sample (non-finite values are ignored); folds what left the reorder window.
    pub fn add(&mut self, sample: Sample, params: &SterilParams) {
        if !sample.value.is_finite() {
            return;
        }
        if self.folded_to.is_some_and(|f| sample.ts < f) {
            self.late = self.late.saturating_add(1);
            return;
        }
        let at = self.buffer.partition_point(|s| s.ts <= sample.ts);
        self.buffer.insert(at, sample);
        let newest = self.buffer.last().map_or(sample.ts, |s| s.ts);
        let horizon = newest.plus_secs(-params.reorder_secs);
        while let Some(first) = self.buffer.first().copied() {
            if first.ts >= horizon && self.buffer.len() <= MAX_BUFFERED {
                break;
            }
            self.buffer.remove(0);
            self.fold(first, params);
        }
    }

    /// Folds everything still buffered (the verdict is about to be computed).
    pub fn flush(&mut self, params: &SterilParams) {
        for s in std::mem::take(&mut self.buffer) {
            self.fold(s, params);
        }
        self.close_instant(params);
    }

    /// Folds one sample into the instant it belongs to; a new time closes the previous
    /// instant. Temperature and pressure of one instant are judged together, so a device that
    /// sends both in one object is compared at the same moment (not a fresh pressure with a
    /// 2-second-old temperature during a fast pressure change).
    fn fold(&mut self, s: Sample, params: &SterilParams) {
        self.folded_to = Some(self.folded_to.map_or(s.ts, |f| f.max(s.ts)));
        self.samples = self.samples.saturating_add(1);
        if self.instant.as_ref().is_some_and(|i| i.ts != s.ts) {
            self.close_instant(params);
        }
        let i = self.instant.get_or_insert(Instant {
            ts: s.ts,
            temp: None,
            pressure: None,
        });
        match s.series {
            Series::Temp => i.temp = Some(s.value),
            Series::Pressure => i.pressure = Some(s.value),
        }
    }

    /// Judges the open instant: its pressure becomes the latest, then its temperature is
    /// checked against the set temperature and the latest pressure (this instant's, or an
    /// older one at most `pair_secs` old).
    fn close_instant(&mut self, params: &SterilParams) {
        let Some(i) = self.instant.take() else {
            return;
        };
        if let Some(p) = i.pressure {
            self.last_p = Some((i.ts, p));
        }
        let Some(t) = i.temp else {
            return;
        };
        self.max_t = Some(self.max_t.map_or(t, |m| m.max(t)));
        let prev_t = self.last_t.replace((i.ts, t));
        let Some(set) = params.program(self.program).map(|p| p.set_c) else {
            return;
        };
        if t < set {
            self.close_run();
            return;
        }
        let run = self.run.get_or_insert(Run {
            start: i.ts,
            last: i.ts,
            min_t: t,
            max_t: t,
            worst_dev: None,
            pairs: 0,
            max_gap_us: 0,
        });
        if let Some((pt, _)) = prev_t.filter(|_| run.start < i.ts) {
            run.max_gap_us = run.max_gap_us.max(i.ts.0 - pt.0);
        }
        run.last = i.ts;
        run.min_t = run.min_t.min(t);
        run.max_t = run.max_t.max(t);
        match self.last_p {
            Some((pt, pv)) => {
                let age = i.ts.0 - pt.0;
                run.max_gap_us = run.max_gap_us.max(age);
                if age <= params.pair_secs * Timestamp::MICROS_PER_SEC {
                    pair(run, t, pv);
                }
            }
            // No pressure yet: the hold so far is unpaired.
            None => run.max_gap_us = run.max_gap_us.max(i.ts.0 - run.start.0),
        }
    }

    fn close_run(&mut self) {
        if let Some(run) = self.run.take() {
            if self.best.is_none_or(|b| run.secs() > b.secs()) {
                self.best = Some(run);
            }
        }
    }

    /// The verdict now (flushing the buffer): the cycle's record.
    pub fn finish(
        &mut self,
        site: &Id,
        device: &Id,
        params: &SterilParams,
        no_end: bool,
    ) -> CycleRecord {
        self.flush(params);
        self.close_run();
        let prog = params.program(self.program).copied();
        let mut reasons = Vec::new();
        let (verdict, hold) = match prog {
            None => (Verdict::NotEvaluated, None),
            Some(p) => {
                let hold = self.best;
                match hold {
                    None => reasons.push(Reason::NoHold {
                        max_temp_c: self.max_t,
                        set_c: p.set_c,
                    }),
                    Some(h) => {
                        if h.secs() < p.hold_secs as f64 {
                            reasons.push(Reason::HoldTooShort {
                                hold_secs: h.secs(),
                                min_secs: p.hold_secs,
                            });
                        }
                        let limit_c = p.set_c + params.band_k;
                        if h.max_t > limit_c + 1e-9 {
                            reasons.push(Reason::AboveBand {
                                max_temp_c: h.max_t,
                                limit_c,
                            });
                        }
                        if let Some(dev) = h.worst_dev.filter(|d| d.abs() > params.steam_k) {
                            reasons.push(Reason::SteamMismatch {
                                worst_dev_k: dev,
                                limit_k: params.steam_k,
                            });
                        }
                        if h.max_gap_us > params.max_gap_secs * Timestamp::MICROS_PER_SEC {
                            reasons.push(Reason::SamplingGap {
                                gap_secs: gap_secs(h.max_gap_us),
                                limit_secs: params.max_gap_secs,
                            });
                        }
                        if h.pairs == 0 {
                            reasons.push(Reason::NoPressure);
                        }
                    }
                }
                (Verdict::Fail, hold)
            }
        };
        let device_verdict = self.ended.map(|(_, v)| v);
        if device_verdict == Some(DeviceVerdict::Aborted) {
            reasons.insert(0, Reason::Aborted);
        }
        if no_end {
            reasons.insert(0, Reason::NoEnd);
        }
        let verdict = match verdict {
            Verdict::Fail if reasons.is_empty() => Verdict::Pass,
            Verdict::NotEvaluated if !reasons.is_empty() => Verdict::Fail,
            v => v,
        };
        CycleRecord {
            site: site.to_string(),
            device: device.to_string(),
            cycle_id: self.cycle_id.clone(),
            program: self.program,
            implant_load: self.implant_load,
            started_at: self.started_at,
            ended_at: self.ended.map(|(t, _)| t),
            device_verdict,
            verdict,
            reasons,
            set_c: prog.map(|p| p.set_c),
            min_hold_secs: prog.map(|p| p.hold_secs),
            hold_secs: hold.map(|h| h.secs()),
            hold_min_temp_c: hold.map(|h| h.min_t),
            hold_max_temp_c: hold.map(|h| h.max_t),
            worst_dev_k: hold.and_then(|h| h.worst_dev),
            max_gap_secs: hold.map(|h| gap_secs(h.max_gap_us)),
            samples: self.samples,
            late_samples: self.late,
            bd_pass: self.bd_pass,
            bi: self.bi.clone(),
        }
    }
}

/// Micros to seconds.
fn gap_secs(us: i64) -> f64 {
    us as f64 / Timestamp::MICROS_PER_SEC as f64
}

/// Records the steam check of one temperature/pressure pair in the run.
fn pair(run: &mut Run, t: f64, p: f64) {
    // A pressure outside region 4 (deep vacuum, a broken sensor) cannot be compared; ingest
    // already reports values outside the physical range as sensor faults (G3).
    let Some(dev) = t_sat_c(p).map(|ts| t - ts) else {
        return;
    };
    run.pairs = run.pairs.saturating_add(1);
    if run.worst_dev.is_none_or(|w| dev.abs() > w.abs()) {
        run.worst_dev = Some(dev);
    }
}
