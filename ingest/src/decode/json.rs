//! JSON payloads (docs/payload-contract.md): telemetry, events and status, each a single
//! object or (telemetry, events) an array of objects.
//!
//! Decoding is per object: one bad object in a gateway's 10 000-object flush is rejected
//! alone, with its own raw text, and the others go on. Telemetry is deserialized straight into
//! [`Sample`]s from borrowed input (no intermediate `Value` tree): this is the hot path.

use std::borrow::Cow;
use std::fmt;

use alerting::model::{DataFlag, Metric, Period, Stat, Timestamp};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

/// RFC 3339 with a mandatory offset -> UTC microseconds.
pub use super::rfc3339::parse_rfc3339;
use super::{MetricRef, Sample, SampleValue};
use crate::reject::{Reason, Rejection};

/// A decoded object, or why it was rejected together with its raw text.
pub type ObjectResult<T> = Result<T, RejectedObject>;

/// A rejected object of a payload, with its raw JSON text for the quarantine.
#[derive(Debug, Clone, PartialEq)]
pub struct RejectedObject {
    pub rejection: Rejection,
    pub raw: String,
}

/// A discrete event (docs/payload-contract.md, events).
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub ts: Timestamp,
    pub kind: EventKind,
    /// The id the event is about (bag, manifest, cycle, BI), part of its identity for
    /// idempotent storage.
    pub reference: Option<String>,
    /// The object as received, stored verbatim.
    pub raw: String,
}

/// Event types of the contract, with the fields rules need.
#[derive(Debug, Clone, PartialEq)]
pub enum EventKind {
    BagIn,
    Handover,
    Disinfection,
    CycleStart,
    CycleEnd,
    BdResult,
    BiResult,
    /// Water monitor maintenance window: `active` = state `start`.
    Maintenance {
        active: bool,
        reason: String,
    },
}

impl EventKind {
    pub const fn as_str(&self) -> &'static str {
        match self {
            Self::BagIn => "bag_in",
            Self::Handover => "handover",
            Self::Disinfection => "disinfection",
            Self::CycleStart => "cycle_start",
            Self::CycleEnd => "cycle_end",
            Self::BdResult => "bd_result",
            Self::BiResult => "bi_result",
            Self::Maintenance { .. } => "maintenance",
        }
    }

    /// Whether `kind` devices send this event type.
    pub const fn belongs_to(&self, kind: alerting::model::DeviceKind) -> bool {
        use alerting::model::DeviceKind as K;
        matches!(
            (kind, self),
            (
                K::WasteStore,
                Self::BagIn | Self::Handover | Self::Disinfection
            ) | (
                K::Autoclave,
                Self::CycleStart | Self::CycleEnd | Self::BdResult | Self::BiResult
            ) | (K::WaterMonitor, Self::Maintenance { .. })
        )
    }
}

/// A retained birth / last-will message.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Status {
    pub online: bool,
    pub ts: Timestamp,
}

fn classify(error: &serde_json::Error) -> Reason {
    use serde_json::error::Category;
    match error.classify() {
        Category::Syntax | Category::Eof | Category::Io => Reason::MalformedJson,
        Category::Data if error.to_string().starts_with("missing field") => Reason::MissingField,
        Category::Data => Reason::WrongType,
    }
}

fn reject(error: &serde_json::Error, raw: &str) -> RejectedObject {
    let reason = classify(error);
    RejectedObject {
        rejection: Rejection::new(reason, error.to_string()),
        raw: raw.to_string(),
    }
}

/// Splits a payload into its objects: `[...]` -> elements, `{...}` -> itself.
///
/// # Errors
/// `malformed_json` when it is neither, `too_many_objects` above `max_objects`.
fn objects(text: &str, max_objects: usize) -> Result<Vec<&RawValue>, Rejection> {
    match text.trim_start().as_bytes().first() {
        Some(b'[') => {
            let items: Vec<&RawValue> = serde_json::from_str(text)
                .map_err(|e| Rejection::new(Reason::MalformedJson, e.to_string()))?;
            if items.is_empty() {
                return Err(Rejection::new(
                    Reason::MissingField,
                    "the array holds no object",
                ));
            }
            if items.len() > max_objects {
                return Err(Rejection::new(
                    Reason::TooManyObjects,
                    format!(
                        "{} objects in one array; the limit is {max_objects}",
                        items.len()
                    ),
                ));
            }
            Ok(items)
        }
        Some(b'{') => {
            let one: &RawValue = serde_json::from_str(text)
                .map_err(|e| Rejection::new(Reason::MalformedJson, e.to_string()))?;
            Ok(vec![one])
        }
        _ => Err(Rejection::new(
            Reason::MalformedJson,
            "a payload must be a JSON object or an array of objects",
        )),
    }
}

/// Decodes a telemetry payload.
///
/// # Errors
/// A whole-payload rejection (not JSON, too many objects); per-object problems come back
/// inside the vector.
pub fn telemetry(text: &str, max_objects: usize) -> Result<Vec<ObjectResult<Sample>>, Rejection> {
    if let Some(samples) = super::scan::telemetry(text, max_objects)
        .or_else(|| telemetry_in_one_pass(text, max_objects))
    {
        return Ok(samples.into_iter().map(Ok).collect());
    }
    telemetry_per_object(text, max_objects)
}

/// Decodes a telemetry payload object by object: one bad object is rejected alone.
fn telemetry_per_object(
    text: &str,
    max_objects: usize,
) -> Result<Vec<ObjectResult<Sample>>, Rejection> {
    Ok(objects(text, max_objects)?
        .into_iter()
        .map(|raw| {
            serde_json::from_str::<WireTelemetry>(raw.get())
                .map_err(|e| reject(&e, raw.get()))
                .and_then(|t| t.into_sample(raw.get()))
        })
        .collect())
}

/// The usual payload, every object good, decoded in one pass; `None` when anything would be
/// rejected (not JSON, too many objects, a bad object), which the per-object path then decodes
/// and judges object by object. Both paths give the same samples for a good payload; this one
/// does not read the array twice (once to split it, once per object).
pub(super) fn telemetry_in_one_pass(text: &str, max_objects: usize) -> Option<Vec<Sample>> {
    let good = |t: WireTelemetry<'_>| {
        (t.values.duplicate.is_none() && !t.values.values.is_empty()).then(|| t.into_sample(""))
    };
    match text.trim_start().as_bytes().first() {
        Some(b'[') => {
            let items: Vec<WireTelemetry<'_>> = serde_json::from_str(text).ok()?;
            if items.is_empty() || items.len() > max_objects {
                return None;
            }
            items
                .into_iter()
                .map(|t| good(t)?.ok())
                .collect::<Option<Vec<Sample>>>()
        }
        Some(b'{') => {
            let one: WireTelemetry<'_> = serde_json::from_str(text).ok()?;
            Some(vec![good(one)?.ok()?])
        }
        _ => None,
    }
}

/// Decodes an event payload.
///
/// # Errors
/// As [`telemetry`].
pub fn events(text: &str, max_objects: usize) -> Result<Vec<ObjectResult<Event>>, Rejection> {
    Ok(objects(text, max_objects)?
        .into_iter()
        .map(|raw| event(raw.get()))
        .collect())
}

/// Decodes a status payload `{"online": bool, "ts": ...}`.
///
/// # Errors
/// Why it is not one.
pub fn status(text: &str) -> Result<Status, Rejection> {
    #[derive(Deserialize)]
    struct Wire {
        online: bool,
        ts: WireTs,
    }
    let w: Wire =
        serde_json::from_str(text).map_err(|e| Rejection::new(classify(&e), e.to_string()))?;
    Ok(Status {
        online: w.online,
        ts: w.ts.0,
    })
}

#[derive(Deserialize)]
struct WireTelemetry<'a> {
    ts: WireTs,
    #[serde(default)]
    seq: Option<u64>,
    values: WireValues,
    #[serde(default, borrow)]
    cycle_id: Option<Cow<'a, str>>,
}

impl WireTelemetry<'_> {
    fn into_sample(self, raw: &str) -> ObjectResult<Sample> {
        if let Some(name) = self.values.duplicate {
            // Which of the values is meant cannot be known: storing both would write two
            // columns of one name in one row, and both would reach the rules.
            return Err(RejectedObject {
                rejection: Rejection::new(
                    Reason::DuplicateMetric,
                    format!("values holds the metric {name:?} more than once"),
                ),
                raw: raw.to_string(),
            });
        }
        if self.values.values.is_empty() {
            return Err(RejectedObject {
                rejection: Rejection::new(Reason::MissingField, "values is empty"),
                raw: raw.to_string(),
            });
        }
        Ok(Sample {
            ts: self.ts.0,
            seq: self.seq,
            cycle_id: self.cycle_id.map(Cow::into_owned),
            period: Period::Instant,
            stat: Stat::Value,
            values: self.values.values,
        })
    }
}

/// `ts`: RFC 3339 with an offset, or integer epoch milliseconds.
struct WireTs(Timestamp);

impl<'de> Deserialize<'de> for WireTs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = WireTs;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an RFC 3339 timestamp with offset or integer epoch milliseconds")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<WireTs, E> {
                Ok(WireTs(Timestamp::from_millis(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<WireTs, E> {
                i64::try_from(v)
                    .map(|v| WireTs(Timestamp::from_millis(v)))
                    .map_err(|_| E::custom(format!("ts {v} is out of range")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<WireTs, E> {
                parse_rfc3339(v).map(WireTs).ok_or_else(|| {
                    E::custom(format!(
                        "ts {v:?} is not RFC 3339 with an offset (e.g. 2026-11-22T08:00:00+08:00)"
                    ))
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// `values`: metric name -> number (or boolean for state metrics), straight into
/// [`SampleValue`]s. serde_json hands every key of an object to the visitor, duplicates
/// included, so a repeated name is caught here (the first one is kept in `duplicate`).
struct WireValues {
    values: Vec<SampleValue>,
    duplicate: Option<String>,
}

impl<'de> Deserialize<'de> for WireValues {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = WireValues;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of metric name -> number")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<WireValues, A::Error> {
                let mut out: Vec<SampleValue> = Vec::with_capacity(map.size_hint().unwrap_or(4));
                let mut duplicate = None;
                while let Some(name) = map.next_key::<Cow<'de, str>>()? {
                    let WireNumber(value) = map.next_value()?;
                    // Objects hold a handful of metrics: a scan is cheaper than a set.
                    if duplicate.is_none() && out.iter().any(|v| v.metric.name() == name) {
                        duplicate = Some(name.clone().into_owned());
                    }
                    let metric = match Metric::from_name(&name) {
                        Some(m) => MetricRef::Known(m),
                        None => MetricRef::Unknown(name.into_owned()),
                    };
                    out.push(SampleValue {
                        metric,
                        value,
                        flag: DataFlag::N,
                    });
                }
                Ok(WireValues {
                    values: out,
                    duplicate,
                })
            }
        }
        d.deserialize_map(V)
    }
}

/// A number, or a boolean stored as 0/1.
struct WireNumber(f64);

impl<'de> Deserialize<'de> for WireNumber {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = WireNumber;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number or a boolean")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<WireNumber, E> {
                Ok(WireNumber(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<WireNumber, E> {
                Ok(WireNumber(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<WireNumber, E> {
                Ok(WireNumber(v as f64))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<WireNumber, E> {
                Ok(WireNumber(if v { 1.0 } else { 0.0 }))
            }
        }
        d.deserialize_any(V)
    }
}

fn event(raw: &str) -> ObjectResult<Event> {
    let fail = |reason: Reason, detail: String| RejectedObject {
        rejection: Rejection::new(reason, detail),
        raw: raw.to_string(),
    };
    #[derive(Deserialize)]
    struct Head<'a> {
        ts: WireTs,
        #[serde(rename = "type", borrow)]
        kind: Cow<'a, str>,
    }
    let head: Head<'_> = serde_json::from_str(raw).map_err(|e| reject(&e, raw))?;
    let obj: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(raw).map_err(|e| reject(&e, raw))?;
    let field = |name: &str| obj.get(name);
    let string = |name: &str| -> Result<String, RejectedObject> {
        match field(name) {
            Some(serde_json::Value::String(s)) if !s.is_empty() => Ok(s.clone()),
            Some(_) => Err(fail(
                Reason::WrongType,
                format!("{name} must be a non-empty string"),
            )),
            None => Err(fail(
                Reason::MissingField,
                format!("missing field `{name}`"),
            )),
        }
    };
    let one_of = |name: &str, allowed: &[&str]| -> Result<String, RejectedObject> {
        let v = string(name)?;
        if allowed.contains(&v.as_str()) {
            Ok(v)
        } else {
            Err(fail(
                Reason::WrongType,
                format!("{name} {v:?} is not one of {allowed:?}"),
            ))
        }
    };
    let number = |name: &str| -> Result<f64, RejectedObject> {
        match field(name) {
            Some(serde_json::Value::Number(n)) => n
                .as_f64()
                .filter(|v| *v >= 0.0)
                .ok_or_else(|| fail(Reason::WrongType, format!("{name} must be a number >= 0"))),
            Some(_) => Err(fail(Reason::WrongType, format!("{name} must be a number"))),
            None => Err(fail(
                Reason::MissingField,
                format!("missing field `{name}`"),
            )),
        }
    };
    let (kind, reference) = match head.kind.as_ref() {
        "bag_in" => {
            one_of(
                "category",
                &[
                    "infectious",
                    "sharps",
                    "pathological",
                    "pharmaceutical",
                    "chemical",
                ],
            )?;
            number("weight_kg")?;
            (EventKind::BagIn, Some(string("bag_id")?))
        }
        "handover" => {
            number("weight_kg")?;
            string("carrier")?;
            match field("bag_ids") {
                Some(serde_json::Value::Array(a)) if a.iter().all(|b| b.is_string()) => {}
                Some(_) => {
                    return Err(fail(
                        Reason::WrongType,
                        "bag_ids must be an array of strings".into(),
                    ))
                }
                None => return Err(fail(Reason::MissingField, "missing field `bag_ids`".into())),
            }
            (EventKind::Handover, Some(string("manifest_id")?))
        }
        "disinfection" => {
            string("method")?;
            (EventKind::Disinfection, None)
        }
        "cycle_start" => {
            one_of(
                "program",
                &[
                    "prevac_134",
                    "prevac_132",
                    "gravity_121_instruments",
                    "gravity_121_textiles",
                    "bowie_dick",
                    "leak_test",
                ],
            )?;
            (EventKind::CycleStart, Some(string("cycle_id")?))
        }
        "cycle_end" => {
            one_of("device_verdict", &["pass", "fail", "aborted"])?;
            (EventKind::CycleEnd, Some(string("cycle_id")?))
        }
        "bd_result" => {
            one_of("result", &["pass", "fail"])?;
            (EventKind::BdResult, Some(string("cycle_id")?))
        }
        "bi_result" => {
            one_of("result", &["negative", "positive"])?;
            string("cycle_id")?;
            (EventKind::BiResult, Some(string("bi_id")?))
        }
        "maintenance" => {
            let state = one_of("state", &["start", "end"])?;
            let reason = match field("reason") {
                Some(serde_json::Value::String(s)) => s.clone(),
                _ => String::new(),
            };
            (
                EventKind::Maintenance {
                    active: state == "start",
                    reason,
                },
                None,
            )
        }
        other => {
            return Err(fail(
                Reason::UnknownEventType,
                format!("event type {other:?} is not in the contract"),
            ))
        }
    };
    Ok(Event {
        ts: head.ts.0,
        kind,
        reference,
        raw: raw.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> ObjectResult<Sample> {
        let mut v = telemetry(text, 10).unwrap();
        assert_eq!(v.len(), 1);
        v.remove(0)
    }

    /// The one-pass decoding of good payloads gives what the object-by-object path gives,
    /// and every payload with something to reject goes the object-by-object way.
    #[test]
    fn one_pass_and_per_object_decoding_agree() {
        let payloads = [
            r#"[{"ts":1,"seq":3,"values":{"ph":7.1,"turbidity_ntu":0.2}},{"ts":"2026-11-22T08:00:00+08:00","values":{"colour":3},"cycle_id":"c9"}]"#,
            r#"{"ts":1,"values":{"ph":7.1}}"#,
            r#"[{"ts":1,"values":{"ph":7.1}},{"ts":2,"values":{"ph":7.1,"ph":7.2}}]"#,
            r#"[{"ts":1,"values":{}},{"ts":2,"values":{"ph":7}}]"#,
            r#"[{"ts":1,"values":{"ph":7}},{"values":{"ph":7}},3]"#,
            r#"[{"ts":1,"values":{"ph":"x"}}]"#,
            r#"[]"#,
            r#"[{"ts":1,"values":{"ph":7}},{"ts":2,"values":{"ph":7}},{"ts":3,"values":{"ph":7}}]"#,
            r#"{"ts":1,"values":{"ph":7}} trailing"#,
        ];
        for text in payloads {
            assert_eq!(telemetry(text, 2), telemetry_per_object(text, 2), "{text}");
        }
        assert!(telemetry_in_one_pass(payloads[0], 2).is_some());
        assert!(telemetry_in_one_pass(payloads[2], 2).is_none());
    }

    #[test]
    fn decodes_the_protocol_example() {
        let s = one(r#"{"ts": "2026-11-22T08:00:00.250+08:00", "seq": 1042,
            "values": {"turbidity_ntu": 0.31, "free_chlorine_mg_l": 0.52, "ph": 7.21}}"#)
        .unwrap();
        assert_eq!(s.ts.to_string(), "2026-11-22T00:00:00.250Z");
        assert_eq!(s.seq, Some(1042));
        assert_eq!(s.values.len(), 3);
        assert_eq!(s.values[2].metric, MetricRef::Known(Metric::Ph));
        assert_eq!(s.values[2].value, 7.21);
    }

    #[test]
    fn accepts_epoch_milliseconds_and_booleans() {
        let s = one(r#"{"ts": 1795305600250, "values": {"door_open": true, "uv_lamp_on": false}}"#)
            .unwrap();
        assert_eq!(s.ts, Timestamp::from_millis(1_795_305_600_250));
        assert_eq!((s.values[0].value, s.values[1].value), (1.0, 0.0));
    }

    #[test]
    fn keeps_unknown_metric_names_for_validation_to_reject() {
        let s = one(r#"{"ts": 1, "values": {"colour": 3}}"#).unwrap();
        assert_eq!(s.values[0].metric, MetricRef::Unknown("colour".into()));
    }

    #[test]
    fn rejects_each_bad_object_with_its_reason_and_keeps_the_others() {
        let v = telemetry(
            r#"[{"ts": 1, "values": {"ph": 7}},
                {"values": {"ph": 7}},
                {"ts": 1, "values": {"ph": "seven"}},
                {"ts": "yesterday", "values": {"ph": 7}},
                {"ts": "2026-11-22T08:00:00", "values": {"ph": 7}},
                {"ts": 1, "values": {}},
                {"ts": 2, "values": {"ph": 7.1}}]"#,
            100,
        )
        .unwrap();
        let reasons: Vec<_> = v
            .iter()
            .map(|r| r.as_ref().err().map(|e| e.rejection.reason))
            .collect();
        assert_eq!(
            reasons,
            vec![
                None,
                Some(Reason::MissingField),
                Some(Reason::WrongType),
                Some(Reason::WrongType),
                Some(Reason::WrongType),
                Some(Reason::MissingField),
                None
            ]
        );
        let bad = v[2].as_ref().unwrap_err();
        assert!(bad.raw.contains("seven"));
    }

    #[test]
    fn rejects_payloads_that_are_not_objects_or_arrays() {
        for text in ["", "42", "\"x\"", "{", "[{}", "nul"] {
            let err = telemetry(text, 10).unwrap_err();
            assert_eq!(err.reason, Reason::MalformedJson, "{text:?}");
        }
        assert_eq!(
            telemetry("[]", 10).unwrap_err().reason,
            Reason::MissingField
        );
    }

    #[test]
    fn rejects_arrays_above_the_object_limit() {
        let text = format!("[{}]", [r#"{"ts":1,"values":{"ph":7}}"#; 11].join(","));
        assert_eq!(
            telemetry(&text, 10).unwrap_err().reason,
            Reason::TooManyObjects
        );
    }

    #[test]
    fn decodes_every_event_type_with_its_reference() {
        let cases = [
            (
                r#"{"ts":1,"type":"bag_in","bag_id":"B1","category":"sharps","weight_kg":1.2}"#,
                "bag_in",
                Some("B1"),
            ),
            (
                r#"{"ts":1,"type":"handover","manifest_id":"M9","bag_ids":["B1"],"weight_kg":1.1,"carrier":"C"}"#,
                "handover",
                Some("M9"),
            ),
            (
                r#"{"ts":1,"type":"disinfection","method":"uv","duration_min":30}"#,
                "disinfection",
                None,
            ),
            (
                r#"{"ts":1,"type":"cycle_start","cycle_id":"c1","program":"prevac_134"}"#,
                "cycle_start",
                Some("c1"),
            ),
            (
                r#"{"ts":1,"type":"cycle_end","cycle_id":"c1","device_verdict":"pass"}"#,
                "cycle_end",
                Some("c1"),
            ),
            (
                r#"{"ts":1,"type":"bd_result","cycle_id":"c0","result":"pass"}"#,
                "bd_result",
                Some("c0"),
            ),
            (
                r#"{"ts":1,"type":"bi_result","bi_id":"bi7","cycle_id":"c1","result":"negative"}"#,
                "bi_result",
                Some("bi7"),
            ),
            (
                r#"{"ts":1,"type":"maintenance","state":"start","reason":"calibration"}"#,
                "maintenance",
                None,
            ),
        ];
        for (text, kind, reference) in cases {
            let e = events(text, 10).unwrap().remove(0).unwrap();
            assert_eq!(e.kind.as_str(), kind);
            assert_eq!(e.reference.as_deref(), reference);
        }
    }

    #[test]
    fn rejects_events_missing_fields_or_of_unknown_type() {
        let cases = [
            (
                r#"{"ts":1,"type":"bag_in","category":"sharps","weight_kg":1}"#,
                Reason::MissingField,
            ),
            (
                r#"{"ts":1,"type":"bag_in","bag_id":"B","category":"glass","weight_kg":1}"#,
                Reason::WrongType,
            ),
            (r#"{"ts":1,"type":"teleport"}"#, Reason::UnknownEventType),
            (
                r#"{"type":"disinfection","method":"uv"}"#,
                Reason::MissingField,
            ),
        ];
        for (text, reason) in cases {
            let e = events(text, 10).unwrap().remove(0).unwrap_err();
            assert_eq!(e.rejection.reason, reason, "{text}");
        }
    }

    #[test]
    fn decodes_status() {
        let s = status(r#"{"online": false, "ts": 5}"#).unwrap();
        assert!(!s.online);
        assert_eq!(
            status(r#"{"ts": 5}"#).unwrap_err().reason,
            Reason::MissingField
        );
    }
}
