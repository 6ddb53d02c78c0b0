//! Rule kinds evaluated from more than one input: threshold classification (W1-W4), offline
//! inhibition and fresh data (G1), monitor status (W6) and site compositions (W5).

use crate::event::{AlertEvent, SITE_SCOPE_DEVICE};
use crate::machine::{Ev, Obs};
use crate::model::Timestamp;
use crate::rule::{Condition, Magnitude, Rule};
use crate::state::{DeviceState, Phase, Subject};
use crate::text::catalogue::{both, metric, time_zh};

use super::bind::{offline_timeout, BoundThreshold};
use super::close::closed_manually_at;
use super::emit::{breach, has, split};
use super::{DeviceCtx, SiteCtx};

/// Classifies a value against a bound threshold: (observation, the limit it is measured by).
pub(super) fn threshold_obs(
    b: &BoundThreshold,
    margin: f64,
    v: f64,
    now: Timestamp,
) -> (Obs, Option<f64>) {
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
pub(super) fn is_inhibited(rules: &[Rule], st: &DeviceState) -> bool {
    st.connection_lost().is_some()
        || st.trackers.iter().any(|t| {
            t.phase == Phase::Firing
                && matches!(
                    rules.get(t.rule).map(|r| &r.condition),
                    Some(Condition::Offline { .. })
                )
        })
}

/// G1: fresh data (event time within the offline timeout of the latest tick) ends an
/// offline alert; backfilled data older than that does not.
pub(super) fn fresh_data(
    cx: &mut SiteCtx,
    dev: &mut DeviceCtx,
    rules: &[Rule],
    clock: Option<Timestamp>,
    now: Timestamp,
    out: &mut Vec<AlertEvent>,
) {
    let (bound, _, mut em) = split(cx, rules, out, now);
    for &(ri, f, min) in &bound.offline {
        if !has(&dev.state.trackers, ri, Subject::None) {
            continue;
        }
        let timeout = offline_timeout(f, min, &dev.device);
        if clock.is_some_and(|c| c.secs_since(now) >= timeout) {
            continue;
        }
        let ev = Ev {
            detail: Some(both(
                format!("data again at {now}"),
                format!("{} 起恢复上报", time_zh(now)),
            )),
            ..Ev::default()
        };
        em.observe(
            &mut dev.state.trackers,
            &dev.device.id,
            ri,
            Subject::None,
            Obs::Clear,
            ev,
        );
    }
}

/// Which metrics carry a flag other than N, and whether maintenance is on, in both languages
/// (empty when neither).
fn abnormal_detail(st: &DeviceState) -> String {
    let (mut en, mut zh): (Vec<String>, Vec<String>) = st
        .abnormal_metrics()
        .map(|m| {
            (
                format!("{m} flagged"),
                format!("{}数据标记非正常", metric(m).zh),
            )
        })
        .unzip();
    if st.maintenance_since().is_some() {
        en.push("maintenance".to_owned());
        zh.push("维护中".to_owned());
    }
    if en.is_empty() {
        String::new()
    } else {
        both(en.join(", "), zh.join("、"))
    }
}

/// W6 for one device at `now`.
pub(super) fn status_rules(
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
    let detail = abnormal_detail(&dev.state);
    let (bound, _, mut em) = split(cx, rules, out, now);
    for &(ri, min_secs) in &bound.status {
        // After a manual close, the abnormal state counts again from the close.
        let since = match closed_manually_at(&dev.state.trackers, ri, Subject::None) {
            Some(c) => since.map(|t0| t0.max(c)),
            None => since,
        };
        let obs = match since {
            Some(t0) if now.secs_since(t0) > min_secs => breach(t0),
            Some(_) => Obs::Between,
            None => Obs::Clear,
        };
        let ev = Ev {
            detail: Some(if detail.is_empty() {
                both("all values flagged N", "数据标记均为正常（N）")
            } else {
                detail.clone()
            }),
            ..Ev::default()
        };
        em.observe(
            &mut dev.state.trackers,
            &dev.device.id,
            ri,
            Subject::None,
            obs,
            ev,
        );
    }
}

/// Re-evaluates the site's compositions from its firing counters.
pub(super) fn compositions(
    cx: &mut SiteCtx,
    rules: &[Rule],
    now: Timestamp,
    out: &mut Vec<AlertEvent>,
) {
    let (bound, trackers, mut em) = split(cx, rules, out, now);
    for &ri in &bound.all_of {
        let Some(Condition::AllOf { rules: parts }) = rules.get(ri).map(|r| &r.condition) else {
            continue;
        };
        let all = parts.iter().all(|p| em.is_firing(*p));
        let obs = if all { breach(now) } else { Obs::Clear };
        let exists = has(trackers, ri, Subject::None);
        // Runs after every input: nothing is built unless there is something to observe.
        if !all && !exists {
            continue;
        }
        let names: Vec<&str> = parts
            .iter()
            .filter_map(|p| rules.get(*p))
            .map(|r| r.id.as_str())
            .collect();
        let ev = Ev {
            detail: Some(if all {
                both(
                    format!("{} firing together", names.join(" + ")),
                    format!("{} 同时处于预警状态", names.join("、")),
                )
            } else {
                both(
                    format!("{} no longer all firing", names.join(" + ")),
                    format!("{} 不再同时处于预警状态", names.join("、")),
                )
            }),
            ..Ev::default()
        };
        em.observe(trackers, SITE_SCOPE_DEVICE, ri, Subject::None, obs, ev);
    }
}
