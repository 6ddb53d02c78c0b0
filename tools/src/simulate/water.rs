//! Drinking-water online monitor (出厂水 / 末梢水): turbidity, pH, the site's disinfectant
//! residual, temperature and conductivity.
//!
//! Normal behaviour: the residual follows a daily cycle (highest before dawn, lowest in the
//! afternoon, when the water is warmest and demand highest) around a level typical of the
//! sampling point and disinfectant; rain-like episodes (about one a day) raise turbidity by a
//! few tenths of an NTU for some hours and eat some residual; pH 7.0-7.8 and conductivity
//! 300-500 uS/cm drift slowly; water temperature has a small daily cycle. Nothing crosses a
//! GB 5749-2022 limit unless the scenario injects a breach.

use alerting::model::{Disinfectant, Metric, WaterPoint, WaterSite};
use rand::rngs::StdRng;
use rand::Rng;
use serde_json::{json, Value};

use super::step::{event, num, IncidentKind, Ramp, SensorFault, Tick};

/// An injected water-quality breach.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Breach {
    /// The residual falls to `level` (below the standard's residual), W2.
    ResidualLow { ramp: Ramp, level: f64 },
    /// The residual rises to `level` (above the upper limit), W3.
    ResidualHigh { ramp: Ramp, level: f64 },
    /// Turbidity rises to `level` (above 1 NTU, or 3 NTU at a small supply), W1.
    Turbidity { ramp: Ramp, level: f64 },
}

/// One water monitor.
#[derive(Debug)]
pub(super) struct WaterSim {
    residual_metric: Metric,
    residual_base: f64,
    residual_low: f64,
    residual_high: f64,
    turbidity_limit: f64,
    turbidity_base: f64,
    ph_base: f64,
    temp_base: f64,
    conductivity_base: f64,
    // Slow drifts (AR(1)).
    ph_drift: f64,
    conductivity_drift: f64,
    residual_drift: f64,
    // Rain-like turbidity episode: `rain` NTU now, `rain_pending` still to arrive.
    rain: f64,
    rain_pending: f64,
    breach: Option<Breach>,
    fault: Option<SensorFault>,
    /// End of a maintenance window in progress.
    maintenance_until: Option<alerting::model::Timestamp>,
}

/// (typical level, lower residual, upper limit) in mg/L for a point and disinfectant
/// (GB 5749-2022 table 2; ozone has no outlet residual, the network-end 0.02 is used).
fn residual_levels(site: WaterSite, rng: &mut StdRng) -> (f64, f64, f64) {
    let outlet = site.point == WaterPoint::Outlet;
    match (site.disinfectant, outlet) {
        (Disinfectant::FreeChlorine, true) => (rng.random_range(0.58..0.72), 0.3, 2.0),
        (Disinfectant::FreeChlorine, false) => (rng.random_range(0.16..0.24), 0.05, 2.0),
        (Disinfectant::Chloramine, true) => (rng.random_range(1.0..1.4), 0.5, 3.0),
        (Disinfectant::Chloramine, false) => (rng.random_range(0.5..0.8), 0.05, 3.0),
        (Disinfectant::ChlorineDioxide, true) => (rng.random_range(0.25..0.4), 0.1, 0.8),
        (Disinfectant::ChlorineDioxide, false) => (rng.random_range(0.08..0.15), 0.02, 0.8),
        (Disinfectant::Ozone, true) => (rng.random_range(0.1..0.15), 0.02, 0.3),
        (Disinfectant::Ozone, false) => (rng.random_range(0.04..0.07), 0.02, 0.3),
    }
}

impl WaterSim {
    pub fn new(site: WaterSite, rng: &mut StdRng) -> Self {
        let (residual_base, residual_low, residual_high) = residual_levels(site, rng);
        let outlet = site.point == WaterPoint::Outlet;
        Self {
            residual_metric: site.disinfectant.metric(),
            residual_base,
            residual_low,
            residual_high,
            turbidity_limit: if site.small_supply { 3.0 } else { 1.0 },
            turbidity_base: if outlet {
                rng.random_range(0.12..0.28)
            } else {
                rng.random_range(0.2..0.4)
            },
            ph_base: rng.random_range(7.2..7.5),
            temp_base: rng.random_range(12.0..17.0),
            conductivity_base: rng.random_range(340.0..460.0),
            ph_drift: 0.0,
            conductivity_drift: 0.0,
            residual_drift: 0.0,
            rain: 0.0,
            rain_pending: 0.0,
            breach: None,
            fault: None,
            maintenance_until: None,
        }
    }

    fn start_breach(&mut self, t: &mut Tick<'_>) {
        let roll: f64 = t.rng.random();
        let m = self.residual_metric;
        let breach = if roll < 0.55 {
            let minutes = t.int(15, 70);
            let level = self.residual_low * t.uniform(0.4, 0.8);
            t.incident(
                IncidentKind::Breach,
                format!(
                    "{m} down to {level:.3} mg/L (residual {}) for {minutes} min",
                    self.residual_low
                ),
            );
            Breach::ResidualLow {
                ramp: Ramp::new(t.now, 240, minutes * 60, 360),
                level,
            }
        } else if roll < 0.85 {
            let minutes = t.int(10, 45);
            let level = self.turbidity_limit * t.uniform(1.3, 3.0);
            t.incident(
                IncidentKind::Breach,
                format!(
                    "turbidity_ntu up to {level:.2} NTU (limit {}) for {minutes} min",
                    self.turbidity_limit
                ),
            );
            Breach::Turbidity {
                ramp: Ramp::new(t.now, 300, minutes * 60, 600),
                level,
            }
        } else {
            let minutes = t.int(20, 50);
            let level = self.residual_high * t.uniform(1.1, 1.4);
            t.incident(
                IncidentKind::Breach,
                format!(
                    "{m} up to {level:.2} mg/L (limit {}) for {minutes} min (overdosing)",
                    self.residual_high
                ),
            );
            Breach::ResidualHigh {
                ramp: Ramp::new(t.now, 300, minutes * 60, 600),
                level,
            }
        };
        self.breach = Some(breach);
    }

    pub fn tick(&mut self, t: &mut Tick<'_>) {
        let dt = t.dt;
        let hour = t.local_hour();
        let day_phase = std::f64::consts::TAU * hour / 24.0;

        // Maintenance windows: the analyser is being calibrated; readings are buffer and
        // zero solutions, flagged by weijian while the window is open.
        if let Some(until) = self.maintenance_until {
            if t.now >= until {
                self.maintenance_until = None;
                t.emit(event(
                    "maintenance",
                    json!({"state": "end", "reason": "calibration"}),
                ));
            }
        } else if t.chance(t.scenario.maintenance_rate) {
            let minutes = t.int(20, 45);
            self.maintenance_until = Some(t.now.plus_secs(minutes * 60));
            t.incident(
                IncidentKind::Maintenance,
                format!("maintenance (calibration) for {minutes} min"),
            );
            t.emit(event(
                "maintenance",
                json!({"state": "start", "reason": "calibration"}),
            ));
        }

        // Episodes.
        if self.breach.is_none() && t.chance(t.scenario.breach_rate) {
            self.start_breach(t);
        }
        if self.fault.is_none() && t.chance(t.scenario.fault_rate) {
            let candidates = [
                (Metric::Ph, (t.uniform(14.3, 15.9) * 100.0).round() / 100.0),
                (Metric::TemperatureC, -99.9),
                (Metric::TurbidityNtu, 4500.0),
            ];
            // Frozen values of the metrics G2 watches for an hour (a frozen pH needs 4 h).
            let stuck = [Metric::TurbidityNtu, self.residual_metric];
            self.fault = SensorFault::start(t, &candidates, &stuck);
        }

        // Rain-like episodes, about one a day.
        if t.chance(1.0 / 24.0) {
            self.rain_pending += t.uniform(0.15, 0.4) * self.turbidity_limit.min(1.0);
        }
        let arrive = self.rain_pending * (1.0 - (-dt / 1200.0).exp());
        self.rain_pending -= arrive;
        self.rain = self.rain * (-dt / 9000.0).exp() + arrive;

        // Slow drifts.
        let k = (dt / 600.0).min(1.0);
        self.ph_drift += -k * self.ph_drift + 0.02 * k.sqrt() * t.gauss();
        self.conductivity_drift += -k * self.conductivity_drift + 6.0 * k.sqrt() * t.gauss();
        self.residual_drift += -k * self.residual_drift + 0.03 * k.sqrt() * t.gauss();
        self.ph_drift = self.ph_drift.clamp(-0.12, 0.12);
        self.conductivity_drift = self.conductivity_drift.clamp(-25.0, 25.0);
        self.residual_drift = self.residual_drift.clamp(-0.1, 0.1);

        // Normal values.
        let rain_demand = (self.rain / self.turbidity_limit.min(1.0)).min(1.0) * 0.2;
        let mut residual = self.residual_base
            * (1.0 + 0.1 * (day_phase - std::f64::consts::TAU * 4.0 / 24.0).cos())
            * (1.0 - rain_demand)
            * (1.0 + self.residual_drift + 0.015 * t.gauss());
        // Keep normal values well inside the limits without pinning them to one value (a
        // constant would look like a stuck sensor, rule G2).
        let floor = self.residual_low * 1.3;
        if residual < floor {
            residual = floor + 0.01 * self.residual_base * t.gauss().abs();
        }
        residual = residual.min(self.residual_high * 0.8);
        let mut turbidity = (self.turbidity_base * (1.0 + 0.06 * t.gauss()) + self.rain)
            .clamp(0.02, self.turbidity_limit * 0.85);
        let ph = (self.ph_base
            + 0.04 * (day_phase - std::f64::consts::TAU * 14.0 / 24.0).cos()
            + self.ph_drift
            + 0.012 * t.gauss())
        .clamp(7.0, 7.8);
        let temp = self.temp_base
            + 0.6 * (day_phase - std::f64::consts::TAU * 15.0 / 24.0).cos()
            + 0.03 * t.gauss();
        // Base 340-460, drift +-25, rain dilution < 10: inside 300-500 without clamping.
        let conductivity = (self.conductivity_base + self.conductivity_drift - 20.0 * self.rain
            + 1.2 * t.gauss())
        .clamp(300.0, 500.0);

        // Breaches.
        if let Some(b) = self.breach {
            let over = match b {
                Breach::ResidualLow { ramp, level } => {
                    let w = ramp.weight(t.now);
                    let target = (level * (1.0 + 0.03 * t.gauss())).min(self.residual_low * 0.92);
                    residual = residual * (1.0 - w) + target * w;
                    ramp.over(t.now)
                }
                Breach::ResidualHigh { ramp, level } => {
                    let w = ramp.weight(t.now);
                    let target = (level * (1.0 + 0.02 * t.gauss())).max(self.residual_high * 1.05);
                    residual = residual * (1.0 - w) + target * w;
                    ramp.over(t.now)
                }
                Breach::Turbidity { ramp, level } => {
                    let w = ramp.weight(t.now);
                    let target = (level * (1.0 + 0.05 * t.gauss())).max(self.turbidity_limit * 1.1);
                    turbidity = turbidity * (1.0 - w) + target * w;
                    ramp.over(t.now)
                }
            };
            if over {
                self.breach = None;
            }
        }

        let mut values: Vec<(Metric, Value)> = vec![
            (Metric::TurbidityNtu, num(turbidity, 3)),
            (Metric::Ph, num(ph, 2)),
            (self.residual_metric, num(residual.max(0.0), 3)),
            (Metric::TemperatureC, num(temp, 2)),
            (Metric::ConductivityUsCm, num(conductivity, 1)),
        ];
        if self.maintenance_until.is_some() {
            // Calibration: pH buffer 7.00 then 4.01, residual zero solution.
            let minute = (t.now.as_micros() / 60_000_000) % 20;
            for (m, v) in values.iter_mut() {
                match m {
                    Metric::Ph => *v = num(if minute < 10 { 7.0 } else { 4.01 }, 2),
                    m if *m == self.residual_metric => *v = num(0.0, 3),
                    _ => {}
                }
            }
        }
        if let Some(f) = &mut self.fault {
            if !f.apply(t.now, &mut values) {
                self.fault = None;
            }
        }
        t.emit(super::step::Emission::Telemetry {
            values,
            cycle_id: None,
        });
    }
}
