//! Autoclave events (docs/payload-contract.md, events: `cycle_start`, `cycle_end`, `bd_result`,
//! `bi_result`) to rule-engine inputs for S1-S6.
//!
//! The decoder has already checked each event's required fields and their values; this
//! reads the fields the rules need from the event's raw JSON (events are rare, so the second
//! parse costs nothing that matters) and never fails: an object the decoder accepted always
//! has them.

use alerting::model::Id;
use alerting::sterilization::{DeviceVerdict, Program, SterilizerEvent, SterilizerEventKind};
use alerting::Input;

use crate::decode::json;

/// The engine input of an accepted autoclave event, or `None` for other event types.
pub(super) fn input(site: &Id, device: &Id, event: &json::Event) -> Option<Input> {
    let value: serde_json::Value = serde_json::from_str(&event.raw).ok()?;
    let text = |name: &str| value.get(name).and_then(|v| v.as_str()).map(str::to_owned);
    let kind = match event.kind {
        json::EventKind::CycleStart => SterilizerEventKind::CycleStart {
            cycle_id: text("cycle_id")?,
            program: Program::parse(&text("program")?)?,
            implant_load: value
                .get("implant_load")
                .and_then(serde_json::Value::as_bool)
                .unwrap_or(false),
        },
        json::EventKind::CycleEnd => SterilizerEventKind::CycleEnd {
            cycle_id: text("cycle_id")?,
            device_verdict: DeviceVerdict::parse(&text("device_verdict")?)?,
        },
        json::EventKind::BdResult => SterilizerEventKind::BdResult {
            cycle_id: text("cycle_id")?,
            pass: text("result")? == "pass",
        },
        json::EventKind::BiResult => SterilizerEventKind::BiResult {
            bi_id: text("bi_id")?,
            cycle_id: text("cycle_id")?,
            positive: text("result")? == "positive",
        },
        _ => return None,
    };
    Some(Input::Sterilizer(SterilizerEvent {
        site: site.clone(),
        device: device.clone(),
        ts: event.ts,
        kind,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(text: &str) -> json::Event {
        json::events(text, 10).unwrap().pop().unwrap().unwrap()
    }

    fn kind(text: &str) -> SterilizerEventKind {
        match input(&"s".into(), &"d".into(), &decode(text)) {
            Some(Input::Sterilizer(e)) => e.kind,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_autoclave_event_becomes_an_engine_input_with_its_fields() {
        assert_eq!(
            kind(
                r#"{"ts":1,"type":"cycle_start","cycle_id":"c1","program":"gravity_121_textiles","implant_load":true}"#
            ),
            SterilizerEventKind::CycleStart {
                cycle_id: "c1".into(),
                program: Program::Gravity121Textiles,
                implant_load: true
            }
        );
        assert_eq!(
            kind(r#"{"ts":1,"type":"cycle_end","cycle_id":"c1","device_verdict":"aborted"}"#),
            SterilizerEventKind::CycleEnd {
                cycle_id: "c1".into(),
                device_verdict: DeviceVerdict::Aborted
            }
        );
        assert_eq!(
            kind(r#"{"ts":1,"type":"bd_result","cycle_id":"bd","result":"fail"}"#),
            SterilizerEventKind::BdResult {
                cycle_id: "bd".into(),
                pass: false
            }
        );
        assert_eq!(
            kind(r#"{"ts":1,"type":"bi_result","bi_id":"b","cycle_id":"c1","result":"positive"}"#),
            SterilizerEventKind::BiResult {
                bi_id: "b".into(),
                cycle_id: "c1".into(),
                positive: true
            }
        );
    }

    #[test]
    fn other_event_types_give_no_sterilizer_input() {
        let e = decode(r#"{"ts":1,"type":"disinfection","method":"uv","duration_min":30}"#);
        assert_eq!(input(&"s".into(), &"d".into(), &e), None);
    }
}
