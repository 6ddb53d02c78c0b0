//! The site risk index and the 双随机 draws in QuestDB: `site_risk` (one row per site per
//! China Standard Time day: score, grade, explanation) and `inspection_draws` (one row per
//! drawn site, plus a row 0 per draw holding its published inputs and result).
//!
//! Dedup keys make recomputation idempotent: a day scored again rewrites its rows (`ts` is
//! the day's 00:00 China Standard Time, the same every time), and a draw stored twice is one.

use alerting::model::{GridPath, Timestamp};
use questdb::ingress::{Buffer, TimestampMicros};

use super::table::{col, ColumnType, Table};

/// The table of daily site risk rows.
pub const SITE_RISK: &str = "site_risk";
/// The table of draws.
pub const DRAWS: &str = "inspection_draws";

/// One `site_risk` row: a site's index on one day.
#[derive(Debug, Clone, PartialEq)]
pub struct SiteRiskRow {
    /// 00:00 China Standard Time of the day scored.
    pub ts: Timestamp,
    pub date: String,
    pub site: String,
    pub kind: &'static str,
    pub grid: GridPath,
    pub score: f64,
    pub grade: &'static str,
    pub alert_days: i64,
    pub alerts: i64,
    pub explanation_zh: String,
    pub explanation_en: String,
    /// Every alert-day with its points (JSON array).
    pub contributions: String,
}

/// One `inspection_draws` row: a drawn site (`pick` >= 1) or the draw itself (`pick` 0).
#[derive(Debug, Clone, PartialEq)]
pub struct DrawRow {
    /// When the draw was made.
    pub ts: Timestamp,
    pub draw_id: String,
    pub date: String,
    pub pick: i64,
    /// `-` on row 0.
    pub site: String,
    pub grade: Option<&'static str>,
    pub weight: Option<i64>,
    pub of_weight: Option<i64>,
    /// Joined with `;`.
    pub inspectors: String,
    /// Decimal (a u64 does not fit a LONG).
    pub seed: String,
    pub scope: String,
    pub kind: Option<&'static str>,
    pub actor: String,
    /// Row 0: the published inputs and result (JSON); empty on pick rows.
    pub record: String,
}

/// The `site_risk` table.
pub fn site_risk_table() -> Table {
    use ColumnType::*;
    Table {
        name: SITE_RISK,
        doc: "site risk index (风险分级): one row per site per China Standard Time day, rewritten when the day is recomputed",
        columns: vec![
            col("ts", Timestamp, "00:00 China Standard Time of the day scored"),
            col("date_cst", Symbol, "the day scored, YYYY-MM-DD (China Standard Time)"),
            col("site", Symbol, "site id"),
            col("kind", Symbol, "water, waste_store or dental_sterilization"),
            col("district", Symbol, "grid: district (区)"),
            col("street", Symbol, "grid: street (街道)"),
            col("community", Symbol, "grid: community (社区)"),
            col("score", Double, "sum of the window's alert-day points after decay"),
            col("grade", Symbol, "A (lowest risk) .. D (highest)"),
            col("alert_days", Long, "alert-days in the window"),
            col("alert_count", Long, "distinct alerts in the window"),
            col("explanation_zh", Varchar, "the grade explained, in Chinese"),
            col("explanation_en", Varchar, "the grade explained, in English"),
            col("contributions", Varchar, "every alert-day with its date, level and points (JSON)"),
        ],
        dedup_keys: vec!["ts", "site"],
    }
}

/// The `inspection_draws` table.
pub fn draws_table() -> Table {
    use ColumnType::*;
    Table {
        name: DRAWS,
        doc: "双随机 inspection draws: row 0 of a draw holds its published inputs and result, rows 1.. the sites drawn with their inspectors",
        columns: vec![
            col("ts", Timestamp, "when the draw was made"),
            col("draw_id", Symbol, "draw id: draw-<date>-<seed in hex>"),
            col("date_cst", Symbol, "the day of the draw, YYYY-MM-DD (China Standard Time)"),
            col("pick", Long, "0 for the draw itself, then 1.. in the order drawn"),
            col("site", Symbol, "site drawn (- on row 0)"),
            col("grade", Symbol, "its grade when drawn"),
            col("weight", Long, "its weight"),
            col("of_weight", Long, "the sum of the weights it was drawn from"),
            col("inspectors", Varchar, "inspectors sent, joined with ;"),
            col("seed", Varchar, "the published seed (decimal u64)"),
            col("scope", Varchar, "grid cell drawn from"),
            col("kind", Symbol, "site kind drawn from, if one"),
            col("actor", Symbol, "supervisor who made the draw"),
            col("record", Varchar, "row 0: the inputs and result as published (JSON); verify with weijian risk verify"),
        ],
        dedup_keys: vec!["ts", "draw_id", "pick"],
    }
}

/// Appends a `site_risk` row (the table name already written).
///
/// # Errors
/// What questdb-rs refuses.
pub fn encode_site_risk(r: &SiteRiskRow, buf: &mut Buffer) -> questdb::Result<()> {
    buf.symbol("date_cst", r.date.as_str())?
        .symbol("site", r.site.as_str())?
        .symbol("kind", r.kind)?
        .symbol("district", r.grid.district.as_str())?
        .symbol("street", r.grid.street.as_str())?
        .symbol("community", r.grid.community.as_str())?
        .symbol("grade", r.grade)?
        .column_f64("score", r.score)?
        .column_i64("alert_days", r.alert_days)?
        .column_i64("alert_count", r.alerts)?
        .column_str("explanation_zh", r.explanation_zh.as_str())?
        .column_str("explanation_en", r.explanation_en.as_str())?
        .column_str("contributions", r.contributions.as_str())?
        .at(TimestampMicros::new(r.ts.0))
}

/// Appends an `inspection_draws` row (the table name already written).
///
/// # Errors
/// What questdb-rs refuses.
pub fn encode_draw(r: &DrawRow, buf: &mut Buffer) -> questdb::Result<()> {
    buf.symbol("draw_id", r.draw_id.as_str())?
        .symbol("date_cst", r.date.as_str())?
        .symbol("site", r.site.as_str())?;
    if let Some(g) = r.grade {
        buf.symbol("grade", g)?;
    }
    if let Some(k) = r.kind {
        buf.symbol("kind", k)?;
    }
    buf.symbol("actor", r.actor.as_str())?
        .column_i64("pick", r.pick)?;
    if let Some(w) = r.weight {
        buf.column_i64("weight", w)?;
    }
    if let Some(w) = r.of_weight {
        buf.column_i64("of_weight", w)?;
    }
    buf.column_str("inspectors", r.inspectors.as_str())?
        .column_str("seed", r.seed.as_str())?
        .column_str("scope", r.scope.as_str())?
        .column_str("record", r.record.as_str())?
        .at(TimestampMicros::new(r.ts.0))
}

/// One row of each table, for the schema test of [`super::rows`].
#[cfg(test)]
pub(crate) fn sample_rows() -> Vec<super::rows::Row> {
    use super::rows::Row;
    let grid = GridPath {
        district: "区".into(),
        street: "街道".into(),
        community: "社区".into(),
    };
    let draw = DrawRow {
        ts: Timestamp(7),
        draw_id: "draw-2026-12-01-000000000000002a".into(),
        date: "2026-12-01".into(),
        pick: 0,
        site: "-".into(),
        grade: None,
        weight: None,
        of_weight: None,
        inspectors: String::new(),
        seed: "42".into(),
        scope: "区/街道".into(),
        kind: Some("water"),
        actor: "jd".into(),
        record: "{\"input\":{}}".into(),
    };
    vec![
        Row::SiteRisk(Box::new(SiteRiskRow {
            ts: Timestamp(8),
            date: "2026-12-01".into(),
            site: "s".into(),
            kind: "water",
            grid,
            score: 12.5,
            grade: "C",
            alert_days: 3,
            alerts: 2,
            explanation_zh: "等级 C".into(),
            explanation_en: "grade C, \"quoted\"".into(),
            contributions: "[]".into(),
        })),
        Row::Draw(Box::new(draw.clone())),
        Row::Draw(Box::new(DrawRow {
            pick: 1,
            site: "s".into(),
            grade: Some("D"),
            weight: Some(4),
            of_weight: Some(10),
            inspectors: "张伟;李娜".into(),
            record: String::new(),
            ..draw
        })),
    ]
}
