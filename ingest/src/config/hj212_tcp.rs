//! `[hj212_tcp]`: the HJ 212 TCP listener data loggers (数采仪) connect to, and the address
//! ranges a device's frames may come from (`[devices.hj212] allowed_sources`). Every default
//! here is a product default unless it says it comes from the standard; docs/configuration.md
//! lists them with their reasons.

use std::net::IpAddr;
use std::time::Duration;

/// A connection that sent nothing for this long is closed. 15 minutes: longer than the
/// 10-minute interval of minute data (CN 2051), the longest a logger that sends nothing but
/// minute data stays quiet; a logger sending hourly data only reconnects each hour.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(900);
/// The largest frame accepted, bytes from `##` through the CRC: 4 times the 1024-byte data
/// segment HJ 212-2017 §6.3.1 allows (vendors exceed it), far below the 10,011 bytes a 4-digit
/// length field can describe. A larger frame closes the connection.
pub const DEFAULT_MAX_FRAME_BYTES: usize = 4096;
/// The most a 4-digit length field can describe (`##` + 4 + 9999 + CRC 4): the upper bound of
/// `max_frame_bytes` (from the standard's frame grammar).
pub const MAX_FRAME_BYTES_LIMIT: usize = 2 + 4 + 9999 + 4;
/// Concurrent connections; one more is refused (closed at once, counted, logged). 20,000: the
/// 10,000 measured in BENCHMARKS.md with room to spare, about 2 file descriptors and a few KiB
/// each.
pub const DEFAULT_MAX_CONNECTIONS: usize = 20_000;
/// Bytes read from a connection per read call; a connection holds at most `max_frame_bytes`
/// plus this much (its bounded memory).
pub const DEFAULT_READ_BUFFER_BYTES: usize = 2048;
/// Refused connections and frames are logged at most this often per reason (the rest counted
/// in the metrics and summed in the next line).
pub const REFUSAL_LOG_INTERVAL: Duration = Duration::from_secs(10);
/// Default of `[gateway_feedback] min_interval_secs`: a gateway stuck on a bad payload learns
/// why within seconds, and a flood costs one reply per device per interval.
pub const DEFAULT_FEEDBACK_INTERVAL: Duration = Duration::from_secs(10);

/// The listener's settings, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hj212TcpSettings {
    /// `host:port` to listen on.
    pub listen: String,
    pub idle_timeout: Duration,
    pub max_frame_bytes: usize,
    pub max_connections: usize,
    pub read_buffer_bytes: usize,
}

/// An address or a network (`192.0.2.7`, `192.0.2.0/24`, `2001:db8::/32`) frames of a device
/// may come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceNet {
    addr: IpAddr,
    prefix: u8,
}

impl SourceNet {
    /// Parses `addr` or `addr/prefix`.
    pub fn parse(s: &str) -> Option<Self> {
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a.parse::<IpAddr>().ok()?, Some(p.parse::<u8>().ok()?)),
            None => (s.trim().parse::<IpAddr>().ok()?, None),
        };
        let bits = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(bits);
        (prefix <= bits).then_some(Self { addr, prefix })
    }

    /// Whether `ip` is inside (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                masked(u128::from(u32::from(net)), 32, self.prefix)
                    == masked(u128::from(u32::from(ip)), 32, self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                masked(u128::from(net), 128, self.prefix)
                    == masked(u128::from(ip), 128, self.prefix)
            }
            _ => false,
        }
    }
}

fn masked(value: u128, bits: u8, prefix: u8) -> u128 {
    let host_bits = u32::from(bits - prefix.min(bits));
    value.checked_shr(host_bits).unwrap_or(0)
}

impl std::fmt::Display for SourceNet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_networks_match_what_they_cover() {
        let net = SourceNet::parse("192.0.2.0/24").unwrap();
        assert!(net.contains("192.0.2.77".parse().unwrap()));
        assert!(net.contains("::ffff:192.0.2.1".parse().unwrap()));
        assert!(!net.contains("192.0.3.1".parse().unwrap()));
        let one = SourceNet::parse("10.1.2.3").unwrap();
        assert!(one.contains("10.1.2.3".parse().unwrap()));
        assert!(!one.contains("10.1.2.4".parse().unwrap()));
        assert!(SourceNet::parse("0.0.0.0/0")
            .unwrap()
            .contains("8.8.8.8".parse().unwrap()));
        let v6 = SourceNet::parse("2001:db8::/32").unwrap();
        assert!(v6.contains("2001:db8::1".parse().unwrap()));
        assert!(!v6.contains("10.1.2.3".parse().unwrap()));
        for bad in ["10.0.0.0/33", "nonsense", "10.0.0.1/x", ""] {
            assert_eq!(SourceNet::parse(bad), None, "{bad}");
        }
    }
}
