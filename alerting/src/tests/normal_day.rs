//! 24 h of normal data at every kind of site raise no alert: water sites with varying and with
//! stable sources (temperature and conductivity holding one value all day), a waste store
//! whose temperature and humidity hold still, and a dental sterilizer idle all day.

use super::*;
use crate::model::{DentalSite, Metric, SterilizerType, WasteStoreSite};

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

/// A site of `attributes` with one device `dev` of `kind` reporting every minute.
fn engine_with(attributes: SiteAttributes, kind: DeviceKind) -> Engine {
    let mut site = water_site("s1", WaterPoint::Outlet, Disinfectant::FreeChlorine, false);
    site.attributes = attributes;
    Engine::new(
        pack(),
        vec![site],
        vec![Device {
            kind,
            ..device("d1", "s1")
        }],
    )
}

/// A day of readings every minute (`values(minute)`) with a tick every 5 minutes.
fn day(
    e: &mut Engine,
    values: impl Fn(i32, &mut Lcg) -> Vec<(Metric, f64)>,
    seed: u64,
) -> Vec<AlertEvent> {
    let mut rng = Lcg(seed);
    let mut events = Vec::new();
    for m in 0..24 * 60 {
        let t = f64::from(m);
        for (metric, value) in values(m, &mut rng) {
            events.extend(e.process(&r(t, metric, value)));
        }
        if m % 5 == 0 {
            events.extend(e.process(&Input::Tick(at(t + 0.5))));
        }
    }
    events
}

#[test]
fn a_normal_day_at_a_stable_source_raises_no_alert_at_any_kind_of_water_site() {
    // A groundwater source: the outlet's temperature reads 15.0 °C and its conductivity
    // 350 µS/cm all day; residual, turbidity and pH move at their analysers' resolution.
    let mut seed = 100u64;
    for point in [WaterPoint::Outlet, WaterPoint::NetworkEnd] {
        for d in [
            Disinfectant::FreeChlorine,
            Disinfectant::Chloramine,
            Disinfectant::ChlorineDioxide,
            Disinfectant::Ozone,
        ] {
            for small in [false, true] {
                seed += 1;
                let mut e = engine_for(point, d, small);
                let base = residual_base(d, point);
                let events = day(
                    &mut e,
                    |m, rng| {
                        let slow = (f64::from(m) / 1440.0 * std::f64::consts::TAU).sin();
                        vec![
                            (Metric::TemperatureC, 15.0),
                            (Metric::ConductivityUsCm, 350.0),
                            (
                                d.metric(),
                                round(base * (1.0 + 0.1 * slow) + rng.noise(0.02), 2),
                            ),
                            (Metric::TurbidityNtu, round(0.12 + rng.noise(0.01), 3)),
                            (Metric::Ph, round(7.45 + 0.03 * slow + rng.noise(0.01), 2)),
                        ]
                    },
                    seed,
                );
                assert!(
                    events.is_empty(),
                    "{point:?} {d:?} small={small}: {:?}",
                    brief(&events)
                );
            }
        }
    }
}

#[test]
fn a_normal_day_at_a_waste_store_whose_climate_holds_still_raises_no_alert() {
    // A refrigerated store read at 0.1 °C and 1 %: 4.0 °C and 62 % for hours, door shut.
    let attributes = SiteAttributes::WasteStore(WasteStoreSite {
        refrigerated: true,
        max_temp_c: Some(8.0),
        collection_windows: vec!["08:00-10:00".into()],
    });
    let mut e = engine_with(attributes, DeviceKind::WasteStore);
    let events = day(
        &mut e,
        |m, _| {
            let warm = (600..720).contains(&m);
            vec![
                (Metric::TemperatureC, if warm { 4.5 } else { 4.0 }),
                (Metric::HumidityPct, 62.0),
                (Metric::DoorOpen, 0.0),
                (Metric::UvLampOn, 0.0),
            ]
        },
        7,
    );
    assert!(events.is_empty(), "{:?}", brief(&events));
}

#[test]
fn a_normal_day_at_an_idle_dental_sterilizer_raises_no_alert() {
    // No load today: the chamber sits at room temperature and atmospheric pressure.
    let attributes = SiteAttributes::DentalSterilization(DentalSite {
        sterilizer: SterilizerType::Prevac,
        bi_interval_days: 7,
    });
    let mut e = engine_with(attributes, DeviceKind::Autoclave);
    let events = day(
        &mut e,
        |_, _| {
            vec![
                (Metric::ChamberTempC, 24.0),
                (Metric::ChamberPressureKpa, 101.3),
            ]
        },
        9,
    );
    assert!(events.is_empty(), "{:?}", brief(&events));
}
