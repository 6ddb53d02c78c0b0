//! Steady load: what a city's trickle costs. `weijian run` in a child process and a load
//! generator at a fixed rate (default 1,000 QoS 1 single-reading messages/s over 1,000
//! devices) for a fixed time (default 20 s): weijian's own CPU per message, and the store
//! requests it made meanwhile, per table (each is one WAL transaction per table in QuestDB).

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::child::Child;
use super::{join_loadgen, spawn_loadgen, wait_for, Ctx, Phase};
use crate::bench::rss;
use crate::bench::BenchError;

/// Devices the steady load is spread over.
const DEVICES: usize = 1_000;

/// One steady-load measurement.
#[derive(Debug, Clone, Default)]
pub struct Steady {
    /// The rate asked of the load generator, messages/s.
    pub rate: f64,
    /// Readings per message.
    pub per_message: usize,
    /// Messages published (and acknowledged) during the window.
    pub messages: u64,
    /// The window: from the first publish to the last acknowledgement.
    pub seconds: f64,
    /// weijian's CPU (user + system) during the window.
    pub cpu: Duration,
    /// Store requests during the window, and those that carried readings rows.
    pub requests: u64,
    pub readings_requests: u64,
    /// The configured `questdb.flush_interval_ms`.
    pub flush_interval_ms: u64,
}

impl Steady {
    /// weijian's CPU as a share of one core.
    pub fn cpu_share(&self) -> f64 {
        self.cpu.as_secs_f64() / self.seconds.max(f64::EPSILON)
    }
    /// CPU microseconds per message.
    pub fn cpu_us_per_message(&self) -> f64 {
        self.cpu.as_secs_f64() * 1e6 / (self.messages.max(1) as f64)
    }
    /// CPU microseconds per reading.
    pub fn cpu_us_per_reading(&self) -> f64 {
        self.cpu_us_per_message() / self.per_message.max(1) as f64
    }
    /// Store requests per second.
    pub fn requests_per_sec(&self) -> f64 {
        self.requests as f64 / self.seconds.max(f64::EPSILON)
    }
    /// The most requests one table may get in the window: one per flush interval.
    pub fn request_budget(&self) -> u64 {
        (self.seconds * 1000.0 / self.flush_interval_ms.max(1) as f64).ceil() as u64 + 1
    }
}

/// Runs the steady load with the production defaults (`questdb.flush_interval_ms` included):
/// `rate` messages/s of `per_message` readings each.
pub(super) async fn steady_run(
    ctx: &mut Ctx,
    rate: f64,
    per_message: usize,
    seconds: u64,
) -> Result<Steady, BenchError> {
    let phase = Phase::new(ctx)?;
    let child = Child::start(ctx, &phase, DEVICES).await?;
    // Let start-up settle (tables created, subscription made).
    tokio::time::sleep(Duration::from_secs(1)).await;
    let counts = ctx.sink.counts.clone();
    let table = phase.readings_table();
    let per_message = per_message.max(1);
    let mut lg = phase.loadgen(ctx, DEVICES, per_message);
    lg.rate = Some(rate);
    lg.duration = Some(Duration::from_secs(seconds));
    let cpu_before = rss::cpu(Some(child.pid))?;
    let requests_before = counts.requests.load(Ordering::Relaxed);
    let readings_requests_before = counts.requests_for(&table);
    let start = Instant::now();
    let stats = join_loadgen(spawn_loadgen(lg)).await?;
    let seconds = start.elapsed().as_secs_f64();
    let cpu = rss::cpu(Some(child.pid))?.saturating_sub(cpu_before);
    let requests = counts.requests.load(Ordering::Relaxed) - requests_before;
    let readings_requests = counts.requests_for(&table) - readings_requests_before;
    // Nothing lost: every message becomes a row.
    wait_for(
        "steady rows stored",
        Duration::from_secs(60),
        || counts.table(&table),
        stats.messages * per_message as u64,
    )
    .await?;
    drop(child);
    Ok(Steady {
        rate,
        per_message,
        messages: stats.messages,
        seconds,
        cpu,
        requests,
        readings_requests,
        flush_interval_ms: weijian_ingest::config::DEFAULT_FLUSH_INTERVAL_MS,
    })
}
