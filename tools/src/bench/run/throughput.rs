//! Throughput: the bare limit and weijian end to end, timed from the start of publishing
//! until the consumer has everything.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::child::Child;
use super::{join_loadgen, spawn_prepared_loadgen, start_weijian, wait_for, Ctx, Phase};
use crate::bench::bare::Bare;
use crate::bench::loadgen;
use crate::bench::mosquitto::Mosquitto;
use crate::bench::questdb::RealQuestDb;
use crate::bench::rss;
use crate::bench::BenchError;

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
    /// weijian as its own process only: its CPU time (also counted in `cpu_self`).
    pub cpu_weijian_process: Duration,
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
    /// weijian as its own process (`weijian run`, as deployed); `cpu_self` is this process
    /// (publisher, sink) plus weijian's.
    pub weijian_process: Option<Throughput>,
}
pub(super) async fn bare_run(
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
    // With --prepare-payloads, made before the clock starts (gateways make theirs elsewhere).
    let prepared = ctx
        .prepare_payloads
        .then(|| loadgen::prepare(&lg))
        .flatten();
    let cpu0 = cpu_now(&ctx.broker);
    let start = Instant::now();
    let handle = spawn_prepared_loadgen(lg, prepared);
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
        cpu_weijian_process: Duration::ZERO,
    })
}
fn rejected(running: &weijian_service::pipeline::Running) -> u64 {
    weijian_ingest::reject::Reason::ALL
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

pub(super) async fn weijian_run(
    ctx: &mut Ctx,
    devices: usize,
    per_message: usize,
    messages: u64,
) -> Result<Throughput, BenchError> {
    let phase = Phase::new(ctx)?;
    let config = phase.config(ctx, devices, "127.0.0.1:0")?;
    let (running, _shutdown) = start_weijian(config).await?;
    let mut result =
        publish_until_stored(ctx, &phase, devices, per_message, messages, None).await?;
    result.rejected = rejected(&running);
    running.stop().await;
    Ok(result)
}

/// weijian end to end as its own process (`weijian run` in a child process, as it is
/// deployed), timed like [`weijian_run`]: the publisher and the ILP sink stay in this process,
/// so weijian's runtime serves only weijian (in process, the publisher's and the sink's tasks
/// share its two worker threads).
pub(super) async fn weijian_process_run(
    ctx: &mut Ctx,
    devices: usize,
    per_message: usize,
    messages: u64,
) -> Result<Throughput, BenchError> {
    let phase = Phase::new(ctx)?;
    let child = Child::start(ctx, &phase, devices).await?;
    publish_until_stored(ctx, &phase, devices, per_message, messages, Some(child.pid)).await
}

/// Publishes `messages` as fast as possible and waits until the sink holds every reading row
/// of the phase. The CPU counted is this process's, plus `child`'s (a weijian process) if any.
async fn publish_until_stored(
    ctx: &Ctx,
    phase: &Phase,
    devices: usize,
    per_message: usize,
    messages: u64,
    child: Option<u32>,
) -> Result<Throughput, BenchError> {
    let child_cpu = || -> Result<Duration, BenchError> {
        Ok(match child {
            Some(pid) => rss::cpu(Some(pid))?,
            None => Duration::ZERO,
        })
    };
    let mut lg = phase.loadgen(ctx, devices, per_message);
    lg.count = Some(messages);
    let table = phase.readings_table();
    let target = messages * per_message as u64;
    // With --prepare-payloads, made before the clock starts (gateways make theirs elsewhere).
    let prepared = ctx
        .prepare_payloads
        .then(|| loadgen::prepare(&lg))
        .flatten();
    let cpu0 = cpu_now(&ctx.broker);
    let child0 = child_cpu()?;
    let start = Instant::now();
    let handle = spawn_prepared_loadgen(lg, prepared);
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
    let child1 = child_cpu()?;
    Ok(Throughput {
        messages,
        readings: target,
        elapsed: done - start,
        publish_elapsed: sent.elapsed,
        rejected: 0,
        cpu_self: cpu1.0.saturating_sub(cpu0.0) + child1.saturating_sub(child0),
        cpu_broker: cpu1.1.saturating_sub(cpu0.1),
        cpu_weijian_process: child1.saturating_sub(child0),
    })
}

/// weijian end to end against a real QuestDB (`WEIJIAN_TEST_QUESTDB`).
#[derive(Debug, Clone)]
pub struct QuestDbRun {
    pub label: String,
    pub per_message: usize,
    /// Timed until QuestDB acknowledged every reading row (weijian's `rows_written` metric:
    /// ILP over HTTP confirms each write).
    pub weijian: Throughput,
    /// The table written (unique to the run).
    pub table: String,
    /// Publishing start -> `SELECT count()` sees every row (WAL applied); `None` if it did
    /// not within a minute or could not be asked.
    pub visible_after: Option<Duration>,
}

pub(super) async fn weijian_questdb_run(
    ctx: &mut Ctx,
    questdb: &RealQuestDb,
    label: &str,
    devices: usize,
    per_message: usize,
    messages: u64,
) -> Result<QuestDbRun, BenchError> {
    let phase = Phase::new(ctx)?;
    let prefix = crate::bench::questdb::unique_table_prefix(phase.n);
    let config = phase.config_for(ctx, devices, "127.0.0.1:0", &questdb.conf, &prefix)?;
    let table = format!(
        "{prefix}{}",
        weijian_ingest::sink::schema::readings_table_name(
            alerting::model::DeviceKind::WaterMonitor
        )
    );
    let unprefixed = weijian_ingest::sink::schema::readings_table_name(
        alerting::model::DeviceKind::WaterMonitor,
    );
    let (running, _shutdown) = start_weijian(config).await?;
    let mut lg = phase.loadgen(ctx, devices, per_message);
    lg.count = Some(messages);
    let target = messages * per_message as u64;
    let prepared = ctx
        .prepare_payloads
        .then(|| loadgen::prepare(&lg))
        .flatten();
    let cpu0 = cpu_now(&ctx.broker);
    let start = Instant::now();
    let handle = spawn_prepared_loadgen(lg, prepared);
    let written = running.metrics.rows_written.clone();
    let done = wait_for(
        "rows acknowledged by QuestDB",
        Duration::from_secs(600),
        || written.with_label_values(&[unprefixed]).get(),
        target,
    )
    .await?;
    let sent = join_loadgen(handle).await?;
    let cpu1 = cpu_now(&ctx.broker);
    let rejected = rejected(&running);
    running.stop().await;
    // Rows are acknowledged once in QuestDB's WAL; count() sees them once applied.
    let mut visible_after = None;
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let (q, t) = (questdb.clone(), table.clone());
        let n = match tokio::task::spawn_blocking(move || q.count(&t)).await {
            Ok(Ok(n)) => n,
            Ok(Err(error)) => {
                eprintln!("bench:   cannot count the rows of {table} in QuestDB: {error}");
                break;
            }
            Err(error) => {
                eprintln!("bench:   the count query task failed: {error}");
                break;
            }
        };
        if n >= target {
            visible_after = Some(start.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Ok(QuestDbRun {
        label: label.to_string(),
        per_message,
        weijian: Throughput {
            messages,
            readings: target,
            elapsed: done - start,
            publish_elapsed: sent.elapsed,
            rejected,
            cpu_self: cpu1.0.saturating_sub(cpu0.0),
            cpu_broker: cpu1.1.saturating_sub(cpu0.1),
            cpu_weijian_process: Duration::ZERO,
        },
        table,
        visible_after,
    })
}
