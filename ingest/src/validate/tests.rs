//! Validation against the registry: each kind of bad input gets its reason code and a
//! quarantine row; good values beside bad ones are kept.

use std::collections::HashMap;
use std::sync::Arc;

use alerting::model::{DataFlag, Metric, Timestamp};
use alerting::Input;

use super::*;
use crate::config::Config;

const CONFIG: &str = r#"
[[sites]]
id = "s1"
name = "outlet"
kind = "water"
grid = { district = "d", street = "s", community = "c" }
water = { point = "outlet", disinfectant = "free_chlorine" }

[[sites]]
id = "s2"
name = "store"
kind = "waste_store"
grid = { district = "d", street = "s", community = "c" }

[[devices]]
id = "wm1"
site = "s1"
kind = "water_monitor"
expected_interval_secs = 60

[[devices]]
id = "ws1"
site = "s2"
kind = "waste_store"
expected_interval_secs = 60
"#;

const NOW_MS: i64 = 1_795_305_600_000; // 2026-11-22T00:00:00Z

fn validator() -> Validator {
    let config = Config::parse(CONFIG, "t", &HashMap::<String, String>::new()).unwrap();
    Validator::new(Arc::clone(&config.registry), config.limits, "weijian/v1")
}

fn msg(topic: &str, payload: &[u8]) -> Message {
    Message {
        received_at: Timestamp::from_millis(NOW_MS),
        qos: 1,
        topic: topic.into(),
        payload: payload.to_vec(),
    }
}

fn reasons(p: &Processed) -> Vec<&'static str> {
    p.rejected.iter().map(|r| r.code()).collect()
}

const T: &str = "weijian/v1/s1/wm1/telemetry";

#[test]
fn a_good_message_becomes_one_wide_row_and_readings() {
    let p = validator().process(&msg(
        T,
        format!(r#"{{"ts":{NOW_MS},"seq":3,"values":{{"ph":7.2,"turbidity_ntu":0.3}}}}"#)
            .as_bytes(),
    ));
    assert!(p.rejected.is_empty());
    assert_eq!(p.rows.len(), 1);
    let Row::Reading(r) = &p.rows[0] else {
        panic!("{:?}", p.rows[0])
    };
    assert_eq!(
        r.values,
        vec![
            (Metric::Ph, 7.2, DataFlag::N),
            (Metric::TurbidityNtu, 0.3, DataFlag::N)
        ]
    );
    assert_eq!(r.seq, Some(3));
    assert_eq!(p.readings, 2);
}

#[test]
fn each_kind_of_bad_input_is_quarantined_with_its_reason() {
    let big = vec![b' '; 256 * 1024 + 1];
    let future = NOW_MS + 10 * 60_000;
    let cases: Vec<(String, Vec<u8>, &str)> = vec![
        (T.into(), b"{not json".to_vec(), "malformed_json"),
        (T.into(), br#"{"ts":1,"values":{"ph":"7"}}"#.to_vec(), "wrong_type"),
        (T.into(), br#"{"values":{"ph":7}}"#.to_vec(), "missing_field"),
        ("weijian/v1/s1/ghost/telemetry".into(), br#"{"ts":1,"values":{"ph":7}}"#.to_vec(), "unknown_device"),
        ("weijian/v1/s2/wm1/telemetry".into(), br#"{"ts":1,"values":{"ph":7}}"#.to_vec(), "site_mismatch"),
        (T.into(), format!(r#"{{"ts":{NOW_MS},"values":{{"humidity_pct":50}}}}"#).into_bytes(), "unknown_metric"),
        (T.into(), format!(r#"{{"ts":{NOW_MS},"values":{{"ph":15}}}}"#).into_bytes(), "out_of_range"),
        (T.into(), format!(r#"{{"ts":{future},"values":{{"ph":7}}}}"#).into_bytes(), "future_timestamp"),
        (T.into(), br#"{"ts":1000,"values":{"ph":7}}"#.to_vec(), "stale_timestamp"),
        (T.into(), big, "oversize_payload"),
        (T.into(), vec![b'{', 0xff, b'}'], "invalid_utf8"),
        (T.into(), vec![], "empty_payload"),
        ("weijian/v1/s1/wm1/bogus".into(), b"{}".to_vec(), "bad_topic"),
        ("weijian/v1/s1/wm1/event".into(), format!(r#"{{"ts":{NOW_MS},"type":"bag_in","bag_id":"b","category":"sharps","weight_kg":1}}"#).into_bytes(), "unknown_event_type"),
    ];
    let mut v = validator();
    for (topic, payload, expected) in cases {
        let p = v.process(&msg(&topic, &payload));
        assert_eq!(
            reasons(&p),
            vec![expected],
            "{topic} {:?}",
            String::from_utf8_lossy(&payload[..payload.len().min(80)])
        );
        let quarantined: Vec<_> = p
            .rows
            .iter()
            .filter(|r| matches!(r, Row::Quarantine(_)))
            .collect();
        assert_eq!(quarantined.len(), 1);
        let Row::Quarantine(q) = quarantined[0] else {
            unreachable!()
        };
        assert_eq!(q.topic, topic);
        assert!(!q.detail.is_empty());
    }
}

#[test]
fn a_bad_value_is_rejected_alone_and_its_neighbours_are_kept() {
    let p = validator().process(&msg(
        T,
        format!(r#"{{"ts":{NOW_MS},"values":{{"ph":7.1,"turbidity_ntu":-3,"colour":2}}}}"#)
            .as_bytes(),
    ));
    assert_eq!(reasons(&p), vec!["out_of_range", "unknown_metric"]);
    let r = p
        .rows
        .iter()
        .find_map(|r| match r {
            Row::Reading(r) => Some(r),
            _ => None,
        })
        .unwrap();
    assert_eq!(r.values, vec![(Metric::Ph, 7.1, DataFlag::N)]);
    assert!(p.inputs.iter().any(|i| matches!(
        i,
        Input::SensorFault {
            metric: Metric::TurbidityNtu,
            ..
        }
    )));
    let items: Vec<u32> = p
        .rows
        .iter()
        .filter_map(|r| match r {
            Row::Quarantine(q) => Some(q.item),
            _ => None,
        })
        .collect();
    assert_eq!(
        items,
        vec![0, 1],
        "each rejection of a message has its own item number"
    );
}

#[test]
fn a_future_timestamp_is_a_clock_fault_for_the_rules() {
    let future = NOW_MS + 6 * 60_000;
    let p = validator().process(&msg(
        T,
        format!(r#"{{"ts":{future},"values":{{"ph":7}}}}"#).as_bytes(),
    ));
    assert!(matches!(p.inputs[0], Input::ClockFault { .. }));
    let p = validator().process(&msg(
        T,
        format!(r#"{{"ts":{},"values":{{"ph":7}}}}"#, NOW_MS + 4 * 60_000).as_bytes(),
    ));
    assert!(
        p.rejected.is_empty(),
        "4 minutes of drift is inside the 5-minute window"
    );
}

#[test]
fn values_during_maintenance_are_stored_flagged_m() {
    let mut v = validator();
    let e = v.process(&msg(
        "weijian/v1/s1/wm1/event",
        format!(r#"{{"ts":{NOW_MS},"type":"maintenance","state":"start","reason":"calibration"}}"#)
            .as_bytes(),
    ));
    assert!(matches!(
        e.inputs[0],
        Input::Maintenance { active: true, .. }
    ));
    let p = v.process(&msg(
        T,
        format!(r#"{{"ts":{NOW_MS},"values":{{"ph":7}}}}"#).as_bytes(),
    ));
    assert_eq!(reading_flag(&p), DataFlag::M);
    v.process(&msg(
        "weijian/v1/s1/wm1/event",
        format!(r#"{{"ts":{NOW_MS},"type":"maintenance","state":"end"}}"#).as_bytes(),
    ));
    let p = v.process(&msg(
        T,
        format!(r#"{{"ts":{NOW_MS},"values":{{"ph":7}}}}"#).as_bytes(),
    ));
    assert_eq!(reading_flag(&p), DataFlag::N);
}

#[test]
fn arrays_keep_good_objects_and_quarantine_bad_ones() {
    let p = validator().process(&msg(
        T,
        format!(r#"[{{"ts":{NOW_MS},"values":{{"ph":7}}}},{{"ts":"x","values":{{"ph":7}}}},{{"ts":{},"values":{{"ph":7.5}}}}]"#, NOW_MS + 1).as_bytes(),
    ));
    assert_eq!(reasons(&p), vec!["wrong_type"]);
    assert_eq!(p.readings, 2);
}

#[test]
fn status_messages_become_rows_and_engine_inputs() {
    let p = validator().process(&msg(
        "weijian/v1/s2/ws1/status",
        format!(r#"{{"online":false,"ts":{NOW_MS}}}"#).as_bytes(),
    ));
    assert!(matches!(
        p.rows[0],
        Row::Status(StatusRow { online: false, .. })
    ));
    assert!(matches!(p.inputs[0], Input::Status { online: false, .. }));
}

#[test]
fn waste_store_events_are_stored_with_their_reference() {
    let p = validator().process(&msg(
        "weijian/v1/s2/ws1/event",
        format!(r#"{{"ts":{NOW_MS},"type":"bag_in","bag_id":"B-1","category":"sharps","weight_kg":1.5}}"#).as_bytes(),
    ));
    let Row::Event(e) = &p.rows[0] else { panic!() };
    assert_eq!(
        (e.event_type, e.reference.as_deref()),
        ("bag_in", Some("B-1"))
    );
}

fn reading_flag(p: &Processed) -> DataFlag {
    p.inputs
        .iter()
        .find_map(|i| match i {
            Input::Readings(g) => g.values.first().map(|v| v.2),
            _ => None,
        })
        .unwrap()
}

#[test]
fn waste_events_feed_the_ledger_and_the_traceability_table() {
    let mut v = validator();
    let p = v.process(&msg(
        "weijian/v1/s2/ws1/event",
        format!(
            r#"[{{"ts":{NOW_MS},"type":"bag_in","bag_id":"B-1","category":"sharps","weight_kg":1.5,"department":"口腔科"}},
                {{"ts":{NOW_MS},"type":"handover","manifest_id":"MF-7","bag_ids":["B-1","B-2","B-1"],"weight_kg":3.1,"carrier":"C9"}},
                {{"ts":{NOW_MS},"type":"disinfection","method":"uv","duration_min":60}}]"#
        )
        .as_bytes(),
    ));
    assert!(p.rejected.is_empty());
    let Input::BagIn(b) = &p.inputs[0] else {
        panic!("{:?}", p.inputs)
    };
    assert_eq!(
        (
            b.bag_id.as_str(),
            b.category.as_str(),
            b.weight_kg,
            b.department.as_deref()
        ),
        ("B-1", "sharps", 1.5, Some("口腔科"))
    );
    let Input::Handover(h) = &p.inputs[1] else {
        panic!("{:?}", p.inputs)
    };
    assert_eq!(
        (h.manifest_id.as_str(), h.bag_ids.len(), h.carrier.as_str()),
        ("MF-7", 2, "C9")
    );
    assert!(
        matches!(&p.inputs[2], Input::Disinfection(d) if d.method == "uv" && d.duration_min == Some(60.0))
    );
    let bags: Vec<(&str, &str, Option<&str>)> = p
        .rows
        .iter()
        .filter_map(|r| match r {
            Row::WasteBag(w) => Some((
                w.bag_id.as_str(),
                w.stage.as_str(),
                w.manifest_id.as_deref(),
            )),
            _ => None,
        })
        .collect();
    assert_eq!(
        bags,
        [
            ("B-1", "in", None),
            ("B-1", "handed_over", Some("MF-7")),
            ("B-2", "handed_over", Some("MF-7"))
        ]
    );
    // Every event is still stored as it came, first.
    assert_eq!(
        p.rows.iter().filter(|r| matches!(r, Row::Event(_))).count(),
        3
    );
    assert!(matches!(p.rows[0], Row::Event(_)));
}

#[test]
fn a_quarantined_hj212_frame_is_stored_without_its_password() {
    let mut v = validator();
    let frame = b"##0101QN=20261122080000000;ST=32;CN=2011;PW=SECRET-PW-77;MN=UNKNOWN-MN;Flag=5;CP=&&DataTime=20261122080000;w01001-Rtd=7.1,w01001-Flag=N&&0000\r\n";
    let p = v.process(&msg("weijian/v1/s1/wm1/hj212", frame));
    let stored: Vec<String> = p
        .rows
        .iter()
        .filter_map(|r| match r {
            crate::sink::rows::Row::Quarantine(q) => {
                Some(String::from_utf8_lossy(&q.payload).into_owned())
            }
            _ => None,
        })
        .collect();
    assert!(!stored.is_empty(), "{:?}", reasons(&p));
    for payload in &stored {
        assert!(!payload.contains("SECRET-PW-77"), "{payload}");
        assert!(
            payload.contains("CN=2011;PW=***;MN=UNKNOWN-MN"),
            "{payload}"
        );
    }
}

#[test]
fn a_payload_decoded_ahead_is_judged_as_one_decoded_here() {
    let good = format!(r#"{{"ts":{NOW_MS},"seq":1,"values":{{"ph":7.1,"turbidity_ntu":0.4}}}}"#);
    let array =
        format!("[{good},{{\"ts\":{NOW_MS},\"values\":{{\"ph\":15}}}},{{\"values\":{{}}}}]");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (T, good.clone().into_bytes()),
        (T, array.into_bytes()),
        (T, b"{not json".to_vec()),
        (T, vec![b'{', 0xff, b'}']),
        (T, vec![]),
        (T, vec![b' '; 256 * 1024 + 1]),
        ("weijian/v1/s1/ghost/telemetry", good.clone().into_bytes()),
        ("weijian/v1/s1/wm1/events", good.into_bytes()),
        ("elsewhere/s1/wm1/telemetry", b"{}".to_vec()),
    ];
    let (mut here, mut ahead) = (validator(), validator());
    let decoder = ahead.decoder();
    let mut decoded_ahead = 0;
    for (seq, (topic, payload)) in (1u64..).zip(cases) {
        let m = msg(topic, &payload);
        let pre = decoder.decode(&m);
        decoded_ahead += usize::from(pre.is_some());
        assert_eq!(
            format!("{:?}", ahead.process_decoded(seq, &m, pre)),
            format!("{:?}", here.process_spooled(seq, &m)),
            "{topic}"
        );
    }
    // Telemetry with a payload the validator would decode (the registry is not asked).
    assert_eq!(decoded_ahead, 4);
}
