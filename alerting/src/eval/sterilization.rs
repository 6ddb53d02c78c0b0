//! Dental sterilizers through the engine (S1-S6): chamber samples into the open cycle,
//! cycle and test events, verdicts when a cycle's grace period has passed, and the timer
//! checks (S5 BI overdue, S6 cycle never ended). The semantics are documented in
//! [`crate::sterilization`].

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::event::AlertEvent;
use crate::machine::{Ev, Obs};
use crate::model::{DeviceKind, Id, Metric, Reading, SiteAttributes, SterilizerType, Timestamp};
use crate::rule::Rule;
use crate::state::{Phase, Subject, Tracker};
use crate::sterilization::cycle::{CycleRecord, CycleRun, Sample, Series, Verdict};
use crate::sterilization::state::{
    BdDay, BdReading, BiReading, Recall, RecallEntry, SterilizerState, SterilizerStatus,
    IMPLANTS_MAX, SEEN_BI_MAX,
};
use crate::sterilization::{
    cst_day, CycleTag, DeviceVerdict, SterilCheck, SterilParams, SterilizerEvent,
    SterilizerEventKind,
};
use crate::text::catalogue::{program_zh, time_en, time_zh};
use crate::text::sterilization::{both, cycle_text, recall_text, state_word};

use super::bind::SiteRules;
use super::emit::{breach, split, Emit};
use super::{DeviceCtx, Engine, SiteCtx};

/// The engine's sterilizer side: the pack's parameters, per-sterilizer state (created at a
/// sterilizer's first input) and the cycle records not yet taken by the caller.
#[derive(Debug, Clone, Default)]
pub(crate) struct SterilTable {
    pub params: Option<Arc<SterilParams>>,
    pub states: BTreeMap<Id, SterilizerState>,
    pub outbox: Vec<CycleRecord>,
}

/// What one sterilizer input is.
enum What<'a> {
    Sample(Sample),
    Event(&'a SterilizerEventKind),
    Tick,
}

impl Engine {
    /// Cycle records finished (or updated with a Bowie-Dick / BI result) since the last call,
    /// in order: one `sterilization_cycles` row each. Re-feeding the same inputs after a
    /// restart gives the same records (same identity: site, device, cycle id, start).
    pub fn take_cycle_records(&mut self) -> Vec<CycleRecord> {
        std::mem::take(&mut self.steril.outbox)
    }

    /// The sterilizer status of `device` (API and site status), if it is a sterilizer the
    /// engine has seen.
    pub fn sterilizer_status(&self, device: &str) -> Option<SterilizerStatus> {
        let st = self.steril.states.get(device)?;
        Some(SterilizerStatus {
            device: device.to_owned(),
            open_cycle: st
                .open
                .as_ref()
                .map(|c| (c.cycle_id.clone(), c.program, c.started_at)),
            cycles: st.recent.iter().cloned().collect(),
            last_bowie_dick: st.last_bd.clone(),
            bowie_dick: st.bd.clone(),
            last_bi: st.last_bi.clone(),
            recall: st.recall.clone(),
            unverified: st.unverified.clone(),
        })
    }

    /// The ids of the sterilizers with state, in id order.
    pub fn sterilizers(&self) -> impl Iterator<Item = &str> {
        self.steril.states.keys().map(|k| &**k)
    }

    /// A chamber sample of an autoclave (other metrics and other devices are ignored).
    pub(super) fn sterilizer_reading(&mut self, r: &Reading, out: &mut Vec<AlertEvent>) {
        let series = match r.metric {
            Metric::ChamberTempC => Series::Temp,
            Metric::ChamberPressureKpa => Series::Pressure,
            _ => return,
        };
        if !r.is_quality_evidence() || !r.value.is_finite() {
            return;
        }
        let sample = Sample {
            ts: r.ts,
            series,
            value: r.value,
        };
        self.sterilizer_input(&r.device, r.ts, What::Sample(sample), out);
    }

    /// A sterilizer event.
    pub(super) fn sterilizer_event(&mut self, e: &SterilizerEvent, out: &mut Vec<AlertEvent>) {
        self.sterilizer_input(&e.device, e.ts, What::Event(&e.kind), out);
    }

    /// Timer: verdicts whose grace period passed, S6 cycles never ended, S5 BI overdue.
    pub(super) fn sterilizer_tick(&mut self, now: Timestamp, out: &mut Vec<AlertEvent>) {
        if self.steril.params.is_none() {
            return;
        }
        let ids: Vec<Id> = self.steril.states.keys().cloned().collect();
        for id in ids {
            self.sterilizer_input(&id, now, What::Tick, out);
        }
    }

    fn sterilizer_input(
        &mut self,
        device: &str,
        now: Timestamp,
        what: What<'_>,
        out: &mut Vec<AlertEvent>,
    ) {
        let Some(params) = self.steril.params.clone() else {
            return;
        };
        let Some(dev) = self.devices.get_mut(device) else {
            return;
        };
        if dev.device.kind != DeviceKind::Autoclave {
            return;
        }
        let Some(cx) = self.sites.at_mut(dev.site) else {
            return;
        };
        let SiteAttributes::DentalSterilization(site_attrs) = cx.site.attributes else {
            return;
        };
        let is_tick = matches!(what, What::Tick);
        let st = match self.steril.states.get_mut(device) {
            Some(st) => st,
            None if is_tick => return,
            None => self.steril.states.entry(dev.device.id.clone()).or_default(),
        };
        if !is_tick {
            st.first_seen = Some(st.first_seen.map_or(now, |f| f.min(now)));
        }
        st.latest = st.latest.max(Some(now));
        let mut cxs = Ctx {
            params: &params,
            rules: &self.rules,
            cx,
            dev,
            st,
            outbox: &mut self.steril.outbox,
            out,
            now,
            prevac_site: site_attrs.sterilizer == SterilizerType::Prevac,
        };
        match what {
            What::Sample(s) => {
                if let Some(c) = cxs.st.open.as_mut().filter(|c| c.covers(s.ts)) {
                    c.add(s, &params);
                }
            }
            What::Event(kind) => cxs.event(kind),
            What::Tick => {}
        }
        cxs.settle();
        cxs.overdue_cycle();
        if is_tick && site_attrs.bi_interval_days > 0 {
            cxs.bi_overdue(i64::from(site_attrs.bi_interval_days) * 86_400);
        }
        if is_tick {
            cxs.implant_bi_overdue();
        }
        // Per-cycle identities never recur (duplicates are filtered): closed ones go.
        cxs.dev
            .state
            .trackers
            .retain(|t| !(t.phase == Phase::Closed && matches!(t.subject, Subject::Cycle(_))));
    }
}

/// Everything one sterilizer input works with.
struct Ctx<'a> {
    params: &'a SterilParams,
    rules: &'a [Rule],
    cx: &'a mut SiteCtx,
    dev: &'a mut DeviceCtx,
    st: &'a mut SterilizerState,
    outbox: &'a mut Vec<CycleRecord>,
    out: &'a mut Vec<AlertEvent>,
    now: Timestamp,
    prevac_site: bool,
}

impl Ctx<'_> {
    fn event(&mut self, kind: &SterilizerEventKind) {
        let now = self.now;
        match kind {
            SterilizerEventKind::CycleStart {
                cycle_id,
                program,
                implant_load,
            } => {
                if self.st.knows_cycle(cycle_id) {
                    return; // redelivered
                }
                if let Some(prev) = self.st.open.take() {
                    self.finish(prev);
                }
                self.st.open = Some(CycleRun::new(
                    cycle_id.clone(),
                    *program,
                    *implant_load,
                    now,
                ));
                if *implant_load && program.is_load() {
                    let waiting = &mut self.st.implants_waiting;
                    waiting.push_back((cycle_id.clone(), now));
                    while waiting.len() > IMPLANTS_MAX {
                        waiting.pop_front();
                    }
                }
                if program.is_load() {
                    let entry = RecallEntry {
                        cycle_id: cycle_id.clone(),
                        program: *program,
                        started_at: now,
                    };
                    self.st.add_unverified(entry, self.params.recall_list_max);
                }
                if *program == crate::sterilization::Program::BowieDick {
                    self.st.bd = Some(BdDay {
                        day: cst_day(now),
                        cycle_id: cycle_id.clone(),
                        cycle_pass: None,
                        sheet_pass: None,
                    });
                }
                let today = cst_day(now);
                let bd_ok = self
                    .st
                    .bd
                    .as_ref()
                    .is_some_and(|b| b.day == today && b.passed());
                if program.is_prevac_load() && self.prevac_site && !bd_ok {
                    let (last, last_zh) = match &self.st.bd {
                        Some(b) if b.day == today => (
                            format!(
                                "today's Bowie-Dick cycle {} has not passed (cycle {}, sheet {})",
                                b.cycle_id,
                                state_word(b.cycle_pass),
                                state_word(b.sheet_pass)
                            ),
                            format!(
                                "今日 B-D 测试周期 {} 尚未合格（周期 {}，测试纸 {}）",
                                b.cycle_id,
                                state_word(b.cycle_pass),
                                state_word(b.sheet_pass)
                            ),
                        ),
                        _ => (
                            "no Bowie-Dick test today".to_owned(),
                            "今日无 B-D 测试".to_owned(),
                        ),
                    };
                    let detail = both(
                        format!(
                            "pre-vacuum load {cycle_id} ({program}) started at {} without a passing Bowie-Dick test: {last}",
                            time_en(now)
                        ),
                        format!(
                            "预真空周期 {cycle_id}（{}）于北京时间 {} 开始，此前无合格 B-D 测试：{last_zh}",
                            program_zh(*program),
                            time_zh(now)
                        ),
                    );
                    self.fire(
                        |c| c == SterilCheck::NoBowieDick,
                        Subject::Cycle(CycleTag::new(cycle_id)),
                        now,
                        detail,
                    );
                }
            }
            SterilizerEventKind::CycleEnd {
                cycle_id,
                device_verdict,
            } => {
                let Some(c) = self
                    .st
                    .open
                    .as_mut()
                    .filter(|c| c.cycle_id == *cycle_id && c.ended.is_none())
                else {
                    return; // redelivered, or a cycle we never saw start
                };
                c.ended = Some((now, *device_verdict));
                if *device_verdict == DeviceVerdict::Aborted {
                    let detail = both(
                        format!(
                            "cycle {cycle_id} ({}) started {} aborted by the sterilizer",
                            c.program, c.started_at
                        ),
                        format!(
                            "周期 {cycle_id}（{}）北京时间 {} 开始，被灭菌器中止",
                            program_zh(c.program),
                            time_zh(c.started_at)
                        ),
                    );
                    self.fire(
                        |c| matches!(c, SterilCheck::Aborted { .. }),
                        Subject::Cycle(CycleTag::new(cycle_id)),
                        now,
                        detail,
                    );
                }
            }
            SterilizerEventKind::BdResult { cycle_id, pass } => {
                self.st.last_bd = Some(BdReading {
                    ts: now,
                    cycle_id: cycle_id.clone(),
                    pass: *pass,
                });
                self.link(
                    cycle_id,
                    |c| c.bd_pass = Some(*pass),
                    |r| r.bd_pass = Some(*pass),
                );
                if let Some(b) = self.st.bd.as_mut().filter(|b| b.cycle_id == *cycle_id) {
                    b.sheet_pass = Some(*pass);
                    self.bd_maybe_passed();
                }
            }
            SterilizerEventKind::BiResult {
                bi_id,
                cycle_id,
                positive,
            } => {
                if self.st.seen_bi.iter().any(|b| b == bi_id) {
                    return; // redelivered
                }
                self.st.seen_bi.push_back(bi_id.clone());
                while self.st.seen_bi.len() > SEEN_BI_MAX {
                    self.st.seen_bi.pop_front();
                }
                let reading = BiReading {
                    ts: now,
                    bi_id: bi_id.clone(),
                    cycle_id: cycle_id.clone(),
                    positive: *positive,
                };
                self.st.last_bi = Some(reading.clone());
                let bi = (bi_id.clone(), *positive);
                self.link(
                    cycle_id,
                    |c| c.bi = Some(bi.clone()),
                    |r| r.bi = Some(bi.clone()),
                );
                // S5: any BI result ends "no BI for the interval"; an implant load's own BI
                // ends that load's alert.
                let read = both(
                    format!("BI {bi_id} of cycle {cycle_id} read at {now}"),
                    format!("已读取周期 {cycle_id} 的生物指示剂 {bi_id}"),
                );
                self.st.implants_waiting.retain(|(c, _)| c != cycle_id);
                for subject in [Subject::None, Subject::Cycle(CycleTag::new(cycle_id))] {
                    self.clear_subject(|c| c == SterilCheck::BiOverdue, subject, &read);
                }
                if *positive {
                    self.st.negatives_in_row = 0;
                    let u = &self.st.unverified;
                    let recall = Recall {
                        bi: reading,
                        cycles: u.cycles.iter().cloned().collect(),
                        more: u.more,
                        since: u.since,
                    };
                    let detail = recall_text(&recall);
                    self.st.recall = Some(recall);
                    self.fire(|c| c == SterilCheck::BiPositive, Subject::None, now, detail);
                } else {
                    self.st.negatives_in_row = self.st.negatives_in_row.saturating_add(1);
                    self.st.verify_through(cycle_id);
                    if self.st.recall.is_some()
                        && self.st.negatives_in_row >= self.params.bi_negatives_to_resume
                    {
                        self.st.recall = None;
                        let detail = both(
                            format!(
                                "{} negative BIs in a row, the latest {bi_id} of cycle {cycle_id}",
                                self.st.negatives_in_row
                            ),
                            format!(
                                "连续 {} 次生物监测阴性，最近一次 {bi_id}（周期 {cycle_id}）",
                                self.st.negatives_in_row
                            ),
                        );
                        self.clear(|c| c == SterilCheck::BiPositive, detail);
                    }
                }
            }
        }
    }

    /// Applies a Bowie-Dick or BI result to its cycle: the open one, or a finished one whose
    /// record is then emitted again (same identity: the row is updated).
    fn link(
        &mut self,
        cycle_id: &str,
        open: impl FnOnce(&mut CycleRun),
        done: impl FnOnce(&mut CycleRecord),
    ) {
        if let Some(c) = self.st.open.as_mut().filter(|c| c.cycle_id == cycle_id) {
            open(c);
        } else if let Some(r) = self.st.recent.iter_mut().find(|r| r.cycle_id == cycle_id) {
            done(r);
            self.outbox.push(r.clone());
        }
    }

    /// The open cycle's verdict once its grace period has passed.
    fn settle(&mut self) {
        let due = self.st.open.as_ref().is_some_and(|c| {
            c.ended
                .is_some_and(|(end, _)| self.now >= end.plus_secs(self.params.grace_secs))
        });
        if due {
            if let Some(c) = self.st.open.take() {
                self.finish(c);
            }
        }
    }

    /// S6: the open cycle has not ended within the time limit.
    fn overdue_cycle(&mut self) {
        let Some(c) = self.st.open.as_mut() else {
            return;
        };
        if c.ended.is_some() || c.overdue_reported {
            return;
        }
        let started = c.started_at;
        let age = self.now.secs_since(started);
        let over = |check: &SterilCheck| matches!(check, SterilCheck::Aborted { max_secs } if age >= *max_secs);
        // Checked on every sample: no allocation unless a limit has passed.
        if !self.cx.rules.sterilization.iter().any(|(_, c)| over(c)) {
            return;
        }
        let over: Vec<(usize, i64)> = self
            .cx
            .rules
            .sterilization
            .iter()
            .filter(|(_, c)| over(c))
            .filter_map(|(ri, c)| match c {
                SterilCheck::Aborted { max_secs } => Some((*ri, *max_secs)),
                _ => None,
            })
            .collect();
        c.overdue_reported = true;
        let subject = Subject::Cycle(CycleTag::new(&c.cycle_id));
        let text = both(
            format!(
                "cycle {} ({}) started {} has no cycle_end after {} min",
                c.cycle_id,
                c.program,
                started,
                self.now.secs_since(started) / 60
            ),
            format!(
                "周期 {}（{}）北京时间 {} 开始，{} 分钟后仍无结束记录",
                c.cycle_id,
                program_zh(c.program),
                time_zh(started),
                self.now.secs_since(started) / 60
            ),
        );
        for (ri, max) in over {
            let ev = Ev {
                detail: Some(text.clone()),
                ..Ev::default()
            };
            let (_, _, mut em) = split(self.cx, self.rules, self.out, self.now);
            em.observe(
                &mut self.dev.state.trackers,
                &self.dev.device.id,
                ri,
                subject,
                breach(started.plus_secs(max)),
                ev,
            );
        }
    }

    /// S5 for implant loads: a load with `implant_load` whose own BI result has not arrived
    /// `implant_bi_max_secs` after its start (implants are released only after a BI pass).
    fn implant_bi_overdue(&mut self) {
        let max = self.params.implant_bi_max_secs;
        let due: Vec<(String, Timestamp)> = self
            .st
            .implants_waiting
            .iter()
            .filter(|(_, start)| self.now.secs_since(*start) >= max)
            .cloned()
            .collect();
        for (cycle_id, start) in due {
            let hours = self.now.secs_since(start) / 3600;
            let detail = both(
                format!("implant load {cycle_id} started {start} has no BI result after {hours} h"),
                format!(
                    "植入物周期 {cycle_id}（北京时间 {} 开始）{hours} 小时后仍无生物监测结果",
                    time_zh(start)
                ),
            );
            self.fire(
                |c| c == SterilCheck::BiOverdue,
                Subject::Cycle(CycleTag::new(&cycle_id)),
                start.plus_secs(max),
                detail,
            );
        }
    }

    /// S5: no BI result for the interval.
    fn bi_overdue(&mut self, interval_secs: i64) {
        let base = self
            .st
            .last_bi
            .as_ref()
            .map(|b| b.ts)
            .or(self.st.first_seen);
        let Some(base) = base else {
            return;
        };
        if self.now.secs_since(base) < interval_secs {
            return;
        }
        let (what, what_zh) = match &self.st.last_bi {
            Some(b) => (
                format!("last BI {} read at {}", b.bi_id, b.ts),
                format!("最近一次 {} 读取于北京时间 {}", b.bi_id, time_zh(b.ts)),
            ),
            None => (
                format!("no BI result since monitoring began at {base}"),
                format!("自北京时间 {} 开始监测以来无结果", time_zh(base)),
            ),
        };
        let days = self.now.secs_since(base) / 86_400;
        let detail = both(
            format!(
                "no BI result for {days} days (interval {} days): {what}",
                interval_secs / 86_400
            ),
            format!(
                "{days} 天无生物监测结果（规定每 {} 天）：{what_zh}",
                interval_secs / 86_400
            ),
        );
        self.fire(
            |c| c == SterilCheck::BiOverdue,
            Subject::None,
            base.plus_secs(interval_secs),
            detail,
        );
    }

    /// Called when the latest Bowie-Dick test just got its cycle verdict or its sheet: once
    /// both passed, the open S3 alerts resolve.
    fn bd_maybe_passed(&mut self) {
        if let Some(b) = self.st.bd.as_ref().filter(|b| b.passed()) {
            let detail = both(
                format!("Bowie-Dick cycle {} passed (cycle and sheet)", b.cycle_id),
                format!("B-D 测试周期 {} 合格（周期与测试纸）", b.cycle_id),
            );
            self.clear(|c| c == SterilCheck::NoBowieDick, detail);
        }
    }

    /// Computes a cycle's verdict and acts on it: the record, B-D bookkeeping, S1/S2/S6.
    fn finish(&mut self, mut run: CycleRun) {
        let no_end = run.ended.is_none();
        let record = run.finish(&self.cx.site.id, &self.dev.device.id, self.params, no_end);
        self.outbox.push(record.clone());
        self.st.push_recent(record.clone());
        let subject = Subject::Cycle(CycleTag::new(&record.cycle_id));
        if let Some(b) = self
            .st
            .bd
            .as_mut()
            .filter(|b| b.cycle_id == record.cycle_id)
        {
            b.cycle_pass = Some(
                record.verdict == Verdict::Pass
                    && record.device_verdict == Some(DeviceVerdict::Pass),
            );
            self.bd_maybe_passed();
        }
        let since = record.ended_at.unwrap_or(record.started_at);
        let aborted = record.device_verdict == Some(DeviceVerdict::Aborted);
        if aborted || no_end {
            // Not sterilized: no BI is due for it.
            self.st
                .implants_waiting
                .retain(|(c, _)| *c != record.cycle_id);
        }
        if aborted {
            return; // S6 fired at the cycle_end
        }
        if no_end {
            if !run.overdue_reported {
                let detail = both(
                    format!(
                        "cycle {} ({}) started {} never ended: the next cycle started at {}",
                        record.cycle_id, record.program, record.started_at, self.now
                    ),
                    format!(
                        "周期 {}（{}）无结束记录，下一周期已于北京时间 {} 开始",
                        record.cycle_id,
                        program_zh(record.program),
                        time_zh(self.now)
                    ),
                );
                self.fire(
                    |c| matches!(c, SterilCheck::Aborted { .. }),
                    subject,
                    since,
                    detail,
                );
            }
            return;
        }
        match record.verdict {
            Verdict::Fail => {
                let has_s2 = self
                    .cx
                    .rules
                    .sterilization
                    .iter()
                    .any(|(_, c)| *c == SterilCheck::FalsePass);
                let (en, zh) = cycle_text(&record);
                if record.device_verdict == Some(DeviceVerdict::Pass) && has_s2 {
                    let detail = both(
                        format!("the sterilizer reported pass, but {en}"),
                        format!("灭菌器报告合格，但{zh}"),
                    );
                    self.fire(|c| c == SterilCheck::FalsePass, subject, since, detail);
                } else {
                    self.fire(
                        |c| c == SterilCheck::CycleFailed,
                        subject,
                        since,
                        both(en, zh),
                    );
                }
            }
            Verdict::Pass => {
                let detail = both(
                    format!(
                        "cycle {} ({}) passed the computed verdict",
                        record.cycle_id, record.program
                    ),
                    format!(
                        "周期 {}（{}）计算判定合格",
                        record.cycle_id,
                        program_zh(record.program)
                    ),
                );
                self.clear(
                    |c| matches!(c, SterilCheck::CycleFailed | SterilCheck::Aborted { .. }),
                    detail,
                );
            }
            Verdict::NotEvaluated => {}
        }
    }

    /// A breach of every bound S rule whose check `pick` selects.
    fn fire(
        &mut self,
        pick: impl Fn(SterilCheck) -> bool,
        subject: Subject,
        since: Timestamp,
        detail: String,
    ) {
        let picked = picked(&self.cx.rules, &pick);
        let (_, _, mut em) = split(self.cx, self.rules, self.out, self.now);
        for ri in picked {
            let ev = Ev {
                detail: Some(detail.clone()),
                ..Ev::default()
            };
            em.observe(
                &mut self.dev.state.trackers,
                &self.dev.device.id,
                ri,
                subject,
                breach(since),
                ev,
            );
        }
    }

    /// Clears the open alert of `subject` of the S rules `pick` selects, if there is one.
    fn clear_subject(
        &mut self,
        pick: impl Fn(SterilCheck) -> bool,
        subject: Subject,
        detail: &str,
    ) {
        let picked = picked(&self.cx.rules, &pick);
        let (_, _, mut em) = split(self.cx, self.rules, self.out, self.now);
        for ri in picked {
            if open_subjects(&self.dev.state.trackers, ri).contains(&subject) {
                clear_one(&mut em, self.dev, ri, subject, detail);
            }
        }
    }

    /// Clears every open alert (any subject) of the S rules `pick` selects.
    fn clear(&mut self, pick: impl Fn(SterilCheck) -> bool, detail: String) {
        let picked = picked(&self.cx.rules, &pick);
        let (_, _, mut em) = split(self.cx, self.rules, self.out, self.now);
        for ri in picked {
            let subjects: Vec<Subject> = open_subjects(&self.dev.state.trackers, ri);
            for subject in subjects {
                clear_one(&mut em, self.dev, ri, subject, &detail);
            }
        }
    }
}

fn picked(bound: &SiteRules, pick: &impl Fn(SterilCheck) -> bool) -> Vec<usize> {
    bound
        .sterilization
        .iter()
        .filter(|(_, c)| pick(*c))
        .map(|(ri, _)| *ri)
        .collect()
}

fn open_subjects(trackers: &[Tracker], rule: usize) -> Vec<Subject> {
    trackers
        .iter()
        .filter(|t| t.rule == rule && t.phase != Phase::Closed)
        .map(|t| t.subject)
        .collect()
}

fn clear_one(em: &mut Emit<'_>, dev: &mut DeviceCtx, rule: usize, subject: Subject, detail: &str) {
    let ev = Ev {
        detail: Some(detail.to_owned()),
        ..Ev::default()
    };
    em.observe(
        &mut dev.state.trackers,
        &dev.device.id,
        rule,
        subject,
        Obs::Clear,
        ev,
    );
}
