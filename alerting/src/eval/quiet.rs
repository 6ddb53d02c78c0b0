//! The usual value of a sample: a device with no tracker (no alert open, pending, clearing or
//! remembered) sends a value that starts nothing. Its state moves on (last seen, seq, flag,
//! identical-value run) and the site's compositions are looked at again, without observing
//! the rules one by one only to find that they have nothing to observe. That is what
//! [`Engine::reading`] does for such a value, in about half the work; anything else (a
//! tracker, a seq gap, a flag, maintenance, a value that breaches a threshold or completes an
//! identical run) is left to it, untouched.
//!
//! Only samples ([`crate::Input::Readings`]) take this path. Single readings always go through
//! [`Engine::reading`], and `a_sample_at_once_is_its_values_one_by_one` (tests/props.rs)
//! holds the two to the same events and the same state.

use crate::event::AlertEvent;
use crate::machine::Obs;
use crate::model::Reading;
use crate::state::{metric_index, StuckRun, METRICS};

use super::conditions::{compositions, threshold_obs};
use super::reading::stuck_min_secs;
use super::Engine;

impl Engine {
    /// Judges `r` if it is a quiet value (`true`); otherwise changes nothing (`false`) and
    /// [`Engine::reading`] must judge it.
    pub(super) fn quiet_reading(&mut self, r: &Reading, out: &mut Vec<AlertEvent>) -> bool {
        if !r.value.is_finite() || !r.flag.is_normal() {
            return false;
        }
        let now = r.ts;
        let Some(dev) = self.devices.get_mut(&r.device) else {
            return false;
        };
        // No tracker: G1 fresh data, the clock subject, G3's clear and every clear-only
        // observation have nothing to act on.
        if !dev.state.trackers.is_empty() {
            return false;
        }
        let Some(cx) = self.sites.at_mut(dev.site) else {
            return false;
        };
        let (rules, bound, st) = (&self.rules, &cx.rules, &dev.state);
        // G4: a seq gap or restart is a breach.
        if let (Some(seq), Some(last)) = (r.seq, st.last_seq()) {
            if seq < last || seq > last.saturating_add(1) {
                return false;
            }
        }
        // W6: nothing flagged and no maintenance, before this value and after it.
        if st.abnormal_since().is_some() {
            return false;
        }
        let mi = metric_index(r.metric);
        let mut run = None;
        if r.is_quality_evidence() {
            // G2: the identical-value run goes on or starts again; completing it is a breach.
            if mi < METRICS {
                let mut current = st.stuck.get(mi);
                for &ri in &bound.stuck {
                    let Some(min_secs) = stuck_min_secs(rules, ri, r.metric) else {
                        continue;
                    };
                    let bits = r.value.to_bits();
                    match current {
                        Some(c) if c.bits == bits => {
                            if now.secs_since(c.since) >= min_secs {
                                return false;
                            }
                        }
                        _ => {
                            current = Some(StuckRun { bits, since: now });
                            run = current;
                        }
                    }
                }
            }
            // Quality thresholds: a breach opens an alert unless the device is offline
            // (without a tracker, only its last will says so).
            if st.connection_lost().is_none() {
                for b in bound.thresholds_of(r.metric) {
                    let margin = rules.get(b.rule).map_or(0.0, |x| x.clear_margin);
                    if matches!(threshold_obs(b, margin, r.value, now).0, Obs::Breach { .. }) {
                        return false;
                    }
                }
            }
        }
        let st = &mut dev.state;
        st.set_last_seen(st.last_seen().max(Some(now)));
        if r.seq.is_some() {
            st.set_last_seq(r.seq);
        }
        // W6: nothing was flagged (checked above), so the value's normal flag changes nothing.
        if let Some(run) = run {
            st.stuck.set(mi, Some(run));
        }
        compositions(cx, &self.rules, now, out);
        true
    }
}
