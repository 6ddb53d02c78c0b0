//! Bilingual notice text, Chinese first: what, where, how bad, since when, evidence, and what
//! to do per rule family (W water, M medical waste, S sterilizer, G device).

use std::fmt::Write as _;

use super::grid::Tier;
use super::notice::NoticeKind;
use crate::event::{AlertEvent, EvidenceValue};
use crate::level::Level;
use crate::model::{GridPath, Timestamp};

/// Context of a notice beyond its alerts.
#[derive(Debug, Default)]
pub(crate) struct Extra {
    /// A sentence about why this notice is sent (who acknowledged, where it escalated from).
    pub zh: Option<String>,
    pub en: Option<String>,
    /// When the recipients must acknowledge by, and where it goes next if they do not.
    pub deadline: Option<(Timestamp, Option<Tier>)>,
}

/// `YYYY-MM-DD HH:MM:SS` in Beijing time (UTC+8, no daylight saving).
pub(crate) fn beijing(ts: Timestamp) -> String {
    let local = Timestamp(ts.0.saturating_add(8 * 3600 * Timestamp::MICROS_PER_SEC)).to_string();
    local
        .get(..19)
        .map_or(local.clone(), |s| s.replace('T', " "))
}

const fn kind_zh(k: NoticeKind) -> &'static str {
    match k {
        NoticeKind::New => "新告警",
        NoticeKind::LevelChanged => "级别变更",
        NoticeKind::Repeat => "未确认提醒",
        NoticeKind::Escalated => "逾期未确认·升级上报",
        NoticeKind::Resolved => "已解除",
        NoticeKind::Acknowledged => "已确认",
    }
}

const fn kind_en(k: NoticeKind) -> &'static str {
    match k {
        NoticeKind::New => "new alert",
        NoticeKind::LevelChanged => "level changed",
        NoticeKind::Repeat => "still unacknowledged",
        NoticeKind::Escalated => "escalated: not acknowledged in time",
        NoticeKind::Resolved => "resolved",
        NoticeKind::Acknowledged => "acknowledged",
    }
}

/// What to do, by rule family (the first letter of the rule id).
pub(crate) fn what_to_do(rule: &str) -> (&'static str, &'static str) {
    match rule.chars().next() {
        Some('W') => (
            "核查净水与消毒工艺及投加设备，现场采样复检；确认超标时责令供水单位采取措施并按规定报告，必要时通知用户暂停饮用。",
            "Check treatment and disinfection (dosing) at the plant, take a confirmatory sample; if confirmed, order the supplier to act, report as required, and warn consumers if needed.",
        ),
        Some('M') => (
            "督促医疗机构核查医疗废物暂存间及交接台账，按规定及时转运处置。",
            "Have the facility check the medical-waste store and its handover ledger, and arrange timely collection.",
        ),
        Some('S') => (
            "督促诊所停用该灭菌器、召回相关器械并复核灭菌记录，合格后方可恢复使用。",
            "Have the clinic stop the sterilizer, recall affected instruments and review the cycle records before reuse.",
        ),
        Some('G') => (
            "联系运维单位核查设备供电、网络和传感器；恢复前相关监测数据不可用于判定。",
            "Have the operator check the device's power, network and sensor; its data cannot be relied on until fixed.",
        ),
        _ => (
            "请核实现场情况并处置。",
            "Check the situation on site and act.",
        ),
    }
}

fn evidence(e: &AlertEvent) -> String {
    e.evidence
        .iter()
        .map(|ev| match &ev.value {
            EvidenceValue::Number(n) => format!("{}={n}", ev.name),
            EvidenceValue::Text(t) => format!("{}={t}", ev.name),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `(text_zh, text_en)` of a notice about `alerts` (their latest events) at one site.
pub(crate) fn render(
    kind: NoticeKind,
    level: Level,
    site_name: &str,
    grid: &GridPath,
    alerts: &[&AlertEvent],
    extra: &Extra,
) -> (String, String) {
    let n = alerts.len();
    let mut zh = format!(
        "【{}{}·{}】{}（{}）",
        level.label_zh(),
        level.colour_zh(),
        kind_zh(kind),
        site_name,
        grid
    );
    let mut en = format!(
        "[Level {} {} · {}] {} ({})",
        level,
        level.colour(),
        kind_en(kind),
        site_name,
        grid
    );
    if n > 1 {
        let _ = write!(zh, " 共 {n} 条告警");
        let _ = write!(en, ", {n} alerts");
    }
    zh.push('\n');
    en.push('\n');
    for (i, e) in alerts.iter().enumerate() {
        let _ = writeln!(zh, "{}. {}", i + 1, e.summary_zh);
        let _ = writeln!(en, "{}. {}", i + 1, e.summary_en);
        let ev = evidence(e);
        if !ev.is_empty() {
            let _ = writeln!(zh, "   证据：{ev}");
            let _ = writeln!(en, "   Evidence: {ev}");
        }
    }
    if let (Some(z), Some(e)) = (&extra.zh, &extra.en) {
        let _ = writeln!(zh, "{z}");
        let _ = writeln!(en, "{e}");
    }
    if !matches!(kind, NoticeKind::Resolved | NoticeKind::Acknowledged) {
        let mut families: Vec<char> = alerts
            .iter()
            .filter_map(|e| e.rule.chars().next())
            .collect();
        families.sort_unstable();
        families.dedup();
        for f in families {
            let (z, e) = what_to_do(&f.to_string());
            let _ = writeln!(zh, "处置建议：{z}");
            let _ = writeln!(en, "What to do: {e}");
        }
        if let Some((by, next)) = extra.deadline {
            match next {
                Some(t) => {
                    let _ = writeln!(
                        zh,
                        "请于北京时间 {} 前确认，逾期将升级至{}级。",
                        beijing(by),
                        t.zh()
                    );
                    let _ = writeln!(en, "Acknowledge by {by}, or it escalates to the {t} tier.");
                }
                None => {
                    let _ = writeln!(zh, "请于北京时间 {} 前确认。", beijing(by));
                    let _ = writeln!(en, "Please acknowledge by {by}.");
                }
            }
        }
    }
    (zh.trim_end().to_owned(), en.trim_end().to_owned())
}
