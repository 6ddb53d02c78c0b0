//! JSON decode + validate throughput: `Validator::process` on realistic telemetry (arrays of
//! 100 readings and single readings, 5 values each), in readings (objects) per second on one
//! core. Target (issue 7): >= 1,000,000 readings/s for arrays.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use weijian_ingest::validate::Validator;
use weijian_tools::bench::payload::Format;

fn bench(c: &mut Criterion) {
    let config = common::config(1000, false);
    let mut group = c.benchmark_group("json_decode_validate");
    for per_message in [100usize, 1] {
        let count = if per_message == 1 { 1000 } else { 20 };
        let msgs = common::messages(Format::Json, 1000, per_message, count);
        let mut validator =
            Validator::new(Arc::clone(&config.registry), config.limits, common::PREFIX);
        group.throughput(Throughput::Elements((count * per_message) as u64));
        let name = if per_message == 1 {
            "single".to_string()
        } else {
            format!("array_{per_message}")
        };
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut readings = 0;
                for m in &msgs {
                    readings += black_box(validator.process(m)).rows.len();
                }
                assert_eq!(readings, count * per_message);
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
