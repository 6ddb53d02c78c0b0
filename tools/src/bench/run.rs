//! `weijian bench`: one command, one run, side by side on a private Mosquitto:
//!
//! 1. **Throughput**, QoS 1, for single-reading messages and for arrays of K readings: the
//!    bare limit ([`super::bare`]) and weijian end to end (`pipeline::start`: spool with
//!    fsync before the PUBACK, rules on, writing to the in-process ILP sink), each timed from
//!    the start of publishing until the consumer has everything (bare: acknowledged; weijian:
//!    every reading row received by the sink). The ratio is the figure that matters.
//! 2. **Alert latency**: with background load at half of weijian's measured single-reading
//!    rate, probes publish an out-of-range value (rule G3 fires at once) to a fresh device
//!    every 1/`probe_hz` s; the latency is publish call -> the `firing` event on
//!    `Running::alert_events`. The same probes are then timed to the bare subscriber under the
//!    same load (the MQTT share of the latency).
//! 3. **Memory**: `weijian run` in a child process with N registered devices; its VmRSS once
//!    ready, then after every device has reported one reading (and the sink has the rows).
//!
//! A "reading" is one telemetry object (one row of `water_quality`, five metric values).
//!
//! # Layout
//!
//! - this file: [`BenchOptions`], [`BenchReport`], [`run`] (the orchestration) and what the
//!   phases share (a fresh topic prefix, spool and table prefix per phase, waiting for
//!   counts, the load generator task, starting weijian in process);
//! - `throughput`: [`Throughput`] and [`Pair`], the bare and weijian throughput runs;
//! - `latency`: [`Latency`], the alert-latency runs;
//! - `memory`: [`Memory`], `weijian run` in a child process;
//! - `report`: [`print_report`], the table.

mod child;
mod latency;
mod memory;
mod report;
mod steady;
mod throughput;

use std::io::Write;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::loadgen::{self, LoadgenOptions};
use super::mosquitto::Mosquitto;
use super::payload::Format;
use super::registry::{self, BenchConfig};
use super::rss;
use super::sink::IlpSink;
use super::{BenchError, TempDir};

use latency::latency_run;
pub use latency::Latency;
use memory::memory_run;
pub use memory::Memory;
pub use report::print_report;
use steady::steady_run;
pub use steady::Steady;
use throughput::{bare_run, weijian_process_run, weijian_questdb_run, weijian_run};
pub use throughput::{Pair, QuestDbRun, Throughput};

/// What to run and how big.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Messages per single-reading throughput run.
    pub single_messages: u64,
    /// Messages per array throughput run.
    pub array_messages: u64,
    /// Readings per array message.
    pub array_size: usize,
    /// Devices the load is spread over (throughput and latency runs).
    pub devices: usize,
    /// Bare/weijian pairs per workload (the best of each side is reported).
    pub repeats: usize,
    pub latency_secs: u64,
    pub probe_hz: f64,
    /// Background rate for the latency run; `None` = half of the measured single-reading rate.
    pub latency_rate: Option<f64>,
    /// Registered (and reporting) devices for each memory measurement.
    pub memory_devices: Vec<usize>,
    /// Steady load: messages/s and seconds (`weijian run` in a child process).
    pub steady_rate: f64,
    pub steady_secs: u64,
    /// Readings per message of the steady load (1: single readings; 100: a gateway's arrays,
    /// which measures weijian's own CPU per reading in arrays, apart from the publisher).
    pub steady_per_message: usize,
    pub throughput: bool,
    pub steady: bool,
    pub latency: bool,
    pub memory: bool,
    /// The throughput workloads also with weijian as its own process (`weijian run` in a
    /// child process, as deployed; needs the weijian binary).
    pub process: bool,
    /// A real QuestDB (questdb-rs configuration string, from `WEIJIAN_TEST_QUESTDB`): the
    /// throughput workloads are also run against it. `None`: skipped.
    pub questdb: Option<String>,
    /// The throughput runs' publisher makes its payloads before the clock starts
    /// ([`loadgen::prepare`]): the gateways' JSON formatting is then not on weijian's cores.
    /// Off by default, so that figures compare with earlier ones.
    pub prepare_payloads: bool,
}

impl Default for BenchOptions {
    fn default() -> Self {
        Self {
            single_messages: 300_000,
            array_messages: 10_000,
            array_size: 100,
            devices: 1000,
            repeats: 2,
            latency_secs: 20,
            probe_hz: 10.0,
            latency_rate: None,
            memory_devices: vec![1_000, 10_000, 100_000],
            steady_rate: 1_000.0,
            steady_secs: 20,
            steady_per_message: 1,
            throughput: true,
            steady: true,
            latency: true,
            memory: true,
            process: true,
            questdb: None,
            prepare_payloads: false,
        }
    }
}
/// Everything measured.
#[derive(Debug, Clone, Default)]
pub struct BenchReport {
    pub pairs: Vec<Pair>,
    pub latency: Option<Latency>,
    /// The same probes to the bare subscriber (publish -> arrival) under the same load.
    pub latency_bare: Option<Latency>,
    pub memory: Vec<Memory>,
    /// Steady load: weijian's CPU and store requests at a fixed rate.
    pub steady: Option<Steady>,
    /// The real QuestDB used (configuration string, secrets hidden), if any.
    pub questdb_target: Option<String>,
    /// weijian end to end against it, per throughput workload.
    pub questdb: Vec<QuestDbRun>,
    /// The throughput runs' payloads were made before their clocks started.
    pub prepared_payloads: bool,
}

struct Ctx {
    broker: Mosquitto,
    sink: IlpSink,
    phase: usize,
    /// See [`BenchOptions::prepare_payloads`].
    prepare_payloads: bool,
}

impl Ctx {
    fn next_phase(&mut self) -> usize {
        self.phase += 1;
        self.phase
    }
}

/// Runs the benchmark; progress on stderr, the table on `out`.
///
/// # Errors
/// Mosquitto or weijian cannot start, or a phase times out.
pub async fn run(options: &BenchOptions, out: &mut dyn Write) -> Result<BenchReport, BenchError> {
    let broker = Mosquitto::start()?;
    let sink = IlpSink::start().await?;
    eprintln!(
        "bench: mosquitto on 127.0.0.1:{} (pid {}), ILP sink on {}",
        broker.port(),
        broker.pid(),
        sink.addr
    );
    let mut ctx = Ctx {
        broker,
        sink,
        phase: 0,
        prepare_payloads: options.prepare_payloads,
    };
    let mut report = BenchReport {
        prepared_payloads: options.prepare_payloads,
        ..BenchReport::default()
    };
    if options.throughput {
        let workloads = [
            (
                "single reading".to_string(),
                1usize,
                options.single_messages,
            ),
            (
                format!("arrays of {}", options.array_size),
                options.array_size,
                options.array_messages,
            ),
        ];
        for (label, per_message, messages) in workloads.iter().cloned() {
            let mut pair = Pair {
                label: label.clone(),
                per_message,
                bare: Throughput::default(),
                weijian: Throughput::default(),
                weijian_process: None,
            };
            for r in 0..options.repeats.max(1) {
                eprintln!("bench: {label}: bare limit (run {})", r + 1);
                let b = bare_run(&mut ctx, options.devices, per_message, messages).await?;
                eprintln!(
                    "bench: {label}: bare {:.0} msg/s, {:.0} readings/s",
                    b.msg_rate(),
                    b.readings_rate()
                );
                eprintln!("bench: {label}: weijian end to end (run {})", r + 1);
                let w = weijian_run(&mut ctx, options.devices, per_message, messages).await?;
                eprintln!(
                    "bench: {label}: weijian {:.0} msg/s, {:.0} readings/s",
                    w.msg_rate(),
                    w.readings_rate()
                );
                if b.msg_rate() > pair.bare.msg_rate() {
                    pair.bare = b;
                }
                if w.msg_rate() > pair.weijian.msg_rate() {
                    pair.weijian = w;
                }
                if !options.process {
                    continue;
                }
                eprintln!("bench: {label}: weijian as its own process (run {})", r + 1);
                let c =
                    weijian_process_run(&mut ctx, options.devices, per_message, messages).await?;
                eprintln!(
                    "bench: {label}: weijian (own process) {:.0} msg/s, {:.0} readings/s",
                    c.msg_rate(),
                    c.readings_rate()
                );
                if pair
                    .weijian_process
                    .is_none_or(|best| c.msg_rate() > best.msg_rate())
                {
                    pair.weijian_process = Some(c);
                }
            }
            report.pairs.push(pair);
        }
        if let Some(conf) = &options.questdb {
            let questdb = super::questdb::RealQuestDb::new(conf)?;
            eprintln!("bench: real QuestDB at {}", questdb.display());
            report.questdb_target = Some(questdb.display());
            for (label, per_message, messages) in &workloads {
                let mut best: Option<QuestDbRun> = None;
                for r in 0..options.repeats.max(1) {
                    eprintln!(
                        "bench: {label}: weijian end to end, real QuestDB (run {})",
                        r + 1
                    );
                    let q = weijian_questdb_run(
                        &mut ctx,
                        &questdb,
                        label,
                        options.devices,
                        *per_message,
                        *messages,
                    )
                    .await?;
                    eprintln!(
                        "bench: {label}: weijian -> QuestDB {:.0} readings/s (table {})",
                        q.weijian.readings_rate(),
                        q.table
                    );
                    if best
                        .as_ref()
                        .is_none_or(|b| q.weijian.msg_rate() > b.weijian.msg_rate())
                    {
                        best = Some(q);
                    }
                }
                report.questdb.extend(best);
            }
        }
    }
    if options.steady {
        eprintln!(
            "bench: steady load at {:.0} msg/s of {} readings for {} s (weijian run in a child process)",
            options.steady_rate, options.steady_per_message, options.steady_secs
        );
        let s = steady_run(
            &mut ctx,
            options.steady_rate,
            options.steady_per_message,
            options.steady_secs,
        )
        .await?;
        eprintln!(
            "bench: steady load: {:.1} us CPU per message, {} store requests",
            s.cpu_us_per_message(),
            s.requests
        );
        report.steady = Some(s);
    }
    if options.latency {
        let rate = options
            .latency_rate
            .or_else(|| report.pairs.first().map(|p| p.weijian.msg_rate() * 0.5))
            .unwrap_or(1000.0);
        eprintln!("bench: alert latency at {rate:.0} msg/s background");
        report.latency = Some(latency_run(&mut ctx, options, rate, false).await?);
        eprintln!("bench: MQTT-only latency (bare subscriber) at {rate:.0} msg/s background");
        report.latency_bare = Some(latency_run(&mut ctx, options, rate, true).await?);
    }
    if options.memory {
        for &n in &options.memory_devices {
            eprintln!("bench: memory with {n} devices (weijian run in a child process)");
            let m = memory_run(&mut ctx, n).await?;
            eprintln!(
                "bench: memory with {n} devices: idle {}, after {}",
                rss::mib(m.idle.rss),
                rss::mib(m.loaded.rss)
            );
            report.memory.push(m);
        }
    }
    print_report(options, &report, out)?;
    Ok(report)
}

struct Phase {
    n: usize,
    spool: TempDir,
    topic_prefix: String,
    table_prefix: String,
    client_id: String,
}

impl Phase {
    fn new(ctx: &mut Ctx) -> Result<Phase, BenchError> {
        let n = ctx.next_phase();
        Ok(Phase {
            n,
            spool: TempDir::new("bench-spool")?,
            topic_prefix: format!("bench{n}/v1"),
            table_prefix: format!("b{n}_"),
            client_id: format!("weijian-bench-{n}"),
        })
    }

    fn config(
        &self,
        ctx: &Ctx,
        devices: usize,
        http: &str,
    ) -> Result<weijian_ingest::config::Config, BenchError> {
        let conf = ctx.sink.conf();
        registry::parse(&self.bench_config(ctx, devices, http, &conf))
    }

    /// The same configuration writing to another store under another table prefix (the
    /// real-QuestDB runs).
    fn config_for(
        &self,
        ctx: &Ctx,
        devices: usize,
        http: &str,
        questdb_conf: &str,
        table_prefix: &str,
    ) -> Result<weijian_ingest::config::Config, BenchError> {
        let mut c = self.bench_config(ctx, devices, http, questdb_conf);
        c.table_prefix = table_prefix;
        registry::parse(&c)
    }

    fn bench_config<'a>(
        &'a self,
        ctx: &'a Ctx,
        devices: usize,
        http: &'a str,
        conf: &'a str,
    ) -> BenchConfig<'a> {
        BenchConfig {
            broker_host: ctx.broker.host(),
            broker_port: ctx.broker.port(),
            client_id: &self.client_id,
            topic_prefix: &self.topic_prefix,
            questdb_conf: conf,
            table_prefix: &self.table_prefix,
            spool_dir: self.spool.path(),
            http_listen: http,
            devices,
            hj212: false,
        }
    }

    fn readings_table(&self) -> String {
        format!(
            "{}{}",
            self.table_prefix,
            weijian_ingest::sink::schema::readings_table_name(
                alerting::model::DeviceKind::WaterMonitor
            )
        )
    }

    fn loadgen(&self, ctx: &Ctx, devices: usize, per_message: usize) -> LoadgenOptions {
        LoadgenOptions {
            host: ctx.broker.host().to_string(),
            port: ctx.broker.port(),
            client_id: format!("weijian-bench-loadgen-{}", self.n),
            topic_prefix: self.topic_prefix.clone(),
            devices,
            per_message,
            format: Format::Json,
            qos: 1,
            ..LoadgenOptions::default()
        }
    }
}

/// Polls `count()` until it reaches `target`, printing a progress line every second; returns
/// the instant it did (2 ms resolution).
async fn wait_for(
    what: &str,
    timeout: Duration,
    mut count: impl FnMut() -> u64,
    target: u64,
) -> Result<Instant, BenchError> {
    let start = Instant::now();
    let mut last = start;
    loop {
        let n = count();
        if n >= target {
            return Ok(Instant::now());
        }
        if start.elapsed() > timeout {
            return Err(BenchError::Timeout(format!(
                "{what}: {n} of {target} after {:.0} s",
                timeout.as_secs_f64()
            )));
        }
        if last.elapsed() >= Duration::from_secs(1) {
            last = Instant::now();
            eprintln!(
                "bench:   {what}: {n} of {target} ({:.1} s)",
                start.elapsed().as_secs_f64()
            );
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn spawn_loadgen(
    options: LoadgenOptions,
) -> tokio::task::JoinHandle<Result<loadgen::LoadgenStats, BenchError>> {
    spawn_prepared_loadgen(options, None)
}

/// The load generator, sending `prepared`'s messages first ([`loadgen::prepare`]).
fn spawn_prepared_loadgen(
    options: LoadgenOptions,
    prepared: Option<loadgen::Prepared>,
) -> tokio::task::JoinHandle<Result<loadgen::LoadgenStats, BenchError>> {
    tokio::spawn(async move {
        loadgen::run_prepared(&options, prepared, CancellationToken::new(), |_| {}).await
    })
}

async fn join_loadgen(
    handle: tokio::task::JoinHandle<Result<loadgen::LoadgenStats, BenchError>>,
) -> Result<loadgen::LoadgenStats, BenchError> {
    handle
        .await
        .map_err(|e| BenchError::Other(format!("the load generator task failed: {e}")))?
}
async fn start_weijian(
    config: weijian_ingest::config::Config,
) -> Result<(weijian_service::pipeline::Running, CancellationToken), BenchError> {
    let shutdown = CancellationToken::new();
    let running = weijian_service::pipeline::start(config, shutdown.clone()).await?;
    for _ in 0..200 {
        if running.health.mqtt_connected.load(Ordering::Relaxed) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A moment for the SUBACK.
    tokio::time::sleep(Duration::from_millis(300)).await;
    Ok((running, shutdown))
}
#[cfg(test)]
mod tests {
    use super::*;

    /// The real-QuestDB run, pointed at the in-process sink (which answers `count()` like
    /// QuestDB): unique tables, rows acknowledged and counted. Skipped without Mosquitto.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_real_questdb_run_writes_under_a_unique_prefix_and_counts_its_rows() {
        if super::super::mosquitto::find_binary().is_err() {
            eprintln!("mosquitto not installed: skipped");
            return;
        }
        let mut ctx = Ctx {
            broker: Mosquitto::start().unwrap(),
            sink: IlpSink::start().await.unwrap(),
            phase: 0,
            prepare_payloads: false,
        };
        let questdb = super::super::questdb::RealQuestDb::new(&ctx.sink.conf()).unwrap();
        let a = weijian_questdb_run(&mut ctx, &questdb, "single", 20, 1, 200)
            .await
            .unwrap();
        let b = weijian_questdb_run(&mut ctx, &questdb, "arrays", 20, 10, 20)
            .await
            .unwrap();
        assert_ne!(a.table, b.table);
        assert!(a.table.starts_with("wjb") && a.table.ends_with("water_quality"));
        for run in [&a, &b] {
            assert_eq!(run.weijian.readings, 200);
            assert_eq!(run.weijian.rejected, 0);
            assert!(run.visible_after.is_some(), "{run:?}");
            assert_eq!(ctx.sink.counts.table(&run.table), 200);
        }
    }

    /// A tiny end-to-end run (throughput and latency; the memory run needs the weijian binary).
    /// Skipped when Mosquitto is not installed.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_small_bench_runs_end_to_end_and_prints_its_table() {
        if super::super::mosquitto::find_binary().is_err() {
            eprintln!("mosquitto not installed: skipped");
            return;
        }
        let options = BenchOptions {
            single_messages: 2_000,
            array_messages: 40,
            array_size: 50,
            devices: 100,
            repeats: 1,
            latency_secs: 3,
            probe_hz: 10.0,
            latency_rate: Some(500.0),
            memory_devices: vec![],
            steady_rate: 1_000.0,
            steady_secs: 1,
            steady_per_message: 1,
            throughput: true,
            steady: false,
            latency: true,
            memory: false,
            process: false,
            questdb: None,
            // The preparing publisher is what this small run exercises.
            prepare_payloads: true,
        };
        let mut out = Vec::new();
        let report = run(&options, &mut out).await.unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(report.pairs.len(), 2, "{text}");
        assert!(text.contains("--prepare-payloads"), "{text}");
        for p in &report.pairs {
            assert_eq!(p.weijian.rejected, 0, "{text}");
            assert!(p.bare.msg_rate() > 0.0 && p.weijian.msg_rate() > 0.0);
        }
        let latency = report.latency.unwrap();
        assert!(!latency.samples.is_empty(), "{text}");
        // Every alert seen was also delivered to the supervisor's webhook.
        assert!(!latency.notices.is_empty(), "{text}");
        assert!(
            text.contains("notice received by a supervisor's webhook"),
            "{text}"
        );
        let bare = report.latency_bare.unwrap();
        assert!(!bare.samples.is_empty(), "{text}");
        assert!(
            text.contains("single reading") && text.contains("p99"),
            "{text}"
        );
    }
}
