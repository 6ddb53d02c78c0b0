//! The MQTT publisher: drives a [`Fleet`] at a [`Pace`] and publishes what it produces with
//! QoS 1 (status messages retained), counting what went out.

use std::time::{Duration, Instant};

use alerting::model::Timestamp;
use rumqttc::{AsyncClient, ConnectionError, Event, MqttOptions, Outgoing, Packet, QoS};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::fleet::Fleet;
use super::step::{Outbound, OutboundKind};

/// How simulated time relates to the wall clock.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pace {
    /// Start at now and follow the wall clock, stepping the fleet every `tick`.
    RealTime {
        /// Step period (1 s is plenty; messages keep their own times).
        tick: Duration,
    },
    /// Start `backfill` before now, run `speedup` times faster than real time until simulated
    /// time reaches the wall clock, then continue in real time. Never ahead of the wall clock.
    Accelerated {
        /// How far back the simulation starts.
        backfill: Duration,
        /// Simulated seconds per real second while catching up (60 = a minute per second).
        speedup: f64,
        /// Step period.
        tick: Duration,
    },
}

impl Pace {
    /// Real time, stepping once a second.
    pub fn real_time() -> Self {
        Self::RealTime {
            tick: Duration::from_secs(1),
        }
    }

    /// Simulate the past `backfill_hours` at `speedup` x, then continue in real time.
    pub fn accelerated(backfill_hours: u32, speedup: f64) -> Self {
        Self::Accelerated {
            backfill: Duration::from_secs(u64::from(backfill_hours) * 3600),
            speedup,
            tick: Duration::from_millis(200),
        }
    }
}

/// What has been published so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PublishStats {
    /// MQTT messages handed to the client.
    pub messages: u64,
    /// Telemetry messages (JSON or HJ 212) among them.
    pub telemetry_messages: u64,
    /// Metric values inside the telemetry.
    pub readings: u64,
    /// Events (bag_in, cycle_start, ...).
    pub events: u64,
    /// Status (birth / offline / online) messages.
    pub status: u64,
    /// Incidents injected by the scenario.
    pub incidents: u64,
    /// Simulated time reached.
    pub simulated_to: Option<Timestamp>,
    /// Whether an accelerated run has caught up with the wall clock (always true in real time).
    pub caught_up: bool,
}

impl PublishStats {
    fn count(&mut self, kind: OutboundKind, items: usize) {
        self.messages += 1;
        match kind {
            OutboundKind::Telemetry | OutboundKind::Hj212 => {
                self.telemetry_messages += 1;
                self.readings += items as u64;
            }
            OutboundKind::Event => self.events += items as u64,
            OutboundKind::Status => self.status += 1,
        }
    }
}

/// Why the publisher stopped early.
#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    /// The MQTT client's request channel is closed (its event loop is gone).
    #[error("MQTT client: {0}")]
    Client(#[from] rumqttc::ClientError),
}

/// MQTT 3.1.1 options for a simulated gateway fleet: keep-alive 30 s, inflight 100, clean
/// session, packets up to 512 KiB (buffered arrays after an outage can be large).
pub fn mqtt_options(host: &str, port: u16, client_id: &str) -> MqttOptions {
    let mut o = MqttOptions::new(client_id, host, port);
    o.set_keep_alive(Duration::from_secs(30))
        .set_inflight(100)
        .set_clean_session(true)
        .set_max_packet_size(512 * 1024, 512 * 1024);
    o
}

/// Creates the client and spawns the task that polls its event loop (it must be polled for
/// anything to be sent). Connection errors are logged and retried with back-off (0.2 s doubling
/// to 10 s); the task ends when the client disconnects, every client handle is dropped, or
/// `cancel` fires while the broker is unreachable. Must be called inside a Tokio runtime.
pub fn spawn_client(options: MqttOptions, cancel: CancellationToken) -> AsyncClient {
    let (client, mut eventloop) = AsyncClient::new(options, 256);
    tokio::spawn(async move {
        let min = Duration::from_millis(200);
        let mut backoff = min;
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    info!("simulator connected to the MQTT broker");
                    backoff = min;
                }
                Ok(Event::Outgoing(Outgoing::Disconnect)) => break,
                Ok(_) => {}
                Err(ConnectionError::RequestsDone) => break,
                Err(error) => {
                    warn!(%error, retry_in_ms = backoff.as_millis() as u64, "simulator MQTT connection error");
                    tokio::select! {
                        () = cancel.cancelled() => break,
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
            }
        }
    });
    client
}

fn wall_clock() -> Timestamp {
    Timestamp(chrono::Utc::now().timestamp_micros())
}

/// Publishes `batch`; returns false if cancelled first.
async fn publish_all(
    client: &AsyncClient,
    batch: Vec<Outbound>,
    stats: &mut PublishStats,
    cancel: &CancellationToken,
) -> Result<bool, SimulateError> {
    for o in batch {
        let (kind, items) = (o.kind, o.items);
        tokio::select! {
            r = client.publish(o.topic, QoS::AtLeastOnce, o.retain, o.payload) => r?,
            () = cancel.cancelled() => return Ok(false),
        }
        stats.count(kind, items);
    }
    Ok(true)
}

/// Runs `fleet` against the broker behind `client` until `cancel` fires: publishes the birth
/// messages, then steps the fleet at `pace` and publishes everything due (QoS 1; status
/// retained). Calls `progress` about once a second. On cancellation publishes a retained
/// `online: false` for every device (best effort, 2 s) and disconnects.
///
/// # Errors
/// [`SimulateError::Client`] when the client's event loop is gone.
pub async fn run_publisher(
    client: AsyncClient,
    mut fleet: Fleet,
    pace: Pace,
    cancel: CancellationToken,
    mut progress: impl FnMut(&PublishStats),
) -> Result<PublishStats, SimulateError> {
    let real_start = Instant::now();
    let wall_start = wall_clock();
    let (sim_start, speedup, tick) = match pace {
        Pace::RealTime { tick } => (wall_start, 1.0, tick),
        Pace::Accelerated {
            backfill,
            speedup,
            tick,
        } => {
            let back = i64::try_from(backfill.as_micros()).unwrap_or(i64::MAX);
            (
                Timestamp(wall_start.as_micros().saturating_sub(back)),
                speedup.max(1.0),
                tick,
            )
        }
    };
    let mut stats = PublishStats {
        caught_up: matches!(pace, Pace::RealTime { .. }),
        ..PublishStats::default()
    };
    info!(
        devices = fleet.device_count(),
        start = %sim_start,
        speedup,
        "simulated fleet starting"
    );
    publish_all(
        &client,
        fleet.birth_messages(sim_start),
        &mut stats,
        &cancel,
    )
    .await?;
    let mut interval = tokio::time::interval(tick.max(Duration::from_millis(10)));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut last_progress = Instant::now();
    loop {
        tokio::select! {
            () = cancel.cancelled() => break,
            _ = interval.tick() => {}
        }
        let now = wall_clock();
        let sim_now = if stats.caught_up {
            now
        } else {
            let ahead = real_start.elapsed().as_secs_f64() * speedup * 1e6;
            let t = Timestamp(sim_start.as_micros().saturating_add(ahead as i64));
            if t >= now {
                stats.caught_up = true;
                info!("simulated fleet caught up with the wall clock; continuing in real time");
                now
            } else {
                t
            }
        };
        let batch = fleet.step(sim_now);
        for i in fleet.take_incidents() {
            stats.incidents += 1;
            info!(
                ts = %super::step::rfc3339_cst(i.ts),
                site = %i.site,
                device = %i.device,
                kind = ?i.kind,
                "simulated incident: {}",
                i.detail
            );
        }
        if !publish_all(&client, batch, &mut stats, &cancel).await? {
            break;
        }
        stats.simulated_to = Some(sim_now);
        if last_progress.elapsed() >= Duration::from_secs(1) {
            progress(&stats);
            last_progress = Instant::now();
        }
    }
    let goodbye = fleet.shutdown_messages(wall_clock());
    let flush = async {
        for o in goodbye {
            let (kind, items) = (o.kind, o.items);
            client
                .publish(o.topic, QoS::AtLeastOnce, o.retain, o.payload)
                .await?;
            stats.count(kind, items);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        client.disconnect().await
    };
    if let Ok(Err(error)) = tokio::time::timeout(Duration::from_secs(2), flush).await {
        warn!(%error, "simulator could not publish its offline status");
    }
    progress(&stats);
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    use rumqttc::{AsyncClient, Event, Packet, QoS};

    use super::*;
    use crate::simulate::Scenario;
    use weijian_ingest::config::Config;

    /// Starts an embedded broker on a free port.
    fn start_broker() -> u16 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let text = format!(
            r#"
id = 0
[router]
max_connections = 100
max_outgoing_packet_count = 1000
max_segment_size = 104857600
max_segment_count = 10
[v4.1]
name = "v4-1"
listen = "127.0.0.1:{port}"
next_connection_delay_ms = 1
[v4.1.connections]
connection_timeout_ms = 60000
max_payload_size = 1048576
max_inflight_count = 500
dynamic_filters = true
"#
        );
        let config: rumqttd::Config = toml::from_str(&text).unwrap();
        std::thread::spawn(move || {
            let mut broker = rumqttd::Broker::new(config);
            let _ = broker.start();
        });
        for _ in 0..50 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        port
    }

    /// Subscribes to `filter` and collects (topic, retain) of what arrives.
    async fn subscribe(port: u16, id: &str, filter: &str) -> Arc<Mutex<Vec<(String, bool)>>> {
        let (client, mut eventloop) = AsyncClient::new(mqtt_options("127.0.0.1", port, id), 100);
        client.subscribe(filter, QoS::AtLeastOnce).await.unwrap();
        let got = Arc::new(Mutex::new(Vec::new()));
        let sink = got.clone();
        tokio::spawn(async move {
            let _keep = client;
            while let Ok(event) = eventloop.poll().await {
                if let Event::Incoming(Packet::Publish(p)) = event {
                    sink.lock().unwrap().push((p.topic.clone(), p.retain));
                }
            }
        });
        // Wait for the subscription to be in place.
        tokio::time::sleep(Duration::from_millis(300)).await;
        got
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_accelerated_run_backfills_catches_up_and_every_message_reaches_the_broker() {
        let port = start_broker();
        let got = subscribe(port, "watcher", "weijian/v1/#").await;
        let config = Config::parse(
            include_str!("../../../config/demo.toml"),
            "demo.toml",
            &HashMap::<String, String>::new(),
        )
        .unwrap();
        let fleet = Fleet::new(&config.registry, "weijian/v1", 9, Scenario::demo());
        let cancel = CancellationToken::new();
        let client = spawn_client(mqtt_options("127.0.0.1", port, "sim"), cancel.clone());
        let pace = Pace::Accelerated {
            backfill: Duration::from_secs(600),
            speedup: 1200.0,
            tick: Duration::from_millis(50),
        };
        let stopper = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(3)).await;
            stopper.cancel();
        });
        let mut progress_calls = 0;
        let stats = run_publisher(client, fleet, pace, cancel, |_| progress_calls += 1)
            .await
            .unwrap();
        assert!(stats.caught_up);
        assert!(progress_calls >= 2);
        // Ten simulated minutes of nine devices: hundreds of messages.
        assert!(stats.telemetry_messages > 300, "{stats:?}");
        assert!(stats.readings > stats.telemetry_messages);
        assert_eq!(
            stats.status, 18,
            "birth and goodbye for nine devices: {stats:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        let got = got.lock().unwrap().clone();
        assert_eq!(got.len() as u64, stats.messages, "{stats:?}");

        // Status is retained: a late subscriber still sees every device's last status.
        let late = subscribe(port, "late", "weijian/v1/+/+/status").await;
        let late = late.lock().unwrap().clone();
        assert_eq!(late.len(), 9, "{late:?}");
        assert!(late.iter().all(|(_, retain)| *retain));
    }
}
