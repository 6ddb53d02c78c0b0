//! What every simulated device model shares with the fleet that drives it: the [`Tick`] a
//! model's step is given, the [`Emission`]s it gives back, the messages ([`Outbound`]) and
//! incidents they become, episodes ([`Ramp`]), sensor faults, and the time of day at China
//! Standard Time, the zone of every simulated gateway clock.

use alerting::model::{Id, Metric, Timestamp};
use chrono::{FixedOffset, SecondsFormat, TimeZone};
use rand::rngs::StdRng;
use rand::Rng;
use serde_json::{Map, Value};

use super::scenario::Scenario;

/// China Standard Time, the zone of every simulated gateway clock.
pub(super) const CST_OFFSET_SECS: i64 = 8 * 3600;

/// Which channel a message goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutboundKind {
    /// `.../telemetry`: one object, or an array after an outage.
    Telemetry,
    /// `.../event`: one object, or an array after an outage.
    Event,
    /// `.../status`: retained birth / last-will.
    Status,
    /// `.../hj212`: HJ 212 frames (water monitors with `[devices.hj212]`).
    Hj212,
}

impl OutboundKind {
    /// The topic suffix.
    pub const fn channel(self) -> &'static str {
        match self {
            Self::Telemetry => "telemetry",
            Self::Event => "event",
            Self::Status => "status",
            Self::Hj212 => "hj212",
        }
    }
}

/// One MQTT message to publish (QoS 1).
#[derive(Debug, Clone, PartialEq)]
pub struct Outbound {
    /// `{prefix}/{site}/{device}/{telemetry|event|status}`.
    pub topic: String,
    /// JSON per docs/payload-contract.md.
    pub payload: Vec<u8>,
    /// Retained (status messages only).
    pub retain: bool,
    /// The channel.
    pub kind: OutboundKind,
    /// Metric values (telemetry, HJ 212) or events (event) in the payload; 0 for status.
    pub items: usize,
    /// The simulated time of the (last) object in the payload.
    pub ts: Timestamp,
}

/// What kind of incident the fleet injected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IncidentKind {
    /// A value outside its physical range, or a stuck value (rules G2/G3).
    SensorFault,
    /// A water-quality or waste-store limit breach (W1-W4, M1/M2/M4/M5/M6).
    Breach,
    /// The device stopped publishing (G1).
    Offline,
    /// The device came back.
    Online,
    /// A sterilization cycle that goes wrong (S1/S2/S6).
    CycleFault,
    /// A water monitor's maintenance window (W6, flagged data).
    Maintenance,
}

/// The fleet's own record of what it injected: ground truth for a demo viewer or a test.
#[derive(Debug, Clone, PartialEq)]
pub struct Incident {
    /// Simulated time the incident started.
    pub ts: Timestamp,
    /// Site of the device.
    pub site: Id,
    /// The device it happened to.
    pub device: Id,
    /// The family.
    pub kind: IncidentKind,
    /// Human-readable description, e.g. `free_chlorine_mg_l down to 0.18 for 35 min`.
    pub detail: String,
}

/// What a device model produced on one tick.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Emission {
    /// Telemetry values (with the cycle id for autoclaves in a cycle).
    Telemetry {
        values: Vec<(Metric, Value)>,
        cycle_id: Option<String>,
    },
    /// An event object without `ts` (added by the fleet); must hold `type`.
    Event(Map<String, Value>),
}

/// Builds an event object: `type` plus the given fields.
pub(super) fn event(kind: &str, fields: Value) -> Emission {
    let mut map = Map::new();
    map.insert("type".into(), Value::String(kind.into()));
    if let Value::Object(f) = fields {
        map.extend(f);
    }
    Emission::Event(map)
}

/// A JSON number rounded to `decimals`; NaN/infinite become 0 (never produced by the models).
pub(super) fn num(v: f64, decimals: i32) -> Value {
    let scale = 10f64.powi(decimals);
    let r = (v * scale).round() / scale;
    serde_json::Number::from_f64(r).map_or(Value::from(0), Value::Number)
}

/// One tick of one device: the time, randomness, scenario and the outputs.
pub(super) struct Tick<'a> {
    pub now: Timestamp,
    /// Seconds since the device's previous tick.
    pub dt: f64,
    pub rng: &'a mut StdRng,
    pub scenario: &'a Scenario,
    pub emissions: Vec<Emission>,
    pub incidents: Vec<(IncidentKind, String)>,
}

impl Tick<'_> {
    /// Whether an episode with `rate_per_hour` starts on this tick.
    pub fn chance(&mut self, rate_per_hour: f64) -> bool {
        let p = (rate_per_hour * self.dt / 3600.0).clamp(0.0, 1.0);
        p > 0.0 && self.rng.random_bool(p)
    }
    /// True with probability `p` (clamped to 0..=1; NaN counts as 0).
    pub fn bernoulli(&mut self, p: f64) -> bool {
        let p = if p.is_finite() {
            p.clamp(0.0, 1.0)
        } else {
            0.0
        };
        p > 0.0 && self.rng.random_bool(p)
    }
    /// Uniform in `[lo, hi)` (or `lo` when the range is empty).
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        if hi > lo {
            self.rng.random_range(lo..hi)
        } else {
            lo
        }
    }
    /// Uniform integer in `[lo, hi]`.
    pub fn int(&mut self, lo: i64, hi: i64) -> i64 {
        if hi > lo {
            self.rng.random_range(lo..=hi)
        } else {
            lo
        }
    }
    /// Standard normal (Box-Muller).
    pub fn gauss(&mut self) -> f64 {
        let u1: f64 = self.rng.random_range(f64::EPSILON..1.0);
        let u2: f64 = self.rng.random();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
    /// Local (+08:00) hour of day as a fraction, 0..24.
    pub fn local_hour(&self) -> f64 {
        local_secs_of_day(self.now) as f64 / 3600.0
    }
    /// Local (+08:00) day number since the epoch.
    pub fn local_day(&self) -> i64 {
        local_day(self.now)
    }
    pub fn emit(&mut self, e: Emission) {
        self.emissions.push(e);
    }
    pub fn incident(&mut self, kind: IncidentKind, detail: String) {
        self.incidents.push((kind, detail));
    }
}

/// Seconds since local (+08:00) midnight.
pub(super) fn local_secs_of_day(ts: Timestamp) -> i64 {
    (ts.as_micros().div_euclid(Timestamp::MICROS_PER_SEC) + CST_OFFSET_SECS).rem_euclid(86_400)
}

/// Local (+08:00) day number since 1970-01-01.
pub(super) fn local_day(ts: Timestamp) -> i64 {
    (ts.as_micros().div_euclid(Timestamp::MICROS_PER_SEC) + CST_OFFSET_SECS).div_euclid(86_400)
}

/// Start of local day `day` as a timestamp.
pub(super) fn local_midnight(day: i64) -> Timestamp {
    Timestamp::from_secs(day * 86_400 - CST_OFFSET_SECS)
}

/// `YYYYMMDD` of the local date (for bag, manifest and cycle ids).
pub(super) fn local_date(ts: Timestamp) -> String {
    rfc3339_cst(ts).get(0..10).unwrap_or("").replace('-', "")
}

/// RFC 3339 with millisecond precision and the +08:00 offset, e.g.
/// `2026-11-22T08:00:00.250+08:00`.
pub fn rfc3339_cst(ts: Timestamp) -> String {
    let micros = ts.as_micros();
    let secs = micros.div_euclid(Timestamp::MICROS_PER_SEC);
    let nanos = u32::try_from(micros.rem_euclid(Timestamp::MICROS_PER_SEC) * 1_000).unwrap_or(0);
    match FixedOffset::east_opt(8 * 3600).and_then(|tz| tz.timestamp_opt(secs, nanos).single()) {
        Some(dt) => dt.to_rfc3339_opts(SecondsFormat::Millis, false),
        None => ts.to_string(),
    }
}

/// A stable per-string hash (seeds and phases must not depend on process randomness).
pub(super) fn stable_hash(s: &str) -> u64 {
    // FNV-1a: stable across processes and Rust releases.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// An episode that ramps in over `ramp_in`, holds, and ramps out: `weight` is 0 -> 1 -> 0.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Ramp {
    pub start: Timestamp,
    pub full: Timestamp,
    pub fade: Timestamp,
    pub end: Timestamp,
}

impl Ramp {
    /// Starts at `start`, fully on after `ramp_in` s, for `hold` s, then off over `ramp_out` s.
    pub fn new(start: Timestamp, ramp_in: i64, hold: i64, ramp_out: i64) -> Self {
        let full = start.plus_secs(ramp_in);
        let fade = full.plus_secs(hold);
        Self {
            start,
            full,
            fade,
            end: fade.plus_secs(ramp_out),
        }
    }
    /// 0 before and after, 1 while fully on, linear in between.
    pub fn weight(&self, now: Timestamp) -> f64 {
        let frac = |a: Timestamp, b: Timestamp| {
            let span = (b.as_micros() - a.as_micros()).max(1) as f64;
            ((now.as_micros() - a.as_micros()) as f64 / span).clamp(0.0, 1.0)
        };
        if now < self.start || now >= self.end {
            0.0
        } else if now < self.full {
            frac(self.start, self.full)
        } else if now < self.fade {
            1.0
        } else {
            1.0 - frac(self.fade, self.end)
        }
    }
    pub fn over(&self, now: Timestamp) -> bool {
        now >= self.end
    }
}

/// A sensor fault in progress on one metric.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum SensorFault {
    /// Reports `value` (outside the physical range) until `until`.
    OutOfRange {
        metric: Metric,
        value: f64,
        until: Timestamp,
    },
    /// Repeats the first value it sees (to full precision) until `until`.
    Stuck {
        metric: Metric,
        value: Option<Value>,
        until: Timestamp,
    },
}

impl SensorFault {
    /// Starts a random fault on one of `candidates` (metric, out-of-range value).
    pub fn start(t: &mut Tick<'_>, candidates: &[(Metric, f64)], stuck: &[Metric]) -> Option<Self> {
        if t.rng.random_bool(0.6) || stuck.is_empty() {
            let &(metric, value) = candidates.get(t.int(0, candidates.len() as i64 - 1) as usize)?;
            let minutes = t.int(1, 5);
            t.incident(
                IncidentKind::SensorFault,
                format!("{metric} reads {value} (out of physical range) for {minutes} min"),
            );
            Some(Self::OutOfRange {
                metric,
                value,
                until: t.now.plus_secs(minutes * 60),
            })
        } else {
            let metric = *stuck.get(t.int(0, stuck.len() as i64 - 1) as usize)?;
            let minutes = t.int(65, 100);
            t.incident(
                IncidentKind::SensorFault,
                format!("{metric} stuck at one value for {minutes} min"),
            );
            Some(Self::Stuck {
                metric,
                value: None,
                until: t.now.plus_secs(minutes * 60),
            })
        }
    }

    /// Applies the fault to a telemetry value list; returns false once the fault is over.
    pub fn apply(&mut self, now: Timestamp, values: &mut [(Metric, Value)]) -> bool {
        match self {
            Self::OutOfRange {
                metric,
                value,
                until,
            } => {
                if now >= *until {
                    return false;
                }
                for (m, v) in values.iter_mut() {
                    if m == metric {
                        *v = num(*value, 2);
                    }
                }
                true
            }
            Self::Stuck {
                metric,
                value,
                until,
            } => {
                if now >= *until {
                    return false;
                }
                for (m, v) in values.iter_mut() {
                    if m == metric {
                        match value {
                            Some(frozen) => *v = frozen.clone(),
                            None => *value = Some(v.clone()),
                        }
                    }
                }
                true
            }
        }
    }
}
