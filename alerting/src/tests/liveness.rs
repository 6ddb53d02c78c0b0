//! G1 liveness follows when weijian last heard from the device (the receive time of its
//! messages), not only the event time of its data: a gateway uploading a backlog of
//! backdated readings is talking, not offline.

use super::*;
use crate::model::Metric::FreeChlorineMgL;

fn heard(min: f64) -> Input {
    Input::Heard {
        site: "s1".into(),
        device: "d1".into(),
        ts: at(min),
    }
}

/// A device watched from minute 0 whose first message arrives at minute 40 with the oldest
/// readings of a 40-minute backlog (event times 0..=5).
fn backlog_engine() -> (Engine, Vec<AlertEvent>) {
    let mut e = outlet_engine();
    let mut events = e.process(&Input::Tick(at(0.0)));
    for m in 0..=5 {
        events.extend(e.process(&r(
            f64::from(m),
            FreeChlorineMgL,
            0.7 + f64::from(m) / 100.0,
        )));
    }
    events.extend(e.process(&heard(40.0)));
    (e, events)
}

#[test]
fn a_backlog_being_drained_is_not_an_offline_device() {
    let (mut e, mut events) = backlog_engine();
    events.extend(e.process(&Input::Tick(at(40.5))));
    assert!(of_rule(&events, "G1").is_empty(), "{:?}", brief(&events));
}

#[test]
fn silence_after_the_last_message_is_still_absence() {
    let (mut e, mut events) = backlog_engine();
    for m in 41..=60 {
        events.extend(e.process(&Input::Tick(at(f64::from(m)))));
    }
    // 15 min (G1's minimum) after the last message, counted from it.
    let g1 = of_rule(&events, "G1");
    assert_eq!(g1, vec![ev("G1", Level::IV, EventKind::Firing, 55.0)]);
    let started = events.iter().find(|ev| ev.rule == "G1").unwrap().started_at;
    assert_eq!(started, at(40.0));
}

#[test]
fn hearing_from_an_offline_device_resolves_g1_even_with_backdated_data() {
    let mut e = outlet_engine();
    let mut events = run(&mut e, series(0, 5, FreeChlorineMgL, 0.7));
    for m in 6..=30 {
        events.extend(e.process(&Input::Tick(at(f64::from(m)))));
    }
    assert_eq!(
        of_rule(&events, "G1"),
        vec![ev("G1", Level::IV, EventKind::Firing, 20.0)]
    );
    // The gateway is back at 31 with readings from minute 6 onwards.
    events.clear();
    events.extend(e.process(&r(6.0, FreeChlorineMgL, 0.71)));
    events.extend(e.process(&heard(31.0)));
    assert_eq!(
        of_rule(&events, "G1"),
        vec![ev("G1", Level::IV, EventKind::Resolved, 31.0)]
    );
}

#[test]
fn the_receive_time_survives_a_restart() {
    let (e, _) = backlog_engine();
    let snap: crate::EngineSnapshot =
        serde_json::from_str(&serde_json::to_string(&e.snapshot()).unwrap()).unwrap();
    let mut e = Engine::restore(
        pack(),
        vec![water_site(
            "s1",
            WaterPoint::Outlet,
            Disinfectant::FreeChlorine,
            false,
        )],
        vec![device("d1", "s1")],
        snap,
    );
    let events = e.process(&Input::Tick(at(40.5)));
    assert!(of_rule(&events, "G1").is_empty(), "{:?}", brief(&events));
}
