//! The index on alert histories from the simulated fleet run through validation and the rule
//! engine (the drain's path without MQTT): a month of the demo district with faults injected at
//! two sites ranks those two worst, in the order of their faults' severity, and the quiet sites
//! stay A; the month scored twice (and from a saved ledger) gives the same rows.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;

use alerting::model::Timestamp;
use alerting::risk::{cst_day, Grade, RiskParams};
use alerting::{Engine, Input};

use weijian_ingest::config::Config;
use weijian_ingest::message::Message;
use weijian_ingest::risk::{RiskBoard, RiskSnapshot};
use weijian_ingest::sink::rows::Row;
use weijian_ingest::validate::Validator;
use weijian_tools::simulate::{Fleet, Scenario};

const DEMO: &str = include_str!("../../config/demo.toml");
const PREFIX: &str = "weijian/v1";
/// 2026-11-01T00:00:00+08:00.
const START: Timestamp = Timestamp::from_secs(1_793_462_400);
const DAYS: i64 = 30;

/// Minutes (China Standard Time) of day `day` from `from` for `len` minutes.
fn window(day: i64, from_h: i64, len_min: i64) -> (Timestamp, Timestamp) {
    let a = START.plus_secs(day * 86_400 + from_h * 3600);
    (a, a.plus_secs(len_min * 60))
}

/// Replaces `metric`'s value in a JSON telemetry payload (object or array).
/// A little noise keeps the value from looking stuck (G2).
fn inject(payload: &[u8], metric: &str, value: f64, ts: Timestamp) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_slice(payload).unwrap();
    let value = value + (ts.as_millis() / 60_000 % 7) as f64 / 1000.0;
    let set = |o: &mut serde_json::Value| {
        if let Some(values) = o.get_mut("values").and_then(|v| v.as_object_mut()) {
            if values.contains_key(metric) {
                values.insert(metric.to_owned(), serde_json::json!(value));
            }
        }
    };
    match &mut v {
        serde_json::Value::Array(items) => items.iter_mut().for_each(set),
        other => set(other),
    }
    serde_json::to_vec(&v).unwrap()
}

/// The demo district for `DAYS` days (calm fleet), with:
/// - `ljsc-outlet` (an outlet, free chlorine): 0.15 mg/L for 100 minutes on days 20, 24 and 28
///   (W2 II, then I after 60 minutes: GB 5749-2022 outlet residual 0.3);
/// - `qsz-outlet` (a small supply): turbidity 4 NTU for 30 minutes on days 27 and 29 (W1 III:
///   3 NTU for small supplies).
///
/// Every message is validated and fed to the engine, with a tick each simulated minute; every
/// event goes to the board's ledger.
fn simulated_month() -> (RiskBoard, Config) {
    // Monitors report every minute instead of every 10 s and sterilizers every 5 s instead of
    // 2 s: the same rules (5 s is within the verdict's 10 s gap and 5 s pairing), far fewer
    // messages.
    let text = DEMO
        .replace("expected_interval_secs = 10", "expected_interval_secs = 60")
        .replace("expected_interval_secs = 2", "expected_interval_secs = 5");
    let config = Config::parse(&text, "demo.toml", &HashMap::<String, String>::new()).unwrap();
    let board = RiskBoard::new(
        config.alerts.pack.risk.clone(),
        config.registry.clone(),
        RiskSnapshot::default(),
    );
    let mut fleet = Fleet::new(&config.registry, PREFIX, 7, Scenario::calm());
    let mut validator = Validator::new(config.registry.clone(), config.limits, PREFIX);
    let mut engine = Engine::new(
        config.alerts.pack.clone(),
        config.registry.shared_sites(),
        config.registry.alerting_devices(),
    );
    let chlorine: Vec<_> = [20, 24, 28].map(|d| window(d, 10, 100)).to_vec();
    let turbidity: Vec<_> = [27, 29].map(|d| window(d, 14, 30)).to_vec();
    let within =
        |w: &[(Timestamp, Timestamp)], t: Timestamp| w.iter().any(|(a, b)| *a <= t && t < *b);
    let mut now = START;
    let mut outbound = fleet.birth_messages(now);
    while now < START.plus_secs(DAYS * 86_400) {
        outbound.extend(fleet.step(now));
        let mut inputs: Vec<Input> = Vec::new();
        for o in outbound.drain(..) {
            let mut payload = o.payload.clone();
            if o.topic.ends_with("/telemetry") {
                if o.topic.contains("/ljsc-outlet/") && within(&chlorine, o.ts) {
                    payload = inject(&payload, "free_chlorine_mg_l", 0.15, o.ts);
                }
                if o.topic.contains("/qsz-outlet/") && within(&turbidity, o.ts) {
                    payload = inject(&payload, "turbidity_ntu", 4.0, o.ts);
                }
            }
            let p = validator.process(&Message {
                received_at: o.ts.plus_secs(1),
                qos: 1,
                topic: o.topic.clone(),
                payload,
            });
            inputs.extend(p.inputs);
        }
        inputs.push(Input::Tick(now));
        for i in &inputs {
            board.record(&engine.process(i));
        }
        now = now.plus_secs(60);
    }
    (board, config)
}

#[test]
fn a_simulated_month_ranks_the_sites_with_injected_faults_worst() {
    let (board, config) = simulated_month();
    let last = cst_day(START) + DAYS - 1;
    let mut scores = board.score_day(last);
    let p = RiskParams::default();
    scores.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.site.cmp(&b.site))
    });
    let ranked: Vec<(&str, Grade, f64)> = scores
        .iter()
        .map(|r| (r.site.as_str(), r.grade, r.score))
        .collect();
    let explain: Vec<String> = scores.iter().map(|r| r.explain_en(&p)).collect();
    assert_eq!(ranked.len(), 7, "{ranked:?}");
    assert_eq!(ranked[0].0, "ljsc-outlet", "{explain:#?}");
    assert_eq!(ranked[1].0, "qsz-outlet", "{explain:#?}");
    assert!(ranked[0].1 >= Grade::C, "{explain:#?}");
    assert_eq!(ranked[1].1, Grade::B, "{explain:#?}");
    assert!(
        ranked[2..].iter().all(|(_, g, _)| *g == Grade::A),
        "{explain:#?}"
    );
    // The worst site's explanation names W2 at level I on the three days.
    let worst = &scores[0];
    let w2_days: Vec<&str> = worst
        .contributions
        .iter()
        .filter(|c| c.rule == "W2" && c.level == alerting::Level::I)
        .map(|c| c.date.as_str())
        .collect();
    assert_eq!(
        w2_days,
        ["2026-11-29", "2026-11-25", "2026-11-21"],
        "{explain:#?}"
    );
    assert!(
        worst.contributions.iter().all(|c| c.rule == "W2"),
        "{explain:#?}"
    );

    // Recomputing the month's days gives the same rows, also from the saved ledger.
    let saved: RiskSnapshot =
        serde_json::from_str(&serde_json::to_string(&board.snapshot()).unwrap()).unwrap();
    let restored = RiskBoard::new(p.clone(), config.registry.clone(), saved);
    for day in (last - 10)..=last {
        let a: Vec<Row> = board.rows_of_day(day);
        assert_eq!(a, board.rows_of_day(day));
        assert_eq!(a, restored.rows_of_day(day));
    }
}
