//! G2 (stuck sensor) per metric: a frozen residual or turbidity value fires after an hour, pH
//! after four, and metrics that legitimately hold still (water temperature, conductivity) are
//! never checked; the pack's watch lists are checked when loaded.

use super::*;
use crate::model::Metric::{
    ConductivityUsCm, FreeChlorineMgL, Ph, TemperatureC, TurbidityNtu as Turb,
};

/// Varies by a few thousandths minute to minute: never stuck.
fn noisy(base: f64, m: i32) -> f64 {
    let k = f64::from((m * 7919) % 11) / 10.0 - 0.5;
    ((base + 0.04 * k) * 1000.0).round() / 1000.0
}

#[test]
fn a_frozen_residual_chlorine_value_fires_iv_after_an_hour_and_resolves_when_it_moves() {
    let mut e = outlet_engine();
    let mut inputs: Vec<Input> = (0..=30)
        .map(|m| r(f64::from(m), FreeChlorineMgL, noisy(0.7, m)))
        .collect();
    inputs.extend(series(31, 100, FreeChlorineMgL, 0.68));
    inputs.push(r(101.0, FreeChlorineMgL, 0.71));
    assert_eq!(
        of_rule(&run(&mut e, inputs), "G2"),
        vec![
            ev("G2", Level::IV, EventKind::Firing, 91.0),
            ev("G2", Level::IV, EventKind::Resolved, 101.0),
        ]
    );
}

#[test]
fn a_frozen_turbidity_value_fires_iv_after_an_hour() {
    let mut e = outlet_engine();
    let events = run(&mut e, series(0, 61, Turb, 0.25));
    assert_eq!(
        of_rule(&events, "G2"),
        vec![ev("G2", Level::IV, EventKind::Firing, 60.0)]
    );
    assert_eq!(events[0].subject.as_deref(), Some("turbidity_ntu"));
}

#[test]
fn a_steady_ph_is_not_stuck_for_two_hours_but_is_after_four() {
    let mut e = outlet_engine();
    let two_hours = run(&mut e, series(0, 120, Ph, 7.31));
    assert!(
        of_rule(&two_hours, "G2").is_empty(),
        "{:?}",
        brief(&two_hours)
    );
    assert_eq!(
        of_rule(&run(&mut e, series(121, 241, Ph, 7.31)), "G2"),
        vec![ev("G2", Level::IV, EventKind::Firing, 240.0)]
    );
}

#[test]
fn temperature_and_conductivity_at_a_stable_source_are_never_stuck() {
    let mut e = outlet_engine();
    let mut inputs = Vec::new();
    for m in 0..=24 * 60 {
        inputs.push(r(f64::from(m), TemperatureC, 15.0));
        inputs.push(r(f64::from(m), ConductivityUsCm, 350.0));
        inputs.push(r(f64::from(m), FreeChlorineMgL, noisy(0.7, m)));
    }
    let events = run(&mut e, inputs);
    assert!(events.is_empty(), "{:?}", brief(&events));
}

const HEAD: &str = r#"
[pack]
name = "t"
version = "1"

[defaults]
clear_mins = { value = 10, default = true }
clear_margin_pct = { value = 10, default = true }

[[rule]]
id = "G2"
name_zh = "冻结"
name_en = "Stuck"
kind = "stuck"
level = "IV"
"#;

fn errors(body: &str) -> Vec<String> {
    match RulePack::from_toml_str(&format!("{HEAD}{body}"), "t.toml") {
        Ok(_) => panic!("expected errors for {body}"),
        Err(e) => e.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn watch_lists_are_checked_when_the_pack_loads() {
    for (body, expected) in [
        ("", "needs at least one [[rule.watch]]"),
        (
            "min_mins = { value = 60, default = true }\n[[rule.watch]]\nmetrics = [\"ph\"]\nmin_mins = { value = 60, default = true }\n",
            "min_mins: not used by kind Stuck",
        ),
        (
            "[[rule.watch]]\nmetrics = [\"door_open\"]\nmin_mins = { value = 60, default = true }\n",
            "door_open is a state metric",
        ),
        (
            "[[rule.watch]]\nmetrics = [\"ph\"]\nmin_mins = { value = 60, default = true }\n[[rule.watch]]\nmetrics = [\"ph\"]\nmin_mins = { value = 240, default = true }\n",
            "ph is watched twice",
        ),
        (
            "[[rule.watch]]\nmetrics = [\"ph\"]\nmin_mins = { value = 60 }\n",
            "say where the number comes from",
        ),
        (
            "[[rule.watch]]\nmetrics = []\nmin_mins = { value = 60, default = true }\n",
            "list at least one metric",
        ),
        (
            "[[rule.watch]]\nmetrics = [\"ph\"]\nmin_mins = { value = 0, default = true }\n",
            "must be above 0",
        ),
    ] {
        let errs = errors(body);
        assert!(
            errs.iter()
                .any(|e| e.contains(expected) && e.contains("rule[0]")),
            "{body}: {errs:?}"
        );
    }
}

#[test]
fn every_window_of_the_default_pack_is_a_documented_default() {
    let pack = pack();
    let g2 = pack.rules.iter().find(|r| r.id == "G2").unwrap();
    let crate::rule::Condition::Stuck { watch } = &g2.condition else {
        panic!("{:?}", g2.condition)
    };
    let watched: Vec<Metric> = watch.iter().map(|w| w.metric).collect();
    for m in [
        Metric::FreeChlorineMgL,
        Metric::TotalChlorineMgL,
        Metric::ChlorineDioxideMgL,
        Metric::OzoneMgL,
        Metric::TurbidityNtu,
        Metric::Ph,
    ] {
        assert!(watched.contains(&m), "{m} is not watched");
    }
    for m in [TemperatureC, ConductivityUsCm, Metric::HumidityPct] {
        assert!(!watched.contains(&m), "{m} legitimately holds still");
    }
    let notes: Vec<_> = g2
        .numbers
        .iter()
        .filter(|n| n.path.contains(".watch["))
        .collect();
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert!(notes.iter().all(|n| n.note.is_some()));
}
