//! Summaries of medical-waste alerts (M1-M7): what is wrong, or on resolve what is back, in
//! Chinese and English. The tracker's `detail` carries the evidence (bags, manifest, weights).

use crate::event::EventKind;
use crate::state::Tracker;
use crate::waste::WasteRule;

/// `(zh, en)` "what" of a summary.
pub(crate) fn what(rule: &WasteRule, t: &Tracker, kind: EventKind) -> (String, String) {
    let detail = t.detail.clone().unwrap_or_default();
    let v = t
        .value
        .map_or_else(|| "?".to_owned(), |v| format!("{v:.1}"));
    let l = t.limit.map_or_else(|| "?".to_owned(), |v| format!("{v}"));
    let resolved = kind == EventKind::Resolved;
    match rule {
        WasteRule::Storage { .. } if resolved => (
            format!("暂存间已无超过 {l} 小时的医废（{detail}）"),
            format!("no bag in store older than {l} h ({detail})"),
        ),
        WasteRule::Storage { .. } => (
            format!("最久医废已暂存 {v} 小时（预警 {l} 小时，法定不超过 2 天；{detail}）"),
            format!(
                "oldest bag in store for {v} h (pre-warning {l} h, legal limit 2 days; {detail})"
            ),
        ),
        WasteRule::Reconcile { .. } if resolved => (
            format!("最新交接重量核对在限值内（{detail}）"),
            format!("latest handover reconciles ({detail})"),
        ),
        WasteRule::Reconcile { .. } => (
            format!("交接重量比入库合计少 {v}%，超过 {l}%（{detail}）"),
            format!("handover {v} % lighter than its bags at intake, limit {l} % ({detail})"),
        ),
        WasteRule::LedgerBreak { .. } if resolved => (
            format!("台账恢复连续（{detail}）"),
            format!("ledger consistent again ({detail})"),
        ),
        WasteRule::LedgerBreak { .. } => (
            format!("医废台账断裂（{detail}）"),
            format!("ledger break ({detail})"),
        ),
        WasteRule::Pickup { .. } if resolved => (
            format!("医废已交接处置（{detail}）"),
            format!("waste collected ({detail})"),
        ),
        WasteRule::Pickup { .. } => (
            format!("有医废在库且 {v} 小时未交接处置单位（限值 {l} 小时；{detail}）"),
            format!("bags in store and no handover for {v} h (limit {l} h; {detail})"),
        ),
        WasteRule::Door { .. } if resolved => (
            format!("暂存间门已关闭（{detail}）"),
            format!("door closed ({detail})"),
        ),
        WasteRule::Door { .. } => (
            format!("暂存间门异常开启（{detail}）"),
            format!("store door open irregularly ({detail})"),
        ),
        WasteRule::Temperature { .. } if resolved => (
            format!("暂存间温度 {v} °C，已恢复至上限 {l} °C 以内"),
            format!("store temperature {v} C, back within {l} C"),
        ),
        WasteRule::Temperature { .. } => (
            format!("暂存间温度 {v} °C，超过上限 {l} °C（{detail}）"),
            format!("store temperature {v} C above {l} C ({detail})"),
        ),
        WasteRule::Disinfection { .. } if resolved => (
            format!("暂存间已消毒（{detail}）"),
            format!("store disinfected ({detail})"),
        ),
        WasteRule::Disinfection { .. } => (
            format!("暂存间 {v} 小时未消毒（限值 {l} 小时；{detail}）"),
            format!("no disinfection for {v} h (limit {l} h; {detail})"),
        ),
    }
}
