//! Delivery tests against the example grid (`config/weijian.example.toml` sites and
//! `config/supervisors.example.toml` supervisors).

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use super::*;
use crate::event::{AlertEvent, EventKind, Evidence};
use crate::level::Level;
use crate::model::{
    DentalSite, Disinfectant, GridPath, Site, SiteAttributes, SterilizerType, Timestamp,
    WasteStoreSite, WaterPoint, WaterSite,
};

const EXAMPLE: &str = include_str!("../../../config/supervisors.example.toml");

/// 2026-11-22T00:00:00Z.
const T0: Timestamp = Timestamp::from_secs(1_795_305_600);

fn at_secs(s: i64) -> Timestamp {
    T0.plus_secs(s)
}
fn at_mins(m: i64) -> Timestamp {
    T0.plus_secs(m * 60)
}

fn grid(street: &str, community: &str) -> GridPath {
    GridPath {
        district: "示范区".to_owned(),
        street: street.to_owned(),
        community: community.to_owned(),
    }
}

fn water(point: WaterPoint) -> SiteAttributes {
    SiteAttributes::Water(WaterSite {
        point,
        disinfectant: Disinfectant::FreeChlorine,
        small_supply: false,
    })
}

/// The sites of `config/weijian.example.toml`.
fn sites() -> Vec<Site> {
    vec![
        Site {
            id: "wp-east-outlet".into(),
            name: "城东水厂 出厂水".to_owned(),
            grid: grid("东城街道", "水厂社区"),
            attributes: water(WaterPoint::Outlet),
        },
        Site {
            id: "wp-east-tap-07".into(),
            name: "城东水厂 管网末梢水 7号点".to_owned(),
            grid: grid("东城街道", "花园社区"),
            attributes: water(WaterPoint::NetworkEnd),
        },
        Site {
            id: "wp-north-outlet".into(),
            name: "北郊小型集中式供水站 出厂水".to_owned(),
            grid: grid("北郊镇", "北村"),
            attributes: water(WaterPoint::Outlet),
        },
        Site {
            id: "hosp-1-waste".into(),
            name: "区人民医院 医疗废物暂存间".to_owned(),
            grid: grid("东城街道", "花园社区"),
            attributes: SiteAttributes::WasteStore(WasteStoreSite {
                refrigerated: true,
                max_temp_c: Some(20.0),
                collection_windows: vec![],
            }),
        },
        Site {
            id: "dental-a".into(),
            name: "阳光口腔诊所 消毒室".to_owned(),
            grid: grid("西城街道", "学府社区"),
            attributes: SiteAttributes::DentalSterilization(DentalSite {
                sterilizer: SterilizerType::Prevac,
                bi_interval_days: 7,
            }),
        },
    ]
}

fn config_from(src: &str) -> DeliveryConfig {
    match DeliveryConfig::from_toml(src, "test.toml", &sites()) {
        Ok(l) => l.config,
        Err(errs) => panic!("{errs:#?}"),
    }
}

fn engine() -> DeliveryEngine {
    DeliveryEngine::new(config_from(EXAMPLE), &sites())
}

/// The example supervisors with other timing.
fn engine_with(delivery: &str) -> DeliveryEngine {
    let start = EXAMPLE.find("[delivery]").unwrap_or(0);
    let end = EXAMPLE.find("[[supervisors]]").unwrap_or(EXAMPLE.len());
    let src = format!("{}{delivery}\n{}", &EXAMPLE[..start], &EXAMPLE[end..]);
    DeliveryEngine::new(config_from(&src), &sites())
}

fn site_grid(site: &str) -> GridPath {
    sites()
        .into_iter()
        .find(|s| &*s.id == site)
        .map(|s| s.grid)
        .unwrap_or_else(|| grid("?", "?"))
}

fn event(
    rule: &str,
    site: &str,
    device: &str,
    level: Level,
    kind: EventKind,
    ts: Timestamp,
) -> AlertEvent {
    AlertEvent {
        alert_id: format!("{rule}/{site}/{device}/{}", T0.as_micros()),
        rule: rule.to_owned(),
        level,
        kind,
        site: site.to_owned(),
        device: device.to_owned(),
        subject: None,
        grid: site_grid(site),
        started_at: T0,
        ts,
        reason: "test".to_owned(),
        evidence: vec![
            Evidence::number("value", 0.1),
            Evidence::number("limit", 0.3),
        ],
        summary_zh: format!(
            "【{}·告警】{rule} 测试：{site} 设备 {device}",
            level.label_zh()
        ),
        summary_en: format!("[Level {level}] {rule} test: {site} device {device}"),
    }
}

fn fire(
    e: &mut DeliveryEngine,
    rule: &str,
    site: &str,
    device: &str,
    level: Level,
    now: Timestamp,
) -> (String, Outcome) {
    let ev = event(rule, site, device, level, EventKind::Firing, now);
    let out = e.on_alert_event(&ev, now);
    (ev.alert_id, out)
}

fn recipients(n: &Notice) -> Vec<&str> {
    n.recipients.iter().map(|r| r.supervisor.as_str()).collect()
}

/// Ticks every `step` seconds from `from` to `to` inclusive, collecting the notices.
fn run(e: &mut DeliveryEngine, from: Timestamp, to: Timestamp, step: i64) -> Outcome {
    let mut out = Outcome::default();
    let mut t = from;
    while t <= to {
        out.extend(e.tick(t));
        t = t.plus_secs(step);
    }
    out
}

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
        n.text_zh.starts_with("【二级橙色·新告警】城东水厂 出厂水"),
        "{}",
        n.text_zh
    );
    assert!(n.text_zh.contains("处置建议") && n.text_en.contains("What to do"));
    assert!(n.text_zh.contains("证据：value=0.1"));
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
    assert!(n.text_zh.contains("共 10 条告警"));
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
fn a_bearer_token_hash_finds_its_supervisor() {
    let e = engine();
    let hash = "51CB393DDFD8F83343329800A455DBC0454CE17C1198437BCECF35E4CB9C890F";
    assert_eq!(
        e.config()
            .supervisor_by_token_sha256(hash)
            .map(|s| s.id.as_str()),
        Some("qu-shifan")
    );
    assert!(e
        .config()
        .supervisor_by_token_sha256(&"0".repeat(64))
        .is_none());
    assert!(e.config().supervisor_by_token_sha256("").is_none());
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

#[test]
fn snapshot_and_restore_mid_escalation_keep_the_deadline() {
    let mut e = engine();
    let (id, _) = fire(&mut e, "W2", "wp-east-outlet", "wm-1", Level::I, T0);
    fire(&mut e, "G1", "hosp-1-waste", "ws-1", Level::IV, at_mins(16));
    e.tick(at_secs(60));
    e.tick(at_mins(16)); // escalated to the street; the G1 group is pending
    let deadline = e.alert(&id).and_then(|a| a.ack_deadline);
    assert_eq!(deadline, Some(at_mins(31)));
    let json = serde_json::to_string(&e.snapshot()).unwrap_or_default();
    let snap: DeliverySnapshot = serde_json::from_str(&json).unwrap_or_default();
    let restored = DeliveryEngine::restore(config_from(EXAMPLE), &sites(), snap);
    let Ok(mut r) = restored else {
        panic!("{restored:?}")
    };
    assert_eq!(r.snapshot(), e.snapshot());
    assert!(r
        .tick(at_mins(31).plus_secs(-1))
        .notices
        .iter()
        .all(|n| n.kind == NoticeKind::New));
    let a = r.tick(at_mins(31));
    let b = {
        e.tick(at_mins(31).plus_secs(-1));
        e.tick(at_mins(31))
    };
    assert_eq!(a, b, "restored engine behaves exactly like the original");
    assert!(matches!(
        a.events[0].kind,
        DeliveryEventKind::Escalated {
            to: Tier::District,
            ..
        }
    ));
    let bad = DeliverySnapshot {
        version: 99,
        ..DeliverySnapshot::default()
    };
    assert!(matches!(
        DeliveryEngine::restore(config_from(EXAMPLE), &sites(), bad),
        Err(DeliveryError::SnapshotVersion { found: 99, .. })
    ));
}

#[test]
fn the_example_config_loads_with_the_rules_md_defaults() {
    let loaded = DeliveryConfig::from_toml(EXAMPLE, "supervisors.example.toml", &sites());
    let Ok(loaded) = loaded else {
        panic!("{loaded:?}")
    };
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    assert_eq!(loaded.config.timing, DeliveryTiming::default());
    assert_eq!(loaded.config.supervisors.len(), 7);
    let tiers: BTreeMap<&str, Tier> = loaded
        .config
        .supervisors
        .iter()
        .map(|s| (s.id.as_str(), s.tier()))
        .collect();
    assert_eq!(tiers["shi-duty"], Tier::City);
    assert_eq!(tiers["qu-shifan"], Tier::District);
    assert_eq!(tiers["jd-beijiao"], Tier::Street);
    assert_eq!(tiers["sq-xuefu"], Tier::Community);
    let t = DeliveryTiming::default();
    assert_eq!(
        Level::ALL.map(|l| (t.ack_secs(l) / 60, t.repeat_secs(l).map(|s| s / 60))),
        [
            (15, Some(30)),
            (60, Some(120)),
            (240, Some(720)),
            (1440, None)
        ]
    );
}

fn errors(src: &str) -> Vec<(String, Option<usize>, String)> {
    match DeliveryConfig::from_toml(src, "t.toml", &sites()) {
        Ok(l) => panic!("loaded: {:?}", l.config),
        Err(errs) => errs
            .into_iter()
            .map(|e| (e.path, e.line, e.message))
            .collect(),
    }
}

const CITY: &str = "[[supervisors]]\nid = \"city\"\nname = \"市\"\ncell = {}\ntoken_sha256 = \"9c16e77dfccf915ddd0f58f3073ca60dfa8e8a27d69b368364a8129acd4ce677\"\nchannels = [{ kind = \"email\", target = \"a@b.cn\" }]\n";

#[test]
fn unknown_keys_and_bad_channel_kinds_are_errors_with_key_and_line() {
    let src = format!("{CITY}\n[delivery]\nack_deadline_mins = {{ I = 15 }}\ngroup_windows = 60\n");
    let errs = errors(&src);
    assert_eq!(errs.len(), 1);
    assert_eq!(
        (errs[0].0.as_str(), errs[0].1),
        ("group_windows", Some(10)),
        "{errs:?}"
    );
    assert!(errs[0].2.contains("unknown field"), "{errs:?}");

    let src = CITY.replace("kind = \"email\"", "kind = \"sms\"");
    let errs = errors(&src);
    assert_eq!(errs[0].1, Some(6), "{errs:?}");
    assert!(errs[0].2.contains("sms"), "{errs:?}");
    assert!(errs[0].0.starts_with("channels"), "{errs:?}");

    let errs = errors(&format!("{CITY}[delivery]\nrepeat_mins = {{ V = 3 }}\n"));
    assert_eq!(errs[0].1, Some(8), "{errs:?}");
}

#[test]
fn semantic_config_errors_are_all_reported_with_lines() {
    let src = format!(
        "{CITY}
[[supervisors]]
id = \"city\"
name = \"dup\"
cell = {{ district = \"示范区\", street = \"东城街道\", community = \"无此社区\" }}
token_sha256 = \"xyz\"
channels = [{{ kind = \"email\", target = \"not-an-address\" }}, {{ kind = \"wecom\", target = \"qyapi\", secret_env = \"the-secret\" }}]

[[supervisors]]
id = \"b\"
name = \"b\"
cell = {{ district = \"示范区\", community = \"水厂社区\" }}
token_sha256 = \"9C16E77DFCCF915DDD0F58F3073CA60DFA8E8A27D69B368364A8129ACD4CE677\"

[delivery]
ack_deadline_mins = {{ II = 0 }}
"
    );
    let errs = errors(&src);
    let got: Vec<(&str, Option<usize>)> = errs.iter().map(|(p, l, _)| (p.as_str(), *l)).collect();
    assert_eq!(
        got,
        [
            ("delivery.ack_deadline_mins.II", Some(22)),
            ("supervisors[1] (city).id", Some(9)),
            ("supervisors[1] (city).cell", Some(11)),
            ("supervisors[1] (city).channels[0].target", Some(13)),
            ("supervisors[1] (city).channels[1].target", Some(13)),
            ("supervisors[1] (city).channels[1].secret_env", Some(13)),
            ("supervisors[1] (city).token_sha256", Some(12)),
            ("supervisors[2] (b).cell", Some(18)),
            ("supervisors[2] (b).token_sha256", Some(19)),
        ],
        "{errs:#?}"
    );
    assert!(errs[1].2.contains("duplicate"));
    assert!(errs[2].2.contains("无此社区"));
    assert!(errs[8].2.contains("same token hash as supervisor city"));
}

#[test]
fn a_site_without_any_responsible_supervisor_is_an_error() {
    let src = "[[supervisors]]\nid = \"e\"\nname = \"东城\"\ncell = { district = \"示范区\", street = \"东城街道\" }\ntoken_sha256 = \"9c16e77dfccf915ddd0f58f3073ca60dfa8e8a27d69b368364a8129acd4ce677\"\n";
    let errs = errors(src);
    let uncovered: Vec<&str> = errs.iter().map(|(p, _, _)| p.as_str()).collect();
    assert_eq!(
        uncovered,
        ["sites.wp-north-outlet", "sites.dental-a"],
        "{errs:#?}"
    );
    assert!(errs[0].2.contains("no responsible supervisor"));
}

#[test]
fn a_supervisor_without_channels_is_a_warning() {
    let src = CITY.replace(
        "channels = [{ kind = \"email\", target = \"a@b.cn\" }]\n",
        "",
    );
    let loaded = DeliveryConfig::from_toml(&src, "t.toml", &sites());
    let Ok(loaded) = loaded else {
        panic!("{loaded:?}")
    };
    assert_eq!(loaded.warnings.len(), 1);
    assert_eq!(loaded.warnings[0].line, Some(1));
}

// ---------------------------------------------------------------------------------------------
// Property: arbitrary sequences never panic, and an acknowledged alert is never escalated or
// repeated (until a more severe level clears the acknowledgement).

#[derive(Debug, Clone)]
enum Op {
    Fire {
        site: usize,
        device: usize,
        level: usize,
    },
    Level {
        alert: usize,
        level: usize,
    },
    Resolve {
        alert: usize,
    },
    Tick {
        mins: i64,
    },
    Ack {
        alert: usize,
        sup: usize,
    },
    ResolveManually {
        alert: usize,
        sup: usize,
    },
    Silence {
        site: usize,
        device: Option<usize>,
        mins: i64,
        sup: usize,
    },
    Lift {
        sup: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..5usize, 0..3usize, 0..4usize).prop_map(|(site, device, level)| Op::Fire {
            site,
            device,
            level
        }),
        (0..15usize, 0..4usize).prop_map(|(alert, level)| Op::Level { alert, level }),
        (0..15usize).prop_map(|alert| Op::Resolve { alert }),
        (0..200i64).prop_map(|mins| Op::Tick { mins }),
        (0..15usize, 0..9usize).prop_map(|(alert, sup)| Op::Ack { alert, sup }),
        (0..15usize, 0..9usize).prop_map(|(alert, sup)| Op::ResolveManually { alert, sup }),
        (
            0..5usize,
            proptest::option::of(0..3usize),
            -5..300i64,
            0..9usize
        )
            .prop_map(|(site, device, mins, sup)| Op::Silence {
                site,
                device,
                mins,
                sup
            }),
        (0..9usize).prop_map(|sup| Op::Lift { sup }),
    ]
}

const SUPS: [&str; 9] = [
    "sq-shuichang",
    "sq-huayuan",
    "sq-xuefu",
    "jd-dongcheng",
    "jd-beijiao",
    "qu-shifan",
    "shi-duty",
    "nobody",
    "sq-beicun",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn arbitrary_sequences_never_panic_nor_escalate_an_acknowledged_alert(ops in proptest::collection::vec(op(), 1..60)) {
        let sites = sites();
        let mut e = engine();
        let mut now = T0;
        let mut alerts: Vec<AlertEvent> = Vec::new();
        let mut acked: BTreeSet<String> = BTreeSet::new();
        let mut ids = BTreeSet::new();
        let mut silences = 0;
        for op in ops {
            now = now.plus_secs(7);
            let out = match op {
                Op::Fire { site, device, level } => {
                    let ev = event(&format!("G{}", alerts.len()), &sites[site].id, &format!("d{device}"), Level::ALL[level], EventKind::Firing, now);
                    alerts.push(ev.clone());
                    e.on_alert_event(&ev, now)
                }
                Op::Level { alert, level } => match alerts.get(alert) {
                    Some(a) => {
                        let ev = AlertEvent { level: Level::ALL[level], kind: EventKind::LevelChanged, ts: now, ..a.clone() };
                        e.on_alert_event(&ev, now)
                    }
                    None => Outcome::default(),
                },
                Op::Resolve { alert } => match alerts.get(alert) {
                    Some(a) => e.on_alert_event(&AlertEvent { kind: EventKind::Resolved, ts: now, ..a.clone() }, now),
                    None => Outcome::default(),
                },
                Op::Tick { mins } => { now = now.plus_secs(mins * 60); e.tick(now) }
                Op::Ack { alert, sup } => {
                    let id = alerts.get(alert).map_or("none", |a| a.alert_id.as_str()).to_owned();
                    let r = e.acknowledge(&id, SUPS[sup], "ack", now).unwrap_or_default();
                    if e.alert(&id).is_some_and(|a| a.ack.is_some()) { acked.insert(id); }
                    r
                }
                Op::ResolveManually { alert, sup } => {
                    let id = alerts.get(alert).map_or("none", |a| a.alert_id.as_str()).to_owned();
                    e.resolve_manually(&id, SUPS[sup], "manual", now).unwrap_or_default()
                }
                Op::Silence { site, device, mins, sup } => {
                    silences += 1;
                    let site = sites[site].id.to_string();
                    let scope = match device {
                        Some(d) => SilenceScope::Device { site, device: format!("d{d}") },
                        None => SilenceScope::Site { site },
                    };
                    let s = Silence { id: format!("s{silences}"), scope, by: SUPS[sup].into(), reason: "维护".into(), until: now.plus_secs(mins * 60) };
                    e.add_silence(s, now).unwrap_or_default()
                }
                Op::Lift { sup } => e.expire_silence(&format!("s{silences}"), SUPS[sup], now).unwrap_or_default(),
            };
            for ev in &out.events {
                if let DeliveryEventKind::AcknowledgementCleared { .. } = ev.kind {
                    acked.remove(&ev.alert_id);
                }
            }
            for ev in &out.events {
                if let DeliveryEventKind::Escalated { .. } = ev.kind {
                    prop_assert!(!acked.contains(&ev.alert_id), "escalated after ack: {}", ev.alert_id);
                }
            }
            for n in &out.notices {
                prop_assert!(ids.insert(n.id.clone()), "duplicate notice id {}", n.id);
                prop_assert!(!n.recipients.is_empty());
                if matches!(n.kind, NoticeKind::Escalated | NoticeKind::Repeat | NoticeKind::New) {
                    for a in &n.alerts {
                        prop_assert!(!acked.contains(a), "{:?} notice for acknowledged {a}", n.kind);
                    }
                }
                for r in &n.recipients {
                    prop_assert!(e.can_see(&r.supervisor, &n.site), "{} told about {}", r.supervisor, n.site);
                }
            }
            // Acked alerts that got resolved drop out of the model.
            acked.retain(|id| e.alert(id).is_some());
        }
        let json = serde_json::to_string(&e.snapshot()).unwrap_or_default();
        prop_assert!(serde_json::from_str::<DeliverySnapshot>(&json).is_ok());
    }
}
