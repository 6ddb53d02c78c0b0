//! Each default rule (W1-W6, G1-G4) on a realistic series fires at the right level.

use super::*;
use crate::model::Metric::{
    ChlorineDioxideMgL as ClO2, FreeChlorineMgL as Cl, OzoneMgL as O3, Ph,
    TotalChlorineMgL as TotalCl, TurbidityNtu as Turb,
};

/// A slightly noisy value around `base` (deterministic).
fn noisy(base: f64, m: i32, amp: f64) -> f64 {
    let k = f64::from((m * 7919) % 11) / 10.0 - 0.5;
    ((base + amp * k) * 1000.0).round() / 1000.0
}

#[test]
fn w1_a_turbidity_event_after_rain_fires_iii_then_ii_after_an_hour() {
    let mut e = outlet_engine();
    let inputs: Vec<Input> = (0..=120)
        .map(|m| {
            let base = if (20..=100).contains(&m) { 1.6 } else { 0.25 };
            r(f64::from(m), Turb, noisy(base, m, 0.1))
        })
        .collect();
    let events = of_rule(&run(&mut e, inputs), "W1");
    assert_eq!(
        events,
        vec![
            ev("W1", Level::III, EventKind::Pending, 20.0),
            ev("W1", Level::III, EventKind::Firing, 25.0),
            ev("W1", Level::II, EventKind::LevelChanged, 80.0),
            ev("W1", Level::II, EventKind::Resolved, 111.0),
        ]
    );
}

#[test]
fn w1_small_supplies_tolerate_up_to_3_ntu() {
    let mut e = engine_for(WaterPoint::Outlet, Disinfectant::FreeChlorine, true);
    let inputs: Vec<Input> = (0..=60)
        .map(|m| r(f64::from(m), Turb, noisy(2.2, m, 0.2)))
        .collect();
    assert!(of_rule(&run(&mut e, inputs), "W1").is_empty());
}

#[test]
fn w2_residual_low_is_ii_then_i_after_an_hour_at_a_network_end() {
    let mut e = engine_for(WaterPoint::NetworkEnd, Disinfectant::FreeChlorine, false);
    let inputs: Vec<Input> = (0..=90)
        .map(|m| {
            r(
                f64::from(m),
                Cl,
                if m < 10 { 0.2 } else { noisy(0.03, m, 0.01) },
            )
        })
        .collect();
    assert_eq!(
        of_rule(&run(&mut e, inputs), "W2"),
        vec![
            ev("W2", Level::II, EventKind::Pending, 10.0),
            ev("W2", Level::II, EventKind::Firing, 20.0),
            ev("W2", Level::I, EventKind::LevelChanged, 70.0),
        ]
    );
}

#[test]
fn w2_below_0_02_at_an_outlet_is_level_i_at_once_when_it_fires() {
    let mut e = engine_for(WaterPoint::Outlet, Disinfectant::Chloramine, false);
    let inputs: Vec<Input> = (0..=12).map(|m| r(f64::from(m), TotalCl, 0.01)).collect();
    assert_eq!(
        of_rule(&run(&mut e, inputs), "W2"),
        vec![
            ev("W2", Level::II, EventKind::Pending, 0.0),
            ev("W2", Level::I, EventKind::Firing, 10.0),
        ]
    );
}

#[test]
fn w2_below_0_02_at_a_network_end_is_not_the_outlet_magnitude_rule() {
    let mut e = engine_for(WaterPoint::NetworkEnd, Disinfectant::ChlorineDioxide, false);
    let inputs: Vec<Input> = (0..=12).map(|m| r(f64::from(m), ClO2, 0.01)).collect();
    assert_eq!(
        of_rule(&run(&mut e, inputs), "W2"),
        vec![
            ev("W2", Level::II, EventKind::Pending, 0.0),
            ev("W2", Level::II, EventKind::Firing, 10.0),
        ]
    );
}

#[test]
fn w2_does_not_apply_at_an_ozone_outlet_which_has_no_residual_requirement() {
    let mut e = engine_for(WaterPoint::Outlet, Disinfectant::Ozone, false);
    let inputs: Vec<Input> = (0..=30)
        .map(|m| r(f64::from(m), O3, 0.0 + f64::from(m) * 1e-4))
        .collect();
    assert!(of_rule(&run(&mut e, inputs), "W2").is_empty());
}

#[test]
fn w2_only_checks_the_metric_of_the_sites_disinfectant() {
    let mut e = engine_for(WaterPoint::Outlet, Disinfectant::Chloramine, false);
    // Free chlorine is low, but this site doses chloramine: total chlorine is the indicator.
    let inputs: Vec<Input> = (0..=20).map(|m| r(f64::from(m), Cl, 0.1)).collect();
    assert!(of_rule(&run(&mut e, inputs), "W2").is_empty());
}

#[test]
fn w3_overdosed_chlorine_dioxide_fires_iii_after_15_minutes() {
    let mut e = engine_for(WaterPoint::Outlet, Disinfectant::ChlorineDioxide, false);
    let inputs: Vec<Input> = (0..=30)
        .map(|m| r(f64::from(m), ClO2, noisy(1.0, m, 0.05)))
        .collect();
    assert_eq!(
        of_rule(&run(&mut e, inputs), "W3"),
        vec![
            ev("W3", Level::III, EventKind::Pending, 0.0),
            ev("W3", Level::III, EventKind::Firing, 15.0),
        ]
    );
}

#[test]
fn w4_acidic_water_fires_iii_and_ii_below_ph_6() {
    let mut e = outlet_engine();
    let inputs: Vec<Input> = (0..=40)
        .map(|m| {
            r(
                f64::from(m),
                Ph,
                if m < 25 { noisy(6.3, m, 0.05) } else { 5.8 },
            )
        })
        .collect();
    assert_eq!(
        of_rule(&run(&mut e, inputs), "W4"),
        vec![
            ev("W4", Level::III, EventKind::Pending, 0.0),
            ev("W4", Level::III, EventKind::Firing, 15.0),
            ev("W4", Level::II, EventKind::LevelChanged, 25.0),
        ]
    );
}

#[test]
fn w5_turbidity_breakthrough_with_low_chlorine_at_an_outlet_is_level_i() {
    let mut e = outlet_engine();
    let mut inputs = Vec::new();
    for m in 0..=30 {
        inputs.push(r(f64::from(m), Turb, noisy(1.8, m, 0.2)));
        inputs.push(r(f64::from(m), Cl, noisy(0.15, m, 0.02)));
    }
    let events = run(&mut e, inputs);
    assert_eq!(
        of_rule(&events, "W5"),
        vec![ev("W5", Level::I, EventKind::Firing, 10.0)]
    );
    let w5 = events.iter().find(|e| e.rule == "W5").unwrap();
    assert!(
        w5.summary_zh
            .contains("W1 浑浊度超标、W2 消毒剂余量不足 同时处于预警状态"),
        "{}",
        w5.summary_zh
    );
    assert!(
        w5.summary_en.contains("W1 + W2 firing together"),
        "{}",
        w5.summary_en
    );
    assert!(
        w5.summary_zh.ends_with("自北京时间 11月22日 08:10 起。"),
        "{}",
        w5.summary_zh
    );
}

#[test]
fn w6_a_maintenance_window_left_open_fires_iv_after_four_hours() {
    let mut e = outlet_engine();
    let mut events = e.process(&Input::Maintenance {
        site: "s1".into(),
        device: "d1".into(),
        ts: at(0.0),
        active: true,
        reason: "calibration".into(),
    });
    for m in (0..=300).step_by(5) {
        events.extend(e.process(&flagged(f64::from(m), Turb, 0.3, DataFlag::M)));
        events.extend(e.process(&Input::Tick(at(f64::from(m)))));
    }
    assert_eq!(
        of_rule(&events, "W6"),
        vec![ev("W6", Level::IV, EventKind::Firing, 245.0)]
    );
    assert!(
        of_rule(&events, "G1").is_empty(),
        "flagged data is still data"
    );
}

#[test]
fn w6_a_short_calibration_raises_nothing() {
    let mut e = outlet_engine();
    let mut inputs: Vec<Input> = (0..=30)
        .map(|m| flagged(f64::from(m), Cl, 0.0, DataFlag::C))
        .collect();
    inputs.extend((31..=60).map(|m| r(f64::from(m), Cl, noisy(0.6, m, 0.05))));
    assert!(run(&mut e, inputs).is_empty());
}

#[test]
fn g1_a_silent_monitor_fires_iv_then_iii_after_two_hours() {
    let mut e = outlet_engine();
    let mut events = run(
        &mut e,
        (0..=10).map(|m| r(f64::from(m), Turb, noisy(0.3, m, 0.05))),
    );
    for m in (11..=200).step_by(1) {
        events.extend(e.process(&Input::Tick(at(f64::from(m)))));
    }
    assert_eq!(
        of_rule(&events, "G1"),
        vec![
            ev("G1", Level::IV, EventKind::Firing, 25.0),
            ev("G1", Level::III, EventKind::LevelChanged, 130.0),
        ]
    );
}

#[test]
fn g2_never_checks_state_metrics_such_as_a_door() {
    let mut e = Engine::new(
        pack(),
        vec![Site {
            id: "w1".into(),
            name: "医废暂存间".into(),
            grid: water_site("x", WaterPoint::Outlet, Disinfectant::Ozone, false).grid,
            attributes: SiteAttributes::WasteStore(crate::model::WasteStoreSite {
                refrigerated: false,
                max_temp_c: None,
                collection_windows: vec![],
            }),
        }],
        vec![Device {
            kind: DeviceKind::WasteStore,
            ..device("door", "w1")
        }],
    );
    let inputs: Vec<Input> = (0..=120)
        .map(|m| reading("door", "w1", f64::from(m), Metric::DoorOpen, 0.0))
        .collect();
    assert!(run(&mut e, inputs).is_empty());
}

#[test]
fn g3_a_physically_impossible_value_fires_iv_with_the_value_as_evidence() {
    let mut e = outlet_engine();
    let events = e.process(&Input::SensorFault {
        site: "s1".into(),
        device: "d1".into(),
        ts: at(3.0),
        metric: Ph,
        value: 15.2,
    });
    assert_eq!(
        brief(&events),
        vec![ev("G3", Level::IV, EventKind::Firing, 3.0)]
    );
    assert_eq!(events[0].subject.as_deref(), Some("ph"));
    assert!(
        events[0].summary_en.contains("15.2"),
        "{}",
        events[0].summary_en
    );
}

#[test]
fn g4_a_seq_restart_fires_iv_and_consecutive_seqs_resolve_it() {
    let mut e = outlet_engine();
    let mut events = Vec::new();
    let seqs = [
        100u64, 101, 102, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
    ];
    for (m, s) in seqs.iter().enumerate() {
        let mut i = r(m as f64, Turb, noisy(0.3, m as i32, 0.05));
        if let Input::Reading(rd) = &mut i {
            rd.seq = Some(*s);
        }
        events.extend(e.process(&i));
    }
    assert_eq!(
        of_rule(&events, "G4"),
        vec![
            ev("G4", Level::IV, EventKind::Firing, 3.0),
            ev("G4", Level::IV, EventKind::Resolved, 14.0)
        ]
    );
    assert_eq!(events[0].subject.as_deref(), Some("seq"));
}

#[test]
fn g4_a_clock_fault_fires_iv_once_however_often_it_repeats() {
    let mut e = outlet_engine();
    let events: Vec<_> = (0..10)
        .flat_map(|m| {
            e.process(&Input::ClockFault {
                site: "s1".into(),
                device: "d1".into(),
                ts: at(f64::from(m)),
                detail: "device time 1 h ahead".into(),
            })
        })
        .collect();
    assert_eq!(
        brief(&events),
        vec![ev("G4", Level::IV, EventKind::Firing, 0.0)]
    );
}
