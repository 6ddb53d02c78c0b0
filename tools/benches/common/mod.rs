//! Shared set-up for the criterion benches: a parsed benchmark configuration with `n` water
//! monitors (`weijian_tools::bench::registry`) and realistic messages (`weijian_tools::bench::payload`).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use alerting::model::Timestamp;
use weijian_ingest::config::Config;
use weijian_ingest::message::Message;
use weijian_tools::bench::payload::{wall_clock, Format, PayloadGen};
use weijian_tools::bench::registry::{self, BenchConfig};

pub const PREFIX: &str = "weijian/v1";

pub fn config(devices: usize, hj212: bool) -> Config {
    let dir = std::env::temp_dir();
    registry::parse(&BenchConfig {
        broker_host: "127.0.0.1",
        broker_port: 1883,
        client_id: "bench",
        topic_prefix: PREFIX,
        questdb_conf: "http::addr=127.0.0.1:9000;",
        table_prefix: "",
        spool_dir: &dir,
        http_listen: "127.0.0.1:0",
        devices,
        hj212,
    })
    .expect("the benchmark configuration validates")
}

/// `count` messages of `per_message` readings, spread over `devices` devices, received now.
pub fn messages(format: Format, devices: usize, per_message: usize, count: usize) -> Vec<Message> {
    let mut gen = PayloadGen::new(PREFIX, format, devices, per_message, 11);
    let now: Timestamp = wall_clock();
    (0..count)
        .map(|i| {
            let (topic, payload) = gen.message(i, now);
            Message {
                received_at: now,
                qos: 1,
                topic,
                payload,
            }
        })
        .collect()
}
