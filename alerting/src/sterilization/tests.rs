//! The cycle verdict and the sterilizer side of the engine, beyond the pack's own tests:
//! evidence numbers, out-of-order and late samples, non-finite values, bounded memory,
//! restart in the middle of a cycle, duplicates, the recall list.

use std::sync::Arc;

use super::cycle::{CycleRun, Reason, Sample, Series, Verdict, MAX_BUFFERED};
use super::steam::p_sat_kpa;
use super::*;
use crate::event::{AlertEvent, EventKind};
use crate::level::Level;
use crate::model::{
    DataFlag, DentalSite, Device, DeviceKind, GridPath, Metric, Period, Reading, Site,
    SiteAttributes, Stat, SterilizerType,
};
use crate::{Engine, EngineSnapshot, Input, RulePack};

const T0: Timestamp = Timestamp::from_secs(1_795_305_600); // 2026-11-22T08:00+08:00

fn pack() -> RulePack {
    RulePack::default_pack().unwrap()
}

fn params() -> SterilParams {
    pack().sterilization.unwrap()
}

fn at(secs: i64) -> Timestamp {
    T0.plus_secs(secs)
}

fn site(kind: SterilizerType) -> Site {
    Site {
        id: "clinic".into(),
        name: "口腔诊所".to_owned(),
        grid: GridPath {
            district: "d".into(),
            street: "s".into(),
            community: "c".into(),
        },
        attributes: SiteAttributes::DentalSterilization(DentalSite {
            sterilizer: kind,
            bi_interval_days: 7,
        }),
    }
}

fn device() -> Device {
    Device {
        id: "ac1".into(),
        site: "clinic".into(),
        kind: DeviceKind::Autoclave,
        expected_interval_secs: 1,
    }
}

fn engine() -> Engine {
    Engine::new(pack(), vec![site(SterilizerType::Prevac)], vec![device()])
}

fn reading(ts: Timestamp, metric: Metric, value: f64) -> Input {
    Input::Reading(Reading {
        site: "clinic".into(),
        device: "ac1".into(),
        ts,
        metric,
        value,
        flag: DataFlag::N,
        period: Period::Instant,
        stat: Stat::Value,
        seq: None,
    })
}

fn ev(ts: Timestamp, kind: SterilizerEventKind) -> Input {
    Input::Sterilizer(SterilizerEvent {
        site: "clinic".into(),
        device: "ac1".into(),
        ts,
        kind,
    })
}

fn start(ts: Timestamp, id: &str, program: Program) -> Input {
    ev(
        ts,
        SterilizerEventKind::CycleStart {
            cycle_id: id.to_owned(),
            program,
            implant_load: false,
        },
    )
}

fn end(ts: Timestamp, id: &str, v: DeviceVerdict) -> Input {
    ev(
        ts,
        SterilizerEventKind::CycleEnd {
            cycle_id: id.to_owned(),
            device_verdict: v,
        },
    )
}

/// 1 Hz temperature and pressure from `from` to `to` seconds: T = `temp(t)`, p = p_sat of
/// `temp(t) + air_k` (air in the chamber: pressure of hotter steam than the temperature).
fn plateau(from: i64, to: i64, temp: impl Fn(i64) -> f64, air_k: f64) -> Vec<Input> {
    let mut v = Vec::new();
    for s in from..=to {
        let t = temp(s);
        v.push(reading(at(s), Metric::ChamberTempC, t));
        v.push(reading(
            at(s),
            Metric::ChamberPressureKpa,
            p_sat_kpa(t + air_k).unwrap(),
        ));
    }
    v
}

fn run(e: &mut Engine, inputs: &[Input]) -> Vec<AlertEvent> {
    inputs.iter().flat_map(|i| e.process(i)).collect()
}

fn firing(events: &[AlertEvent]) -> Vec<(String, Level)> {
    events
        .iter()
        .filter(|e| e.kind == EventKind::Firing)
        .map(|e| (e.rule.clone(), e.level))
        .collect()
}

/// A cycle through the evaluator alone, samples in time order.
fn verdict_of(program: Program, samples: &[(i64, Series, f64)]) -> CycleRecord {
    let p = params();
    let mut c = CycleRun::new("c".into(), program, false, at(0));
    for (s, series, v) in samples {
        c.add(
            Sample {
                ts: at(*s),
                series: *series,
                value: *v,
            },
            &p,
        );
    }
    c.ended = Some((at(10_000), DeviceVerdict::Pass));
    c.finish(&"clinic".into(), &"ac1".into(), &p, false)
}

fn saturated(from: i64, to: i64, t: f64) -> Vec<(i64, Series, f64)> {
    (from..=to)
        .flat_map(|s| {
            [
                (s, Series::Temp, t),
                (s, Series::Pressure, p_sat_kpa(t).unwrap()),
            ]
        })
        .collect()
}

#[test]
fn a_good_prevac_cycle_passes_with_its_evidence() {
    let r = verdict_of(Program::Prevac134, &saturated(100, 100 + 280, 135.2));
    assert_eq!(r.verdict, Verdict::Pass, "{:?}", r.reasons);
    assert_eq!(r.hold_secs, Some(280.0));
    assert_eq!(r.hold_min_temp_c, Some(135.2));
    assert_eq!(r.hold_max_temp_c, Some(135.2));
    assert!(r.worst_dev_k.unwrap().abs() < 1e-6);
    assert_eq!(r.max_gap_secs, Some(1.0));
    assert_eq!(r.samples, 562);
}

#[test]
fn the_hold_is_the_longest_run_at_or_above_the_set_temperature() {
    // 3 min at 134.5, a dip to 133.9 for 5 s, 3 min again: neither run is 4 min.
    let mut s = saturated(0, 180, 134.5);
    s.extend(saturated(181, 185, 133.9));
    s.extend(saturated(186, 366, 134.5));
    let r = verdict_of(Program::Prevac134, &s);
    assert_eq!(r.verdict, Verdict::Fail);
    assert_eq!(
        r.reasons,
        vec![Reason::HoldTooShort {
            hold_secs: 180.0,
            min_secs: 240
        }]
    );
}

#[test]
fn above_the_band_and_superheat_are_reasons() {
    // 137.5 C on a 134 C program: above 134 + 3; pressure of 134 C steam: 3.5 K superheat.
    let s: Vec<_> = (0..=300)
        .flat_map(|t| {
            [
                (t, Series::Temp, 137.5),
                (t, Series::Pressure, p_sat_kpa(134.0).unwrap()),
            ]
        })
        .collect();
    let r = verdict_of(Program::Prevac134, &s);
    let codes: Vec<&str> = r.reasons.iter().map(Reason::code).collect();
    assert_eq!(codes, ["above_band", "steam_mismatch"]);
    assert!((r.worst_dev_k.unwrap() - 3.5).abs() < 0.01);
}

#[test]
fn gravity_programs_need_their_long_holds() {
    let r = verdict_of(Program::Gravity121Textiles, &saturated(0, 25 * 60, 122.0));
    assert_eq!(
        r.reasons,
        vec![Reason::HoldTooShort {
            hold_secs: 1500.0,
            min_secs: 1800
        }]
    );
    let r = verdict_of(
        Program::Gravity121Instruments,
        &saturated(0, 25 * 60, 122.0),
    );
    assert_eq!(r.verdict, Verdict::Pass);
}

#[test]
fn no_pressure_in_the_hold_is_unprovable() {
    let s: Vec<_> = (0..=300).map(|t| (t, Series::Temp, 134.6)).collect();
    let r = verdict_of(Program::Prevac134, &s);
    let codes: Vec<&str> = r.reasons.iter().map(Reason::code).collect();
    assert!(codes.contains(&"no_pressure"), "{codes:?}");
    assert_eq!(r.verdict, Verdict::Fail);
}

#[test]
fn non_finite_and_out_of_range_values_never_panic_and_never_pass() {
    let mut s = saturated(0, 300, 134.6);
    s.push((10, Series::Pressure, f64::NAN));
    s.push((11, Series::Temp, f64::INFINITY));
    let r = verdict_of(Program::Prevac134, &s);
    assert_eq!(r.verdict, Verdict::Pass, "NaN/inf samples are ignored");
    // A pressure sensor stuck at 0 kPa (outside region 4): nothing pairs, unprovable.
    let s: Vec<_> = (0..=300)
        .flat_map(|t| [(t, Series::Temp, 134.6), (t, Series::Pressure, 0.0)])
        .collect();
    let r = verdict_of(Program::Prevac134, &s);
    assert_eq!(r.verdict, Verdict::Fail);
    assert!(r.reasons.contains(&Reason::NoPressure));
}

#[test]
fn out_of_order_samples_inside_the_reorder_window_are_sorted_in() {
    let p = params();
    let mut c = CycleRun::new("c".into(), Program::Prevac134, false, at(0));
    let mut samples = saturated(0, 300, 134.6);
    // Swap neighbours in blocks of 10 s: up to 10 s out of order.
    for chunk in samples.chunks_mut(20) {
        chunk.reverse();
    }
    for (s, series, v) in samples {
        c.add(
            Sample {
                ts: at(s),
                series,
                value: v,
            },
            &p,
        );
    }
    c.ended = Some((at(400), DeviceVerdict::Pass));
    let r = c.finish(&"clinic".into(), &"ac1".into(), &p, false);
    assert_eq!(r.verdict, Verdict::Pass, "{:?}", r.reasons);
    assert_eq!(r.late_samples, 0);
    assert_eq!(r.max_gap_secs, Some(1.0));
}

#[test]
fn a_two_hour_cycle_at_1_hz_keeps_a_bounded_buffer() {
    let p = params();
    let mut c = CycleRun::new("c".into(), Program::Gravity121Textiles, false, at(0));
    let base = serde_json::to_string(&c).unwrap().len();
    let mut largest = 0;
    for s in 0..7200 {
        for (series, v) in [
            (Series::Temp, 121.8),
            (Series::Pressure, p_sat_kpa(121.8).unwrap()),
        ] {
            c.add(
                Sample {
                    ts: at(s),
                    series,
                    value: v,
                },
                &p,
            );
        }
        largest = largest.max(serde_json::to_string(&c).unwrap().len());
    }
    // The state never holds more than MAX_BUFFERED samples (~60 bytes each as JSON).
    assert!(
        largest < base + MAX_BUFFERED * 80 + 600,
        "{largest} vs {base}"
    );
    c.ended = Some((at(7200), DeviceVerdict::Pass));
    let r = c.finish(&"clinic".into(), &"ac1".into(), &p, false);
    assert_eq!(r.samples, 14_400);
    assert_eq!(r.hold_secs, Some(7199.0));
}

#[test]
fn a_restart_in_the_middle_of_a_cycle_gives_exactly_one_verdict_the_right_one() {
    // Air in the chamber, device says pass: S2. Restart after 2 minutes of the hold.
    let mut inputs = vec![start(at(0), "c1", Program::Prevac134)];
    inputs.extend(plateau(60, 360, |_| 134.5, 3.5));
    inputs.push(end(at(400), "c1", DeviceVerdict::Pass));
    inputs.push(Input::Tick(at(470)));
    let split = 1 + 2 * 180;

    let mut straight = engine();
    let expected = run(&mut straight, &inputs);
    let straight_records = straight.take_cycle_records();

    let mut e = engine();
    let mut got = run(&mut e, &inputs[..split]);
    let mut records = e.take_cycle_records();
    let json = serde_json::to_string(&e.snapshot()).unwrap();
    let snap: EngineSnapshot = serde_json::from_str(&json).unwrap();
    let mut e = Engine::restore(
        pack(),
        vec![site(SterilizerType::Prevac)],
        vec![device()],
        snap,
    );
    got.extend(run(&mut e, &inputs[split..]));
    records.extend(e.take_cycle_records());

    // S3 too: no Bowie-Dick today on this prevac sterilizer.
    assert_eq!(
        firing(&got),
        vec![("S3".to_owned(), Level::II), ("S2".to_owned(), Level::I)]
    );
    assert_eq!(got, expected);
    assert_eq!(records.len(), 1, "exactly one verdict");
    assert_eq!(records, straight_records);
    let r = &records[0];
    assert_eq!(r.verdict, Verdict::Fail);
    assert_eq!(r.hold_secs, Some(300.0));
    assert!(r.worst_dev_k.unwrap() < -3.4, "{:?}", r.worst_dev_k);
}

#[test]
fn redelivered_events_do_not_double_count_a_cycle() {
    let mut e = engine();
    let mut inputs = vec![
        start(at(0), "c1", Program::Prevac134),
        start(at(0), "c1", Program::Prevac134),
    ];
    inputs.extend(plateau(60, 360, |_| 134.8, 0.0));
    inputs.push(end(at(400), "c1", DeviceVerdict::Pass));
    inputs.push(end(at(400), "c1", DeviceVerdict::Pass));
    inputs.push(Input::Tick(at(500)));
    inputs.push(start(at(0), "c1", Program::Prevac134));
    inputs.push(end(at(400), "c1", DeviceVerdict::Pass));
    inputs.push(Input::Tick(at(600)));
    run(&mut e, &inputs);
    let records = e.take_cycle_records();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].verdict, Verdict::Pass);
    let status = e.sterilizer_status("ac1").unwrap();
    assert_eq!(status.cycles.len(), 1);
    assert!(status.open_cycle.is_none());
}

#[test]
fn a_positive_bi_lists_every_cycle_since_the_last_negative_one_for_recall() {
    let mut e = engine();
    let mut inputs = Vec::new();
    for (i, id) in ["c1", "c2", "c3", "c4"].iter().enumerate() {
        let t0 = i as i64 * 1000;
        inputs.push(start(at(t0), id, Program::Prevac134));
        inputs.push(end(at(t0 + 500), id, DeviceVerdict::Pass));
    }
    let bi = |ts, id: &str, cycle: &str, positive| {
        ev(
            at(ts),
            SterilizerEventKind::BiResult {
                bi_id: id.to_owned(),
                cycle_id: cycle.to_owned(),
                positive,
            },
        )
    };
    inputs.push(bi(5000, "bi1", "c2", false));
    inputs.push(bi(6000, "bi2", "c4", true));
    let events = run(&mut e, &inputs);
    let s4: Vec<_> = events.iter().filter(|e| e.rule == "S4").collect();
    assert_eq!(s4.len(), 1);
    assert_eq!(s4[0].level, Level::I);
    let detail = format!("{:?}", s4[0].evidence);
    assert!(
        detail.contains("recall 2 cycles") && detail.contains("c3, c4"),
        "{detail}"
    );
    assert!(
        !detail.contains("c1,") && !detail.contains("c2,"),
        "{detail}"
    );
    let status = e.sterilizer_status("ac1").unwrap();
    let recall = status.recall.unwrap();
    let ids: Vec<&str> = recall.cycles.iter().map(|c| c.cycle_id.as_str()).collect();
    assert_eq!(ids, ["c3", "c4"]);
    // The cycle records of c4 now carry the BI.
    let c4 = status.cycles.iter().find(|c| c.cycle_id == "c4").unwrap();
    assert_eq!(c4.bi, Some(("bi2".to_owned(), true)));
}

#[test]
fn long_cycle_ids_keep_distinct_alert_subjects() {
    let a = "x".repeat(60) + "a";
    let b = "x".repeat(60) + "b";
    assert_ne!(CycleTag::new(&a), CycleTag::new(&b));
    assert_eq!(CycleTag::new("c-1").as_str(), "c-1");
    assert!(CycleTag::new(&a).as_str().len() <= CycleTag::CAP);
    let json = serde_json::to_string(&CycleTag::new("c-1")).unwrap();
    assert_eq!(json, "\"c-1\"");
    let _ = Arc::new(0);
}

#[test]
fn china_standard_time_days_start_at_16_utc() {
    assert_eq!(
        cst_day(Timestamp::from_secs(1_795_305_600)),
        cst_day(at(15 * 3600))
    );
    assert_ne!(cst_day(at(15 * 3600)), cst_day(at(16 * 3600)));
}

#[test]
fn a_broken_sterilization_section_is_reported_with_every_problem_and_its_line() {
    let good = crate::DEFAULT_PACK_TOML;
    let bad = good
        .replacen("program = \"prevac_132\"", "program = \"prevac_999\"", 1)
        .replacen(
            "max_gap_secs = { value = 10, default = true,",
            "max_gap_secs = { value = 10,",
            1,
        );
    let errs = RulePack::from_toml_str(&bad, "bad.toml").unwrap_err();
    let text: Vec<String> = errs.iter().map(ToString::to_string).collect();
    assert!(
        text.iter()
            .any(|e| e.contains("sterilization.program[1].program")
                && e.contains("unknown program \"prevac_999\"")),
        "{text:?}"
    );
    assert!(
        text.iter().any(|e| e.contains("sterilization.max_gap_secs")
            && e.contains("say where the number comes from")),
        "{text:?}"
    );
    assert!(errs.iter().all(|e| e.line.is_some()), "{text:?}");
    // Every number of the section states its provenance in the compiled pack.
    let p = params();
    assert!(p.numbers.len() >= 8 + 2 * 5, "{}", p.numbers.len());
}

#[test]
fn s_alert_summaries_are_chinese_first_and_english_with_the_evidence_in_both() {
    let mut e = Engine::new(pack(), vec![site(SterilizerType::Gravity)], vec![device()]);
    let mut inputs = vec![start(at(0), "c1", Program::Prevac134)];
    inputs.extend(plateau(60, 360, |_| 134.5, 3.5));
    inputs.push(end(at(400), "c1", DeviceVerdict::Pass));
    inputs.push(Input::Tick(at(470)));
    let events = run(&mut e, &inputs);
    let s2 = events.iter().find(|e| e.rule == "S2").unwrap();
    assert_eq!(s2.subject.as_deref(), Some("c1"));
    assert!(s2.summary_zh.contains("腔内有空气"), "{}", s2.summary_zh);
    assert!(
        s2.summary_zh.contains("灭菌器报告合格"),
        "{}",
        s2.summary_zh
    );
    assert!(
        s2.summary_en.contains("air in the chamber"),
        "{}",
        s2.summary_en
    );
    assert!(!s2.summary_en.contains("腔内") && !s2.summary_en.contains('‖'));
    let detail = format!("{:?}", s2.evidence);
    assert!(
        detail.contains("hold 300.00 s") && detail.contains("维持 300.00 秒"),
        "{detail}"
    );
}
