//! The pack's `[sterilization]` section: the numbers of the cycle verdict, each with its
//! provenance like every number of a pack, and the program table (set temperature and
//! minimum hold per program, WS 310.2-2016).
//!
//! ```toml
//! [sterilization]
//! band_k = { value = 3, std = "WS 310.3-2016 4.4.2.1", conf = "R" }
//! steam_k = { value = 2, std = "EN 285 8.3 / EN 13060", conf = "R" }
//! max_gap_secs = { value = 10, default = true }
//! ...
//! [[sterilization.program]]
//! program = "prevac_134"
//! set_c = { value = 134, std = "WS 310.2-2016", conf = "R" }
//! hold_mins = { value = 4, std = "WS 310.2-2016", conf = "R" }
//! ```

use serde::Deserialize;
use toml::Spanned;

use super::Program;
use crate::rule::compiled::NumberNote;
use crate::rule::config::RawNum;
use crate::rule::error::Errors;

/// `[sterilization]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSterilization {
    /// During the hold, T <= set + band_k.
    pub band_k: Option<Spanned<RawNum>>,
    /// During the hold, |T - T_s(p)| <= steam_k.
    pub steam_k: Option<Spanned<RawNum>>,
    /// A gap between samples longer than this inside the hold makes the cycle unprovable.
    pub max_gap_secs: Option<Spanned<RawNum>>,
    /// A temperature and a pressure sample at most this far apart form a pair.
    pub pair_secs: Option<Spanned<RawNum>>,
    /// Telemetry up to this long (event time) after `cycle_end` still counts.
    pub grace_secs: Option<Spanned<RawNum>>,
    /// Out-of-order samples up to this far behind the newest are still sorted in.
    pub reorder_secs: Option<Spanned<RawNum>>,
    /// Cycles listed by name in a recall (S4); beyond it the recall gives their time range.
    pub recall_list_max: Option<Spanned<RawNum>>,
    /// Consecutive negative BIs after a positive one before S4 resolves.
    pub bi_negatives_to_resume: Option<Spanned<RawNum>>,
    /// An implant load without its BI result this long after its start raises S5.
    pub implant_bi_max_hours: Option<Spanned<RawNum>>,
    #[serde(default)]
    pub program: Vec<Spanned<RawProgram>>,
}

/// `[[sterilization.program]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProgram {
    pub program: Spanned<String>,
    pub set_c: Option<Spanned<RawNum>>,
    pub hold_mins: Option<Spanned<RawNum>>,
    /// Documentation only.
    pub note: Option<String>,
}

/// The parameters of one program.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProgramParams {
    pub program: Program,
    /// Set (sterilization) temperature, degrees Celsius.
    pub set_c: f64,
    /// Minimum hold at or above the set temperature, seconds.
    pub hold_secs: i64,
}

/// The compiled `[sterilization]` section.
#[derive(Debug, Clone, PartialEq)]
pub struct SterilParams {
    pub programs: Vec<ProgramParams>,
    pub band_k: f64,
    pub steam_k: f64,
    pub max_gap_secs: i64,
    pub pair_secs: i64,
    pub grace_secs: i64,
    pub reorder_secs: i64,
    pub recall_list_max: usize,
    pub bi_negatives_to_resume: u32,
    /// An implant load without its BI result this long (seconds) after its start: S5.
    pub implant_bi_max_secs: i64,
    /// Every number with its provenance.
    pub numbers: Vec<NumberNote>,
}

impl SterilParams {
    /// The parameters of `program`, if the pack has them (leak tests have none).
    pub fn program(&self, program: Program) -> Option<&ProgramParams> {
        self.programs.iter().find(|p| p.program == program)
    }
}

/// Compiles the section, reporting every problem to `errs`.
pub(crate) fn compile(
    raw: &RawSterilization,
    span: std::ops::Range<usize>,
    errs: &mut Errors<'_>,
) -> Option<SterilParams> {
    let before = errs.list.len();
    let mut notes = Vec::new();
    let mut need = |f: &Option<Spanned<RawNum>>, name: &str, min: f64, max: f64| -> f64 {
        let path = format!("sterilization.{name}");
        if f.is_none() {
            errs.at(Some(span.clone()), &path, "missing");
            return 0.0;
        }
        let v = crate::rule::numbers::num(f, &path, errs, &mut notes).unwrap_or(0.0);
        if !(min..=max).contains(&v) {
            let at = f.as_ref().map(Spanned::span);
            errs.at(at, &path, format!("must be between {min} and {max}"));
        }
        v
    };
    let band_k = need(&raw.band_k, "band_k", 0.1, 20.0);
    let steam_k = need(&raw.steam_k, "steam_k", 0.1, 20.0);
    let max_gap_secs = need(&raw.max_gap_secs, "max_gap_secs", 1.0, 3600.0);
    let pair_secs = need(&raw.pair_secs, "pair_secs", 0.0, 600.0);
    let grace_secs = need(&raw.grace_secs, "grace_secs", 0.0, 3600.0);
    let reorder_secs = need(&raw.reorder_secs, "reorder_secs", 0.0, 600.0);
    let recall = need(&raw.recall_list_max, "recall_list_max", 1.0, 10_000.0);
    let resume = need(
        &raw.bi_negatives_to_resume,
        "bi_negatives_to_resume",
        1.0,
        100.0,
    );
    let implant_hours = need(
        &raw.implant_bi_max_hours,
        "implant_bi_max_hours",
        1.0,
        720.0,
    );
    let mut programs: Vec<ProgramParams> = Vec::new();
    for (i, p) in raw.program.iter().enumerate() {
        let path = format!("sterilization.program[{i}]");
        let rp = p.get_ref();
        let Some(program) = Program::parse(rp.program.get_ref()) else {
            errs.at(
                Some(rp.program.span()),
                &format!("{path}.program"),
                format!(
                    "unknown program {:?} (expected a cycle_start program of the payload contract)",
                    rp.program.get_ref()
                ),
            );
            continue;
        };
        if program == Program::LeakTest {
            errs.at(
                Some(rp.program.span()),
                &format!("{path}.program"),
                "a leak test has no temperature verdict",
            );
        }
        if programs.iter().any(|q| q.program == program) {
            errs.at(
                Some(rp.program.span()),
                &format!("{path}.program"),
                "duplicate program",
            );
        }
        let path = format!("{path} ({program})");
        let mut field = |f: &Option<Spanned<RawNum>>, name: &str, min: f64, max: f64| {
            let fp = format!("{path}.{name}");
            if f.is_none() {
                errs.at(Some(p.span()), &fp, "missing");
            }
            let v = crate::rule::numbers::num(f, &fp, errs, &mut notes);
            if v.is_some_and(|v| !(min..=max).contains(&v)) {
                errs.at(
                    f.as_ref().map(Spanned::span),
                    &fp,
                    format!("must be between {min} and {max}"),
                );
            }
            v.unwrap_or(0.0)
        };
        let set_c = field(&rp.set_c, "set_c", 100.0, 150.0);
        let hold_mins = field(&rp.hold_mins, "hold_mins", 0.5, 240.0);
        programs.push(ProgramParams {
            program,
            set_c,
            hold_secs: (hold_mins * 60.0).round() as i64,
        });
    }
    if errs.list.len() > before {
        return None;
    }
    Some(SterilParams {
        programs,
        band_k,
        steam_k,
        max_gap_secs: max_gap_secs.round() as i64,
        pair_secs: pair_secs.round() as i64,
        grace_secs: grace_secs.round() as i64,
        reorder_secs: reorder_secs.round() as i64,
        recall_list_max: recall.round() as usize,
        bi_negatives_to_resume: resume.round() as u32,
        implant_bi_max_secs: (implant_hours * 3600.0).round() as i64,
        numbers: notes,
    })
}
