//! Rule evaluation throughput: the alerting `Engine` (default pack) with 10,000 registered
//! water monitors, fed in-range readings (five metrics per device, one device after another,
//! event time advancing a minute per round), in readings (metric values) per second.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::hint::black_box;

use alerting::model::{DataFlag, Metric, Period, Reading, Stat, Timestamp};
use alerting::{Engine, Input};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn bench(c: &mut Criterion) {
    let devices = 10_000;
    let config = common::config(devices, false);
    let mut engine = Engine::new(
        config.alerts.pack.clone(),
        config.registry.alerting_sites(),
        config.registry.alerting_devices(),
    );
    let start = weijian_tools::bench::payload::wall_clock().0 - 3_600_000_000;
    let metrics = [
        (Metric::TurbidityNtu, 0.3),
        (Metric::FreeChlorineMgL, 0.6),
        (Metric::Ph, 7.3),
        (Metric::TemperatureC, 15.0),
        (Metric::ConductivityUsCm, 420.0),
    ];
    let mut inputs: Vec<Input> = config
        .registry
        .devices()
        .flat_map(|d| {
            metrics.iter().map(move |(metric, value)| {
                Input::Reading(Reading {
                    site: d.site.clone(),
                    device: d.id.clone(),
                    ts: Timestamp(start),
                    metric: *metric,
                    value: *value,
                    flag: DataFlag::N,
                    period: Period::Instant,
                    stat: Stat::Value,
                    seq: None,
                })
            })
        })
        .collect();
    let mut group = c.benchmark_group("rules");
    group.throughput(Throughput::Elements(inputs.len() as u64));
    let mut round = 0i64;
    group.bench_function("engine_10k_devices", |b| {
        b.iter(|| {
            round += 1;
            let mut events = 0;
            for input in inputs.iter_mut() {
                if let Input::Reading(r) = input {
                    r.ts = Timestamp(start + round * 60_000_000);
                    r.value += if round % 2 == 0 { 0.001 } else { -0.001 };
                }
                events += black_box(engine.process(input)).len();
            }
            events
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
