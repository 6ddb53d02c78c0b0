//! The HJ 212 TCP listener: data loggers (数采仪) connect to `[hj212_tcp] listen` and send
//! HJ 212 frames, as the standard's field side does; weijian is the platform (上位机).
//!
//! Each connection is one task with a bounded buffer (`framer`). Each frame is identified by
//! its MN against the registry (the device whose `[devices.hj212] mn` it is; its `PW` checked
//! when a password is configured; the connection's address checked against the device's
//! `allowed_sources` when it has any), then appended to the spool as a message of that device's
//! topic `{prefix}/{site}/{device}/hj212` marked [`ORIGIN_HJ212_TCP`], so the drain decodes,
//! validates, quarantines and evaluates it exactly like an HJ 212 message from MQTT, and does
//! not publish its 9014 on MQTT. The 9014 goes back on the connection only once the append is
//! durable (fsynced), and only when the frame's Flag asks for a reply: the acknowledgement
//! means what a PUBACK means. A frame whose CRC fails is spooled too (the drain quarantines it,
//! as over MQTT) and answered 9011 `QnRtn=9` so the logger resends; refused frames (unknown MN,
//! wrong PW) are not spooled and are answered 9011 `QnRtn=4` / `3` when a reply is asked for.
//!
//! Hygiene: `max_connections` (one more is closed at once), `idle_timeout` (a silent
//! connection is closed), `max_frame_bytes` (a longer length field closes the connection),
//! a frame from an address the device does not allow closes it. Each of these is counted
//! (`weijian_hj212_tcp_connections_closed_total{reason}`) and logged, at most once per reason
//! every [`REFUSAL_LOG_INTERVAL`] (the suppressed ones summed in the next line).
//!
//! The registry follows reloads: [`DeviceDirectory::update`] (the reloader calls it on SIGHUP)
//! swaps the MN index; connections look it up per frame.
//!
//! Files: `framer` (frames in the byte stream), `connection` (one logger), `metrics`.

mod connection;
mod framer;
mod metrics;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use metrics::{Hj212TcpMetrics, CLOSE_REASONS, FRAME_OUTCOMES};

use crate::config::hj212_tcp::{Hj212TcpSettings, SourceNet, REFUSAL_LOG_INTERVAL};
use crate::config::Registry;
#[allow(unused_imports)] // Named in the module docs.
use crate::message::ORIGIN_HJ212_TCP;
use crate::spool::SpoolWriter;

/// What the listener knows of one HJ 212 device.
#[derive(Debug)]
struct DeviceRoute {
    /// `{prefix}/{site}/{device}/hj212`.
    topic: String,
    device: String,
    password: Option<String>,
    allowed_sources: Vec<SourceNet>,
}

/// The MN -> device index of the registry in force, shared by every connection and swapped
/// whole on a reload.
#[derive(Debug, Clone)]
pub struct DeviceDirectory {
    prefix: String,
    routes: Arc<RwLock<Arc<Routes>>>,
}

/// Normalised MN -> the device it identifies.
type Routes = HashMap<String, Arc<DeviceRoute>>;

/// How MNs are compared: case-insensitive, surrounding blanks ignored (as the decoder does).
fn mn_key(mn: &str) -> String {
    mn.trim().to_ascii_uppercase()
}

impl DeviceDirectory {
    /// The index of `registry`'s HJ 212 devices under topic prefix `prefix`.
    pub fn new(registry: &Registry, prefix: &str) -> Self {
        let prefix = prefix.trim_end_matches('/').to_owned();
        let routes = Arc::new(RwLock::new(Arc::new(Self::index(registry, &prefix))));
        Self { prefix, routes }
    }

    fn index(registry: &Registry, prefix: &str) -> Routes {
        registry
            .devices()
            .filter_map(|d| {
                let h = d.hj212.as_ref()?;
                Some((
                    mn_key(&h.mn),
                    Arc::new(DeviceRoute {
                        topic: format!("{prefix}/{}/{}/hj212", d.site, d.id),
                        device: d.id.to_string(),
                        password: h.password.clone(),
                        allowed_sources: h.allowed_sources.clone(),
                    }),
                ))
            })
            .collect()
    }

    /// Takes a reloaded registry: frames read from now on are identified by it.
    pub fn update(&self, registry: &Registry) {
        let index = Arc::new(Self::index(registry, &self.prefix));
        *self
            .routes
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = index;
    }

    fn lookup(&self, mn: &str) -> Option<Arc<DeviceRoute>> {
        let routes = self
            .routes
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        routes.get(&mn_key(mn)).cloned()
    }
}

/// Logs refusals at most once per reason per interval, with the count suppressed since.
#[derive(Debug, Default)]
struct RefusalLog {
    last: Mutex<HashMap<&'static str, (Instant, u64)>>,
}

impl RefusalLog {
    /// `Some(suppressed since the last line)` when a line may be logged now.
    fn admit(&self, reason: &'static str, now: Instant) -> Option<u64> {
        let mut last = self
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match last.get_mut(reason) {
            Some((at, suppressed)) if now.duration_since(*at) < REFUSAL_LOG_INTERVAL => {
                *suppressed += 1;
                None
            }
            Some((at, suppressed)) => {
                *at = now;
                Some(std::mem::take(suppressed))
            }
            None => {
                last.insert(reason, (now, 0));
                Some(0)
            }
        }
    }
}

/// What every connection shares.
#[derive(Debug)]
struct Shared {
    settings: Hj212TcpSettings,
    directory: DeviceDirectory,
    spool: SpoolWriter,
    metrics: Hj212TcpMetrics,
    refusals: RefusalLog,
}

impl Shared {
    /// Counts and (rate-limited) logs a connection weijian ends for `reason`.
    fn closed(&self, reason: &'static str, peer: IpAddr, detail: &str) {
        self.metrics
            .connections_closed
            .with_label_values(&[reason])
            .inc();
        if let Some(suppressed) = self.refusals.admit(reason, Instant::now()) {
            tracing::warn!(%peer, reason, detail, suppressed_since_last = suppressed, "HJ 212 TCP connection refused or closed.");
        }
    }

    /// Counts and (rate-limited) logs a refused frame.
    fn refused_frame(&self, outcome: &'static str, peer: IpAddr, mn: Option<&str>) {
        self.metrics.frames.with_label_values(&[outcome]).inc();
        if let Some(suppressed) = self.refusals.admit(outcome, Instant::now()) {
            tracing::warn!(%peer, reason = outcome, mn = mn.unwrap_or("-"), suppressed_since_last = suppressed, "HJ 212 frame refused on TCP (not stored).");
        }
    }
}

/// A bound listener, ready to [`Hj212TcpListener::run`].
#[derive(Debug)]
pub struct Hj212TcpListener {
    listener: TcpListener,
    shared: Arc<Shared>,
}

impl Hj212TcpListener {
    /// Binds `settings.listen`.
    ///
    /// # Errors
    /// The address cannot be bound (in use, no permission).
    pub async fn bind(
        settings: Hj212TcpSettings,
        directory: DeviceDirectory,
        spool: SpoolWriter,
        metrics: Hj212TcpMetrics,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(&settings.listen).await?;
        Ok(Self {
            listener,
            shared: Arc::new(Shared {
                settings,
                directory,
                spool,
                metrics,
                refusals: RefusalLog::default(),
            }),
        })
    }

    /// The bound address (port 0 in the configuration: the port chosen).
    ///
    /// # Errors
    /// The socket has no local address (never for a bound listener).
    pub fn local_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.listener.local_addr()
    }

    /// Accepts connections until `shutdown`, then waits for every connection to finish the
    /// frames it has read (their appends and replies) and returns: after it, nothing more is
    /// appended to the spool.
    pub async fn run(self, shutdown: CancellationToken) {
        let Self { listener, shared } = self;
        let connections = TaskTracker::new();
        let max = shared.settings.max_connections;
        loop {
            let accepted = tokio::select! {
                () = shutdown.cancelled() => break,
                accepted = listener.accept() => accepted,
            };
            let (stream, peer) = match accepted {
                Ok(pair) => pair,
                Err(error) => {
                    // Out of file descriptors, mostly: wait a little instead of spinning.
                    if shared
                        .refusals
                        .admit("accept_error", Instant::now())
                        .is_some()
                    {
                        tracing::error!(%error, "Cannot accept an HJ 212 TCP connection.");
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            };
            if connections.len() >= max {
                drop(stream);
                shared.closed(
                    "max_connections",
                    peer.ip(),
                    &format!("{max} connections are open ([hj212_tcp] max_connections)"),
                );
                continue;
            }
            shared.metrics.connections_accepted.inc();
            shared.metrics.connections_open.inc();
            let (shared, shutdown) = (shared.clone(), shutdown.clone());
            connections.spawn(async move {
                connection::serve(stream, peer.ip(), &shared, &shutdown).await;
                shared.metrics.connections_open.dec();
            });
        }
        drop(listener);
        connections.close();
        connections.wait().await;
        tracing::info!("HJ 212 TCP listener stopped.");
    }
}
