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

use std::collections::HashMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alerting::EventKind;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use super::bare::Bare;
use super::loadgen::{self, LoadgenOptions, Publisher};
use super::mosquitto::Mosquitto;
use super::payload::{self, Format};
use super::registry::{self, BenchConfig};
use super::rss::{self, Rss};
use super::sink::IlpSink;
use super::{free_port, BenchError, TempDir};

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
    pub throughput: bool,
    pub latency: bool,
    pub memory: bool,
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
            throughput: true,
            latency: true,
            memory: true,
        }
    }
}

/// One throughput measurement.
#[derive(Debug, Clone, Copy, Default)]
pub struct Throughput {
    pub messages: u64,
    pub readings: u64,
    /// Start of publishing -> the consumer has everything.
    pub elapsed: Duration,
    /// How long the publisher took to hand everything to the broker.
    pub publish_elapsed: Duration,
    /// weijian only: values rejected (should be 0).
    pub rejected: u64,
    /// CPU time of this process (publisher + consumer + sink) during the run.
    pub cpu_self: Duration,
    /// CPU time of Mosquitto during the run.
    pub cpu_broker: Duration,
}

impl Throughput {
    pub fn msg_rate(&self) -> f64 {
        self.messages as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
    pub fn readings_rate(&self) -> f64 {
        self.readings as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
    /// CPU microseconds of this process per message.
    pub fn cpu_us_per_message(&self) -> f64 {
        self.cpu_self.as_secs_f64() * 1e6 / self.messages.max(1) as f64
    }
}

/// CPU time of this process and of the broker.
fn cpu_now(broker: &Mosquitto) -> (Duration, Duration) {
    (
        rss::cpu(None).unwrap_or_default(),
        rss::cpu(Some(broker.pid())).unwrap_or_default(),
    )
}

/// One workload's pair.
#[derive(Debug, Clone)]
pub struct Pair {
    pub label: String,
    pub per_message: usize,
    pub bare: Throughput,
    pub weijian: Throughput,
}

/// Alert latency figures.
#[derive(Debug, Clone, Default)]
pub struct Latency {
    pub background_rate: f64,
    pub background_sent: u64,
    pub probes: usize,
    pub samples: Vec<Duration>,
    /// The slowest probes: (seconds after the first probe, latency), slowest first.
    pub slowest: Vec<(f64, Duration)>,
}

impl Latency {
    pub fn percentile(&self, p: f64) -> Option<Duration> {
        if self.samples.is_empty() {
            return None;
        }
        let mut s = self.samples.clone();
        s.sort();
        let idx = ((p / 100.0) * (s.len() as f64 - 1.0)).round() as usize;
        s.get(idx.min(s.len() - 1)).copied()
    }
}

/// One memory measurement.
#[derive(Debug, Clone, Copy, Default)]
pub struct Memory {
    pub devices: usize,
    pub idle: Rss,
    pub loaded: Rss,
    pub seconds_to_ingest: f64,
}

/// Everything measured.
#[derive(Debug, Clone, Default)]
pub struct BenchReport {
    pub pairs: Vec<Pair>,
    pub latency: Option<Latency>,
    /// The same probes to the bare subscriber (publish -> arrival) under the same load.
    pub latency_bare: Option<Latency>,
    pub memory: Vec<Memory>,
}

struct Ctx {
    broker: Mosquitto,
    sink: IlpSink,
    phase: usize,
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
    };
    let mut report = BenchReport::default();
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
        for (label, per_message, messages) in workloads {
            let mut pair = Pair {
                label: label.clone(),
                per_message,
                bare: Throughput::default(),
                weijian: Throughput::default(),
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
            }
            report.pairs.push(pair);
        }
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
    ) -> Result<crate::config::Config, BenchError> {
        let conf = ctx.sink.conf();
        registry::parse(&self.bench_config(ctx, devices, http, &conf))
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
            crate::sink::schema::readings_table_name(alerting::model::DeviceKind::WaterMonitor)
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
    tokio::spawn(async move { loadgen::run(&options, CancellationToken::new(), |_| {}).await })
}

async fn join_loadgen(
    handle: tokio::task::JoinHandle<Result<loadgen::LoadgenStats, BenchError>>,
) -> Result<loadgen::LoadgenStats, BenchError> {
    handle
        .await
        .map_err(|e| BenchError::Other(format!("the load generator task failed: {e}")))?
}

async fn bare_run(
    ctx: &mut Ctx,
    devices: usize,
    per_message: usize,
    messages: u64,
) -> Result<Throughput, BenchError> {
    let phase = Phase::new(ctx)?;
    let config = phase.config(ctx, devices, "127.0.0.1:0")?;
    let bare = Bare::start(&config.mqtt, config.limits.max_payload_bytes, None)?;
    if !bare.ready().await {
        return Err(BenchError::Timeout(
            "the bare subscriber did not connect".into(),
        ));
    }
    let mut lg = phase.loadgen(ctx, devices, per_message);
    lg.count = Some(messages);
    let cpu0 = cpu_now(&ctx.broker);
    let start = Instant::now();
    let handle = spawn_loadgen(lg);
    let acked = bare.acked.clone();
    let done = wait_for(
        "bare acked",
        Duration::from_secs(300),
        || acked.load(Ordering::Relaxed),
        messages,
    )
    .await?;
    let sent = join_loadgen(handle).await?;
    let cpu1 = cpu_now(&ctx.broker);
    bare.stop().await;
    Ok(Throughput {
        messages,
        readings: messages * per_message as u64,
        elapsed: done - start,
        publish_elapsed: sent.elapsed,
        rejected: 0,
        cpu_self: cpu1.0.saturating_sub(cpu0.0),
        cpu_broker: cpu1.1.saturating_sub(cpu0.1),
    })
}

async fn start_weijian(
    config: crate::config::Config,
) -> Result<(crate::pipeline::Running, CancellationToken), BenchError> {
    let shutdown = CancellationToken::new();
    let running = crate::pipeline::start(config, shutdown.clone()).await?;
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

fn rejected(running: &crate::pipeline::Running) -> u64 {
    crate::reject::Reason::ALL
        .iter()
        .map(|r| {
            running
                .metrics
                .rejected
                .with_label_values(&[r.code()])
                .get()
        })
        .sum()
}

async fn weijian_run(
    ctx: &mut Ctx,
    devices: usize,
    per_message: usize,
    messages: u64,
) -> Result<Throughput, BenchError> {
    let phase = Phase::new(ctx)?;
    let config = phase.config(ctx, devices, "127.0.0.1:0")?;
    let (running, _shutdown) = start_weijian(config).await?;
    let mut lg = phase.loadgen(ctx, devices, per_message);
    lg.count = Some(messages);
    let table = phase.readings_table();
    let target = messages * per_message as u64;
    let cpu0 = cpu_now(&ctx.broker);
    let start = Instant::now();
    let handle = spawn_loadgen(lg);
    let counts = ctx.sink.counts.clone();
    let done = wait_for(
        "weijian rows stored",
        Duration::from_secs(600),
        || counts.table(&table),
        target,
    )
    .await?;
    let sent = join_loadgen(handle).await?;
    let cpu1 = cpu_now(&ctx.broker);
    let rejected = rejected(&running);
    running.stop().await;
    Ok(Throughput {
        messages,
        readings: target,
        elapsed: done - start,
        publish_elapsed: sent.elapsed,
        rejected,
        cpu_self: cpu1.0.saturating_sub(cpu0.0),
        cpu_broker: cpu1.1.saturating_sub(cpu0.1),
    })
}

/// The consumer of a latency run.
enum Consumer {
    Bare(Bare),
    Weijian(crate::pipeline::Running, tokio::task::JoinHandle<()>),
}

/// Publish -> G3 `firing` (weijian), or publish -> arrival at the bare subscriber (`bare`:
/// the MQTT share of the latency under the same load).
async fn latency_run(
    ctx: &mut Ctx,
    options: &BenchOptions,
    rate: f64,
    bare: bool,
) -> Result<Latency, BenchError> {
    let phase = Phase::new(ctx)?;
    let devices = options.devices.max(1);
    let config = phase.config(ctx, devices, "127.0.0.1:0")?;
    let probes = super::bare::Probes::default();
    let (sent_at, samples) = (probes.sent_at.clone(), probes.samples.clone());
    let consumer = if bare {
        let b = Bare::start(&config.mqtt, config.limits.max_payload_bytes, Some(probes))?;
        if !b.ready().await {
            return Err(BenchError::Timeout(
                "the bare subscriber did not connect".into(),
            ));
        }
        Consumer::Bare(b)
    } else {
        let (running, _shutdown) = start_weijian(config).await?;
        let listener = alert_listener(&running, sent_at.clone(), samples.clone());
        Consumer::Weijian(running, listener)
    };

    let duration = Duration::from_secs(options.latency_secs.max(1));
    let mut lg = phase.loadgen(ctx, devices, 1);
    lg.rate = Some(rate);
    lg.duration = Some(duration);
    let handle = spawn_loadgen(lg);
    let probe = Publisher::connect(
        ctx.broker.host(),
        ctx.broker.port(),
        &format!("weijian-bench-probe-{}", phase.n),
        100,
    )
    .await?;
    // Let the background load settle for a second before probing.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let period = Duration::from_secs_f64(1.0 / options.probe_hz.max(0.1));
    let probes_wanted = ((duration.as_secs_f64() - 1.5).max(1.0) / period.as_secs_f64()) as usize;
    let probes_wanted = probes_wanted.clamp(1, devices);
    let mut ticker = tokio::time::interval(period);
    let mut last = Instant::now();
    for k in 0..probes_wanted {
        ticker.tick().await;
        let device = registry::device_id(k);
        let topic = format!("{}/s{k}/{device}/telemetry", phase.topic_prefix);
        if let Ok(mut m) = sent_at.lock() {
            m.insert(device, Instant::now());
        }
        probe
            .publish(topic, 1, payload::breaching_json(payload::wall_clock()))
            .await?;
        if last.elapsed() >= Duration::from_secs(1) {
            last = Instant::now();
            let got = samples.lock().map(|s| s.len()).unwrap_or(0);
            eprintln!("bench:   latency probes sent {} seen {got}", k + 1);
        }
    }
    let sent = join_loadgen(handle).await?;
    // The last alerts.
    for _ in 0..100 {
        if sent_at.lock().map(|m| m.is_empty()).unwrap_or(true) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    probe.close().await;
    match consumer {
        Consumer::Bare(b) => b.stop().await,
        Consumer::Weijian(running, listener) => {
            running.stop().await;
            listener.abort();
        }
    }
    let timed = samples.lock().map(|s| s.clone()).unwrap_or_default();
    let first = timed.iter().map(|(sent, _)| *sent).min();
    let mut slowest: Vec<(f64, Duration)> = timed
        .iter()
        .map(|(sent, d)| {
            let at = first.map_or(0.0, |f| (*sent - f).as_secs_f64());
            (at, *d)
        })
        .collect();
    slowest.sort_by_key(|s| std::cmp::Reverse(s.1));
    slowest.truncate(4);
    let samples: Vec<Duration> = timed.into_iter().map(|(_, d)| d).collect();
    Ok(Latency {
        background_rate: sent.rate(),
        background_sent: sent.messages,
        probes: probes_wanted,
        samples,
        slowest,
    })
}

/// Records publish -> G3 `firing` for the devices in `sent_at`.
fn alert_listener(
    running: &crate::pipeline::Running,
    sent_at: Arc<Mutex<HashMap<String, Instant>>>,
    samples: Arc<Mutex<Vec<(Instant, Duration)>>>,
) -> tokio::task::JoinHandle<()> {
    let mut events = running.alert_events.subscribe();
    tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(e) if e.rule == "G3" && e.kind == EventKind::Firing => {
                    let at = Instant::now();
                    let sent = sent_at.lock().ok().and_then(|mut m| m.remove(&e.device));
                    if let (Some(sent), Ok(mut s)) = (sent, samples.lock()) {
                        s.push((sent, at - sent));
                    }
                }
                Ok(_) => {}
                Err(RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "the latency listener lagged");
                }
                Err(RecvError::Closed) => break,
            }
        }
    })
}

async fn memory_run(ctx: &mut Ctx, devices: usize) -> Result<Memory, BenchError> {
    let phase = Phase::new(ctx)?;
    let http = format!("127.0.0.1:{}", free_port()?);
    let conf = ctx.sink.conf();
    let text = registry::config_text(&phase.bench_config(ctx, devices, &http, &conf));
    let config_path = phase.spool.path().join("bench.toml");
    std::fs::write(&config_path, text)?;
    let log = std::fs::File::create(phase.spool.path().join("weijian.log"))?;
    let exe = std::env::current_exe()?;
    let mut child = Command::new(exe)
        .arg("run")
        .arg("--config")
        .arg(&config_path)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()?;
    let pid = child.id();
    let result = async {
        let url = format!("http://{http}/readyz");
        let agent = ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .timeout_global(Some(Duration::from_secs(2)))
                .http_status_as_error(false)
                .build(),
        );
        let started = Instant::now();
        let mut last = started;
        loop {
            let (url, agent) = (url.clone(), agent.clone());
            let ready = tokio::task::spawn_blocking(move || {
                agent
                    .get(&url)
                    .call()
                    .map(|r| r.status().is_success())
                    .unwrap_or(false)
            })
            .await
            .unwrap_or(false);
            if ready {
                break;
            }
            if let Some(status) = child.try_wait()? {
                return Err(BenchError::Other(format!(
                    "weijian run exited with {status}; see its log"
                )));
            }
            if started.elapsed() > Duration::from_secs(180) {
                return Err(BenchError::Timeout(
                    "weijian run did not become ready".into(),
                ));
            }
            if last.elapsed() >= Duration::from_secs(1) {
                last = Instant::now();
                eprintln!(
                    "bench:   waiting for weijian run to load {devices} devices ({:.0} s, RSS {})",
                    started.elapsed().as_secs_f64(),
                    rss::mib(rss::of(Some(pid)).map(|r| r.rss).unwrap_or(0))
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let idle = rss::of(Some(pid))?;
        let mut lg = phase.loadgen(ctx, devices, 1);
        lg.count = Some(devices as u64);
        let start = Instant::now();
        let handle = spawn_loadgen(lg);
        let counts = ctx.sink.counts.clone();
        let table = phase.readings_table();
        let done = wait_for(
            "rows stored",
            Duration::from_secs(600),
            || counts.table(&table),
            devices as u64,
        )
        .await?;
        join_loadgen(handle).await?;
        // Let the drain finish its batch and the rule engine save its snapshot.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let loaded = rss::of(Some(pid))?;
        Ok(Memory {
            devices,
            idle,
            loaded,
            seconds_to_ingest: (done - start).as_secs_f64(),
        })
    }
    .await;
    let _ = child.kill();
    let _ = child.wait();
    result
}

fn slowest_text(l: &Latency) -> String {
    l.slowest
        .iter()
        .map(|(at, d)| format!("+{at:.1} s: {}", ms(*d)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "NOT met"
    }
}

/// Prints the report table.
///
/// # Errors
/// Writing to `out` failed.
pub fn print_report(
    options: &BenchOptions,
    report: &BenchReport,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    writeln!(out)?;
    writeln!(
        out,
        "weijian bench: {} cores visible; publisher, Mosquitto, consumer and sink share them.",
        cores
    )?;
    writeln!(
        out,
        "On a shared machine absolute figures are noisy: compare the ratios, measured side by side."
    )?;
    writeln!(
        out,
        "A reading = one telemetry object (one water_quality row, 5 values). QoS 1, JSON, {} devices.",
        options.devices
    )?;
    if !report.pairs.is_empty() {
        writeln!(out)?;
        writeln!(out, "Throughput: bare limit (ack at once, count) vs weijian end to end (spool fsync before ack, rules, ILP sink)")?;
        writeln!(
            out,
            "  {:<16} {:>9} {:>12} {:>14} {:>12} {:>14} {:>7}  {:>9}  target",
            "workload",
            "messages",
            "bare msg/s",
            "bare rd/s",
            "weijian msg/s",
            "weijian rd/s",
            "ratio",
            "rejected"
        )?;
        for p in &report.pairs {
            let ratio = p.weijian.msg_rate() / p.bare.msg_rate().max(1e-9);
            let target = if p.per_message == 1 {
                format!("ratio >= 90%: {}", verdict(ratio >= 0.9))
            } else {
                format!(
                    ">= 300,000 rd/s: {}",
                    verdict(p.weijian.readings_rate() >= 300_000.0)
                )
            };
            writeln!(
                out,
                "  {:<16} {:>9} {:>12.0} {:>14.0} {:>12.0} {:>14.0} {:>6.1}%  {:>9}  {target}",
                p.label,
                p.weijian.messages,
                p.bare.msg_rate(),
                p.bare.readings_rate(),
                p.weijian.msg_rate(),
                p.weijian.readings_rate(),
                ratio * 100.0,
                p.weijian.rejected,
            )?;
        }
        writeln!(out, "  CPU per message (user+system, all threads): bench process = publisher + consumer (+ sink); broker = Mosquitto")?;
        for p in &report.pairs {
            writeln!(
                out,
                "  {:<16} bare: process {:.1} us, broker {:.1} us   weijian: process {:.1} us, broker {:.1} us   (weijian's extra: {:.1} us/msg, {:.2} us/reading)",
                p.label,
                p.bare.cpu_us_per_message(),
                p.bare.cpu_broker.as_secs_f64() * 1e6 / p.bare.messages.max(1) as f64,
                p.weijian.cpu_us_per_message(),
                p.weijian.cpu_broker.as_secs_f64() * 1e6 / p.weijian.messages.max(1) as f64,
                p.weijian.cpu_us_per_message() - p.bare.cpu_us_per_message(),
                (p.weijian.cpu_us_per_message() - p.bare.cpu_us_per_message())
                    / p.per_message.max(1) as f64,
            )?;
        }
        for p in &report.pairs {
            writeln!(
                out,
                "  ({}: the publisher took {:.2} s (bare run) / {:.2} s (weijian run) until the broker acknowledged everything)",
                p.label,
                p.bare.publish_elapsed.as_secs_f64(),
                p.weijian.publish_elapsed.as_secs_f64()
            )?;
        }
    }
    if let Some(l) = &report.latency {
        writeln!(out)?;
        writeln!(
            out,
            "Alert latency: publish -> G3 firing event, background {:.0} msg/s ({} sent), {} probes, {} alerts seen",
            l.background_rate,
            l.background_sent,
            l.probes,
            l.samples.len()
        )?;
        match (l.percentile(50.0), l.percentile(99.0), l.percentile(100.0)) {
            (Some(p50), Some(p99), Some(max)) => writeln!(
                out,
                "  p50 {}  p99 {}  max {}   target p99 <= 50 ms: {}",
                ms(p50),
                ms(p99),
                ms(max),
                verdict(p99 <= Duration::from_millis(50))
            )?,
            _ => writeln!(out, "  no alert was seen")?,
        }
        writeln!(
            out,
            "  slowest probes (sent at +s after the first: latency): {}",
            slowest_text(l)
        )?;
    }
    if let Some(l) = &report.latency_bare {
        match (l.percentile(50.0), l.percentile(99.0), l.percentile(100.0)) {
            (Some(p50), Some(p99), Some(max)) => writeln!(
                out,
                "  MQTT share (same probes -> bare subscriber, background {:.0} msg/s, {} of {} seen): p50 {}  p99 {}  max {}",
                l.background_rate,
                l.samples.len(),
                l.probes,
                ms(p50),
                ms(p99),
                ms(max)
            )?,
            _ => writeln!(out, "  MQTT share: no probe reached the bare subscriber")?,
        }
        writeln!(out, "  slowest (MQTT share): {}", slowest_text(l))?;
    }
    if !report.memory.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "Memory: `weijian run` in a child process, every device reported one reading"
        )?;
        writeln!(
            out,
            "  {:>8} {:>12} {:>12} {:>12} {:>16} {:>10}",
            "devices", "RSS ready", "RSS after", "peak (HWM)", "(after-ready)/N", "ingest s"
        )?;
        for m in &report.memory {
            let per = m.loaded.rss.saturating_sub(m.idle.rss) as f64 / m.devices.max(1) as f64;
            writeln!(
                out,
                "  {:>8} {:>12} {:>12} {:>12} {:>14.0} B {:>10.1}",
                m.devices,
                rss::mib(m.idle.rss),
                rss::mib(m.loaded.rss),
                rss::mib(m.loaded.peak),
                per,
                m.seconds_to_ingest
            )?;
        }
        if let (Some(a), Some(b)) = (report.memory.first(), report.memory.last()) {
            if b.devices > a.devices {
                let slope = b.loaded.rss.saturating_sub(a.loaded.rss) as f64
                    / (b.devices - a.devices) as f64;
                writeln!(
                    out,
                    "  marginal cost {} -> {} devices (registry + state): {:.0} B/device; target <= 1 KiB: {}; RSS at {}: {} (target < 200 MiB: {})",
                    a.devices,
                    b.devices,
                    slope,
                    verdict(slope <= 1024.0),
                    b.devices,
                    rss::mib(b.loaded.rss),
                    verdict(b.loaded.rss < 200 << 20)
                )?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
            throughput: true,
            latency: true,
            memory: false,
        };
        let mut out = Vec::new();
        let report = run(&options, &mut out).await.unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(report.pairs.len(), 2, "{text}");
        for p in &report.pairs {
            assert_eq!(p.weijian.rejected, 0, "{text}");
            assert!(p.bare.msg_rate() > 0.0 && p.weijian.msg_rate() > 0.0);
        }
        let latency = report.latency.unwrap();
        assert!(!latency.samples.is_empty(), "{text}");
        let bare = report.latency_bare.unwrap();
        assert!(!bare.samples.is_empty(), "{text}");
        assert!(
            text.contains("single reading") && text.contains("p99"),
            "{text}"
        );
    }
}
