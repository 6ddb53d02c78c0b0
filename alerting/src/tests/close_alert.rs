//! Manual resolution in the rule engine ([`Engine::close_alert`]): the closed alert never
//! comes back; a condition that still holds starts over as a new alert.

use super::*;
use crate::model::Metric::{FreeChlorineMgL as Cl, TurbidityNtu as Turb};
use crate::EngineSnapshot;

const REASON: &str = "resolved manually by sq-shuichang: 传感器已更换";

fn ticks(from: i32, to: i32) -> Vec<Input> {
    (from..=to).map(|m| Input::Tick(at(f64::from(m)))).collect()
}

/// The id of the first event of `rule` with `kind`.
fn id_of(events: &[AlertEvent], rule: &str, kind: EventKind) -> String {
    events
        .iter()
        .find(|e| e.rule == rule && e.kind == kind)
        .map(|e| e.alert_id.clone())
        .unwrap_or_else(|| panic!("no {rule} {kind:?} in {:?}", brief(events)))
}

/// An outlet engine with W2 (free chlorine below 0.3) firing since minute 0, at minute 20.
fn firing_w2() -> (Engine, AlertEvent) {
    let mut e = outlet_engine();
    let events = run(&mut e, series(0, 20, Cl, 0.2));
    assert_eq!(
        of_rule(&events, "W2"),
        vec![
            ev("W2", Level::II, EventKind::Pending, 0.0),
            ev("W2", Level::II, EventKind::Firing, 10.0),
        ]
    );
    let firing = events
        .into_iter()
        .find(|e| e.kind == EventKind::Firing)
        .unwrap();
    (e, firing)
}

#[test]
fn closing_a_firing_threshold_alert_emits_one_resolved_event_for_it() {
    let (mut e, firing) = firing_w2();
    let closed = e.close_alert(&firing.alert_id, at(21.0), REASON).unwrap();
    assert_eq!(closed.kind, EventKind::Resolved);
    assert_eq!(closed.alert_id, firing.alert_id);
    assert_eq!(
        (&closed.rule, &closed.site, &closed.device, &closed.subject),
        (&firing.rule, &firing.site, &firing.device, &firing.subject)
    );
    assert_eq!(closed.grid, firing.grid);
    assert_eq!(closed.level, Level::II);
    assert_eq!(closed.started_at, at(0.0));
    assert_eq!(closed.ts, at(21.0));
    assert_eq!(closed.reason, REASON);
    assert!(closed.evidence.contains(&Evidence::number("value", 0.2)));
    assert!(closed.evidence.contains(&Evidence::number("limit", 0.3)));
    assert!(
        closed.summary_zh.contains("·已解除】W2 ")
            && closed.summary_zh.contains("已人工解除")
            && closed
                .summary_zh
                .ends_with("自北京时间 11月22日 08:00 起。"),
        "{}",
        closed.summary_zh
    );
    assert!(
        closed.summary_en.contains("· resolved manually] W2")
            && closed.summary_en.contains("resolved manually"),
        "{}",
        closed.summary_en
    );
    assert_eq!(e.active_alerts(), 0);
}

#[test]
fn a_condition_that_still_holds_after_closing_starts_over_as_a_new_alert() {
    let (mut e, firing) = firing_w2();
    e.close_alert(&firing.alert_id, at(21.0), REASON).unwrap();
    // Evidence from before the close is ignored.
    assert!(run(&mut e, [r(20.5, Cl, 0.2)]).is_empty());
    let events = run(&mut e, series(22, 90, Cl, 0.2));
    assert_eq!(
        of_rule(&events, "W2"),
        vec![
            ev("W2", Level::II, EventKind::Pending, 22.0),
            ev("W2", Level::II, EventKind::Firing, 32.0),
            // Escalation by persistence counts from the new start, not the closed one's.
            ev("W2", Level::I, EventKind::LevelChanged, 82.0),
        ]
    );
    let new_id = id_of(&events, "W2", EventKind::Pending);
    assert_ne!(new_id, firing.alert_id);
    assert!(events
        .iter()
        .filter(|e| e.rule == "W2")
        .all(|e| e.alert_id == new_id));
    assert_eq!(events[0].started_at, at(22.0));
}

#[test]
fn values_back_to_normal_after_closing_resolve_nothing_again() {
    let (mut e, firing) = firing_w2();
    e.close_alert(&firing.alert_id, at(21.0), REASON).unwrap();
    // Inside the hysteresis band (0.3..0.33), then back to normal, then ticks.
    let mut inputs = series(22, 30, Cl, 0.31);
    inputs.extend(series(31, 60, Cl, 0.5));
    inputs.extend(ticks(22, 60));
    let events = run(&mut e, inputs);
    assert!(events.is_empty(), "{:?}", brief(&events));
    assert_eq!(e.active_alerts(), 0);
}

#[test]
fn closing_an_unknown_or_already_closed_alert_returns_none_and_changes_nothing() {
    let (mut e, firing) = firing_w2();
    let before = e.snapshot();
    assert!(e.close_alert("W2/s1/d1/0", at(21.0), REASON).is_none());
    assert!(e.close_alert("", at(21.0), REASON).is_none());
    assert_eq!(e.snapshot(), before);

    assert!(e.close_alert(&firing.alert_id, at(21.0), REASON).is_some());
    let after = e.snapshot();
    assert!(e.close_alert(&firing.alert_id, at(22.0), REASON).is_none());
    assert_eq!(e.snapshot(), after);

    // An alert that resolved by itself cannot be closed again either.
    let mut e = outlet_engine();
    let events = run(&mut e, series(0, 20, Cl, 0.2));
    let id = id_of(&events, "W2", EventKind::Firing);
    let resolved = run(&mut e, series(21, 40, Cl, 0.5));
    assert_eq!(id_of(&resolved, "W2", EventKind::Resolved), id);
    assert!(e.close_alert(&id, at(41.0), REASON).is_none());
}

#[test]
fn closing_a_pending_alert_withdraws_it_and_a_later_breach_is_a_new_alert() {
    let mut e = outlet_engine();
    let events = run(&mut e, series(0, 5, Cl, 0.2));
    assert_eq!(
        of_rule(&events, "W2"),
        vec![ev("W2", Level::II, EventKind::Pending, 0.0)]
    );
    let id = id_of(&events, "W2", EventKind::Pending);
    let closed = e.close_alert(&id, at(5.0), REASON).unwrap();
    assert_eq!(
        brief(std::slice::from_ref(&closed)),
        vec![ev("W2", Level::II, EventKind::Resolved, 5.0)]
    );
    assert_eq!(closed.alert_id, id);
    assert_eq!(e.active_alerts(), 0);
    // The same instant as the close still counts as after it: a new alert, started then.
    let later = run(&mut e, series(5, 20, Cl, 0.2));
    assert_eq!(
        of_rule(&later, "W2"),
        vec![
            ev("W2", Level::II, EventKind::Pending, 5.0),
            ev("W2", Level::II, EventKind::Firing, 15.0),
        ]
    );
    assert_ne!(later[0].alert_id, id);
}

#[test]
fn a_closed_alert_is_not_resurrected_by_a_restart() {
    let (mut e, firing) = firing_w2();
    e.close_alert(&firing.alert_id, at(21.0), REASON).unwrap();
    let json = serde_json::to_string(&e.snapshot()).unwrap();
    let snap: EngineSnapshot = serde_json::from_str(&json).unwrap();
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
    assert_eq!(e.active_alerts(), 0);
    assert!(e.close_alert(&firing.alert_id, at(22.0), REASON).is_none());
    // Nothing about the old alert after the restart: neither normal values nor ticks...
    let inputs: Vec<Input> = (22..=100)
        .flat_map(|m| {
            // Varying values: a value stuck for an hour would be G2.
            let v = 0.5 + f64::from(m % 2) * 0.01;
            [r(f64::from(m), Cl, v), Input::Tick(at(f64::from(m)))]
        })
        .collect();
    assert!(run(&mut e, inputs).is_empty());
    // ...and a breach is a new alert.
    let events = run(&mut e, series(101, 111, Cl, 0.2));
    assert_eq!(
        of_rule(&events, "W2"),
        vec![
            ev("W2", Level::II, EventKind::Pending, 101.0),
            ev("W2", Level::II, EventKind::Firing, 111.0),
        ]
    );
    assert_ne!(events[0].alert_id, firing.alert_id);
}

#[test]
fn a_closed_alert_ignores_evidence_from_before_the_close_after_a_restart() {
    let (mut e, firing) = firing_w2();
    e.close_alert(&firing.alert_id, at(30.0), REASON).unwrap();
    let snap = e.snapshot();
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
    assert!(run(&mut e, series(21, 29, Cl, 0.2)).is_empty());
}

#[test]
fn an_offline_alert_closed_while_the_device_stays_silent_refires_one_timeout_after_the_close() {
    let mut e = outlet_engine();
    let mut inputs = series(0, 1, Turb, 0.3);
    inputs.extend(ticks(2, 20));
    let events = run(&mut e, inputs);
    assert_eq!(
        of_rule(&events, "G1"),
        vec![ev("G1", Level::IV, EventKind::Firing, 16.0)]
    );
    let id = id_of(&events, "G1", EventKind::Firing);
    let closed = e.close_alert(&id, at(20.0), REASON).unwrap();
    assert_eq!(closed.alert_id, id);
    assert_eq!(closed.level, Level::IV);

    // Still silent: nothing for a full offline timeout (15 min) from the close, then one new
    // alert, which escalates two hours after the close (not after the last data).
    let events = run(&mut e, ticks(21, 150));
    assert_eq!(
        of_rule(&events, "G1"),
        vec![
            ev("G1", Level::IV, EventKind::Firing, 35.0),
            ev("G1", Level::III, EventKind::LevelChanged, 140.0),
        ]
    );
    let new_id = id_of(&events, "G1", EventKind::Firing);
    assert_ne!(new_id, id);
    assert_eq!(events[0].started_at, at(20.0));
    assert!(events
        .iter()
        .filter(|e| e.rule == "G1")
        .all(|e| e.alert_id == new_id));

    // Data again ends the new alert only; the closed one is not resolved a second time.
    let events = run(&mut e, [r(151.0, Turb, 0.3)]);
    assert_eq!(
        of_rule(&events, "G1"),
        vec![ev("G1", Level::III, EventKind::Resolved, 151.0)]
    );
    assert_eq!(events[0].alert_id, new_id);
}

#[test]
fn data_after_closing_an_offline_alert_resolves_nothing_and_opens_nothing() {
    let mut e = outlet_engine();
    let mut inputs = series(0, 1, Turb, 0.3);
    inputs.extend(ticks(2, 20));
    let events = run(&mut e, inputs);
    let id = id_of(&events, "G1", EventKind::Firing);
    e.close_alert(&id, at(20.0), REASON).unwrap();
    let mut inputs = Vec::new();
    for m in 21..=60 {
        // Varying values: a value stuck for an hour would be G2.
        inputs.push(r(f64::from(m), Turb, 0.3 + f64::from(m % 2) * 0.01));
        inputs.push(Input::Tick(at(f64::from(m))));
    }
    let events = run(&mut e, inputs);
    assert!(events.is_empty(), "{:?}", brief(&events));
}

#[test]
fn closing_a_component_lowers_the_sites_firing_count_for_compositions() {
    let mut e = outlet_engine();
    let mut inputs = Vec::new();
    for m in 0..=12 {
        inputs.push(r(f64::from(m), Turb, 2.0));
        inputs.push(r(f64::from(m), Cl, 0.1));
    }
    let events = run(&mut e, inputs);
    assert_eq!(of_rule(&events, "W5").len(), 1);
    let w1 = id_of(&events, "W1", EventKind::Firing);
    e.close_alert(&w1, at(12.5), REASON).unwrap();
    // W1's new alert is only pending (5 min), so W5 no longer holds at the next input.
    let events = run(&mut e, [r(13.0, Turb, 2.0)]);
    assert_eq!(
        of_rule(&events, "W5"),
        vec![ev("W5", Level::I, EventKind::Resolved, 13.0)]
    );
}
