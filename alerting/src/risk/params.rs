//! The pack's `[risk]` section: the numbers of the site risk index and of the 双随机 draw,
//! each with its provenance like every number of a pack.
//!
//! ```toml
//! [risk]
//! window_days = { value = 30, default = true }
//! half_life_days = { value = 7, default = true }
//! [risk.points]          # per alert-day, by the alert's worst level that day
//! I = { value = 8, default = true }
//! ...
//! [risk.grades]          # the lowest score of each grade (A is everything below B)
//! B = { value = 2, default = true }
//! ...
//! [risk.draw]
//! exclude_days = { value = 90, default = true }
//! inspectors_per_site = { value = 2, std = "行政处罚法 (2021) 第四十二条", conf = "R" }
//! [risk.draw.weights]    # relative chance of being drawn, by grade
//! A = { value = 1, default = true }
//! ...
//! ```
//!
//! A pack without `[risk]` gets [`RiskParams::default`], the same numbers as the default pack.
//! The section is read and checked by `rule/risk.rs`.

use super::Grade;
use crate::level::Level;
use crate::provenance::NumberNote;

/// Relative chances of being drawn, by grade (integers, so a draw is exact arithmetic).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GradeWeights {
    #[serde(rename = "A")]
    pub a: u32,
    #[serde(rename = "B")]
    pub b: u32,
    #[serde(rename = "C")]
    pub c: u32,
    #[serde(rename = "D")]
    pub d: u32,
}

impl GradeWeights {
    /// The weight of `grade`.
    pub const fn of(&self, grade: Grade) -> u32 {
        match grade {
            Grade::A => self.a,
            Grade::B => self.b,
            Grade::C => self.c,
            Grade::D => self.d,
        }
    }
}

impl Default for GradeWeights {
    /// Product default: D four times A, linear in between.
    fn default() -> Self {
        Self {
            a: 1,
            b: 2,
            c: 3,
            d: 4,
        }
    }
}

/// The compiled `[risk]` section.
#[derive(Debug, Clone, PartialEq)]
pub struct RiskParams {
    /// The score looks at this many China Standard Time days, ending with the day scored.
    pub window_days: u32,
    /// An alert-day's points halve every this many days of age.
    pub half_life_days: f64,
    /// Points per alert-day by level, I first.
    pub points: [f64; 4],
    /// The lowest score of grades B, C and D (strictly increasing).
    pub grade_min: [f64; 3],
    /// Sites inspected within this many days before the draw are left out of it.
    pub exclude_days: u32,
    /// Inspectors sent to each drawn site.
    pub inspectors_per_site: u32,
    /// Relative chances of being drawn, by grade.
    pub weights: GradeWeights,
    /// Every number with its provenance (empty for [`RiskParams::default`]).
    pub numbers: Vec<NumberNote>,
}

impl Default for RiskParams {
    /// The numbers of the default pack's `[risk]` section (all product defaults except
    /// `inspectors_per_site`, see there).
    fn default() -> Self {
        Self {
            window_days: 30,
            half_life_days: 7.0,
            points: [8.0, 4.0, 2.0, 1.0],
            grade_min: [2.0, 8.0, 24.0],
            exclude_days: 90,
            inspectors_per_site: 2,
            weights: GradeWeights::default(),
            numbers: Vec::new(),
        }
    }
}

impl RiskParams {
    /// Points of one alert-day at `level`, before decay.
    pub const fn points_of(&self, level: Level) -> f64 {
        self.points[level.number() as usize - 1]
    }

    /// The same numbers, ignoring provenance notes.
    pub fn same_numbers(&self, other: &RiskParams) -> bool {
        self.window_days == other.window_days
            && self.half_life_days == other.half_life_days
            && self.points == other.points
            && self.grade_min == other.grade_min
            && self.exclude_days == other.exclude_days
            && self.inspectors_per_site == other.inspectors_per_site
            && self.weights == other.weights
    }
}
