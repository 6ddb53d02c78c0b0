//! HJ 212 decode throughput: `decode::hj212::decode_payload` on HJ 212-2017 real-time frames
//! (CN=2011, four factors with flags, CRC checked), in frames per second; and the same
//! payloads through `Validator::process` (decode + registry + ranges + rows).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use weijian_ingest::decode::hj212::{decode_payload, Hj212Profile, Reassembler};
use weijian_ingest::validate::Validator;
use weijian_tools::bench::payload::{wall_clock, Format};
use weijian_tools::bench::registry;

fn bench(c: &mut Criterion) {
    let frames_per_message = 10;
    let count = 100;
    let msgs = common::messages(Format::Hj212, 100, frames_per_message, count);
    let profiles: Vec<Hj212Profile> = (0..100)
        .map(|i| Hj212Profile::for_mn(registry::mn(i)))
        .collect();
    let mut group = c.benchmark_group("hj212");
    group.throughput(Throughput::Elements((count * frames_per_message) as u64));
    group.bench_function("decode_payload", |b| {
        let mut reasm = Reassembler::new(60);
        let now = wall_clock();
        b.iter(|| {
            let mut samples = 0;
            for (i, m) in msgs.iter().enumerate() {
                let out = decode_payload(&m.payload, &profiles[i % 100], &mut reasm, now);
                samples += black_box(out).samples.len();
            }
            assert_eq!(samples, count * frames_per_message);
        })
    });
    let config = common::config(100, true);
    let mut validator = Validator::new(Arc::clone(&config.registry), config.limits, common::PREFIX);
    group.bench_function("validator_process", |b| {
        b.iter(|| {
            let mut rows = 0;
            for m in &msgs {
                rows += black_box(validator.process(m)).rows.len();
            }
            assert_eq!(rows, count * frames_per_message);
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
