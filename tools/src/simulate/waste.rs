//! Medical-waste temporary store (医疗废物暂存间): store climate, door and UV lamp telemetry, and
//! the ledger events of the store's scale/scanner (bags in, handover to the disposal company,
//! disinfection).
//!
//! Normal behaviour: departments bring bags in during each collection window (the door opens once
//! for 6-12 minutes and 4-12 bags are weighed in, with categories and weights typical of a
//! hospital); in the last window of each day the disposal company collects every bag in the
//! store (`handover` with the bag ids and a weight within 1 % of the sum at intake), then the
//! store is spray-disinfected; at night the UV lamp runs for an hour, followed by a `uv`
//! disinfection record. Refrigerated stores sit at 5-14 C (compressor saw-tooth, door openings); others
//! follow the building's daily cycle. Only the first waste device of a site keeps the ledger and
//! reports door and lamp; further devices of the same site are extra climate probes
//! (`temperature_c`, `humidity_pct` only).

use alerting::model::{Metric, Timestamp, WasteStoreSite};
use rand::rngs::StdRng;
use rand::Rng;
use serde_json::{json, Value};

use super::step::{
    event, local_date, local_midnight, local_secs_of_day, num, stable_hash, Emission, IncidentKind,
    Ramp, SensorFault, Tick,
};

const DEFAULT_WINDOWS: [(i64, i64); 2] = [(8 * 3600, 10 * 3600), (16 * 3600, 17 * 3600 + 1800)];
const DEPARTMENTS: [&str; 7] = [
    "内科",
    "外科",
    "急诊科",
    "检验科",
    "妇产科",
    "口腔科",
    "手术室",
];

/// A planned door opening inside a collection window.
#[derive(Debug, Clone)]
struct Opening {
    open: Timestamp,
    close: Timestamp,
    /// Times of the bag intakes still to record.
    bags: Vec<Timestamp>,
    /// When the carrier collects (last window of the day), unless the pickup is missed.
    handover: Option<Timestamp>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Breach {
    /// The door is left open (M5).
    DoorOpen { until: Timestamp },
    /// The refrigeration fails and the store warms above `max_temp_c` (M6).
    Warm { ramp: Ramp, level: f64 },
}

/// One waste-store device.
#[derive(Debug)]
pub(super) struct WasteSim {
    site_tag: u64,
    ledger: bool,
    refrigerated: bool,
    max_temp: Option<f64>,
    windows: Vec<(i64, i64)>,
    setpoint: f64,
    temp: f64,
    humidity_base: f64,
    compressor_on: bool,
    /// (local day, window index) of the last planned window.
    planned: Option<(i64, usize)>,
    opening: Option<Opening>,
    store: Vec<(String, f64)>,
    bag_counter: u64,
    uv_until: Option<Timestamp>,
    uv_day: Option<i64>,
    /// The next handover weighs short (M2) / is skipped (M1/M4).
    short_handover: bool,
    skip_handover: bool,
    /// The next handover leaves its oldest bag behind (M1), until it is released.
    leave_next: bool,
    /// A bag left behind by the pickups: (id, weight, picked up again after this time).
    held: Option<(String, f64, Timestamp)>,
    /// The next handover names a bag that was never weighed in (M3).
    unknown_bag: bool,
    /// No disinfection is recorded until then (M7).
    no_disinfection_until: Option<Timestamp>,
    /// When the last ledger fault was injected.
    last_ledger_fault: Option<Timestamp>,
    breach: Option<Breach>,
    fault: Option<SensorFault>,
}

/// Parses `HH:MM-HH:MM` into seconds of the day.
fn parse_window(s: &str) -> Option<(i64, i64)> {
    let (a, b) = s.split_once('-')?;
    let secs = |x: &str| -> Option<i64> {
        let (h, m) = x.trim().split_once(':')?;
        Some(h.parse::<i64>().ok()? * 3600 + m.parse::<i64>().ok()? * 60)
    };
    let (a, b) = (secs(a)?, secs(b)?);
    (b > a).then_some((a, b))
}

impl WasteSim {
    pub fn new(site: &str, attrs: &WasteStoreSite, ledger: bool, rng: &mut StdRng) -> Self {
        let mut windows: Vec<(i64, i64)> = attrs
            .collection_windows
            .iter()
            .filter_map(|w| parse_window(w))
            .collect();
        if windows.is_empty() {
            windows = DEFAULT_WINDOWS.to_vec();
        }
        windows.sort_unstable();
        let setpoint = if attrs.refrigerated {
            rng.random_range(7.0..9.0)
        } else {
            rng.random_range(18.0..22.0)
        };
        Self {
            site_tag: stable_hash(site) % 10_000,
            ledger,
            refrigerated: attrs.refrigerated,
            max_temp: attrs.max_temp_c,
            windows,
            setpoint,
            temp: setpoint,
            humidity_base: rng.random_range(52.0..65.0),
            compressor_on: false,
            planned: None,
            opening: None,
            store: Vec::new(),
            bag_counter: 0,
            uv_until: None,
            uv_day: None,
            short_handover: false,
            skip_handover: false,
            leave_next: false,
            held: None,
            unknown_bag: false,
            no_disinfection_until: None,
            last_ledger_fault: None,
            breach: None,
            fault: None,
        }
    }

    fn plan_window(&mut self, t: &mut Tick<'_>) {
        let day = t.local_day();
        let sod = local_secs_of_day(t.now);
        let Some(idx) = self.windows.iter().position(|&(a, b)| sod >= a && sod < b) else {
            return;
        };
        if self.planned == Some((day, idx)) || self.opening.is_some() {
            return;
        }
        self.planned = Some((day, idx));
        let (_, end) = self.windows[idx];
        let window_end = local_midnight(day).plus_secs(end);
        let open = t.now.plus_secs(t.int(60, 900));
        let mut close = open.plus_secs(t.int(360, 720));
        if close > window_end {
            close = window_end;
        }
        if close.secs_since(open) < 180 {
            return;
        }
        let n_bags = if self.ledger { t.int(4, 12) } else { 0 };
        let span = (close.secs_since(open) - 120).max(60);
        let mut bags: Vec<Timestamp> = (0..n_bags)
            .map(|_| open.plus_secs(30 + t.int(0, span - 30)))
            .collect();
        bags.sort();
        let last_window = idx + 1 == self.windows.len();
        let handover = if self.ledger && last_window {
            if self.skip_handover {
                self.skip_handover = false;
                None
            } else {
                Some(close.plus_secs(-60))
            }
        } else {
            None
        };
        self.opening = Some(Opening {
            open,
            close,
            bags,
            handover,
        });
    }

    fn bag_in(&mut self, t: &mut Tick<'_>) {
        self.bag_counter += 1;
        let roll: f64 = t.rng.random();
        let (category, lo, hi) = match roll {
            r if r < 0.70 => ("infectious", 0.5, 4.0),
            r if r < 0.85 => ("sharps", 0.3, 2.0),
            r if r < 0.90 => ("pathological", 0.5, 3.0),
            r if r < 0.97 => ("pharmaceutical", 0.2, 1.5),
            _ => ("chemical", 0.2, 1.0),
        };
        let weight = (t.uniform(lo, hi) * 100.0).round() / 100.0;
        // Date, site, time of intake and a counter: unique per site across runs that do not
        // overlap in time.
        let sod = local_secs_of_day(t.now);
        let bag_id = format!(
            "YF{}{:04}{:02}{:02}{:02}{:02}",
            local_date(t.now),
            self.site_tag,
            sod / 3600,
            (sod / 60) % 60,
            sod % 60,
            self.bag_counter % 100
        );
        let department = DEPARTMENTS[t.int(0, DEPARTMENTS.len() as i64 - 1) as usize];
        self.store.push((bag_id.clone(), weight));
        t.emit(event(
            "bag_in",
            json!({"bag_id": bag_id, "category": category, "weight_kg": weight,
                   "department": department}),
        ));
    }

    fn handover(&mut self, t: &mut Tick<'_>) {
        // A left-over bag goes with the first pickup after its release.
        if let Some((id, w, release)) = self.held.take() {
            if t.now >= release {
                self.store.insert(0, (id, w));
            } else {
                self.held = Some((id, w, release));
            }
        }
        if self.leave_next && self.held.is_none() && self.store.len() > 1 {
            self.leave_next = false;
            let (id, w) = self.store.remove(0);
            self.held = Some((id, w, t.now.plus_secs(t.int(48, 56) * 3600)));
        }
        if self.store.is_empty() {
            return;
        }
        let sum: f64 = self.store.iter().map(|(_, w)| w).sum();
        let factor = if self.short_handover {
            self.short_handover = false;
            t.uniform(0.86, 0.96)
        } else {
            1.0 + (0.004 * t.gauss()).clamp(-0.009, 0.009)
        };
        let mut weight = (sum * factor * 100.0).round() / 100.0;
        let mut bag_ids: Vec<String> = self.store.drain(..).map(|(id, _)| id).collect();
        if self.unknown_bag {
            self.unknown_bag = false;
            bag_ids.push(format!("YF-UNREG-{}-{}", self.site_tag, self.bag_counter));
            weight = ((weight + t.uniform(0.5, 2.0)) * 100.0).round() / 100.0;
        }
        t.emit(event(
            "handover",
            json!({"manifest_id": format!("{}{:04}{:05}", local_date(t.now), self.site_tag,
                       local_secs_of_day(t.now)),
                   "bag_ids": bag_ids, "weight_kg": weight, "carrier": "hw-disposal-01"}),
        ));
    }

    fn start_breach(&mut self, t: &mut Tick<'_>) {
        let roll: f64 = t.rng.random();
        let can_warm = self.max_temp.is_some();
        if roll < 0.35 && self.ledger {
            let minutes = t.int(18, 35);
            t.incident(
                IncidentKind::Breach,
                format!("door left open for {minutes} min"),
            );
            self.breach = Some(Breach::DoorOpen {
                until: t.now.plus_secs(minutes * 60),
            });
        } else if roll < 0.7 && can_warm {
            let minutes = t.int(40, 80);
            let level = self.max_temp.unwrap_or(20.0) + t.uniform(3.0, 6.0);
            t.incident(
                IncidentKind::Breach,
                format!("refrigeration failure: store warms to {level:.1} C for {minutes} min"),
            );
            self.breach = Some(Breach::Warm {
                ramp: Ramp::new(t.now, 900, minutes * 60, 1200),
                level,
            });
        } else if !self.ledger {
        } else {
            self.start_ledger_breach(t);
        }
    }

    /// One of the ledger faults (M1-M4, M7), each family equally likely; at most one pending
    /// at a time and one a simulated day, so that pickups and disinfections still happen on
    /// most days (without this, faults re-rolled every few minutes kept every pickup missed).
    fn start_ledger_breach(&mut self, t: &mut Tick<'_>) {
        let pending = self.short_handover
            || self.skip_handover
            || self.leave_next
            || self.unknown_bag
            || self.no_disinfection_until.is_some_and(|u| t.now < u);
        if pending
            || self
                .last_ledger_fault
                .is_some_and(|at| t.now.secs_since(at) < 86_400)
        {
            return;
        }
        self.last_ledger_fault = Some(t.now);
        match t.int(0, 4) {
            0 if !self.short_handover => {
                self.short_handover = true;
                t.incident(
                    IncidentKind::Breach,
                    "next handover will weigh 4-14 % less than its bags".into(),
                );
            }
            1 if !self.skip_handover => {
                self.skip_handover = true;
                t.incident(
                    IncidentKind::Breach,
                    "next pickup missed: bags stay in the store another day".into(),
                );
            }
            2 if !self.leave_next && self.held.is_none() => {
                self.leave_next = true;
                t.incident(
                    IncidentKind::Breach,
                    "next pickup leaves its oldest bag behind for about two days".into(),
                );
            }
            3 if !self.unknown_bag => {
                self.unknown_bag = true;
                t.incident(
                    IncidentKind::Breach,
                    "next handover names a bag that was never weighed in".into(),
                );
            }
            4 if self.no_disinfection_until.is_none() => {
                let hours = t.int(50, 60);
                self.no_disinfection_until = Some(t.now.plus_secs(hours * 3600));
                t.incident(
                    IncidentKind::Breach,
                    format!("no disinfection recorded for {hours} h"),
                );
            }
            _ => {}
        }
    }

    /// Whether disinfections are recorded at `now` (not during a no-disinfection fault).
    fn disinfects(&mut self, now: Timestamp) -> bool {
        match self.no_disinfection_until {
            Some(until) if now < until => false,
            Some(_) => {
                self.no_disinfection_until = None;
                true
            }
            None => true,
        }
    }

    pub fn tick(&mut self, t: &mut Tick<'_>) {
        let dt = t.dt;
        if self.breach.is_none() && t.chance(t.scenario.breach_rate) {
            self.start_breach(t);
        }
        if self.fault.is_none() && t.chance(t.scenario.fault_rate) {
            let candidates = [
                (
                    Metric::HumidityPct,
                    (t.uniform(101.0, 130.0) * 10.0).round() / 10.0,
                ),
                (Metric::TemperatureC, -99.9),
            ];
            self.fault = SensorFault::start(t, &candidates, &[Metric::HumidityPct]);
        }

        // Collection windows, bags and handover (the ledger device has the door contact).
        if self.ledger {
            self.plan_window(t);
        }
        let mut door = false;
        if let Some(o) = self.opening.take() {
            let mut o = o;
            door = t.now >= o.open && t.now < o.close;
            while o.bags.first().is_some_and(|b| *b <= t.now) {
                o.bags.remove(0);
                self.bag_in(t);
            }
            if o.handover.is_some_and(|h| h <= t.now) && o.bags.is_empty() {
                o.handover = None;
                self.handover(t);
                if self.disinfects(t.now) {
                    t.emit(event(
                        "disinfection",
                        json!({"method": "spray", "duration_min": 10}),
                    ));
                }
            }
            if t.now < o.close || !o.bags.is_empty() {
                self.opening = Some(o);
            }
        }

        // Night UV disinfection, an hour from about 22:00.
        let sod = local_secs_of_day(t.now);
        let day = t.local_day();
        if self.uv_until.is_none() && sod >= 22 * 3600 && self.uv_day != Some(day) {
            self.uv_day = Some(day);
            self.uv_until = Some(t.now.plus_secs(3600));
        }
        let mut uv = false;
        if let Some(until) = self.uv_until {
            if t.now >= until {
                self.uv_until = None;
                if self.ledger && self.disinfects(t.now) {
                    t.emit(event(
                        "disinfection",
                        json!({"method": "uv", "duration_min": 60}),
                    ));
                }
            } else {
                uv = true;
            }
        }

        // Breaches.
        let mut warm_target = None;
        match self.breach {
            Some(Breach::DoorOpen { until }) => {
                if t.now >= until {
                    self.breach = None;
                } else {
                    door = true;
                }
            }
            Some(Breach::Warm { ramp, level }) => {
                if ramp.over(t.now) {
                    self.breach = None;
                } else {
                    warm_target = Some((ramp.weight(t.now), level));
                }
            }
            None => {}
        }

        // Climate.
        let hour = t.local_hour();
        let minutes = dt / 60.0;
        if self.refrigerated {
            if self.temp > self.setpoint + 2.0 {
                self.compressor_on = true;
            } else if self.temp < self.setpoint - 2.0 {
                self.compressor_on = false;
            }
            self.temp += if self.compressor_on { -0.25 } else { 0.12 } * minutes;
        } else {
            let target = self.setpoint + 2.5 * (std::f64::consts::TAU * (hour - 15.0) / 24.0).cos();
            self.temp += (target - self.temp) * (1.0 - (-dt / 1800.0).exp());
        }
        if door {
            self.temp += 0.3 * minutes;
        }
        let mut temp = self.temp + 0.05 * t.gauss();
        if let Some((w, level)) = warm_target {
            temp = temp * (1.0 - w) + level * w;
        }
        if let Some(max) = self.max_temp {
            if warm_target.is_none() {
                temp = temp.min(max - 1.0);
            }
        }
        let humidity = (self.humidity_base
            + 4.0 * (std::f64::consts::TAU * (hour - 5.0) / 24.0).cos()
            + if door { 8.0 } else { 0.0 }
            + 0.6 * t.gauss())
        .clamp(30.0, 95.0);

        let mut values: Vec<(Metric, Value)> = vec![
            (Metric::TemperatureC, num(temp, 2)),
            (Metric::HumidityPct, num(humidity, 1)),
        ];
        if self.ledger {
            values.push((Metric::DoorOpen, Value::Bool(door)));
            values.push((Metric::UvLampOn, Value::Bool(uv)));
        }
        if let Some(f) = &mut self.fault {
            if !f.apply(t.now, &mut values) {
                self.fault = None;
            }
        }
        t.emit(Emission::Telemetry {
            values,
            cycle_id: None,
        });
    }
}
