//! The MQTT connection: one face over rumqttc's MQTT 5 and MQTT 3.1.1 clients.
//!
//! Options follow the delivery design: a fixed client id, a persistent session (clean start
//! off; MQTT 5 session expiry > 0), manual acks (a PUBACK is sent only when the message is
//! durable in the spool), and an incoming packet limit well above the payload limit so an
//! oversize payload reaches validation (and the quarantine) instead of breaking the connection.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rumqttc::v5;

use crate::config::{MqttConfig, MqttProtocol};

/// Why the connection could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("cannot read TLS CA file {path}: {error}")]
    CaFile { path: String, error: String },
    #[error("TLS CA file {path} holds no usable certificate")]
    NoCertificates { path: String },
}

/// A message from the broker, with what is needed to acknowledge it later.
#[derive(Debug)]
pub struct Inbound {
    pub topic: String,
    pub payload: Bytes,
    pub qos: u8,
    pub ack: AckToken,
}

/// Acknowledges one message (QoS 0 needs none).
#[derive(Debug)]
pub enum AckToken {
    None,
    V4(Box<rumqttc::Publish>),
    V5(Box<v5::mqttbytes::v5::Publish>),
}

/// What one poll of the event loop produced.
#[derive(Debug)]
pub enum Polled {
    /// (Re)connected. Without a session present the broker forgot our subscriptions and
    /// anything queued while we were away: a possible data gap.
    Connected {
        session_present: bool,
    },
    Message(Inbound),
    /// Any other packet (PUBACK of our publishes, pings, SUBACK, ...).
    Other,
}

/// What the MQTT client could not do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MqttError {
    /// The client's request queue is full (the broker has been away for a while) or its
    /// event loop has stopped: a best-effort message is dropped.
    #[error(
        "the MQTT client cannot take the request now (request queue full or connection closed)"
    )]
    Unavailable,
    /// The event loop is gone (shutting down).
    #[error("the MQTT event loop has stopped")]
    Closed,
    /// An acknowledgement token of the other protocol version (a bug).
    #[error("an acknowledgement token of another MQTT protocol version")]
    ProtocolMismatch,
}

/// Publishing on MQTT without waiting, the seam the drain and the notifiers publish through
/// (alert messages, HJ 212 replies, supervisors' MQTT channels). [`MqttClient`] implements
/// it; tests use in-memory fakes.
pub trait Publisher: Send + Sync + std::fmt::Debug {
    /// Publishes with QoS 1, not retained, or fails at once (see [`MqttClient::try_publish`]).
    ///
    /// # Errors
    /// [`MqttError::Unavailable`] when the message cannot be queued now.
    fn try_publish(&self, topic: &str, payload: Vec<u8>) -> Result<(), MqttError>;
}

impl Publisher for MqttClient {
    fn try_publish(&self, topic: &str, payload: Vec<u8>) -> Result<(), MqttError> {
        MqttClient::try_publish(self, topic, payload)
    }
}

/// The client half: acknowledge, publish, subscribe. Cheap to clone.
#[derive(Debug, Clone)]
pub enum MqttClient {
    V4(rumqttc::AsyncClient),
    V5(v5::AsyncClient),
}

/// The event-loop half: only ever polled by the source task.
pub enum MqttEventLoop {
    V4(Box<rumqttc::EventLoop>),
    V5(Box<v5::EventLoop>),
}

impl std::fmt::Debug for MqttEventLoop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::V4(_) => "MqttEventLoop::V4",
            Self::V5(_) => "MqttEventLoop::V5",
        })
    }
}

/// Requests rumqttc may queue before `publish`/`ack` calls wait.
const REQUEST_CAPACITY: usize = 4096;

impl MqttClient {
    /// Sends the PUBACK for a message.
    ///
    /// # Errors
    /// The event loop is gone (shutting down).
    pub async fn ack(&self, token: &AckToken) -> Result<(), MqttError> {
        match (self, token) {
            (_, AckToken::None) => Ok(()),
            (Self::V4(c), AckToken::V4(p)) => c.ack(p).await.map_err(|_| MqttError::Closed),
            (Self::V5(c), AckToken::V5(p)) => c.ack(p).await.map_err(|_| MqttError::Closed),
            _ => Err(MqttError::ProtocolMismatch),
        }
    }

    /// Publishes with QoS 1, not retained.
    ///
    /// # Errors
    /// The event loop is gone.
    pub async fn publish(&self, topic: &str, payload: Vec<u8>) -> Result<(), MqttError> {
        match self {
            Self::V4(c) => c
                .publish(topic, rumqttc::QoS::AtLeastOnce, false, payload)
                .await
                .map_err(|_| MqttError::Closed),
            Self::V5(c) => c
                .publish(topic, v5::mqttbytes::QoS::AtLeastOnce, false, payload)
                .await
                .map_err(|_| MqttError::Closed),
        }
    }

    /// Publishes with QoS 1 without waiting: fails at once when rumqttc's request queue is full
    /// (the broker has been away for a while). For best-effort messages (HJ 212 replies, alert
    /// notifications) that must never hold up the data path.
    ///
    /// # Errors
    /// The queue is full or the event loop is gone.
    pub fn try_publish(&self, topic: &str, payload: Vec<u8>) -> Result<(), MqttError> {
        match self {
            Self::V4(c) => c
                .try_publish(topic, rumqttc::QoS::AtLeastOnce, false, payload)
                .map_err(|_| MqttError::Unavailable),
            Self::V5(c) => c
                .try_publish(topic, v5::mqttbytes::QoS::AtLeastOnce, false, payload)
                .map_err(|_| MqttError::Unavailable),
        }
    }

    /// Subscribes to every filter with QoS 1.
    ///
    /// # Errors
    /// The event loop is gone.
    pub async fn subscribe(&self, filters: &[String]) -> Result<(), MqttError> {
        match self {
            Self::V4(c) => c
                .subscribe_many(
                    filters.iter().map(|f| {
                        rumqttc::SubscribeFilter::new(f.clone(), rumqttc::QoS::AtLeastOnce)
                    }),
                )
                .await
                .map_err(|_| MqttError::Closed),
            Self::V5(c) => c
                .subscribe_many(filters.iter().map(|f| {
                    v5::mqttbytes::v5::Filter::new(f.clone(), v5::mqttbytes::QoS::AtLeastOnce)
                }))
                .await
                .map_err(|_| MqttError::Closed),
        }
    }

    /// Disconnects cleanly, keeping the session (never UNSUBSCRIBE).
    pub async fn disconnect(&self) {
        let result = match self {
            Self::V4(c) => c.disconnect().await.map_err(|e| e.to_string()),
            Self::V5(c) => c.disconnect().await.map_err(|e| e.to_string()),
        };
        if let Err(error) = result {
            tracing::debug!(%error, "MQTT disconnect was not sent (event loop already gone).");
        }
    }
}

impl MqttEventLoop {
    /// Polls the connection once.
    ///
    /// # Errors
    /// A connection error (the caller backs off and polls again; rumqttc reconnects).
    pub async fn poll(&mut self) -> Result<Polled, String> {
        match self {
            Self::V4(el) => match el.poll().await.map_err(|e| e.to_string())? {
                rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(ack)) => Ok(Polled::Connected {
                    session_present: ack.session_present,
                }),
                rumqttc::Event::Incoming(rumqttc::Packet::Publish(p)) => {
                    let qos = p.qos as u8;
                    Ok(Polled::Message(Inbound {
                        topic: p.topic.clone(),
                        payload: p.payload.clone(),
                        qos,
                        ack: if qos == 0 {
                            AckToken::None
                        } else {
                            AckToken::V4(Box::new(p))
                        },
                    }))
                }
                _ => Ok(Polled::Other),
            },
            Self::V5(el) => match el.poll().await.map_err(|e| e.to_string())? {
                v5::Event::Incoming(v5::Incoming::ConnAck(ack)) => Ok(Polled::Connected {
                    session_present: ack.session_present,
                }),
                v5::Event::Incoming(v5::Incoming::Publish(p)) => {
                    let qos = p.qos as u8;
                    Ok(Polled::Message(Inbound {
                        topic: String::from_utf8_lossy(&p.topic).into_owned(),
                        payload: p.payload.clone(),
                        qos,
                        ack: if qos == 0 {
                            AckToken::None
                        } else {
                            AckToken::V5(Box::new(p))
                        },
                    }))
                }
                _ => Ok(Polled::Other),
            },
        }
    }
}

/// Builds the client and event loop (nothing connects until the loop is polled).
///
/// # Errors
/// A TLS CA file that cannot be used.
pub fn connect(
    config: &MqttConfig,
    max_payload_bytes: usize,
) -> Result<(MqttClient, MqttEventLoop), SetupError> {
    let transport = match &config.tls_ca_file {
        Some(path) => Some(tls_transport(path)?),
        None => None,
    };
    // Well above the payload limit: an oversize payload is quarantined, not a broken link.
    let max_incoming = max_payload_bytes.saturating_mul(4).max(1 << 20);
    match config.protocol {
        MqttProtocol::V5 => {
            let mut o = v5::MqttOptions::new(&config.client_id, &config.host, config.port);
            o.set_keep_alive(config.keep_alive)
                .set_clean_start(false)
                .set_session_expiry_interval(Some(config.session_expiry_secs))
                .set_receive_maximum(Some(config.inflight))
                .set_max_packet_size(Some(u32::try_from(max_incoming).unwrap_or(u32::MAX)))
                .set_manual_acks(true)
                .set_request_channel_capacity(REQUEST_CAPACITY);
            if let (Some(u), p) = (&config.username, &config.password) {
                o.set_credentials(u.clone(), p.clone().unwrap_or_default());
            }
            if let Some(t) = transport {
                o.set_transport(t);
            }
            let (client, el) = v5::AsyncClient::new(o, REQUEST_CAPACITY);
            Ok((MqttClient::V5(client), MqttEventLoop::V5(Box::new(el))))
        }
        MqttProtocol::V311 => {
            let mut o = rumqttc::MqttOptions::new(&config.client_id, &config.host, config.port);
            o.set_keep_alive(config.keep_alive)
                .set_clean_session(false)
                .set_inflight(config.inflight)
                .set_max_packet_size(max_incoming, max_incoming)
                .set_manual_acks(true)
                .set_request_channel_capacity(REQUEST_CAPACITY);
            if let (Some(u), p) = (&config.username, &config.password) {
                o.set_credentials(u.clone(), p.clone().unwrap_or_default());
            }
            if let Some(t) = transport {
                o.set_transport(t);
            }
            let (client, el) = rumqttc::AsyncClient::new(o, REQUEST_CAPACITY);
            Ok((MqttClient::V4(client), MqttEventLoop::V4(Box::new(el))))
        }
    }
}

fn tls_transport(path: &std::path::Path) -> Result<rumqttc::Transport, SetupError> {
    let shown = path.display().to_string();
    let pem = std::fs::read(path).map_err(|e| SetupError::CaFile {
        path: shown.clone(),
        error: e.to_string(),
    })?;
    let mut roots = rustls::RootCertStore::empty();
    let mut reader = std::io::BufReader::new(pem.as_slice());
    for cert in rustls_pemfile_certs(&mut reader) {
        // A bad certificate among good ones is skipped; none at all is an error below.
        let _ = roots.add(cert);
    }
    if roots.is_empty() {
        return Err(SetupError::NoCertificates { path: shown });
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| SetupError::CaFile {
            path: shown.clone(),
            error: e.to_string(),
        })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(rumqttc::Transport::tls_with_config(tls.into()))
}

/// The DER certificates of a PEM file.
fn rustls_pemfile_certs(
    reader: &mut dyn std::io::BufRead,
) -> Vec<rustls::pki_types::CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::pem_reader_iter(reader)
        .filter_map(Result::ok)
        .collect()
}

/// Exponential back-off with full jitter between `min` and `max`.
#[derive(Debug, Clone)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    attempt: u32,
}

impl Backoff {
    pub fn new(min: Duration, max: Duration) -> Self {
        Self {
            min,
            max,
            attempt: 0,
        }
    }

    /// The next delay: min * 2^attempt capped at max, then a uniform pick in [min, that].
    pub fn next_delay(&mut self) -> Duration {
        let ceiling = self
            .min
            .saturating_mul(1u32 << self.attempt.min(16))
            .min(self.max);
        self.attempt = self.attempt.saturating_add(1);
        let lo = self.min.as_millis() as u64;
        let hi = (ceiling.as_millis() as u64).max(lo);
        Duration::from_millis(rand::random_range(lo..=hi))
    }

    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_its_ceiling_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(1000));
        for _ in 0..20 {
            let d = b.next_delay();
            assert!(
                d >= Duration::from_millis(100) && d <= Duration::from_millis(1000),
                "{d:?}"
            );
        }
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(100));
    }
}
