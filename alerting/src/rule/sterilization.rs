//! Compiling the pack's `[sterilization]` section (the numbers of the cycle verdict and the
//! program table, each number with its provenance) into [`SterilParams`], and the S rule kinds
//! (S1-S6) into [`SterilCheck`] conditions.
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

use toml::Spanned;

use super::config::{RawKind, RawNum, RawSterilization};
use super::error::Errors;
use super::numbers::num;
use crate::sterilization::params::ProgramParams;
use crate::sterilization::{Program, SterilCheck, SterilParams};

/// Compiles the section, reporting every problem to `errs`.
pub(super) fn compile(
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
        let v = num(f, &path, errs, &mut notes).unwrap_or(0.0);
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
            let v = num(f, &fp, errs, &mut notes);
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

/// The check of an S rule kind (`None` for other kinds); `min_secs` is S6's time limit.
pub(super) fn check_of(kind: RawKind, min_secs: i64) -> Option<SterilCheck> {
    use RawKind as K;
    Some(match kind {
        K::CycleFailed => SterilCheck::CycleFailed,
        K::FalsePass => SterilCheck::FalsePass,
        K::NoBowieDick => SterilCheck::NoBowieDick,
        K::BiPositive => SterilCheck::BiPositive,
        K::BiOverdue => SterilCheck::BiOverdue,
        K::CycleAborted => SterilCheck::Aborted { max_secs: min_secs },
        _ => return None,
    })
}
