//! `weijian loadgen-tcp`: many HJ 212 data loggers on weijian's TCP listener (needs the `tools`
//! feature). The matching registry: `weijian bench --print-config --hj212 --devices N` plus an
//! `[hj212_tcp]` section.

use std::process::ExitCode;
use std::time::Duration;

use weijian_ingest::telemetry::logging::{self, LogFormat};

use crate::common::runtime_then;

/// The arguments of `weijian loadgen-tcp`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The listener as host:port (`[hj212_tcp] listen`).
    #[arg(long, default_value = "127.0.0.1:9212")]
    pub addr: String,
    /// Connections, one per benchmark device d0..d{N-1}.
    #[arg(long, default_value_t = 10_000)]
    pub connections: usize,
    /// Each connection sends one frame every this many seconds ...
    #[arg(long, default_value_t = 60)]
    pub interval_secs: u64,
    /// ... for this long ...
    #[arg(long, default_value_t = 120)]
    pub steady_secs: u64,
    /// ... then this many frames back to back (the burst).
    #[arg(long, default_value_t = 10)]
    pub burst: usize,
    /// weijian's process id, to report its resident memory per connection.
    #[arg(long)]
    pub pid: Option<u32>,
}

/// Runs the load and prints the figures.
pub fn main(args: Args, format: LogFormat) -> ExitCode {
    logging::init(format, "warn");
    match weijian_ingest::telemetry::process::raise_nofile_limit() {
        Some((before, after)) => {
            eprintln!(
                "loadgen-tcp: open-files limit (RLIMIT_NOFILE) raised from {before} to {after}"
            )
        }
        None => eprintln!("loadgen-tcp: could not raise the open-files limit (RLIMIT_NOFILE)"),
    }
    let options = weijian_tools::bench::hj212_tcp::TcpLoadOptions {
        addr: args.addr,
        connections: args.connections.max(1),
        interval: Duration::from_secs(args.interval_secs.max(1)),
        steady: Duration::from_secs(args.steady_secs),
        burst: args.burst,
        pid: args.pid,
    };
    runtime_then(|| async move {
        match weijian_tools::bench::hj212_tcp::run(options).await {
            Ok(s) => {
                println!(
                    "connections: {} open ({} failed) in {:.1} s",
                    s.connected, s.failures, s.connect_secs
                );
                println!(
                    "steady: {} frames acknowledged in {:.1} s = {:.1} frames/s",
                    s.steady_acked,
                    s.steady_secs,
                    s.steady_acked as f64 / s.steady_secs.max(1e-9)
                );
                println!(
                    "burst: {} frames acknowledged in {:.2} s = {:.0} frames/s",
                    s.burst_acked,
                    s.burst_secs,
                    s.burst_acked as f64 / s.burst_secs.max(1e-9)
                );
                if let (Some(before), Some(open), Some(per)) =
                    (s.rss_before, s.rss_open, s.rss_per_connection())
                {
                    println!(
                        "weijian RSS: {:.1} MiB before, {:.1} MiB with all open = {:.1} KiB per connection",
                        before as f64 / 1048576.0,
                        open as f64 / 1048576.0,
                        per / 1024.0
                    );
                }
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("loadgen-tcp failed: {error}");
                ExitCode::FAILURE
            }
        }
    })
}
