//! Delivery tests against the example grid (`config/weijian.example.toml` sites and
//! `config/supervisors.example.toml` supervisors).
//!
//! # Layout
//!
//! This file holds the shared fixtures (example sites and supervisors, event builders, tick
//! helpers); the tests are by concern: `routing` (and visibility), `grouping`, `escalation`
//! (deadlines, repeats, level changes), `acknowledgement` (and resolution), `silences`,
//! `config`, `snapshot`, and `props` (property tests).

use std::collections::{BTreeMap, BTreeSet};

use super::*;
use crate::event::{AlertEvent, EventKind, Evidence};
use crate::level::Level;
use crate::model::{
    DentalSite, Disinfectant, GridPath, Site, SiteAttributes, SterilizerType, Timestamp,
    WasteStoreSite, WaterPoint, WaterSite,
};

const EXAMPLE: &str = include_str!("../../../../config/supervisors.example.toml");

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
            "【{}·新预警】{rule} 测试：{site} 设备 {device}",
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

mod acknowledgement;
mod config;
mod escalation;
mod grouping;
mod props;
mod routing;
mod silences;
mod snapshot;
