//! Summaries of medical-waste alerts (M1-M7): what is wrong, or on resolve what is back, in
//! Chinese and English. The tracker's `detail` carries the evidence (bags, manifest, weights).

use super::catalogue::{en_part, zh_part};
use crate::event::EventKind;
use crate::state::Tracker;
use crate::waste::WasteRule;

/// `(zh, en)` "what" of a summary.
pub(crate) fn what(rule: &WasteRule, t: &Tracker, kind: EventKind) -> (String, String) {
    let all = t.detail.clone().unwrap_or_default();
    // Each language shows its own part of the evidence (none in Chinese for an English-only
    // detail from an old snapshot).
    let (zh_detail, detail) = (zh_part(&all), en_part(&all));
    let z = |prefix: &str| {
        if zh_detail.is_empty() {
            String::new()
        } else {
            format!("{prefix}{zh_detail}")
        }
    };
    let v = t
        .value
        .map_or_else(|| "?".to_owned(), |v| format!("{v:.1}"));
    let l = t.limit.map_or_else(|| "?".to_owned(), |v| format!("{v}"));
    let resolved = kind == EventKind::Resolved;
    match rule {
        WasteRule::Storage { .. } if resolved => (
            format!("暂存间已无超过 {l} 小时的医废{}", paren(&z(""))),
            format!("no bag in store older than {l} h ({detail})"),
        ),
        WasteRule::Storage { .. } => (
            format!(
                "最久医废已暂存 {v} 小时（预警 {l} 小时，法定不超过 2 天{}）",
                z("；")
            ),
            format!(
                "oldest bag in store for {v} h (pre-warning {l} h, legal limit 2 days; {detail})"
            ),
        ),
        WasteRule::Reconcile { .. } if resolved => (
            format!("最新交接重量核对在限值内{}", paren(&z(""))),
            format!("latest handover reconciles ({detail})"),
        ),
        WasteRule::Reconcile { .. } => (
            format!("交接重量比入库合计少 {v}%，超过 {l}%{}", paren(&z(""))),
            format!("handover {v} % lighter than its bags at intake, limit {l} % ({detail})"),
        ),
        WasteRule::LedgerBreak { .. } if resolved => (
            format!("台账恢复连续{}", paren(&z(""))),
            format!("ledger consistent again ({detail})"),
        ),
        WasteRule::LedgerBreak { .. } => (
            format!("医废台账断裂{}", paren(&z(""))),
            format!("ledger break ({detail})"),
        ),
        WasteRule::Pickup { .. } if resolved => (
            format!("医废已交接处置{}", paren(&z(""))),
            format!("waste collected ({detail})"),
        ),
        WasteRule::Pickup { .. } => (
            format!(
                "有医废在库且 {v} 小时未交接处置单位（限值 {l} 小时{}）",
                z("；")
            ),
            format!("bags in store and no handover for {v} h (limit {l} h; {detail})"),
        ),
        WasteRule::Door { .. } if resolved => (
            format!("暂存间门已关闭{}", paren(&z(""))),
            format!("door closed ({detail})"),
        ),
        WasteRule::Door { .. } => (
            format!("暂存间门异常开启{}", paren(&z(""))),
            format!("store door open irregularly ({detail})"),
        ),
        WasteRule::Temperature { .. } if resolved => (
            format!("暂存间温度 {v} °C，已恢复至上限 {l} °C 以下"),
            format!("store temperature {v} °C, back below the upper limit {l} °C"),
        ),
        WasteRule::Temperature { .. } => (
            format!("暂存间温度 {v} °C，超过上限 {l} °C{}", paren(&z(""))),
            format!("store temperature {v} °C above the upper limit {l} °C ({detail})"),
        ),
        WasteRule::Disinfection { .. } if resolved => (
            format!("暂存间已消毒{}", paren(&z(""))),
            format!("store disinfected ({detail})"),
        ),
        WasteRule::Disinfection { .. } => (
            format!("暂存间 {v} 小时未消毒（限值 {l} 小时{}）", z("；")),
            format!("no disinfection for {v} h (limit {l} h; {detail})"),
        ),
    }
}

/// `（text）`, or nothing for an empty text.
fn paren(text: &str) -> String {
    if text.is_empty() {
        String::new()
    } else {
        format!("（{text}）")
    }
}
