//! Why a message, frame or value was not accepted, with a stable reason code.
//!
//! Every rejection is quarantined (stored with its reason and raw bytes in the `quarantine`
//! table) and the message is acknowledged, so poison input never stalls the subscription.
//! The codes are part of the operator contract: they appear as the `reason` column, as the
//! `reason` label of `weijian_rejected_total`, and in docs/payload-contract.md. Never rename one.

use std::fmt;

/// A stable rejection reason. `code()` is the public name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    /// The topic does not match `{prefix}/{site}/{device}/{telemetry|event|hj212|status}` or an
    /// id has characters outside `[A-Za-z0-9_-]{1,64}`.
    BadTopic,
    /// The payload is empty.
    EmptyPayload,
    /// The payload exceeds the configured size limit.
    OversizePayload,
    /// The payload is not valid UTF-8.
    InvalidUtf8,
    /// The payload is not JSON, or not the JSON shape of its topic.
    MalformedJson,
    /// A field has the wrong type or an impossible value (e.g. `values` not an object).
    WrongType,
    /// A required field is missing (`ts`, `values`, `type`, ...).
    MissingField,
    /// An array holds more objects than the configured limit.
    TooManyObjects,
    /// The device in the topic is not registered.
    UnknownDevice,
    /// The device is registered to another site than the topic's.
    SiteMismatch,
    /// The metric is not in the catalogue for the device's kind.
    UnknownMetric,
    /// The value is outside the metric's physical range (a sensor fault).
    OutOfRange,
    /// One object (or HJ 212 frame) gives the same metric more than once, e.g.
    /// `{"ph":7.0,"ph":9.9}` or `w01001-Rtd` twice: which value is meant cannot be known.
    DuplicateMetric,
    /// The timestamp is further in the future than the allowed clock drift.
    FutureTimestamp,
    /// The timestamp is older than the backfill window.
    StaleTimestamp,
    /// The timestamp cannot be parsed.
    BadTimestamp,
    /// The event type is unknown for the device's kind.
    UnknownEventType,
    /// HJ 212: the CRC does not match the data segment.
    Hj212BadCrc,
    /// HJ 212: the length field does not match the data segment.
    Hj212BadLength,
    /// HJ 212: the frame does not follow the grammar (header, fields, CP).
    Hj212Malformed,
    /// HJ 212: the frame's MN is not registered to the topic's device.
    Hj212UnknownMn,
    /// HJ 212: the frame's PW does not match the configured password.
    Hj212BadPassword,
    /// HJ 212: a value cannot be parsed as a number.
    Hj212BadValue,
    /// HJ 212: a data frame has no (parseable) `DataTime`.
    Hj212MissingDataTime,
    /// HJ 212: a split packet (PNUM/PNO) was not completed in time.
    Hj212SplitTimeout,
    /// QuestDB refused a row weijian built (HTTP 400, e.g. a column an operator changed to
    /// another type, or 413 for a row larger than it accepts); the detail is QuestDB's message
    /// and the payload the row. Every other row of its batch was written.
    StoreRejected,
}

impl Reason {
    pub const ALL: [Reason; 26] = [
        Self::BadTopic,
        Self::EmptyPayload,
        Self::OversizePayload,
        Self::InvalidUtf8,
        Self::MalformedJson,
        Self::WrongType,
        Self::MissingField,
        Self::TooManyObjects,
        Self::UnknownDevice,
        Self::SiteMismatch,
        Self::UnknownMetric,
        Self::OutOfRange,
        Self::DuplicateMetric,
        Self::FutureTimestamp,
        Self::StaleTimestamp,
        Self::BadTimestamp,
        Self::UnknownEventType,
        Self::Hj212BadCrc,
        Self::Hj212BadLength,
        Self::Hj212Malformed,
        Self::Hj212UnknownMn,
        Self::Hj212BadPassword,
        Self::Hj212BadValue,
        Self::Hj212MissingDataTime,
        Self::Hj212SplitTimeout,
        Self::StoreRejected,
    ];

    /// The stable code: a metric label, a QuestDB symbol, a word in docs/payload-contract.md.
    pub const fn code(self) -> &'static str {
        match self {
            Self::BadTopic => "bad_topic",
            Self::EmptyPayload => "empty_payload",
            Self::OversizePayload => "oversize_payload",
            Self::InvalidUtf8 => "invalid_utf8",
            Self::MalformedJson => "malformed_json",
            Self::WrongType => "wrong_type",
            Self::MissingField => "missing_field",
            Self::TooManyObjects => "too_many_objects",
            Self::UnknownDevice => "unknown_device",
            Self::SiteMismatch => "site_mismatch",
            Self::UnknownMetric => "unknown_metric",
            Self::OutOfRange => "out_of_range",
            Self::DuplicateMetric => "duplicate_metric",
            Self::FutureTimestamp => "future_timestamp",
            Self::StaleTimestamp => "stale_timestamp",
            Self::BadTimestamp => "bad_timestamp",
            Self::UnknownEventType => "unknown_event_type",
            Self::Hj212BadCrc => "hj212_bad_crc",
            Self::Hj212BadLength => "hj212_bad_length",
            Self::Hj212Malformed => "hj212_malformed",
            Self::Hj212UnknownMn => "hj212_unknown_mn",
            Self::Hj212BadPassword => "hj212_bad_password",
            Self::Hj212BadValue => "hj212_bad_value",
            Self::Hj212MissingDataTime => "hj212_missing_datatime",
            Self::Hj212SplitTimeout => "hj212_split_timeout",
            Self::StoreRejected => "store_rejected",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A rejection: the reason and a human-readable detail (what, where, why).
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    pub reason: Reason,
    pub detail: String,
}

impl Rejection {
    pub fn new(reason: Reason, detail: impl Into<String>) -> Self {
        Self {
            reason,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.reason, self.detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn reason_codes_are_unique_snake_case() {
        let codes: HashSet<_> = Reason::ALL.iter().map(|r| r.code()).collect();
        assert_eq!(codes.len(), Reason::ALL.len());
        for c in codes {
            assert!(
                c.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{c}"
            );
        }
    }
}
