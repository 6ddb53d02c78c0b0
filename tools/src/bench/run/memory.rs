//! Memory: `weijian run` in a child process with N registered devices (registry in JSON Lines
//! files, `[registry] sites_file` / `devices_file`); its RSS once ready and after every device
//! has reported one reading.

use std::time::{Duration, Instant};

use super::child::Child;
use super::{join_loadgen, spawn_loadgen, wait_for, Ctx, Phase};
use crate::bench::rss::{self, Rss};
use crate::bench::BenchError;

/// One memory measurement.
#[derive(Debug, Clone, Copy, Default)]
pub struct Memory {
    pub devices: usize,
    pub idle: Rss,
    pub loaded: Rss,
    pub seconds_to_ingest: f64,
}
pub(super) async fn memory_run(ctx: &mut Ctx, devices: usize) -> Result<Memory, BenchError> {
    let phase = Phase::new(ctx)?;
    let child = Child::start(ctx, &phase, devices).await?;
    let pid = child.pid;
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
    drop(child);
    Ok(Memory {
        devices,
        idle,
        loaded,
        seconds_to_ingest: (done - start).as_secs_f64(),
    })
}
