//! What the drain's serial stage costs per reading: arrays of 100 JSON readings (five values
//! each, 1,000 water monitors), already decoded as the drain's decoders ahead leave them, then
//! validated and judged by the rule engine in spool order, as the drain does. Prints the
//! nanoseconds per reading of each step; run under `valgrind --tool=callgrind` for
//! instruction counts that do not depend on a noisy machine.
//!
//! ```sh
//! cargo run --release -p weijian-tools --example judge_cost -- [messages]
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

#[path = "../benches/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use alerting::Engine;
use weijian_ingest::validate::Validator;
use weijian_tools::bench::payload::Format;

fn main() {
    let messages: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("messages: a number"))
        .unwrap_or(2_000);
    let config = common::config(1_000, false);
    let msgs = common::messages(Format::Json, 1_000, 100, messages);
    let mut validator = Validator::new(Arc::clone(&config.registry), config.limits, common::PREFIX);
    let decoder = validator.decoder();
    let mut engine = Engine::new(
        config.alerts.pack.clone(),
        config.registry.alerting_sites(),
        config.registry.alerting_devices(),
    );
    let started = Instant::now();
    let decoded: Vec<_> = msgs.iter().map(|m| decoder.decode(m)).collect();
    let decode = started.elapsed();
    let (mut validate, mut rules) = (Duration::ZERO, Duration::ZERO);
    let (mut readings, mut events) = (0usize, 0usize);
    for (seq, (msg, ahead)) in msgs.iter().zip(decoded).enumerate() {
        let started = Instant::now();
        let processed = validator.process_decoded(seq as u64, msg, ahead);
        let validated = Instant::now();
        for input in &processed.inputs {
            events += engine.process(input).len();
        }
        rules += validated.elapsed();
        validate += validated - started;
        readings += processed.rows.len();
    }
    let per = |d: Duration| d.as_nanos() as f64 / readings.max(1) as f64;
    println!(
        "{readings} readings ({events} events): decode {:.0} ns, validate {:.0} ns, rules {:.0} ns per reading",
        per(decode),
        per(validate),
        per(rules)
    );
}
