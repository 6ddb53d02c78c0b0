//! What the subcommands share: exit codes, loading a configuration, the async runtime, signals,
//! and argument helpers.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use tokio_util::sync::CancellationToken;
use weijian_ingest::config::{Config, ProcessEnv};
use weijian_service::notify::NotifierChannels;

/// Invalid arguments (sysexits EX_USAGE).
pub const EX_USAGE: u8 = 64;
/// Invalid configuration (sysexits EX_CONFIG), as Vector and other daemons use it; systemd
/// can tell it from a crash (`RestartPreventExitStatus=78`).
pub const EX_CONFIG: u8 = 78;

/// A payload format on the command line.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum PayloadFormat {
    Hj212,
    Json,
}

/// The configuration file: `--config`, else `WEIJIAN_CONFIG`; a usage error when neither is
/// given.
pub fn config_path(arg: Option<PathBuf>) -> Result<PathBuf, ExitCode> {
    arg.or_else(|| Config::default_path(&ProcessEnv))
        .ok_or_else(|| {
            eprintln!(
                "no configuration file: pass --config FILE or set {}",
                weijian_ingest::config::CONFIG_PATH_VAR
            );
            ExitCode::from(EX_USAGE)
        })
}

/// Loads a configuration from the process environment, supervisors' channels checked as their
/// notifiers will read them; prints the problems and gives the exit code ([`EX_CONFIG`])
/// otherwise.
pub fn load(path: &Path) -> Result<Config, ExitCode> {
    Config::load_checked(path, &ProcessEnv, &NotifierChannels).map_err(|errors| {
        eprint!("{errors}");
        ExitCode::from(EX_CONFIG)
    })
}

/// `host:port` -> its parts.
#[cfg(feature = "tools")]
pub fn host_port(broker: &str) -> Option<(String, u16)> {
    broker
        .rsplit_once(':')
        .and_then(|(h, p)| p.parse::<u16>().ok().map(|p| (h.to_string(), p)))
}

pub fn runtime_then<F, Fut>(f: F) -> ExitCode
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
pub fn on_signals(token: CancellationToken) {
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

/// Writes `text` to stdout. A reader that closed early (`weijian check-config | head`) is not
/// an error: what it did not read is dropped.
///
/// # Errors
/// Any other write error.
pub fn write_stdout(text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// Writes a command's report to stdout ([`write_stdout`]): the command exits with `code` as it
/// would have, also when the reader closed early; another write error is reported on stderr and
/// fails the command.
pub fn print_stdout(text: &str, code: ExitCode) -> ExitCode {
    match write_stdout(text) {
        Ok(()) => code,
        Err(error) => {
            eprintln!("cannot write to stdout: {error}");
            ExitCode::FAILURE
        }
    }
}
