//! Emitting events: feeding observations to trackers and turning their transitions into
//! [`AlertEvent`]s, with the site's firing counters kept in step.

use crate::event::{AlertEvent, EventKind};
use crate::machine::{step, Ev, Obs};
use crate::model::{Site, Timestamp};
use crate::rule::Rule;
use crate::state::{Phase, Subject, Tracker};
use crate::text::make_event;

use super::bind::SiteRules;
use super::SiteCtx;

/// Shared pieces an observation needs to emit events.
pub(super) struct Emit<'a> {
    rules: &'a [Rule],
    site: &'a Site,
    /// Clear duration per rule index at this site (per-site overrides applied).
    clear: &'a [i64],
    firing: &'a mut Vec<u32>,
    out: &'a mut Vec<AlertEvent>,
    /// Event time of the observations.
    now: Timestamp,
}

/// Splits a site into the rules bound to it, its site-scoped trackers and an emitter for
/// events at `now`.
pub(super) fn split<'a>(
    cx: &'a mut SiteCtx,
    rules: &'a [Rule],
    out: &'a mut Vec<AlertEvent>,
    now: Timestamp,
) -> (&'a SiteRules, &'a mut Vec<Tracker>, Emit<'a>) {
    let SiteCtx {
        site,
        rules: bound,
        state,
    } = cx;
    let bound: &'a SiteRules = bound;
    let em = Emit {
        rules,
        site,
        clear: &bound.clear_secs,
        firing: &mut state.firing,
        out,
        now,
    };
    (bound, &mut state.trackers, em)
}

impl Emit<'_> {
    /// Feeds one observation with no pending duration that may open a tracker.
    pub(super) fn observe(
        &mut self,
        trackers: &mut Vec<Tracker>,
        device: &str,
        rule: usize,
        subject: Subject,
        obs: Obs,
        ev: Ev,
    ) {
        self.observe_with(trackers, device, rule, subject, 0, obs, ev, true);
    }

    /// Feeds one observation to the tracker of (rule, subject) in `trackers`, emitting events.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn observe_with(
        &mut self,
        trackers: &mut Vec<Tracker>,
        device: &str,
        rule: usize,
        subject: Subject,
        pending_secs: i64,
        obs: Obs,
        ev: Ev,
        allow_new: bool,
    ) {
        let pos = trackers
            .iter()
            .position(|t| t.rule == rule && t.subject == subject);
        // Without a tracker, only a breach that may open one does anything (`step`): most
        // observations of a healthy device end here.
        if pos.is_none() && !(allow_new && matches!(obs, Obs::Breach { .. })) {
            return;
        }
        let Some(r) = self.rules.get(rule) else {
            return;
        };
        let mut slot = pos.map(|i| trackers.swap_remove(i));
        let clear_secs = self.clear.get(rule).copied().unwrap_or(r.clear_secs);
        let result = step(
            r,
            pending_secs,
            clear_secs,
            &mut slot,
            rule,
            subject,
            obs,
            ev,
            self.now,
            allow_new,
        );
        if let Some((kind, reason, delta, t)) = result {
            self.transition(device, &t, kind, reason, delta);
        }
        if let Some(t) = slot {
            trackers.push(t);
        }
    }

    /// Whether the rule has at least one firing alert at the site.
    pub(super) fn is_firing(&self, rule: usize) -> bool {
        self.firing.get(rule).is_some_and(|c| *c > 0)
    }

    /// Records a tracker's transition: adjusts the firing counter and emits its event.
    pub(super) fn transition(
        &mut self,
        device: &str,
        t: &Tracker,
        kind: EventKind,
        reason: String,
        delta: i8,
    ) {
        crate::state::add_firing(self.firing, t.rule, self.rules.len(), delta);
        self.out.push(make_event(
            self.rules, self.site, device, t, kind, self.now, reason,
        ));
    }
}

/// A breach observation starting at `since`.
pub(super) const fn breach(since: Timestamp) -> Obs {
    Obs::Breach {
        since,
        mag: None,
        hold: None,
    }
}

/// Number of pending or firing trackers.
pub(super) fn open_count(trackers: &[Tracker]) -> usize {
    trackers.iter().filter(|t| t.phase != Phase::Closed).count()
}

/// Whether a tracker for (rule, subject) exists: clear-only observations need one.
pub(super) fn has(trackers: &[Tracker], rule: usize, subject: Subject) -> bool {
    trackers
        .iter()
        .any(|t| t.rule == rule && t.subject == subject && t.phase != Phase::Closed)
}
