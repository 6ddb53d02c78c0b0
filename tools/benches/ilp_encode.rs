//! ILP row encoding throughput of realistic `water_quality` rows (5 values and their flag
//! symbols, seq, received_at), in rows per second: into the writer's request body
//! (`IlpBody`, which writes reading rows itself), and through questdb-rs's buffer
//! (`Row::encode`, what the writer used before), in ILP v1 (text doubles) and v2 (binary).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use questdb::ingress::{Buffer, ProtocolVersion};
use weijian_ingest::sink::ilp::IlpBody;
use weijian_ingest::sink::rows::Row;
use weijian_ingest::validate::Validator;
use weijian_tools::bench::payload::Format;

fn bench(c: &mut Criterion) {
    let config = common::config(1000, false);
    let mut validator = Validator::new(Arc::clone(&config.registry), config.limits, common::PREFIX);
    let rows: Vec<Row> = common::messages(Format::Json, 1000, 100, 100)
        .iter()
        .flat_map(|m| validator.process(m).rows)
        .collect();
    assert_eq!(rows.len(), 10_000);
    let mut group = c.benchmark_group("ilp_encode");
    group.throughput(Throughput::Elements(rows.len() as u64));
    let names = weijian_ingest::sink::schema::TableNames::new("");
    for (version, protocol) in [("v1", ProtocolVersion::V1), ("v2", ProtocolVersion::V2)] {
        let mut body = IlpBody::new(protocol);
        group.bench_function(format!("water_quality_rows/body/{version}"), |b| {
            b.iter(|| {
                body.clear();
                for row in &rows {
                    body.push(row, &names).unwrap();
                }
                black_box(body.len())
            })
        });
        let mut buf = Buffer::new(protocol);
        group.bench_function(format!("water_quality_rows/questdb_rs/{version}"), |b| {
            b.iter(|| {
                buf.clear();
                for row in &rows {
                    row.encode(&mut buf, &names).unwrap();
                }
                black_box(buf.len())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
