//! `weijian demo`: an embedded broker, the simulated fleet and the service, with live alerts
//! on the terminal (needs the `tools` feature).

use std::process::ExitCode;

use tokio_util::sync::CancellationToken;
use weijian_ingest::telemetry::logging::{self, LogFormat};

use crate::common::{on_signals, runtime_then, EX_USAGE};

/// The arguments of `weijian demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// QuestDB to write to (questdb-rs configuration string); the demo runs without one.
    #[arg(long, default_value = "http::addr=127.0.0.1:9000;")]
    pub questdb: String,
    /// Address for /metrics, /healthz and /readyz.
    #[arg(long, default_value = "127.0.0.1:9464")]
    pub http: String,
    /// Hours of history to replay quickly before running in real time.
    #[arg(long, default_value_t = 3)]
    pub backfill_hours: u32,
    /// Replay speed (simulated seconds per real second).
    #[arg(long, default_value_t = 60.0)]
    pub speed: f64,
    /// Incident mix: demo (something every few minutes), realistic or calm.
    #[arg(long, default_value = "demo")]
    pub scenario: String,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Stop after this many seconds (default: run until Ctrl-C).
    #[arg(long)]
    pub duration_secs: Option<u64>,
}

/// Runs the demo until Ctrl-C or `--duration-secs`.
pub fn main(args: Args, format: LogFormat) -> ExitCode {
    let Args {
        questdb,
        http,
        backfill_hours,
        speed,
        scenario,
        seed,
        duration_secs,
    } = args;
    // The screen is for the status line and alerts; RUST_LOG shows more.
    logging::init(format, "error,rumqttd=off");
    let Some(scenario) = weijian_tools::simulate::Scenario::by_name(&scenario) else {
        eprintln!(
            "unknown scenario {scenario:?}: use one of {:?}",
            weijian_tools::simulate::Scenario::NAMES
        );
        return ExitCode::from(EX_USAGE);
    };
    let options = weijian_tools::demo::DemoOptions {
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
        match weijian_tools::demo::run(options, shutdown, &mut out).await {
            Ok(_) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("the demo could not run: {error}");
                ExitCode::FAILURE
            }
        }
    })
}
