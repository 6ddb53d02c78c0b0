//! A reading through the engine: G1 fresh data, G4 sequence and clock, G3 valid values, W6
//! flags, G2 identical values of watched metrics and the quality thresholds (W1-W4).

use crate::event::AlertEvent;
use crate::machine::{Ev, Obs};
use crate::model::{Metric, Reading};
use crate::rule::{Condition, Rule};
use crate::state::{metric_index, StuckRun, Subject, METRICS};
use crate::text::catalogue::{both, time_zh};

use super::close::closed_manually_at;
use super::conditions::{fresh_data, is_inhibited, status_rules, threshold_obs};
use super::emit::{breach, has, split};
use super::Engine;

impl Engine {
    pub(super) fn reading(&mut self, r: &Reading, out: &mut Vec<AlertEvent>) {
        if !r.value.is_finite() {
            tracing::debug!(device = %r.device, "non-finite value ignored");
            return;
        }
        let now = r.ts;
        self.with_device(
            &r.device,
            now,
            |cx, dev, rules, clock, out| {
                fresh_data(cx, dev, rules, clock, now, out);
                let st = &mut dev.state;
                st.set_last_seen(st.last_seen().max(Some(now)));

                // G4: seq restart or gap; a sane reading clears the clock subject. (Readings
                // of one message share a seq, so an equal seq is in order.)
                let seq_obs = r.seq.map(|seq| {
                    let last = st.last_seq();
                    st.set_last_seq(Some(seq));
                    match last {
                        Some(last) if seq < last => (
                            breach(now),
                            Some(both(
                                format!("seq restarted: {seq} after {last}"),
                                format!("数据序号回退：{last} 之后收到 {seq}（设备可能重启）"),
                            )),
                        ),
                        Some(last) if seq > last.saturating_add(1) => (
                            breach(now),
                            Some(both(
                                format!("seq gap: {} missing after {last}", seq - last - 1),
                                format!("数据序号中断：序号 {last} 之后缺失 {} 条", seq - last - 1),
                            )),
                        ),
                        _ => (Obs::Clear, None),
                    }
                });
                let (bound, _, mut em) = split(cx, rules, out, now);
                let trackers = &mut dev.state.trackers;
                for &ri in &bound.clock {
                    if let Some((obs, detail)) = &seq_obs {
                        if detail.is_some() || has(trackers, ri, Subject::Seq) {
                            let ev = Ev {
                                detail: Some(detail.clone().unwrap_or_else(|| {
                                    let seq = r.seq.unwrap_or_default();
                                    both(
                                        format!("seq {seq} in order"),
                                        format!("数据序号 {seq} 已连续"),
                                    )
                                })),
                                ..Ev::default()
                            };
                            em.observe(trackers, &dev.device.id, ri, Subject::Seq, *obs, ev);
                        }
                    }
                    if has(trackers, ri, Subject::Clock) {
                        let ev = Ev {
                            detail: Some(both(
                                format!("device time {now} accepted"),
                                format!("设备时间 {} 已正常", time_zh(now)),
                            )),
                            ..Ev::default()
                        };
                        em.observe(trackers, &dev.device.id, ri, Subject::Clock, Obs::Clear, ev);
                    }
                }
                // G3: a valid value of the metric counts toward clearing its range fault.
                for &ri in &bound.sensor_fault {
                    let ev = Ev {
                        metric: Some(r.metric),
                        value: Some(r.value),
                        ..Ev::default()
                    };
                    em.observe(
                        trackers,
                        &dev.device.id,
                        ri,
                        Subject::Metric(r.metric),
                        Obs::Clear,
                        ev,
                    );
                }
                // W6: flags.
                let mi = metric_index(r.metric);
                let st = &mut dev.state;
                let since = if r.flag.is_normal() {
                    None
                } else {
                    st.flag_since.get(mi).or(Some(now))
                };
                st.flag_since.set(mi, since);
                status_rules(cx, dev, rules, now, out);

                // Values during a maintenance window are never quality evidence, even if the
                // source forgot to flag them M.
                if !r.is_quality_evidence() || dev.state.maintenance_since().is_some() {
                    return;
                }
                let (bound, _, mut em) = split(cx, rules, out, now);
                // G2: identical values.
                for &ri in &bound.stuck {
                    let Some(min_secs) = stuck_min_secs(rules, ri, r.metric) else {
                        continue;
                    };
                    let bits = r.value.to_bits();
                    if mi >= METRICS {
                        continue;
                    }
                    let subject = Subject::Metric(r.metric);
                    let closed = closed_manually_at(&dev.state.trackers, ri, subject);
                    let obs = match dev.state.stuck.get(mi) {
                        Some(run) if run.bits == bits => {
                            // After a manual close, the run counts again from the close.
                            let since = closed.map_or(run.since, |c| run.since.max(c));
                            if now.secs_since(since) >= min_secs {
                                breach(since)
                            } else {
                                Obs::Between
                            }
                        }
                        _ => {
                            dev.state.stuck.set(mi, Some(StuckRun { bits, since: now }));
                            Obs::Clear
                        }
                    };
                    let ev = Ev {
                        metric: Some(r.metric),
                        value: Some(r.value),
                        ..Ev::default()
                    };
                    em.observe(
                        &mut dev.state.trackers,
                        &dev.device.id,
                        ri,
                        subject,
                        obs,
                        ev,
                    );
                }
                // Quality thresholds, inhibited while the device is offline.
                let inhibited = is_inhibited(rules, &dev.state);
                for b in bound.thresholds_of(r.metric) {
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
                        bounds: Some((b.limit.low, b.limit.high)),
                    };
                    em.observe_with(
                        &mut dev.state.trackers,
                        &dev.device.id,
                        b.rule,
                        Subject::None,
                        b.pending_secs,
                        obs,
                        ev,
                        !inhibited,
                    );
                }
            },
            out,
        );
    }
}

/// How long rule `ri` (G2) lets `metric` hold one value, if it watches that metric: the
/// others may hold still at their resolution.
pub(super) fn stuck_min_secs(rules: &[Rule], ri: usize, metric: Metric) -> Option<i64> {
    let Some(Condition::Stuck { watch }) = rules.get(ri).map(|x| &x.condition) else {
        return None;
    };
    watch
        .iter()
        .find(|w| w.metric == metric)
        .map(|w| w.min_secs)
}
