//! Restart safety: snapshot -> JSON -> restore keeps pending starts and open alerts.

use super::*;
use crate::model::Metric::{FreeChlorineMgL as Cl, TurbidityNtu as Turb};
use crate::EngineSnapshot;

fn sites() -> Vec<Site> {
    vec![water_site(
        "s1",
        WaterPoint::Outlet,
        Disinfectant::FreeChlorine,
        false,
    )]
}

/// Snapshot through JSON, as a real restart would.
fn restart(e: &Engine, devices: Vec<Device>) -> Engine {
    let json = serde_json::to_string(&e.snapshot()).unwrap();
    let snap: EngineSnapshot = serde_json::from_str(&json).unwrap();
    Engine::restore(pack(), sites(), devices, snap)
}

#[test]
fn a_restart_in_the_middle_of_a_pending_duration_keeps_its_start() {
    let mut e = outlet_engine();
    let before = run(&mut e, series(0, 3, Turb, 1.5));
    assert_eq!(
        brief(&before),
        vec![ev("W1", Level::III, EventKind::Pending, 0.0)]
    );
    let mut e = restart(&e, vec![device("d1", "s1")]);
    let after = run(&mut e, series(4, 6, Turb, 1.5));
    assert_eq!(
        brief(&after),
        vec![ev("W1", Level::III, EventKind::Firing, 5.0)]
    );
    assert_eq!(after[0].alert_id, before[0].alert_id);
    assert_eq!(after[0].started_at, at(0.0));
}

#[test]
fn a_restart_with_an_open_alert_does_not_announce_it_again() {
    let mut e = outlet_engine();
    let before = run(&mut e, series(0, 20, Cl, 0.2));
    assert_eq!(
        of_rule(&before, "W2").last().map(|e| e.2),
        Some(EventKind::Firing)
    );
    let mut e = restart(&e, vec![device("d1", "s1")]);
    let after = run(&mut e, series(21, 65, Cl, 0.2));
    // No second Firing; persistence escalation still counts from the original start.
    assert_eq!(
        of_rule(&after, "W2"),
        vec![ev("W2", Level::I, EventKind::LevelChanged, 60.0)]
    );
    let resolved = run(&mut e, series(66, 80, Cl, 0.5));
    assert_eq!(
        of_rule(&resolved, "W2"),
        vec![ev("W2", Level::I, EventKind::Resolved, 76.0)]
    );
    let w2 = |evs: &[AlertEvent], k: EventKind| {
        evs.iter()
            .find(|e| e.rule == "W2" && e.kind == k)
            .map(|e| e.alert_id.clone())
    };
    assert_eq!(
        w2(&resolved, EventKind::Resolved),
        w2(&before, EventKind::Firing)
    );
}

#[test]
fn a_restart_keeps_compositions_and_their_component_counts() {
    let mut e = outlet_engine();
    let mut inputs = Vec::new();
    for m in 0..=12 {
        inputs.push(r(f64::from(m), Turb, 2.0));
        inputs.push(r(f64::from(m), Cl, 0.1));
    }
    let before = run(&mut e, inputs);
    assert_eq!(of_rule(&before, "W5").len(), 1);
    let mut e = restart(&e, vec![device("d1", "s1")]);
    let mut inputs = Vec::new();
    for m in 13..=40 {
        inputs.push(r(f64::from(m), Turb, 0.2));
        inputs.push(r(f64::from(m), Cl, 0.1));
    }
    let after = run(&mut e, inputs);
    assert_eq!(
        of_rule(&after, "W5"),
        vec![ev("W5", Level::I, EventKind::Resolved, 23.0)]
    );
}

#[test]
fn a_restart_keeps_an_offline_alert_and_the_absence_baseline() {
    let mut e = outlet_engine();
    let mut events = run(&mut e, series(0, 1, Turb, 0.3));
    events.extend(run(&mut e, (2..=20).map(|m| Input::Tick(at(f64::from(m))))));
    assert_eq!(of_rule(&events, "G1").len(), 1);
    let mut e = restart(&e, vec![device("d1", "s1")]);
    let after = run(&mut e, (21..=130).map(|m| Input::Tick(at(f64::from(m)))));
    assert_eq!(
        of_rule(&after, "G1"),
        vec![ev("G1", Level::III, EventKind::LevelChanged, 121.0)]
    );
}

#[test]
fn state_of_removed_devices_is_dropped_on_restore() {
    let mut e = Engine::new(
        pack(),
        sites(),
        vec![device("d1", "s1"), device("d2", "s1")],
    );
    run(&mut e, series(0, 20, Cl, 0.2));
    run(
        &mut e,
        (0..=20).map(|m| reading("d2", "s1", f64::from(m), Turb, 2.0)),
    );
    assert!(e.active_alerts() >= 3);
    let e = restart(&e, vec![device("d2", "s1")]);
    let snap = e.snapshot();
    assert!(snap.devices.iter().all(|d| &*d.device == "d2"));
    assert!(snap.devices[0]
        .state
        .trackers
        .iter()
        .all(|t| t.rule_id == "W1"));
}

#[test]
fn snapshots_are_deterministic() {
    let mut a = outlet_engine();
    let mut b = outlet_engine();
    run(&mut a, series(0, 30, Turb, 1.5));
    run(&mut b, series(0, 30, Turb, 1.5));
    assert_eq!(
        serde_json::to_string(&a.snapshot()).unwrap(),
        serde_json::to_string(&b.snapshot()).unwrap()
    );
}

#[test]
fn a_snapshot_in_an_unknown_format_is_ignored_rather_than_misread() {
    let mut e = outlet_engine();
    run(&mut e, series(0, 20, Cl, 0.2));
    let mut snap = e.snapshot();
    snap.format = 99;
    let e = Engine::restore(pack(), sites(), vec![device("d1", "s1")], snap);
    assert_eq!(e.active_alerts(), 0);
}
