//! Compiling the pack's `[risk]` section (as written: [`RawRisk`]) into
//! [`crate::risk::RiskParams`], every number with its provenance and errors with their lines.

use serde::Deserialize;
use toml::Spanned;

use super::config::RawNum;
use super::error::Errors;
use crate::risk::{GradeWeights, RiskParams};

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
