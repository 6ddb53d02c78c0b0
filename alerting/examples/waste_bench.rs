//! Medical-waste ledger benchmark (issue 13): memory of 10,000 stores holding 200 bags each,
//! and events per second through the ledger and through the engine on one core.
//!
//! Run it in release mode on an idle machine:
//!
//!     cargo run --release -p alerting --example waste_bench [stores] [bags_per_store]
//!
//! Memory is the growth of the process's resident set (Linux `/proc/self/status`, `VmRSS`)
//! while the state is built, so it includes allocator overhead. The ledger-only and the
//! engine measurements run in separate child processes (`ledger` / `engine` as the first
//! argument runs one), so freed memory of one does not hide the growth of the other.

use std::time::Instant;

use alerting::model::{
    Device, DeviceKind, GridPath, Site, SiteAttributes, Timestamp, WasteStoreSite,
};
use alerting::waste::{BagIn, Category, Handover, Ledger};
use alerting::{Engine, Input, RulePack};

/// 2026-11-22T00:00:00Z.
const T0: i64 = 1_795_305_600;
const DEPARTMENTS: [&str; 6] = ["内科", "外科", "急诊科", "检验科", "妇产科", "口腔科"];

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

fn bag(store: usize, k: usize) -> BagIn {
    BagIn {
        site: format!("ws{store:05}").into(),
        device: format!("wd{store:05}").into(),
        // Two days of intake spread over the bags.
        ts: Timestamp::from_secs(T0 + (k as i64) * 600),
        bag_id: format!("YF20261122{store:05}{k:05}"),
        category: Category::ALL[k % 5],
        weight_kg: 0.5 + (k % 17) as f64 * 0.2,
        department: Some(DEPARTMENTS[k % DEPARTMENTS.len()].to_owned()),
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mode = match args.first().map(String::as_str) {
        Some("ledger") | Some("engine") => Some(args.remove(0)),
        _ => None,
    };
    let stores: usize = args.first().map_or(Ok(10_000), |s| s.parse())?;
    let per_store: usize = args.get(1).map_or(Ok(200), |s| s.parse())?;
    match mode.as_deref() {
        Some("ledger") => ledger_only(stores, per_store),
        Some(_) => through_engine(stores, per_store),
        None => {
            println!(
                "medical-waste ledger benchmark: {stores} stores x {per_store} bags (one core)"
            );
            for m in ["ledger", "engine"] {
                let status = std::process::Command::new(std::env::current_exe()?)
                    .args([m.to_owned(), stores.to_string(), per_store.to_string()])
                    .status()?;
                if !status.success() {
                    return Err(format!("{m} run failed: {status}").into());
                }
            }
            Ok(())
        }
    }
}

fn all_bags(stores: usize, per_store: usize) -> Vec<Vec<BagIn>> {
    (0..stores)
        .map(|s| (0..per_store).map(|k| bag(s, k)).collect())
        .collect()
}

/// The ledgers alone: memory, bag_in, redelivered bag_in, handovers.
fn ledger_only(stores: usize, per_store: usize) -> Result<(), Box<dyn std::error::Error>> {
    let total = (stores * per_store) as f64;
    let bags = all_bags(stores, per_store);
    let before = rss_bytes();
    let start = Instant::now();
    let mut ledgers: Vec<Ledger> = Vec::with_capacity(stores);
    for store in &bags {
        let mut l = Ledger::default();
        for b in store {
            l.bag_in(b);
        }
        ledgers.push(l);
    }
    let took = start.elapsed().as_secs_f64();
    let grown = rss_bytes().saturating_sub(before);
    let in_store: usize = ledgers.iter().map(Ledger::bag_count).sum();
    println!(
        "ledger only: {in_store} bags in store, memory {:.1} MiB ({:.0} bytes/bag), bag_in {:.2} M events/s",
        mib(grown),
        grown as f64 / in_store.max(1) as f64,
        total / took / 1e6
    );
    let start = Instant::now();
    for (l, store) in ledgers.iter_mut().zip(&bags) {
        for b in store {
            l.bag_in(b); // redelivered: duplicates
        }
    }
    println!(
        "ledger only: redelivered bag_in (duplicates) {:.2} M events/s",
        total / start.elapsed().as_secs_f64() / 1e6
    );
    let start = Instant::now();
    for (s, (l, store)) in ledgers.iter_mut().zip(&bags).enumerate() {
        let h = Handover {
            site: format!("ws{s:05}").into(),
            device: format!("wd{s:05}").into(),
            ts: Timestamp::from_secs(T0 + 2 * 86_400),
            manifest_id: format!("MF{s:05}"),
            bag_ids: store.iter().map(|b| b.bag_id.clone()).collect(),
            weight_kg: 100.0,
            carrier: "C1".into(),
        };
        l.handover(&h, 600);
    }
    println!(
        "ledger only: handovers of {per_store} bags: {:.2} M bags/s",
        total / start.elapsed().as_secs_f64() / 1e6
    );
    Ok(())
}

/// Through the engine (rules M1-M7 evaluated on every event): throughput, memory, a tick, the
/// snapshot.
fn through_engine(stores: usize, per_store: usize) -> Result<(), Box<dyn std::error::Error>> {
    let total = (stores * per_store) as f64;
    let pack = RulePack::default_pack().map_err(|e| format!("{e:?}"))?;
    let sites: Vec<Site> = (0..stores)
        .map(|s| Site {
            id: format!("ws{s:05}").into(),
            name: format!("store {s}"),
            grid: GridPath {
                district: "d".into(),
                street: "s".into(),
                community: format!("c{}", s % 100),
            },
            attributes: SiteAttributes::WasteStore(WasteStoreSite {
                refrigerated: true,
                max_temp_c: Some(8.0),
                collection_windows: vec!["08:00-10:00".into(), "16:00-17:30".into()],
            }),
        })
        .collect();
    let devices: Vec<Device> = (0..stores)
        .map(|s| Device {
            id: format!("wd{s:05}").into(),
            site: format!("ws{s:05}").into(),
            kind: DeviceKind::WasteStore,
            expected_interval_secs: 300,
        })
        .collect();
    let mut engine = Engine::new(pack, sites, devices);
    // Built directly (no intermediate to free), so the resident set grows by the engine's state.
    let inputs: Vec<Input> = (0..stores)
        .flat_map(|s| (0..per_store).map(move |k| Input::BagIn(bag(s, k))))
        .collect();
    let before = rss_bytes();
    let start = Instant::now();
    let mut events = 0usize;
    for i in &inputs {
        events += engine.process(i).len();
    }
    let took = start.elapsed().as_secs_f64();
    let grown = rss_bytes().saturating_sub(before);
    println!(
        "engine:      {:.2} M bag_in/s through the engine (M1-M4 and M7 re-evaluated per event), state grew {:.1} MiB, {events} alert events",
        total / took / 1e6,
        mib(grown)
    );
    let start = Instant::now();
    let ticked = engine.process(&Input::Tick(Timestamp::from_secs(
        T0 + (per_store as i64) * 600,
    )));
    println!(
        "engine:      one tick over {stores} stores: {:.1} ms ({} alert events)",
        start.elapsed().as_secs_f64() * 1e3,
        ticked.len()
    );
    let start = Instant::now();
    let snapshot = serde_json::to_vec(&engine.snapshot())?;
    println!(
        "engine:      snapshot {:.1} MiB of JSON in {:.2} s",
        mib(snapshot.len() as u64),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
