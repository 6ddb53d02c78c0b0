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

use serde::Deserialize;
use toml::Spanned;

use super::Grade;
use crate::level::Level;
use crate::rule::compiled::NumberNote;
use crate::rule::config::RawNum;
use crate::rule::error::Errors;

/// `[risk]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRisk {
    pub window_days: Option<Spanned<RawNum>>,
    pub half_life_days: Option<Spanned<RawNum>>,
    pub points: Option<Spanned<RawLevels>>,
    pub grades: Option<Spanned<RawGrades>>,
    pub draw: Option<Spanned<RawDraw>>,
}

/// `[risk.points]`: one number per level.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLevels {
    #[serde(rename = "I")]
    pub i: Option<Spanned<RawNum>>,
    #[serde(rename = "II")]
    pub ii: Option<Spanned<RawNum>>,
    #[serde(rename = "III")]
    pub iii: Option<Spanned<RawNum>>,
    #[serde(rename = "IV")]
    pub iv: Option<Spanned<RawNum>>,
}

/// `[risk.grades]`: the lowest score of grades B, C and D.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGrades {
    #[serde(rename = "B")]
    pub b: Option<Spanned<RawNum>>,
    #[serde(rename = "C")]
    pub c: Option<Spanned<RawNum>>,
    #[serde(rename = "D")]
    pub d: Option<Spanned<RawNum>>,
}

/// `[risk.draw]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDraw {
    pub exclude_days: Option<Spanned<RawNum>>,
    pub inspectors_per_site: Option<Spanned<RawNum>>,
    pub weights: Option<Spanned<RawWeights>>,
}

/// `[risk.draw.weights]`: one integer weight per grade.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWeights {
    #[serde(rename = "A")]
    pub a: Option<Spanned<RawNum>>,
    #[serde(rename = "B")]
    pub b: Option<Spanned<RawNum>>,
    #[serde(rename = "C")]
    pub c: Option<Spanned<RawNum>>,
    #[serde(rename = "D")]
    pub d: Option<Spanned<RawNum>>,
}

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

/// Compiles the section, reporting every problem to `errs`; absent keys keep their default.
pub(crate) fn compile(raw: &RawRisk, errs: &mut Errors<'_>) -> Option<RiskParams> {
    let before = errs.list.len();
    let mut p = RiskParams::default();
    let mut notes = Vec::new();
    let mut field = |f: &Option<Spanned<RawNum>>, path: &str, min: f64, max: f64, int: bool| {
        let v = crate::rule::numbers::num(f, path, errs, &mut notes)?;
        let at = f.as_ref().map(Spanned::span);
        if !(min..=max).contains(&v) {
            errs.at(at, path, format!("must be between {min} and {max}"));
            return None;
        }
        if int && v.fract() != 0.0 {
            errs.at(at, path, "must be a whole number");
            return None;
        }
        Some(v)
    };
    if let Some(v) = field(&raw.window_days, "risk.window_days", 1.0, 366.0, true) {
        p.window_days = v as u32;
    }
    if let Some(v) = field(
        &raw.half_life_days,
        "risk.half_life_days",
        0.5,
        366.0,
        false,
    ) {
        p.half_life_days = v;
    }
    if let Some(pts) = &raw.points {
        let r = pts.get_ref();
        for (i, (f, name)) in [(&r.i, "I"), (&r.ii, "II"), (&r.iii, "III"), (&r.iv, "IV")]
            .into_iter()
            .enumerate()
        {
            if let Some(v) = field(f, &format!("risk.points.{name}"), 0.0, 1000.0, false) {
                p.points[i] = v;
            }
        }
    }
    let mut grade_spans = [None, None, None];
    if let Some(g) = &raw.grades {
        let r = g.get_ref();
        for (i, (f, name)) in [(&r.b, "B"), (&r.c, "C"), (&r.d, "D")]
            .into_iter()
            .enumerate()
        {
            if let Some(v) = field(f, &format!("risk.grades.{name}"), 0.0, 1.0e6, false) {
                p.grade_min[i] = v;
                grade_spans[i] = f.as_ref().map(Spanned::span);
            }
        }
    }
    if let Some(d) = &raw.draw {
        let r = d.get_ref();
        if let Some(v) = field(&r.exclude_days, "risk.draw.exclude_days", 0.0, 3660.0, true) {
            p.exclude_days = v as u32;
        }
        if let Some(v) = field(
            &r.inspectors_per_site,
            "risk.draw.inspectors_per_site",
            1.0,
            10.0,
            true,
        ) {
            p.inspectors_per_site = v as u32;
        }
        if let Some(w) = &r.weights {
            let r = w.get_ref();
            let slots = [(&r.a, "A"), (&r.b, "B"), (&r.c, "C"), (&r.d, "D")];
            let mut ws = [p.weights.a, p.weights.b, p.weights.c, p.weights.d];
            for (i, (f, name)) in slots.into_iter().enumerate() {
                if let Some(v) = field(f, &format!("risk.draw.weights.{name}"), 0.0, 1000.0, true) {
                    ws[i] = v as u32;
                }
            }
            p.weights = GradeWeights {
                a: ws[0],
                b: ws[1],
                c: ws[2],
                d: ws[3],
            };
            if ws.iter().all(|w| *w == 0) {
                errs.at(
                    Some(w.span()),
                    "risk.draw.weights",
                    "at least one grade needs a weight above 0, or nothing can be drawn",
                );
            }
        }
    }
    let [b, c, d] = p.grade_min;
    if !(b > 0.0 && b < c && c < d) {
        errs.at(
            grade_spans.iter().flatten().next().cloned(),
            "risk.grades",
            format!(
                "the lowest scores of B, C and D must increase and B must be above 0 (they are {b}, {c}, {d})"
            ),
        );
    }
    if errs.list.len() > before {
        return None;
    }
    p.numbers = notes;
    Some(p)
}
