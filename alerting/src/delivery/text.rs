//! Bilingual notice text, Chinese first: what, where, how bad, since when, evidence, and what
//! to do per rule family (W water, M medical waste, S sterilizer, G device).

use std::fmt::Write as _;

use super::grid::Tier;
use super::notice::NoticeKind;
use crate::event::{AlertEvent, EvidenceValue};
use crate::level::Level;
use crate::model::Metric;
use crate::model::{GridPath, Timestamp};
use crate::text::catalogue::{
    self, en_part, level_en, level_zh, number, quantity, time_en, time_zh, zh_part, ALERT_ZH,
    EVIDENCE, EVIDENCE_DETAIL, EVIDENCE_LIMIT, EVIDENCE_METRIC, EVIDENCE_VALUE, EVIDENCE_WORST,
    LINK_ACK, LINK_VIEW, WHAT_TO_DO,
};

/// Context of a notice beyond its alerts.
#[derive(Debug, Default)]
pub(crate) struct Extra {
    /// A sentence about why this notice is sent (who acknowledged, where it escalated from).
    pub zh: Option<String>,
    pub en: Option<String>,
    /// When the recipients must acknowledge by, and where it goes next if they do not.
    pub deadline: Option<(Timestamp, Option<Tier>)>,
}

/// The console page of an alert: `{public_url}/alerts/{alert id percent-encoded}` (every
/// byte but unreserved ones encoded, so the id's `/` is `%2F`; a trailing `/` of
/// `public_url` is dropped).
pub fn alert_page(public_url: &str, alert_id: &str) -> String {
    let mut out = format!("{}/alerts/", public_url.trim_end_matches('/'));
    for b in alert_id.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
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

/// The Chinese evidence line of an alert: the Chinese part of its detail, when its summary
/// does not already say it (values, limits and times are in the summary, with units).
fn evidence_zh(e: &AlertEvent) -> Option<String> {
    e.evidence
        .iter()
        .find_map(|ev| match (&ev.name[..], &ev.value) {
            ("detail", EvidenceValue::Text(t)) => {
                let zh = zh_part(t);
                (!zh.is_empty() && !e.summary_zh.contains(zh)).then(|| zh.to_owned())
            }
            _ => None,
        })
}

/// The English evidence line: labelled values (metric names and units from the catalogue)
/// and the English part of the detail; the start is in the summary.
fn evidence_en(e: &AlertEvent) -> String {
    let metric = e.evidence.iter().find_map(|ev| match &ev.value {
        EvidenceValue::Text(t) if ev.name == "metric" => Metric::from_name(t),
        _ => None,
    });
    e.evidence
        .iter()
        .filter_map(|ev| {
            let label = match &ev.name[..] {
                "metric" => EVIDENCE_METRIC.en,
                "value" => EVIDENCE_VALUE.en,
                "limit" => EVIDENCE_LIMIT.en,
                "worst" => EVIDENCE_WORST.en,
                "detail" => EVIDENCE_DETAIL.en,
                "since" => return None,
                other => other,
            };
            let value = match (&ev.value, metric) {
                (EvidenceValue::Number(n), Some(m)) => quantity(m, *n),
                (EvidenceValue::Number(n), None) => number(*n),
                (EvidenceValue::Text(t), _) if ev.name == "metric" => Metric::from_name(t)
                    .map_or_else(|| t.clone(), |m| catalogue::metric(m).en.to_owned()),
                (EvidenceValue::Text(t), _) => en_part(t).to_owned(),
            };
            Some(format!("{label} {value}"))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `(text_zh, text_en)` of a notice about `alerts` (their latest events) at one site.
///
/// With `public_url`, every alert's page (`{public_url}/alerts/{id}`, [`alert_page`]) follows
/// its summary as `查看并确认：<url>` (`查看详情` once resolved or acknowledged), and the
/// deadline sentence says to acknowledge there.
pub(crate) fn render(
    kind: NoticeKind,
    level: Level,
    site_name: &str,
    grid: &GridPath,
    alerts: &[&AlertEvent],
    extra: &Extra,
    public_url: Option<&str>,
) -> (String, String) {
    let closed = matches!(kind, NoticeKind::Resolved | NoticeKind::Acknowledged);
    let (open_zh, open_en) = if closed {
        (LINK_VIEW.zh, LINK_VIEW.en)
    } else {
        (LINK_ACK.zh, LINK_ACK.en)
    };
    let n = alerts.len();
    let mut zh = format!(
        "【{}·{}】{}（{}）",
        level_zh(level),
        kind.texts().zh,
        site_name,
        grid
    );
    let mut en = format!(
        "[{} · {}] {} ({})",
        level_en(level),
        kind.texts().en,
        site_name,
        grid
    );
    if n > 1 {
        let _ = write!(zh, " 共 {n} 条{ALERT_ZH}");
        let _ = write!(en, ", {n} alerts");
    }
    zh.push('\n');
    en.push('\n');
    for (i, e) in alerts.iter().enumerate() {
        let _ = writeln!(zh, "{}. {}", i + 1, e.summary_zh);
        let _ = writeln!(en, "{}. {}", i + 1, e.summary_en);
        if let Some(ev) = evidence_zh(e) {
            let _ = writeln!(zh, "   {}：{ev}", EVIDENCE.zh);
        }
        let ev = evidence_en(e);
        if !ev.is_empty() {
            let _ = writeln!(en, "   {}: {ev}", EVIDENCE.en);
        }
        if let Some(base) = public_url {
            let url = alert_page(base, &e.alert_id);
            let _ = writeln!(zh, "   {open_zh}：{url}");
            let _ = writeln!(en, "   {open_en}: {url}");
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
            let _ = writeln!(zh, "{}：{z}", WHAT_TO_DO.zh);
            let _ = writeln!(en, "{}: {e}", WHAT_TO_DO.en);
        }
        if let Some((by, next)) = extra.deadline {
            match next {
                Some(t) => {
                    let _ = writeln!(
                        zh,
                        "请于北京时间 {} 前{}确认，逾期将升级至{}级。",
                        time_zh(by),
                        if public_url.is_some() {
                            "打开上方链接"
                        } else {
                            ""
                        },
                        t.zh()
                    );
                    let _ = writeln!(
                        en,
                        "Acknowledge by {}{}, or it escalates to the {t} tier.",
                        time_en(by),
                        if public_url.is_some() {
                            " on the page linked above"
                        } else {
                            ""
                        }
                    );
                }
                None => {
                    let (how_zh, how_en) = if public_url.is_some() {
                        ("打开上方链接", " on the page linked above")
                    } else {
                        ("", "")
                    };
                    let _ = writeln!(zh, "请于北京时间 {} 前{how_zh}确认。", time_zh(by));
                    let _ = writeln!(en, "Please acknowledge by {}{how_en}.", time_en(by));
                }
            }
        }
    }
    (zh.trim_end().to_owned(), en.trim_end().to_owned())
}
