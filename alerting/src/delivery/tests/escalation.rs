//! Ack deadlines, escalation up the grid, repeats, and level changes.

use super::*;

#[test]
fn repeat_notices_follow_the_level_interval_while_unacknowledged() {
    let mut e = engine_with(
        "[delivery]\nack_deadline_mins = { II = 600, IV = 600 }\nrepeat_mins = { II = 120 }",
    );
    fire(&mut e, "W2", "wp-east-outlet", "wm-1", Level::II, T0);
    fire(&mut e, "G2", "hosp-1-waste", "ws-1", Level::IV, T0);
    let out = run(&mut e, at_secs(60), at_secs(60 + 5 * 3600), 60);
    let repeats: Vec<&Notice> = out
        .notices
        .iter()
        .filter(|n| n.kind == NoticeKind::Repeat)
        .collect();
    // Level II announced at +60 s repeats at +2 h and +4 h; Level IV never repeats.
    assert_eq!(
        repeats
            .iter()
            .map(|n| (n.site.as_str(), n.created_at))
            .collect::<Vec<_>>(),
        [
            ("wp-east-outlet", at_secs(60 + 2 * 3600)),
            ("wp-east-outlet", at_secs(60 + 4 * 3600)),
        ]
    );
    assert!(repeats.iter().all(|n| recipients(n) == ["sq-shuichang"]));
    assert!(
        out.events.is_empty(),
        "no escalation before the 10 h deadline"
    );
}

#[test]
fn an_unacknowledged_alert_escalates_community_street_district_city_by_deadlines() {
    let mut e = engine();
    let (id, _) = fire(&mut e, "W2", "wp-east-outlet", "wm-1", Level::I, T0);
    let announced = at_secs(60);
    assert_eq!(e.tick(announced).notices.len(), 1);
    let mut climbed = Vec::new();
    let out = run(
        &mut e,
        announced.plus_secs(1),
        announced.plus_secs(3 * 3600),
        1,
    );
    for ev in &out.events {
        assert_eq!(ev.alert_id, id);
        if let DeliveryEventKind::Escalated {
            from,
            to,
            supervisors,
        } = &ev.kind
        {
            climbed.push((*from, *to, supervisors.clone(), ev.ts));
        }
    }
    let s = |x: &str| vec![x.to_owned()];
    assert_eq!(
        climbed,
        [
            (
                Tier::Community,
                Tier::Street,
                s("jd-dongcheng"),
                announced.plus_secs(15 * 60)
            ),
            (
                Tier::Street,
                Tier::District,
                s("qu-shifan"),
                announced.plus_secs(30 * 60)
            ),
            (
                Tier::District,
                Tier::City,
                s("shi-duty"),
                announced.plus_secs(45 * 60)
            ),
        ]
    );
    let escalated: Vec<&Notice> = out
        .notices
        .iter()
        .filter(|n| n.kind == NoticeKind::Escalated)
        .collect();
    assert_eq!(escalated.len(), 3);
    assert_eq!(recipients(escalated[2]), ["shi-duty"]);
    assert!(
        escalated[0]
            .text_zh
            .contains("逾期未确认，已升级至街道级：示范区/东城街道"),
        "{}",
        escalated[0].text_zh
    );
    // At the city it stays, and repeats every 30 min go on (to the city).
    let repeats: Vec<&Notice> = out
        .notices
        .iter()
        .filter(|n| n.kind == NoticeKind::Repeat)
        .collect();
    assert!(!repeats.is_empty());
    assert!(repeats
        .iter()
        .all(|n| recipients(n) == ["shi-duty"] && n.created_at > announced.plus_secs(45 * 60)));
    assert_eq!(e.alert(&id).map(|a| a.tier), Some(Tier::City));
}

#[test]
fn escalation_skips_a_tier_without_supervisors() {
    let mut e = engine();
    // 西城街道 has no street supervisor: 学府社区 -> 示范区.
    fire(&mut e, "S3", "dental-a", "ac-1", Level::II, T0);
    let out = run(&mut e, at_secs(60), at_secs(60 + 3600), 60);
    let esc: Vec<_> = out
        .events
        .iter()
        .filter_map(|ev| match &ev.kind {
            DeliveryEventKind::Escalated { from, to, .. } => Some((*from, *to)),
            _ => None,
        })
        .collect();
    assert_eq!(esc, [(Tier::Community, Tier::District)]);
}

#[test]
fn a_level_change_is_its_own_notice_and_restarts_the_deadline() {
    let mut e = engine();
    let (id, _) = fire(&mut e, "W1", "wp-east-outlet", "wm-1", Level::III, T0);
    e.tick(at_secs(60));
    assert_eq!(
        e.alert(&id).and_then(|a| a.ack_deadline),
        Some(at_secs(60 + 4 * 3600))
    );
    let t = at_mins(30);
    let ev = event(
        "W1",
        "wp-east-outlet",
        "wm-1",
        Level::II,
        EventKind::LevelChanged,
        t,
    );
    let out = e.on_alert_event(&ev, t);
    assert_eq!(out.notices.len(), 1);
    assert_eq!(out.notices[0].level, Level::II);
    assert!(out.notices[0]
        .text_zh
        .contains("级别由三级黄色变为二级橙色"));
    assert_eq!(
        e.alert(&id).and_then(|a| a.ack_deadline),
        Some(t.plus_secs(3600))
    );
}
