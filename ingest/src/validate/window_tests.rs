//! Device times outside the accepted window, and duplicate metric keys: what validation hands
//! on (rows, rule inputs) for each, and that the rule state they cause can always be stored.
//! Device times inside the window but long past (a gateway's backlog): liveness (G1) follows
//! the receive time.

use std::collections::HashMap;
use std::sync::Arc;

use alerting::model::Timestamp;
use alerting::{Engine, Input};
use questdb::ingress::{Buffer, ProtocolVersion};

use super::*;
use crate::config::{Config, Limits};
use crate::sink::rows::{Row, StatusRow};
use crate::sink::schema::TableNames;

const CONFIG: &str = r#"
[[sites]]
id = "s1"
name = "outlet"
kind = "water"
grid = { district = "d", street = "s", community = "c" }
water = { point = "outlet", disinfectant = "free_chlorine" }

[[devices]]
id = "wm1"
site = "s1"
kind = "water_monitor"
expected_interval_secs = 60
"#;

const NOW_MS: i64 = 1_795_305_600_000; // 2026-11-22T00:00:00Z
const TELEMETRY: &str = "weijian/v1/s1/wm1/telemetry";
const STATUS: &str = "weijian/v1/s1/wm1/status";

fn config() -> Config {
    Config::parse(CONFIG, "t", &HashMap::<String, String>::new()).unwrap()
}

fn validator_with(limits: Limits) -> Validator {
    Validator::new(Arc::clone(&config().registry), limits, "weijian/v1")
}

fn validator() -> Validator {
    validator_with(config().limits)
}

fn engine() -> Engine {
    let c = config();
    Engine::new(
        c.alerts.pack.clone(),
        c.registry.shared_sites(),
        c.registry.alerting_devices(),
    )
}

fn received_at() -> Timestamp {
    Timestamp::from_millis(NOW_MS)
}

fn msg(topic: &str, payload: &str) -> Message {
    Message {
        received_at: received_at(),
        qos: 1,
        topic: topic.into(),
        payload: payload.as_bytes().to_vec(),
    }
}

fn reasons(p: &Processed) -> Vec<&'static str> {
    p.rejected.iter().map(|r| r.code()).collect()
}

/// Whether the encoder takes `row` with ILP `version`.
fn encodes(row: &Row, version: ProtocolVersion) -> bool {
    let mut buf = Buffer::new(version);
    row.encode(&mut buf, &TableNames::new("")).is_ok()
}

fn status_row(ts: Timestamp) -> Row {
    Row::Status(StatusRow {
        ts,
        received_at: received_at(),
        site: "s1".into(),
        device: "wm1".into(),
        online: true,
    })
}

#[test]
fn a_device_time_far_in_the_future_is_a_clock_fault_at_the_receive_time() {
    for ts in [
        i64::MAX.to_string(),
        "\"9999-12-31T23:59:59Z\"".to_string(),
        (NOW_MS + 3_600_000).to_string(),
    ] {
        let p = validator().process(&msg(
            TELEMETRY,
            &format!(r#"{{"ts":{ts},"values":{{"ph":7.2}}}}"#),
        ));
        assert_eq!(reasons(&p), vec!["future_timestamp"], "ts {ts}");
        // The clock fault happens when weijian sees the bogus time, not at the bogus time.
        let faults: Vec<Timestamp> = p
            .inputs
            .iter()
            .filter_map(|i| match i {
                Input::ClockFault { ts, .. } => Some(*ts),
                Input::Heard { .. } => None,
                other => panic!("only a clock fault is expected, not {other:?}"),
            })
            .collect();
        assert_eq!(faults, vec![received_at()], "ts {ts}");

        // The G4 alert it opens starts at the receive time, and its row can be written.
        let mut e = engine();
        let events: Vec<_> = p.inputs.iter().flat_map(|i| e.process(i)).collect();
        assert!(
            events.iter().any(|ev| ev.rule == "G4"),
            "ts {ts}: {events:?}"
        );
        for ev in events {
            assert_eq!(ev.started_at, received_at(), "ts {ts}");
            assert_eq!(ev.ts, received_at(), "ts {ts}");
            let row = crate::alerts::row(ev);
            assert!(encodes(&row, ProtocolVersion::V1), "{row:?}");
            assert!(encodes(&row, ProtocolVersion::V2), "{row:?}");
        }
    }
}

#[test]
fn status_times_are_window_checked_like_telemetry() {
    let mut v = validator();
    for (ts, reason) in [
        (i64::MAX.to_string(), "future_timestamp"),
        ((NOW_MS + 3_600_000).to_string(), "future_timestamp"),
        ("1000".to_string(), "stale_timestamp"),
    ] {
        let p = v.process(&msg(STATUS, &format!(r#"{{"online":false,"ts":{ts}}}"#)));
        assert_eq!(reasons(&p), vec![reason], "ts {ts}");
        assert!(
            !p.rows.iter().any(|r| matches!(r, Row::Status(_))),
            "ts {ts}: {:?}",
            p.rows
        );
        assert!(
            !p.inputs.iter().any(|i| matches!(i, Input::Status { .. })),
            "ts {ts}: {:?}",
            p.inputs
        );
        // A status from the future is a clock fault like any other message, at receive time.
        for i in &p.inputs {
            assert!(
                matches!(i, Input::ClockFault { ts, .. } if *ts == received_at()),
                "{i:?}"
            );
        }
    }
    let p = v.process(&msg(
        STATUS,
        &format!(r#"{{"online":false,"ts":{NOW_MS}}}"#),
    ));
    assert!(p.rejected.is_empty(), "{:?}", p.rejected);
    assert!(matches!(
        p.inputs.as_slice(),
        [Input::Status { online: false, ts, .. }] if *ts == received_at()
    ));
}

#[test]
fn a_time_the_store_cannot_hold_is_rejected_even_inside_a_generous_window() {
    let limits = Limits {
        max_age_secs: i64::MAX,
        max_future_secs: i64::MAX,
        ..Limits::default()
    };
    let mut v = validator_with(limits);
    for ts in ["-1000", "\"1900-01-01T00:00:00Z\"", &i64::MAX.to_string()] {
        let p = v.process(&msg(
            TELEMETRY,
            &format!(r#"{{"ts":{ts},"values":{{"ph":7.2}}}}"#),
        ));
        assert_eq!(reasons(&p), vec!["bad_timestamp"], "ts {ts}");
        assert_eq!(p.readings, 0);
        assert!(
            !p.inputs
                .iter()
                .any(|i| matches!(i, Input::Reading(_) | Input::Readings(_)))
                && p.rows.len() == 1,
            "ts {ts}: {:?}",
            p.rows
        );
    }
}

#[test]
fn the_storable_range_is_exactly_what_the_encoder_accepts() {
    for version in [ProtocolVersion::V1, ProtocolVersion::V2] {
        assert!(encodes(&status_row(Timestamp(0)), version));
        assert!(encodes(&status_row(MAX_STORABLE_TS), version));
        assert!(!encodes(&status_row(Timestamp(-1)), version));
    }
    // Version 1 carries nanoseconds: one microsecond later no longer fits.
    assert!(!encodes(
        &status_row(Timestamp(MAX_STORABLE_TS.0 + 1)),
        ProtocolVersion::V1
    ));
    assert!(is_storable(Timestamp(0)) && is_storable(MAX_STORABLE_TS));
    assert!(!is_storable(Timestamp(-1)) && !is_storable(Timestamp(MAX_STORABLE_TS.0 + 1)));
}

#[test]
fn a_metric_given_twice_in_one_object_is_rejected_and_its_neighbours_kept() {
    for values in [
        r#"{"ph":7.0,"ph":9.9}"#,
        r#"{"ph":7.0,"turbidity_ntu":0.3,"ph":7.0}"#,
    ] {
        let p = validator().process(&msg(
            TELEMETRY,
            &format!(
                r#"[{{"ts":{NOW_MS},"values":{values}}},{{"ts":{NOW_MS},"values":{{"turbidity_ntu":0.4}}}}]"#
            ),
        ));
        assert_eq!(reasons(&p), vec!["duplicate_metric"], "{values}");
        let Some(Row::Quarantine(q)) = p.rows.iter().find(|r| matches!(r, Row::Quarantine(_)))
        else {
            panic!("no quarantine row: {:?}", p.rows)
        };
        assert!(q.detail.contains("\"ph\""), "{}", q.detail);
        assert!(String::from_utf8_lossy(&q.payload).contains(values));
        // Only the good neighbour reaches the store and the rules.
        let stored: Vec<_> = p
            .rows
            .iter()
            .filter_map(|r| match r {
                Row::Reading(r) => Some(r.values.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(stored.len(), 1, "{stored:?}");
        assert_eq!(stored[0].len(), 1);
        assert_eq!(p.readings, 1);
        assert!(p.inputs.iter().all(|i| matches!(
            i,
            Input::Readings(g) if g.values.iter().all(|v| v.0 == alerting::model::Metric::TurbidityNtu)
        ) || matches!(i, Input::Heard { .. })));
    }
}

/// A gateway reconnects and uploads 40 minutes of backdated readings; the drain's first tick
/// comes after the oldest few. The device is talking: no G1.
#[test]
fn a_backlog_of_backdated_readings_is_not_an_offline_device() {
    let mut v = validator();
    let mut e = engine();
    let now = received_at();
    let mut events = Vec::new();
    // The engine has watched the device for an hour (it reported until 40 minutes ago).
    events.extend(e.process(&Input::Tick(Timestamp(now.0 - 60 * 60_000_000))));
    for minute in [40_i64, 39, 38] {
        let ts = NOW_MS - minute * 60_000;
        let p = v.process(&msg(
            TELEMETRY,
            &format!(
                r#"{{"ts":{ts},"values":{{"free_chlorine_mg_l":0.{}}}}}"#,
                60 + minute
            ),
        ));
        assert!(p.rejected.is_empty(), "{:?}", p.rejected);
        events.extend(p.inputs.iter().flat_map(|i| e.process(i)));
    }
    events.extend(e.process(&Input::Tick(now)));
    assert!(
        !events.iter().any(|ev| ev.rule == "G1"),
        "{:?}",
        events.iter().map(|e| (&e.rule, e.kind)).collect::<Vec<_>>()
    );
    // Silence after that is absence again: 15 minutes after the last message, G1 fires.
    let later = Timestamp(now.0 + 15 * 60_000_000);
    let g1: Vec<_> = e
        .process(&Input::Tick(later))
        .into_iter()
        .filter(|ev| ev.rule == "G1")
        .collect();
    assert_eq!(g1.len(), 1, "{g1:?}");
    assert_eq!(g1[0].started_at, now);
}
