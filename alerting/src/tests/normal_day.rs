//! 24 h of normal water data at every kind of water site raise no alert.

use super::*;
use crate::model::Metric;

/// A tiny deterministic LCG (Numerical Recipes constants): no rand crate.
struct Lcg(u64);

impl Lcg {
    fn next_unit(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Noise in [-amp, amp].
    fn noise(&mut self, amp: f64) -> f64 {
        (self.next_unit() * 2.0 - 1.0) * amp
    }
}

/// Normal residual for a disinfectant at a point: well inside its limits.
fn residual_base(dis: Disinfectant, point: WaterPoint) -> f64 {
    match (dis, point) {
        (Disinfectant::FreeChlorine, WaterPoint::Outlet) => 0.7,
        (Disinfectant::FreeChlorine, WaterPoint::NetworkEnd) => 0.3,
        (Disinfectant::Chloramine, WaterPoint::Outlet) => 1.2,
        (Disinfectant::Chloramine, WaterPoint::NetworkEnd) => 0.5,
        (Disinfectant::ChlorineDioxide, WaterPoint::Outlet) => 0.35,
        (Disinfectant::ChlorineDioxide, WaterPoint::NetworkEnd) => 0.12,
        (Disinfectant::Ozone, WaterPoint::Outlet) => 0.12,
        (Disinfectant::Ozone, WaterPoint::NetworkEnd) => 0.08,
    }
}

fn round(v: f64, decimals: i32) -> f64 {
    let p = 10f64.powi(decimals);
    (v * p).round() / p
}

#[test]
fn a_normal_day_at_every_kind_of_water_site_raises_no_alert() {
    let dis = [
        Disinfectant::FreeChlorine,
        Disinfectant::Chloramine,
        Disinfectant::ChlorineDioxide,
        Disinfectant::Ozone,
    ];
    let mut seed = 7u64;
    for point in [WaterPoint::Outlet, WaterPoint::NetworkEnd] {
        for d in dis {
            for small in [false, true] {
                seed += 1;
                let mut rng = Lcg(seed);
                let mut e = engine_for(point, d, small);
                let base = residual_base(d, point);
                let mut events = Vec::new();
                for m in 0..24 * 60 {
                    let t = f64::from(m);
                    let day = (t / 1440.0 * std::f64::consts::TAU).sin();
                    let turb = round(0.25 + 0.08 * day + rng.noise(0.05), 3);
                    let res = round(base * (1.0 + 0.15 * day) + rng.noise(base * 0.05), 3);
                    let ph = round(7.4 + 0.2 * day + rng.noise(0.05), 2);
                    let temp = round(15.0 + 3.0 * day + rng.noise(0.2), 1);
                    for (metric, value) in [
                        (Metric::TurbidityNtu, turb),
                        (d.metric(), res),
                        (Metric::Ph, ph),
                        (Metric::TemperatureC, temp),
                    ] {
                        events.extend(e.process(&r(t, metric, value)));
                    }
                    if m % 5 == 0 {
                        events.extend(e.process(&Input::Tick(at(t + 0.5))));
                    }
                }
                assert!(
                    events.is_empty(),
                    "{point:?} {d:?} small={small}: {:?}",
                    brief(&events)
                );
            }
        }
    }
}
