//! Numbers of a pack: every number states its provenance (a standard clause with confidence,
//! or a default); durations are given in minutes.

use toml::Spanned;

use super::config::RawNum;
use super::error::Errors;
use crate::provenance::{Confidence, NumberNote, Provenance};

/// Checks a number's provenance and records it; `None` when absent or invalid.
pub(crate) fn num(
    raw: &Option<Spanned<RawNum>>,
    path: &str,
    errs: &mut Errors<'_>,
    notes: &mut Vec<NumberNote>,
) -> Option<f64> {
    let raw = raw.as_ref()?;
    let span = Some(raw.span());
    let n = raw.get_ref();
    let mut ok = true;
    if !n.value.is_finite() {
        errs.at(span.clone(), path, "value must be a finite number");
        ok = false;
    }
    let provenance = match (&n.std, n.default) {
        (Some(clause), None) => match n.conf.as_deref() {
            Some("S") => Some(Provenance::Std {
                clause: clause.clone(),
                confidence: Confidence::Sourced,
            }),
            Some("R") => Some(Provenance::Std {
                clause: clause.clone(),
                confidence: Confidence::ToVerify,
            }),
            _ => {
                errs.at(
                    span.clone(),
                    path,
                    "a standard value needs conf = \"S\" or \"R\" (docs/standards.md)",
                );
                None
            }
        },
        (None, Some(true)) => {
            if n.conf.is_some() {
                errs.at(
                    span.clone(),
                    path,
                    "conf is only for standard values (std = ...)",
                );
            }
            Some(Provenance::Default)
        }
        _ => {
            errs.at(
                span.clone(),
                path,
                "say where the number comes from: exactly one of std = \"<clause>\" (with conf) or default = true",
            );
            None
        }
    };
    let provenance = provenance?;
    notes.push(NumberNote {
        path: path.to_owned(),
        value: n.value,
        provenance,
        note: n.note.clone(),
    });
    ok.then_some(n.value)
}

/// A duration in minutes -> seconds, checked non-negative.
pub(super) fn mins(
    raw: &Option<Spanned<RawNum>>,
    path: &str,
    errs: &mut Errors<'_>,
    notes: &mut Vec<NumberNote>,
) -> Option<i64> {
    let v = num(raw, path, errs, notes)?;
    if !(0.0..=525_600.0).contains(&v) {
        let span = raw.as_ref().map(Spanned::span);
        errs.at(
            span,
            path,
            "minutes must be between 0 and 525600 (one year)",
        );
        return None;
    }
    Some((v * 60.0).round() as i64)
}
