//! The `weijian` command: run the service, check a configuration, decode payloads for
//! integrators; with the `tools` feature (on by default) also the demo, the simulator, the
//! load generator and the benchmark (see BENCHMARKS.md). One module per subcommand.
//!
//! Exit codes: 0 success, 1 failure at run time (or undecodable input for `decode`, or a
//! service that does not answer `check-config --probe`), 64 (EX_USAGE) invalid arguments,
//! 78 (EX_CONFIG) invalid configuration.
//!
//! # Layout
//!
//! - `common`: exit codes, loading a configuration, the runtime, signals.
//! - `run`, `check_config`, `decode`, `risk`: the production subcommands.
//! - `demo`, `simulate`, `loadgen`, `loadgen-tcp`, `bench`: the tools (`weijian-tools`).
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use weijian_ingest::telemetry::logging::LogFormat;

mod check_config;
mod common;
mod decode;
mod probe;
mod risk;
mod run;

#[cfg(feature = "tools")]
mod bench;
#[cfg(feature = "tools")]
mod demo;
#[cfg(feature = "tools")]
mod loadgen;
#[cfg(feature = "tools")]
mod loadgen_tcp;
#[cfg(feature = "tools")]
mod simulate;

#[derive(Debug, Parser)]
#[command(
    name = "weijian",
    version,
    about = "卫监 weijian: online-monitoring ingestion and risk-graded alerts for health supervision"
)]
struct Cli {
    /// Log lines as JSON (for log shippers) instead of text.
    #[arg(long, global = true)]
    log_json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the ingestor: MQTT -> spool -> QuestDB, with metrics on the HTTP port.
    Run(run::Args),
    /// Validate a configuration file and explain what it sets up.
    CheckConfig(check_config::Args),
    /// Decode payloads the way the ingestor would and print one JSON line per frame/object.
    Decode(decode::Args),
    /// Site risk index (grades A-D) and risk-weighted 双随机 inspection draws (docs/risk-index.md).
    Risk {
        #[command(subcommand)]
        command: risk::RiskCommand,
    },
    /// The demo: an embedded broker, a simulated fleet and weijian, with live alerts.
    #[cfg(feature = "tools")]
    Demo(demo::Args),
    /// Drive a real deployment with the simulated fleet of a configuration's registry.
    #[cfg(feature = "tools")]
    Simulate(simulate::Args),
    /// Publish telemetry from simulated devices d0..d{N-1} (sites s0..) as fast as possible or
    /// at a rate; reports what was sent and the achieved rate (a progress line every second).
    /// The matching registry: `weijian bench --print-config --devices N`.
    #[cfg(feature = "tools")]
    Loadgen(loadgen::Args),
    /// Open many HJ 212 logger connections on the TCP listener (devices d0.. with MNs from
    /// `weijian bench --print-config --hj212`): one frame a minute each, then a burst; reports
    /// frames/s and weijian's memory per connection (`--pid`).
    #[cfg(feature = "tools")]
    LoadgenTcp(loadgen_tcp::Args),
    /// Benchmark: bare MQTT limit vs weijian end to end (side by side, one run, private
    /// Mosquitto and an in-process ILP sink), alert latency at half rate, memory per device.
    /// With WEIJIAN_TEST_QUESTDB=http::addr=HOST:9000; the throughput workloads also run
    /// against that real QuestDB (tables under a prefix unique to the run).
    #[cfg(feature = "tools")]
    Bench(bench::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let format = if cli.log_json {
        LogFormat::Json
    } else {
        LogFormat::Text
    };
    match cli.command {
        Command::Run(args) => run::main(args, format),
        Command::CheckConfig(args) => check_config::main(args),
        Command::Decode(args) => decode::main(args),
        Command::Risk { command } => ExitCode::from(risk::run(command)),
        #[cfg(feature = "tools")]
        Command::Demo(args) => demo::main(args, format),
        #[cfg(feature = "tools")]
        Command::Simulate(args) => simulate::main(args, format),
        #[cfg(feature = "tools")]
        Command::Loadgen(args) => loadgen::main(args, format),
        #[cfg(feature = "tools")]
        Command::LoadgenTcp(args) => loadgen_tcp::main(args, format),
        #[cfg(feature = "tools")]
        Command::Bench(args) => bench::main(args, format),
    }
}
