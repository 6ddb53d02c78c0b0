//! Runs the real `weijian` binary as a child process (for crash tests: SIGKILL and restart).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::Context;

/// The `weijian` binary built by this `cargo test` run (`target/<profile>/weijian`).
///
/// # Errors
/// It was not built (run `cargo test --workspace` or `cargo build --bin weijian` first).
pub fn weijian_binary() -> anyhow::Result<PathBuf> {
    if let Ok(p) = std::env::var("WEIJIAN_BIN") {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe()?;
    // target/<profile>/deps/<test> -> target/<profile>/weijian
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .context("test executable has no target directory")?;
    let bin = profile_dir.join("weijian");
    anyhow::ensure!(
        bin.is_file(),
        "{} is missing: run `cargo test --workspace` (which builds it) or `cargo build --bin weijian`",
        bin.display()
    );
    Ok(bin)
}

/// A running `weijian run --config FILE`, killed on drop.
#[derive(Debug)]
pub struct WeijianProcess {
    child: Child,
}

impl WeijianProcess {
    /// Starts `weijian run --config <config>` with logs to `log`.
    ///
    /// # Errors
    /// The binary is missing or cannot start.
    pub fn start(config: &Path, log: &Path) -> anyhow::Result<WeijianProcess> {
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)?;
        let child = Command::new(weijian_binary()?)
            .arg("run")
            .arg("--config")
            .arg(config)
            .env("RUST_LOG", "info,rumqttc=warn")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .spawn()
            .context("spawn weijian")?;
        Ok(WeijianProcess { child })
    }

    /// SIGKILL: no chance to flush or acknowledge anything.
    ///
    /// # Errors
    /// The kill failed.
    pub fn kill9(&mut self) -> anyhow::Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }

    /// SIGTERM and wait (graceful shutdown), up to `timeout`.
    ///
    /// # Errors
    /// It did not exit in time (then it is killed).
    pub fn terminate(&mut self, timeout: Duration) -> anyhow::Result<std::process::ExitStatus> {
        let pid = self.child.id().to_string();
        Command::new("kill").arg("-TERM").arg(&pid).status()?;
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if std::time::Instant::now() > deadline {
                self.child.kill()?;
                anyhow::bail!("weijian did not exit within {timeout:?} of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for WeijianProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
