//! Medical-waste stores through the engine (rules M1-M7): `bag_in`, `handover` and
//! `disinfection` events update the store's ledger ([`crate::waste::Ledger`]); door and
//! temperature readings update the door and temperature runs; ticks expire handover grace
//! periods and re-evaluate the time-based rules (M1, M4, M5 duration, M6, M7).
//!
//! Alerts go through the same state machine, trackers and events as every other rule:
//! M1-M4 and M7 are about the whole store (site-scoped, device [`SITE_SCOPE_DEVICE`]); M5 and
//! M6 belong to the door controller or probe that reported. None has a pending phase: each
//! condition measures its own duration (bag age, time since the last handover or
//! disinfection, door open, temperature above the limit) and opens the alert with the start
//! of that duration as `started_at`. M1's level follows the age of the current oldest bag; M2's
//! the shortfall of the latest judged handover. M2 and M3 resolve at the next handover that
//! reconciles (within the limit, no ledger break); M1 when no bag is older than the
//! pre-warning age; M4 at a handover or when the store is empty; M5 when the door closes; M6
//! when the temperature is back inside the limit by the clear margin; M7 at a disinfection.

use crate::event::{AlertEvent, SITE_SCOPE_DEVICE};
use crate::input::Input;
use crate::level::Level;
use crate::machine::{Ev, Obs};
use crate::model::{Metric, Reading, SiteAttributes, Timestamp, WasteStoreSite};
use crate::rule::{Condition, Rule};
use crate::state::{Subject, Tracker};
use crate::text::catalogue::{both, duration_zh, time_en, time_zh};
use crate::waste::ledger::{BagOutcome, HandoverOutcome, Judgement, LedgerSummary};
use crate::waste::{windows, DoorState, TempState, WasteRule, WasteState};

use super::bind::SiteRules;
use super::conditions::fresh_data;
use super::emit::{breach, has, split, Emit};
use super::{Engine, SiteCtx};

/// Grace before a handover with unknown bags is judged when no M3 rule applies (Default).
const DEFAULT_GRACE_SECS: i64 = 10 * 60;
/// Bags listed in evidence (the oldest first).
const EVIDENCE_BAGS: usize = 5;

fn hours(secs: i64) -> f64 {
    (secs as f64 / 360.0).round() / 10.0
}

/// The waste rules bound at a site.
fn bound_waste<'r>(bound: &SiteRules, rules: &'r [Rule]) -> Vec<(usize, &'r Rule, &'r WasteRule)> {
    bound
        .waste
        .iter()
        .filter_map(|&ri| match rules.get(ri).map(|r| (r, &r.condition)) {
            Some((r, Condition::Waste(w))) => Some((ri, r, w)),
            _ => None,
        })
        .collect()
}

impl Engine {
    /// A `bag_in`, `handover` or `disinfection` event.
    pub(super) fn waste_event(&mut self, input: &Input, out: &mut Vec<AlertEvent>) {
        let (device, ts) = match input {
            Input::BagIn(b) => (&b.device, b.ts),
            Input::Handover(h) => (&h.device, h.ts),
            Input::Disinfection(d) => (&d.device, d.ts),
            _ => return,
        };
        self.with_device(
            device,
            ts,
            |cx, dev, rules, clock, out| {
                fresh_data(cx, dev, rules, clock, ts, out);
                let st = &mut dev.state;
                st.set_last_seen(st.last_seen().max(Some(ts)));
                if !matches!(cx.site.attributes, SiteAttributes::WasteStore(_)) {
                    return;
                }
                let mut w = cx.state.waste.take().unwrap_or_default();
                w.ledger.watch(ts);
                let grace = bound_waste(&cx.rules, rules)
                    .iter()
                    .find_map(|(_, _, c)| match c {
                        WasteRule::LedgerBreak { grace_secs } => Some(*grace_secs),
                        _ => None,
                    })
                    .unwrap_or(DEFAULT_GRACE_SECS);
                let mut judged = Vec::new();
                match input {
                    Input::BagIn(b) => {
                        let outcome = w.ledger.bag_in(b);
                        if !matches!(outcome, BagOutcome::Added) {
                            tracing::debug!(bag = %b.bag_id, ?outcome, "bag_in not added to the ledger");
                        }
                        if let BagOutcome::Reconciled(Some(j)) = outcome {
                            judged.push(j);
                        }
                    }
                    Input::Handover(h) => match w.ledger.handover(h, grace) {
                        HandoverOutcome::Judged(j) => judged.push(j),
                        other => {
                            tracing::debug!(manifest = %h.manifest_id, ?other, "handover not judged now")
                        }
                    },
                    Input::Disinfection(d) => w.ledger.disinfection(d.ts),
                    _ => {}
                }
                judged.extend(w.ledger.expire(ts));
                store_rules(cx, &w, rules, ts, &judged, out);
                cx.state.waste = Some(w);
            },
            out,
        );
    }

    /// Door (M5) and temperature (M6) readings of waste-store devices.
    pub(super) fn waste_reading(&mut self, r: &Reading, out: &mut Vec<AlertEvent>) {
        if !matches!(r.metric, Metric::DoorOpen | Metric::TemperatureC) || !r.value.is_finite() {
            return;
        }
        let now = r.ts;
        let rules = &self.rules;
        let Some(dev) = self.devices.get_mut(&r.device) else {
            return;
        };
        let Some(cx) = self.sites.at_mut(dev.site) else {
            return;
        };
        // Most sites are not waste stores: no reference to the site is taken for them.
        if !matches!(cx.site.attributes, SiteAttributes::WasteStore(_)) {
            return;
        }
        let site = cx.site.clone();
        let SiteAttributes::WasteStore(attrs) = &site.attributes else {
            return;
        };
        let bound = bound_waste(&cx.rules, rules);
        let wanted = bound.iter().any(|(_, _, c)| match c {
            WasteRule::Door { .. } => r.metric == Metric::DoorOpen,
            WasteRule::Temperature { .. } => {
                r.metric == Metric::TemperatureC && attrs.max_temp_c.is_some()
            }
            _ => false,
        });
        if !wanted {
            return;
        }
        let mut w = cx.state.waste.take().unwrap_or_default();
        w.ledger.watch(now);
        let id = dev.device.id.clone();
        {
            let (_, _, mut em) = split(cx, rules, out, now);
            let trackers = &mut dev.state.trackers;
            for (ri, rule, c) in &bound {
                match c {
                    WasteRule::Door { max_open_secs } if r.metric == Metric::DoorOpen => {
                        let d = w.door(&id, now);
                        if now < d.last {
                            continue; // older than the door's latest state
                        }
                        d.last = now;
                        if r.value >= 0.5 {
                            if d.open_since.is_none() {
                                d.open_since = Some(now);
                                d.outside_window = !windows::inside(&attrs.collection_windows, now);
                            }
                        } else {
                            d.open_since = None;
                            d.outside_window = false;
                        }
                        let (obs, ev) = door_obs(d, *max_open_secs, attrs, now);
                        em.observe(trackers, &id, *ri, Subject::None, obs, ev);
                    }
                    WasteRule::Temperature { min_secs } if r.metric == Metric::TemperatureC => {
                        let Some(limit) = attrs.max_temp_c else {
                            continue;
                        };
                        let t = w.temp(&id, now, r.value);
                        if now < t.last {
                            continue;
                        }
                        t.last = now;
                        t.value = r.value;
                        let clear = limit - limit.abs() * rule.clear_margin;
                        let obs = if r.value > limit {
                            t.above_since.get_or_insert(now);
                            temp_breach(t, *min_secs, now)
                        } else {
                            t.above_since = None;
                            if r.value <= clear {
                                Obs::Clear
                            } else {
                                Obs::Between
                            }
                        };
                        let ev = temp_ev(t, limit, *min_secs, now);
                        em.observe(trackers, &id, *ri, Subject::None, obs, ev);
                    }
                    _ => {}
                }
            }
        }
        cx.state.waste = Some(w);
    }

    /// Timers of every waste store: handover grace periods, M1, M4, M7, the door's open
    /// duration (M5) and the temperature's run (M6).
    pub(super) fn waste_tick(&mut self, now: Timestamp, out: &mut Vec<AlertEvent>) {
        let rules = &self.rules;
        // Sites in id order (deterministic).
        for cx in self.sites.values_mut() {
            if cx.rules.waste.is_empty() {
                continue;
            }
            let site = cx.site.clone();
            let SiteAttributes::WasteStore(attrs) = &site.attributes else {
                continue;
            };
            let mut w = cx.state.waste.take().unwrap_or_default();
            w.ledger.watch(now);
            let judged = w.ledger.expire(now);
            store_rules(cx, &w, rules, now, &judged, out);
            let bound = bound_waste(&cx.rules, rules);
            let (_, _, mut em) = split(cx, rules, out, now);
            for (ri, _, c) in &bound {
                match c {
                    WasteRule::Door { max_open_secs } => {
                        for d in w.doors.iter().filter(|d| d.open_since.is_some()) {
                            let Some(dev) = self.devices.get_mut(&d.device) else {
                                continue;
                            };
                            let (obs, ev) = door_obs(d, *max_open_secs, attrs, now);
                            let id = dev.device.id.clone();
                            em.observe(&mut dev.state.trackers, &id, *ri, Subject::None, obs, ev);
                        }
                    }
                    WasteRule::Temperature { min_secs } => {
                        let Some(limit) = attrs.max_temp_c else {
                            continue;
                        };
                        for t in w.temps.iter().filter(|t| t.above_since.is_some()) {
                            let Some(dev) = self.devices.get_mut(&t.device) else {
                                continue;
                            };
                            // A silent probe's last value is no evidence (G1 reports it).
                            if now.secs_since(t.last) > dev.stale_secs {
                                continue;
                            }
                            let obs = temp_breach(t, *min_secs, now);
                            let ev = temp_ev(t, limit, *min_secs, now);
                            let id = dev.device.id.clone();
                            em.observe(&mut dev.state.trackers, &id, *ri, Subject::None, obs, ev);
                        }
                    }
                    _ => {}
                }
            }
            cx.state.waste = Some(w);
        }
    }

    /// The ledger summary of waste store `site` (supervisors' API, site status); `None` for
    /// unknown sites, other kinds of site, or a store the engine has not seen yet.
    pub fn waste_summary(&self, site: &str) -> Option<LedgerSummary> {
        let cx = self.sites.at(self.sites.position(site))?;
        cx.state.waste.as_ref().map(|w| w.ledger.summary())
    }

    /// The ledger summaries of every waste store the engine has seen, by site id.
    pub fn waste_summaries(&self) -> Vec<(String, LedgerSummary)> {
        self.sites
            .iter()
            .filter_map(|cx| {
                let w = cx.state.waste.as_ref()?;
                Some((cx.site.id.to_string(), w.ledger.summary()))
            })
            .collect()
    }

    /// The waste state of `site` (ledger, doors, temperatures), for tests and tools.
    pub fn waste_state(&self, site: &str) -> Option<&WasteState> {
        let cx = self.sites.at(self.sites.position(site))?;
        cx.state.waste.as_deref()
    }
}

/// M1-M4 and M7 of one store at `now`, with the handovers judged now.
fn store_rules(
    cx: &mut SiteCtx,
    w: &WasteState,
    rules: &[Rule],
    now: Timestamp,
    judged: &[Judgement],
    out: &mut Vec<AlertEvent>,
) {
    let bound = bound_waste(&cx.rules, rules);
    let (_, trackers, mut em) = split(cx, rules, out, now);
    for (ri, rule, c) in bound {
        match c {
            WasteRule::Storage { pre_secs, levels } => {
                storage(&mut em, trackers, w, rule, ri, *pre_secs, levels, now)
            }
            WasteRule::Reconcile {
                limit_pct,
                escalate,
            } => {
                for j in judged {
                    let Some(pct) = j.shortfall_pct() else {
                        continue;
                    };
                    let ev = Ev {
                        value: Some((pct * 100.0).round() / 100.0),
                        limit: Some(*limit_pct),
                        detail: Some(manifest_text(j)),
                        ..Ev::default()
                    };
                    let obs = if pct > *limit_pct {
                        let level = escalate
                            .iter()
                            .filter(|(x, _)| pct > *x)
                            .map(|(_, l)| *l)
                            .fold(rule.level, Level::max);
                        Obs::Breach {
                            since: j.record.ts,
                            mag: Some(level),
                            hold: Some(level),
                        }
                    } else {
                        Obs::Clear
                    };
                    em.observe(trackers, SITE_SCOPE_DEVICE, ri, Subject::None, obs, ev);
                }
            }
            WasteRule::LedgerBreak { .. } => {
                for j in judged {
                    let obs = if j.is_break() {
                        breach(j.record.ts)
                    } else if j.bags.is_empty() {
                        continue; // an empty manifest proves nothing about the ledger
                    } else {
                        Obs::Clear
                    };
                    let ev = Ev {
                        value: Some((j.missing.len() + j.twice.len()) as f64),
                        detail: Some(break_text(j)),
                        ..Ev::default()
                    };
                    em.observe(trackers, SITE_SCOPE_DEVICE, ri, Subject::None, obs, ev);
                }
            }
            WasteRule::Pickup { max_secs } => {
                let oldest = w.ledger.oldest().map(|b| b.ts);
                let last = w.ledger.last_handover();
                let since = oldest.map(|o| o.max(last.map_or(o, |l| l.ts)));
                // Evidence only when it is used (a breach, or a clear of an open alert).
                let ev = |secs: i64| {
                    let kg: f64 = w.ledger.bags().iter().map(|b| b.weight_kg).sum();
                    let (last_en, last_zh) = last.map_or_else(
                        || ("no handover recorded".to_owned(), "无交接记录".to_owned()),
                        |l| {
                            (
                                format!("last handover {} at {}", l.manifest_id, time_en(l.ts)),
                                format!("上次交接 {}，{}", l.manifest_id, time_zh(l.ts)),
                            )
                        },
                    );
                    let n = w.ledger.bag_count();
                    Ev {
                        value: Some(hours(secs)),
                        limit: Some(hours(*max_secs)),
                        detail: Some(both(
                            format!("{n} bags, {kg:.2} kg in store; {last_en}"),
                            format!("在库 {n} 袋，共 {kg:.2} 千克；{last_zh}"),
                        )),
                        ..Ev::default()
                    }
                };
                match since {
                    Some(s) if now.secs_since(s) >= *max_secs => em.observe(
                        trackers,
                        SITE_SCOPE_DEVICE,
                        ri,
                        Subject::None,
                        breach(s),
                        ev(now.secs_since(s)),
                    ),
                    _ if has(trackers, ri, Subject::None) => em.observe(
                        trackers,
                        SITE_SCOPE_DEVICE,
                        ri,
                        Subject::None,
                        Obs::Clear,
                        ev(since.map_or(0, |s| now.secs_since(s))),
                    ),
                    _ => {}
                }
            }
            WasteRule::Disinfection { max_secs } => {
                let last = w.ledger.last_disinfection();
                let Some(since) = last.or(w.ledger.watch_since()) else {
                    continue;
                };
                let detail = last.map_or_else(
                    || {
                        both(
                            format!(
                                "no disinfection recorded since monitoring began at {}",
                                time_en(since)
                            ),
                            format!("自 {} 开始监测以来无消毒记录", time_zh(since)),
                        )
                    },
                    |l| {
                        both(
                            format!("last disinfection at {}", time_en(l)),
                            format!("上次消毒于 {}", time_zh(l)),
                        )
                    },
                );
                let ev = Ev {
                    value: Some(hours(now.secs_since(since))),
                    limit: Some(hours(*max_secs)),
                    detail: Some(detail),
                    ..Ev::default()
                };
                if now.secs_since(since) >= *max_secs {
                    em.observe(
                        trackers,
                        SITE_SCOPE_DEVICE,
                        ri,
                        Subject::None,
                        breach(since),
                        ev,
                    );
                } else if has(trackers, ri, Subject::None) {
                    em.observe(
                        trackers,
                        SITE_SCOPE_DEVICE,
                        ri,
                        Subject::None,
                        Obs::Clear,
                        ev,
                    );
                }
            }
            WasteRule::Door { .. } | WasteRule::Temperature { .. } => {}
        }
    }
}

/// M1: the oldest bag's age against the pre-warning and escalation ages.
#[allow(clippy::too_many_arguments)]
fn storage(
    em: &mut Emit<'_>,
    trackers: &mut Vec<Tracker>,
    w: &WasteState,
    rule: &Rule,
    ri: usize,
    pre_secs: i64,
    levels: &[(i64, Level)],
    now: Timestamp,
) {
    let oldest = w.ledger.oldest();
    let age = oldest.map_or(0, |b| now.secs_since(b.ts));
    let limit = Some(hours(pre_secs));
    match oldest {
        Some(bag) if age >= pre_secs => {
            let level = levels
                .iter()
                .filter(|(s, _)| age >= *s)
                .map(|(_, l)| *l)
                .fold(rule.level, Level::max);
            // Bags are kept oldest first.
            let old: Vec<&crate::waste::ledger::Bag> = w
                .ledger
                .bags()
                .iter()
                .take_while(|b| now.secs_since(b.ts) >= pre_secs)
                .collect();
            let kg: f64 = old.iter().map(|b| b.weight_kg).sum();
            let (list, list_zh): (Vec<String>, Vec<String>) = old
                .iter()
                .take(EVIDENCE_BAGS)
                .map(|b| {
                    let dept = w.ledger.department(b);
                    (
                        format!(
                            "{} ({}, {:.2} kg, {}in {}, {:.1} h)",
                            b.id,
                            b.category,
                            b.weight_kg,
                            dept.map_or_else(String::new, |d| format!("{d}, ")),
                            time_en(b.ts),
                            hours(now.secs_since(b.ts))
                        ),
                        format!(
                            "{}（{}，{:.2} 千克，{}{} 入库，已 {:.1} 小时）",
                            b.id,
                            b.category.name_zh(),
                            b.weight_kg,
                            dept.map_or_else(String::new, |d| format!("{d}，")),
                            time_zh(b.ts),
                            hours(now.secs_since(b.ts))
                        ),
                    )
                })
                .unzip();
            let more = old.len().saturating_sub(EVIDENCE_BAGS);
            let (more_en, more_zh) = if more > 0 {
                (format!("; and {more} more"), format!("；另有 {more} 袋"))
            } else {
                (String::new(), String::new())
            };
            let detail = both(
                format!(
                    "{} bags, {kg:.2} kg older than {} h: {}{more_en}",
                    old.len(),
                    hours(pre_secs),
                    list.join("; ")
                ),
                format!(
                    "{} 袋共 {kg:.2} 千克暂存超过 {} 小时：{}{more_zh}",
                    old.len(),
                    hours(pre_secs),
                    list_zh.join("；")
                ),
            );
            let ev = Ev {
                value: Some(hours(age)),
                limit,
                detail: Some(detail),
                ..Ev::default()
            };
            let obs = Obs::Breach {
                since: bag.ts,
                mag: Some(level),
                hold: Some(level),
            };
            em.observe(trackers, SITE_SCOPE_DEVICE, ri, Subject::None, obs, ev);
        }
        _ if has(trackers, ri, Subject::None) => {
            let detail = oldest.map_or_else(
                || both("store empty", "暂存间已清空"),
                |b| {
                    both(
                        format!("oldest bag {} in since {}", b.id, time_en(b.ts)),
                        format!("最早一袋 {} 于 {} 入库", b.id, time_zh(b.ts)),
                    )
                },
            );
            let ev = Ev {
                value: Some(hours(age)),
                limit,
                detail: Some(detail),
                ..Ev::default()
            };
            em.observe(
                trackers,
                SITE_SCOPE_DEVICE,
                ri,
                Subject::None,
                Obs::Clear,
                ev,
            );
        }
        _ => {}
    }
}

/// M5 at `now` for one door.
fn door_obs(
    d: &DoorState,
    max_open_secs: i64,
    attrs: &WasteStoreSite,
    now: Timestamp,
) -> (Obs, Ev) {
    let Some(since) = d.open_since else {
        let ev = Ev {
            metric: Some(Metric::DoorOpen),
            value: Some(0.0),
            detail: Some(both(
                format!("door closed at {}", time_en(now)),
                format!("门已于 {} 关闭", time_zh(now)),
            )),
            ..Ev::default()
        };
        return (Obs::Clear, ev);
    };
    let open = now.secs_since(since);
    let mut why = Vec::new();
    let mut why_zh = Vec::new();
    if d.outside_window {
        why.push(format!(
            "opened at {}, outside the collection windows {}",
            time_en(since),
            attrs.collection_windows.join(", ")
        ));
        why_zh.push(format!(
            "{} 开启，不在收运时段 {} 内",
            time_zh(since),
            attrs.collection_windows.join("、")
        ));
    }
    if open >= max_open_secs {
        why.push(format!(
            "open for {} min since {} (limit {} min)",
            open / 60,
            time_en(since),
            max_open_secs / 60
        ));
        why_zh.push(format!(
            "自 {} 起已开启 {}（限值 {} 分钟）",
            time_zh(since),
            duration_zh(open),
            max_open_secs / 60
        ));
    }
    let obs = if why.is_empty() {
        Obs::Between
    } else {
        breach(since)
    };
    let ev = Ev {
        metric: Some(Metric::DoorOpen),
        value: Some((open / 60) as f64),
        limit: Some((max_open_secs / 60) as f64),
        detail: (!why.is_empty()).then(|| both(why.join("; "), why_zh.join("；"))),
        bounds: None,
    };
    (obs, ev)
}

/// M6: the run above the limit is a breach once it lasted `min_secs`.
fn temp_breach(t: &TempState, min_secs: i64, now: Timestamp) -> Obs {
    match t.above_since {
        Some(since) if now.secs_since(since) >= min_secs => breach(since),
        _ => Obs::Between,
    }
}

fn temp_ev(t: &TempState, limit: f64, min_secs: i64, now: Timestamp) -> Ev {
    Ev {
        metric: Some(Metric::TemperatureC),
        value: Some(t.value),
        limit: Some(limit),
        detail: t.above_since.map(|s| {
            both(
                format!(
                    "above {limit} °C since {} ({} min; fires after {} min)",
                    time_en(s),
                    now.secs_since(s) / 60,
                    min_secs / 60
                ),
                format!(
                    "自 {} 起超过 {limit} °C（已 {}，持续 {} 分钟即预警）",
                    time_zh(s),
                    duration_zh(now.secs_since(s)),
                    min_secs / 60
                ),
            )
        }),
        bounds: None,
    }
}

/// M2 evidence: manifest, weights, difference in kg and %, the bags.
fn manifest_text(j: &Judgement) -> String {
    let intake = j.intake_kg();
    let diff = intake - j.record.weight_kg;
    let bags: Vec<String> = j
        .bags
        .iter()
        .take(EVIDENCE_BAGS * 2)
        .map(|b| format!("{} {:.2} kg", b.bag_id, b.weight_kg))
        .collect();
    let bags_zh: Vec<String> = j
        .bags
        .iter()
        .take(EVIDENCE_BAGS * 2)
        .map(|b| format!("{} {:.2} 千克", b.bag_id, b.weight_kg))
        .collect();
    let more = j.bags.len().saturating_sub(EVIDENCE_BAGS * 2);
    let pct = if intake > 0.0 {
        diff / intake * 100.0
    } else {
        0.0
    };
    let (more_en, more_zh) = if more > 0 {
        (format!(" and {more} more"), format!(" 等，另有 {more} 袋"))
    } else {
        (String::new(), String::new())
    };
    both(
        format!(
            "manifest {} (carrier {}, {}): handed over {:.2} kg, {:.2} kg at intake over {} bags, difference {:.2} kg ({:.1} %); bags {}{more_en}",
            j.record.manifest_id,
            j.record.carrier,
            time_en(j.record.ts),
            j.record.weight_kg,
            intake,
            j.bags.len(),
            diff,
            pct,
            bags.join(", "),
        ),
        format!(
            "联单 {}（收运单位 {}，{}）：交接 {:.2} 千克，{} 袋入库合计 {:.2} 千克，相差 {:.2} 千克（{:.1}%）；各袋 {}{more_zh}",
            j.record.manifest_id,
            j.record.carrier,
            time_zh(j.record.ts),
            j.record.weight_kg,
            j.bags.len(),
            intake,
            diff,
            pct,
            bags_zh.join("、"),
        ),
    )
}

/// M3 evidence: the bags that never came in or were handed over before.
fn break_text(j: &Judgement) -> String {
    let mut parts = Vec::new();
    let mut parts_zh = Vec::new();
    if !j.missing.is_empty() {
        parts.push(format!("bags never weighed in: {}", j.missing.join(", ")));
        parts_zh.push(format!("未入库称重的袋：{}", j.missing.join("、")));
    }
    if !j.twice.is_empty() {
        let twice: Vec<String> = j
            .twice
            .iter()
            .map(|(b, m)| format!("{b} (already under {m})"))
            .collect();
        let twice_zh: Vec<String> = j
            .twice
            .iter()
            .map(|(b, m)| format!("{b}（已在联单 {m} 中交接）"))
            .collect();
        parts.push(format!("bags handed over twice: {}", twice.join(", ")));
        parts_zh.push(format!("重复交接的袋：{}", twice_zh.join("、")));
    }
    if parts.is_empty() {
        parts.push(format!("all {} bags accounted for", j.bags.len()));
        parts_zh.push(format!("{} 袋均有入库记录", j.bags.len()));
    }
    both(
        format!(
            "manifest {} (carrier {}, {}): {}",
            j.record.manifest_id,
            j.record.carrier,
            time_en(j.record.ts),
            parts.join("; ")
        ),
        format!(
            "联单 {}（收运单位 {}，{}）：{}",
            j.record.manifest_id,
            j.record.carrier,
            time_zh(j.record.ts),
            parts_zh.join("；")
        ),
    )
}
