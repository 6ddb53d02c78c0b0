//! The `sterilization_cycles` table: one row per sterilization cycle with its computed
//! verdict, reasons and evidence, and the Bowie-Dick and BI results linked to it (S1-S6,
//! [`alerting::sterilization`]).
//!
//! Identity: (`ts` = the cycle's `cycle_start` time, `device`, `cycle_id`). The engine emits a
//! cycle's record when its verdict is final and again when a Bowie-Dick or BI result for it
//! arrives; both rows have the same identity, so the later one replaces the earlier
//! (`DEDUP UPSERT KEYS`), and a replayed spool rewrites the same rows.

use alerting::sterilization::CycleRecord;
use questdb::ingress::{Buffer, TimestampMicros};

use super::table::{col, ColumnType, Table};

/// The table's (unprefixed) name.
pub const TABLE: &str = "sterilization_cycles";

/// The table definition.
pub fn table() -> Table {
    use ColumnType::*;
    Table {
        name: TABLE,
        doc: "one row per dental sterilization cycle: computed verdict with reasons and evidence, device verdict, linked Bowie-Dick and BI results",
        columns: vec![
            col("ts", Timestamp, "cycle_start time (designated timestamp)"),
            col("site", Symbol, "site id"),
            col("device", Symbol, "sterilizer device id"),
            col("cycle_id", Symbol, "cycle id from the sterilizer"),
            col("program", Symbol, "prevac_134, prevac_132, gravity_121_instruments, gravity_121_textiles, bowie_dick or leak_test"),
            col("implant_load", Boolean, "implant load (BI per load)"),
            col("ended_at", Timestamp, "cycle_end time (absent: never ended)"),
            col("device_verdict", Symbol, "the sterilizer's verdict: pass, fail or aborted"),
            col("verdict", Symbol, "weijian's computed verdict: pass, fail or not_evaluated"),
            col("reasons", Varchar, "reason codes, comma-separated (no_hold, hold_too_short, above_band, steam_mismatch, sampling_gap, no_pressure, aborted, no_end)"),
            col("detail", Varchar, "the reasons with their numbers, English"),
            col("set_c", Double, "program set temperature, C"),
            col("min_hold_secs", Long, "program minimum hold, s"),
            col("hold_secs", Double, "hold: longest run at or above the set temperature, s"),
            col("hold_min_temp_c", Double, "lowest chamber temperature in the hold, C"),
            col("hold_max_temp_c", Double, "highest chamber temperature in the hold, C"),
            col("worst_dev_k", Double, "largest T - Tsat(p) in the hold, K (negative: air)"),
            col("max_gap_secs", Double, "longest sampling gap in the hold, s"),
            col("samples", Long, "chamber samples evaluated"),
            col("late_samples", Long, "samples too late to be evaluated"),
            col("bd_result", Symbol, "Bowie-Dick sheet of this cycle: pass or fail"),
            col("bi_id", Symbol, "biological indicator of this cycle"),
            col("bi_result", Symbol, "its result: negative or positive"),
        ],
        dedup_keys: vec!["ts", "device", "cycle_id"],
    }
}

/// Appends one cycle row (the table name already set by the caller).
///
/// # Errors
/// What questdb-rs refuses (an invalid name or timestamp).
pub fn encode(r: &CycleRecord, buf: &mut Buffer) -> questdb::Result<()> {
    buf.symbol("site", r.site.as_str())?
        .symbol("device", r.device.as_str())?
        .symbol("cycle_id", r.cycle_id.as_str())?
        .symbol("program", r.program.as_str())?
        .symbol("verdict", r.verdict.as_str())?;
    if let Some(v) = r.device_verdict {
        buf.symbol("device_verdict", v.as_str())?;
    }
    if let Some(pass) = r.bd_pass {
        buf.symbol("bd_result", if pass { "pass" } else { "fail" })?;
    }
    if let Some((id, positive)) = &r.bi {
        buf.symbol("bi_id", id.as_str())?
            .symbol("bi_result", if *positive { "positive" } else { "negative" })?;
    }
    buf.column_bool("implant_load", r.implant_load)?;
    if let Some(end) = r.ended_at {
        buf.column_ts("ended_at", TimestampMicros::new(end.0))?;
    }
    buf.column_str("reasons", r.reason_codes().as_str())?
        .column_str("detail", r.reasons_en().as_str())?;
    let doubles = [
        ("set_c", r.set_c),
        ("hold_secs", r.hold_secs),
        ("hold_min_temp_c", r.hold_min_temp_c),
        ("hold_max_temp_c", r.hold_max_temp_c),
        ("worst_dev_k", r.worst_dev_k),
        ("max_gap_secs", r.max_gap_secs),
    ];
    for (name, v) in doubles {
        if let Some(v) = v.filter(|v| v.is_finite()) {
            buf.column_f64(name, v)?;
        }
    }
    if let Some(m) = r.min_hold_secs {
        buf.column_i64("min_hold_secs", m)?;
    }
    buf.column_i64("samples", i64::from(r.samples))?
        .column_i64("late_samples", i64::from(r.late_samples))?
        .at(TimestampMicros::new(r.started_at.0))
}
