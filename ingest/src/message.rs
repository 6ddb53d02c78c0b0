//! A received MQTT message as it is stored in the spool: receive time, QoS, topic, payload.
//!
//! The spool keeps messages raw, before decoding: the acknowledgement path does no parsing,
//! and decoding later is deterministic because validation judges timestamps against the stored
//! receive time, not the clock at replay.
//!
//! Record layout (little endian): `version u8 = 1 | received_at i64 (µs) | qos u8 |
//! topic_len u16 | topic | payload`.
//!
//! An HJ 212 frame received by the TCP listener is stored the same way, under its device's
//! topic `{prefix}/{site}/{device}/hj212`, with the `qos` byte set to [`ORIGIN_HJ212_TCP`]
//! (no MQTT QoS has that bit): the drain decodes and validates it like an MQTT message and
//! does not publish its 9014 on MQTT, since the listener answered it on the connection.

use alerting::model::Timestamp;

/// One message from the broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub received_at: Timestamp,
    pub qos: u8,
    pub topic: String,
    pub payload: Vec<u8>,
}

/// Why a spool record is not a message (only a bug or a foreign file can cause this: records
/// are checksummed by the spool).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("spool record is {0} bytes, shorter than a message header")]
    Short(usize),
    #[error("spool record version {0} is not 1")]
    Version(u8),
    #[error("spool record topic is not UTF-8")]
    Topic,
}

const HEADER: usize = 1 + 8 + 1 + 2;

/// The `qos` byte of a frame that came over the HJ 212 TCP listener (MQTT QoS is 0..=2).
pub const ORIGIN_HJ212_TCP: u8 = 0x80;

/// Serializes a message for the spool straight from its parts (the MQTT source uses this so a
/// payload is copied once, into the record).
pub fn encode_record(received_at: Timestamp, qos: u8, topic: &str, payload: &[u8]) -> Vec<u8> {
    let topic = topic.as_bytes();
    let topic_len = u16::try_from(topic.len()).unwrap_or(u16::MAX);
    let topic = &topic[..usize::from(topic_len)];
    let mut out = Vec::with_capacity(HEADER + topic.len() + payload.len());
    out.push(1);
    out.extend_from_slice(&received_at.0.to_le_bytes());
    out.push(qos);
    out.extend_from_slice(&topic_len.to_le_bytes());
    out.extend_from_slice(topic);
    out.extend_from_slice(payload);
    out
}

impl Message {
    /// Whether the message is an HJ 212 frame received over TCP (already answered there).
    pub fn from_hj212_tcp(&self) -> bool {
        self.qos & ORIGIN_HJ212_TCP != 0
    }

    /// Serializes for the spool.
    pub fn encode(&self) -> Vec<u8> {
        encode_record(self.received_at, self.qos, &self.topic, &self.payload)
    }

    /// Parses a spool record.
    ///
    /// # Errors
    /// When the record is not a version-1 message.
    pub fn decode(record: &[u8]) -> Result<Message, RecordError> {
        let short = || RecordError::Short(record.len());
        let header = record.get(..HEADER).ok_or_else(short)?;
        if header[0] != 1 {
            return Err(RecordError::Version(header[0]));
        }
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&header[1..9]);
        let qos = header[9];
        let topic_len = usize::from(u16::from_le_bytes([header[10], header[11]]));
        let topic = record.get(HEADER..HEADER + topic_len).ok_or_else(short)?;
        let topic = std::str::from_utf8(topic).map_err(|_| RecordError::Topic)?;
        Ok(Message {
            received_at: Timestamp(i64::from_le_bytes(ts)),
            qos,
            topic: topic.to_string(),
            payload: record
                .get(HEADER + topic_len..)
                .unwrap_or_default()
                .to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_through_the_record_format() {
        let m = Message {
            received_at: Timestamp(-5),
            qos: 1,
            topic: "weijian/v1/s/d/telemetry".into(),
            payload: vec![0, 1, 2, 255],
        };
        assert_eq!(Message::decode(&m.encode()).unwrap(), m);
    }

    #[test]
    fn short_or_foreign_records_are_errors_not_panics() {
        assert_eq!(Message::decode(&[1, 2]), Err(RecordError::Short(2)));
        assert_eq!(Message::decode(&[9; 20]), Err(RecordError::Version(9)));
        let mut r = Message {
            received_at: Timestamp(0),
            qos: 0,
            topic: "abc".into(),
            payload: vec![],
        }
        .encode();
        r.truncate(13);
        assert_eq!(Message::decode(&r), Err(RecordError::Short(13)));
    }
}
