//! Validation: a spooled [`Message`] -> rows for QuestDB, inputs for the rule engine, HJ 212
//! replies, and a quarantine row for everything rejected.
//!
//! Checks against the registry: the topic's grammar, the device is registered, to the topic's
//! site; each metric belongs to the device's kind and is inside its physical range; the
//! timestamp is inside the window (not more than `max_future_secs` ahead of, nor
//! `max_age_secs` behind, the message's receive time, and storable) for telemetry, events and
//! status alike; a time ahead of the window is a clock fault at the receive time. Rejection is as fine-grained as the
//! payload allows: a message, an object of an array, an HJ 212 frame, or one value.
//!
//! Pure apart from its own small state (maintenance windows, HJ 212 split packets): the same
//! messages in the same order always give the same output.

use std::collections::HashSet;

use alerting::model::{DataFlag, DeviceKind, Id, Metric, Timestamp};
use alerting::{Input, Readings};

use crate::config::{DeviceEntry, Limits, Registry};
use crate::decode::{json, MetricRef, Sample};
use crate::message::Message;
use crate::reject::{Reason, Rejection};
use crate::sink::rows::{EventRow, QuarantineRow, ReadingRow, Row, Source, StatusRow};
use crate::topic::{Channel, Topic};

/// The latest time a row can carry with every ILP protocol version: version 1 sends
/// nanoseconds, so a time must fit in `i64` nanoseconds (until 2262-04-11).
pub const MAX_STORABLE_TS: Timestamp = Timestamp(i64::MAX / 1_000);

/// Whether `ts` can be a row's timestamp: ILP refuses times before the epoch and (version 1)
/// after [`MAX_STORABLE_TS`]. Every time validation hands on is storable, so no rule state
/// starts at a time its `alerts` row could not be written with (tested against the encoder).
pub const fn is_storable(ts: Timestamp) -> bool {
    ts.0 >= 0 && ts.0 <= MAX_STORABLE_TS.0
}

/// What one message produced.
#[derive(Debug, Default)]
pub struct Processed {
    pub rows: Vec<Row>,
    /// Inputs for the rule engine, in payload order: accepted readings, sensor and clock
    /// faults (from rejected values), maintenance windows, status; last, for a message from a
    /// registered device on a data channel, [`Input::Heard`] at its receive time.
    pub inputs: Vec<Input>,
    /// Values accepted as readings.
    pub readings: usize,
    /// HJ 212 replies to publish: (topic, payload).
    pub replies: Vec<(String, String)>,
    /// Rejections by reason (also present as quarantine rows).
    pub rejected: Vec<Reason>,
}

/// Decodes telemetry payloads without the validator's state, so that the drain can decode
/// the next records on another thread while the validator and the rules judge these (JSON
/// decoding was a third of the drain's work in arrays of 100 readings).
#[derive(Debug, Clone)]
pub struct AheadDecoder {
    prefix: String,
    max_payload_bytes: usize,
    max_array_objects: usize,
}

/// A telemetry payload decoded by [`AheadDecoder::decode`].
#[derive(Debug)]
pub struct DecodedAhead(Result<Vec<json::ObjectResult<Sample>>, Rejection>);

impl AheadDecoder {
    /// The decoded payload of a telemetry message, as [`Validator::process_spooled`] would
    /// decode it; `None` for the other channels and for messages the validator refuses
    /// before decoding (bad topic, empty, oversize or not UTF-8 payload).
    pub fn decode(&self, msg: &Message) -> Option<DecodedAhead> {
        let topic = Topic::parse(&self.prefix, &msg.topic).ok()?;
        if topic.channel != Channel::Telemetry {
            return None;
        }
        let text = payload_text(msg, self.max_payload_bytes).ok()?;
        Some(DecodedAhead(json::telemetry(text, self.max_array_objects)))
    }
}

/// The payload as text, if it is one the validator goes on with: not empty, at most
/// `max_payload_bytes`, UTF-8 (every channel's payload is).
fn payload_text(msg: &Message, max_payload_bytes: usize) -> Result<&str, Rejection> {
    let len = msg.payload.len();
    if len == 0 {
        return Err(Rejection::new(Reason::EmptyPayload, "the payload is empty"));
    }
    if len > max_payload_bytes {
        return Err(Rejection::new(
            Reason::OversizePayload,
            format!("{len} bytes; the limit is {max_payload_bytes}"),
        ));
    }
    std::str::from_utf8(&msg.payload).map_err(|e| {
        Rejection::new(
            Reason::InvalidUtf8,
            format!("invalid UTF-8 at byte {}", e.valid_up_to()),
        )
    })
}

/// The validation stage, with its small per-device state.
#[derive(Debug)]
pub struct Validator {
    registry: std::sync::Arc<Registry>,
    limits: Limits,
    prefix: String,
    /// Water monitors currently in a `maintenance` window: their JSON values are flagged `M`.
    in_maintenance: HashSet<Id>,
    hj212: hj212::Hj212State,
    /// Split sets of devices a reloaded registry removed, quarantined at the next expiry.
    dropped_splits: Vec<(Id, Id, crate::decode::hj212::ExpiredSet)>,
}

impl Validator {
    pub fn new(registry: std::sync::Arc<Registry>, limits: Limits, prefix: &str) -> Self {
        Self {
            registry,
            limits,
            prefix: prefix.trim_end_matches('/').to_string(),
            in_maintenance: HashSet::new(),
            hj212: hj212::Hj212State::new(limits.hj212_split_timeout_secs),
            dropped_splits: Vec::new(),
        }
    }

    /// Judges the next messages by `registry` (a reloaded configuration). The per-device state
    /// of devices it no longer has is forgotten.
    pub fn set_registry(&mut self, registry: std::sync::Arc<Registry>) {
        self.in_maintenance
            .retain(|device| registry.device(device).is_some());
        let dropped = self
            .hj212
            .retain(|id| registry.device(id).map(hj212::profile_of));
        self.dropped_splits.extend(dropped);
        self.registry = registry;
    }

    /// Validates one message that was not read from the spool (tools, tests): its
    /// quarantine rows carry `message_seq` 0.
    pub fn process(&mut self, msg: &Message) -> Processed {
        self.process_spooled(0, msg)
    }

    /// Validates the message the spool holds at sequence number `seq`, its identity: the
    /// quarantine rows of two messages never merge, and a replayed one replaces itself.
    pub fn process_spooled(&mut self, seq: u64, msg: &Message) -> Processed {
        self.process_decoded(seq, msg, None)
    }

    /// What decodes payloads for this validator ahead of it, on another thread.
    pub fn decoder(&self) -> AheadDecoder {
        AheadDecoder {
            prefix: self.prefix.clone(),
            max_payload_bytes: self.limits.max_payload_bytes,
            max_array_objects: self.limits.max_array_objects,
        }
    }

    /// [`Validator::process_spooled`] with the payload already decoded by
    /// [`AheadDecoder::decode`] (the same result as decoding it here).
    pub fn process_decoded(
        &mut self,
        seq: u64,
        msg: &Message,
        ahead: Option<DecodedAhead>,
    ) -> Processed {
        let mut out = Processed::default();
        let mut q = Quarantine {
            msg,
            seq,
            site: None,
            device: None,
            item: 0,
        };
        let topic = match Topic::parse(&self.prefix, &msg.topic) {
            Ok(t) => t,
            Err(rejection) => {
                q.reject(&mut out, rejection, &msg.payload);
                return out;
            }
        };
        q.site = Some(topic.site);
        q.device = Some(topic.device);
        let text = match &ahead {
            // Its payload passed `payload_text` on the decoder's thread (the same limits), and
            // its text is decoded already: not scanned again here.
            Some(_) => "",
            None => match payload_text(msg, self.limits.max_payload_bytes) {
                Ok(text) => text,
                Err(rejection) => {
                    q.reject(&mut out, rejection, &msg.payload);
                    return out;
                }
            },
        };
        let registry = self.registry.clone();
        let device = match registry.device(topic.device) {
            None => {
                let r = Rejection::new(
                    Reason::UnknownDevice,
                    format!("device {:?} is not registered", topic.device),
                );
                q.reject(&mut out, r, &msg.payload);
                return out;
            }
            Some(d) if &*d.site != topic.site => {
                let r = Rejection::new(
                    Reason::SiteMismatch,
                    format!(
                        "device {:?} is registered to site {:?}, not {:?}",
                        topic.device, &*d.site, topic.site
                    ),
                );
                q.reject(&mut out, r, &msg.payload);
                return out;
            }
            Some(d) => d,
        };
        match topic.channel {
            Channel::Telemetry => match ahead.map_or_else(
                || json::telemetry(text, self.limits.max_array_objects),
                |DecodedAhead(telemetry)| telemetry,
            ) {
                Ok(objects) => {
                    // Sized once: an array of 100 readings grows these by doubling otherwise
                    // (in a profile of arrays of 100, those doublings were a sixth of the copying).
                    // One rule input per object (its values together) and `Heard`.
                    out.inputs.reserve(objects.len() + 1);
                    out.rows.reserve(objects.len());
                    for object in objects {
                        match object {
                            Ok(sample) => {
                                self.sample(&mut out, &mut q, device, sample, Source::Json)
                            }
                            Err(bad) => q.reject(&mut out, bad.rejection, bad.raw.as_bytes()),
                        }
                    }
                }
                Err(r) => q.reject(&mut out, r, &msg.payload),
            },
            Channel::Event => match json::events(text, self.limits.max_array_objects) {
                Ok(objects) => {
                    for object in objects {
                        match object {
                            Ok(event) => self.event(&mut out, &mut q, device, event),
                            Err(bad) => q.reject(&mut out, bad.rejection, bad.raw.as_bytes()),
                        }
                    }
                }
                Err(r) => q.reject(&mut out, r, &msg.payload),
            },
            Channel::Status => match json::status(text) {
                Ok(status) => {
                    // Like telemetry: a status time outside the window never reaches the
                    // rules (it would start or end the last-will inhibition at that time).
                    if let Err(r) = self.check_window(&mut out, device, status.ts, msg.received_at)
                    {
                        q.reject(&mut out, r, &msg.payload);
                        return out;
                    }
                    out.rows.push(Row::Status(StatusRow {
                        ts: status.ts,
                        received_at: msg.received_at,
                        site: device.site.clone(),
                        device: device.id.clone(),
                        online: status.online,
                    }));
                    out.inputs.push(Input::Status {
                        site: device.site.clone(),
                        device: device.id.clone(),
                        ts: status.ts,
                        online: status.online,
                    });
                }
                Err(r) => q.reject(&mut out, r, &msg.payload),
            },
            Channel::Hj212 => {
                let decoded = self
                    .hj212
                    .decode(device, seq, &msg.payload, msg.received_at);
                for (rejection, raw) in decoded.rejections {
                    q.reject(&mut out, rejection, &raw);
                }
                for set in decoded.expired {
                    self.expired_split(&mut out, &device.site, &device.id, set);
                }
                for sample in decoded.samples {
                    self.sample(&mut out, &mut q, device, sample, Source::Hj212);
                }
                let ack_topic = format!("{}/ack", msg.topic);
                out.replies
                    .extend(decoded.replies.into_iter().map(|r| (ack_topic.clone(), r)));
            }
        }
        // G1: the device is talking now, whatever the event times of what it sent (a gateway
        // uploading a backlog). Not for status: the broker publishes last wills for the device.
        if topic.channel != Channel::Status {
            out.inputs.push(Input::Heard {
                site: device.site.clone(),
                device: device.id.clone(),
                ts: msg.received_at,
            });
        }
        out
    }

    /// Quarantines the HJ 212 split sets that waited `limits.hj212_split_timeout_secs` by `now`
    /// (the drain calls this on every pass, so a set expires without further traffic), and
    /// those of devices a reload removed.
    pub fn expire_splits(&mut self, now: Timestamp) -> Processed {
        let mut out = Processed::default();
        let mut expired = std::mem::take(&mut self.dropped_splits);
        expired.extend(self.hj212.expire(now));
        for (site, device, set) in expired {
            self.expired_split(&mut out, &site, &device, set);
        }
        out
    }

    /// The spool record the oldest incomplete HJ 212 split set began in: the drain commits
    /// the spool only before it, so the set's parts are read again after a restart.
    pub fn oldest_pending_split(&self) -> Option<u64> {
        self.hj212.oldest_pending()
    }

    /// The quarantine row of an expired split set, under the record of its first part (so it
    /// is the same row whenever the set expires, and a replay replaces it).
    fn expired_split(
        &self,
        out: &mut Processed,
        site: &Id,
        device: &Id,
        set: crate::decode::hj212::ExpiredSet,
    ) {
        out.rejected.push(set.rejection.rejection.reason);
        let item = u32::MAX - u32::from(crate::decode::hj212::crc16(set.set.as_bytes()));
        out.rows.push(Row::Quarantine(QuarantineRow {
            received_at: set.first_seen,
            message_seq: set.first_tag,
            topic: format!("{}/{site}/{device}/hj212", self.prefix),
            site: Some(site.to_string()),
            device: Some(device.to_string()),
            reason: set.rejection.rejection.reason,
            item,
            detail: set.rejection.rejection.detail,
            payload: crate::decode::hj212::redact_password(&set.rejection.raw).into_owned(),
        }));
    }

    /// Checks a device time against the window: a time ahead of it is also a clock fault
    /// (G4), reported at the receive time, never at the device's time (which may be anything,
    /// e.g. `i64::MAX`, and must not become an alert's start).
    fn check_window(
        &self,
        out: &mut Processed,
        device: &DeviceEntry,
        ts: Timestamp,
        received_at: Timestamp,
    ) -> Result<(), Rejection> {
        let checked = self.check_time(ts, received_at);
        if let Err(r) = &checked {
            if r.reason == Reason::FutureTimestamp {
                out.inputs.push(Input::ClockFault {
                    site: device.site.clone(),
                    device: device.id.clone(),
                    ts: received_at,
                    detail: r.detail.clone(),
                });
            }
        }
        checked
    }

    /// Checks `ts` against the window around the receive time, and against the range the
    /// store can hold (a generous `max_age_secs` must not let 1969 in).
    fn check_time(&self, ts: Timestamp, received_at: Timestamp) -> Result<(), Rejection> {
        let ahead = ts.secs_since(received_at);
        if ahead > self.limits.max_future_secs {
            return Err(Rejection::new(
                Reason::FutureTimestamp,
                format!(
                    "ts {ts} is {ahead} s ahead of the receive time {received_at} (limit {} s)",
                    self.limits.max_future_secs
                ),
            ));
        }
        let behind = received_at.secs_since(ts);
        if behind > self.limits.max_age_secs {
            return Err(Rejection::new(
                Reason::StaleTimestamp,
                format!(
                    "ts {ts} is {behind} s older than the receive time (backfill window {} s)",
                    self.limits.max_age_secs
                ),
            ));
        }
        if !is_storable(ts) {
            return Err(Rejection::new(
                Reason::BadTimestamp,
                format!(
                    "ts {} µs since the epoch is outside the range the store can hold",
                    ts.0
                ),
            ));
        }
        Ok(())
    }

    fn sample(
        &mut self,
        out: &mut Processed,
        q: &mut Quarantine<'_>,
        device: &DeviceEntry,
        sample: Sample,
        source: Source,
    ) {
        let ts = sample.ts;
        let raw = |values: &[(String, f64)]| -> String {
            let values: serde_json::Map<String, serde_json::Value> = values
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::json!(v)))
                .collect();
            serde_json::json!({ "ts": ts.to_string(), "values": values }).to_string()
        };
        if let Err(r) = self.check_window(out, device, sample.ts, q.msg.received_at) {
            let all: Vec<(String, f64)> = sample
                .values
                .iter()
                .map(|v| (v.metric.name().to_string(), v.value))
                .collect();
            q.reject(out, r, raw(&all).as_bytes());
            return;
        }
        // Usually no window is open: no hashing then.
        let maintenance =
            !self.in_maintenance.is_empty() && self.in_maintenance.contains(&device.id);
        let mut values = Vec::with_capacity(sample.values.len());
        // The values not yet given to the rules: one input for a run of good values, so a
        // sensor fault between two of them keeps its place in the order.
        let mut given = 0;
        let give = |out: &mut Processed, values: &[(Metric, f64, DataFlag)]| {
            if !values.is_empty() {
                out.inputs.push(Input::Readings(Readings {
                    site: device.site.clone(),
                    device: device.id.clone(),
                    ts: sample.ts,
                    period: sample.period,
                    stat: sample.stat,
                    seq: sample.seq,
                    values: values.to_vec(),
                }));
            }
        };
        for v in sample.values {
            let metric = match v.metric {
                MetricRef::Known(m) if m.belongs_to(device.kind) => m,
                other => {
                    let r = Rejection::new(
                        Reason::UnknownMetric,
                        format!("{:?} is not a {} metric", other.name(), device.kind),
                    );
                    q.reject(
                        out,
                        r,
                        raw(&[(other.name().to_string(), v.value)]).as_bytes(),
                    );
                    continue;
                }
            };
            let (lo, hi) = metric.physical_range();
            if !(lo..=hi).contains(&v.value) {
                give(out, &values[given..]);
                given = values.len();
                out.inputs.push(Input::SensorFault {
                    site: device.site.clone(),
                    device: device.id.clone(),
                    ts: sample.ts,
                    metric,
                    value: v.value,
                });
                let r = Rejection::new(
                    Reason::OutOfRange,
                    format!(
                        "{metric} = {} is outside its physical range {lo}..{hi} (sensor fault)",
                        v.value
                    ),
                );
                q.reject(
                    out,
                    r,
                    raw(&[(metric.name().to_string(), v.value)]).as_bytes(),
                );
                continue;
            }
            let flag = if maintenance && v.flag == DataFlag::N && source == Source::Json {
                DataFlag::M
            } else {
                v.flag
            };
            out.readings += 1;
            values.push((metric, v.value, flag));
        }
        give(out, &values[given..]);
        if values.is_empty() {
            return;
        }
        out.rows.push(Row::Reading(ReadingRow {
            kind: device.kind,
            ts: sample.ts,
            received_at: q.msg.received_at,
            site: device.site.clone(),
            device: device.id.clone(),
            source,
            period: sample.period,
            stat: sample.stat,
            seq: sample.seq,
            cycle_id: sample
                .cycle_id
                .filter(|_| device.kind == DeviceKind::Autoclave),
            values,
        }));
    }

    fn event(
        &mut self,
        out: &mut Processed,
        q: &mut Quarantine<'_>,
        device: &DeviceEntry,
        event: json::Event,
    ) {
        if !event.kind.belongs_to(device.kind) {
            let r = Rejection::new(
                Reason::UnknownEventType,
                format!(
                    "a {} does not send {} events",
                    device.kind,
                    event.kind.as_str()
                ),
            );
            q.reject(out, r, event.raw.as_bytes());
            return;
        }
        if let Err(r) = self.check_window(out, device, event.ts, q.msg.received_at) {
            q.reject(out, r, event.raw.as_bytes());
            return;
        }
        let (site, dev) = (device.site.clone(), device.id.clone());
        // Waste events feed the store's ledger (M1-M7) and the traceability table; autoclave
        // events feed the cycle verdicts and S1-S6.
        let waste = waste::waste_event(&site, &dev, &event);
        if let Some(input) = sterilizer::input(&site, &dev, &event) {
            out.inputs.push(input);
        }
        if let json::EventKind::Maintenance { active, reason } = &event.kind {
            if *active {
                self.in_maintenance.insert(dev.clone());
            } else {
                self.in_maintenance.remove(&dev);
            }
            out.inputs.push(Input::Maintenance {
                site: site.clone(),
                device: dev.clone(),
                ts: event.ts,
                active: *active,
                reason: reason.clone(),
            });
        }
        out.rows.push(Row::Event(EventRow {
            ts: event.ts,
            received_at: q.msg.received_at,
            site,
            device: dev,
            event_type: event.kind.as_str(),
            reference: event.reference,
            data: event.raw,
        }));
        if let Some((input, rows)) = waste {
            out.inputs.push(input);
            out.rows.extend(rows);
        }
    }
}

/// Builds the quarantine rows of one message, numbering them.
struct Quarantine<'m> {
    msg: &'m Message,
    /// The message's spool sequence number.
    seq: u64,
    /// From the topic, copied only into a quarantine row (most messages have none).
    site: Option<&'m str>,
    device: Option<&'m str>,
    item: u32,
}

impl Quarantine<'_> {
    fn reject(&mut self, out: &mut Processed, rejection: Rejection, raw: &[u8]) {
        out.rejected.push(rejection.reason);
        out.rows.push(Row::Quarantine(QuarantineRow {
            received_at: self.msg.received_at,
            message_seq: self.seq,
            topic: self.msg.topic.clone(),
            site: self.site.map(str::to_owned),
            device: self.device.map(str::to_owned),
            reason: rejection.reason,
            item: self.item,
            detail: rejection.detail,
            // An HJ 212 frame's access password is a device credential: never stored.
            payload: crate::decode::hj212::redact_password(raw).into_owned(),
        }));
        self.item += 1;
    }
}

mod hj212;
mod sterilizer;
mod waste;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod window_tests;
