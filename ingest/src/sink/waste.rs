//! The medical-waste traceability table (`waste_bags`, 医废追溯): one row per bag lifecycle
//! change (weighed in; handed over under a manifest), with the weight at each step. Its dedup
//! keys (`ts`, `site`, `bag_id`, `stage`) make a redelivered or replayed event rewrite its rows.

use alerting::model::{Id, Timestamp};
use questdb::ingress::{Buffer, TimestampMicros};

use super::table::{col, ColumnType, Table};

/// The step of a bag's life a row records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Weighed into the store (`bag_in`).
    In,
    /// Handed to the disposal company (`handover`).
    HandedOver,
}

impl Stage {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::In => "in",
            Self::HandedOver => "handed_over",
        }
    }
}

/// One `waste_bags` row.
#[derive(Debug, Clone, PartialEq)]
pub struct WasteBagRow {
    pub ts: Timestamp,
    pub site: Id,
    pub device: Id,
    pub bag_id: String,
    pub stage: Stage,
    /// `in` rows: the bag's category and department.
    pub category: Option<&'static str>,
    pub department: Option<String>,
    /// `in` rows: the bag's weight at intake.
    pub weight_kg: Option<f64>,
    /// `handed_over` rows: the manifest, carrier, its weight at handover and number of bags.
    pub manifest_id: Option<String>,
    pub carrier: Option<String>,
    pub manifest_weight_kg: Option<f64>,
    pub manifest_bags: Option<i64>,
}

/// The `waste_bags` table.
pub fn table() -> Table {
    use ColumnType::*;
    Table {
        name: "waste_bags",
        doc: "medical-waste traceability (医废追溯): one row per bag lifecycle change (in, handed_over) with the weight at each step",
        columns: vec![
            col("ts", Timestamp, "event time of the change (bag_in or handover time)"),
            col("site", Symbol, "waste store (site id)"),
            col("device", Symbol, "scale or scanner that recorded it"),
            col("bag_id", Symbol, "bag id (unique per site)"),
            col("stage", Symbol, "in or handed_over"),
            col("category", Symbol, "in: infectious, sharps, pathological, pharmaceutical or chemical"),
            col("department", Symbol, "in: producing department, when sent"),
            col("weight_kg", Double, "in: the bag's weight at intake"),
            col("manifest_id", Symbol, "handed_over: transfer manifest number"),
            col("carrier", Symbol, "handed_over: disposal company"),
            col("manifest_weight_kg", Double, "handed_over: the whole manifest's weight at handover"),
            col("manifest_bags", Long, "handed_over: bags on the manifest"),
        ],
        dedup_keys: vec!["ts", "site", "bag_id", "stage"],
    }
}

/// Appends `row` (the table name already written) to an ILP buffer.
///
/// # Errors
/// What questdb-rs refuses (an invalid name or timestamp).
pub fn encode(row: &WasteBagRow, buf: &mut Buffer) -> questdb::Result<()> {
    buf.symbol("site", &*row.site)?
        .symbol("device", &*row.device)?
        .symbol("bag_id", row.bag_id.as_str())?
        .symbol("stage", row.stage.as_str())?;
    if let Some(c) = row.category {
        buf.symbol("category", c)?;
    }
    if let Some(d) = &row.department {
        buf.symbol("department", d.as_str())?;
    }
    if let Some(m) = &row.manifest_id {
        buf.symbol("manifest_id", m.as_str())?;
    }
    if let Some(c) = &row.carrier {
        buf.symbol("carrier", c.as_str())?;
    }
    if let Some(w) = row.weight_kg {
        buf.column_f64("weight_kg", w)?;
    }
    if let Some(w) = row.manifest_weight_kg {
        buf.column_f64("manifest_weight_kg", w)?;
    }
    if let Some(n) = row.manifest_bags {
        buf.column_i64("manifest_bags", n)?;
    }
    buf.at(TimestampMicros::new(row.ts.0))
}
