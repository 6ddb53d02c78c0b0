//! Dental steam sterilizer (口腔器械压力蒸汽灭菌器): sterilization cycles with their telemetry and
//! events, and standby telemetry between cycles.
//!
//! Normal day (clinic hours 08:00-17:30 +08:00): on a pre-vacuum sterilizer the first cycle is a
//! `bowie_dick` test (134 C, 3.5 min hold) and its `bd_result pass` follows a few minutes later;
//! then loads every 25-70 minutes (`prevac_134` mostly, some `prevac_132`; gravity sterilizers run
//! `gravity_121_instruments` / `gravity_121_textiles` and no B-D test). A cycle is: three
//! pre-vacuum pulses (down to ~8 kPa, steam to 150-190 kPa), heat-up, the hold (set + 0.3 to
//! set + 2.5 K, 4.5-5.5 min at 134/132 C, 21-23 / 31-33 min at 121 C) with the chamber pressure
//! equal to the IF97 saturation pressure of the chamber temperature (+- 0.2 %), exhaust, vacuum
//! drying and venting; telemetry every tick (the device's expected interval) with the
//! `cycle_id`; `cycle_end pass`. Every `bi_interval_days - 1` days (so never overdue) and for every
//! implant load a biological indicator goes in and its `bi_result negative` arrives ~3 h later.
//! Between cycles the device reports standby telemetry once a minute.
//!
//! Faults (`Scenario::cycle_fault_rate`, announced as incidents): per load cycle a too-short
//! hold, a low temperature, air in the chamber (each with the device saying `pass` or `fail`)
//! or an abort; per prevac day a skipped Bowie-Dick test; per BI a positive result; per due
//! BI a lapse of a whole interval (BI overdue).

use alerting::model::{DentalSite, Metric, SterilizerType, Timestamp};
use rand::rngs::StdRng;
use rand::Rng;
use serde_json::{json, Value};

use super::steam::{p_sat_kpa, t_sat_c};
use super::step::{
    event, local_date, local_midnight, local_secs_of_day, num, Emission, IncidentKind, SensorFault,
    Tick,
};

const OPEN_SECS: i64 = 8 * 3600;
const LAST_START_SECS: i64 = 17 * 3600 + 1800;
const AMBIENT_KPA: f64 = 101.3;
const IDLE_REPORT_SECS: i64 = 60;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    Vacuum(f64),
    Inject(f64),
    HeatUp,
    Hold,
    Exhaust,
    Dry,
    Vent,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum CycleFault {
    /// The hold is shorter than the program's minimum; the device says `pass` if `false_pass`.
    ShortHold { false_pass: bool },
    /// Air in the chamber: pressure is that of saturated steam 3.5 K hotter than the chamber.
    Air { false_pass: bool },
    /// The cycle stops after `at` seconds with `cycle_end aborted`.
    Aborted { at: i64 },
    /// The hold runs 1-2 K below the set temperature (saturated steam); the device says
    /// `pass` if `false_pass`.
    LowTemp { false_pass: bool },
}

#[derive(Debug, Clone)]
struct Cycle {
    id: String,
    set: f64,
    start: Timestamp,
    phases: Vec<(Phase, i64)>,
    current: usize,
    entry_p: f64,
    fault: Option<CycleFault>,
    bowie_dick: bool,
    bi: bool,
}

impl Cycle {
    /// The phase at `elapsed` seconds, with seconds into it; None once the cycle is over.
    fn phase_at(&self, elapsed: i64) -> Option<(usize, Phase, i64, i64)> {
        let mut from = 0;
        for (i, (p, d)) in self.phases.iter().enumerate() {
            if elapsed < from + d {
                return Some((i, *p, elapsed - from, *d));
            }
            from += d;
        }
        None
    }
}

/// One sterilizer.
#[derive(Debug)]
pub(super) struct AutoclaveSim {
    site: DentalSite,
    has_load_probe: bool,
    temp: f64,
    pressure: f64,
    load: f64,
    cycle: Option<Cycle>,
    next_start: Option<Timestamp>,
    last_idle_report: Option<Timestamp>,
    /// Local day of the last B-D test, and when its result is recorded.
    bd_day: Option<i64>,
    bd_result_at: Option<Timestamp>,
    last_bi_day: Option<i64>,
    pending: Vec<(Timestamp, Emission)>,
    fault: Option<SensorFault>,
}

fn approach(x: f64, target: f64, dt: f64, tau: f64) -> f64 {
    x + (target - x) * (1.0 - (-dt / tau).exp())
}

impl AutoclaveSim {
    pub fn new(site: DentalSite, rng: &mut StdRng) -> Self {
        let temp = rng.random_range(22.0..26.0);
        Self {
            site,
            has_load_probe: rng.random_bool(0.5),
            temp,
            pressure: AMBIENT_KPA,
            load: temp,
            cycle: None,
            next_start: None,
            last_idle_report: None,
            bd_day: None,
            bd_result_at: None,
            last_bi_day: None,
            pending: Vec::new(),
            fault: None,
        }
    }

    /// The next start time at or after `from` inside clinic hours.
    fn next_open_slot(t: &mut Tick<'_>, from: Timestamp) -> Timestamp {
        let sod = local_secs_of_day(from);
        let day = super::step::local_day(from);
        if sod < OPEN_SECS {
            local_midnight(day).plus_secs(OPEN_SECS + t.int(0, 900))
        } else if sod > LAST_START_SECS {
            local_midnight(day + 1).plus_secs(OPEN_SECS + t.int(0, 900))
        } else {
            from
        }
    }

    fn start_cycle(&mut self, t: &mut Tick<'_>) {
        let today = t.local_day();
        let prevac = self.site.sterilizer == SterilizerType::Prevac;
        if prevac && self.bd_day != Some(today) && t.bernoulli(t.scenario.cycle_fault_rate / 2.0) {
            // Today's Bowie-Dick test is skipped: the loads run without it.
            self.bd_day = Some(today);
            self.bd_result_at = None;
            t.incident(
                IncidentKind::CycleFault,
                "no Bowie-Dick test today: loads run without it".to_owned(),
            );
        }
        let bowie_dick = prevac && self.bd_day != Some(today);
        if !bowie_dick && prevac {
            // Loads wait for today's B-D sheet to be read.
            if let Some(at) = self.bd_result_at {
                if at > t.now {
                    self.next_start = Some(at.plus_secs(t.int(120, 480)));
                    return;
                }
            }
        }
        let roll: f64 = t.rng.random();
        let (program, set, hold) = if bowie_dick {
            ("bowie_dick", 134.0, 210)
        } else if prevac {
            if roll < 0.85 {
                ("prevac_134", 134.0, t.int(270, 330))
            } else {
                ("prevac_132", 132.0, t.int(270, 330))
            }
        } else if roll < 0.8 {
            ("gravity_121_instruments", 121.0, t.int(1260, 1380))
        } else {
            ("gravity_121_textiles", 121.0, t.int(1860, 1980))
        };
        let implant = program == "prevac_134" && t.rng.random_bool(0.05);
        let interval = i64::from(self.site.bi_interval_days.max(2)) - 1;
        let bi = !bowie_dick && (implant || self.last_bi_day.is_none_or(|d| today - d >= interval));
        let bi = if bi && !implant && t.bernoulli(t.scenario.cycle_fault_rate / 4.0) {
            // The clinic lapses: no BI for a whole interval more.
            self.last_bi_day = Some(today + interval);
            t.incident(
                IncidentKind::CycleFault,
                format!("biological indicators skipped for {} days", 2 * interval),
            );
            false
        } else {
            bi
        };
        if bi {
            self.last_bi_day = Some(today);
        }
        let mut fault = None;
        if !bowie_dick && t.bernoulli(t.scenario.cycle_fault_rate) {
            let roll: f64 = t.rng.random();
            fault = Some(if roll < 0.3 {
                CycleFault::ShortHold {
                    false_pass: t.rng.random_bool(0.5),
                }
            } else if roll < 0.45 {
                CycleFault::LowTemp {
                    false_pass: t.rng.random_bool(0.5),
                }
            } else if roll < 0.8 {
                CycleFault::Air {
                    false_pass: t.rng.random_bool(0.6),
                }
            } else {
                CycleFault::Aborted {
                    at: t.int(120, 500),
                }
            });
        }
        let hold = match fault {
            Some(CycleFault::ShortHold { .. }) if set > 130.0 => t.int(120, 200),
            Some(CycleFault::ShortHold { .. }) => t.int(600, 1000),
            _ => hold,
        };
        let phases = if prevac {
            vec![
                (Phase::Vacuum(8.0), 40),
                (Phase::Inject(150.0), 35),
                (Phase::Vacuum(8.0), 40),
                (Phase::Inject(170.0), 35),
                (Phase::Vacuum(8.0), 40),
                (Phase::Inject(190.0), 35),
                (Phase::HeatUp, 75),
                (Phase::Hold, hold),
                (Phase::Exhaust, 45),
                (Phase::Dry, if bowie_dick { 60 } else { 240 }),
                (Phase::Vent, 30),
            ]
        } else {
            vec![
                (Phase::HeatUp, 360),
                (Phase::Hold, hold),
                (Phase::Exhaust, 120),
                (Phase::Dry, 600),
                (Phase::Vent, 60),
            ]
        };
        let sod = local_secs_of_day(t.now);
        let id = format!(
            "C{}-{:02}{:02}{:02}",
            local_date(t.now),
            sod / 3600,
            (sod / 60) % 60,
            sod % 60
        );
        if let Some(f) = fault {
            let what = match f {
                CycleFault::ShortHold { false_pass } => format!(
                    "hold of {hold} s (too short), device verdict {}",
                    if false_pass { "pass" } else { "fail" }
                ),
                CycleFault::Air { false_pass } => format!(
                    "air in the chamber (T 3.5 K below T_sat(p)), device verdict {}",
                    if false_pass { "pass" } else { "fail" }
                ),
                CycleFault::Aborted { at } => format!("aborted after {at} s"),
                CycleFault::LowTemp { false_pass } => format!(
                    "hold 1-2 K below the set temperature {set} C, device verdict {}",
                    if false_pass { "pass" } else { "fail" }
                ),
            };
            t.incident(
                IncidentKind::CycleFault,
                format!("cycle {id} {program}: {what}"),
            );
        }
        let mut fields = json!({"cycle_id": id, "program": program});
        if implant {
            fields["implant_load"] = Value::Bool(true);
        }
        t.emit(event("cycle_start", fields));
        self.next_start = None;
        self.cycle = Some(Cycle {
            id,
            set,
            start: t.now,
            phases,
            current: usize::MAX,
            entry_p: self.pressure,
            fault,
            bowie_dick,
            bi,
        });
    }

    fn end_cycle(&mut self, t: &mut Tick<'_>, c: Cycle, aborted: bool) {
        let verdict = match (aborted, c.fault) {
            (true, _) => "aborted",
            (false, Some(CycleFault::ShortHold { false_pass }))
            | (false, Some(CycleFault::Air { false_pass }))
            | (false, Some(CycleFault::LowTemp { false_pass })) => {
                if false_pass {
                    "pass"
                } else {
                    "fail"
                }
            }
            _ => "pass",
        };
        t.emit(event(
            "cycle_end",
            json!({"cycle_id": c.id, "device_verdict": verdict}),
        ));
        if c.bowie_dick {
            let at = t.now.plus_secs(t.int(180, 480));
            self.bd_day = Some(t.local_day());
            self.bd_result_at = Some(at);
            self.pending.push((
                at,
                event("bd_result", json!({"cycle_id": c.id, "result": "pass"})),
            ));
        }
        if c.bi && !aborted {
            let at = t.now.plus_secs(t.int(3 * 3600, 3 * 3600 + 1800));
            let positive = t.bernoulli(t.scenario.cycle_fault_rate / 2.0);
            if positive {
                t.incident(
                    IncidentKind::CycleFault,
                    format!("cycle {}: biological indicator positive", c.id),
                );
            }
            self.pending.push((
                at,
                event(
                    "bi_result",
                    json!({"bi_id": format!("BI-{}", c.id), "cycle_id": c.id,
                           "result": if positive { "positive" } else { "negative" }}),
                ),
            ));
        }
        let gap = t.int(25 * 60, 70 * 60);
        let from = t.now.plus_secs(gap);
        self.next_start = Some(Self::next_open_slot(t, from));
    }

    /// Advances the chamber through the cycle; returns false once the cycle is over.
    fn cycle_tick(&mut self, t: &mut Tick<'_>, c: &mut Cycle) -> Option<bool> {
        let dt = t.dt;
        let elapsed = t.now.secs_since(c.start);
        if let Some(CycleFault::Aborted { at }) = c.fault {
            if elapsed >= at {
                return Some(true);
            }
        }
        let (idx, phase, into, len) = c.phase_at(elapsed)?;
        if idx != c.current {
            c.current = idx;
            c.entry_p = self.pressure;
        }
        let set = c.set;
        match phase {
            Phase::Vacuum(target) => {
                self.pressure = approach(self.pressure, target, dt, 10.0);
                self.temp = approach(self.temp, 85.0, dt, 40.0);
            }
            Phase::Inject(target) => {
                self.pressure = approach(self.pressure, target, dt, 8.0);
                self.temp = approach(self.temp, t_sat_c(self.pressure) - 0.5, dt, 4.0);
            }
            Phase::HeatUp => {
                let frac = ((into as f64 + dt) / len as f64).min(1.0);
                let top = p_sat_kpa(set + 1.2);
                self.pressure = c.entry_p + (top - c.entry_p) * frac;
                self.temp = t_sat_c(self.pressure) - 0.3;
            }
            Phase::Hold => {
                let wobble = 0.4 * (std::f64::consts::TAU * into as f64 / 47.0).sin();
                let target = match c.fault {
                    Some(CycleFault::LowTemp { .. }) => set - 1.5,
                    _ => set + 1.0,
                };
                let (lo, hi) = match c.fault {
                    Some(CycleFault::LowTemp { .. }) => (set - 2.5, set - 0.3),
                    _ => (set + 0.3, set + 2.5),
                };
                self.temp = (target + wobble + 0.12 * t.gauss()).clamp(lo, hi);
                let offset = match c.fault {
                    Some(CycleFault::Air { .. }) => 3.5,
                    _ => 0.0,
                };
                self.pressure = p_sat_kpa(self.temp + offset)
                    * (1.0 + (0.002 * t.gauss()).clamp(-0.004, 0.004));
            }
            Phase::Exhaust => {
                self.pressure = approach(self.pressure, AMBIENT_KPA, dt, 12.0);
                self.temp = (t_sat_c(self.pressure) - 0.3).min(set - 0.2);
            }
            Phase::Dry => {
                let target = if self.site.sterilizer == SterilizerType::Prevac {
                    12.0
                } else {
                    AMBIENT_KPA
                };
                self.pressure = approach(self.pressure, target, dt, 15.0);
                self.temp = approach(self.temp, 108.0, dt, 120.0).min(set - 0.5);
            }
            Phase::Vent => {
                self.pressure = approach(self.pressure, AMBIENT_KPA, dt, 8.0);
                self.temp = approach(self.temp, 95.0, dt, 60.0);
            }
        }
        self.load = approach(self.load, self.temp, dt, 25.0);
        Some(false)
    }

    fn idle_tick(&mut self, t: &mut Tick<'_>) {
        let sod = local_secs_of_day(t.now);
        let standby = if (OPEN_SECS - 1800..18 * 3600 + 1800).contains(&sod) {
            90.0
        } else {
            23.0
        };
        // Sensor noise keeps a cold chamber from reading one constant value (rule G2).
        self.temp = approach(self.temp, standby, t.dt, 1800.0) + 0.03 * t.gauss();
        self.pressure = AMBIENT_KPA + 0.15 * t.gauss();
        self.load = approach(self.load, self.temp, t.dt, 300.0) + 0.03 * t.gauss();
        if self.fault.is_none() && t.chance(t.scenario.fault_rate) {
            let candidates = [
                (
                    Metric::ChamberPressureKpa,
                    (t.uniform(512.0, 540.0) * 10.0).round() / 10.0,
                ),
                (Metric::ChamberTempC, 850.0),
            ];
            let stuck: &[Metric] = if self.has_load_probe {
                &[Metric::LoadTempC]
            } else {
                &[]
            };
            self.fault = SensorFault::start(t, &candidates, stuck);
        }
        match self.next_start {
            None => {
                let from = t.now.plus_secs(t.int(60, 600));
                self.next_start = Some(Self::next_open_slot(t, from));
            }
            Some(at) if at <= t.now => self.start_cycle(t),
            Some(_) => {}
        }
    }

    fn values(&self) -> Vec<(Metric, Value)> {
        let mut v = vec![
            (Metric::ChamberTempC, num(self.temp, 2)),
            (Metric::ChamberPressureKpa, num(self.pressure.max(0.0), 2)),
        ];
        if self.has_load_probe {
            v.push((Metric::LoadTempC, num(self.load, 2)));
        }
        v
    }

    pub fn tick(&mut self, t: &mut Tick<'_>) {
        // Results read later (B-D sheet, BI incubation).
        let now = t.now;
        let mut i = 0;
        while i < self.pending.len() {
            if self.pending[i].0 <= now {
                let (_, e) = self.pending.remove(i);
                t.emit(e);
            } else {
                i += 1;
            }
        }

        let mut cycle_id = None;
        let report = if let Some(mut c) = self.cycle.take() {
            match self.cycle_tick(t, &mut c) {
                Some(false) => {
                    cycle_id = Some(c.id.clone());
                    self.cycle = Some(c);
                    true
                }
                Some(true) => {
                    self.pressure = AMBIENT_KPA;
                    self.end_cycle(t, c, true);
                    true
                }
                None => {
                    cycle_id = Some(c.id.clone());
                    self.end_cycle(t, c, false);
                    true
                }
            }
        } else {
            self.idle_tick(t);
            if let Some(c) = &self.cycle {
                // A cycle just started: report its first sample.
                cycle_id = Some(c.id.clone());
                true
            } else {
                self.last_idle_report
                    .is_none_or(|l| now.secs_since(l) >= IDLE_REPORT_SECS)
            }
        };
        if !report {
            return;
        }
        if cycle_id.is_none() {
            self.last_idle_report = Some(now);
        }
        let mut values = self.values();
        if let Some(f) = &mut self.fault {
            if !f.apply(now, &mut values) {
                self.fault = None;
            }
        }
        t.emit(Emission::Telemetry { values, cycle_id });
    }
}
