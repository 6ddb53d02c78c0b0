//! Manual resolution: a supervisor closes an open alert ([`Engine::close_alert`]), e.g. because
//! the sensor was faulty and has been replaced.
//!
//! The tracker is closed like a normal resolution (it keeps only its start, so the next alert
//! of the identity gets a new id) and additionally remembers the close time
//! ([`Tracker::closed_manually_at`](crate::state::Tracker::closed_manually_at)): evidence from
//! before the close is ignored, and conditions that must hold for a duration (G1 offline, G2
//! identical values, W6 monitor status) count that duration again from the close.

use crate::event::{AlertEvent, EventKind, SITE_SCOPE_DEVICE};
use crate::model::{Site, Timestamp};
use crate::rule::Rule;
use crate::state::{Phase, Subject, Tracker};
use crate::text::{alert_id, build_event, What};

use super::Engine;

impl Engine {
    /// Closes the open (pending or firing) alert `alert_id` by hand, as when a supervisor
    /// resolves it through the API (the delivery side of that is
    /// [`DeliveryEngine::resolve_manually`](crate::delivery::DeliveryEngine::resolve_manually)).
    ///
    /// Returns the alert's `Resolved` event: same id, rule, site, device, subject, grid, level
    /// and start as the open alert, `ts = now`, `reason` as given, the latest evidence the
    /// alert carried, and summaries saying it was resolved manually (with its last state).
    /// Returns `None`, changing nothing, when no pending or firing alert has that id (unknown,
    /// or already closed).
    ///
    /// What happens next, for the same rule, site, device and subject:
    /// - Nothing more is ever emitted for the closed id: values back to normal, or inside the
    ///   hysteresis band, neither resolve it again nor restart it; escalation by persistence
    ///   stops with it.
    /// - Evidence with an event time before `now` is ignored by the rule.
    /// - Thresholds (W1-W4): a breach at or after `now` opens a **new** alert (new id, started
    ///   at the breach) which goes pending and fires after the rule's pending duration, as
    ///   usual.
    /// - Duration conditions count again from `now`: G1 (offline) re-opens as a new alert
    ///   only if the device is still silent a full offline timeout after `now` (its start,
    ///   and escalation by persistence, count from `now`); G2 (identical values) and W6
    ///   (monitor not normal) likewise need their minimum duration again from `now`.
    /// - Conditions without a duration (G3, G4 fault reports, W5 compositions) open a new
    ///   alert at their next breach after `now`. For W5 that is the next evaluation at the
    ///   site if its components are all still firing: close the components to end it.
    /// - The firing count of the rule at the site drops at once; compositions that depend on
    ///   it are re-evaluated at the next input of the site (usually resolving there).
    ///
    /// The close is part of the engine state, so it survives [`Engine::snapshot`] and
    /// [`Engine::restore`].
    pub fn close_alert(
        &mut self,
        alert_id: &str,
        now: Timestamp,
        reason: &str,
    ) -> Option<AlertEvent> {
        let rules = &self.rules;
        for dev in self.devices.values_mut() {
            let Some(cx) = self.sites.at_mut(dev.site) else {
                continue;
            };
            let device = dev.device.id.to_string();
            if let Some(t) = find(&mut dev.state.trackers, &cx.site, &device, alert_id) {
                let event = close(
                    rules,
                    &cx.site,
                    &device,
                    t,
                    now,
                    reason,
                    &mut cx.state.firing,
                );
                return Some(event);
            }
        }
        for cx in self.sites.values_mut() {
            if let Some(t) = find(
                &mut cx.state.trackers,
                &cx.site,
                SITE_SCOPE_DEVICE,
                alert_id,
            ) {
                let event = close(
                    rules,
                    &cx.site,
                    SITE_SCOPE_DEVICE,
                    t,
                    now,
                    reason,
                    &mut cx.state.firing,
                );
                return Some(event);
            }
        }
        tracing::debug!(
            alert_id,
            "manual close of an unknown or closed alert ignored"
        );
        None
    }
}

/// The pending or firing tracker with this alert id.
fn find<'a>(
    trackers: &'a mut [Tracker],
    site: &Site,
    device: &str,
    id: &str,
) -> Option<&'a mut Tracker> {
    trackers
        .iter_mut()
        .find(|t| t.phase != Phase::Closed && alert_id(&t.rule_id, site, device, t) == id)
}

/// Closes `t` at `now` and builds its `Resolved` event.
fn close(
    rules: &[Rule],
    site: &Site,
    device: &str,
    t: &mut Tracker,
    now: Timestamp,
    reason: &str,
    firing: &mut [u32],
) -> AlertEvent {
    if t.phase == Phase::Firing {
        if let Some(c) = firing.get_mut(t.rule) {
            *c = c.saturating_sub(1);
        }
    }
    t.phase = Phase::Closed;
    t.closed_manually_at = Some(now);
    build_event(
        rules,
        site,
        device,
        t,
        EventKind::Resolved,
        now,
        reason.to_owned(),
        What::ClosedManually,
    )
}

/// When the closed tracker of (rule, subject) was closed manually, if it was: conditions
/// that must hold for a duration count it from there.
pub(super) fn closed_manually_at(
    trackers: &[Tracker],
    rule: usize,
    subject: Subject,
) -> Option<Timestamp> {
    trackers
        .iter()
        .find(|t| t.rule == rule && t.subject == subject && t.phase == Phase::Closed)
        .and_then(|t| t.closed_manually_at)
}
