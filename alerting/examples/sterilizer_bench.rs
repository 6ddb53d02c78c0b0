//! Sterilizer benchmark: cycles evaluated per second on one core, and memory per sterilizer
//! with a 2-hour 1 Hz cycle in progress.
//!
//!     cargo run --release -p alerting --example sterilizer_bench [-- <cycles> <sterilizers>]
//!
//! Throughput: `cycles` realistic pre-vacuum cycles (cycle_start, 20 minutes of chamber
//! temperature and absolute pressure at 1 Hz with a 5-minute hold at 134.8 C on saturated
//! steam, cycle_end, a tick after the grace period) through `Engine::process` on one thread,
//! spread over 100 sterilizers; the inputs are built before the clock starts.
//!
//! Memory: `sterilizers` sterilizers each with a cycle in progress fed 2 hours of 1 Hz
//! samples (interleaved in time, as a city's sterilizers report); the process's resident set
//! (Linux `/proc/self/status` VmRSS) is measured before the samples and after 4 minutes and
//! after 1 and 2 hours of them: bounded state stops growing once the reorder buffer is full.

use std::sync::Arc;
use std::time::Instant;

use alerting::model::{
    DataFlag, DentalSite, Device, DeviceKind, GridPath, Id, Metric, Period, Reading, Site,
    SiteAttributes, Stat, SterilizerType, Timestamp,
};
use alerting::sterilization::steam::p_sat_kpa;
use alerting::sterilization::{DeviceVerdict, Program, SterilizerEvent, SterilizerEventKind};
use alerting::{Engine, Input, RulePack};

const T0: Timestamp = Timestamp::from_secs(1_795_305_600);

fn fleet(n: usize) -> (Vec<Site>, Vec<Device>) {
    let mut sites = Vec::new();
    let mut devices = Vec::new();
    for i in 0..n {
        sites.push(Site {
            id: format!("clinic-{i}").into(),
            name: format!("clinic {i}"),
            grid: GridPath {
                district: "d".into(),
                street: "s".into(),
                community: "c".into(),
            },
            attributes: SiteAttributes::DentalSterilization(DentalSite {
                sterilizer: SterilizerType::Prevac,
                bi_interval_days: 7,
            }),
        });
        devices.push(Device {
            id: format!("ac-{i}").into(),
            site: format!("clinic-{i}").into(),
            kind: DeviceKind::Autoclave,
            expected_interval_secs: 1,
        });
    }
    (sites, devices)
}

fn sample(site: &Id, device: &Id, ts: Timestamp, metric: Metric, value: f64) -> Input {
    Input::Reading(Reading {
        site: site.clone(),
        device: device.clone(),
        ts,
        metric,
        value,
        flag: DataFlag::N,
        period: Period::Instant,
        stat: Stat::Value,
        seq: None,
    })
}

fn event(site: &Id, device: &Id, ts: Timestamp, kind: SterilizerEventKind) -> Input {
    Input::Sterilizer(SterilizerEvent {
        site: site.clone(),
        device: device.clone(),
        ts,
        kind,
    })
}

/// Chamber temperature `s` seconds into a 20-minute prevac cycle.
fn temp_at(s: i64) -> f64 {
    match s {
        0..=299 => 90.0 + 44.0 * s as f64 / 300.0,
        300..=600 => 134.8 + 0.3 * ((s as f64) / 47.0).sin(),
        _ => 110.0,
    }
}

fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let cycles: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(2_000);
    let sterilizers: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(2_000);
    let pack = RulePack::default_pack().map_err(|e| format!("{e:?}"))?;

    // Throughput.
    let (sites, devices) = fleet(100);
    let mut engine = Engine::new(pack.clone(), sites.clone(), devices.clone());
    let mut inputs = Vec::new();
    for c in 0..cycles {
        let k = c % 100;
        let (site, device) = (sites[k].id.clone(), devices[k].id.clone());
        let start = T0.plus_secs((c / 100) as i64 * 1_500);
        let id = format!("C{c}");
        inputs.push(event(
            &site,
            &device,
            start,
            SterilizerEventKind::CycleStart {
                cycle_id: id.clone(),
                program: Program::Prevac134,
                implant_load: false,
            },
        ));
        for s in 0..1_200 {
            let ts = start.plus_secs(s);
            let t = temp_at(s);
            inputs.push(sample(&site, &device, ts, Metric::ChamberTempC, t));
            let p = p_sat_kpa(t).unwrap_or(101.3);
            inputs.push(sample(&site, &device, ts, Metric::ChamberPressureKpa, p));
        }
        inputs.push(event(
            &site,
            &device,
            start.plus_secs(1_200),
            SterilizerEventKind::CycleEnd {
                cycle_id: id,
                device_verdict: DeviceVerdict::Pass,
            },
        ));
        if k == 99 {
            inputs.push(Input::Tick(start.plus_secs(1_300)));
        }
    }
    inputs.push(Input::Tick(T0.plus_secs((cycles / 100 + 2) as i64 * 1_500)));
    let began = Instant::now();
    let mut events = 0usize;
    for input in &inputs {
        events += engine.process(input).len();
    }
    let secs = began.elapsed().as_secs_f64();
    let records = engine.take_cycle_records();
    let passed = records
        .iter()
        .filter(|r| r.verdict == alerting::sterilization::Verdict::Pass)
        .count();
    println!("throughput (one core, release build):");
    println!(
        "  {} cycles of 20 min at 1 Hz ({} inputs) in {secs:.3} s: {:.0} cycles/s, {:.2} M inputs/s",
        records.len(),
        inputs.len(),
        records.len() as f64 / secs,
        inputs.len() as f64 / secs / 1e6
    );
    println!(
        "  verdicts: {passed} pass of {}; {events} alert events (every load raises S3: no Bowie-Dick \
         in this run; G1 at the final tick, an hour after the data)",
        records.len()
    );
    drop(inputs);
    drop(engine);

    // Memory per sterilizer with a 2-hour cycle in progress.
    let (sites, devices) = fleet(sterilizers);
    let mut engine = Engine::new(pack, sites.clone(), devices.clone());
    for (site, device) in sites.iter().zip(&devices) {
        engine.process(&event(
            &site.id,
            &device.id,
            T0,
            SterilizerEventKind::CycleStart {
                cycle_id: format!("long-{}", device.id),
                program: Program::Gravity121Textiles,
                implant_load: false,
            },
        ));
    }
    let base = rss_bytes();
    let ids: Vec<(Id, Id)> = sites
        .iter()
        .zip(&devices)
        .map(|(s, d)| (s.id.clone(), d.id.clone()))
        .collect();
    let mut after_4_min = 0;
    let mut after_1_h = 0;
    let mut before_2_h = 0;
    let began = Instant::now();
    for s in 1..=7_200 {
        let ts = T0.plus_secs(s);
        let t = 121.8 + 0.2 * ((s as f64) / 47.0).sin();
        let p = p_sat_kpa(t).unwrap_or(205.0);
        for (site, device) in &ids {
            engine.process(&sample(site, device, ts, Metric::ChamberTempC, t));
            engine.process(&sample(site, device, ts, Metric::ChamberPressureKpa, p));
        }
        if s == 240 {
            after_4_min = rss_bytes();
        }
        if s == 3_600 {
            after_1_h = rss_bytes();
        }
        if s == 7_190 {
            // Just before S6 ("no cycle_end within 2 h") opens an alert per sterilizer.
            before_2_h = rss_bytes();
        }
    }
    let fed = began.elapsed().as_secs_f64();
    let after_2_h = rss_bytes();
    let snapshot = serde_json::to_string(&engine.snapshot())?;
    let per = |b: u64| b.saturating_sub(base) as f64 / sterilizers as f64;
    println!("memory ({sterilizers} sterilizers, one cycle each in progress, 1 Hz temperature + pressure):");
    println!(
        "  resident set growth per sterilizer: {:.0} bytes after 4 min, {:.0} after 1 h, {:.0} after 1 h 59 min 50 s ({} samples each)",
        per(after_4_min),
        per(after_1_h),
        per(before_2_h),
        7_200 * 2
    );
    println!(
        "  at 2 h S6 opens an alert (\"no cycle_end within 2 h\") per sterilizer: {:.0} bytes with it",
        per(after_2_h)
    );
    println!(
        "  snapshot JSON per sterilizer after 2 h: {:.0} bytes; fed {:.1} M samples in {fed:.1} s",
        snapshot.len() as f64 / sterilizers as f64,
        (7_200 * 2 * sterilizers) as f64 / 1e6
    );
    let _ = Arc::new(());
    Ok(())
}
