//! Compiling one raw rule into a typed [`Rule`]: durations, escalations, per-site overrides
//! and the kind's condition, with a check that no key unused by the kind is given.

use toml::Spanned;

use super::compiled::{
    Condition, DurationOverride, LimitCase, Magnitude, MagnitudeEscalation, MetricSel, Rule,
    Selector, Threshold,
};
use super::config::{RawEscalate, RawKind, RawLimit, RawMetricFrom, RawNum, RawRule};
use super::error::Errors;
use super::numbers::{mins, num};
use crate::model::Metric;
use crate::provenance::NumberNote;

/// The pack's `[defaults]`, for rules that do not set their own.
#[derive(Debug, Clone)]
pub(super) struct RuleDefaults {
    pub clear_mins: Option<f64>,
    pub clear_margin_pct: Option<f64>,
}

/// Reports the keys a rule gives that its kind does not use.
struct Unused<'p> {
    kind: RawKind,
    path: &'p str,
    /// The rule's span, for keys without one of their own.
    at: Option<std::ops::Range<usize>>,
}

impl Unused<'_> {
    /// A key reported at the rule.
    fn key<T>(&self, field: &Option<T>, name: &str, errs: &mut Errors<'_>) {
        self.report(field, name, self.at.clone(), errs);
    }

    /// A `[[rule.<name>]]` list reported at the rule when not empty.
    fn list<T>(&self, items: &[T], name: &str, errs: &mut Errors<'_>) {
        self.report(&items.first(), name, self.at.clone(), errs);
    }

    /// A number reported at its own line (at the rule when it has no span).
    fn num(&self, field: &Option<Spanned<RawNum>>, name: &str, errs: &mut Errors<'_>) {
        let line = field.as_ref().map(Spanned::span).or(self.at.clone());
        self.report(field, name, line, errs);
    }

    fn report<T>(
        &self,
        field: &Option<T>,
        name: &str,
        line: Option<std::ops::Range<usize>>,
        errs: &mut Errors<'_>,
    ) {
        if field.is_some() {
            errs.at(
                line,
                &format!("{}.{name}", self.path),
                format!("not used by kind {:?}; remove it", self.kind),
            );
        }
    }
}

pub(super) fn compile_rule(
    raw: &RawRule,
    path: &str,
    span: &std::ops::Range<usize>,
    ids: &[String],
    defaults: &RuleDefaults,
    errs: &mut Errors<'_>,
) -> Option<Rule> {
    let before = errs.list.len();
    let kind = *raw.kind.get_ref();
    let at = Some(span.clone());
    let mut notes = Vec::new();
    let level = *raw.level.get_ref();
    if raw.id.get_ref().is_empty() {
        errs.at(
            Some(raw.id.span()),
            &format!("{path}.id"),
            "must not be empty",
        );
    }

    let clear_secs = match &raw.clear_mins {
        Some(_) => mins(
            &raw.clear_mins,
            &format!("{path}.clear_mins"),
            errs,
            &mut notes,
        ),
        None => defaults.clear_mins.map(|m| (m * 60.0).round() as i64),
    }
    .unwrap_or(0);
    let margin_pct = match &raw.clear_margin_pct {
        Some(_) => num(
            &raw.clear_margin_pct,
            &format!("{path}.clear_margin_pct"),
            errs,
            &mut notes,
        ),
        None => defaults.clear_margin_pct,
    }
    .unwrap_or(0.0);
    if !(0.0..100.0).contains(&margin_pct) {
        errs.at(
            at.clone(),
            &format!("{path}.clear_margin_pct"),
            "must be in 0..100",
        );
    }
    let clear_margin = margin_pct / 100.0;

    // Persistence escalations apply to every kind; magnitude ones only to thresholds.
    let mut escalate_after = Vec::new();
    let mut magnitude = Vec::new();
    for (j, e) in raw.escalate.iter().enumerate() {
        let ep = format!("{path}.escalate[{j}]");
        let esc: &RawEscalate = e.get_ref();
        let elevel = *esc.level.get_ref();
        if elevel <= level {
            errs.at(
                Some(esc.level.span()),
                &format!("{ep}.level"),
                format!("must be more severe than the rule level {level}"),
            );
        }
        let given = [
            esc.after_mins.is_some(),
            esc.above.is_some(),
            esc.below.is_some(),
            esc.factor.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if given != 1 {
            errs.at(
                Some(e.span()),
                &ep,
                "give exactly one of after_mins, above, below, factor",
            );
            continue;
        }
        if esc.after_mins.is_some() {
            if esc.when.is_some() {
                errs.at(
                    Some(e.span()),
                    &format!("{ep}.when"),
                    "only magnitude escalations can be selected by site",
                );
            }
            if let Some(s) = mins(
                &esc.after_mins,
                &format!("{ep}.after_mins"),
                errs,
                &mut notes,
            ) {
                escalate_after.push((s, elevel));
            }
            continue;
        }
        if kind != RawKind::Threshold && kind != RawKind::WasteReconcile {
            errs.at(
                Some(e.span()),
                &ep,
                "escalation by magnitude is only for kind threshold",
            );
            continue;
        }
        let m = if esc.above.is_some() {
            num(&esc.above, &format!("{ep}.above"), errs, &mut notes).map(Magnitude::Above)
        } else if esc.below.is_some() {
            num(&esc.below, &format!("{ep}.below"), errs, &mut notes).map(Magnitude::Below)
        } else {
            match num(&esc.factor, &format!("{ep}.factor"), errs, &mut notes) {
                Some(f) if f > 1.0 => Some(Magnitude::Factor(f)),
                Some(_) => {
                    errs.at(
                        Some(e.span()),
                        &format!("{ep}.factor"),
                        "must be greater than 1",
                    );
                    None
                }
                None => None,
            }
        };
        if let Some(m) = m {
            magnitude.push(MagnitudeEscalation {
                when: Selector::from_raw(esc.when.as_ref()),
                level: elevel,
                magnitude: m,
            });
        }
    }

    let mut overrides = Vec::new();
    for (j, o) in raw.site_override.iter().enumerate() {
        let op = format!("{path}.site_override[{j}]");
        let ov = o.get_ref();
        if ov.pending_mins.is_none() && ov.clear_mins.is_none() {
            errs.at(Some(o.span()), &op, "give pending_mins, clear_mins or both");
        }
        if ov.pending_mins.is_some() && kind != RawKind::Threshold {
            errs.at(
                Some(o.span()),
                &format!("{op}.pending_mins"),
                "only threshold rules have a pending duration",
            );
        }
        let pending_secs = mins(
            &ov.pending_mins,
            &format!("{op}.pending_mins"),
            errs,
            &mut notes,
        );
        let clear = mins(
            &ov.clear_mins,
            &format!("{op}.clear_mins"),
            errs,
            &mut notes,
        );
        overrides.push(DurationOverride {
            when: Selector::from_raw(Some(&ov.when)),
            pending_secs,
            clear_secs: clear,
        });
    }

    let sp = |f: &Option<Spanned<RawNum>>| f.as_ref().map(Spanned::span).or(at.clone());
    let unused = Unused {
        kind,
        path,
        at: at.clone(),
    };
    let condition = match kind {
        RawKind::Threshold => {
            unused.num(&raw.interval_factor, "interval_factor", errs);
            unused.num(&raw.min_mins, "min_mins", errs);
            unused.list(&raw.watch, "watch", errs);
            unused.key(&raw.rules, "rules", errs);
            let metric = match (&raw.metric, &raw.metric_from) {
                (Some(m), None) => Some(MetricSel::Fixed(*m.get_ref())),
                (None, Some(f)) => match f.get_ref() {
                    RawMetricFrom::Disinfectant => Some(MetricSel::Disinfectant),
                },
                _ => {
                    errs.at(
                        at.clone(),
                        path,
                        "a threshold rule needs exactly one of metric or metric_from",
                    );
                    None
                }
            };
            let pending_secs = if raw.pending_mins.is_some() {
                mins(
                    &raw.pending_mins,
                    &format!("{path}.pending_mins"),
                    errs,
                    &mut notes,
                )
                .unwrap_or(0)
            } else {
                0
            };
            if raw.limit.is_empty() {
                errs.at(
                    at.clone(),
                    &format!("{path}.limit"),
                    "a threshold rule needs at least one [[rule.limit]]",
                );
            }
            let mut limits = Vec::new();
            for (j, l) in raw.limit.iter().enumerate() {
                let lp = format!("{path}.limit[{j}]");
                if let Some(case) = compile_limit(l, &lp, clear_margin, errs, &mut notes) {
                    limits.push(case);
                }
            }
            if magnitude
                .iter()
                .any(|m| matches!(m.magnitude, Magnitude::Factor(_)))
                && limits.iter().any(|l| l.high.is_none())
            {
                errs.at(
                    at.clone(),
                    &format!("{path}.escalate"),
                    "factor needs a high limit in every limit case",
                );
            }
            Condition::Threshold(Threshold {
                metric: metric.unwrap_or(MetricSel::Fixed(Metric::Ph)),
                pending_secs,
                limits,
                magnitude,
            })
        }
        RawKind::AllOf => {
            unused.key(&raw.metric, "metric", errs);
            unused.num(&raw.pending_mins, "pending_mins", errs);
            unused.num(&raw.min_mins, "min_mins", errs);
            let mut idx = Vec::new();
            match &raw.rules {
                Some(list) if list.get_ref().len() >= 2 => {
                    for id in list.get_ref() {
                        match ids.iter().position(|x| x == id) {
                            Some(_) if id == raw.id.get_ref() => errs.at(
                                Some(list.span()),
                                &format!("{path}.rules"),
                                "a rule cannot contain itself",
                            ),
                            Some(k) => idx.push(k),
                            None => errs.at(
                                Some(list.span()),
                                &format!("{path}.rules"),
                                format!("unknown rule id {id:?}"),
                            ),
                        }
                    }
                }
                _ => errs.at(
                    at.clone(),
                    &format!("{path}.rules"),
                    "all_of needs rules = [at least two rule ids]",
                ),
            }
            Condition::AllOf { rules: idx }
        }
        waste if super::waste::is_waste(waste) => super::waste::condition(
            raw,
            waste,
            path,
            at.clone(),
            &mut escalate_after,
            &mut magnitude,
            errs,
            &mut notes,
        ),
        other => {
            unused.key(&raw.metric, "metric", errs);
            unused.key(&raw.metric_from, "metric_from", errs);
            unused.num(&raw.pending_mins, "pending_mins", errs);
            unused.key(&raw.rules, "rules", errs);
            if !raw.limit.is_empty() {
                errs.at(
                    at.clone(),
                    &format!("{path}.limit"),
                    format!("not used by kind {other:?}; remove it"),
                );
            }
            if other != RawKind::Offline {
                unused.num(&raw.interval_factor, "interval_factor", errs);
            }
            if other != RawKind::Stuck {
                unused.list(&raw.watch, "watch", errs);
            }
            let needs_min = matches!(
                other,
                RawKind::Offline | RawKind::MonitorStatus | RawKind::CycleAborted
            );
            if !needs_min {
                unused.num(&raw.min_mins, "min_mins", errs);
            }
            let min_secs = if needs_min {
                if raw.min_mins.is_none() {
                    errs.at(
                        at.clone(),
                        &format!("{path}.min_mins"),
                        format!("kind {other:?} needs min_mins"),
                    );
                }
                mins(&raw.min_mins, &format!("{path}.min_mins"), errs, &mut notes).unwrap_or(0)
            } else {
                0
            };
            match other {
                RawKind::Offline => {
                    let f = num(
                        &raw.interval_factor,
                        &format!("{path}.interval_factor"),
                        errs,
                        &mut notes,
                    );
                    if raw.interval_factor.is_none() {
                        errs.at(
                            at.clone(),
                            &format!("{path}.interval_factor"),
                            "kind Offline needs interval_factor",
                        );
                    }
                    if f.is_some_and(|f| f <= 0.0) {
                        errs.at(
                            sp(&raw.interval_factor),
                            &format!("{path}.interval_factor"),
                            "must be positive",
                        );
                    }
                    Condition::Offline {
                        interval_factor: f.unwrap_or(1.0),
                        min_secs,
                    }
                }
                RawKind::Stuck => super::stuck::condition(raw, path, at.clone(), errs, &mut notes),
                RawKind::SensorFault => Condition::SensorFault,
                RawKind::Clock => Condition::Clock,
                other => match super::sterilization::check_of(other, min_secs) {
                    Some(check) => Condition::Sterilization(check),
                    None => Condition::MonitorStatus { min_secs },
                },
            }
        }
    };
    if errs.list.len() > before {
        return None;
    }
    Some(Rule {
        id: raw.id.get_ref().clone(),
        name_zh: raw.name_zh.clone(),
        name_en: raw.name_en.clone(),
        level,
        site_kind: raw.site_kind,
        when: Selector::from_raw(raw.when.as_ref()),
        clear_secs,
        clear_margin,
        escalate_after,
        condition,
        overrides,
        numbers: notes,
        line: errs.line_of(span.start),
    })
}

fn compile_limit(
    l: &Spanned<RawLimit>,
    lp: &str,
    margin: f64,
    errs: &mut Errors<'_>,
    notes: &mut Vec<NumberNote>,
) -> Option<LimitCase> {
    let raw = l.get_ref();
    let at = Some(l.span());
    let low = num(&raw.low, &format!("{lp}.low"), errs, notes);
    let high = num(&raw.high, &format!("{lp}.high"), errs, notes);
    if raw.low.is_none() && raw.high.is_none() {
        errs.at(at.clone(), lp, "a limit needs low, high or both");
        return None;
    }
    if let (Some(lo), Some(hi)) = (low, high) {
        if lo >= hi {
            errs.at(at.clone(), lp, "low must be below high");
        }
    }
    let mut clear_low = num(&raw.clear_low, &format!("{lp}.clear_low"), errs, notes);
    let mut clear_high = num(&raw.clear_high, &format!("{lp}.clear_high"), errs, notes);
    if raw.clear_low.is_some() && raw.low.is_none() {
        errs.at(
            at.clone(),
            &format!("{lp}.clear_low"),
            "clear_low needs low",
        );
    }
    if raw.clear_high.is_some() && raw.high.is_none() {
        errs.at(
            at.clone(),
            &format!("{lp}.clear_high"),
            "clear_high needs high",
        );
    }
    if let Some(lo) = low {
        let c = *clear_low.get_or_insert(lo + lo.abs() * margin);
        if c < lo {
            errs.at(
                at.clone(),
                &format!("{lp}.clear_low"),
                "must be at or above low (inside the limit)",
            );
        }
    }
    if let Some(hi) = high {
        let c = *clear_high.get_or_insert(hi - hi.abs() * margin);
        if c > hi {
            errs.at(
                at.clone(),
                &format!("{lp}.clear_high"),
                "must be at or below high (inside the limit)",
            );
        }
    }
    if let (Some(cl), Some(ch)) = (clear_low, clear_high) {
        if cl > ch {
            errs.at(
                at.clone(),
                lp,
                "the clear band is empty (clear_low above clear_high); set clear_low/clear_high",
            );
        }
    }
    Some(LimitCase {
        when: Selector::from_raw(raw.when.as_ref()),
        low,
        high,
        clear_low,
        clear_high,
    })
}
