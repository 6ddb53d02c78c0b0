//! The engine: binds rules to sites, routes each input to the rules bound to its device's site,
//! feeds the alert state machine (`machine.rs`) and emits lifecycle events.
//!
//! Deterministic on event time: the same inputs in the same order give the same events. Cost
//! per reading is O(rules of the site): hash lookups by device and site, no history scans.
//! Ticks walk every device once (absence, pending maturing, escalation by persistence).

use std::collections::HashMap;

use crate::event::{AlertEvent, SITE_SCOPE_DEVICE};
use crate::input::Input;
use crate::level::Level;
use crate::machine::{step, tick_step, Ev, Obs};
use crate::model::{Device, Id, Metric, Reading, Site, Timestamp};
use crate::rule::{Condition, LimitCase, Magnitude, Rule, RulePack};
use crate::state::{metric_index, DeviceState, Phase, SiteState, StuckRun, Subject, Tracker};
use crate::text::make_event;

/// Freshness window when no offline rule applies: evidence older than this neither matures a
/// pending alert nor escalates one on a tick (Default, same as G1's minimum).
const DEFAULT_STALE_SECS: i64 = 15 * 60;

/// A threshold rule bound to one site: metric and limits resolved from the site's attributes.
#[derive(Debug, Clone)]
pub(crate) struct BoundThreshold {
    pub rule: usize,
    pub metric: Metric,
    pub pending_secs: i64,
    pub limit: LimitCase,
    pub magnitude: Vec<(Level, Magnitude)>,
}

/// The rules that apply at one site, by kind.
#[derive(Debug, Clone, Default)]
pub(crate) struct SiteRules {
    pub thresholds: Vec<BoundThreshold>,
    pub offline: Vec<(usize, f64, i64)>,
    pub stuck: Vec<usize>,
    pub sensor_fault: Vec<usize>,
    pub clock: Vec<usize>,
    pub status: Vec<(usize, i64)>,
    pub all_of: Vec<usize>,
    /// Clear duration (seconds) of every rule at this site, by rule index.
    pub clear_secs: Vec<i64>,
}

#[derive(Debug, Clone)]
pub(crate) struct SiteCtx {
    pub site: Site,
    pub rules: SiteRules,
    pub state: SiteState,
}

#[derive(Debug, Clone)]
pub(crate) struct DeviceCtx {
    pub device: Device,
    pub state: DeviceState,
    /// Evidence older than this (seconds) is stale on ticks; the offline timeout.
    pub stale_secs: i64,
}

/// The rule engine. Build it with [`Engine::new`] (or [`Engine::restore`]) and feed it
/// [`Input`]s in event-time order with [`Engine::process`].
#[derive(Debug, Clone)]
pub struct Engine {
    pub(crate) pack_name: String,
    pub(crate) rules: Vec<Rule>,
    pub(crate) sites: HashMap<Id, SiteCtx>,
    pub(crate) devices: HashMap<Id, DeviceCtx>,
    /// Latest tick time.
    pub(crate) clock: Option<Timestamp>,
}

/// Shared pieces an observation needs to emit events.
struct Emit<'a> {
    rules: &'a [Rule],
    site: &'a Site,
    /// Clear duration per rule index at this site (per-site overrides applied).
    clear: &'a [i64],
    firing: &'a mut Vec<u32>,
    out: &'a mut Vec<AlertEvent>,
}

impl Engine {
    /// Builds an engine with empty state. Devices whose site is unknown are kept but no rule
    /// applies to them; a rule applies to a site when its `site_kind` and `when` match.
    pub fn new(pack: RulePack, sites: Vec<Site>, devices: Vec<Device>) -> Engine {
        let rules = pack.rules;
        let n = rules.len();
        let mut site_map = HashMap::with_capacity(sites.len());
        for site in sites {
            let bound = bind(&rules, &site);
            site_map.insert(
                site.id.clone(),
                SiteCtx {
                    site,
                    rules: bound,
                    state: SiteState {
                        firing: vec![0; n],
                        trackers: Vec::new(),
                    },
                },
            );
        }
        let mut device_map = HashMap::with_capacity(devices.len());
        for device in devices {
            let stale_secs = site_map
                .get(&device.site)
                .and_then(|s| {
                    s.rules
                        .offline
                        .iter()
                        .map(|(_, f, min)| offline_timeout(*f, *min, &device))
                        .max()
                })
                .unwrap_or(DEFAULT_STALE_SECS);
            device_map.insert(
                device.id.clone(),
                DeviceCtx {
                    device,
                    state: DeviceState::default(),
                    stale_secs,
                },
            );
        }
        Engine {
            pack_name: format!("{}@{}", pack.name, pack.version),
            rules,
            sites: site_map,
            devices: device_map,
            clock: None,
        }
    }

    /// The compiled rules, in pack order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Number of pending or open alerts (all devices and sites).
    pub fn active_alerts(&self) -> usize {
        self.devices
            .values()
            .map(|d| open_count(&d.state.trackers))
            .sum::<usize>()
            + self
                .sites
                .values()
                .map(|s| open_count(&s.state.trackers))
                .sum::<usize>()
    }

    /// Feeds one input and returns the alert transitions it causes (usually none).
    /// Inputs for unknown devices, and non-finite values, are ignored.
    pub fn process(&mut self, input: &Input) -> Vec<AlertEvent> {
        let mut out = Vec::new();
        match input {
            Input::Tick(now) => self.tick(*now, &mut out),
            Input::Reading(r) => self.reading(r, &mut out),
            Input::Maintenance {
                device, ts, active, ..
            } => self.with_device(
                device,
                *ts,
                |cx, dev, rules, clock, out| {
                    fresh_data(cx, dev, rules, clock, *ts, out);
                    let st = &mut dev.state;
                    st.last_seen = st.last_seen.max(Some(*ts));
                    if *active {
                        st.maintenance_since = st.maintenance_since.or(Some(*ts));
                    } else {
                        st.maintenance_since = None;
                    }
                    status_rules(cx, dev, rules, *ts, out);
                },
                &mut out,
            ),
            Input::Status {
                device, ts, online, ..
            } => self.with_device(
                device,
                *ts,
                |_, dev, _, _, _| {
                    dev.state.connection_lost = if *online { None } else { Some(*ts) };
                },
                &mut out,
            ),
            Input::SensorFault {
                device,
                ts,
                metric,
                value,
                ..
            } => self.with_device(
                device,
                *ts,
                |cx, dev, rules, _, out| {
                    let (lo, hi) = metric.physical_range();
                    let ev = Ev {
                        metric: Some(*metric),
                        value: value.is_finite().then_some(*value),
                        limit: None,
                        detail: Some(format!("physical range {lo}..{hi}")),
                    };
                    let obs = Obs::Breach {
                        since: *ts,
                        mag: None,
                        hold: None,
                    };
                    for &r in &cx.rules.sensor_fault {
                        let mut em = Emit {
                            rules,
                            site: &cx.site,
                            clear: &cx.rules.clear_secs,
                            firing: &mut cx.state.firing,
                            out,
                        };
                        observe(
                            &mut em,
                            &mut dev.state.trackers,
                            &dev.device.id,
                            r,
                            Subject::Metric(*metric),
                            0,
                            obs,
                            ev.clone(),
                            *ts,
                            true,
                        );
                    }
                },
                &mut out,
            ),
            Input::ClockFault {
                device, ts, detail, ..
            } => self.with_device(
                device,
                *ts,
                |cx, dev, rules, _, out| {
                    let ev = Ev {
                        detail: Some(detail.clone()),
                        ..Ev::default()
                    };
                    let obs = Obs::Breach {
                        since: *ts,
                        mag: None,
                        hold: None,
                    };
                    for &r in &cx.rules.clock {
                        let mut em = Emit {
                            rules,
                            site: &cx.site,
                            clear: &cx.rules.clear_secs,
                            firing: &mut cx.state.firing,
                            out,
                        };
                        observe(
                            &mut em,
                            &mut dev.state.trackers,
                            &dev.device.id,
                            r,
                            Subject::Clock,
                            0,
                            obs,
                            ev.clone(),
                            *ts,
                            true,
                        );
                    }
                },
                &mut out,
            ),
        }
        out
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
        let Some(cx) = self.sites.get_mut(&dev.device.site) else {
            return;
        };
        f(cx, dev, &self.rules, self.clock, out);
        compositions(cx, &self.rules, now, out);
    }

    fn reading(&mut self, r: &Reading, out: &mut Vec<AlertEvent>) {
        if !r.value.is_finite() {
            tracing::debug!(device = %r.device, "non-finite value ignored");
            return;
        }
        let now = r.ts;
        self.with_device(
            &r.device,
            now,
            |cx, dev, rules, clock, out| {
                let id = dev.device.id.clone();
                fresh_data(cx, dev, rules, clock, now, out);
                let st = &mut dev.state;
                st.last_seen = st.last_seen.max(Some(now));

                // G4: seq restart or gap; a sane reading clears the clock subject. (Readings
                // of one message share a seq, so an equal seq is in order.)
                let seq_obs = r.seq.map(|seq| {
                    let last = st.last_seq;
                    st.last_seq = Some(seq);
                    match last {
                        Some(last) if seq < last => (
                            breach(now),
                            Some(format!("seq restarted: {seq} after {last}")),
                        ),
                        Some(last) if seq > last.saturating_add(1) => (
                            breach(now),
                            Some(format!("seq gap: {} missing after {last}", seq - last - 1)),
                        ),
                        _ => (Obs::Clear, None),
                    }
                });
                for &ri in &cx.rules.clock {
                    let mut em = Emit {
                        rules,
                        site: &cx.site,
                        clear: &cx.rules.clear_secs,
                        firing: &mut cx.state.firing,
                        out,
                    };
                    if let Some((obs, detail)) = &seq_obs {
                        if detail.is_some() || has(&dev.state.trackers, ri, Subject::Seq) {
                            let ev = Ev {
                                detail: Some(detail.clone().unwrap_or_else(|| {
                                    format!("seq {} in order", r.seq.unwrap_or_default())
                                })),
                                ..Ev::default()
                            };
                            let trackers = &mut dev.state.trackers;
                            observe(
                                &mut em,
                                trackers,
                                &id,
                                ri,
                                Subject::Seq,
                                0,
                                *obs,
                                ev,
                                now,
                                true,
                            );
                        }
                    }
                    if has(&dev.state.trackers, ri, Subject::Clock) {
                        let ev = Ev {
                            detail: Some(format!("device time {now} accepted")),
                            ..Ev::default()
                        };
                        let trackers = &mut dev.state.trackers;
                        observe(
                            &mut em,
                            trackers,
                            &id,
                            ri,
                            Subject::Clock,
                            0,
                            Obs::Clear,
                            ev,
                            now,
                            true,
                        );
                    }
                }
                // G3: a valid value of the metric counts toward clearing its range fault.
                for &ri in &cx.rules.sensor_fault {
                    let ev = Ev {
                        metric: Some(r.metric),
                        value: Some(r.value),
                        ..Ev::default()
                    };
                    let mut em = Emit {
                        rules,
                        site: &cx.site,
                        clear: &cx.rules.clear_secs,
                        firing: &mut cx.state.firing,
                        out,
                    };
                    observe(
                        &mut em,
                        &mut dev.state.trackers,
                        &id,
                        ri,
                        Subject::Metric(r.metric),
                        0,
                        Obs::Clear,
                        ev,
                        now,
                        true,
                    );
                }
                // W6: flags.
                let mi = metric_index(r.metric);
                let st = &mut dev.state;
                if let Some(slot) = st.flag_since.get_mut(mi) {
                    *slot = if r.flag.is_normal() {
                        None
                    } else {
                        slot.or(Some(now))
                    };
                }
                status_rules(cx, dev, rules, now, out);

                // Values during a maintenance window are never quality evidence, even if the
                // source forgot to flag them M.
                if !r.is_quality_evidence() || dev.state.maintenance_since.is_some() {
                    return;
                }
                // G2: identical values.
                for &ri in &cx.rules.stuck {
                    let Condition::Stuck { min_secs, skip } = rules
                        .get(ri)
                        .map(|x| &x.condition)
                        .unwrap_or(&Condition::Clock)
                    else {
                        continue;
                    };
                    if r.metric.is_state() || skip.contains(&r.metric) {
                        continue;
                    }
                    let bits = r.value.to_bits();
                    let obs = match dev.state.stuck.get_mut(mi) {
                        Some(Some(run)) if run.bits == bits => {
                            if now.secs_since(run.since) >= *min_secs {
                                Obs::Breach {
                                    since: run.since,
                                    mag: None,
                                    hold: None,
                                }
                            } else {
                                Obs::Between
                            }
                        }
                        Some(slot) => {
                            *slot = Some(StuckRun { bits, since: now });
                            Obs::Clear
                        }
                        None => continue,
                    };
                    let ev = Ev {
                        metric: Some(r.metric),
                        value: Some(r.value),
                        ..Ev::default()
                    };
                    let mut em = Emit {
                        rules,
                        site: &cx.site,
                        clear: &cx.rules.clear_secs,
                        firing: &mut cx.state.firing,
                        out,
                    };
                    observe(
                        &mut em,
                        &mut dev.state.trackers,
                        &id,
                        ri,
                        Subject::Metric(r.metric),
                        0,
                        obs,
                        ev,
                        now,
                        true,
                    );
                }
                // Quality thresholds, inhibited while the device is offline.
                let inhibited = is_inhibited(rules, &dev.state);
                for b in cx.rules.thresholds.iter().filter(|b| b.metric == r.metric) {
                    let (obs, limit) = threshold_obs(
                        b,
                        rules.get(b.rule).map_or(0.0, |x| x.clear_margin),
                        r.value,
                        now,
                    );
                    let ev = Ev {
                        metric: Some(r.metric),
                        value: Some(r.value),
                        limit,
                        detail: None,
                    };
                    let mut em = Emit {
                        rules,
                        site: &cx.site,
                        clear: &cx.rules.clear_secs,
                        firing: &mut cx.state.firing,
                        out,
                    };
                    observe(
                        &mut em,
                        &mut dev.state.trackers,
                        &id,
                        b.rule,
                        Subject::None,
                        b.pending_secs,
                        obs,
                        ev,
                        now,
                        !inhibited,
                    );
                }
            },
            out,
        );
    }

    fn tick(&mut self, now: Timestamp, out: &mut Vec<AlertEvent>) {
        self.clock = self.clock.max(Some(now));
        let rules = &self.rules;
        // Deterministic order: sort device ids (ticks are rare; readings never sort).
        let mut ids: Vec<&Id> = self.devices.keys().collect();
        ids.sort();
        let ids: Vec<Id> = ids.into_iter().cloned().collect();
        for id in ids {
            let Some(dev) = self.devices.get_mut(&id) else {
                continue;
            };
            let Some(cx) = self.sites.get_mut(&dev.device.site) else {
                continue;
            };
            let st = &mut dev.state;
            let watch = *st.watch_since.get_or_insert(now);
            // G1: absence.
            for &(ri, f, min) in &cx.rules.offline {
                let timeout = offline_timeout(f, min, &dev.device);
                let base = dev.state.last_seen.unwrap_or(watch);
                if now.secs_since(base) >= timeout {
                    let ev = Ev {
                        detail: Some(format!(
                            "no data since {base}; timeout {} min",
                            timeout / 60
                        )),
                        ..Ev::default()
                    };
                    let mut em = Emit {
                        rules,
                        site: &cx.site,
                        clear: &cx.rules.clear_secs,
                        firing: &mut cx.state.firing,
                        out,
                    };
                    observe(
                        &mut em,
                        &mut dev.state.trackers,
                        &id,
                        ri,
                        Subject::None,
                        0,
                        Obs::Breach {
                            since: base,
                            mag: None,
                            hold: None,
                        },
                        ev,
                        now,
                        true,
                    );
                }
            }
            // W6: a maintenance window with no data still counts, and its end resolves.
            status_rules(cx, dev, rules, now, out);
            // Pending maturing and escalation by persistence on fresh evidence; quality
            // alerts do not start while the device is offline.
            let inhibited = is_inhibited(rules, &dev.state);
            let mut i = 0;
            while i < dev.state.trackers.len() {
                let t = &mut dev.state.trackers[i];
                let Some(rule) = rules.get(t.rule) else {
                    i += 1;
                    continue;
                };
                let own_clock = matches!(
                    rule.condition,
                    Condition::Offline { .. } | Condition::MonitorStatus { .. }
                );
                let fresh = own_clock || now.secs_since(t.last_obs) <= dev.stale_secs;
                let pending = pending_of(&cx.rules, t.rule);
                let allow_new = !(inhibited && matches!(rule.condition, Condition::Threshold(_)));
                if fresh && now >= t.last_obs {
                    if let Some((kind, reason, delta)) = tick_step(rule, pending, t, now, allow_new)
                    {
                        apply_delta(&mut cx.state.firing, t.rule, delta);
                        out.push(make_event(rules, &cx.site, &id, t, kind, now, reason));
                    }
                }
                i += 1;
            }
        }
        // Compositions at every site (cheap: counters), plus escalation of site trackers.
        let mut site_ids: Vec<Id> = self.sites.keys().cloned().collect();
        site_ids.sort();
        for sid in site_ids {
            if let Some(cx) = self.sites.get_mut(&sid) {
                compositions(cx, rules, now, out);
                for t in cx.state.trackers.iter_mut() {
                    if let Some(rule) = rules.get(t.rule) {
                        if let Some((kind, reason, delta)) = tick_step(rule, 0, t, now, true) {
                            apply_delta(&mut cx.state.firing, t.rule, delta);
                            out.push(make_event(
                                rules,
                                &cx.site,
                                SITE_SCOPE_DEVICE,
                                t,
                                kind,
                                now,
                                reason,
                            ));
                        }
                    }
                }
            }
        }
    }
}

/// Binds the pack to one site: which rules apply, with limits resolved.
fn bind(rules: &[Rule], site: &Site) -> SiteRules {
    let mut b = SiteRules {
        clear_secs: rules.iter().map(|r| r.clear_secs_at(site)).collect(),
        ..SiteRules::default()
    };
    for (i, rule) in rules.iter().enumerate() {
        if !rule.applies_to(site) {
            continue;
        }
        match &rule.condition {
            Condition::Threshold(t) => {
                let Some(metric) = t.metric.resolve(site) else {
                    continue;
                };
                let Some(limit) = t.limits.iter().find(|l| l.when.matches(site)) else {
                    continue;
                };
                let magnitude = t
                    .magnitude
                    .iter()
                    .filter(|m| m.when.matches(site))
                    .map(|m| (m.level, m.magnitude))
                    .collect();
                b.thresholds.push(BoundThreshold {
                    rule: i,
                    metric,
                    pending_secs: rule.pending_secs_at(site, t.pending_secs),
                    limit: limit.clone(),
                    magnitude,
                });
            }
            Condition::Offline {
                interval_factor,
                min_secs,
            } => b.offline.push((i, *interval_factor, *min_secs)),
            Condition::Stuck { .. } => b.stuck.push(i),
            Condition::SensorFault => b.sensor_fault.push(i),
            Condition::Clock => b.clock.push(i),
            Condition::MonitorStatus { min_secs } => b.status.push((i, *min_secs)),
            Condition::AllOf { .. } => b.all_of.push(i),
        }
    }
    b
}

/// G1 timeout in seconds: max(factor x expected interval, minimum).
pub(crate) fn offline_timeout(factor: f64, min_secs: i64, device: &Device) -> i64 {
    let by_interval = (factor * f64::from(device.expected_interval_secs)).round() as i64;
    by_interval.max(min_secs)
}

fn pending_of(rules: &SiteRules, rule: usize) -> i64 {
    rules
        .thresholds
        .iter()
        .find(|b| b.rule == rule)
        .map_or(0, |b| b.pending_secs)
}

fn apply_delta(firing: &mut [u32], rule: usize, delta: i8) {
    if let Some(c) = firing.get_mut(rule) {
        match delta {
            1 => *c = c.saturating_add(1),
            -1 => *c = c.saturating_sub(1),
            _ => {}
        }
    }
}

/// Classifies a value against a bound threshold: (observation, the limit it is measured by).
fn threshold_obs(b: &BoundThreshold, margin: f64, v: f64, now: Timestamp) -> (Obs, Option<f64>) {
    let l = &b.limit;
    let below = l.low.filter(|lo| v < *lo);
    let above = l.high.filter(|hi| v > *hi);
    let limit = below.or(above).or(match (l.low, l.high) {
        (Some(lo), Some(hi)) => Some(if (v - lo).abs() < (v - hi).abs() {
            lo
        } else {
            hi
        }),
        (lo, hi) => lo.or(hi),
    });
    if below.is_some() || above.is_some() {
        let mut mag = None;
        let mut hold = None;
        for (level, m) in &b.magnitude {
            // Once reached, a magnitude level holds until the value is back by `margin` of
            // the distance between the escalation threshold and the limit.
            let (fires, holds) = match *m {
                Magnitude::Above(x) => {
                    let gap = l.high.map_or(0.0, |hi| (x - hi).abs());
                    (v > x, v > x - gap * margin)
                }
                Magnitude::Below(x) => {
                    let gap = l.low.map_or(0.0, |lo| (lo - x).abs());
                    (v < x, v < x + gap * margin)
                }
                Magnitude::Factor(f) => match l.high {
                    Some(hi) => {
                        let x = f * hi;
                        (v > x, v > x - (x - hi).abs() * margin)
                    }
                    None => (false, false),
                },
            };
            if fires {
                mag = mag.max(Some(*level));
            }
            if holds {
                hold = hold.max(Some(*level));
            }
        }
        return (
            Obs::Breach {
                since: now,
                mag,
                hold,
            },
            limit,
        );
    }
    let clear = l.clear_low.is_none_or(|c| v >= c) && l.clear_high.is_none_or(|c| v <= c);
    (if clear { Obs::Clear } else { Obs::Between }, limit)
}

/// Whether the device is offline (last will standing, or G1 firing): its quality rules
/// start no new alerts.
fn is_inhibited(rules: &[Rule], st: &DeviceState) -> bool {
    st.connection_lost.is_some()
        || st.trackers.iter().any(|t| {
            t.phase == Phase::Firing
                && matches!(
                    rules.get(t.rule).map(|r| &r.condition),
                    Some(Condition::Offline { .. })
                )
        })
}

/// A breach observation starting now.
const fn breach(now: Timestamp) -> Obs {
    Obs::Breach {
        since: now,
        mag: None,
        hold: None,
    }
}

/// Number of pending or firing trackers.
fn open_count(trackers: &[Tracker]) -> usize {
    trackers.iter().filter(|t| t.phase != Phase::Closed).count()
}

/// Whether a tracker for (rule, subject) exists: clear-only observations need one.
fn has(trackers: &[Tracker], rule: usize, subject: Subject) -> bool {
    trackers
        .iter()
        .any(|t| t.rule == rule && t.subject == subject && t.phase != Phase::Closed)
}

/// G1: fresh data (event time within the offline timeout of the latest tick) ends an
/// offline alert; backfilled data older than that does not.
fn fresh_data(
    cx: &mut SiteCtx,
    dev: &mut DeviceCtx,
    rules: &[Rule],
    clock: Option<Timestamp>,
    now: Timestamp,
    out: &mut Vec<AlertEvent>,
) {
    for &(ri, f, min) in &cx.rules.offline {
        if !has(&dev.state.trackers, ri, Subject::None) {
            continue;
        }
        let timeout = offline_timeout(f, min, &dev.device);
        if clock.is_some_and(|c| c.secs_since(now) >= timeout) {
            continue;
        }
        let ev = Ev {
            detail: Some(format!("data again at {now}")),
            ..Ev::default()
        };
        let mut em = Emit {
            rules,
            site: &cx.site,
            clear: &cx.rules.clear_secs,
            firing: &mut cx.state.firing,
            out,
        };
        let id = dev.device.id.clone();
        observe(
            &mut em,
            &mut dev.state.trackers,
            &id,
            ri,
            Subject::None,
            0,
            Obs::Clear,
            ev,
            now,
            true,
        );
    }
}

/// W6 for one device at `now`.
fn status_rules(
    cx: &mut SiteCtx,
    dev: &mut DeviceCtx,
    rules: &[Rule],
    now: Timestamp,
    out: &mut Vec<AlertEvent>,
) {
    if cx.rules.status.is_empty() {
        return;
    }
    let since = dev.state.abnormal_since();
    if since.is_none()
        && !cx
            .rules
            .status
            .iter()
            .any(|(ri, _)| has(&dev.state.trackers, *ri, Subject::None))
    {
        return;
    }
    let detail = dev.state.abnormal_detail();
    for &(ri, min_secs) in &cx.rules.status {
        let obs = match since {
            Some(t0) if now.secs_since(t0) > min_secs => Obs::Breach {
                since: t0,
                mag: None,
                hold: None,
            },
            Some(_) => Obs::Between,
            None => Obs::Clear,
        };
        let ev = Ev {
            detail: Some(if detail.is_empty() {
                "all values flagged N".to_owned()
            } else {
                detail.clone()
            }),
            ..Ev::default()
        };
        let mut em = Emit {
            rules,
            site: &cx.site,
            clear: &cx.rules.clear_secs,
            firing: &mut cx.state.firing,
            out,
        };
        observe(
            &mut em,
            &mut dev.state.trackers,
            &dev.device.id,
            ri,
            Subject::None,
            0,
            obs,
            ev,
            now,
            true,
        );
    }
}

/// Re-evaluates the site's compositions from its firing counters.
fn compositions(cx: &mut SiteCtx, rules: &[Rule], now: Timestamp, out: &mut Vec<AlertEvent>) {
    for &ri in &cx.rules.all_of {
        let Some(Condition::AllOf { rules: parts }) = rules.get(ri).map(|r| &r.condition) else {
            continue;
        };
        let all = parts
            .iter()
            .all(|p| cx.state.firing.get(*p).is_some_and(|c| *c > 0));
        let names: Vec<&str> = parts
            .iter()
            .filter_map(|p| rules.get(*p))
            .map(|r| r.id.as_str())
            .collect();
        let obs = if all {
            Obs::Breach {
                since: now,
                mag: None,
                hold: None,
            }
        } else {
            Obs::Clear
        };
        let exists = has(&cx.state.trackers, ri, Subject::None);
        if !all && !exists {
            continue;
        }
        let ev = Ev {
            detail: Some(if all {
                format!("{} firing together", names.join(" + "))
            } else {
                format!("{} no longer all firing", names.join(" + "))
            }),
            ..Ev::default()
        };
        let mut em = Emit {
            rules,
            site: &cx.site,
            clear: &cx.rules.clear_secs,
            firing: &mut cx.state.firing,
            out,
        };
        let site_id: Id = SITE_SCOPE_DEVICE.into();
        observe(
            &mut em,
            &mut cx.state.trackers,
            &site_id,
            ri,
            Subject::None,
            0,
            obs,
            ev,
            now,
            true,
        );
    }
}

/// Feeds one observation to the tracker of (rule, subject) in `trackers`, emitting events.
#[allow(clippy::too_many_arguments)]
fn observe(
    em: &mut Emit<'_>,
    trackers: &mut Vec<Tracker>,
    device: &Id,
    rule: usize,
    subject: Subject,
    pending_secs: i64,
    obs: Obs,
    ev: Ev,
    now: Timestamp,
    allow_new: bool,
) {
    let Some(r) = em.rules.get(rule) else { return };
    let pos = trackers
        .iter()
        .position(|t| t.rule == rule && t.subject == subject);
    let mut slot = pos.map(|i| trackers.swap_remove(i));
    let clear_secs = em.clear.get(rule).copied().unwrap_or(r.clear_secs);
    let result = step(
        r,
        pending_secs,
        clear_secs,
        &mut slot,
        rule,
        subject,
        obs,
        ev,
        now,
        allow_new,
    );
    if let Some((kind, reason, delta, t)) = result {
        apply_delta(em.firing, rule, delta);
        em.out
            .push(make_event(em.rules, em.site, device, &t, kind, now, reason));
    }
    if let Some(t) = slot {
        trackers.push(t);
    }
}
