//! `weijian simulate`: drive a real deployment with the simulated fleet of a configuration's
//! registry (needs the `tools` feature).

use std::path::PathBuf;
use std::process::ExitCode;

use tokio_util::sync::CancellationToken;
use weijian_ingest::config::Config;
use weijian_ingest::telemetry::logging::{self, LogFormat};

use crate::common::{config_path, host_port, load, on_signals, runtime_then, EX_USAGE};

/// The arguments of `weijian simulate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Broker as host:port.
    #[arg(long, default_value = "127.0.0.1:1883")]
    pub broker: String,
    /// Configuration whose sites and devices to simulate; default: $WEIJIAN_CONFIG.
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// Hours of history to replay quickly first (0 = real time from now).
    #[arg(long, default_value_t = 0)]
    pub backfill_hours: u32,
    #[arg(long, default_value_t = 60.0)]
    pub speed: f64,
    #[arg(long, default_value = "realistic")]
    pub scenario: String,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// MQTT client id of the simulator.
    #[arg(long, default_value = "weijian-simulator")]
    pub client_id: String,
}

/// Publishes the fleet until Ctrl-C.
pub fn main(args: Args, format: LogFormat) -> ExitCode {
    let Args {
        broker,
        config,
        backfill_hours,
        speed,
        scenario,
        seed,
        client_id,
    } = args;
    logging::init(format, "info");
    let config = match config_path(config).and_then(|path| load(&path)) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let Some(scenario) = weijian_tools::simulate::Scenario::by_name(&scenario) else {
        eprintln!(
            "unknown scenario {scenario:?}: use one of {:?}",
            weijian_tools::simulate::Scenario::NAMES
        );
        return ExitCode::from(EX_USAGE);
    };
    let Some((host, port)) = host_port(&broker) else {
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

#[allow(clippy::too_many_arguments)]
async fn simulate(
    config: Config,
    host: String,
    port: u16,
    client_id: String,
    backfill_hours: u32,
    speed: f64,
    scenario: weijian_tools::simulate::Scenario,
    seed: u64,
) -> ExitCode {
    use weijian_tools::simulate::{self, Fleet, Pace};
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
