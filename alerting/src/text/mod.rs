//! Human text of alert events: reasons, bilingual summaries (Chinese first, Beijing time) and
//! the evidence list, built from a tracker at a transition.
//!
//! Layout: events, reasons and summaries here; every word and unit from `catalogue.rs` (public
//! as `alerting::catalogue`); the texts of medical-waste alerts (M1-M7) in
//! `waste.rs` and of sterilizer alerts (S1-S6) in `sterilization.rs`.

pub mod catalogue;
pub(crate) mod sterilization;
mod waste;

use crate::event::{AlertEvent, EventKind, Evidence, SITE_SCOPE_DEVICE};
use crate::level::Level;
use crate::model::{GridPath, Site, Timestamp};
use crate::rule::{Condition, Rule};
use crate::state::Tracker;

/// English description of a breach.
pub(crate) fn breach_text(rule: &Rule, t: &Tracker) -> String {
    match (&rule.condition, t.metric, t.value, t.limit) {
        (Condition::Threshold(_), Some(m), Some(v), Some(l)) => {
            let rel = if v < l {
                "below"
            } else if v > l {
                "above"
            } else {
                "at"
            };
            format!("{m} {v} {rel} limit {l}")
        }
        (Condition::Stuck { .. }, Some(m), Some(v), _) => {
            format!("{m} stuck at {v} since {}", t.started_at)
        }
        (Condition::SensorFault, Some(m), v, _) => format!(
            "{m} {} outside the physical range",
            v.map_or_else(|| "non-finite".to_owned(), |v| v.to_string())
        ),
        _ => t.detail.clone().unwrap_or_else(|| rule.name_en.clone()),
    }
}

/// Chinese and English "what" for summaries: what is wrong (or, on resolve, what is back).
pub(crate) fn what_text(
    rules: &[Rule],
    rule: &Rule,
    t: &Tracker,
    kind: EventKind,
) -> (String, String) {
    let detail = t.detail.clone().unwrap_or_default();
    let resolved = kind == EventKind::Resolved;
    let num = |v: Option<f64>| v.map_or_else(|| "?".to_owned(), |v| v.to_string());
    let m = t.metric.map_or("", |m| m.name());
    match &rule.condition {
        Condition::Threshold(_) => {
            let (v, l) = (num(t.value), num(t.limit));
            if resolved {
                (
                    format!("{m} = {v}，已恢复至限值 {l} 以内"),
                    format!("{m} = {v}, back within limit {l}"),
                )
            } else if matches!((t.value, t.limit), (Some(v), Some(l)) if v < l) {
                (
                    format!("{m} = {v}，低于下限 {l}"),
                    format!("{m} = {v}, below limit {l}"),
                )
            } else {
                (
                    format!("{m} = {v}，超过上限 {l}"),
                    format!("{m} = {v}, above limit {l}"),
                )
            }
        }
        Condition::Offline { .. } if resolved => {
            ("设备恢复上报".to_owned(), "reporting again".to_owned())
        }
        Condition::Offline { .. } => (
            format!("设备离线，北京时间 {} 起无数据", beijing(t.started_at)),
            format!("offline, no data since {}", t.started_at),
        ),
        Condition::Stuck { .. } if resolved => (
            format!("{m} 数值恢复变化（{}）", num(t.value)),
            format!("{m} changing again ({})", num(t.value)),
        ),
        Condition::Stuck { .. } => (
            format!("{m} 数值 {} 长时间完全不变（疑似传感器冻结）", num(t.value)),
            format!("{m} stuck at {}", num(t.value)),
        ),
        Condition::SensorFault if resolved => (
            format!("{m} 恢复量程内数值（{}）", num(t.value)),
            format!("{m} back within the physical range ({})", num(t.value)),
        ),
        Condition::SensorFault => (
            format!("{m} = {}，超出物理量程（传感器故障）", num(t.value)),
            format!(
                "{m} = {}, outside the physical range (sensor fault)",
                num(t.value)
            ),
        ),
        Condition::Clock if resolved => (
            format!("设备时钟/序号恢复正常（{detail}）"),
            format!("clock and sequence back to normal ({detail})"),
        ),
        Condition::Clock => (
            format!("设备时钟或数据序号异常（{detail}）"),
            format!("clock or sequence problem ({detail})"),
        ),
        Condition::MonitorStatus { .. } if resolved => (
            "监测仪恢复正常状态".to_owned(),
            "monitor back in normal state".to_owned(),
        ),
        Condition::MonitorStatus { .. } => (
            format!("监测仪长时间处于非正常状态（数据标记非 N 或维护未结束：{detail}）"),
            format!("monitor not in normal state (flag not N or maintenance not ended: {detail})"),
        ),
        Condition::Waste(w) => waste::what(w, t, kind),
        Condition::Sterilization(check) => sterilization::what(*check, t, resolved),
        Condition::AllOf { rules: parts } => {
            let names: Vec<String> = parts
                .iter()
                .filter_map(|p| rules.get(*p))
                .map(|r| format!("{} {}", r.id, r.name_zh))
                .collect();
            let names_en: Vec<&str> = parts
                .iter()
                .filter_map(|p| rules.get(*p))
                .map(|r| r.id.as_str())
                .collect();
            if resolved {
                (
                    format!("{} 不再同时告警", names.join("、")),
                    format!("{} no longer firing together", names_en.join(" + ")),
                )
            } else {
                (
                    format!("{} 同时告警", names.join("、")),
                    format!("{} firing together", names_en.join(" + ")),
                )
            }
        }
    }
}

/// Beijing time (UTC+8, no DST), as shown to Chinese readers: `2026-11-22 08:00:00`.
pub(crate) fn beijing(ts: Timestamp) -> String {
    let local = Timestamp(ts.0.saturating_add(8 * 3600 * Timestamp::MICROS_PER_SEC)).to_string();
    local
        .get(..19)
        .map_or(local.clone(), |s| s.replace('T', " "))
}

/// The alert id of tracker `t`: `rule/site/device[/subject]/started_at_micros`.
pub(crate) fn alert_id(rule_id: &str, site: &Site, device: &str, t: &Tracker) -> String {
    let micros = t.started_at.as_micros();
    match t.subject.label() {
        Some(s) => format!("{rule_id}/{}/{device}/{s}/{micros}", site.id),
        None => format!("{rule_id}/{}/{device}/{micros}", site.id),
    }
}

/// What the "what" part of a summary describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum What {
    /// The transition itself (what is wrong, or on resolve what is back).
    Transition,
    /// A manual close: the alert's last state, marked as resolved manually.
    ClosedManually,
}

/// Builds the event for a transition of tracker `t`.
pub(crate) fn make_event(
    rules: &[Rule],
    site: &Site,
    device: &str,
    t: &Tracker,
    kind: EventKind,
    now: Timestamp,
    reason: String,
) -> AlertEvent {
    build_event(rules, site, device, t, kind, now, reason, What::Transition)
}

/// Builds the event for tracker `t`, with the summary's "what" chosen by `what`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn build_event(
    rules: &[Rule],
    site: &Site,
    device: &str,
    t: &Tracker,
    kind: EventKind,
    now: Timestamp,
    reason: String,
    what: What,
) -> AlertEvent {
    let fallback;
    let rule = match rules.get(t.rule) {
        Some(r) => r,
        None => {
            fallback = Rule {
                id: t.rule_id.clone(),
                name_zh: t.rule_id.clone(),
                name_en: t.rule_id.clone(),
                level: t.level,
                site_kind: None,
                when: Default::default(),
                clear_secs: 0,
                clear_margin: 0.0,
                escalate_after: Vec::new(),
                condition: Condition::Clock,
                overrides: Vec::new(),
                numbers: Vec::new(),
                line: 0,
            };
            &fallback
        }
    };
    let subject = t.subject.label();
    let alert_id = alert_id(&rule.id, site, device, t);
    let mut evidence = Vec::with_capacity(5);
    if let Some(m) = t.metric {
        evidence.push(Evidence::text("metric", m.name()));
    }
    if let Some(v) = t.value {
        evidence.push(Evidence::number("value", v));
    }
    if let Some(l) = t.limit {
        evidence.push(Evidence::number("limit", l));
    }
    evidence.push(Evidence::text("since", t.started_at.to_string()));
    if let Some(d) = &t.detail {
        evidence.push(Evidence::text("detail", d.clone()));
    }
    let (what_zh, what_en) = match &what {
        What::Transition => what_text(rules, rule, t, kind),
        What::ClosedManually => {
            let (zh, en) = what_text(rules, rule, t, EventKind::Firing);
            (
                format!("已人工解除（解除前：{zh}）"),
                format!("resolved manually (before: {en})"),
            )
        }
    };
    let (summary_zh, summary_en) = SummaryParts {
        kind,
        level: t.level,
        rule: &rule.id,
        rule_zh: &rule.name_zh,
        rule_en: &rule.name_en,
        site_name: &site.name,
        grid: &site.grid,
        device,
        what_zh: &what_zh,
        what_en: &what_en,
        started_at: t.started_at,
    }
    .render();
    AlertEvent {
        alert_id,
        rule: rule.id.clone(),
        level: t.level,
        kind,
        site: site.id.to_string(),
        device: device.to_owned(),
        subject,
        grid: site.grid.clone(),
        started_at: t.started_at,
        ts: now,
        reason,
        evidence,
        summary_zh,
        summary_en,
    }
}

/// The parts of a summary, filled by the engine.
#[derive(Debug)]
struct SummaryParts<'a> {
    pub kind: EventKind,
    pub level: Level,
    pub rule: &'a str,
    pub rule_zh: &'a str,
    pub rule_en: &'a str,
    pub site_name: &'a str,
    pub grid: &'a GridPath,
    pub device: &'a str,
    pub what_zh: &'a str,
    pub what_en: &'a str,
    pub started_at: Timestamp,
}

impl SummaryParts<'_> {
    /// `(summary_zh, summary_en)`.
    fn render(&self) -> (String, String) {
        let device_zh = if self.device == SITE_SCOPE_DEVICE {
            "全站".to_owned()
        } else {
            format!("设备 {}", self.device)
        };
        let device_en = if self.device == SITE_SCOPE_DEVICE {
            "site-wide".to_owned()
        } else {
            format!("device {}", self.device)
        };
        let zh = format!(
            "【{}{}·{}】{} {}：{}（{}）{}，{}；自北京时间 {} 起。",
            self.level.label_zh(),
            self.level.colour_zh(),
            self.kind.zh(),
            self.rule,
            self.rule_zh,
            self.site_name,
            self.grid,
            device_zh,
            self.what_zh,
            beijing(self.started_at)
        );
        let en = format!(
            "[Level {} {} · {}] {} {}: {} ({}), {}: {}; since {}.",
            self.level,
            self.level.colour(),
            self.kind.en(),
            self.rule,
            self.rule_en,
            self.site_name,
            self.grid,
            device_en,
            self.what_en,
            self.started_at
        );
        (zh, en)
    }
}
