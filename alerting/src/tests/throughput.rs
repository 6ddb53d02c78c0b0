//! Throughput with 10,000 devices (run with `cargo test -p alerting --release -- --ignored
//! --nocapture readings_per_second`).

use std::time::Instant;

use super::*;
use crate::model::Metric;

#[test]
#[ignore = "measurement, not a check; run in release with --ignored --nocapture"]
fn readings_per_second_with_ten_thousand_devices() {
    const DEVICES: usize = 10_000;
    const MINUTES: usize = 30;
    let dis = [
        Disinfectant::FreeChlorine,
        Disinfectant::Chloramine,
        Disinfectant::ChlorineDioxide,
        Disinfectant::Ozone,
    ];
    let mut sites = Vec::new();
    let mut devices = Vec::new();
    for i in 0..DEVICES {
        let point = if i % 2 == 0 {
            WaterPoint::Outlet
        } else {
            WaterPoint::NetworkEnd
        };
        let site = water_site(&format!("s{i}"), point, dis[i % 4], i % 7 == 0);
        devices.push(device(&format!("d{i}"), &format!("s{i}")));
        sites.push(site);
    }
    let mut e = Engine::new(pack(), sites, devices);
    // Pre-build inputs so only processing is timed; 2 % of devices breach turbidity.
    let mut inputs = Vec::with_capacity(DEVICES * MINUTES * 3);
    for m in 0..MINUTES {
        for i in 0..DEVICES {
            let (d, s) = (format!("d{i}"), format!("s{i}"));
            let t = m as f64;
            let turb = if i % 50 == 0 {
                1.5
            } else {
                0.2 + (i % 13) as f64 * 0.01 + t * 1e-3
            };
            inputs.push(reading(&d, &s, t, Metric::TurbidityNtu, turb));
            inputs.push(reading(&d, &s, t, Metric::Ph, 7.2 + (m % 5) as f64 * 0.01));
            inputs.push(reading(
                &d,
                &s,
                t,
                dis[i % 4].metric(),
                if i % 4 == 3 { 0.1 } else { 0.4 } + (m % 3) as f64 * 0.01, // ozone stays below 0.3
            ));
        }
    }
    let start = Instant::now();
    let mut events = 0usize;
    for i in &inputs {
        events += e.process(i).len();
    }
    let secs = start.elapsed().as_secs_f64();
    let tick_start = Instant::now();
    events += e.process(&Input::Tick(at(MINUTES as f64))).len();
    let tick_ms = tick_start.elapsed().as_secs_f64() * 1e3;
    let snap = serde_json::to_string(&e.snapshot()).unwrap();
    println!(
        "{} readings in {secs:.3} s = {:.0} readings/s; {events} events; one tick over {DEVICES} devices {tick_ms:.1} ms; snapshot {} KiB",
        inputs.len(),
        inputs.len() as f64 / secs,
        snap.len() / 1024
    );
    assert!(events > 0);
}
