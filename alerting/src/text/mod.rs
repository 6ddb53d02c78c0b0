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
use catalogue::{
    band, en_part, event_kind, level_en, level_zh, metric, name_then, number, quantity, time_en,
    time_zh, worst_words, zh_part, LimitType, Side, Texts, ALERT_ZH, CLOSED_MANUALLY, DEVICE,
    SITE_WIDE,
};

/// The limit type of a threshold alert: from the limits the tracker recorded, or (snapshots
/// written before trackers kept them) from the rule's first limit case that matches the site.
pub(crate) fn limit_type(rule: &Rule, site: Option<&Site>, t: &Tracker) -> Option<LimitType> {
    LimitType::of(t.low, t.high).or_else(|| match (&rule.condition, site) {
        (Condition::Threshold(th), Some(site)) => th
            .limits
            .iter()
            .find(|c| c.when.matches(site))
            .and_then(|c| LimitType::of(c.low, c.high)),
        _ => None,
    })
}

/// The side of its limits a threshold alert breached: the side of its worst value, else of
/// the limit it was last compared with. Never from the current value alone: a band alert
/// firing on 8.44 after values above 8.5 breached the upper limit.
fn breached_side(limits: LimitType, t: &Tracker) -> Side {
    if let Some(side) = t.worst.and_then(|w| limits.side_of(w)) {
        return side;
    }
    match limits {
        LimitType::Upper(_) => Side::Above,
        LimitType::Lower(_) => Side::Below,
        LimitType::Band(_, h) => {
            if t.limit == Some(h) || t.value.is_some_and(|v| v > h) {
                Side::Above
            } else {
                Side::Below
            }
        }
    }
}

/// English description of a breach, for reasons (operators and logs).
pub(crate) fn breach_text(rule: &Rule, t: &Tracker) -> String {
    match (&rule.condition, t.metric, t.value) {
        (Condition::Threshold(_), Some(m), Some(v)) => match limit_type(rule, None, t) {
            Some(limits) => {
                let side = breached_side(limits, t);
                let (_, words) = limits.breach_words(m, side);
                let worst = t
                    .worst
                    .map(|w| format!(", {}", worst_words(m, side, w).1))
                    .unwrap_or_default();
                format!("{m} {} {words}{worst}", number(v))
            }
            None => format!(
                "{m} {} against limit {}",
                number(v),
                t.limit.map_or_else(|| "?".to_owned(), number)
            ),
        },
        (Condition::Stuck { .. }, Some(m), Some(v)) => {
            format!("{m} stuck at {} since {}", number(v), t.started_at)
        }
        (Condition::SensorFault, Some(m), v) => format!(
            "{m} {} outside the physical range",
            v.map_or_else(|| "non-finite".to_owned(), number)
        ),
        _ => t
            .detail
            .as_deref()
            .map(en_part)
            .map_or_else(|| rule.name_en.clone(), str::to_owned),
    }
}

/// Chinese and English "what" of a threshold alert: the rule's limit type and the breached
/// side name the limit; the worst value of the breach and the current value follow.
fn threshold_what(
    rule: &Rule,
    site: Option<&Site>,
    t: &Tracker,
    resolved: bool,
) -> (String, String) {
    let Some(m) = t.metric else {
        return (rule.name_zh.clone(), rule.name_en.clone());
    };
    let v = t.value.map_or_else(|| "?".to_owned(), |v| quantity(m, v));
    let Some(limits) = limit_type(rule, site, t) else {
        return (
            format!("{}，当前 {v}", metric(m).zh),
            format!("{}, now {v}", metric(m).en),
        );
    };
    let side = breached_side(limits, t);
    let worst = t.worst.map(|w| worst_words(m, side, w));
    if resolved {
        let (zh, en) = limits.recovery_words(m);
        let (wz, we) = worst.map_or_else(Default::default, |(z, e)| {
            (format!("（{z}）"), format!(" ({e})"))
        });
        return (
            format!("{}，{zh}{wz}", name_then(m, &format!("当前 {v}"))),
            format!("{} now {v}, {en}{we}", metric(m).en),
        );
    }
    let (zh, en) = limits.breach_words(m, side);
    match worst {
        Some((wz, we)) => (
            format!("{}（{wz}，当前 {v}）", name_then(m, &zh)),
            format!("{} {en} ({we}, now {v})", metric(m).en),
        ),
        None => (
            format!("{}（当前 {v}）", name_then(m, &zh)),
            format!("{} {en} (now {v})", metric(m).en),
        ),
    }
}

/// Chinese and English "what" of a sensor-fault alert (G3).
fn sensor_fault_what(t: &Tracker, resolved: bool) -> (String, String) {
    let Some(m) = t.metric else {
        return ("传感器故障".to_owned(), "sensor fault".to_owned());
    };
    let en_name = metric(m).en;
    let v = t.value.map(|v| quantity(m, v));
    if resolved {
        let v = v.unwrap_or_else(|| "?".to_owned());
        return (
            name_then(m, &format!("恢复量程内数值（当前 {v}）")),
            format!("{en_name} back within the physical range (now {v})"),
        );
    }
    let (lo, hi) = m.physical_range();
    let range = band(m, lo, hi);
    (
        name_then(
            m,
            &format!(
                "{}，超出物理量程 {range}（传感器故障）",
                v.clone().unwrap_or_else(|| "为非有限数值".to_owned())
            ),
        ),
        format!(
            "{en_name} {}, outside the physical range {range} (sensor fault)",
            v.unwrap_or_else(|| "non-finite".to_owned())
        ),
    )
}

/// Chinese and English "what" for summaries: what is wrong (or, on resolve, what is back).
/// Chinese texts show only the Chinese part of a bilingual `detail`.
pub(crate) fn what_text(
    rules: &[Rule],
    rule: &Rule,
    site: Option<&Site>,
    t: &Tracker,
    kind: EventKind,
) -> (String, String) {
    let detail = t.detail.clone().unwrap_or_default();
    let detail_en = en_part(&detail);
    let paren_zh = match zh_part(&detail) {
        "" => String::new(),
        zh => format!("（{zh}）"),
    };
    let resolved = kind == EventKind::Resolved;
    let q = |v: Option<f64>| match (t.metric, v) {
        (Some(m), Some(v)) => quantity(m, v),
        (None, Some(v)) => number(v),
        (_, None) => "?".to_owned(),
    };
    let m_en = t.metric.map_or("", |m| metric(m).en);
    let named = |phrase: &str| {
        t.metric
            .map_or_else(|| phrase.to_owned(), |m| name_then(m, phrase))
    };
    match &rule.condition {
        Condition::Threshold(_) => threshold_what(rule, site, t, resolved),
        Condition::Offline { .. } if resolved => {
            ("设备恢复上报数据".to_owned(), "reporting again".to_owned())
        }
        // When it started is the summary's own last clause ("自北京时间 … 起"): not repeated.
        Condition::Offline { .. } => (
            "设备离线，无数据上报".to_owned(),
            "offline, no data".to_owned(),
        ),
        Condition::Stuck { .. } if resolved => (
            named(&format!("数值恢复变化（当前 {}）", q(t.value))),
            format!("{m_en} changing again (now {})", q(t.value)),
        ),
        Condition::Stuck { .. } => (
            named(&format!(
                "数值 {} 长时间完全不变（疑似传感器冻结）",
                q(t.value)
            )),
            format!("{m_en} stuck at {}", q(t.value)),
        ),
        Condition::SensorFault => sensor_fault_what(t, resolved),
        Condition::Clock if resolved => (
            format!("设备时钟与数据序号恢复正常{paren_zh}"),
            format!("clock and sequence back to normal ({detail_en})"),
        ),
        Condition::Clock => (
            format!("设备时钟或数据序号异常{paren_zh}"),
            format!("clock or sequence problem ({detail_en})"),
        ),
        Condition::MonitorStatus { .. } if resolved => (
            "监测仪恢复正常状态".to_owned(),
            "monitor back in normal state".to_owned(),
        ),
        Condition::MonitorStatus { .. } => (
            format!("监测仪长时间处于非正常状态{paren_zh}"),
            format!(
                "monitor not in normal state (flag not N or maintenance not ended: {detail_en})"
            ),
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
                    format!("{} 不再同时处于{ALERT_ZH}状态", names.join("、")),
                    format!("{} no longer firing together", names_en.join(" + ")),
                )
            } else {
                (
                    format!("{} 同时处于{ALERT_ZH}状态", names.join("、")),
                    format!("{} firing together", names_en.join(" + ")),
                )
            }
        }
    }
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
    if let Some(w) = t.worst {
        evidence.push(Evidence::number("worst", w));
    }
    evidence.push(Evidence::text("since", t.started_at.to_string()));
    if let Some(d) = &t.detail {
        evidence.push(Evidence::text("detail", d.clone()));
    }
    let (what_zh, what_en) = match &what {
        What::Transition => what_text(rules, rule, Some(site), t, kind),
        What::ClosedManually => {
            let (zh, en) = what_text(rules, rule, Some(site), t, EventKind::Firing);
            (
                format!("已人工解除（解除前：{zh}）"),
                format!("resolved manually (before: {en})"),
            )
        }
    };
    let (summary_zh, summary_en) = SummaryParts {
        kind,
        kind_text: (what == What::ClosedManually).then_some(CLOSED_MANUALLY),
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
    /// The kind's words when not the event kind's own (a manual close).
    pub kind_text: Option<Texts>,
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
    /// `(summary_zh, summary_en)`: `【三级黄色·新预警】W4 pH 超标：site（grid）设备 d，what；自北京时间
    /// 12月6日 14:05 起。`, every word from the catalogue.
    fn render(&self) -> (String, String) {
        let device_zh = if self.device == SITE_SCOPE_DEVICE {
            SITE_WIDE.zh.to_owned()
        } else {
            format!("{} {}", DEVICE.zh, self.device)
        };
        let device_en = if self.device == SITE_SCOPE_DEVICE {
            SITE_WIDE.en.to_owned()
        } else {
            format!("{} {}", DEVICE.en, self.device)
        };
        let kind = self.kind_text.unwrap_or_else(|| event_kind(self.kind));
        let zh = format!(
            "【{}·{}】{} {}：{}（{}）{}，{}；自北京时间 {} 起。",
            level_zh(self.level),
            kind.zh,
            self.rule,
            self.rule_zh,
            self.site_name,
            self.grid,
            device_zh,
            self.what_zh,
            time_zh(self.started_at)
        );
        let en = format!(
            "[{} · {}] {} {}: {} ({}), {}: {}; since {}.",
            level_en(self.level),
            kind.en,
            self.rule,
            self.rule_en,
            self.site_name,
            self.grid,
            device_en,
            self.what_en,
            time_en(self.started_at)
        );
        (zh, en)
    }
}
