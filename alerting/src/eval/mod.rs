//! The engine: binds rules to sites, routes each input to the rules bound to its device's site,
//! feeds the alert state machine (`machine.rs`) and emits lifecycle events.
//!
//! Deterministic on event time: the same inputs in the same order give the same events. Cost
//! per reading is O(rules of the site): one hash lookup by device (its site is a position), no
//! history scans. Ticks walk every device once (absence, pending maturing, escalation by
//! persistence).
//!
//! Layout: [`Engine`] and input routing here; `bind.rs` (rules bound to a site), `emit.rs`
//! (observations to events), `conditions.rs` (rule kinds shared by several inputs),
//! `reading.rs` (readings), `quiet.rs` (the usual value of a sample, in less work),
//! `tick.rs` (ticks) and `close.rs` (manual resolution, [`Engine::close_alert`]);
//! `sterilization.rs` (dental sterilizers, S1-S6).

use std::sync::Arc;

use crate::event::AlertEvent;
use crate::index::IdIndex;
use crate::input::Input;
use crate::machine::Ev;
use crate::model::{Device, Id, Reading, Site, Timestamp};
use crate::rule::{Rule, RulePack};
use crate::state::{DeviceState, SiteState, Subject};
use crate::text::catalogue::{band, both};

mod bind;
mod close;
mod conditions;
mod emit;
mod quiet;
mod reading;
mod sterilization;
mod tick;
mod waste;

use bind::{bind, offline_timeout, SiteRules};
use conditions::{compositions, fresh_data, status_rules};
use emit::{breach, open_count, split};

/// Freshness window when no offline rule applies: evidence older than this neither matures a
/// pending alert nor escalates one on a tick (Default, same as G1's minimum).
const DEFAULT_STALE_SECS: i64 = 15 * 60;

#[derive(Debug, Clone)]
pub(crate) struct SiteCtx {
    /// Shared with the caller's registry (no copy of names and grid paths per site).
    pub site: Arc<Site>,
    /// Shared by every site whose binding is the same (most sites of a city have one of a
    /// few attribute combinations), so 100,000 sites do not hold 100,000 copies.
    pub rules: Arc<SiteRules>,
    pub state: SiteState,
}

#[derive(Debug, Clone)]
pub(crate) struct DeviceCtx {
    pub device: Device,
    pub state: DeviceState,
    /// Evidence older than this (seconds) is stale on ticks; the offline timeout.
    pub stale_secs: i64,
    /// Position of the device's site in [`SiteTable`]; `u32::MAX` when the site is unknown.
    pub site: u32,
}

/// The engine's devices in one vector sorted by id (the deterministic order of ticks, so a
/// tick needs no sorting), with an index by id that holds positions only (the ids live in
/// the vector): at 100,000 devices this is ~75 bytes per device less than a map holding the
/// contexts, and a tick allocates nothing.
#[derive(Debug, Clone, Default)]
pub(crate) struct DeviceTable {
    list: Vec<DeviceCtx>,
    index: IdIndex,
    /// The position found by the last lookup: the inputs of one message (a reading's five
    /// values, then `Heard`) name the same device one after the other, so comparing one id
    /// spares hashing it again.
    last: u32,
}

/// What [`Engine::device_activity`] says of one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceActivity {
    pub device: Id,
    /// Event time of the latest data (readings, maintenance events).
    pub last_data: Option<Timestamp>,
    /// The later of the latest data's event time and the latest message's receive time.
    pub last_alive: Option<Timestamp>,
    /// Its last will stands, or the offline rule (G1) fires for it.
    pub offline: bool,
}

impl DeviceTable {
    /// When an id is registered twice, the later registration wins (as a map insert would).
    fn new(mut list: Vec<DeviceCtx>) -> DeviceTable {
        list.reverse();
        list.sort_by(|a, b| a.device.id.cmp(&b.device.id));
        list.dedup_by(|later, earlier| later.device.id == earlier.device.id);
        list.shrink_to_fit();
        let mut index = IdIndex::new();
        {
            let key = |at: u32| list.get(at as usize).map(|d| &*d.device.id);
            for (i, d) in list.iter().enumerate() {
                index.insert(&d.device.id, u32::try_from(i).unwrap_or(u32::MAX), key);
            }
            index.shrink_to_fit(key);
        }
        DeviceTable {
            list,
            index,
            last: u32::MAX,
        }
    }

    pub(crate) fn get_mut(&mut self, id: &str) -> Option<&mut DeviceCtx> {
        let last = self.last;
        let i = if self
            .list
            .get(last as usize)
            .is_some_and(|d| &*d.device.id == id)
        {
            last
        } else {
            let list = &self.list;
            let i = self
                .index
                .get(id, |at| list.get(at as usize).map(|d| &*d.device.id))?;
            self.last = i;
            i
        };
        self.list.get_mut(i as usize)
    }

    /// The device at position `i` of the id order.
    pub(crate) fn at_mut(&mut self, i: usize) -> Option<&mut DeviceCtx> {
        self.list.get_mut(i)
    }

    pub(crate) fn len(&self) -> usize {
        self.list.len()
    }

    /// Devices in id order.
    pub(crate) fn iter(&self) -> std::slice::Iter<'_, DeviceCtx> {
        self.list.iter()
    }

    /// Devices in id order, mutably.
    pub(crate) fn values_mut(&mut self) -> std::slice::IterMut<'_, DeviceCtx> {
        self.list.iter_mut()
    }
}

/// The engine's sites in one vector sorted by id (the order of ticks). Devices hold their
/// site's position, so the hot path needs no lookup by site id; the rare lookups by id
/// (restoring a snapshot) search the sorted vector. No hash table: ~40 bytes per site less
/// than a map of the contexts.
#[derive(Debug, Clone, Default)]
pub(crate) struct SiteTable {
    list: Vec<SiteCtx>,
}

impl SiteTable {
    /// When an id is configured twice, the later site wins (as a map insert would).
    fn new(mut list: Vec<SiteCtx>) -> SiteTable {
        list.reverse();
        list.sort_by(|a, b| a.site.id.cmp(&b.site.id));
        list.dedup_by(|later, earlier| later.site.id == earlier.site.id);
        list.shrink_to_fit();
        SiteTable { list }
    }

    /// Position of site `id`, or `u32::MAX` if there is none.
    fn position(&self, id: &str) -> u32 {
        self.list
            .binary_search_by(|s| (*s.site.id).cmp(id))
            .ok()
            .and_then(|i| u32::try_from(i).ok())
            .unwrap_or(u32::MAX)
    }

    pub(crate) fn at(&self, i: u32) -> Option<&SiteCtx> {
        self.list.get(i as usize)
    }

    pub(crate) fn at_mut(&mut self, i: u32) -> Option<&mut SiteCtx> {
        self.list.get_mut(i as usize)
    }

    pub(crate) fn get_mut(&mut self, id: &str) -> Option<&mut SiteCtx> {
        let i = self.position(id);
        self.at_mut(i)
    }

    /// Sites in id order.
    pub(crate) fn iter(&self) -> std::slice::Iter<'_, SiteCtx> {
        self.list.iter()
    }

    /// Sites in id order, mutably.
    pub(crate) fn values_mut(&mut self) -> std::slice::IterMut<'_, SiteCtx> {
        self.list.iter_mut()
    }
}

/// Distinct site bindings seen so far, by site attributes: a site whose binding equals an
/// earlier one (same attributes, no rule naming the site) shares it. Bounded, so a registry
/// of all-different sites costs a little time, not memory.
#[derive(Debug, Default)]
struct SharedBindings {
    seen: Vec<(crate::model::SiteAttributes, Arc<SiteRules>)>,
}

impl SharedBindings {
    const MAX: usize = 64;

    fn get(&mut self, bound: SiteRules, site: &Site) -> Arc<SiteRules> {
        if let Some((_, rules)) = self
            .seen
            .iter()
            .find(|(a, r)| *a == site.attributes && **r == bound)
        {
            return rules.clone();
        }
        let rules = Arc::new(bound);
        if self.seen.len() < Self::MAX {
            self.seen.push((site.attributes.clone(), rules.clone()));
        }
        rules
    }
}

/// The rule engine. Build it with [`Engine::new`] (or [`Engine::restore`]) and feed it
/// [`Input`]s in event-time order with [`Engine::process`].
#[derive(Debug, Clone)]
pub struct Engine {
    pub(crate) pack_name: String,
    pub(crate) rules: Vec<Rule>,
    pub(crate) sites: SiteTable,
    pub(crate) devices: DeviceTable,
    /// Latest tick time.
    pub(crate) clock: Option<Timestamp>,
    /// Dental sterilizers: cycle verdicts and S1-S6 state.
    pub(crate) steril: sterilization::SterilTable,
}

impl Engine {
    /// Builds an engine with empty state. Devices whose site is unknown are kept but no rule
    /// applies to them; a rule applies to a site when its `site_kind` and `when` match.
    ///
    /// `sites` may be owned [`Site`]s or `Arc<Site>`s shared with the caller (a registry of
    /// 100,000 sites then exists once).
    pub fn new<S: Into<Arc<Site>>>(pack: RulePack, sites: Vec<S>, devices: Vec<Device>) -> Engine {
        let rules = pack.rules;
        let steril = sterilization::SterilTable {
            params: pack.sterilization.map(Arc::new),
            ..Default::default()
        };
        let mut site_list = Vec::with_capacity(sites.len());
        let mut shared = SharedBindings::default();
        for site in sites {
            let site: Arc<Site> = site.into();
            let bound = shared.get(bind(&rules, &site), &site);
            site_list.push(SiteCtx {
                site,
                rules: bound,
                state: SiteState {
                    firing: Vec::new(),
                    trackers: Vec::new(),
                    waste: None,
                },
            });
        }
        let site_table = SiteTable::new(site_list);
        let mut device_list = Vec::with_capacity(devices.len());
        for device in devices {
            let site = site_table.position(&device.site);
            let stale_secs = site_table
                .at(site)
                .and_then(|s| {
                    s.rules
                        .offline
                        .iter()
                        .map(|(_, f, min)| offline_timeout(*f, *min, &device))
                        .max()
                })
                .unwrap_or(DEFAULT_STALE_SECS);
            device_list.push(DeviceCtx {
                device,
                state: DeviceState::default(),
                stale_secs,
                site,
            });
        }
        Engine {
            pack_name: format!("{}@{}", pack.name, pack.version),
            rules,
            sites: site_table,
            devices: DeviceTable::new(device_list),
            clock: None,
            steril,
        }
    }

    /// The compiled rules, in pack order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Number of pending or open alerts (all devices and sites).
    pub fn active_alerts(&self) -> usize {
        self.devices
            .iter()
            .map(|d| open_count(&d.state.trackers))
            .sum::<usize>()
            + self
                .sites
                .iter()
                .map(|s| open_count(&s.state.trackers))
                .sum::<usize>()
    }

    /// Open (firing) alerts by level, I to IV (`Level::ALL` order), for the operators' gauges.
    pub fn firing_by_level(&self) -> [usize; 4] {
        let mut counts = [0; 4];
        let trackers = self
            .devices
            .iter()
            .flat_map(|d| &d.state.trackers)
            .chain(self.sites.iter().flat_map(|s| &s.state.trackers));
        for t in trackers.filter(|t| t.phase == crate::state::Phase::Firing) {
            if let Some(i) = crate::level::Level::ALL.iter().position(|l| *l == t.level) {
                counts[i] += 1;
            }
        }
        counts
    }

    /// Devices offline now: their last will stands, or the offline rule (G1) fires for them.
    pub fn offline_devices(&self) -> usize {
        self.devices
            .iter()
            .filter(|d| conditions::is_inhibited(&self.rules, &d.state))
            .count()
    }

    /// Each device's latest data (event time), latest sign of life (data or any message) and
    /// whether it is offline now (as [`Engine::offline_devices`] counts), for the supervisors'
    /// grid view.
    pub fn device_activity(&self) -> Vec<DeviceActivity> {
        self.devices
            .iter()
            .map(|d| DeviceActivity {
                device: d.device.id.clone(),
                last_data: d.state.last_seen(),
                last_alive: d.state.last_alive(),
                offline: conditions::is_inhibited(&self.rules, &d.state),
            })
            .collect()
    }

    /// Feeds one input and returns the alert transitions it causes (usually none).
    /// Inputs for unknown devices, and non-finite values, are ignored.
    pub fn process(&mut self, input: &Input) -> Vec<AlertEvent> {
        let mut out = Vec::new();
        match input {
            Input::Tick(now) => {
                self.tick(*now, &mut out);
                self.waste_tick(*now, &mut out);
                self.sterilizer_tick(*now, &mut out);
            }
            Input::Reading(r) => self.one_reading(r, false, &mut out),
            Input::Readings(g) => {
                // One reading whose value changes: the ids are copied once, not per value.
                let Some(&(metric, value, flag)) = g.values.first() else {
                    return out;
                };
                let mut r = Reading {
                    site: g.site.clone(),
                    device: g.device.clone(),
                    ts: g.ts,
                    metric,
                    value,
                    flag,
                    period: g.period,
                    stat: g.stat,
                    seq: g.seq,
                };
                for &(metric, value, flag) in &g.values {
                    (r.metric, r.value, r.flag) = (metric, value, flag);
                    self.one_reading(&r, true, &mut out);
                }
            }
            Input::BagIn(_) | Input::Handover(_) | Input::Disinfection(_) => {
                self.waste_event(input, &mut out)
            }
            Input::Sterilizer(e) => {
                // Events are data from the device, like readings: G1 sees it reporting.
                self.with_device(
                    &e.device,
                    e.ts,
                    |cx, dev, rules, clock, out| {
                        fresh_data(cx, dev, rules, clock, e.ts, out);
                        let st = &mut dev.state;
                        st.set_last_seen(st.last_seen().max(Some(e.ts)));
                    },
                    &mut out,
                );
                self.sterilizer_event(e, &mut out);
            }
            Input::Maintenance {
                device, ts, active, ..
            } => self.with_device(
                device,
                *ts,
                |cx, dev, rules, clock, out| {
                    fresh_data(cx, dev, rules, clock, *ts, out);
                    let st = &mut dev.state;
                    st.set_last_seen(st.last_seen().max(Some(*ts)));
                    if *active {
                        st.set_maintenance_since(st.maintenance_since().or(Some(*ts)));
                    } else {
                        st.set_maintenance_since(None);
                    }
                    status_rules(cx, dev, rules, *ts, out);
                },
                &mut out,
            ),
            Input::Heard { device, ts, .. } => self.with_device(
                device,
                *ts,
                |cx, dev, rules, clock, out| {
                    // Hearing from the device now ends an offline alert, whatever the event
                    // times of the data it sends.
                    fresh_data(cx, dev, rules, clock, *ts, out);
                    let st = &mut dev.state;
                    st.set_last_heard(st.last_heard().max(Some(*ts)));
                },
                &mut out,
            ),
            Input::Status {
                device, ts, online, ..
            } => self.with_device(
                device,
                *ts,
                |_, dev, _, _, _| {
                    dev.state
                        .set_connection_lost(if *online { None } else { Some(*ts) });
                },
                &mut out,
            ),
            Input::SensorFault {
                device,
                ts,
                metric,
                value,
                ..
            } => {
                let (lo, hi) = metric.physical_range();
                let ev = Ev {
                    metric: Some(*metric),
                    value: value.is_finite().then_some(*value),
                    limit: None,
                    detail: Some(both(
                        format!("physical range {lo}..{hi}"),
                        format!("物理量程 {}", band(*metric, lo, hi)),
                    )),
                    bounds: None,
                };
                let subject = Subject::Metric(*metric);
                self.fault(device, *ts, |b| &b.sensor_fault, subject, ev, &mut out);
            }
            Input::ClockFault {
                device, ts, detail, ..
            } => {
                // The detail comes from the validator, in English: the Chinese part says what
                // it means.
                let ev = Ev {
                    detail: Some(both(detail, "设备时间超前于接收时间，超出允许范围")),
                    ..Ev::default()
                };
                self.fault(device, *ts, |b| &b.clock, Subject::Clock, ev, &mut out);
            }
        }
        out
    }

    /// One value: the water rules (a sample's quiet values in less work, `quiet.rs`; single
    /// readings never, so that the two can be compared), then the waste store's and the
    /// sterilizer's.
    fn one_reading(&mut self, r: &Reading, of_sample: bool, out: &mut Vec<AlertEvent>) {
        if !(of_sample && self.quiet_reading(r, out)) {
            self.reading(r, out);
        }
        self.waste_reading(r, out);
        self.sterilizer_reading(r, out);
    }

    /// G3 and G4 reports: a breach at `now` of `subject` for each rule `kind` picks.
    fn fault(
        &mut self,
        device: &Id,
        now: Timestamp,
        kind: fn(&SiteRules) -> &Vec<usize>,
        subject: Subject,
        ev: Ev,
        out: &mut Vec<AlertEvent>,
    ) {
        self.with_device(
            device,
            now,
            |cx, dev, rules, _, out| {
                let (bound, _, mut em) = split(cx, rules, out, now);
                for &r in kind(bound) {
                    em.observe(
                        &mut dev.state.trackers,
                        &dev.device.id,
                        r,
                        subject,
                        breach(now),
                        ev.clone(),
                    );
                }
            },
            out,
        );
    }

    /// Runs `f` with the device, its site and the rules, then re-evaluates the site's
    /// compositions.
    fn with_device(
        &mut self,
        device: &Id,
        now: Timestamp,
        f: impl FnOnce(&mut SiteCtx, &mut DeviceCtx, &[Rule], Option<Timestamp>, &mut Vec<AlertEvent>),
        out: &mut Vec<AlertEvent>,
    ) {
        let Some(dev) = self.devices.get_mut(device) else {
            tracing::debug!(device = %device, "input for an unknown device ignored");
            return;
        };
        let Some(cx) = self.sites.at_mut(dev.site) else {
            return;
        };
        f(cx, dev, &self.rules, self.clock, out);
        compositions(cx, &self.rules, now, out);
    }
}
