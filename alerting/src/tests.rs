//! Crate-level tests: condition kinds, each rule on realistic series, restart safety, a normal
//! day at every kind of water site, the loader's errors, properties and throughput.

mod close_alert;
mod conditions;
mod config_errors;
mod gauges;
mod liveness;
mod normal_day;
mod pack;
mod props;
mod restart;
mod rules;
mod stuck;
mod texts;
mod throughput;
mod waste;

use crate::event::{AlertEvent, EventKind, Evidence};
use crate::input::Input;
use crate::level::Level;
use crate::model::{
    DataFlag, Device, DeviceKind, Disinfectant, GridPath, Metric, Period, Reading, Site,
    SiteAttributes, Stat, Timestamp, WaterPoint, WaterSite,
};
use crate::{Engine, RulePack};

/// 2026-11-22T00:00:00Z.
pub(crate) const T0: i64 = 1_795_305_600;

pub(crate) fn at(min: f64) -> Timestamp {
    Timestamp(T0 * 1_000_000 + (min * 60_000_000.0) as i64)
}

pub(crate) fn pack() -> RulePack {
    RulePack::default_pack().unwrap()
}

pub(crate) fn water_site(
    id: &str,
    point: WaterPoint,
    disinfectant: Disinfectant,
    small: bool,
) -> Site {
    Site {
        id: id.into(),
        name: format!("水厂 {id}"),
        grid: GridPath {
            district: "西湖区".into(),
            street: "北山街道".into(),
            community: "曙光社区".into(),
        },
        attributes: SiteAttributes::Water(WaterSite {
            point,
            disinfectant,
            small_supply: small,
        }),
    }
}

pub(crate) fn device(id: &str, site: &str) -> Device {
    Device {
        id: id.into(),
        site: site.into(),
        kind: DeviceKind::WaterMonitor,
        expected_interval_secs: 60,
    }
}

/// An engine with the default pack, one water site `s1` of this kind and device `d1`.
pub(crate) fn engine_for(point: WaterPoint, dis: Disinfectant, small: bool) -> Engine {
    Engine::new(
        pack(),
        vec![water_site("s1", point, dis, small)],
        vec![device("d1", "s1")],
    )
}

/// An engine with the default pack, one free-chlorine outlet site `s1` and these devices.
pub(crate) fn outlet_engine_with(devices: Vec<Device>) -> Engine {
    Engine::new(
        pack(),
        vec![water_site(
            "s1",
            WaterPoint::Outlet,
            Disinfectant::FreeChlorine,
            false,
        )],
        devices,
    )
}

/// An engine with one free-chlorine outlet site `s1` and device `d1`.
pub(crate) fn outlet_engine() -> Engine {
    outlet_engine_with(vec![device("d1", "s1")])
}

pub(crate) fn reading(dev: &str, site: &str, min: f64, metric: Metric, value: f64) -> Input {
    Input::Reading(Reading {
        site: site.into(),
        device: dev.into(),
        ts: at(min),
        metric,
        value,
        flag: DataFlag::N,
        period: Period::Instant,
        stat: Stat::Value,
        seq: None,
    })
}

pub(crate) fn r(min: f64, metric: Metric, value: f64) -> Input {
    reading("d1", "s1", min, metric, value)
}

pub(crate) fn flagged(min: f64, metric: Metric, value: f64, flag: DataFlag) -> Input {
    let mut i = r(min, metric, value);
    if let Input::Reading(rd) = &mut i {
        rd.flag = flag;
    }
    i
}

/// Feeds inputs, returning all events.
pub(crate) fn run(engine: &mut Engine, inputs: impl IntoIterator<Item = Input>) -> Vec<AlertEvent> {
    inputs
        .into_iter()
        .flat_map(|i| engine.process(&i))
        .collect()
}

/// (rule, level, kind, minute) of events, for compact assertions.
pub(crate) fn brief(events: &[AlertEvent]) -> Vec<(String, Level, EventKind, f64)> {
    events
        .iter()
        .map(|e| {
            (
                e.rule.clone(),
                e.level,
                e.kind,
                (e.ts.0 - T0 * 1_000_000) as f64 / 60_000_000.0,
            )
        })
        .collect()
}

pub(crate) fn of_rule(events: &[AlertEvent], rule: &str) -> Vec<(String, Level, EventKind, f64)> {
    brief(events).into_iter().filter(|e| e.0 == rule).collect()
}

/// A series of one metric every minute from `from` to `to` inclusive.
pub(crate) fn series(from: i32, to: i32, metric: Metric, value: f64) -> Vec<Input> {
    (from..=to)
        .map(|m| r(f64::from(m), metric, value))
        .collect()
}

pub(crate) fn ev(
    rule: &str,
    level: Level,
    kind: EventKind,
    min: f64,
) -> (String, Level, EventKind, f64) {
    (rule.to_owned(), level, kind, min)
}
