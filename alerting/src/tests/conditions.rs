//! One test per condition kind: pending, hysteresis, escalation by duration and magnitude,
//! absence on ticks, composition, inhibition by flags and by offline.

use super::*;
use crate::model::Metric::{FreeChlorineMgL as Cl, Ph, TurbidityNtu as Turb};

#[test]
fn a_breach_shorter_than_the_pending_duration_never_fires() {
    let mut e = outlet_engine();
    let mut inputs = series(0, 2, Turb, 1.4);
    inputs.extend(series(3, 20, Turb, 0.3));
    let events = run(&mut e, inputs);
    assert_eq!(
        brief(&events),
        vec![
            ev("W1", Level::III, EventKind::Pending, 0.0),
            ev("W1", Level::III, EventKind::Resolved, 13.0),
        ]
    );
    assert_eq!(events[0].alert_id, events[1].alert_id);
}

#[test]
fn the_pending_duration_is_measured_in_event_time_not_in_samples() {
    let mut e = outlet_engine();
    // Two samples 5 minutes apart are enough; fifty samples within 4 minutes are not.
    let mut inputs: Vec<Input> = (0..50).map(|k| r(f64::from(k) * 0.08, Turb, 1.5)).collect();
    inputs.push(r(5.0, Turb, 1.5));
    let events = of_rule(&run(&mut e, inputs), "W1");
    assert_eq!(
        events,
        vec![
            ev("W1", Level::III, EventKind::Pending, 0.0),
            ev("W1", Level::III, EventKind::Firing, 5.0),
        ]
    );
}

#[test]
fn a_pending_duration_matures_on_a_tick_when_the_evidence_is_fresh() {
    let mut e = outlet_engine();
    let mut events = run(&mut e, [r(0.0, Turb, 1.5), r(3.0, Turb, 1.5)]);
    events.extend(e.process(&Input::Tick(at(5.0))));
    assert_eq!(
        of_rule(&events, "W1"),
        vec![
            ev("W1", Level::III, EventKind::Pending, 0.0),
            ev("W1", Level::III, EventKind::Firing, 5.0),
        ]
    );
}

#[test]
fn a_value_oscillating_around_the_limit_yields_one_alert_not_many() {
    let mut e = outlet_engine();
    let inputs: Vec<Input> = (0..180)
        .map(|m| r(f64::from(m), Turb, if m % 2 == 0 { 1.05 } else { 0.95 }))
        .collect();
    let events = of_rule(&run(&mut e, inputs), "W1");
    assert_eq!(
        events,
        vec![
            ev("W1", Level::III, EventKind::Pending, 0.0),
            ev("W1", Level::III, EventKind::Firing, 5.0),
            ev("W1", Level::II, EventKind::LevelChanged, 60.0),
        ]
    );
}

#[test]
fn a_value_flickering_between_breach_and_clear_does_not_flap_pending_and_resolved() {
    let mut e = outlet_engine();
    let inputs: Vec<Input> = (0..120)
        .map(|m| r(f64::from(m), Turb, if m % 2 == 0 { 1.05 } else { 0.5 }))
        .collect();
    let events = of_rule(&run(&mut e, inputs), "W1");
    assert_eq!(events, vec![ev("W1", Level::III, EventKind::Pending, 0.0)]);
}

#[test]
fn a_firing_alert_resolves_only_after_the_clear_condition_held_for_ten_minutes() {
    let mut e = outlet_engine();
    let mut inputs = series(0, 10, Turb, 1.5);
    inputs.push(r(11.0, Turb, 0.5)); // one good sample
    inputs.push(r(12.0, Turb, 1.5)); // breach again: the clear period restarts
    inputs.extend(series(13, 30, Turb, 0.5));
    let events = of_rule(&run(&mut e, inputs), "W1");
    assert_eq!(
        events,
        vec![
            ev("W1", Level::III, EventKind::Pending, 0.0),
            ev("W1", Level::III, EventKind::Firing, 5.0),
            ev("W1", Level::III, EventKind::Resolved, 23.0),
        ]
    );
}

#[test]
fn a_value_between_the_clear_level_and_the_limit_keeps_the_alert_open() {
    let mut e = outlet_engine();
    let mut inputs = series(0, 10, Turb, 1.5);
    inputs.extend(series(11, 59, Turb, 0.95)); // inside the limit, not inside the 10 % margin
    let events = of_rule(&run(&mut e, inputs), "W1");
    assert_eq!(events.last().map(|e| e.2), Some(EventKind::Firing));
}

#[test]
fn an_alert_escalates_by_persistence_and_keeps_its_id() {
    let mut e = outlet_engine();
    let events = run(&mut e, series(0, 61, Cl, 0.2));
    let w2: Vec<_> = events.iter().filter(|e| e.rule == "W2").collect();
    assert_eq!(
        of_rule(&events, "W2"),
        vec![
            ev("W2", Level::II, EventKind::Pending, 0.0),
            ev("W2", Level::II, EventKind::Firing, 10.0),
            ev("W2", Level::I, EventKind::LevelChanged, 60.0),
        ]
    );
    assert!(w2.iter().all(|e| e.alert_id == w2[0].alert_id));
}

#[test]
fn an_alert_escalates_by_magnitude_and_steps_back_down_only_past_a_margin() {
    let mut e = outlet_engine();
    let mut inputs = series(0, 15, Ph, 8.8);
    inputs.push(r(16.0, Ph, 9.2));
    inputs.push(r(17.0, Ph, 8.98));
    inputs.push(r(18.0, Ph, 8.8));
    let events = of_rule(&run(&mut e, inputs), "W4");
    assert_eq!(
        events,
        vec![
            ev("W4", Level::III, EventKind::Pending, 0.0),
            ev("W4", Level::III, EventKind::Firing, 15.0),
            ev("W4", Level::II, EventKind::LevelChanged, 16.0),
            ev("W4", Level::III, EventKind::LevelChanged, 18.0),
        ]
    );
}

#[test]
fn absence_is_detected_on_ticks_without_any_message() {
    let mut e = outlet_engine();
    let mut events = run(&mut e, series(0, 5, Turb, 0.3));
    for m in (10..=30).step_by(5) {
        events.extend(e.process(&Input::Tick(at(f64::from(m)))));
    }
    assert_eq!(
        of_rule(&events, "G1"),
        vec![ev("G1", Level::IV, EventKind::Firing, 20.0)]
    );
    let g1 = events.iter().find(|e| e.rule == "G1").unwrap();
    assert_eq!(g1.started_at, at(5.0), "offline since the last data");
}

#[test]
fn a_device_that_never_reports_goes_offline_after_the_timeout_from_the_first_tick() {
    let mut e = outlet_engine();
    let events = run(&mut e, (0..=20).map(|m| Input::Tick(at(f64::from(m)))));
    assert_eq!(
        of_rule(&events, "G1"),
        vec![ev("G1", Level::IV, EventKind::Firing, 15.0)]
    );
}

#[test]
fn the_offline_timeout_is_three_intervals_when_that_exceeds_fifteen_minutes() {
    let mut d = device("d1", "s1");
    d.expected_interval_secs = 600; // 10 min -> 30 min timeout
    let mut e = outlet_engine_with(vec![d]);
    let mut events = run(&mut e, [r(0.0, Turb, 0.3)]);
    for m in (5..=40).step_by(5) {
        events.extend(e.process(&Input::Tick(at(f64::from(m)))));
    }
    assert_eq!(
        of_rule(&events, "G1"),
        vec![ev("G1", Level::IV, EventKind::Firing, 30.0)]
    );
}

#[test]
fn composition_fires_when_both_components_fire_and_resolves_with_either() {
    let mut e = outlet_engine();
    let mut inputs = Vec::new();
    for m in 0..=40 {
        let t = f64::from(m);
        inputs.push(r(t, Turb, if m <= 20 { 1.4 } else { 0.3 }));
        inputs.push(r(t, Cl, 0.2));
    }
    let events = run(&mut e, inputs);
    assert_eq!(
        of_rule(&events, "W5"),
        vec![
            ev("W5", Level::I, EventKind::Firing, 10.0),
            ev("W5", Level::I, EventKind::Resolved, 31.0),
        ]
    );
    let w5 = events.iter().find(|e| e.rule == "W5").unwrap();
    assert_eq!(w5.device, crate::SITE_SCOPE_DEVICE);
}

#[test]
fn composition_works_across_two_devices_of_one_site() {
    let mut e = outlet_engine_with(vec![device("turb", "s1"), device("chlor", "s1")]);
    let mut inputs = Vec::new();
    for m in 0..=12 {
        inputs.push(reading("turb", "s1", f64::from(m), Turb, 2.0));
        inputs.push(reading("chlor", "s1", f64::from(m), Cl, 0.1));
    }
    let events = run(&mut e, inputs);
    assert_eq!(
        of_rule(&events, "W5"),
        vec![ev("W5", Level::I, EventKind::Firing, 10.0)]
    );
}

#[test]
fn flagged_values_never_feed_quality_rules_but_drive_the_monitor_status_rule() {
    let mut e = outlet_engine();
    let inputs: Vec<Input> = (0..=300)
        .step_by(5)
        .map(|m| flagged(f64::from(m), Turb, 9.0, DataFlag::D))
        .collect();
    let events = run(&mut e, inputs);
    assert!(of_rule(&events, "W1").is_empty());
    assert_eq!(
        of_rule(&events, "W6"),
        vec![ev("W6", Level::IV, EventKind::Firing, 245.0)]
    );
}

#[test]
fn interval_min_and_max_statistics_are_not_quality_evidence() {
    let mut e = outlet_engine();
    let inputs: Vec<Input> = (0..=20)
        .map(|m| {
            let mut i = r(f64::from(m), Turb, 3.0);
            if let Input::Reading(rd) = &mut i {
                rd.stat = Stat::Max;
                rd.period = Period::Minute;
            }
            i
        })
        .collect();
    assert!(of_rule(&run(&mut e, inputs), "W1").is_empty());
}

#[test]
fn an_offline_device_starts_no_quality_alert_from_backfilled_data() {
    let mut e = outlet_engine();
    let mut events = run(&mut e, series(0, 2, Turb, 0.3));
    for m in (5..=60).step_by(5) {
        events.extend(e.process(&Input::Tick(at(f64::from(m)))));
    }
    assert_eq!(of_rule(&events, "G1").len(), 1);
    // The gateway replays buffered data from the outage: old timestamps, breaching values.
    events.extend(run(&mut e, series(3, 30, Turb, 2.0)));
    assert!(of_rule(&events, "W1").is_empty(), "{:?}", brief(&events));
    // Fresh data ends the outage, then quality rules work again.
    events.extend(run(&mut e, series(61, 70, Turb, 2.0)));
    let w1 = of_rule(&events, "W1");
    assert_eq!(w1.first().map(|e| e.2), Some(EventKind::Pending));
    assert!(of_rule(&events, "G1")
        .iter()
        .any(|e| e.2 == EventKind::Resolved));
}

#[test]
fn a_last_will_inhibits_quality_alerts_until_the_birth_message() {
    let mut e = outlet_engine();
    let mut events = e.process(&Input::Status {
        site: "s1".into(),
        device: "d1".into(),
        ts: at(0.0),
        online: false,
    });
    events.extend(run(&mut e, series(0, 20, Turb, 2.0)));
    assert!(of_rule(&events, "W1").is_empty());
    events.extend(e.process(&Input::Status {
        site: "s1".into(),
        device: "d1".into(),
        ts: at(21.0),
        online: true,
    }));
    events.extend(run(&mut e, series(21, 30, Turb, 2.0)));
    assert_eq!(
        of_rule(&events, "W1").len(),
        2,
        "pending then firing once online"
    );
}

#[test]
fn inputs_for_unknown_devices_and_non_finite_values_are_ignored() {
    let mut e = outlet_engine();
    assert!(e
        .process(&reading("ghost", "s1", 0.0, Turb, 50.0))
        .is_empty());
    assert!(e.process(&r(0.0, Turb, f64::NAN)).is_empty());
    assert!(e.process(&r(0.0, Turb, f64::INFINITY)).is_empty());
    assert_eq!(e.active_alerts(), 0);
}

#[test]
fn events_carry_evidence_and_bilingual_summaries_chinese_first() {
    let mut e = outlet_engine();
    let events = run(&mut e, series(0, 10, Cl, 0.2));
    let firing = events.iter().find(|e| e.kind == EventKind::Firing).unwrap();
    assert_eq!(firing.rule, "W2");
    assert_eq!(firing.grid.to_string(), "西湖区/北山街道/曙光社区");
    assert!(
        firing
            .summary_zh
            .starts_with("【二级橙色·新预警】W2 消毒剂余量不足"),
        "{}",
        firing.summary_zh
    );
    assert!(
        firing
            .summary_zh
            .contains("游离氯低于下限 0.3 mg/L（超标期间最低 0.2 mg/L，当前 0.2 mg/L）"),
        "{}",
        firing.summary_zh
    );
    assert!(
        firing
            .summary_en
            .contains("free chlorine below the lower limit 0.3 mg/L"),
        "{}",
        firing.summary_en
    );
    let names: Vec<&str> = firing.evidence.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["metric", "value", "limit", "worst", "since"]);
    assert_eq!(firing.alert_id, format!("W2/s1/d1/{}", at(0.0).as_micros()));
    let json = serde_json::to_value(firing).unwrap();
    assert_eq!(json["kind"], "firing");
    assert_eq!(json["level"], "II");
    assert_eq!(json["evidence"][1]["value"], 0.2);
}

#[test]
fn unflagged_values_inside_a_maintenance_window_are_not_quality_evidence() {
    let mut e = outlet_engine();
    let mut events = e.process(&Input::Maintenance {
        site: "s1".into(),
        device: "d1".into(),
        ts: at(0.0),
        active: true,
        reason: "filter change".into(),
    });
    events.extend(run(&mut e, series(0, 30, Turb, 5.0)));
    assert!(of_rule(&events, "W1").is_empty(), "{:?}", brief(&events));
    events.extend(e.process(&Input::Maintenance {
        site: "s1".into(),
        device: "d1".into(),
        ts: at(31.0),
        active: false,
        reason: String::new(),
    }));
    events.extend(run(&mut e, series(31, 40, Turb, 5.0)));
    assert_eq!(of_rule(&events, "W1").first().map(|e| e.3), Some(31.0));
}

#[test]
fn maintenance_data_ends_an_offline_alert() {
    let mut e = outlet_engine();
    let mut events = run(&mut e, (0..=20).map(|m| Input::Tick(at(f64::from(m)))));
    assert_eq!(of_rule(&events, "G1").len(), 1);
    events.extend(e.process(&Input::Maintenance {
        site: "s1".into(),
        device: "d1".into(),
        ts: at(20.5),
        active: true,
        reason: "site visit".into(),
    }));
    assert_eq!(
        of_rule(&events, "G1").last().map(|e| e.2),
        Some(EventKind::Resolved)
    );
}

#[test]
fn a_tick_does_not_mature_a_pending_alert_while_the_last_will_stands() {
    let mut e = outlet_engine();
    let mut events = run(&mut e, [r(0.0, Turb, 1.5), r(3.0, Turb, 1.5)]);
    events.extend(e.process(&Input::Status {
        site: "s1".into(),
        device: "d1".into(),
        ts: at(4.0),
        online: false,
    }));
    events.extend(e.process(&Input::Tick(at(6.0))));
    assert_eq!(
        of_rule(&events, "W1"),
        vec![ev("W1", Level::III, EventKind::Pending, 0.0)]
    );
}
