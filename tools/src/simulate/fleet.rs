//! The fleet: one simulated gateway per registered device, driven by the caller's clock.
//!
//! [`Fleet::step`] advances every device to `now` and returns the MQTT messages that fell due,
//! each stamped with its own simulated time (not `now`), so calling it once per second, once per
//! simulated minute or once per day gives the same messages: the output depends only on the
//! registry, the seed, the scenario and the start time (the first `step`).

use alerting::model::{DeviceKind, Id, SiteAttributes, Timestamp};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Map, Value};

use super::autoclave::AutoclaveSim;
use super::hj212::realtime_frame;
use super::scenario::Scenario;
use super::step::{
    rfc3339_cst, stable_hash, Emission, Incident, IncidentKind, Outbound, OutboundKind, Tick,
};
use super::waste::WasteSim;
use super::water::WaterSim;
use weijian_ingest::config::{Hj212Settings, Registry};

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
