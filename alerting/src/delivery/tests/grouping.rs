//! Grouping of a site's firing alerts within the group window.

use super::*;

#[test]
fn ten_offline_devices_of_one_site_within_the_window_are_one_notice_per_recipient() {
    let mut e = engine();
    let mut ids = BTreeSet::new();
    for i in 0..10 {
        let (id, out) = fire(
            &mut e,
            "G1",
            "hosp-1-waste",
            &format!("ws-{i}"),
            Level::IV,
            at_secs(i * 5),
        );
        assert!(out.notices.is_empty());
        ids.insert(id);
    }
    // Another site in the same window is its own notice.
    fire(
        &mut e,
        "G1",
        "wp-east-tap-07",
        "wm-tap-7",
        Level::IV,
        at_secs(10),
    );
    assert!(e.tick(at_secs(59)).notices.is_empty());
    let out = e.tick(at_secs(60));
    assert_eq!(out.notices.len(), 1);
    let n = &out.notices[0];
    assert_eq!(recipients(n), ["sq-huayuan"]);
    assert_eq!(n.alerts.iter().cloned().collect::<BTreeSet<_>>(), ids);
    assert!(n.text_zh.contains("共 10 条预警"));
    assert_eq!(
        n.text_zh.matches("处置建议").count(),
        1,
        "one what-to-do per rule family"
    );
    let out = e.tick(at_secs(70));
    assert_eq!(out.notices.len(), 1, "wp-east-tap-07's own group");
    assert_eq!(out.notices[0].site, "wp-east-tap-07");
    // A later member level change is its own notice.
    let mut up = event(
        "G1",
        "hosp-1-waste",
        "ws-3",
        Level::III,
        EventKind::LevelChanged,
        at_mins(120),
    );
    up.alert_id = format!("G1/hosp-1-waste/ws-3/{}", T0.as_micros());
    let out = e.on_alert_event(&up, at_mins(120));
    assert_eq!(out.notices.len(), 1);
    assert_eq!(out.notices[0].kind, NoticeKind::LevelChanged);
    assert_eq!(out.notices[0].alerts, [up.alert_id.clone()]);
}

#[test]
fn a_zero_group_window_notifies_at_once() {
    let mut e = engine_with("[delivery]\ngroup_window_secs = 0");
    let (_, out) = fire(&mut e, "S2", "dental-a", "ac-1", Level::I, T0);
    assert_eq!(out.notices.len(), 1);
    assert_eq!(recipients(&out.notices[0]), ["sq-xuefu"]);
}

#[test]
fn an_alert_resolved_inside_the_group_window_is_never_announced() {
    let mut e = engine();
    fire(&mut e, "G1", "hosp-1-waste", "ws-1", Level::IV, T0);
    let ev = event(
        "G1",
        "hosp-1-waste",
        "ws-1",
        Level::IV,
        EventKind::Resolved,
        at_secs(30),
    );
    assert!(e.on_alert_event(&ev, at_secs(30)).is_empty());
    assert!(e.tick(at_secs(60)).is_empty());
}
