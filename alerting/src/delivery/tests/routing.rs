//! Routing to the site's cell (or the nearest tier up with supervisors), and who may see
//! and act on which sites.

use super::*;

#[test]
fn a_firing_alert_goes_to_the_community_supervisor_of_its_site() {
    let mut e = engine();
    let (id, out) = fire(
        &mut e,
        "W2",
        "wp-east-outlet",
        "wm-east-out-1",
        Level::II,
        T0,
    );
    assert!(out.notices.is_empty(), "held for the group window");
    assert!(e.tick(at_secs(59)).notices.is_empty());
    let out = e.tick(at_secs(60));
    assert_eq!(out.notices.len(), 1);
    let n = &out.notices[0];
    assert_eq!(n.kind, NoticeKind::New);
    assert_eq!(n.tier, Tier::Community);
    assert_eq!(recipients(n), ["sq-shuichang"]);
    assert_eq!(n.alerts, [id]);
    assert_eq!(n.level, Level::II);
    assert!(
        n.text_zh.starts_with("【二级橙色·新预警】城东水厂 出厂水"),
        "{}",
        n.text_zh
    );
    assert!(n.text_zh.contains("处置建议") && n.text_en.contains("What to do"));
    // English evidence is labelled; the Chinese text carries no `key=value` evidence line.
    assert!(
        n.text_en.contains("Evidence: value 0.1, limit 0.3"),
        "{}",
        n.text_en
    );
    assert!(!n.text_zh.contains("value"), "{}", n.text_zh);
    assert!(n.text_zh.contains("逾期将升级至街道级"), "{}", n.text_zh);
    assert_eq!(n.recipients[0].channels.len(), 2);
}

#[test]
fn an_alert_falls_back_up_to_the_nearest_tier_with_a_supervisor() {
    let mut e = engine();
    // 北村 has no community supervisor: 北郊镇 street.
    fire(
        &mut e,
        "W1",
        "wp-north-outlet",
        "wm-north-1",
        Level::III,
        T0,
    );
    let out = e.tick(at_secs(60));
    assert_eq!(out.notices.len(), 1);
    assert_eq!(out.notices[0].tier, Tier::Street);
    assert_eq!(recipients(&out.notices[0]), ["jd-beijiao"]);
}

#[test]
fn pending_events_are_never_notified() {
    let mut e = engine();
    let ev = event(
        "W1",
        "wp-east-outlet",
        "wm-1",
        Level::III,
        EventKind::Pending,
        T0,
    );
    assert!(e.on_alert_event(&ev, T0).is_empty());
    assert!(run(&mut e, T0, at_mins(60 * 24), 60).is_empty());
    assert!(e.alert(&ev.alert_id).is_none());
}

#[test]
fn a_supervisor_of_another_grid_cell_is_forbidden_to_act() {
    let mut e = engine();
    let (id, _) = fire(&mut e, "W2", "wp-east-outlet", "wm-1", Level::II, T0);
    e.tick(at_secs(60));
    let forbidden = |sup: &str| DeliveryError::Forbidden {
        supervisor: sup.into(),
        site: "wp-east-outlet".into(),
    };
    assert_eq!(
        e.acknowledge(&id, "sq-huayuan", "", at_mins(2)),
        Err(forbidden("sq-huayuan"))
    );
    assert_eq!(
        e.acknowledge(&id, "jd-beijiao", "", at_mins(2)),
        Err(forbidden("jd-beijiao"))
    );
    assert_eq!(
        e.resolve_manually(&id, "sq-xuefu", "x", at_mins(2)),
        Err(forbidden("sq-xuefu"))
    );
    assert_eq!(
        e.acknowledge(&id, "nobody", "", at_mins(2)),
        Err(DeliveryError::UnknownSupervisor("nobody".into()))
    );
    assert_eq!(
        e.acknowledge("W9/x", "qu-shifan", "", at_mins(2)),
        Err(DeliveryError::NotFound("W9/x".into()))
    );
    // The district above it may.
    assert!(e
        .acknowledge(&id, "qu-shifan", "区大队已处置", at_mins(2))
        .is_ok());
    let resolved = event(
        "W2",
        "wp-east-outlet",
        "wm-1",
        Level::II,
        EventKind::Resolved,
        at_mins(50),
    );
    e.on_alert_event(&resolved, at_mins(50));
    assert_eq!(
        e.acknowledge(&id, "sq-shuichang", "", at_mins(51)),
        Err(DeliveryError::AlreadyResolved(id.clone()))
    );
    assert_eq!(
        e.acknowledge(&id, "sq-huayuan", "", at_mins(51)),
        Err(forbidden("sq-huayuan"))
    );
}

#[test]
fn supervisors_see_their_grid_subtree_only() {
    let e = engine();
    assert!(e.can_see("sq-shuichang", "wp-east-outlet"));
    assert!(!e.can_see("sq-shuichang", "wp-east-tap-07"));
    assert!(e.can_see("sq-huayuan", "hosp-1-waste") && e.can_see("sq-huayuan", "wp-east-tap-07"));
    assert!(
        e.can_see("jd-dongcheng", "wp-east-outlet") && e.can_see("jd-dongcheng", "hosp-1-waste")
    );
    assert!(
        !e.can_see("jd-dongcheng", "dental-a") && !e.can_see("jd-dongcheng", "wp-north-outlet")
    );
    for site in sites() {
        assert!(e.can_see("qu-shifan", &site.id) && e.can_see("shi-duty", &site.id));
    }
    assert!(!e.can_see("nobody", "dental-a") && !e.can_see("shi-duty", "no-such-site"));
    let mut e = e;
    fire(&mut e, "W2", "wp-east-outlet", "wm-1", Level::II, T0);
    fire(&mut e, "S1", "dental-a", "ac-1", Level::II, T0);
    assert_eq!(e.alerts_visible_to("sq-shuichang").len(), 1);
    assert_eq!(e.alerts_visible_to("jd-xicheng-missing").len(), 0);
    assert_eq!(e.alerts_visible_to("shi-duty").len(), 2);
}

/// Issue 15: with `http.public_url` every alert of a notice links to its console page and
/// the deadline sentence says to acknowledge there; without it, no link.
#[test]
fn with_a_public_url_every_alert_links_to_its_page_and_the_deadline_says_how() {
    let mut config = config_from(EXAMPLE);
    config.public_url = Some("https://weijian.example.gov.cn/".to_owned());
    let mut e = DeliveryEngine::new(config, &sites());
    let (id, _) = fire(
        &mut e,
        "W2",
        "wp-east-outlet",
        "wm-east-out-1",
        Level::II,
        T0,
    );
    let out = e.tick(at_secs(60));
    let n = &out.notices[0];
    let page = format!(
        "https://weijian.example.gov.cn/alerts/{}",
        id.replace('/', "%2F")
    );
    assert_eq!(n.links, std::slice::from_ref(&page));
    assert!(
        n.text_zh.contains(&format!("查看并确认：{page}")),
        "{}",
        n.text_zh
    );
    assert!(
        n.text_zh
            .contains("前打开上方链接确认，逾期将升级至街道级。"),
        "{}",
        n.text_zh
    );
    assert!(n.text_en.contains(&page), "{}", n.text_en);

    let mut e = engine();
    fire(
        &mut e,
        "W2",
        "wp-east-outlet",
        "wm-east-out-1",
        Level::II,
        T0,
    );
    let n = &e.tick(at_secs(60)).notices[0];
    assert!(n.links.is_empty());
    assert!(!n.text_zh.contains("http"), "{}", n.text_zh);
    assert!(
        n.text_zh.contains("前确认，逾期将升级至街道级。"),
        "{}",
        n.text_zh
    );
}

#[test]
fn channels_default_to_chinese_in_groups_and_both_languages_elsewhere() {
    let config = config_from(EXAMPLE);
    let huayuan = config.supervisor("sq-huayuan").unwrap();
    assert_eq!(huayuan.mobile.as_deref(), Some("13800000000"));
    let shuichang = config.supervisor("sq-shuichang").unwrap();
    let langs: Vec<(ChannelKind, Language)> = shuichang
        .channels
        .iter()
        .map(|c| (c.kind, c.language()))
        .collect();
    assert_eq!(
        langs,
        [
            (ChannelKind::Wecom, Language::Zh),
            (ChannelKind::Mqtt, Language::ZhEn)
        ]
    );
}
