//! Medical-waste stores through the engine: thirty normal days raise nothing, a restart with a
//! 47-hour-old bag reaches II at 48 h once, redelivered batches count once, and alerts carry
//! evidence a supervisor can act on.

use super::*;
use crate::model::WasteStoreSite;
use crate::waste::{BagIn, Category, Disinfection, Handover};
use crate::EngineSnapshot;

fn store() -> Site {
    Site {
        id: "w1".into(),
        name: "社区卫生服务中心医废暂存间".into(),
        grid: GridPath {
            district: "西湖区".into(),
            street: "北山街道".into(),
            community: "曙光社区".into(),
        },
        attributes: SiteAttributes::WasteStore(WasteStoreSite {
            refrigerated: true,
            max_temp_c: Some(8.0),
            collection_windows: vec!["08:00-10:00".into(), "16:00-17:30".into()],
        }),
    }
}

fn store_device() -> Device {
    Device {
        id: "wd1".into(),
        site: "w1".into(),
        kind: DeviceKind::WasteStore,
        expected_interval_secs: 300,
    }
}

fn store_engine() -> Engine {
    Engine::new(pack(), vec![store()], vec![store_device()])
}

fn bag(id: &str, min: f64, kg: f64, category: Category) -> Input {
    Input::BagIn(BagIn {
        site: "w1".into(),
        device: "wd1".into(),
        ts: at(min),
        bag_id: id.into(),
        category,
        weight_kg: kg,
        department: Some("内科".into()),
    })
}

fn handover(manifest: &str, min: f64, ids: &[String], kg: f64) -> Input {
    Input::Handover(Handover {
        site: "w1".into(),
        device: "wd1".into(),
        ts: at(min),
        manifest_id: manifest.into(),
        bag_ids: ids.to_vec(),
        weight_kg: kg,
        carrier: "杭州医废处置有限公司".into(),
    })
}

fn disinfect(min: f64) -> Input {
    Input::Disinfection(Disinfection {
        site: "w1".into(),
        device: "wd1".into(),
        ts: at(min),
        method: "uv".into(),
        duration_min: Some(60.0),
    })
}

fn store_reading(min: f64, metric: Metric, value: f64) -> Input {
    reading("wd1", "w1", min, metric, value)
}

/// A small deterministic generator (xorshift), so the simulation is reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
    fn between(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.next()
    }
}

/// Thirty days of a normal clinic store (minute 0 is 08:00 Beijing time): bags weighed in
/// during both collection windows, the door open 5-12 min per window, a pickup in the afternoon
/// window (some afternoon bags come in after it and wait for the next day) with weighing noise
/// of about 0.5 %, UV disinfection every night, the refrigerated store at 3-7 C every 5 min,
/// ticks every minute.
fn normal_month(seed: u64) -> Vec<Input> {
    let mut rng = Rng(seed);
    let mut inputs = Vec::new();
    let mut in_store: Vec<(String, f64)> = Vec::new();
    let mut n = 0;
    for day in 0..30 {
        let d0 = f64::from(day) * 1440.0;
        // Morning window (08:00-10:00) and afternoon window (16:00-17:30).
        for (open, close) in [(d0 + 10.0, d0 + 110.0), (d0 + 485.0, d0 + 560.0)] {
            let door_open = rng.between(open, close - 15.0).round();
            let door_mins = rng.between(5.0, 12.0).round();
            inputs.push(store_reading(door_open, Metric::DoorOpen, 1.0));
            inputs.push(store_reading(door_open + door_mins, Metric::DoorOpen, 0.0));
            let bags = 2 + (rng.next() * 5.0) as usize;
            for k in 0..bags {
                n += 1;
                let id = format!("B{n:05}");
                let kg = (rng.between(0.3, 4.5) * 100.0).round() / 100.0;
                let category = [
                    Category::Infectious,
                    Category::Infectious,
                    Category::Sharps,
                    Category::Pathological,
                    Category::Pharmaceutical,
                ][k % 5];
                inputs.push(bag(&id, door_open + k as f64 * 0.5, kg, category));
                in_store.push((id, kg));
            }
            // The pickup: in the afternoon window, after the first opening's bags; the bags
            // of some afternoons come in after it (the opening above is then later).
            if open > d0 + 400.0 {
                let pickup = if rng.next() < 0.3 {
                    door_open - 2.0 // before this window's bags
                } else {
                    door_open + door_mins - 1.0
                };
                let (taken, kept): (Vec<_>, Vec<_>) = in_store.drain(..).partition(|(id, _)| {
                    inputs.iter().any(
                        |i| matches!(i, Input::BagIn(b) if b.bag_id == *id && b.ts <= at(pickup)),
                    )
                });
                in_store = kept;
                if !taken.is_empty() {
                    let intake: f64 = taken.iter().map(|(_, kg)| kg).sum();
                    let noise = 1.0 + rng.between(-0.006, 0.006);
                    let ids: Vec<String> = taken.into_iter().map(|(id, _)| id).collect();
                    inputs.push(handover(
                        &format!("MF-{day:02}"),
                        pickup,
                        &ids,
                        (intake * noise * 100.0).round() / 100.0,
                    ));
                }
            }
        }
        inputs.push(disinfect(d0 + 14.0 * 60.0)); // 22:00 Beijing
        for m in (0..1440).step_by(5) {
            let t = rng.between(3.0, 7.0);
            inputs.push(store_reading(
                d0 + f64::from(m),
                Metric::TemperatureC,
                (t * 10.0).round() / 10.0,
            ));
        }
        for m in 1..=1440 {
            inputs.push(Input::Tick(at(d0 + f64::from(m) - 0.5)));
        }
    }
    inputs.sort_by_key(Input::ts);
    inputs
}

#[test]
fn thirty_normal_days_of_a_clinic_store_raise_no_alert() {
    for seed in [1, 7, 2026] {
        let mut e = store_engine();
        let inputs = normal_month(seed);
        assert!(
            inputs
                .iter()
                .filter(|i| matches!(i, Input::Handover(_)))
                .count()
                >= 29
        );
        let events = run(&mut e, inputs);
        assert!(events.is_empty(), "seed {seed}: {:#?}", brief(&events));
        let summary = e.waste_summary("w1").unwrap();
        assert!(summary.last_handover.is_some() && summary.last_disinfection.is_some());
        assert!(summary.bags < 20, "bags do not pile up: {}", summary.bags);
    }
}

#[test]
fn a_restart_with_a_47_hour_old_bag_reaches_ii_at_48_h_once() {
    let mut e = store_engine();
    let mut events = run(
        &mut e,
        [disinfect(0.0), bag("old", 0.0, 2.5, Category::Infectious)],
    );
    events.extend(run(
        &mut e,
        (10..=47 * 60)
            .step_by(10)
            .map(|m| Input::Tick(at(f64::from(m)))),
    ));
    // The scale is silent (G1); only the store's own rules matter here.
    events.retain(|x| x.rule.starts_with('M'));
    assert_eq!(
        brief(&events),
        vec![("M1".into(), Level::IV, EventKind::Firing, 2160.0)]
    );
    // Restart at 47 h through a JSON snapshot, as weijian does.
    let json = serde_json::to_string(&e.snapshot()).unwrap();
    let snap: EngineSnapshot = serde_json::from_str(&json).unwrap();
    let mut e = Engine::restore(pack(), vec![store()], vec![store_device()], snap);
    let after = run(
        &mut e,
        (47 * 60..=50 * 60).map(|m| Input::Tick(at(f64::from(m)))),
    );
    let m1: Vec<_> = brief(&after).into_iter().filter(|b| b.0 == "M1").collect();
    assert_eq!(
        m1,
        vec![("M1".into(), Level::II, EventKind::LevelChanged, 2880.0)]
    );
    assert_eq!(
        after.iter().find(|a| a.rule == "M1").unwrap().alert_id,
        events[0].alert_id
    );
    assert_eq!(
        e.waste_summary("w1").unwrap().bags,
        1,
        "the ledger survived the restart"
    );
}

#[test]
fn a_redelivered_batch_counts_once_and_raises_no_m2_or_m3() {
    let ids: Vec<String> = (0..6).map(|k| format!("b{k}")).collect();
    let mut batch: Vec<Input> = ids
        .iter()
        .enumerate()
        .map(|(k, id)| bag(id, k as f64, 1.5, Category::Infectious))
        .collect();
    batch.push(handover("MF-1", 60.0, &ids, 9.0));
    batch.push(disinfect(61.0));
    let mut e = store_engine();
    let mut events = run(&mut e, batch.clone());
    events.extend(run(&mut e, batch.clone()));
    // The same bags again after the handover, and the batch a third time in reverse order.
    events.extend(run(&mut e, batch.iter().rev().cloned()));
    events.extend(run(&mut e, [Input::Tick(at(120.0))]));
    events.retain(|x| x.rule.starts_with('M'));
    assert!(events.is_empty(), "{:?}", brief(&events));
    let s = e.waste_summary("w1").unwrap();
    assert_eq!((s.bags, s.pending_handovers), (0, 0));
    assert_eq!(s.last_handover.unwrap().manifest_id, "MF-1");
}

#[test]
fn a_short_handover_carries_the_manifest_bags_and_the_difference() {
    let mut e = store_engine();
    let ids = vec!["b1".to_owned(), "b2".to_owned()];
    let events = run(
        &mut e,
        [
            bag("b1", 0.0, 4.0, Category::Infectious),
            bag("b2", 1.0, 6.0, Category::Sharps),
            handover("MF-9", 30.0, &ids, 8.8),
        ],
    );
    assert_eq!(
        brief(&events),
        vec![("M2".into(), Level::I, EventKind::Firing, 30.0)]
    );
    let ev = &events[0];
    assert_eq!(ev.device, crate::SITE_SCOPE_DEVICE);
    let value = ev.evidence.iter().find(|x| x.name == "value").unwrap();
    assert_eq!(value.value, crate::EvidenceValue::Number(12.0));
    for needle in [
        "MF-9",
        "8.80 kg",
        "10.00 kg",
        "1.20 kg",
        "12.0 %",
        "b1 4.00 kg",
        "b2 6.00 kg",
    ] {
        assert!(
            ev.summary_en.contains(needle),
            "{needle} in {}",
            ev.summary_en
        );
    }
    assert!(
        ev.summary_zh.contains("交接重量比入库合计少 12.0%"),
        "{}",
        ev.summary_zh
    );
}

#[test]
fn m1_evidence_names_the_old_bags_with_ages_and_weights() {
    let mut e = store_engine();
    let events = run(
        &mut e,
        [
            disinfect(0.0),
            bag("b-old", 0.0, 2.25, Category::Pathological),
            bag("b-new", 600.0, 1.0, Category::Sharps),
            Input::Tick(at(2160.0)),
        ],
    );
    let m1 = events.iter().find(|x| x.rule == "M1").unwrap();
    assert!(
        m1.summary_en.contains(
            "b-old (pathological, 2.25 kg, 内科, in 2026-11-22 08:00 Beijing time, 36.0 h)"
        ),
        "{}",
        m1.summary_en
    );
    assert!(
        !m1.summary_en.contains("b-new"),
        "younger bags are not listed"
    );
    assert_eq!(m1.started_at, at(0.0), "since the bag came in");
}

#[test]
fn a_door_opened_at_night_and_a_warm_store_alert_the_device_that_reported() {
    let mut e = store_engine();
    // 14:00 UTC is 22:00 Beijing time, outside both windows.
    let mut inputs = vec![store_reading(840.0, Metric::DoorOpen, 1.0)];
    inputs.extend((0..=40).map(|m| {
        store_reading(
            f64::from(m),
            Metric::TemperatureC,
            9.0 + f64::from(m % 3) / 10.0,
        )
    }));
    inputs.sort_by_key(Input::ts);
    let events = run(&mut e, inputs);
    let got: Vec<_> = brief(&events)
        .into_iter()
        .filter(|b| b.0.starts_with('M'))
        .collect();
    assert_eq!(
        got,
        vec![
            ("M6".into(), Level::III, EventKind::Firing, 30.0),
            ("M5".into(), Level::III, EventKind::Firing, 840.0),
        ]
    );
    let m5 = events.iter().find(|x| x.rule == "M5").unwrap();
    assert_eq!(m5.device, "wd1");
    assert!(
        m5.summary_en.contains(
            "opened at 2026-11-22 22:00 Beijing time, outside the collection windows 08:00-10:00, 16:00-17:30"
        ),
        "{}",
        m5.summary_en
    );
}

#[test]
fn an_unknown_bag_fires_m3_once_and_only_a_real_reconciled_handover_resolves_it() {
    let mut e = store_engine();
    let ids = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let mut events = run(
        &mut e,
        [
            bag("b1", 0.0, 2.0, Category::Infectious),
            handover("MF-1", 10.0, &ids(&["b1", "ghost"]), 3.0),
            Input::Tick(at(15.0)),
            Input::Tick(at(21.0)),
            // Redelivered: no second judgement.
            handover("MF-1", 10.0, &ids(&["b1", "ghost"]), 3.0),
            Input::Tick(at(40.0)),
            // An empty manifest proves nothing.
            handover("MF-2", 50.0, &[], 0.0),
            bag("b2", 60.0, 1.0, Category::Sharps),
            handover("MF-3", 70.0, &ids(&["b2"]), 1.0),
        ],
    );
    events.retain(|x| x.rule.starts_with('M'));
    assert_eq!(
        brief(&events),
        vec![
            ("M3".into(), Level::III, EventKind::Firing, 21.0),
            ("M3".into(), Level::III, EventKind::Resolved, 70.0),
        ]
    );
    assert!(
        events[0]
            .summary_en
            .contains("bags never weighed in: ghost"),
        "{}",
        events[0].summary_en
    );
    assert_eq!(events[0].started_at, at(10.0), "since the handover");
}
