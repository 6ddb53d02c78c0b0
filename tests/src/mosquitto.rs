//! Runs a real Mosquitto broker for a test: a private config, persistence directory and log in a
//! temp dir, a free port on 127.0.0.1, [`Mosquitto::restart`] keeping persistence (SIGTERM, so
//! Mosquitto saves its database), and kill on drop.
//!
//! ```no_run
//! # fn main() -> anyhow::Result<()> {
//! let mut broker = weijian_tests::mosquitto::Mosquitto::start()?;
//! let (host, port) = (broker.host(), broker.port());
//! // ... connect clients ...
//! broker.restart()?; // same port, persisted sessions and queued QoS>0 messages survive
//! # Ok(()) }
//! ```

use std::fs::File;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

/// Environment variable overriding the mosquitto binary.
pub const ENV_VAR: &str = "WEIJIAN_MOSQUITTO";

/// A running (or stopped) Mosquitto broker owned by a test.
#[derive(Debug)]
pub struct Mosquitto {
    binary: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
}

impl Mosquitto {
    /// Locate the mosquitto binary: `$WEIJIAN_MOSQUITTO`, `PATH`, `/usr/sbin`, `/usr/local/sbin`.
    pub fn find_binary() -> anyhow::Result<PathBuf> {
        if let Some(p) = std::env::var_os(ENV_VAR) {
            let p = PathBuf::from(p);
            if p.is_file() {
                return Ok(p);
            }
            bail!("{ENV_VAR}={} is not a file", p.display());
        }
        let path = std::env::var_os("PATH").unwrap_or_default();
        let candidates = std::env::split_paths(&path)
            .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from))
            .map(|d| d.join("mosquitto"));
        for c in candidates {
            if c.is_file() {
                return Ok(c);
            }
        }
        bail!(
            "mosquitto not found on PATH nor in /usr/sbin: install it (`apt-get install mosquitto`) \
             or set {ENV_VAR} to the binary"
        )
    }

    /// Is a mosquitto binary available?
    pub fn is_available() -> bool {
        Self::find_binary().is_ok()
    }

    /// Start a broker with the default config.
    pub fn start() -> anyhow::Result<Mosquitto> {
        Self::start_with_config("")
    }

    /// Start a broker, appending `extra` (mosquitto.conf lines) to the default config:
    ///
    /// ```text
    /// listener <port> 127.0.0.1
    /// allow_anonymous true
    /// persistence true
    /// persistence_location <tempdir>/
    /// max_queued_messages 0      (unlimited)
    /// max_queued_bytes 0         (unlimited)
    /// max_inflight_messages 1000
    /// log_dest file <tempdir>/mosquitto.log
    /// ```
    pub fn start_with_config(extra: &str) -> anyhow::Result<Mosquitto> {
        Self::start_with_settings(
            |port, dir| {
                format!(
                    "listener {port} 127.0.0.1\n\
                     allow_anonymous true\n\
                     persistence true\n\
                     persistence_location {dir}/\n\
                     persistence_file mosquitto.db\n\
                     max_queued_messages 0\n\
                     max_queued_bytes 0\n\
                     max_inflight_messages 1000\n",
                    dir = dir.display()
                )
            },
            extra,
        )
    }

    /// Start a broker whose settings (listeners, security, persistence, queues) are written by
    /// `settings(port, dir)`: for example a shipped configuration with its TLS listener moved to
    /// `port` and its files and persistence in `dir`. The harness adds only its logging lines (to
    /// `dir`/mosquitto.log) and `extra`. The broker counts as up once `port` accepts TCP
    /// connections.
    pub fn start_with_settings(
        settings: impl FnOnce(u16, &Path) -> String,
        extra: &str,
    ) -> anyhow::Result<Mosquitto> {
        let binary = Self::find_binary()?;
        let dir = tempfile::Builder::new()
            .prefix("weijian-mosquitto")
            .tempdir()?;
        let port = free_port()?;
        let settings = settings(port, dir.path());
        let conf = format!(
            "# written by weijian-tests\n\
             {settings}\n\
             log_dest file {dir}/mosquitto.log\n\
             log_type error\n\
             log_type warning\n\
             log_type notice\n\
             log_type information\n\
             connection_messages true\n\
             log_timestamp_format %Y-%m-%dT%H:%M:%S\n\
             # keep root when started as root (otherwise mosquitto drops to user `mosquitto`,\n\
             # which cannot write the temp dir); ignored when not root\n\
             user root\n\
             {extra}\n",
            dir = dir.path().display(),
        );
        std::fs::write(dir.path().join("mosquitto.conf"), conf)?;
        let mut m = Mosquitto {
            binary,
            dir,
            port,
            child: None,
        };
        m.spawn()?;
        Ok(m)
    }

    fn spawn(&mut self) -> anyhow::Result<()> {
        let stderr = File::create(self.dir.path().join("stderr.log"))?;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut child = Command::new(&self.binary)
                .arg("-c")
                .arg(self.dir.path().join("mosquitto.conf"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(stderr.try_clone()?)
                .spawn()
                .with_context(|| format!("cannot run {}", self.binary.display()))?;
            // Wait until the port accepts, or the process exits (e.g. port still in use).
            let exited = loop {
                if let Some(status) = child.try_wait()? {
                    break Some(status);
                }
                if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                    break None;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    bail!(
                        "mosquitto did not accept on port {} within 10s; log:\n{}",
                        self.port,
                        self.log()
                    );
                }
                std::thread::sleep(Duration::from_millis(20));
            };
            match exited {
                None => {
                    self.child = Some(child);
                    return Ok(());
                }
                Some(status) if Instant::now() > deadline => {
                    bail!("mosquitto exited with {status}; log:\n{}", self.log())
                }
                // Port briefly not reusable after a restart: try again.
                Some(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    /// Host to connect to.
    pub fn host(&self) -> &'static str {
        "127.0.0.1"
    }

    /// Port to connect to (stable across restarts).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Directory holding config, persistence and logs.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Broker log (plus anything it wrote on stderr).
    pub fn log(&self) -> String {
        let mut s =
            std::fs::read_to_string(self.dir.path().join("mosquitto.log")).unwrap_or_default();
        s.push_str(
            &std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default(),
        );
        s
    }

    /// Is the broker process running?
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Stop gracefully (SIGTERM: Mosquitto writes its persistence database), SIGKILL after 5s.
    /// Clients see the broker going away; [`Mosquitto::resume`] starts it again.
    pub fn stop(&mut self) -> anyhow::Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let pid = child.id().to_string();
        let termed = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        let deadline = Instant::now() + Duration::from_secs(5);
        while termed && Instant::now() < deadline {
            if child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        child.kill()?;
        child.wait()?;
        Ok(())
    }

    /// Kill hard (SIGKILL: nothing is saved since the last autosave).
    pub fn kill(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill()?;
            child.wait()?;
        }
        Ok(())
    }

    /// Start again after [`Mosquitto::stop`] / [`Mosquitto::kill`], same port and persistence.
    pub fn resume(&mut self) -> anyhow::Result<()> {
        if self.is_running() {
            return Ok(());
        }
        self.spawn()
    }

    /// Stop gracefully and start again (same port, persistence kept).
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.stop()?;
        self.spawn()
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn free_port() -> anyhow::Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}
