//! `weijian bench`: the bare MQTT limit against weijian end to end, steady load, alert
//! latency and memory (see BENCHMARKS.md; needs the `tools` feature).

use std::path::PathBuf;
use std::process::ExitCode;

use weijian_ingest::telemetry::logging::{self, LogFormat};

use crate::common::{host_port, runtime_then, EX_USAGE};

/// The arguments of `weijian bench`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Messages in each single-reading throughput run.
    #[arg(long, default_value_t = 300_000)]
    pub single_messages: u64,
    /// Messages in each array throughput run.
    #[arg(long, default_value_t = 10_000)]
    pub array_messages: u64,
    /// Readings per array message.
    #[arg(long, default_value_t = 100)]
    pub array_size: usize,
    /// Devices the throughput and latency load is spread over.
    #[arg(long, default_value_t = 1000)]
    pub devices: usize,
    /// Bare/weijian pairs per workload (the best run of each side is reported).
    #[arg(long, default_value_t = 2)]
    pub repeats: usize,
    /// Length of the latency run.
    #[arg(long, default_value_t = 20)]
    pub latency_secs: u64,
    /// Alert probes per second during the latency run.
    #[arg(long, default_value_t = 10.0)]
    pub probe_hz: f64,
    /// Background rate of the latency run (default: half the measured single-reading rate).
    #[arg(long)]
    pub latency_rate: Option<f64>,
    /// Device counts for the memory runs, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000,100000")]
    pub memory_devices: Vec<usize>,
    /// Messages per second of the steady-load run.
    #[arg(long, default_value_t = 1000.0)]
    pub steady_rate: f64,
    /// Length of the steady-load run, seconds.
    #[arg(long, default_value_t = 20)]
    pub steady_secs: u64,
    /// Readings per message of the steady-load run (e.g. 100: weijian's own CPU per reading
    /// in arrays, apart from the publisher).
    #[arg(long, default_value_t = 1)]
    pub steady_per_message: usize,
    #[arg(long)]
    pub skip_throughput: bool,
    #[arg(long)]
    pub skip_steady: bool,
    #[arg(long)]
    pub skip_latency: bool,
    #[arg(long)]
    pub skip_memory: bool,
    /// Leave out the throughput runs with weijian as its own process (`weijian run`).
    #[arg(long)]
    pub skip_process: bool,
    /// Make the throughput runs' payloads before their clocks start, so that the publisher
    /// (standing for gateways, which format JSON on their own machines) does not spend
    /// weijian's cores on it. Off by default: figures compare with earlier ones.
    #[arg(long)]
    pub prepare_payloads: bool,
    /// Print a weijian configuration for `--devices` benchmark devices (for `weijian run`
    /// against `weijian loadgen`) and exit.
    #[arg(long)]
    pub print_config: bool,
    /// With --print-config: the broker as host:port.
    #[arg(long, default_value = "127.0.0.1:1883")]
    pub broker: String,
    /// With --print-config: give every device an HJ 212 MN (for `loadgen --format hj212`).
    #[arg(long)]
    hj212: bool,
}

/// Runs the benchmark (or prints a configuration with `--print-config`).
pub fn main(args: Args, format: LogFormat) -> ExitCode {
    let Args {
        single_messages,
        array_messages,
        array_size,
        devices,
        repeats,
        latency_secs,
        probe_hz,
        latency_rate,
        memory_devices,
        steady_rate,
        steady_secs,
        steady_per_message,
        skip_throughput,
        skip_steady,
        skip_latency,
        skip_memory,
        skip_process,
        prepare_payloads,
        print_config,
        broker,
        hj212,
    } = args;
    if print_config {
        let Some((host, port)) = host_port(&broker) else {
            eprintln!("--broker {broker:?} is not host:port");
            return ExitCode::from(EX_USAGE);
        };
        let spool = PathBuf::from("./weijian-spool");
        print!(
            "{}",
            weijian_tools::bench::registry::config_text(
                &weijian_tools::bench::registry::BenchConfig {
                    broker_host: &host,
                    broker_port: port,
                    client_id: "weijian-ingest",
                    topic_prefix: "weijian/v1",
                    questdb_conf: "http::addr=127.0.0.1:9000;",
                    table_prefix: "",
                    spool_dir: &spool,
                    http_listen: "127.0.0.1:9464",
                    devices: devices.max(1),
                    hj212,
                }
            )
        );
        return ExitCode::SUCCESS;
    }
    logging::init(format, "error");
    let options = weijian_tools::bench::run::BenchOptions {
        single_messages: single_messages.max(1),
        array_messages: array_messages.max(1),
        array_size: array_size.max(1),
        devices: devices.max(1),
        repeats: repeats.max(1),
        latency_secs,
        probe_hz,
        latency_rate,
        memory_devices,
        steady_rate: steady_rate.max(1.0),
        steady_secs: steady_secs.max(1),
        steady_per_message: steady_per_message.max(1),
        throughput: !skip_throughput,
        steady: !skip_steady,
        latency: !skip_latency,
        memory: !skip_memory,
        process: !skip_process,
        prepare_payloads,
        // A real QuestDB, named like the end-to-end tests name one.
        questdb: weijian_tools::bench::questdb::from_env(),
    };
    runtime_then(|| async move {
        let mut out = std::io::stdout();
        match weijian_tools::bench::run::run(&options, &mut out).await {
            Ok(_) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("bench failed: {error}");
                ExitCode::FAILURE
            }
        }
    })
}
