//! Fleet tests: the demo configuration, payload shape against docs/payload-contract.md and
//! weijian's own validation, realism of the values, and the incidents of the demo scenario.

mod autoclave;
mod waste;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use alerting::model::{DeviceKind, Metric, Timestamp};
use serde_json::Value;

use super::steam::t_sat_c;
use super::*;
use alerting::Input;
use weijian_ingest::config::{Config, Registry};
use weijian_ingest::message::Message;
use weijian_ingest::reject::Reason;
use weijian_ingest::validate::Validator;

const DEMO: &str = include_str!("../../../../config/demo.toml");
const PREFIX: &str = "weijian/v1";
/// 2026-11-22T00:00:00+08:00.
const MIDNIGHT: Timestamp = Timestamp::from_secs(1_795_305_600 - 8 * 3600);

fn config() -> Config {
    Config::parse(DEMO, "demo.toml", &HashMap::<String, String>::new()).unwrap()
}

/// Runs a fleet from `start` for `hours`, stepping every `step_secs` of simulated time.
fn run(
    scenario: Scenario,
    seed: u64,
    start: Timestamp,
    hours: i64,
    step_secs: i64,
) -> Vec<Outbound> {
    let config = config();
    let mut fleet = Fleet::new(&config.registry, PREFIX, seed, scenario);
    let mut out = fleet.birth_messages(start);
    let end = start.plus_secs(hours * 3600);
    let mut now = start;
    while now <= end {
        out.extend(fleet.step(now));
        now = now.plus_secs(step_secs);
    }
    out
}

/// One calm day (computed once, shared by the tests that read it).
fn calm_day() -> Vec<Outbound> {
    static DAY: std::sync::OnceLock<Vec<Outbound>> = std::sync::OnceLock::new();
    DAY.get_or_init(|| run(Scenario::calm(), 7, MIDNIGHT, 24, 60))
        .clone()
}

fn json(o: &Outbound) -> Value {
    serde_json::from_slice(&o.payload).unwrap()
}

/// (site, device, channel) of a topic.
fn parts(topic: &str) -> (String, String, String) {
    let rest = topic.strip_prefix("weijian/v1/").unwrap();
    let p: Vec<&str> = rest.split('/').collect();
    assert_eq!(p.len(), 3, "{topic}");
    (p[0].into(), p[1].into(), p[2].into())
}

fn kind_of(registry: &Registry, device: &str) -> DeviceKind {
    registry.device(device).unwrap().kind
}

/// Every object of a payload (one object or an array).
fn objects(v: Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a,
        o => vec![o],
    }
}

/// Telemetry objects per device, in order.
fn telemetry_by_device(out: &[Outbound]) -> HashMap<String, Vec<Value>> {
    let mut m: HashMap<String, Vec<Value>> = HashMap::new();
    for o in out.iter().filter(|o| o.kind == OutboundKind::Telemetry) {
        let (_, device, _) = parts(&o.topic);
        m.entry(device).or_default().extend(objects(json(o)));
    }
    m
}

fn events_by_device(out: &[Outbound]) -> HashMap<String, Vec<Value>> {
    let mut m: HashMap<String, Vec<Value>> = HashMap::new();
    for o in out.iter().filter(|o| o.kind == OutboundKind::Event) {
        let (_, device, _) = parts(&o.topic);
        m.entry(device).or_default().extend(objects(json(o)));
    }
    m
}

fn ts_of(v: &Value) -> Timestamp {
    weijian_ingest::decode::json::parse_rfc3339(v["ts"].as_str().unwrap()).unwrap()
}

fn value(v: &Value, m: Metric) -> Option<f64> {
    v["values"].get(m.name()).and_then(Value::as_f64)
}

fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

/// Validates every message as weijian would, received at its own simulated time.
fn validate(out: &[Outbound]) -> Vec<weijian_ingest::validate::Processed> {
    let config = config();
    let mut v = Validator::new(config.registry.clone(), config.limits, PREFIX);
    out.iter()
        .map(|o| {
            v.process(&Message {
                received_at: o.ts.plus_secs(1),
                qos: 1,
                topic: o.topic.clone(),
                payload: o.payload.clone(),
            })
        })
        .collect()
}

#[test]
fn the_demo_configuration_is_valid_and_has_every_kind_of_site() {
    let config = config();
    let r = &config.registry;
    assert_eq!(r.site_count(), 7);
    assert_eq!(r.device_count(), 9);
    for kind in DeviceKind::ALL {
        assert!(r.devices().any(|d| d.kind == kind), "{kind}");
    }
    assert_eq!(config.mqtt.topic_prefix, PREFIX);
}

#[test]
fn timestamps_are_rfc3339_at_plus_eight_hours() {
    assert_eq!(
        rfc3339_cst(Timestamp::from_millis(1_795_305_600_250)),
        "2026-11-22T08:00:00.250+08:00"
    );
}

#[test]
fn a_calm_day_publishes_the_expected_topics_for_every_device_kind() {
    let out = calm_day();
    let config = config();
    let mut channels: HashMap<DeviceKind, HashSet<String>> = HashMap::new();
    let mut devices = HashSet::new();
    for o in &out {
        let (site, device, channel) = parts(&o.topic);
        let entry = config.registry.device(&device).unwrap();
        assert_eq!(&*entry.site, site, "{}", o.topic);
        assert_eq!(o.retain, channel == "status", "{}", o.topic);
        channels.entry(entry.kind).or_default().insert(channel);
        devices.insert(device);
    }
    assert_eq!(devices.len(), 9);
    let set = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<HashSet<_>>();
    assert_eq!(
        channels[&DeviceKind::WaterMonitor],
        set(&["status", "telemetry"])
    );
    assert_eq!(
        channels[&DeviceKind::WasteStore],
        set(&["status", "telemetry", "event"])
    );
    assert_eq!(
        channels[&DeviceKind::Autoclave],
        set(&["status", "telemetry", "event"])
    );
}

#[test]
fn every_calm_message_passes_weijian_validation_without_a_rejection() {
    let out = calm_day();
    let processed = validate(&out);
    let mut readings = 0;
    for (o, p) in out.iter().zip(&processed) {
        assert!(
            p.rejected.is_empty(),
            "{:?} for {} {}",
            p.rejected,
            o.topic,
            String::from_utf8_lossy(&o.payload)
        );
        readings += p.readings;
    }
    let expected: usize = out
        .iter()
        .filter(|o| o.kind == OutboundKind::Telemetry)
        .map(|o| o.items)
        .sum();
    assert_eq!(readings, expected);
}

#[test]
fn telemetry_follows_protocol_md_with_metrics_of_the_device_kind_inside_physical_ranges() {
    let out = calm_day();
    let config = config();
    for (device, objs) in telemetry_by_device(&out) {
        let kind = kind_of(&config.registry, &device);
        for o in objs {
            assert!(o["ts"].as_str().unwrap().ends_with("+08:00"), "{o}");
            assert!(o["seq"].as_u64().is_some(), "{o}");
            let values = o["values"].as_object().unwrap();
            assert!(!values.is_empty());
            for (name, v) in values {
                let m = Metric::from_name(name).unwrap();
                assert!(m.belongs_to(kind), "{name} on {kind}");
                let x = if m.is_state() {
                    f64::from(u8::from(v.as_bool().unwrap()))
                } else {
                    v.as_f64().unwrap()
                };
                let (lo, hi) = m.physical_range();
                assert!(x >= lo && x <= hi, "{device} {name} = {x}");
            }
            if kind != DeviceKind::Autoclave {
                assert!(o.get("cycle_id").is_none(), "{o}");
            }
        }
    }
}

#[test]
fn seq_increases_by_one_per_telemetry_object_for_each_device() {
    let out = run(Scenario::demo(), 11, MIDNIGHT, 12, 60);
    for (device, objs) in telemetry_by_device(&out) {
        let mut seqs: Vec<u64> = objs.iter().map(|o| o["seq"].as_u64().unwrap()).collect();
        // Arrays after an outage may come later than live objects; seq still never repeats.
        seqs.sort_unstable();
        for w in seqs.windows(2) {
            assert!(w[1] > w[0], "{device}: {w:?}");
        }
        let live: Vec<u64> = out
            .iter()
            .filter(|o| {
                o.kind == OutboundKind::Telemetry && o.topic.contains(&format!("/{device}/"))
            })
            .filter_map(|o| json(o)["seq"].as_u64())
            .collect();
        for w in live.windows(2) {
            assert!(w[1] > w[0], "{device}: {w:?}");
        }
    }
}

#[test]
fn water_values_are_realistic_for_the_point_and_disinfectant_on_a_calm_day() {
    let by = telemetry_by_device(&calm_day());
    let series =
        |d: &str, m: Metric| -> Vec<f64> { by[d].iter().filter_map(|o| value(o, m)).collect() };
    let outlet = series("wm-ljsc-out-1", Metric::FreeChlorineMgL);
    assert!(outlet.len() > 8000, "{}", outlet.len());
    let m = mean(&outlet);
    assert!((0.4..=0.9).contains(&m), "outlet free chlorine mean {m}");
    assert!(outlet.iter().all(|x| *x >= 0.3 && *x <= 2.0));
    let tap = series("wm-ljsc-tap-12", Metric::FreeChlorineMgL);
    assert!((0.1..=0.3).contains(&mean(&tap)), "tap mean {}", mean(&tap));
    assert!(tap.iter().all(|x| *x >= 0.05));
    let clo2 = series("wm-qsz-out-1", Metric::ChlorineDioxideMgL);
    assert!(clo2.iter().all(|x| *x >= 0.1 && *x <= 0.8));
    assert!(by["wm-qsz-out-1"]
        .iter()
        .all(|o| value(o, Metric::FreeChlorineMgL).is_none()));
    for d in ["wm-ljsc-out-1", "wm-ljsc-tap-12", "wm-qsz-out-1"] {
        assert!(series(d, Metric::Ph)
            .iter()
            .all(|x| (7.0..=7.8).contains(x)));
        assert!(series(d, Metric::TurbidityNtu)
            .iter()
            .all(|x| *x > 0.0 && *x < 1.0));
        assert!(series(d, Metric::ConductivityUsCm)
            .iter()
            .all(|x| (300.0..=500.0).contains(x)));
        let temp = series(d, Metric::TemperatureC);
        let spread = temp.iter().cloned().fold(f64::MIN, f64::max)
            - temp.iter().cloned().fold(f64::MAX, f64::min);
        assert!(
            spread > 0.5 && spread < 3.0,
            "{d} temperature spread {spread}"
        );
    }
    // Residual is lower in the afternoon than before dawn.
    let hour_mean = |h0: i64, h1: i64| {
        let xs: Vec<f64> = by["wm-ljsc-out-1"]
            .iter()
            .filter(|o| {
                let h = ts_of(o).secs_since(MIDNIGHT) / 3600;
                h >= h0 && h < h1
            })
            .filter_map(|o| value(o, Metric::FreeChlorineMgL))
            .collect();
        mean(&xs)
    };
    assert!(hour_mean(14, 18) < hour_mean(2, 6));
}

#[test]
fn waste_stores_keep_their_ledger_climate_door_and_lamp_on_a_calm_day() {
    let out = run(Scenario::calm(), 7, MIDNIGHT, 48, 60);
    let tel = telemetry_by_device(&out);
    let ev = events_by_device(&out);
    // Refrigerated store.
    let temps: Vec<f64> = tel["ws-ljrm-1"]
        .iter()
        .filter_map(|o| value(o, Metric::TemperatureC))
        .collect();
    assert!(
        temps.iter().all(|t| (4.0..=15.0).contains(t)),
        "{:?}",
        temps.iter().cloned().fold(f64::MIN, f64::max)
    );
    // Door only inside the collection windows 08:00-10:00 and 16:00-17:30; lamp only at night.
    for o in &tel["ws-ljrm-1"] {
        let sod = ts_of(o).secs_since(MIDNIGHT).rem_euclid(86_400);
        if o["values"]["door_open"] == Value::Bool(true) {
            assert!(
                (8 * 3600..10 * 3600).contains(&sod)
                    || (16 * 3600..17 * 3600 + 1800).contains(&sod),
                "door at {sod}"
            );
        }
        if o["values"]["uv_lamp_on"] == Value::Bool(true) {
            assert!(sod >= 22 * 3600, "lamp at {sod}");
        }
    }
    // Only the first device of a site keeps the ledger.
    assert!(!ev.contains_key("ws-ljrm-2"));
    for device in ["ws-ljrm-1", "ws-ljzy-1"] {
        let events = &ev[device];
        let mut weights: HashMap<String, f64> = HashMap::new();
        let mut handed = HashSet::new();
        let (mut handovers, mut disinfections) = (0, 0);
        for e in events {
            match e["type"].as_str().unwrap() {
                "bag_in" => {
                    let id = e["bag_id"].as_str().unwrap().to_string();
                    assert!(
                        weights
                            .insert(id, e["weight_kg"].as_f64().unwrap())
                            .is_none(),
                        "duplicate bag"
                    );
                }
                "handover" => {
                    handovers += 1;
                    let ids: Vec<&str> = e["bag_ids"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|b| b.as_str().unwrap())
                        .collect();
                    assert!(!ids.is_empty());
                    let sum: f64 = ids.iter().map(|id| weights[*id]).sum();
                    for id in ids {
                        assert!(handed.insert(id.to_string()), "bag {id} handed over twice");
                    }
                    let w = e["weight_kg"].as_f64().unwrap();
                    assert!(
                        (w - sum).abs() <= sum * 0.01 + 0.01,
                        "handover {w} vs bags {sum}"
                    );
                }
                "disinfection" => disinfections += 1,
                other => panic!("unexpected event {other}"),
            }
        }
        assert_eq!(handovers, 2, "{device}: one handover a day");
        assert!(
            disinfections >= 4,
            "{device}: {disinfections} disinfections in two days"
        );
        assert!(weights.len() >= 16, "{device}: {} bags", weights.len());
    }
}

/// Set temperature and minimum hold (s) of a program (WS 310.2-2016; docs/alert-rules.md).
fn program_limits(program: &str) -> Option<(f64, i64)> {
    match program {
        "prevac_134" => Some((134.0, 240)),
        "prevac_132" => Some((132.0, 240)),
        "gravity_121_instruments" => Some((121.0, 1200)),
        "gravity_121_textiles" => Some((121.0, 1800)),
        "bowie_dick" => Some((134.0, 210)),
        _ => None,
    }
}

#[test]
fn autoclave_holds_track_saturated_steam_and_last_long_enough_on_a_calm_day() {
    let out = calm_day();
    let tel = telemetry_by_device(&out);
    let ev = events_by_device(&out);
    let mut cycles_checked = 0;
    for device in ["ac-meiya-1", "ac-meiya-2", "ac-qingshan-1"] {
        let programs: HashMap<String, String> = ev[device]
            .iter()
            .filter(|e| e["type"] == "cycle_start")
            .map(|e| {
                (
                    e["cycle_id"].as_str().unwrap().to_string(),
                    e["program"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert!(programs.len() >= 5, "{device}: {} cycles", programs.len());
        for e in ev[device].iter().filter(|e| e["type"] == "cycle_end") {
            assert_eq!(e["device_verdict"], "pass");
        }
        let mut by_cycle: HashMap<String, Vec<&Value>> = HashMap::new();
        for o in &tel[device] {
            if let Some(c) = o["cycle_id"].as_str() {
                by_cycle.entry(c.to_string()).or_default().push(o);
            }
        }
        for (cycle, samples) in by_cycle {
            let (set, min_hold) = program_limits(&programs[&cycle]).unwrap();
            let hold: Vec<(Timestamp, f64, f64)> = samples
                .iter()
                .map(|o| {
                    (
                        ts_of(o),
                        value(o, Metric::ChamberTempC).unwrap(),
                        value(o, Metric::ChamberPressureKpa).unwrap(),
                    )
                })
                .filter(|(_, t, _)| *t >= set)
                .collect();
            let first = hold.first().unwrap().0;
            let last = hold.last().unwrap().0;
            assert!(
                last.secs_since(first) >= min_hold,
                "{cycle}: hold {} s",
                last.secs_since(first)
            );
            for w in hold.windows(2) {
                assert!(w[1].0.secs_since(w[0].0) <= 10, "{cycle}: gap in hold");
            }
            for (_, t, p) in &hold {
                assert!(*t <= set + 3.0, "{cycle}: {t} C");
                assert!((t - t_sat_c(*p)).abs() <= 2.0, "{cycle}: {t} C at {p} kPa");
                assert!(*p > 200.0 && *p < 360.0);
            }
            cycles_checked += 1;
        }
    }
    assert!(cycles_checked >= 15, "{cycles_checked}");
}

#[test]
fn a_prevac_day_starts_with_a_passing_bowie_dick_and_a_negative_bi_comes_within_the_week() {
    let out = run(Scenario::calm(), 3, MIDNIGHT, 24 * 8, 300);
    let ev = events_by_device(&out);
    for device in ["ac-meiya-1", "ac-meiya-2"] {
        let mut bd_pass_day = None;
        let mut bi_days = Vec::new();
        for e in &ev[device] {
            let day = ts_of(e).secs_since(MIDNIGHT).div_euclid(86_400);
            match e["type"].as_str().unwrap() {
                "bd_result" => {
                    assert_eq!(e["result"], "pass");
                    bd_pass_day = Some(day);
                }
                "cycle_start" if e["program"] != "bowie_dick" => {
                    assert_eq!(bd_pass_day, Some(day), "{device}: load without today's B-D");
                }
                "bi_result" => {
                    assert_eq!(e["result"], "negative");
                    bi_days.push(day);
                }
                _ => {}
            }
        }
        assert!(bi_days.len() >= 2, "{device}: {bi_days:?}");
        assert!(bi_days[0] <= 1);
        for w in bi_days.windows(2) {
            assert!(w[1] - w[0] <= 6, "{device}: {bi_days:?}");
        }
    }
    // A gravity sterilizer runs no Bowie-Dick test.
    assert!(ev["ac-qingshan-1"].iter().all(|e| e["type"] != "bd_result"));
}

#[test]
fn step_size_does_not_change_the_messages() {
    let fine = run(Scenario::demo(), 5, MIDNIGHT.plus_secs(7 * 3600), 3, 1);
    let coarse = run(Scenario::demo(), 5, MIDNIGHT.plus_secs(7 * 3600), 3, 3600);
    let key = |o: &Outbound| (o.topic.clone(), o.payload.clone());
    let mut a: Vec<_> = fine.iter().map(key).collect();
    let mut b: Vec<_> = coarse.iter().map(key).collect();
    a.sort();
    b.sort();
    assert_eq!(a.len(), b.len());
    assert!(a == b);
}

#[test]
fn the_same_seed_gives_the_same_run_and_another_seed_another() {
    let a = run(Scenario::demo(), 1, MIDNIGHT, 2, 60);
    let b = run(Scenario::demo(), 1, MIDNIGHT, 2, 60);
    let c = run(Scenario::demo(), 2, MIDNIGHT, 2, 60);
    assert!(a == b);
    assert!(a != c);
}

#[test]
fn the_demo_scenario_breaches_chlorine_and_faults_a_sensor_within_two_hours() {
    let start = MIDNIGHT.plus_secs(9 * 3600);
    let config = config();
    let mut fleet = Fleet::new(&config.registry, PREFIX, 42, Scenario::demo());
    let mut out = fleet.birth_messages(start);
    let mut now = start;
    while now <= start.plus_secs(2 * 3600) {
        out.extend(fleet.step(now));
        now = now.plus_secs(10);
    }
    let incidents = fleet.take_incidents();
    assert!(incidents.iter().any(|i| i.kind == IncidentKind::Breach));
    // A free-chlorine residual breach at the outlet or the network end: below the residual
    // for at least 10 consecutive minutes.
    let tel = telemetry_by_device(&out);
    let longest_below = |device: &str, limit: f64| {
        let (mut run_start, mut longest) = (None::<Timestamp>, 0);
        for o in &tel[device] {
            match value(o, Metric::FreeChlorineMgL) {
                Some(x) if x < limit => {
                    let s = *run_start.get_or_insert(ts_of(o));
                    longest = longest.max(ts_of(o).secs_since(s));
                }
                _ => run_start = None,
            }
        }
        longest
    };
    let below = longest_below("wm-ljsc-out-1", 0.3).max(longest_below("wm-ljsc-tap-12", 0.05));
    assert!(
        below >= 600,
        "longest residual breach {below} s; incidents {incidents:#?}"
    );
    // A sensor fault weijian recognises (out of physical range) or a stuck value.
    let processed = validate(&out);
    let out_of_range = processed
        .iter()
        .flat_map(|p| &p.inputs)
        .any(|s| matches!(s, Input::SensorFault { .. }));
    let stuck = incidents
        .iter()
        .any(|i| i.kind == IncidentKind::SensorFault && i.detail.contains("stuck"));
    assert!(out_of_range || stuck, "{incidents:#?}");
    // Everything else is accepted.
    for p in &processed {
        assert!(
            p.rejected.iter().all(|r| *r == Reason::OutOfRange),
            "{:?}",
            p.rejected
        );
    }
}

#[test]
fn a_demo_day_has_outages_with_offline_and_online_status_and_cycle_faults() {
    let out = run(Scenario::demo(), 42, MIDNIGHT, 24, 60);
    let status: Vec<Value> = out
        .iter()
        .filter(|o| o.kind == OutboundKind::Status)
        .map(json)
        .collect();
    assert!(status.iter().any(|s| s["online"] == false));
    assert!(status.iter().filter(|s| s["online"] == true).count() > 9);
    let ev = events_by_device(&out);
    let verdicts: Vec<&str> = ["ac-meiya-1", "ac-meiya-2", "ac-qingshan-1"]
        .iter()
        .flat_map(|d| ev[*d].iter())
        .filter(|e| e["type"] == "cycle_end")
        .map(|e| e["device_verdict"].as_str().unwrap())
        .collect();
    assert!(verdicts.contains(&"pass"));
    assert!(verdicts.iter().any(|v| *v != "pass") || verdicts.len() > 10);
    for p in validate(&out) {
        assert!(
            p.rejected.iter().all(|r| *r == Reason::OutOfRange),
            "{:?}",
            p.rejected
        );
    }
}

#[test]
fn a_shared_registry_can_drive_several_fleets() {
    let registry: Arc<Registry> = config().registry;
    let a = Fleet::new(&registry, "weijian/v1/", 1, Scenario::calm());
    assert_eq!(a.device_count(), 9);
    assert!(a.birth_messages(MIDNIGHT)[0]
        .topic
        .starts_with("weijian/v1/ljsc-outlet/"));
}

#[test]
#[ignore = "prints a sample for eyeballing"]
fn prints_an_hour_of_demo_traffic_for_eyeballing() {
    let start = MIDNIGHT.plus_secs(9 * 3600);
    let config = config();
    let mut fleet = Fleet::new(&config.registry, PREFIX, 42, Scenario::demo());
    let mut now = start;
    let mut n = 0;
    while now <= start.plus_secs(3600) {
        for o in fleet.step(now) {
            n += 1;
            if n % 97 == 0 || o.kind != OutboundKind::Telemetry {
                println!("{} {}", o.topic, String::from_utf8_lossy(&o.payload));
            }
        }
        now = now.plus_secs(10);
    }
    for i in fleet.take_incidents() {
        println!(
            "{} {} {:?} {}",
            rfc3339_cst(i.ts),
            i.device,
            i.kind,
            i.detail
        );
    }
}

#[test]
fn no_varying_metric_stays_at_one_value_for_an_hour_on_a_calm_day() {
    let out = run(Scenario::calm(), 13, MIDNIGHT, 48, 300);
    for (device, objs) in telemetry_by_device(&out) {
        let mut last: HashMap<String, (Value, Timestamp)> = HashMap::new();
        for o in &objs {
            let ts = ts_of(o);
            for (name, v) in o["values"].as_object().unwrap() {
                if Metric::from_name(name).unwrap().is_state() {
                    continue;
                }
                match last.get(name) {
                    Some((prev, since)) if prev == v => {
                        assert!(ts.secs_since(*since) < 3600, "{device} {name} stuck at {v}");
                    }
                    _ => {
                        last.insert(name.clone(), (v.clone(), ts));
                    }
                }
            }
        }
    }
}

#[test]
fn two_demo_days_inject_every_incident_family_without_breaking_the_waste_ledger() {
    let config = config();
    let mut fleet = Fleet::new(&config.registry, PREFIX, 42, Scenario::demo());
    let mut out = fleet.birth_messages(MIDNIGHT);
    let mut now = MIDNIGHT;
    while now <= MIDNIGHT.plus_secs(48 * 3600) {
        out.extend(fleet.step(now));
        now = now.plus_secs(60);
    }
    let incidents = fleet.take_incidents();
    for kind in [
        IncidentKind::SensorFault,
        IncidentKind::Breach,
        IncidentKind::Offline,
        IncidentKind::Online,
        IncidentKind::CycleFault,
        IncidentKind::Maintenance,
    ] {
        assert!(incidents.iter().any(|i| i.kind == kind), "{kind:?}");
    }
    // Outages: the last will comes after the device went silent, and it comes back online.
    let status: Vec<(String, bool)> = out
        .iter()
        .filter(|o| o.kind == OutboundKind::Status)
        .map(|o| (parts(&o.topic).1, json(o)["online"].as_bool().unwrap()))
        .collect();
    for (device, online) in &status {
        if !online {
            assert!(status.iter().filter(|(d, o)| d == device && *o).count() >= 2);
        }
    }
    // The ledger survives outages (events are buffered): every handed-over bag came in once.
    for (device, events) in events_by_device(&out) {
        if kind_of(&config.registry, &device) != DeviceKind::WasteStore {
            continue;
        }
        let short_announced = incidents
            .iter()
            .filter(|i| *i.device == *device && i.detail.contains("weigh"))
            .count();
        let mut weights: HashMap<String, f64> = HashMap::new();
        let mut handed = HashSet::new();
        let unknown_announced = incidents
            .iter()
            .filter(|i| *i.device == *device && i.detail.contains("never weighed in"))
            .count();
        let mut unknown = 0;
        let mut short = 0;
        for e in &events {
            match e["type"].as_str().unwrap() {
                "bag_in" => {
                    weights.insert(
                        e["bag_id"].as_str().unwrap().into(),
                        e["weight_kg"].as_f64().unwrap(),
                    );
                }
                "handover" => {
                    let mut sum = 0.0;
                    let mut unknown_here = false;
                    for id in e["bag_ids"].as_array().unwrap() {
                        let id = id.as_str().unwrap();
                        assert!(handed.insert(id.to_string()), "{id} twice");
                        match weights.get(id) {
                            Some(w) => sum += w,
                            None => {
                                unknown += 1;
                                unknown_here = true;
                            }
                        }
                    }
                    let w = e["weight_kg"].as_f64().unwrap();
                    if unknown_here {
                        assert!(w > sum, "the unknown bag weighs something");
                    } else if w < sum * 0.98 {
                        short += 1;
                    } else {
                        assert!((w - sum).abs() <= sum * 0.01 + 0.01);
                    }
                }
                _ => {}
            }
        }
        assert!(
            short <= short_announced,
            "{device}: {short} short handovers"
        );
        assert!(
            unknown <= unknown_announced,
            "{device}: {unknown} bags never weighed in"
        );
    }
}

#[test]
fn absurd_scenario_rates_do_not_panic() {
    let scenario = Scenario {
        fault_rate: f64::NAN,
        breach_rate: 1e9,
        offline_rate: -1.0,
        offline_minutes: (40, 20),
        cycle_fault_rate: 7.0,
        maintenance_rate: f64::INFINITY,
        buffer_telemetry_when_offline: true,
    };
    let out = run(scenario, 1, MIDNIGHT.plus_secs(8 * 3600), 6, 600);
    assert!(out.iter().any(|o| o.kind == OutboundKind::Telemetry));
}

#[test]
fn a_monitor_registered_for_hj212_publishes_valid_frames_instead_of_json_telemetry() {
    let config = Config::parse(
        include_str!("../../../../config/weijian.example.toml"),
        "example.toml",
        &HashMap::<String, String>::new(),
    )
    .unwrap();
    let mut fleet = Fleet::new(&config.registry, PREFIX, 4, Scenario::demo());
    let mut out = Vec::new();
    let mut now = MIDNIGHT.plus_secs(8 * 3600);
    while now <= MIDNIGHT.plus_secs(32 * 3600) {
        out.extend(fleet.step(now));
        now = now.plus_secs(300);
    }
    let hj: Vec<&Outbound> = out
        .iter()
        .filter(|o| {
            o.topic
                .starts_with("weijian/v1/wp-east-outlet/wm-east-out-1/")
        })
        .collect();
    assert!(hj.iter().all(|o| o.kind != OutboundKind::Telemetry));
    let frames: Vec<&Outbound> = hj
        .iter()
        .copied()
        .filter(|o| o.kind == OutboundKind::Hj212)
        .collect();
    assert!(frames.len() > 1000, "{}", frames.len());
    let mut maintenance = 0;
    for o in frames {
        assert!(o.topic.ends_with("/hj212"));
        let text = std::str::from_utf8(&o.payload).unwrap();
        for f in text.split_inclusive("\r\n") {
            let len: usize = f[2..6].parse().unwrap();
            let segment = &f[6..6 + len];
            assert_eq!(f, super::hj212::frame(segment));
            assert!(
                segment.contains(";CN=2011;") && segment.contains("MN=010000A8900016F000169DC0")
            );
            for code in [
                "w01001-Rtd=",
                "w01003-Rtd=",
                "w01010-Rtd=",
                "w01014-Rtd=",
                "w99001-Rtd=",
            ] {
                assert!(segment.contains(code), "{segment}");
            }
            if segment.contains("-Flag=M") {
                maintenance += 1;
            }
        }
    }
    assert!(maintenance > 0, "maintenance is flagged M in the frames");
    // The maintenance event itself is not sent by an HJ 212 logger.
    assert!(hj.iter().all(|o| o.kind != OutboundKind::Event));
}
