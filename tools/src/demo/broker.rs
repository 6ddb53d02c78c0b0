//! An embedded MQTT broker (rumqttd) for the demo and fast tests: MQTT 3.1.1 on a free
//! loopback port, running on its own threads for the life of the process.
//!
//! It is a convenience, not a production broker: rumqttd keeps sessions in memory only. Real
//! deployments use Mosquitto or EMQX configured as docs/operations.md says.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// Why the broker did not start.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("no free local port: {0}")]
    Port(std::io::Error),
    #[error("invalid embedded broker configuration: {0}")]
    Config(String),
    #[error("the embedded broker did not start listening on {0} within 5 s")]
    NotListening(SocketAddr),
}

/// Starts rumqttd on `127.0.0.1:<free port>` and returns the port once it accepts connections.
///
/// # Errors
/// No free port, or the broker not listening in time.
pub fn start() -> Result<u16, BrokerError> {
    let port = {
        let probe = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(BrokerError::Port)?;
        probe.local_addr().map_err(BrokerError::Port)?.port()
    };
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let text = format!(
        r#"
id = 0
[router]
id = 0
max_connections = 1000
max_outgoing_packet_count = 1000
max_segment_size = 104857600
max_segment_count = 10

[v4.1]
name = "weijian-demo"
listen = "{addr}"
next_connection_delay_ms = 1
[v4.1.connections]
connection_timeout_ms = 60000
max_payload_size = 1048576
max_inflight_count = 1000
dynamic_filters = true
"#
    );
    let config: rumqttd::Config =
        toml::from_str(&text).map_err(|e| BrokerError::Config(e.to_string()))?;
    std::thread::Builder::new()
        .name("rumqttd".into())
        .spawn(move || {
            let mut broker = rumqttd::Broker::new(config);
            if let Err(error) = broker.start() {
                tracing::error!(%error, "The embedded MQTT broker stopped.");
            }
        })
        .map_err(BrokerError::Port)?;
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(port);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(BrokerError::NotListening(addr))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_embedded_broker_relays_a_qos1_message() {
        let port = start().unwrap();
        let mut o = rumqttc::MqttOptions::new("probe", "127.0.0.1", port);
        o.set_keep_alive(Duration::from_secs(10));
        let (client, mut el) = rumqttc::AsyncClient::new(o, 10);
        client
            .subscribe("t/#", rumqttc::QoS::AtLeastOnce)
            .await
            .unwrap();
        client
            .publish("t/x", rumqttc::QoS::AtLeastOnce, false, "hello")
            .await
            .unwrap();
        let got = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                if let Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p))) = el.poll().await {
                    return p.payload;
                }
            }
        })
        .await
        .unwrap();
        assert_eq!(&got[..], b"hello");
    }
}
