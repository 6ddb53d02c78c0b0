//! Validation of `[hj212_tcp]`, `[gateway_feedback]` and `[devices.hj212] allowed_sources`.

use std::time::Duration;

use toml::Spanned;

use super::super::hj212_tcp::{Hj212TcpSettings, SourceNet, MAX_FRAME_BYTES_LIMIT};
use super::super::{raw, FeedbackSettings};
use super::Validator;

/// The smallest `max_frame_bytes`: a frame with an empty data segment is 10 bytes, a data
/// frame with a header and one value about 100.
const MIN_FRAME_BYTES: usize = 64;

impl Validator<'_> {
    pub(super) fn hj212_tcp(&mut self, t: raw::RawHj212Tcp) -> Option<Hj212TcpSettings> {
        for (value, key) in [
            (&t.max_connections, "hj212_tcp.max_connections"),
            (&t.read_buffer_bytes, "hj212_tcp.read_buffer_bytes"),
        ] {
            if *value.get_ref() == 0 {
                self.err(value, key, "must be at least 1");
            }
        }
        if *t.idle_timeout_secs.get_ref() == 0 {
            self.err(
                &t.idle_timeout_secs,
                "hj212_tcp.idle_timeout_secs",
                "must be at least 1",
            );
        }
        let frame = *t.max_frame_bytes.get_ref();
        if !(MIN_FRAME_BYTES..=MAX_FRAME_BYTES_LIMIT).contains(&frame) {
            self.err(
                &t.max_frame_bytes,
                "hj212_tcp.max_frame_bytes",
                format!(
                    "must be between {MIN_FRAME_BYTES} and {MAX_FRAME_BYTES_LIMIT} (the most a 4-digit length field describes)"
                ),
            );
        }
        let listen = self.socket_addr(t.listen?, "hj212_tcp.listen");
        Some(Hj212TcpSettings {
            listen,
            idle_timeout: Duration::from_secs(t.idle_timeout_secs.into_inner().max(1)),
            max_frame_bytes: frame.clamp(MIN_FRAME_BYTES, MAX_FRAME_BYTES_LIMIT),
            max_connections: t.max_connections.into_inner().max(1),
            read_buffer_bytes: t.read_buffer_bytes.into_inner().max(1),
        })
    }

    pub(super) fn feedback(&mut self, f: raw::RawFeedback) -> FeedbackSettings {
        FeedbackSettings {
            mqtt_replies: f.mqtt_replies,
            min_interval: Duration::from_secs(f.min_interval_secs.into_inner()),
        }
    }

    pub(super) fn allowed_sources(
        &mut self,
        sources: &[Spanned<String>],
        key: &str,
    ) -> Vec<SourceNet> {
        let mut nets = Vec::with_capacity(sources.len());
        for (i, source) in sources.iter().enumerate() {
            match SourceNet::parse(source.get_ref()) {
                Some(net) => nets.push(net),
                None => self.err(
                    source,
                    format!("{key}.allowed_sources[{i}]"),
                    format!(
                        "{:?} is not an address or network like 192.0.2.7 or 192.0.2.0/24",
                        source.get_ref()
                    ),
                ),
            }
        }
        nets
    }
}
