//! The simulated sterilizers judged by weijian's own rule engine: on a calm week every cycle
//! passes the computed verdict and no S rule fires; with faults injected, every faulty cycle
//! fails with the reason its fault implies and the S rules fire.

use std::collections::HashMap;

use alerting::model::Timestamp;
use alerting::sterilization::{CycleRecord, DeviceVerdict, Verdict};
use alerting::{AlertEvent, Engine, EventKind, Input, RulePack};

use crate::simulate::*;
use weijian_ingest::config::Config;
use weijian_ingest::message::Message;
use weijian_ingest::validate::Validator;

const DEMO: &str = include_str!("../../../../config/demo.toml");
const PREFIX: &str = "weijian/v1";
/// 2026-11-22T00:00:00+08:00.
const MIDNIGHT: Timestamp = Timestamp::from_secs(1_795_305_600 - 8 * 3600);

struct Judged {
    records: Vec<CycleRecord>,
    events: Vec<AlertEvent>,
    incidents: Vec<Incident>,
}

/// Simulates `hours` from midnight and feeds everything through validation and the rule
/// engine (ticks every simulated minute); autoclave sites only.
fn judge(scenario: Scenario, seed: u64, hours: i64) -> Judged {
    let config = Config::parse(DEMO, "demo.toml", &HashMap::<String, String>::new()).unwrap();
    let mut fleet = Fleet::new(&config.registry, PREFIX, seed, scenario);
    let mut validator = Validator::new(config.registry.clone(), config.limits, PREFIX);
    let mut engine = Engine::new(
        RulePack::default_pack().unwrap(),
        config.registry.alerting_sites(),
        config.registry.alerting_devices(),
    );
    let mut records = Vec::new();
    let mut events = Vec::new();
    let mut now = MIDNIGHT;
    let mut out = fleet.birth_messages(now);
    while now <= MIDNIGHT.plus_secs(hours * 3600) {
        out.extend(fleet.step(now));
        for o in out.drain(..).filter(|o| o.topic.contains("/ac-")) {
            let processed = validator.process(&Message {
                received_at: o.ts.plus_secs(1),
                qos: 1,
                topic: o.topic.clone(),
                payload: o.payload.clone(),
            });
            for input in &processed.inputs {
                events.extend(engine.process(input));
            }
        }
        events.extend(engine.process(&Input::Tick(now)));
        records.extend(engine.take_cycle_records());
        now = now.plus_secs(60);
    }
    Judged {
        records,
        events,
        incidents: fleet.take_incidents(),
    }
}

fn s_firing(events: &[AlertEvent]) -> Vec<&AlertEvent> {
    events
        .iter()
        .filter(|e| e.rule.starts_with('S') && e.kind == EventKind::Firing)
        .collect()
}

#[test]
fn a_calm_week_of_simulated_cycles_all_pass_and_raise_no_s_alert() {
    let j = judge(Scenario::calm(), 11, 24 * 7);
    let finished: Vec<&CycleRecord> = j.records.iter().filter(|r| r.ended_at.is_some()).collect();
    assert!(finished.len() > 60, "{} cycles", finished.len());
    for r in &finished {
        assert_eq!(
            r.verdict,
            Verdict::Pass,
            "{} {}: {:?}",
            r.cycle_id,
            r.program,
            r.reasons
        );
        assert!(r.worst_dev_k.is_some_and(|d| d.abs() < 1.0), "{r:?}");
    }
    assert!(s_firing(&j.events).is_empty(), "{:?}", s_firing(&j.events));
}

#[test]
fn injected_sterilizer_faults_are_found_by_the_verdict_and_the_s_rules() {
    let scenario = Scenario {
        cycle_fault_rate: 0.8,
        ..Scenario::calm()
    };
    let j = judge(scenario, 6, 24 * 4);
    let by_id: HashMap<&str, &CycleRecord> =
        j.records.iter().map(|r| (r.cycle_id.as_str(), r)).collect();
    let mut checked = 0;
    for i in &j.incidents {
        let Some(id) = i
            .detail
            .strip_prefix("cycle ")
            .and_then(|d| d.split(' ').next())
        else {
            continue;
        };
        let id = id.trim_end_matches(':');
        let Some(r) = by_id.get(id) else {
            continue; // still running at the end of the run, or a BI fault
        };
        let codes: Vec<&str> = r.reasons.iter().map(|x| x.code()).collect();
        if i.detail.contains("too short") {
            assert!(codes.contains(&"hold_too_short"), "{}: {codes:?}", i.detail);
        } else if i.detail.contains("below the set temperature") {
            // Heat-up may overshoot the set temperature briefly: no hold, or a short one.
            assert!(
                codes.contains(&"no_hold") || codes.contains(&"hold_too_short"),
                "{}: {codes:?}",
                i.detail
            );
        } else if i.detail.contains("air in the chamber") {
            assert!(codes.contains(&"steam_mismatch"), "{}: {codes:?}", i.detail);
            assert!(r.worst_dev_k.is_some_and(|d| d < -2.0));
        } else if i.detail.contains("aborted") {
            assert_eq!(r.device_verdict, Some(DeviceVerdict::Aborted));
        } else {
            continue;
        }
        assert_eq!(r.verdict, Verdict::Fail, "{}", i.detail);
        checked += 1;
    }
    assert!(checked >= 10, "{checked} faulty cycles checked");
    // Every verdict failure is an injected fault: no false alarms on good cycles.
    let announced: Vec<&str> = j
        .incidents
        .iter()
        .filter_map(|i| i.detail.strip_prefix("cycle "))
        .filter_map(|d| d.split(' ').next())
        .map(|id| id.trim_end_matches(':'))
        .collect();
    for r in j.records.iter().filter(|r| r.verdict == Verdict::Fail) {
        let no_end = r.reasons.iter().any(|x| x.code() == "no_end");
        assert!(announced.contains(&r.cycle_id.as_str()) || no_end, "{r:?}");
    }
    // A positive BI is announced (and read before the end of the run): S4 must fire.
    let end = MIDNIGHT.plus_secs(24 * 4 * 3600);
    let bi: Vec<&Incident> = j
        .incidents
        .iter()
        .filter(|i| i.detail.contains("indicator"))
        .collect();
    assert!(bi.iter().any(|i| i.ts < end.plus_secs(-5 * 3600)), "{bi:?}");
    let mut rules: Vec<&str> = s_firing(&j.events)
        .iter()
        .map(|e| e.rule.as_str())
        .collect();
    rules.sort();
    rules.dedup();
    for rule in ["S1", "S2", "S3", "S4", "S6"] {
        assert!(rules.contains(&rule), "{rule} in {rules:?}");
    }
}
