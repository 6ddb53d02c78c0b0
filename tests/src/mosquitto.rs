//! Runs a real Mosquitto broker for a test: a private config, persistence directory and log in a
//! temp dir, a free port on 127.0.0.1 (another one if a test alongside takes it first),
//! [`Mosquitto::restart`] keeping persistence (SIGTERM, so Mosquitto saves its database), and
//! kill on drop.
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
use std::process::{Child, Command, ExitStatus, Stdio};
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
    /// `dir`/mosquitto.log) and `extra`. The broker counts as up once it logs that it runs and
    /// `port` accepts TCP connections; `settings` is called again with another port when the
    /// first was taken before Mosquitto could bind it.
    pub fn start_with_settings(
        mut settings: impl FnMut(u16, &Path) -> String,
        extra: &str,
    ) -> anyhow::Result<Mosquitto> {
        let binary = Self::find_binary()?;
        let dir = tempfile::Builder::new()
            .prefix("weijian-mosquitto")
            .tempdir()?;
        let mut m = Mosquitto {
            binary,
            dir,
            port: 0,
            child: None,
        };
        // The free port is released before Mosquitto binds it, and a test running alongside
        // may take it meanwhile: then Mosquitto exits, and another port is tried.
        for attempt in 1..=FIRST_START_PORTS {
            m.port = free_port()?;
            m.write_config(&settings(m.port, m.dir.path()), extra)?;
            match m.spawn_once(Instant::now() + START_WAIT)? {
                None => return Ok(m),
                Some(status) if attempt == FIRST_START_PORTS => {
                    bail!("mosquitto exited with {status} on {FIRST_START_PORTS} free ports; log:\n{}", m.log())
                }
                Some(_) => {}
            }
        }
        unreachable!("the last attempt returns")
    }

    fn write_config(&self, settings: &str, extra: &str) -> anyhow::Result<()> {
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
            dir = self.dir.path().display(),
        );
        std::fs::write(self.dir.path().join("mosquitto.conf"), conf)?;
        Ok(())
    }

    /// Starts the broker again on its port, retrying while the port is briefly not reusable
    /// after a stop.
    fn spawn(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + START_WAIT;
        loop {
            match self.spawn_once(deadline)? {
                None => return Ok(()),
                Some(status) if Instant::now() > deadline => {
                    bail!("mosquitto exited with {status}; log:\n{}", self.log())
                }
                Some(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    /// Runs Mosquitto once and waits until it is up: it logged that it runs, it is still
    /// running, and the port accepts. `Some(status)` when it exited instead (its port taken).
    /// A port that accepts is not enough alone: another test's server may hold it.
    fn spawn_once(&mut self, deadline: Instant) -> anyhow::Result<Option<ExitStatus>> {
        let stderr = File::create(self.dir.path().join("stderr.log"))?;
        let started_before = times_started(&self.log());
        let mut child = Command::new(&self.binary)
            .arg("-c")
            .arg(self.dir.path().join("mosquitto.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .with_context(|| format!("cannot run {}", self.binary.display()))?;
        loop {
            if let Some(status) = child.try_wait()? {
                return Ok(Some(status));
            }
            if times_started(&self.log()) > started_before
                && TcpStream::connect(("127.0.0.1", self.port)).is_ok()
                && child.try_wait()?.is_none()
            {
                self.child = Some(child);
                return Ok(None);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                bail!(
                    "mosquitto did not accept on port {} within {START_WAIT:?}; log:\n{}",
                    self.port,
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
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

/// How long a start may take.
const START_WAIT: Duration = Duration::from_secs(10);

/// Free ports a first start tries.
const FIRST_START_PORTS: u32 = 5;

/// How many times the log says Mosquitto started running (`mosquitto version 2.0.11 running`,
/// written once its listeners are open).
fn times_started(log: &str) -> usize {
    log.split("mosquitto version ")
        .skip(1)
        .filter(|rest| {
            rest.split_whitespace()
                .nth(1)
                .is_some_and(|word| word.starts_with("running"))
        })
        .count()
}

fn free_port() -> anyhow::Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}
