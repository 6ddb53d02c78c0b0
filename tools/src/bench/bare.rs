//! The bare limit: weijian's own MQTT source (`source::mqtt`: same protocol, options, manual
//! acks and request queue) with nothing behind it. Every message is acknowledged as soon as it
//! arrives (through an ack task, as in the pipeline, but without waiting for the spool) and
//! counted; no decoding, no spool, no storage. What weijian reaches end to end is compared
//! with this.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use weijian_ingest::config::MqttConfig;
use weijian_ingest::source::mqtt::{self, Polled};
use weijian_ingest::topic::Topic;

/// Latency probes the bare subscriber watches for: device id -> when its probe was published;
/// on arrival of that device's probe (the out-of-range payload) (sent, delay) is recorded.
#[derive(Debug, Clone, Default)]
pub struct Probes {
    pub sent_at: Arc<Mutex<HashMap<String, Instant>>>,
    pub samples: Arc<Mutex<Vec<(Instant, Duration)>>>,
}

impl Probes {
    fn arrived(&self, topic: &str, payload: &[u8]) {
        let Some(device) = topic.rsplit('/').nth(1) else {
            return;
        };
        let Ok(mut sent_at) = self.sent_at.lock() else {
            return;
        };
        if sent_at.is_empty() || !sent_at.contains_key(device) {
            return;
        }
        // Background readings to the same device are not the probe.
        if !payload.windows(5).any(|w| w == b":5000") {
            return;
        }
        if let (Some(sent), Ok(mut samples)) = (sent_at.remove(device), self.samples.lock()) {
            samples.push((sent, sent.elapsed()));
        }
    }
}

/// A running bare subscriber.
#[derive(Debug)]
pub struct Bare {
    /// Messages received.
    pub received: Arc<AtomicU64>,
    /// Messages acknowledged.
    pub acked: Arc<AtomicU64>,
    /// Set once subscribed (CONNACK seen and SUBSCRIBE sent).
    pub connected: Arc<AtomicU64>,
    stop: CancellationToken,
}

impl Bare {
    /// Connects with `config` (as weijian would) and subscribes to its topic filters.
    ///
    /// # Errors
    /// The MQTT options cannot be built.
    pub fn start(
        config: &MqttConfig,
        max_payload_bytes: usize,
        probes: Option<Probes>,
    ) -> Result<Bare, super::BenchError> {
        let (client, mut event_loop) = mqtt::connect(config, max_payload_bytes)
            .map_err(|e| super::BenchError::Mqtt(e.to_string()))?;
        let received = Arc::new(AtomicU64::new(0));
        let acked = Arc::new(AtomicU64::new(0));
        let connected = Arc::new(AtomicU64::new(0));
        let stop = CancellationToken::new();
        let filters = Topic::filters(&config.topic_prefix);
        let (ack_tx, mut ack_rx) = mpsc::unbounded_channel();
        {
            let (client, acked) = (client.clone(), acked.clone());
            tokio::spawn(async move {
                while let Some(token) = ack_rx.recv().await {
                    if client.ack(&token).await.is_ok() {
                        acked.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
        {
            let (received, connected, stop) = (received.clone(), connected.clone(), stop.clone());
            tokio::spawn(async move {
                loop {
                    let polled = tokio::select! {
                        () = stop.cancelled() => break,
                        p = event_loop.poll() => p,
                    };
                    match polled {
                        Ok(Polled::Connected { .. }) => {
                            let (client, filters, connected) =
                                (client.clone(), filters.clone(), connected.clone());
                            tokio::spawn(async move {
                                if client.subscribe(&filters).await.is_ok() {
                                    connected.store(1, Ordering::Relaxed);
                                }
                            });
                        }
                        Ok(Polled::Message(m)) => {
                            received.fetch_add(1, Ordering::Relaxed);
                            if let Some(p) = &probes {
                                p.arrived(&m.topic, &m.payload);
                            }
                            let _ = ack_tx.send(m.ack);
                        }
                        Ok(Polled::Other) => {}
                        Err(error) => {
                            tracing::warn!(%error, "bare subscriber connection error");
                            tokio::time::sleep(Duration::from_millis(200)).await;
                        }
                    }
                }
                drop(ack_tx);
                client.disconnect().await;
                for _ in 0..10 {
                    if tokio::time::timeout(Duration::from_millis(50), event_loop.poll())
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
            });
        }
        Ok(Bare {
            received,
            acked,
            connected,
            stop,
        })
    }

    /// Waits until subscribed (plus a moment for the SUBACK), up to 10 s.
    pub async fn ready(&self) -> bool {
        for _ in 0..200 {
            if self.connected.load(Ordering::Relaxed) == 1 {
                tokio::time::sleep(Duration::from_millis(200)).await;
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    /// Disconnects.
    pub async fn stop(self) {
        self.stop.cancel();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
