//! A tick through the engine: G1 absence, W6 maintenance without data, pending maturing and
//! escalation by persistence on fresh evidence, then compositions and site escalation.

use crate::event::{AlertEvent, SITE_SCOPE_DEVICE};
use crate::machine::{tick_step, Ev};
use crate::model::Timestamp;
use crate::rule::Condition;
use crate::state::Subject;
use crate::text::catalogue::{both, time_zh};

use super::bind::{offline_timeout, pending_of};
use super::close::closed_manually_at;
use super::conditions::{compositions, is_inhibited, status_rules};
use super::emit::{breach, split};
use super::Engine;

impl Engine {
    pub(super) fn tick(&mut self, now: Timestamp, out: &mut Vec<AlertEvent>) {
        self.clock = self.clock.max(Some(now));
        let rules = &self.rules;
        // Deterministic order: the device table is sorted by id.
        for i in 0..self.devices.len() {
            let Some(dev) = self.devices.at_mut(i) else {
                continue;
            };
            let id = dev.device.id.clone();
            let Some(cx) = self.sites.at_mut(dev.site) else {
                continue;
            };
            let st = &mut dev.state;
            let watch = st.watch_since().unwrap_or(now);
            st.set_watch_since(Some(watch));
            // G1: absence.
            let (bound, _, mut em) = split(cx, rules, out, now);
            for &(ri, f, min) in &bound.offline {
                let timeout = offline_timeout(f, min, &dev.device);
                // Alive: the latest data's event time, or the latest message's receive time
                // (a backlog of backdated readings is a device that is talking).
                let last = dev.state.last_alive().unwrap_or(watch);
                // After a manual close, absence counts again from the close.
                let base = closed_manually_at(&dev.state.trackers, ri, Subject::None)
                    .map_or(last, |c| last.max(c));
                if now.secs_since(base) >= timeout {
                    let ev = Ev {
                        detail: Some(both(
                            format!("no data since {last}; timeout {} min", timeout / 60),
                            format!(
                                "最后数据时间 {}，超时阈值 {} 分钟",
                                time_zh(last),
                                timeout / 60
                            ),
                        )),
                        ..Ev::default()
                    };
                    let trackers = &mut dev.state.trackers;
                    em.observe(trackers, &id, ri, Subject::None, breach(base), ev);
                }
            }
            // W6: a maintenance window with no data still counts, and its end resolves.
            status_rules(cx, dev, rules, now, out);
            // Pending maturing and escalation by persistence on fresh evidence; quality
            // alerts do not start while the device is offline.
            let inhibited = is_inhibited(rules, &dev.state);
            let (bound, _, mut em) = split(cx, rules, out, now);
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
                let pending = pending_of(bound, t.rule);
                let allow_new = !(inhibited && matches!(rule.condition, Condition::Threshold(_)));
                if fresh && now >= t.last_obs {
                    if let Some((kind, reason, delta)) = tick_step(rule, pending, t, now, allow_new)
                    {
                        em.transition(&id, t, kind, reason, delta);
                    }
                }
                i += 1;
            }
        }
        // Compositions at every site (cheap: counters), plus escalation of site trackers.
        // In id order: the site table is sorted by id.
        for cx in self.sites.values_mut() {
            compositions(cx, rules, now, out);
            let (_, trackers, mut em) = split(cx, rules, out, now);
            for t in trackers.iter_mut() {
                if let Some(rule) = rules.get(t.rule) {
                    if let Some((kind, reason, delta)) = tick_step(rule, 0, t, now, true) {
                        em.transition(SITE_SCOPE_DEVICE, t, kind, reason, delta);
                    }
                }
            }
        }
    }
}
