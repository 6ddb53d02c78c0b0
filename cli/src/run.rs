//! `weijian run`: the service (MQTT -> spool -> rules -> QuestDB, alert delivery, the API and
//! the operators' endpoints) until SIGINT or SIGTERM; SIGHUP reloads the supervisors.

use std::path::PathBuf;
use std::process::ExitCode;

use tokio_util::sync::CancellationToken;
use weijian_ingest::config::Config;
use weijian_ingest::telemetry::logging::{self, LogFormat};

use crate::common::{config_path, load, on_signals, runtime_then};

/// The arguments of `weijian run`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Configuration file (see config/weijian.example.toml); default: $WEIJIAN_CONFIG.
    #[arg(long, short)]
    pub config: Option<PathBuf>,
}

/// Loads the configuration and runs the service.
pub fn main(args: Args, format: LogFormat) -> ExitCode {
    logging::init(format, "info");
    let path = match config_path(args.config) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let config = match load(&path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    runtime_then(|| async move { run(config, path).await })
}

async fn run(config: Config, path: PathBuf) -> ExitCode {
    let shutdown = CancellationToken::new();
    on_signals(shutdown.clone());
    tracing::info!(
        broker = %format!("{}:{}", config.mqtt.host, config.mqtt.port),
        questdb = ?config.questdb.endpoint,
        sites = config.registry.site_count(),
        devices = config.registry.device_count(),
        "Starting weijian."
    );
    match weijian_service::pipeline::start(config, shutdown.clone()).await {
        Ok(running) => {
            weijian_service::reload::on_sighup(running.reloader.clone(), path, shutdown.clone());
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
