//! What the operators' gauges read: firing alerts by level and offline devices.

use super::*;
use crate::model::Metric::{FreeChlorineMgL as Cl, TurbidityNtu as Turb};

#[test]
fn a_silent_monitor_counts_as_offline_and_its_alert_as_firing_at_its_level() {
    let mut e = outlet_engine_with(vec![device("d1", "s1"), device("d2", "s1")]);
    let mut inputs: Vec<Input> = (0..=10)
        .map(|m| r(f64::from(m), Turb, 0.3 + f64::from(m % 3) * 0.01))
        .collect();
    inputs.extend((0..=10).map(|m| reading("d2", "s1", f64::from(m), Turb, 0.3)));
    run(&mut e, inputs);
    assert_eq!((e.firing_by_level(), e.offline_devices()), ([0; 4], 0));
    // d1 keeps quiet, d2 reports: G1 fires (level IV) for d1 only.
    for m in 11..=40 {
        e.process(&reading(
            "d2",
            "s1",
            f64::from(m),
            Turb,
            0.3 + f64::from(m % 3) * 0.01,
        ));
        e.process(&Input::Tick(at(f64::from(m))));
    }
    assert_eq!(e.firing_by_level(), [0, 0, 0, 1]);
    assert_eq!(e.offline_devices(), 1);
    // d1 is back with fresh data: no longer offline, its alert closed.
    e.process(&r(41.0, Cl, 0.6));
    e.process(&Input::Tick(at(41.0)));
    assert_eq!((e.firing_by_level(), e.offline_devices()), ([0; 4], 0));
}
