//! Acknowledgement, and resolution by the rule engine or by hand.

use super::*;

#[test]
fn acknowledging_stops_escalation_and_repeats_but_does_not_resolve() {
    let mut e = engine();
    let (id, _) = fire(&mut e, "W2", "wp-east-outlet", "wm-1", Level::I, T0);
    e.tick(at_secs(60));
    let out = e.tick(at_mins(16)); // escalated to the street
    assert_eq!(out.notices.len(), 1);
    let ack = e.acknowledge(&id, "sq-shuichang", "已派人到场", at_mins(17));
    let Ok(ack) = ack else { panic!("{ack:?}") };
    assert_eq!(ack.events.len(), 1);
    assert_eq!(
        ack.events[0].kind,
        DeliveryEventKind::Acknowledged {
            by: "sq-shuichang".into(),
            note: "已派人到场".into()
        }
    );
    assert_eq!(ack.events[0].kind.state(), "acknowledged");
    assert_eq!(ack.notices.len(), 1);
    assert_eq!(ack.notices[0].kind, NoticeKind::Acknowledged);
    assert_eq!(
        recipients(&ack.notices[0]),
        ["jd-dongcheng", "sq-shuichang"]
    );
    assert!(ack.notices[0].text_zh.contains("已派人到场"));
    // Two days of ticks: nothing.
    assert!(run(&mut e, at_mins(17), at_mins(2 * 24 * 60), 60).is_empty());
    assert!(e.alert(&id).is_some_and(|a| a.ack.is_some()), "still open");
    // Acknowledging again changes nothing.
    assert_eq!(
        e.acknowledge(&id, "qu-shifan", "again", at_mins(3000)),
        Ok(Outcome::default())
    );
}

#[test]
fn a_more_severe_level_after_acknowledgement_needs_a_new_acknowledgement() {
    let mut e = engine();
    let (id, _) = fire(&mut e, "W2", "wp-east-outlet", "wm-1", Level::II, T0);
    e.tick(at_secs(60));
    assert!(e.acknowledge(&id, "sq-shuichang", "ok", at_mins(5)).is_ok());
    // Less severe: stays acknowledged, still a notice.
    let down = event(
        "W2",
        "wp-east-outlet",
        "wm-1",
        Level::III,
        EventKind::LevelChanged,
        at_mins(10),
    );
    let out = e.on_alert_event(&down, at_mins(10));
    assert_eq!(out.notices.len(), 1);
    assert!(out.events.is_empty());
    assert!(run(&mut e, at_mins(10), at_mins(24 * 60), 60).is_empty());
    // More severe: acknowledgement cleared, deadline restarts at level I's 15 min.
    let t = at_mins(24 * 60);
    let up = event(
        "W2",
        "wp-east-outlet",
        "wm-1",
        Level::I,
        EventKind::LevelChanged,
        t,
    );
    let out = e.on_alert_event(&up, t);
    assert_eq!(out.notices.len(), 1);
    assert!(matches!(
        out.events[0].kind,
        DeliveryEventKind::AcknowledgementCleared {
            from: Level::III,
            to: Level::I
        }
    ));
    assert_eq!(
        e.alert(&id).and_then(|a| a.ack_deadline),
        Some(t.plus_secs(15 * 60))
    );
}

#[test]
fn a_resolved_alert_notifies_everyone_who_heard_of_it() {
    let mut e = engine();
    fire(&mut e, "W2", "wp-east-outlet", "wm-1", Level::I, T0);
    run(&mut e, at_secs(60), at_mins(40), 60); // community, street, district
    let ev = event(
        "W2",
        "wp-east-outlet",
        "wm-1",
        Level::I,
        EventKind::Resolved,
        at_mins(41),
    );
    let out = e.on_alert_event(&ev, at_mins(41));
    assert_eq!(out.notices.len(), 1);
    assert_eq!(out.notices[0].kind, NoticeKind::Resolved);
    assert_eq!(
        recipients(&out.notices[0]),
        ["jd-dongcheng", "qu-shifan", "sq-shuichang"]
    );
    assert!(e.alert(&ev.alert_id).is_none());
    assert!(run(&mut e, at_mins(41), at_mins(24 * 60), 60).is_empty());
}

#[test]
fn a_manual_resolution_is_recorded_and_later_rule_engine_events_are_ignored() {
    let mut e = engine();
    let (id, _) = fire(&mut e, "M1", "hosp-1-waste", "ws-1", Level::II, T0);
    e.tick(at_secs(60));
    let out = e.resolve_manually(&id, "jd-dongcheng", "已现场核实转运", at_mins(5));
    let Ok(out) = out else { panic!("{out:?}") };
    assert_eq!(out.events[0].kind.state(), "resolved");
    assert!(
        matches!(&out.events[0].kind, DeliveryEventKind::ResolvedManually { by, .. } if by == "jd-dongcheng")
    );
    assert_eq!(out.notices.len(), 1);
    assert_eq!(recipients(&out.notices[0]), ["sq-huayuan"]);
    assert!(out.notices[0].text_zh.contains("手动解除"));
    let later = event(
        "M1",
        "hosp-1-waste",
        "ws-1",
        Level::I,
        EventKind::LevelChanged,
        at_mins(10),
    );
    assert!(e.on_alert_event(&later, at_mins(10)).is_empty());
    assert_eq!(
        e.resolve_manually(&id, "jd-dongcheng", "x", at_mins(11)),
        Err(DeliveryError::AlreadyResolved(id.clone()))
    );
    // Forgotten after the retention.
    e.tick(at_mins(5).plus_secs(RESOLVED_RETENTION_SECS));
    assert_eq!(
        e.acknowledge(&id, "qu-shifan", "", at_mins(20_000)),
        Err(DeliveryError::NotFound(id))
    );
}
