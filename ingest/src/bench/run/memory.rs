//! Memory: `weijian run` in a child process with N registered devices (registry in JSON Lines
//! files, `[registry] sites_file` / `devices_file`); its RSS once ready and after every device
//! has reported one reading.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{join_loadgen, spawn_loadgen, wait_for, Ctx, Phase};
use crate::bench::rss::{self, Rss};
use crate::bench::{free_port, registry, BenchError};

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
    let http = format!("127.0.0.1:{}", free_port()?);
    let conf = ctx.sink.conf();
    // The registry in JSON Lines files: the form meant for fleets of this size.
    let (sites, devs) = registry::write_registry_files(phase.spool.path(), devices, false)?;
    let text = registry::config_text_with_files(
        &phase.bench_config(ctx, devices, &http, &conf),
        &sites,
        &devs,
    );
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
