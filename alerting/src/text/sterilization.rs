//! Texts of dental sterilizer alerts (S1-S6): the evidence the engine writes into a tracker's
//! `detail` (English and Chinese side by side) and the "what" of their summaries, in which each
//! language shows its own part.

use crate::state::{Subject, Tracker};
use crate::sterilization::state::Recall;
use crate::sterilization::{CycleRecord, SterilCheck};

pub(crate) use super::catalogue::both;
use super::catalogue::{date_time_zh, en_part, program_zh, time_en, zh_part};

pub(crate) fn state_word(v: Option<bool>) -> &'static str {
    match v {
        Some(true) => "pass",
        Some(false) => "fail",
        None => "pending",
    }
}

/// The evidence of a failed cycle, in English and Chinese.
pub(crate) fn cycle_text(r: &CycleRecord) -> (String, String) {
    let num =
        |v: Option<f64>, unit: &str| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.2}{unit}"));
    let en = format!(
        "cycle {} ({}) failed: {}. Evidence: hold {} (min {} s), T in hold {}..{}, worst T-Tsat(p) {}, max gap {}, {} samples",
        r.cycle_id,
        r.program,
        r.reasons_en(),
        num(r.hold_secs, " s"),
        r.min_hold_secs.unwrap_or_default(),
        num(r.hold_min_temp_c, " C"),
        num(r.hold_max_temp_c, " C"),
        num(r.worst_dev_k, " K"),
        num(r.max_gap_secs, " s"),
        r.samples
    );
    let zh = format!(
        "周期 {}（{}）计算判定不合格：{}。证据：维持 {}（最低 {} 秒），维持期温度 {}..{}，最大偏差 T-Tsat(p) {}，最大采样间隔 {}，{} 个样本",
        r.cycle_id,
        program_zh(r.program),
        r.reasons_zh(),
        num(r.hold_secs, " 秒"),
        r.min_hold_secs.unwrap_or_default(),
        num(r.hold_min_temp_c, "℃"),
        num(r.hold_max_temp_c, "℃"),
        num(r.worst_dev_k, " K"),
        num(r.max_gap_secs, " 秒"),
        r.samples
    );
    (en, zh)
}

/// The evidence of a recall, in English and Chinese: the cycles to recall.
pub(crate) fn recall_text(r: &Recall) -> String {
    let ids: Vec<&str> = r.cycles.iter().map(|c| c.cycle_id.as_str()).collect();
    let more = if r.more > 0 {
        format!(" and {} earlier cycles", r.more)
    } else {
        String::new()
    };
    let total = r.cycles.len() as u64 + u64::from(r.more);
    let list = if ids.is_empty() {
        "(none recorded)".to_owned()
    } else {
        ids.join(", ")
    };
    both(
        format!(
            "BI {} of cycle {} positive: recall {total} cycles since {}: {list}{more}",
            r.bi.bi_id,
            r.bi.cycle_id,
            r.since.map_or_else(|| "-".to_owned(), time_en),
        ),
        format!(
            "周期 {} 的生物指示剂 {} 阳性：须召回自北京时间 {} 以来的 {total} 个周期：{list}",
            r.bi.cycle_id,
            r.bi.bi_id,
            r.since.map_or_else(|| "-".to_owned(), date_time_zh),
        ),
    )
}

/// Chinese and English "what" of an S alert for summaries.
pub(crate) fn what(check: SterilCheck, t: &Tracker, resolved: bool) -> (String, String) {
    let all = t.detail.clone().unwrap_or_default();
    let (en, zh) = (en_part(&all).to_owned(), zh_part(&all).to_owned());
    let cycle = match t.subject {
        Subject::Cycle(c) => c.as_str().to_owned(),
        _ => String::new(),
    };
    if resolved {
        return (format!("已解除（{zh}）"), format!("resolved ({en})"));
    }
    let zh = match check {
        SterilCheck::CycleFailed => format!("灭菌周期 {cycle} 计算判定不合格（{zh}）"),
        SterilCheck::FalsePass => {
            format!("灭菌周期 {cycle} 设备报告合格但计算判定不合格，疑似虚假合格（{zh}）")
        }
        SterilCheck::NoBowieDick => {
            format!("预真空灭菌周期 {cycle} 开始前当日无合格 B-D 测试（{zh}）")
        }
        SterilCheck::BiPositive => {
            format!("生物监测阳性，须召回上次阴性以来灭菌的全部物品（{zh}）")
        }
        SterilCheck::BiOverdue => format!("生物监测超期未做（{zh}）"),
        SterilCheck::Aborted { .. } => format!("灭菌周期 {cycle} 中止或未正常结束（{zh}）"),
    };
    (zh, en)
}
