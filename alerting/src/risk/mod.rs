//! The site risk index (风险分级, for credit supervision 信用监管) and the risk-weighted
//! 双随机 inspection draw, as pure functions of the alert history.
//!
//! - [`ledger`]: the per-site alert-day ledger, fed by alert events (from the engine or from
//!   the `alerts` table) and small enough to be saved with the engine's snapshot.
//! - [`score`]: the score of a site on a day, its grade and its explanation.
//! - [`draw`]: the seeded, reproducible draw of sites and inspectors.
//! - [`params`]: the pack's `[risk]` section.
//!
//! # The index (decisions)
//!
//! - **Days** are China Standard Time (UTC+8) calendar days ([`cst_day`]).
//! - **An alert-day** is one alert (one alert id) open on one day: from the day it fired
//!   (pending does not count) to the day it resolved, both included; an alert still open counts
//!   every day up to the day scored. Its level that day is the most severe it had that day.
//! - **Points** of an alert-day: `points[level] x 0.5^(age / half_life_days)`, where `age` is
//!   the number of days between it and the day scored (0 for that day), rounded to 4 decimals.
//!   Only alert-days with `age < window_days` count.
//! - **The score** of a site on a day is the sum of its alert-days' points (exact: summed in
//!   units of 0.0001), and its **grade** is the highest grade whose lowest score it reaches.
//!   Recomputing a day from the same history always gives the same score, grade and
//!   explanation.

pub mod draw;
pub mod ledger;
pub mod params;
pub mod score;

#[cfg(test)]
mod tests;

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::{civil_from_days, days_from_civil, Timestamp};

pub use draw::{
    draw, DrawError, DrawInput, DrawResult, DrawSite, PastInspection, Pick, SplitMix64,
};
pub use ledger::{AlertDay, AlertDayLedger, LedgerEvent};
pub use params::{GradeWeights, RiskParams};
pub use score::{score_site, score_sites, Contribution, SiteRisk};

/// A site's risk grade, A (lowest risk) .. D (highest). Ordered by risk: `D > A`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Grade {
    /// 低风险: no alert-day or only old or minor ones.
    A,
    /// 一般风险.
    B,
    /// 较高风险.
    C,
    /// 高风险.
    D,
}

impl Grade {
    /// All grades, lowest risk first.
    pub const ALL: [Grade; 4] = [Self::A, Self::B, Self::C, Self::D];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::A => "A",
            Self::B => "B",
            Self::C => "C",
            Self::D => "D",
        }
    }

    /// Parses `A` .. `D`.
    pub fn parse(s: &str) -> Option<Grade> {
        Self::ALL.into_iter().find(|g| g.as_str() == s)
    }

    /// 低风险, 一般风险, 较高风险, 高风险.
    pub const fn name_zh(self) -> &'static str {
        match self {
            Self::A => "低风险",
            Self::B => "一般风险",
            Self::C => "较高风险",
            Self::D => "高风险",
        }
    }

    /// low, moderate, elevated, high.
    pub const fn name_en(self) -> &'static str {
        match self {
            Self::A => "low",
            Self::B => "moderate",
            Self::C => "elevated",
            Self::D => "high",
        }
    }
}

impl fmt::Display for Grade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The China Standard Time (UTC+8, no DST) day of `ts`: days since 1970-01-01 in Beijing.
pub fn cst_day(ts: Timestamp) -> i64 {
    crate::sterilization::cst_day(ts)
}

/// 00:00 China Standard Time of `day` (16:00 UTC the day before).
pub fn cst_midnight(day: i64) -> Timestamp {
    Timestamp(
        day.saturating_mul(86_400 * Timestamp::MICROS_PER_SEC)
            .saturating_sub(8 * 3600 * Timestamp::MICROS_PER_SEC),
    )
}

/// `YYYY-MM-DD` of a China Standard Time day.
pub fn cst_date(day: i64) -> String {
    let (y, m, d) = civil_from_days(day);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Parses `YYYY-MM-DD` into a day number (the calendar day, as [`cst_day`] numbers them).
pub fn parse_date(s: &str) -> Option<i64> {
    let mut it = s.split('-');
    let y: i64 = it.next()?.parse().ok()?;
    let m: u32 = it.next()?.parse().ok()?;
    let d: u32 = it.next()?.parse().ok()?;
    if it.next().is_some() || s.len() != 10 || !(1..=12).contains(&m) || d == 0 {
        return None;
    }
    let day = days_from_civil(y, m, d);
    (civil_from_days(day) == (y, m, d)).then_some(day)
}
