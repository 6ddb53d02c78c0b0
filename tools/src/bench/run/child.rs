//! `weijian run` in a child process on a phase's configuration: what the memory and steady
//! runs measure (RSS and CPU of the process alone, apart from the load generator and broker).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{Ctx, Phase};
use crate::bench::rss;
use crate::bench::{free_port, registry, BenchError};

/// Names another `weijian` executable to run as the child (default: this one).
pub const RUN_EXE_VAR: &str = "WEIJIAN_BENCH_RUN_EXE";

/// A running `weijian run`, killed when dropped.
#[derive(Debug)]
pub(super) struct Child {
    child: std::process::Child,
    pub pid: u32,
}

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Child {
    /// Starts `weijian run` with `devices` registered devices (registry in JSON Lines files)
    /// and waits until `/readyz` answers 200.
    pub(super) async fn start(
        ctx: &Ctx,
        phase: &Phase,
        devices: usize,
    ) -> Result<Child, BenchError> {
        let http = format!("127.0.0.1:{}", free_port()?);
        let conf = ctx.sink.conf();
        let (sites, devs) = registry::write_registry_files(phase.spool.path(), devices, false)?;
        let text = registry::config_text_with_files(
            &phase.bench_config(ctx, devices, &http, &conf),
            &sites,
            &devs,
        );
        let config_path = phase.spool.path().join("bench.toml");
        std::fs::write(&config_path, text)?;
        let log = std::fs::File::create(phase.spool.path().join("weijian.log"))?;
        // Another build can be measured in the same harness (before/after comparisons).
        let exe = match std::env::var_os(RUN_EXE_VAR) {
            Some(path) => path.into(),
            None => std::env::current_exe()?,
        };
        let child = Command::new(exe)
            .arg("run")
            .arg("--config")
            .arg(&config_path)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        let mut child = Child {
            pid: child.id(),
            child,
        };
        child.wait_ready(&http, devices).await?;
        Ok(child)
    }

    async fn wait_ready(&mut self, http: &str, devices: usize) -> Result<(), BenchError> {
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
                return Ok(());
            }
            if let Some(status) = self.child.try_wait()? {
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
                    rss::mib(rss::of(Some(self.pid)).map(|r| r.rss).unwrap_or(0))
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
