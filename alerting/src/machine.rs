//! The alert state machine: how one observation (or a tick) moves a tracker through
//! pending -> firing -> level changes -> resolved, with hysteresis, pending and clear
//! durations, and escalation by persistence and magnitude. Pure functions of their inputs.

use crate::event::EventKind;
use crate::level::Level;
use crate::model::{Metric, Timestamp};
use crate::rule::Rule;
use crate::state::{Phase, Subject, Tracker};
use crate::text::breach_text;
use crate::text::catalogue::{LimitType, Side};

/// What a rule saw in one piece of evidence.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Obs {
    /// The condition holds, since `since`; `mag` is the level the magnitude demands and
    /// `hold` the level the magnitude keeps (with the clear margin) once reached.
    Breach {
        since: Timestamp,
        mag: Option<Level>,
        hold: Option<Level>,
    },
    /// Neither breaching nor clear (inside the hysteresis band, or not yet long enough).
    Between,
    /// The clear condition holds.
    Clear,
}

/// Evidence to record on the tracker.
#[derive(Debug, Clone, Default)]
pub(crate) struct Ev {
    pub metric: Option<Metric>,
    pub value: Option<f64>,
    pub limit: Option<f64>,
    pub detail: Option<String>,
    /// Threshold rules: the limits at the site, `(low, high)`.
    pub bounds: Option<(Option<f64>, Option<f64>)>,
}

/// Keeps the worst breaching value of a threshold alert: the value furthest past the limit it
/// breaches (the upper limit for a value above a band, the lower one below it).
fn note_worst(t: &mut Tracker) {
    let (Some(v), Some(limits)) = (t.value, LimitType::of(t.low, t.high)) else {
        return;
    };
    let excess = |v: f64| match limits.side_of(v) {
        Some(Side::Above) => v - t.high.unwrap_or(v),
        Some(Side::Below) => t.low.unwrap_or(v) - v,
        None => f64::NEG_INFINITY,
    };
    if t.worst.is_none_or(|w| excess(v) > excess(w)) && excess(v) > f64::NEG_INFINITY {
        t.worst = Some(v);
    }
}

/// Level an open alert should have at `now`.
pub(crate) fn level_at(rule: &Rule, t: &Tracker, now: Timestamp) -> Level {
    let mut level = rule.level;
    for (after, l) in &rule.escalate_after {
        if now.secs_since(t.started_at) >= *after {
            level = level.max(*l);
        }
    }
    level.max(t.mag_level.unwrap_or(rule.level))
}

pub(crate) type Transition = (EventKind, String, i8, Tracker);

/// The alert state machine for one observation.
#[allow(clippy::too_many_arguments)]
pub(crate) fn step(
    rule: &Rule,
    pending_secs: i64,
    clear_secs: i64,
    slot: &mut Option<Tracker>,
    rule_idx: usize,
    subject: Subject,
    obs: Obs,
    ev: Ev,
    now: Timestamp,
    allow_new: bool,
) -> Option<Transition> {
    // A closed tracker only remembers its start, so a new alert of the identity starts later
    // and gets a new id even when event time went backwards.
    // A manually closed one also ignores evidence from before the close, and the next alert
    // starts no earlier than the close.
    let (floor, closed_at) = match slot.as_ref() {
        Some(t) if t.phase == Phase::Closed => {
            if !matches!(obs, Obs::Breach { .. }) || !allow_new {
                return None;
            }
            if t.closed_manually_at.is_some_and(|c| now < c) {
                return None;
            }
            let floor = (t.started_at, t.closed_manually_at);
            *slot = None;
            (Some(floor.0), floor.1)
        }
        _ => (None, None),
    };
    let Some(t) = slot.as_mut() else {
        let Obs::Breach { since, mag, .. } = obs else {
            return None;
        };
        if !allow_new {
            return None;
        }
        let mut started_at = since.min(now);
        if let Some(c) = closed_at {
            started_at = started_at.max(c);
        }
        if let Some(f) = floor.filter(|f| started_at <= *f) {
            started_at = Timestamp(f.0.saturating_add(1));
        }
        let mut t = Tracker {
            rule: rule_idx,
            rule_id: rule.id.clone(),
            subject,
            phase: Phase::Pending,
            started_at,
            level: rule.level,
            mag_level: mag,
            last_obs: now,
            held_since: Some(started_at),
            clear_since: None,
            metric: ev.metric,
            value: ev.value,
            limit: ev.limit,
            detail: ev.detail,
            low: ev.bounds.and_then(|b| b.0),
            high: ev.bounds.and_then(|b| b.1),
            worst: None,
            closed_manually_at: None,
        };
        if matches!(obs, Obs::Breach { .. }) {
            note_worst(&mut t);
        }
        let held = now.secs_since(started_at);
        let (kind, reason) = if held >= pending_secs {
            t.phase = Phase::Firing;
            t.level = level_at(rule, &t, now);
            (
                EventKind::Firing,
                format!("{} (held {} min)", breach_text(rule, &t), held / 60),
            )
        } else {
            (
                EventKind::Pending,
                format!(
                    "{}; fires if it holds {} min",
                    breach_text(rule, &t),
                    pending_secs / 60
                ),
            )
        };
        let delta = if t.phase == Phase::Firing { 1 } else { 0 };
        *slot = Some(t.clone());
        return Some((kind, reason, delta, t));
    };
    if now < t.last_obs {
        return None; // older than what the rule already saw: ignored
    }
    t.last_obs = now;
    if ev.metric.is_some() {
        t.metric = ev.metric;
    }
    if ev.value.is_some() {
        t.value = ev.value;
    }
    if ev.limit.is_some() {
        t.limit = ev.limit;
    }
    if ev.detail.is_some() {
        t.detail = ev.detail;
    }
    if let Some((low, high)) = ev.bounds {
        (t.low, t.high) = (low, high);
    }
    if matches!(obs, Obs::Breach { .. }) {
        note_worst(t);
    }
    match (t.phase, obs) {
        (Phase::Closed, _) => None, // handled above; kept for exhaustiveness
        (Phase::Pending, Obs::Clear) => {
            // The pending run is broken; the pending alert itself is withdrawn only after the
            // clear condition held for the clear duration (no pending/resolved flapping).
            t.held_since = None;
            let since = *t.clear_since.get_or_insert(now);
            if now.secs_since(since) >= clear_secs {
                t.phase = Phase::Closed;
                let reason = format!(
                    "condition did not hold for the pending {} min; clear for {} min",
                    pending_secs / 60,
                    now.secs_since(since) / 60
                );
                return Some((EventKind::Resolved, reason, 0, t.clone()));
            }
            None
        }
        (Phase::Pending, _) => {
            if let Obs::Breach { mag, .. } = obs {
                t.mag_level = mag;
            }
            t.clear_since = None;
            let held_since = *t.held_since.get_or_insert(now);
            let held = now.secs_since(held_since);
            if allow_new && held >= pending_secs {
                t.phase = Phase::Firing;
                t.level = level_at(rule, t, now);
                let reason = format!("{} (held {} min)", breach_text(rule, t), held / 60);
                return Some((EventKind::Firing, reason, 1, t.clone()));
            }
            None
        }
        (Phase::Firing, Obs::Clear) => {
            let since = *t.clear_since.get_or_insert(now);
            if now.secs_since(since) >= clear_secs {
                t.phase = Phase::Closed;
                let reason = format!("clear condition held {} min", now.secs_since(since) / 60);
                return Some((EventKind::Resolved, reason, -1, t.clone()));
            }
            None
        }
        (Phase::Firing, obs) => {
            t.clear_since = None;
            let (mag, hold) = match obs {
                Obs::Breach { mag, hold, .. } => (mag, hold),
                _ => (None, None),
            };
            let kept = match (t.mag_level, hold) {
                (Some(c), Some(h)) => Some(c.min(h)),
                _ => None,
            };
            t.mag_level = mag.max(kept);
            relevel(rule, t, now)
        }
    }
}

/// Recomputes the level of a firing tracker; a LevelChanged transition when it moved.
pub(crate) fn relevel(rule: &Rule, t: &mut Tracker, now: Timestamp) -> Option<Transition> {
    let level = level_at(rule, t, now);
    if level == t.level {
        return None;
    }
    let dir = if level > t.level { "up" } else { "down" };
    let why = if t.mag_level == Some(level) {
        "by magnitude".to_owned()
    } else if level > rule.level {
        format!(
            "condition persisted {} min",
            now.secs_since(t.started_at) / 60
        )
    } else {
        "magnitude back within bounds".to_owned()
    };
    let reason = format!(
        "level {} -> {} ({dir}, {why}): {}",
        t.level,
        level,
        breach_text(rule, t)
    );
    t.level = level;
    Some((EventKind::LevelChanged, reason, 0, t.clone()))
}

/// Tick: pending maturing and escalation by persistence, no new evidence.
pub(crate) fn tick_step(
    rule: &Rule,
    pending_secs: i64,
    t: &mut Tracker,
    now: Timestamp,
    allow_new: bool,
) -> Option<(EventKind, String, i8)> {
    match t.phase {
        Phase::Pending => {
            let held_since = t.held_since?;
            let held = now.secs_since(held_since);
            if allow_new && held >= pending_secs {
                t.phase = Phase::Firing;
                t.level = level_at(rule, t, now);
                return Some((
                    EventKind::Firing,
                    format!(
                        "{} (held {} min, confirmed at tick)",
                        breach_text(rule, t),
                        held / 60
                    ),
                    1,
                ));
            }
            None
        }
        Phase::Firing if t.clear_since.is_none() => {
            relevel(rule, t, now).map(|(k, r, d, _)| (k, r, d))
        }
        Phase::Firing | Phase::Closed => None,
    }
}
