//! The fleet: one simulated gateway per registered device, driven by the caller's clock.
//!
//! [`Fleet::step`] advances every device to `now` and returns the MQTT messages that fell due,
//! each stamped with its own simulated time (not `now`), so calling it once per second, once per
//! simulated minute or once per day gives the same messages: the output depends only on the
//! registry, the seed, the scenario and the start time (the first `step`).

use alerting::model::{DeviceKind, Id, Metric, SiteAttributes, Timestamp};
use chrono::{FixedOffset, SecondsFormat, TimeZone};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Map, Value};

use super::autoclave::AutoclaveSim;
use super::hj212::realtime_frame;
use super::scenario::Scenario;
use super::waste::WasteSim;
use super::water::WaterSim;
use weijian_ingest::config::{Hj212Settings, Registry};

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

/// The behaviour of one device.
#[derive(Debug)]
pub(super) enum Model {
    Water(Box<WaterSim>),
    Waste(Box<WasteSim>),
    Autoclave(Box<AutoclaveSim>),
    /// A device whose site attributes do not match its kind (config validation prevents it).
    Silent,
}

impl Model {
    fn tick(&mut self, t: &mut Tick<'_>) {
        match self {
            Self::Water(m) => m.tick(t),
            Self::Waste(m) => m.tick(t),
            Self::Autoclave(m) => m.tick(t),
            Self::Silent => {}
        }
    }
}

#[derive(Debug)]
struct SimDevice {
    site: Id,
    device: Id,
    interval_us: i64,
    next_due: Option<Timestamp>,
    last_tick: Option<Timestamp>,
    seq: u64,
    rng: StdRng,
    model: Model,
    offline_until: Option<Timestamp>,
    /// When the broker would publish the last will of a device that went silent.
    last_will_at: Option<Timestamp>,
    buffered_telemetry: Vec<Value>,
    buffered_events: Vec<Value>,
    /// Set for a device that speaks HJ 212.
    hj212: Option<Hj212Settings>,
    /// Whether an HJ 212 monitor is in maintenance (its values are flagged `M`).
    hj212_maintenance: bool,
    /// HJ 212 frames held during an outage, with their value counts.
    buffered_frames: Vec<(String, usize)>,
}

/// The simulated fleet. Build with [`Fleet::new`], then call [`Fleet::birth_messages`] once
/// and [`Fleet::step`] with a non-decreasing clock.
#[derive(Debug)]
pub struct Fleet {
    prefix: String,
    scenario: Scenario,
    devices: Vec<SimDevice>,
    incidents: Vec<Incident>,
    started: Option<Timestamp>,
}

impl Fleet {
    /// One simulated gateway per device of `registry`, publishing under `prefix`
    /// (e.g. `weijian/v1`). `seed` makes the whole run reproducible.
    pub fn new(registry: &Registry, prefix: &str, seed: u64, scenario: Scenario) -> Self {
        let mut ledger_sites: Vec<Id> = Vec::new();
        let devices = registry
            .devices()
            .map(|d| {
                let mut rng = StdRng::seed_from_u64(seed ^ stable_hash(&d.id));
                let attributes = registry.site(&d.site).map(|s| &s.attributes);
                let model = match (d.kind, attributes) {
                    (DeviceKind::WaterMonitor, Some(SiteAttributes::Water(w))) => {
                        Model::Water(Box::new(WaterSim::new(*w, &mut rng)))
                    }
                    (DeviceKind::WasteStore, Some(SiteAttributes::WasteStore(w))) => {
                        let ledger = !ledger_sites.contains(&d.site);
                        if ledger {
                            ledger_sites.push(d.site.clone());
                        }
                        Model::Waste(Box::new(WasteSim::new(&d.site, w, ledger, &mut rng)))
                    }
                    (DeviceKind::Autoclave, Some(SiteAttributes::DentalSterilization(s))) => {
                        Model::Autoclave(Box::new(AutoclaveSim::new(*s, &mut rng)))
                    }
                    _ => Model::Silent,
                };
                SimDevice {
                    site: d.site.clone(),
                    device: d.id.clone(),
                    interval_us: i64::from(d.expected_interval_secs.max(1))
                        * Timestamp::MICROS_PER_SEC,
                    next_due: None,
                    last_tick: None,
                    seq: 0,
                    rng,
                    model,
                    offline_until: None,
                    last_will_at: None,
                    buffered_telemetry: Vec::new(),
                    buffered_events: Vec::new(),
                    hj212: d
                        .hj212
                        .as_deref()
                        .cloned()
                        .filter(|_| d.kind == DeviceKind::WaterMonitor),
                    hj212_maintenance: false,
                    buffered_frames: Vec::new(),
                }
            })
            .collect();
        Self {
            prefix: prefix.trim_end_matches('/').to_string(),
            scenario,
            devices,
            incidents: Vec::new(),
            started: None,
        }
    }

    /// The scenario in use.
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// Number of simulated devices.
    pub fn device_count(&self) -> usize {
        self.devices.len()
    }

    /// When the simulation started (the first [`Fleet::step`]).
    pub fn started(&self) -> Option<Timestamp> {
        self.started
    }

    fn topic(&self, site: &str, device: &str, kind: OutboundKind) -> String {
        format!("{}/{site}/{device}/{}", self.prefix, kind.channel())
    }

    fn status(&self, site: &str, device: &str, online: bool, ts: Timestamp) -> Outbound {
        Outbound {
            topic: self.topic(site, device, OutboundKind::Status),
            payload: json!({"online": online, "ts": rfc3339_cst(ts)})
                .to_string()
                .into_bytes(),
            retain: true,
            kind: OutboundKind::Status,
            items: 0,
            ts,
        }
    }

    /// Retained `{"online": true}` for every device, stamped `now`: publish once at start.
    pub fn birth_messages(&self, now: Timestamp) -> Vec<Outbound> {
        self.devices
            .iter()
            .map(|d| self.status(&d.site, &d.device, true, now))
            .collect()
    }

    /// Retained `{"online": false}` for every device, stamped `now`: publish on a clean
    /// shutdown (what a broker would send as each gateway's last will).
    pub fn shutdown_messages(&self, now: Timestamp) -> Vec<Outbound> {
        self.devices
            .iter()
            .map(|d| self.status(&d.site, &d.device, false, now))
            .collect()
    }

    /// Incidents injected so far and not yet taken.
    pub fn take_incidents(&mut self) -> Vec<Incident> {
        std::mem::take(&mut self.incidents)
    }

    /// Advances every device to `now` and returns what fell due, in simulated-time order.
    /// The first call fixes the start of the simulation; a `now` earlier than a previous call
    /// produces nothing.
    pub fn step(&mut self, now: Timestamp) -> Vec<Outbound> {
        let start = *self.started.get_or_insert(now);
        let mut out: Vec<Outbound> = Vec::new();
        for i in 0..self.devices.len() {
            loop {
                let dev = &mut self.devices[i];
                let due = match dev.next_due {
                    Some(d) => d,
                    None => {
                        // Spread first reports over the interval so devices don't publish in step.
                        let phase = dev.rng.random_range(0..dev.interval_us.max(1));
                        let phase = phase - phase % 1_000;
                        let first = Timestamp(start.as_micros() + phase);
                        dev.next_due = Some(first);
                        first
                    }
                };
                if due > now {
                    break;
                }
                dev.next_due = Some(Timestamp(due.as_micros() + dev.interval_us));
                self.tick_device(i, due, &mut out);
            }
        }
        out.sort_by_key(|o| o.ts);
        out
    }

    fn tick_device(&mut self, i: usize, now: Timestamp, out: &mut Vec<Outbound>) {
        let scenario = &self.scenario;
        let dev = &mut self.devices[i];
        let dt = dev
            .last_tick
            .map_or(dev.interval_us, |l| now.as_micros() - l.as_micros()) as f64
            / 1e6;
        dev.last_tick = Some(now);
        let mut tick = Tick {
            now,
            dt,
            rng: &mut dev.rng,
            scenario,
            emissions: Vec::new(),
            incidents: Vec::new(),
        };
        // Outages are decided before the model runs so the model keeps its own timeline.
        let mut came_back = false;
        match dev.offline_until {
            Some(until) if now >= until => {
                dev.offline_until = None;
                dev.last_will_at = None;
                came_back = true;
                tick.incident(IncidentKind::Online, "back online".into());
            }
            Some(_) => {}
            None => {
                if tick.chance(scenario.offline_rate) {
                    let (lo, hi) = scenario.offline_minutes;
                    let minutes = tick.int(i64::from(lo), i64::from(hi.max(lo)));
                    dev.offline_until = Some(now.plus_secs(minutes * 60));
                    // The broker notices after 1.5 x keep-alive (30 s) and publishes the will.
                    dev.last_will_at = Some(now.plus_secs(45));
                    tick.incident(
                        IncidentKind::Offline,
                        format!("offline for {minutes} min (stops publishing)"),
                    );
                }
            }
        }
        dev.model.tick(&mut tick);
        let Tick {
            emissions,
            incidents,
            ..
        } = tick;
        let (site, device) = (dev.site.clone(), dev.device.clone());
        for (kind, detail) in incidents {
            self.incidents.push(Incident {
                ts: now,
                site: site.clone(),
                device: device.clone(),
                kind,
                detail,
            });
        }
        let dev = &mut self.devices[i];
        let offline = dev.offline_until.is_some();
        let ts = rfc3339_cst(now);
        let mut telemetry = Vec::new();
        let mut events = Vec::new();
        let mut frames = Vec::new();
        for e in emissions {
            match e {
                Emission::Telemetry { values, .. } if dev.hj212.is_some() => {
                    if let Some(settings) = &dev.hj212 {
                        frames.extend(realtime_frame(
                            now,
                            settings,
                            &values,
                            dev.hj212_maintenance,
                        ));
                    }
                }
                Emission::Event(map)
                    if dev.hj212.is_some()
                        && map.get("type").and_then(Value::as_str) == Some("maintenance") =>
                {
                    dev.hj212_maintenance =
                        map.get("state").and_then(Value::as_str) == Some("start");
                }
                Emission::Telemetry { values, cycle_id } => {
                    dev.seq += 1;
                    let n = values.len();
                    let mut obj = Map::new();
                    obj.insert("ts".into(), Value::String(ts.clone()));
                    obj.insert("seq".into(), Value::from(dev.seq));
                    if let Some(c) = cycle_id {
                        obj.insert("cycle_id".into(), Value::String(c));
                    }
                    obj.insert(
                        "values".into(),
                        Value::Object(
                            values
                                .into_iter()
                                .map(|(m, v)| (m.name().to_string(), v))
                                .collect(),
                        ),
                    );
                    telemetry.push((Value::Object(obj), n));
                }
                Emission::Event(mut map) => {
                    map.insert("ts".into(), Value::String(ts.clone()));
                    events.push(Value::Object(map));
                }
            }
        }
        if offline {
            if scenario.buffer_telemetry_when_offline {
                dev.buffered_telemetry
                    .extend(telemetry.into_iter().map(|(v, _)| v));
            }
            dev.buffered_events.extend(events);
            dev.buffered_frames.extend(frames);
            if let Some(at) = dev.last_will_at.filter(|at| *at <= now) {
                dev.last_will_at = None;
                out.push(self.status(&site, &device, false, at));
            }
            return;
        }
        if came_back {
            out.push(self.status(&site, &device, true, now));
            let dev = &mut self.devices[i];
            let buffered_t = std::mem::take(&mut dev.buffered_telemetry);
            let buffered_e = std::mem::take(&mut dev.buffered_events);
            let buffered_f = std::mem::take(&mut dev.buffered_frames);
            if !buffered_f.is_empty() {
                out.push(Outbound {
                    topic: self.topic(&site, &device, OutboundKind::Hj212),
                    payload: buffered_f
                        .iter()
                        .map(|(f, _)| f.as_str())
                        .collect::<String>()
                        .into_bytes(),
                    retain: false,
                    kind: OutboundKind::Hj212,
                    items: buffered_f.iter().map(|(_, n)| n).sum(),
                    ts: now,
                });
            }
            if !buffered_t.is_empty() {
                let items = buffered_t
                    .iter()
                    .map(|o| {
                        o.get("values")
                            .and_then(Value::as_object)
                            .map_or(0, Map::len)
                    })
                    .sum();
                out.push(self.array(
                    &site,
                    &device,
                    OutboundKind::Telemetry,
                    buffered_t,
                    items,
                    now,
                ));
            }
            if !buffered_e.is_empty() {
                let items = buffered_e.len();
                out.push(self.array(&site, &device, OutboundKind::Event, buffered_e, items, now));
            }
        }
        for (frame, items) in frames {
            out.push(Outbound {
                topic: self.topic(&site, &device, OutboundKind::Hj212),
                payload: frame.into_bytes(),
                retain: false,
                kind: OutboundKind::Hj212,
                items,
                ts: now,
            });
        }
        for (obj, items) in telemetry {
            out.push(Outbound {
                topic: self.topic(&site, &device, OutboundKind::Telemetry),
                payload: obj.to_string().into_bytes(),
                retain: false,
                kind: OutboundKind::Telemetry,
                items,
                ts: now,
            });
        }
        for obj in events {
            out.push(Outbound {
                topic: self.topic(&site, &device, OutboundKind::Event),
                payload: obj.to_string().into_bytes(),
                retain: false,
                kind: OutboundKind::Event,
                items: 1,
                ts: now,
            });
        }
    }

    fn array(
        &self,
        site: &str,
        device: &str,
        kind: OutboundKind,
        objects: Vec<Value>,
        items: usize,
        ts: Timestamp,
    ) -> Outbound {
        Outbound {
            topic: self.topic(site, device, kind),
            payload: Value::Array(objects).to_string().into_bytes(),
            retain: false,
            kind,
            items,
            ts,
        }
    }
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
