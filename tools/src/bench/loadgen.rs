//! `weijian loadgen`: simulated devices `d0..d{N-1}` publishing telemetry at a target rate or
//! as fast as possible (QoS 0 or 1; single readings or arrays of K; JSON or HJ 212), for a
//! duration or a count, with a progress line every second and a report of what was sent.
//!
//! One MQTT 3.1.1 connection carries every simulated device (like a concentrating gateway);
//! devices take turns, so each device's `seq` increases without gaps.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use alerting::model::Timestamp;
use rumqttc::{AsyncClient, ConnectionError, Event, Outgoing, Packet, QoS};
use tokio_util::sync::CancellationToken;

use super::payload::{wall_clock, Format, PayloadGen};
use super::BenchError;

/// What to publish.
#[derive(Debug, Clone)]
pub struct LoadgenOptions {
    pub host: String,
    pub port: u16,
    pub client_id: String,
    pub topic_prefix: String,
    /// Simulated devices `d0..d{devices-1}` at sites `s0..`.
    pub devices: usize,
    /// Messages per second; `None` = as fast as possible.
    pub rate: Option<f64>,
    /// 0 or 1.
    pub qos: u8,
    /// Readings per message (1 = a single JSON object; K > 1 = an array / K HJ 212 frames).
    pub per_message: usize,
    pub format: Format,
    /// Stop after this long ...
    pub duration: Option<Duration>,
    /// ... or after this many messages (whichever comes first; neither = until cancelled).
    pub count: Option<u64>,
    /// QoS 1 messages in flight (unacknowledged by the broker).
    pub inflight: u16,
    pub seed: u64,
}

impl Default for LoadgenOptions {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 1883,
            client_id: "weijian-loadgen".into(),
            topic_prefix: "weijian/v1".into(),
            devices: 1000,
            rate: None,
            qos: 1,
            per_message: 1,
            format: Format::Json,
            duration: None,
            count: None,
            inflight: 1000,
            seed: 7,
        }
    }
}

/// Progress so far (also the final report).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LoadgenStats {
    pub messages: u64,
    pub readings: u64,
    pub bytes: u64,
    /// PUBACKs received (QoS 1).
    pub acked: u64,
    /// PUBLISH packets written to the connection.
    pub written: u64,
    /// Since the start; in the final report, until the last PUBACK (QoS 1).
    pub elapsed: Duration,
    /// Messages per second over the last progress interval.
    pub recent_rate: f64,
}

impl LoadgenStats {
    /// Average messages per second.
    pub fn rate(&self) -> f64 {
        per_sec(self.messages, self.elapsed)
    }

    /// Average readings per second.
    pub fn readings_rate(&self) -> f64 {
        per_sec(self.readings, self.elapsed)
    }
}

fn per_sec(n: u64, d: Duration) -> f64 {
    let s = d.as_secs_f64();
    if s > 0.0 {
        n as f64 / s
    } else {
        0.0
    }
}

/// A connected publisher with its event loop polled by a task.
#[derive(Debug)]
pub struct Publisher {
    pub client: AsyncClient,
    pub acked: Arc<AtomicU64>,
    /// PUBLISH packets written to the connection.
    pub written: Arc<AtomicU64>,
    stop: CancellationToken,
}

impl Publisher {
    /// Connects (MQTT 3.1.1, clean session) and waits for the CONNACK (10 s).
    ///
    /// # Errors
    /// The broker does not accept the connection in time.
    pub async fn connect(
        host: &str,
        port: u16,
        client_id: &str,
        inflight: u16,
    ) -> Result<Publisher, BenchError> {
        let mut options = crate::simulate::mqtt_options(host, port, client_id);
        options.set_inflight(inflight.max(1));
        let (client, mut eventloop) = AsyncClient::new(options, 4096);
        let acked = Arc::new(AtomicU64::new(0));
        let written = Arc::new(AtomicU64::new(0));
        let connected = Arc::new(AtomicBool::new(false));
        let stop = CancellationToken::new();
        let (a, w, c, s) = (
            acked.clone(),
            written.clone(),
            connected.clone(),
            stop.clone(),
        );
        tokio::spawn(async move {
            loop {
                let polled = tokio::select! {
                    () = s.cancelled() => break,
                    p = eventloop.poll() => p,
                };
                match polled {
                    Ok(Event::Incoming(Packet::PubAck(_))) => {
                        a.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(Event::Outgoing(Outgoing::Publish(_))) => {
                        w.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(Event::Incoming(Packet::ConnAck(_))) => c.store(true, Ordering::Relaxed),
                    Ok(Event::Outgoing(Outgoing::Disconnect)) => break,
                    Ok(_) => {}
                    Err(ConnectionError::RequestsDone) => break,
                    Err(error) => {
                        c.store(false, Ordering::Relaxed);
                        tracing::warn!(%error, "loadgen MQTT connection error; retrying");
                        tokio::select! {
                            () = s.cancelled() => break,
                            () = tokio::time::sleep(Duration::from_millis(200)) => {}
                        }
                    }
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(10);
        while !connected.load(Ordering::Relaxed) {
            if Instant::now() > deadline {
                stop.cancel();
                return Err(BenchError::Mqtt(format!(
                    "no CONNACK from {host}:{port} within 10 s"
                )));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok(Publisher {
            client,
            acked,
            written,
            stop,
        })
    }

    /// Publishes (waits only if rumqttc's request queue is full).
    ///
    /// # Errors
    /// The event loop is gone.
    pub async fn publish(
        &self,
        topic: String,
        qos: u8,
        payload: Vec<u8>,
    ) -> Result<(), BenchError> {
        let qos = if qos == 0 {
            QoS::AtMostOnce
        } else {
            QoS::AtLeastOnce
        };
        self.client
            .publish(topic, qos, false, payload)
            .await
            .map_err(|e| BenchError::Mqtt(e.to_string()))
    }

    /// Waits until `sent` messages are acknowledged by the broker (QoS 1) or written to the
    /// connection (QoS 0), or `timeout`.
    pub async fn flushed(&self, qos: u8, sent: u64, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let counter = if qos == 0 { &self.written } else { &self.acked };
        while counter.load(Ordering::Relaxed) < sent {
            if Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        true
    }

    /// Disconnects and stops the event-loop task.
    pub async fn close(self) {
        let _ = tokio::time::timeout(Duration::from_secs(1), self.client.disconnect()).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        self.stop.cancel();
    }
}

/// At most this many payload bytes are made before a timed run ([`prepare`]); the rest of the
/// run makes its payloads as it goes.
const MAX_PREPARED_BYTES: u64 = 1 << 30;

/// Messages made before a timed run, with the generator that goes on after them.
#[derive(Debug)]
pub struct Prepared {
    gen: PayloadGen,
    messages: std::vec::IntoIter<(String, Vec<u8>)>,
}

/// Makes the first messages of a run of `options.count` messages now (up to 1 GiB of
/// payloads), so that formatting JSON is not timed with the run: in `weijian bench` the
/// publisher stands for the gateways, which make their payloads on their own machines, and
/// here it shares two cores with the broker and the subscriber under test. The messages are
/// the ones [`run`] would make, in the same order, with timestamps of the time they were made
/// (seconds before they are sent). `None` without a count.
pub fn prepare(options: &LoadgenOptions) -> Option<Prepared> {
    let count = options.count?;
    let mut gen = generator(options);
    let devices = options.devices.max(1) as u64;
    let mut messages = Vec::new();
    let (mut bytes, mut now) = (0u64, wall_clock());
    for n in 0..count {
        if bytes >= MAX_PREPARED_BYTES {
            break;
        }
        let (topic, payload) = nth_message(&mut gen, n, devices, &mut now);
        bytes += payload.len() as u64;
        messages.push((topic, payload));
    }
    Some(Prepared {
        gen,
        messages: messages.into_iter(),
    })
}

/// The `n`th message of a run: devices take turns; the wall clock in `now` is read once per
/// 64 messages (timestamps within a few ms are fine).
fn nth_message(
    gen: &mut PayloadGen,
    n: u64,
    devices: u64,
    now: &mut Timestamp,
) -> (String, Vec<u8>) {
    if n % 64 == 0 {
        *now = wall_clock();
    }
    gen.message(usize::try_from(n % devices.max(1)).unwrap_or(0), *now)
}

fn generator(options: &LoadgenOptions) -> PayloadGen {
    PayloadGen::new(
        &options.topic_prefix,
        options.format,
        options.devices,
        options.per_message,
        options.seed,
    )
}

/// Runs the load generator until its count or duration is reached (or `cancel`), calling
/// `progress` about once a second; for QoS 1, waits (up to 30 s) for the last PUBACKs.
///
/// # Errors
/// Cannot connect, or the connection's event loop died.
pub async fn run(
    options: &LoadgenOptions,
    cancel: CancellationToken,
    progress: impl FnMut(&LoadgenStats),
) -> Result<LoadgenStats, BenchError> {
    run_prepared(options, None, cancel, progress).await
}

/// [`run`], sending `prepared`'s messages first (see [`prepare`]).
///
/// # Errors
/// As [`run`].
pub async fn run_prepared(
    options: &LoadgenOptions,
    prepared: Option<Prepared>,
    cancel: CancellationToken,
    mut progress: impl FnMut(&LoadgenStats),
) -> Result<LoadgenStats, BenchError> {
    let publisher = Publisher::connect(
        &options.host,
        options.port,
        &options.client_id,
        options.inflight,
    )
    .await?;
    let (mut gen, mut ready) = match prepared {
        Some(p) => (p.gen, p.messages),
        None => (generator(options), Vec::new().into_iter()),
    };
    let devices = options.devices.max(1) as u64;
    let start = Instant::now();
    let mut stats = LoadgenStats::default();
    let (mut last_report, mut last_messages) = (start, 0u64);
    let mut now = wall_clock();
    loop {
        if cancel.is_cancelled()
            || options.count.is_some_and(|c| stats.messages >= c)
            || options.duration.is_some_and(|d| start.elapsed() >= d)
        {
            break;
        }
        if let Some(rate) = options.rate.filter(|r| *r > 0.0) {
            let due = start + Duration::from_secs_f64(stats.messages as f64 / rate);
            if due > Instant::now() {
                tokio::select! {
                    () = cancel.cancelled() => break,
                    () = tokio::time::sleep_until(due.into()) => {}
                }
            }
        }
        let (topic, payload) = ready
            .next()
            .unwrap_or_else(|| nth_message(&mut gen, stats.messages, devices, &mut now));
        stats.bytes += payload.len() as u64;
        publisher.publish(topic, options.qos, payload).await?;
        stats.messages += 1;
        stats.readings += gen.per_message() as u64;
        if last_report.elapsed() >= Duration::from_secs(1) {
            let dt = last_report.elapsed();
            stats.elapsed = start.elapsed();
            stats.acked = publisher.acked.load(Ordering::Relaxed);
            stats.written = publisher.written.load(Ordering::Relaxed);
            stats.recent_rate = per_sec(stats.messages - last_messages, dt);
            progress(&stats);
            (last_report, last_messages) = (Instant::now(), stats.messages);
        }
    }
    // The run ends when the broker has acknowledged everything (QoS 1) or everything was
    // written to the connection (QoS 0): publish() only queues in rumqttc.
    if !publisher
        .flushed(options.qos, stats.messages, Duration::from_secs(30))
        .await
    {
        tracing::warn!("not every message was sent (QoS 0) or acknowledged (QoS 1) within 30 s");
    }
    stats.elapsed = start.elapsed();
    stats.acked = publisher.acked.load(Ordering::Relaxed);
    stats.written = publisher.written.load(Ordering::Relaxed);
    publisher.close().await;
    Ok(stats)
}

/// The progress line: `loadgen  12.0 s  120000 msgs  10000 msg/s (now 10012)  ...`.
pub fn progress_line(s: &LoadgenStats) -> String {
    format!(
        "loadgen {:>6.1} s  {:>9} msgs  {:>10} readings  {:>9.0} msg/s (last s {:>7.0})  {:>9.0} readings/s  written {}  acked {}",
        s.elapsed.as_secs_f64(),
        s.messages,
        s.readings,
        s.rate(),
        s.recent_rate,
        s.readings_rate(),
        s.written,
        s.acked
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prepared_messages_are_the_runs_messages_in_order_and_the_generator_goes_on_after_them() {
        let options = LoadgenOptions {
            devices: 3,
            count: Some(7),
            ..LoadgenOptions::default()
        };
        let mut prepared = prepare(&options).expect("a count was given");
        let messages: Vec<(String, Vec<u8>)> = prepared.messages.by_ref().collect();
        assert_eq!(messages.len(), 7);
        let topics: Vec<&str> = messages.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(
            topics,
            [
                "weijian/v1/s0/d0/telemetry",
                "weijian/v1/s1/d1/telemetry",
                "weijian/v1/s2/d2/telemetry",
                "weijian/v1/s0/d0/telemetry",
                "weijian/v1/s1/d1/telemetry",
                "weijian/v1/s2/d2/telemetry",
                "weijian/v1/s0/d0/telemetry",
            ]
        );
        let seq = |payload: &[u8]| -> u64 {
            let v: serde_json::Value = serde_json::from_slice(payload).unwrap();
            v["seq"].as_u64().unwrap()
        };
        // d0's messages 0, 3 and 6, and then the generator's next one for d0.
        let d0: Vec<u64> = [0, 3, 6].iter().map(|&i| seq(&messages[i].1)).collect();
        let (_, next) = prepared.gen.message(0, wall_clock());
        assert_eq!(
            d0.windows(2).filter(|w| w[1] == w[0] + 1).count(),
            2,
            "{d0:?}"
        );
        assert_eq!(seq(&next), d0[2] + 1);
        assert!(
            prepare(&LoadgenOptions::default()).is_none(),
            "no count, nothing made"
        );
    }
}
