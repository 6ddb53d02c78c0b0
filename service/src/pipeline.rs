//! Wiring: the tasks of a running weijian and how they hand work to each other.
//!
//! ```text
//! MQTT poll ──append──▶ spool (fsync, group commit) ──durable──▶ acker ──PUBACK (in order)──▶ broker
//!                          │
//!                          └──▶ drain (weijian_ingest::drain): decode + validate ──▶ rule engine ──▶ alerts
//!                                   │                       (published even while QuestDB is down)
//!                                   ├──▶ QuestDB writer ──▶ spool commit (segments freed)
//!                                   └──▶ HJ 212 replies (publish)
//! HJ 212 loggers ──TCP──▶ listener (weijian_ingest::source::hj212_tcp) ──append──▶ spool
//!                            ◀── 9014 on the connection, once durable ──┘
//! ```
//!
//! Edges and their "when full" policy:
//! - poll -> acker: never blocks the poll loop. Its size is bounded by the broker's window of
//!   unacknowledged QoS 1 messages (MQTT 5 receive maximum / Mosquitto
//!   `max_inflight_messages`). It must not block: acks travel through rumqttc's request
//!   channel, which only drains while the poll loop runs, so a blocking hand-off here
//!   deadlocks under load (seen in the 10,000-message test before this design).
//! - spool full: appends wait, so acks stop and the broker holds further messages.
//! - QuestDB down: the drain switches to Degraded mode (see `drain`): alerts keep running,
//!   readings wait in the spool (never in memory) and are written when QuestDB returns.
//!
//! Shutdown (one token): the source stops taking messages (those not yet durable are not
//! acknowledged and will be redelivered), waits for pending acks, disconnects without
//! unsubscribing; the spool writer finishes; the drain writes what it can within the grace
//! period; everything else stays in the spool for the next start.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use alerting::AlertEvent;
use prometheus::Registry;
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::http::Readiness;
use crate::notify::{EmailNotifier, HttpConfig, MqttNotifier, Notifiers, NotifyError};
use crate::supervision::outbox::{self, OutboxMetrics, OutboxSender};
use crate::supervision::{DeliveryStage, Desk, DeskSnapshot};
use weijian_ingest::alerts::AlertStage;
pub use weijian_ingest::clock::{now, wall_clock, Clock};
use weijian_ingest::config::Config;
use weijian_ingest::disk::DiskFaults;
use weijian_ingest::drain::{Drain, DrainParts};
use weijian_ingest::durability::{DurableStore, StorageReporter};
pub use weijian_ingest::health::Health;
use weijian_ingest::message::encode_record;
use weijian_ingest::sink::questdb::QuestDbWriter;
use weijian_ingest::source::hj212_tcp::{DeviceDirectory, Hj212TcpListener, Hj212TcpMetrics};
use weijian_ingest::source::mqtt::{self, AckToken, Backoff, MqttClient, MqttEventLoop, Polled};
use weijian_ingest::spool::{
    self, Position, SpoolConfig, SpoolError, SpoolMetrics, SpoolOptions, SpoolWriter,
};
use weijian_ingest::telemetry::metrics::Metrics;
use weijian_ingest::topic::Topic;
use weijian_ingest::validate::Validator;

/// Why weijian could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot open the spool: {0}")]
    Spool(#[from] SpoolError),
    #[error("cannot set up the MQTT connection: {0}")]
    Mqtt(#[from] mqtt::SetupError),
    #[error("cannot listen for HTTP on {listen}: {error}")]
    Http {
        listen: String,
        error: std::io::Error,
    },
    #[error("cannot register metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    #[error("cannot set up the notifiers: {0}")]
    Notifiers(#[from] NotifyError),
    #[error("cannot listen for HJ 212 over TCP on {listen}: {error}")]
    Hj212Tcp {
        listen: String,
        error: std::io::Error,
    },
}

/// The notifiers for every channel kind the configuration can use: webhook, DingTalk and
/// WeCom robots, MQTT (through weijian's own broker connection) and, with `[delivery.smtp]`,
/// e-mail.
///
/// # Errors
/// The SMTP settings are unusable (checked again here; `check-config` reports them first).
pub fn build_notifiers(config: &Config, client: &MqttClient) -> Result<Notifiers, NotifyError> {
    let http = HttpConfig {
        timeout: config.delivery.http_timeout,
        ..HttpConfig::default()
    };
    let publisher = client.clone();
    let mut notifiers = Notifiers::http(&http).with(Arc::new(MqttNotifier::new(Arc::new(
        move |topic: &str, payload: Vec<u8>| publisher.try_publish(topic, payload),
    ))));
    if let Some(smtp) = &config.delivery.smtp {
        notifiers = notifiers.with(Arc::new(EmailNotifier::new(
            smtp.clone(),
            Arc::new(crate::notify::EnvSecrets),
        )?));
    }
    Ok(notifiers)
}

/// The window of unacknowledged messages assumed for an MQTT 3.1.1 broker (Mosquitto's default
/// `max_inflight_messages`), which the client cannot learn.
const MQTT311_ASSUMED_WINDOW: usize = 20;

/// How long shutdown waits for acks and the last writes.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

type Durable = Pin<Box<dyn Future<Output = Result<Position, SpoolError>> + Send>>;

impl Readiness for Health {
    fn readiness(&self) -> Result<(), Vec<String>> {
        let mut reasons = Vec::new();
        if !self.mqtt_connected.load(Ordering::Relaxed) {
            reasons.push("not connected to the MQTT broker".to_string());
        }
        if self.spool_full.load(Ordering::Relaxed) {
            reasons.push("the spool is full: acknowledgements are paused".to_string());
        }
        // The disk refuses writes (full, I/O errors): the spool, the outbox, the snapshot.
        reasons.extend(self.storage.reasons());
        if reasons.is_empty() {
            Ok(())
        } else {
            Err(reasons)
        }
    }
}

/// A running weijian.
#[derive(Debug)]
pub struct Running {
    pub http_addr: std::net::SocketAddr,
    /// Every alert lifecycle event, for live views (the demo); lagging receivers miss some.
    pub alert_events: broadcast::Sender<AlertEvent>,
    pub metrics: Metrics,
    pub registry: Registry,
    pub health: Arc<Health>,
    pub client: MqttClient,
    /// Applies a reloaded configuration (SIGHUP: [`crate::reload::on_sighup`]).
    pub reloader: Arc<crate::reload::Reloader>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
}

impl Running {
    /// Stops everything in order and waits for the tasks (bounded by the grace period).
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.wait().await;
    }

    /// Waits until the tasks end (after the shutdown token given to [`start`] is cancelled).
    pub async fn wait(self) {
        wait_for_tasks(&self.tracker, &self.shutdown).await;
    }
}

/// How often a shutdown that takes long says it is still under way.
const SHUTDOWN_PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// Waits until the tasks of `tracker` end. Once `shutdown` is cancelled, says every
/// [`SHUTDOWN_PROGRESS_EVERY`] how many tasks are left (before that, the service is running,
/// not shutting down, and nothing is logged).
async fn wait_for_tasks(tracker: &TaskTracker, shutdown: &CancellationToken) {
    tracker.close();
    let wait = tracker.wait();
    tokio::pin!(wait);
    tokio::select! {
        () = &mut wait => return,
        () = shutdown.cancelled() => {}
    }
    loop {
        tokio::select! {
            () = &mut wait => break,
            () = tokio::time::sleep(SHUTDOWN_PROGRESS_EVERY) => {
                tracing::info!(tasks = tracker.len(), "Still shutting down.");
            }
        }
    }
}

/// Starts weijian: opens the spool, connects to the broker, serves HTTP, drains to QuestDB.
/// Cancel `shutdown` to stop, then `wait()`.
///
/// # Errors
/// What prevents starting (spool, TLS, HTTP port, metrics).
pub async fn start(config: Config, shutdown: CancellationToken) -> Result<Running, RunError> {
    start_with_clock(config, shutdown, wall_clock()).await
}

/// [`start`] with the rule engine's timers on `clock`.
///
/// # Errors
/// As [`start`].
pub async fn start_with_clock(
    config: Config,
    shutdown: CancellationToken,
    clock: Clock,
) -> Result<Running, RunError> {
    start_with(config, shutdown, clock, weijian_ingest::disk::real()).await
}

/// [`start_with_clock`] with every durable write (spool, outbox, rule snapshot) going through
/// `disk` (fault drills and tests inject a full disk there).
///
/// # Errors
/// As [`start`].
pub async fn start_with(
    config: Config,
    shutdown: CancellationToken,
    clock: Clock,
    disk: Arc<dyn DiskFaults>,
) -> Result<Running, RunError> {
    let registry = Registry::new();
    let metrics = Metrics::register(&registry)?;
    metrics.prepare_alert_events(&config.alerts.pack);
    let spool_metrics = SpoolMetrics::register(&registry)?;
    let health = Arc::new(Health::default());
    health.storage.register(&registry)?;
    let storage = |store| {
        SpoolOptions::new(StorageReporter::new(health.storage.clone(), store))
            .with_faults(disk.clone())
    };

    let mut spool_config = SpoolConfig::new(config.spool.dir.clone());
    spool_config.max_bytes = config.spool.max_bytes;
    spool_config.segment_bytes = config.spool.segment_bytes;
    spool_config.group_commit_delay_ms =
        u64::try_from(config.spool.group_commit_delay.as_millis()).unwrap_or(u64::MAX);
    spool_config.group_commit_interval_ms =
        u64::try_from(config.spool.group_commit_interval.as_millis()).unwrap_or(u64::MAX);
    // Below half the window of unacknowledged messages, or a full window would wait for the
    // interval: MQTT 5's receive maximum, or with MQTT 3.1.1 the broker's own setting, which
    // weijian cannot see (Mosquitto's default, 20, is assumed).
    let window = match config.mqtt.protocol {
        weijian_ingest::config::MqttProtocol::V5 => usize::from(config.mqtt.inflight),
        weijian_ingest::config::MqttProtocol::V311 => MQTT311_ASSUMED_WINDOW,
    };
    spool_config.group_commit_records = config.spool.group_commit_records.min((window / 2).max(1));
    let (spool_writer, spool_reader, recovery) =
        spool::open_with(spool_config, spool_metrics, storage(DurableStore::Spool)).await?;
    if recovery.is_clean() {
        tracing::info!(dir = %config.spool.dir.display(), "Spool opened.");
    } else {
        tracing::warn!(dir = %config.spool.dir.display(), report = ?recovery, "Spool recovered from damage; everything before it was kept.");
    }

    let (client, event_loop) = mqtt::connect(&config.mqtt, config.limits.max_payload_bytes)?;
    let hj212_tcp = start_hj212_tcp(&config, &spool_writer, &registry).await?;

    let tracker = TaskTracker::new();
    // API requests are journaled in the same spool as the messages.
    let journal = spool_writer.clone();
    let (ack_tx, ack_rx) = mpsc::unbounded_channel::<(Durable, AckToken)>();
    let acks_done = CancellationToken::new();

    let source = Source {
        event_loop,
        client: client.clone(),
        spool: spool_writer.clone(),
        acks: ack_tx,
        window: i64::from(config.mqtt.inflight),
        warned_window: false,
        metrics: metrics.clone(),
        health: health.clone(),
        filters: Topic::filters(&config.mqtt.topic_prefix),
        backoff: Backoff::new(config.mqtt.reconnect_min, config.mqtt.reconnect_max),
        session: SessionMarker::new(&config.spool.dir, &config.mqtt),
    };
    let source_done = CancellationToken::new();
    {
        let (shutdown, done, acks_done) =
            (shutdown.clone(), source_done.clone(), acks_done.clone());
        tracker.spawn(async move {
            source.run(shutdown, acks_done).await;
            done.cancel();
        });
    }
    tracker.spawn(ack_in_order(
        ack_rx,
        client.clone(),
        metrics.clone(),
        acks_done,
    ));
    let tcp_done = CancellationToken::new();
    let hj212_directory = match hj212_tcp {
        Some((listener, directory)) => {
            let (shutdown, done) = (shutdown.clone(), tcp_done.clone());
            tracker.spawn(async move {
                listener.run(shutdown).await;
                done.cancel();
            });
            Some(directory)
        }
        None => {
            tcp_done.cancel();
            None
        }
    };
    {
        // The spool writer closes once the sources (MQTT, HJ 212 over TCP) stopped appending.
        let writer = spool_writer;
        let source_done = source_done.clone();
        tracker.spawn(async move {
            source_done.cancelled().await;
            tcp_done.cancelled().await;
            writer.shutdown().await;
        });
    }
    let (alert_events, _) = broadcast::channel(1024);
    let (mut alert_stage, restored_desk) = AlertStage::open(&config);
    alert_stage.set_storage(
        StorageReporter::new(health.storage.clone(), DurableStore::RuleSnapshot),
        disk.clone(),
    );
    let (desk, outbox) = match &config.delivery.supervisors {
        Some(supervisors) => {
            let desk = Desk::new(
                supervisors.clone(),
                config.api.clone(),
                config.registry.clone(),
                journal,
                clock.clone(),
                restored_desk.and_then(|saved| DeskSnapshot::from_saved(&saved)),
            );
            alert_stage.attach_delivery(Box::new(DeliveryStage::new(
                desk.clone(),
                &config.mqtt.topic_prefix,
                config.alerts.publish,
            )));
            let outbox_metrics = OutboxMetrics::register(&registry)?;
            let (writer, reader) = outbox::open(
                &config.spool.dir.join("outbox"),
                config.delivery.outbox_max_bytes,
                outbox_metrics.clone(),
                storage(DurableStore::Outbox),
            )
            .await?;
            let notifiers = Arc::new(build_notifiers(&config, &client)?);
            let sender =
                OutboxSender::new(reader, notifiers, config.delivery.retry, outbox_metrics);
            tracker.spawn(sender.run(shutdown.clone()));
            tracing::info!(
                supervisors = supervisors.supervisors.len(),
                source = config.delivery.supervisors_source.as_deref().unwrap_or("-"),
                "Alert delivery is on."
            );
            (
                Some(desk),
                Some(Box::new(writer) as Box<dyn weijian_ingest::delivery::NoticeOutbox>),
            )
        }
        None => {
            drop(journal);
            tracing::info!("No supervisors file ([delivery] supervisors_file): alerts are stored and published on MQTT, nobody is notified, and there is no alert API.");
            (None, None)
        }
    };
    let (registry_updates, registry_updates_rx) = mpsc::unbounded_channel();
    let reloader = Arc::new(
        crate::reload::Reloader::new(config.clone(), desk.clone(), &registry)?
            .with_drain(registry_updates)
            .with_hj212_directory(hj212_directory),
    );
    let mut http_router = crate::http::router(registry.clone(), health.clone());
    if let Some(desk) = &desk {
        let api_metrics = crate::api::ApiMetrics::register(&registry)?;
        let api_state = crate::api::ApiState::new(desk.clone(), api_metrics);
        let chart = crate::console::ChartSource {
            endpoint: config.questdb.endpoint.clone(),
            table_prefix: config.questdb.table_prefix.clone(),
            timeout: config.http.console.chart_timeout,
        };
        http_router = http_router
            .merge(crate::api::router_with(api_state.clone()))
            .merge(crate::console::router(
                api_state,
                config.http.console.clone(),
                Some(chart),
            ));
    }
    let (http_addr, _http_task) =
        crate::http::serve(&config.http.listen, http_router, shutdown.clone())
            .await
            .map_err(|error| RunError::Http {
                listen: config.http.listen.clone(),
                error,
            })?;
    tracing::info!(%http_addr, "Serving /metrics, /healthz, /readyz{}.", if desk.is_some() { ", the alert API under /api/v1 and the console at /" } else { "" });

    let questdb = config.questdb.clone();
    let drain = Drain::new(DrainParts {
        clock,
        reader: spool_reader,
        new_store: Arc::new(move || Box::new(QuestDbWriter::new(questdb.clone()))),
        validator: Validator::new(
            config.registry.clone(),
            config.limits,
            &config.mqtt.topic_prefix,
        ),
        alerts: alert_stage,
        alert_events: alert_events.clone(),
        client: Arc::new(client.clone()),
        metrics: metrics.clone(),
        health: health.clone(),
        outbox,
        batch_max_rows: config.questdb.batch_max_rows,
        flush_interval: config.questdb.flush_interval,
        retry_max: config.questdb.retry_max,
    })
    .with_registry_updates(registry_updates_rx)
    .with_feedback(config.feedback, &config.mqtt.topic_prefix);
    tracker.spawn(drain.run(shutdown.clone()));

    Ok(Running {
        http_addr,
        alert_events,
        metrics,
        registry,
        health,
        client,
        reloader,
        shutdown,
        tracker,
    })
}

/// Binds the HJ 212 TCP listener when `[hj212_tcp] listen` is set, with its MN index (which
/// the reloader keeps up to date). Raises the soft open-files limit first: each connection is
/// a descriptor.
async fn start_hj212_tcp(
    config: &Config,
    spool: &SpoolWriter,
    registry: &Registry,
) -> Result<Option<(Hj212TcpListener, DeviceDirectory)>, RunError> {
    let Some(settings) = config.hj212_tcp.clone() else {
        return Ok(None);
    };
    match weijian_ingest::telemetry::process::raise_nofile_limit() {
        Some((before, after)) => tracing::info!(
            soft_limit_before = before,
            soft_limit = after,
            "Open-files limit (RLIMIT_NOFILE) raised to the hard limit for HJ 212 TCP connections."
        ),
        None => tracing::warn!("Could not raise the open-files limit (RLIMIT_NOFILE); HJ 212 TCP connections are bounded by the current one."),
    }
    let directory = DeviceDirectory::new(&config.registry, &config.mqtt.topic_prefix);
    let metrics = Hj212TcpMetrics::register(registry)?;
    let listen = settings.listen.clone();
    let max_connections = settings.max_connections;
    let listener = Hj212TcpListener::bind(settings, directory.clone(), spool.clone(), metrics)
        .await
        .map_err(|error| RunError::Hj212Tcp {
            listen: listen.clone(),
            error,
        })?;
    let addr = listener.local_addr().map_err(|error| RunError::Hj212Tcp {
        listen: listen.clone(),
        error,
    })?;
    tracing::info!(%addr, max_connections, "Listening for HJ 212 data loggers over TCP.");
    Ok(Some((listener, directory)))
}

/// The MQTT task: polls, appends each message to the spool, queues its ack.
struct Source {
    event_loop: MqttEventLoop,
    client: MqttClient,
    spool: SpoolWriter,
    acks: mpsc::UnboundedSender<(Durable, AckToken)>,
    /// Pending acks above which the broker is sending more than our window: warn once.
    window: i64,
    warned_window: bool,
    metrics: Metrics,
    health: Arc<Health>,
    filters: Vec<String>,
    backoff: Backoff,
    session: SessionMarker,
}

/// Whether the broker ever had a session for us: a file in the spool directory naming the
/// broker and client id, written at the first ConnAck. A ConnAck without a session is a
/// possible data gap only if a session existed before (not on the very first start, nor after
/// the broker or client id changed).
struct SessionMarker {
    path: std::path::PathBuf,
    identity: String,
    known: bool,
}

impl SessionMarker {
    const FILE: &'static str = "mqtt-session";

    fn new(spool_dir: &std::path::Path, mqtt: &weijian_ingest::config::MqttConfig) -> Self {
        let path = spool_dir.join(Self::FILE);
        let identity = format!("{}:{} {}\n", mqtt.host, mqtt.port, mqtt.client_id);
        let known = std::fs::read_to_string(&path).is_ok_and(|saved| saved == identity);
        Self {
            path,
            identity,
            known,
        }
    }

    /// Records that the broker now has a session for us; `false` if none existed before.
    fn existed_before(&mut self) -> bool {
        if self.known {
            return true;
        }
        self.known = true;
        if let Err(error) = std::fs::write(&self.path, &self.identity) {
            tracing::warn!(%error, path = %self.path.display(), "Cannot record that the broker has our MQTT session; the next start may report a possible data gap that is none.");
        }
        false
    }
}

impl Source {
    async fn run(mut self, shutdown: CancellationToken, acks_done: CancellationToken) {
        let mut stopping = false;
        let grace = tokio::time::sleep(Duration::from_secs(u64::MAX / 4));
        tokio::pin!(grace);
        loop {
            if stopping && (acks_done.is_cancelled() || self.metrics.pending_acks.get() <= 0) {
                break;
            }
            // Biased (in this order, no random start) and the 50 ms sleep made only when it
            // is polled: an unbiased select draws a random number, and a `sleep` reads the
            // clock when it is made, on every message otherwise.
            tokio::select! {
                biased;
                () = shutdown.cancelled(), if !stopping => {
                    stopping = true;
                    grace.as_mut().reset(tokio::time::Instant::now() + SHUTDOWN_GRACE);
                    tracing::info!(pending_acks = self.metrics.pending_acks.get(), "Stopping the MQTT source: no new messages, sending the last acks.");
                }
                () = &mut grace, if stopping => {
                    tracing::warn!(pending_acks = self.metrics.pending_acks.get(), "Gave up waiting for the last acks; the broker will redeliver those messages.");
                    break;
                }
                () = async { tokio::time::sleep(Duration::from_millis(50)).await }, if stopping => {}
                polled = self.event_loop.poll() => self.handle(polled, stopping, &shutdown).await,
            }
        }
        // Close the ack queue (the acker ends when it has sent what was queued), then leave.
        drop(self.acks);
        self.client.disconnect().await;
        for _ in 0..20 {
            match tokio::time::timeout(Duration::from_millis(100), self.event_loop.poll()).await {
                Ok(Ok(_)) => {}
                Ok(Err(_)) | Err(_) => break,
            }
        }
        self.health.mqtt_connected.store(false, Ordering::Relaxed);
        self.metrics.mqtt_connected.set(0);
        tracing::info!("MQTT source stopped.");
    }

    async fn handle(
        &mut self,
        polled: Result<Polled, String>,
        stopping: bool,
        shutdown: &CancellationToken,
    ) {
        match polled {
            Ok(Polled::Connected { session_present }) => {
                self.backoff.reset();
                self.health.mqtt_connected.store(true, Ordering::Relaxed);
                self.metrics.mqtt_connected.set(1);
                if session_present {
                    self.session.existed_before();
                    tracing::info!("Connected to the MQTT broker; our session was kept.");
                } else if self.session.existed_before() {
                    self.metrics.mqtt_session_lost.inc();
                    tracing::warn!("Connected to the MQTT broker without a session: subscribing again; messages published while we were away may be lost (possible data gap).");
                } else {
                    tracing::info!("Connected to the MQTT broker for the first time with this client id: creating our session.");
                }
                // Subscribing is idempotent; do it on every ConnAck, from a task so the poll
                // loop never waits on the request channel.
                let (client, filters) = (self.client.clone(), self.filters.clone());
                tokio::spawn(async move {
                    if let Err(error) = client.subscribe(&filters).await {
                        tracing::error!(%error, "Could not send the subscription.");
                    }
                });
            }
            Ok(Polled::Message(inbound)) => {
                if stopping {
                    // Not durable, not acknowledged: the broker redelivers it next session.
                    return;
                }
                self.metrics
                    .received
                    .with_label_values(&[qos_label(inbound.qos)])
                    .inc();
                let record = encode_record(now(), inbound.qos, &inbound.topic, &inbound.payload);
                let durable: Durable = Box::pin(self.spool.append(record));
                self.metrics.pending_acks.inc();
                if self.acks.send((durable, inbound.ack)).is_err() {
                    tracing::error!("The acker stopped early; messages will be redelivered.");
                }
                let pending = self.metrics.pending_acks.get();
                if pending > 4 * self.window && !self.warned_window {
                    self.warned_window = true;
                    tracing::warn!(pending, inflight = self.window, "The broker sends more unacknowledged messages than our inflight window; set its max_inflight_messages (docs/operations.md: Sizing the inflight window).");
                }
            }
            Ok(Polled::Other) => {}
            Err(error) => {
                self.health.mqtt_connected.store(false, Ordering::Relaxed);
                self.metrics.mqtt_connected.set(0);
                self.metrics.mqtt_connection_errors.inc();
                let delay = self.backoff.next_delay();
                tracing::warn!(%error, retry_in_ms = delay.as_millis() as u64, "MQTT connection error.");
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = shutdown.cancelled() => {}
                }
            }
        }
    }
}

fn qos_label(qos: u8) -> &'static str {
    match qos {
        0 => "0",
        1 => "1",
        _ => "2",
    }
}

/// Sends PUBACKs in receive order, each once its message is durable.
async fn ack_in_order(
    mut queue: mpsc::UnboundedReceiver<(Durable, AckToken)>,
    client: MqttClient,
    metrics: Metrics,
    done: CancellationToken,
) {
    while let Some((durable, token)) = queue.recv().await {
        let result = durable.await;
        metrics.pending_acks.dec();
        match result {
            Ok(_) => match client.ack(&token).await {
                Ok(()) => metrics.acked.inc(),
                Err(error) => {
                    tracing::warn!(%error, "Could not send a PUBACK; the broker will redeliver.")
                }
            },
            Err(error) => {
                tracing::error!(%error, "A message could not be made durable; it is not acknowledged and the broker will redeliver it.");
            }
        }
    }
    done.cancel();
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use tokio_util::sync::CancellationToken;
    use tokio_util::task::TaskTracker;

    /// The log lines written while the returned guard is alive (this thread only).
    fn capture_logs() -> (Arc<Mutex<Vec<u8>>>, tracing::subscriber::DefaultGuard) {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || Writer(sink.clone()))
            .finish();
        let guard = tracing::subscriber::set_default(subscriber);
        // Another test's thread may have cached "nobody listens" for a call site meanwhile.
        tracing::callsite::rebuild_interest_cache();
        (lines, guard)
    }

    struct Writer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Writer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn text(lines: &Arc<Mutex<Vec<u8>>>) -> String {
        String::from_utf8_lossy(&lines.lock().unwrap()).into_owned()
    }

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn a_running_service_does_not_say_it_is_shutting_down_and_a_slow_shutdown_does() {
        let (lines, _guard) = capture_logs();
        let tracker = TaskTracker::new();
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        // A task that takes 12 s to stop once asked.
        tracker.spawn(async move {
            stop.cancelled().await;
            tokio::time::sleep(Duration::from_secs(12)).await;
        });
        let waiter = {
            let (tracker, shutdown) = (tracker.clone(), shutdown.clone());
            tokio::spawn(async move { super::wait_for_tasks(&tracker, &shutdown).await })
        };
        // A minute of normal running.
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert!(
            !text(&lines).contains("Still shutting down."),
            "logged while running: {}",
            text(&lines)
        );
        shutdown.cancel();
        waiter.await.unwrap();
        let logged = text(&lines).matches("Still shutting down.").count();
        assert_eq!(
            logged,
            2,
            "at 5 s and 10 s of a 12 s shutdown: {}",
            text(&lines)
        );
    }
}
