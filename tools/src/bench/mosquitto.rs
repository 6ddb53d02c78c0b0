//! A private Mosquitto for `weijian bench`: a temporary configuration on a free port of
//! 127.0.0.1, persistence off, `max_inflight_messages 1000`, `max_queued_messages 0`
//! (unlimited: a slow consumer makes the broker queue, never drop), killed on drop.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{free_port, BenchError, TempDir};

/// The environment variable that overrides the mosquitto binary (shared with the tests).
pub const ENV_VAR: &str = "WEIJIAN_MOSQUITTO";

/// A running broker.
#[derive(Debug)]
pub struct Mosquitto {
    dir: TempDir,
    port: u16,
    child: Child,
}

/// `$WEIJIAN_MOSQUITTO`, then `PATH`, `/usr/sbin`, `/usr/local/sbin`.
///
/// # Errors
/// No binary found.
pub fn find_binary() -> Result<PathBuf, BenchError> {
    if let Some(p) = std::env::var_os(ENV_VAR) {
        return Ok(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from))
        .map(|d| d.join("mosquitto"))
        .find(|c| c.is_file())
        .ok_or_else(|| {
            BenchError::Mosquitto(format!(
                "mosquitto not found on PATH nor in /usr/sbin: install it or set {ENV_VAR}"
            ))
        })
}

impl Mosquitto {
    /// Starts the broker and waits until it accepts connections.
    ///
    /// # Errors
    /// No binary, or it does not start within 10 s.
    pub fn start() -> Result<Mosquitto, BenchError> {
        let binary = find_binary()?;
        let dir = TempDir::new("bench-mosquitto")?;
        let port = free_port()?;
        let conf = format!(
            "# written by weijian bench\n\
             listener {port} 127.0.0.1\n\
             allow_anonymous true\n\
             persistence false\n\
             max_inflight_messages 1000\n\
             max_queued_messages 0\n\
             max_queued_bytes 0\n\
             log_dest file {dir}/mosquitto.log\n\
             log_type error\n\
             log_type warning\n\
             user root\n",
            dir = dir.path().display()
        );
        let conf_path = dir.path().join("mosquitto.conf");
        std::fs::write(&conf_path, conf)?;
        let mut child = Command::new(&binary)
            .arg("-c")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| BenchError::Mosquitto(format!("cannot run {}: {e}", binary.display())))?;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = child.try_wait()? {
                return Err(BenchError::Mosquitto(format!(
                    "exited with {status}; log: {}",
                    std::fs::read_to_string(dir.path().join("mosquitto.log")).unwrap_or_default()
                )));
            }
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(Mosquitto { dir, port, child });
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(BenchError::Mosquitto(format!(
                    "did not accept on port {port} within 10 s"
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn host(&self) -> &'static str {
        "127.0.0.1"
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The broker's process id (for its memory and CPU).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The broker's log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("mosquitto.log")).unwrap_or_default()
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
