//! Silences and maintenance windows: held notices, paused timers, expiry and lifting.

use super::*;

#[test]
fn a_silence_suppresses_notices_then_expires_by_itself_and_open_alerts_are_notified() {
    let mut e = engine();
    let until = at_mins(120);
    let silence = Silence {
        id: "s1".into(),
        scope: SilenceScope::Site {
            site: "hosp-1-waste".into(),
        },
        by: "sq-huayuan".into(),
        reason: "暂存间断电检修".into(),
        until,
    };
    let refused = Silence {
        by: "sq-shuichang".into(),
        ..silence.clone()
    };
    assert!(matches!(
        e.add_silence(refused, T0),
        Err(DeliveryError::Forbidden { .. })
    ));
    let past = Silence {
        until: T0,
        ..silence.clone()
    };
    assert!(matches!(
        e.add_silence(past, T0),
        Err(DeliveryError::InvalidSilence(_))
    ));
    assert!(e
        .add_silence(silence.clone(), T0)
        .is_ok_and(|o| o.is_empty()));
    assert!(matches!(
        e.add_silence(silence.clone(), T0),
        Err(DeliveryError::DuplicateSilence(_))
    ));
    assert_eq!(e.silences(at_mins(119)).len(), 1);
    assert_eq!(e.silences_visible_to("sq-shuichang", at_mins(1)).len(), 0);
    assert_eq!(e.silences_visible_to("jd-dongcheng", at_mins(1)).len(), 1);
    // A door alert (III) fires in the window: recorded as silenced, nobody told.
    let (id, out) = fire(
        &mut e,
        "M5",
        "hosp-1-waste",
        "door-1",
        Level::III,
        at_mins(10),
    );
    assert!(out.notices.is_empty());
    assert!(
        matches!(&out.events[0].kind, DeliveryEventKind::Silenced { silence_id, .. } if silence_id == "s1")
    );
    // Another site is not affected.
    fire(
        &mut e,
        "G1",
        "wp-east-tap-07",
        "wm-7",
        Level::IV,
        at_mins(10),
    );
    let out = run(&mut e, at_mins(10), at_mins(119), 60);
    assert_eq!(out.notices.len(), 1);
    assert_eq!(out.notices[0].site, "wp-east-tap-07");
    // Expired: gone from the list by itself, and the next tick notifies the open alert.
    assert!(e.silences(until).is_empty());
    let out = e.tick(until);
    assert_eq!(out.notices.len(), 1);
    assert_eq!(out.notices[0].kind, NoticeKind::New);
    assert_eq!(out.notices[0].alerts, std::slice::from_ref(&id));
    assert!(out.notices[0].text_zh.contains("静默/维护期已结束"));
    assert!(matches!(
        &out.events[0].kind,
        DeliveryEventKind::SilenceEnded { by: None, .. }
    ));
    // Its deadline started at the silence's end.
    assert_eq!(
        e.alert(&id).and_then(|a| a.ack_deadline),
        Some(until.plus_secs(4 * 3600))
    );
}

#[test]
fn a_silence_pauses_repeats_and_escalation_of_an_announced_alert() {
    let mut e = engine();
    let (id, _) = fire(&mut e, "W2", "wp-east-outlet", "wm-1", Level::I, T0);
    assert_eq!(e.tick(at_secs(60)).notices.len(), 1);
    let s = Silence {
        id: "s".into(),
        scope: SilenceScope::Site {
            site: "wp-east-outlet".into(),
        },
        by: "sq-shuichang".into(),
        reason: "停产检修".into(),
        until: at_mins(180),
    };
    let out = e.add_silence(s, at_mins(5));
    let Ok(out) = out else { panic!("{out:?}") };
    assert_eq!(
        out.events.len(),
        1,
        "the open alert is recorded as silenced"
    );
    let lower = event(
        "W2",
        "wp-east-outlet",
        "wm-1",
        Level::II,
        EventKind::LevelChanged,
        at_mins(20),
    );
    assert!(e.on_alert_event(&lower, at_mins(20)).notices.is_empty());
    assert!(
        run(&mut e, at_mins(5), at_mins(179), 60).is_empty(),
        "no repeat, no escalation"
    );
    let out = e.tick(at_mins(180));
    assert_eq!(out.notices.len(), 1);
    assert_eq!(out.notices[0].kind, NoticeKind::Repeat);
    assert_eq!(
        out.notices[0].level,
        Level::II,
        "carries the level reached meanwhile"
    );
    assert_eq!(recipients(&out.notices[0]), ["sq-shuichang"]);
    assert_eq!(e.alert(&id).map(|a| a.tier), Some(Tier::Community));
    assert_eq!(
        e.alert(&id).and_then(|a| a.ack_deadline),
        Some(at_mins(180 + 60))
    );
}

#[test]
fn a_device_silence_covers_only_that_device_and_can_be_lifted() {
    let mut e = engine();
    let s = Silence {
        id: "m1".into(),
        scope: SilenceScope::Device {
            site: "wp-east-outlet".into(),
            device: "wm-1".into(),
        },
        by: "jd-dongcheng".into(),
        reason: "校准".into(),
        until: at_mins(600),
    };
    assert!(e.add_silence(s, T0).is_ok());
    let (held, _) = fire(&mut e, "W6", "wp-east-outlet", "wm-1", Level::IV, T0);
    let (told, _) = fire(&mut e, "G1", "wp-east-outlet", "wm-2", Level::IV, T0);
    let out = e.tick(at_secs(60));
    assert_eq!(out.notices.len(), 1);
    assert_eq!(out.notices[0].alerts, [told]);
    assert!(matches!(
        e.expire_silence("m1", "sq-huayuan", at_mins(5)),
        Err(DeliveryError::Forbidden { .. })
    ));
    let out = e.expire_silence("m1", "sq-shuichang", at_mins(5));
    let Ok(out) = out else { panic!("{out:?}") };
    assert_eq!(out.notices.len(), 1);
    assert_eq!(out.notices[0].alerts, [held]);
    assert!(e.silences(at_mins(5)).is_empty());
    assert_eq!(
        e.expire_silence("m1", "sq-shuichang", at_mins(5)),
        Err(DeliveryError::SilenceNotFound("m1".into()))
    );
}
