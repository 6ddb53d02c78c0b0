//! The `weijian` command: run the ingestor, check a configuration, run the demo, drive a
//! deployment with the simulated fleet, decode payloads for integrators, generate load and
//! run the benchmark (`loadgen`, `bench`: see BENCHMARKS.md).
//!
//! Exit codes: 0 success, 1 failure at run time (or undecodable input for `decode`),
//! 64 (EX_USAGE) invalid configuration or arguments.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use tokio_util::sync::CancellationToken;
use weijian::config::{Config, ProcessEnv};
use weijian::telemetry::logging::{self, LogFormat};

const EX_USAGE: u8 = 64;

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
    /// Site risk index (grades A-D) and risk-weighted 双随机 inspection draws (docs/risk-index.md).
    Risk {
        #[command(subcommand)]
        command: weijian::risk::cli::RiskCommand,
    },
    /// Run the ingestor: MQTT -> spool -> QuestDB, with metrics on the HTTP port.
    Run {
        /// Configuration file (see config/weijian.example.toml).
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Validate a configuration file and explain what it sets up.
    CheckConfig {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// The demo: an embedded broker, a simulated fleet and weijian, with live alerts.
    Demo {
        /// QuestDB to write to (questdb-rs configuration string); the demo runs without one.
        #[arg(long, default_value = "http::addr=127.0.0.1:9000;")]
        questdb: String,
        /// Address for /metrics, /healthz and /readyz.
        #[arg(long, default_value = "127.0.0.1:9464")]
        http: String,
        /// Hours of history to replay quickly before running in real time.
        #[arg(long, default_value_t = 3)]
        backfill_hours: u32,
        /// Replay speed (simulated seconds per real second).
        #[arg(long, default_value_t = 60.0)]
        speed: f64,
        /// Incident mix: demo (something every few minutes), realistic or calm.
        #[arg(long, default_value = "demo")]
        scenario: String,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Stop after this many seconds (default: run until Ctrl-C).
        #[arg(long)]
        duration_secs: Option<u64>,
    },
    /// Drive a real deployment with the simulated fleet of a configuration's registry.
    Simulate {
        /// Broker as host:port.
        #[arg(long, default_value = "127.0.0.1:1883")]
        broker: String,
        /// Configuration whose sites and devices to simulate.
        #[arg(long, short)]
        config: PathBuf,
        /// Hours of history to replay quickly first (0 = real time from now).
        #[arg(long, default_value_t = 0)]
        backfill_hours: u32,
        #[arg(long, default_value_t = 60.0)]
        speed: f64,
        #[arg(long, default_value = "realistic")]
        scenario: String,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// MQTT client id of the simulator.
        #[arg(long, default_value = "weijian-simulator")]
        client_id: String,
    },
    /// Decode payloads the way the ingestor would and print one JSON line per frame/object.
    Decode {
        /// Payload format.
        format: DecodeFormat,
        /// Input file, or - for standard input.
        #[arg(default_value = "-")]
        input: String,
    },
    /// Publish telemetry from simulated devices d0..d{N-1} (sites s0..) as fast as possible or
    /// at a rate; reports what was sent and the achieved rate (a progress line every second).
    /// The matching registry: `weijian bench --print-config --devices N`.
    Loadgen {
        /// Broker as host:port.
        #[arg(long, default_value = "127.0.0.1:1883")]
        broker: String,
        /// Simulated devices d0..d{N-1} at sites s0..s{N-1}.
        #[arg(long, default_value_t = 1000)]
        devices: usize,
        /// Messages per second (default: as fast as possible).
        #[arg(long)]
        rate: Option<f64>,
        /// MQTT QoS (0 or 1).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(0..=1))]
        qos: u8,
        /// Readings per message: 1 = a single JSON object; K > 1 = an array of K (HJ 212: K frames).
        #[arg(long, default_value_t = 1)]
        per_message: usize,
        /// Payload format (hj212 needs a registry with MNs: `bench --print-config --hj212`).
        #[arg(long, value_enum, default_value = "json")]
        format: DecodeFormat,
        /// Stop after this many seconds ...
        #[arg(long)]
        duration_secs: Option<f64>,
        /// ... or after this many messages (default: 10 s if neither is given).
        #[arg(long)]
        count: Option<u64>,
        #[arg(long, default_value = "weijian/v1")]
        topic_prefix: String,
        #[arg(long, default_value = "weijian-loadgen")]
        client_id: String,
        /// QoS 1 messages in flight.
        #[arg(long, default_value_t = 1000)]
        inflight: u16,
        #[arg(long, default_value_t = 7)]
        seed: u64,
    },
    /// Benchmark: bare MQTT limit vs weijian end to end (side by side, one run, private
    /// Mosquitto and an in-process ILP sink), alert latency at half rate, memory per device.
    /// With WEIJIAN_TEST_QUESTDB=http::addr=HOST:9000; the throughput workloads also run
    /// against that real QuestDB (tables under a prefix unique to the run).
    Bench {
        /// Messages in each single-reading throughput run.
        #[arg(long, default_value_t = 300_000)]
        single_messages: u64,
        /// Messages in each array throughput run.
        #[arg(long, default_value_t = 10_000)]
        array_messages: u64,
        /// Readings per array message.
        #[arg(long, default_value_t = 100)]
        array_size: usize,
        /// Devices the throughput and latency load is spread over.
        #[arg(long, default_value_t = 1000)]
        devices: usize,
        /// Bare/weijian pairs per workload (the best run of each side is reported).
        #[arg(long, default_value_t = 2)]
        repeats: usize,
        /// Length of the latency run.
        #[arg(long, default_value_t = 20)]
        latency_secs: u64,
        /// Alert probes per second during the latency run.
        #[arg(long, default_value_t = 10.0)]
        probe_hz: f64,
        /// Background rate of the latency run (default: half the measured single-reading rate).
        #[arg(long)]
        latency_rate: Option<f64>,
        /// Device counts for the memory runs, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "1000,10000,100000")]
        memory_devices: Vec<usize>,
        /// Messages per second of the steady-load run.
        #[arg(long, default_value_t = 1000.0)]
        steady_rate: f64,
        /// Length of the steady-load run, seconds.
        #[arg(long, default_value_t = 20)]
        steady_secs: u64,
        #[arg(long)]
        skip_throughput: bool,
        #[arg(long)]
        skip_steady: bool,
        #[arg(long)]
        skip_latency: bool,
        #[arg(long)]
        skip_memory: bool,
        /// Print a weijian configuration for `--devices` benchmark devices (for `weijian run`
        /// against `weijian loadgen`) and exit.
        #[arg(long)]
        print_config: bool,
        /// With --print-config: the broker as host:port.
        #[arg(long, default_value = "127.0.0.1:1883")]
        broker: String,
        /// With --print-config: give every device an HJ 212 MN (for `loadgen --format hj212`).
        #[arg(long)]
        hj212: bool,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum DecodeFormat {
    Hj212,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let format = if cli.log_json {
        LogFormat::Json
    } else {
        LogFormat::Text
    };
    match cli.command {
        Command::Run { config } => {
            logging::init(format, "info");
            let config = match load(&config) {
                Ok(c) => c,
                Err(code) => return code,
            };
            runtime_then(|| async move { run(config).await })
        }
        Command::CheckConfig { config } => check_config(&config),
        Command::Risk { command } => ExitCode::from(weijian::risk::cli::run(command)),
        Command::Demo {
            questdb,
            http,
            backfill_hours,
            speed,
            scenario,
            seed,
            duration_secs,
        } => {
            // The screen is for the status line and alerts; RUST_LOG shows more.
            logging::init(format, "error,rumqttd=off");
            let Some(scenario) = weijian::simulate::Scenario::by_name(&scenario) else {
                eprintln!(
                    "unknown scenario {scenario:?}: use one of {:?}",
                    weijian::simulate::Scenario::NAMES
                );
                return ExitCode::from(EX_USAGE);
            };
            let options = weijian::demo::DemoOptions {
                questdb,
                http_listen: http,
                backfill_hours,
                speedup: speed,
                seed,
                scenario,
                duration: duration_secs.map(std::time::Duration::from_secs),
                ..Default::default()
            };
            runtime_then(|| async move {
                let shutdown = CancellationToken::new();
                on_signals(shutdown.clone());
                let mut out = std::io::stdout();
                match weijian::demo::run(options, shutdown, &mut out).await {
                    Ok(_) => ExitCode::SUCCESS,
                    Err(error) => {
                        eprintln!("the demo could not run: {error}");
                        ExitCode::FAILURE
                    }
                }
            })
        }
        Command::Simulate {
            broker,
            config,
            backfill_hours,
            speed,
            scenario,
            seed,
            client_id,
        } => {
            logging::init(format, "info");
            let config = match load(&config) {
                Ok(c) => c,
                Err(code) => return code,
            };
            let Some(scenario) = weijian::simulate::Scenario::by_name(&scenario) else {
                eprintln!(
                    "unknown scenario {scenario:?}: use one of {:?}",
                    weijian::simulate::Scenario::NAMES
                );
                return ExitCode::from(EX_USAGE);
            };
            let Some((host, port)) = broker
                .rsplit_once(':')
                .and_then(|(h, p)| p.parse::<u16>().ok().map(|p| (h.to_string(), p)))
            else {
                eprintln!("--broker {broker:?} is not host:port");
                return ExitCode::from(EX_USAGE);
            };
            runtime_then(|| async move {
                simulate(
                    config,
                    host,
                    port,
                    client_id,
                    backfill_hours,
                    speed,
                    scenario,
                    seed,
                )
                .await
            })
        }
        Command::Decode { format, input } => decode(format, &input),
        Command::Loadgen {
            broker,
            devices,
            rate,
            qos,
            per_message,
            format: payload_format,
            duration_secs,
            count,
            topic_prefix,
            client_id,
            inflight,
            seed,
        } => {
            logging::init(format, "warn");
            let Some((host, port)) = host_port(&broker) else {
                eprintln!("--broker {broker:?} is not host:port");
                return ExitCode::from(EX_USAGE);
            };
            let duration = match (duration_secs, count) {
                (None, None) => Some(std::time::Duration::from_secs(10)),
                (d, _) => d.map(std::time::Duration::from_secs_f64),
            };
            let options = weijian::bench::loadgen::LoadgenOptions {
                host,
                port,
                client_id,
                topic_prefix,
                devices: devices.max(1),
                rate,
                qos,
                per_message: per_message.max(1),
                format: match payload_format {
                    DecodeFormat::Json => weijian::bench::payload::Format::Json,
                    DecodeFormat::Hj212 => weijian::bench::payload::Format::Hj212,
                },
                duration,
                count,
                inflight,
                seed,
            };
            runtime_then(|| async move { loadgen(options).await })
        }
        Command::Bench {
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
            skip_throughput,
            skip_steady,
            skip_latency,
            skip_memory,
            print_config,
            broker,
            hj212,
        } => {
            if print_config {
                let Some((host, port)) = host_port(&broker) else {
                    eprintln!("--broker {broker:?} is not host:port");
                    return ExitCode::from(EX_USAGE);
                };
                let spool = PathBuf::from("./weijian-spool");
                print!(
                    "{}",
                    weijian::bench::registry::config_text(&weijian::bench::registry::BenchConfig {
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
                    })
                );
                return ExitCode::SUCCESS;
            }
            logging::init(format, "error");
            let options = weijian::bench::run::BenchOptions {
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
                throughput: !skip_throughput,
                steady: !skip_steady,
                latency: !skip_latency,
                memory: !skip_memory,
                // A real QuestDB, named like the end-to-end tests name one.
                questdb: weijian::bench::questdb::from_env(),
            };
            runtime_then(|| async move {
                let mut out = std::io::stdout();
                match weijian::bench::run::run(&options, &mut out).await {
                    Ok(_) => ExitCode::SUCCESS,
                    Err(error) => {
                        eprintln!("bench failed: {error}");
                        ExitCode::FAILURE
                    }
                }
            })
        }
    }
}

fn host_port(broker: &str) -> Option<(String, u16)> {
    broker
        .rsplit_once(':')
        .and_then(|(h, p)| p.parse::<u16>().ok().map(|p| (h.to_string(), p)))
}

async fn loadgen(options: weijian::bench::loadgen::LoadgenOptions) -> ExitCode {
    use weijian::bench::loadgen;
    let cancel = CancellationToken::new();
    on_signals(cancel.clone());
    eprintln!(
        "loadgen: {} devices -> {}:{} ({}), QoS {}, {} reading(s) per message, {}",
        options.devices,
        options.host,
        options.port,
        options.topic_prefix,
        options.qos,
        options.per_message,
        match options.rate {
            Some(r) => format!("{r} msg/s"),
            None => "as fast as possible".to_string(),
        }
    );
    match loadgen::run(&options, cancel, |s| {
        eprintln!("{}", loadgen::progress_line(s))
    })
    .await
    {
        Ok(stats) => {
            println!(
                "sent {} messages ({} readings, {} bytes) in {:.2} s: {:.0} msg/s, {:.0} readings/s; {} written to the connection, {} acknowledged by the broker (QoS 1)",
                stats.messages,
                stats.readings,
                stats.bytes,
                stats.elapsed.as_secs_f64(),
                stats.rate(),
                stats.readings_rate(),
                stats.written,
                stats.acked
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("loadgen failed: {error}");
            ExitCode::FAILURE
        }
    }
}

fn load(path: &std::path::Path) -> Result<Config, ExitCode> {
    Config::load(path, &ProcessEnv).map_err(|errors| {
        eprint!("{errors}");
        ExitCode::from(EX_USAGE)
    })
}

fn runtime_then<F, Fut>(f: F) -> ExitCode
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ExitCode>,
{
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(f()),
        Err(error) => {
            eprintln!("cannot start the async runtime: {error}");
            ExitCode::FAILURE
        }
    }
}

/// SIGINT / SIGTERM -> cancel.
fn on_signals(token: CancellationToken) {
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(s) => s,
                    Err(error) => {
                        tracing::error!(%error, "Cannot listen for SIGTERM.");
                        let _ = ctrl_c.await;
                        token.cancel();
                        return;
                    }
                };
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        tracing::info!("Shutting down (signal received).");
        token.cancel();
    });
}

async fn run(config: Config) -> ExitCode {
    let shutdown = CancellationToken::new();
    on_signals(shutdown.clone());
    tracing::info!(
        broker = %format!("{}:{}", config.mqtt.host, config.mqtt.port),
        questdb = %config.questdb.http_base,
        sites = config.registry.site_count(),
        devices = config.registry.device_count(),
        "Starting weijian."
    );
    match weijian::pipeline::start(config, shutdown).await {
        Ok(running) => {
            running.wait().await;
            tracing::info!("weijian stopped.");
            ExitCode::SUCCESS
        }
        Err(error) => {
            tracing::error!(%error, "weijian could not start.");
            ExitCode::FAILURE
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn simulate(
    config: Config,
    host: String,
    port: u16,
    client_id: String,
    backfill_hours: u32,
    speed: f64,
    scenario: weijian::simulate::Scenario,
    seed: u64,
) -> ExitCode {
    use weijian::simulate::{self, Fleet, Pace};
    let cancel = CancellationToken::new();
    on_signals(cancel.clone());
    let fleet = Fleet::new(&config.registry, &config.mqtt.topic_prefix, seed, scenario);
    tracing::info!(devices = fleet.device_count(), broker = %format!("{host}:{port}"), "Simulating the fleet.");
    let client = simulate::spawn_client(
        simulate::mqtt_options(&host, port, &client_id),
        cancel.clone(),
    );
    let pace = if backfill_hours == 0 {
        Pace::real_time()
    } else {
        Pace::accelerated(backfill_hours, speed)
    };
    let mut last = std::time::Instant::now();
    let result = simulate::run_publisher(client, fleet, pace, cancel, |s| {
        if last.elapsed() >= std::time::Duration::from_secs(5) {
            last = std::time::Instant::now();
            tracing::info!(
                messages = s.messages,
                readings = s.readings,
                events = s.events,
                incidents = s.incidents,
                caught_up = s.caught_up,
                "Publishing."
            );
        }
    })
    .await;
    match result {
        Ok(stats) => {
            tracing::info!(
                messages = stats.messages,
                readings = stats.readings,
                "Simulation stopped."
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            tracing::error!(%error, "Simulation failed.");
            ExitCode::FAILURE
        }
    }
}

fn check_config(path: &std::path::Path) -> ExitCode {
    let config = match load(path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    println!("{}: configuration is valid.", path.display());
    println!(
        "  broker      {}:{} (MQTT {}, client id {:?}, inflight window {})",
        config.mqtt.host,
        config.mqtt.port,
        match config.mqtt.protocol {
            weijian::config::MqttProtocol::V5 => "5",
            weijian::config::MqttProtocol::V311 => "3.1.1",
        },
        config.mqtt.client_id,
        config.mqtt.inflight
    );
    println!(
        "  topics      {}/{{site}}/{{device}}/{{telemetry|event|hj212|status}}",
        config.mqtt.topic_prefix
    );
    println!(
        "  questdb     {} (table prefix {:?})",
        config.questdb.http_base, config.questdb.table_prefix
    );
    println!(
        "  spool       {} (max {} MiB)",
        config.spool.dir.display(),
        config.spool.max_bytes >> 20
    );
    println!("  http        {}", config.http.listen);
    let pack = &config.alerts.pack;
    println!(
        "  rules       {} rules from {} ({} {})",
        pack.rules.len(),
        config.alerts.pack_source,
        pack.name,
        pack.version
    );
    println!("{}", weijian::risk::cli::describe(&pack.risk));
    println!(
        "  registry    {} sites, {} devices",
        config.registry.site_count(),
        config.registry.device_count()
    );
    for site in config.registry.sites() {
        let devices: Vec<_> = config
            .registry
            .devices()
            .filter(|d| d.site == site.id)
            .map(|d| format!("{} ({})", d.id, d.kind))
            .collect();
        println!(
            "    {:<20} {:<22} {}  [{}]",
            &*site.id,
            site.attributes.kind().as_str(),
            site.grid,
            devices.join(", ")
        );
    }
    match (
        &config.delivery.supervisors,
        &config.delivery.supervisors_source,
    ) {
        (Some(d), Some(source)) => {
            let t = &d.timing;
            println!(
                "  delivery    {} supervisors from {source}; ack deadlines I/II/III/IV {}/{}/{}/{} min, group window {} s{}",
                d.supervisors.len(),
                t.ack_deadline_mins.i,
                t.ack_deadline_mins.ii,
                t.ack_deadline_mins.iii,
                t.ack_deadline_mins.iv,
                t.group_window_secs,
                if config.delivery.smtp.is_some() { ", e-mail on" } else { "" }
            );
            for s in &d.supervisors {
                let channels: Vec<&str> = s.channels.iter().map(|c| c.kind.as_str()).collect();
                println!(
                    "    {:<20} {:<10} {}  [{}]",
                    s.id,
                    s.tier().as_str(),
                    s.cell,
                    channels.join(", ")
                );
            }
            for w in &config.delivery.warnings {
                println!("  warning: {w}");
            }
        }
        _ => println!(
            "  delivery    off (no [delivery] supervisors_file): nobody is notified, no alert API"
        ),
    }
    let failures = alerting::run_pack_tests(pack);
    if failures.is_empty() {
        println!("  rule tests  {} shipped test cases pass", pack.tests.len());
        ExitCode::SUCCESS
    } else {
        println!(
            "  rule tests  {} of {} FAILED:",
            failures.len(),
            pack.tests.len()
        );
        for f in &failures {
            println!("    {f}");
        }
        ExitCode::FAILURE
    }
}

fn decode(format: DecodeFormat, input: &str) -> ExitCode {
    let reader: Box<dyn std::io::BufRead> = if input == "-" {
        Box::new(std::io::BufReader::new(std::io::stdin()))
    } else {
        match std::fs::File::open(input) {
            Ok(f) => Box::new(std::io::BufReader::new(f)),
            Err(error) => {
                eprintln!("cannot open {input}: {error}");
                return ExitCode::from(EX_USAGE);
            }
        }
    };
    let stdout = std::io::stdout();
    let result = match format {
        DecodeFormat::Json => weijian::decode::report::json(reader, stdout.lock()),
        DecodeFormat::Hj212 => weijian::decode::report::hj212(reader, stdout.lock()),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("decode failed: {error}");
            ExitCode::FAILURE
        }
    }
}
