//! Rule tests shipped with a pack, compiled: each `[[tests]]` entry becomes a [`PackTest`] (a
//! site, a device, timed inputs and the expected transitions). They are run by
//! [`crate::pack_tests::run_pack_tests`].

use std::fmt;

use super::config::{RawTest, RawTestInput};
use super::error::Errors;
use crate::event::EventKind;
use crate::input::Input;
use crate::level::Level;
use crate::model::{
    DataFlag, Device, DeviceKind, Disinfectant, GridPath, Id, Period, Reading, Site,
    SiteAttributes, SiteKind, Stat, Timestamp, WasteStoreSite, WaterPoint, WaterSite,
};
use crate::waste::{BagIn, Category, Disinfection, Handover};

/// Base time of every pack test: 2026-11-22T00:00:00Z. `at_min` counts from here.
pub const TEST_BASE: Timestamp = Timestamp::from_secs(1_795_305_600);
/// Site id used by pack tests.
pub const TEST_SITE: &str = "test-site";
/// Device id used by pack tests.
pub const TEST_DEVICE: &str = "test-device";

/// One expected transition.
#[derive(Debug, Clone, PartialEq)]
pub struct Expected {
    pub rule: String,
    pub level: Level,
    pub kind: EventKind,
    pub at_min: f64,
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} at {} min",
            self.rule,
            self.level,
            self.kind.as_str(),
            self.at_min
        )
    }
}

/// A compiled pack test.
#[derive(Debug, Clone, PartialEq)]
pub struct PackTest {
    pub name: String,
    pub line: usize,
    pub site: Site,
    pub device: Device,
    pub rules: Option<Vec<String>>,
    /// Inputs sorted by time (stable: same-time inputs keep file order).
    pub inputs: Vec<Input>,
    pub expect: Vec<Expected>,
    pub no_alerts: bool,
}

/// Compiles one `[[tests]]` entry; errors go to `errs`.
pub(super) fn compile_test(
    raw: RawTest,
    path: &str,
    span: std::ops::Range<usize>,
    rule_ids: &[String],
    errs: &mut Errors<'_>,
) -> Option<PackTest> {
    let before = errs.list.len();
    let at = Some(span.clone());
    let attributes = match raw.site.kind {
        SiteKind::Water => SiteAttributes::Water(WaterSite {
            point: raw.site.point.unwrap_or(WaterPoint::Outlet),
            disinfectant: raw.site.disinfectant.unwrap_or(Disinfectant::FreeChlorine),
            small_supply: raw.site.small_supply.unwrap_or(false),
        }),
        SiteKind::WasteStore => SiteAttributes::WasteStore(WasteStoreSite {
            refrigerated: raw.site.max_temp_c.is_some(),
            max_temp_c: raw.site.max_temp_c,
            collection_windows: raw.site.collection_windows.clone().unwrap_or_default(),
        }),
        SiteKind::DentalSterilization => {
            SiteAttributes::DentalSterilization(crate::model::DentalSite {
                sterilizer: raw
                    .site
                    .sterilizer
                    .unwrap_or(crate::model::SterilizerType::Prevac),
                bi_interval_days: raw.site.bi_interval_days.unwrap_or(7),
            })
        }
    };
    let site = Site {
        id: TEST_SITE.into(),
        name: "测试站点 test site".to_owned(),
        grid: GridPath {
            district: "test-district".to_owned(),
            street: "test-street".to_owned(),
            community: "test-community".to_owned(),
        },
        attributes,
    };
    let kind = raw.site.kind.device_kind();
    let device = Device {
        id: TEST_DEVICE.into(),
        site: TEST_SITE.into(),
        kind,
        expected_interval_secs: raw.interval_secs.unwrap_or(60),
    };
    for id in raw
        .rules
        .iter()
        .flatten()
        .chain(raw.expect.iter().map(|e| &e.rule))
    {
        if !rule_ids.contains(id) {
            errs.at(at.clone(), path, format!("unknown rule id {id:?}"));
        }
    }
    let mut expect = Vec::new();
    for (j, e) in raw.expect.iter().enumerate() {
        match EventKind::parse(&e.kind) {
            Some(kind) => expect.push(Expected {
                rule: e.rule.clone(),
                level: e.level,
                kind,
                at_min: e.at_min,
            }),
            None => errs.at(
                at.clone(),
                &format!("{path}.expect[{j}].kind"),
                "expected pending, firing, level_changed or resolved",
            ),
        }
    }
    if raw.no_alerts && !raw.expect.is_empty() {
        errs.at(at.clone(), path, "no_alerts and expect exclude each other");
    }
    if !raw.no_alerts && raw.expect.is_empty() {
        errs.at(at.clone(), path, "give expect = [...] or no_alerts = true");
    }
    let mut timed: Vec<(i64, Input)> = Vec::new();
    for (j, inp) in raw.inputs.iter().enumerate() {
        let ip = format!("{path}.inputs[{j}]");
        let line = Some(inp.span());
        let i = inp.get_ref();
        let times = match times_of(i) {
            Ok(t) => t,
            Err(msg) => {
                errs.at(line, &ip, msg);
                continue;
            }
        };
        for (k, ts) in times.into_iter().enumerate() {
            match input_of(i, ts, k as u64, kind) {
                Ok(input) => timed.push((ts.0, input)),
                Err(msg) => {
                    errs.at(line.clone(), &ip, msg);
                    break;
                }
            }
        }
    }
    timed.sort_by_key(|(t, _)| *t);
    if errs.list.len() > before {
        return None;
    }
    Some(PackTest {
        name: raw.name,
        line: errs.line_of(span.start),
        site,
        device,
        rules: raw.rules,
        inputs: timed.into_iter().map(|(_, i)| i).collect(),
        expect,
        no_alerts: raw.no_alerts,
    })
}

fn at(min: f64) -> Timestamp {
    Timestamp(TEST_BASE.0 + (min * Timestamp::MICROS_PER_MIN as f64).round() as i64)
}

fn times_of(i: &RawTestInput) -> Result<Vec<Timestamp>, String> {
    match (i.at_min, i.from_min, i.to_min, i.every_min) {
        (Some(m), None, None, None) => Ok(vec![at(m)]),
        (None, Some(from), Some(to), Some(every)) if every > 0.0 && to >= from => {
            let n = ((to - from) / every).floor() as usize;
            if n > 100_000 {
                return Err("series too long (more than 100000 inputs)".to_owned());
            }
            Ok((0..=n).map(|k| at(from + k as f64 * every)).collect())
        }
        _ => Err(
            "give at_min, or from_min, to_min and every_min (> 0, to_min >= from_min)".to_owned(),
        ),
    }
}

fn input_of(i: &RawTestInput, ts: Timestamp, k: u64, kind: DeviceKind) -> Result<Input, String> {
    let site: Id = TEST_SITE.into();
    let device: Id = TEST_DEVICE.into();
    if let Some(input) = waste_input(i, ts, k, &site, &device)? {
        return Ok(input);
    }
    if let Some(event) = sterilizer_input(i, ts)? {
        return Ok(Input::Sterilizer(event));
    }
    let kinds = [
        i.value.is_some() && i.sensor_fault.is_none(),
        i.tick.is_some(),
        i.maintenance.is_some(),
        i.online.is_some(),
        i.sensor_fault.is_some(),
        i.clock_fault.is_some(),
    ];
    if kinds.iter().filter(|b| **b).count() != 1 {
        return Err("give exactly one of: metric+value, tick, maintenance, online, sensor_fault (+metric, value), clock_fault".to_owned());
    }
    if i.tick == Some(true) {
        return Ok(Input::Tick(ts));
    }
    if let Some(active) = i.maintenance {
        return Ok(Input::Maintenance {
            site,
            device,
            ts,
            active,
            reason: "pack test".to_owned(),
        });
    }
    if let Some(online) = i.online {
        return Ok(Input::Status {
            site,
            device,
            ts,
            online,
        });
    }
    if let Some(detail) = &i.clock_fault {
        return Ok(Input::ClockFault {
            site,
            device,
            ts,
            detail: detail.clone(),
        });
    }
    let (Some(metric), Some(value)) = (i.metric, i.value) else {
        return Err("a reading or sensor_fault needs metric and value".to_owned());
    };
    if i.sensor_fault == Some(true) {
        return Ok(Input::SensorFault {
            site,
            device,
            ts,
            metric,
            value,
        });
    }
    if !metric.belongs_to(kind) {
        return Err(format!("{metric} is not a {kind} metric"));
    }
    Ok(Input::Reading(Reading {
        site,
        device,
        ts,
        metric,
        value,
        flag: i.flag.unwrap_or(DataFlag::N),
        period: Period::Instant,
        stat: Stat::Value,
        seq: i.seq.map(|s| s + k),
    }))
}

/// A waste-store event line (`bag_in`, `handover` or `disinfection`), or `None` for other
/// lines. In a series (`from_min`..`to_min`) the k-th `bag_in` gets the id `<bag_in>-<k>`.
fn waste_input(
    i: &RawTestInput,
    ts: Timestamp,
    k: u64,
    site: &Id,
    device: &Id,
) -> Result<Option<Input>, String> {
    let given = [
        i.bag_in.is_some(),
        i.handover.is_some(),
        i.disinfection.is_some(),
    ];
    match given.iter().filter(|b| **b).count() {
        0 => return Ok(None),
        1 => {}
        _ => return Err("give one of bag_in, handover, disinfection per input".to_owned()),
    }
    let others = i.metric.is_some()
        || i.value.is_some()
        || i.tick.is_some()
        || i.maintenance.is_some()
        || i.online.is_some()
        || i.sensor_fault.is_some()
        || i.clock_fault.is_some();
    if others {
        return Err("a waste event line takes no metric, value, tick or other input".to_owned());
    }
    let series = i.from_min.is_some();
    if let Some(bag) = &i.bag_in {
        let weight_kg = i
            .weight_kg
            .ok_or_else(|| "bag_in needs weight_kg".to_owned())?;
        return Ok(Some(Input::BagIn(BagIn {
            site: site.clone(),
            device: device.clone(),
            ts,
            bag_id: if series {
                format!("{bag}-{k}")
            } else {
                bag.clone()
            },
            category: i.category.unwrap_or(Category::Infectious),
            weight_kg,
            department: None,
        })));
    }
    if let Some(manifest) = &i.handover {
        let weight_kg = i
            .weight_kg
            .ok_or_else(|| "handover needs weight_kg".to_owned())?;
        let bag_ids = i
            .bag_ids
            .clone()
            .ok_or_else(|| "handover needs bag_ids".to_owned())?;
        return Ok(Some(Input::Handover(Handover {
            site: site.clone(),
            device: device.clone(),
            ts,
            manifest_id: if series {
                format!("{manifest}-{k}")
            } else {
                manifest.clone()
            },
            bag_ids,
            weight_kg,
            carrier: "test-carrier".to_owned(),
        })));
    }
    Ok(i.disinfection.as_ref().map(|method| {
        Input::Disinfection(Disinfection {
            site: site.clone(),
            device: device.clone(),
            ts,
            method: method.clone(),
            duration_min: None,
        })
    }))
}

/// A sterilizer event input (`cycle_start`, `cycle_end`, `bd_result`, `bi_result`), or
/// `None` when the line is not one.
fn sterilizer_input(
    i: &RawTestInput,
    ts: Timestamp,
) -> Result<Option<crate::sterilization::SterilizerEvent>, String> {
    use crate::sterilization::{DeviceVerdict, Program, SterilizerEvent, SterilizerEventKind};
    let given = [
        i.cycle_start.is_some(),
        i.cycle_end.is_some(),
        i.bd_result.is_some(),
        i.bi_result.is_some(),
    ];
    match given.iter().filter(|b| **b).count() {
        0 => return Ok(None),
        1 => {}
        _ => return Err("give one of cycle_start, cycle_end, bd_result, bi_result".to_owned()),
    }
    if i.metric.is_some() || i.value.is_some() || i.tick.is_some() {
        return Err("a sterilizer event takes no metric, value or tick".to_owned());
    }
    let result = |allowed: &[&str]| -> Result<String, String> {
        match &i.result {
            Some(r) if allowed.contains(&r.as_str()) => Ok(r.clone()),
            _ => Err(format!("give result = one of {allowed:?}")),
        }
    };
    let kind = if let Some(id) = &i.cycle_start {
        let program = i
            .program
            .as_deref()
            .and_then(Program::parse)
            .ok_or("cycle_start needs program = a program name of the payload contract")?;
        SterilizerEventKind::CycleStart {
            cycle_id: id.clone(),
            program,
            implant_load: i.implant_load.unwrap_or(false),
        }
    } else if let Some(id) = &i.cycle_end {
        let device_verdict = i
            .verdict
            .as_deref()
            .and_then(DeviceVerdict::parse)
            .ok_or("cycle_end needs verdict = pass | fail | aborted")?;
        SterilizerEventKind::CycleEnd {
            cycle_id: id.clone(),
            device_verdict,
        }
    } else if let Some(id) = &i.bd_result {
        SterilizerEventKind::BdResult {
            cycle_id: id.clone(),
            pass: result(&["pass", "fail"])? == "pass",
        }
    } else if let Some(bi) = &i.bi_result {
        SterilizerEventKind::BiResult {
            bi_id: bi.clone(),
            cycle_id: i
                .cycle
                .clone()
                .ok_or("bi_result needs cycle = the cycle id")?,
            positive: result(&["negative", "positive"])? == "positive",
        }
    } else {
        return Ok(None);
    };
    Ok(Some(SterilizerEvent {
        site: TEST_SITE.into(),
        device: TEST_DEVICE.into(),
        ts,
        kind,
    }))
}
